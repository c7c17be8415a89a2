#include "file_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "array_logger/errors.hpp"
#include "crash_point.hpp"

namespace array_logger::detail {

void validate_array_name(std::string_view name) {
  auto bad = [&](const char* why) {
    std::string shown;
    for (char c : name) shown += (c == '\0') ? std::string("\\0") : std::string(1, c);
    throw InvalidArgument("Invalid array name '" + shown + "': " + why);
  };
  if (name.empty()) bad("it is empty");
  if (name.front() == '.') bad("it must not start with a dot");
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    bad("it must not contain a path separator");
  if (name.find('\0') != std::string_view::npos) bad("it must not contain NUL");
  if (name.find("..") != std::string_view::npos) bad("it must not contain '..'");
  if (name.size() > 200) bad("it is longer than 200 bytes");
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

void throw_errno(const std::string& what, int err) {
  throw StorageError(what + ": " + std::strerror(err), 0, err);
}

Fd open_file(const std::filesystem::path& path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno("cannot open " + path.string(), errno);
  return Fd(fd);
}

void fsync_fd(const Fd& fd, const std::filesystem::path& path) {
  if (::fsync(fd.get()) != 0) throw_errno("fsync failed for " + path.string(), errno);
}

void fsync_dir(const std::filesystem::path& dir) {
  Fd fd = open_file(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
  fsync_fd(fd, dir);
}

void durable_rename(const std::filesystem::path& from, const std::filesystem::path& to, const char* crash_step) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw_errno("cannot rename " + from.string() + " to " + to.string(), errno);
  if (crash_step) crash_point(crash_step);
  fsync_dir(to.parent_path());
}

void remove_if_exists(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw_errno("cannot remove " + path.string(), errno);
}

bool file_exists(const std::filesystem::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::filesystem::path absolute_path(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) throw StorageError("cannot resolve " + path.string() + ": " + ec.message(), 0, ec.value());
  abs = abs.lexically_normal();
  if (!abs.has_filename() && abs.has_relative_path()) abs = abs.parent_path();  // "/a/logs/" -> "/a/logs"
  return abs;
}

}  // namespace array_logger::detail
