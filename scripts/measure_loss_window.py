"""Measures the loss window on kill -9: how many logged rows are not on disk
when a logging process is killed at a random moment.

A child logs N rows in a tight loop and publishes, after each log() call,
how many calls have returned (a shared memory counter). The parent waits a
random time, freezes the child with SIGSTOP (all its threads: the writer
thread cannot commit anything more), reads the counter, sends SIGKILL and
counts the rows on disk. lost = returned log() calls - rows on disk (-1:
the stop fell between log() returning and the counter update).

    .venv/bin/python scripts/measure_loss_window.py [--kills 20] [--rows 1000000]

Used for the numbers in docs/DURABILITY.md.
"""

from __future__ import annotations

import argparse
import mmap
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

CHILD = """
    import mmap, sys, numpy as np, array_logger
    import time
    root, counter_path, n, shape, threshold, sync, work_us, buffer_bytes, mode = sys.argv[1:10]
    n, shape, threshold = int(n), tuple(int(d) for d in shape.split("x")), int(threshold)
    work = float(work_us) * 1e-6
    f = open(counter_path, "r+b")
    counter = np.frombuffer(mmap.mmap(f.fileno(), 8), dtype=np.int64)
    lg = array_logger.Logger(root, compression_level=None, synchronous=sync,
                             buffer_bytes=int(buffer_bytes), handle_signals=False,
                             throughput_mode=mode == "throughput")
    lg.register("s", keys=["episode", "step"], shape=shape, dtype="float32", commit_threshold_rows=threshold)
    a = np.ones(shape, np.float32)
    print("go", flush=True)
    for i in range(n):
        lg.log("s", {"episode": i // 1000, "step": i % 1000}, a)
        counter[0] = i + 1
        if work:  # the simulation's own work per step
            end = time.perf_counter() + work
            while time.perf_counter() < end:
                pass
    lg.close()
"""


def one_kill(rows: int, shape: str, threshold: int, sync: str, work_us: float, buffer_mib: float,
             mode: str, rng: random.Random) -> tuple:
    with tempfile.TemporaryDirectory() as root:
        counter_path = os.path.join(root, "counter")
        with open(counter_path, "wb") as f:
            f.write(b"\0" * 8)
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), root, counter_path, str(rows), shape,
                                  str(threshold), sync, str(work_us),
                                  str(int(buffer_mib * 2**20)), mode], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "go"
        with open(counter_path, "r+b") as f:
            counter = mmap.mmap(f.fileno(), 8)
            time.sleep(rng.uniform(0.05, 0.6))
            os.kill(child.pid, signal.SIGSTOP)
            os.waitpid(child.pid, os.WUNTRACED)  # returns once every thread has stopped
            returned = int.from_bytes(counter[:8], "little")
            counter.close()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        con = sqlite3.connect(os.path.join(root, "s.db"))
        try:
            on_disk = con.execute("SELECT count(*) FROM array_log").fetchone()[0]
        finally:
            con.close()
        return returned, on_disk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--shape", default="1", help="e.g. 1 or 10x5")
    ap.add_argument("--threshold", type=int, default=100, help="commit_threshold_rows")
    ap.add_argument("--sync", default="normal")
    ap.add_argument("--work-us", type=float, default=0.0, help="busy work per step besides log(), in µs")
    ap.add_argument("--buffer-mib", type=float, default=16.0, help="Logger buffer_bytes, in MiB")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--throughput-mode", action="store_true",
                    help="Logger(throughput_mode=True): log() never waits for commits")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    losses = []
    for _ in range(args.kills):
        mode = "throughput" if args.throughput_mode else "bounded"
        returned, on_disk = one_kill(args.rows, args.shape, args.threshold, args.sync, args.work_us, args.buffer_mib,
                                     mode, rng)
        if returned >= args.rows:
            continue  # finished before the kill
        losses.append(returned - on_disk)
        print(f"returned {returned:>9,}  on disk {on_disk:>9,}  lost {returned - on_disk:>6,}", flush=True)
    losses.sort()
    if losses:
        print(f"{mode}: shape ({args.shape}) threshold {args.threshold} sync {args.sync} work {args.work_us} us "
              f"buffer {args.buffer_mib} MiB: "
              f"{len(losses)} kills, lost rows "
              f"min {losses[0]}, median {losses[len(losses) // 2]}, max {losses[-1]}")


if __name__ == "__main__":
    main()
