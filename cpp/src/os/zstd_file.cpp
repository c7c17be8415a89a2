#include "os/zstd_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getCParams
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include "array_logger/errors.hpp"
#include "os/crash_point.hpp"
#include "os/fail_point.hpp"
#include "os/file_ops.hpp"
#include "os/zstd_ptr.hpp"

namespace array_logger::detail {
namespace {

std::size_t read_some(const Fd& fd, void* buf, std::size_t n, const std::filesystem::path& path) {
  for (;;) {
    ssize_t got = fail_injected("read") ? -1 : ::read(fd.get(), buf, n);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) throw_errno("cannot read " + path.string(), errno);
  }
}

}  // namespace

void compress_file(const std::filesystem::path& src, const std::filesystem::path& dst, int level,
                   int workers, const ProgressFn& progress) {
  Fd in = open_file(src, O_RDONLY);
  struct stat st;
  if (fail_injected("fstat") || ::fstat(in.get(), &st) != 0) throw_errno("cannot stat " + src.string(), errno);
  const auto total = static_cast<std::uint64_t>(st.st_size);
  Fd out = open_file(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  ZstdPtr<ZSTD_CCtx> cctx = make_zstd_cctx();
  check_zstd(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level), "zstd level");
  check_zstd(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1), "zstd checksum");
  if (workers > 0) {
    // Fails harmlessly on a libzstd built without multithreading.
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, workers);
  }
  // Bound memory: the strongest levels size their match tables to the input
  // (about 400 MB for a 20 MB file at level 22, per worker). A 4 MiB window
  // and 2^21-entry tables keep every level to ~25 MB per worker. Measured on
  // the benchmark's random-walk file at level 22: the same size within 0.1%,
  // 78 instead of 460 MiB peak RSS, 9 instead of 14 s.
  {
    ZSTD_compressionParameters cp = ZSTD_getCParams(level, total, 0);
    constexpr unsigned window_cap = 22;
    constexpr unsigned table_cap = 21;
    if (cp.windowLog > window_cap) ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, static_cast<int>(window_cap));
    if (cp.chainLog > table_cap) ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_chainLog, static_cast<int>(table_cap));
    if (cp.hashLog > table_cap) ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_hashLog, static_cast<int>(table_cap));
    // zstd's default job is 4 windows: a file smaller than that would go to a
    // single worker. Split it so that every worker gets work.
    if (workers > 1) {
      const std::uint64_t job = std::max<std::uint64_t>(1u << 20, total / (2u * static_cast<unsigned>(workers)));
      const std::uint64_t default_job = 4ull << std::min(cp.windowLog, window_cap);
      if (job < default_job) ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_jobSize, static_cast<int>(job));
    }
  }
  // The content size lets zstd size its window to the file and is recorded
  // in the frame header, so readers can preallocate.
  check_zstd(ZSTD_CCtx_setPledgedSrcSize(cctx.get(), total), "zstd pledged size");

  std::vector<char> inbuf(ZSTD_CStreamInSize() * 8);
  std::vector<char> outbuf(ZSTD_CStreamOutSize() * 8);
  std::uint64_t done = 0;
  std::uint64_t next_report = 64ull << 20;
  for (;;) {
    std::size_t got = read_some(in, inbuf.data(), inbuf.size(), src);
    const bool last = done + got >= total || got == 0;
    const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer input{inbuf.data(), got, 0};
    bool finished = false;
    do {
      ZSTD_outBuffer output{outbuf.data(), outbuf.size(), 0};
      std::size_t remaining = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
      check_zstd(remaining, "zstd compression failed");
      write_all(out.get(), outbuf.data(), output.pos, dst);
      finished = last ? (remaining == 0) : (input.pos == input.size);
    } while (!finished);
    done += got;
    if (progress && done >= next_report) {
      progress(done, total);
      next_report = done + (64ull << 20);
    }
    if (last) break;
  }
  if (done != total) throw StorageError(src.string() + " changed size while being compressed");
  crash_point("close.compress.before_fsync");
  fsync_fd(out, dst);
  if (progress) progress(total, total);
}

void decompress_to_fd(const std::filesystem::path& src, const Fd& dst, const std::filesystem::path& dst_name) {
  Fd in = open_file(src, O_RDONLY);
  ZstdPtr<ZSTD_DCtx> dctx = make_zstd_dctx();
  // Refuse frames that would need more than a 2 GiB window (hostile input).
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 31);
  std::vector<char> inbuf(ZSTD_DStreamInSize() * 8);
  std::vector<char> outbuf(ZSTD_DStreamOutSize() * 8);
  std::size_t last_rc = 0;
  bool any_input = false;
  for (;;) {
    std::size_t got = read_some(in, inbuf.data(), inbuf.size(), src);
    if (got == 0) break;
    any_input = true;
    ZSTD_inBuffer input{inbuf.data(), got, 0};
    bool output_full;
    // Keep calling while input remains or the decoder filled the output
    // (then it may hold more decoded bytes).
    do {
      ZSTD_outBuffer output{outbuf.data(), outbuf.size(), 0};
      last_rc = ZSTD_decompressStream(dctx.get(), &output, &input);
      if (ZSTD_isError(last_rc))
        throw CorruptFile(src.string() + " is not a valid zstd file: " + ZSTD_getErrorName(last_rc));
      write_all(dst.get(), outbuf.data(), output.pos, dst_name);
      output_full = output.pos == output.size;
    } while (input.pos < input.size || output_full);
  }
  // last_rc == 0: the last frame is complete and fully flushed.
  if (!any_input || last_rc != 0)
    throw CorruptFile(src.string() + " is truncated: its zstd frame is incomplete");
  crash_point("decompress.before_fsync");
  fsync_fd(dst, dst_name);
}

void decompress_file(const std::filesystem::path& src, const std::filesystem::path& dst, int mode) {
  Fd out = open_file(dst, O_WRONLY | O_CREAT | O_TRUNC, mode);
  decompress_to_fd(src, out, dst);
}


}  // namespace array_logger::detail
