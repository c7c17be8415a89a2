// Whole-file operations on a closed array file, with the steps a Logger
// takes: compress a NAME.db into NAME.db.zst the way close() does (crash-safe
// order: .db.zst.tmp, fsync, rename, fsync dir, then remove the .db), and
// decompress a NAME.db.zst into NAME.db the way register() resumes one
// (.db.tmp, fsync, rename, then remove the .db.zst). Both take the name's
// writer lock, so they refuse (StateError) a file a Logger is writing.
#pragma once

#include <filesystem>

#include "array_logger/options.hpp"

namespace array_logger {

// `path`: NAME.db, NAME.db.zst, or NAME.db where only NAME.db.zst exists (a
// .db.zst is recompressed at `level`). Returns the NAME.db.zst written.
// Throws InvalidArgument (level not 1..22), StateError (being written),
// StorageError, CorruptFile (not an array_logger file).
std::filesystem::path compress_file(const std::filesystem::path& path, int level, int workers = -1,
                                    CloseProgressFn progress = {});

// `path`: NAME.db.zst (or NAME.db whose .db.zst is what exists; a plain .db
// is left as it is, checkpointed). Returns the NAME.db written.
std::filesystem::path decompress_file(const std::filesystem::path& path);

// A private plain copy of the NAME.db.zst `path` at `out` (mode 0600,
// created: must not exist), for readers that open the same compressed file
// many times (one decompression per Dask worker, docs/SCALING.md). Throws
// StorageError, CorruptFile (not zstd, or cut short).
void decompress_copy(const std::filesystem::path& path, const std::filesystem::path& out);

// Whether a Logger (any process) holds the name of the array file `path`
// (NAME.db or NAME.db.zst: the lock of NAME in its directory) right now. A
// writer that closed or was killed holds nothing. Taking nothing itself, it
// tells a live writer from a finished one (follow(), run status).
bool writer_active(const std::filesystem::path& path);

}  // namespace array_logger
