// _core.Logger: PyLogger's methods and the class binding (its log() is
// installed by fast_log.cpp).
#include <pybind11/stl.h>

#include <cstring>

#include "array_logger/errors.hpp"
#include "array_logger/rewind.hpp"
#include "bindings.hpp"
#include "fast_log.hpp"
#include "py_logger.hpp"

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

// (steps, [first key values], accumulator bytes), as a checkpoint saved it.
PeriodState to_period_state(py::handle obj) {
  py::tuple t = py::reinterpret_borrow<py::object>(obj).cast<py::tuple>();
  if (t.size() != 3) throw InvalidArgument("resume_period must be (steps, first_keys, accumulator)");
  PeriodState st;
  st.steps = t[0].cast<std::uint64_t>();
  for (auto k : t[1]) st.first_keys.push_back(to_key_value(k, "a first key of resume_period"));
  const std::string bytes = t[2].cast<std::string>();
  st.accumulator.resize(bytes.size());
  std::memcpy(st.accumulator.data(), bytes.data(), bytes.size());
  return st;
}

CompressionMode parse_compression_mode(const std::string& text) {
  if (text == "adaptive") return CompressionMode::Adaptive;
  if (text == "plain") return CompressionMode::Plain;
  throw InvalidArgument("compression_mode must be 'adaptive' or 'plain', got '" + text + "'");
}

Synchronous parse_synchronous(const std::string& text) {
  if (text == "normal") return Synchronous::Normal;
  if (text == "off") return Synchronous::Off;
  if (text == "full") return Synchronous::Full;
  throw InvalidArgument("synchronous must be 'normal', 'off' or 'full', got '" + text + "'");
}

}  // namespace

