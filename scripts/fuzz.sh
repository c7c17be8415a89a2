#!/usr/bin/env bash
# Bounded libFuzzer runs (clang-14 from Debian, with ASan + UBSan) of the two
# parsers that read untrusted bytes: the blob header decoder and the meta
# parser. FUZZ_SECONDS per target (default 30). Fails on any crash or finding.
# The targets are built by CMake (ARRAY_LOGGER_BUILD_FUZZERS=ON) from the
# core's own sources; the seed corpus is written by array_logger itself
# (cpp/fuzz/make_seeds.py), so it needs scripts/setup.sh to have run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$al_repo"
seconds="${FUZZ_SECONDS:-30}"
apt_install clang-14 libclang-rt-14-dev
use_built_deps
out="$al_repo/build/fuzz"
cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DARRAY_LOGGER_BUILD_FUZZERS=ON -DARRAY_LOGGER_BUILD_TESTS=OFF -DARRAY_LOGGER_BUILD_PYTHON=OFF \
  -DARRAY_LOGGER_SANITIZE=address,undefined >/dev/null
cmake --build "$out" --target fuzz_blob_header fuzz_meta >/dev/null

rm -rf "$out/corpus"
.venv/bin/python cpp/fuzz/make_seeds.py "$out/corpus"
for target in blob_header:blob meta:meta; do
  name="${target%%:*}"
  corpus="$out/corpus/${target##*:}"
  if ! "$out/cpp/fuzz/fuzz_$name" -max_total_time="$seconds" -artifact_prefix="$out/" "$corpus" >"$out/$name.log" 2>&1; then
    grep -vE "^#[0-9]+" "$out/$name.log" | tail -40
    echo "fuzz: fuzz_$name found a failure (input saved in $out/)"
    exit 1
  fi
  grep -E "^Done [0-9]+ runs" "$out/$name.log"
done
echo "fuzz: no findings in ${seconds}s per target"
