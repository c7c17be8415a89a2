// _core.Logger: the core Logger plus what Python callers need on the hot
// path (name -> stream lookup, key dict and array conversion). Also the
// process-wide default logger behind the module-level log().
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>

#include "array_logger/errors.hpp"
#include "array_logger/logger.hpp"
#include "bindings.hpp"
#include "py_convert.hpp"

namespace array_logger::py_binding {
namespace {

// Copies above this size release the GIL: other Python threads run while
// a large array is copied into the buffer.
constexpr std::size_t kReleaseGilBytes = 1u << 20;

bool is_mapping(py::handle obj) {
  // Never destroyed (see numpy() in py_convert.cpp): no Python object may be
  // released by a C++ destructor at process exit.
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> mapping;
  return py::isinstance(obj, mapping.call_once_and_store_result([] {
    return py::object(py::module_::import("collections.abc").attr("Mapping"));
  }).get_stored());
}

// A dict, or a Mapping that is not an ndarray/None (the ABC check is slow).
bool maybe_mapping(py::handle obj) {
  if (PyDict_Check(obj.ptr())) return true;
  if (obj.is_none() || py::detail::npy_api::get().PyArray_Check_(obj.ptr())) return false;
  return is_mapping(obj);
}

// Quoted by every error about log()'s arguments.
constexpr const char* kLogForms =
    "accepted forms: log(name, key_values, array), log(name, array, key_values), and any of the three "
    "as keywords, e.g. log(name, array, key_values=kv) or log(name=..., key_values=..., array=...); "
    "key_values is the mapping, the other value the array";

class PyLogger {
 public:
  PyLogger(const std::string& root, std::optional<int> compression_level, const std::string& synchronous,
           std::size_t buffer_bytes, int compression_workers, py::object close_progress, bool throughput_mode) {
    LoggerOptions o;
    o.throughput_mode = throughput_mode;
    o.root = root;
    o.compression_level = compression_level;
    if (synchronous == "normal") o.synchronous = Synchronous::Normal;
    else if (synchronous == "off") o.synchronous = Synchronous::Off;
    else if (synchronous == "full") o.synchronous = Synchronous::Full;
    else throw InvalidArgument("synchronous must be 'normal', 'off' or 'full', got '" + synchronous + "'");
    o.buffer_bytes = buffer_bytes;
    o.compression_workers = compression_workers;
    if (!close_progress.is_none()) {
      // Called from close() on the caller's thread, with the GIL released.
      auto fn = std::make_shared<py::object>(std::move(close_progress));
      o.close_progress = [fn](std::string_view name, std::uint64_t done, std::uint64_t total) {
        py::gil_scoped_acquire gil;
        (*fn)(py::str(name.data(), name.size()), done, total);
      };
    }
    logger_ = std::make_unique<Logger>(std::move(o));
  }

  void register_array(const std::string& name, const std::vector<std::string>& keys,
                      const std::vector<std::int64_t>& shape, const std::string& dtype,
                      std::uint64_t commit_threshold_rows, double commit_threshold_seconds,
                      const std::string& user_metadata, bool shuffle_zstd, const std::string& keys_repr) {
    if (streams_.contains(py::str(name))) throw InvalidArgument("Array '" + name + "' already registered");
    ArraySpec spec;
    spec.keys = keys;
    spec.shape = shape;
    spec.dtype = &dtype_from_string(dtype);
    RegisterOptions ro;
    ro.commit_threshold_rows = commit_threshold_rows;
    ro.commit_threshold_seconds = commit_threshold_seconds;
    ro.user_metadata = user_metadata;
    ro.shuffle_zstd = shuffle_zstd;
    ro.keys_repr = keys_repr;
    Logger::StreamId id;
    {
      py::gil_scoped_release nogil;  // may decompress a .db.zst
      id = logger_->register_array(name, spec, ro);
    }
    auto b = std::make_unique<StreamBinding>();
    b->id = id;
    b->name = name;
    for (const auto& k : keys) {
      PyObject* s = PyUnicode_FromStringAndSize(k.data(), static_cast<Py_ssize_t>(k.size()));
      if (s == nullptr) throw py::error_already_set();
      PyUnicode_InternInPlace(&s);
      b->key_names.push_back(py::reinterpret_steal<py::object>(s));
    }
    b->shape = shape;
    b->dtype = py::dtype(dtype);
    b->payload_bytes = spec.payload_bytes();
    streams_[py::str(name)] = py::int_(bindings_.size());
    bindings_.push_back(std::move(b));
  }

