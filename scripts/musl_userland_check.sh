#!/usr/bin/env bash
# The musllinux wheel in a musl userland, without containers: no musl Python
# is packaged by Debian or on PyPI, so this builds one from Debian's own
# sources -- CPython from the `python3.11` source package, compiled with
# Debian's musl-gcc (musl-tools: musl 1.2.3, the libc of musllinux_1_2) and
# linked dynamically against musl's loader /lib/ld-musl-x86_64.so.1 -- into
# build/wheels/userland/musl-python (cached; 3-4 min the first time, on 2 cores). Then:
#   - scripts/check_wheel.py checks the musllinux wheel (tag, needed libraries,
#     no C++ runtime, exports),
#   - numpy 1.26's cp311 musllinux_1_1 wheel and the cp311 musllinux wheel of
#     scripts/build_wheels.sh are installed for that interpreter (pip --target,
#     no compiler involved),
#   - scripts/wheel_smoke.py runs under the musl interpreter (log, compress
#     with zstd's threads, read back), and the process is checked to have
#     musl, not glibc, mapped;
#   - the Python suite runs under the musl interpreter against that wheel
#     (but for the analysis bridges, whose packages cannot load here).
# What it does not prove: a full musl distribution (Alpine) with its own
# packages; docs/WHEELS.md says so.
#
#   bash scripts/musl_userland_check.sh [WHEEL]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # apt_install, al_step, al_wheel_arg
al_wheel_arg "$0" "$@"
repo="$al_repo"
cd "$repo"
arch="$(uname -m)"
base="$repo/build/wheels/userland"
prefix="$base/musl-python"
# numpy 2.x's musllinux wheels bundle libraries (libgcc_s, libquadmath, ...)
# linked with packed relative relocations (DT_RELR), which musl loads only from
# 1.2.4 on: under Debian 12's musl 1.2.3 its import jumps to an unrelocated
# address. numpy 1.26's musllinux_1_1 wheel has none, and proves numpy 1.x too.
numpy_pin="numpy==1.26.4"
python_deb="3.11.2-6+deb12u8"   # bookworm main (the security pool is not served here)
zlib_deb="1:1.2.13.dfsg-1"

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
  # musl-gcc would report gcc's multiarch (linux-gnu), which configure refuses
  # (it asks --print-multiarch) and from which setup.py (it asks -print-multiarch)
  # would add glibc's /usr/include/<arch>-linux-gnu to every stdlib module.
  printf '#!/bin/sh\ncase "$1" in -print-multiarch|--print-multiarch) echo %s-linux-musl; exit 0 ;; esac\nexec musl-gcc "$@"\n' \
    "$arch" >"$src/musl-cc" && chmod +x "$src/musl-cc"
  # The Python suite reads the files back with the stdlib's sqlite3: its _sqlite3
  # module needs an SQLite for musl, built here from the pinned amalgamation.
  sq="$src/sqlite"
  mkdir -p "$sq"
  bash "$repo/cmake/obtain_sqlite_amalgamation.sh" "$repo/build/_deps/sqlite-amalgamation" >/dev/null
  cp "$repo/build/_deps/sqlite-amalgamation/sqlite3.h" "$sq/"
  "$src/musl-cc" -O2 -fPIC -c "$repo/build/_deps/sqlite-amalgamation/sqlite3.c" -o "$sq/sqlite3.o" &&
    ar rcs "$sq/libsqlite3.a" "$sq/sqlite3.o"
  # hypothesis (the suite's property tests) imports zlib: the same for Debian's zlib.
  zl="$src/zlib"
  mkdir -p "$zl"
  (cd "$zl" && apt-get source -q --download-only "zlib=$zlib_deb" >/dev/null &&
     dpkg-source --no-copy --skip-patches -x ./*.dsc tree >/dev/null &&
     cd tree && CC="$src/musl-cc" CFLAGS="-O2 -fPIC" ./configure --static >/dev/null && make -s libz.a >/dev/null)
  # PKG_CONFIG=false: pkg-config would report the system's glibc zlib, libffi,
  # lzma as usable, and the stdlib modules built against them (binascii too)
  # would then fail to compile; without it configure tests headers with musl-gcc.
  (cd "$bld" && CC="$src/musl-cc" PKG_CONFIG=false \
      LIBSQLITE3_CFLAGS="-I$sq" LIBSQLITE3_LIBS="-L$sq -lsqlite3" \
      ZLIB_CFLAGS="-I$zl/tree" ZLIB_LIBS="-L$zl/tree -lz" ./configure -q --build="$arch-linux-musl" --host="$arch-linux-musl" \
      --prefix="$prefix" --without-ensurepip \
      --disable-test-modules >"$src/configure.log" 2>&1 &&
   nice -n 10 make -s -j"$(nproc)" >"$src/make.log" 2>&1 &&
   make -s install >"$src/install.log" 2>&1) || { tail -30 "$src"/*.log; exit 1; }
  # numpy and the smoke test need these compiled stdlib modules
  env -i "$prefix/bin/python3.11" -c 'import math, select, _struct, _posixsubprocess, _random, _datetime, _json, binascii, _sqlite3, zlib' ||
    { echo "musl_userland: stdlib modules missing, see $src/*.log"; rm -rf "$prefix"; exit 1; }
  rm -rf "$src"
fi
py="$prefix/bin/python3.11"
file -L "$py" | grep -q "interpreter /lib/ld-musl-$arch.so.1" ||
  { echo "musl_userland: $py is not a musl program: $(file -L "$py")"; exit 1; }

wheel="$al_wheel"
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
  --platform "musllinux_1_2_$arch" --platform "musllinux_1_1_$arch" --python-version 3.11 --implementation cp --abi cp311 \
  --target "$site" "$numpy_pin" "$wheel"

al_step "smoke test under musl"
(cd / && env -i PATH=/usr/bin:/bin HOME="$HOME" PYTHONPATH="$site" "$py" -c '
import runpy, sys
runpy.run_path(sys.argv[1], run_name="__main__")
# (musl is one file, loader and libc: Debian maps it as .../<arch>-linux-musl/libc.so,
#  the target of /lib/ld-musl-<arch>.so.1)
maps = {ln.split()[-1] for ln in open("/proc/self/maps") if "/" in ln}
musl = sorted(m for m in maps if m.endswith("-linux-musl/libc.so") or "/ld-musl-" in m)
glibc = sorted(m for m in maps if "/libc.so.6" in m or "/ld-linux" in m)
assert musl and not glibc, f"not a musl process: musl {musl}, glibc {glibc}"
import array_logger._core as c, numpy
print("musl process:", musl[0], "mapped, no glibc; numpy", numpy.__version__ + ";", c.__file__.rsplit("/", 1)[-1])
' "$repo/scripts/wheel_smoke.py") | tee "$base/musl_userland.txt"
grep -q "wheel smoke ok" "$base/musl_userland.txt"

# The Python suite, with the musl interpreter and the test tools' musllinux
# wheels (pins of scripts/requirements-build.txt and tqdm's). Left out, each
# for what this userland lacks, not for anything of ours:
#   - the analysis bridges (pyarrow, duckdb, pandas, matplotlib, dask, torch):
#     pyarrow's and duckdb's musllinux wheels use DT_RELR, which this musl
#     (1.2.3) cannot load, like numpy 2's above; the others are not installed;
#   - pip (the console-script test installs the checkout): built without ensurepip;
#   - ctypes (the benchmark harness): no libffi for musl here;
#   - ldd (the link test): Debian's is glibc's and cannot read a musl library
#     (scripts/check_wheel.py checks the wheel's needed libraries instead).
al_step "the Python suite under musl"
tsite="$base/musl-test-site"
rm -rf "$tsite"
python3 -m pip install -q --disable-pip-version-check --only-binary=:all: \
  --platform "musllinux_1_2_$arch" --platform "musllinux_1_1_$arch" --python-version 3.11 \
  --implementation cp --abi cp311 --target "$tsite" \
  $(grep -hE '^(pytest|pytest-timeout|hypothesis|zstandard|tqdm)==' scripts/requirements-build.txt \
      scripts/requirements-analysis.txt)
left_out=(
  --ignore=tests/test_analysis_bridges.py --ignore=tests/test_bridges_api_edges.py
  --ignore=tests/test_export_larger_than_memory.py
  --deselect=tests/test_cli.py::test_export_every_format_with_progress_lines
  --deselect=tests/test_cli.py::test_plot_writes_a_png
  --deselect=tests/test_cli_edges.py::test_a_failed_export_leaves_no_file
  --deselect=tests/test_inputs.py::test_register_accepts_torch_dtype_and_size
  --deselect=tests/test_scaling_readme.py::test_readme_multiprocessing_example_writes_one_dataset
  --deselect=tests/test_sparse.py::test_cli_and_bridges_read_encoded_and_periodic_files
  --deselect=tests/test_cli.py::test_console_script_and_module_both_run
  --deselect=tests/test_benchmark_harness.py::test_quick_run_reads_back_exactly_what_was_written
  --deselect=tests/test_build_info.py::test_extension_links_neither_libsqlite3_nor_libzstd
)
(cd "$repo" && env -i PATH=/usr/bin:/bin HOME="$HOME" PYTHONPATH="$site:$tsite" \
   "$py" -m pytest tests -q -p no:cacheprovider --timeout 300 "${left_out[@]}") | tee "$base/musl_pytest.txt"
al_step "passed"
