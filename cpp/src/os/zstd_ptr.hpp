// The one owning pointer type for zstd contexts (compression and
// decompression), and creating them.
#pragma once

#include <zstd.h>

#include <memory>

namespace array_logger::detail {

struct ZstdFree {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};
template <class Ctx>
using ZstdPtr = std::unique_ptr<Ctx, ZstdFree>;

// Throw StorageError when zstd cannot allocate the context.
ZstdPtr<ZSTD_CCtx> make_zstd_cctx();
ZstdPtr<ZSTD_DCtx> make_zstd_dctx();
// Throws StorageError("{what}: {zstd's message}") when `rc` is a zstd error.
void check_zstd(std::size_t rc, const char* what);

}  // namespace array_logger::detail
