#include "array_logger/errors.hpp"
#include "read/query_impl.hpp"

namespace array_logger {

Query::Impl::Impl(const Reader::Impl& r, detail::Statement s, bool d)
    : reader(r),
      stmt(std::move(s)),
      nkeys(static_cast<int>(r.meta.spec.keys.size())),
      direct(d),
      decoder(r.meta.spec, r.meta.format_version, &r.meta.form) {}

bool Query::Impl::data_is_blob() const {
  return direct ? stmt.column_text(nkeys + 2) == "blob" : stmt.column_type(nkeys) == SQLITE_BLOB;
}

std::span<const std::byte> Query::Impl::fetch_blob() {
  if (!direct) return stmt.column_blob(nkeys);
  const sqlite3_int64 rowid = stmt.column_int64(nkeys);
  const auto n = static_cast<std::size_t>(stmt.column_int64(nkeys + 1));
  const detail::Database& db = reader.source.db;
  int rc;
  if (!blob) {
    sqlite3_blob* b = nullptr;
    rc = sqlite3_blob_open(db.get(), "main", "array_log", "data", rowid, 0, &b);
    blob.reset(b);
  } else {
    rc = sqlite3_blob_reopen(blob.get(), rowid);
  }
  if (rc != SQLITE_OK) db.fail(rc, "opening a blob");
  raw.resize(n);
  rc = sqlite3_blob_read(blob.get(), raw.data(), static_cast<int>(n), 0);
  if (rc != SQLITE_OK) db.fail(rc, "reading a blob");
  return raw;
}

Query::Query(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Query::Query(Query&&) noexcept = default;
Query& Query::operator=(Query&&) noexcept = default;
Query::~Query() = default;

bool Query::next() {
  Impl& q = *impl_;
  current_ = {};
  if (!q.stmt) return false;
  if (!q.stmt.step()) {
    q.stmt.finalize();
    q.blob.reset();
    return false;
  }
  ++q.row;
  auto corrupt = [&q](const char* why) {
    return CorruptFile(q.reader.source.path.string() + ", row " + std::to_string(q.row) + ": " + why);
  };
  if (!q.data_is_blob()) throw corrupt("data is not a blob");
  const std::span<const std::byte> stored = q.fetch_blob();  // SQLite errors name the file themselves
  try {
    if (q.sparse)
      q.decoder.decode_sparse(stored, q.indices, q.values);
    else
      current_ = q.decoder.decode(stored);
  } catch (const CorruptFile& e) {
    throw corrupt(e.what());
  }
  return true;
}

KeyRef Query::key(std::size_t i) const { return impl_->stmt.column_key(static_cast<int>(i)); }

std::span<const std::uint64_t> Query::sparse_indices() const noexcept { return impl_->indices; }
std::span<const std::byte> Query::sparse_values() const noexcept { return impl_->values; }

}  // namespace array_logger
