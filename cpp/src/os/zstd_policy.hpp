// What a compression level means for one segment of a file: the close-time
// compression treats the level as a size target and an effort ceiling, not
// as an order to burn CPU where it cannot pay (docs/DESIGN.md, "Close").
//
// For the strong levels (13..22) each segment gets the cheapest of a short
// ladder of zstd parameter sets whose output on a sample of that segment is
// within kSampleTolerance of the level's own; the other levels are used as
// they are. Every parameter set bounds zstd's memory (window and tables).
#pragma once

#include <zstd.h>

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace array_logger::detail {

// One set of zstd parameters. Fields left at 0 keep what the level says.
struct ZstdParams {
  std::string_view name;  // for notes and tests: "level", "ultra-lite", "opt-mid"
  int level = 3;
  int strategy = 0, window_log = 0, chain_log = 0, hash_log = 0, search_log = 0, min_match = 0,
      target_length = 0;
};

// A sample may be this much larger than the level's own output on it.
inline constexpr double kSampleTolerance = 0.02;
// Bytes of a segment compressed with each candidate to choose among them.
inline constexpr std::size_t kSampleBytes = 128u << 10;

// The level's own parameters with 2.0.0's memory bounds (4 MiB window,
// 2^21-entry tables: ~25 MB per context at level 22).
ZstdParams level_params(int level);
// Cheapest first, the level's own parameters last.
std::vector<ZstdParams> candidate_params(int level);
// Sets `p` on `cctx` (after a reset) for an input of `src_size` bytes, with
// the content checksum on. Throws StorageError.
void apply_params(ZSTD_CCtx* cctx, const ZstdParams& p, std::size_t src_size);
// The parameters for one segment: the first candidate whose compressed
// sample is within tolerance of the level's own. `scratch` is reused.
ZstdParams choose_params(ZSTD_CCtx* cctx, int level, std::span<const std::byte> segment,
                         std::vector<std::byte>& scratch);

}  // namespace array_logger::detail
