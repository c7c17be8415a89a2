// _core.Reader and _core.Cursor: rows come back in blocks, one (n, *shape)
// ndarray per block plus one dict of keys per row, so Python does no work
// per row beyond handing them out.
#include <pybind11/stl.h>

#include <cstring>
#include <optional>

#include "array_logger/errors.hpp"
#include "array_logger/reader.hpp"
#include "bindings.hpp"
#include "py_convert.hpp"

namespace array_logger::py_binding {
namespace {

std::vector<KeyValue> to_params(const py::object& params) {
  std::vector<KeyValue> out;
  if (params.is_none()) return out;
  if (PyUnicode_Check(params.ptr()) || PyDict_Check(params.ptr()))
    throw InvalidArgument("params must be a sequence (tuple or list) of values");
  for (auto item : params) out.push_back(to_key_value(item, "where_clause param"));
  return out;
}

// One key column of a bulk read: int64 while every value is an integer,
// float64 while every value is a float, else Python objects that keep each
// value's own type (as iterate() does). Numbers are written straight into
// the numpy array that is returned (8 bytes per row either way: a float64
// column is the same buffer viewed as float64), so no copy of the column is
// ever held next to it.
class KeyColumn {
 public:
  explicit KeyColumn(std::size_t n) : n_(n), numbers_(py::array_t<std::int64_t>(static_cast<py::ssize_t>(n))) {
    words_ = static_cast<std::int64_t*>(numbers_.mutable_data());
  }
  // Without the GIL.
  void set(std::size_t row, const KeyRef& k) {
    if (row == 0 && kind_ == Unset) {
      kind_ = k.kind == KeyRef::Kind::Integer ? Ints : k.kind == KeyRef::Kind::Real ? Reals : Objects;
      if (kind_ == Objects) objects_.resize(n_);
    }
    if (kind_ == Ints && k.kind != KeyRef::Kind::Integer) to_objects(row);
    if (kind_ == Reals && k.kind != KeyRef::Kind::Real) to_objects(row);
    switch (kind_) {
      case Ints: words_[row] = k.integer; break;
      case Reals: std::memcpy(&words_[row], &k.real, sizeof k.real); break;
      default:
        objects_[row] = k.kind == KeyRef::Kind::Integer ? KeyValue(k.integer)
                        : k.kind == KeyRef::Kind::Real  ? KeyValue(k.real)
                                                        : KeyValue(std::string(k.text));
    }
  }
  // With the GIL.
  py::array to_numpy(std::size_t n) const {
    if (kind_ == Ints || kind_ == Unset || kind_ == Reals) {
      py::array out = kind_ == Reals ? numbers_.attr("view")("float64").cast<py::array>() : numbers_;
      return first_rows(out, n);
    }
    py::array out = numpy().attr("empty")(n, "object");
    // Through the one key decoder, so that a damaged text key is the same
    // CorruptFileError here as in iterate().
    for (std::size_t i = 0; i < n; ++i) out[py::int_(i)] = key_to_py(KeyRef::of(objects_[i]));
    return out;
  }

 private:
  void to_objects(std::size_t row) {
    objects_.resize(n_);
    for (std::size_t i = 0; i < row; ++i) {
      if (kind_ == Ints) {
        objects_[i] = KeyValue(words_[i]);
      } else {
        double d;
        std::memcpy(&d, &words_[i], sizeof d);
        objects_[i] = KeyValue(d);
      }
    }
    kind_ = Objects;
  }
  enum Kind { Unset, Ints, Reals, Objects } kind_ = Unset;
  std::size_t n_;
  py::array numbers_;
  std::int64_t* words_;
  std::vector<KeyValue> objects_;
};

class PyReader;

class PyCursor {
 public:
  PyCursor(std::shared_ptr<Reader> reader, Query q, py::dtype dtype, std::vector<std::int64_t> shape,
           std::vector<py::object> key_names)
      : reader_(std::move(reader)), query_(std::move(q)), dtype_(std::move(dtype)), shape_(std::move(shape)),
        key_names_(std::move(key_names)) {}

  // Up to `max_rows` rows of a Reader.query_sparse cursor as (list of key
  // dicts, list of (indices int64, values) pairs), or None at the end.
  py::object fetch_sparse(std::size_t max_rows) {
    if (!fetch_open()) return py::none();
    py::list keys, parts;
    std::size_t n = 0;
    while (n < max_rows && query_.next()) {
      const auto idx = query_.sparse_indices();
      const auto vals = query_.sparse_values();
      py::array_t<std::int64_t> indices(static_cast<py::ssize_t>(idx.size()));
      std::memcpy(indices.mutable_data(), idx.data(), idx.size() * sizeof(std::uint64_t));
      py::array values(dtype_, std::vector<py::ssize_t>{static_cast<py::ssize_t>(idx.size())});
      std::memcpy(values.mutable_data(), vals.data(), vals.size());
      parts.append(py::make_tuple(indices, values));
      keys.append(row_keys());
      ++n;
    }
    if (!end_fetch(n, max_rows)) return py::none();
    return py::make_tuple(keys, parts);
  }

