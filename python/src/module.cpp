// array_logger._core: the compiled half of the package. The public API is
// the Python package around it (python/array_logger/__init__.py).
#include <pybind11/pybind11.h>

#include "array_logger/version.hpp"
#include "bindings.hpp"
#include "fast_log.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "array_logger's C++ core (private; use the array_logger package)";
  m.attr("__version__") = array_logger::version();
  m.def("_build_info_json", &array_logger::build_info_json);
  array_logger::py_binding::bind_errors(m);
  array_logger::py_binding::bind_logger(m);
  array_logger::py_binding::bind_fast_log(m, m.attr("Logger"));
  array_logger::py_binding::bind_reader(m);
  array_logger::py_binding::bind_file_tools(m);
}
