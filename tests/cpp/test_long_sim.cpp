// Long simulations in the core: the period accumulator, fixed-point and
// sparse payloads, periodic names through the Logger (partial rows,
// positions, resume_period) and rewind_log.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include "array_logger/errors.hpp"
#include "array_logger/logger.hpp"
#include "array_logger/reader.hpp"
#include "array_logger/rewind.hpp"
#include "format/fixed_point.hpp"
#include "format/sparse_payload.hpp"
#include "write/period_accumulator.hpp"

using namespace array_logger;
using namespace array_logger::detail;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "al-longsim-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() { fs::remove_all(path); }
};

template <class T>
const std::byte* bytes(const std::vector<T>& v) {
  return reinterpret_cast<const std::byte*>(v.data());
}

template <class T>
std::vector<T> result_of(const PeriodAccumulator& acc, std::size_t n) {
  std::vector<T> out(n);
  acc.result(reinterpret_cast<std::byte*>(out.data()));
  return out;
}

}  // namespace

TEST_CASE("period sums add in float64 in step order, means divide once") {
  const std::vector<std::vector<float>> steps = {{1e8f, 1.0f}, {1.0f, -0.0f}, {-1e8f, 2.5f}};
  PeriodAccumulator sum(dtype_from_string("float32"), 2, Period{3, PeriodMode::Sum});
  PeriodAccumulator mean(dtype_from_string("float32"), 2, Period{3, PeriodMode::Mean});
  for (const auto& s : steps) {
    sum.add(bytes(s));
    mean.add(bytes(s));
  }
  double a = 1e8, b = 1.0;
  a += 1.0;
  a += -1e8;
  b += -0.0;
  b += 2.5;
  CHECK(result_of<double>(sum, 2) == std::vector<double>{a, b});
  CHECK(result_of<double>(mean, 2) == std::vector<double>{a / 3.0, b / 3.0});
  CHECK(sum.steps() == 3);
}

TEST_CASE("state keeps the last step, min and max propagate NaN") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::vector<double>> steps = {{1, 5, 0}, {nan, 2, 7}, {0, 9, -1}};
  PeriodAccumulator state(dtype_from_string("float64"), 3, Period{3, PeriodMode::State});
  PeriodAccumulator lo(dtype_from_string("float64"), 3, Period{3, PeriodMode::Min});
  PeriodAccumulator hi(dtype_from_string("float64"), 3, Period{3, PeriodMode::Max});
  for (const auto& s : steps) {
    state.add(bytes(s));
    lo.add(bytes(s));
    hi.add(bytes(s));
  }
  CHECK(result_of<double>(state, 3) == steps.back());
  auto l = result_of<double>(lo, 3), h = result_of<double>(hi, 3);
  CHECK(std::isnan(l[0]));
  CHECK(std::isnan(h[0]));
  CHECK(l[1] == 2);
  CHECK(l[2] == -1);
  CHECK(h[1] == 9);
  CHECK(h[2] == 7);
}