  // Up to `max_rows` rows as (list of key dicts, ndarray (n, *shape)), or
  // None when the query is exhausted.
  py::object fetch(std::size_t max_rows) {
    if (!fetch_open()) return py::none();
    py::array block = new_rows_block(dtype_, max_rows, shape_);
    auto* base = static_cast<std::byte*>(block.mutable_data());
    const std::size_t row_bytes = reader_->spec().payload_bytes();
    py::list keys;
    std::size_t n = 0;
    while (n < max_rows && query_.next_into(base + n * row_bytes)) {
      py::object d = row_keys();
      if (PyList_Append(keys.ptr(), d.ptr()) != 0) throw py::error_already_set();
      ++n;
    }
    if (!end_fetch(n, max_rows)) return py::none();
    block = first_rows(block, n);
    return py::make_tuple(keys, block);
  }

  // Up to `max_rows` rows as (dict key -> 1-D array, ndarray (n, *shape)),
  // the layout of read_all, or None when the query is exhausted: bounded
  // batches in one pass over the rows (iter_batches).
  py::object fetch_batch(std::size_t max_rows) {
    if (!fetch_open()) return py::none();
    py::array block = new_rows_block(dtype_, max_rows, shape_);
    auto* base = static_cast<std::byte*>(block.mutable_data());
    const std::size_t row_bytes = reader_->spec().payload_bytes();
    std::vector<KeyColumn> cols;  // each its own array (not copies of one)
    cols.reserve(key_names_.size());
    for (std::size_t i = 0; i < key_names_.size(); ++i) cols.emplace_back(max_rows);
    std::size_t n = 0;
    {
      py::gil_scoped_release nogil;
      while (n < max_rows && query_.next_into(base + n * row_bytes)) {
        for (std::size_t i = 0; i < cols.size(); ++i) cols[i].set(n, query_.key(i));
        ++n;
      }
    }
    if (!end_fetch(n, max_rows)) return py::none();
    block = first_rows(block, n);
    py::dict keys;
    for (std::size_t i = 0; i < cols.size(); ++i) keys[key_names_[i]] = cols[i].to_numpy(n);
    return py::make_tuple(keys, block);
  }

 private:
  // Whether a fetch may read on: false once the query is exhausted.
  bool fetch_open() const {
    if (done_) return false;
    if (reader_->closed()) throw StateError("Reader is closed");
    return true;
  }

  // After a fetch of `n` of `max_rows` rows: the query is done when it came
  // short; whether there are any rows.
  bool end_fetch(std::size_t n, std::size_t max_rows) {
    if (n < max_rows) done_ = true;
    // Between blocks the caller runs arbitrary code: hold no read lock
    // meanwhile (a writer with a rollback journal would wait for it).
    query_.pause();
    return n > 0;
  }

  // The current row's keys as a dict (plain C API: this runs once per row).
  py::object row_keys() {
    py::object d = py::reinterpret_steal<py::object>(PyDict_New());
    if (!d) throw py::error_already_set();
    for (std::size_t i = 0; i < key_names_.size(); ++i) {
      py::object v = key_to_py(query_.key(i));
      if (PyDict_SetItem(d.ptr(), key_names_[i].ptr(), v.ptr()) != 0) throw py::error_already_set();
    }
    return d;
  }

  std::shared_ptr<Reader> reader_;
  Query query_;
  py::dtype dtype_;
  std::vector<std::int64_t> shape_;
  std::vector<py::object> key_names_;
  bool done_ = false;
};

class PyReader {
 public:
  explicit PyReader(const std::string& path) {
    {
      py::gil_scoped_release nogil;  // may decompress a .db.zst
      reader_ = std::make_shared<Reader>(path);
    }
    const ArraySpec& spec = reader_->spec();
    dtype_ = py::dtype(std::string(spec.dtype->name));
    for (const auto& k : spec.keys) key_names_.push_back(text_or_corrupt(k, "a key name in meta"));
  }

  PyCursor query(const std::string& where, const py::object& params) {
    std::vector<KeyValue> p = to_params(params);
    Query q = reader_->query(where, p);
    return PyCursor(reader_, std::move(q), dtype_, reader_->spec().shape, key_names_);
  }

  PyCursor query_sparse(const std::string& where, const py::object& params) {
    std::vector<KeyValue> p = to_params(params);
    Query q = reader_->query_sparse(where, p);
    return PyCursor(reader_, std::move(q), dtype_, reader_->spec().shape, key_names_);
  }

  std::uint64_t count(const std::string& where, const py::object& params) {
    std::vector<KeyValue> p = to_params(params);
    py::gil_scoped_release nogil;
    return reader_->count(where, p);
  }

