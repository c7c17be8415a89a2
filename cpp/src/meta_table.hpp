// Reading and writing the `meta` and checking the `array_log` tables.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sqlite_db.hpp"

namespace array_logger::detail {

using MetaRows = std::vector<std::pair<std::string, std::string>>;

bool has_table(Database& db, const char* table);
// Every row of `meta`. Throws CorruptFile when the table is missing or odd.
std::map<std::string, std::string> read_meta_rows(Database& db);
void write_meta_rows(Database& db, const MetaRows& rows);
// Checks that array_log has exactly the key columns (in order) and `data`.
void check_array_log_columns(Database& db, const std::vector<std::string>& keys, const std::string& what);

}  // namespace array_logger::detail
