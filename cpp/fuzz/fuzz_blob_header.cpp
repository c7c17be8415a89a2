// libFuzzer harness: the blob header decoder must accept or throw CorruptFile
// for any bytes, never crash, read out of bounds or allocate from lies.
#include <cstddef>
#include <cstdint>
#include <span>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> blob(reinterpret_cast<const std::byte*>(data), size);
  try {
    const array_logger::BlobHeader h = array_logger::decode_blob_header(blob);
    // A header that decodes describes at most the bytes that are there.
    if (h.header_size > size) __builtin_trap();
  } catch (const array_logger::CorruptFile&) {
  }
  return 0;
}