  // log(name, key_values, array) and log(name, array, key_values): the
  // mapping is the keys, the other argument the array.
  void log(py::handle name, py::handle a, py::handle b) {
    // Loops log the same name object over and over: remember the last one.
    if (name.ptr() != last_name_.ptr()) {
      PyObject* idx = PyDict_GetItemWithError(streams_.ptr(), name.ptr());
      if (idx == nullptr) {
        if (PyErr_Occurred()) throw py::error_already_set();
        throw InvalidArgument("Array '" + py::str(name).cast<std::string>() + "' is not registered");
      }
      last_index_ = PyLong_AsSize_t(idx);
      last_name_ = py::reinterpret_borrow<py::object>(name);
    }
    const StreamBinding& s = *bindings_[last_index_];
    // Whichever value is a mapping is key_values (dicts and ndarrays, the
    // usual pair, are told apart without the Mapping ABC check).
    const bool a_map = maybe_mapping(a), b_map = maybe_mapping(b);
    if (a_map && b_map)
      throw py::type_error("log('" + s.name + "') got two mappings: which one is key_values? " + kLogForms);
    py::handle kv = b_map ? b : a, arr = b_map ? a : b;
    py::object converted;  // a non-dict mapping, copied into a dict
    if (!PyDict_Check(kv.ptr()) && (a_map || b_map)) {
      converted = py::dict(py::reinterpret_borrow<py::object>(kv));
      kv = converted;
    }
    if (kv.is_none() || arr.is_none())
      throw InvalidArgument("log('" + s.name + "') needs both key_values and array; " + std::string(kLogForms));
    extract_keys(s, kv, keys_);
    py::array data = as_loggable_array(s, arr);
    const void* ptr = py::detail::array_proxy(data.ptr())->data;
    if (s.payload_bytes < kReleaseGilBytes && logger_->try_log(s.id, keys_, ptr, s.payload_bytes)) return;
    // Buffer full or a big copy: wait / copy without the GIL. Text keys and
    // the array stay alive through `kv` and `data`.
    std::vector<KeyRef> keys = keys_;
    py::gil_scoped_release nogil;
    logger_->log(s.id, keys, ptr, s.payload_bytes);
  }

  ~PyLogger();

  // Many rows at once: arrays (N, *shape), key_values {key: sequence of N}.
  // Converts everything first, then queues all rows without the GIL.
  void log_many(py::handle name, py::handle key_values, py::handle arrays) {
    if (!PyUnicode_Check(name.ptr()))
      throw InvalidArgument("log_many(name, key_values, arrays): name must be a str");
    PyObject* idx = PyDict_GetItemWithError(streams_.ptr(), name.ptr());
    if (idx == nullptr) {
      if (PyErr_Occurred()) throw py::error_already_set();
      throw InvalidArgument("Array '" + py::str(name).cast<std::string>() + "' is not registered");
    }
    const StreamBinding& s = *bindings_[PyLong_AsSize_t(idx)];
    if (!is_mapping(key_values)) std::swap(key_values, arrays);
    if (!is_mapping(key_values))
      throw InvalidArgument("log_many('" + s.name + "') needs key_values as a dict of sequences");
    // The stacked arrays: checked as one array of shape (N, *shape).
    StreamBinding stacked = s;
    py::object np = py::module_::import("numpy");
    py::object arr_obj = np.attr("asarray")(arrays);
    if (py::detail::array_proxy(arr_obj.ptr())->nd < 1)
      throw InvalidArgument("Shape mismatch for '" + s.name + "': log_many needs arrays of shape (N, ...)");
    const auto n = static_cast<std::size_t>(py::detail::array_proxy(arr_obj.ptr())->dimensions[0]);
    stacked.shape.insert(stacked.shape.begin(), static_cast<std::int64_t>(n));
    py::array data = as_loggable_array(stacked, arr_obj);
    const auto* base = reinterpret_cast<const std::byte*>(py::detail::array_proxy(data.ptr())->data);

    py::dict kv = py::dict(py::reinterpret_borrow<py::object>(key_values));
    if (kv.size() != s.key_names.size()) {
      std::vector<KeyRef> unused;
      extract_keys(s, kv, unused);  // raises the precise missing/extra message
    }
    std::vector<std::vector<KeyValue>> columns;
    for (const auto& key : s.key_names) {
      if (!kv.contains(key)) {
        std::vector<KeyRef> unused;
        extract_keys(s, kv, unused);
      }
      py::list values = py::list(np.attr("asarray")(kv[key], "object").attr("tolist")());
      if (values.size() != n)
        throw InvalidArgument("log_many('" + s.name + "'): key '" + py::cast<std::string>(key) + "' has " +
                              std::to_string(values.size()) + " values for " + std::to_string(n) + " arrays");
      std::vector<KeyValue> col;
      col.reserve(n);
      std::string what = "key '" + py::cast<std::string>(key) + "' of '" + s.name + "'";
      for (auto v : values) col.push_back(to_key_value(v, what.c_str()));
      columns.push_back(std::move(col));
    }
    py::gil_scoped_release nogil;
    std::vector<KeyRef> keys(columns.size());
    for (std::size_t row = 0; row < n; ++row) {
      for (std::size_t k = 0; k < columns.size(); ++k) keys[k] = KeyRef::of(columns[k][row]);
      logger_->log(s.id, keys, base + row * s.payload_bytes, s.payload_bytes);
    }
  }

