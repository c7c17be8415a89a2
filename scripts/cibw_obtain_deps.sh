#!/usr/bin/env bash
# cibw_obtain_deps.sh OUTDIR
#
# cibuildwheel's before-all step on builders without apt (manylinux,
# musllinux, macOS). Produces
#   OUTDIR/sqlite-amalgamation/{sqlite3.c,sqlite3.h}
#   OUTDIR/zstd/{include/zstd.h,...,lib/libzstd.a}   (static, PIC, multithreaded)
# from the SAME pinned Debian source packages that cmake/obtain_sqlite_amalgamation.sh
# and cmake/obtain_zstd_mt.sh use on Debian, but downloaded with curl from
# deb.debian.org (snapshot.debian.org as a fallback) instead of apt-get:
#   - every downloaded file is checked against the SHA-256 pinned below (the
#     values of the signed Debian Sources index for these versions);
#   - the Debian patches are applied in series order (what dpkg-source -x does);
#   - the amalgamation is generated with upstream's `make sqlite3.c` (needs
#     tclsh) and must match the SHA-256 pins of cmake/obtain_sqlite_amalgamation.sh,
#     so every platform compiles byte-identical SQLite sources.
# The wheel build then uses them through ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR and
# ARRAY_LOGGER_ZSTD_ROOT (set in [tool.cibuildwheel] environment). Neither
# source tree ends up in the sdist or the wheel.
#
# Needs: curl, tar with xz, patch, make, a C compiler, tclsh. On Linux images
# missing ones are installed with dnf/yum/apk. Idempotent.
set -euo pipefail
OUTDIR="${1:?usage: cibw_obtain_deps.sh OUTDIR}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
log() { echo "cibw_obtain_deps: $*" >&2; }
die() { echo "cibw_obtain_deps: ERROR: $*" >&2; exit 1; }

# --- pins (Debian 12 bookworm) -------------------------------------------------
SQLITE_DEB="3.40.1-2+deb12u2"
SQLITE_FILES=(
  "sqlite3_3.40.1.orig.tar.xz aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655"
  "sqlite3_3.40.1-2+deb12u2.debian.tar.xz 0843bc12e4364076477935ce313a6d0796fd899a989ff18ebb6545540e10e4ca"
)
SQLITE3_C_SHA256="9103996659b43b18d2fddac6c86ccf74b00afed17ada2275433be2fd01607f4a"   # = cmake/obtain_sqlite_amalgamation.sh
SQLITE3_H_SHA256="9222d6a9e53903389cc09b103b55f786074b5cc8cb0f52a494d54eddf27559ef"
ZSTD_DEB="1.5.4+dfsg2-5"
ZSTD_FILES=(
  "libzstd_1.5.4+dfsg2.orig.tar.xz 8cf4bbb65e77ec348d052c8d6230eba66d435bddf64c8b5be2fcb16880c19953"
  "libzstd_1.5.4+dfsg2-5.debian.tar.xz 82ce911445772861d0838bd4545f93bc50658bc7f3cefdb17a307dfb8ffca5d8"
)

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'
  else shasum -a 256 "$1" | awk '{print $1}'; fi
}

