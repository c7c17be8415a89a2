#include "sqlite/database.hpp"

#include <algorithm>
#include <cctype>

#include "array_logger/errors.hpp"
#include "sqlite/statement.hpp"

namespace array_logger::detail {

void throw_sqlite(sqlite3* db, int rc, std::string_view context) {
  // The handle's message and extended code when its last error is the one
  // reported; rc's own otherwise (an error found by us, or an injected one).
  const bool from_handle = db != nullptr && sqlite3_errcode(db) == rc;
  std::string msg(context);
  msg += ": ";
  msg += from_handle ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) throw CorruptFile(msg);
  throw StorageError(msg, from_handle ? sqlite3_extended_errcode(db) : rc, from_handle ? sqlite3_system_errno(db) : 0);
}

Database::Database(const std::string& uri_or_path, int flags, std::string_view what) : what_(what) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(uri_or_path.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, nullptr);
  db_.reset(raw);  // sqlite3_open_v2 returns a handle to close even on failure
  if (rc != SQLITE_OK) fail(rc, "cannot open");
  sqlite3_busy_timeout(raw, 30'000);
}

void Database::fail(int rc, std::string_view context) const {
  throw_sqlite(db_.get(), rc, what_ + ": " + std::string(context));
}

void Database::exec(const char* sql) {
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, sql);
}

bool Database::try_exec(const char* sql) noexcept {
  return db_ && sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

Statement Database::prepare(std::string_view sql, std::string_view label) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &raw, nullptr);
  Statement st(raw, what_ + ": " + std::string(label.empty() ? sql : label));
  if (rc != SQLITE_OK) fail(rc, "cannot prepare " + std::string(sql));
  return st;
}

std::int64_t Database::query_int(const char* sql) {
  Statement st = prepare(sql);
  if (!st.step()) fail(SQLITE_ERROR, std::string(sql) + " returned no row");
  return st.column_int64(0);
}

void Database::set_pragma(std::string_view name, std::string_view value) {
  const std::string sql = "PRAGMA " + std::string(name) + "=" + std::string(value);
  Statement st = prepare(sql);
  std::string now;
  if (st.step()) now = st.column_text(0);
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  if (lower(now) != lower(std::string(value)))
    throw StorageError(what_ + ": " + sql + " left " + std::string(name) + " at '" + now + "'");
}

bool Database::has_table(const char* table) {
  Statement st = prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", "reading the schema");
  st.bind_text(1, table);
  return st.step();
}

void Database::keep_wal_on_close() noexcept {
  if (db_) sqlite3_db_config(db_.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
}

}  // namespace array_logger::detail
