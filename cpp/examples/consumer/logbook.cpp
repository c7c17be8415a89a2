// array_logger from C++: log a deterministic run, or read one back and check
// it. Used by scripts/packaging_tests.sh for the cross-language test (C++
// writes / Python reads, Python writes / C++ reads) and as the example of
// docs/CPP.md.
//
//   logbook write ROOT ROWS [LEVEL]   -> ROOT/grid.db (or grid.db.zst with LEVEL)
//   logbook read PATH ROWS            -> checks every row, prints "ok N"
#include <array_logger/errors.hpp>
#include <array_logger/logger.hpp>
#include <array_logger/reader.hpp>

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
    logger.log(grid, {al::KeyRef::of(r / 10), al::KeyRef::of(r % 10)}, std::span<const float>(v));
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
