// Small POSIX file operations with the durability steps spelled out.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace array_logger::detail {

// Rejects names that are not a plain file name: empty, leading dot, '/',
// '\\', NUL, ".." anywhere, or longer than 200 bytes. Throws InvalidArgument.
void validate_array_name(std::string_view name);

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
// `path` made absolute against the current directory, now, and lexically
// normalised ("./logs/" -> "/cwd/logs"): resolved once, so that a later
// chdir() (config frameworks do it) changes nothing. Throws StorageError.
std::filesystem::path absolute_path(const std::filesystem::path& path);
[[noreturn]] void throw_errno(const std::string& what, int err);

}  // namespace array_logger::detail
