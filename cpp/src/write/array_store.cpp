#include "write/array_store.hpp"

#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "format/schema.hpp"
#include "os/open_files.hpp"
#include "os/crash_point.hpp"
#include "os/fail_point.hpp"
#include "format/stored_form.hpp"
#include "sqlite/sql_text.hpp"
#include "write/record_ring.hpp"
#include "write/shard_dir.hpp"
#include "array_logger/meta.hpp"
#include "write/store_database.hpp"

namespace array_logger::detail {
namespace {

// Commit before a transaction holds this many blob bytes, whatever the row
// threshold says: keeps the WAL (and checkpoint stalls) bounded for big
// arrays. With a rollback journal the transaction's pages wait in memory
// until COMMIT (cache_spill is off), so its cap is lower: it bounds memory.
constexpr std::uint64_t kMaxWalTxnBytes = 64ull << 20;
constexpr std::uint64_t kMaxRollbackTxnBytes = 32ull << 20;

// WAL size at which a database the pool has closed and reopened is
// checkpointed (instead of 64 MiB): reopening reads the whole WAL (SQLite
// rebuilds its index from it), so keep that read short.
constexpr std::uint64_t kReopenedCheckpointBytes = 4ull << 20;

// Every argument check of register, before any file is touched.
const ArraySpec& validated(const std::string& name, const ArraySpec& spec, const RegisterOptions& options) {
  validate_array_name(name);
  validate_spec(spec);
  if (options.commit_threshold_rows == 0) throw InvalidArgument("commit_threshold_rows must be at least 1");
  if (!(options.commit_threshold_seconds > 0)) throw InvalidArgument("commit_threshold_seconds must be positive");
  return spec;
}

}  // namespace

ArrayStore::ArrayStore(const std::filesystem::path& root, std::string name, const ArraySpec& spec,
                       const RegisterOptions& options, Synchronous sync)
    : name_(std::move(name)),
      options_(options),
      form_(stored_form_for(validated(name_, spec, options_), options_, stored_)),
      files_(store_dir(root, name_, options_.shard), file_stem(name_, options_.shard)),
      sync_(sync),
      nkeys_(stored_.keys.size()) {
  options_.keys_repr = stored_keys_repr(options_.keys_repr, form_);
  try {
    if (!options_.shard.empty())
      check_shard_spec(files_.db().parent_path(), name_, options_.shard, stored_,
                       options_.keys_repr.empty() ? keys_repr(stored_.keys) : options_.keys_repr);
    open_database();
  } catch (...) {
    // Refused (meta mismatch, not our file, ...): leave the files as they were.
    files_.abandon();
    throw;
  }
  files_.drop_stale_zst();
  // After the .db.zst is gone: this first read in WAL mode creates the
  // -wal and -shm files, which resume's crash points expect only once the
  // .db is the one complete copy (tests/test_crash_points.py).
  last_rowid_at_open_ = static_cast<std::uint64_t>(db_.query_int("SELECT coalesce(max(rowid), 0) FROM array_log"));
}

ArrayStore::~ArrayStore() { close_connection(); }

void ArrayStore::open_database() {
  try {
    StoreDatabase opened = open_store_database(files_.db(), name_, stored_, form_, options_, sync_);
    db_ = std::move(opened.db);
    count_database_opened();
    journal_ = opened.journal;
    max_txn_bytes_ = journal_ == Journal::Rollback ? kMaxRollbackTxnBytes : kMaxWalTxnBytes;
    options_.shuffle_zstd = opened.shuffle_zstd;
    encoder_ = BlobEncoder(stored_, opened.format_version, opened.shuffle_zstd, options_.shuffle_zstd_level);
    // Formats 2 and 3 (not format 1's files, which a resumed run keeps as they are).
    if (opened.format_version >= kFormatCurrent && !stored_.keys.empty())
      index_sql_ = "CREATE INDEX IF NOT EXISTS " + std::string(kFirstKeyIndex) + " ON array_log (" +
                   quote_identifier(stored_.keys.front()) + ")";
    insert_ = db_.prepare(insert_sql(stored_.keys, 1), "INSERT");
    insert_batch_ = db_.prepare(insert_sql(stored_.keys, kBatchRows), "INSERT");
    if (form_.period.steps) delete_row_ = db_.prepare("DELETE FROM array_log WHERE rowid = ?", "replacing a partial period");
    txn_sql_.emplace(db_);
  } catch (...) {
    close_connection();
    throw;
  }
}

void ArrayStore::close_connection() noexcept {
  txn_.reset();  // rolls back (callers commit first)
  insert_.finalize();
  insert_batch_.finalize();
  delete_row_.finalize();
  txn_sql_.reset();
  if (!db_) return;
  db_.close();
  count_database_closed();
}

void ArrayStore::close_database() {
  if (!db_) return;
  commit();
  // No checkpoint: it would cost fsyncs at every close, and the -wal must
  // stay, or readers would take the file for one nobody writes (and read it
  // as immutable while the writer reopens it).
  db_.keep_wal_on_close();
  close_connection();
}

void ArrayStore::reopen() {
  if (db_ || finished_) return;
  open_database();
  if (journal_ != Journal::Wal) return;  // a rollback journal has no WAL to keep short
  try {
    db_.set_pragma("wal_autocheckpoint", std::to_string(kReopenedCheckpointBytes / db_.query_int("PRAGMA page_size")));
  } catch (...) {
    close_connection();
    throw;
  }
}

bool ArrayStore::bind_row(Statement& st, int first_param, const Row& row) {
  const std::byte* keys = row.keys;
  const int nkeys = static_cast<int>(nkeys_);
  KeyRef k;
  for (int i = 0; i < nkeys; ++i) {
    keys = unpack_key(keys, k);
    st.bind(first_param + i, k);
  }
  const std::span<const std::byte> blob = encoder_.encode(row.blob);
  st.bind_blob(first_param + nkeys, blob);
  bytes_in_txn_ += blob.size();
  return k.kind == KeyRef::Kind::Integer && k.integer == 1;
}

void ArrayStore::replace_pending_partial() {
  // The partial row is the last one (periods are written in order), so the
  // row replacing it gets its rowid: rowids stay consecutive.
  delete_row_.bind(1, pending_partial_);
  delete_row_.run();
  pending_partial_ = 0;
}

void ArrayStore::insert(std::span<const Row> rows) {
  const int params_per_row = static_cast<int>(nkeys_) + 1;
  std::size_t i = 0;
  while (i < rows.size()) {
    if (!txn_) txn_.emplace(db_, *txn_sql_);
    const std::uint64_t until_commit = options_.commit_threshold_rows - rows_in_txn_;
    // Filtered blobs share one output buffer, so they go one per statement;
    // periodic rows (one per period) may replace a partial row.
    if (form_.period.steps) {
      if (pending_partial_) replace_pending_partial();
      const bool partial = bind_row(insert_, 1, rows[i]);
      insert_.run();
      if (partial) pending_partial_ = sqlite3_last_insert_rowid(db_.get());
      ++i;
      ++rows_in_txn_;
    } else if (!encoder_.filtered() && rows.size() - i >= kBatchRows && until_commit >= kBatchRows) {
      for (std::size_t r = 0; r < kBatchRows; ++r)
        bind_row(insert_batch_, 1 + static_cast<int>(r) * params_per_row, rows[i + r]);
      insert_batch_.run();
      i += kBatchRows;
      rows_in_txn_ += kBatchRows;
    } else {
      bind_row(insert_, 1, rows[i]);
      insert_.run();
      ++i;
      ++rows_in_txn_;
    }
    if (rows_in_txn_ >= options_.commit_threshold_rows || bytes_in_txn_ >= max_txn_bytes_) commit();
  }
}

ArrayStore::Clock::time_point ArrayStore::commit_deadline() const noexcept {
  return last_commit_ + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(options_.commit_threshold_seconds));
}

