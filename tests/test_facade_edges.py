"""Edges of the Python facade the other tests do not reach: argument
normalisation errors, reprs, the module-level log_many, the exit handler
reporting a close error, SIGTERM handler installation outside the main thread,
and a forked child's exit leaving the parent's logger alone."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import read_rows, run_child


@pytest.mark.parametrize("shape, expected", [(5, (5,)), (np.int64(3), (3,)), ([2, np.int32(4)], (2, 4))])
def test_shape_forms(tmp_path: Path, shape, expected) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=shape, dtype="int16")
        lg.log("x", {"i": 0}, np.arange(int(np.prod(expected)), dtype=np.int16).reshape(expected))
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        assert reader.shape == expected
        assert [a.tolist() for _, a in reader.iterate()] == [np.arange(int(np.prod(expected))).reshape(expected).tolist()]


@pytest.mark.parametrize("kwargs, message", [
    ({"shape": 3.5}, "shape must be a sequence of ints"),
    ({"shape": (2, "a")}, "shape must be a sequence of ints"),
    ({"dtype": object()}, "is not a numpy dtype"),
    ({"keys": ["i", 7]}, "key names must be str"),
    ({"name": 12}, "name must be a str"),
])
def test_bad_register_arguments_name_the_problem(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"name": "x", "keys": ["i"], "shape": (2,), "dtype": "float32", **kwargs}
    with array_logger.Logger(tmp_path, None) as lg:
        with pytest.raises(ValueError, match=message):
            lg.register(**args)
        lg.register("ok", keys=["i"], shape=(1,), dtype="int8")  # still usable
        lg.log("ok", {"i": 1}, np.array([7], np.int8))
    assert [(k["i"], a.tolist()) for k, a in read_rows(tmp_path / "ok.db")] == [(1, [7])]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["ok.db"]


def test_reprs_name_the_path_and_state(tmp_path: Path) -> None:
    lg = array_logger.Logger(tmp_path, None)
    lg.register("x", keys=["i"], shape=(2,), dtype="float32")
    assert repr(lg) == f"<array_logger.Logger {str(tmp_path)!r} open names=['x']>"
    lg.close()
    assert repr(lg).startswith("<array_logger.Logger ") and " closed " in repr(lg)
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        assert repr(reader) == (f"<array_logger.ArrayReader {str(tmp_path / 'x.db')!r} shape=(2,) "
                                "dtype=float32 keys=['i']>")


def test_module_level_log_many(in_tmp_cwd: Path) -> None:
    array_logger.init("./logs", compression_level=None)
    array_logger.register("loss", keys=["episode"], shape=(1,), dtype="float32")
    array_logger.log_many("loss", {"episode": [0, 1, 2]}, np.array([[0.5], [0.25], [0.125]], np.float32))
    array_logger.close()
    assert [(k["episode"], a.tolist()) for k, a in read_rows(in_tmp_cwd / "logs" / "loss.db")] == \
        [(0, [0.5]), (1, [0.25]), (2, [0.125])]


def test_exit_handler_reports_a_close_error_and_exits_normally(tmp_path: Path) -> None:
    """A logger whose writes failed and that the program never closed: the
    exit handler closes it, prints the error instead of raising at exit, and
    the committed rows stay readable."""
    done = run_child("""
        import resource, signal, sys, numpy as np, array_logger
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))
        lg = array_logger.Logger(sys.argv[1], None, handle_signals=False)
        lg.register("x", keys=["i"], shape=(1024,), dtype="float32", commit_threshold_rows=10)
        flushed = 0
        try:
            for i in range(100_000):
                lg.log("x", {"i": i}, np.full(1024, i, np.float32))
                if i % 20 == 19:
                    lg.flush()
                    flushed = i + 1
        except OSError:
            print("failed after", flushed, flush=True)
    """, str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "array_logger: error closing <array_logger.Logger" in done.stderr, done.stderr
    flushed = int(done.stdout.split()[-1])
    rows = read_rows(tmp_path / "x.db")
    assert len(rows) >= flushed > 0
    assert [k["i"] for k, _ in rows] == list(range(len(rows)))


def test_sigterm_handler_is_installed_only_from_the_main_thread(tmp_path: Path) -> None:
    done = run_child("""
        import signal, sys, threading, array_logger
        from array_logger import _lifecycle
        got = []
        t = threading.Thread(target=lambda: got.append(array_logger.Logger(sys.argv[1] + "/a", None)))
        t.start(); t.join()
        print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, _lifecycle.previous_sigterm_handler())
        got[0].close()
        with array_logger.Logger(sys.argv[1] + "/b", None):
            print(signal.getsignal(signal.SIGTERM) is _lifecycle._on_sigterm,
                  _lifecycle.previous_sigterm_handler() is signal.SIG_DFL)
    """, str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "None", "True", "True"]


def test_forked_child_exiting_normally_leaves_the_parents_logger_alone(tmp_path: Path) -> None:
    """The child's exit handlers skip the logger inherited through fork()."""
    done = run_child("""
        import os, sys, warnings, numpy as np, array_logger
        lg = array_logger.Logger(sys.argv[1], None, handle_signals=False)
        lg.register("x", keys=["i"], shape=(1,), dtype="int64", commit_threshold_rows=1000)
        for i in range(5):
            lg.log("x", {"i": i}, np.array([i]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            sys.exit(0)  # normal exit: atexit handlers run in the child
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status), flush=True)
        for i in range(5, 10):
            lg.log("x", {"i": i}, np.array([i]))
        lg.close()
    """, str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["child", "0"]
    assert "error" not in done.stderr
    assert [(k["i"], int(a[0])) for k, a in read_rows(tmp_path / "x.db")] == [(i, i) for i in range(10)]
