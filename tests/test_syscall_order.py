"""The crash-safe orderings, seen as the system calls a crash would interrupt.

Each test runs a child under strace and checks the order of its opens,
fsyncs, renames and unlinks on the logger's directory: a reordering (remove
the .db before the .db.zst is in place, rename before the fsync, decompress
straight into the .db) is caught without depending on when a kill lands.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import read_rows
from syscall_trace import Call, index, parse, trace_child

LOG_AND_CLOSE = """
    import sys, numpy as np, array_logger
    lg = array_logger.Logger(sys.argv[1], int(sys.argv[2]), handle_signals=False)
    lg.register("x", keys=["i"], shape=(64,), dtype="float64")
    for i in range(300):
        lg.log("x", {"i": i}, np.arange(64, dtype=np.float64) + i)
    lg.close()
"""


def rows_ok(path: Path, n: int) -> None:
    rows = read_rows(path)
    assert [k["i"] for k, _ in rows] == list(range(n))
    for i, (_, a) in enumerate(rows):
        assert a.tobytes() == (np.arange(64, dtype=np.float64) + i).tobytes(), i


def test_a_call_split_by_another_threads_call_is_read_whole(tmp_path: Path) -> None:
    """Under load strace splits a worker thread's fsync around another
    thread's call; the parser joins it again (else the fsync looked missing)."""
    root = str(tmp_path.resolve())
    lines = [f'11  fsync(5<{root}/x.db.zst.tmp> <unfinished ...>',
             f'12  unlink("{root}/y.db") = 0',
             '11  <... fsync resumed>)           = 0']
    assert parse(lines, tmp_path) == [Call("unlink", "y.db"), Call("fsync", "x.db.zst.tmp")]


def test_musls_open_reads_like_glibcs_openat(tmp_path: Path) -> None:
    """musl on x86_64 opens with the open system call, glibc with openat: the
    same Call, flags included (the musllinux wheel's suite, docs/WHEELS.md)."""
    root = str(tmp_path.resolve())
    glibc = f'7  openat(AT_FDCWD</tmp>, "{root}/x.db.zst.tmp", O_WRONLY|O_CREAT|O_EXCL, 0644) = 5'
    musl = f'7  open("{root}/x.db.zst.tmp", O_WRONLY|O_CREAT|O_EXCL, 0644) = 5'
    expected = [Call("open", "x.db.zst.tmp", flags="O_WRONLY|O_CREAT|O_EXCL")]
    assert parse([glibc], tmp_path) == expected
    assert parse([musl], tmp_path) == expected


def test_close_compresses_in_the_crash_safe_order(tmp_path: Path) -> None:
    # Proves docs/FORMAT.md: "Writing (at `close()`, crash-safe): compress `NAME.db` into
    # `NAME.db.zst.tmp`, fsync it, rename it to `NAME.db.zst`, fsync the directory, then remove
    # `NAME.db` and fsync the directory."
    """README.md: "With compression, `close()` checkpoints and closes each
    database, writes `{name}.db.zst.tmp`, fsyncs it, renames it to
    `{name}.db.zst`, fsyncs the directory, and only then removes `{name}.db`.
    A crash at any moment leaves a complete `.db` or a complete `.db.zst`."
    (docs/DURABILITY.md "Close-time compression" steps 1-4, docs/FORMAT.md section 7.)"""
    root = tmp_path / "logs"
    calls = trace_child(LOG_AND_CLOSE, root, "3")
    # Step 1: the WAL is checkpointed into x.db and removed before compressing.
    wal_gone = index(calls, Call("unlink", "x.db-wal"))
    create_tmp = next(i for i, c in enumerate(calls) if c.op == "open" and c.path == "x.db.zst.tmp")
    assert "O_CREAT" in calls[create_tmp].flags
    # Step 2..4, in this order and nothing in between that touches x.db.
    sync_tmp = index(calls, Call("fsync", "x.db.zst.tmp"))
    rename = index(calls, Call("rename", "x.db.zst.tmp", "x.db.zst"))
    sync_dir_after_rename = next(i for i in range(rename + 1, len(calls)) if calls[i] == Call("fsync", "."))
    remove_db = index(calls, Call("unlink", "x.db"))
    sync_dir_after_remove = next(i for i in range(remove_db + 1, len(calls)) if calls[i] == Call("fsync", "."))
    order = [wal_gone, create_tmp, sync_tmp, rename, sync_dir_after_rename, remove_db, sync_dir_after_remove]
    assert order == sorted(order), "\n".join(map(str, calls))
    # x.db is never written, truncated or removed before the .db.zst is durable.
    for c in calls[create_tmp:sync_dir_after_rename]:
        assert not (c.path == "x.db" and (c.op in ("unlink", "rename") or "O_TRUNC" in c.flags)), c
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["x.db.zst"]
    rows_ok(root / "x.db.zst", 300)


