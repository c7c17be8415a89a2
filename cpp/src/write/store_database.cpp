#include "write/store_database.hpp"

#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "format/schema.hpp"
#include "os/fail_point.hpp"
#include "sqlite/transaction.hpp"

namespace array_logger::detail {
namespace {

constexpr std::uint64_t kAutoCheckpointBytes = 64ull << 20;

// Larger pages for larger rows: fewer overflow pages per blob.
int page_size_for(std::uint64_t blob_bytes) {
  if (blob_bytes <= 2048) return 4096;
  if (blob_bytes <= 32768) return 16384;
  return 65536;
}

const char* synchronous_pragma(Synchronous s) {
  switch (s) {
    case Synchronous::Off: return "PRAGMA synchronous=OFF";
    case Synchronous::Full: return "PRAGMA synchronous=FULL";
    case Synchronous::Normal: break;
  }
  return "PRAGMA synchronous=NORMAL";
}

Journal journal_for_new_file(const ArraySpec& spec, Journal asked) {
  if (asked != Journal::Auto) return asked;
  return spec.payload_bytes() + 64 > kRollbackMinBlobBytes ? Journal::Rollback : Journal::Wal;
}

void set_journal_mode(StoreDatabase& s) {
  if (s.journal == Journal::Wal) {
    s.db.set_pragma("journal_mode", "wal");
    return;
  }
  // TRUNCATE, not DELETE: a commit empties the journal instead of
  // unlinking it (an unlink per commit cost ~3 ms here). An empty journal
  // is never hot, so a kill between commits leaves nothing to roll back.
  s.db.set_pragma("journal_mode", "truncate");
  // Dirty pages stay in memory until COMMIT instead of being spilled into
  // the database mid-transaction: a spill takes the EXCLUSIVE lock, which
  // would keep readers out until the commit (up to commit_threshold_seconds
  // later). Memory is bounded by the transaction cap (kMaxRollbackTxnBytes in
  // write/array_store.cpp).
  s.db.exec("PRAGMA cache_spill=OFF");
  // A commit waits until readers of other connections end their read
  // transactions. array_logger's reader holds one only while it fetches a
  // block of rows, but a plain sqlite3 reader may hold its own longer:
  // wait rather than fail the run.
  sqlite3_busy_timeout(s.db.get(), 600'000);
}

// The file's spec must be the registered one.
void check_existing(StoreDatabase& s, const std::filesystem::path& path, const std::string& name,
                    const ArraySpec& spec, const StoredForm& form) {
  FileMeta meta;
  try {
    meta = decode_meta(read_meta_rows(s.db));
  } catch (const CorruptFile& e) {
    throw MetaMismatch("Meta mismatch for '" + name + "': " + path.string() +
                       " is not a readable array_logger file (" + e.what() + ")");
  }
  if (!(meta.spec == spec)) {
    throw MetaMismatch("Meta mismatch for '" + name + "': " + path.string() + " has " + meta.spec.describe() +
                       " but register asked for " + spec.describe());
  }
  if (!(meta.form == form)) {
    throw MetaMismatch("Meta mismatch for '" + name + "': " + path.string() + " stores " + meta.form.describe() +
                       " but register asked for " + form.describe());
  }
  check_array_log_columns(s.db, spec.keys, path.string());
  s.format_version = meta.format_version;
  s.shuffle_zstd = meta.shuffle_zstd;
  // The mode the file was created with, whatever this register asked for:
  // a reader of a live file relies on it not changing.
  const auto recorded = meta.rows.find(kJournalMetaKey);
  s.journal = recorded != meta.rows.end() && recorded->second == "rollback" ? Journal::Rollback : Journal::Wal;
  set_journal_mode(s);
}

void create_or_check(StoreDatabase& s, const std::filesystem::path& path, const std::string& name,
                     const ArraySpec& spec, const StoredForm& form, const RegisterOptions& options) {
  std::string keys_text = keys_repr(spec.keys);
  if (!options.keys_repr.empty()) {
    if (parse_keys_repr(options.keys_repr) != spec.keys)
      throw InvalidArgument("keys_repr " + options.keys_repr + " does not spell the registered keys");
    keys_text = options.keys_repr;
  }
  s.db.exec("PRAGMA page_size=" + std::to_string(page_size_for(spec.payload_bytes() + 64)));
  s.journal = journal_for_new_file(spec, options.journal);
  set_journal_mode(s);
  {
    Transaction txn(s.db, Transaction::Mode::Immediate);
    // A concurrent process may have created the schema meanwhile.
    if (!s.db.has_table("meta")) {
      MetaRows meta = new_file_meta(spec, keys_text, options.shuffle_zstd, options.user_metadata, form, options.shard);
      meta.emplace_back(kJournalMetaKey, s.journal == Journal::Rollback ? "rollback" : "wal");
      create_tables(s.db, spec.keys, meta);
      txn.commit();
      s.format_version = form.format_version();
      s.shuffle_zstd = options.shuffle_zstd;
      return;
    }
  }
  check_existing(s, path, name, spec, form);
}

}  // namespace

StoreDatabase open_store_database(const std::filesystem::path& db_path, const std::string& name,
                                  const ArraySpec& spec, const StoredForm& form, const RegisterOptions& options,
                                  Synchronous sync) {
  StoreDatabase s{Database(db_path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           db_path.string()),
                  kFormatCurrent, options.shuffle_zstd};
  // First, so that creating a new file's tables is synced as asked too
  // (SQLite's default is FULL: a few fsyncs per name, which thousands of
  // names register one after the other would wait for).
  s.db.exec(synchronous_pragma(sync));
  if (const int rc = injected_failure("sqlite.open")) s.db.fail(rc, "cannot open");  // tests only
  if (s.db.has_table("meta") || s.db.has_table("array_log"))
    check_existing(s, db_path, name, spec, form);
  else
    create_or_check(s, db_path, name, spec, form, options);
  if (s.journal == Journal::Rollback) return s;
  // Checkpoint (and, with synchronous=NORMAL, fsync) once per ~64 MiB of WAL
  // instead of SQLite's default 1000 pages: with a commit every 100 small
  // rows the default checkpoints dozens of times per million rows, and those
  // fsyncs, not the inserts, dominate the writer's time.
  s.db.set_pragma("wal_autocheckpoint", std::to_string(kAutoCheckpointBytes / s.db.query_int("PRAGMA page_size")));
  return s;
}

}  // namespace array_logger::detail
