#include "array_logger/reader.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "file_ops.hpp"
#include "meta_table.hpp"
#include "sql_text.hpp"
#include "sqlite_db.hpp"
#include "zstd_file.hpp"

namespace array_logger {

using detail::Database;
using detail::StmtPtr;

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// file: URI for a path: everything but unreserved characters and '/' is
// percent-encoded, so '?', '#' and '%' in file names stay part of the path.
std::string file_uri(const std::filesystem::path& path, const char* params) {
  std::string abs = std::filesystem::absolute(path).string();
  std::string out = "file:";
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : abs) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += '?';
  out += params;
  return out;
}

// Allows reading only: SELECT, reading columns, calling (side-effect free)
// functions. Everything else (writes, PRAGMA, ATTACH, transactions, and
// recursive CTEs, which could loop forever) is refused at prepare time.
int read_only_authorizer(void*, int action, const char*, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

// True when the database header says WAL mode (file format bytes 18/19 are
// 2) and no -wal file exists, i.e. no connection has the file open for writing.
bool wal_mode_without_writer(const std::filesystem::path& db) {
  detail::Fd fd(::open(db.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  unsigned char header[20];
  if (::pread(fd.get(), header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) return false;
  if (std::memcmp(header, "SQLite format 3", 16) != 0 || header[18] != 2 || header[19] != 2) return false;
  return !detail::file_exists(db.string() + "-wal");
}

// A non-empty rollback journal beside the database: a writer died in the
// middle of a transaction, and SQLite must roll it back before reading.
bool has_hot_journal(const std::filesystem::path& db) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(db.string() + "-journal", ec);
  return !ec && size > 0;
}

// A rollback-journal database (every file array_logger has closed, and every
// decompressed .db.zst copy) is a whole number of pages, at least as many as
// its header says. SQLite would read the missing tail of a truncated file as
// zeros, i.e. return altered rows: refuse such a file instead. WAL-mode files
// are skipped (their pages may legitimately live in the -wal file). The
// check runs inside a read transaction, so no writer can commit meanwhile.
void check_not_truncated(Database& db, const std::filesystem::path& file, const std::string& shown) {
  detail::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return;  // SQLite reports what is wrong when reading
  unsigned char header[20];
  if (::pread(fd.get(), header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) return;
  if (std::memcmp(header, "SQLite format 3", 16) != 0 || header[18] != 1) return;
  auto pragma = [&](const char* sql) -> std::int64_t {
    StmtPtr st = db.prepare(sql);
    const int rc = sqlite3_step(st.get());
    if (rc != SQLITE_ROW) db.fail(rc, sql);
    return sqlite3_column_int64(st.get(), 0);
  };
  db.exec("BEGIN");
  std::int64_t page_size = 0, page_count = 0;
  struct stat sb {};
  try {
    page_count = pragma("PRAGMA page_count");  // takes the read lock, held until COMMIT
    page_size = pragma("PRAGMA page_size");
    if (::fstat(fd.get(), &sb) != 0) sb.st_size = 0;
  } catch (...) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  db.exec("COMMIT");
  const std::int64_t size = sb.st_size;
  if (page_size > 0 && size > 0 && (size % page_size != 0 || size < page_count * page_size))
    throw CorruptFile(shown + " is truncated: " + std::to_string(size) + " bytes, but its header describes " +
                      std::to_string(page_count) + " pages of " + std::to_string(page_size) + " bytes");
}

struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
};

}  // namespace

struct Reader::Impl {
  std::filesystem::path path;
  std::filesystem::path temp_path;  // decompressed copy of a .db.zst, if any
  Database db;
  FileMeta meta;
  std::vector<std::byte> expected_header;  // format 2, unfiltered
  std::vector<std::byte> filtered_header;  // format 2, shuffle-zstd

  void remove_temp() noexcept {
    if (!temp_path.empty()) {
      ::unlink(temp_path.c_str());
      temp_path.clear();
    }
  }
  ~Impl() {
    db.close();
    remove_temp();
  }
  StmtPtr prepare_user_query(std::string_view select_list, std::string_view where,
                             std::span<const KeyValue> params) const;
};

struct BlobClose {
  void operator()(sqlite3_blob* b) const noexcept { sqlite3_blob_close(b); }
};

// Rows at least this large are read with sqlite3_blob_read() into one reused
// buffer instead of sqlite3_column_blob(), which assembles every multi-page
// blob in a freshly allocated buffer first.
constexpr std::uint64_t kDirectReadBytes = 16u << 10;

struct Query::Impl {
  const Reader::Impl* reader;
  StmtPtr stmt;
  std::size_t nkeys;
  bool direct = false;  // columns: keys, rowid, length(data), typeof(data)
  std::uint64_t row = 0;
  std::unique_ptr<sqlite3_blob, BlobClose> blob;
  std::vector<std::byte> raw;  // direct reads land here
  std::vector<std::byte> decoded, scratch;
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx;

  std::span<const std::byte> read_direct();
};

std::span<const std::byte> Query::Impl::read_direct() {
  sqlite3_stmt* st = stmt.get();
  const int c = static_cast<int>(nkeys);
  const auto type = std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(st, c + 2)));
  if (type != "blob")
    throw CorruptFile(reader->path.string() + ", row " + std::to_string(row) + ": data is not a blob");
  const sqlite3_int64 rowid = sqlite3_column_int64(st, c);
  const auto n = static_cast<std::size_t>(sqlite3_column_int64(st, c + 1));
  sqlite3* db = reader->db.get();
  int rc;
  if (!blob) {
    sqlite3_blob* b = nullptr;
    rc = sqlite3_blob_open(db, "main", "array_log", "data", rowid, 0, &b);
    blob.reset(b);
  } else {
    rc = sqlite3_blob_reopen(blob.get(), rowid);
  }
  if (rc != SQLITE_OK) reader->db.fail(rc, "opening a blob");
  raw.resize(n);
  rc = sqlite3_blob_read(blob.get(), raw.data(), static_cast<int>(n), 0);
  if (rc != SQLITE_OK) reader->db.fail(rc, "reading a blob");
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
  sqlite3_stmt* st = q.stmt.get();
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    q.stmt.reset();
    q.blob.reset();
    return false;
  }
  if (rc != SQLITE_ROW) q.reader->db.fail(rc, "reading rows");
  ++q.row;
  std::span<const std::byte> blob;
  if (q.direct) {
    blob = q.read_direct();
  } else {
    const int data_col = static_cast<int>(q.nkeys);
    if (sqlite3_column_type(st, data_col) != SQLITE_BLOB)
      throw CorruptFile(q.reader->path.string() + ", row " + std::to_string(q.row) + ": data is not a blob");
    blob = std::span<const std::byte>(static_cast<const std::byte*>(sqlite3_column_blob(st, data_col)),
                                      static_cast<std::size_t>(sqlite3_column_bytes(st, data_col)));
  }
  const std::byte* p = blob.data();
  const std::size_t n = blob.size();
  const Reader::Impl& r = *q.reader;
  const std::uint64_t payload = r.meta.spec.payload_bytes();
  auto corrupt = [&](const std::string& why) -> CorruptFile {
    return CorruptFile(r.path.string() + ", row " + std::to_string(q.row) + ": " + why);
  };
  if (r.meta.format_version == kFormatLegacy) {
    if (n != payload)
      throw corrupt("blob has " + std::to_string(n) + " bytes, meta says " + std::to_string(payload));
    current_ = blob;
    return true;
  }
  const auto& expect = r.expected_header;
  if (n == expect.size() + payload && std::memcmp(p, expect.data(), expect.size()) == 0) {
    current_ = blob.subspan(expect.size());
    return true;
  }
  const auto& fexpect = r.filtered_header;
  if (n >= fexpect.size() && std::memcmp(p, fexpect.data(), fexpect.size()) == 0) {
    if (!q.dctx) {
      q.dctx.reset(ZSTD_createDCtx());
      q.decoded.resize(payload);
      q.scratch.resize(payload);
    }
    std::size_t got = ZSTD_decompressDCtx(q.dctx.get(), q.scratch.data(), q.scratch.size(), p + fexpect.size(),
                                          n - fexpect.size());
    if (ZSTD_isError(got) || got != payload) throw corrupt("filtered blob does not decompress to the array size");
    byte_unshuffle(q.scratch, r.meta.spec.dtype->itemsize, q.decoded);
    current_ = q.decoded;
    return true;
  }
  // Not what this file's meta promises: say precisely what is wrong.
  BlobHeader h;
  try {
    h = decode_blob_header(blob);
  } catch (const CorruptFile& e) {
    throw corrupt(e.what());
  }
  std::vector<std::int64_t> shape(h.shape.begin(), h.shape.end());
  throw corrupt("blob header says shape " + shape_repr(shape) + " dtype " + std::string(h.dtype->name) +
                " but meta says " + r.meta.spec.describe());
}

