#include "py_convert.hpp"

#include <string_view>

#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"

namespace array_logger::py_binding {
namespace {

std::string type_name(py::handle obj) { return Py_TYPE(obj.ptr())->tp_name; }

[[noreturn]] void bad_keys(const StreamBinding& s, py::handle kv) {
  std::vector<std::string> expected, missing, extra;
  py::dict d = py::dict(py::reinterpret_borrow<py::object>(kv));
  for (const auto& k : s.key_names) {
    expected.push_back(py::cast<std::string>(k));
    if (!d.contains(k)) missing.push_back(expected.back());
  }
  for (auto item : d) {
    if (!py::isinstance<py::str>(item.first)) {
      extra.push_back(py::repr(item.first).cast<std::string>());
      continue;
    }
    auto name = item.first.cast<std::string>();
    bool known = false;
    for (const auto& e : expected) known = known || e == name;
    if (!known) extra.push_back(name);
  }
  std::string msg = "Key mismatch for '" + s.name + "': expected keys " + keys_repr(expected);
  if (!missing.empty()) msg += ", missing " + keys_repr(missing);
  if (!extra.empty()) msg += ", unexpected " + keys_repr(extra);
  throw InvalidArgument(msg);
}

void convert_key(PyObject* v, KeyRef& k, const StreamBinding& s, std::size_t i) {
  if (PyLong_Check(v)) {  // int, bool and int subclasses
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) throw InvalidArgument("key '" + py::cast<std::string>(s.key_names[i]) + "' of '" + s.name + "' does not fit in 64 bits");
    if (x == -1 && PyErr_Occurred()) throw py::error_already_set();
    k = KeyRef::of(static_cast<std::int64_t>(x));
    return;
  }
  if (PyUnicode_Check(v)) {
    Py_ssize_t len = 0;
    const char* p = PyUnicode_AsUTF8AndSize(v, &len);
    if (p == nullptr) throw py::error_already_set();
    k = KeyRef::of(std::string_view(p, static_cast<std::size_t>(len)));
    return;
  }
  if (PyFloat_Check(v)) {
    k = KeyRef::of(PyFloat_AS_DOUBLE(v));
    return;
  }
  KeyValue value = to_key_value(v, ("key '" + py::cast<std::string>(s.key_names[i]) + "' of '" + s.name + "'").c_str());
  if (auto* n = std::get_if<std::int64_t>(&value)) k = KeyRef::of(*n);
  else if (auto* d = std::get_if<double>(&value)) k = KeyRef::of(*d);
  else throw InvalidArgument("key '" + py::cast<std::string>(s.key_names[i]) + "' has an unsupported value");
}

}  // namespace

KeyValue to_key_value(py::handle value, const char* what) {
  PyObject* v = value.ptr();
  if (v == Py_None) throw InvalidArgument(std::string(what) + " is None; key values must be int, float or str");
  if (PyUnicode_Check(v)) return py::cast<std::string>(value);
  if (PyLong_Check(v) || PyIndex_Check(v)) {  // int, bool, numpy integers
    py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(v));
    if (!idx) throw py::error_already_set();
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
    if (overflow) throw InvalidArgument(std::string(what) + " does not fit in 64 bits");
    return static_cast<std::int64_t>(x);
  }
  if (PyFloat_Check(v) || py::isinstance(value, numpy().attr("floating"))) {
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return d;
  }
  throw InvalidArgument(std::string(what) + " has unsupported type " + type_name(value) +
                        "; key values must be int, float or str");
}

