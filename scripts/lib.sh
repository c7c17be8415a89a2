# scripts/lib.sh -- sourced (never run) by the scripts of this repository,
# including cmake/obtain_*.sh and scripts/cibw_obtain_deps.sh: the repository
# path, messages, running as root, installing Debian packages, where the
# build finds SQLite and zstd, and the pins (cmake/pins.env).
# bash >= 3.2 (cibuildwheel's macOS builders).
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"      (from scripts/)

al_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../cmake/pins.env
. "$al_repo/cmake/pins.env"

# Messages prefixed with the calling script's name.
al_prog="$(basename "${0%.sh}")"
al_log() { echo "$al_prog: $*" >&2; }
al_die() { echo "$al_prog: ERROR: $*" >&2; exit 1; }
# A step of a long check, with the seconds since the script started (stdout).
al_step() { echo "$al_prog: [${SECONDS}s] $*"; }

# Runs a command as root: directly when we are root, else through
# passwordless sudo, else stops saying what needed root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    al_die "need root privileges to run: $* (run once as root, or allow passwordless sudo)"
  fi
}

# The optional WHEEL argument of the userland checks, read before they cd to
# the checkout: --help prints the script's header comment and exits; a given
# wheel must exist. Sets al_wheel to its absolute path (empty: build one).
al_wheel_arg() {  # "$0" "$@"
  local script="$1"
  al_wheel=""
  (($# <= 2)) || al_die "one WHEEL at most (see --help)"
  case "${2:-}" in
    "") return 0 ;;
    -h|--help) sed -n '2,/^set -euo pipefail/p' "$script" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) al_die "unknown option ${2} (see --help)" ;;
  esac
  [ -f "$2" ] || al_die "no such wheel: $2"
  al_wheel="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
}

# Installs those of the Debian packages that are missing, running
# apt-get update only when the install fails without it.
apt_install() {
  local missing="" p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -n "$missing" ] || return 0
  al_log "installing Debian packages:$missing"
  # (the lock timeout: scripts/test.sh builds the portable wheel alongside)
  local lock=(-o DPkg::Lock::Timeout=600)
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq $missing >/dev/null ||
    { as_root apt-get "${lock[@]}" update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq $missing >/dev/null; }
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'
  else shasum -a 256 "$1" | awk '{print $1}'; fi
}

# Dies unless FILE has the pinned SHA-256.
check_sha256() {  # FILE SHA256
  local got
  got="$(sha256_of "$1")"
  [ "$got" = "$2" ] || al_die "$1: SHA-256 $got, pinned $2 (cmake/pins.env)"
}

# Where the build finds SQLite and zstd: what the caller set, else the copies
# scripts/setup.sh obtains into build/_deps. Also puts the .venv first on PATH.
use_built_deps() {
  export ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR="${ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR:-$al_repo/build/_deps/sqlite-amalgamation}"
  export ARRAY_LOGGER_ZSTD_ROOT="${ARRAY_LOGGER_ZSTD_ROOT:-$al_repo/build/_deps/zstd-mt}"
  export PATH="$al_repo/.venv/bin:$PATH"
}
