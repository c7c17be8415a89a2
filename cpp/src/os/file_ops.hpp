// Small POSIX file operations with the durability steps spelled out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace array_logger::detail {

// RAII file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const noexcept { return fd_; }
  int release() noexcept {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

// open(2) that throws StorageError (errno kept) naming `path`.
Fd open_file(const std::filesystem::path& path, int flags, int mode = 0600);
void fsync_fd(const Fd& fd, const std::filesystem::path& path);
// fsync of a directory, so that a rename or unlink inside it is durable.
void fsync_dir(const std::filesystem::path& dir);
// rename(2) then fsync of the directory.
void durable_rename(const std::filesystem::path& from, const std::filesystem::path& to,
                    const char* crash_step = nullptr);
// unlink that ignores ENOENT and throws on other errors.
void remove_if_exists(const std::filesystem::path& path);
bool file_exists(const std::filesystem::path& path);
// Size in bytes, or nullopt when the file cannot be stat'ed.
std::optional<std::uint64_t> size_if_exists(const std::filesystem::path& path);
// `path` made absolute against the current directory, now, and lexically
// normalised ("./logs/" -> "/cwd/logs"): resolved once, so that a later
// chdir() (config frameworks do it) changes nothing. Throws StorageError.
std::filesystem::path absolute_path(const std::filesystem::path& path);
[[noreturn]] void throw_errno(const std::string& what, int err);
// All `n` bytes written, EINTR retried: at the file position (write(2)), or
// at `offset` when one is given (pwrite(2)); throws StorageError naming `path`.
// Each call passes the "write" or "pwrite" fail point (os/fail_point.hpp).
void write_all(int fd, const void* buf, std::size_t n, const std::filesystem::path& path,
               std::optional<std::uint64_t> offset = std::nullopt);
// Whether a read passes the "pread" fail point (os/fail_point.hpp): the reads
// of close and of the frame cache do; the background compressor's (no test
// can time them, so they would shift the count of the n-th pread) and header
// sniffing do not.
enum class Injectable : bool { no, yes };
// pread(2) of `n` bytes at `offset`, EINTR retried: the number of bytes
// read, fewer than `n` only at the end of the file; -1 (errno set) on an
// error. The caller decides what a short read means.
std::int64_t pread_full(int fd, void* buf, std::size_t n, std::uint64_t offset, Injectable injectable);

// A private file (mode 0600) in the temporary directory, named
// array_logger-XXXXXX{suffix}; removed by the destructor.
class TempFile {
 public:
  explicit TempFile(const char* suffix);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  // Open for writing until close_fd().
  const Fd& fd() const noexcept { return fd_; }
  void close_fd() noexcept { fd_ = Fd(); }

 private:
  std::filesystem::path path_;
  Fd fd_;
};

// What the header of an SQLite database says (file format, 1.3): the
// journal mode bytes (offsets 18 and 19: 1 = rollback journal, 2 = WAL),
// the page size, and the page count where it is valid (the change counter
// equals version-valid-for); nullopt when the file does not start with an
// SQLite header.
struct SqliteHeader {
  unsigned char write_version = 0, read_version = 0;
  std::uint32_t page_size = 0;
  std::optional<std::uint32_t> page_count;
  bool wal() const noexcept { return write_version == 2 && read_version == 2; }
  bool rollback() const noexcept { return write_version == 1; }
};
std::optional<SqliteHeader> read_sqlite_header(const std::filesystem::path& db);
// The same, from a file already open (its "open" fail point passed).
std::optional<SqliteHeader> read_sqlite_header(const Fd& fd);

}  // namespace array_logger::detail
