#include "write/periodic_stream.hpp"

#include <string>

#include "array_logger/errors.hpp"

namespace array_logger::detail {

PeriodicStream::PeriodicStream(const ArraySpec& input, Period period, const std::optional<FixedPoint>& range,
                               const std::optional<PeriodState>& resume)
    : period_(period),
      nkeys_(input.keys.size()),
      elements_(input.element_count()),
      acc_(*input.dtype, input.element_count(), period) {
  if (range) {
    if (input.dtype->name != "float32" && input.dtype->name != "float64")
      throw InvalidArgument("quantize applies to float32 and float64 arrays, not " + std::string(input.dtype->name));
    // Only its range check is used: the storage type does not matter here.
    range_.emplace(*range, *input.dtype, dtype_from_string("int64"));
  }
  payload_.resize(acc_.result_bytes());
  if (resume && resume->steps > 0) {
    if (resume->first_keys.size() != nkeys_)
      throw InvalidArgument("resume_period has " + std::to_string(resume->first_keys.size()) + " key values, expected " +
                            std::to_string(nkeys_));
    acc_.restore(resume->steps, resume->accumulator);
    first_keys_ = resume->first_keys;
  }
}

void PeriodicStream::add(std::span<const KeyRef> keys, const std::byte* values) {
  if (range_) range_->check(values, elements_);
  acc_.add(values);
  if (acc_.steps() == 1) {
    first_keys_.clear();
    for (const KeyRef& k : keys) {
      if (k.kind == KeyRef::Kind::Integer)
        first_keys_.emplace_back(k.integer);
      else if (k.kind == KeyRef::Kind::Real)
        first_keys_.emplace_back(k.real);
      else
        first_keys_.emplace_back(std::string(k.text));
    }
  }
}

PeriodicStream::Row PeriodicStream::row(bool partial) {
  row_keys_.clear();
  for (const KeyValue& k : first_keys_) row_keys_.push_back(KeyRef::of(k));
  row_keys_.push_back(KeyRef::of(static_cast<std::int64_t>(acc_.steps())));
  row_keys_.push_back(KeyRef::of(static_cast<std::int64_t>(partial ? 1 : 0)));
  acc_.result(payload_.data());
  return {row_keys_, payload_};
}

PeriodState PeriodicStream::state() const {
  PeriodState s;
  s.steps = acc_.steps();
  if (s.steps == 0) return s;
  s.first_keys = first_keys_;
  const auto acc = acc_.state();
  s.accumulator.assign(acc.begin(), acc.end());
  return s;
}

}  // namespace array_logger::detail
