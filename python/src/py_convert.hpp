// Between Python objects and what the core takes and gives: key dicts into
// KeyRefs, array-likes into contiguous bytes of the registered dtype, and
// back: key values and text from files into Python objects, row blocks into
// ndarrays. Runs with the GIL; the core never sees a PyObject.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "array_logger/array_spec.hpp"
#include "array_logger/key_value.hpp"

namespace array_logger::py_binding {

namespace py = pybind11;

// What the binding remembers about one registered name.
struct StreamBinding {
  std::uint32_t id = 0;
  std::string name;
  std::vector<py::object> key_names;  // interned str, for fast dict lookups
  std::vector<std::int64_t> shape;
  py::dtype dtype;                    // registered numpy dtype (native order)
  std::size_t payload_bytes = 0;
};

// Fills `out` (resized to the key count) from a mapping. Throws
// InvalidArgument naming missing or extra keys and unusable values. Text
// values point into the Python strings, which `kv` keeps alive.
void extract_keys(const StreamBinding& s, py::handle kv, std::vector<KeyRef>& out);

// Converts a single Python key/param value (int, float, str, bool, numpy scalar).
KeyValue to_key_value(py::handle value, const char* what);

// Returns a C-contiguous ndarray of exactly the registered dtype and shape
// made from `obj` (the same object when it already is one). Python scalars
// and lists are converted to the registered dtype; objects with a dtype of
// their own (ndarray, __array__, buffer, DLPack) must already have it.
// Throws InvalidArgument("Shape mismatch ..."/"Dtype mismatch ...").
py::array as_loggable_array(const StreamBinding& s, py::handle obj);

// numpy dtype name ("float32") of anything np.dtype() accepts.
std::string dtype_name(py::handle dtype);

// The numpy module, imported once and never released (see py_convert.cpp).
py::handle numpy();

// Text read from a file as a str. We only ever write UTF-8, so other bytes
// mean the file is damaged: CorruptFile naming `what`.
py::object text_or_corrupt(std::string_view text, const char* what);
// Informational text (meta values): undecodable bytes kept as surrogate escapes.
py::object text_lenient(std::string_view text);
// A key value read from a file as int, float or str (see text_or_corrupt).
py::object key_to_py(const KeyRef& k);

// An uninitialised ndarray of `rows` arrays of `shape`: shape (rows, *shape).
py::array new_rows_block(const py::dtype& dtype, std::size_t rows, const std::vector<std::int64_t>& shape);
// The first `n` rows of `block` (a view; `block` itself when it has no more).
py::array first_rows(const py::array& block, std::size_t n);

}  // namespace array_logger::py_binding
