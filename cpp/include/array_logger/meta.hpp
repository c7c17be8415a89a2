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
#include "array_logger/stream_options.hpp"

namespace array_logger {

// 1 = the pure-Python array_logger's layout (bare tobytes() blobs, INTEGER keys),
// 2 = ours (self-describing blob header, keys keep their type).
inline constexpr int kFormatLegacy = 1;
inline constexpr int kFormatCurrent = 2;
// 3 = format 2 plus blobs stored in fixed point or sparse (flag bits 1 and
// 2); only files registered with quantize or sparse are format 3, so that
// readers that know 1 and 2 refuse them instead of misreading them.
inline constexpr int kFormatEncoded = 3;

// Python repr of a shape tuple: "()", "(3,)", "(10, 5)".
std::string shape_repr(const std::vector<std::int64_t>& shape);
// Python repr of a list of strings: "['episode', 'step']".
std::string keys_repr(const std::vector<std::string>& keys);

// Parse those reprs back (tuples or lists of ints; lists or tuples of quoted
// strings). Throw CorruptFile on anything else.
std::vector<std::int64_t> parse_shape_repr(std::string_view text);
std::vector<std::string> parse_keys_repr(std::string_view text);

// How a file stores its arrays beyond plain payloads (docs/FORMAT.md 5.4-5.6
// and 10): fixed point, sparse rows, periodic rows.
struct StoredForm {
  std::optional<FixedPoint> fixed_point;
  const DType* fixed_point_dtype = nullptr;   // the integer type stored
  const DType* sparse_index_dtype = nullptr;  // set: rows may be stored sparse
  Period period;                              // steps 0: not periodic
  const DType* period_input_dtype = nullptr;  // what log() takes

  bool plain() const noexcept { return !fixed_point && !sparse_index_dtype && period.steps == 0; }
  // The format version a file of this form has (2, or 3 with fixed point or sparse rows).
  int format_version() const noexcept { return fixed_point || sparse_index_dtype ? kFormatEncoded : kFormatCurrent; }
  bool operator==(const StoredForm& o) const noexcept;
  // "fixed point step=0.001 range=[-1, 1] as int16, sparse, period 100 (mean of float32)".
  std::string describe() const;
};

// The spec and format of a file, decoded from its meta rows.
struct FileMeta {
  ArraySpec spec;
  int format_version = kFormatCurrent;
  bool shuffle_zstd = false;  // blobs carry a filtered payload (flag 1)
  StoredForm form;
  std::map<std::string, std::string> rows;  // every meta row, verbatim
};

// Decodes meta rows (key -> value). Throws CorruptFile when a required row is
// missing or does not parse, or the format is newer than this library reads.
FileMeta decode_meta(std::map<std::string, std::string> rows);

}  // namespace array_logger
