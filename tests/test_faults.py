"""Faults done for real to real processes: several writers racing for one
name, a reader in another process while logging, a full disk (file-size
limit and a small tmpfs), unusable roots, a writer killed inside a
rollback-journal transaction, and the reader's temporary copies at garbage
collection, exit and SIGTERM. Every case ends in a clear error or correct
data, never a hang (every child runs under a timeout)."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import array_logger


def run_child(code: str, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=timeout, **kw)


def start_child(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def integrity(db: Path) -> str:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()  # (a `with` block would leave it open: it only commits)


def visible(root: Path) -> list:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


# --- several processes logging one name --------------------------------------------------

WRITER_OF_X = """
    import sys, time, numpy as np, array_logger
    root, proc, retry = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "retry"
    lg = array_logger.Logger(root, compression_level=None, handle_signals=False)
    print("ready", flush=True)
    sys.stdin.readline()  # all processes go at once
    deadline, delay = time.monotonic() + 120, 0.002
    while True:
        try:
            lg.register("x", keys=["proc", "i"], shape=(1,), dtype="int64")
            break
        except array_logger.StateError as exc:
            if not retry or time.monotonic() > deadline:
                print("locked:", exc, flush=True)
                sys.exit(0)
            time.sleep(delay)  # another process has the name: back off, try again
            delay = min(2 * delay, 0.1)
    print("registered", flush=True)
    values = proc * 1_000_000 + np.arange(50_000, dtype=np.int64)
    for i in range(50_000):
        lg.log("x", {"proc": proc, "i": i}, values[i:i + 1])
    lg.close()
    print("done", flush=True)
