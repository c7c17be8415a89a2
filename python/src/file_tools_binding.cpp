// _core.compress_file / _core.decompress_file: the core's whole-file
// operations (array_logger/file_tools.hpp), with the GIL released while
// they run. Used by `array-logger compress` / `decompress`.
#include <pybind11/pybind11.h>

#include <string>

#include "array_logger/file_tools.hpp"
#include "bindings.hpp"
#include "py_convert.hpp"

namespace array_logger::py_binding {

void bind_file_tools(py::module_& m) {
  m.def(
      "compress_file",
      [](const std::string& path, int level, int workers) {
        std::filesystem::path out;
        {
          py::gil_scoped_release nogil;
          out = compress_file(path, level, workers);
        }
        return out.string();
      },
      py::arg("path"), py::arg("level"), py::arg("workers") = -1);
  m.def(
      "decompress_file",
      [](const std::string& path) {
        std::filesystem::path out;
        {
          py::gil_scoped_release nogil;
          out = decompress_file(path);
        }
        return out.string();
      },
      py::arg("path"));
  m.def(
      "decompress_copy",
      [](const std::string& path, const std::string& out) {
        py::gil_scoped_release nogil;
        decompress_copy(path, out);
      },
      py::arg("path"), py::arg("out"));
  m.def(
      "writer_active",
      [](const std::string& path) {
        py::gil_scoped_release nogil;
        return writer_active(path);
      },
      py::arg("path"));
}

}  // namespace array_logger::py_binding
