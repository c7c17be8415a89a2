// The blob codec: one logged array = a small header (dtype, ndim, shape)
// followed by its raw C-order little-endian bytes. docs/FORMAT.md is the
// byte-level specification; keep the two in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "array_logger/array_spec.hpp"

namespace array_logger {

inline constexpr char kBlobMagic[4] = {'A', 'L', 'B', '1'};
inline constexpr std::uint8_t kBlobFlagShuffleZstd = 1;  // payload filtered
inline constexpr std::uint8_t kBlobFlagFixedPoint = 2;   // format 3: integers of the fixed-point type
inline constexpr std::uint8_t kBlobFlagSparse = 4;       // format 3: count, indices, values
inline constexpr std::uint8_t kBlobKnownFlags = kBlobFlagShuffleZstd | kBlobFlagFixedPoint | kBlobFlagSparse;
inline constexpr std::size_t kMaxNdim = 32;

struct BlobHeader {
  std::uint8_t flags = 0;
  const DType* dtype = nullptr;
  std::vector<std::uint64_t> shape;
  std::size_t header_size = 0;  // offset of the payload inside the blob
};

// The header bytes for arrays of `spec` (constant per registered name).
std::vector<std::byte> encode_blob_header(const ArraySpec& spec, std::uint8_t flags = 0);

// Parses and validates a blob header from untrusted bytes. Throws CorruptFile
// when the header is truncated, lies about its size, names an unknown dtype,
// has ndim > kMaxNdim or a shape whose byte size overflows.
BlobHeader decode_blob_header(std::span<const std::byte> blob);

// Byte shuffle (all first bytes of every element, then all second bytes, ...):
// makes float data compress far better. `out` must have in.size() bytes.
void byte_shuffle(std::span<const std::byte> in, std::size_t itemsize, std::span<std::byte> out);
void byte_unshuffle(std::span<const std::byte> in, std::size_t itemsize, std::span<std::byte> out);

}  // namespace array_logger
