// Fixed-point storage of float arrays (docs/FORMAT.md 5.4): x is stored as
// q = round(x / step), rounded half to even (numpy's np.rint), in the
// smallest integer type that holds every q of the declared range; it reads
// back as double(q) * step in the array's float dtype, so the error is at
// most step / 2 plus the float type's own rounding of the result.
#pragma once

#include <cstddef>
#include <limits>

#include "array_logger/dtype.hpp"
#include "array_logger/stream_options.hpp"

namespace array_logger::detail {

// The smallest of int8, uint8, int16, uint16, int32, uint32, int64 holding
// round(min / step) .. round(max / step). Throws InvalidArgument when step
// is not positive and finite, the range is empty or not finite, or the
// integers do not fit in 62 bits.
const DType& fixed_point_storage(const FixedPoint& fp);

class FixedPointCodec {
 public:
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

  FixedPointCodec() = default;
  // `values`: float32 or float64 (what log() takes and the reader returns).
  FixedPointCodec(const FixedPoint& fp, const DType& values, const DType& storage);

  const DType& storage() const noexcept { return *storage_; }
  const FixedPoint& params() const noexcept { return fp_; }
  // Index of the first of `n` values that is NaN, infinite or outside
  // [min, max], or npos.
  std::size_t first_out_of_range(const std::byte* values, std::size_t n) const noexcept;
  double value_at(const std::byte* values, std::size_t i) const noexcept;
  // Throws InvalidArgument naming the first value first_out_of_range finds.
  void check(const std::byte* values, std::size_t n) const;
  // Stores round(x / step) of `n` values. `clamp` first brings values into
  // [min, max]: only for period means, whose float rounding may overshoot
  // the range of the values they average by an ulp. Values out of range
  // must not reach it otherwise.
  void quantize(const std::byte* values, std::size_t n, std::byte* out, bool clamp = false) const noexcept;
  // Writes q * step as the value dtype.
  void dequantize(const std::byte* stored, std::size_t n, std::byte* out) const noexcept;

 private:
  FixedPoint fp_;
  const DType* values_ = nullptr;
  const DType* storage_ = nullptr;
};

}  // namespace array_logger::detail
