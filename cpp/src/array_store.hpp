// One registered array name being written: its database, its prepared
// INSERT and its transaction state. Created on the caller's thread by
// register, then used only by the writer thread until it is finished.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <zstd.h>

#include "array_logger/logger.hpp"
#include "array_logger/meta.hpp"
#include "name_lock.hpp"
#include "sqlite_db.hpp"

namespace array_logger::detail {

struct ZstdCCtxFree {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

class ArrayStore {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens or creates {root}/{name}.db (decompressing {name}.db.zst first
  // when only that exists) and checks its meta against `spec`.
  ArrayStore(const std::filesystem::path& root, std::string name, const ArraySpec& spec,
             const RegisterOptions& options, Synchronous sync);

  const std::string& name() const noexcept { return name_; }
  const ArraySpec& spec() const noexcept { return spec_; }
  const RegisterOptions& options() const noexcept { return options_; }
  int format_version() const noexcept { return format_version_; }
  // Header bytes written before each raw payload (empty for format 1 files
  // and for filtered blobs, whose header is written by insert).
  const std::vector<std::byte>& blob_prefix() const noexcept { return blob_prefix_; }
  const std::filesystem::path& db_path() const noexcept { return db_path_; }
  const std::filesystem::path& zst_path() const noexcept { return zst_path_; }

  // One queued row: `keys` is the packed key area of a queue record (see
  // record_ring.hpp), `blob` the prefix + payload.
  struct Row {
    const std::byte* keys;
    std::span<const std::byte> blob;
  };
  // Rows per multi-row INSERT: one statement execution (cursor open, seek to
  // the last rowid, statement end) is shared by this many rows.
  static constexpr std::size_t kBatchRows = 16;

  // Writer thread: inserts rows in order, committing whenever the row or
  // byte threshold is reached (exactly as row-at-a-time inserts would).
  void insert(std::span<const Row> rows);
  bool in_transaction() const noexcept { return in_txn_; }
  std::uint64_t rows_in_transaction() const noexcept { return rows_in_txn_; }
  // Rows this store has inserted and committed since it was opened.
  std::uint64_t rows_committed() const noexcept { return rows_committed_; }
  bool commit_due(Clock::time_point now) const noexcept;
  Clock::time_point commit_deadline() const noexcept;
  void commit();
  void mark_idle(Clock::time_point now) noexcept { if (!in_txn_) last_commit_ = now; }
  // Rolls back a failed transaction (best effort, never throws).
  void abandon_transaction() noexcept;
  // Checkpoints the WAL into the main file, leaves the file in rollback
  // journal mode (readable by any SQLite, read-only or not) and closes it.
  void finish();
  bool finished() const noexcept { return !db_; }

 private:
  void open_database(Synchronous sync);
  void create_schema();
  void check_existing_schema();
  void prepare_statements();
  void bind_row(sqlite3_stmt* st, int first_param, const Row& row);
  void begin_if_needed();
  void step_insert(sqlite3_stmt* st);

  std::string name_;
  std::unique_ptr<NameLock> lock_;  // held for the store's lifetime (released after db_ closes)
  ArraySpec spec_;
  RegisterOptions options_;
  std::filesystem::path db_path_, zst_path_;
  Database db_;
  StmtPtr insert_, insert_batch_, begin_, commit_;
  int format_version_ = kFormatCurrent;
  std::vector<std::byte> blob_prefix_;
  std::vector<std::byte> filter_header_;  // header of filtered blobs
  std::vector<std::byte> raw_header_;     // header of rows the filter could not shrink
  std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> filter_cctx_;
  std::vector<std::byte> filter_scratch_, filter_out_;
  bool in_txn_ = false;
  std::uint64_t rows_in_txn_ = 0, bytes_in_txn_ = 0, rows_committed_ = 0;
  Clock::time_point last_commit_ = Clock::now();
};

}  // namespace array_logger::detail
