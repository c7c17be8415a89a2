#include "sqlite/sql_text.hpp"

#include "array_logger/errors.hpp"

namespace array_logger::detail {

void check_where_clause(std::string_view where) {
  auto bad = [&](const char* why) {
    throw InvalidArgument("invalid where_clause '" + std::string(where) + "': " + why);
  };
  int depth = 0;
  for (std::size_t i = 0; i < where.size(); ++i) {
    const char c = where[i];
    if (c == '\'' || c == '"' || c == '`' || c == '[') {
      const char close = c == '[' ? ']' : c;
      std::size_t j = i + 1;
      for (;; ++j) {
        if (j >= where.size()) bad("unterminated quote");
        if (where[j] == close) {
          if (close != ']' && j + 1 < where.size() && where[j + 1] == close) {
            ++j;  // doubled quote inside the literal
            continue;
          }
          break;
        }
      }
      i = j;
    } else if (c == '-' && i + 1 < where.size() && where[i + 1] == '-') {
      const std::size_t nl = where.find('\n', i);
      if (nl == std::string_view::npos) return;  // comment to the end: our "\n)" ends it
      i = nl;
    } else if (c == '/' && i + 1 < where.size() && where[i + 1] == '*') {
      const std::size_t end = where.find("*/", i + 2);
      if (end == std::string_view::npos) bad("unterminated comment");
      i = end + 1;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) bad("unbalanced ')'");
    } else if (c == ';') {
      bad("';' is not allowed: the clause must be a single expression");
    } else if (c == '\0') {
      bad("NUL is not allowed");
    }
  }
  if (depth != 0) bad("unbalanced '('");
}


}  // namespace array_logger::detail
