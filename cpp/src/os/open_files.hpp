// The descriptor budget of the write path. Every database being written
// holds three descriptors (the .db, its -wal and its -shm); a process under
// the common limit of 1,024 open files would stop at a few hundred names.
#pragma once

#include <cstddef>

namespace array_logger::detail {

// Raises the soft RLIMIT_NOFILE to the hard limit, once per process (as Go
// programs do at start-up); best effort: a failure leaves the limit as it was.
void raise_open_file_limit() noexcept;

// How many databases this process keeps open for writing at most, over all
// its Loggers: what the soft limit leaves after a reserve for the program
// itself (a quarter of the limit, at least 128 descriptors), divided by the
// three descriptors a database holds; at least 16.
std::size_t max_open_databases() noexcept;

// The databases open for writing now (every Logger of the process); kept by
// ArrayStore, read by the writer's pool.
std::size_t open_databases() noexcept;
void count_database_opened() noexcept;
void count_database_closed() noexcept;

}  // namespace array_logger::detail
