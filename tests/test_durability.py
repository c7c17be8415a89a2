"""Durability with real processes: kill -9 while logging, exit without close(),
kill -9 during close-time compression. Every check reads the files back byte
for byte."""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest

import array_logger
from al_helpers import integrity_ok, read_rows, resume_and_append, run_child, start_child, zstd_decompress


def visible(root: Path) -> List[str]:
    return sorted(f for f in os.listdir(root) if not f.startswith("."))


def row_x(i: int) -> np.ndarray:
    return np.arange(32, dtype=np.float64) + i * 1000.0


def check_prefix(db: Path, at_least: int) -> int:
    """Rows are exactly row_x(0..n-1) with n >= at_least; returns n."""
    rows = read_rows(db)
    n = len(rows)
    assert n >= at_least
    assert [k["i"] for k, _ in rows] == list(range(n))
    for i, (_, a) in enumerate(rows):
        assert a.tobytes() == row_x(i).tobytes(), i
    return n


# --- (a) kill -9 while logging ---------------------------------------------------------

LOGGING_FOREVER = """
    import sys, numpy as np, array_logger
    root, comp, sync = sys.argv[1], sys.argv[2], sys.argv[3]
    array_logger.init(root, compression_level=None if comp == "none" else int(comp), synchronous=sync)
    array_logger.register("x", keys=["i"], shape=(32,), dtype="float64", commit_threshold_rows=10)
    array_logger.register("y", keys=["i"], shape=(), dtype="int64", commit_threshold_rows=10)
    base = np.arange(32, dtype=np.float64)
    i = 0
    while True:
        array_logger.log("x", {"i": i}, base + i * 1000.0)
        array_logger.log("y", {"i": i}, i)
        i += 1
        if i % 50 == 0:
            array_logger.flush()
            print(i, flush=True)   # every row up to i is committed
"""


@pytest.mark.parametrize("comp, sync, target", [
    ("none", "normal", 1500),
    ("none", "off", 700),
    ("3", "normal", 1000),
    ("none", "full", 300),
])
def test_kill_9_while_logging_loses_only_the_uncommitted_tail(tmp_path: Path, comp, sync, target) -> None:
    # Proves README.md: "Committed rows survive the process being killed (`kill -9`)"
    child = start_child(LOGGING_FOREVER, str(tmp_path), comp, sync)
    flushed = 0
    try:
        while flushed < target:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            flushed = int(line)
        time.sleep(random.Random(target).uniform(0, 0.02))  # a seeded moment after the flush
    finally:
        child.kill()  # SIGKILL
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    db = tmp_path / "x.db"
    assert "x.db" in visible(tmp_path)
    assert not (tmp_path / "x.db.zst").exists()  # close never ran
    n = check_prefix(db, flushed)
    ys = read_rows(tmp_path / "y.db")
    assert len(ys) >= flushed
    assert [k["i"] for k, _ in ys] == list(range(len(ys)))
    assert [int(a) for _, a in ys] == list(range(len(ys)))
    integrity_ok(db)
    integrity_ok(tmp_path / "y.db")
    # Resume: the next run appends after the surviving rows.
    with array_logger.Logger(tmp_path, None if comp == "none" else int(comp)) as lg:
        lg.register("x", keys=["i"], shape=(32,), dtype="float64")
        for i in range(n, n + 25):
            lg.log("x", {"i": i}, row_x(i))
    path = tmp_path / ("x.db" if comp == "none" else "x.db.zst")
    assert check_prefix(path, n + 25) == n + 25


