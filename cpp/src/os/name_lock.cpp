#include "os/name_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "array_logger/errors.hpp"

namespace array_logger::detail {

NameLock::NameLock(const std::filesystem::path& root, const std::string& name)
    : path_(root / ("." + name + ".lock")) {
  // The holder unlinks the file when it is done, so after locking check that
  // the path still names the file we locked; if not, we locked a dead inode
  // and try again on the new file.
  for (;;) {
    Fd fd = open_file(path_, O_RDWR | O_CREAT, 0644);
    int rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
    // A reader's probe (name_lock_held) holds a shared lock for a moment.
    for (int retry = 0; rc != 0 && errno == EWOULDBLOCK && retry < 20; ++retry) {
      ::usleep(500);
      rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
    }
    if (rc != 0) {
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

bool name_lock_held(const std::filesystem::path& root, const std::string& name) {
  const std::filesystem::path path = root / ("." + name + ".lock");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;  // removed by the holder at release
    throw_errno("cannot open " + path.string(), errno);
  }
  Fd guard(fd);
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    return false;  // left behind by a killed writer: nobody holds it
  }
  if (errno == EWOULDBLOCK) return true;
  throw_errno("cannot test the lock " + path.string(), errno);
}

NameLock::~NameLock() {
  if (fd_.get() >= 0) ::unlink(path_.c_str());
}

}  // namespace array_logger::detail
