// compress_file / decompress_file and the Reader's key summary, integrity
// check and database info, through the public C++ API.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "array_logger/errors.hpp"
#include "array_logger/file_tools.hpp"
#include "array_logger/logger.hpp"
#include "array_logger/reader.hpp"
#include "temp_dir.hpp"

using namespace array_logger;
namespace fs = std::filesystem;

namespace {

ArraySpec two_keys() {
  ArraySpec s;
  s.keys = {"episode", "tag"};
  s.shape = {3};
  s.dtype = &dtype_from_string("int32");
  return s;
}

// 10 rows: episode 0..9 (int), tag "a"/"b" as text except row 7 (a REAL 7.5).
fs::path write_file(const fs::path& root, std::optional<int> level) {
  LoggerOptions o;
  o.root = root;
  o.compression_level = level;
  Logger logger(o);
  auto id = logger.register_array("x", two_keys());
  for (std::int64_t i = 0; i < 10; ++i) {
    std::int32_t v[3] = {static_cast<std::int32_t>(i), 1, 2};
    const std::string tag = i % 2 ? "b" : "a";
    KeyRef keys[2] = {KeyRef::of(i), i == 7 ? KeyRef::of(7.5) : KeyRef::of(std::string_view(tag))};
    logger.log(id, std::span<const KeyRef>(keys, 2), v, sizeof v);
  }
  logger.close();
  return root / (level ? "x.db.zst" : "x.db");
}

std::vector<std::int32_t> first_values(const fs::path& path) {
  Reader r(path);
  std::vector<std::int32_t> out;
  Query q = r.query();
  while (q.next()) {
    std::int32_t v;
    std::memcpy(&v, q.array_bytes().data(), sizeof v);
    out.push_back(v);
  }
  return out;
}

}  // namespace

TEST_CASE("summarize_keys: count, min/max in SQLite order, storage classes, filtered") {
  TempDir dir;
  Reader r(write_file(dir.path, std::nullopt));
  auto s = r.summarize_keys();
  CHECK(s.rows == 10);
  REQUIRE(s.keys.size() == 2);
  CHECK(std::get<std::int64_t>(*s.keys[0].min) == 0);
  CHECK(std::get<std::int64_t>(*s.keys[0].max) == 9);
  CHECK(s.keys[0].integers == 10);
  CHECK(std::get<double>(*s.keys[1].min) == 7.5);  // numbers sort before text
  CHECK(std::get<std::string>(*s.keys[1].max) == "b");
  CHECK((s.keys[1].integers == 0 && s.keys[1].reals == 1 && s.keys[1].texts == 9));
  std::vector<KeyValue> p{KeyValue(std::int64_t{5})};
  auto f = r.summarize_keys("episode >= ?", p);
  CHECK(f.rows == 5);
  CHECK(std::get<std::int64_t>(*f.keys[0].min) == 5);
  auto none = r.summarize_keys("episode > 100");
  CHECK(none.rows == 0);
  CHECK(!none.keys[0].min.has_value());
  CHECK_THROWS_AS(r.summarize_keys("episode >"), InvalidArgument);
  CHECK(r.integrity_check().empty());
}

TEST_CASE("compress_file then decompress_file keep every row and leave one file") {
  TempDir dir;
  const fs::path db = write_file(dir.path, std::nullopt);
  const auto before = first_values(db);
  const auto db_bytes = static_cast<std::int64_t>(fs::file_size(db));
  const Reader::DatabaseInfo plain = Reader(db).database_info();
  CHECK(plain.page_size * plain.page_count == db_bytes);
  CHECK(plain.freelist_count == 0);
  std::uint64_t progress_done = 0, progress_total = 0;
  std::string progress_name;
  const fs::path zst = compress_file(db, 3, 1, [&](std::string_view name, std::uint64_t done, std::uint64_t total) {
    progress_name = name;
    progress_done = done;
    progress_total = total;
  });
  CHECK(progress_name == "x");
  CHECK(progress_done == static_cast<std::uint64_t>(db_bytes));  // the last report: all of the .db
  CHECK(progress_total == static_cast<std::uint64_t>(db_bytes));
  // the database inside the .db.zst, as info shows it
  const Reader::DatabaseInfo packed = Reader(zst).database_info();
  CHECK(packed.page_size == plain.page_size);
  CHECK(packed.page_count == plain.page_count);
  CHECK(zst == dir.path / "x.db.zst");
  CHECK(fs::exists(zst));
  CHECK(!fs::exists(db));
  CHECK(!fs::exists(dir.path / "x.db.zst.tmp"));
  CHECK(first_values(zst) == before);
  // x.db names the file even when only x.db.zst exists; recompressing works too
  CHECK(compress_file(db, 19, 1) == zst);
  CHECK(first_values(zst) == before);
  const fs::path back = decompress_file(zst);
  CHECK(back == db);
  CHECK(fs::exists(db));
  CHECK(!fs::exists(zst));
  CHECK(!fs::exists(dir.path / "x.db.tmp"));
  CHECK(first_values(db) == before);
  CHECK(Reader(db).integrity_check().empty());
}

TEST_CASE("compress_file refuses a file being written, a bad level, a foreign file") {
  TempDir dir;
  LoggerOptions o;
  o.root = dir.path;
  o.compression_level = std::nullopt;
  Logger logger(o);
  auto id = logger.register_array("x", two_keys());
  std::int32_t v[3] = {1, 2, 3};
  KeyRef keys[2] = {KeyRef::of(std::int64_t{0}), KeyRef::of(std::string_view("a"))};
  logger.log(id, std::span<const KeyRef>(keys, 2), v, sizeof v);
  logger.flush();
  CHECK_THROWS_AS(compress_file(dir.path / "x.db", 3), StateError);
  logger.close();
  CHECK_THROWS_AS(compress_file(dir.path / "x.db", 0), InvalidArgument);
  CHECK(fs::exists(dir.path / "x.db"));
  std::ofstream(dir.path / "other.db") << "not a database at all, just some text that is long enough";
  CHECK_THROWS(compress_file(dir.path / "other.db", 3));
  CHECK(fs::exists(dir.path / "other.db"));
}
