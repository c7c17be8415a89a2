// What long simulations ask of a registered name beyond "one row per log()":
// fixed-point storage, sparse rows and periodic (state or accumulator)
// streams, and the open period a checkpoint saves. docs/FORMAT.md, sections
// 5.4-5.6 and 10, describes what each becomes on disk.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "array_logger/key_value.hpp"

namespace array_logger {

// Fixed-point storage of a float array: each value x is stored as the
// integer round(x / step) (round half to even) in the smallest integer type
// holding round(min / step) .. round(max / step); the reader returns
// q * step in the registered float dtype. Values outside [min, max] (and
// NaN, inf) are refused by log(), never clipped.
struct FixedPoint {
  double step = 0.0;
  double min = 0.0;
  double max = 0.0;
};

// What a periodic stream writes once per period of `steps` log() calls:
// the array of the period's last step (State), or the element-wise sum,
// mean, minimum or maximum over its steps.
enum class PeriodMode : std::uint8_t { State, Sum, Mean, Min, Max };

// "state", "sum", "mean", "min", "max".
std::string_view period_mode_name(PeriodMode mode) noexcept;
std::optional<PeriodMode> parse_period_mode(std::string_view text) noexcept;

struct Period {
  std::uint64_t steps = 0;  // 0: not periodic (one row per log())
  PeriodMode mode = PeriodMode::State;
};

// The open period of a periodic stream, as Logger::checkpoint_positions()
// reports it and RegisterOptions::resume_period restores it: the steps
// accumulated so far, the key values of its first step, and the
// accumulator's elements (little-endian; the accumulator dtype of
// docs/FORMAT.md section 10).
struct PeriodState {
  std::uint64_t steps = 0;
  std::vector<KeyValue> first_keys;
  std::vector<std::byte> accumulator;
};

}  // namespace array_logger
