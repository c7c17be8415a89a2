#include "write/background_compressor.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <chrono>

#include "array_logger/errors.hpp"

namespace array_logger::detail {
namespace {

// Polling period while nothing is settled: a run grows its file by a
// segment in about a second at most (64 MiB checkpoints in WAL mode).
constexpr auto kPoll = std::chrono::milliseconds(250);

void lower_this_threads_priority() noexcept {
#if defined(__linux__)
  // Linux applies nice values per thread: yield to the writer thread and to
  // the user's own computation, use only what would be idle.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
#endif
}

// Free space the cache must leave to the databases: it is only worth having
// while it cannot be what makes SQLite's next write fail.
constexpr std::uint64_t kKeepFreeBytes = 256ull << 20;

bool room_for(const std::filesystem::path& dir, std::uint64_t bytes) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return false;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize >= bytes + kKeepFreeBytes;
}

}  // namespace

BackgroundCompressor::BackgroundCompressor(int level) : level_(level) {}

BackgroundCompressor::~BackgroundCompressor() { stop(); }

void BackgroundCompressor::watch(std::filesystem::path db, std::shared_ptr<FrameCacheFile> cache) {
  std::lock_guard lock(mu_);
  if (stop_) return;
  files_.push_back(Watched{std::move(db), std::move(cache)});
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void BackgroundCompressor::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cancel_.store(true);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  files_.clear();
}

void BackgroundCompressor::run() {
  lower_this_threads_priority();
  // Created on the first settled segment, and kept: up to ~25 MB at level 22.
  std::unique_ptr<SegmentCompressor> sc;
  std::vector<std::byte> segment, frame;
  for (;;) {
    bool did = false;
    try {
      did = step(sc, segment, frame);
    } catch (...) {  // step() marks the file it failed on; nothing else to do
    }
    std::unique_lock lock(mu_);
    if (stop_) return;
    if (!did) cv_.wait_for(lock, kPoll, [this] { return stop_; });
    if (stop_) return;
  }
}

bool BackgroundCompressor::step(std::unique_ptr<SegmentCompressor>& sc, std::vector<std::byte>& segment,
                                std::vector<std::byte>& frame) {
  std::vector<Watched> files;
  {
    std::lock_guard lock(mu_);
    files = files_;
  }
  for (std::size_t k = 0; k < files.size(); ++k) {
    Watched& w = files[k];
    if (w.failed) continue;
    auto mark_failed = [&] {
      std::lock_guard lock(mu_);
      for (auto& f : files_)
        if (f.db == w.db) f.failed = true;
    };
    try {
      std::error_code ec;
      const std::uint64_t size = std::filesystem::file_size(w.db, ec);
      if (ec) continue;
      // Segment 0 holds page 1, rewritten by every commit: close compresses it.
      for (std::uint64_t i = 1; (i + 1) * kSegmentBytes + kSettleBytes <= size; ++i) {
        if (w.cache->has(i)) continue;
        Fd fd = open_file(w.db, O_RDONLY);
        segment.resize(kSegmentBytes);
        if (pread_full(fd.get(), segment.data(), segment.size(), i * kSegmentBytes, Injectable::no) !=
            static_cast<std::int64_t>(segment.size()))
          break;
        if (!sc) sc = std::make_unique<SegmentCompressor>(level_);
        if (!sc->compress(segment, frame, &cancel_)) return false;
        if (!room_for(w.db.parent_path(), frame.size())) {
          w.cache->drop();  // give the space back; close compresses everything
          mark_failed();
          return false;
        }
        w.cache->add(i, frame);
        return true;  // one segment per step: stop() is never kept waiting long
      }
    } catch (...) {
      w.cache->drop();  // a full disk, a vanished file: close compresses it all
      mark_failed();
    }
  }
  return false;
}

}  // namespace array_logger::detail