void ArrayStore::commit() {
  if (!txn_) return;
  crash_point("commit.before");
  if (const int rc = injected_failure("sqlite.commit")) db_.fail(rc, "COMMIT");  // tests only
  txn_->commit();
  crash_point("commit.after");
  txn_.reset();
  rows_committed_ += rows_in_txn_;
  rows_in_txn_ = 0;
  bytes_in_txn_ = 0;
  last_commit_ = Clock::now();
}

void ArrayStore::abandon_transaction() noexcept {
  txn_.reset();  // rolls back
  rows_in_txn_ = 0;
  bytes_in_txn_ = 0;
}

void ArrayStore::finish() {
  if (finished_) return;
  reopen();
  commit();
  insert_.finalize();
  insert_batch_.finalize();
  txn_sql_.reset();
  // The index that makes `WHERE first_key = ?` a seek instead of a scan
  // (docs/FORMAT.md, section 4), built once, at close: maintained during
  // the run it would cost every insert a second b-tree insert. Best effort:
  // the rows are committed already, and a file without it reads the same.
  // A resumed file has it already; SQLite keeps it up to date.
  if (!index_sql_.empty()) db_.try_exec(index_sql_.c_str());
  // TRUNCATE: copy every WAL frame into the .db and empty the WAL, so the
  // .db alone is complete; then leave WAL mode so the file needs no -wal or
  // -shm to be read (read-only readers and the zstd frame of it included).
  // Both fail harmlessly (BUSY) while another process has the file open; it
  // is then left in WAL mode, which every SQLite reads: best effort.
  db_.try_exec("PRAGMA wal_checkpoint(TRUNCATE)");
  crash_point("close.after_checkpoint");
  db_.try_exec("PRAGMA journal_mode=DELETE");
  crash_point("close.after_journal_delete");
  close_connection();
  finished_ = true;  // complete: close() may compress it
}

}  // namespace array_logger::detail