KeyRef Query::key(std::size_t i) const {
  sqlite3_stmt* st = impl_->stmt.get();
  const int col = static_cast<int>(i);
  switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER: return KeyRef::of(static_cast<std::int64_t>(sqlite3_column_int64(st, col)));
    case SQLITE_FLOAT: return KeyRef::of(sqlite3_column_double(st, col));
    default: {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
      return KeyRef::of(std::string_view(t ? t : "", static_cast<std::size_t>(sqlite3_column_bytes(st, col))));
    }
  }
}

Reader::Reader(const std::filesystem::path& given) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  const std::string p = given.string();  // as the caller spelled it, for messages
  // Resolved at open: a later chdir() does not change which file this is.
  const std::filesystem::path path = detail::absolute_path(given);
  std::filesystem::path zst;
  if (ends_with(p, ".zst")) {
    zst = path;
  } else if (!detail::file_exists(path) && detail::file_exists(path.string() + ".zst")) {
    zst = path.string() + ".zst";
  }
  r.path = zst.empty() ? path : zst;
  if (!detail::file_exists(r.path))
    throw StorageError("No such array_logger file: " + p + (zst.empty() ? " (nor " + p + ".zst)" : ""), 0, ENOENT);
  if (std::filesystem::is_directory(r.path)) throw StorageError(p + " is a directory", 0, EISDIR);

  std::string uri;
  if (!zst.empty()) {
    std::string tmpl = (detail::absolute_path(std::filesystem::temp_directory_path()) / "array_logger-XXXXXX.db").string();
    int fd = ::mkstemps(tmpl.data(), 3);  // created 0600
    if (fd < 0) detail::throw_errno("cannot create a temporary file in " + tmpl, errno);
    detail::Fd owned(fd);
    r.temp_path = tmpl;
    detail::decompress_to_fd(zst, owned.get(), r.temp_path);
    // immutable: nobody writes this private copy, so SQLite needs no locks,
    // no -wal and no -shm.
    uri = file_uri(r.temp_path, "mode=ro&immutable=1");
  } else if (has_hot_journal(r.path)) {
    // A writer died inside a rollback-journal transaction (e.g. while
    // switching journal modes at close). Rolling the journal back would
    // modify the file; instead roll back a private copy and read that.
    std::string tmpl = (detail::absolute_path(std::filesystem::temp_directory_path()) / "array_logger-XXXXXX.db").string();
    int fd = ::mkstemps(tmpl.data(), 3);  // created 0600
    if (fd < 0) detail::throw_errno("cannot create a temporary file in " + tmpl, errno);
    detail::Fd owned(fd);
    r.temp_path = tmpl;
    const auto journal_copy = std::filesystem::path(tmpl + "-journal");
    std::error_code ec;
    std::filesystem::copy_file(r.path, r.temp_path, std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec)
      std::filesystem::copy_file(r.path.string() + "-journal", journal_copy,
                                 std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) throw StorageError("cannot copy " + r.path.string() + " to recover it: " + ec.message(), 0, ec.value());
    std::filesystem::permissions(journal_copy, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    {
      Database recover(r.temp_path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, r.path.string());
      recover.exec("SELECT count(*) FROM sqlite_master");  // rolls the copy's journal back
    }
    ::unlink(journal_copy.c_str());
    uri = file_uri(r.temp_path, "mode=ro&immutable=1");
  } else if (wal_mode_without_writer(r.path)) {
    // A WAL-mode file nobody has open (the pure-Python writer left its
    // files so): a plain read-only open would create -wal and -shm files
    // beside it (and fail on read-only media). Nothing is writing it, so
    // read it as immutable.
    uri = file_uri(r.path, "mode=ro&immutable=1");
  } else {
    uri = file_uri(r.path, "mode=ro");
  }
  r.db = Database(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, r.path.string());
  // Memory-mapped reads: pages are read in place instead of being copied
  // into SQLite's page cache with a pread() each (large blobs span many).
  sqlite3_exec(r.db.get(), "PRAGMA mmap_size=1099511627776", nullptr, nullptr, nullptr);
  check_not_truncated(r.db, r.temp_path.empty() ? r.path : r.temp_path, r.path.string());
  try {
    r.meta = decode_meta(detail::read_meta_rows(r.db));
    // Meta that lies (a shape of 80 GB per row, ...) is refused here, before
    // any buffer is sized from it.
    try {
      validate_spec(r.meta.spec);
    } catch (const InvalidArgument& e) {
      throw CorruptFile(std::string("its meta describes an impossible array: ") + e.what());
    }
    detail::check_array_log_columns(r.db, r.meta.spec.keys, r.path.string());
  } catch (const CorruptFile& e) {
    throw CorruptFile(r.path.string() + " is not an array_logger file: " + e.what());
  }
  if (r.meta.format_version == kFormatCurrent) {
    r.expected_header = encode_blob_header(r.meta.spec);
    r.filtered_header = encode_blob_header(r.meta.spec, kBlobFlagShuffleZstd);
  }
}

