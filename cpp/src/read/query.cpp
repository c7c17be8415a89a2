#include <cstring>

#include "array_logger/errors.hpp"
#include "read/query_impl.hpp"

namespace array_logger {

Query::Impl::Impl(const Reader::Impl& r, detail::Statement s, bool d)
    : reader(r),
      stmt(std::move(s)),
      nkeys(static_cast<int>(r.meta.spec.keys.size())),
      direct(d),
      rowid_col(d ? nkeys : nkeys + 1),
      decoder(r.meta.spec, r.meta.format_version, &r.meta.form) {}

bool Query::Impl::data_is_blob() const {
  return direct ? stmt.column_text(nkeys + 2) == "blob" : stmt.column_type(nkeys) == SQLITE_BLOB;
}

sqlite3_blob* Query::Impl::open_blob(sqlite3_int64 rowid) {
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
  return blob.get();
}

void Query::Impl::blob_read(void* out, std::size_t n, std::size_t offset) {
  const int rc = sqlite3_blob_read(blob.get(), out, static_cast<int>(n), static_cast<int>(offset));
  if (rc != SQLITE_OK) reader.source.db.fail(rc, "reading a blob");
}

std::span<const std::byte> Query::Impl::fetch_blob() {
  if (!direct) return stmt.column_blob(nkeys);
  const auto n = static_cast<std::size_t>(stmt.column_int64(nkeys + 1));
  open_blob(stmt.column_int64(nkeys));
  raw.resize(n);
  blob_read(raw.data(), n, 0);
  return raw;
}

bool Query::Impl::read_payload_into(std::byte* out) {
  if (decoder.encoded()) return false;  // a format-3 blob may have the payload's size by chance
  const std::span<const std::byte> prefix = decoder.raw_prefix();
  const std::uint64_t payload = decoder.payload_bytes();
  if (static_cast<std::uint64_t>(stmt.column_int64(nkeys + 1)) != prefix.size() + payload) return false;
  open_blob(stmt.column_int64(nkeys));
  if (!prefix.empty()) {
    head.resize(prefix.size());
    blob_read(head.data(), head.size(), 0);
    if (std::memcmp(head.data(), prefix.data(), prefix.size()) != 0) return false;
  }
  // With SQLITE_DIRECT_OVERFLOW_READ (our build) and no mmap, SQLite reads
  // each whole overflow page with one pread() into `out`: the kernel fills
  // the destination, no page-cache copy in between.
  blob_read(out, payload, prefix.size());
  return true;
}

CorruptFile Query::Impl::corrupt(const std::string& why) const {
  return CorruptFile(reader.source.path.string() + ", row " + std::to_string(row) + ": " + why);
}

Query::Query(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Query::Query(Query&&) noexcept = default;
Query& Query::operator=(Query&&) noexcept = default;
Query::~Query() = default;

void Query::pause() noexcept {
  Impl& q = *impl_;
  if (!q.stmt || q.paused) return;
  q.blob.reset();
  q.stmt.reset();  // ends the read transaction; bindings stay
  q.paused = true;
}

bool Query::step() {
  Impl& q = *impl_;
  current_ = {};
  if (!q.stmt) return false;
  if (q.paused) {
    q.stmt.bind(sqlite3_bind_parameter_count(q.stmt.get()), q.last_rowid);
    q.paused = false;
  }
  if (!q.stmt.step()) {
    q.stmt.finalize();
    q.blob.reset();
    return false;
  }
  ++q.row;
  q.last_rowid = q.stmt.column_int64(q.rowid_col);
  if (!q.data_is_blob()) throw q.corrupt("data is not a blob");
  return true;
}

void Query::decode_current() {
  Impl& q = *impl_;
  const std::span<const std::byte> stored = q.fetch_blob();  // SQLite errors name the file themselves
  try {
    if (q.sparse)
      q.decoder.decode_sparse(stored, q.indices, q.values);
    else
      current_ = q.decoder.decode(stored);
  } catch (const CorruptFile& e) {
    throw q.corrupt(e.what());
  }
}

bool Query::next() {
  if (!step()) return false;
  decode_current();
  return true;
}

bool Query::next_into(std::byte* out) {
  if (!step()) return false;
  if (impl_->direct && impl_->read_payload_into(out)) return true;
  decode_current();
  std::memcpy(out, current_.data(), current_.size());
  return true;
}

KeyRef Query::key(std::size_t i) const { return impl_->stmt.column_key(static_cast<int>(i)); }

std::span<const std::uint64_t> Query::sparse_indices() const noexcept { return impl_->indices; }
std::span<const std::byte> Query::sparse_values() const noexcept { return impl_->values; }

}  // namespace array_logger