"""


@pytest.mark.parametrize("retry", [False, True], ids=["fail_at_register", "retry_until_free"])
def test_four_processes_logging_one_name(tmp_path: Path, retry: bool) -> None:
    """One writer per name (flock): the others get StateError at register —
    never mid-way. Retrying processes all get their turn."""
    procs = [start_child(WRITER_OF_X, str(tmp_path), str(p), "retry" if retry else "once", stdin=subprocess.PIPE)
             for p in range(4)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    succeeded = []
    for proc, (out, _) in enumerate(outs):
        lines = out.split("\n")
        if lines[0] == "registered":
            assert lines[1] == "done", out  # a process that got the name logged everything
            succeeded.append(proc)
        else:  # or it failed at register, with the reason, and logged nothing
            assert lines[0].startswith("locked: ") and "another" in lines[0], out
    assert succeeded, outs
    if retry:
        assert succeeded == [0, 1, 2, 3]
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        batch = reader.read_all()
    assert len(batch.arrays) == 50_000 * len(succeeded)
    pairs = batch.keys["proc"] * 1_000_000 + batch.keys["i"]
    assert len(np.unique(pairs)) == len(pairs)  # no duplicates
    assert np.array_equal(batch.arrays[:, 0], pairs)
    assert sorted(set(batch.keys["proc"].tolist())) == succeeded
    for proc in succeeded:  # each process's rows complete and in logging order
        assert batch.keys["i"][batch.keys["proc"] == proc].tolist() == list(range(50_000))
    assert integrity(tmp_path / "x.db") == "ok"
    assert visible(tmp_path) == ["x.db"] and not (tmp_path / ".x.lock").exists()


# --- a reader in another process while logging ----------------------------------------------

@pytest.mark.parametrize("journal", ["wal", "rollback"])
def test_reader_in_another_process_sees_a_growing_committed_prefix(tmp_path: Path, journal: str) -> None:
    # Proves docs/DURABILITY.md: "A reader in another process sees only committed rows"
    """commit_threshold_rows=50: the reader sees whole commit groups only, a
    prefix of the logged sequence that only grows, byte for byte; the writer
    is not held up by it. Both journal modes (docs/DESIGN.md, "Journal
    modes"): with a rollback journal the reader waits while a commit is
    written, never fails (synchronous="off" there only to spare the test
    2,000 fsyncs; the locking is the same)."""
    writer = start_child("""
        import sys, time, numpy as np, array_logger
        lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False,
                                 synchronous="normal" if sys.argv[2] == "wal" else "off")
        lg.register("x", keys=["i"], shape=(8,), dtype="int32", commit_threshold_rows=50, journal=sys.argv[2])
        lg.log("x", {"i": 0}, np.zeros(8, np.int32))
        lg.flush()
        print("ready", flush=True)
        busy = 0.0
        for chunk in range(20):
            t = time.monotonic()
            for i in range(max(1, chunk * 5000), (chunk + 1) * 5000):
                lg.log("x", {"i": i}, np.full(8, i, np.int32))
            busy += time.monotonic() - t
            time.sleep(0.02)  # let the reader see intermediate states
        t = time.monotonic()
        lg.close()
        busy += time.monotonic() - t
        print("closed", busy, flush=True)
    """, str(tmp_path), journal)
    seen = []
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        while writer.poll() is None:
            with array_logger.open_reader(tmp_path / "x.db") as reader:
                b = reader.read_all()
                # iterate() holds no read lock between its blocks: the writer
                # commits while this loop runs, and the rows stay a prefix
                it = [k["i"] for k, _ in reader.iterate("i < ?", (len(b.arrays),))]
            assert it == list(range(len(b.arrays)))
            n = len(b.arrays)
            assert (n - 1) % 50 == 0 or n == 100_000, n  # the flushed first row, then whole groups
            assert b.keys["i"].tolist() == list(range(n))  # a prefix, never a gap
            assert b.arrays.tobytes() == np.repeat(np.arange(n, dtype=np.int32), 8).tobytes()
            seen.append(n)
    finally:
        if writer.poll() is None:
            writer.kill()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0 and out.startswith("closed"), err
    assert seen == sorted(seen), seen
    assert any(1 < n < 100_000 for n in seen), seen  # it did read while rows were being logged
    assert float(out.split()[1]) < 30, out  # 100,000 rows: ~0.2 s alone; generous bound
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        assert len(reader) == 100_000
        assert reader.meta["write_journal"] == journal


# --- disk full: file-size limit and a small tmpfs ---------------------------------------------

# Logs 4 KiB rows until the disk refuses, flushing every 50 rows; prints
# "error <class> <rows flushed> <seconds of the failing call>: <message>".
# argv: root, then optionally a file-size limit in bytes (soft RLIMIT_FSIZE
# with SIGXFSZ ignored, so write() fails with EFBIG); with a limit, the limit
# is lifted afterwards and a new Logger resumes the file ("resumed <rows>").
FILL_THE_DISK = """
    import resource, signal, sys, time, numpy as np, array_logger
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False)
    lg.register("x", keys=["i"], shape=(1024,), dtype="float32", commit_threshold_rows=10)
    flushed = 0
    try:
        for i in range(100_000):
            t = time.monotonic()
            lg.log("x", {"i": i}, np.full(1024, i, np.float32))
            if i % 50 == 49:
                lg.flush()
                flushed = i + 1
        print("no error", flush=True)
    except OSError as exc:
        print("error", type(exc).__name__, flushed, time.monotonic() - t, ":", exc, flush=True)
    t = time.monotonic()
    try:
        lg.close()
        print("closed", time.monotonic() - t, flush=True)
    except OSError as exc:
        print("close error", type(exc).__name__, time.monotonic() - t, ":", exc, flush=True)
    if limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        with array_logger.open_reader(sys.argv[1] + "/x.db") as r:
            n = r.count()
        with array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False) as lg:
            lg.register("x", keys=["i"], shape=(1024,), dtype="float32")
            for i in range(n, n + 10):
                lg.log("x", {"i": i}, np.full(1024, i, np.float32))
        print("resumed", n, flush=True)
