#!/usr/bin/env python
"""Is the portable wheel as fast as the build from source? One run, both builds.

    python benchmarks/wheel_parity.py --ref .venv/bin/python \\
        --new build/packaging/venv/bin/python [--workloads S,M,XL] [--repeats 3] \\
        [--max-ratio R]

Runs ``benchmarks/run.py --case array_logger WORKLOAD --json`` with each
interpreter (each has its own array_logger installed: --ref today's build,
--new the wheel from scripts/build_wheels.sh), alternating ref/new so that
both see the same machine load, ``--repeats`` times per workload. Reports the
median log() loop time (µs per call), the CPU time of all threads per row
(the writer's work included; less sensitive to a busy machine than wall
time), close() time and total per build and the ratio new/ref (< 1: the
portable wheel is faster), and writes them as a Markdown table to
benchmarks/_work/WHEEL_PARITY.md (or --out; benchmarks/RESULTS.md's issue-14
section is such a table). Exit status 1 if a read-back checksum mismatched or, with
--max-ratio, if the CPU-per-row ratio of a workload exceeds it
(scripts/packaging_tests.sh runs M with a loose bound).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "run.py")
FIELDS = [("us_per_log", "log() µs/call"), ("cpu_us_per_row", "CPU µs/row"),
          ("close_s", "close() s"), ("total_s", "total s")]
# What --max-ratio bounds: CPU time is what the code costs; wall time on a
# busy machine is mostly the other processes.
BOUNDED = ("cpu_us_per_row",)


def one_case(python: str, workload: str) -> dict:
    # One OpenBLAS thread: numpy's idle BLAS threads would add their spinning to
    # the CPU time of whichever build happened to start them.
    p = subprocess.run([python, RUN, "--case", "array_logger", workload, "--json"],
                       capture_output=True, text=True, cwd=HERE,
                       env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
    if p.returncode != 0 or line is None:
        raise SystemExit(f"{python} {workload}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return json.loads(line)


def build_of(python: str) -> str:
    code = ("import array_logger, json; b = array_logger.build_info(); "
            "print(array_logger.__file__, b['sqlite']['compile_options'][1])")
    return subprocess.run([python, "-c", code], capture_output=True, text=True,
                          check=True, cwd="/").stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="python with today's build installed")
    ap.add_argument("--new", required=True, help="python with the portable wheel installed")
    ap.add_argument("--workloads", default="S,M,XL")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "_work", "WHEEL_PARITY.md"))
    ap.add_argument("--max-ratio", type=float, default=None,
                    help="fail if a CPU-per-row ratio new/ref exceeds this")
    args = ap.parse_args()
    # (absolute: the cases run with cwd benchmarks/, build_of with cwd /; not
    #  resolved, a venv's python is a symlink that must keep its venv path)
    builds = {"ref": os.path.abspath(args.ref), "new": os.path.abspath(args.new)}
    about = {k: build_of(v) for k, v in builds.items()}
    results: dict[tuple[str, str], list[dict]] = {}
    ok = True
    for wl in args.workloads.split(","):
        for i in range(args.repeats):
            order = ("ref", "new") if i % 2 == 0 else ("new", "ref")
            for side in order:
                r = one_case(builds[side], wl)
                ok &= bool(r.get("checksum_ok"))
                results.setdefault((wl, side), []).append(r)
                print(f"{wl} {side} #{i + 1}: {r['us_per_log']:.3f} µs/log, "
                      f"close {r['close_s']:.3f} s, checksum {'ok' if r['checksum_ok'] else 'BAD'}",
                      file=sys.stderr, flush=True)

    lines = [
        "# Portable wheel vs build from source",
        "",
        f"`python benchmarks/wheel_parity.py` on {datetime.date.today()}: "
        f"`run.py --case array_logger` per workload, {args.repeats} runs per build, "
        "alternating; medians. Ratio = new / ref (< 1: the portable wheel is faster).",
        "",
        f"- ref: `{about['ref']}`",
        f"- new: `{about['new']}`",
        "",
        "| workload | " + " | ".join(f"{h} ref | new | ratio" for _, h in FIELDS) + " |",
        "|---|" + "---:|---:|---:|" * len(FIELDS),
    ]
    too_slow = []
    for wl in args.workloads.split(","):
        cells = []
        for key, _ in FIELDS:
            ref = statistics.median(r[key] for r in results[(wl, "ref")])
            new = statistics.median(r[key] for r in results[(wl, "new")])
            cells += [f"{ref:.3f}", f"{new:.3f}", f"{new / ref:.2f}"]
            if args.max_ratio is not None and key in BOUNDED and new / ref > args.max_ratio:
                too_slow.append(f"{wl} {key}: {new / ref:.2f} > {args.max_ratio}")
        lines.append(f"| {wl} | " + " | ".join(cells) + " |")
    lines += ["", "Checksums of every read-back: " + ("all match." if ok else "MISMATCH."), ""]
    if too_slow:
        lines += ["SLOWER than the bound: " + "; ".join(too_slow), ""]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0 if ok and not too_slow else 1


if __name__ == "__main__":
    sys.exit(main())
