#include "format/schema.hpp"

#include <ctime>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "array_logger/version.hpp"
#include "format/stored_form.hpp"
#include "sqlite/sql_text.hpp"
#include "sqlite/statement.hpp"

namespace array_logger::detail {
namespace {

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

MetaRows new_file_meta(const ArraySpec& spec, const std::string& keys_text, bool shuffle_zstd,
                       const std::string& user_metadata, const StoredForm& form,
                       const std::string& shard) {
  MetaRows rows = {
      {"shape", shape_repr(spec.shape)},
      {"dtype", std::string(spec.dtype->name)},
      {"keys", keys_text},
      {"array_logger_version", version()},
      {"format_version", std::to_string(form.format_version())},
      {"blob_layout", std::string(kBlobMagic, sizeof kBlobMagic)},
      {"blob_filter", shuffle_zstd ? "shuffle-zstd" : "none"},
      {"byte_order", "little"},
      {"created_at", utc_now_iso()},
  };
  if (!user_metadata.empty()) rows.emplace_back("user_metadata", user_metadata);
  append_stored_form_meta(form, rows);
  if (!shard.empty()) rows.emplace_back("shard", shard);
  return rows;
}

void create_tables(Database& db, const std::vector<std::string>& keys, const MetaRows& meta,
                   std::string_view key_type) {
  const std::string declared = key_type.empty() ? std::string() : " " + std::string(key_type);
  std::string create = "CREATE TABLE array_log (";
  for (const auto& k : keys) create += quote_identifier(k) + declared + " NOT NULL, ";
  create += "data BLOB NOT NULL)";
  db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  db.exec(create);
  Statement st = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", "writing meta");
  for (const auto& [k, v] : meta) {
    st.bind_text(1, k);
    st.bind_text(2, v);
    st.run();
  }
}

std::map<std::string, std::string> read_meta_rows(Database& db) {
  if (!db.has_table("meta")) throw CorruptFile("it has no meta table");
  // Prepared by hand: a meta table without key/value columns is a damaged
  // file (CorruptFile), not a storage error.
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db.get(), "SELECT key, value FROM meta", -1, &raw, nullptr);
  Statement st(raw, db.what() + ": reading meta");
  if (rc != SQLITE_OK)
    throw CorruptFile(std::string("its meta table is not key/value text: ") + sqlite3_errmsg(db.get()));
  std::map<std::string, std::string> rows;
  while (st.step()) rows[std::string(st.column_text(0))] = std::string(st.column_text(1));
  return rows;
}

void check_array_log_columns(Database& db, const std::vector<std::string>& keys, const std::string& what) {
  if (!db.has_table("array_log")) throw CorruptFile(what + " has no array_log table");
  Statement st = db.prepare("SELECT name FROM pragma_table_info('array_log') ORDER BY cid", "reading array_log columns");
  std::vector<std::string> cols;
  while (st.step()) cols.emplace_back(st.column_text(0));
  bool ok = cols.size() == keys.size() + 1 && same_identifier(cols.back(), "data");
  for (std::size_t i = 0; ok && i < keys.size(); ++i) ok = same_identifier(cols[i], keys[i]);
  if (!ok) throw CorruptFile(what + ": array_log columns do not match the keys in meta");
}

std::string insert_sql(const std::vector<std::string>& keys, std::size_t rows) {
  // OR FAIL: a multi-row INSERT then needs no statement journal (nothing to
  // undo halfway: our rows cannot violate a constraint), saving a copy of
  // every page it touches.
  std::string sql = "INSERT OR FAIL INTO array_log (";
  for (const auto& k : keys) sql += quote_identifier(k) + ", ";
  sql += "data) VALUES ";
  std::string row = "(";
  for (std::size_t i = 0; i < keys.size(); ++i) row += "?, ";
  row += "?)";
  for (std::size_t r = 0; r < rows; ++r) sql += (r ? ", " : "") + row;
  return sql;
}

}  // namespace array_logger::detail