"""


def _check_disk_full_run(done: subprocess.CompletedProcess, db: Path) -> int:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    word, kind, flushed, seconds = lines[0].split(":")[0].split()
    assert (word, kind) == ("error", "StorageError"), done.stdout
    assert "disk" in lines[0], done.stdout  # "disk I/O error" (EFBIG) / "database or disk is full" (ENOSPC)
    assert int(flushed) >= 50 and float(seconds) < 10, done.stdout  # failed at once, no retry loop
    close_line = lines[1].split(":")[0].split()
    # close() still closes everything, "raising the same error" (docs/DURABILITY.md).
    assert close_line[:3] == ["close", "error", "StorageError"], done.stdout
    assert float(close_line[-1]) < 10, done.stdout
    assert integrity(db) == "ok"
    with array_logger.open_reader(db) as reader:
        batch = reader.read_all()
    n = len(batch.arrays)
    assert n >= int(flushed)  # every flushed row is there, and only whole rows
    assert batch.keys["i"].tolist() == list(range(n))
    assert batch.arrays.tobytes() == np.repeat(np.arange(n, dtype=np.float32), 1024).tobytes()
    return n


def test_file_size_limit_gives_a_clear_error_and_keeps_committed_rows(tmp_path: Path) -> None:
    # Proves docs/DURABILITY.md: "Once there is space again, a new `Logger` resumes the file after
    # the rows it kept"
    done = run_child(FILL_THE_DISK, str(tmp_path), str(4 << 20))
    n = _check_disk_full_run(done, tmp_path / "x.db")
    # Once space is back, the next run resumes the file after the rows it kept.
    assert done.stdout.splitlines()[-1] == f"resumed {n - 10}", done.stdout


def test_full_disk_on_a_small_tmpfs(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                                 capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run mount ({exc}); the RLIMIT_FSIZE test covers the error path")
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({mounted.stderr.strip()}); "
                    "the RLIMIT_FSIZE test covers the error path")
    try:
        _check_disk_full_run(run_child(FILL_THE_DISK, str(mnt)), mnt / "x.db")
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


# --- unusable roots and names -----------------------------------------------------------------

def test_root_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OSError, match="not a directory"):
        array_logger.Logger(f, compression_level=None, handle_signals=False)
    with pytest.raises(OSError):
        array_logger.Logger(f / "sub", compression_level=None, handle_signals=False)
    assert visible(tmp_path) == ["file"] and f.read_text() == "x"


@pytest.mark.parametrize("where", ["root", "below"], ids=["root_unwritable", "parent_unwritable"])
def test_unwritable_root_without_privileges(tmp_path: Path, where: str) -> None:
    """The root (or the directory it would be created in) is root's, mode
    0755; the child drops root's privileges before logging."""
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o755)
    root = ro if where == "root" else ro / "sub" / "logs"
    code = """
        import os, sys, array_logger
        os.setgid(65534)
        os.setuid(65534)
        try:
            lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False)
            lg.register("x", keys=["i"], shape=(1,), dtype="int8")
            print("no error")
        except OSError as exc:
            print(type(exc).__name__, exc.errno, exc)
    """
    if os.getuid() != 0:
        ro.chmod(0o555)  # without root, take the write permission away instead
        code = code.replace("os.setgid(65534)", "pass").replace("os.setuid(65534)", "pass")
    done = run_child(code, str(root))
    if os.getuid() != 0:
        ro.chmod(0o755)
    assert done.returncode == 0, done.stderr
    kind, errno_, *message = done.stdout.split()
    assert kind in ("StorageError", "PermissionError"), done.stdout
    assert str(ro) in done.stdout, done.stdout  # the message names the path
    assert list(ro.iterdir()) == [] and visible(tmp_path) == ["ro"]  # nothing created anywhere


