#include "array_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"
#include "array_logger/version.hpp"
#include "crash_point.hpp"
#include "file_ops.hpp"
#include "meta_table.hpp"
#include "record_ring.hpp"
#include "sql_text.hpp"
#include "zstd_file.hpp"

namespace array_logger::detail {
namespace {

// Commit before a transaction holds this many blob bytes, whatever the row
// threshold says: keeps the WAL (and checkpoint stalls) bounded for big arrays.
constexpr std::uint64_t kMaxTxnBytes = 64ull << 20;
constexpr std::uint64_t kAutoCheckpointBytes = 64ull << 20;

std::uint64_t page_size(Database& db) {
  StmtPtr st = db.prepare("PRAGMA page_size");
  if (sqlite3_step(st.get()) != SQLITE_ROW) return 4096;
  return static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 0));
}

// Larger pages for larger rows: fewer overflow pages per blob.
int page_size_for(std::uint64_t blob_bytes) {
  if (blob_bytes <= 2048) return 4096;
  if (blob_bytes <= 32768) return 16384;
  return 65536;
}

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* synchronous_pragma(Synchronous s) {
  switch (s) {
    case Synchronous::Off: return "PRAGMA synchronous=OFF";
    case Synchronous::Full: return "PRAGMA synchronous=FULL";
    case Synchronous::Normal: break;
  }
  return "PRAGMA synchronous=NORMAL";
}

}  // namespace

ArrayStore::ArrayStore(const std::filesystem::path& root, std::string name, const ArraySpec& spec,
                       const RegisterOptions& options, Synchronous sync)
    : name_(std::move(name)), spec_(spec), options_(options) {
  validate_array_name(name_);
  validate_spec(spec_);
  if (options_.commit_threshold_rows == 0) throw InvalidArgument("commit_threshold_rows must be at least 1");
  if (!(options_.commit_threshold_seconds > 0)) throw InvalidArgument("commit_threshold_seconds must be positive");
  lock_ = std::make_unique<NameLock>(root, name_);
  db_path_ = root / (name_ + ".db");
  zst_path_ = root / (name_ + ".db.zst");
  const auto zst_tmp = root / (name_ + ".db.zst.tmp");
  const auto db_tmp = root / (name_ + ".db.tmp");
  // Leftovers of a run killed while compressing or decompressing: the
  // complete file is still there, the temporary one is garbage.
  remove_if_exists(zst_tmp);
  remove_if_exists(db_tmp);

  if (std::filesystem::is_directory(db_path_))
    throw StorageError(db_path_.string() + " is a directory, not a database file", 0, EISDIR);
  const bool have_db = file_exists(db_path_);
  const bool from_zst = !have_db && file_exists(zst_path_);
  if (from_zst) {
    // Resume a compressed run: decompress completely and durably first.
    decompress_file(zst_path_, db_tmp, 0644);
    crash_point("resume.after_tmp_fsync");
    durable_rename(db_tmp, db_path_, "resume.after_rename");
    crash_point("resume.after_rename_dir_fsync");
  }
  try {
    open_database(sync);
  } catch (...) {
    // Refused (meta mismatch, not our file, ...): leave the files as they
    // were, i.e. drop the copy we decompressed; the .db.zst is untouched.
    db_.close();
    if (from_zst) {
      ::unlink(db_path_.c_str());
      ::unlink((db_path_.string() + "-wal").c_str());
      ::unlink((db_path_.string() + "-shm").c_str());
    }
    throw;
  }
  // The .db is now the complete, authoritative copy; a .db.zst beside it is
  // either what we just decompressed or a copy left by a crash between
  // renaming a new .db.zst and removing the .db. Either way it is stale.
  crash_point("resume.before_unlink_zst");
  remove_if_exists(zst_path_);
  crash_point("resume.after_unlink_zst");
}

void ArrayStore::open_database(Synchronous sync) {
  db_ = Database(db_path_.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                 db_path_.string());
  if (has_table(db_, "meta") || has_table(db_, "array_log"))
    check_existing_schema();
  else
    create_schema();
  db_.exec(synchronous_pragma(sync));
  // Checkpoint (and, with synchronous=NORMAL, fsync) once per ~64 MiB of WAL
  // instead of SQLite's default 1000 pages: with a commit every 100 small
  // rows the default checkpoints dozens of times per million rows, and those
  // fsyncs, not the inserts, dominate the writer's time.
  db_.exec(("PRAGMA wal_autocheckpoint=" + std::to_string(kAutoCheckpointBytes / page_size(db_))).c_str());
  prepare_statements();
}

