// Which databases of one Logger stay open (docs/DESIGN.md, "Open files").
// Each open database holds three descriptors; the process keeps at most
// max_open_databases() of them open (os/open_files.hpp), and the writer thread
// closes its least recently used ones to open another. Writer thread only.
#pragma once

#include <list>
#include <unordered_map>

#include "write/array_store.hpp"

namespace array_logger::detail {

class StorePool {
 public:
  // A store the writer takes over from register (open or already closed).
  void adopt(ArrayStore* store);
  // Before rows go to `store` (or it is finished): reopens it when the pool
  // had closed it, closing the least recently used others first when the
  // process is at its budget; then it is the most recently used.
  void use(ArrayStore* store);
  // The store is finished or failed: the pool no longer closes or counts it.
  void forget(ArrayStore* store) noexcept;

 private:
  void close_least_recent();
  std::list<ArrayStore*> open_;  // least recently used first
  std::unordered_map<ArrayStore*, std::list<ArrayStore*>::iterator> where_;
};

}  // namespace array_logger::detail
