"""Live follow (docs/SCALING.md, "Live follow"): rows another process is
writing, each exactly once, across commits and the final compression; the
end when the writer closes or dies; ``array-logger tail -f``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import array_logger
from al_helpers import child_env, start_child

GROUPS, GROUP_ROWS = 5, 300

# Logs GROUPS commit groups (each flushed), printing "committed g" after
# each, and waits for a line on stdin before the next one: the test proves
# that follow saw group g before the writer goes on. Then close() compresses
# the file away (level 3) or leaves it (none).
WRITER = """
import sys, numpy as np, array_logger
root, level, groups, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
shard = None if len(sys.argv) < 6 or sys.argv[5] == "-" else int(sys.argv[5])
journal = sys.argv[6] if len(sys.argv) > 6 else "auto"
lg = array_logger.Logger(root, compression_level=None if level == "none" else int(level), shard=shard)
lg.register("w", keys=["g", "i"], shape=(3,), dtype="float64", commit_threshold_rows=64, journal=journal)
print("registered", flush=True)
rng = np.random.default_rng(shard or 0)
for g in range(groups):
    sys.stdin.readline()
    for i in range(rows):
        lg.log("w", {"g": g, "i": i}, rng.standard_normal(3))
    lg.flush()
    print("committed", g, flush=True)
sys.stdin.readline()
lg.close()
print("closed", flush=True)
"""


def expected(shard: int = 0) -> np.ndarray:
    return np.random.default_rng(shard).standard_normal((GROUPS * GROUP_ROWS, 3))


class Follower(threading.Thread):
    """Consumes a follow generator on a thread; the test waits on `seen`."""

    def __init__(self, rows: Any) -> None:
        super().__init__(daemon=True)
        self.rows_iter = rows
        self.rows: List[Tuple[Dict[str, Any], np.ndarray]] = []
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.finished = False

    def run(self) -> None:
        try:
            for keys, array in self.rows_iter:
                with self.cond:
                    self.rows.append((keys, np.array(array, copy=True)))
                    self.cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 120) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.rows) >= n or self.finished, timeout), len(self.rows)
        assert self.error is None, self.error
        assert len(self.rows) >= n, (len(self.rows), n)


@pytest.mark.parametrize("level, journal", [("3", "auto"), ("none", "auto"), ("none", "rollback")])
def test_follow_sees_every_row_once_across_commits_and_the_final_compression(tmp_path: Path, level: str,
                                                                             journal: str) -> None:
    # journal "rollback": the writer's commits lock the file against the follower's polls (no WAL)
    writer = start_child(WRITER, str(tmp_path), level, str(GROUPS), str(GROUP_ROWS), "-", journal,
                         stdin=subprocess.PIPE)
    assert writer.stdout.readline() == "registered\n"
    with array_logger.open_reader(tmp_path / "w.db") as reader:
        follower = Follower(reader.follow(poll_seconds=0.05, timeout=300))
    follower.start()
    for g in range(GROUPS):
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline() == f"committed {g}\n"
        follower.wait_for((g + 1) * GROUP_ROWS)  # seen while the writer waits: live, not at the end
        assert len(follower.rows) == (g + 1) * GROUP_ROWS  # and nothing twice
    writer.stdin.write("close\n")
    writer.stdin.flush()
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0 and out == "closed\n", err
    follower.join(timeout=120)
    assert not follower.is_alive() and follower.error is None  # it ended by itself
    assert [(k["g"], k["i"]) for k, _ in follower.rows] == [(g, i) for g in range(GROUPS) for i in range(GROUP_ROWS)]
    assert np.stack([a for _, a in follower.rows]).tobytes() == expected().tobytes()
    assert os.path.exists(tmp_path / ("w.db.zst" if level == "3" else "w.db"))
    # the writer's close was not held up by the follower: no -wal / -shm left
    assert sorted(f for f in os.listdir(tmp_path) if not f.startswith(".")) == [
        "w.db.zst" if level == "3" else "w.db"]


def test_follow_with_a_filter_and_of_a_closed_file(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=3) as lg:
        lg.register("w", keys=["g", "i"], shape=(3,), dtype="float64")
        for i in range(10):
            lg.log("w", {"g": i % 2, "i": i}, np.full(3, float(i)))
    with array_logger.open_reader(tmp_path / "w.db") as reader:
        rows = list(reader.follow("g = ?", (1,), poll_seconds=0.01, timeout=60))
    assert [k["i"] for k, _ in rows] == [1, 3, 5, 7, 9] and rows[2][1].tolist() == [5.0] * 3
    with pytest.raises(ValueError):
        next(iter(array_logger.open_reader(tmp_path / "w.db").follow(poll_seconds=0)))


def test_follow_ends_when_the_writer_is_killed(tmp_path: Path) -> None:
    writer = start_child(WRITER, str(tmp_path), "3", "3", "100", stdin=subprocess.PIPE)
    assert writer.stdout.readline() == "registered\n"
    writer.stdin.write("go\n")
    writer.stdin.flush()
    assert writer.stdout.readline() == "committed 0\n"
    with array_logger.open_reader(tmp_path / "w.db") as reader:
        follower = Follower(reader.follow(poll_seconds=0.05, timeout=300))
    follower.start()
    follower.wait_for(100)
    os.kill(writer.pid, signal.SIGKILL)
    writer.communicate(timeout=60)
    follower.join(timeout=120)
    assert not follower.is_alive() and follower.error is None
    assert len(follower.rows) == 100


def test_dataset_follow_and_tail_f_across_shards(tmp_path: Path) -> None:
    writers = [start_child(WRITER, str(tmp_path), "3", "2", "200", str(s), stdin=subprocess.PIPE) for s in (0, 1)]
    for w in writers:
        assert w.stdout.readline() == "registered\n"
    tail = subprocess.Popen([sys.executable, "-m", "array_logger", "tail", "-f", str(tmp_path), "w", "-n", "100000",
                             "--json", "--poll", "0.05"], env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    with array_logger.open_dataset(tmp_path, "w") as ds:
        follower = Follower(ds.follow(poll_seconds=0.05, timeout=300))
    follower.start()
    for g in range(2):
        for w in writers:
            w.stdin.write("go\n")
            w.stdin.flush()
            assert w.stdout.readline() == f"committed {g}\n"
        follower.wait_for(2 * 200 * (g + 1))
    for w in writers:
        w.stdin.write("close\n")
        w.stdin.flush()
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    follower.join(timeout=120)
    assert not follower.is_alive() and follower.error is None
    seen = sorted((k["shard"], k["g"], k["i"]) for k, _ in follower.rows)
    assert seen == [(s, g, i) for s in (0, 1) for g in range(2) for i in range(200)]
    by_shard = {s: np.stack([a for k, a in follower.rows if k["shard"] == s]) for s in (0, 1)}
    for s in (0, 1):
        assert by_shard[s].tobytes() == expected(s)[:400].tobytes()  # each shard in its own order
    # -n covers every row, so whenever tail started, the rows it showed as the
    # tail and those it followed afterwards are all rows, each once
    out, err = tail.communicate(timeout=120)  # tail -f ends by itself too
    assert tail.returncode == 0, err
    lines = [json.loads(ln) for ln in out.splitlines()]
    assert sorted((d["keys"]["shard"], d["keys"]["g"], d["keys"]["i"]) for d in lines) == seen