void ArrayStore::create_schema() {
  format_version_ = kFormatCurrent;
  const std::uint64_t blob = spec_.payload_bytes() + 64;
  db_.exec(("PRAGMA page_size=" + std::to_string(page_size_for(blob))).c_str());
  db_.exec("PRAGMA journal_mode=WAL");
  std::string create = "CREATE TABLE array_log (";
  for (const auto& k : spec_.keys) create += quote_identifier(k) + " NOT NULL, ";
  create += "data BLOB NOT NULL)";
  std::string keys_text = keys_repr(spec_.keys);
  if (!options_.keys_repr.empty()) {
    if (parse_keys_repr(options_.keys_repr) != spec_.keys)
      throw InvalidArgument("keys_repr " + options_.keys_repr + " does not spell the registered keys");
    keys_text = options_.keys_repr;
  }
  MetaRows rows = {
      {"shape", shape_repr(spec_.shape)},
      {"dtype", std::string(spec_.dtype->name)},
      {"keys", keys_text},
      {"array_logger_version", version()},
      {"format_version", std::to_string(kFormatCurrent)},
      {"blob_layout", "ALB1"},
      {"blob_filter", options_.shuffle_zstd ? "shuffle-zstd" : "none"},
      {"byte_order", "little"},
      {"created_at", utc_now_iso()},
  };
  if (!options_.user_metadata.empty()) rows.emplace_back("user_metadata", options_.user_metadata);
  db_.exec("BEGIN IMMEDIATE");
  try {
    // A concurrent process may have created the schema meanwhile.
    if (has_table(db_, "meta")) {
      db_.exec("ROLLBACK");
      check_existing_schema();
      return;
    }
    db_.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    db_.exec(create.c_str());
    write_meta_rows(db_, rows);
    db_.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  if (!options_.shuffle_zstd) blob_prefix_ = encode_blob_header(spec_);
  else filter_header_ = encode_blob_header(spec_, kBlobFlagShuffleZstd);
}

void ArrayStore::check_existing_schema() {
  FileMeta meta;
  try {
    meta = decode_meta(read_meta_rows(db_));
  } catch (const CorruptFile& e) {
    throw MetaMismatch("Meta mismatch for '" + name_ + "': " + db_path_.string() +
                       " is not a readable array_logger file (" + e.what() + ")");
  }
  if (!(meta.spec == spec_)) {
    throw MetaMismatch("Meta mismatch for '" + name_ + "': " + db_path_.string() + " has " +
                       meta.spec.describe() + " but register asked for " + spec_.describe());
  }
  check_array_log_columns(db_, spec_.keys, db_path_.string());
  format_version_ = meta.format_version;
  db_.exec("PRAGMA journal_mode=WAL");
  // Resume exactly as the file was written: format 1 stays bare tobytes()
  // blobs, format 2 keeps its filter choice.
  options_.shuffle_zstd = meta.shuffle_zstd;
  if (format_version_ == kFormatCurrent) {
    if (meta.shuffle_zstd) filter_header_ = encode_blob_header(spec_, kBlobFlagShuffleZstd);
    else blob_prefix_ = encode_blob_header(spec_);
  }
}

void ArrayStore::prepare_statements() {
  // OR FAIL: a multi-row INSERT then needs no statement journal (nothing to
  // undo halfway: our rows cannot violate a constraint), saving a copy of
  // every page it touches.
  std::string sql = "INSERT OR FAIL INTO array_log (";
  for (const auto& k : spec_.keys) sql += quote_identifier(k) + ", ";
  sql += "data) VALUES (";
  for (std::size_t i = 0; i < spec_.keys.size(); ++i) sql += "?, ";
  sql += "?)";
  insert_ = db_.prepare(sql);
  std::string row = "(";
  for (std::size_t i = 0; i < spec_.keys.size(); ++i) row += "?, ";
  row += "?)";
  std::string batch = sql.substr(0, sql.find("VALUES") + 7);
  for (std::size_t r = 0; r < kBatchRows; ++r) batch += (r ? ", " : "") + row;
  insert_batch_ = db_.prepare(batch);
  begin_ = db_.prepare("BEGIN");
  commit_ = db_.prepare("COMMIT");
  if (options_.shuffle_zstd) {
    filter_cctx_.reset(ZSTD_createCCtx());
    if (!filter_cctx_) throw StorageError("out of memory creating a zstd context");
    ZSTD_CCtx_setParameter(filter_cctx_.get(), ZSTD_c_compressionLevel, options_.shuffle_zstd_level);
    const std::size_t payload = spec_.payload_bytes();
    filter_scratch_.resize(payload);
    raw_header_ = encode_blob_header(spec_);
    filter_out_.resize(std::max(filter_header_.size() + ZSTD_compressBound(payload), raw_header_.size() + payload));
  }
}

void ArrayStore::bind_row(sqlite3_stmt* st, int first_param, const Row& row) {
  const std::byte* keys = row.keys;
  const int nkeys = static_cast<int>(spec_.keys.size());
  for (int i = 0; i < nkeys; ++i) {
    KeyRef k;
    keys = unpack_key(keys, k);
    const int idx = first_param + i;
    int rc;
    switch (k.kind) {
      case KeyRef::Kind::Integer: rc = sqlite3_bind_int64(st, idx, k.integer); break;
      case KeyRef::Kind::Real: rc = sqlite3_bind_double(st, idx, k.real); break;
      default: rc = sqlite3_bind_text(st, idx, k.text.data(), static_cast<int>(k.text.size()), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) db_.fail(rc, "bind key");
  }
  std::span<const std::byte> blob = row.blob;
  if (options_.shuffle_zstd) {
    // The queued blob is the raw payload; store header + zstd(shuffle(payload)).
    byte_shuffle(blob, spec_.dtype->itemsize, filter_scratch_);
    std::memcpy(filter_out_.data(), filter_header_.data(), filter_header_.size());
    std::size_t n = ZSTD_compress2(filter_cctx_.get(), filter_out_.data() + filter_header_.size(),
                                   filter_out_.size() - filter_header_.size(), filter_scratch_.data(),
                                   filter_scratch_.size());
    if (ZSTD_isError(n)) throw StorageError(std::string("zstd blob filter: ") + ZSTD_getErrorName(n));
    if (n < blob.size()) {
      blob = std::span<const std::byte>(filter_out_.data(), filter_header_.size() + n);
    } else {
      // Incompressible row: store it unfiltered (flags 0), which readers
      // tell apart by the header, rather than make it bigger.
      std::memcpy(filter_out_.data(), raw_header_.data(), raw_header_.size());
      std::memcpy(filter_out_.data() + raw_header_.size(), blob.data(), blob.size());
      blob = std::span<const std::byte>(filter_out_.data(), raw_header_.size() + blob.size());
    }
  }
  int rc = sqlite3_bind_blob(st, first_param + nkeys, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) db_.fail(rc, "bind data");
  bytes_in_txn_ += blob.size();
}

void ArrayStore::begin_if_needed() {
  if (in_txn_) return;
  int rc = sqlite3_step(begin_.get());
  sqlite3_reset(begin_.get());
  if (rc != SQLITE_DONE) db_.fail(rc, "BEGIN");
  in_txn_ = true;
}

void ArrayStore::step_insert(sqlite3_stmt* st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) db_.fail(rc, "INSERT");
}

void ArrayStore::insert(std::span<const Row> rows) {
  const int params_per_row = static_cast<int>(spec_.keys.size()) + 1;
  std::size_t i = 0;
  while (i < rows.size()) {
    begin_if_needed();
    const std::uint64_t until_commit = options_.commit_threshold_rows - rows_in_txn_;
    // Filtered blobs share one scratch buffer, so they go one per statement.
    if (!options_.shuffle_zstd && rows.size() - i >= kBatchRows && until_commit >= kBatchRows) {
      sqlite3_stmt* st = insert_batch_.get();
      for (std::size_t r = 0; r < kBatchRows; ++r) bind_row(st, 1 + static_cast<int>(r) * params_per_row, rows[i + r]);
      step_insert(st);
      i += kBatchRows;
      rows_in_txn_ += kBatchRows;
    } else {
      bind_row(insert_.get(), 1, rows[i]);
      step_insert(insert_.get());
      ++i;
      ++rows_in_txn_;
    }
    if (rows_in_txn_ >= options_.commit_threshold_rows || bytes_in_txn_ >= kMaxTxnBytes) commit();
  }
}

bool ArrayStore::commit_due(Clock::time_point now) const noexcept {
  return in_txn_ && now >= commit_deadline();
}

ArrayStore::Clock::time_point ArrayStore::commit_deadline() const noexcept {
  return last_commit_ + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(options_.commit_threshold_seconds));
}

