#!/usr/bin/env bash
# Builds a static, position-independent, MULTITHREADED libzstd into OUTDIR
# (OUTDIR/include/{zstd.h,zstd_errors.h,zdict.h}, OUTDIR/lib/libzstd.a) from
# Debian's pinned source package `libzstd` (apt verifies the downloaded
# sources against the signed Sources index). Debian's own libzstd.a is built
# without ZSTD_MULTITHREAD, so close-time compression could use one core only.
# Needs the deb-src entry that cmake/obtain_sqlite_amalgamation.sh adds.
# Idempotent: exits at once when OUTDIR holds a build of the pinned version.
set -euo pipefail
OUTDIR="${1:?usage: obtain_zstd_mt.sh OUTDIR}"
ZSTD_DEBIAN_VERSION="1.5.4+dfsg2-5"
STAMP="$OUTDIR/.built-from-libzstd-$ZSTD_DEBIAN_VERSION"
log() { echo "obtain_zstd_mt: $*" >&2; }

[ -f "$STAMP" ] && [ -f "$OUTDIR/lib/libzstd.a" ] && exit 0

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! apt-cache showsrc "libzstd=$ZSTD_DEBIAN_VERSION" 2>/dev/null | grep -q "^Version: $ZSTD_DEBIAN_VERSION"; then
  as_root apt-get -q -o DPkg::Lock::Timeout=600 update >&2 || true
fi
command -v dpkg-source >/dev/null || as_root apt-get install -y -q dpkg-dev >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "downloading libzstd=$ZSTD_DEBIAN_VERSION (apt-get source)"
(cd "$work" && apt-get source --download-only -q "libzstd=$ZSTD_DEBIAN_VERSION" >&2)
(cd "$work" && dpkg-source -x ./*.dsc src >/dev/null)
log "building lib/libzstd.a with ZSTD_MULTITHREAD (-fPIC)"
make -s -C "$work/src/lib" -j"$(nproc)" libzstd.a-mt CFLAGS="-O3 -fPIC" >&2
mkdir -p "$OUTDIR/include" "$OUTDIR/lib"
cp "$work/src/lib/zstd.h" "$work/src/lib/zstd_errors.h" "$work/src/lib/zdict.h" "$OUTDIR/include/"
cp "$work/src/lib/libzstd.a" "$OUTDIR/lib/libzstd.a.tmp"
mv "$OUTDIR/lib/libzstd.a.tmp" "$OUTDIR/lib/libzstd.a"
touch "$STAMP"
log "done: $OUTDIR/lib/libzstd.a"
