#!/usr/bin/env bash
# Every test: C++ unit tests (ctest; plain, ASan+UBSan, TSan), the Python
# suite (pytest) against the coverage build with coverage measured and
# enforced (scripts/coverage.sh, docs/TESTING.md), then the C++ package,
# cross-language and wheel tests, and bounded libFuzzer runs of the parsers.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"
cd "$repo"
bash scripts/cpp_tests.sh
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-test-extra.txt \
  -r scripts/requirements-analysis.txt  # the analysis extras, pinned (~90 s the first time)
# Tools the tests run: strace (syscall order of close/resume), the zstd CLI.
for pkg in strace zstd; do
  dpkg -s "$pkg" >/dev/null 2>&1 || {
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
    else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null; fi
  }
done
# The Python suite, once, against the coverage build of the extension (the
# C++ unit tests of that build feed the same counters); reports in
# build/coverage/, fails below the thresholds of docs/TESTING.md.
bash scripts/coverage.sh "$@"
bash scripts/packaging_tests.sh
bash scripts/fuzz.sh
