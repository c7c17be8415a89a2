#include "array_logger/dtype.hpp"

#include <array>
#include <string>

#include "array_logger/errors.hpp"

namespace array_logger {
namespace {

// numpy's fixed-size numeric dtypes; on disk always little-endian.
constexpr std::array<DType, 14> kDTypes{{
    {"bool", "|b1", 'b', 1},
    {"int8", "|i1", 'i', 1},
    {"uint8", "|u1", 'u', 1},
    {"int16", "<i2", 'i', 2},
    {"uint16", "<u2", 'u', 2},
    {"int32", "<i4", 'i', 4},
    {"uint32", "<u4", 'u', 4},
    {"int64", "<i8", 'i', 8},
    {"uint64", "<u8", 'u', 8},
    {"float16", "<f2", 'f', 2},
    {"float32", "<f4", 'f', 4},
    {"float64", "<f8", 'f', 8},
    {"complex64", "<c8", 'c', 8},
    {"complex128", "<c16", 'c', 16},
}};

}  // namespace

const DType* find_dtype(std::string_view text) noexcept {
  for (const DType& d : kDTypes) {
    if (text == d.name || text == d.type_str) return &d;
    // "f4" / "=f4": the type string without an explicit byte order (this
    // library only runs on little-endian hosts, where native == '<').
    std::string_view bare = d.type_str.substr(1);
    if (text == bare) return &d;
    if (text.size() == bare.size() + 1 && (text[0] == '=' || text[0] == '<' || text[0] == '|') &&
        text.substr(1) == bare)
      return &d;
  }
  return nullptr;
}

const DType& dtype_from_string(std::string_view text) {
  if (const DType* d = find_dtype(text)) return *d;
  throw InvalidArgument("Unsupported dtype '" + std::string(text) +
                        "': array_logger stores bool, int8..int64, uint8..uint64, "
                        "float16/32/64 and complex64/128");
}

}  // namespace array_logger
