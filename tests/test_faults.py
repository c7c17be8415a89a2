"""Faults done for real: file-size limit (disk full), unusable roots, two
writers racing for one name, a reader in another process while logging, and
hostile blobs. Every case ends in a clear error or correct data, never a hang."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import array_logger


def run_child(code: str, *args: str, timeout: float = 120, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec)


# Logs 4 KiB rows until the disk refuses, flushing every 50 rows; prints
# "error <exception class> <rows flushed>". argv: root, then an optional
# file-size limit in bytes (applied with SIGXFSZ ignored, so write() fails).
FILL_THE_DISK = """
    import resource, signal, sys, numpy as np, array_logger
    if len(sys.argv) > 2:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
    lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False)
    lg.register("x", keys=["i"], shape=(1024,), dtype="float32", commit_threshold_rows=10)
    flushed = 0
    try:
        for i in range(100_000):
            lg.log("x", {"i": i}, np.full(1024, i, np.float32))
            if i % 50 == 49:
                lg.flush()
                flushed = i + 1
    except OSError as exc:
        print("error", type(exc).__name__, flushed, flush=True)
        try:
            lg.close()
        except OSError:
            pass
"""


def _check_disk_full_run(done: subprocess.CompletedProcess, db: Path) -> None:
    assert done.returncode == 0, done.stderr
    word, kind, flushed = done.stdout.split()
    assert (word, kind) == ("error", "StorageError") and int(flushed) >= 50, done.stdout
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with array_logger.open_reader(db) as reader:
        batch = reader.read_all()
    n = len(batch.arrays)
    assert n >= int(flushed)  # every flushed row is there, and only whole rows
    assert batch.keys["i"].tolist() == list(range(n))
    assert np.array_equal(batch.arrays[:, 0], np.arange(n, dtype=np.float32))


def test_file_size_limit_gives_a_clear_error_and_keeps_committed_rows(tmp_path: Path) -> None:
    done = run_child(FILL_THE_DISK, str(tmp_path), str(4 << 20))
    _check_disk_full_run(done, tmp_path / "x.db")


def test_root_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OSError, match="not a directory"):
        array_logger.Logger(f, compression_level=None, handle_signals=False)


def test_unwritable_root_without_privileges(tmp_path: Path) -> None:
    root = tmp_path / "ro"
    root.mkdir(mode=0o755)
    code = """
        import os, sys, array_logger
        os.setgid(65534)  # drop root's privileges: the directory is root's, mode 0755
        os.setuid(65534)
        try:
            lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False)
            lg.register("x", keys=["i"], shape=(1,), dtype="int8")
        except OSError as exc:
            print(type(exc).__name__, exc.errno)
    """

    if os.getuid() != 0:
        root.chmod(0o555)  # without root, take the write permission away instead
        code = code.replace("os.setgid(65534)", "pass").replace("os.setuid(65534)", "pass")
    done = run_child(code, str(root))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] in ("StorageError", "PermissionError"), done.stdout
    assert list(root.iterdir()) == []


def test_name_colliding_with_a_directory(tmp_path: Path) -> None:
    (tmp_path / "x.db").mkdir()
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        with pytest.raises(OSError, match="directory"):
            lg.register("x", keys=["i"], shape=(1,), dtype="int8")
        lg.register("y", keys=["i"], shape=(1,), dtype="int8")  # still usable


def test_four_processes_one_name_all_rows_or_a_clear_error(tmp_path: Path) -> None:
    code = """
        import sys, time, numpy as np, array_logger
        proc = int(sys.argv[2])
        lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False)
        deadline = time.monotonic() + 60
        while True:  # wait for the name: another process holds it
            try:
                lg.register("x", keys=["proc", "i"], shape=(1,), dtype="int64")
                break
            except array_logger.StateError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        for i in range(50_000):
            lg.log("x", {"proc": proc, "i": i}, np.array([proc * 1_000_000 + i]))
        lg.close()
        print("done", proc)
    """
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(tmp_path), str(p)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        batch = reader.read_all()
    assert len(batch.arrays) == 200_000
    for proc in range(4):
        mine = batch.keys["proc"] == proc
        assert batch.keys["i"][mine].tolist() == list(range(50_000))  # complete, in order, no duplicates
        assert np.array_equal(batch.arrays[mine, 0], proc * 1_000_000 + np.arange(50_000))
    with sqlite3.connect(tmp_path / "x.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reader_in_another_process_sees_a_growing_committed_prefix(tmp_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time, numpy as np, array_logger
        lg = array_logger.Logger(sys.argv[1], compression_level=None, handle_signals=False)
        lg.register("x", keys=["i"], shape=(8,), dtype="int32", commit_threshold_rows=50)
        print("ready", flush=True)
        for i in range(100_000):
            lg.log("x", {"i": i}, np.full(8, i, np.int32))
        lg.close()
        print("closed", flush=True)
    """), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    seen = []
    while writer.poll() is None and len(seen) < 50:
        try:
            with array_logger.open_reader(tmp_path / "x.db") as reader:
                b = reader.read_all()
        except (OSError, ValueError):
            continue  # the schema may not be visible yet
        n = len(b.arrays)
        assert b.keys["i"].tolist() == list(range(n))  # a prefix, never a gap
        assert np.array_equal(b.arrays[:, 0], np.arange(n, dtype=np.int32))
        seen.append(n)
    out, err = writer.communicate(timeout=120)
    assert "closed" in out, err
    assert seen == sorted(seen)
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        assert len(reader) == 100_000