def test_kill_9_right_after_flush_keeps_every_flushed_row(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "A flushed row is never lost: `flush()` returns only after the
    # commit"
    code = """
        import sys, os, signal, numpy as np, array_logger
        lg = array_logger.Logger(sys.argv[1], None)
        lg.register("x", keys=["i"], shape=(32,), dtype="float64",
                    commit_threshold_rows=1_000_000, commit_threshold_seconds=3600)
        base = np.arange(32, dtype=np.float64)
        for i in range(777):
            lg.log("x", {"i": i}, base + i * 1000.0)
        lg.flush()
        for i in range(777, 800):   # not flushed: may be lost
            lg.log("x", {"i": i}, base + i * 1000.0)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    done = run_child(code, str(tmp_path))
    assert done.returncode == -signal.SIGKILL, done.stderr
    n = check_prefix(tmp_path / "x.db", 777)
    assert n == 777  # one commit at flush; the unflushed tail was never committed
    integrity_ok(tmp_path / "x.db")


# --- (b) exit without close() ----------------------------------------------------------

# The module API's program, without close(); then how it ends.
_LOG_WITHOUT_CLOSE = """
        import sys, numpy as np, array_logger
        array_logger.init(sys.argv[1], compression_level=None if sys.argv[2] == "none" else int(sys.argv[2]))
        array_logger.register("x", keys=["i"], shape=(32,), dtype="float64",
                              commit_threshold_rows=100_000, commit_threshold_seconds=3600)
        for i in range(1234):
            array_logger.log("x", {"i": i}, np.arange(32, dtype=np.float64) + i * 1000.0)
"""

EXIT_WITHOUT_CLOSE = {
    "module": _LOG_WITHOUT_CLOSE,
    "object": """
        import sys, numpy as np, array_logger
        lg = array_logger.Logger(sys.argv[1], None if sys.argv[2] == "none" else int(sys.argv[2]))
        lg.register("x", keys=["i"], shape=(32,), dtype="float64",
                    commit_threshold_rows=100_000, commit_threshold_seconds=3600)
        for i in range(1234):
            lg.log("x", {"i": i}, np.arange(32, dtype=np.float64) + i * 1000.0)
    """,
    "exception": _LOG_WITHOUT_CLOSE + """
        raise RuntimeError("the experiment crashed")
    """,
    "sys_exit": _LOG_WITHOUT_CLOSE + """
        sys.exit(3)
    """,
}


@pytest.mark.parametrize("how", sorted(EXIT_WITHOUT_CLOSE))
@pytest.mark.parametrize("comp", ["none", "3"])
def test_exit_without_close_commits_everything(tmp_path: Path, how: str, comp: str) -> None:
    # Proves README.md: "an exit handler closes open loggers, so a forgotten `close()` loses
    # nothing"
    done = run_child(EXIT_WITHOUT_CLOSE[how], str(tmp_path), comp)
    assert done.returncode == {"exception": 1, "sys_exit": 3}.get(how, 0), done.stderr
    if how == "exception":
        assert "the experiment crashed" in done.stderr
    assert "array_logger: error" not in done.stderr
    if comp == "none":
        assert visible(tmp_path) == ["x.db"]
        path = tmp_path / "x.db"
    else:
        assert visible(tmp_path) == ["x.db.zst"]
        path = tmp_path / "x.db.zst"
        assert zstd_decompress(path.read_bytes())[:16] == b"SQLite format 3\x00"
    assert check_prefix(path, 1234) == 1234


# --- (c) kill -9 during close-time compression -------------------------------------------

CLOSE_WITH_COMPRESSION = """
    import sys, array_logger
    lg = array_logger.Logger(sys.argv[1], 19, handle_signals=False)
    lg.register("big", keys=["i"], shape=(256, 64), dtype="float32")
    print("closing", flush=True)
    lg.close()
    print("closed", flush=True)
"""

BIG_ROWS = 60


def big_row(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    return (np.cumsum(rng.standard_normal((256, 64)), axis=1) + i).astype(np.float32)


@pytest.fixture(scope="module")
def pristine_big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    with array_logger.Logger(root, None) as lg:
        lg.register("big", keys=["i"], shape=(256, 64), dtype="float32")
        for i in range(BIG_ROWS):
            lg.log("big", {"i": i}, big_row(i))
    return root / "big.db"


def check_big(path: Path) -> None:
    with array_logger.open_reader(path) as reader:
        b = reader.read_all()
    assert b.keys["i"].tolist() == list(range(BIG_ROWS))
    assert b.arrays.tobytes() == np.stack([big_row(i) for i in range(BIG_ROWS)]).tobytes()


def test_kill_9_during_close_compression(tmp_path: Path, pristine_big_db: Path, private_tmpdir: Path) -> None:
    rnd = random.Random(1234)
    outcomes = []
    # Early kills land in the WAL checkpoint / journal-mode switch, middle ones
    # in the compression (about 1.5 s for this file), the last one after it.
    delays = [0.0, 0.001, 0.003, 0.05] + [rnd.uniform(0.1, 1.3) for _ in range(2)] + [4.0]
    for trial, delay in enumerate(delays):
        root = tmp_path / f"t{trial}"
        root.mkdir()
        shutil.copy(pristine_big_db, root / "big.db")
        child = start_child(CLOSE_WITH_COMPRESSION, str(root))
        try:
            assert child.stdout.readline().strip() == "closing", child.stderr.read()
            if delay < 4.0:
                time.sleep(delay)
            else:
                child.wait(timeout=60)
        finally:
            child.kill()
            out, err = child.communicate(timeout=60)
        files = visible(root)
        db, zst, tmp = root / "big.db", root / "big.db.zst", root / "big.db.zst.tmp"
        assert db.exists() or zst.exists(), files
        assert set(files) <= {"big.db", "big.db.zst", "big.db.zst.tmp", "big.db-wal", "big.db-shm", "big.db-journal"}, files
        outcomes.append("closed" if "closed" in out else ("zst" if zst.exists() else "db"))
        # Whatever is there is complete; a stray .tmp is ignored.
        if db.exists():
            check_big(db)
        if zst.exists():
            check_big(zst)
            raw = zstd_decompress(zst.read_bytes())
            assert raw[:16] == b"SQLite format 3\x00"
        check_big(root / "big.db")  # what a user opens
        # The next register cleans up the stray temporary file and resumes.
        with array_logger.Logger(root, None) as lg:
            lg.register("big", keys=["i"], shape=(256, 64), dtype="float32")
        assert visible(root) == ["big.db"], visible(root)
        check_big(db)
    assert "db" in outcomes  # killed while compressing at least once
    assert outcomes[-1] == "closed"
    assert os.listdir(private_tmpdir) == []


def test_stray_tmp_files_are_ignored_by_the_reader_and_removed_by_register(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "A stray `{name}.db.zst.tmp` is ignored by readers and removed by
    # the next `register` of that name."
    with array_logger.Logger(tmp_path, 3) as lg:
        lg.register("x", keys=["i"], shape=(32,), dtype="float64")
        for i in range(10):
            lg.log("x", {"i": i}, row_x(i))
    # Leftovers of killed runs: a half-written compressed copy and a half
    # decompressed resume.
    (tmp_path / "x.db.zst.tmp").write_bytes((tmp_path / "x.db.zst").read_bytes()[:50])
    (tmp_path / "x.db.tmp").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    assert check_prefix(tmp_path / "x.db", 10) == 10
    assert check_prefix(tmp_path / "x.db.zst", 10) == 10
    resume_and_append(tmp_path, 10, row_x)  # the stale copies removed, nothing lost or duplicated


def test_both_db_and_db_zst_left_by_a_crash(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "When both files exist, `{name}.db` is the newer or identical copy:
    # readers and `register` use it, and `register` removes the stale `.db.zst`."
    """A crash between renaming the new .db.zst into place and removing the
    .db leaves two complete copies: the .db is authoritative, the next
    register removes the stale .db.zst and nothing is lost or duplicated."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(32,), dtype="float64")
        for i in range(20):
            lg.log("x", {"i": i}, row_x(i))
    from al_helpers import zstd_compress
    (tmp_path / "x.db.zst").write_bytes(zstd_compress((tmp_path / "x.db").read_bytes()))
    assert check_prefix(tmp_path / "x.db", 20) == 20
    resume_and_append(tmp_path, 20, row_x)  # the stale copies removed, nothing lost or duplicated


# Logs ROWS rows under the given thresholds, reports it, then idles until
# killed: whatever is on disk afterwards was committed by the thresholds alone.
LOG_THEN_IDLE = """
    import sys, time, numpy as np, array_logger
    rows, commit_rows, commit_seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    lg = array_logger.Logger(sys.argv[1], None)
    lg.register("x", keys=["i"], shape=(32,), dtype="float64",
                commit_threshold_rows=commit_rows, commit_threshold_seconds=commit_seconds)
    for i in range(rows):
        lg.log("x", {"i": i}, np.arange(32, dtype=np.float64) + i * 1000.0)
    print("logged", flush=True)
    while True:
        time.sleep(0.05)
"""


def test_commit_threshold_seconds_commits_without_flush(tmp_path: Path) -> None:
    child = start_child(LOG_THEN_IDLE, str(tmp_path), "40", "1000000", "0.2")
    try:
        assert child.stdout.readline().strip() == "logged"
        deadline = time.monotonic() + 10
        while len(read_rows(tmp_path / "x.db")) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the file, with a deadline
    finally:
        child.kill()
        child.communicate(timeout=30)
    assert check_prefix(tmp_path / "x.db", 40) == 40


def test_commit_threshold_rows_commits_without_flush(tmp_path: Path) -> None:
    child = start_child(LOG_THEN_IDLE, str(tmp_path), "95", "10", "3600")
    try:
        assert child.stdout.readline().strip() == "logged"
        deadline = time.monotonic() + 10
        n = 0
        while n < 90 and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the file, with a deadline
            n = len(read_rows(tmp_path / "x.db"))  # exists since register returned
    finally:
        child.kill()
        child.communicate(timeout=30)
    # 9 whole groups of 10; the last 5 rows were never committed.
    assert check_prefix(tmp_path / "x.db", 90) == 90
