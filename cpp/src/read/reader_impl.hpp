// The state behind a Reader, shared by reader.cpp (opening, queries) and
// query.cpp (stepping through rows).
#pragma once

#include <span>
#include <string_view>

#include "array_logger/key_value.hpp"
#include "array_logger/meta.hpp"
#include "array_logger/reader.hpp"
#include "read/read_source.hpp"
#include "sqlite/statement.hpp"

namespace array_logger {

struct Reader::Impl {
  detail::ReadSource source;
  FileMeta meta;

  ~Impl() { source.close(); }
  // SELECT {select_list} FROM array_log [WHERE ({where})] ORDER BY rowid,
  // with `where` checked to be one read-only expression and `params` bound;
  // `label` names it in error messages. `resumable` adds a last parameter,
  // `_rowid_ > ?`, so that a query can be reset (ending its read
  // transaction) and continued after the last row it returned.
  detail::Statement prepare_user_query(std::string_view select_list, std::string_view where,
                                       std::span<const KeyValue> params, const char* label,
                                       bool resumable = false) const;
};

}  // namespace array_logger
