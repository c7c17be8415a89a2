#include "os/zstd_ptr.hpp"

#include <string>

#include "array_logger/errors.hpp"

namespace array_logger::detail {

ZstdPtr<ZSTD_CCtx> make_zstd_cctx() {
  ZstdPtr<ZSTD_CCtx> c(ZSTD_createCCtx());
  if (!c) throw StorageError("out of memory creating a zstd context");
  return c;
}

ZstdPtr<ZSTD_DCtx> make_zstd_dctx() {
  ZstdPtr<ZSTD_DCtx> d(ZSTD_createDCtx());
  if (!d) throw StorageError("out of memory creating a zstd context");
  return d;
}

void check_zstd(std::size_t rc, const char* what) {
  if (ZSTD_isError(rc)) throw StorageError(std::string(what) + ": " + ZSTD_getErrorName(rc));
}

}  // namespace array_logger::detail
