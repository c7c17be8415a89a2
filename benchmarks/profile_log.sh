#!/usr/bin/env bash
# Instructions per array_logger.log call (S workload: shape (1,) float32, keys episode/step),
# measured with valgrind --tool=callgrind as the difference between two runs of N1 and N2
# calls, so interpreter start-up, imports, init/register and close cancel out.
#   bash benchmarks/profile_log.sh [N1] [N2]        (default 2000 12000)
#   MODULE=baseline_pure_python bash benchmarks/profile_log.sh   # profile the pure-Python baseline
# Prints instructions per call for all threads and for the main thread alone (the caller of
# log(), repeatable to the instruction; the writer thread's share varies with how its batches
# fall). Keeps the larger run's callgrind.out.N-NN (one per thread) in benchmarks/_work/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
N1="${1:-2000}"; N2="${2:-12000}"
MODULE="${MODULE:-array_logger}"
PY="${PYTHON:-$(python -c "import sys; print(sys.executable)")}"  # the real binary, not a pyenv shim
work="$here/_work/profile"
rm -rf "$work"; mkdir -p "$work"
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

cat > "$work/loop.py" <<PYEOF
import sys
sys.path.insert(0, "$here")
import numpy as np
import $MODULE as al
n = int(sys.argv[1])
pool = [np.random.default_rng(i).random((1,), dtype=np.float32) for i in range(100)]
al.init(sys.argv[2], compression_level=None)
al.register("s", ["episode", "step"], (1,), "float32")
log = al.log
for ep in range(n // 100):
    for st in range(100):
        log("s", {"episode": ep, "step": st}, pool[st])
al.close()
PYEOF

run() {  # $1 = N -> prints "all-threads main-thread" instruction counts
  local n="$1" out="$work/callgrind.out.$1"
  # One output file per thread (out-01 is the main thread, the producer):
  # the main thread's count does not depend on how the writer thread's
  # batches happened to fall, so it repeats to the instruction.
  # Fixed hash seed: dict lookups of the key names otherwise cost a few hundred
  # instructions more or less per call from one run to the next. One OpenBLAS
  # thread: numpy's idle BLAS threads spin, and callgrind counts them as
  # "all threads" too (up to ~450 per call of pure noise).
  PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 PYTHONMALLOC=malloc valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" \
      "$PY" "$work/loop.py" "$n" "$work/root_$n" 2> "$work/valgrind_$n.log" >/dev/null
  local all main
  all=$(grep -E "Collected :" "$work/valgrind_$n.log" | awk '{print $NF}') ||
    { echo "callgrind failed, see $work/valgrind_$n.log" >&2; tail -5 "$work/valgrind_$n.log" >&2; exit 1; }
  main=$(awk '/^summary:/ {print $2}' "$out-01")
  echo "$all $main"
}
echo "callgrind: $MODULE.log, N1=$N1 N2=$N2 calls (this takes a minute)..." >&2
R1=$(run "$N1"); R2=$(run "$N2")
"$PY" - $R1 $R2 "$N1" "$N2" "$MODULE" <<'PYEOF'
import sys
a1, m1, a2, m2, n1, n2 = map(int, sys.argv[1:7])
mod = sys.argv[7]
print(f"{mod}.log: {(a2 - a1) / (n2 - n1):,.0f} instructions per call, all threads "
      f"(loop incl. key-dict creation; {a1:,} Ir @ {n1}, {a2:,} Ir @ {n2}); "
      f"main thread (the caller of log): {(m2 - m1) / (n2 - n1):,.0f} per call")
PYEOF
echo "profile: callgrind_annotate $work/callgrind.out.$N2-01 | head -40" >&2
