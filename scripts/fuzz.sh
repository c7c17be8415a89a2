#!/usr/bin/env bash
# Bounded libFuzzer runs (clang-14 from Debian, with ASan + UBSan) of the two
# parsers that read untrusted bytes: the blob header decoder and the meta
# parser. FUZZ_SECONDS per target (default 30). Fails on any crash or finding.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
seconds="${FUZZ_SECONDS:-30}"
if ! command -v clang++-14 >/dev/null || ! dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null ||
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null; }
fi
out="$repo/build/fuzz"
mkdir -p "$out"
core=(cpp/src/format/blob.cpp cpp/src/format/meta.cpp cpp/src/format/dtype.cpp cpp/src/format/array_spec.cpp)
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Icpp/include -Icpp/src)
for target in fuzz_blob_header fuzz_meta; do
  clang++-14 "${flags[@]}" "cpp/fuzz/$target.cpp" "${core[@]}" -o "$out/$target"
done

# Seed corpora: valid inputs to mutate from.
rm -rf "$out/corpus" && mkdir -p "$out/corpus/blob" "$out/corpus/meta"
.venv/bin/python - "$out/corpus" <<'PY'
import os, struct, sys
root = sys.argv[1]
def blob(shape, dtype, payload_len):
    ndim = len(shape)
    used = 8 + 8 * ndim + 1 + len(dtype)
    size = (used + 7) // 8 * 8
    h = b"ALB1" + bytes([0, ndim]) + struct.pack("<H", size) + b"".join(struct.pack("<Q", d) for d in shape)
    h += bytes([len(dtype)]) + dtype
    return h + b"\0" * (size - len(h)) + b"\1" * payload_len
seeds = [blob((10, 5), b"<f4", 200), blob((), b"<f8", 8), blob((3,), b"|u1", 3), blob((2, 2, 2), b"<c16", 128)]
for i, s in enumerate(seeds):
    open(os.path.join(root, "blob", f"seed{i}"), "wb").write(s)
for i, s in enumerate(["(10, 5)", "(1,)", "()", "['episode', 'step']", "[\"it's\", 'a\\x85\\u200b\\U0001f600']", "2"]):
    open(os.path.join(root, "meta", f"seed{i}"), "w").write(s)
PY
for target in blob_header:blob meta:meta; do
  name="${target%%:*}"
  corpus="$out/corpus/${target##*:}"
  if ! "$out/fuzz_$name" -max_total_time="$seconds" -artifact_prefix="$out/" "$corpus" >"$out/$name.log" 2>&1; then
    grep -vE "^#[0-9]+" "$out/$name.log" | tail -40
    echo "fuzz: fuzz_$name found a failure (input saved in $out/)"
    exit 1
  fi
  grep -E "^Done [0-9]+ runs" "$out/$name.log"
done
echo "fuzz: no findings in ${seconds}s per target"
