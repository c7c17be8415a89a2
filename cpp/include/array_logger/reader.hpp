// The read side: opens one array_logger file (.db or .db.zst, format 1 or 2)
// read-only and runs filtered queries over its rows.
//
// A Reader never modifies what it reads: the connection is read-only and an
// authorizer refuses anything but reading in user-supplied WHERE clauses.
// A .db.zst is decompressed to a private temporary file (mode 0600) that is
// removed by close() or the destructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "array_logger/array_spec.hpp"
#include "array_logger/key_value.hpp"

namespace array_logger {

class Reader;

// A running query. Move-only; must not outlive its Reader.
class Query {
 public:
  Query(Query&&) noexcept;
  Query& operator=(Query&&) noexcept;
  ~Query();

  // Advances to the next row; false at the end. Throws CorruptFile when a
  // row's blob does not match the file's meta.
  bool next();
  // next(), writing the row's array bytes (spec().payload_bytes() of them)
  // to `out` instead of exposing them: big unfiltered rows go from the file
  // to `out` with no copy in between (array_bytes() is then empty).
  bool next_into(std::byte* out);
  // Ends the query's read transaction (a writer using a rollback journal
  // waits for readers to finish theirs before it commits); the next call to
  // next() continues after the last row returned, with rows committed since
  // then included. Invalidates the current row.
  void pause() noexcept;
  // Key i of the current row (text stays valid until next()).
  KeyRef key(std::size_t i) const;
  // The current row's array bytes (C order, little-endian; decoded when the
  // file uses the shuffle-zstd filter). Valid until next().
  std::span<const std::byte> array_bytes() const noexcept { return current_; }
  // Queries made by Reader::query_sparse: the current row's elements whose
  // bytes are not all zero, as flat C-order indices and their values (the
  // file's dtype, little-endian), valid until next(); array_bytes() is
  // empty. Rows stored sparse are never expanded (docs/FORMAT.md 5.5).
  std::span<const std::uint64_t> sparse_indices() const noexcept;
  std::span<const std::byte> sparse_values() const noexcept;

 private:
  friend class Reader;
  struct Impl;
  explicit Query(std::unique_ptr<Impl> impl);
  bool step();            // the next row, checked to hold a blob
  void decode_current();  // current_ = the row's decoded array bytes
  std::unique_ptr<Impl> impl_;
  std::span<const std::byte> current_;
};

class Reader {
 public:
  // `path`: a .db, a .db.zst, or a .db path where only the .db.zst exists.
  // Throws StorageError (errno ENOENT when missing), CorruptFile.
  explicit Reader(const std::filesystem::path& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const ArraySpec& spec() const noexcept;
  int format_version() const noexcept;
  // Every meta row, verbatim.
  const std::map<std::string, std::string>& meta() const noexcept;
  // The file opened (after resolving x.db -> x.db.zst).
  const std::filesystem::path& path() const noexcept;

  // Rows whose keys satisfy `where` (an SQL expression over the key columns
  // with ? placeholders bound from `params`; empty = all rows), in the order
  // they were logged. Throws InvalidArgument for a clause that is not a
  // single read-only expression.
  Query query(std::string_view where = {}, std::span<const KeyValue> params = {}) const;
  // Same rows, read as (indices, values) of their non-zero elements.
  Query query_sparse(std::string_view where = {}, std::span<const KeyValue> params = {}) const;
  std::uint64_t count(std::string_view where = {}, std::span<const KeyValue> params = {}) const;

  // What the key columns of the selected rows hold, in one pass over the
  // keys (no array is read): the row count and, per key (in spec order),
  // the smallest and largest value in SQLite's order (numbers before text;
  // empty without rows) and how many values are INTEGER, REAL and TEXT.
  struct KeyStats {
    std::optional<KeyValue> min, max;
    std::uint64_t integers = 0, reals = 0, texts = 0;
  };
  struct KeySummary {
    std::uint64_t rows = 0;
    std::vector<KeyStats> keys;
  };
  KeySummary summarize_keys(std::string_view where = {}, std::span<const KeyValue> params = {}) const;

  // SQLite's own check of the file's structure (PRAGMA integrity_check):
  // empty when intact, else SQLite's messages. Reads every page; the rows'
  // blobs are checked by reading them (query()).
  std::vector<std::string> integrity_check() const;

  // The SQLite database read (for a .db.zst: the decompressed one), from
  // PRAGMAs on the open connection: what `array-logger info` shows. (No
  // journal mode: a file read immutable reports "delete" whatever its header
  // says; the header itself tells, docs/FORMAT.md.)
  struct DatabaseInfo {
    std::int64_t page_size = 0, page_count = 0, freelist_count = 0;
  };
  DatabaseInfo database_info() const;

  void close() noexcept;
  bool closed() const noexcept;

  struct Impl;  // opaque; public so that Query's implementation can refer to it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace array_logger
