// Close-time compression pieces (os/zstd_policy, os/segmented_zstd,
// os/frame_cache_file, write/background_compressor): exact round trips,
// verified reuse of frames, the seek table, the policy's ladder.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <zstd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <thread>

#include "array_logger/errors.hpp"
#include "os/frame_cache_file.hpp"
#include "os/segmented_zstd.hpp"
#include "os/zstd_policy.hpp"
#include "os/zstd_ptr.hpp"
#include "write/background_compressor.hpp"
#include "temp_dir.hpp"

using namespace array_logger;
using namespace array_logger::detail;
namespace fs = std::filesystem;

namespace {

// Float32 random walk bytes (the benchmark's data), deterministic.
std::vector<std::byte> walk_bytes(std::size_t n_bytes, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> step(0.0f, 0.01f);
  std::vector<float> v(n_bytes / 4);
  float x = 0;
  for (auto& f : v) f = (x += step(rng));
  std::vector<std::byte> out(n_bytes);
  if (!v.empty()) std::memcpy(out.data(), v.data(), v.size() * 4);
  return out;
}

void write_file(const fs::path& p, const std::vector<std::byte>& b) {
  std::ofstream o(p, std::ios::binary | std::ios::trunc);
  o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<std::byte> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), {});
  std::vector<std::byte> out(c.size());
  std::memcpy(out.data(), c.data(), c.size());
  return out;
}

// Decompresses a whole stream (every frame) with zstd's streaming decoder.
std::vector<std::byte> decompress_all(const std::vector<std::byte>& z) {
  ZstdPtr<ZSTD_DCtx> d = make_zstd_dctx();
  std::vector<std::byte> out, buf(1 << 20);
  ZSTD_inBuffer in{z.data(), z.size(), 0};
  std::size_t rc = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(d.get(), &o, &in);
    REQUIRE(!ZSTD_isError(rc));
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(o.pos));
  }
  CHECK(rc == 0);
  return out;
}

std::uint32_t u32_at(const std::vector<std::byte>& b, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint32_t>(b[at + static_cast<std::size_t>(i)]);
  return v;
}

// A cache serving given frames by index.
struct MapCache : FrameCache {
  std::map<std::uint64_t, std::vector<std::byte>> frames;
  std::optional<std::vector<std::byte>> frame(std::uint64_t i) override {
    auto it = frames.find(i);
    if (it == frames.end()) return std::nullopt;
    return it->second;
  }
};

}  // namespace

TEST_CASE("policy: the level's own parameters come last, cheaper ones only for strong levels") {
  CHECK(candidate_params(3).size() == 1);
  CHECK(candidate_params(12).size() == 1);
  CHECK(candidate_params(13).front().name == "ultra-lite");
  auto ladder = candidate_params(22);
  REQUIRE(ladder.size() == 3);
  CHECK(ladder[0].name == "ultra-lite");
  CHECK(ladder[1].name == "opt-mid");
  CHECK(ladder[2].name == "level");
  CHECK(ladder[2].level == 22);
  CHECK(ladder[2].window_log == 22);  // memory bound: a 4 MiB window at most
  // On float data the cheap set is chosen; on data where the level's search
  // pays (a repeated pattern with variation) a stronger one.
  ZstdPtr<ZSTD_CCtx> c = make_zstd_cctx();
  std::vector<std::byte> scratch;
  CHECK(choose_params(c.get(), 22, walk_bytes(kSegmentBytes, 1), scratch).name == "ultra-lite");
  CHECK(choose_params(c.get(), 3, walk_bytes(kSegmentBytes, 1), scratch).name == "level");
}

TEST_CASE("segmented files decompress to exactly the source, frames plus a seek table") {
  TempDir dir;
  for (std::size_t size : {std::size_t{0}, std::size_t{1000}, std::size_t{kSegmentBytes},
                           std::size_t{2 * kSegmentBytes + 12345}}) {
    CAPTURE(size);
    auto src = walk_bytes(size, 7);
    write_file(dir.path / "a.db", src);
    SegmentedStats st = compress_file_segmented(dir.path / "a.db", dir.path / "a.zst", 3, 2, nullptr, {});
    const auto z = read_file(dir.path / "a.zst");
    CHECK(st.compressed_bytes == z.size());
    CHECK(st.segments == std::max<std::uint64_t>(1, (size + kSegmentBytes - 1) / kSegmentBytes));
    CHECK(decompress_all(z) == src);
    // Seekable format footer: number of frames, descriptor 0, magic.
    CHECK(u32_at(z, z.size() - 4) == 0x8F92EAB1u);
    CHECK(u32_at(z, z.size() - 9) == st.segments);
    // Only a multi-frame file's first frame hides its size.
    const auto first = ZSTD_getFrameContentSize(z.data(), z.size());
    if (st.segments > 1)
      CHECK(first == ZSTD_CONTENTSIZE_UNKNOWN);
    else
      CHECK(first == size);
  }
}

