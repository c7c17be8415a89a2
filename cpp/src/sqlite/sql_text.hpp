// Building SQL text safely, and SQLite's rules for identifiers.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace array_logger::detail {

// "name" with embedded double quotes doubled: any key name is a safe column.
inline std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// SQLite compares identifiers (column names) ignoring ASCII case.
inline bool same_identifier(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Throws InvalidArgument unless a user WHERE clause stays an expression inside the
// parentheses we wrap it in: brackets never close more than they opened and
// end balanced, no string, quoted name or comment is left open, no ';'.
// (otherwise "1) LIMIT 1 /*" or "1) UNION SELECT ..." would reshape the query).
void check_where_clause(std::string_view where);

}  // namespace array_logger::detail