Reader::~Reader() = default;

const ArraySpec& Reader::spec() const noexcept { return impl_->meta.spec; }
int Reader::format_version() const noexcept { return impl_->meta.format_version; }
const std::map<std::string, std::string>& Reader::meta() const noexcept { return impl_->meta.rows; }
const std::filesystem::path& Reader::path() const noexcept { return impl_->path; }

StmtPtr Reader::Impl::prepare_user_query(std::string_view select_list, std::string_view where,
                                         std::span<const KeyValue> params) const {
  if (!db) throw StateError("Reader is closed");
  std::string sql = "SELECT ";
  sql += select_list;
  sql += " FROM array_log";
  if (!where.empty()) {
    detail::check_where_clause(where);
    sql += " WHERE (";
    sql += where;
    sql += "\n)";
  }
  sql += " ORDER BY rowid";
  sqlite3_set_authorizer(db.get(), read_only_authorizer, nullptr);
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
  sqlite3_set_authorizer(db.get(), nullptr, nullptr);
  StmtPtr st(raw);
  if (rc != SQLITE_OK)
    throw InvalidArgument("invalid where_clause '" + std::string(where) + "': " + sqlite3_errmsg(db.get()));
  if (tail != nullptr && *tail != '\0') throw InvalidArgument("where_clause must be a single expression");
  if (!sqlite3_stmt_readonly(st.get())) throw InvalidArgument("where_clause must not modify the database");
  const int expected = sqlite3_bind_parameter_count(st.get());
  if (static_cast<std::size_t>(expected) != params.size())
    throw InvalidArgument("where_clause has " + std::to_string(expected) + " placeholders but " +
                          std::to_string(params.size()) + " params were given");
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int idx = static_cast<int>(i) + 1;
    const KeyValue& v = params[i];
    if (auto* n = std::get_if<std::int64_t>(&v)) rc = sqlite3_bind_int64(st.get(), idx, *n);
    else if (auto* d = std::get_if<double>(&v)) rc = sqlite3_bind_double(st.get(), idx, *d);
    else {
      const auto& s = std::get<std::string>(v);
      rc = sqlite3_bind_text(st.get(), idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) db.fail(rc, "binding where_clause params");
  }
  return st;
}

Query Reader::query(std::string_view where, std::span<const KeyValue> params) const {
  std::string cols;
  for (const auto& k : impl_->meta.spec.keys) cols += detail::quote_identifier(k) + ", ";
  auto q = std::make_unique<Query::Impl>();
  // length() and typeof() of a blob do not load it: the direct path reads it after.
  q->direct = impl_->meta.spec.payload_bytes() >= kDirectReadBytes;
  cols += q->direct ? "_rowid_, length(data), typeof(data)" : "data";
  q->reader = impl_.get();
  q->stmt = impl_->prepare_user_query(cols, where, params);
  q->nkeys = impl_->meta.spec.keys.size();
  return Query(std::move(q));
}

std::uint64_t Reader::count(std::string_view where, std::span<const KeyValue> params) const {
  StmtPtr st = impl_->prepare_user_query("count(*)", where, params);
  int rc = sqlite3_step(st.get());
  if (rc != SQLITE_ROW) impl_->db.fail(rc, "counting rows");
  return static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 0));
}

void Reader::close() noexcept {
  impl_->db.close();
  impl_->remove_temp();
}

bool Reader::closed() const noexcept { return !impl_->db; }

}  // namespace array_logger
