#include "write/period_accumulator.hpp"

#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "array_logger/errors.hpp"
#include "format/little_endian.hpp"
#include "format/stored_form.hpp"

namespace array_logger::detail {
namespace {

// float16 as its bits; converted to double (exactly) where arithmetic needs it.
struct Half {
  std::uint16_t bits;
};

// bool as its byte: any non-zero byte is true (as numpy's sum counts it).
struct Bool {
  std::uint8_t byte;
};

double to_double(Half h) noexcept {
  const int exp = (h.bits >> 10) & 0x1f, mant = h.bits & 0x3ff;
  double v;
  if (exp == 0)
    v = std::ldexp(mant, -24);
  else if (exp == 31)
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(mant + 1024, exp - 25);
  return (h.bits >> 15) ? -v : v;
}

template <class T>
constexpr bool is_complex = false;
template <class T>
constexpr bool is_complex<std::complex<T>> = true;

// The accumulator type of a sum of T.
template <class T>
using SumOf = std::conditional_t<
    std::is_same_v<T, Half> || std::is_floating_point_v<T>, double,
    std::conditional_t<is_complex<T>, std::complex<double>,
                       std::conditional_t<std::is_unsigned_v<T>, std::uint64_t, std::int64_t>>>;

template <class A, class T>
A widen(const T& x) noexcept {
  if constexpr (std::is_same_v<T, Half>)
    return to_double(x);
  else if constexpr (std::is_same_v<T, Bool>)
    return static_cast<A>(x.byte != 0);
  else if constexpr (is_complex<T>)
    return A(x.real(), x.imag());
  else
    return static_cast<A>(x);
}

template <class T>
void add_sum(std::byte* acc, const std::byte* in, std::size_t n, bool first) {
  using A = SumOf<T>;
  if (first) {
    // The first step is the start value (as numpy's reduction takes it):
    // 0.0 + -0.0 would lose the sign.
    for (std::size_t i = 0; i < n; ++i) store_at<A>(acc, i, widen<A>(load_at<T>(in, i)));
    return;
  }
  for (std::size_t i = 0; i < n; ++i) store_at<A>(acc, i, load_at<A>(acc, i) + widen<A>(load_at<T>(in, i)));
}

template <class T>
bool sum_fits(const std::byte* acc, const std::byte* in, std::size_t n) {
  using A = SumOf<T>;
  for (std::size_t i = 0; i < n; ++i) {
    A r;
    if (__builtin_add_overflow(load_at<A>(acc, i), widen<A>(load_at<T>(in, i)), &r)) return false;
  }
  return true;
}

template <class A>
void result_mean(const std::byte* acc, std::size_t n, std::uint64_t steps, std::byte* out) {
  const double d = static_cast<double>(steps);
  for (std::size_t i = 0; i < n; ++i) {
    const A a = load_at<A>(acc, i);
    if constexpr (is_complex<A>)
      store_at<std::complex<double>>(out, i, std::complex<double>(a.real() / d, a.imag() / d));
    else
      store_at<double>(out, i, static_cast<double>(a) / d);
  }
}

// np.minimum / np.maximum: (a <= x or a is NaN) ? a : x, so NaN propagates.
template <class T, bool Max>
void add_extreme(std::byte* acc, const std::byte* in, std::size_t n, bool first) {
  if (first) {
    std::memcpy(acc, in, n * sizeof(T));
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const T a = load_at<T>(acc, i), x = load_at<T>(in, i);
    bool keep;
    if constexpr (std::is_same_v<T, Half>) {
      const double da = to_double(a), dx = to_double(x);
      keep = (Max ? da >= dx : da <= dx) || std::isnan(da);
    } else if constexpr (std::is_same_v<T, Bool>) {
      const bool ba = a.byte != 0, bx = x.byte != 0;
      keep = Max ? ba >= bx : ba <= bx;
    } else if constexpr (std::is_floating_point_v<T>) {
      keep = (Max ? a >= x : a <= x) || std::isnan(a);
    } else {
      keep = Max ? a >= x : a <= x;
    }
    if (!keep) store_at<T>(acc, i, x);
  }
}

void add_state(std::byte* acc, const std::byte* in, std::size_t n, bool) { std::memcpy(acc, in, n); }
void copy_result(const std::byte* acc, std::size_t n, std::uint64_t, std::byte* out) { std::memcpy(out, acc, n); }

// Calls fn.template operator()<T>() with the C++ type of `d`.
template <class Fn>
void with_type(const DType& d, Fn&& fn) {
  const std::string_view n = d.name;
  if (n == "bool") return fn.template operator()<Bool>();
  if (n == "uint8") return fn.template operator()<std::uint8_t>();
  if (n == "int8") return fn.template operator()<std::int8_t>();
  if (n == "int16") return fn.template operator()<std::int16_t>();
  if (n == "uint16") return fn.template operator()<std::uint16_t>();
  if (n == "int32") return fn.template operator()<std::int32_t>();
  if (n == "uint32") return fn.template operator()<std::uint32_t>();
  if (n == "int64") return fn.template operator()<std::int64_t>();
  if (n == "uint64") return fn.template operator()<std::uint64_t>();
  if (n == "float16") return fn.template operator()<Half>();
  if (n == "float32") return fn.template operator()<float>();
  if (n == "float64") return fn.template operator()<double>();
  if (n == "complex64") return fn.template operator()<std::complex<float>>();
  return fn.template operator()<std::complex<double>>();
}

}  // namespace

PeriodAccumulator::PeriodAccumulator(const DType& input, std::uint64_t elements, Period period)
    : elements_(static_cast<std::size_t>(elements)), period_(period), output_(&period_output_dtype(input, period.mode)) {
  const DType& acc = period_accumulator_dtype(input, period.mode);
  acc_.resize(elements_ * acc.itemsize);
  switch (period.mode) {
    case PeriodMode::State:
      add_ = add_state;
      result_ = copy_result;
      break;
    case PeriodMode::Sum:
    case PeriodMode::Mean:
      with_type(input, [&]<class T>() {
        add_ = add_sum<T>;
        using A = SumOf<T>;
        // Sums of up to 32-bit integers cannot leave int64 within 2^31
        // steps; wider ones (and longer periods) are checked first.
        if constexpr (std::is_integral_v<A>)
          if (sizeof(T) == 8 || period.steps > (1ull << 31)) fits_ = sum_fits<T>;
        result_ = period.mode == PeriodMode::Sum ? copy_result : result_mean<A>;
      });
      break;
    case PeriodMode::Min:
      with_type(input, [&]<class T>() {
        if constexpr (!is_complex<T>) add_ = add_extreme<T, false>;
      });
      result_ = copy_result;
      break;
    case PeriodMode::Max:
      with_type(input, [&]<class T>() {
        if constexpr (!is_complex<T>) add_ = add_extreme<T, true>;
      });
      result_ = copy_result;
      break;
  }
}

void PeriodAccumulator::add(const std::byte* values) {
  const bool first = steps_ == 0;
  if (fits_ && !first && !fits_(acc_.data(), values, elements_))
    throw InvalidArgument("the period's integer sum would overflow 64 bits (register a float dtype, or a shorter period)");
  // State copies bytes: its element count is in bytes.
  add_(acc_.data(), values, period_.mode == PeriodMode::State ? acc_.size() : elements_, first);
  ++steps_;
}

void PeriodAccumulator::result(std::byte* out) const noexcept {
  const std::size_t n = result_ == copy_result ? acc_.size() : elements_;
  result_(acc_.data(), n, steps_, out);
}

void PeriodAccumulator::restore(std::uint64_t steps, std::span<const std::byte> acc) {
  if (steps >= period_.steps)
    throw InvalidArgument("resume_period has " + std::to_string(steps) + " steps, the period is " +
                          std::to_string(period_.steps));
  if (steps > 0 && acc.size() != acc_.size())
    throw InvalidArgument("resume_period's accumulator has " + std::to_string(acc.size()) + " bytes, expected " +
                          std::to_string(acc_.size()));
  if (steps > 0) std::memcpy(acc_.data(), acc.data(), acc.size());
  steps_ = steps;
}

}  // namespace array_logger::detail
