#include "sqlite/statement.hpp"

#include <variant>

namespace array_logger::detail {

void Statement::bind_copy(int idx, const KeyValue& v) {
  if (auto* n = std::get_if<std::int64_t>(&v)) return bind(idx, *n);
  if (auto* d = std::get_if<double>(&v)) return bind(idx, *d);
  const auto& s = std::get<std::string>(v);
  check(sqlite3_bind_text(get(), idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT), "bind");
}

void Statement::fail_bind(int rc, const char* what) const {
  throw_sqlite(sqlite3_db_handle(get()), rc, context_ + ": " + what);
}

KeyRef Statement::column_key(int col) const noexcept {
  switch (column_type(col)) {
    case SQLITE_INTEGER: return KeyRef::of(column_int64(col));
    case SQLITE_FLOAT: return KeyRef::of(sqlite3_column_double(get(), col));
    default: return KeyRef::of(column_text(col));
  }
}

}  // namespace array_logger::detail
