#include "format/encoded_blob.hpp"

#include <cstring>
#include <string>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"
#include "format/sparse_payload.hpp"

namespace array_logger::detail {

EncodedBlobDecoder::EncodedBlobDecoder(const ArraySpec& spec, const StoredForm& form)
    : n_(spec.element_count()),
      itemsize_(spec.dtype->itemsize),
      stored_size_(spec.dtype->itemsize),
      header_(encode_blob_header(spec)) {
  fixed_ = form.fixed_point.has_value();
  sparse_ = form.sparse_index_dtype != nullptr;
  if (fixed_) {
    fp_ = FixedPointCodec(*form.fixed_point, *spec.dtype, *form.fixed_point_dtype);
    stored_size_ = form.fixed_point_dtype->itemsize;
  }
  if (sparse_) index_size_ = form.sparse_index_dtype->itemsize;
}

std::span<const std::byte> EncodedBlobDecoder::payload_of(std::span<const std::byte> blob, std::uint8_t& flags) const {
  const std::size_t h = header_.size();
  if (blob.size() < h || std::memcmp(blob.data(), header_.data(), 4) != 0 ||
      std::memcmp(blob.data() + 5, header_.data() + 5, h - 5) != 0) {
    // Not the header the meta implies: say precisely what it is instead.
    const BlobHeader got = decode_blob_header(blob);
    (void)got;
    throw CorruptFile("blob header does not match the meta's shape and dtype");
  }
  flags = static_cast<std::uint8_t>(blob[4]);
  const bool ok = (flags & kBlobFlagShuffleZstd) == 0 && ((flags & kBlobFlagFixedPoint) != 0) == fixed_ &&
                  (sparse_ || (flags & kBlobFlagSparse) == 0) && (flags & ~kBlobKnownFlags) == 0;
  if (!ok) throw CorruptFile("blob flags " + std::to_string(flags) + " do not match the file's fixed_point/sparse meta");
  return blob.subspan(h);
}

std::span<const std::byte> EncodedBlobDecoder::decode(std::span<const std::byte> blob) {
  std::uint8_t flags = 0;
  const std::span<const std::byte> payload = payload_of(blob, flags);
  if (dense_.size() != n_ * itemsize_) dense_.resize(n_ * itemsize_);
  if (flags & kBlobFlagSparse) {
    const SparseView v = parse_sparse(payload, n_, index_size_, stored_size_);
    if (!fixed_) {
      scatter_sparse(v, itemsize_, dense_.data(), dense_.size());
      return dense_;
    }
    ints_.resize(n_ * stored_size_);
    scatter_sparse(v, stored_size_, ints_.data(), ints_.size());
    fp_.dequantize(ints_.data(), n_, dense_.data());
    return dense_;
  }
  if (payload.size() != n_ * stored_size_)
    throw CorruptFile("blob payload has " + std::to_string(payload.size()) + " bytes, the meta says " +
                      std::to_string(n_ * stored_size_));
  if (!fixed_) return payload;
  fp_.dequantize(payload.data(), n_, dense_.data());
  return dense_;
}

void EncodedBlobDecoder::decode_sparse(std::span<const std::byte> blob, std::vector<std::uint64_t>& indices,
                                       std::vector<std::byte>& values) {
  std::uint8_t flags = 0;
  const std::span<const std::byte> payload = payload_of(blob, flags);
  if (!(flags & kBlobFlagSparse)) {
    const std::span<const std::byte> dense = decode(blob);
    gather_nonzero(dense.data(), n_, itemsize_, indices, values);
    return;
  }
  const SparseView v = parse_sparse(payload, n_, index_size_, stored_size_);
  indices.resize(v.nnz);
  for (std::size_t i = 0; i < v.nnz; ++i) indices[i] = v.index(i);
  values.resize(v.nnz * itemsize_);
  if (fixed_)
    fp_.dequantize(v.values, v.nnz, values.data());
  else
    std::memcpy(values.data(), v.values, v.nnz * itemsize_);
}

}  // namespace array_logger::detail