# --- tools -----------------------------------------------------------------
need=()
for t in curl tclsh patch make xz; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
if ((${#need[@]})); then
  log "installing: ${need[*]}"
  if command -v dnf >/dev/null 2>&1; then dnf install -y -q curl tcl patch make xz >&2
  elif command -v yum >/dev/null 2>&1; then yum install -y -q curl tcl patch make xz >&2
  elif command -v apk >/dev/null 2>&1; then apk add --no-cache curl tcl patch make xz >&2
  elif command -v apt-get >/dev/null 2>&1; then apt-get install -y -qq curl tcl patch make xz-utils >&2
  else die "missing tools (${need[*]}) and no package manager to install them"; fi
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

fetch() {  # package-dir  "file sha256"...
  local pool="$1"; shift
  local entry file sum url got
  for entry in "$@"; do
    file="${entry% *}"; sum="${entry#* }"
    [ -f "$work/$file" ] && [ "$(sha256_of "$work/$file")" = "$sum" ] && continue
    for url in "https://deb.debian.org/debian/pool/main/$pool/${file//+/%2b}" \
               "https://snapshot.debian.org/archive/debian/20250101T000000Z/pool/main/$pool/${file//+/%2b}"; do
      log "downloading $url"
      curl -fsSL --retry 3 -o "$work/$file" "$url" && break || rm -f "$work/$file"
    done
    [ -f "$work/$file" ] || die "could not download $file"
    got="$(sha256_of "$work/$file")"
    [ "$got" = "$sum" ] || die "$file: SHA-256 $got, pinned $sum"
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
      patch -s -d "$dest" "${@:--p1}" <"$dest/debian/patches/$p" || die "patch $p failed"
    done <"$dest/debian/patches/series"
  fi
}

# --- SQLite amalgamation ----------------------------------------------------------
sq="$OUTDIR/sqlite-amalgamation"
if [ -f "$sq/sqlite3.c" ] && [ "$(sha256_of "$sq/sqlite3.c")" = "$SQLITE3_C_SHA256" ] &&
   [ "$(sha256_of "$sq/sqlite3.h")" = "$SQLITE3_H_SHA256" ]; then
  log "SQLite amalgamation already in $sq"
else
  fetch s/sqlite3 "${SQLITE_FILES[@]}"
  unpack "${SQLITE_FILES[0]%% *}" "${SQLITE_FILES[1]%% *}" "$work/sqlite-src"
  mkdir -p "$work/sqlite-bld"
  (cd "$work/sqlite-bld" && export LC_ALL=C TZ=UTC &&
    "$work/sqlite-src/configure" --disable-tcl --disable-readline --disable-editline \
      --disable-load-extension --disable-math --disable-shared >configure.log 2>&1 &&
    make -j"$jobs" sqlite3.c >make.log 2>&1) ||
    { tail -n 30 "$work"/sqlite-bld/*.log >&2; die "generating sqlite3.c failed"; }
  for pair in "c $SQLITE3_C_SHA256" "h $SQLITE3_H_SHA256"; do   # (bash 3.2 on macOS: no ${x^^})
    f="${pair% *}"; want="${pair#* }"; got="$(sha256_of "$work/sqlite-bld/sqlite3.$f")"
    [ "$got" = "$want" ] || die "sqlite3.$f: SHA-256 $got, pinned $want (Debian $SQLITE_DEB)"
  done
  mkdir -p "$sq"
  cp "$work/sqlite-bld/sqlite3.c" "$work/sqlite-bld/sqlite3.h" "$sq/"
  log "SQLite amalgamation (Debian $SQLITE_DEB, hashes verified) in $sq"
fi

# --- static multithreaded libzstd ---------------------------------------------------------
zs="$OUTDIR/zstd"
stamp="$zs/.built-from-libzstd-$ZSTD_DEB"
if [ -f "$stamp" ] && [ -f "$zs/lib/libzstd.a" ]; then
  log "libzstd already in $zs"
else
  fetch libz/libzstd "${ZSTD_FILES[@]}"
  unpack "${ZSTD_FILES[0]%% *}" "${ZSTD_FILES[1]%% *}" "$work/zstd-src"
  make -s -C "$work/zstd-src/lib" -j"$jobs" libzstd.a-mt CFLAGS="$ZSTD_CFLAGS" >"$work/zstd-make.log" 2>&1 ||
    { tail -n 30 "$work/zstd-make.log" >&2; die "building libzstd.a failed"; }
  mkdir -p "$zs/include" "$zs/lib"
  cp "$work/zstd-src/lib/zstd.h" "$work/zstd-src/lib/zstd_errors.h" "$work/zstd-src/lib/zdict.h" "$zs/include/"
  cp "$work/zstd-src/lib/libzstd.a" "$zs/lib/libzstd.a"
  touch "$stamp"
  log "libzstd $ZSTD_DEB (static, multithreaded) in $zs"
fi
