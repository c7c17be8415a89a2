#include "os/crash_point.hpp"
#include "os/segmented_zstd.hpp"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_c_stableInBuffer, ZSTD_c_stableOutBuffer
#include <zstd.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "array_logger/errors.hpp"
#include "os/fail_point.hpp"
#include "os/file_ops.hpp"
#include "os/zstd_policy.hpp"

namespace array_logger::detail {
namespace {

void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

// zstd's seekable format (contrib/seekable_format in the zstd sources): a
// skippable frame listing each frame's compressed and decompressed size,
// ignored by every decoder, closing the stream.
std::vector<std::byte> seek_table(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& frames) {
  constexpr std::uint32_t kSkippableMagic = 0x184D2A5E, kSeekableMagic = 0x8F92EAB1;
  std::vector<std::byte> out;
  put_u32(out, kSkippableMagic);
  put_u32(out, static_cast<std::uint32_t>(frames.size() * 8 + 9));
  for (auto [compressed, decompressed] : frames) {
    put_u32(out, compressed);
    put_u32(out, decompressed);
  }
  put_u32(out, static_cast<std::uint32_t>(frames.size()));
  out.push_back(std::byte{0});  // descriptor: no per-frame checksums (each frame has its own)
  put_u32(out, kSeekableMagic);
  return out;
}

}  // namespace

SegmentCompressor::SegmentCompressor(int level)
    : level_(level), cctx_(make_zstd_cctx()), dctx_(make_zstd_dctx()) {}

bool SegmentCompressor::compress(std::span<const std::byte> segment, std::vector<std::byte>& out,
                                 const std::atomic<bool>* cancel, bool record_size) {
  const ZstdParams p = choose_params(cctx_.get(), level_, segment, scratch_);
  apply_params(cctx_.get(), p, segment.size());
  // The whole segment and a worst-case output are in memory: zstd need not
  // copy either into buffers of its own.
  check_zstd(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_stableInBuffer, 1), "zstd stable input");
  check_zstd(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_stableOutBuffer, 1), "zstd stable output");
  if (!record_size) check_zstd(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_contentSizeFlag, 0), "zstd content size");
  out.resize(ZSTD_compressBound(segment.size()));
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  // Fed in steps only to be cancellable; zstd sees one frame either way.
  constexpr std::size_t kStep = 256u << 10;
  for (std::size_t pos = 0;;) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return false;
    const std::size_t n = std::min(kStep, segment.size() - pos);
    const bool last = pos + n == segment.size();
    ZSTD_inBuffer input{segment.data(), pos + n, pos};
    std::size_t left;
    do {
      left = ZSTD_compressStream2(cctx_.get(), &output, &input, last ? ZSTD_e_end : ZSTD_e_continue);
      check_zstd(left, "zstd compression failed");
    } while (input.pos < input.size || (last && left != 0));
    pos += n;
    if (last) break;
  }
  out.resize(output.pos);
  return true;
}

bool SegmentCompressor::frame_holds(std::span<const std::byte> frame, std::span<const std::byte> segment) {
  if (ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size()) return false;
  if (ZSTD_getFrameContentSize(frame.data(), frame.size()) != segment.size()) return false;
  scratch_.resize(segment.size());
  const std::size_t n = ZSTD_decompressDCtx(dctx_.get(), scratch_.data(), scratch_.size(), frame.data(), frame.size());
  return !ZSTD_isError(n) && n == segment.size() && std::memcmp(scratch_.data(), segment.data(), n) == 0;
}

