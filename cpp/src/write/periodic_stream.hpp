// One periodic name on the producer side: the steps log() feeds, the key
// values of the open period's first step, and the row a period becomes
// (docs/FORMAT.md 10): the first step's keys, then `steps` (the steps it
// covers) and `partial` (0 for a complete period; 1 for the open period
// written by flush, close or a checkpoint, replaced by the next row).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "array_logger/array_spec.hpp"
#include "array_logger/key_value.hpp"
#include "array_logger/stream_options.hpp"
#include "format/fixed_point.hpp"
#include "write/period_accumulator.hpp"

namespace array_logger::detail {

class PeriodicStream {
 public:
  // `input`: what log() takes. `range`: fixed-point names check every step
  // against the declared range (their rows are then in range too).
  PeriodicStream(const ArraySpec& input, Period period, const std::optional<FixedPoint>& range,
                 const std::optional<PeriodState>& resume);

  // Serialises this name's steps. Taken before the Logger's mutex, never
  // while holding it.
  std::mutex mu;

  std::uint64_t period() const noexcept { return period_.steps; }
  std::uint64_t steps() const noexcept { return acc_.steps(); }
  bool completes_with_next_step() const noexcept { return acc_.steps() + 1 == period_.steps; }

  // Adds one step (the keys are kept when it is a period's first). Throws
  // InvalidArgument, changing nothing, for a value outside the fixed-point
  // range or an integer sum that would overflow.
  void add(std::span<const KeyRef> keys, const std::byte* values);
  // The open period's row: its keys and payload (stored dtype), valid
  // until the next add() or row().
  struct Row {
    std::span<const KeyRef> keys;
    std::span<const std::byte> payload;
  };
  Row row(bool partial);
  // After a complete period's row is queued.
  void start_next() noexcept { acc_.reset(); }
  PeriodState state() const;

 private:
  Period period_;
  std::size_t nkeys_;
  std::optional<FixedPointCodec> range_;
  std::uint64_t elements_;
  PeriodAccumulator acc_;
  std::vector<KeyValue> first_keys_;
  std::vector<KeyRef> row_keys_;
  std::vector<std::byte> payload_;
};

}  // namespace array_logger::detail