  void flush() {
    py::gil_scoped_release nogil;
    logger_->flush();
  }
  void close() {
    py::gil_scoped_release nogil;
    logger_->close();
  }
  bool closed() const { return logger_->closed(); }
  py::list names() const { return streams_.attr("keys")(); }
  std::string root() const { return logger_->options().root.string(); }

 private:
  std::unique_ptr<Logger> logger_;
  py::dict streams_;  // name (str) -> index into bindings_
  std::vector<std::unique_ptr<StreamBinding>> bindings_;
  std::vector<KeyRef> keys_;  // scratch, reused by every log() call
  py::object last_name_;      // the name of the previous log() call (kept alive)
  std::size_t last_index_ = 0;
};

// The logger behind module-level init()/log()/close(): kept here so that
// array_logger.log is a single C++ call. A plain PyObject* (a strong
// reference dropped by _set_default(None) and the exit hook), not a
// py::object: a global's destructor would run after the interpreter is gone.
PyObject* g_default_owner = nullptr;
PyLogger* g_default = nullptr;

void set_default_owner(py::handle logger) {
  PyObject* old = g_default_owner;
  g_default_owner = logger ? logger.inc_ref().ptr() : nullptr;
  Py_XDECREF(old);
}

// log() runs a million times per run, so it bypasses pybind11's generic
// dispatcher: a METH_FASTCALL function parses its three arguments itself
// and remembers which C++ object the last `self` was.
PyObject* g_last_self = nullptr;
PyLogger* g_last_logger = nullptr;

PyLogger::~PyLogger() {
  if (g_last_logger == this) {
    g_last_self = nullptr;
    g_last_logger = nullptr;
  }
}

// Parses (name, key_values, array) from vectorcall arguments, as Python
// binds `def log(name, key_values, array)` except that positional values
// fill whichever value slots no keyword took, in either order (PyLogger::log
// tells them apart: the mapping is key_values). A missing value is left as
// None (log() then says so).
void parse_log_args(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject* out[3]) {
  static const char* const names[3] = {"name", "key_values", "array"};
  out[0] = out[1] = out[2] = nullptr;
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    const char* kw = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
    if (kw == nullptr) throw py::error_already_set();
    int slot = -1;
    for (int j = 0; j < 3; ++j)
      if (std::strcmp(kw, names[j]) == 0) slot = j;
    if (slot < 0) throw py::type_error(std::string("log() got an unexpected keyword argument '") + kw + "'; " + kLogForms);
    out[slot] = args[nargs + k];
  }
  Py_ssize_t i = 0;
  if (nargs > 0) {
    if (out[0] != nullptr) throw py::type_error(std::string("log() got multiple values for argument 'name'; ") + kLogForms);
    out[0] = args[i++];
  }
  for (int slot = 1; slot < 3 && i < nargs; ++slot)
    if (out[slot] == nullptr) out[slot] = args[i++];
  if (i < nargs) {
    throw py::type_error("log() got " + std::to_string(nargs + nkw) + " arguments for name, key_values and array; " +
                         kLogForms);
  }
  if (out[0] == nullptr) throw py::type_error(std::string("log() missing required argument 'name'; ") + kLogForms);
  if (out[1] == nullptr) out[1] = Py_None;
  if (out[2] == nullptr) out[2] = Py_None;
}

PyObject* fast_log_method(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  try {
    PyObject* a[3];
    parse_log_args(args, nargs, kwnames, a);
    if (self != g_last_self) {
      g_last_logger = py::cast<PyLogger*>(py::handle(self));
      g_last_self = self;
    }
    g_last_logger->log(a[0], a[1], a[2]);
    Py_RETURN_NONE;
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

PyObject* fast_log_default(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  try {
    PyObject* a[3];
    parse_log_args(args, nargs, kwnames, a);
    if (g_default == nullptr) throw StateError("array_logger is not initialized: call array_logger.init() first");
    g_default->log(a[0], a[1], a[2]);
    Py_RETURN_NONE;
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

constexpr const char* kLogDoc =
    "log(name, key_values, array) -- also log(name, array, key_values) or keywords.\n\n"
    "Queues one row: validates keys, shape and dtype, copies the array and returns;\n"
    "the writer thread commits it later (see flush()).";

PyMethodDef g_log_method_def = {"log", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_log_method)),
                                METH_FASTCALL | METH_KEYWORDS, kLogDoc};
PyMethodDef g_log_default_def = {"_log_default",
                                 reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_log_default)),
                                 METH_FASTCALL | METH_KEYWORDS, kLogDoc};

}  // namespace

