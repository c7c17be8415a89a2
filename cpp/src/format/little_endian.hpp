// Little-endian loads and stores of unaligned integers (the on-disk order),
// and of the elements of unaligned arrays (rows in the queue and in blobs are
// not aligned for their element type: memcpy).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace array_logger {

static_assert(std::endian::native == std::endian::little,
              "array_logger stores raw little-endian arrays; big-endian hosts are not supported");

inline void store_le16(std::byte* p, std::uint16_t v) { std::memcpy(p, &v, 2); }
inline void store_le64(std::byte* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
inline std::uint16_t load_le16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline std::uint64_t load_le64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Element i of an array of T that starts at p (no alignment assumed).
template <class T>
T load_at(const std::byte* p, std::size_t i) noexcept {
  T v;
  std::memcpy(&v, p + i * sizeof(T), sizeof(T));
  return v;
}
template <class T>
void store_at(std::byte* p, std::size_t i, const T& v) noexcept {
  std::memcpy(p + i * sizeof(T), &v, sizeof(T));
}

}  // namespace array_logger
