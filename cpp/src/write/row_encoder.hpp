// The producer side of format 3 (docs/FORMAT.md 5.4, 5.5): log() turns a
// row of a fixed-point or sparse name into its stored blob before it is
// queued, so that a value out of the declared range is refused by log()
// itself (nothing queued) and the queue carries the smaller form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "array_logger/meta.hpp"
#include "format/fixed_point.hpp"

namespace array_logger::detail {

class RowEncoder {
 public:
  // `stored`: the spec of the file's rows; `form` must have fixed point or sparse rows.
  RowEncoder(const ArraySpec& stored, const StoredForm& form);

  struct Plan {
    std::uint8_t flags = 0;
    std::size_t blob_bytes = 0;  // header + payload
    std::size_t nnz = 0;
  };
  // Checks one row (`payload`: the array's raw bytes) and sizes its blob.
  // Throws InvalidArgument naming the first value outside the fixed-point
  // range (or NaN, inf). `from_period`: a period's mean, brought into the
  // range instead (it averages values log() already checked). Not
  // thread-safe: the caller serialises plan() + write() (the Logger's mutex).
  Plan plan(const std::byte* payload, bool from_period = false);
  // Writes the planned blob (plan.blob_bytes bytes) to `out`.
  void write(const Plan& plan, const std::byte* payload, std::byte* out);
  // The largest blob any row can take (the dense form with its header).
  std::size_t max_blob_bytes() const noexcept;

 private:
  const std::vector<std::byte>& header(std::uint8_t flags) const noexcept { return headers_[flags >> 1]; }

  std::uint64_t n_;
  std::size_t value_size_;  // bytes of one stored value (fixed-point integer or element)
  std::size_t index_size_ = 0;
  bool fixed_ = false, sparse_ = false;
  FixedPointCodec fp_;
  std::vector<std::byte> headers_[4];  // by flags >> 1: plain, fixed, sparse, fixed + sparse
  std::vector<std::byte> quantized_;   // fixed point + sparse: the integers, counted then copied
  bool clamp_ = false;
};

}  // namespace array_logger::detail
