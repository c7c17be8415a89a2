"""Kill the process at every named step of close, resume and commit, and check
the files after each: deterministic crash-ordering tests.

The core has named crash points on those paths (cpp/src/os/crash_point.hpp):
with ARRAY_LOGGER_CRASH_AT=<step>[:<n>] a child kills itself with SIGKILL
exactly there. After each kill the test checks which files exist, that every
copy present is complete (byte for byte what was logged), and that the next
run of the program recovers: register cleans up and resumes, nothing is lost
or duplicated.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Dict, FrozenSet

import numpy as np
import pytest

import array_logger
from al_helpers import check_logged_rows, child_env, resume_and_append, run_child, visible_files, zstd_decompress

ROWS = 300


def row(i: int) -> np.ndarray:
    return np.arange(64, dtype=np.float64) * 0.5 + i


files = visible_files


def check_rows(path: Path, n: int) -> None:
    check_logged_rows(path, n, row)


def run_killed(code: str, root: Path, step: str, *args: str) -> subprocess.CompletedProcess:
    done = run_child(code, str(root), *args, env=child_env(ARRAY_LOGGER_CRASH_AT=step))
    assert done.returncode == -signal.SIGKILL, (step, done.returncode, done.stderr)
    assert f"array_logger: crash point {step.split(':')[0]}" in done.stderr, done.stderr
    return done


def make_run(root: Path, compression) -> None:
    with array_logger.Logger(root, compression) as lg:
        lg.register("x", keys=["i"], shape=(64,), dtype="float64")
        for i in range(ROWS):
            lg.log("x", {"i": i}, row(i))


# --- close --------------------------------------------------------------------------------------

CLOSE = """
    import sys, numpy as np, array_logger
    lg = array_logger.Logger(sys.argv[1], 3, handle_signals=False, compression_mode=sys.argv[2])
    lg.register("x", keys=["i"], shape=(64,), dtype="float64")
    lg.close()
"""

# Every step of close(), in order, and the files a kill there leaves.
CLOSE_STEPS: Dict[str, FrozenSet[str]] = {
    "close.after_checkpoint": frozenset({"x.db", "x.db-wal", "x.db-shm"}),
    "close.after_journal_delete": frozenset({"x.db"}),
    "close.before_compress": frozenset({"x.db"}),
    "close.compress.before_fsync": frozenset({"x.db", "x.db.zst.tmp"}),
    "close.after_tmp_fsync": frozenset({"x.db", "x.db.zst.tmp"}),
    "close.after_rename": frozenset({"x.db", "x.db.zst"}),
    "close.after_rename_dir_fsync": frozenset({"x.db", "x.db.zst"}),
    "close.after_unlink": frozenset({"x.db.zst"}),
    "close.after_unlink_dir_fsync": frozenset({"x.db.zst"}),
}


@pytest.mark.parametrize("mode", ["adaptive", "plain"])  # two compressors, one order of steps
@pytest.mark.parametrize("step", list(CLOSE_STEPS))
def test_kill_at_every_step_of_close(tmp_path: Path, step: str, mode: str) -> None:
    """README.md: "A crash at any moment leaves a complete `.db` or a complete
    `.db.zst`." docs/DURABILITY.md: "A kill at any moment leaves a complete
    `{name}.db` or a complete `{name}.db.zst` (or both, identical)."
    docs/FORMAT.md section 7: "At every moment a complete `NAME.db` or a
    complete `NAME.db.zst` exists.\""""
    root = tmp_path / "logs"
    make_run(root, None)  # x.db with ROWS rows, closed
    run_killed(CLOSE, root, step, mode)
    left = files(root)
    assert left == CLOSE_STEPS[step], left
    db, zst = root / "x.db", root / "x.db.zst"
    if "x.db" in left:
        check_rows(db, ROWS)
    if "x.db.zst" in left:
        check_rows(zst, ROWS)
        if "x.db" in left:  # both: identical contents
            assert zstd_decompress(zst.read_bytes()) == db.read_bytes()
    check_rows(root / "x.db", ROWS)  # what a user opens: .db, else .db.zst
    resume_and_append(root, ROWS, row)


# --- resume -------------------------------------------------------------------------------------

RESUME = """
    import sys, numpy as np, array_logger
    lg = array_logger.Logger(sys.argv[1], 3, handle_signals=False)
    lg.register("x", keys=["i"], shape=(64,), dtype="float64")
    lg.log("x", {"i": 300}, np.arange(64, dtype=np.float64) * 0.5 + 300)
    lg.close()
