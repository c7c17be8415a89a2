#include "format/fixed_point.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "array_logger/errors.hpp"
#include "format/little_endian.hpp"

namespace array_logger::detail {
namespace {

template <class F, class Q>
void quantize_as(const FixedPoint& fp, const std::byte* in, std::size_t n, std::byte* out, bool clamp) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    double x = static_cast<double>(load_at<F>(in, i));
    if (clamp) x = x < fp.min ? fp.min : (x > fp.max ? fp.max : x);
    store_at<Q>(out, i, static_cast<Q>(std::nearbyint(x / fp.step)));
  }
}

template <class F, class Q>
void dequantize_as(double step, const std::byte* in, std::size_t n, std::byte* out) noexcept {
  for (std::size_t i = 0; i < n; ++i) store_at<F>(out, i, static_cast<F>(static_cast<double>(load_at<Q>(in, i)) * step));
}

// Calls fn.template operator()<F, Q>() for the value and storage types.
template <class Fn>
void dispatch(const DType& values, const DType& storage, Fn&& fn) {
  auto with_q = [&]<class F>() {
    if (storage.name == "int8") return fn.template operator()<F, std::int8_t>();
    if (storage.name == "uint8") return fn.template operator()<F, std::uint8_t>();
    if (storage.name == "int16") return fn.template operator()<F, std::int16_t>();
    if (storage.name == "uint16") return fn.template operator()<F, std::uint16_t>();
    if (storage.name == "int32") return fn.template operator()<F, std::int32_t>();
    if (storage.name == "uint32") return fn.template operator()<F, std::uint32_t>();
    return fn.template operator()<F, std::int64_t>();
  };
  if (values.name == "float32") return with_q.template operator()<float>();
  return with_q.template operator()<double>();
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

const DType& fixed_point_storage(const FixedPoint& fp) {
  if (!(fp.step > 0) || !std::isfinite(fp.step))
    throw InvalidArgument("quantize step must be a positive finite number, got " + std::to_string(fp.step));
  if (!std::isfinite(fp.min) || !std::isfinite(fp.max) || !(fp.min <= fp.max))
    throw InvalidArgument("quantize range must be finite with min <= max, got [" + std::to_string(fp.min) + ", " +
                          std::to_string(fp.max) + "]");
  const double lo = std::nearbyint(fp.min / fp.step), hi = std::nearbyint(fp.max / fp.step);
  constexpr double kLimit = 4611686018427387904.0;  // 2^62: q and its arithmetic stay exact in int64
  if (!(std::fabs(lo) < kLimit && std::fabs(hi) < kLimit))
    throw InvalidArgument("quantize range / step does not fit in 62-bit integers: use a larger step or a smaller range");
  struct Candidate {
    const char* name;
    double min, max;
  };
  static constexpr Candidate kTypes[] = {
      {"int8", -128.0, 127.0},          {"uint8", 0.0, 255.0},
      {"int16", -32768.0, 32767.0},     {"uint16", 0.0, 65535.0},
      {"int32", -2147483648.0, 2147483647.0}, {"uint32", 0.0, 4294967295.0},
  };
  for (const Candidate& c : kTypes)
    if (lo >= c.min && hi <= c.max) return dtype_from_string(c.name);
  return dtype_from_string("int64");
}

FixedPointCodec::FixedPointCodec(const FixedPoint& fp, const DType& values, const DType& storage)
    : fp_(fp), values_(&values), storage_(&storage) {
  if (values.name != "float32" && values.name != "float64")
    throw InvalidArgument("quantize applies to float32 and float64 arrays, not " + std::string(values.name));
}

double FixedPointCodec::value_at(const std::byte* values, std::size_t i) const noexcept {
  return values_->itemsize == 4 ? static_cast<double>(load_at<float>(values, i)) : load_at<double>(values, i);
}

std::size_t FixedPointCodec::first_out_of_range(const std::byte* values, std::size_t n) const noexcept {
  // A NaN fails both comparisons: it is out of range.
  if (values_->itemsize == 4) {
    for (std::size_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(load_at<float>(values, i));
      if (!(x >= fp_.min && x <= fp_.max)) return i;
    }
    return npos;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double x = load_at<double>(values, i);
    if (!(x >= fp_.min && x <= fp_.max)) return i;
  }
  return npos;
}

void FixedPointCodec::check(const std::byte* values, std::size_t n) const {
  const std::size_t bad = first_out_of_range(values, n);
  if (bad == npos) return;
  throw InvalidArgument("Value out of the quantize range: element " + std::to_string(bad) + " is " +
                        number_text(value_at(values, bad)) + ", the registered range is [" + number_text(fp_.min) +
                        ", " + number_text(fp_.max) + "] (values are never clipped)");
}

void FixedPointCodec::quantize(const std::byte* values, std::size_t n, std::byte* out, bool clamp) const noexcept {
  dispatch(*values_, *storage_, [&]<class F, class Q>() { quantize_as<F, Q>(fp_, values, n, out, clamp); });
}

void FixedPointCodec::dequantize(const std::byte* stored, std::size_t n, std::byte* out) const noexcept {
  dispatch(*values_, *storage_, [&]<class F, class Q>() { dequantize_as<F, Q>(fp_.step, stored, n, out); });
}

}  // namespace array_logger::detail
