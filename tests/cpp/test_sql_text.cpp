// sqlite/sql_text: quoting identifiers and checking user WHERE clauses.
#include <doctest/doctest.h>

#include "array_logger/errors.hpp"
#include "sqlite/sql_text.hpp"

using namespace array_logger;
using namespace array_logger::detail;

TEST_CASE("quote_identifier makes any name a column") {
  CHECK(quote_identifier("episode") == "\"episode\"");
  CHECK(quote_identifier("a\"b") == "\"a\"\"b\"");
  CHECK(quote_identifier("") == "\"\"");
}

TEST_CASE("same_identifier ignores ASCII case only") {
  CHECK(same_identifier("Data", "data"));
  CHECK(same_identifier("ROWID", "rowid"));
  CHECK_FALSE(same_identifier("data", "data_"));
  CHECK_FALSE(same_identifier("\xC3\x89t\xC3\xA9", "\xC3\xA9t\xC3\xA9"));  // "Été" vs "été": not ASCII
}

TEST_CASE("check_where_clause accepts single expressions") {
  for (const char* ok : {"episode > ?", "step % 10 = 0 AND (a = 1 OR b = 2)", "tag = 'it''s'",
                         "\"odd \"\" name\" = 1", "[a)b] = 1", "`x(` = 2", "a = 1 -- to the end",
                         "a = 1 -- comment\n AND b = 2", "a /* ) ; */ = 1", "tag = ';'", "",
                         "tag = ''", "a = '' OR b = \"\"", "[] = 1"})
    CHECK_NOTHROW(check_where_clause(ok));
}

TEST_CASE("check_where_clause refuses what would reshape the query") {
  for (const char* bad : {"1) LIMIT 1 /*", "1) UNION SELECT data FROM array_log WHERE (1", "a = 1; DROP TABLE meta",
                          "(a = 1", "a = 1)", "tag = 'open", "\"open = 1", "[open = 1", "a /* open", ")("})
    CHECK_THROWS_AS(check_where_clause(bad), InvalidArgument);
  CHECK_THROWS_AS(check_where_clause(std::string_view("a = 1\0", 6)), InvalidArgument);
}

TEST_CASE("scanning goes on with the character right after a comment") {
  // A ')' or ';' glued to the end of a block comment is still seen.
  for (const char* bad : {"a = 1 /**/)", "a = 1 /* c */;", "(a = 1 /**/))", "a = 1 /**/'"})
    CHECK_THROWS_AS(check_where_clause(bad), InvalidArgument);
  CHECK_NOTHROW(check_where_clause("(a = 1 /**/)"));
}

TEST_CASE("the refusal names the clause and the reason") {
  try {
    check_where_clause("a = 1;");
    FAIL("not refused");
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()) == "invalid where_clause 'a = 1;': ';' is not allowed: the clause must be a single expression");
  }
}
