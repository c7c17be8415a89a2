#!/usr/bin/env bash
# Every test: C++ unit tests (ctest; plain, ASan+UBSan, TSan), the Python
# suite (pytest) against the coverage build with coverage measured and
# enforced (scripts/coverage.sh, docs/TESTING.md), bounded libFuzzer runs of
# the parsers, then the C++ package, cross-language and wheel tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$al_repo/scripts/setup.sh"
cd "$al_repo"
# The portable wheel of the packaging tests (step 4) is minutes of zig
# compiling (about 15 when zig's cache is cold, docs/WHEELS.md), mostly on one
# core. Started now at the lowest priority, it takes the core that the tests
# below leave idle (pytest runs on one) and gives way whenever both are busy.
portable="$al_repo/build/portable-wheel"
rm -rf "$portable" && mkdir -p "$portable"
setsid nice -n 19 bash scripts/build_wheels.sh --target "$(uname -m)-linux-gnu.2.17" --out "$portable/dist" \
  >"$portable/build.log" 2>&1 &
portable_pid=$!
trap 'kill -- "-$portable_pid" 2>/dev/null || true' EXIT   # (a failed test must not leave it running)
bash scripts/cpp_tests.sh
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-test-extra.txt \
  -r scripts/requirements-analysis.txt  # the analysis extras, pinned (~90 s the first time)
# Tools the tests run: strace (syscall order of close/resume), the zstd CLI.
apt_install strace zstd
# The Python suite, once, against the coverage build of the extension (the
# C++ unit tests of that build feed the same counters); reports in
# build/coverage/, fails below the thresholds of docs/TESTING.md.
bash scripts/coverage.sh "$@"
bash scripts/fuzz.sh
if ! wait "$portable_pid"; then
  tail -40 "$portable/build.log"; echo "test: the portable wheel's build failed (log: $portable/build.log)"; exit 1
fi
ARRAY_LOGGER_PORTABLE_WHEEL_DIR="$portable/dist" bash scripts/packaging_tests.sh
