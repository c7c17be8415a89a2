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
  const std::byte* p = frame.data();
  std::size_t n = frame.size();
  std::uint64_t at = end_;
  while (n > 0) {
    ssize_t put = ::pwrite(fd.get(), p, n, static_cast<off_t>(at));
    if (put < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + path_.string(), errno);
    }
    p += put;
    at += static_cast<std::uint64_t>(put);
    n -= static_cast<std::size_t>(put);
  }
  entries_[index] = Entry{end_, frame.size()};
  end_ = at;
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
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t got = ::pread(fd.get(), out.data() + done, out.size() - done,
                          static_cast<off_t>(it->second.offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return std::nullopt;  // unreadable: compress the segment again
    done += static_cast<std::size_t>(got);
  }
  return out;
}

}  // namespace array_logger::detail
