#include "os/zstd_policy.hpp"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getCParams, strategy constants
#include <zstd.h>

#include <algorithm>

#include "os/zstd_ptr.hpp"

namespace array_logger::detail {
namespace {

constexpr int kWindowCap = 22;  // 4 MiB: one segment
constexpr int kTableCap = 21;

// Measured on array_logger databases (random-walk float32, quantised
// values, 2 KB Q-value rows; notes in benchmarks/RESULTS.md): on float data
// nearly all of level 22's gain over level 3 comes from the optimal parser
// taking 3-byte matches (btultra, minMatch 3), not from deep searches, so a
// btultra with 2^16-entry tables and one search step lands within ~1% of
// level 22 at ~3x its speed. Quantised data needs the deep search: there a
// btopt with level 17's tables is within 0.5% of level 22 at ~1.8x.
constexpr ZstdParams kUltraLite{"ultra-lite", 19, ZSTD_btultra, kWindowCap, 16, 16, 1, 3, 8};
constexpr ZstdParams kOptMid{"opt-mid", 17, ZSTD_btopt, kWindowCap, kTableCap, kTableCap, 5, 4, 64};

void set(ZSTD_CCtx* cctx, ZSTD_cParameter p, int v, const char* what) {
  if (v != 0) check_zstd(ZSTD_CCtx_setParameter(cctx, p, v), what);
}

}  // namespace

ZstdParams level_params(int level) {
  ZstdParams p{"level", level};
  // The level's own table for a segment-sized input, then the caps.
  ZSTD_compressionParameters cp = ZSTD_getCParams(level, 4u << 20, 0);
  p.window_log = std::min(static_cast<int>(cp.windowLog), kWindowCap);
  p.chain_log = std::min(static_cast<int>(cp.chainLog), kTableCap);
  p.hash_log = std::min(static_cast<int>(cp.hashLog), kTableCap);
  return p;
}

std::vector<ZstdParams> candidate_params(int level) {
  std::vector<ZstdParams> out;
  if (level >= 13) out.push_back(kUltraLite);  // cheaper than btlazy2 and up
  if (level >= 18) out.push_back(kOptMid);     // cheaper than btultra and up
  out.push_back(level_params(level));
  return out;
}

void apply_params(ZSTD_CCtx* cctx, const ZstdParams& p, std::size_t src_size) {
  check_zstd(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters), "zstd reset");
  check_zstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, p.level), "zstd level");
  check_zstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1), "zstd checksum");
  set(cctx, ZSTD_c_strategy, p.strategy, "zstd strategy");
  set(cctx, ZSTD_c_windowLog, p.window_log, "zstd window");
  set(cctx, ZSTD_c_chainLog, p.chain_log, "zstd chain log");
  set(cctx, ZSTD_c_hashLog, p.hash_log, "zstd hash log");
  set(cctx, ZSTD_c_searchLog, p.search_log, "zstd search log");
  set(cctx, ZSTD_c_minMatch, p.min_match, "zstd min match");
  set(cctx, ZSTD_c_targetLength, p.target_length, "zstd target length");
  // Recorded in the frame header; also lets zstd shrink its tables to it.
  check_zstd(ZSTD_CCtx_setPledgedSrcSize(cctx, src_size), "zstd pledged size");
}

ZstdParams choose_params(ZSTD_CCtx* cctx, int level, std::span<const std::byte> segment,
                         std::vector<std::byte>& scratch) {
  std::vector<ZstdParams> ladder = candidate_params(level);
  // Sampling costs the level's own pass on the sample: only worth it when
  // the segment is much larger than the sample.
  if (ladder.size() == 1 || segment.size() < 4 * kSampleBytes) return ladder.back();
  const auto sample = segment.subspan((segment.size() - kSampleBytes) / 2, kSampleBytes);
  scratch.resize(ZSTD_compressBound(sample.size()));
  auto size_with = [&](const ZstdParams& p) {
    apply_params(cctx, p, sample.size());
    std::size_t n = ZSTD_compress2(cctx, scratch.data(), scratch.size(), sample.data(), sample.size());
    check_zstd(n, "zstd compression failed");
    return n;
  };
  const double target = static_cast<double>(size_with(ladder.back())) * (1.0 + kSampleTolerance);
  for (std::size_t i = 0; i + 1 < ladder.size(); ++i)
    if (static_cast<double>(size_with(ladder[i])) <= target) return ladder[i];
  return ladder.back();
}

}  // namespace array_logger::detail
