#include "write/record_ring.hpp"

namespace array_logger::detail {

std::size_t packed_keys_size(std::span<const KeyRef> keys) noexcept {
  std::size_t n = 0;
  for (const KeyRef& k : keys) n += k.kind == KeyRef::Kind::Text ? 1 + 4 + k.text.size() : kPackedNumberKeyBytes;
  return n;
}

void pack_keys(std::span<const KeyRef> keys, std::byte* out) noexcept {
  for (const KeyRef& k : keys) {
    *out++ = static_cast<std::byte>(k.kind);
    switch (k.kind) {
      case KeyRef::Kind::Integer: std::memcpy(out, &k.integer, 8); out += 8; break;
      case KeyRef::Kind::Real: std::memcpy(out, &k.real, 8); out += 8; break;
      case KeyRef::Kind::Text: {
        auto len = static_cast<std::uint32_t>(k.text.size());
        std::memcpy(out, &len, 4);
        std::memcpy(out + 4, k.text.data(), len);
        out += 4 + len;
        break;
      }
    }
  }
}

const std::byte* unpack_key(const std::byte* p, KeyRef& out) noexcept {
  out.kind = static_cast<KeyRef::Kind>(*p++);
  switch (out.kind) {
    case KeyRef::Kind::Integer: std::memcpy(&out.integer, p, 8); return p + 8;
    case KeyRef::Kind::Real: std::memcpy(&out.real, p, 8); return p + 8;
    case KeyRef::Kind::Text: {
      std::uint32_t len;
      std::memcpy(&len, p, 4);
      out.text = std::string_view(reinterpret_cast<const char*>(p + 4), len);
      return p + 4 + len;
    }
  }
  return p;
}

RecordRing::RecordRing(std::size_t capacity) : buf_(round8(capacity)) {}  // value-init touches pages

std::byte* RecordRing::try_reserve(std::size_t n) noexcept {
  const std::size_t cap = buf_.size();
  const std::size_t off = static_cast<std::size_t>(head_ % cap);
  const std::size_t free = cap - used();
  if (off + n <= cap) {
    if (n > free) return nullptr;
    head_ += n;
    return buf_.data() + off;
  }
  // Not enough room before the end: mark the rest as skipped and wrap.
  const std::size_t skip = cap - off;
  if (skip + n > free) return nullptr;
  const std::uint32_t marker = kWrapMarker;
  std::memcpy(buf_.data() + off, &marker, 4);
  head_ += skip + n;
  return buf_.data();
}

const std::byte* RecordRing::record_at(std::uint64_t& pos) const noexcept {
  const std::size_t cap = buf_.size();
  std::size_t off = static_cast<std::size_t>(pos % cap);
  std::uint32_t size;
  std::memcpy(&size, buf_.data() + off, 4);
  if (size == kWrapMarker) {
    pos += cap - off;
    off = 0;
    std::memcpy(&size, buf_.data(), 4);
  }
  pos += size;
  return buf_.data() + off;
}

}  // namespace array_logger::detail
