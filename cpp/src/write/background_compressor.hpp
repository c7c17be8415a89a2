// Compresses the settled segments of the databases being written while the
// run goes on, on one low-priority thread (a simulation loop rarely keeps
// both cores busy), so that close() is left with the segments written since
// and the few that SQLite rewrote (page 1, the root and the right-most
// interior pages of the table). Only reads the .db files: it works whatever
// the journal mode and whenever SQLite writes them; what it produced is
// verified at close (os/segmented_zstd.hpp), never trusted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "os/frame_cache_file.hpp"

namespace array_logger::detail {

class BackgroundCompressor {
 public:
  explicit BackgroundCompressor(int level);
  ~BackgroundCompressor();  // stop()
  BackgroundCompressor(const BackgroundCompressor&) = delete;
  BackgroundCompressor& operator=(const BackgroundCompressor&) = delete;

  // Starts compressing settled segments of `db` into `cache`.
  void watch(std::filesystem::path db, std::shared_ptr<FrameCacheFile> cache);
  // Stops the thread (finishing the segment in hand) and forgets every file.
  void stop();

  // A segment is settled once the file has grown this far past its end:
  // by then SQLite has moved on to new interior pages (measured: with one
  // segment of lag, 1 of 25 segments of a 100 MB file changed afterwards).
  static constexpr std::uint64_t kSettleBytes = kSegmentBytes;

 private:
  struct Watched {
    std::filesystem::path db;
    std::shared_ptr<FrameCacheFile> cache;
    bool failed = false;
  };
  void run();
  // Compresses one settled, not yet cached segment; false when there is none.
  bool step(std::unique_ptr<SegmentCompressor>& sc, std::vector<std::byte>& segment, std::vector<std::byte>& frame);

  int level_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Watched> files_;
  bool stop_ = false;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace array_logger::detail
