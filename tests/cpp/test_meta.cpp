// Python-repr meta values: what the pure-Python array_logger writes and compares.
#include <doctest/doctest.h>

#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"

using namespace array_logger;

TEST_CASE("reprs match Python's") {
  CHECK(shape_repr({}) == "()");
  CHECK(shape_repr({1}) == "(1,)");
  CHECK(shape_repr({10, 5}) == "(10, 5)");
  CHECK(keys_repr({"episode", "step"}) == "['episode', 'step']");
  CHECK(keys_repr({"it's"}) == "[\"it's\"]");
  CHECK(keys_repr({"a\"b'c"}) == "['a\"b\\'c']");
  CHECK(keys_repr({"tab\t"}) == "['tab\\t']");
}

TEST_CASE("parsing accepts tuples and lists, rejects garbage") {
  CHECK(parse_shape_repr("(10, 5)") == std::vector<std::int64_t>{10, 5});
  CHECK(parse_shape_repr("(1,)") == std::vector<std::int64_t>{1});
  CHECK(parse_shape_repr("()").empty());
  CHECK(parse_shape_repr("[3, 4]") == std::vector<std::int64_t>{3, 4});
  CHECK(parse_keys_repr("['episode', 'step']") == std::vector<std::string>{"episode", "step"});
  CHECK(parse_keys_repr("[\"it's\"]") == std::vector<std::string>{"it's"});
  for (const char* bad : {"", "(", "(1, 2", "(a)", "(1) x", "(-1,)", "((1,),)", "[1,,2]"})
    CHECK_THROWS_AS(parse_shape_repr(bad), CorruptFile);
  for (const char* bad : {"['a'", "[a]", "['a' 'b']", "['\\x4']"}) CHECK_THROWS_AS(parse_keys_repr(bad), CorruptFile);
}

TEST_CASE("round trip of arbitrary key names") {
  // Includes bytes that are not UTF-8 (a C2 lead byte before ASCII: found by fuzz_meta).
  std::vector<std::string> keys = {"plain", "with space", "quote'd", "dq\"", "back\\slash", "nl\n", "\x01",
                                   "a\xc2=b", "nbsp\xc2\xa0", "c1\xc2\x85"};
  CHECK(parse_keys_repr(keys_repr(keys)) == keys);
}

TEST_CASE("decode_meta tells format 1 from format 2") {
  std::map<std::string, std::string> v1 = {
      {"shape", "(1,)"}, {"dtype", "float32"}, {"keys", "['episode']"}, {"array_logger_version", "1.0"}};
  FileMeta m1 = decode_meta(v1);
  CHECK(m1.format_version == kFormatLegacy);
  CHECK(m1.spec.dtype->name == "float32");
  auto v2 = v1;
  v2["format_version"] = "2";
  CHECK(decode_meta(v2).format_version == kFormatCurrent);
  v2["format_version"] = "99";
  CHECK_THROWS_AS(decode_meta(v2), CorruptFile);
  auto missing = v1;
  missing.erase("dtype");
  CHECK_THROWS_AS(decode_meta(missing), CorruptFile);
  auto bad_dtype = v1;
  bad_dtype["dtype"] = "object";
  CHECK_THROWS_AS(decode_meta(bad_dtype), CorruptFile);
}
