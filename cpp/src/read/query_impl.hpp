// The state behind a Query: the running statement, how blobs are fetched
// (through the statement, or with incremental blob I/O for big rows) and
// the decoder that checks and decodes each one.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "array_logger/errors.hpp"
#include "array_logger/reader.hpp"
#include "format/blob_codec.hpp"
#include "read/reader_impl.hpp"
#include "sqlite/statement.hpp"

namespace array_logger {

struct Query::Impl {
  // Rows at least this large are read with sqlite3_blob_read() into one
  // reused buffer instead of sqlite3_column_blob(), which assembles every
  // multi-page blob in a freshly allocated buffer first.
  static constexpr std::uint64_t kDirectReadBytes = 16u << 10;
  static bool reads_directly(const ArraySpec& spec) { return spec.payload_bytes() >= kDirectReadBytes; }

  // `direct`: the statement's columns are keys, rowid, length(data),
  // typeof(data) instead of keys, data, rowid. The statement's last
  // parameter is `_rowid_ > ?` (resumable, see Reader::Impl).
  Impl(const Reader::Impl& reader, detail::Statement stmt, bool direct);

  bool data_is_blob() const;
  // The current row's stored blob (data_is_blob() must hold).
  std::span<const std::byte> fetch_blob();
  // Direct reads: when the current row's blob is unfiltered, writes its
  // payload to `out` straight from the file and returns true.
  bool read_payload_into(std::byte* out);
  // The current row's blob handle (opened once, moved between rows).
  sqlite3_blob* open_blob(sqlite3_int64 rowid);
  void blob_read(void* out, std::size_t n, std::size_t offset);
  CorruptFile corrupt(const std::string& why) const;

  struct BlobClose {
    void operator()(sqlite3_blob* b) const noexcept { sqlite3_blob_close(b); }
  };
  const Reader::Impl& reader;
  detail::Statement stmt;
  int nkeys;
  bool direct;
  std::uint64_t row = 0;
  int rowid_col;
  std::int64_t last_rowid = 0;  // of the last row returned
  bool paused = false;
  std::unique_ptr<sqlite3_blob, BlobClose> blob;  // direct reads: reopened per row
  std::vector<std::byte> raw;                      // direct reads land here
  std::vector<std::byte> head;                     // a blob's header, checked before its payload
  detail::BlobDecoder decoder;
  bool sparse = false;  // rows come back as indices + values (Reader::query_sparse)
  std::vector<std::uint64_t> indices;
  std::vector<std::byte> values;
};

}  // namespace array_logger