TEST_CASE("frames from a cache are used only when they hold the segment's current bytes") {
  TempDir dir;
  auto src = walk_bytes(3 * kSegmentBytes + 100, 3);
  write_file(dir.path / "a.db", src);
  SegmentCompressor sc(3);
  MapCache cache;
  auto seg = [&](std::uint64_t i) {
    const std::size_t off = i * kSegmentBytes;
    return std::span<const std::byte>(src.data() + off, std::min<std::size_t>(kSegmentBytes, src.size() - off));
  };
  for (std::uint64_t i = 0; i < 4; ++i) REQUIRE(sc.compress(seg(i), cache.frames[i]));
  // Segment 2's frame is stale (made from other bytes), segment 3's is garbage.
  auto other = walk_bytes(kSegmentBytes, 99);
  REQUIRE(sc.compress(other, cache.frames[2]));
  cache.frames[3].resize(cache.frames[3].size() / 2);
  CHECK_FALSE(sc.frame_holds(cache.frames[2], seg(2)));
  CHECK(sc.frame_holds(cache.frames[1], seg(1)));
  SegmentedStats st = compress_file_segmented(dir.path / "a.db", dir.path / "a.zst", 3, 2, &cache, {});
  CHECK(st.segments == 4);
  CHECK(st.reused == 1);  // segment 1 (segment 0 is always compressed: its frame hides its size)
  CHECK(decompress_all(read_file(dir.path / "a.zst")) == src);
}

TEST_CASE("several files share one pool; each is finished in order; a failing one does not stop the others") {
  TempDir dir;
  std::vector<SegmentedJob> jobs(3);
  std::vector<std::vector<std::byte>> srcs;
  std::vector<std::string> finished;
  for (int i = 0; i < 3; ++i) {
    srcs.push_back(walk_bytes(static_cast<std::size_t>(i + 1) * kSegmentBytes / 2, 10u + static_cast<unsigned>(i)));
    jobs[i].src = dir.path / ("f" + std::to_string(i) + ".db");
    jobs[i].dst = dir.path / ("f" + std::to_string(i) + ".zst");
    if (i != 1) write_file(jobs[i].src, srcs.back());  // f1.db is missing
    jobs[i].finish = [&finished, i] { finished.push_back("f" + std::to_string(i)); };
  }
  auto errors = compress_files_segmented(jobs, 3, 2);
  CHECK_FALSE(errors[0]);
  CHECK(errors[1]);
  CHECK_THROWS_AS(std::rethrow_exception(errors[1]), StorageError);
  CHECK_FALSE(errors[2]);
  CHECK(finished == std::vector<std::string>{"f0", "f2"});
  CHECK(decompress_all(read_file(jobs[0].dst)) == srcs[0]);
  CHECK(decompress_all(read_file(jobs[2].dst)) == srcs[2]);
  CHECK_FALSE(fs::exists(jobs[1].dst));
}

TEST_CASE("the background compressor caches settled segments and the side file goes with the cache") {
  TempDir dir;
  const fs::path db = dir.path / "g.db", side = dir.path / ".g.db.zst.frames";
  auto src = walk_bytes(4 * kSegmentBytes, 21);
  write_file(db, src);
  auto cache = std::make_shared<FrameCacheFile>(side);
  {
    BackgroundCompressor bg(3);
    bg.watch(db, cache);
    // Settled: segments 1 and 2 (the file extends a segment past them);
    // segment 0 is left to close, segment 3 is the tail.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!(cache->has(1) && cache->has(2))) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bg.stop();
  }
  CHECK_FALSE(cache->has(0));
  CHECK_FALSE(cache->has(3));
  CHECK(fs::exists(side));
  // The file changes after the fact: segment 2's frame is stale.
  src[2 * kSegmentBytes + 5] ^= std::byte{1};
  write_file(db, src);
  SegmentedStats st = compress_file_segmented(db, dir.path / "g.zst", 3, 2, cache.get(), {});
  CHECK(st.reused == 1);
  CHECK(decompress_all(read_file(dir.path / "g.zst")) == src);
  cache.reset();
  CHECK_FALSE(fs::exists(side));
}
