// One writer per array name at a time, across processes: an exclusive
// flock(2) on {root}/.{name}.lock, held while the name is registered and
// removed when released (array names cannot start with a dot, so the lock
// file never collides with an array's files).
#pragma once

#include <filesystem>
#include <string>

#include "os/file_ops.hpp"

namespace array_logger::detail {

class NameLock {
 public:
  // Throws StateError when another logger (any process) holds the name.
  NameLock(const std::filesystem::path& root, const std::string& name);
  ~NameLock();  // unlinks the lock file, then releases the lock
  NameLock(const NameLock&) = delete;
  NameLock& operator=(const NameLock&) = delete;

 private:
  std::filesystem::path path_;
  Fd fd_;
};

// Whether some logger (any process) holds `name` under `root` right now,
// without taking it. Readers ask this to tell a live writer from a finished
// or killed one (follow(), run status). With flock(2) the test is a shared
// lock taken and dropped at once: a register racing it within those
// microseconds retries (see NameLock), so it never fails because of it.
bool name_lock_held(const std::filesystem::path& root, const std::string& name);

}  // namespace array_logger::detail
