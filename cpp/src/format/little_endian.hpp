// Little-endian loads and stores of unaligned integers (the on-disk order).
#pragma once

#include <bit>
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

}  // namespace array_logger
