"""The library never changes how a program ends (docs/DURABILITY.md, "How a
program ends"): every normal way out — end of script, sys.exit(n), an
uncaught exception, Ctrl-C, SIGTERM, a pytest session — exits with the status
the program asked for, with loggers, readers and arrays returned by readers
still alive at that moment, and the rows committed (and compressed) on the
way out. The child says when it is ready through a line on stdout."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import child_env

# Everything a program has alive when it ends: an open logger with rows in
# its buffer (one name fed big-endian arrays, which the binding byte-swaps
# through numpy), a reader of an earlier compressed run (a decompressed
# temporary copy) and arrays returned by iterate() and read_all().
PROGRAM = """
    import signal, sys, numpy as np, array_logger
    root, how = sys.argv[1], sys.argv[2]
    with array_logger.Logger(root + "/earlier", compression_level=3) as earlier:
        earlier.register("e", keys=["i"], shape=(3,), dtype="float32")
        for i in range(5):
            earlier.log("e", {"i": i}, np.full(3, i, np.float32))
    reader = array_logger.open_reader(root + "/earlier/e.db")
    kept_rows = list(reader.iterate())
    kept_batch = reader.read_all()
    array_logger.init(root + "/run", compression_level=3)
    array_logger.register("x", keys=["i", "t"], shape=(4,), dtype="float32",
                          commit_threshold_rows=1_000_000, commit_threshold_seconds=3600)
    native = np.arange(4, dtype=np.float32)
    for i in range(300):
        array_logger.log("x", {"i": i, "t": i * 0.5}, (native + i).astype(">f4"))
    if how == "end":
        pass
    elif how == "sys_exit":
        sys.exit(3)
    elif how == "exception":
        raise ValueError("the experiment failed")
    elif how == "close_then_iterate":
        array_logger.close()
        own = array_logger.open_reader(root + "/run/x.db")
        kept_own = list(own.iterate())
    else:  # wait for a signal from the test
        print("ready", flush=True)
        sys.stdin.readline()
"""

EXPECTED_STATUS = {
    "end": 0,
    "sys_exit": 3,
    "exception": 1,
    "close_then_iterate": 0,
    "sigint": -signal.SIGINT,  # KeyboardInterrupt unwinds, then Python ends by the signal
    "sigterm": -signal.SIGTERM,
}


def check_run_rows(root: Path) -> None:
    """The 300 rows the program logged, committed and compressed at exit."""
    assert not (root / "run" / "x.db").exists()
    with array_logger.open_reader(root / "run" / "x.db") as reader:
        batch = reader.read_all()
    assert batch.keys["i"].tolist() == list(range(300))
    assert batch.keys["t"].tolist() == [i * 0.5 for i in range(300)]
    assert batch.arrays.dtype == np.float32
    assert np.array_equal(batch.arrays, np.arange(4, dtype=np.float32) + np.arange(300, dtype=np.float32)[:, None])


@pytest.mark.parametrize("how", sorted(EXPECTED_STATUS))
def test_program_ends_with_the_status_it_asked_for(tmp_path: Path, how: str) -> None:
    tmpdir = tmp_path / "tmpdir"  # the reader's decompressed copy goes here
    tmpdir.mkdir()
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PROGRAM), str(tmp_path), how],
                             env=child_env(TMPDIR=str(tmpdir)), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if how in ("sigint", "sigterm"):
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        child.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
    out, err = child.communicate(timeout=120)
    assert child.returncode == EXPECTED_STATUS[how], err
    assert "Segmentation fault" not in err and "Fatal Python error" not in err, err
    if how == "exception":
        assert "ValueError: the experiment failed" in err
    check_run_rows(tmp_path)
    assert list((tmp_path / "earlier").iterdir()) == [tmp_path / "earlier" / "e.db.zst"]
    assert list(tmpdir.iterdir()) == []  # the reader's temporary copy is gone


# A pytest session as in the report of the crash at exit: logs a big-endian
# array into a float32 name, closes, reads back with iterate(), and leaves a
# reader and the returned arrays referenced by the module when pytest ends.
PYTEST_SESSION = '''
import numpy as np
import array_logger

KEPT = []


def test_log_big_endian_close_iterate(tmp_path):
    array_logger.init(str(tmp_path), compression_level=None)
    array_logger.register("x", keys=["i"], shape=(4,), dtype="float32")
    native = np.arange(4, dtype=np.float32)
    for i in range(10):
        array_logger.log("x", {"i": i}, (native + i).astype(">f4"))
    array_logger.close()
    reader = array_logger.open_reader(str(tmp_path / "x.db"))
    rows = list(reader.iterate())
    KEPT.extend([reader, rows, reader.read_all()])
    assert [k["i"] for k, _ in rows] == list(range(10))
    assert all(np.array_equal(a, native + k["i"]) for k, a in rows)


def test_logger_left_open(tmp_path):
    lg = array_logger.Logger(str(tmp_path), compression_level=3)
    lg.register("y", keys=["i"], shape=(2,), dtype="float64")
    lg.log("y", {"i": 0}, np.zeros(2, ">f8"))
    KEPT.append(lg)
'''


@pytest.mark.parametrize("outcome", ["pass", "fail"])
def test_pytest_session_exits_with_pytests_own_status(tmp_path: Path, outcome: str) -> None:
    test_file = tmp_path / "test_session.py"
    extra = "\n\ndef test_fails():\n    assert False\n" if outcome == "fail" else ""
    test_file.write_text(PYTEST_SESSION + extra)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                          cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == (0 if outcome == "pass" else 1), proc.stdout + proc.stderr
    assert ("2 passed" if outcome == "pass" else "1 failed, 2 passed") in proc.stdout, proc.stdout


def test_exit_without_any_logger_after_importing_the_binding(tmp_path: Path) -> None:
    """Importing the package, converting inputs and reading, without ever
    creating a Logger, also ends cleanly."""
    code = """
        import sys, numpy as np, array_logger
        try:
            array_logger.log("x", {"i": 0}, np.zeros(1, ">f4"))
        except array_logger.StateError:
            print("not initialized", flush=True)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=child_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "not initialized"
