// Close-time compression of a database file as a sequence of independent
// zstd frames, one per fixed-size segment, compressed by several threads
// and written in order: one standard zstd stream (RFC 8878 allows
// concatenated frames; `zstd -d` and every streaming decoder read it), with
// a seek table at the end (zstd's seekable format) that records each
// frame's sizes.
//
// Frames compressed earlier (FrameCache, e.g. during the run) are reused
// only when they decompress to exactly the segment's current bytes, so the
// output always decompresses to the file as it is now.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "os/zstd_file.hpp"  // ProgressFn
#include "os/zstd_ptr.hpp"

namespace array_logger::detail {

// Bytes of the .db per frame. 4 MiB frames cost ~0.2% in size against one
// frame at level 22 on the benchmark's data; smaller ones cost more, larger
// ones leave fewer frames to compress in parallel (and to reuse).
inline constexpr std::uint64_t kSegmentBytes = 4ull << 20;

// Frames compressed earlier, by segment index. May be stale or wrong: they
// are verified before use.
class FrameCache {
 public:
  virtual ~FrameCache() = default;
  // The frame compressed for segment `index`, if any.
  virtual std::optional<std::vector<std::byte>> frame(std::uint64_t index) = 0;
};

struct SegmentedStats {
  std::uint64_t segments = 0, reused = 0, compressed_bytes = 0;
};

// Compresses one segment's bytes into a frame at `level` (parameters chosen
// by the policy of os/zstd_policy.hpp). Thread-compatible: one per thread.
class SegmentCompressor {
 public:
  explicit SegmentCompressor(int level);
  // The frame for `segment` (in `out`, replaced), its content size recorded
  // unless `record_size` is false. With `cancel`, gives up (returns false)
  // soon after it becomes true.
  bool compress(std::span<const std::byte> segment, std::vector<std::byte>& out,
                const std::atomic<bool>* cancel = nullptr, bool record_size = true);
  // True when `frame` is one complete zstd frame whose content is exactly `segment`.
  bool frame_holds(std::span<const std::byte> frame, std::span<const std::byte> segment);

 private:
  int level_;
  ZstdPtr<ZSTD_CCtx> cctx_;
  ZstdPtr<ZSTD_DCtx> dctx_;
  std::vector<std::byte> scratch_;
};

// One file to compress: `src` into `dst` (created 0644, truncated, fsynced
// when complete). `finish` (optional) runs on the calling thread as soon as
// `dst` is complete and synced (e.g. renames it into place and removes
// `src`) while the workers go on with the next files. `cache` may be null.
struct SegmentedJob {
  std::filesystem::path src, dst;
  FrameCache* cache = nullptr;
  std::function<void()> finish;
  ProgressFn progress;
};

// Compresses every job, in order, with one pool of `workers` threads (at
// least 1) taking segments across files, so small files and the last
// segment of a file leave no core idle. A job that fails (a read error, a
// full disk, its finish throwing) gets its error in the result, its `dst`
// is removed, and the others go on. Returns one entry per job (null = done).
std::vector<std::exception_ptr> compress_files_segmented(std::vector<SegmentedJob>& jobs, int level, int workers,
                                                         std::vector<SegmentedStats>* stats = nullptr);

// One file; throws what compress_files_segmented reports.
SegmentedStats compress_file_segmented(const std::filesystem::path& src, const std::filesystem::path& dst,
                                       int level, int workers, FrameCache* cache, const ProgressFn& progress);

}  // namespace array_logger::detail
