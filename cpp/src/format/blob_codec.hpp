// What is stored in the `data` column, both ways: the writer's encoder
// (blob header + raw payload, or the shuffle-zstd filter) and the reader's
// decoder, which checks every blob against the file's meta. The byte
// layout itself is array_logger/blob.hpp (docs/FORMAT.md, "Blob layout 1").
#pragma once

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "array_logger/array_spec.hpp"
#include "array_logger/meta.hpp"
#include "format/encoded_blob.hpp"
#include "os/zstd_ptr.hpp"

namespace array_logger::detail {

class BlobEncoder {
 public:
  BlobEncoder() = default;
  // `format_version` 1 stores bare payloads (the pure-Python layout), 2 the
  // ALB1 header before each payload; `shuffle_zstd` (format 2 only) filters it.
  BlobEncoder(const ArraySpec& spec, int format_version, bool shuffle_zstd, int level);

  // Bytes the producer copies in front of each payload in the queue, so that
  // an unfiltered row is stored as queued, without another copy.
  const std::vector<std::byte>& queued_prefix() const noexcept { return queued_prefix_; }
  // Filtered blobs share one output buffer: one row per statement.
  bool filtered() const noexcept { return static_cast<bool>(cctx_); }
  // The blob to store for a queued one (prefix + payload). A filtered result
  // points into the encoder and is valid until the next call.
  std::span<const std::byte> encode(std::span<const std::byte> queued);

 private:
  std::size_t itemsize_ = 1;
  std::vector<std::byte> queued_prefix_;
  std::vector<std::byte> filtered_header_, raw_header_;
  ZstdPtr<ZSTD_CCtx> cctx_;
  std::vector<std::byte> shuffled_, out_;
};

class BlobDecoder {
 public:
  BlobDecoder() = default;
  // `form` (format 3: fixed point, sparse rows) must outlive the decoder.
  BlobDecoder(const ArraySpec& spec, int format_version, const StoredForm* form = nullptr);

  // The array bytes (C order) of a stored blob, valid until the next call.
  // Throws CorruptFile saying what does not match the meta.
  std::span<const std::byte> decode(std::span<const std::byte> blob);
  // The flat indices and values of the elements that are not all-zero
  // bytes: as stored for sparse rows, found in the array otherwise.
  void decode_sparse(std::span<const std::byte> blob, std::vector<std::uint64_t>& indices,
                     std::vector<std::byte>& values);

  // What precedes the payload of an unfiltered blob (the ALB1 header; empty
  // for format 1): a blob of raw_prefix().size() + payload_bytes() bytes that
  // starts with exactly these bytes needs no decoding, so its payload can be
  // read straight to its destination.
  std::span<const std::byte> raw_prefix() const noexcept { return raw_header_; }
  // Format 3: every blob needs decoding (fixed point, sparse rows), whatever its size.
  bool encoded() const noexcept { return encoded_ != nullptr; }
  std::uint64_t payload_bytes() const noexcept { return payload_; }

 private:
  std::unique_ptr<EncodedBlobDecoder> encoded_;  // format 3
  const ArraySpec* spec_ = nullptr;
  int format_version_ = 0;
  std::uint64_t payload_ = 0;
  std::vector<std::byte> raw_header_, filtered_header_;
  ZstdPtr<ZSTD_DCtx> dctx_;  // created at the first filtered blob
  std::vector<std::byte> unzipped_, decoded_;
};

}  // namespace array_logger::detail
