#!/usr/bin/env bash
# The main job on a fresh machine: build array_logger, then run a Monte Carlo
# loop that logs a million steps and reads them back.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"
cd "$repo"
exec .venv/bin/python scripts/demo.py "$@"
