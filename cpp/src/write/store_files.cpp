#include "write/store_files.hpp"

#include <unistd.h>

#include <cerrno>

#include "array_logger/errors.hpp"
#include "os/file_ops.hpp"

namespace array_logger::detail {
void validate_array_name(std::string_view name) {
  auto bad = [&](const char* why) {
    std::string shown;
    for (char c : name) shown += (c == '\0') ? std::string("\\0") : std::string(1, c);
    throw InvalidArgument("Invalid array name '" + shown + "': " + why);
  };
  if (name.empty()) bad("it is empty");
  if (name.front() == '.') bad("it must not start with a dot");
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    bad("it must not contain a path separator");
  if (name.find('\0') != std::string_view::npos) bad("it must not contain NUL");
  if (name.find("..") != std::string_view::npos) bad("it must not contain '..'");
  if (name.size() > 200) bad("it is longer than 200 bytes");
}

StoreFiles::StoreFiles(const std::filesystem::path& root, const std::string& name)
    : lock_(root, name),
      db_(root / (name + ".db")),
      zst_(root / (name + ".db.zst")),
      db_tmp_(root / (name + ".db.tmp")),
      zst_tmp_(root / (name + ".db.zst.tmp")) {
  // Leftovers of a run killed while compressing or decompressing: the
  // complete file is still there, the temporary one is garbage.
  remove_if_exists(zst_tmp_);
  remove_if_exists(db_tmp_);
  if (std::filesystem::is_directory(db_))
    throw StorageError(db_.string() + " is a directory, not a database file", 0, EISDIR);
  if (!file_exists(db_) && file_exists(zst_)) {
    decompress_file(zst_, db_tmp_, 0644);
    durable_rename(db_tmp_, db_);
    decompressed_ = true;
  }
}

void StoreFiles::abandon() noexcept {
  if (!decompressed_) return;
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((db_.string() + suffix).c_str());
}

void StoreFiles::drop_stale_zst() { remove_if_exists(zst_); }

void StoreFiles::compress(int level, int workers, const ProgressFn& progress) {
  try {
    compress_file(db_, zst_tmp_, level, workers, progress);
    durable_rename(zst_tmp_, zst_);
    remove_if_exists(db_);
    fsync_dir(db_.parent_path());
  } catch (...) {
    try {
      remove_if_exists(zst_tmp_);
    } catch (...) {  // the first error is the one to report
    }
    throw;
  }
}

}  // namespace array_logger::detail
