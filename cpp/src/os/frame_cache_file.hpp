// Frames compressed ahead of close (during the run) for one database, kept
// in a side file so that memory stays bounded whatever the file's size.
// The side file is a cache: close verifies every frame it takes from it,
// and a side file left by a killed process is garbage (removed at the next
// register of the name).
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "os/file_ops.hpp"
#include "os/segmented_zstd.hpp"

namespace array_logger::detail {

class FrameCacheFile final : public FrameCache {
 public:
  // Nothing is created until the first add().
  explicit FrameCacheFile(std::filesystem::path path);
  ~FrameCacheFile() override;  // removes the side file
  FrameCacheFile(const FrameCacheFile&) = delete;
  FrameCacheFile& operator=(const FrameCacheFile&) = delete;

  // Appends `frame` as the frame of segment `index` (replacing an older one).
  // Throws StorageError (a full disk: the caller may simply stop caching).
  void add(std::uint64_t index, std::span<const std::byte> frame);
  bool has(std::uint64_t index) const;
  // Forgets every frame and removes the side file (its space is wanted back).
  void drop() noexcept;
  std::optional<std::vector<std::byte>> frame(std::uint64_t index) override;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  struct Entry {
    std::uint64_t offset, size;
  };
  mutable std::mutex mu_;
  std::filesystem::path path_;
  // The side file is opened for each add() and frame(), not kept open: a
  // run with thousands of names must not hold a descriptor per name here
  // (docs/DESIGN.md, "Open files").
  bool created_ = false;
  std::uint64_t end_ = 0;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

}  // namespace array_logger::detail
