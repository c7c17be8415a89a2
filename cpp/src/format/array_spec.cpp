#include "array_logger/array_spec.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"
#include "sqlite/sql_text.hpp"

namespace array_logger {

std::uint64_t ArraySpec::element_count() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

std::string ArraySpec::describe() const {
  return "keys=" + keys_repr(keys) + " shape=" + shape_repr(shape) +
         " dtype=" + std::string(dtype ? dtype->name : "?");
}

void validate_spec(const ArraySpec& spec) {
  if (spec.dtype == nullptr) throw InvalidArgument("dtype is required");
  if (spec.shape.size() > kMaxNdim)
    throw InvalidArgument("shape has " + std::to_string(spec.shape.size()) +
                          " dimensions; at most " + std::to_string(kMaxNdim) + " are supported");
  // The byte size of one array must fit comfortably in memory and in a SQLite
  // blob (at most 1 GB by default, minus our header).
  constexpr std::uint64_t kMaxPayload = 1'000'000'000ULL - 4096;
  std::uint64_t bytes = spec.dtype->itemsize;
  for (auto d : spec.shape) {
    if (d < 0) throw InvalidArgument("shape " + shape_repr(spec.shape) + " has a negative dimension");
    if (d != 0 && bytes > kMaxPayload / static_cast<std::uint64_t>(d))
      throw InvalidArgument("shape " + shape_repr(spec.shape) + " is too large for one row");
    bytes *= static_cast<std::uint64_t>(d);
  }
  if (bytes > kMaxPayload)
    throw InvalidArgument("shape " + shape_repr(spec.shape) + " is too large for one row");

  if (spec.keys.empty()) throw InvalidArgument("keys must name at least one key");
  std::set<std::string> seen;
  for (const auto& k : spec.keys) {
    if (k.empty()) throw InvalidArgument("key names must not be empty");
    if (k.find('\0') != std::string::npos) throw InvalidArgument("key names must not contain NUL");
    for (std::string_view reserved : {"data", "rowid", "oid", "_rowid_"})
      if (detail::same_identifier(k, reserved))
        throw InvalidArgument("key name '" + k + "' is reserved (it collides with a column)");
    std::string lower(k);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // SQLite column names are case-insensitive.
    if (!seen.insert(lower).second) throw InvalidArgument("key name '" + k + "' appears twice");
  }
}

}  // namespace array_logger
