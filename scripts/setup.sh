#!/usr/bin/env bash
# Prepares a fresh machine (Debian + CPython >= 3.9) and builds array_logger:
#   - Debian packages: a C/C++ toolchain and libzstd-dev; the SQLite
#     amalgamation (cmake/obtain_sqlite_amalgamation.sh: Debian source package,
#     pinned, sha256) and a multithreaded static libzstd
#     (cmake/obtain_zstd_mt.sh: Debian source package, pinned) into build/_deps;
#   - .venv with the pinned build/test tools (scripts/requirements-build.txt);
#   - array_logger built and installed into .venv (incremental: build/ is kept).
# Idempotent; sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
for pkg in g++ make libzstd-dev dpkg-dev tcl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements-build.txt

# Keep the obtained SQLite amalgamation across rebuilds and build dirs.
export ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR="${ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR:-$repo/build/_deps/sqlite-amalgamation}"
if [ ! -f "$ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR/sqlite3.c" ]; then
  bash cmake/obtain_sqlite_amalgamation.sh "$ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR"
fi

# A multithreaded static libzstd (Debian's libzstd.a has no worker threads),
# so close-time compression runs on every core.
export ARRAY_LOGGER_ZSTD_ROOT="${ARRAY_LOGGER_ZSTD_ROOT:-$repo/build/_deps/zstd-mt}"
bash cmake/obtain_zstd_mt.sh "$ARRAY_LOGGER_ZSTD_ROOT"

echo "setup: building and installing array_logger into .venv"
PATH="$repo/.venv/bin:$PATH" .venv/bin/python -m pip install -q --disable-pip-version-check \
  --no-build-isolation --no-deps --force-reinstall .