RESUME = """
    import sys, numpy as np, array_logger
    lg = array_logger.Logger(sys.argv[1], 3, handle_signals=False)
    lg.register("x", keys=["i"], shape=(64,), dtype="float64")
    lg.log("x", {"i": 300}, np.arange(64, dtype=np.float64) + 300)
    lg.close()
"""


def test_resume_decompresses_through_a_temporary_file(tmp_path: Path) -> None:
    """docs/DURABILITY.md: "Resuming a compressed run decompresses
    `{name}.db.zst` completely and durably (temporary file, fsync, rename)
    before appending." docs/FORMAT.md section 7: "Resuming (`register`):
    decompress to `NAME.db.tmp`, fsync, rename to `NAME.db`, then remove
    `NAME.db.zst`.\""""
    root = tmp_path / "logs"
    with array_logger.Logger(root, 3) as lg:
        lg.register("x", keys=["i"], shape=(64,), dtype="float64")
        for i in range(300):
            lg.log("x", {"i": i}, np.arange(64, dtype=np.float64) + i)
    calls = trace_child(RESUME, root)
    create_tmp = next(i for i, c in enumerate(calls)
                      if c.op == "open" and c.path == "x.db.tmp" and "O_CREAT" in c.flags)
    sync_tmp = index(calls, Call("fsync", "x.db.tmp"))
    rename = index(calls, Call("rename", "x.db.tmp", "x.db"))
    sync_dir = next(i for i in range(rename + 1, len(calls)) if calls[i] == Call("fsync", "."))
    remove_zst = index(calls, Call("unlink", "x.db.zst"))
    assert create_tmp < sync_tmp < rename < sync_dir < remove_zst, "\n".join(map(str, calls))
    # Nothing opens x.db itself before the complete copy is renamed into place.
    assert not [c for c in calls[:rename] if c.op == "open" and c.path == "x.db"], "\n".join(map(str, calls))
    rows_ok(root / "x.db.zst", 301)


SYNC_RUN = """
    import sys, numpy as np, array_logger
    kw = {} if sys.argv[2] == "default" else {"synchronous": sys.argv[2]}
    lg = array_logger.Logger(sys.argv[1], None, handle_signals=False, **kw)
    lg.register("x", keys=["i"], shape=(4,), dtype="float32", commit_threshold_rows=1)
    lg.log("x", {"i": 0}, np.zeros(4, np.float32))
    lg.flush()
    open(sys.argv[1] + "/begin.marker", "w").close()
    for i in range(1, 41):
        lg.log("x", {"i": i}, np.full(4, i, np.float32))
        lg.flush()
    open(sys.argv[1] + "/end.marker", "w").close()
    lg.close()
"""


def _opened(calls, name: str) -> int:
    return next(i for i, c in enumerate(calls) if c.op == "open" and c.path == name)


def _syncs(calls) -> int:
    return sum(1 for c in calls if c.op == "fsync" and c.path.startswith("x.db"))


@pytest.mark.parametrize("synchronous", ["full", "normal", "off", "default"])
def test_synchronous_reaches_the_writers_connection(tmp_path: Path, synchronous: str) -> None:
    """README.md: "`synchronous="normal"` (default) also survives power loss
    except for the last commits; `"full"` loses none; `"off"` is fastest and
    still survives a killed process." Observed as SQLite does it in WAL mode:
    FULL syncs the WAL at every commit, NORMAL only at checkpoints, OFF never."""
    root = tmp_path / "logs"
    root.mkdir()
    calls = trace_child(SYNC_RUN, root, synchronous)
    begin, end = _opened(calls, "begin.marker"), _opened(calls, "end.marker")
    during_commits, at_close = _syncs(calls[begin:end]), _syncs(calls[end:])
    if synchronous == "full":
        assert during_commits >= 40, "\n".join(map(str, calls))   # one per commit
    elif synchronous in ("normal", "default"):
        assert during_commits == 0, "\n".join(map(str, calls))
        assert at_close >= 1  # the checkpoint at close syncs
    else:
        assert during_commits == 0 and at_close == 0, "\n".join(map(str, calls))
    rows = read_rows(root / "x.db")
    assert [k["i"] for k, _ in rows] == list(range(41))
    assert [a.tolist() for _, a in rows] == [[float(i)] * 4 for i in range(41)]
