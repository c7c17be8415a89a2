// Which array_logger this is and what it was built with.
#pragma once

#include <string>

namespace array_logger {

// The library version, single-sourced from pyproject.toml by the build.
const char* version() noexcept;

// What is inside this build, as JSON text: SQLite (version, source id,
// amalgamation or system library, compile options) and zstd (version,
// multithreading support).
std::string build_info_json();

}  // namespace array_logger
