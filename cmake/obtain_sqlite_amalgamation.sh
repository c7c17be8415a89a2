#!/usr/bin/env bash
# obtain_sqlite_amalgamation.sh OUTDIR
#
# Produce OUTDIR/sqlite3.c and OUTDIR/sqlite3.h (the SQLite amalgamation) from
# the *Debian source package* of sqlite3, fetched with the ordinary apt client
# (apt verifies the .dsc/.orig/.debian files against the signed Sources index),
# unpacked with dpkg-source (which re-checks the .dsc checksums) and turned
# into the amalgamation with upstream's own `make sqlite3.c`.  The downloaded
# tarballs and the result are checked against the SHA-256 values pinned in
# cmake/pins.env.
#
# Idempotent: exits 0 immediately if OUTDIR already holds files with the pinned
# hashes.  The version and every SHA-256 come from cmake/pins.env.  Needs root
# (or passwordless sudo) only if it has to add a deb-src entry, run
# `apt-get update` or install build tools.
#
# The deb-src entry is DERIVED from the machine's own apt sources and written
# to a separate file (/etc/apt/sources.list.d/array-logger-deb-src.sources or
# .list); the original source files are never modified.
#
# Environment:
#   ARRAY_LOGGER_SQLITE_KEEP_WORKDIR=1  keep the temporary build directory
#   TMPDIR                              where the temporary directory goes
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"   # pins (cmake/pins.env), as_root, sha256_of
SQLITE_SOURCE_PACKAGE="sqlite3"

DEB_SRC_FILE_BASENAME="array-logger-deb-src"
# Only stanzas/lines whose URI matches this (extended, case-insensitive) regex
# are mirrored as deb-src, so third-party repos without Sources indices are
# not touched.
DEBIAN_URI_RE='debian'


usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
OUTDIR=$1
[ -n "$OUTDIR" ] || usage

have_pinned_files() {
  [ -f "$OUTDIR/sqlite3.c" ] && [ -f "$OUTDIR/sqlite3.h" ] || return 1
  [ "$(sha256_of "$OUTDIR/sqlite3.c")" = "$SQLITE3_C_SHA256" ] || return 1
  [ "$(sha256_of "$OUTDIR/sqlite3.h")" = "$SQLITE3_H_SHA256" ] || return 1
}

command -v sha256sum >/dev/null 2>&1 || al_die "sha256sum not found (coreutils)."

# Fast path.
if have_pinned_files; then
  exit 0
fi

mkdir -p "$OUTDIR" || al_die "cannot create output directory '$OUTDIR'."
OUTDIR=$(cd "$OUTDIR" && pwd)

# Serialise concurrent runs (two configures at once would fight over apt locks
# and the output files).
LOCKFILE="${TMPDIR:-/tmp}/array_logger_obtain_sqlite.lock"
if command -v flock >/dev/null 2>&1; then
  if { exec 9>>"$LOCKFILE"; } 2>/dev/null; then
    chmod a+rw "$LOCKFILE" 2>/dev/null || true
    if ! flock -w 900 9; then al_die "timed out waiting for lock '$LOCKFILE'."; fi
    # Another run may have finished while we waited.
    if have_pinned_files; then exit 0; fi
  else
    al_log "warning: cannot open lock file '$LOCKFILE'; continuing without locking"
  fi
fi

# Temporary files/dirs removed on exit.
TMP_PATHS=()
WORK=""
cleanup() {
  if [ -n "$WORK" ] && [ "${ARRAY_LOGGER_SQLITE_KEEP_WORKDIR:-0}" = 1 ]; then
    al_log "keeping $WORK"
  elif [ -n "$WORK" ]; then
    rm -rf "$WORK"
  fi
  if [ ${#TMP_PATHS[@]} -gt 0 ]; then rm -f "${TMP_PATHS[@]}"; fi
}
trap cleanup EXIT

al_log "obtaining SQLite amalgamation $SQLITE_UPSTREAM_VERSION from Debian source package $SQLITE_SOURCE_PACKAGE=$SQLITE_DEBIAN_VERSION"

command -v apt-get >/dev/null 2>&1 || al_die "apt-get not found: this script only works on Debian/Ubuntu-like systems. Provide sqlite3.c/sqlite3.h yourself and set ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR (or allow the system SQLite fallback)."

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600)

APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" -eq 0 ] || return 0
  al_log "running apt-get update"
  # A failing auxiliary repository must not stop us; success is judged later
  # by whether the pinned source version is visible.
  as_root apt-get "${APT_OPTS[@]}" update >&2 || al_log "warning: apt-get update reported errors (continuing)"
  APT_UPDATED=1
}

