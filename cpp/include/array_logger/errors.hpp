// Typed errors of the array_logger core. The Python binding maps each type
// once to a Python exception class (see python/src/errors_binding.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace array_logger {

// Base of every error the core throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller passed something invalid: bad name, shape, dtype, keys. -> ValueError
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// An existing file was written with another shape/dtype/keys. -> ValueError
class MetaMismatch : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

// The call is not allowed in the object's current state (already initialised,
// closed, used after fork). -> RuntimeError
class StateError : public Error {
 public:
  using Error::Error;
};

// A file could not be read or written (disk full, permissions, SQLite I/O).
// -> OSError
class StorageError : public Error {
 public:
  StorageError(const std::string& what, int sqlite_code = 0, int sys_errno = 0)
      : Error(what), sqlite_code_(sqlite_code), sys_errno_(sys_errno) {}
  // Extended SQLite result code, 0 when the error did not come from SQLite.
  int sqlite_code() const noexcept { return sqlite_code_; }
  // errno of the failing system call, 0 when unknown.
  int sys_errno() const noexcept { return sys_errno_; }

 private:
  int sqlite_code_;
  int sys_errno_;
};

// A file's content is not what array_logger writes: not SQLite, meta that
// does not parse, a blob whose header lies. -> ValueError
class CorruptFile : public Error {
 public:
  using Error::Error;
};

}  // namespace array_logger