"""

RESUME_STEPS: Dict[str, FrozenSet[str]] = {
    "decompress.before_fsync": frozenset({"x.db.zst", "x.db.tmp"}),
    "resume.after_tmp_fsync": frozenset({"x.db.zst", "x.db.tmp"}),
    "resume.after_rename": frozenset({"x.db.zst", "x.db"}),
    "resume.after_rename_dir_fsync": frozenset({"x.db.zst", "x.db"}),
    # (the database is open, in WAL mode: its -wal/-shm appear with the first write)
    "resume.before_unlink_zst": frozenset({"x.db.zst", "x.db"}),
    "resume.after_unlink_zst": frozenset({"x.db"}),
}


@pytest.mark.parametrize("step", list(RESUME_STEPS))
def test_kill_at_every_step_of_resume(tmp_path: Path, step: str) -> None:
    """docs/FORMAT.md section 7: "Resuming (`register`): decompress to
    `NAME.db.tmp`, fsync, rename to `NAME.db`, then remove `NAME.db.zst`."
    A kill at any of those steps leaves the run's rows complete in the
    .db.zst or the .db, and the next register resumes without loss."""
    root = tmp_path / "logs"
    make_run(root, 3)  # x.db.zst with ROWS rows
    original = (root / "x.db.zst").read_bytes()
    run_killed(RESUME, root, step)
    left = files(root)
    assert left == RESUME_STEPS[step], left
    if "x.db" in left:
        check_rows(root / "x.db", ROWS)
    if "x.db.zst" in left:
        assert (root / "x.db.zst").read_bytes() == original  # never modified in place
        check_rows(root / "x.db.zst", ROWS)
    resume_and_append(root, ROWS, row)


# --- commit -------------------------------------------------------------------------------------

COMMITS = """
    import sys, numpy as np, array_logger
    lg = array_logger.Logger(sys.argv[1], None, handle_signals=False)
    lg.register("x", keys=["i"], shape=(64,), dtype="float64", commit_threshold_rows=10,
                commit_threshold_seconds=3600)
    for i in range(100):
        lg.log("x", {"i": i}, np.arange(64, dtype=np.float64) * 0.5 + i)
    lg.close()
"""


@pytest.mark.parametrize("step, committed", [
    ("commit.before:1", 0), ("commit.after:1", 10),
    ("commit.before:4", 30), ("commit.after:4", 40),
    ("commit.before:10", 90), ("commit.after:10", 100),
])
def test_kill_before_and_after_a_commit(tmp_path: Path, step: str, committed: int) -> None:
    """docs/DURABILITY.md: "The loss window on `kill -9` ... is exactly the
    uncommitted tail": killed just before the k-th commit of 10-row groups,
    exactly 10·(k-1) rows survive; just after it, 10·k."""
    root = tmp_path / "logs"
    root.mkdir()
    run_killed(COMMITS, root, step)
    assert files(root) == {"x.db", "x.db-wal", "x.db-shm"}, files(root)
    check_rows(root / "x.db", committed)
    with array_logger.Logger(root, 3, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=(64,), dtype="float64")
        for i in range(committed, ROWS):
            lg.log("x", {"i": i}, row(i))
    check_rows(root / "x.db.zst", ROWS)


def test_every_crash_point_of_the_core_is_killed_by_a_test() -> None:
    """The names in cpp/src are exactly the steps these tests kill at: a new
    crash point without a test (or a test of a removed one) fails here."""
    import re

    src = Path(__file__).resolve().parent.parent / "cpp" / "src"
    names = set()
    for f in src.rglob("*.cpp"):
        text = f.read_text(encoding="utf-8")
        names |= set(re.findall(r'crash_point\("([\w.]+)"\)', text))
        names |= set(re.findall(r'durable_rename\([^;{]*"([\w.]+)"\)', text))  # calls, not the definition
    tested = set(CLOSE_STEPS) | set(RESUME_STEPS) | {"commit.before", "commit.after"}
    assert names == tested, (sorted(names - tested), sorted(tested - names))
