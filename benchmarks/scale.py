"""Scale-out measurements (issue 13, docs/SCALING.md), in one run:

1. logging throughput: 4 processes x R rows into one sharded name at once vs
   one process logging R rows alone (rows/s, aggregate);
2. reading a 4-shard dataset: Dask (threaded scheduler, and a LocalCluster
   of 2 process workers) vs ``Dataset.read_all`` of the same rows;
3. ``open_dataset`` over 1,000 shards (plain .db and .db.zst): time and peak
   memory, each in a fresh process.

Prints a Markdown section for benchmarks/RESULTS.md. Usage:
    python benchmarks/scale.py [--rows 200000] [--shards 1000] > section.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

LOG_CHILD = """
import sys, time, numpy as np, array_logger
root, shard, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = np.random.default_rng(shard).standard_normal((1024, 10, 5)).astype(np.float32)
array_logger.init(root, compression_level=None, shard=shard)
array_logger.register("q", keys=["episode", "step"], shape=(10, 5), dtype="float32")
print("ready", flush=True)
sys.stdin.readline()
t = time.perf_counter()
for i in range(rows):
    array_logger.log("q", {"episode": i // 1000, "step": i}, data[i & 1023])
array_logger.close()
print(time.perf_counter() - t, flush=True)
"""

OPEN_CHILD = """
import sys, time, array_logger
def hwm():  # peak RSS of this process image in KiB (ru_maxrss would carry the parent's over fork + exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
before = hwm()
t = time.perf_counter()
ds = array_logger.open_dataset(sys.argv[1], "s")
n = ds.count()
elapsed = time.perf_counter() - t
peak = hwm()
ds.close()
print(elapsed, peak / 1024, before / 1024, len(ds.files), n)
"""

MAKE_SHARDS = """
import sys, numpy as np, array_logger
root, first, last, level = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for s in range(first, last):
    with array_logger.Logger(root, compression_level=None if level == "none" else int(level), shard=s,
                             record_run=False, handle_signals=False) as lg:
        lg.register("s", keys=["step"], shape=(10, 5), dtype="float32")
        lg.log_many("s", {"step": list(range(100))}, np.zeros((100, 10, 5), np.float32))
"""


def py(code: str, *args: str, stdin=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdin=stdin,
                            stdout=subprocess.PIPE, text=True)


def logging_throughput(work: str, rows: int, procs: int) -> float:
    """Aggregate rows/s of `procs` processes started together (each times its own loop + close)."""
    root = tempfile.mkdtemp(dir=work)
    children = [py(LOG_CHILD, root, str(s), str(rows), stdin=subprocess.PIPE) for s in range(procs)]
    for c in children:
        assert c.stdout.readline() == "ready\n"
    t = time.perf_counter()
    for c in children:
        c.stdin.write("go\n")
        c.stdin.flush()
    for c in children:
        c.communicate()
        assert c.returncode == 0
    wall = time.perf_counter() - t
    shutil.rmtree(root)
    return procs * rows / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--shards", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--open-only", action="store_true", help="only the open_dataset table")
    args = ap.parse_args()
    import numpy as np

    import array_logger

    work = tempfile.mkdtemp(prefix="al-scale-")
    try:
        one = four = 0.0
        timings = {}
        if not args.open_only:
            one = max(logging_throughput(work, args.rows, 1) for _ in range(args.repeat))
            four = max(logging_throughput(work, args.rows, 4) for _ in range(args.repeat))

            # a 4-shard dataset of (10, 5) float32 rows for the reads
            root = os.path.join(work, "read")
            for s in range(4):
                with array_logger.Logger(root, compression_level=None, shard=s, record_run=False) as lg:
                    lg.register("q", keys=["step"], shape=(10, 5), dtype="float32")
                    data = np.random.default_rng(s).standard_normal((args.rows, 10, 5)).astype(np.float32)
                    for b in range(0, args.rows, 50_000):
                        lg.log_many("q", {"step": list(range(b, min(args.rows, b + 50_000)))}, data[b:b + 50_000])
            import dask
            import distributed

            ds = array_logger.open_dataset(root, "q")
            timings = {}
            for label, fn in (
                ("read_all", lambda: ds.read_all().arrays.sum(axis=0, dtype=np.float64)),
                ("dask threads (2)", lambda: ds.to_dask_array().sum(axis=0, dtype=np.float64).compute(
                    scheduler="threads", num_workers=2)),
            ):
                best = float("inf")
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    fn()
                    best = min(best, time.perf_counter() - t)
                timings[label] = best
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                          worker_dashboard_address=None) as cluster, distributed.Client(cluster) as c:
                arr = ds.to_dask_array()
                c.compute(arr[:1].sum(), sync=True)  # warm the workers (imports)
                best = float("inf")
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    c.compute(arr.sum(axis=0, dtype=np.float64), sync=True)
                    best = min(best, time.perf_counter() - t)
                timings["dask LocalCluster (2 processes)"] = best
            ds.close()
            del dask

        opened = {}
        for level in ("none", "3"):
            sroot = os.path.join(work, f"shards-{level}")
            step = args.shards // 2
            makers = [py(MAKE_SHARDS, sroot, str(a), str(min(args.shards, a + step)), level)
                      for a in range(0, args.shards, step)]
            for m in makers:
                m.communicate()
                assert m.returncode == 0
            runs = []
            for _ in range(args.repeat):
                p = py(OPEN_CHILD, sroot)
                out, _ = p.communicate()
                runs.append([float(x) for x in out.split()])
            opened[level] = min(runs)
            shutil.rmtree(sroot)

        rows_total = 4 * args.rows
        mib = rows_total * 200 / 2**20
        print("## Scale-out: shards, Dask, open_dataset (issue 13)\n")
        print(f"`python benchmarks/scale.py --rows {args.rows} --shards {args.shards}` (best of {args.repeat}; "
              f"{os.cpu_count()} cores shared with other jobs, load average {os.getloadavg()[0]:.1f} at the end).\n")
        if not args.open_only:
            print("| logging (10, 5) float32, `log()` loop + close, default loss bound | rows/s | vs one process |")
            print("|---|---:|---:|")
            print(f"| 1 process, {args.rows:,} rows | {one:,.0f} | 1.00× |")
            print(f"| 4 processes × {args.rows:,} rows, one sharded name, at once | {four:,.0f} | {four / one:.2f}× |\n")
            print(f"| reading 4 shards × {args.rows:,} rows ({mib:.0f} MiB of arrays), sum over rows | seconds | "
                  "vs read_all |")
            print("|---|---:|---:|")
            base = timings["read_all"]
            for label, t in timings.items():
                print(f"| {label} | {t:.3f} | {base / t:.2f}× |")
            print()
        print(f"| `open_dataset` + `count()` over {args.shards:,} shards of 100 rows, fresh process | seconds | "
              "peak RSS | RSS after imports |")
        print("|---|---:|---:|---:|")
        for level, (t, peak, before, files, n) in opened.items():
            kind = ".db" if level == "none" else ".db.zst (level 3)"
            assert int(files) == args.shards and int(n) == 100 * args.shards
            print(f"| {kind} | {t:.2f} | {peak:.0f} MiB | {before:.0f} MiB |")
        print()
        print(json.dumps({"one": one, "four": four, "reads": timings, "open": opened}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
