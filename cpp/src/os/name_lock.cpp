#include "os/name_lock.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <set>

#include "array_logger/errors.hpp"
#include "os/fail_point.hpp"
#include "os/file_ops.hpp"
#include "os/fork_guard.hpp"

namespace array_logger::detail {
namespace {

[[noreturn]] void held_elsewhere(const std::filesystem::path& root, const std::string& name) {
  throw StateError("Array '" + name + "' is being written by another logger (another process, or an open Logger "
                   "in this one) under " + root.string() + "; close that one first");
}

// Whether `fd` is still the file `path` names: a releasing process may have
// unlinked it between our open() and our lock, and a lock on a dead inode
// protects nothing.
bool still_linked(const Fd& fd, const std::filesystem::path& path) {
  struct stat held, now;
  return ::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
         held.st_dev == now.st_dev;
}

}  // namespace

#ifdef F_OFD_SETLK

namespace {

// The byte a name locks: FNV-1a of the name, 64 bits folded to 62 (offsets
// must stay below OFF_MAX). Part of how two programs agree on a lock, so it
// never changes. Two names sharing a byte would refuse each other; with 62
// bits that needs billions of names.
off_t name_offset(const std::string& name) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<off_t>(h >> 2);
}

bool set_lock(const Fd& fd, short type, off_t start, off_t len) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return ::fcntl(fd.get(), F_OFD_SETLK, &fl) == 0;
}

// A lock that covers the whole file: another process removing the file
// (see release), which lasts as long as an unlink.
bool whole_file_lock_in_the_way(const Fd& fd, off_t start) {
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = 1;
  return ::fcntl(fd.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_start == 0 && fl.l_len == 0;
}

// The lock file of one root, opened once per process: OFD locks of one open
// file description never conflict with each other, so the names this process
// holds through it are also kept in `held`.
struct RootFile {
  std::filesystem::path path;
  Fd fd;
  std::set<off_t> held;
  std::uint64_t fork_gen = fork_generation();
};

// Root directory -> its lock file, for the whole process. Never destroyed:
// a Logger with static storage duration may release names after the static
// objects of this file would have been destroyed.
std::mutex& registry_mutex() {
  alignas(std::mutex) static unsigned char storage[sizeof(std::mutex)];
  static std::mutex* mu = ::new (storage) std::mutex();
  return *mu;
}
using Registry = std::map<std::string, std::shared_ptr<RootFile>>;
Registry& registry() {
  alignas(Registry) static unsigned char storage[sizeof(Registry)];
  static Registry* r = ::new (storage) Registry();
  return *r;
}

std::shared_ptr<RootFile> root_file(const std::filesystem::path& root) {
  auto& slot = registry()[root.string()];
  // A fork() child shares the parent's open file description, and with it
  // the parent's locks: it needs its own.
  if (slot && slot->fork_gen != fork_generation()) slot.reset();
  if (!slot) {
    auto rf = std::make_shared<RootFile>();
    rf->path = root / ".array_logger.lock";
    rf->fd = open_file(rf->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    slot = std::move(rf);
  }
  return slot;
}

// Removes the lock file when nobody holds a byte of it, then closes it.
// The whole-file lock succeeds only when no other process holds a name; a
// process that opened the file meanwhile finds it unlinked after locking
// (still_linked) and starts over with a new file.
void forget_root(const std::filesystem::path& root, RootFile& rf) {
  if (set_lock(rf.fd, F_WRLCK, 0, 0) && still_linked(rf.fd, rf.path)) ::unlink(rf.path.c_str());
  registry().erase(root.string());  // closes the descriptor: releases the whole-file lock
}

}  // namespace

struct NameLock::Held {
  std::filesystem::path root;
  std::shared_ptr<RootFile> file;
  off_t offset;
};

NameLock::NameLock(const std::filesystem::path& root, const std::string& name) {
  const off_t offset = name_offset(name);
  std::lock_guard guard(registry_mutex());
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<RootFile> rf = root_file(root);
    if (rf->held.count(offset)) held_elsewhere(root, name);  // another Logger of this process
    if (fail_injected("lock") || !set_lock(rf->fd, F_WRLCK, offset, 1)) {
      const int err = errno;
      if (err != EAGAIN && err != EACCES) throw_errno("cannot lock " + rf->path.string(), err);
      if (attempt < 10000 && whole_file_lock_in_the_way(rf->fd, offset)) {
        if (rf->held.empty()) registry().erase(root.string());  // reopen: it is being removed
        ::sched_yield();
        continue;
      }
      held_elsewhere(root, name);
    }
    if (!still_linked(rf->fd, rf->path)) {  // locked a removed file: start over on the new one
      set_lock(rf->fd, F_UNLCK, offset, 1);
      if (rf->held.empty()) registry().erase(root.string());
      continue;
    }
    rf->held.insert(offset);
    held_ = std::make_unique<Held>(Held{root, std::move(rf), offset});
    return;
  }
}

