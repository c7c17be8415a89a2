// One writer per array name at a time, across processes and across the
// Loggers of one process. The name is held from register until its database
// is closed; a process that dies releases it (the kernel drops the lock).
//
// Linux: an exclusive open-file-description lock (fcntl F_OFD_SETLK) on one
// byte of {root}/.array_logger.lock, at an offset derived from the name: one
// descriptor per root and process however many names are registered, so
// thousands of names fit under a limit of 1,024 open files. Elsewhere:
// flock(2) on {root}/.{name}.lock, one descriptor per name. Either lock file
// is removed when nobody holds a name in it any more (array names cannot
// start with a dot, so it never collides with an array's files).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace array_logger::detail {

class NameLock {
 public:
  // Throws StateError when another logger (any process) holds the name.
  NameLock(const std::filesystem::path& root, const std::string& name);
  ~NameLock();  // releases the name (and removes the lock file when unused)
  NameLock(const NameLock&) = delete;
  NameLock& operator=(const NameLock&) = delete;

 private:
  struct Held;  // how this platform holds it (name_lock.cpp)
  std::unique_ptr<Held> held_;
};

// Whether some logger (any process) holds `name` under `root` right now,
// without taking it. Readers ask this to tell a live writer from a finished
// or killed one (follow(), Dataset). Linux: F_OFD_GETLK on the name's byte
// of {root}/.array_logger.lock, which takes no lock. Elsewhere a shared
// flock(2) taken and dropped at once: a register racing it within those
// microseconds retries (see NameLock), so it never fails because of it.
bool name_lock_held(const std::filesystem::path& root, const std::string& name);

}  // namespace array_logger::detail
