#!/usr/bin/env bash
# The musllinux wheel in a musl userland, without containers: no musl Python
# is packaged by Debian or on PyPI, so this builds one from Debian's own
# sources -- CPython from the `python3.11` source package, compiled with
# Debian's musl-gcc (musl-tools: musl 1.2.3, the libc of musllinux_1_2) and
# linked dynamically against musl's loader /lib/ld-musl-x86_64.so.1 -- into
# build/wheels/userland/musl-python (cached, ~10 min the first time). Then:
#   - scripts/check_wheel.py checks the musllinux wheel (tag, needed libraries,
#     no C++ runtime, exports),
#   - numpy's cp311 musllinux_1_2 wheel and the cp311 musllinux wheel of
#     scripts/build_wheels.sh are installed for that interpreter (pip --target,
#     no compiler involved),
#   - scripts/wheel_smoke.py runs under the musl interpreter (log, compress
#     with zstd's threads, read back), and the process is checked to have
#     musl, not glibc, mapped.
# What it does not prove: a full musl distribution (Alpine) with its own
# packages; docs/WHEELS.md says so.
#
#   bash scripts/musl_userland_check.sh [WHEEL]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # apt_install, al_step
repo="$al_repo"
cd "$repo"
arch="$(uname -m)"
base="$repo/build/wheels/userland"
prefix="$base/musl-python"
numpy_pin="numpy==2.4.6"
python_deb="3.11.2-6+deb12u8"   # bookworm main (the security pool is not served here)

apt_install musl musl-tools musl-dev dpkg-dev

if [ ! -x "$prefix/bin/python3.11" ]; then
  al_step "building CPython 3.11 (Debian source package python3.11) with musl-gcc into $prefix"
  src="$base/python3.11-src"
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && apt-get source -q --download-only "python3.11=$python_deb" >/dev/null &&
     dpkg-source --no-copy --skip-patches -x ./*.dsc tree >/dev/null)
  # (upstream's sources: Debian's patches make setup.py build the shared
  #  stdlib modules with x86_64-linux-gnu-gcc, i.e. for glibc)
  bld="$src/tree"
  # --build/--host: the platform triplet (and so EXT_SUFFIX) says linux-musl;
  # musl-gcc would report gcc's multiarch (linux-gnu), which configure refuses.
  printf '#!/bin/sh\n[ "$1" = --print-multiarch ] && { echo %s-linux-musl; exit 0; }\nexec musl-gcc "$@"\n' \
    "$arch" >"$src/musl-cc" && chmod +x "$src/musl-cc"
  (cd "$bld" && CC="$src/musl-cc" ./configure -q --build="$arch-linux-musl" --host="$arch-linux-musl" \
      --prefix="$prefix" --without-ensurepip \
      --disable-test-modules >"$src/configure.log" 2>&1 &&
   nice -n 10 make -s -j"$(nproc)" >"$src/make.log" 2>&1 &&
   make -s install >"$src/install.log" 2>&1) || { tail -30 "$src"/*.log; exit 1; }
  # numpy and the smoke test need these compiled stdlib modules
  env -i "$prefix/bin/python3.11" -c 'import math, select, _struct, _posixsubprocess, _random, _datetime, _json' ||
    { echo "musl_userland: stdlib modules missing, see $src/*.log"; rm -rf "$prefix"; exit 1; }
  rm -rf "$src"
fi
py="$prefix/bin/python3.11"
file -L "$py" | grep -q "interpreter /lib/ld-musl-$arch.so.1" ||
  { echo "musl_userland: $py is not a musl program: $(file -L "$py")"; exit 1; }

wheel="${1:-}"
if [ -z "$wheel" ]; then
  al_step "building the cp311 musllinux wheel"
  rm -rf "$base/dist-musl"
  bash scripts/build_wheels.sh --target "$arch-linux-musl" --out "$base/dist-musl" >/dev/null
  wheel="$(ls "$base"/dist-musl/array_logger-*musllinux*.whl)"
fi
# tag, needed libraries (musl's libc only), no C++ runtime, exports
python3 scripts/check_wheel.py "$wheel" "musllinux_1_2_$arch"

site="$base/musl-site"
rm -rf "$site"
al_step "installing $(basename "$wheel") and $numpy_pin's musllinux wheel for the musl interpreter"
python3 -m pip install -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform "musllinux_1_2_$arch" --python-version 3.11 --implementation cp --abi cp311 \
  --target "$site" "$numpy_pin" "$wheel"

al_step "smoke test under musl"
(cd / && env -i PATH=/usr/bin:/bin HOME="$HOME" PYTHONPATH="$site" "$py" -c '
import runpy, sys
runpy.run_path(sys.argv[1], run_name="__main__")
maps = open("/proc/self/maps").read()
assert "ld-musl" in maps and "libc.so.6" not in maps, "not a musl process"
import array_logger._core as c
print("musl process: ld-musl mapped, no glibc;", c.__file__.rsplit("/", 1)[-1])
' "$repo/scripts/wheel_smoke.py") | tee "$base/musl_userland.txt"
grep -q "wheel smoke ok" "$base/musl_userland.txt"
al_step "passed"