namespace {

// A job's input and output while it is being compressed.
struct OpenJob {
  Fd in, out;
  std::uint64_t total = 0, count = 0, next_report = 64ull << 20;
};

void open_job(const SegmentedJob& job, OpenJob& o) {
  o.in = open_file(job.src, O_RDONLY);
  struct stat st;
  if (fail_injected("fstat") || ::fstat(o.in.get(), &st) != 0) throw_errno("cannot stat " + job.src.string(), errno);
  o.total = static_cast<std::uint64_t>(st.st_size);
  // An empty file still becomes one (empty) frame: a valid zstd stream.
  o.count = std::max<std::uint64_t>(1, (o.total + kSegmentBytes - 1) / kSegmentBytes);
  o.out = open_file(job.dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

}  // namespace

std::vector<std::exception_ptr> compress_files_segmented(std::vector<SegmentedJob>& jobs, int level, int workers,
                                                         std::vector<SegmentedStats>* stats_out) {
  std::vector<OpenJob> open(jobs.size());
  std::vector<std::exception_ptr> errors(jobs.size());
  std::vector<SegmentedStats> stats(jobs.size());
  // Every job is opened (and sized) first: the work list is (job, segment)
  // in order. A job that cannot be opened has no segments.
  struct Unit {
    std::size_t job;
    std::uint64_t segment;
  };
  std::vector<Unit> units;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    try {
      open_job(jobs[j], open[j]);
      for (std::uint64_t i = 0; i < open[j].count; ++i) units.push_back({j, i});
    } catch (...) {
      errors[j] = std::current_exception();
    }
  }
  workers = static_cast<int>(std::clamp<std::size_t>(static_cast<std::size_t>(std::max(workers, 1)), 1,
                                                     std::max<std::size_t>(units.size(), 1)));

  // Workers take units in order and leave each frame in a slot; this thread
  // writes the slots in order. At most `window` frames wait, which bounds
  // memory to a few segments per worker.
  struct Slot {
    std::vector<std::byte> frame;
    bool ready = false, reused = false;
    std::exception_ptr error;
  };
  const std::size_t window = 2 * static_cast<std::size_t>(workers);
  std::vector<Slot> slots(window);
  std::mutex mu;
  std::condition_variable cv;
  std::size_t next = 0, written = 0;
  bool abort = false;

  auto work = [&] {
    SegmentCompressor sc(level);
    std::vector<std::byte> segment, frame;
    for (;;) {
      std::size_t u;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return abort || next >= units.size() || next < written + window; });
        if (abort || next >= units.size()) return;
        u = next++;
      }
      const OpenJob& o = open[units[u].job];
      const SegmentedJob& job = jobs[units[u].job];
      const std::uint64_t i = units[u].segment;
      bool reused = false;
      std::exception_ptr error;
      try {
        const std::uint64_t off = i * kSegmentBytes;
        segment.resize(static_cast<std::size_t>(std::min(kSegmentBytes, o.total - std::min(o.total, off))));
        const std::int64_t got = pread_full(o.in.get(), segment.data(), segment.size(), off, Injectable::yes);
        if (got < 0) throw_errno("cannot read " + job.src.string(), errno);
        if (static_cast<std::size_t>(got) < segment.size())
          throw StorageError(job.src.string() + " shrank while being compressed");
        // The first frame of a multi-frame file does not record its size:
        // a decoder that reads one frame only and trusts that size (zstandard's
        // ZstdDecompressor().decompress) then fails instead of returning the
        // first segment as if it were the file.
        const bool first_of_many = i == 0 && o.count > 1;
        std::optional<std::vector<std::byte>> cached =
            job.cache && !first_of_many ? job.cache->frame(i) : std::nullopt;
        if (cached && sc.frame_holds(*cached, segment)) {
          frame = std::move(*cached);
          reused = true;
        } else {
          sc.compress(segment, frame, nullptr, !first_of_many);
        }
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard lock(mu);
      Slot& s = slots[u % window];
      s.frame.swap(frame);
      s.reused = reused;
      s.error = error;
      s.ready = true;
      cv.notify_all();
    }
  };

  // This thread: write frame by frame; close each file with its seek table,
  // fsync and finish; on a job's error drop the rest of its frames.
  auto fail_job = [&](std::size_t j, std::exception_ptr e) {
    if (!errors[j]) errors[j] = e;
    open[j].out = Fd();
    try {
      remove_if_exists(jobs[j].dst);
    } catch (...) {  // the first error is the one to report
    }
  };
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> sizes(jobs.size());
  std::vector<std::thread> threads;
  std::exception_ptr fatal;
  try {
    for (int t = 0; t < workers; ++t) threads.emplace_back(work);
    std::vector<std::byte> frame;
    for (std::size_t w = 0; w < units.size(); ++w) {
      bool reused;
      std::exception_ptr error;
      {
        std::unique_lock lock(mu);
        Slot& s = slots[w % window];
        cv.wait(lock, [&] { return s.ready; });
        frame.swap(s.frame);
        reused = s.reused;
        error = s.error;
        s.ready = false;
        ++written;
        cv.notify_all();
      }
      const std::size_t j = units[w].job;
      const SegmentedJob& job = jobs[j];
      OpenJob& o = open[j];
      if (errors[j]) continue;
      try {
        if (error) std::rethrow_exception(error);
        write_all(o.out.get(), frame.data(), frame.size(), job.dst);
        const std::uint64_t seg_bytes = std::min(kSegmentBytes, o.total - std::min(o.total, units[w].segment * kSegmentBytes));
        sizes[j].emplace_back(static_cast<std::uint32_t>(frame.size()), static_cast<std::uint32_t>(seg_bytes));
        stats[j].segments += 1;
        stats[j].reused += reused ? 1 : 0;
        stats[j].compressed_bytes += frame.size();
        const std::uint64_t done = std::min(o.total, (units[w].segment + 1) * kSegmentBytes);
        if (job.progress && (done >= o.next_report || done == o.total)) {  // every 64 MiB and at the end
          job.progress(done, o.total);
          o.next_report = done + (64ull << 20);
        }
        if (units[w].segment + 1 == o.count) {
          const std::vector<std::byte> table = seek_table(sizes[j]);
          write_all(o.out.get(), table.data(), table.size(), job.dst);
          stats[j].compressed_bytes += table.size();
          struct stat after;
          if (fail_injected("fstat") || ::fstat(o.in.get(), &after) != 0) throw_errno("cannot stat " + job.src.string(), errno);
          if (static_cast<std::uint64_t>(after.st_size) != o.total)
            throw StorageError(job.src.string() + " changed size while being compressed");
          crash_point("close.compress.before_fsync");
          fsync_fd(o.out, job.dst);
          o.out = Fd();
          o.in = Fd();
          if (job.finish) job.finish();
        }
      } catch (...) {
        fail_job(j, std::current_exception());
      }
    }
  } catch (...) {
    fatal = std::current_exception();  // e.g. a thread could not start
  }
  {
    std::lock_guard lock(mu);
    abort = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  if (fatal) {
    for (std::size_t j = 0; j < jobs.size(); ++j)
      if (!errors[j] && open[j].out.get() >= 0) fail_job(j, fatal);
  }
  if (stats_out) *stats_out = std::move(stats);
  return errors;
}

SegmentedStats compress_file_segmented(const std::filesystem::path& src, const std::filesystem::path& dst,
                                       int level, int workers, FrameCache* cache, const ProgressFn& progress) {
  std::vector<SegmentedJob> jobs(1);
  jobs[0].src = src;
  jobs[0].dst = dst;
  jobs[0].cache = cache;
  jobs[0].progress = progress;
  std::vector<SegmentedStats> stats;
  auto errors = compress_files_segmented(jobs, level, workers, &stats);
  if (errors[0]) std::rethrow_exception(errors[0]);
  return stats[0];
}

}  // namespace array_logger::detail
