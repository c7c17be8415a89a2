#!/usr/bin/env bash
# The C++ package and the wheel, as their users meet them:
#   1. cmake --install (the C++ tests' Release build) to a prefix; a consumer
#      project finds it with find_package
#   2. the same consumer builds array_logger with add_subdirectory
#   3. cross-language: C++ writes / Python reads, Python writes / C++ reads,
#      and both write the same bytes
#   4. the portable wheel as published (scripts/build_wheels.sh: zig,
#      manylinux_2_17, the one wheel build of this script besides the sdist's):
#      tag, symbol versions, no C++ runtime, exports (scripts/check_wheel.py)
#      -> fresh venv (no compiler on PATH) -> smoke test -> CPU per row against
#      the build in .venv, same run (benchmarks/wheel_parity.py, loose bound)
#   5. the sdist: no third-party sources in it; it builds a wheel that works
# The musllinux wheel and the userland checks run outside the test command
# (docs/WHEELS.md, "What is proven here").
# Expects scripts/setup.sh to have run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo="$al_repo"
cd "$repo"
use_built_deps
jobs="$(nproc)"
work="$repo/build/packaging"
rm -rf "$work/prefix" "$work/data" "$work/dist" "$work/venv" "$work/venv-sdist"
mkdir -p "$work/data"
say() { echo "packaging: [${SECONDS}s] $*"; }

say "1. install + find_package consumer"
# The Release build the C++ unit tests ran against (scripts/cpp_tests.sh, same
# directory and options: nothing to rebuild after it, a full build without
# it); the install rules do not depend on the tests being built, and step 2
# builds the library once more from source anyway.
core="build/cpp-release"
cmake -S . -B "$core" -G Ninja -DCMAKE_BUILD_TYPE=Release -DARRAY_LOGGER_BUILD_TESTS=ON \
  -DARRAY_LOGGER_BUILD_PYTHON=OFF >/dev/null
cmake --build "$core" -j "$jobs" >/dev/null
cmake --install "$core" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/array_logger/logger.hpp"
test -f "$work/prefix/lib/cmake/array_logger/array_loggerConfigVersion.cmake"
cmake -S cpp/examples/consumer -B "$work/consumer-find" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer-find" -j "$jobs" >/dev/null
find_bin="$work/consumer-find/logbook"

say "2. add_subdirectory consumer"
cmake -S cpp/examples/consumer -B "$work/consumer-sub" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DARRAY_LOGGER_SOURCE_DIR="$repo" >/dev/null
cmake --build "$work/consumer-sub" -j "$jobs" >/dev/null
sub_bin="$work/consumer-sub/logbook"

say "3. cross-language"
py=".venv/bin/python"
"$find_bin" write "$work/data/cpp" 250
"$sub_bin" write "$work/data/cpp_zst" 250 3
$py scripts/cross_language_check.py read "$work/data/cpp/grid.db" 250
$py scripts/cross_language_check.py read "$work/data/cpp_zst/grid.db" 250
$py scripts/cross_language_check.py write "$work/data/py" 250
$py scripts/cross_language_check.py write "$work/data/py_zst" 250 3
"$find_bin" read "$work/data/py/grid.db" 250
"$sub_bin" read "$work/data/py_zst/grid.db.zst" 250
$py scripts/cross_language_check.py same "$work/data/cpp/grid.db" "$work/data/py/grid.db"

say "4. portable wheel (manylinux_2_17): build, check_wheel.py, fresh venv, smoke test, speed"
arch="$(uname -m)"
# scripts/test.sh builds it in the background while the other tests run, and
# hands its directory over; run alone, this script builds it here.
if [ -n "${ARRAY_LOGGER_PORTABLE_WHEEL_DIR:-}" ]; then
  mkdir -p "$work/dist"
  cp "$ARRAY_LOGGER_PORTABLE_WHEEL_DIR"/array_logger-*manylinux_2_17_"$arch".whl "$work/dist/"
else
  bash scripts/build_wheels.sh --target "$arch-linux-gnu.2.17" --out "$work/dist"
fi
fixed=$(ls "$work"/dist/array_logger-*manylinux_2_17_"$arch".whl)
.venv/bin/python scripts/check_wheel.py "$fixed" "manylinux_2_17_$arch"
# SQLite, zstd and the C++ runtime are inside: nothing grafted by auditwheel.
if unzip -l "$fixed" | grep -q "array_logger.libs/"; then
  echo "packaging: the wheel needed external libraries:"; unzip -l "$fixed" | grep "array_logger.libs/"; exit 1
fi
python3 -m venv "$work/venv"
# The smoke test's PATH holds the fresh venv only: no compiler on it.
env -i PATH="$work/venv/bin" /bin/sh -c '! command -v cc && ! command -v gcc && ! command -v c++ && ! command -v cmake' >/dev/null
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$fixed"
(cd / && env -i HOME="$HOME" PATH="$work/venv/bin" "$work/venv/bin/python" "$repo/scripts/wheel_smoke.py") | tee "$work/dist/smoke.txt"
grep -q "sqlite 3.* amalgamation" "$work/dist/smoke.txt"
# Not slower than the build from source (.venv): workload M, same run,
# alternating, medians of 3; bounded: CPU per row of all threads (log() and
# the writer), which a busy machine disturbs far less than wall time; the
# bound is loose, a lost optimisation level would exceed it. The full S/M/XL
# comparison: docs/WHEELS.md.
.venv/bin/python benchmarks/wheel_parity.py --ref .venv/bin/python --new "$work/venv/bin/python" \
  --workloads M --repeats 3 --max-ratio 1.5 --out "$work/dist/parity.md"
say "5. sdist: carries what obtains SQLite and zstd, not their sources; builds a working wheel"
.venv/bin/python -m pip install -q --disable-pip-version-check build==1.6.1
.venv/bin/python -m build -q --sdist -o "$work/dist/sdist" . >/dev/null
sdist=$(ls "$work"/dist/sdist/array_logger-*.tar.gz)
tar tzf "$sdist" > "$work/dist/sdist-files.txt"
if grep -E '(sqlite3\.[ch]|zstd\.h|/lib/compress/)$' "$work/dist/sdist-files.txt"; then
  echo "packaging: the sdist contains third-party sources"; exit 1
fi
grep -q "cmake/obtain_sqlite_amalgamation.sh" "$work/dist/sdist-files.txt"
.venv/bin/python -m pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist/from-sdist" "$sdist" >/dev/null
python3 -m venv "$work/venv-sdist"
"$work/venv-sdist/bin/python" -m pip install -q --disable-pip-version-check "$work"/dist/from-sdist/array_logger-*.whl
(cd / && env -i HOME="$HOME" PATH="$work/venv-sdist/bin" "$work/venv-sdist/bin/python" "$repo/scripts/wheel_smoke.py")
say "all passed"
