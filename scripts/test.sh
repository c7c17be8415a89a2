#!/usr/bin/env bash
# Every test: C++ unit tests (ctest; plain, ASan+UBSan, TSan), the Python
# suite (pytest) against the coverage build with coverage measured and
# enforced (scripts/coverage.sh, docs/TESTING.md), then the C++ package,
# cross-language and wheel tests, and bounded libFuzzer runs of the parsers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$al_repo/scripts/setup.sh"
cd "$al_repo"
bash scripts/cpp_tests.sh
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-test-extra.txt \
  -r scripts/requirements-analysis.txt  # the analysis extras, pinned (~90 s the first time)
# Tools the tests run: strace (syscall order of close/resume), the zstd CLI.
apt_install strace zstd
# The Python suite, once, against the coverage build of the extension (the
# C++ unit tests of that build feed the same counters); reports in
# build/coverage/, fails below the thresholds of docs/TESTING.md.
bash scripts/coverage.sh "$@"
bash scripts/packaging_tests.sh
bash scripts/fuzz.sh
