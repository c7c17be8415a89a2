#include "os/fail_point.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace array_logger::detail {
namespace {

struct Plan {
  std::string call;
  long nth = 1;
  int code = 0;
  std::atomic<long> seen{0};
};

struct Named {
  const char* name;
  int code;
};

// The codes a test names; numbers are accepted too. SQLite's primary result
// codes are spelled out here because os/ does not include sqlite3.h.
constexpr Named kCodes[] = {
    {"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EACCES", EACCES}, {"EINTR", EINTR},
    {"EROFS", EROFS},   {"EDQUOT", EDQUOT}, {"ENOENT", ENOENT}, {"EPERM", EPERM},
    {"EBUSY", EBUSY},   {"EMFILE", EMFILE}, {"SQLITE_ERROR", 1}, {"SQLITE_BUSY", 5},
    {"SQLITE_NOMEM", 7}, {"SQLITE_IOERR", 10}, {"SQLITE_CORRUPT", 11}, {"SQLITE_FULL", 13},
    {"SQLITE_CANTOPEN", 14},
};

int parse_code(const std::string& text, bool sqlite) {
  if (text.empty()) return sqlite ? 10 : EIO;  // SQLITE_IOERR, EIO
  for (const Named& n : kCodes)
    if (text == n.name) return n.code;
  const long v = std::strtol(text.c_str(), nullptr, 10);
  return v > 0 ? static_cast<int>(v) : (sqlite ? 10 : EIO);
}

// nullptr unless ARRAY_LOGGER_FAIL_AT names a call; leaked on purpose (it
// must outlive every thread that may reach a fail point).
Plan* read_plan() {
  const char* env = std::getenv("ARRAY_LOGGER_FAIL_AT");
  if (env == nullptr || *env == '\0') return nullptr;
  auto* plan = new Plan;
  std::string spec(env);
  std::string code;
  if (const auto eq = spec.find('='); eq != std::string::npos) {
    code = spec.substr(eq + 1);
    spec.resize(eq);
  }
  const auto colon = spec.find(':');
  plan->call = spec.substr(0, colon);
  if (colon != std::string::npos) plan->nth = std::max(1L, std::strtol(spec.c_str() + colon + 1, nullptr, 10));
  plan->code = parse_code(code, plan->call.rfind("sqlite.", 0) == 0);
  return plan;
}

}  // namespace

int injected_failure(const char* call) noexcept {
  static Plan* const plan = read_plan();
  if (plan == nullptr || plan->call != call) return 0;
  return plan->seen.fetch_add(1) + 1 == plan->nth ? plan->code : 0;
}

}  // namespace array_logger::detail
