// Reader::summarize_keys, Reader::integrity_check and Reader::database_info:
// what `ls`, `info`, `verify` and the Arrow bridge's key types need, each in
// one statement (or a few PRAGMAs).
#include <sqlite3.h>

#include "array_logger/errors.hpp"
#include "array_logger/reader.hpp"
#include "read/reader_impl.hpp"
#include "sqlite/sql_text.hpp"
#include "sqlite/statement.hpp"

namespace array_logger {
namespace {

std::optional<KeyValue> column_value(const detail::Statement& st, int col) {
  switch (st.column_type(col)) {
    case SQLITE_NULL: return std::nullopt;  // min()/max() over no rows
    case SQLITE_INTEGER: return KeyValue(st.column_int64(col));
    case SQLITE_FLOAT: return KeyValue(sqlite3_column_double(st.get(), col));
    default: return KeyValue(std::string(st.column_text(col)));
  }
}

}  // namespace

Reader::KeySummary Reader::summarize_keys(std::string_view where, std::span<const KeyValue> params) const {
  // count(*), then per key: min, max and how many values of each storage class.
  std::string select = "count(*)";
  for (const auto& k : impl_->meta.spec.keys) {
    const std::string q = detail::quote_identifier(k);
    select += ", min(" + q + "), max(" + q + "), total(typeof(" + q + ") = 'integer'), total(typeof(" + q +
              ") = 'real'), total(typeof(" + q + ") = 'text')";
  }
  detail::Statement st = impl_->prepare_user_query(select, where, params, "summarizing keys");
  if (!st.step()) st.fail(SQLITE_ERROR);
  KeySummary out;
  out.rows = static_cast<std::uint64_t>(st.column_int64(0));
  const auto count = [&](int col) { return static_cast<std::uint64_t>(sqlite3_column_double(st.get(), col)); };
  for (std::size_t i = 0; i < impl_->meta.spec.keys.size(); ++i) {
    const int c = 1 + 5 * static_cast<int>(i);
    out.keys.push_back({column_value(st, c), column_value(st, c + 1), count(c + 2), count(c + 3), count(c + 4)});
  }
  return out;
}

std::vector<std::string> Reader::integrity_check() const {
  detail::Database& db = impl_->source.db;  // the Impl is not const, the handle to it is
  if (!db) throw StateError("Reader is closed");
  detail::Statement st = db.prepare("PRAGMA integrity_check", "integrity check");
  std::vector<std::string> problems;
  while (st.step()) {
    std::string line(st.column_text(0));
    if (line != "ok") problems.push_back(std::move(line));
  }
  return problems;
}

Reader::DatabaseInfo Reader::database_info() const {
  detail::Database& db = impl_->source.db;
  if (!db) throw StateError("Reader is closed");
  DatabaseInfo info;
  info.page_size = db.query_int("PRAGMA page_size");
  info.page_count = db.query_int("PRAGMA page_count");
  info.freelist_count = db.query_int("PRAGMA freelist_count");
  return info;
}

}  // namespace array_logger