TEST_CASE("integer sums refuse to overflow and change nothing") {
  PeriodAccumulator acc(dtype_from_string("int64"), 1, Period{4, PeriodMode::Sum});
  const std::vector<std::int64_t> big = {std::numeric_limits<std::int64_t>::max() - 1}, two = {2}, one = {1};
  acc.add(bytes(big));
  CHECK_THROWS_AS(acc.add(bytes(two)), InvalidArgument);
  CHECK(acc.steps() == 1);
  acc.add(bytes(one));
  CHECK(result_of<std::int64_t>(acc, 1)[0] == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("a saved accumulator continues exactly; a wrong one is refused") {
  PeriodAccumulator a(dtype_from_string("int16"), 2, Period{5, PeriodMode::Mean});
  const std::vector<std::int16_t> s1 = {3, -4}, s2 = {10, 1};
  a.add(bytes(s1));
  PeriodAccumulator b(dtype_from_string("int16"), 2, Period{5, PeriodMode::Mean});
  const auto saved = a.state();
  b.restore(a.steps(), std::vector<std::byte>(saved.begin(), saved.end()));
  a.add(bytes(s2));
  b.add(bytes(s2));
  CHECK(result_of<double>(a, 2) == result_of<double>(b, 2));
  CHECK_THROWS_AS(b.restore(1, std::vector<std::byte>(3)), InvalidArgument);
  CHECK_THROWS_AS(b.restore(5, std::vector<std::byte>(16)), InvalidArgument);
}

TEST_CASE("fixed point picks the smallest integer type and rounds half to even") {
  CHECK(fixed_point_storage({0.01, -1.27, 1.27}).name == "int8");
  CHECK(fixed_point_storage({0.01, 0, 2.55}).name == "uint8");
  CHECK(fixed_point_storage({1, -40000, 0}).name == "int32");
  CHECK(fixed_point_storage({1, 0, 4294967295.0}).name == "uint32");
  CHECK_THROWS_AS(fixed_point_storage({0, 0, 1}), InvalidArgument);
  CHECK_THROWS_AS(fixed_point_storage({1, 2, 1}), InvalidArgument);
  FixedPointCodec c({0.5, -2, 2}, dtype_from_string("float32"), dtype_from_string("int8"));
  const std::vector<float> x = {0.25f, 0.75f, -1.25f, 2.0f};
  std::vector<std::int8_t> q(4);
  c.quantize(bytes(x), 4, reinterpret_cast<std::byte*>(q.data()));
  CHECK(q == std::vector<std::int8_t>{0, 2, -2, 4});
  std::vector<float> back(4);
  c.dequantize(reinterpret_cast<const std::byte*>(q.data()), 4, reinterpret_cast<std::byte*>(back.data()));
  CHECK(back == std::vector<float>{0.0f, 1.0f, -1.0f, 2.0f});
  const std::vector<float> bad = {0, 2.0001f, std::nanf("")};
  CHECK(c.first_out_of_range(bytes(bad), 3) == 1);
  CHECK(c.first_out_of_range(bytes(bad) + 8, 1) == 0);
  CHECK_THROWS_AS(c.check(bytes(bad), 3), InvalidArgument);
}

TEST_CASE("sparse payloads round-trip and damaged ones are refused") {
  std::vector<double> dense(300, 0.0);
  dense[2] = -0.0;  // not all-zero bytes: kept
  dense[299] = 4.5;
  CHECK(sparse_index_dtype_for(256).name == "uint8");
  CHECK(sparse_index_dtype_for(257).name == "uint16");
  CHECK(sparse_index_dtype_for(1ull << 32).name == "uint32");
  CHECK(sparse_index_dtype_for((1ull << 32) + 1).name == "uint64");
  const std::size_t nnz = count_nonzero(bytes(dense), 300, 8);
  REQUIRE(nnz == 2);
  std::vector<std::byte> payload(sparse_payload_bytes(nnz, 2, 8));
  encode_sparse(bytes(dense), 300, 8, 2, nnz, payload.data());
  const SparseView v = parse_sparse(payload, 300, 2, 8);
  std::vector<double> back(300, 1.0);
  scatter_sparse(v, 8, reinterpret_cast<std::byte*>(back.data()), 300 * 8);
  CHECK(std::memcmp(back.data(), dense.data(), 300 * 8) == 0);
  auto damaged = payload;
  damaged[0] = std::byte{3};  // count says 3
  CHECK_THROWS_AS(parse_sparse(damaged, 300, 2, 8), CorruptFile);
  damaged = payload;
  std::memcpy(damaged.data() + 8, damaged.data() + 10, 2);  // index 299 twice
  CHECK_THROWS_AS(parse_sparse(damaged, 300, 2, 8), CorruptFile);
  CHECK_THROWS_AS(parse_sparse(payload, 200, 2, 8), CorruptFile);  // index 299 beyond 200
}

TEST_CASE("periodic names: partial rows, positions, resume_period, rewind_log") {
  TempDir dir;
  LoggerOptions o;
  o.root = dir.path;
  o.compression_level = std::nullopt;
  ArraySpec in;
  in.keys = {"t"};
  in.shape = {2};
  in.dtype = &dtype_from_string("int32");
  RegisterOptions ro;
  ro.period = Period{4, PeriodMode::Sum};
  std::vector<LogPosition> pos;
  {
    Logger lg(o);
    auto id = lg.register_array("s", in, ro);
    for (std::int64_t t = 0; t < 10; ++t) {
      const std::vector<std::int32_t> v = {static_cast<std::int32_t>(t), 1};
      lg.log(id, {KeyRef::of(t)}, std::span<const std::int32_t>(v));
      if (t == 5) pos = lg.checkpoint_positions();
    }
    lg.close();
  }
  REQUIRE(pos.size() == 1);
  CHECK(pos[0].rows == 1);  // the complete period 0..3; 4, 5 open
  REQUIRE(pos[0].open_period);
  CHECK(pos[0].open_period->steps == 2);
  CHECK(std::get<std::int64_t>(pos[0].open_period->first_keys.at(0)) == 4);
  {
    Reader rd(dir.path / "s.db");
    CHECK(rd.spec().keys == std::vector<std::string>{"t", "steps", "partial"});
    CHECK(rd.count() == 3);  // 0..3, 4..7, 8..9 (partial, at close)
  }
  const fs::path aside = dir.path / "aside" / "s.1.db";
  CHECK(rewind_log(dir.path, "s", pos[0].rows, aside, "{}") == 2);
  CHECK(log_end(dir.path, "s") == 1);
  CHECK(Reader(aside).count() == 2);
  ro.resume_period = pos[0].open_period;
  {
    Logger lg(o);
    auto id = lg.register_array("s", in, ro);
    for (std::int64_t t = 6; t < 8; ++t) {
      const std::vector<std::int32_t> v = {static_cast<std::int32_t>(t), 1};
      lg.log(id, {KeyRef::of(t)}, std::span<const std::int32_t>(v));
    }
    lg.close();
  }
  Reader rd(dir.path / "s.db");
  Query q = rd.query();
  std::vector<std::int64_t> sums;
  while (q.next()) {
    std::int64_t v[2];
    std::memcpy(v, q.array_bytes().data(), 16);
    sums.push_back(v[0]);
    CHECK(v[1] == 4);
  }
  CHECK(sums == std::vector<std::int64_t>{0 + 1 + 2 + 3, 4 + 5 + 6 + 7});
}
