// The element types array_logger stores: numpy's fixed-size numeric types,
// always little-endian on disk.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace array_logger {

struct DType {
  std::string_view name;      // numpy dtype name, e.g. "float32" (meta `dtype`)
  std::string_view type_str;  // numpy dtype.str, e.g. "<f4" (blob header)
  char kind;                  // numpy kind: 'b', 'i', 'u', 'f', 'c'
  std::uint32_t itemsize;     // bytes per element

  bool operator==(const DType& other) const noexcept { return name == other.name; }
};

// Looks a dtype up by numpy name ("float32") or little-endian/no-order type
// string ("<f4", "|u1", "f4"). Throws InvalidArgument for anything else.
const DType& dtype_from_string(std::string_view text);

// Same as dtype_from_string but returns nullptr instead of throwing.
const DType* find_dtype(std::string_view text) noexcept;

}  // namespace array_logger
