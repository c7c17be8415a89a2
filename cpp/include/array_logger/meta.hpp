// The `meta` table: what makes every file self-describing. Text values keep
// the pure-Python array_logger's forms (Python reprs) so that both versions
// can check a file's spec; see docs/FORMAT.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "array_logger/array_spec.hpp"

namespace array_logger {

// 1 = the pure-Python array_logger's layout (bare tobytes() blobs, INTEGER keys),
// 2 = ours (self-describing blob header, keys keep their type).
inline constexpr int kFormatLegacy = 1;
inline constexpr int kFormatCurrent = 2;

// Python repr of a shape tuple: "()", "(3,)", "(10, 5)".
std::string shape_repr(const std::vector<std::int64_t>& shape);
// Python repr of a list of strings: "['episode', 'step']".
std::string keys_repr(const std::vector<std::string>& keys);

// Parse those reprs back (tuples or lists of ints; lists or tuples of quoted
// strings). Throw CorruptFile on anything else.
std::vector<std::int64_t> parse_shape_repr(std::string_view text);
std::vector<std::string> parse_keys_repr(std::string_view text);

// The spec and format of a file, decoded from its meta rows.
struct FileMeta {
  ArraySpec spec;
  int format_version = kFormatCurrent;
  bool shuffle_zstd = false;  // blobs carry a filtered payload (flag 1)
  std::map<std::string, std::string> rows;  // every meta row, verbatim
};

// Decodes meta rows (key -> value). Throws CorruptFile when a required row is
// missing or does not parse, or the format is newer than this library reads.
FileMeta decode_meta(std::map<std::string, std::string> rows);

}  // namespace array_logger
