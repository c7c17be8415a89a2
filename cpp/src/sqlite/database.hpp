// RAII over one sqlite3 connection, with SQLite errors turned into typed
// exceptions (CorruptFile for "not a database"/"corrupt", StorageError with
// the extended code and errno otherwise). Statements: statement.hpp;
// transactions: transaction.hpp.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace array_logger::detail {

class Statement;

// Throws the exception type that fits `rc` with SQLite's message.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context);

class Database {
 public:
  Database() = default;
  // flags: SQLITE_OPEN_* ; `what` names the file in error messages.
  Database(const std::string& uri_or_path, int flags, std::string_view what);

  sqlite3* get() const noexcept { return db_.get(); }
  explicit operator bool() const noexcept { return static_cast<bool>(db_); }
  const std::string& what() const noexcept { return what_; }

  // Runs SQL that returns no rows (or whose rows do not matter).
  void exec(const char* sql);
  void exec(const std::string& sql) { exec(sql.c_str()); }
  // Same, for the few steps that are best effort (clean-up on the way out):
  // returns false instead of throwing.
  bool try_exec(const char* sql) noexcept;
  // `label` names the statement in error messages (default: its SQL).
  Statement prepare(std::string_view sql, std::string_view label = {});
  // The first column of the single row `sql` returns (PRAGMA page_size,
  // count(*)): throws when it returns no row.
  std::int64_t query_int(const char* sql);
  // PRAGMA that answers with the value now in effect (journal_mode,
  // wal_autocheckpoint): throws StorageError when SQLite kept another one.
  void set_pragma(std::string_view name, std::string_view value);
  bool has_table(const char* table);

  [[noreturn]] void fail(int rc, std::string_view context) const;
  void close() noexcept { db_.reset(); }
  // The next close() leaves the WAL as it is, without the checkpoint the
  // last connection of a WAL database otherwise runs (and its fsyncs).
  void keep_wal_on_close() noexcept;

 private:
  struct Closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string what_;
};

}  // namespace array_logger::detail
