// Tells whether this process is a fork() child of the one that created an
// object: the child inherits the parent's open databases and a copy of its
// memory but not its threads, so touching either would corrupt the parent's files.
#pragma once

#include <cstdint>

namespace array_logger::detail {

// Increases in every child process created by fork(), never otherwise.
std::uint64_t fork_generation() noexcept;

}  // namespace array_logger::detail
