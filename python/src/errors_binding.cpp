// One Python exception class per core error type, mapped once here.
// Each also derives from the builtin users already catch (ValueError,
// RuntimeError, OSError), as docs/DESIGN.md ("Errors") promises.
#include <cerrno>
#include <cstring>

#include "array_logger/errors.hpp"
#include "bindings.hpp"

namespace array_logger::py_binding {
namespace {

namespace py = pybind11;

PyObject* make_class(py::module_& m, const char* name, std::initializer_list<PyObject*> bases, const char* doc) {
  py::tuple b(bases.size());
  std::size_t i = 0;
  for (PyObject* base : bases) b[i++] = py::reinterpret_borrow<py::object>(base);
  std::string qualified = std::string("array_logger.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, b.ptr(), nullptr);
  if (cls == nullptr) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;  // the module keeps a reference for the life of the process
}

PyObject* g_validation = nullptr;
PyObject* g_meta_mismatch = nullptr;
PyObject* g_state = nullptr;
PyObject* g_storage = nullptr;
PyObject* g_corrupt = nullptr;

// Messages can quote bytes from a damaged file: decode leniently, so that the
// error raised is ours and not a UnicodeDecodeError about the message.
void set_error(PyObject* cls, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "replace");
  if (msg == nullptr) return;  // MemoryError is set
  PyErr_SetObject(cls, msg);
  Py_DECREF(msg);
}

}  // namespace

void bind_errors(py::module_& m) {
  PyObject* base = make_class(m, "ArrayLoggerError", {PyExc_Exception}, "Base of every array_logger error.");
  g_validation = make_class(m, "ValidationError", {base, PyExc_ValueError},
                            "An argument is invalid: name, keys, shape, dtype, where clause.");
  g_meta_mismatch = make_class(m, "MetaMismatchError", {g_validation},
                               "An existing file was written with another shape, dtype or keys.");
  g_state = make_class(m, "StateError", {base, PyExc_RuntimeError},
                       "The call is not allowed now (already initialized, closed, after fork).");
  g_storage = make_class(m, "StorageError", {base, PyExc_OSError},
                         "A file could not be written or read (disk full, permissions, I/O).");
  g_corrupt = make_class(m, "CorruptFileError", {base, PyExc_ValueError},
                         "A file is not a valid array_logger file.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const MetaMismatch& e) {
      set_error(g_meta_mismatch, e.what());
    } catch (const InvalidArgument& e) {
      set_error(g_validation, e.what());
    } catch (const StateError& e) {
      set_error(g_state, e.what());
    } catch (const CorruptFile& e) {
      set_error(g_corrupt, e.what());
    } catch (const StorageError& e) {
      // OSError(errno, message): a missing file is the builtin FileNotFoundError.
      PyObject* cls = e.sys_errno() == ENOENT ? PyExc_FileNotFoundError : g_storage;
      py::object msg = py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(e.what(), static_cast<Py_ssize_t>(std::strlen(e.what())), "replace"));
      if (!msg) return;
      py::object err = e.sys_errno() ? py::reinterpret_steal<py::object>(
                                           PyObject_CallFunction(cls, "iO", e.sys_errno(), msg.ptr()))
                                     : py::reinterpret_steal<py::object>(PyObject_CallFunction(cls, "O", msg.ptr()));
      if (err) PyErr_SetObject(cls, err.ptr());
    }
  });
}

}  // namespace array_logger::py_binding
