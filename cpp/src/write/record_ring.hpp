// The bounded byte ring between log() and the writer thread, and the layout
// of one queued row in it. Not synchronised itself: the Logger's mutex
// guards head/tail; the writer reads [tail, head) without the lock because
// producers never write there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "array_logger/key_value.hpp"

namespace array_logger::detail {

// One queued row: this header, the packed keys (padded to 8), then the blob
// (prefix + payload). `size` covers all of it and is a multiple of 8.
struct RecordHeader {
  std::uint32_t size;
  std::uint32_t stream;
  std::uint32_t keys_bytes;
  std::uint32_t blob_bytes;
};
static_assert(sizeof(RecordHeader) == 16);

inline constexpr std::size_t round8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

// Packed keys: per key one kind byte, then 8 bytes (integer/real) or a u32
// length and the UTF-8 text.
inline constexpr std::size_t kPackedNumberKeyBytes = 1 + 8;
// Bytes of packed keys without text (the common case: no need to look at them).
inline constexpr std::size_t packed_number_keys_size(std::size_t nkeys) { return kPackedNumberKeyBytes * nkeys; }
std::size_t packed_keys_size(std::span<const KeyRef> keys) noexcept;
void pack_keys(std::span<const KeyRef> keys, std::byte* out) noexcept;
// Reads one packed key at `p` and returns the position after it.
const std::byte* unpack_key(const std::byte* p, KeyRef& out) noexcept;

class RecordRing {
 public:
  static constexpr std::uint32_t kWrapMarker = 0xFFFFFFFFu;

  RecordRing() = default;
  // Allocates and touches every page now, so first-touch page faults are
  // paid at setup instead of inside timed logging.
  explicit RecordRing(std::size_t capacity);

  std::size_t capacity() const noexcept { return buf_.size(); }
  std::uint64_t head() const noexcept { return head_; }
  std::uint64_t tail() const noexcept { return tail_; }
  bool empty() const noexcept { return head_ == tail_; }
  std::size_t used() const noexcept { return static_cast<std::size_t>(head_ - tail_); }

  // Returns space for `n` bytes (a multiple of 8, at most capacity()) and
  // publishes it (advances head), or nullptr when the ring is too full.
  std::byte* try_reserve(std::size_t n) noexcept;
  // Writer side: the record at `pos` (skipping a wrap marker), and the
  // position after it.
  const std::byte* record_at(std::uint64_t& pos) const noexcept;
  void release_to(std::uint64_t pos) noexcept { tail_ = pos; }

 private:
  std::vector<std::byte> buf_;
  std::uint64_t head_ = 0, tail_ = 0;
};

}  // namespace array_logger::detail
