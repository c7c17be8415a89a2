// The element-wise accumulator of a periodic stream (docs/FORMAT.md 10):
// every log() of the name adds one step; once per period its result is the
// row written. State keeps the last step's array; sum and mean add in
// int64 (ints, bool), uint64 (unsigned ints), float64 (floats) or
// complex128, in step order, so a sum equals numpy's sum over axis 0 of
// the steps (converted to that type) and a mean is that sum / steps; min
// and max follow np.minimum / np.maximum (NaN propagates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "array_logger/dtype.hpp"
#include "array_logger/stream_options.hpp"

namespace array_logger::detail {

class PeriodAccumulator {
 public:
  PeriodAccumulator() = default;
  PeriodAccumulator(const DType& input, std::uint64_t elements, Period period);

  // Adds one step: `values` holds `elements` values of the input dtype.
  // Throws InvalidArgument, changing nothing, when an integer sum would
  // overflow its 64 bits.
  void add(const std::byte* values);
  std::uint64_t steps() const noexcept { return steps_; }
  // The row of the period so far (output dtype) into `out`.
  void result(std::byte* out) const noexcept;
  std::size_t result_bytes() const noexcept { return elements_ * output_->itemsize; }
  void reset() noexcept { steps_ = 0; }

  // The accumulator's elements (accumulator dtype), for checkpoints.
  std::span<const std::byte> state() const noexcept { return acc_; }
  // Continues a period saved by state(). Throws InvalidArgument when the
  // bytes do not fit this accumulator or `steps` is not below the period.
  void restore(std::uint64_t steps, std::span<const std::byte> acc);

 private:
  using AddFn = void (*)(std::byte* acc, const std::byte* in, std::size_t n, bool first);
  using CheckFn = bool (*)(const std::byte* acc, const std::byte* in, std::size_t n);
  using ResultFn = void (*)(const std::byte* acc, std::size_t n, std::uint64_t steps, std::byte* out);

  std::size_t elements_ = 0;
  Period period_;
  const DType* output_ = nullptr;
  AddFn add_ = nullptr;
  CheckFn fits_ = nullptr;  // integer sums that could overflow: checked before adding
  ResultFn result_ = nullptr;
  std::vector<std::byte> acc_;
  std::uint64_t steps_ = 0;
};

}  // namespace array_logger::detail