  // Every selected row in one pass: (dict key -> 1-D array, ndarray (N, *shape)).
  py::tuple read_all(const std::string& where, const py::object& params) {
    std::vector<KeyValue> p = to_params(params);
    const ArraySpec& spec = reader_->spec();
    std::uint64_t n;
    {
      py::gil_scoped_release nogil;
      n = reader_->count(where, p);
    }
    py::array out = new_rows_block(dtype_, n, spec.shape);
    auto* base = static_cast<std::byte*>(out.mutable_data());
    const std::size_t row_bytes = spec.payload_bytes();
    std::vector<KeyColumn> cols;  // each its own array (not copies of one)
    cols.reserve(spec.keys.size());
    for (std::size_t i = 0; i < spec.keys.size(); ++i) cols.emplace_back(n);
    std::uint64_t got = 0;
    {
      py::gil_scoped_release nogil;
      Query q = reader_->query(where, p);
      while (got < n && q.next_into(base + got * row_bytes)) {
        for (std::size_t i = 0; i < cols.size(); ++i) cols[i].set(got, q.key(i));
        ++got;
      }
    }
    if (got != n) throw CorruptFile("rows changed while being read");
    py::dict keys;
    for (std::size_t i = 0; i < cols.size(); ++i) keys[key_names_[i]] = cols[i].to_numpy(n);
    return py::make_tuple(keys, out);
  }

  // (rows, [{"min", "max", "integers", "reals", "texts"} per key]) in one pass
  // over the keys; min/max None without rows.
  py::tuple summarize_keys(const std::string& where, const py::object& params) {
    std::vector<KeyValue> p = to_params(params);
    Reader::KeySummary s;
    {
      py::gil_scoped_release nogil;
      s = reader_->summarize_keys(where, p);
    }
    py::list keys;
    for (const auto& k : s.keys) {
      py::dict d;
      d["min"] = k.min ? key_to_py(KeyRef::of(*k.min)) : py::none();
      d["max"] = k.max ? key_to_py(KeyRef::of(*k.max)) : py::none();
      d["integers"] = k.integers;
      d["reals"] = k.reals;
      d["texts"] = k.texts;
      keys.append(d);
    }
    return py::make_tuple(s.rows, keys);
  }

  py::list integrity_check() {
    std::vector<std::string> problems;
    {
      py::gil_scoped_release nogil;
      problems = reader_->integrity_check();
    }
    py::list out;
    for (const auto& line : problems) out.append(text_lenient(line));
    return out;
  }

  // {"page_size", "page_count", "freelist_count"} of the
  // database read (a .db.zst's decompressed copy included).
  py::dict database_info() {
    Reader::DatabaseInfo info;
    {
      py::gil_scoped_release nogil;
      info = reader_->database_info();
    }
    py::dict d;
    d["page_size"] = info.page_size;
    d["page_count"] = info.page_count;
    d["freelist_count"] = info.freelist_count;
    return d;
  }

  void close() { reader_->close(); }
  bool closed() const { return reader_->closed(); }
  py::dict meta() const {
    py::dict d;
    for (const auto& [k, v] : reader_->meta()) d[text_lenient(k)] = text_lenient(v);
    return d;
  }
  py::tuple shape() const {
    py::tuple t(reader_->spec().shape.size());
    for (std::size_t i = 0; i < reader_->spec().shape.size(); ++i) t[i] = py::int_(reader_->spec().shape[i]);
    return t;
  }
  py::dtype dtype() const { return dtype_; }
  py::list keys() const {
    py::list out;
    for (const auto& k : key_names_) out.append(k);
    return out;
  }
  int format_version() const { return reader_->format_version(); }
  std::string path() const { return reader_->path().string(); }

 private:
  std::shared_ptr<Reader> reader_;
  py::dtype dtype_;
  std::vector<py::object> key_names_;
};

}  // namespace

void bind_reader(py::module_& m) {
  py::class_<PyCursor>(m, "Cursor")
      .def("fetch", &PyCursor::fetch, py::arg("max_rows"))
      .def("fetch_sparse", &PyCursor::fetch_sparse, py::arg("max_rows"))
      .def("fetch_batch", &PyCursor::fetch_batch, py::arg("max_rows"));
  py::class_<PyReader>(m, "Reader")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def("query", &PyReader::query, py::arg("where_clause") = "", py::arg("params") = py::none())
      .def("query_sparse", &PyReader::query_sparse, py::arg("where_clause") = "", py::arg("params") = py::none())
      .def("count", &PyReader::count, py::arg("where_clause") = "", py::arg("params") = py::none())
      .def("read_all", &PyReader::read_all, py::arg("where_clause") = "", py::arg("params") = py::none())
      .def("summarize_keys", &PyReader::summarize_keys, py::arg("where_clause") = "",
           py::arg("params") = py::none())
      .def("integrity_check", &PyReader::integrity_check)
      .def("database_info", &PyReader::database_info)
      .def("close", &PyReader::close)
      .def_property_readonly("closed", &PyReader::closed)
      .def_property_readonly("meta", &PyReader::meta)
      .def_property_readonly("shape", &PyReader::shape)
      .def_property_readonly("dtype", &PyReader::dtype)
      .def_property_readonly("keys", &PyReader::keys)
      .def_property_readonly("format_version", &PyReader::format_version)
      .def_property_readonly("path", &PyReader::path);
}

}  // namespace array_logger::py_binding
