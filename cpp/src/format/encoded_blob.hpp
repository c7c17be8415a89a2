// The reader side of format 3 (docs/FORMAT.md 5.4, 5.5): blobs whose flags
// say fixed point (bit 1) and/or sparse (bit 2), checked against the file's
// meta and decoded to the registered array, or to the (indices, values) of
// its non-zero elements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "array_logger/meta.hpp"
#include "format/fixed_point.hpp"

namespace array_logger::detail {

class EncodedBlobDecoder {
 public:
  EncodedBlobDecoder(const ArraySpec& spec, const StoredForm& form);

  // The array's bytes (C order, the meta dtype), valid until the next call.
  // Throws CorruptFile when the blob does not match the meta.
  std::span<const std::byte> decode(std::span<const std::byte> blob);
  // Flat C-order indices and values (meta dtype) of the elements whose
  // bytes are not all zero, as stored (sparse rows) or found (dense rows).
  void decode_sparse(std::span<const std::byte> blob, std::vector<std::uint64_t>& indices,
                     std::vector<std::byte>& values);

 private:
  // The payload and flags of a blob whose header is the file's (CorruptFile otherwise).
  std::span<const std::byte> payload_of(std::span<const std::byte> blob, std::uint8_t& flags) const;

  std::uint64_t n_;
  std::size_t itemsize_, stored_size_;
  std::size_t index_size_ = 0;
  bool fixed_ = false, sparse_ = false;
  FixedPointCodec fp_;
  std::vector<std::byte> header_;  // flags byte 0
  std::vector<std::byte> dense_, ints_;
};

}  // namespace array_logger::detail
