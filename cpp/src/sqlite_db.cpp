#include "sqlite_db.hpp"

#include "array_logger/errors.hpp"

namespace array_logger::detail {

void throw_sqlite(sqlite3* db, int rc, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += (db != nullptr && sqlite3_errcode(db) == rc) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) throw CorruptFile(msg);
  const int sys_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  throw StorageError(msg, db != nullptr ? sqlite3_extended_errcode(db) : rc, sys_errno);
}

Database::Database(const std::string& uri_or_path, int flags, std::string_view what) : what_(what) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(uri_or_path.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, nullptr);
  db_.reset(raw);  // sqlite3_open_v2 returns a handle to close even on failure
  if (rc != SQLITE_OK) fail(rc, "cannot open");
  sqlite3_busy_timeout(raw, 30'000);
}

void Database::exec(const char* sql) {
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, sql);
}

StmtPtr Database::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) fail(rc, "cannot prepare " + std::string(sql));
  return stmt;
}

void Database::step_done(sqlite3_stmt* stmt) {
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) fail(rc, sqlite3_sql(stmt));
}

}  // namespace array_logger::detail
