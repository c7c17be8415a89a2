// array_logger from C++: log a deterministic run, or read one back and check
// it. Used by scripts/packaging_tests.sh for the cross-language test (C++
// writes / Python reads, Python writes / C++ reads) and as the example of
// docs/CPP.md (with read_all.hpp, a bulk read over the public API).
//
//   logbook write ROOT ROWS [LEVEL]   -> ROOT/grid.db (or grid.db.zst with LEVEL)
//   logbook read PATH ROWS            -> checks every row, prints "ok N"
#include <array_logger/errors.hpp>
#include <array_logger/logger.hpp>
#include <array_logger/reader.hpp>

#include "read_all.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace al = array_logger;

// Row r holds episode r / 10, step r % 10 and the (3, 4) float32 array
// v[i] = r + i * 0.25 (exact in float32): the same rule as the Python side.
static std::array<float, 12> row_values(std::int64_t r) {
  std::array<float, 12> v{};
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(r) + static_cast<float>(i) * 0.25f;
  return v;
}

static int write(const char* root, std::int64_t rows, std::optional<int> level) {
  al::LoggerOptions options;
  options.root = root;
  options.compression_level = level;
  al::Logger logger(options);

  al::ArraySpec spec;
  spec.keys = {"episode", "step"};
  spec.shape = {3, 4};
  spec.dtype = &al::dtype_from_string("float32");
  const auto grid = logger.register_array("grid", spec);

  for (std::int64_t r = 0; r < rows; ++r) {
    const auto v = row_values(r);
    if (r % 2 == 0) {  // the typed convenience for a contiguous buffer
      logger.log(grid, {al::KeyRef::of(r / 10), al::KeyRef::of(r % 10)}, std::span<const float>(v));
    } else {  // any pointer to the C-order bytes
      const al::KeyRef keys[] = {al::KeyRef::of(r / 10), al::KeyRef::of(r % 10)};
      logger.log(grid, keys, v.data(), sizeof v);
    }
    if (r == rows / 2) logger.flush();  // everything so far is committed
  }
  logger.close();  // commits, and compresses when a level was given
  return 0;
}

static int read(const char* path, std::int64_t rows) {
  al::Reader reader(path);
  if (reader.spec().shape != std::vector<std::int64_t>{3, 4} || reader.spec().dtype->name != "float32") {
    std::fprintf(stderr, "unexpected spec %s\n", reader.spec().describe().c_str());
    return 1;
  }
  al::Query q = reader.query();
  std::int64_t r = 0;
  while (q.next()) {
    const auto expect = row_values(r);
    const auto bytes = q.array_bytes();
    if (bytes.size() != sizeof expect || std::memcmp(bytes.data(), expect.data(), sizeof expect) != 0 ||
        q.key(0).integer != r / 10 || q.key(1).integer != r % 10) {
      std::fprintf(stderr, "row %lld differs\n", static_cast<long long>(r));
      return 1;
    }
    ++r;
  }
  // A filtered count, through the same SQL the Python reader accepts.
  const std::vector<al::KeyValue> params{std::int64_t{0}};
  const auto first_episode = reader.count("episode = ?", params);
  if (r != rows || first_episode != static_cast<std::uint64_t>(std::min<std::int64_t>(rows, 10))) {
    std::fprintf(stderr, "read %lld rows (%llu in episode 0), expected %lld\n", static_cast<long long>(r),
                 static_cast<unsigned long long>(first_episode), static_cast<long long>(rows));
    return 1;
  }
  // Iterate with a where clause: steps 7.. of episodes >= 2.
  const std::vector<al::KeyValue> where_params{std::int64_t{2}, std::int64_t{7}};
  std::int64_t matched = 0;
  for (al::Query f = reader.query("episode >= ? AND step >= ?", where_params); f.next(); ++matched) {
    const std::int64_t row = f.key(0).integer * 10 + f.key(1).integer;
    const auto expect = row_values(row);
    if (f.key(0).integer < 2 || f.key(1).integer < 7 ||
        std::memcmp(f.array_bytes().data(), expect.data(), sizeof expect) != 0) {
      std::fprintf(stderr, "filtered row %lld differs\n", static_cast<long long>(row));
      return 1;
    }
  }
  std::int64_t want = 0;
  for (std::int64_t i = 20; i < rows; ++i) want += (i % 10 >= 7);
  if (matched != want) {
    std::fprintf(stderr, "where clause matched %lld rows, expected %lld\n", static_cast<long long>(matched),
                 static_cast<long long>(want));
    return 1;
  }
  // Bulk read: every row in one (rows, 3, 4) buffer plus the key columns.
  const auto all = array_logger_examples::read_all(reader);
  const auto floats = all.as<float>();
  for (std::int64_t i = 0; i < rows; ++i) {
    const auto expect = row_values(i);
    if (all.rows != static_cast<std::size_t>(rows) || std::get<std::int64_t>(all.keys[1][i]) != i % 10 ||
        std::memcmp(floats.data() + i * 12, expect.data(), sizeof expect) != 0) {
      std::fprintf(stderr, "bulk read row %lld differs\n", static_cast<long long>(i));
      return 1;
    }
  }
  std::printf("ok %lld\n", static_cast<long long>(r));
  return 0;
}

int main(int argc, char** argv) {
  try {
    if (argc >= 4 && std::strcmp(argv[1], "write") == 0) {
      std::optional<int> level;
      if (argc >= 5) level = std::atoi(argv[4]);
      return write(argv[2], std::atoll(argv[3]), level);
    }
    if (argc >= 4 && std::strcmp(argv[1], "read") == 0) return read(argv[2], std::atoll(argv[3]));
  } catch (const al::Error& e) {
    std::fprintf(stderr, "array_logger error: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "usage: logbook write ROOT ROWS [LEVEL] | logbook read PATH ROWS\n");
  return 64;
}
