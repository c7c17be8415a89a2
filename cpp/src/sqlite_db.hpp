// RAII over sqlite3* and sqlite3_stmt*, with errors turned into typed exceptions.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

namespace array_logger::detail {

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Throws the exception type that fits `rc` (CorruptFile for a file that is
// not a database, StorageError otherwise) with SQLite's message.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context);

class Database {
 public:
  Database() = default;
  // flags: SQLITE_OPEN_* ; `what` names the file in error messages.
  Database(const std::string& uri_or_path, int flags, std::string_view what);

  sqlite3* get() const noexcept { return db_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(db_); }
  const std::string& what() const noexcept { return what_; }

  void exec(const char* sql);
  StmtPtr prepare(std::string_view sql);
  // Runs `stmt` to completion (for statements returning no rows).
  void step_done(sqlite3_stmt* stmt);
  [[noreturn]] void fail(int rc, std::string_view context) const { throw_sqlite(db_.get(), rc, what_ + ": " + std::string(context)); }
  void close() noexcept { db_.reset(); }

 private:
  std::unique_ptr<sqlite3, DbCloser> db_;
  std::string what_;
};

}  // namespace array_logger::detail
