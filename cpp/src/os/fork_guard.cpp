#include "os/fork_guard.hpp"

#include <pthread.h>

#include <atomic>

namespace array_logger::detail {
namespace {

std::atomic<std::uint64_t> g_generation{0};

void on_fork_child() noexcept { g_generation.fetch_add(1, std::memory_order_relaxed); }

const bool g_installed = [] {
  pthread_atfork(nullptr, nullptr, &on_fork_child);
  return true;
}();

}  // namespace

std::uint64_t fork_generation() noexcept {
  (void)g_installed;
  return g_generation.load(std::memory_order_relaxed);
}

}  // namespace array_logger::detail
