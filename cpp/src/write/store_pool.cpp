#include "write/store_pool.hpp"

#include <cerrno>

#include "array_logger/errors.hpp"
#include "os/open_files.hpp"

namespace array_logger::detail {

void StorePool::adopt(ArrayStore* store) {
  if (store->is_open() && !where_.count(store)) where_[store] = open_.insert(open_.end(), store);
}

void StorePool::close_least_recent() {
  ArrayStore* victim = open_.front();
  open_.pop_front();
  where_.erase(victim);
  victim->close_database();  // commits first
}

void StorePool::use(ArrayStore* store) {
  if (auto it = where_.find(store); it != where_.end()) {
    open_.splice(open_.end(), open_, it->second);  // most recently used
    return;
  }
  if (store->is_open() || store->finished()) return;
  while (!open_.empty() && open_databases() >= max_open_databases()) close_least_recent();
  try {
    store->reopen();
  } catch (const StorageError& e) {
    // Out of descriptors after all (the program holds more than the reserve
    // assumed): close half of ours and try once more.
    if (e.sys_errno() != EMFILE && e.sys_errno() != ENFILE) throw;
    for (std::size_t n = (open_.size() + 1) / 2; n > 0 && !open_.empty(); --n) close_least_recent();
    store->reopen();
  }
  where_[store] = open_.insert(open_.end(), store);
}

void StorePool::forget(ArrayStore* store) noexcept {
  if (auto it = where_.find(store); it != where_.end()) {
    open_.erase(it->second);
    where_.erase(it);
  }
}

}  // namespace array_logger::detail