void ArrayStore::commit() {
  if (!in_txn_) return;
  crash_point("commit.before");
  int rc = sqlite3_step(commit_.get());
  sqlite3_reset(commit_.get());
  if (rc != SQLITE_DONE) db_.fail(rc, "COMMIT");
  crash_point("commit.after");
  in_txn_ = false;
  rows_committed_ += rows_in_txn_;
  rows_in_txn_ = 0;
  bytes_in_txn_ = 0;
  last_commit_ = Clock::now();
}

void ArrayStore::abandon_transaction() noexcept {
  if (db_ && !sqlite3_get_autocommit(db_.get()))
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  in_txn_ = false;
  rows_in_txn_ = 0;
  bytes_in_txn_ = 0;
}

void ArrayStore::finish() {
  if (!db_) return;
  commit();
  insert_.reset();
  insert_batch_.reset();
  begin_.reset();
  commit_.reset();
  // TRUNCATE: copy every WAL frame into the .db and empty the WAL, so the
  // .db alone is complete; then leave WAL mode so the file needs no -wal or
  // -shm to be read (read-only readers and the zstd frame of it included).
  // Both fail harmlessly (BUSY) while another process has the file open; it
  // is then left in WAL mode, which every SQLite reads.
  sqlite3_exec(db_.get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  crash_point("close.after_checkpoint");
  sqlite3_exec(db_.get(), "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  crash_point("close.after_journal_delete");
  db_.close();
}

}  // namespace array_logger::detail
