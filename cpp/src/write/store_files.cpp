#include "write/store_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "array_logger/errors.hpp"
#include "os/crash_point.hpp"
#include "os/fail_point.hpp"
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

namespace {

// A .db.zst cut at a frame boundary decompresses without error to the first
// part of the database (a segmented .db.zst has one frame per 4 MiB). SQLite
// would read the missing pages as zeros and go on appending: refuse it. A
// closed database is in rollback mode, and its header's page count is valid
// when the change counter equals version-valid-for (file format, 1.3).
void check_whole_database(const std::filesystem::path& db, const std::filesystem::path& shown) {
  Fd fd = open_file(db, O_RDONLY);
  const auto header = read_sqlite_header(fd);
  if (!header || !header->rollback() || !header->page_count) return;  // SQLite will say
  const std::uint64_t page_size = header->page_size, pages = *header->page_count;
  struct stat st;
  if (fail_injected("fstat") || ::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + db.string(), errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (page_size >= 512 && (size % page_size != 0 || size < pages * page_size))
    throw CorruptFile(shown.string() + " is truncated: it holds " + std::to_string(size) +
                      " bytes of a database of " + std::to_string(pages) + " pages of " +
                      std::to_string(page_size) + " bytes");
}

}  // namespace

StoreFiles::StoreFiles(const std::filesystem::path& root, const std::string& name)
    : lock_(root, name),
      db_(root / (name + ".db")),
      zst_(root / (name + ".db.zst")),
      db_tmp_(root / (name + ".db.tmp")),
      zst_tmp_(root / (name + ".db.zst.tmp")),
      frames_(root / ("." + name + ".db.zst.frames")) {
  // Leftovers of a run killed while compressing or decompressing: the
  // complete file is still there, the temporary one is garbage; so are the
  // frames a killed run compressed ahead of its close.
  remove_if_exists(zst_tmp_);
  remove_if_exists(db_tmp_);
  remove_if_exists(frames_);
  if (std::filesystem::is_directory(db_))
    throw StorageError(db_.string() + " is a directory, not a database file", 0, EISDIR);
  if (!file_exists(db_) && file_exists(zst_)) {
    try {
      decompress_file(zst_, db_tmp_, 0644);
      check_whole_database(db_tmp_, zst_);
    } catch (...) {  // a partial or wrong copy: gone, the .db.zst untouched
      remove_if_exists(db_tmp_);
      throw;
    }
    crash_point("resume.after_tmp_fsync");
    durable_rename(db_tmp_, db_, "resume.after_rename");
    crash_point("resume.after_rename_dir_fsync");
    decompressed_ = true;
  }
}

void StoreFiles::abandon() noexcept {
  if (!decompressed_) return;
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((db_.string() + suffix).c_str());
}

void StoreFiles::drop_stale_zst() {
  crash_point("resume.before_unlink_zst");
  remove_if_exists(zst_);
  crash_point("resume.after_unlink_zst");
}

void StoreFiles::compress(int level, int workers, const ProgressFn& progress) {
  try {
    crash_point("close.before_compress");
    compress_file(db_, zst_tmp_, level, workers, progress);
    publish_zst();
  } catch (...) {
    try {
      remove_if_exists(zst_tmp_);
    } catch (...) {  // the first error is the one to report
    }
    throw;
  }
}

void StoreFiles::publish_zst() {
  // Order matters for crash safety (docs/DURABILITY.md): the .db stays until
  // the .db.zst is complete, synced and renamed into place, and that rename
  // is synced. Each step is a crash point (tests/test_crash_points.py).
  crash_point("close.after_tmp_fsync");
  durable_rename(zst_tmp_, zst_, "close.after_rename");
  crash_point("close.after_rename_dir_fsync");
  remove_if_exists(db_);
  crash_point("close.after_unlink");
  fsync_dir(db_.parent_path());
  crash_point("close.after_unlink_dir_fsync");
}

}  // namespace array_logger::detail
