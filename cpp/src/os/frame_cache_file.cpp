#include "os/frame_cache_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "array_logger/errors.hpp"

namespace array_logger::detail {

FrameCacheFile::FrameCacheFile(std::filesystem::path path) : path_(std::move(path)) {}

FrameCacheFile::~FrameCacheFile() { drop(); }

void FrameCacheFile::drop() noexcept {
  std::lock_guard lock(mu_);
  entries_.clear();
  end_ = 0;
  if (created_) {
    created_ = false;
    ::unlink(path_.c_str());
  }
}

void FrameCacheFile::add(std::uint64_t index, std::span<const std::byte> frame) {
  std::lock_guard lock(mu_);
  Fd fd = open_file(path_, O_WRONLY | O_CREAT | O_CLOEXEC | (created_ ? 0 : O_TRUNC), 0600);
  created_ = true;
  write_all(fd.get(), frame.data(), frame.size(), path_, end_);
  entries_[index] = Entry{end_, frame.size()};
  end_ += frame.size();
}

bool FrameCacheFile::has(std::uint64_t index) const {
  std::lock_guard lock(mu_);
  return entries_.count(index) != 0;
}

std::optional<std::vector<std::byte>> FrameCacheFile::frame(std::uint64_t index) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(index);
  if (it == entries_.end()) return std::nullopt;
  Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;  // unreadable: compress the segment again
  std::vector<std::byte> out(it->second.size);
  if (pread_full(fd.get(), out.data(), out.size(), it->second.offset, Injectable::yes) != static_cast<std::int64_t>(out.size()))
    return std::nullopt;  // unreadable: compress the segment again
  return out;
}

}  // namespace array_logger::detail
