// What a registered array name promises: key names, shape and dtype.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "array_logger/dtype.hpp"

namespace array_logger {

struct ArraySpec {
  std::vector<std::string> keys;
  std::vector<std::int64_t> shape;
  const DType* dtype = nullptr;

  // Number of elements of one array (1 for shape ()).
  std::uint64_t element_count() const;
  // Bytes of one array's raw C-order payload.
  std::uint64_t payload_bytes() const { return element_count() * dtype->itemsize; }
  bool operator==(const ArraySpec& o) const {
    return keys == o.keys && shape == o.shape && dtype == o.dtype;
  }
  // "keys=['episode', 'step'] shape=(10, 5) dtype=float32", for messages.
  std::string describe() const;
};

// Checks keys (non-empty, unique, not a reserved column name) and shape
// (non-negative dims, at most 32, byte size fits in memory). Throws InvalidArgument.
void validate_spec(const ArraySpec& spec);

}  // namespace array_logger
