#!/usr/bin/env python
"""What many names cost per log(): one name per layer / agent / observable,
every name logged at every step (the order that is worst for the pool of
open databases, docs/DESIGN.md "Open files").

    python benchmarks/many_names.py [--steps 50] [--names 100,2000] [--limits 1024,0]

Each case runs in a child whose open-file limit (soft and hard) is set
first; 0 keeps the limit the machine gives. The child registers the names,
logs `steps` rows of shape (1,) float32 into each (keys: step), closes, and
reports µs per log() call, end to end per row, and the peak number of open
descriptors. Prints one Markdown table row per case.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap

CHILD = """
    import json, os, sys, time, numpy as np, array_logger
    root, names, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows = [np.full(1, i, np.float32) for i in range(steps)]
    t0 = time.perf_counter()
    lg = array_logger.Logger(root, None, handle_signals=False)
    for n in range(names):
        lg.register(f"n{n}", keys=["step"], shape=(1,), dtype="float32")
    t1 = time.perf_counter()
    peak = 0
    for step in range(steps):
        kv = {"step": step}
        for n in range(names):
            lg.log(f"n{n}", kv, rows[step])
        peak = max(peak, len(os.listdir("/proc/self/fd")))
    t2 = time.perf_counter()
    lg.close()
    t3 = time.perf_counter()
    print(json.dumps({"register_s": t1 - t0, "loop_us": (t2 - t1) / (names * steps) * 1e6,
                      "end_to_end_us": (t3 - t0) / (names * steps) * 1e6, "close_s": t3 - t2,
                      "peak_fds": peak}))
"""


def run(names: int, steps: int, limit: int) -> dict:
    def limited() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    work = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_work")  # same disk as run.py
    os.makedirs(work, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as root:
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), root, str(names), str(steps)],
                             capture_output=True, text=True, preexec_fn=limited, check=False)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--names", default="100,2000")
    ap.add_argument("--limits", default="1024,0", help="RLIMIT_NOFILE per case; 0 = as given")
    args = ap.parse_args()
    given = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    print("| names | open-file limit | µs per log() | end to end µs/row | register s | close s | peak fds |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for limit in (int(x) for x in args.limits.split(",")):
        for names in (int(x) for x in args.names.split(",")):
            r = run(names, args.steps, limit)
            shown = limit or given
            if "error" in r:
                print(f"| {names:,} | {shown:,} | failed: {r['error'][:80]} | | | | |")
                continue
            print(f"| {names:,} | {shown:,} | {r['loop_us']:.2f} | {r['end_to_end_us']:.2f} | "
                  f"{r['register_s']:.2f} | {r['close_s']:.2f} | {r['peak_fds']:,} |", flush=True)


if __name__ == "__main__":
    main()
