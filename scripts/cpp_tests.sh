#!/usr/bin/env bash
# C++ unit tests through ctest: a release build, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer.
# Expects scripts/setup.sh to have run (toolchain, .venv, amalgamation).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
dpkg -s doctest-dev >/dev/null 2>&1 || {
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq doctest-dev >/dev/null || { apt-get update -qq && apt-get install -y -qq doctest-dev >/dev/null; }
  else sudo apt-get install -y -qq doctest-dev >/dev/null; fi
}
export PATH="$repo/.venv/bin:$PATH"
export ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR="${ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR:-$repo/build/_deps/sqlite-amalgamation}"
export ARRAY_LOGGER_ZSTD_ROOT="${ARRAY_LOGGER_ZSTD_ROOT:-$repo/build/_deps/zstd-mt}"
jobs="$(nproc)"

run() {  # name, extra cmake args...
  local dir="build/cpp-$1"
  shift
  cmake -S . -B "$dir" -G Ninja -DARRAY_LOGGER_BUILD_TESTS=ON -DARRAY_LOGGER_BUILD_PYTHON=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  (cd "$dir" && ctest --output-on-failure)
}

run release -DCMAKE_BUILD_TYPE=Release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run asan -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DARRAY_LOGGER_SANITIZE=address,undefined"
TSAN_OPTIONS=halt_on_error=1 run tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARRAY_LOGGER_SANITIZE=thread
