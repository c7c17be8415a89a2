#include "read/read_source.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <string>

#include "array_logger/errors.hpp"
#include "os/zstd_file.hpp"
#include "sqlite/transaction.hpp"

namespace array_logger::detail {
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

// x.db.zst when asked for, or when x.db is missing and x.db.zst exists;
// absolute, resolved at open: a later chdir() does not change which file it is.
std::filesystem::path resolve(const std::filesystem::path& requested, bool& compressed) {
  const std::string p = requested.string();  // as the caller spelled it, for messages
  const std::filesystem::path abs = absolute_path(requested);
  compressed = ends_with(p, ".zst") || (!file_exists(abs) && file_exists(abs.string() + ".zst"));
  const std::filesystem::path path =
      compressed && !ends_with(p, ".zst") ? std::filesystem::path(abs.string() + ".zst") : abs;
  if (!file_exists(path))
    throw StorageError("No such array_logger file: " + p + (compressed ? "" : " (nor " + p + ".zst)"), 0, ENOENT);
  if (std::filesystem::is_directory(path)) throw StorageError(p + " is a directory", 0, EISDIR);
  return path;
}

// A hot rollback journal beside the database: a writer died in the middle
// of a transaction, and SQLite must roll it back before anyone reads. A
// journal whose writer is alive (files written with a rollback journal,
// docs/DESIGN.md) is not hot: SQLite sees the writer's RESERVED lock and
// reads the committed pages. So ask SQLite: a read-only connection refuses
// a hot journal with SQLITE_READONLY_ROLLBACK.
bool has_hot_journal(Database& db) {
  if (sqlite3_exec(db.get(), "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) == SQLITE_OK)
    return false;
  if (sqlite3_extended_errcode(db.get()) == SQLITE_READONLY_ROLLBACK) return true;
  db.fail(sqlite3_errcode(db.get()), "reading the schema");
}

// Rolling the journal back would modify the file: roll back a private copy.
std::unique_ptr<TempFile> recovered_copy(const std::filesystem::path& path) {
  auto copy = std::make_unique<TempFile>(".db");
  copy->close_fd();
  const auto journal_copy = std::filesystem::path(copy->path().string() + "-journal");
  std::error_code ec;
  std::filesystem::copy_file(path, copy->path(), std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) throw StorageError("cannot copy " + path.string() + " to recover it: " + ec.message(), 0, ec.value());
  std::filesystem::copy_file(path.string() + "-journal", journal_copy,
                             std::filesystem::copy_options::overwrite_existing, ec);
  // The journal is gone: it belonged to a live writer's transaction (a
  // Logger switching to DELETE mode at close), which has finished since:
  // the file is whole again and is read as it is.
  if (ec == std::errc::no_such_file_or_directory) return nullptr;
  if (ec) throw StorageError("cannot copy " + path.string() + "-journal to recover it: " + ec.message(), 0, ec.value());
  std::filesystem::permissions(journal_copy, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  {
    Database recover(copy->path().string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, path.string());
    recover.exec("SELECT count(*) FROM sqlite_master");  // rolls the copy's journal back
  }
  ::unlink(journal_copy.c_str());
  return copy;
}

// A rollback-journal database (every file array_logger has closed, and every
// decompressed .db.zst copy) is a whole number of pages, at least as many as
// its header says. SQLite would read the missing tail of a truncated file as
// zeros, i.e. return altered rows: refuse such a file instead. WAL-mode files
// are skipped (their pages may legitimately live in the -wal file). The
// check runs inside a read transaction, so no writer can commit meanwhile.
void check_not_truncated(Database& db, const std::filesystem::path& file, const std::string& shown) {
  const auto header = read_sqlite_header(file);
  if (!header || !header->rollback()) return;  // SQLite reports what is wrong when reading
  std::int64_t page_size = 0, page_count = 0, size = 0;
  {
    Transaction read(db);
    page_count = db.query_int("PRAGMA page_count");  // takes the read lock, held until the end
    page_size = db.query_int("PRAGMA page_size");
    size = static_cast<std::int64_t>(size_if_exists(file).value_or(0));
    read.commit();
  }
  if (page_size > 0 && size > 0 && (size % page_size != 0 || size < page_count * page_size))
    throw CorruptFile(shown + " is truncated: " + std::to_string(size) + " bytes, but its header describes " +
                      std::to_string(page_count) + " pages of " + std::to_string(page_size) + " bytes");
}

}  // namespace

void ReadSource::close() noexcept {
  db.close();
  copy.reset();
}

ReadSource open_read_source(const std::filesystem::path& requested) {
  ReadSource src;
  bool compressed = false;
  src.path = resolve(requested, compressed);
  std::string uri;
  if (compressed) {
    src.copy = std::make_unique<TempFile>(".db");
    decompress_to_fd(src.path, src.copy->fd(), src.copy->path());
    src.copy->close_fd();
    // immutable: nobody writes this private copy, so SQLite needs no locks,
    // no -wal and no -shm.
    uri = file_uri(src.copy->path(), "mode=ro&immutable=1");
  } else if (const auto header = read_sqlite_header(src.path);
             header && header->wal() && !file_exists(src.path.string() + "-wal")) {
    // A WAL-mode file nobody has open (the pure-Python writer left its
    // files so): a plain read-only open would create -wal and -shm files
    // beside it (and fail on read-only media). Nothing is writing it, so
    // read it as immutable.
    uri = file_uri(src.path, "mode=ro&immutable=1");
  } else {
    uri = file_uri(src.path, "mode=ro");
  }
  const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  src.db = Database(uri, flags, src.path.string());
  if (!src.copy && has_hot_journal(src.db)) {
    // A writer died inside a rollback-journal transaction (in a file
    // written with a rollback journal, or while switching journal modes at
    // close): read a rolled-back private copy.
    src.db.close();
    src.copy = recovered_copy(src.path);
    // No copy: the journal vanished meanwhile (its writer was alive and
    // finished the transaction): the file is whole, read it as it is.
    src.db = Database(src.copy ? file_uri(src.copy->path(), "mode=ro&immutable=1") : uri, flags, src.path.string());
  }
  // No memory-mapped I/O (SQLite's default): mapped file pages count in the
  // process's RSS, so a bulk read of a file held about twice its size in
  // memory; and with plain reads SQLite preads whole overflow pages of big
  // blobs straight into the destination (SQLITE_DIRECT_OVERFLOW_READ).
  check_not_truncated(src.db, src.copy ? src.copy->path() : src.path, src.path.string());
  return src;
}

}  // namespace array_logger::detail
