// read_all: every row matching a where clause in one pass, as one contiguous
// (rows, *shape) C-order buffer plus one column per key -- the C++ twin of
// Python's reader.read_all(). Header-only, over the public Reader/Query API.
#pragma once

#include <array_logger/reader.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace array_logger_examples {

struct Batch {
  std::size_t rows = 0;
  std::vector<std::vector<array_logger::KeyValue>> keys;  // keys[k][row], k in spec().keys order
  std::vector<std::byte> data;                            // rows * spec().payload_bytes() bytes

  template <class T>
  std::span<const T> as() const {  // the caller names the registered element type
    return {reinterpret_cast<const T*>(data.data()), data.size() / sizeof(T)};
  }
};

inline Batch read_all(const array_logger::Reader& reader, std::string_view where = {},
                      std::span<const array_logger::KeyValue> params = {}) {
  using array_logger::KeyRef;
  const std::size_t nkeys = reader.spec().keys.size();
  const std::size_t row_bytes = reader.spec().payload_bytes();
  Batch b;
  b.keys.resize(nkeys);
  const auto hint = reader.count(where, params);  // a hint only: a live writer may add rows
  b.data.reserve(hint * row_bytes);
  for (auto& column : b.keys) column.reserve(hint);
  array_logger::Query q = reader.query(where, params);
  while (q.next()) {
    for (std::size_t k = 0; k < nkeys; ++k) {
      const KeyRef v = q.key(k);
      switch (v.kind) {
        case KeyRef::Kind::Integer: b.keys[k].emplace_back(v.integer); break;
        case KeyRef::Kind::Real: b.keys[k].emplace_back(v.real); break;
        case KeyRef::Kind::Text: b.keys[k].emplace_back(std::string(v.text)); break;
      }
    }
    const auto bytes = q.array_bytes();
    b.data.insert(b.data.end(), bytes.begin(), bytes.end());
    ++b.rows;
  }
  return b;
}

}  // namespace array_logger_examples
