// _core.compress_file / _core.decompress_file: the core's whole-file
// operations (array_logger/file_tools.hpp), with the GIL released while
// they run. Used by `array-logger compress` / `decompress`.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "array_logger/file_tools.hpp"
#include "bindings.hpp"
#include "py_convert.hpp"

namespace array_logger::py_binding {

void bind_file_tools(py::module_& m) {
  m.def(
      "compress_file",
      [](const std::string& path, int level, int workers, py::object progress) {
        CloseProgressFn fn;
        if (!progress.is_none()) {
          // Called every 64 MiB of input and at the end, with the GIL taken
          // (the GIL is released while the core compresses).
          auto callback = std::make_shared<py::object>(std::move(progress));
          fn = [callback](std::string_view name, std::uint64_t done, std::uint64_t total) {
            py::gil_scoped_acquire gil;
            (*callback)(py::str(name.data(), name.size()), done, total);
          };
        }
        std::filesystem::path out;
        {
          py::gil_scoped_release nogil;
          out = compress_file(path, level, workers, std::move(fn));
        }
        return out.string();
      },
      py::arg("path"), py::arg("level"), py::arg("workers") = -1, py::arg("progress") = py::none());
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
