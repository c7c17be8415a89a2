// Opening the database of one array name for writing: creating the tables
// and meta of a new file, or checking an existing file's meta against the
// registered spec, then the SQLite settings the writer runs with.
#pragma once

#include <filesystem>
#include <string>

#include "array_logger/array_spec.hpp"
#include "array_logger/meta.hpp"
#include "array_logger/options.hpp"
#include "sqlite/database.hpp"

namespace array_logger::detail {

struct StoreDatabase {
  Database db;
  // How rows are stored: an existing file is resumed exactly as it was
  // written (format 1 stays bare blobs, format 2 keeps its filter choice).
  int format_version;
  bool shuffle_zstd;
  // The file's journal mode while written (meta `write_journal`; absent =
  // WAL, as every file before it was written).
  Journal journal = Journal::Wal;
};

// Meta `write_journal` values.
inline constexpr const char* kJournalMetaKey = "write_journal";
// Rows above this many blob bytes get a rollback journal under Journal::Auto.
inline constexpr std::uint64_t kRollbackMinBlobBytes = 32u << 10;

// `spec` and `form` describe the stored rows (stored_form.hpp). Throws
// MetaMismatch when the file holds another spec or form (or is not an
// array_logger file), InvalidArgument for a keys_repr that does not spell
// the keys, StorageError.
StoreDatabase open_store_database(const std::filesystem::path& db_path, const std::string& name,
                                  const ArraySpec& spec, const StoredForm& form, const RegisterOptions& options,
                                  Synchronous sync);

}  // namespace array_logger::detail