@pytest.mark.parametrize("damage", ["ndim", "shape_overflow", "dtype", "short_payload", "other_shape", "not_blob"])
def test_blobs_whose_header_lies(tmp_path: Path, damage: str) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=(4, 4), dtype="float32")
        for i in range(3):
            lg.log("x", {"i": i}, np.full((4, 4), i, np.float32))
    with sqlite3.connect(tmp_path / "x.db") as con:
        blob = bytearray(con.execute("SELECT data FROM array_log WHERE i = 1").fetchone()[0])
        if damage == "ndim":
            blob[5] = 200
        elif damage == "shape_overflow":
            blob[8:16] = (2**64 - 1).to_bytes(8, "little")
        elif damage == "dtype":
            blob[8 + 16 + 1:8 + 16 + 4] = b"<?9"
        elif damage == "short_payload":
            blob = blob[:-4]
        elif damage == "other_shape":
            blob[8:16] = (2).to_bytes(8, "little")
            blob[16:24] = (8).to_bytes(8, "little")
        value = "text" if damage == "not_blob" else bytes(blob)
        con.execute("UPDATE array_log SET data = ? WHERE i = 1", (value,))
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        with pytest.raises(array_logger.CorruptFileError, match="row 2: "):
            list(reader.iterate())
        with pytest.raises(array_logger.CorruptFileError, match="row 2: "):
            reader.read_all()
        assert [k for k, _ in reader.iterate("i = 0")] == [{"i": 0}]  # the good rows still read


def test_meta_that_lies_about_a_huge_shape(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=(2,), dtype="float64")
        lg.log("x", {"i": 0}, np.zeros(2))
    with sqlite3.connect(tmp_path / "x.db") as con:
        con.execute("UPDATE meta SET value = '(100000, 100000)' WHERE key = 'shape'")
    # 80 GB per row: refused at open, no allocation attempted.
    with pytest.raises(array_logger.CorruptFileError):
        array_logger.open_reader(tmp_path / "x.db")


def test_reader_of_a_file_with_a_hot_journal_leaves_it_untouched(tmp_path: Path) -> None:
    """A writer killed inside a rollback-journal transaction leaves a hot
    journal. The reader reads the committed state from a private copy and
    changes neither the file nor its journal."""
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=(64,), dtype="float64")
        for i in range(200):
            lg.log("x", {"i": i}, np.full(64, i, np.float64))
    db = tmp_path / "x.db"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sqlite3, sys, time
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA cache_size=1")  # spill changed pages to the file now
        con.execute("BEGIN")
        con.execute("DELETE FROM array_log WHERE i >= 100")
        print("in transaction", flush=True)
        time.sleep(60)
    """), str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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


def test_full_disk_on_a_small_tmpfs(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the RLIMIT_FSIZE test covers the error path)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    try:
        _check_disk_full_run(run_child(FILL_THE_DISK, str(mnt)), mnt / "x.db")
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
