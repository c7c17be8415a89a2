#include "array_logger/blob.hpp"

#include <cstring>
#include <limits>

#include "array_logger/errors.hpp"
#include "format/little_endian.hpp"

namespace array_logger {

// Layout (docs/FORMAT.md, "Blob layout 1"):
//   0  4  magic "ALB1"
//   4  1  flags (bit 0: payload is byte-shuffled then zstd-compressed;
//            bit 1: fixed point; bit 2: sparse -- format 3, see encoded_blob.hpp)
//   5  1  ndim
//   6  2  header_size, u16 LE: payload offset, a multiple of 8
//   8  8*ndim  shape, u64 LE each
//   .  1  dtype_len
//   .  dtype_len  numpy dtype.str, ASCII ("<f4")
//   .  zero padding up to header_size
std::vector<std::byte> encode_blob_header(const ArraySpec& spec, std::uint8_t flags) {
  const std::size_t ndim = spec.shape.size();
  const std::string_view type_str = spec.dtype->type_str;
  std::size_t used = 8 + 8 * ndim + 1 + type_str.size();
  std::size_t header_size = (used + 7) & ~std::size_t{7};
  std::vector<std::byte> out(header_size, std::byte{0});
  std::memcpy(out.data(), kBlobMagic, 4);
  out[4] = std::byte{flags};
  out[5] = std::byte(static_cast<std::uint8_t>(ndim));
  store_le16(out.data() + 6, static_cast<std::uint16_t>(header_size));
  for (std::size_t i = 0; i < ndim; ++i)
    store_le64(out.data() + 8 + 8 * i, static_cast<std::uint64_t>(spec.shape[i]));
  std::byte* p = out.data() + 8 + 8 * ndim;
  *p++ = std::byte(static_cast<std::uint8_t>(type_str.size()));
  std::memcpy(p, type_str.data(), type_str.size());
  return out;
}

BlobHeader decode_blob_header(std::span<const std::byte> blob) {
  if (blob.size() < 8 || std::memcmp(blob.data(), kBlobMagic, 4) != 0)
    throw CorruptFile("blob does not start with the array_logger header (magic ALB1)");
  BlobHeader h;
  h.flags = static_cast<std::uint8_t>(blob[4]);
  if (h.flags & ~kBlobKnownFlags)
    throw CorruptFile("blob header has unknown flags " + std::to_string(h.flags));
  const std::size_t ndim = static_cast<std::uint8_t>(blob[5]);
  if (ndim > kMaxNdim) throw CorruptFile("blob header claims ndim " + std::to_string(ndim));
  h.header_size = load_le16(blob.data() + 6);
  const std::size_t dtype_len_at = 8 + 8 * ndim;
  if (h.header_size % 8 != 0 || h.header_size > blob.size() || dtype_len_at + 1 > h.header_size)
    throw CorruptFile("blob header size " + std::to_string(h.header_size) + " is inconsistent");
  const std::size_t dtype_len = static_cast<std::uint8_t>(blob[dtype_len_at]);
  if (dtype_len_at + 1 + dtype_len > h.header_size)
    throw CorruptFile("blob header dtype string overruns the header");
  std::string_view type_str(reinterpret_cast<const char*>(blob.data() + dtype_len_at + 1), dtype_len);
  h.dtype = find_dtype(type_str);
  if (h.dtype == nullptr || type_str != h.dtype->type_str)
    throw CorruptFile("blob header names an unsupported dtype");
  std::uint64_t bytes = h.dtype->itemsize;
  h.shape.resize(ndim);
  for (std::size_t i = 0; i < ndim; ++i) {
    std::uint64_t d = load_le64(blob.data() + 8 + 8 * i);
    if (d != 0 && bytes > std::numeric_limits<std::uint32_t>::max() / d)
      throw CorruptFile("blob header shape is too large");
    bytes *= d;
    h.shape[i] = d;
  }
  if (h.flags == 0 && blob.size() - h.header_size != bytes)
    throw CorruptFile("blob payload has " + std::to_string(blob.size() - h.header_size) +
                      " bytes but its header says " + std::to_string(bytes));
  return h;
}

void byte_shuffle(std::span<const std::byte> in, std::size_t itemsize, std::span<std::byte> out) {
  const std::size_t n = in.size() / itemsize;
  for (std::size_t b = 0; b < itemsize; ++b) {
    std::byte* dst = out.data() + b * n;
    const std::byte* src = in.data() + b;
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i * itemsize];
  }
  // Bytes past the last whole element (none for valid arrays) are copied as is.
  std::memcpy(out.data() + n * itemsize, in.data() + n * itemsize, in.size() - n * itemsize);
}

void byte_unshuffle(std::span<const std::byte> in, std::size_t itemsize, std::span<std::byte> out) {
  const std::size_t n = in.size() / itemsize;
  for (std::size_t b = 0; b < itemsize; ++b) {
    const std::byte* src = in.data() + b * n;
    std::byte* dst = out.data() + b;
    for (std::size_t i = 0; i < n; ++i) dst[i * itemsize] = src[i];
  }
  std::memcpy(out.data() + n * itemsize, in.data() + n * itemsize, in.size() - n * itemsize);
}

}  // namespace array_logger
