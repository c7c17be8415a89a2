#include "os/crash_point.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#ifdef ARRAY_LOGGER_COVERAGE
extern "C" void __gcov_dump(void);  // libgcov: write this process's counters now
#endif

namespace array_logger::detail {
namespace {

struct Plan {
  std::string step;
  long nth = 1;
  std::atomic<long> seen{0};
};

// nullptr unless ARRAY_LOGGER_CRASH_AT names a step; leaked on purpose (it
// must outlive every thread that may reach a crash point).
Plan* read_plan() {
  const char* env = std::getenv("ARRAY_LOGGER_CRASH_AT");
  if (env == nullptr || *env == '\0') return nullptr;
  auto* plan = new Plan;
  std::string spec(env);
  const auto colon = spec.find(':');
  plan->step = spec.substr(0, colon);
  if (colon != std::string::npos) plan->nth = std::max(1L, std::strtol(spec.c_str() + colon + 1, nullptr, 10));
  return plan;
}

}  // namespace

void crash_point(const char* step) noexcept {
  static Plan* const plan = read_plan();
  if (plan == nullptr || plan->step != step) return;
  if (plan->seen.fetch_add(1) + 1 != plan->nth) return;
  const std::string line = std::string("array_logger: crash point ") + step + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
#ifdef ARRAY_LOGGER_COVERAGE
  __gcov_dump();  // coverage build: a killed process writes no counters at exit
#endif
  ::kill(::getpid(), SIGKILL);
  ::pause();  // SIGKILL cannot be caught: never returns
}

}  // namespace array_logger::detail
