// Key values: what identifies one logged row (episode, step, seed, ...).
// A value keeps its type on the way back: 3 stays an integer, "007" a string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace array_logger {

using KeyValue = std::variant<std::int64_t, double, std::string>;

// A non-owning key value, used on the hot path so that logging a row never
// allocates. The referenced text must stay valid for the duration of the call.
struct KeyRef {
  enum class Kind : std::uint8_t { Integer = 1, Real = 2, Text = 3 };
  Kind kind = Kind::Integer;
  std::int64_t integer = 0;
  double real = 0.0;
  std::string_view text;

  static KeyRef of(std::int64_t v) noexcept { return KeyRef{Kind::Integer, v, 0.0, {}}; }
  static KeyRef of(double v) noexcept { return KeyRef{Kind::Real, 0, v, {}}; }
  static KeyRef of(std::string_view v) noexcept { return KeyRef{Kind::Text, 0, 0.0, v}; }
  static KeyRef of(const KeyValue& v) noexcept;
};

inline KeyRef KeyRef::of(const KeyValue& v) noexcept {
  if (auto* i = std::get_if<std::int64_t>(&v)) return of(*i);
  if (auto* d = std::get_if<double>(&v)) return of(*d);
  return of(std::string_view(std::get<std::string>(v)));
}

}  // namespace array_logger