# ---------------------------------------------------------------------------
# 1. Build tools.
# ---------------------------------------------------------------------------
need_pkgs=()
command -v dpkg-source >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
command -v tclsh       >/dev/null 2>&1 || need_pkgs+=(tcl)
{ command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1; } || need_pkgs+=(build-essential)
command -v make        >/dev/null 2>&1 || need_pkgs+=(make)
command -v xz          >/dev/null 2>&1 || need_pkgs+=(xz-utils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  al_log "installing missing build tools: ${need_pkgs[*]}"
  if ! as_root apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${need_pkgs[@]}" >&2; then
    apt_update
    as_root apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${need_pkgs[@]}" >&2 \
      || al_die "apt-get install ${need_pkgs[*]} failed."
  fi
fi
for t in dpkg-source tclsh make; do
  command -v "$t" >/dev/null 2>&1 || al_die "'$t' still not available after installing build tools."
done

# ---------------------------------------------------------------------------
# 2. Make the pinned source version visible to apt (deb-src).
# ---------------------------------------------------------------------------
source_version_available() {
  apt-cache showsrc --only-source "$SQLITE_SOURCE_PACKAGE" 2>/dev/null \
    | grep -qx "Version: $SQLITE_DEBIAN_VERSION"
}

# Print deb822 deb-src stanzas derived from the deb stanzas of one .sources file.
derive_deb822() {
  awk -v re="$DEBIAN_URI_RE" '
    function flush(   i, k) {
      if (n > 0 && isdeb && enabled && tolower(uris) ~ re) {
        if (nout++) print ""
        print "Types: deb-src"
        for (i = 1; i <= n; i++) {
          k = keys[i]
          if (k == "types" || k == "architectures" || k == "enabled") continue
          print block[i]
        }
      }
      n = 0; isdeb = 0; enabled = 1; uris = ""
    }
    BEGIN { n = 0; nout = 0; enabled = 1; uris = "" }
    /^[ \t]*#/   { next }
    /^[ \t]*$/   { flush(); next }
    /^[ \t]/     { if (n > 0) { block[n] = block[n] "\n" $0; if (keys[n] == "uris") uris = uris " " $0 }; next }
    {
      c = index($0, ":"); if (c == 0) next
      k = tolower(substr($0, 1, c - 1)); v = substr($0, c + 1)
      n++; keys[n] = k; block[n] = $0
      if (k == "types"   && v ~ /(^|[ \t])deb([ \t]|$)/) isdeb = 1
      if (k == "enabled" && tolower(v) ~ /no/) enabled = 0
      if (k == "uris") uris = v
    }
    END { flush() }
  ' "$1"
}

# Print one-line-style deb-src lines derived from "deb ..." lines of a .list file.
derive_oneline() {
  awk -v re="$DEBIAN_URI_RE" '
    /^[ \t]*deb[ \t]/ && tolower($0) ~ re { sub(/^[ \t]*deb/, "deb-src"); print }
  ' "$1"
}

ensure_deb_src() {
  local dir etc_list
  dir=$(apt-config dump 2>/dev/null | awk -F'"' '/^Dir::Etc::sourceparts /{print $2}')
  dir=${dir:-sources.list.d}
  case "$dir" in /*) ;; *) dir="/etc/apt/$dir" ;; esac
  etc_list=$(apt-config dump 2>/dev/null | awk -F'"' '/^Dir::Etc::sourcelist /{print $2}')
  etc_list=${etc_list:-sources.list}
  case "$etc_list" in /*) ;; *) etc_list="/etc/apt/$etc_list" ;; esac

  local our822="$dir/$DEB_SRC_FILE_BASENAME.sources"
  local ourlist="$dir/$DEB_SRC_FILE_BASENAME.list"
  if [ -e "$our822" ] || [ -e "$ourlist" ]; then
    al_log "deb-src entry already present ($our822 / $ourlist)"
    return 0
  fi

  local tmp822 tmplist f
  tmp822=$(mktemp) ; tmplist=$(mktemp)
  TMP_PATHS+=("$tmp822" "$tmplist")
  {
    echo "# Generated by array_logger cmake/obtain_sqlite_amalgamation.sh:"
    echo "# deb-src twins of the deb entries in $dir/*.sources. Safe to delete."
  } >"$tmp822"
  {
    echo "# Generated by array_logger cmake/obtain_sqlite_amalgamation.sh:"
    echo "# deb-src twins of the deb lines in $etc_list and $dir/*.list. Safe to delete."
  } >"$tmplist"
  local n822=0 nlist=0 out
  shopt -s nullglob
  for f in "$dir"/*.sources; do
    out=$(derive_deb822 "$f")
    if [ -n "$out" ]; then
      { echo; echo "# from $f"; printf '%s\n' "$out"; } >>"$tmp822"
      n822=$((n822 + 1))
    fi
  done
  for f in "$etc_list" "$dir"/*.list; do
    [ -f "$f" ] || continue
    out=$(derive_oneline "$f")
    if [ -n "$out" ]; then
      { echo; echo "# from $f"; printf '%s\n' "$out"; } >>"$tmplist"
      nlist=$((nlist + 1))
    fi
  done
  shopt -u nullglob

  if [ "$n822" -eq 0 ] && [ "$nlist" -eq 0 ]; then
    rm -f "$tmp822" "$tmplist"
    al_die "could not derive a deb-src entry: no enabled 'deb' entry with a Debian URI found in $etc_list or $dir/*.{sources,list}."
  fi
  if [ "$n822" -gt 0 ]; then
    al_log "writing $our822"
    as_root install -m 0644 "$tmp822" "$our822"
  fi
  if [ "$nlist" -gt 0 ]; then
    al_log "writing $ourlist"
    as_root install -m 0644 "$tmplist" "$ourlist"
  fi
  rm -f "$tmp822" "$tmplist"
}

if ! source_version_available; then
  ensure_deb_src
  apt_update
  source_version_available || al_die "source package $SQLITE_SOURCE_PACKAGE=$SQLITE_DEBIAN_VERSION is not available from the configured deb-src entries (see 'apt-cache showsrc $SQLITE_SOURCE_PACKAGE'). The pin in cmake/pins.env may be outdated: update the SQLite pins there, or set ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR."
fi

# ---------------------------------------------------------------------------
# 3. Download (apt verifies against the signed Sources index), unpack, build.
# ---------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/array_logger_sqlite.XXXXXX") || al_die "mktemp failed."
# apt downloads as its sandbox user (_apt) when run as root: give it a
# directory it can write to, so the download stays sandboxed.
DL="$WORK/dl"
mkdir -p "$DL"
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
  chmod 0755 "$WORK"
  chown _apt "$DL" 2>/dev/null || true
fi

al_log "downloading source package (apt-get source --download-only)"
( cd "$DL" && apt-get "${APT_OPTS[@]}" source --download-only \
    "$SQLITE_SOURCE_PACKAGE=$SQLITE_DEBIAN_VERSION" >&2 ) \
  || al_die "apt-get source --download-only $SQLITE_SOURCE_PACKAGE=$SQLITE_DEBIAN_VERSION failed."

check_sha256 "$DL/$SQLITE_ORIG_TAR" "$SQLITE_ORIG_SHA256"
check_sha256 "$DL/$SQLITE_DEBIAN_TAR" "$SQLITE_DEBIAN_SHA256"
DSC_VERSION=${SQLITE_DEBIAN_VERSION#*:}
DSC="$DL/${SQLITE_SOURCE_PACKAGE}_${DSC_VERSION}.dsc"
[ -f "$DSC" ] || al_die "expected $DSC after download, not found."

al_log "unpacking with dpkg-source -x"
# Signature of the .dsc is not checked against a Debian keyring here (apt
# already authenticated every file via the signed Release/Sources chain);
# dpkg-source still verifies the file checksums listed in the .dsc.
( cd "$WORK" && dpkg-source --no-copy -x "$DSC" "$WORK/src" >&2 ) \
  || al_die "dpkg-source -x $DSC failed."
SRC="$WORK/src"
[ -f "$SRC/configure" ] || al_die "unpacked source in $SRC has no configure script."

al_log "configuring and generating the amalgamation (make sqlite3.c)"
BLD="$WORK/build"
mkdir -p "$BLD"
JOBS=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
(
  cd "$BLD"
  export LC_ALL=C TZ=UTC
  "$SRC/configure" --disable-tcl --disable-readline --disable-editline \
      --disable-load-extension --disable-math --disable-shared \
      >configure.log 2>&1 \
    || { tail -n 40 configure.log >&2; exit 1; }
  make -j"$JOBS" sqlite3.c >make.log 2>&1 \
    || { tail -n 40 make.log >&2; exit 1; }
) || al_die "building sqlite3.c failed (see output above; rerun with ARRAY_LOGGER_SQLITE_KEEP_WORKDIR=1 to inspect $BLD)."

for f in sqlite3.c sqlite3.h; do
  [ -f "$BLD/$f" ] || al_die "build finished but $BLD/$f is missing."
done

got_c=$(sha256_of "$BLD/sqlite3.c")
got_h=$(sha256_of "$BLD/sqlite3.h")
if [ "$got_c" != "$SQLITE3_C_SHA256" ] || [ "$got_h" != "$SQLITE3_H_SHA256" ]; then
  al_log "SHA-256 mismatch for the generated amalgamation:"
  al_log "  sqlite3.c expected $SQLITE3_C_SHA256"
  al_log "            got      $got_c"
  al_log "  sqlite3.h expected $SQLITE3_H_SHA256"
  al_log "            got      $got_h"
  al_die "refusing to use an amalgamation that does not match the pinned hashes."
fi

# ---------------------------------------------------------------------------
# 4. Install into OUTDIR atomically (same-filesystem temp + rename).
# ---------------------------------------------------------------------------
for f in sqlite3.h sqlite3.c; do
  tmp="$OUTDIR/.$f.tmp.$$"
  cp "$BLD/$f" "$tmp" || al_die "cannot write $tmp."
  chmod 0644 "$tmp"
  mv -f "$tmp" "$OUTDIR/$f" || al_die "cannot rename $tmp to $OUTDIR/$f."
done
have_pinned_files || al_die "verification of $OUTDIR after copy failed."
al_log "done: $OUTDIR/sqlite3.c ($got_c)"
