#include "os/name_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "array_logger/errors.hpp"
#include "os/fail_point.hpp"

namespace array_logger::detail {

NameLock::NameLock(const std::filesystem::path& root, const std::string& name)
    : path_(root / ("." + name + ".lock")) {
  // The holder unlinks the file when it is done, so after locking check that
  // the path still names the file we locked; if not, we locked a dead inode
  // and try again on the new file.
  for (;;) {
    Fd fd = open_file(path_, O_RDWR | O_CREAT, 0644);
    if (fail_injected("flock") || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        throw StateError("Array '" + name + "' is being written by another logger (another process, or an "
                         "open Logger in this one) under " + root.string() + "; close that one first");
      throw_errno("cannot lock " + path_.string(), errno);
    }
    struct stat held, now;
    if (::fstat(fd.get(), &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      fd_ = std::move(fd);
      return;
    }
  }
}

NameLock::~NameLock() {
  if (fd_.get() >= 0) ::unlink(path_.c_str());
}

}  // namespace array_logger::detail
