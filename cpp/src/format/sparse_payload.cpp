#include "format/sparse_payload.hpp"

#include <cstring>
#include <string>
#include <type_traits>

#include "array_logger/errors.hpp"
#include "format/little_endian.hpp"

namespace array_logger::detail {
namespace {

// Whether element i is non-zero, by whole-word compares for the usual sizes.
template <std::size_t Size>
bool nonzero_at(const std::byte* p, std::size_t i) noexcept {
  if constexpr (Size == 1 || Size == 2 || Size == 4 || Size == 8) {
    using W = std::conditional_t<Size == 1, std::uint8_t,
                                 std::conditional_t<Size == 2, std::uint16_t,
                                                    std::conditional_t<Size == 4, std::uint32_t, std::uint64_t>>>;
    W w;
    std::memcpy(&w, p + i * Size, Size);
    return w != 0;
  } else {
    std::uint64_t a, b;
    std::memcpy(&a, p + i * 16, 8);
    std::memcpy(&b, p + i * 16 + 8, 8);
    return (a | b) != 0;
  }
}

template <class Fn>
decltype(auto) with_size(std::size_t itemsize, Fn&& fn) {
  switch (itemsize) {
    case 1: return fn.template operator()<1>();
    case 2: return fn.template operator()<2>();
    case 4: return fn.template operator()<4>();
    case 8: return fn.template operator()<8>();
    default: return fn.template operator()<16>();
  }
}

void store_index(std::byte* p, std::size_t index_size, std::uint64_t v) noexcept {
  std::memcpy(p, &v, index_size);  // little-endian host: the low bytes first
}

}  // namespace

const DType& sparse_index_dtype_for(std::uint64_t elements) {
  if (elements <= 0x100) return dtype_from_string("uint8");
  if (elements <= 0x10000) return dtype_from_string("uint16");
  if (elements <= 0x100000000ull) return dtype_from_string("uint32");
  return dtype_from_string("uint64");
}

std::size_t count_nonzero(const std::byte* values, std::size_t n, std::size_t itemsize) noexcept {
  return with_size(itemsize, [&]<std::size_t S>() {
    std::size_t nnz = 0;
    for (std::size_t i = 0; i < n; ++i) nnz += nonzero_at<S>(values, i);
    return nnz;
  });
}

void encode_sparse(const std::byte* dense, std::size_t n, std::size_t itemsize, std::size_t index_size,
                   std::size_t nnz, std::byte* out) noexcept {
  store_le64(out, nnz);
  std::byte* idx = out + 8;
  std::byte* val = idx + nnz * index_size;
  with_size(itemsize, [&]<std::size_t S>() {
    for (std::size_t i = 0; i < n; ++i) {
      if (!nonzero_at<S>(dense, i)) continue;
      store_index(idx, index_size, i);
      idx += index_size;
      std::memcpy(val, dense + i * S, S);
      val += S;
    }
  });
}

std::uint64_t SparseView::index(std::size_t i) const noexcept {
  std::uint64_t v = 0;
  std::memcpy(&v, indices + i * index_size, index_size);
  return v;
}

SparseView parse_sparse(std::span<const std::byte> payload, std::uint64_t n, std::size_t index_size,
                        std::size_t itemsize) {
  if (payload.size() < 8) throw CorruptFile("sparse payload is shorter than its count");
  SparseView v;
  v.nnz = load_le64(payload.data());
  v.index_size = index_size;
  if (v.nnz > n || payload.size() != sparse_payload_bytes(v.nnz, index_size, itemsize))
    throw CorruptFile("sparse payload of " + std::to_string(payload.size()) + " bytes does not hold the " +
                      std::to_string(v.nnz) + " elements it counts");
  v.indices = payload.data() + 8;
  v.values = v.indices + v.nnz * index_size;
  std::uint64_t next = 0;  // the smallest index allowed next
  for (std::size_t i = 0; i < v.nnz; ++i) {
    const std::uint64_t at = v.index(i);
    if (at < next || at >= n) throw CorruptFile("sparse payload has index " + std::to_string(at) + " out of order or range");
    next = at + 1;
  }
  return v;
}

void scatter_sparse(const SparseView& v, std::size_t itemsize, std::byte* dense, std::size_t dense_bytes) noexcept {
  std::memset(dense, 0, dense_bytes);
  for (std::size_t i = 0; i < v.nnz; ++i) std::memcpy(dense + v.index(i) * itemsize, v.values + i * itemsize, itemsize);
}

void gather_nonzero(const std::byte* dense, std::size_t n, std::size_t itemsize, std::vector<std::uint64_t>& indices,
                    std::vector<std::byte>& values) {
  indices.clear();
  values.clear();
  with_size(itemsize, [&]<std::size_t S>() {
    for (std::size_t i = 0; i < n; ++i) {
      if (!nonzero_at<S>(dense, i)) continue;
      indices.push_back(i);
      values.insert(values.end(), dense + i * S, dense + (i + 1) * S);
    }
  });
}

}  // namespace array_logger::detail
