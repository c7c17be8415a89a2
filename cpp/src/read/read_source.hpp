// Where a Reader's rows come from: one read-only SQLite connection over the
// file itself or over a private copy of it. The strategies, in the order
// they are tried:
//   1. {x}.db.zst (asked for, or the only one of x.db / x.db.zst that
//      exists): decompressed into a private temporary file, read immutable;
//   2. a hot rollback journal beside the file (a writer died mid-transaction):
//      the file and its journal copied, the copy rolled back and read;
//   3. a WAL-mode file nobody writes (no -wal): read immutable, so that no
//      -wal/-shm is created beside it;
//   4. otherwise: read-only, with SQLite's locking (a writer may be active).
// A file in rollback mode that is shorter than its header says is refused.
#pragma once

#include <filesystem>
#include <memory>

#include "os/file_ops.hpp"
#include "sqlite/database.hpp"

namespace array_logger::detail {

struct ReadSource {
  std::filesystem::path path;     // the file opened (after resolving x.db -> x.db.zst)
  std::unique_ptr<TempFile> copy;  // the private copy read instead, if any
  Database db;

  // Closes the connection, then removes the copy.
  void close() noexcept;
};

// Throws StorageError (errno ENOENT when missing), CorruptFile.
ReadSource open_read_source(const std::filesystem::path& requested);

}  // namespace array_logger::detail
