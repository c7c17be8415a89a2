#!/usr/bin/env bash
# The manylinux wheel on an older Linux than the one that built it: Debian 11
# (bullseye: glibc 2.31, Python 3.9) from Debian's archive, debootstrapped into
# build/wheels/userland/bullseye (cached), with its own Python. There:
#   - the cp39 manylinux_2_17 wheel from scripts/build_wheels.sh and numpy's
#     cp39 manylinux2014 wheel are installed into a venv of bullseye's python3.9
#     (offline: pip --no-index, only the files copied in),
#   - scripts/wheel_smoke.py runs (log, compress with zstd's threads, read back),
#   - the glibc that actually ran the test is printed.
# Older userlands with a Python >= 3.9 are not in reach here (the only Debian
# releases still served are bullseye and newer); docs/WHEELS.md says what this
# does and does not prove.
#
#   bash scripts/old_userland_check.sh [WHEEL]   # default: build the cp39 wheel
# Needs root (debootstrap, chroot). ~5 min the first time (debootstrap), ~1 min after.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # apt_install, al_step, al_wheel_arg
al_wheel_arg "$0" "$@"
repo="$al_repo"
cd "$repo"
root="$repo/build/wheels/userland/bullseye"
numpy_pin="numpy==2.0.2"   # the last numpy with cp39 wheels

if [ ! -x "$root/usr/bin/python3.9" ] || [ ! -f "$root/.complete" ]; then
  apt_install debootstrap
  al_step "debootstrap bullseye (minbase + python3, python3-venv) into $root"
  rm -rf "$root"
  debootstrap --variant=minbase --include=python3,python3-venv bullseye "$root" \
    http://deb.debian.org/debian >"$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
  touch "$root/.complete"
fi

wheel="$al_wheel"
if [ -z "$wheel" ]; then
  py39=""  # python3.9 on PATH, else pyenv's (machines of this kind have it)
  for p in "$(command -v python3.9 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.9*/bin/python3.9; do
    if [ -n "$p" ] && "$p" -V >/dev/null 2>&1; then py39="$p"; break; fi
  done
  [ -n "$py39" ] || { echo "old_userland: no python3.9 here to build the cp39 wheel with"; exit 1; }
  al_step "building the cp39 manylinux wheel"
  rm -rf "$repo/build/wheels/dist-cp39"
  bash scripts/build_wheels.sh --python "$py39" --target "$(uname -m)-linux-gnu.2.17" \
    --out "$repo/build/wheels/dist-cp39" >/dev/null
  wheel="$(ls "$repo"/build/wheels/dist-cp39/array_logger-*-cp39-*manylinux*.whl)"
fi

in="$root/opt/al"
rm -rf "$in" && mkdir -p "$in/wheels"
cp "$wheel" scripts/wheel_smoke.py "$in/"
mv "$in/$(basename "$wheel")" "$in/wheels/"
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform manylinux2014_x86_64 --python-version 3.9 -d "$in/wheels" "$numpy_pin"

mounted=()
cleanup() { for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
for m in proc dev; do mount --bind "/$m" "$root/$m"; mounted+=("$root/$m"); done

al_step "installing into a venv of bullseye's python3 and running the smoke test"
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root /bin/sh -euc '
  ldd --version | head -n 1
  python3 --version
  rm -rf /opt/al/venv && python3 -m venv /opt/al/venv
  /opt/al/venv/bin/pip install -q --disable-pip-version-check --no-index /opt/al/wheels/*.whl
  cd / && /opt/al/venv/bin/python /opt/al/wheel_smoke.py
' | tee "$repo/build/wheels/old_userland.txt"
grep -q "ldd (Debian GLIBC 2.31" "$repo/build/wheels/old_userland.txt"
grep -q "wheel smoke ok" "$repo/build/wheels/old_userland.txt"
al_step "passed"
