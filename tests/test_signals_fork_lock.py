"""SIGTERM, fork() and two writers of one name: real processes, real signals."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import array_logger


def _run_child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(db: Path) -> list:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute("SELECT i FROM array_log ORDER BY rowid").fetchall()


CHILD_LOGGING_FOREVER = """
    import sys, numpy as np, array_logger
    root = sys.argv[1]
    array_logger.init(root, compression_level=None)
    array_logger.register("x", keys=["i"], shape=(4,), dtype="float32",
                          commit_threshold_rows=1_000_000, commit_threshold_seconds=3600)
    a = np.arange(4, dtype=np.float32)
    for i in range(1000):
        array_logger.log("x", {"i": i}, a + i)
    print("logged", flush=True)
    import time
    while True:
        time.sleep(0.05)
"""


def test_sigterm_commits_buffered_rows_and_the_process_still_dies(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "re-raises SIGTERM with the default action (the process ends with
    # the signal, as the scheduler expects)"
    child = _run_child(CHILD_LOGGING_FOREVER, str(tmp_path))
    assert child.stdout.readline().strip() == "logged"
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGTERM  # ended by the signal, as it asked
    assert [r[0] for r in _rows(tmp_path / "x.db")] == list(range(1000))
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        batch = reader.read_all()
    np.testing.assert_array_equal(batch.arrays, np.arange(4, dtype=np.float32) + np.arange(1000)[:, None])


def test_sigterm_chains_to_the_programs_own_handler(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "calls the program's own Python handler"
    code = """
        import signal, sys, time, numpy as np
        def mine(signum, frame):
            print("own handler ran", flush=True)
            sys.exit(7)
        signal.signal(signal.SIGTERM, mine)
        import array_logger
        array_logger.init(sys.argv[1], compression_level=None)
        array_logger.register("x", keys=["i"], shape=(1,), dtype="int64",
                              commit_threshold_rows=1_000_000, commit_threshold_seconds=3600)
        for i in range(10):
            array_logger.log("x", {"i": i}, np.array([i]))
        print("logged", flush=True)
        while True:
            time.sleep(0.05)
    """
    child = _run_child(code, str(tmp_path))
    assert child.stdout.readline().strip() == "logged"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    assert "own handler ran" in out
    assert child.returncode == 7
    assert len(_rows(tmp_path / "x.db")) == 10


def test_signal_handling_can_be_switched_off(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "`Logger(..., handle_signals=False)` (or `init(...,
    # handle_signals=False)`) leaves signal handling alone."
    code = """
        import sys, signal, array_logger
        before = signal.getsignal(signal.SIGTERM)
        lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False)
        assert signal.getsignal(signal.SIGTERM) is before
        lg.close()
        print("ok")
    """
    child = _run_child(code, str(tmp_path))
    out, err = child.communicate(timeout=30)
    assert out.strip() == "ok", err


def test_forked_child_cannot_use_the_parents_logger(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "Using it in the child raises `StateError`; the child's exit
    # handlers skip it, so the parent's files are never touched by the child."
    lg = array_logger.Logger(tmp_path, compression_level=None, handle_signals=False)
    lg.register("x", keys=["i"], shape=(2,), dtype="int32")
    for i in range(50):
        lg.log("x", {"i": i}, np.array([i, i], dtype=np.int32))
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a process with threads (ours
        # has the writer thread): exactly the situation under test.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            lg.log("x", {"i": 999}, np.array([9, 9], dtype=np.int32))
        except array_logger.StateError as exc:
            code = 0 if "fork" in str(exc) else 2
        except BaseException:
            code = 3
        if code == 0:
            # Dropped in the child, the parent's logger is left alone (no
            # writer thread to join here, files that are the parent's).
            del lg
            gc.collect()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    for i in range(50, 100):
        lg.log("x", {"i": i}, np.array([i, i], dtype=np.int32))
    lg.close()
    assert [r[0] for r in _rows(tmp_path / "x.db")] == list(range(100))
    with sqlite3.connect(tmp_path / "x.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_second_writer_of_a_name_gets_a_clear_error_at_register(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "A second writer of the same name — another process, or a second
    # open `Logger` in the same process — gets `StateError` at `register`, never a corrupt or
    # interleaved file"
    child = _run_child(CHILD_LOGGING_FOREVER, str(tmp_path))
    try:
        assert child.stdout.readline().strip() == "logged"
        lg = array_logger.Logger(tmp_path, compression_level=None, handle_signals=False)
        with pytest.raises(array_logger.StateError, match="another"):
            lg.register("x", keys=["i"], shape=(4,), dtype="float32")
        lg.register("y", keys=["i"], shape=(4,), dtype="float32")  # other names are fine
        lg.close()
    finally:
        child.kill()
        child.communicate()
    # The killed writer's name is free again: register resumes it.
    lg = array_logger.Logger(tmp_path, compression_level=None, handle_signals=False)
    lg.register("x", keys=["i"], shape=(4,), dtype="float32")
    lg.close()


def test_same_name_again_after_close_in_one_process(tmp_path: Path) -> None:
    first = array_logger.Logger(tmp_path, compression_level=3, handle_signals=False)
    first.register("x", keys=["i"], shape=(1,), dtype="int64")
    first.log("x", {"i": 0}, np.array([0]))
    first.close()  # `first` stays referenced: its lock must be gone anyway
    second = array_logger.Logger(tmp_path, compression_level=3, handle_signals=False)
    second.register("x", keys=["i"], shape=(1,), dtype="int64")
    second.log("x", {"i": 1}, np.array([1]))
    second.close()
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        assert reader.read_all().keys["i"].tolist() == [0, 1]


def test_ctrl_c_commits_everything_logged_before_it(tmp_path: Path) -> None:
    code = """
        import sys, time, numpy as np, array_logger
        array_logger.init(sys.argv[1], compression_level=3)
        array_logger.register("x", keys=["i"], shape=(4,), dtype="float32",
                              commit_threshold_rows=1_000_000, commit_threshold_seconds=3600)
        i = 0
        while True:  # an experiment loop, interrupted by Ctrl-C
            array_logger.log("x", {"i": i}, np.full(4, i, np.float32))
            i += 1
            if i == 5000:
                print("logging", flush=True)
    """
    child = _run_child(code, str(tmp_path))
    try:
        assert child.stdout.readline().strip() == "logging"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()  # a child that did not stop would log forever
    assert "KeyboardInterrupt" in err
    assert sorted(os.listdir(tmp_path)) == ["x.db.zst"]  # closed and compressed at exit
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        batch = reader.read_all()
    n = len(batch.arrays)
    assert n >= 5000
    assert batch.keys["i"].tolist() == list(range(n))
    assert np.array_equal(batch.arrays[:, 0], np.arange(n, dtype=np.float32))
