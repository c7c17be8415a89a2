"""kill -9 at random moments, across the ways programs log (docs/DURABILITY.md,
"The loss bound"): a tight loop and a loop with work per step; uncompressed
and zstd level 3; 32-byte and 1 MiB rows; the default mode and
throughput_mode. After every kill: the committed rows are an exact prefix of
what was logged, at least `logged - bound` of them, `PRAGMA integrity_check`
is ok, and the next register of the name resumes after them.

The child publishes how many log() calls have returned in a shared counter
(one 8-byte file it maps) and prints a line every few rows. The test waits
for a randomly chosen line, freezes the child with SIGSTOP (waitpid reports
when every thread has stopped: the writer cannot commit anything more),
reads the counter, and sends SIGKILL."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

import array_logger
from al_helpers import child_env, integrity_ok, kill_when_logged

CYCLE = 4096  # distinct 32-byte rows, made before the loop

CHILD = """
    CYCLE = {cycle}
    import mmap, sys, time, numpy as np, array_logger
    root, counter_path, comp, size, loop, mode, group, report, buffer_bytes = sys.argv[1:10]
    shape = (8,) if size == "32B" else (512, 512)
    work_s = 0.0 if loop == "tight" else (20e-6 if size == "32B" else 2e-3)
    f = open(counter_path, "r+b")
    counter = np.frombuffer(mmap.mmap(f.fileno(), 8), dtype=np.int64)
    lg = array_logger.Logger(root, None if comp == "none" else int(comp), throughput_mode=mode == "throughput",
                             buffer_bytes=int(buffer_bytes), handle_signals=False)
    lg.register("x", keys=["i"], shape=shape, dtype="float32", commit_threshold_rows=int(group))
    base = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    rows = [base + i for i in range(CYCLE)] if size == "32B" else None  # made ahead: a tight loop
    report = int(report)
    i = 0
    while True:
        lg.log("x", {"i": i}, rows[i % CYCLE] if rows else base + i)
        i += 1
        counter[0] = i
        if i % report == 0:
            print(i, flush=True)
        if work_s:  # the simulation's own work per step
            end = time.perf_counter() + work_s
            while time.perf_counter() < end:
                pass
""".replace("{cycle}", str(CYCLE))


class Case(NamedTuple):
    loop: str      # "tight" or "work"
    comp: str      # "none" or "3"
    size: str      # "32B" or "1MiB"
    mode: str      # "bounded" (default) or "throughput"
    kills: int

    @property
    def shape(self) -> tuple:
        return (8,) if self.size == "32B" else (512, 512)

    @property
    def group(self) -> int:  # commit_threshold_rows
        return 100 if self.size == "32B" else 4

    @property
    def report(self) -> int:  # a line every this many rows
        return 250 if self.size == "32B" else 1

    @property
    def targets(self) -> tuple:  # the kill comes after a line in this range
        if self.size == "1MiB":
            return (3, 30)
        return (1000, 12000) if self.loop == "tight" else (300, 3000)

    @property
    def buffer_bytes(self) -> int:
        return 1 << 20 if self.size == "32B" else 16 << 20

    @property
    def bound(self) -> int:
        """Rows a kill may lose: 2 x commit_threshold_rows by default; in
        throughput mode what the buffer can hold plus an open commit group."""
        if self.mode == "bounded":
            return 2 * self.group
        payload = 4 * int(np.prod(self.shape))
        return max(self.buffer_bytes, 4 * payload) // payload + self.group


CASES = [Case(loop, comp, size, "bounded", 3)
         for loop in ("tight", "work") for comp in ("none", "3") for size in ("32B", "1MiB")]
CASES += [Case("tight", "none", size, "throughput", 2) for size in ("32B", "1MiB")]


def row(case: Case, i: int) -> np.ndarray:
    """What the child logs as row i."""
    k = i % CYCLE if case.size == "32B" else i
    return np.arange(int(np.prod(case.shape)), dtype=np.float32).reshape(case.shape) + np.float32(k)


def kill_at_random_moment(case: Case, root: Path, rng: random.Random) -> int:
    """Runs the child, kills it after a random line; returns how many log()
    calls had returned."""
    counter_path = root.parent / (root.name + ".counter")
    counter_path.write_bytes(b"\0" * 8)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(root), str(counter_path), case.comp, case.size,
         case.loop, case.mode, str(case.group), str(case.report), str(case.buffer_bytes)],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    target = rng.randint(*case.targets)
    return kill_when_logged(child, target, counter_path)


def committed_prefix(case: Case, db: Path) -> int:
    """Checks the rows of `db` are row(0), row(1), ... in order; returns how many."""
    n = 0
    with array_logger.open_reader(db) as reader:
        for keys, array in reader.iterate():
            assert keys["i"] == n
            assert array.tobytes() == row(case, n).tobytes(), n
            n += 1
    return n


def visible(root: Path) -> list:
    return sorted(f for f in os.listdir(root) if not f.startswith("."))  # not the lock file


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.loop}-{c.comp}-{c.size}-{c.mode}")
def test_kill_9_loses_at_most_the_bound(tmp_path: Path, case: Case) -> None:
    rng = random.Random(f"{case}")
    for k in range(case.kills):
        root = tmp_path / f"kill{k}"
        logged = kill_at_random_moment(case, root, rng)
        db = root / "x.db"
        # close never ran: the WAL's files, or the (empty or hot) rollback
        # journal of a file of big rows (docs/DESIGN.md, "Journal modes")
        expected = ["x.db", "x.db-journal"] if case.size == "1MiB" else ["x.db", "x.db-shm", "x.db-wal"]
        assert visible(root) in (["x.db"], expected)
        integrity_ok(db)
        committed = committed_prefix(case, db)
        assert logged - case.bound <= committed <= logged + 1, (logged, committed, case.bound)
        # The next run resumes after the committed rows.
        with array_logger.Logger(root, None if case.comp == "none" else int(case.comp),
                                 handle_signals=False) as lg:
            lg.register("x", keys=["i"], shape=case.shape, dtype="float32", commit_threshold_rows=case.group)
            for i in range(committed, committed + 3):
                lg.log("x", {"i": i}, row(case, i))
        assert committed_prefix(case, db) == committed + 3
        assert visible(root) == (["x.db"] if case.comp == "none" else ["x.db.zst"])