void extract_keys(const StreamBinding& s, py::handle kv, std::vector<KeyRef>& out) {
  const std::size_t n = s.key_names.size();
  out.resize(n);
  PyObject* d = kv.ptr();
  if (!PyDict_Check(d)) {
    if (!PyMapping_Check(d) || PyUnicode_Check(d) || PyList_Check(d) || PyTuple_Check(d))
      throw InvalidArgument("key_values for '" + s.name + "' must be a dict, got " + type_name(kv));
    throw InvalidArgument("key_values for '" + s.name + "' must be a dict (convert it with dict(...))");
  }
  if (static_cast<std::size_t>(PyDict_GET_SIZE(d)) != n) bad_keys(s, kv);
  // Fast path: a dict literal written in the registered order has our very
  // (interned) key objects in that order; walking it beats n hash lookups.
  {
    Py_ssize_t pos = 0;
    PyObject* k;
    PyObject* v;
    std::size_t i = 0;
    while (PyDict_Next(d, &pos, &k, &v) && k == s.key_names[i].ptr()) {
      convert_key(v, out[i], s, i);
      if (++i == n) return;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    PyObject* v = PyDict_GetItemWithError(d, s.key_names[i].ptr());
    if (v == nullptr) {
      if (PyErr_Occurred()) throw py::error_already_set();
      bad_keys(s, kv);
    }
    convert_key(v, out[i], s, i);
  }
}

py::array as_loggable_array(const StreamBinding& s, py::handle obj) {
  auto& api = py::detail::npy_api::get();
  PyObject* o = obj.ptr();
  py::object arr;
  if (api.PyArray_Check_(o)) {
    arr = py::reinterpret_borrow<py::object>(o);
  } else if (PyLong_CheckExact(o) || PyBool_Check(o) || PyFloat_CheckExact(o) || PyComplex_CheckExact(o) ||
             PyList_Check(o) || PyTuple_Check(o)) {
    // (numpy scalars such as np.float64 subclass float but carry a dtype of
    // their own: they take the __array__ path below and are checked.)
    // No dtype of its own: take the registered one.
    arr = numpy().attr("asarray")(obj, s.dtype);
  } else if (PyObject_HasAttrString(o, "__array__") || PyObject_CheckBuffer(o) ||
             PyObject_HasAttrString(o, "__array_interface__")) {
    arr = numpy().attr("asarray")(obj);
  } else if (PyObject_HasAttrString(o, "__dlpack__")) {
    arr = numpy().attr("from_dlpack")(obj);
  } else {
    throw InvalidArgument("cannot log an object of type " + type_name(obj) + " for '" + s.name +
                          "': pass a numpy array (or anything numpy.asarray accepts)");
  }
  auto* proxy = py::detail::array_proxy(arr.ptr());
  if (proxy->descr != s.dtype.ptr() && !api.PyArray_EquivTypes_(proxy->descr, s.dtype.ptr())) {
    py::dtype got = py::reinterpret_borrow<py::dtype>(proxy->descr);
    // The same type in the other byte order holds the same values: store it
    // little-endian. Anything else would be a silent cast: refuse.
    if (got.attr("newbyteorder")("=").equal(s.dtype)) {
      arr = numpy().attr("ascontiguousarray")(arr, s.dtype);
      proxy = py::detail::array_proxy(arr.ptr());
    } else {
      throw InvalidArgument("Dtype mismatch for '" + s.name + "': registered " +
                            py::str(s.dtype).cast<std::string>() + ", got " + py::str(got).cast<std::string>() +
                            " (convert with .astype() if that is intended)");
    }
  }
  bool same_shape = static_cast<std::size_t>(proxy->nd) == s.shape.size();
  for (std::size_t i = 0; same_shape && i < s.shape.size(); ++i) same_shape = proxy->dimensions[i] == s.shape[i];
  if (!same_shape) {
    std::vector<std::int64_t> got(proxy->dimensions, proxy->dimensions + proxy->nd);
    throw InvalidArgument("Shape mismatch for '" + s.name + "': registered " + shape_repr(s.shape) + ", got " +
                          shape_repr(got));
  }
  if (!(proxy->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_)) {
    // Fortran order, slices, broadcasts: store the C-order copy.
    arr = py::reinterpret_steal<py::object>(api.PyArray_NewCopy_(arr.ptr(), 0 /* NPY_CORDER */));
    if (!arr) throw py::error_already_set();
  }
  return py::reinterpret_steal<py::array>(arr.release());
}

// pybind11's once-storage never destroys what it stores. A `static py::object`
// would be released by a C++ exit-time destructor after the interpreter has
// finalised (module_dealloc on a dead interpreter: SIGSEGV at exit).
py::handle numpy() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> np;
  return np.call_once_and_store_result([] { return py::object(py::module_::import("numpy")); }).get_stored();
}

py::object text_or_corrupt(std::string_view text, const char* what) {
  PyObject* o = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "strict");
  if (o == nullptr) {
    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) throw py::error_already_set();
    PyErr_Clear();
    throw CorruptFile(std::string(what) + " is not valid UTF-8");
  }
  return py::reinterpret_steal<py::object>(o);
}

py::object text_lenient(std::string_view text) {
  PyObject* o = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "surrogateescape");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(o);
}

py::object key_to_py(const KeyRef& k) {
  PyObject* o;
  switch (k.kind) {
    case KeyRef::Kind::Integer: o = PyLong_FromLongLong(k.integer); break;
    case KeyRef::Kind::Real: o = PyFloat_FromDouble(k.real); break;
    default: return text_or_corrupt(k.text, "a text key value");
  }
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(o);
}

py::array new_rows_block(const py::dtype& dtype, std::size_t rows, const std::vector<std::int64_t>& shape) {
  std::vector<py::ssize_t> dims{static_cast<py::ssize_t>(rows)};
  dims.insert(dims.end(), shape.begin(), shape.end());
  return py::array(dtype, dims);
}

py::array first_rows(const py::array& block, std::size_t n) {
  if (block.ndim() > 0 && static_cast<std::size_t>(block.shape(0)) == n) return block;
  return block[py::slice(0, static_cast<py::ssize_t>(n), 1)].cast<py::array>();
}

std::string dtype_name(py::handle dtype) {
  return numpy().attr("dtype")(dtype).attr("name").cast<std::string>();
}

}  // namespace array_logger::py_binding
