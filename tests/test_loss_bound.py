"""The default loss bound (docs/DURABILITY.md, "The loss bound"): at every
moment all rows of a name are committed except at most the last
2 × commit_threshold_rows logged; log() waits for the writer rather than fall
further behind. throughput_mode=True opts out: log() runs ahead by up to
buffer_bytes.

The writer is stalled deterministically: another process holds the
database's write lock, so nothing can be committed until it lets go."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import List

import numpy as np
import pytest

import array_logger
from al_helpers import read_rows, start_child

HOLD_WRITE_LOCK = """
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    con.execute("BEGIN IMMEDIATE")   # the write lock: the logger's writer waits for it
    print("locked", flush=True)
    sys.stdin.readline()
    con.execute("ROLLBACK")
    con.close()
"""

ROWS = 1000
GROUP = 50  # commit_threshold_rows


def log_while_the_writer_is_stalled(tmp_path: Path, throughput_mode: bool) -> int:
    """Logs ROWS rows from a thread while another process holds the write
    lock; returns how many log() calls returned before the lock was let go.
    The thread either finishes or blocks inside log(); the deadline only
    bounds how long the test waits for the latter."""
    mode = {"throughput_mode": True} if throughput_mode else {}  # the default needs no option
    lg = array_logger.Logger(tmp_path, None, handle_signals=False, **mode)
    lg.register("x", keys=["i"], shape=(8,), dtype="float32", commit_threshold_rows=GROUP)
    lg.log("x", {"i": 0}, np.zeros(8, np.float32))
    lg.flush()  # the file and its first row exist; the writer is idle
    holder = start_child(HOLD_WRITE_LOCK, str(tmp_path / "x.db"), stdin=subprocess.PIPE)
    returned: List[int] = [1]
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()

        def produce() -> None:
            for i in range(1, ROWS):
                lg.log("x", {"i": i}, np.full(8, i, np.float32))
                returned[0] = i + 1

        producer = threading.Thread(target=produce)
        producer.start()
        producer.join(timeout=1.0)
        during_stall = returned[0]
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.communicate(timeout=60)
    producer.join(timeout=60)
    assert not producer.is_alive()
    lg.close()
    rows = read_rows(tmp_path / "x.db")
    assert [k["i"] for k, _ in rows] == list(range(ROWS))
    assert all(np.array_equal(a, np.full(8, k["i"], np.float32)) for k, a in rows)
    return during_stall


def test_log_waits_when_two_commit_groups_are_uncommitted(tmp_path: Path) -> None:
    during_stall = log_while_the_writer_is_stalled(tmp_path, throughput_mode=False)
    # Only the first row was committed when the lock was taken.
    assert during_stall - 1 <= 2 * GROUP
    assert during_stall - 1 >= GROUP  # it did run ahead of the writer by a commit group


def test_throughput_mode_runs_ahead_of_a_stalled_writer(tmp_path: Path) -> None:
    assert log_while_the_writer_is_stalled(tmp_path, throughput_mode=True) == ROWS


@pytest.mark.parametrize("throughput_mode", [False, True])
def test_the_option_is_accepted_by_init_and_reported(tmp_path: Path, throughput_mode: bool) -> None:
    array_logger.init(tmp_path, compression_level=None, throughput_mode=throughput_mode)
    array_logger.register("x", keys=["i"], shape=(), dtype="int64", commit_threshold_rows=1)
    for i in range(300):  # commit group of one row: the bound is two rows
        array_logger.log("x", {"i": i}, i)
    array_logger.close()
    assert [int(a) for _, a in read_rows(tmp_path / "x.db")] == list(range(300))


def test_several_names_and_threads_keep_their_bound_and_order(tmp_path: Path) -> None:
    """Bounded waiting never deadlocks when threads log different names
    (and one name from two threads) into one logger."""
    with array_logger.Logger(tmp_path, None, handle_signals=False) as lg:
        for name in ("a", "b"):
            lg.register(name, keys=["t", "i"], shape=(4,), dtype="int32", commit_threshold_rows=3)

        def produce(name: str, t: int) -> None:
            for i in range(2000):
                lg.log(name, {"t": t, "i": i}, np.full(4, i, np.int32))

        threads = [threading.Thread(target=produce, args=(n, t)) for n, t in [("a", 0), ("a", 1), ("b", 0)]]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
            assert not th.is_alive()
    for name, producers in (("a", (0, 1)), ("b", (0,))):
        rows = read_rows(tmp_path / f"{name}.db")
        assert len(rows) == 2000 * len(producers)
        for t in producers:
            assert [k["i"] for k, _ in rows if k["t"] == t] == list(range(2000))
        assert all(np.array_equal(a, np.full(4, k["i"], np.int32)) for k, a in rows)
        con = sqlite3.connect(tmp_path / f"{name}.db")
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        con.close()
