// The blob codec: header layout, validation of hostile headers, shuffle.
#include <doctest/doctest.h>

#include <cstring>
#include <numeric>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"

using namespace array_logger;

namespace {
ArraySpec spec_of(std::vector<std::int64_t> shape, const char* dtype) {
  ArraySpec s;
  s.keys = {"episode"};
  s.shape = std::move(shape);
  s.dtype = &dtype_from_string(dtype);
  return s;
}
std::vector<std::byte> blob_with_payload(const ArraySpec& s) {
  auto b = encode_blob_header(s);
  b.resize(b.size() + s.payload_bytes(), std::byte{7});
  return b;
}
}  // namespace

TEST_CASE("header layout is the documented one") {
  auto h = encode_blob_header(spec_of({10, 5}, "float32"));
  // magic, flags, ndim, header_size, 2 dims, dtype_len + "<f4", padding
  REQUIRE(h.size() == 32);
  CHECK(std::memcmp(h.data(), "ALB1", 4) == 0);
  CHECK(h[4] == std::byte{0});
  CHECK(h[5] == std::byte{2});
  CHECK(static_cast<int>(h[6]) == 32);
  CHECK(static_cast<int>(h[8]) == 10);
  CHECK(static_cast<int>(h[16]) == 5);
  CHECK(static_cast<int>(h[24]) == 3);
  CHECK(std::memcmp(h.data() + 25, "<f4", 3) == 0);
  CHECK(h.size() % 8 == 0);
}

TEST_CASE("decode round-trips every dtype and shape") {
  for (const char* dt : {"bool", "int8", "uint16", "int32", "uint64", "float16", "float64", "complex128"}) {
    for (auto shape : std::vector<std::vector<std::int64_t>>{{}, {0}, {3}, {2, 3, 4}}) {
      auto s = spec_of(shape, dt);
      auto b = blob_with_payload(s);
      BlobHeader h = decode_blob_header(b);
      CHECK(h.dtype == s.dtype);
      CHECK(h.shape == std::vector<std::uint64_t>(shape.begin(), shape.end()));
      CHECK(h.header_size + s.payload_bytes() == b.size());
    }
  }
}

TEST_CASE("hostile headers are rejected with CorruptFile, never trusted") {
  auto s = spec_of({4, 4}, "float32");
  auto good = blob_with_payload(s);
  SUBCASE("truncated") {
    for (std::size_t n = 0; n < good.size(); ++n)
      CHECK_THROWS_AS(decode_blob_header(std::span(good).first(n)), CorruptFile);
  }
  SUBCASE("shorter than the fixed 8 bytes: refused before any field is read") {
    // (7 bytes with the magic: reading the header size would read past the blob)
    for (std::size_t n : {0, 4, 7})
      CHECK_THROWS_WITH_AS(decode_blob_header(std::span(good).first(n)),
                           "blob does not start with the array_logger header (magic ALB1)", CorruptFile);
  }
  SUBCASE("bad magic") {
    good[0] = std::byte{'X'};
    CHECK_THROWS_AS(decode_blob_header(good), CorruptFile);
  }
  SUBCASE("ndim 200") {
    good[5] = std::byte{200};
    CHECK_THROWS_AS(decode_blob_header(good), CorruptFile);
  }
  SUBCASE("shape product overflows") {
    std::uint64_t huge = ~0ull;
    std::memcpy(good.data() + 8, &huge, 8);
    CHECK_THROWS_AS(decode_blob_header(good), CorruptFile);
  }
  SUBCASE("payload shorter than the header says") {
    good.pop_back();
    CHECK_THROWS_AS(decode_blob_header(good), CorruptFile);
  }
  SUBCASE("garbage dtype") {
    good[8 + 16 + 1] = std::byte{'?'};
    CHECK_THROWS_AS(decode_blob_header(good), CorruptFile);
  }
  SUBCASE("header size past the blob") {
    good[6] = std::byte{0xF8};
    good[7] = std::byte{0xFF};
    CHECK_THROWS_AS(decode_blob_header(good), CorruptFile);
  }
  // A filtered blob (flags bit 0) has no payload size to check against its
  // shape, so the header size alone must be refused when it is not a
  // multiple of 8 or runs past the blob.
  SUBCASE("filtered: header size not a multiple of 8") {
    good[4] = std::byte{1};
    good[6] = std::byte{30};
    CHECK_THROWS_WITH_AS(decode_blob_header(good), "blob header size 30 is inconsistent", CorruptFile);
  }
  SUBCASE("filtered: header size past the blob") {
    good[4] = std::byte{1};
    good[6] = std::byte{0xF8};
    good[7] = std::byte{0xFF};
    CHECK_THROWS_WITH_AS(decode_blob_header(good), "blob header size 65528 is inconsistent", CorruptFile);
  }
}

TEST_CASE("byte shuffle is invertible") {
  std::vector<std::byte> in(4 * 37);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::byte>(i * 31 + 7);
  std::vector<std::byte> mid(in.size()), out(in.size());
  byte_shuffle(in, 4, mid);
  CHECK(mid[1] == in[4]);  // first bytes of all elements come first
  byte_unshuffle(mid, 4, out);
  CHECK(out == in);
}

TEST_CASE("dtype strings: name, type string, and the type string without or with a native byte order") {
  // Files of other writers spell a dtype as numpy may print it: "float32",
  // "<f4", "f4", "=f4", "|u1", "u1". A big-endian or unknown one is refused.
  for (const char* text : {"float32", "<f4", "f4", "=f4"}) CHECK(find_dtype(text) == &dtype_from_string("float32"));
  for (const char* text : {"uint8", "|u1", "u1", "=u1"}) CHECK(find_dtype(text) == &dtype_from_string("uint8"));
  for (const char* text : {"c16", "=c16", "<c16"}) CHECK(find_dtype(text) == &dtype_from_string("complex128"));
  for (const char* text : {">f4", "4", "16", "f", "", "float128"}) CHECK(find_dtype(text) == nullptr);
}
