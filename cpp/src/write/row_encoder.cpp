#include "write/row_encoder.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "array_logger/blob.hpp"
#include "array_logger/errors.hpp"
#include "format/sparse_payload.hpp"

namespace array_logger::detail {

RowEncoder::RowEncoder(const ArraySpec& stored, const StoredForm& form)
    : n_(stored.element_count()), value_size_(stored.dtype->itemsize) {
  fixed_ = form.fixed_point.has_value();
  sparse_ = form.sparse_index_dtype != nullptr;
  if (fixed_) {
    fp_ = FixedPointCodec(*form.fixed_point, *stored.dtype, *form.fixed_point_dtype);
    value_size_ = form.fixed_point_dtype->itemsize;
    if (sparse_) quantized_.resize(n_ * value_size_);
  }
  if (sparse_) index_size_ = form.sparse_index_dtype->itemsize;
  for (std::uint8_t f = 0; f < 4; ++f) headers_[f] = encode_blob_header(stored, static_cast<std::uint8_t>(f << 1));
}

std::size_t RowEncoder::max_blob_bytes() const noexcept {
  // A sparse row is stored dense whenever that is smaller.
  return headers_[0].size() + n_ * value_size_;
}

RowEncoder::Plan RowEncoder::plan(const std::byte* payload, bool from_period) {
  Plan p;
  clamp_ = from_period;
  const std::byte* values = payload;
  if (fixed_) {
    p.flags |= kBlobFlagFixedPoint;
    if (!from_period) fp_.check(payload, n_);
    if (sparse_) {
      fp_.quantize(payload, n_, quantized_.data(), from_period);
      values = quantized_.data();
    }
  }
  const std::size_t dense = n_ * value_size_;
  p.blob_bytes = header(p.flags).size() + dense;
  if (sparse_) {
    p.nnz = count_nonzero(values, n_, value_size_);
    const std::size_t sparse = sparse_payload_bytes(p.nnz, index_size_, value_size_);
    if (sparse < dense) {
      p.flags |= kBlobFlagSparse;
      p.blob_bytes = header(p.flags).size() + sparse;
    }
  }
  return p;
}

void RowEncoder::write(const Plan& p, const std::byte* payload, std::byte* out) {
  const auto& h = header(p.flags);
  std::memcpy(out, h.data(), h.size());
  std::byte* body = out + h.size();
  if (p.flags & kBlobFlagSparse) {
    const std::byte* values = fixed_ ? quantized_.data() : payload;
    encode_sparse(values, n_, value_size_, index_size_, p.nnz, body);
  } else if (fixed_ && sparse_) {
    std::memcpy(body, quantized_.data(), quantized_.size());
  } else if (fixed_) {
    fp_.quantize(payload, n_, body, clamp_);
  } else {
    std::memcpy(body, payload, n_ * value_size_);
  }
}

}  // namespace array_logger::detail
