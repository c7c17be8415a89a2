// RecordRing (write/record_ring): the bounded byte ring between log() and
// the writer thread, and the packed keys of a queued row.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "write/record_ring.hpp"

using namespace array_logger;
using namespace array_logger::detail;

namespace {

// Writes a record of `n` bytes whose size field says n and whose bytes after
// it are `fill`; returns false when the ring is full.
bool put(RecordRing& ring, std::uint32_t n, unsigned char fill) {
  std::byte* p = ring.try_reserve(n);
  if (p == nullptr) return false;
  std::memset(p, fill, n);
  std::memcpy(p, &n, 4);
  return true;
}

}  // namespace

TEST_CASE("records come back in order, with their bytes, until released") {
  RecordRing ring(64);
  CHECK(ring.capacity() == 64);
  CHECK(ring.empty());
  REQUIRE(put(ring, 16, 0xA1));
  REQUIRE(put(ring, 24, 0xB2));
  CHECK(ring.used() == 40);
  std::uint64_t pos = ring.tail();
  const std::byte* first = ring.record_at(pos);
  CHECK(pos == 16);
  CHECK(first[8] == std::byte{0xA1});
  const std::byte* second = ring.record_at(pos);
  CHECK(pos == 40);
  CHECK(second[23] == std::byte{0xB2});
  ring.release_to(pos);
  CHECK(ring.empty());
}

TEST_CASE("a full ring refuses, and accepts again after a release") {
  RecordRing ring(64);
  REQUIRE(put(ring, 32, 1));
  REQUIRE(put(ring, 32, 2));
  CHECK(ring.used() == ring.capacity());
  CHECK_FALSE(put(ring, 8, 3));
  std::uint64_t pos = ring.tail();
  ring.record_at(pos);
  ring.release_to(pos);
  CHECK(put(ring, 32, 3));
}

TEST_CASE("a record that does not fit before the end wraps behind a marker") {
  RecordRing ring(64);
  REQUIRE(put(ring, 40, 1));
  std::uint64_t pos = ring.tail();
  ring.record_at(pos);
  ring.release_to(pos);  // 40 bytes consumed: 24 left before the end
  REQUIRE(put(ring, 32, 7));  // does not fit in 24: skips them, lands at 0
  CHECK(ring.used() == 24 + 32);
  const std::byte* rec = ring.record_at(pos);  // reader skips the marker
  CHECK(pos == 40 + 24 + 32);
  std::uint32_t size;
  std::memcpy(&size, rec, 4);
  CHECK(size == 32);
  CHECK(rec[31] == std::byte{7});
  // The skipped bytes count as used until released: a record that needs
  // them cannot be reserved yet.
  CHECK_FALSE(put(ring, 16, 8));
  ring.release_to(pos);
  CHECK(put(ring, 16, 8));
}

TEST_CASE("a wrap that would overwrite unread records is refused") {
  RecordRing ring(64);
  REQUIRE(put(ring, 16, 1));
  REQUIRE(put(ring, 40, 2));
  std::uint64_t pos = ring.tail();
  ring.record_at(pos);
  ring.release_to(pos);  // [16, 56) still unread; 8 bytes left at the end
  CHECK_FALSE(put(ring, 24, 3));  // would need the 8 + [0, 24), but [16, 24) is unread
  CHECK(put(ring, 16, 3));        // the 8 skipped + [0, 16) is free
}

TEST_CASE("capacity is rounded up to 8") {
  CHECK(RecordRing(65).capacity() == 72);
  CHECK(round8(0) == 0);
  CHECK(round8(1) == 8);
  CHECK(round8(16) == 16);
}

TEST_CASE("packed keys round-trip every kind, in order") {
  const std::vector<KeyRef> keys = {KeyRef::of(std::int64_t{-7}), KeyRef::of(2.5), KeyRef::of(std::string_view("naïve")),
                                    KeyRef::of(std::string_view(""))};
  const std::size_t n = packed_keys_size(keys);
  CHECK(n == 2 * kPackedNumberKeyBytes + (1 + 4 + 6) + (1 + 4));
  std::vector<std::byte> buf(n);
  pack_keys(keys, buf.data());
  const std::byte* p = buf.data();
  for (const KeyRef& want : keys) {
    KeyRef got;
    p = unpack_key(p, got);
    REQUIRE(got.kind == want.kind);
    CHECK(got.integer == want.integer);
    CHECK(got.real == want.real);
    CHECK(got.text == want.text);
  }
  CHECK(p == buf.data() + n);
  CHECK(packed_number_keys_size(3) == packed_keys_size(std::vector<KeyRef>(3, KeyRef::of(1.0))));
}
