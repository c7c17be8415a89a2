#include "array_logger/reader.hpp"

#include "array_logger/errors.hpp"
#include "format/schema.hpp"
#include "read/query_impl.hpp"
#include "read/reader_impl.hpp"
#include "sqlite/sql_text.hpp"

namespace array_logger {
namespace {

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

}  // namespace

Reader::Reader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
  Impl& r = *impl_;
  r.source = detail::open_read_source(path);
  const std::string shown = r.source.path.string();
  try {
    r.meta = decode_meta(detail::read_meta_rows(r.source.db));
    // Meta that lies (a shape of 80 GB per row, ...) is refused here, before
    // any buffer is sized from it.
    try {
      validate_spec(r.meta.spec);
    } catch (const InvalidArgument& e) {
      throw CorruptFile(std::string("its meta describes an impossible array: ") + e.what());
    }
    detail::check_array_log_columns(r.source.db, r.meta.spec.keys, shown);
  } catch (const CorruptFile& e) {
    throw CorruptFile(shown + " is not an array_logger file: " + e.what());
  }
}

Reader::~Reader() = default;

const ArraySpec& Reader::spec() const noexcept { return impl_->meta.spec; }
int Reader::format_version() const noexcept { return impl_->meta.format_version; }
const std::map<std::string, std::string>& Reader::meta() const noexcept { return impl_->meta.rows; }
const std::filesystem::path& Reader::path() const noexcept { return impl_->source.path; }

detail::Statement Reader::Impl::prepare_user_query(std::string_view select_list, std::string_view where,
                                                   std::span<const KeyValue> params, const char* label,
                                                   bool resumable) const {
  const detail::Database& db = source.db;
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
  if (resumable) sql += where.empty() ? " WHERE _rowid_ > ?" : " AND _rowid_ > ?";
  sql += " ORDER BY rowid";
  // Prepared by hand: a clause SQLite refuses is the caller's mistake
  // (InvalidArgument), not a storage error.
  sqlite3_set_authorizer(db.get(), read_only_authorizer, nullptr);
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
  sqlite3_set_authorizer(db.get(), nullptr, nullptr);
  detail::Statement st(raw, db.what() + ": " + label);
  if (rc != SQLITE_OK)
    throw InvalidArgument("invalid where_clause '" + std::string(where) + "': " + sqlite3_errmsg(db.get()));
  if (tail != nullptr && *tail != '\0') throw InvalidArgument("where_clause must be a single expression");
  if (!sqlite3_stmt_readonly(st.get())) throw InvalidArgument("where_clause must not modify the database");
  const int expected = sqlite3_bind_parameter_count(st.get()) - (resumable ? 1 : 0);
  if (static_cast<std::size_t>(expected) != params.size())
    throw InvalidArgument("where_clause has " + std::to_string(expected) + " placeholders but " +
                          std::to_string(params.size()) + " params were given");
  for (std::size_t i = 0; i < params.size(); ++i) st.bind_copy(static_cast<int>(i) + 1, params[i]);
  if (resumable) st.bind(expected + 1, std::int64_t{0});  // rowids of array_log start at 1
  return st;
}

Query Reader::query(std::string_view where, std::span<const KeyValue> params) const {
  const ArraySpec& spec = impl_->meta.spec;
  const bool direct = Query::Impl::reads_directly(spec);
  std::string cols;
  for (const auto& k : spec.keys) cols += detail::quote_identifier(k) + ", ";
  // length() and typeof() of a blob do not load it: the direct path reads it after.
  cols += direct ? "_rowid_, length(data), typeof(data)" : "data, _rowid_";
  return Query(std::make_unique<Query::Impl>(
      *impl_, impl_->prepare_user_query(cols, where, params, "reading rows", /*resumable=*/true), direct));
}

Query Reader::query_sparse(std::string_view where, std::span<const KeyValue> params) const {
  Query q = query(where, params);
  q.impl_->sparse = true;
  return q;
}

std::uint64_t Reader::count(std::string_view where, std::span<const KeyValue> params) const {
  detail::Statement st = impl_->prepare_user_query("count(*)", where, params, "counting rows");
  if (!st.step()) st.fail(SQLITE_ERROR);
  return static_cast<std::uint64_t>(st.column_int64(0));
}

void Reader::close() noexcept { impl_->source.close(); }

bool Reader::closed() const noexcept { return !impl_->source.db; }

}  // namespace array_logger
