// The files of one array name under the root directory and their life:
// {name}.db while written, {name}.db.zst after close-time compression,
// temporaries of both ways, the frames compressed during the run
// (.{name}.db.zst.frames), the -wal/-shm of SQLite, and the name lock.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "os/name_lock.hpp"
#include "os/zstd_file.hpp"

namespace array_logger::detail {

// Rejects names that are not a plain file name: empty, leading dot, '/',
// '\\', NUL, ".." anywhere, or longer than 200 bytes. Throws InvalidArgument.
void validate_array_name(std::string_view name);

class StoreFiles {
 public:
  // `name` must have passed validate_array_name. Takes the name's lock
  // (StateError when another logger holds it), removes temporaries left by
  // a killed run and, when only {name}.db.zst exists, decompresses it
  // (completely and durably) to {name}.db: a compressed run resumes.
  StoreFiles(const std::filesystem::path& root, const std::string& name);

  const std::filesystem::path& db() const noexcept { return db_; }
  const std::filesystem::path& zst() const noexcept { return zst_; }
  const std::filesystem::path& zst_tmp() const noexcept { return zst_tmp_; }
  // Side file of the frames compressed during the run (a cache, see
  // os/frame_cache_file.hpp); hidden like the lock file.
  const std::filesystem::path& frames() const noexcept { return frames_; }

  // The database was refused (meta mismatch, not our file...): leave the
  // files as they were, i.e. drop the copy decompressed by the constructor.
  void abandon() noexcept;
  // The database opened: the .db is the complete, authoritative copy. A
  // .db.zst beside it is what we just decompressed or a copy left by a crash
  // between renaming a new .db.zst and removing the .db; either way stale.
  void drop_stale_zst();
  // Close-time compression of the closed .db into .db.zst as one frame
  // (compression_mode="plain"), crash-safe: the .db stays until the .db.zst
  // is complete, synced and renamed into place (and that rename is synced).
  void compress(int level, int workers, const ProgressFn& progress);
  // The last steps of either way, once zst_tmp() is complete and synced:
  // rename it to .db.zst, sync the directory, remove the .db, sync again.
  void publish_zst();

 private:
  NameLock lock_;  // first member: held until everything else is released
  std::filesystem::path db_, zst_, db_tmp_, zst_tmp_, frames_;
  bool decompressed_ = false;
};

}  // namespace array_logger::detail
