// The tables of an array_logger file (docs/FORMAT.md): `meta` (key/value
// text that makes the file self-describing) and `array_log` (one column per
// key, in registration order, then `data`), and the SQL that writes them.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "array_logger/array_spec.hpp"
#include "array_logger/meta.hpp"
#include "sqlite/database.hpp"

namespace array_logger::detail {

// The index a format-2 file gets at close on its first key column.
inline constexpr const char* kFirstKeyIndex = "array_log_first_key";

using MetaRows = std::vector<std::pair<std::string, std::string>>;

// The meta rows of a new format-2 file (format 3 when `form` stores fixed
// point or sparse rows). `keys_text` is the `keys` row verbatim (Python's
// repr of the key list); `shard` (may be empty) the shard id of a sharded
// name's file.
MetaRows new_file_meta(const ArraySpec& spec, const std::string& keys_text, bool shuffle_zstd,
                       const std::string& user_metadata, const StoredForm& form = {},
                       const std::string& shard = {});
// Creates both tables and fills `meta` (inside the caller's transaction).
// `key_type` is the declared type of the key columns: none (format 2 and
// later: a key may be an integer, a float or text), or "INTEGER" (format 1).
void create_tables(Database& db, const std::vector<std::string>& keys, const MetaRows& meta,
                   std::string_view key_type = {});

// Every row of `meta`. Throws CorruptFile when the table is missing or odd.
std::map<std::string, std::string> read_meta_rows(Database& db);
// Checks that array_log has exactly the key columns (in order) and `data`.
void check_array_log_columns(Database& db, const std::vector<std::string>& keys, const std::string& what);

// INSERT of `rows` rows (keys..., data) in one statement.
std::string insert_sql(const std::vector<std::string>& keys, std::size_t rows);

}  // namespace array_logger::detail
