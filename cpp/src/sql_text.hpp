// Building SQL text safely.
#pragma once

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

}  // namespace array_logger::detail
