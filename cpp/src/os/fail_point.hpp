// Deterministic error injection, the companion of the crash points
// (os/crash_point.hpp; tests/test_fail_points.py, docs/TESTING.md).
//
// With ARRAY_LOGGER_FAIL_AT=<call>[:<n>][=<code>] in the environment (read
// once, when the first fail point is reached), the n-th time (default: the
// first) the process reaches the fail point named <call>, that call fails
// with <code> instead of being made: an errno for a system call (a name such
// as ENOSPC, or a number; default EIO), an SQLite result code for an
// "sqlite.*" call (SQLITE_FULL, SQLITE_IOERR, ... or a number; default
// SQLITE_IOERR). Only that one call fails; the ones before and after it run
// normally. So the error paths of every system call and SQLite call on the
// write, close and resume paths run in tests, and each can be checked to
// surface as its typed exception with no logged row lost.
//
// The calls: open, read, write, pread, pwrite, fstat, fsync, rename, unlink,
// lock (a name's lock), sqlite.open, sqlite.commit (tests/test_fail_points.py checks that
// each one in cpp/src is driven by a test). Without the variable a fail point
// costs one comparison against null.
#pragma once

#include <cerrno>

namespace array_logger::detail {

// 0, or the code the current call named `call` must fail with.
int injected_failure(const char* call) noexcept;

// For a system call: true (with errno set) when this call must fail, e.g.
//   int fd = fail_injected("open") ? -1 : ::open(...);
inline bool fail_injected(const char* call) noexcept {
  const int code = injected_failure(call);
  if (code == 0) return false;
  errno = code;
  return true;
}

}  // namespace array_logger::detail
