#include "format/blob_codec.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "format/sparse_payload.hpp"

namespace array_logger::detail {

BlobEncoder::BlobEncoder(const ArraySpec& spec, int format_version, bool shuffle_zstd, int level)
    : itemsize_(spec.dtype->itemsize) {
  if (format_version == kFormatLegacy) return;  // bare tobytes() blobs
  if (!shuffle_zstd) {
    queued_prefix_ = encode_blob_header(spec);
    return;
  }
  // The queue holds the raw payload; the writer stores
  // header + zstd(shuffle(payload)).
  cctx_ = make_zstd_cctx();
  check_zstd(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level), "zstd blob filter level");
  const std::size_t payload = spec.payload_bytes();
  filtered_header_ = encode_blob_header(spec, kBlobFlagShuffleZstd);
  raw_header_ = encode_blob_header(spec);
  shuffled_.resize(payload);
  out_.resize(std::max(filtered_header_.size() + ZSTD_compressBound(payload), raw_header_.size() + payload));
}

std::span<const std::byte> BlobEncoder::encode(std::span<const std::byte> queued) {
  if (!cctx_) return queued;
  byte_shuffle(queued, itemsize_, shuffled_);
  const std::size_t h = filtered_header_.size();
  std::memcpy(out_.data(), filtered_header_.data(), h);
  const std::size_t n = ZSTD_compress2(cctx_.get(), out_.data() + h, out_.size() - h, shuffled_.data(), shuffled_.size());
  check_zstd(n, "zstd blob filter");
  if (n < queued.size()) return {out_.data(), h + n};
  // Incompressible row: store it unfiltered (flags 0), which readers tell
  // apart by the header, rather than make it bigger.
  std::memcpy(out_.data(), raw_header_.data(), raw_header_.size());
  std::memcpy(out_.data() + raw_header_.size(), queued.data(), queued.size());
  return {out_.data(), raw_header_.size() + queued.size()};
}

BlobDecoder::BlobDecoder(const ArraySpec& spec, int format_version, const StoredForm* form)
    : spec_(&spec), format_version_(format_version), payload_(spec.payload_bytes()) {
  if (format_version == kFormatEncoded) {
    if (form == nullptr) throw CorruptFile("format 3 file without its stored form");
    encoded_ = std::make_unique<EncodedBlobDecoder>(spec, *form);
  } else if (format_version == kFormatCurrent) {
    raw_header_ = encode_blob_header(spec);
    filtered_header_ = encode_blob_header(spec, kBlobFlagShuffleZstd);
  }
}

std::span<const std::byte> BlobDecoder::decode(std::span<const std::byte> blob) {
  if (encoded_) return encoded_->decode(blob);
  const std::byte* p = blob.data();
  const std::size_t n = blob.size();
  if (format_version_ == kFormatLegacy) {
    if (n != payload_)
      throw CorruptFile("blob has " + std::to_string(n) + " bytes, meta says " + std::to_string(payload_));
    return blob;
  }
  // The header every row of this file should carry, compared as bytes:
  // cheaper than parsing it, and exact.
  if (n == raw_header_.size() + payload_ && std::memcmp(p, raw_header_.data(), raw_header_.size()) == 0)
    return blob.subspan(raw_header_.size());
  const std::size_t fh = filtered_header_.size();
  if (n >= fh && std::memcmp(p, filtered_header_.data(), fh) == 0) {
    if (!dctx_) {
      dctx_ = make_zstd_dctx();
      unzipped_.resize(payload_);
      decoded_.resize(payload_);
    }
    const std::size_t got = ZSTD_decompressDCtx(dctx_.get(), unzipped_.data(), unzipped_.size(), p + fh, n - fh);
    if (ZSTD_isError(got) || got != payload_) throw CorruptFile("filtered blob does not decompress to the array size");
    byte_unshuffle(unzipped_, spec_->dtype->itemsize, decoded_);
    return decoded_;
  }
  // Not what the meta promises: say precisely what is wrong.
  const BlobHeader h = decode_blob_header(blob);
  if (h.flags & ~kBlobFlagShuffleZstd)
    throw CorruptFile("blob flags " + std::to_string(h.flags) + " are not allowed in a format-" +
                      std::to_string(format_version_) + " file");
  std::vector<std::int64_t> shape(h.shape.begin(), h.shape.end());
  throw CorruptFile("blob header says shape " + shape_repr(shape) + " dtype " + std::string(h.dtype->name) +
                    " but meta says " + spec_->describe());
}

void BlobDecoder::decode_sparse(std::span<const std::byte> blob, std::vector<std::uint64_t>& indices,
                                std::vector<std::byte>& values) {
  if (encoded_) return encoded_->decode_sparse(blob, indices, values);
  const std::span<const std::byte> dense = decode(blob);
  gather_nonzero(dense.data(), spec_->element_count(), spec_->dtype->itemsize, indices, values);
}

}  // namespace array_logger::detail
