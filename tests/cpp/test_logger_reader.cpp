// The writer thread and the reader through the public C++ API.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <thread>

#include "array_logger/errors.hpp"
#include "array_logger/logger.hpp"
#include "array_logger/reader.hpp"
#include "temp_dir.hpp"

using namespace array_logger;
namespace fs = std::filesystem;

namespace {

ArraySpec spec(std::vector<std::string> keys, std::vector<std::int64_t> shape, const char* dtype = "float32") {
  ArraySpec s;
  s.keys = std::move(keys);
  s.shape = std::move(shape);
  s.dtype = &dtype_from_string(dtype);
  return s;
}

std::vector<float> values_for(std::int64_t row, std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(row) * 1000.0f + static_cast<float>(i);
  return v;
}

LoggerOptions plain_options(const fs::path& root) {
  LoggerOptions o;
  o.root = root;
  o.compression_level = std::nullopt;
  return o;
}

std::int64_t count_with_sqlite(const fs::path& db) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, "SELECT count(*) FROM array_log", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  std::int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(raw);
  return n;
}

}  // namespace

TEST_CASE("rows round-trip byte for byte, keys keep their types") {
  TempDir dir;
  {
    Logger lg(plain_options(dir.path));
    auto id = lg.register_array("q", spec({"episode", "tag"}, {3, 4}));
    for (std::int64_t r = 0; r < 1000; ++r) {
      auto v = values_for(r, 12);
      std::string tag = "t" + std::to_string(r % 7);
      lg.log(id, {KeyRef::of(r), KeyRef::of(std::string_view(tag))}, std::span<const float>(v));
    }
    lg.close();
  }
  CHECK(fs::exists(dir.path / "q.db"));
  CHECK_FALSE(fs::exists(dir.path / "q.db-wal"));
  Reader rd(dir.path / "q.db");
  CHECK(rd.format_version() == 2);
  CHECK(rd.spec().shape == std::vector<std::int64_t>{3, 4});
  CHECK(rd.count() == 1000);
  Query q = rd.query();
  std::int64_t r = 0;
  while (q.next()) {
    auto expect = values_for(r, 12);
    REQUIRE(q.array_bytes().size() == 48);
    CHECK(std::memcmp(q.array_bytes().data(), expect.data(), 48) == 0);
    CHECK(q.key(0).kind == KeyRef::Kind::Integer);
    CHECK(q.key(0).integer == r);
    CHECK(q.key(1).kind == KeyRef::Kind::Text);
    CHECK(q.key(1).text == "t" + std::to_string(r % 7));
    ++r;
  }
  CHECK(r == 1000);
  std::vector<KeyValue> params{std::int64_t{990}, std::string("t3")};
  CHECK(rd.count("episode >= ? AND tag = ?", params) == 2);  // 990 and 997
  CHECK_THROWS_AS(rd.query("episode = 1; DROP TABLE array_log"), InvalidArgument);
  CHECK_THROWS_AS(rd.query("episode = ?"), InvalidArgument);  // missing param
}

TEST_CASE("compression at close, transparent reading, resume from .db.zst") {
  TempDir dir;
  auto s = spec({"step"}, {64});
  for (int run = 0; run < 2; ++run) {
    LoggerOptions o;
    o.root = dir.path;
    o.compression_level = 3;
    Logger lg(o);
    auto id = lg.register_array("w", s);
    for (std::int64_t r = 0; r < 500; ++r) {
      auto v = values_for(run * 500 + r, 64);
      lg.log(id, {KeyRef::of(run * 500 + r)}, std::span<const float>(v));
    }
    lg.close();
    CHECK(fs::exists(dir.path / "w.db.zst"));
    CHECK_FALSE(fs::exists(dir.path / "w.db"));
  }
  Reader rd(dir.path / "w.db");  // resolved to w.db.zst
  CHECK(rd.path() == dir.path / "w.db.zst");
  CHECK(rd.count() == 1000);
  Query q = rd.query("step = ?", std::vector<KeyValue>{std::int64_t{777}});
  REQUIRE(q.next());
  auto expect = values_for(777, 64);
  CHECK(std::memcmp(q.array_bytes().data(), expect.data(), 256) == 0);
  CHECK_FALSE(q.next());
}

