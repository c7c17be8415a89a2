#!/usr/bin/env bash
# Prepares a fresh machine (Debian + CPython >= 3.9) and builds array_logger:
#   - Debian packages: a C/C++ toolchain and libzstd-dev; the SQLite
#     amalgamation (cmake/obtain_sqlite_amalgamation.sh: Debian source package,
#     pinned in cmake/pins.env, sha256) and a multithreaded static libzstd
#     (cmake/obtain_zstd_mt.sh: Debian source package, pinned) into build/_deps;
#   - .venv with the pinned build/test tools (scripts/requirements-build.txt);
#   - array_logger built and installed into .venv (incremental: build/ is kept).
# Idempotent; run by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$al_repo"

apt_install g++ make libzstd-dev dpkg-dev tcl

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-build.txt

# Keep the obtained SQLite amalgamation and libzstd across rebuilds and build dirs.
use_built_deps
if [ ! -f "$ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR/sqlite3.c" ]; then
  bash cmake/obtain_sqlite_amalgamation.sh "$ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR"
fi
# A multithreaded static libzstd (Debian's libzstd.a has no worker threads),
# so close-time compression runs on every core.
bash cmake/obtain_zstd_mt.sh "$ARRAY_LOGGER_ZSTD_ROOT"

echo "setup: building and installing array_logger into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall .
