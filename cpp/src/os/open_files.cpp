#include "os/open_files.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace array_logger::detail {
namespace {

std::atomic<std::size_t> g_open{0};

rlim_t soft_limit() noexcept {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1u << 20;
  return rl.rlim_cur;
}

}  // namespace

void raise_open_file_limit() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    const rlim_t wanted = rl.rlim_max;
    rl.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      // macOS refuses more than OPEN_MAX (10240) when the hard limit is
      // unlimited; a smaller raise still helps.
      rl.rlim_cur = std::min<rlim_t>(wanted, 10240);
      (void)::setrlimit(RLIMIT_NOFILE, &rl);
    }
  });
}

std::size_t max_open_databases() noexcept {
  const rlim_t limit = soft_limit();
  const rlim_t reserve = std::max<rlim_t>(128, limit / 4);
  const rlim_t usable = limit > reserve ? limit - reserve : 0;
  return std::max<std::size_t>(16, static_cast<std::size_t>(usable / 3));
}

std::size_t open_databases() noexcept { return g_open.load(std::memory_order_relaxed); }
void count_database_opened() noexcept { g_open.fetch_add(1, std::memory_order_relaxed); }
void count_database_closed() noexcept { g_open.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace array_logger::detail