TEST_CASE("meta mismatch, duplicate names and bad input leave the logger usable") {
  TempDir dir;
  const LoggerOptions o = plain_options(dir.path);
  {
    Logger lg(o);
    lg.register_array("a", spec({"k"}, {2}));
    lg.close();
  }
  Logger lg(o);
  CHECK_THROWS_AS(lg.register_array("a", spec({"k"}, {3})), MetaMismatch);
  auto id = lg.register_array("a", spec({"k"}, {2}));
  CHECK_THROWS_AS(lg.register_array("a", spec({"k"}, {2})), InvalidArgument);
  for (const char* bad : {"", ".x", "a/b", "a\\b", "..", "x..y"})
    CHECK_THROWS_AS(lg.register_array(bad, spec({"k"}, {2})), InvalidArgument);
  CHECK_THROWS_AS(lg.register_array("b", spec({"data"}, {2})), InvalidArgument);
  float v[2] = {1, 2};
  KeyRef k = KeyRef::of(std::int64_t{1});
  CHECK_THROWS_AS(lg.log(id, std::span<const KeyRef>(&k, 1), v, 4), InvalidArgument);  // wrong size
  CHECK_THROWS_AS(lg.log(id, {}, v, 8), InvalidArgument);                               // no keys
  CHECK_THROWS_WITH_AS(lg.log(id + 7, std::span<const KeyRef>(&k, 1), v, 8), "unknown array id 7", InvalidArgument);
  lg.log(id, std::span<const KeyRef>(&k, 1), v, 8);
  lg.close();
  CHECK_THROWS_AS(lg.log(id, std::span<const KeyRef>(&k, 1), v, 8), StateError);
  CHECK(Reader(dir.path / "a.db").count() == 1);
}

TEST_CASE("a directory where the database belongs: StorageError with errno EISDIR and no SQLite code") {
  TempDir dir;
  fs::create_directories(dir.path / "x.db");
  Logger lg(plain_options(dir.path));
  try {
    lg.register_array("x", spec({"k"}, {2}));
    FAIL("not refused");
  } catch (const StorageError& e) {
    CHECK(e.sys_errno() == EISDIR);
    CHECK(e.sqlite_code() == 0);  // errors.hpp: 0 when the error did not come from SQLite
    CHECK(std::string(e.what()).find("is a directory, not a database file") != std::string::npos);
  }
}

TEST_CASE("time threshold commits without close; flush commits everything") {
  TempDir dir;
  Logger lg(plain_options(dir.path));
  RegisterOptions ro;
  ro.commit_threshold_rows = 1'000'000;
  ro.commit_threshold_seconds = 0.2;
  auto id = lg.register_array("t", spec({"i"}, {1}), ro);
  float v = 1;
  for (std::int64_t i = 0; i < 5; ++i) lg.log(id, {KeyRef::of(i)}, std::span<const float>(&v, 1));
  std::int64_t seen = 0;
  for (int tries = 0; tries < 50 && seen < 5; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = count_with_sqlite(dir.path / "t.db");
  }
  CHECK(seen == 5);
  for (std::int64_t i = 5; i < 8; ++i) lg.log(id, {KeyRef::of(i)}, std::span<const float>(&v, 1));
  lg.flush();
  CHECK(count_with_sqlite(dir.path / "t.db") == 8);
}

