// Sparse payloads (docs/FORMAT.md 5.5): the elements of an array that are
// not zero, as `nnz` (u64 LE), their flat C-order indices (the file's index
// type, strictly increasing) and their values (element bytes as stored).
// "Zero" means every byte of the element is zero, so -0.0 and NaN are kept
// and a round trip is exact byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "array_logger/dtype.hpp"

namespace array_logger::detail {

// The smallest of uint8, uint16, uint32, uint64 holding every index of an
// array of `elements` elements.
const DType& sparse_index_dtype_for(std::uint64_t elements);

// Elements of `n` (each `itemsize` bytes) with a non-zero byte.
std::size_t count_nonzero(const std::byte* values, std::size_t n, std::size_t itemsize) noexcept;

inline std::size_t sparse_payload_bytes(std::size_t nnz, std::size_t index_size, std::size_t itemsize) noexcept {
  return 8 + nnz * (index_size + itemsize);
}

// Writes the sparse payload of `n` dense elements with `nnz` non-zero ones.
void encode_sparse(const std::byte* dense, std::size_t n, std::size_t itemsize, std::size_t index_size,
                   std::size_t nnz, std::byte* out) noexcept;

// A checked view of a stored sparse payload.
struct SparseView {
  std::uint64_t nnz = 0;
  const std::byte* indices = nullptr;  // nnz x index_size, LE
  const std::byte* values = nullptr;   // nnz x itemsize
  std::size_t index_size = 0;
  std::uint64_t index(std::size_t i) const noexcept;
};
// Throws CorruptFile unless the payload's size matches its count and its
// indices are strictly increasing and below `n`.
SparseView parse_sparse(std::span<const std::byte> payload, std::uint64_t n, std::size_t index_size,
                        std::size_t itemsize);
// Dense bytes of the view: zeros, then each value at its index. `dense`
// holds n x itemsize bytes.
void scatter_sparse(const SparseView& v, std::size_t itemsize, std::byte* dense, std::size_t dense_bytes) noexcept;
// Indices and values of the non-zero elements of a dense array.
void gather_nonzero(const std::byte* dense, std::size_t n, std::size_t itemsize, std::vector<std::uint64_t>& indices,
                    std::vector<std::byte>& values);

}  // namespace array_logger::detail
