#!/usr/bin/env bash
# Builds a static, position-independent, MULTITHREADED libzstd into OUTDIR
# (OUTDIR/include/{zstd.h,zstd_errors.h,zdict.h}, OUTDIR/lib/libzstd.a) from
# Debian's source package `libzstd` at the version pinned in cmake/pins.env
# (apt verifies the downloaded sources against the signed Sources index; the
# tarballs are checked against the pinned SHA-256 too). Debian's own
# libzstd.a is built without ZSTD_MULTITHREAD, so close-time compression
# could use one core only. Needs the deb-src entry that
# cmake/obtain_sqlite_amalgamation.sh adds.
# Idempotent: exits at once when OUTDIR holds a build of the pinned version.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
OUTDIR="${1:?usage: obtain_zstd_mt.sh OUTDIR}"
STAMP="$OUTDIR/.built-from-libzstd-$ZSTD_DEBIAN_VERSION"

[ -f "$STAMP" ] && [ -f "$OUTDIR/lib/libzstd.a" ] && exit 0

if ! apt-cache showsrc "libzstd=$ZSTD_DEBIAN_VERSION" 2>/dev/null | grep -q "^Version: $ZSTD_DEBIAN_VERSION"; then
  as_root apt-get -q -o DPkg::Lock::Timeout=600 update >&2 || true
fi
apt_install dpkg-dev

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
al_log "downloading libzstd=$ZSTD_DEBIAN_VERSION (apt-get source)"
(cd "$work" && apt-get source --download-only -q "libzstd=$ZSTD_DEBIAN_VERSION" >&2)
check_sha256 "$work/$ZSTD_ORIG_TAR" "$ZSTD_ORIG_SHA256"
check_sha256 "$work/$ZSTD_DEBIAN_TAR" "$ZSTD_DEBIAN_SHA256"
(cd "$work" && dpkg-source -x ./*.dsc src >/dev/null)
al_log "building lib/libzstd.a with ZSTD_MULTITHREAD (-fPIC)"
make -s -C "$work/src/lib" -j"$(nproc)" libzstd.a-mt CFLAGS="-O3 -fPIC" >&2
mkdir -p "$OUTDIR/include" "$OUTDIR/lib"
cp "$work/src/lib/zstd.h" "$work/src/lib/zstd_errors.h" "$work/src/lib/zdict.h" "$OUTDIR/include/"
cp "$work/src/lib/libzstd.a" "$OUTDIR/lib/libzstd.a.tmp"
mv "$OUTDIR/lib/libzstd.a.tmp" "$OUTDIR/lib/libzstd.a"
touch "$STAMP"
al_log "done: $OUTDIR/lib/libzstd.a"
