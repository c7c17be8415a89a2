"""Commit groups land exactly when their last row is logged, not one row later.

A child logs a known number of rows per name and then idles (no flush, no
close, a one-hour time threshold); the parent waits (with a deadline) until
the committed rows appear, kills the child, and counts exactly: whole groups
are committed, the incomplete tail is not.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import start_child

# name: (commit_threshold_rows, rows logged) -> rows committed without flush
CASES = {
    "one_group": (10, 10),        # the group's last row alone must trigger the commit
    "two_groups": (10, 20),
    "tail": (10, 25),             # 20 committed, 5 waiting
    "single_rows": (1, 3),        # every row is its own group
    "batched": (32, 64),          # multi-row INSERTs (16 rows per statement)
    "default": (100, 100),
}

LOG_THEN_IDLE = """
    import sys, time, numpy as np, array_logger
    cases = eval(sys.argv[2])
    lg = array_logger.Logger(sys.argv[1], None, handle_signals=False)
    for name, (threshold, rows) in sorted(cases.items()):
        lg.register(name, keys=["i"], shape=(3,), dtype="int64",
                    commit_threshold_rows=threshold, commit_threshold_seconds=3600)
    pace = float(sys.argv[3])  # seconds of "work" between log() calls
    for name, (threshold, rows) in sorted(cases.items()):
        for i in range(rows):
            lg.log(name, {"i": i}, np.array([i, -i, 7 * i]))
            if pace:
                time.sleep(pace)  # the program's own work: the writer goes idle between rows
    print("logged", flush=True)
    while True:
        time.sleep(1)
"""


def committed(threshold: int, rows: int) -> int:
    return rows // threshold * threshold


def count(path: Path) -> int:
    if not path.exists():
        return 0
    with array_logger.open_reader(path) as reader:
        return reader.count()


@pytest.mark.parametrize("pace", [0.0, 0.003])
def test_each_commit_group_is_committed_when_its_last_row_is_logged(tmp_path: Path, pace: float) -> None:
    """docs/DURABILITY.md: "`commit_threshold_rows` rows of a name since its
    last commit (default 100) | that group, as soon as its last row is logged".
    Paced: the writer is idle when each row arrives, so only the last row of
    a group can wake it (a wake-up one row late leaves the group uncommitted)."""
    child = start_child(LOG_THEN_IDLE, str(tmp_path), repr(CASES), str(pace))
    try:
        assert child.stdout.readline().strip() == "logged", child.stderr.read()
        deadline = time.monotonic() + 30
        want = {name: committed(*case) for name, case in CASES.items()}
        seen = {}
        while time.monotonic() < deadline:
            seen = {name: count(tmp_path / f"{name}.db") for name in CASES}
            if seen == want:
                break
            time.sleep(0.02)  # polling the files, with a deadline
        assert seen == want
    finally:
        child.kill()
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # After the kill: exactly the whole groups, byte for byte; the tail was
    # never committed (nothing else could have committed it).
    for name, (threshold, rows) in CASES.items():
        with array_logger.open_reader(tmp_path / f"{name}.db") as reader:
            batch = reader.read_all()
        n = committed(threshold, rows)
        assert batch.keys["i"].tolist() == list(range(n)), name
        expected = np.array([[i, -i, 7 * i] for i in range(n)], dtype=np.int64).reshape(n, 3)
        assert batch.arrays.tobytes() == expected.tobytes(), name
