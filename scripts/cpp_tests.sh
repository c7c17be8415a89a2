#!/usr/bin/env bash
# C++ unit tests through ctest: a release build, then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer.
# Expects scripts/setup.sh to have run (toolchain, .venv, amalgamation).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$al_repo"
apt_install doctest-dev
use_built_deps
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
