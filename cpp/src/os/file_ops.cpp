#include "os/file_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "array_logger/errors.hpp"
#include "os/crash_point.hpp"
#include "os/fail_point.hpp"

namespace array_logger::detail {

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

void write_all(int fd, const void* buf, std::size_t n, const std::filesystem::path& path,
               std::optional<std::uint64_t> offset) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t put = offset ? (fail_injected("pwrite") ? -1 : ::pwrite(fd, p, n, static_cast<off_t>(*offset)))
                               : (fail_injected("write") ? -1 : ::write(fd, p, n));
    if (put < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + path.string(), errno);
    }
    p += put;
    n -= static_cast<std::size_t>(put);
    if (offset) *offset += static_cast<std::uint64_t>(put);
  }
}

std::int64_t pread_full(int fd, void* buf, std::size_t n, std::uint64_t offset, Injectable injectable) {
  char* p = static_cast<char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = injectable == Injectable::yes && fail_injected("pread")
                            ? -1
                            : ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) break;  // end of file
    done += static_cast<std::size_t>(got);
  }
  return static_cast<std::int64_t>(done);
}

Fd open_file(const std::filesystem::path& path, int flags, int mode) {
  int fd;
  do {
    fd = fail_injected("open") ? -1 : ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno("cannot open " + path.string(), errno);
  return Fd(fd);
}

void fsync_fd(const Fd& fd, const std::filesystem::path& path) {
  if (fail_injected("fsync") || ::fsync(fd.get()) != 0) throw_errno("fsync failed for " + path.string(), errno);
}

void fsync_dir(const std::filesystem::path& dir) {
  Fd fd = open_file(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
  fsync_fd(fd, dir);
}

void durable_rename(const std::filesystem::path& from, const std::filesystem::path& to, const char* crash_step) {
  if (fail_injected("rename") || ::rename(from.c_str(), to.c_str()) != 0)
    throw_errno("cannot rename " + from.string() + " to " + to.string(), errno);
  if (crash_step) crash_point(crash_step);
  fsync_dir(to.parent_path());
}

void remove_if_exists(const std::filesystem::path& path) {
  if ((fail_injected("unlink") || ::unlink(path.c_str()) != 0) && errno != ENOENT)
    throw_errno("cannot remove " + path.string(), errno);
}

bool file_exists(const std::filesystem::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::optional<std::uint64_t> size_if_exists(const std::filesystem::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

TempFile::TempFile(const char* suffix) {
  std::string tmpl = (absolute_path(std::filesystem::temp_directory_path()) / "array_logger-XXXXXX").string() + suffix;
  const int fd = ::mkstemps(tmpl.data(), static_cast<int>(std::strlen(suffix)));  // created 0600
  if (fd < 0) throw_errno("cannot create a temporary file in " + tmpl, errno);
  fd_ = Fd(fd);
  path_ = tmpl;
}

TempFile::~TempFile() {
  fd_ = Fd();
  ::unlink(path_.c_str());
}

std::optional<SqliteHeader> read_sqlite_header(const std::filesystem::path& db) {
  Fd fd(::open(db.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  return read_sqlite_header(fd);
}

std::optional<SqliteHeader> read_sqlite_header(const Fd& fd) {
  unsigned char h[100];
  const std::int64_t got = pread_full(fd.get(), h, sizeof h, 0, Injectable::no);
  if (got < 20 || std::memcmp(h, "SQLite format 3", 16) != 0) return std::nullopt;
  SqliteHeader header;
  header.write_version = h[18];
  header.read_version = h[19];
  const std::uint32_t size = std::uint32_t{h[16]} << 8 | h[17];
  header.page_size = size == 1 ? 65536u : size;
  auto be32 = [&h](int at) {
    return std::uint32_t{h[at]} << 24 | std::uint32_t{h[at + 1]} << 16 | std::uint32_t{h[at + 2]} << 8 | h[at + 3];
  };
  if (got == sizeof h && be32(24) == be32(92)) header.page_count = be32(28);
  return header;
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
