// One registered array name being written: the rows' SQL and the commit
// policy. Created on the caller's thread by register, then used only by the
// writer thread until it is finished. Its files are StoreFiles, its
// database is opened by open_store_database, its blobs are encoded by
// BlobEncoder.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "array_logger/array_spec.hpp"
#include "array_logger/options.hpp"
#include "format/blob_codec.hpp"
#include "sqlite/database.hpp"
#include "sqlite/statement.hpp"
#include "sqlite/transaction.hpp"
#include "write/store_files.hpp"

namespace array_logger::detail {

class ArrayStore {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens or creates {root}/{name}.db (resuming {name}.db.zst when only
  // that exists) and checks its meta against `spec` (what log() takes) and
  // the stored form the options ask for (format/stored_form.hpp).
  ArrayStore(const std::filesystem::path& root, std::string name, const ArraySpec& spec,
             const RegisterOptions& options, Synchronous sync);

  const std::string& name() const noexcept { return name_; }
  const RegisterOptions& options() const noexcept { return options_; }
  // What the file's rows are: keys (+ steps, partial), shape, stored dtype.
  const ArraySpec& stored_spec() const noexcept { return stored_; }
  const StoredForm& form() const noexcept { return form_; }
  // The largest rowid when the file was opened (0: empty). Rows inserted
  // later get the next rowids in order, a replaced partial period row's
  // successor takes its rowid (see insert()).
  std::uint64_t last_rowid_at_open() const noexcept { return last_rowid_at_open_; }
  StoreFiles& files() noexcept { return files_; }
  // Bytes the producer copies before each payload (see BlobEncoder).
  const std::vector<std::byte>& queued_prefix() const noexcept { return encoder_.queued_prefix(); }

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
  // Periodic names: a row marked partial (the open period at flush/close)
  // is replaced, in the transaction of the next row, by that next row.
  void insert(std::span<const Row> rows);
  std::uint64_t rows_in_transaction() const noexcept { return rows_in_txn_; }
  // Rows this store has inserted and committed since it was opened.
  std::uint64_t rows_committed() const noexcept { return rows_committed_; }
  bool commit_due(Clock::time_point now) const noexcept { return txn_ && now >= commit_deadline(); }
  Clock::time_point commit_deadline() const noexcept;
  void commit();
  void mark_idle(Clock::time_point now) noexcept {
    if (!txn_) last_commit_ = now;
  }
  // Rolls back a failed transaction (never throws).
  void abandon_transaction() noexcept;
  // Checkpoints the WAL into the main file, leaves the file in rollback
  // journal mode (readable by any SQLite, read-only or not) and closes it.
  void finish();
  bool finished() const noexcept { return finished_; }
  Journal journal() const noexcept { return journal_; }

  // The writer's pool of open databases (write/store_pool.hpp):
  // close_database commits and closes the connection, keeping the name
  // locked and the -wal in place; reopen opens it again.
  bool is_open() const noexcept { return static_cast<bool>(db_); }
  void close_database();
  void reopen();
  ~ArrayStore();
  ArrayStore(const ArrayStore&) = delete;
  ArrayStore& operator=(const ArrayStore&) = delete;

 private:
  // Binds one row's keys and blob; returns whether its last key is the
  // integer 1 (a periodic name's partial row).
  bool bind_row(Statement& st, int first_param, const Row& row);
  void replace_pending_partial();
  void open_database();
  void close_connection() noexcept;

  std::string name_;
  RegisterOptions options_;
  ArraySpec stored_;  // computed and checked before any file is touched
  StoredForm form_;
  StoreFiles files_;  // before db_: the name lock outlives the connection
  Synchronous sync_;
  bool finished_ = false;
  std::size_t nkeys_;
  Database db_;
  BlobEncoder encoder_;
  Statement insert_, insert_batch_, delete_row_;
  std::optional<TransactionStatements> txn_sql_;
  std::optional<Transaction> txn_;  // the open write transaction, if any
  Journal journal_ = Journal::Wal;
  std::string index_sql_;  // CREATE INDEX run at finish (format 2 only)
  std::uint64_t max_txn_bytes_ = 0;
  std::uint64_t rows_in_txn_ = 0, bytes_in_txn_ = 0, rows_committed_ = 0;
  std::uint64_t last_rowid_at_open_ = 0;
  std::int64_t pending_partial_ = 0;  // rowid of this session's partial period row, 0: none
  Clock::time_point last_commit_ = Clock::now();
};

}  // namespace array_logger::detail
