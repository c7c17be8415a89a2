#!/usr/bin/env bash
# cibw_obtain_deps.sh OUTDIR
#
# cibuildwheel's before-all step on builders without apt (manylinux,
# musllinux, macOS). Produces
#   OUTDIR/sqlite-amalgamation/{sqlite3.c,sqlite3.h}
#   OUTDIR/zstd/{include/zstd.h,...,lib/libzstd.a}   (static, PIC, multithreaded)
# from the SAME pinned Debian source packages (cmake/pins.env) that
# cmake/obtain_sqlite_amalgamation.sh and cmake/obtain_zstd_mt.sh use on Debian,
# but downloaded with curl from deb.debian.org (snapshot.debian.org as a
# fallback) instead of apt-get:
#   - every downloaded file is checked against its SHA-256 in cmake/pins.env
#     (the values of the signed Debian Sources index for these versions);
#   - the Debian patches are applied in series order (what dpkg-source -x does);
#   - the amalgamation is generated with upstream's `make sqlite3.c` (needs
#     tclsh) and must match the sqlite3.c/sqlite3.h SHA-256 pins, so every
#     platform compiles byte-identical SQLite sources.
# The wheel build then uses them through ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR and
# ARRAY_LOGGER_ZSTD_ROOT (set in [tool.cibuildwheel] environment). Neither
# source tree ends up in the sdist or the wheel.
#
# Needs: curl, tar with xz, patch, make, a C compiler, tclsh. On Linux images
# missing ones are installed with dnf/yum/apk. Idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # pins (cmake/pins.env), al_log/al_die, sha256_of
OUTDIR="${1:?usage: cibw_obtain_deps.sh OUTDIR}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"

# --- tools -----------------------------------------------------------------
need=()
for t in curl tclsh patch make xz; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
if ((${#need[@]})); then
  al_log "installing: ${need[*]}"
  if command -v dnf >/dev/null 2>&1; then dnf install -y -q curl tcl patch make xz >&2
  elif command -v yum >/dev/null 2>&1; then yum install -y -q curl tcl patch make xz >&2
  elif command -v apk >/dev/null 2>&1; then apk add --no-cache curl tcl patch make xz >&2
  elif command -v apt-get >/dev/null 2>&1; then apt-get install -y -qq curl tcl patch make xz-utils >&2
  else al_die "missing tools (${need[*]}) and no package manager to install them"; fi
fi
if [ "$(uname -s)" = Darwin ]; then
  # One universal static libzstd serves both archs; SQLite is compiled per wheel by CMake.
  ZSTD_CFLAGS="-O3 -fPIC -arch x86_64 -arch arm64 -mmacosx-version-min=${MACOSX_DEPLOYMENT_TARGET:-10.15}"
else
  ZSTD_CFLAGS="-O3 -fPIC"
fi
jobs="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"

work="$(mktemp -d "${TMPDIR:-/tmp}/al_cibw.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fetch() {  # package-dir  file sha256  file sha256 ...
  local pool="$1"; shift
  local file sum url
  while [ $# -gt 0 ]; do
    file="$1"; sum="$2"; shift 2
    [ -f "$work/$file" ] && [ "$(sha256_of "$work/$file")" = "$sum" ] && continue
    for url in "https://deb.debian.org/debian/pool/main/$pool/${file//+/%2b}" \
               "https://snapshot.debian.org/archive/debian/20250101T000000Z/pool/main/$pool/${file//+/%2b}"; do
      al_log "downloading $url"
      curl -fsSL --retry 3 -o "$work/$file" "$url" && break || rm -f "$work/$file"
    done
    [ -f "$work/$file" ] || al_die "could not download $file"
    check_sha256 "$work/$file" "$sum"
  done
}

unpack() {  # orig debian.tar dest: what dpkg-source -x does for a 3.0 (quilt) package
  local orig="$1" deb="$2" dest="$3" line p
  mkdir -p "$dest"
  tar -xJf "$work/$orig" -C "$dest" --strip-components=1
  tar -xJf "$work/$deb" -C "$dest"
  if [ -f "$dest/debian/patches/series" ]; then
    while read -r line; do
      line="${line%%#*}"; [ -n "${line// }" ] || continue
      set -- $line; p="$1"; shift
      patch -s -d "$dest" "${@:--p1}" <"$dest/debian/patches/$p" || al_die "patch $p failed"
    done <"$dest/debian/patches/series"
  fi
}

# --- SQLite amalgamation ----------------------------------------------------------
sq="$OUTDIR/sqlite-amalgamation"
if [ -f "$sq/sqlite3.c" ] && [ "$(sha256_of "$sq/sqlite3.c")" = "$SQLITE3_C_SHA256" ] &&
   [ "$(sha256_of "$sq/sqlite3.h")" = "$SQLITE3_H_SHA256" ]; then
  al_log "SQLite amalgamation already in $sq"
else
  fetch s/sqlite3 "$SQLITE_ORIG_TAR" "$SQLITE_ORIG_SHA256" "$SQLITE_DEBIAN_TAR" "$SQLITE_DEBIAN_SHA256"
  unpack "$SQLITE_ORIG_TAR" "$SQLITE_DEBIAN_TAR" "$work/sqlite-src"
  mkdir -p "$work/sqlite-bld"
  (cd "$work/sqlite-bld" && export LC_ALL=C TZ=UTC &&
    "$work/sqlite-src/configure" --disable-tcl --disable-readline --disable-editline \
      --disable-load-extension --disable-math --disable-shared >configure.log 2>&1 &&
    make -j"$jobs" sqlite3.c >make.log 2>&1) ||
    { tail -n 30 "$work"/sqlite-bld/*.log >&2; al_die "generating sqlite3.c failed"; }
  check_sha256 "$work/sqlite-bld/sqlite3.c" "$SQLITE3_C_SHA256"
  check_sha256 "$work/sqlite-bld/sqlite3.h" "$SQLITE3_H_SHA256"
  mkdir -p "$sq"
  cp "$work/sqlite-bld/sqlite3.c" "$work/sqlite-bld/sqlite3.h" "$sq/"
  al_log "SQLite amalgamation (Debian $SQLITE_DEBIAN_VERSION, hashes verified) in $sq"
fi

# --- static multithreaded libzstd ---------------------------------------------------------
zs="$OUTDIR/zstd"
stamp="$zs/.built-from-libzstd-$ZSTD_DEBIAN_VERSION"
if [ -f "$stamp" ] && [ -f "$zs/lib/libzstd.a" ]; then
  al_log "libzstd already in $zs"
else
  fetch libz/libzstd "$ZSTD_ORIG_TAR" "$ZSTD_ORIG_SHA256" "$ZSTD_DEBIAN_TAR" "$ZSTD_DEBIAN_SHA256"
  unpack "$ZSTD_ORIG_TAR" "$ZSTD_DEBIAN_TAR" "$work/zstd-src"
  make -s -C "$work/zstd-src/lib" -j"$jobs" libzstd.a-mt CFLAGS="$ZSTD_CFLAGS" >"$work/zstd-make.log" 2>&1 ||
    { tail -n 30 "$work/zstd-make.log" >&2; al_die "building libzstd.a failed"; }
  mkdir -p "$zs/include" "$zs/lib"
  cp "$work/zstd-src/lib/zstd.h" "$work/zstd-src/lib/zstd_errors.h" "$work/zstd-src/lib/zdict.h" "$zs/include/"
  cp "$work/zstd-src/lib/libzstd.a" "$zs/lib/libzstd.a"
  touch "$stamp"
  al_log "libzstd $ZSTD_DEBIAN_VERSION (static, multithreaded) in $zs"
fi
