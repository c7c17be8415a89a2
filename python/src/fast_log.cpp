// log() runs a million times per run, so it bypasses pybind11's generic
// dispatcher: METH_FASTCALL functions parse their three arguments
// themselves. Logger.log remembers which C++ object the last `self` was;
// the module-level array_logger.log calls the process-wide default logger,
// which is kept here (set by init(), cleared by close()) so that it is a
// single C++ call.
#include "fast_log.hpp"

#include <cstring>
#include <string>

#include "array_logger/errors.hpp"
#include "py_logger.hpp"

namespace array_logger::py_binding {
namespace {

// A plain PyObject* (a strong reference dropped by _set_default(None) and
// the exit hook), not a py::object: a global's destructor would run after
// the interpreter is gone.
PyObject* g_default_owner = nullptr;
PyLogger* g_default = nullptr;

void set_default_owner(py::handle logger) {
  PyObject* old = g_default_owner;
  g_default_owner = logger ? logger.inc_ref().ptr() : nullptr;
  Py_XDECREF(old);
}

PyObject* g_last_self = nullptr;
PyLogger* g_last_logger = nullptr;

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

void set_default(py::object logger) {
  if (logger.is_none()) {
    g_default = nullptr;
    set_default_owner(py::handle());
  } else {
    g_default = &logger.cast<PyLogger&>();
    set_default_owner(logger);
  }
}

}  // namespace

void forget_logger(const PyLogger* logger) noexcept {
  if (g_last_logger == logger) {
    g_last_self = nullptr;
    g_last_logger = nullptr;
  }
}

void bind_fast_log(py::module_& m, py::handle cls) {
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &g_log_method_def);
  if (descr == nullptr || PyObject_SetAttrString(cls.ptr(), "log", descr) != 0) throw py::error_already_set();
  Py_DECREF(descr);
  py::object fn = py::reinterpret_steal<py::object>(PyCFunction_NewEx(&g_log_default_def, nullptr, m.ptr()));
  if (!fn) throw py::error_already_set();
  m.add_object("_log_default", fn);
  m.def("_set_default", &set_default, py::arg("logger"));
  m.def("_get_default", []() -> py::object {
    return g_default ? py::reinterpret_borrow<py::object>(g_default_owner) : py::object(py::none());
  });
  // Drop the reference before the interpreter tears modules down.
  py::module_::import("atexit").attr("register")(py::cpp_function([] { set_default(py::none()); }));
}

}  // namespace array_logger::py_binding
