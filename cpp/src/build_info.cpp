#include <sqlite3.h>
#include <zstd.h>

#include <string>

#include "array_logger/version.hpp"
#include "os/zstd_ptr.hpp"

#ifndef ARRAY_LOGGER_VERSION_STRING
#error "the build must define ARRAY_LOGGER_VERSION_STRING (single-sourced from pyproject.toml)"
#endif
#ifndef ARRAY_LOGGER_SQLITE_AMALGAMATION
#define ARRAY_LOGGER_SQLITE_AMALGAMATION 0
#endif

namespace array_logger {
namespace {

std::string json_string(const char* s) {
  std::string out = "\"";
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') out += '\\';
    out += *s;
  }
  return out + "\"";
}

bool zstd_has_multithreading() {
  const detail::ZstdPtr<ZSTD_CCtx> c = detail::make_zstd_cctx();
  return !ZSTD_isError(ZSTD_CCtx_setParameter(c.get(), ZSTD_c_nbWorkers, 1));
}

}  // namespace

const char* version() noexcept { return ARRAY_LOGGER_VERSION_STRING; }

std::string build_info_json() {
  std::string out = "{\"version\": " + json_string(version());
  out += ", \"sqlite\": {\"version\": " + json_string(sqlite3_libversion());
  out += ", \"source_id\": " + json_string(sqlite3_sourceid());
  out += ", \"source\": ";
  out += ARRAY_LOGGER_SQLITE_AMALGAMATION ? "\"amalgamation\"" : "\"system\"";
  out += ", \"threadsafe\": " + std::to_string(sqlite3_threadsafe());
  out += ", \"compile_options\": [";
  for (int i = 0; const char* opt = sqlite3_compileoption_get(i); ++i) {
    if (i) out += ", ";
    out += json_string(opt);
  }
  out += "]}, \"zstd\": {\"version\": " + json_string(ZSTD_versionString());
  out += ", \"multithreading\": ";
  out += zstd_has_multithreading() ? "true" : "false";
  out += ", \"linkage\": \"static\"}}";
  return out;
}

}  // namespace array_logger
