#include "meta_table.hpp"

#include <algorithm>
#include <cctype>

#include "array_logger/errors.hpp"

namespace array_logger::detail {
namespace {

std::string column_text(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

bool iequal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool has_table(Database& db, const char* table) {
  StmtPtr st = db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
  sqlite3_bind_text(st.get(), 1, table, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) db.fail(rc, "reading the schema");
  return false;
}

std::map<std::string, std::string> read_meta_rows(Database& db) {
  if (!has_table(db, "meta")) throw CorruptFile("it has no meta table");
  sqlite3_stmt* raw = nullptr;
  const char* sql = "SELECT key, value FROM meta";
  if (sqlite3_prepare_v2(db.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    throw CorruptFile(std::string("its meta table is not key/value text: ") + sqlite3_errmsg(db.get()));
  }
  StmtPtr st(raw);
  std::map<std::string, std::string> rows;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) rows[column_text(st.get(), 0)] = column_text(st.get(), 1);
  if (rc != SQLITE_DONE) db.fail(rc, "reading meta");
  return rows;
}

void write_meta_rows(Database& db, const MetaRows& rows) {
  StmtPtr st = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  for (const auto& [k, v] : rows) {
    sqlite3_bind_text(st.get(), 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
    sqlite3_bind_text(st.get(), 2, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    db.step_done(st.get());
  }
}

void check_array_log_columns(Database& db, const std::vector<std::string>& keys, const std::string& what) {
  if (!has_table(db, "array_log")) throw CorruptFile(what + " has no array_log table");
  StmtPtr st = db.prepare("SELECT name FROM pragma_table_info('array_log') ORDER BY cid");
  std::vector<std::string> cols;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) cols.push_back(column_text(st.get(), 0));
  if (rc != SQLITE_DONE) db.fail(rc, "reading array_log columns");
  bool ok = cols.size() == keys.size() + 1 && iequal(cols.back(), "data");
  for (std::size_t i = 0; ok && i < keys.size(); ++i) ok = iequal(cols[i], keys[i]);
  if (!ok) throw CorruptFile(what + ": array_log columns do not match the keys in meta");
}

}  // namespace array_logger::detail