void bind_logger(py::module_& m) {
  auto cls = py::class_<PyLogger>(m, "Logger", py::dynamic_attr());
  cls
      .def(py::init<const std::string&, std::optional<int>, const std::string&, std::size_t, int, py::object, bool>(),
           py::arg("root_path"), py::arg("compression_level") = 22, py::arg("synchronous") = "normal",
           py::arg("buffer_bytes") = std::size_t{16} << 20, py::arg("compression_workers") = -1,
           py::arg("close_progress") = py::none(), py::arg("throughput_mode") = false)
      .def("_register", &PyLogger::register_array, py::arg("name"), py::arg("keys"), py::arg("shape"),
           py::arg("dtype"), py::arg("commit_threshold_rows"), py::arg("commit_threshold_seconds"),
           py::arg("user_metadata"), py::arg("shuffle_zstd"), py::arg("keys_repr") = "")
      .def("log_many", &PyLogger::log_many, py::arg("name"), py::arg("key_values"), py::arg("arrays"))
      .def("flush", &PyLogger::flush)
      .def("close", &PyLogger::close)
      .def_property_readonly("closed", &PyLogger::closed)
      .def_property_readonly("names", &PyLogger::names)
      .def_property_readonly("root_path", &PyLogger::root);

  m.def(
      "_set_default",
      [](py::object logger) {
        if (logger.is_none()) {
          g_default = nullptr;
          set_default_owner(py::handle());
        } else {
          g_default = &logger.cast<PyLogger&>();
          set_default_owner(logger);
        }
      },
      py::arg("logger"));
  {
    PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &g_log_method_def);
    if (descr == nullptr || PyObject_SetAttrString(cls.ptr(), "log", descr) != 0) throw py::error_already_set();
    Py_DECREF(descr);
    py::object fn = py::reinterpret_steal<py::object>(PyCFunction_NewEx(&g_log_default_def, nullptr, m.ptr()));
    if (!fn) throw py::error_already_set();
    m.add_object("_log_default", fn);
  }
  // Drop the reference before the interpreter tears modules down.
  auto atexit = py::module_::import("atexit");
  atexit.attr("register")(py::cpp_function([] {
    g_default = nullptr;
    set_default_owner(py::handle());
  }));
}

}  // namespace array_logger::py_binding
