// Deterministic fault injection for the crash-ordering tests
// (tests/test_crash_points.py, docs/TESTING.md).
//
// With ARRAY_LOGGER_CRASH_AT=<step>[:<n>] in the environment (read once, when
// the first crash point is reached), the process kills itself with SIGKILL
// the n-th time (default: the first) it reaches the crash point named <step>,
// after writing "array_logger: crash point <step>" to stderr. So every step
// of every crash-safe ordering (close, resume, commit) can be killed exactly,
// without depending on timing. Without the variable a crash point costs one
// comparison against null; the points sit on rare paths (commit, close,
// resume), never per row.
#pragma once

namespace array_logger::detail {

void crash_point(const char* step) noexcept;

}  // namespace array_logger::detail