PyLogger::PyLogger(const std::string& root, std::optional<int> compression_level, const std::string& synchronous,
                   std::size_t buffer_bytes, int compression_workers, py::object close_progress,
                   bool throughput_mode, const std::string& compression_mode) {
  LoggerOptions o;
  o.compression_mode = parse_compression_mode(compression_mode);
  o.throughput_mode = throughput_mode;
  o.root = root;
  o.compression_level = compression_level;
  o.synchronous = parse_synchronous(synchronous);
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

PyLogger::~PyLogger() { forget_logger(this); }

void PyLogger::register_array(const std::string& name, const std::vector<std::string>& keys,
                              const std::vector<std::int64_t>& shape, const std::string& dtype,
                              std::uint64_t commit_threshold_rows, double commit_threshold_seconds,
                              const std::string& user_metadata, bool shuffle_zstd, const std::string& keys_repr,
                              std::optional<double> quantize_step, double quantize_min, double quantize_max,
                              bool sparse, std::uint64_t period, const std::string& period_mode,
                              py::object resume_period, const std::string& journal,
                              const std::string& shard) {
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
  if (quantize_step) ro.quantize = FixedPoint{*quantize_step, quantize_min, quantize_max};
  ro.sparse = sparse;
  if (period) {
    const auto mode = parse_period_mode(period_mode);
    if (!mode) throw InvalidArgument("mode must be 'state', 'sum', 'mean', 'min' or 'max', got '" + period_mode + "'");
    ro.period = Period{period, *mode};
  }
  if (!resume_period.is_none()) ro.resume_period = to_period_state(resume_period);
  if (journal == "wal") ro.journal = Journal::Wal;
  else if (journal == "rollback") ro.journal = Journal::Rollback;
  else if (journal != "auto") throw InvalidArgument("journal must be 'auto', 'wal' or 'rollback', got '" + journal + "'");
  ro.shard = shard;
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

const StreamBinding& PyLogger::stream(py::handle name) const {
  PyObject* idx = PyDict_GetItemWithError(streams_.ptr(), name.ptr());
  if (idx == nullptr) {
    if (PyErr_Occurred()) throw py::error_already_set();
    throw InvalidArgument("Array '" + py::str(name).cast<std::string>() + "' is not registered");
  }
  return *bindings_[PyLong_AsSize_t(idx)];
}

void PyLogger::log(py::handle name, py::handle a, py::handle b) {
  // Loops log the same name object over and over: remember the last one.
  if (name.ptr() != last_name_.ptr()) {
    last_stream_ = &stream(name);
    last_name_ = py::reinterpret_borrow<py::object>(name);
  }
  const StreamBinding& s = *last_stream_;
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

void PyLogger::log_many(py::handle name, py::handle key_values, py::handle arrays) {
  if (!PyUnicode_Check(name.ptr())) throw InvalidArgument("log_many(name, key_values, arrays): name must be a str");
  const StreamBinding& s = stream(name);
  if (!is_mapping(key_values)) std::swap(key_values, arrays);
  if (!is_mapping(key_values))
    throw InvalidArgument("log_many('" + s.name + "') needs key_values as a dict of sequences");
  // The stacked arrays: checked as one array of shape (N, *shape).
  StreamBinding stacked = s;
  py::object arr_obj = numpy().attr("asarray")(arrays);
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
    py::list values = py::list(numpy().attr("asarray")(kv[key], "object").attr("tolist")());
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

void PyLogger::flush() {
  py::gil_scoped_release nogil;
  logger_->flush();
}

py::list PyLogger::checkpoint_positions() {
  std::vector<LogPosition> positions;
  {
    py::gil_scoped_release nogil;
    positions = logger_->checkpoint_positions();
  }
  py::list out;
  for (const LogPosition& p : positions) {
    py::dict d;
    d["name"] = py::str(p.name);
    d["rows"] = p.rows;
    if (p.open_period) {
      py::list keys;
      for (const KeyValue& k : p.open_period->first_keys) keys.append(key_to_py(KeyRef::of(k)));
      const auto& acc = p.open_period->accumulator;
      d["open_period"] = py::make_tuple(p.open_period->steps, keys,
                                        py::bytes(reinterpret_cast<const char*>(acc.data()), acc.size()));
    } else {
      d["open_period"] = py::none();
    }
    out.append(d);
  }
  return out;
}

void PyLogger::close() {
  py::gil_scoped_release nogil;
  logger_->close();
}

void bind_logger(py::module_& m) {
  py::class_<PyLogger>(m, "Logger")
      .def(py::init<const std::string&, std::optional<int>, const std::string&, std::size_t, int, py::object, bool,
                    const std::string&>(),
           py::arg("root_path"), py::arg("compression_level") = 22, py::arg("synchronous") = "normal",
           py::arg("buffer_bytes") = std::size_t{16} << 20, py::arg("compression_workers") = -1,
           py::arg("close_progress") = py::none(), py::arg("throughput_mode") = false,
           py::arg("compression_mode") = "adaptive")
      .def("_register", &PyLogger::register_array, py::arg("name"), py::arg("keys"), py::arg("shape"),
           py::arg("dtype"), py::arg("commit_threshold_rows"), py::arg("commit_threshold_seconds"),
           py::arg("user_metadata"), py::arg("shuffle_zstd"), py::arg("keys_repr") = "",
           py::arg("quantize_step") = py::none(), py::arg("quantize_min") = 0.0, py::arg("quantize_max") = 0.0,
           py::arg("sparse") = false, py::arg("period") = 0, py::arg("period_mode") = "state",
           py::arg("resume_period") = py::none(), py::arg("journal") = "auto",
           py::arg("shard") = "")
      .def("log_many", &PyLogger::log_many, py::arg("name"), py::arg("key_values"), py::arg("arrays"))
      .def("flush", &PyLogger::flush)
      .def("_checkpoint_positions", &PyLogger::checkpoint_positions)
      .def("close", &PyLogger::close)
      .def_property_readonly("closed", &PyLogger::closed)
      .def_property_readonly("names", &PyLogger::names)
      .def_property_readonly("root_path", &PyLogger::root);
  m.def(
      "_rewind_log",
      [](const std::string& root, const std::string& name, std::uint64_t position, const std::string& aside,
         const std::string& note) {
        py::gil_scoped_release nogil;
        return rewind_log(root, name, position, aside, note);
      },
      py::arg("root"), py::arg("name"), py::arg("position"), py::arg("aside"), py::arg("note"));
  m.def(
      "_log_end",
      [](const std::string& root, const std::string& name) {
        py::gil_scoped_release nogil;
        return log_end(root, name);
      },
      py::arg("root"), py::arg("name"));
}

}  // namespace array_logger::py_binding
