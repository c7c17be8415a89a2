#!/usr/bin/env bash
# Instructions per array_logger.log call (S workload: shape (1,) float32, keys episode/step),
# measured with valgrind --tool=callgrind as the difference between two runs of N1 and N2
# calls, so interpreter start-up, imports, init/register and close cancel out.
#   bash benchmarks/profile_log.sh [N1] [N2]        (default 2000 12000)
#   MODULE=baseline_pure_python bash benchmarks/profile_log.sh   # profile the pure-Python baseline
# Keeps the larger run's callgrind.out in benchmarks/_work/ for callgrind_annotate / kcachegrind.
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

run() {  # $1 = N -> prints collected instruction count
  local n="$1" out="$work/callgrind.out.$1"
  PYTHONMALLOC=malloc valgrind --tool=callgrind --callgrind-out-file="$out" \
      "$PY" "$work/loop.py" "$n" "$work/root_$n" 2> "$work/valgrind_$n.log" >/dev/null
  grep -E "Collected :" "$work/valgrind_$n.log" | awk '{print $NF}' || { echo "callgrind failed, see $work/valgrind_$n.log" >&2; tail -5 "$work/valgrind_$n.log" >&2; exit 1; }
}
echo "callgrind: $MODULE.log, N1=$N1 N2=$N2 calls (this takes a minute)..." >&2
I1=$(run "$N1"); I2=$(run "$N2")
python - "$I1" "$I2" "$N1" "$N2" "$MODULE" <<'PYEOF'
import sys
i1, i2, n1, n2, mod = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"{mod}.log: {(i2 - i1) / (n2 - n1):,.0f} instructions per call "
      f"(loop incl. key-dict creation; {i1:,} Ir @ {n1}, {i2:,} Ir @ {n2})")
PYEOF
echo "profile: callgrind_annotate $work/callgrind.out.$N2 | head -40" >&2