NameLock::~NameLock() {
  if (!held_) return;
  std::lock_guard guard(registry_mutex());
  RootFile& rf = *held_->file;
  set_lock(rf.fd, F_UNLCK, held_->offset, 1);
  rf.held.erase(held_->offset);
  const bool last = rf.held.empty() && rf.fork_gen == fork_generation();
  auto it = registry().find(held_->root.string());
  if (last && it != registry().end() && it->second.get() == &rf) forget_root(held_->root, rf);
}

bool name_lock_held(const std::filesystem::path& root, const std::string& name) {
  const std::filesystem::path path = root / ".array_logger.lock";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return false;  // removed by the last holder at release
    throw_errno("cannot open " + path.string(), errno);
  }
  // F_OFD_GETLK takes nothing: a register racing this probe never sees it.
  // Our own descriptor is a new open file description, so the names this
  // process holds through its RootFile are reported too.
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = name_offset(name);
  fl.l_len = 1;
  if (::fcntl(fd.get(), F_OFD_GETLK, &fl) != 0) throw_errno("cannot test the lock " + path.string(), errno);
  if (fl.l_type == F_UNLCK) return false;
  return !(fl.l_start == 0 && fl.l_len == 0);  // a whole-file lock: the file is being removed, nobody holds a name
}

#else  // no OFD locks: one flock()ed file per name

struct NameLock::Held {
  std::filesystem::path path;
  Fd fd;
};

NameLock::NameLock(const std::filesystem::path& root, const std::string& name) {
  const std::filesystem::path path = root / ("." + name + ".lock");
  for (;;) {
    Fd fd = open_file(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int rc = fail_injected("lock") ? -1 : ::flock(fd.get(), LOCK_EX | LOCK_NB);
    // A reader's probe (name_lock_held) holds a shared lock for a moment.
    for (int retry = 0; rc != 0 && errno == EWOULDBLOCK && retry < 20; ++retry) {
      ::usleep(500);
      rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
    }
    if (rc != 0) {
      if (errno == EWOULDBLOCK) held_elsewhere(root, name);
      throw_errno("cannot lock " + path.string(), errno);
    }
    if (still_linked(fd, path)) {
      held_ = std::make_unique<Held>(Held{path, std::move(fd)});
      return;
    }
  }
}

NameLock::~NameLock() {
  if (held_) ::unlink(held_->path.c_str());  // then the descriptor closes: released
}

bool name_lock_held(const std::filesystem::path& root, const std::string& name) {
  const std::filesystem::path path = root / ("." + name + ".lock");
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return false;  // removed by the holder at release
    throw_errno("cannot open " + path.string(), errno);
  }
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd.get(), LOCK_UN);
    return false;  // left behind by a killed writer: nobody holds it
  }
  if (errno == EWOULDBLOCK) return true;
  throw_errno("cannot test the lock " + path.string(), errno);
}

#endif

}  // namespace array_logger::detail