def test_name_colliding_with_a_directory(tmp_path: Path) -> None:
    (tmp_path / "x.db").mkdir()
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        with pytest.raises(OSError, match="directory"):
            lg.register("x", keys=["i"], shape=(1,), dtype="int8")
        lg.register("y", keys=["i"], shape=(1,), dtype="int8")  # still usable
        lg.log("y", {"i": 0}, np.zeros(1, np.int8))
    assert list((tmp_path / "x.db").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.db", "y.db"]  # no lock or stray file left


# --- a writer killed inside a rollback-journal transaction ---------------------------------------

def test_reader_of_a_file_with_a_hot_journal_leaves_it_untouched(tmp_path: Path) -> None:
    """A writer killed inside a rollback-journal transaction leaves a hot
    journal. The reader reads the committed state from a private copy and
    changes neither the file nor its journal."""
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=(64,), dtype="float64")
        for i in range(200):
            lg.log("x", {"i": i}, np.full(64, i, np.float64))
    db = tmp_path / "x.db"
    child = start_child("""
        import sqlite3, sys, time
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA cache_size=1")  # spill changed pages to the file now
        con.execute("BEGIN")
        con.execute("DELETE FROM array_log WHERE i >= 100")
        print("in transaction", flush=True)
        time.sleep(60)
    """, str(db))
    assert child.stdout.readline().strip() == "in transaction", child.stderr.read()
    child.kill()
    child.communicate()
    journal = tmp_path / "x.db-journal"
    assert journal.exists() and journal.stat().st_size > 0
    before = (db.read_bytes(), journal.read_bytes())
    with array_logger.open_reader(db) as reader:
        batch = reader.read_all()
    assert batch.keys["i"].tolist() == list(range(200))  # the committed state
    assert np.array_equal(batch.arrays[:, 0], np.arange(200, dtype=np.float64))
    assert (db.read_bytes(), journal.read_bytes()) == before


# --- the reader's decompressed copies ---------------------------------------------------------

def _make_zst(root: Path) -> Path:
    with array_logger.Logger(root, 3, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=(16,), dtype="float32")
        for i in range(10_000):
            lg.log("x", {"i": i}, np.full(16, i, np.float32))
    return root / "x.db.zst"


def test_decompressed_copies_removed_on_garbage_collection(tmp_path: Path, private_tmpdir: Path) -> None:
    zst = _make_zst(tmp_path / "logs")
    reader = array_logger.open_reader(zst)
    it = reader.iterate()
    next(it)  # a cursor is open

    class Holder:
        pass

    cycle = Holder()
    cycle.reader = array_logger.open_reader(zst)
    cycle.self = cycle  # only the cycle collector frees this one
    assert len(os.listdir(private_tmpdir)) == 2
    del reader, it, cycle
    gc.collect()
    assert os.listdir(private_tmpdir) == []


CHILD_LEAVING_READERS_OPEN = """
    import os, signal, sys, array_logger
    how = sys.argv[2]
    if how == "sigterm":
        array_logger.Logger(sys.argv[3], compression_level=None)  # installs the SIGTERM handler
    plain = array_logger.open_reader(sys.argv[1])
    it = plain.iterate()
    next(it)

    class Holder:
        pass

    cycle = Holder()
    cycle.reader = array_logger.open_reader(sys.argv[1])
    cycle.self = cycle
    print(len(os.listdir(os.environ["TMPDIR"])), flush=True)
    if how == "exception":
        raise SystemExit("ends with an unhandled exception")
    if how == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pause()
"""


@pytest.mark.parametrize("how", ["exception", "sigterm"])
def test_decompressed_copies_removed_when_the_process_ends(tmp_path: Path, private_tmpdir: Path, how: str) -> None:
    """Readers never closed: removed by the exit handler, or by the SIGTERM
    handler (installed with the first Logger) before the process dies."""
    zst = _make_zst(tmp_path / "logs")
    done = run_child(CHILD_LEAVING_READERS_OPEN, str(zst), how, str(tmp_path / "other"),
                     env=dict(os.environ, TMPDIR=str(private_tmpdir)), timeout=60)
    assert done.stdout.split() == ["2"], done.stderr
    assert done.returncode == (1 if how == "exception" else -signal.SIGTERM), done.stderr
    assert os.listdir(private_tmpdir) == []
