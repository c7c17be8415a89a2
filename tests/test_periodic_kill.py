"""kill -9 of a periodic stream (docs/DURABILITY.md, "Periodic streams"): by
default a period starts only once the previous period's row is committed,
so a killed run loses at most one period of steps -- the open period, or the
period that had just been completed -- whatever the loop does. After every
kill the rows are complete periods 0, 1, ... with numpy's sums, then at most
one partial row (written by the last flush), and the next register starts a
new period after them.

As in test_kill_matrix.py, the child publishes how many log() calls have
returned in a shared counter; the test freezes it with SIGSTOP at a random
moment, reads the counter and sends SIGKILL."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import child_env, kill_when_logged

PERIOD = 50

CHILD = """
    import mmap, sys, time, numpy as np, array_logger
    root, counter_path, loop, mode = sys.argv[1:5]
    f = open(counter_path, "r+b")
    counter = np.frombuffer(mmap.mmap(f.fileno(), 8), dtype=np.int64)
    lg = array_logger.Logger(root, None, throughput_mode=mode == "throughput", handle_signals=False)
    lg.register("e", keys=["i"], shape=(4,), dtype="float32", period={period}, mode="sum")
    base = np.arange(4, dtype=np.float32)
    steps = [base + np.float32(i % 1000) for i in range(1000)]
    i = 0
    while True:
        lg.log("e", {"i": i}, steps[i % 1000])
        i += 1
        counter[0] = i
        if i % 100 == 0:
            print(i, flush=True)
        if loop == "flush" and i % 37 == 0:
            lg.flush()
        if loop == "work":
            end = time.perf_counter() + 20e-6
            while time.perf_counter() < end:
                pass
""".replace("{period}", str(PERIOD))


def step(i: int) -> np.ndarray:
    return np.arange(4, dtype=np.float32) + np.float32(i % 1000)


def period_sum(lo: int, hi: int) -> np.ndarray:
    return np.add.reduce(np.stack([step(i) for i in range(lo, hi)]).astype(np.float64), axis=0)


def kill_at_random_moment(root: Path, loop: str, mode: str, rng: random.Random) -> int:
    counter_path = root.parent / (root.name + ".counter")
    counter_path.write_bytes(b"\0" * 8)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(root), str(counter_path), loop, mode],
                             env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    target = rng.randint(3, 60) * 100
    return kill_when_logged(child, target, counter_path)


@pytest.mark.parametrize("loop,mode,kills", [("tight", "bounded", 2), ("work", "bounded", 1),
                                             ("flush", "bounded", 2), ("tight", "throughput", 1)])
def test_kill_9_loses_at_most_one_period(tmp_path: Path, loop: str, mode: str, kills: int) -> None:
    rng = random.Random(f"{loop}-{mode}")
    for k in range(kills):
        root = tmp_path / f"kill{k}"
        logged = kill_at_random_moment(root, loop, mode, rng)
        with array_logger.open_reader(root / "e.db") as r:
            batch = r.read_all()
        partial = batch.keys["partial"].tolist()
        complete = len(partial) - sum(partial)
        # Complete periods first, in order, with numpy's sums; at most one partial row, last.
        assert partial == [0] * complete + [1] * (len(partial) - complete) and len(partial) - complete <= 1
        for n in range(len(partial)):
            lo, steps = batch.keys["i"][n], batch.keys["steps"][n]
            assert lo == n * PERIOD and (steps == PERIOD) == (partial[n] == 0)
            assert batch.arrays[n].tobytes() == period_sum(lo, lo + steps).tobytes(), n
        covered = complete * PERIOD + (int(batch.keys["steps"][-1]) if partial and partial[-1] else 0)
        assert covered <= logged + 1  # +1: the stop came between log() returning and the counter update
        if loop == "flush":
            # A flush every 37 steps: its partial row is on disk (up to 37 + a period before the kill).
            assert logged - covered <= PERIOD + 37, (logged, covered)
        if mode == "bounded":
            assert logged - complete * PERIOD <= PERIOD, (logged, complete)
        # The next run starts a new period after what survived.
        with array_logger.Logger(root, None, handle_signals=False) as lg:
            lg.register("e", keys=["i"], shape=(4,), dtype="float32", period=PERIOD, mode="sum")
            for i in range(logged, logged + PERIOD):
                lg.log("e", {"i": i}, step(i))
        with array_logger.open_reader(root / "e.db") as r:
            after = r.read_all()
        assert len(after.arrays) == len(partial) + 1
        assert after.keys["i"][-1] == logged and after.arrays[-1].tobytes() == period_sum(logged, logged + PERIOD).tobytes()
