// libFuzzer harness: the meta parser (Python reprs of shape and keys, and
// the meta decoder) on arbitrary text: parse or throw CorruptFile, and what
// parses must print back to something that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "array_logger/errors.hpp"
#include "array_logger/meta.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace al = array_logger;
  try {
    const auto shape = al::parse_shape_repr(text);
    if (al::parse_shape_repr(al::shape_repr(shape)) != shape) __builtin_trap();
  } catch (const al::CorruptFile&) {
  }
  try {
    const auto keys = al::parse_keys_repr(text);
    if (al::parse_keys_repr(al::keys_repr(keys)) != keys) __builtin_trap();
  } catch (const al::CorruptFile&) {
  }
  // The same text as each meta row the decoder reads.
  for (const char* row : {"shape", "keys", "dtype", "format_version", "blob_filter"}) {
    std::map<std::string, std::string> rows = {
        {"shape", "(2, 3)"}, {"keys", "['episode']"}, {"dtype", "float32"}};
    rows[row] = std::string(text);
    try {
      (void)al::decode_meta(rows);
    } catch (const al::CorruptFile&) {
    }
  }
  return 0;
}