TEST_CASE("many threads log concurrently through a small buffer") {
  TempDir dir;
  LoggerOptions o = plain_options(dir.path);
  o.buffer_bytes = 1 << 16;  // forces producers to wait for the writer
  Logger lg(o);
  auto id = lg.register_array("m", spec({"thread", "i"}, {16}, "int32"));
  std::vector<std::thread> threads;
  for (std::int64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::int32_t> v(16);
      for (std::int64_t i = 0; i < 5000; ++i) {
        std::iota(v.begin(), v.end(), static_cast<std::int32_t>(t * 100000 + i));
        lg.log(id, {KeyRef::of(t), KeyRef::of(i)}, std::span<const std::int32_t>(v));
      }
    });
  }
  for (auto& th : threads) th.join();
  lg.close();
  Reader rd(dir.path / "m.db");
  CHECK(rd.count() == 20000);
  Query q = rd.query();
  while (q.next()) {
    std::int32_t first;
    std::memcpy(&first, q.array_bytes().data(), 4);
    CHECK(first == q.key(0).integer * 100000 + q.key(1).integer);
  }
}

TEST_CASE("the loss bound: at most 2 x commit_threshold_rows rows uncommitted after every log()") {
  TempDir dir;
  Logger lg(plain_options(dir.path));
  RegisterOptions ro;
  ro.commit_threshold_rows = 5;
  auto id = lg.register_array("b", spec({"i"}, {4}), ro);
  for (std::int64_t i = 0; i < 400; ++i) {
    const auto v = values_for(i, 4);
    lg.log(id, {KeyRef::of(i)}, std::span<const float>(v));
    // Another connection sees only committed rows.
    REQUIRE(count_with_sqlite(dir.path / "b.db") >= i + 1 - 10);
  }
  lg.close();
  CHECK(count_with_sqlite(dir.path / "b.db") == 400);
}

TEST_CASE("root_path is made absolute once, at construction") {
  TempDir dir;
  const fs::path before = fs::current_path();
  fs::current_path(dir.path);
  const fs::path expected = fs::current_path() / "logs";  // getcwd() spelling of dir/logs
  LoggerOptions o = plain_options("./logs/");
  o.throughput_mode = true;
  Logger lg(o);
  fs::current_path(before);  // the logger keeps writing under dir/logs
  CHECK(lg.options().root == expected);
  auto id = lg.register_array("r", spec({"i"}, {1}));
  float v = 1;
  lg.log(id, {KeyRef::of(std::int64_t{0})}, std::span<const float>(&v, 1));
  lg.close();
  CHECK(count_with_sqlite(dir.path / "logs" / "r.db") == 1);
}

TEST_CASE("shuffle-zstd blobs decode transparently") {
  TempDir dir;
  const LoggerOptions o = plain_options(dir.path);
  {
    Logger lg(o);
    RegisterOptions ro;
    ro.shuffle_zstd = true;
    auto id = lg.register_array("f", spec({"i"}, {100}), ro);
    for (std::int64_t i = 0; i < 50; ++i) {
      auto v = values_for(i, 100);
      lg.log(id, {KeyRef::of(i)}, std::span<const float>(v));
    }
  }  // destructor closes
  Reader rd(dir.path / "f.db");
  CHECK(rd.meta().at("blob_filter") == "shuffle-zstd");
  Query q = rd.query("i = 42");
  REQUIRE(q.next());
  auto expect = values_for(42, 100);
  CHECK(std::memcmp(q.array_bytes().data(), expect.data(), 400) == 0);
}

TEST_CASE("missing and foreign files give clear errors") {
  TempDir dir;
  CHECK_THROWS_AS(Reader(dir.path / "nope.db"), StorageError);
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((dir.path / "other.db").c_str(), &raw) == SQLITE_OK);
    sqlite3_exec(raw, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  CHECK_THROWS_AS(Reader(dir.path / "other.db"), CorruptFile);
  {
    FILE* f = std::fopen((dir.path / "junk.db").c_str(), "wb");
    std::fputs("this is not a database, just text that is long enough to matter.......", f);
    std::fclose(f);
  }
  CHECK_THROWS_AS(Reader(dir.path / "junk.db"), CorruptFile);
  {
    FILE* f = std::fopen((dir.path / "junk.db.zst").c_str(), "wb");
    std::fputs("(\xb5/\xfd truncated", f);
    std::fclose(f);
  }
  CHECK_THROWS_AS(Reader(dir.path / "junk.db.zst"), CorruptFile);
}
