"""Helpers shared by the test modules (not a test module itself)."""

from __future__ import annotations

import mmap
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

import array_logger

PACKAGE_PARENT = str(Path(array_logger.__file__).resolve().parent.parent)


def child_env(**extra: str) -> Dict[str, str]:
    """The environment of a child Python that imports the same array_logger."""
    env = dict(os.environ)
    parts = [PACKAGE_PARENT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env.update(extra)
    return env


def run_child(code: str, *args: str, timeout: float = 120, env: Optional[Dict[str, str]] = None,
              **kw: Any) -> subprocess.CompletedProcess:
    """Runs `code` in a child Python (`env`: child_env() unless given) and returns its outcome."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env or child_env(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def start_child(code: str, *args: str, **kw: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def read_rows(path: "str | os.PathLike[str]", where: Any = None, params: Any = None) -> List[Tuple[dict, np.ndarray]]:
    with array_logger.open_reader(path) as reader:
        return [(k, np.array(a, copy=True)) for k, a in reader.iterate(where, params)]


def sqlite_ro(path: "str | os.PathLike[str]") -> sqlite3.Connection:
    return sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)


def meta_rows(path: "str | os.PathLike[str]") -> Dict[str, str]:
    con = sqlite_ro(path)
    try:
        return dict(con.execute("SELECT key, value FROM meta"))
    finally:
        con.close()


def zstd_decompress(data: bytes) -> bytes:
    import zstandard

    # Every frame: a .db.zst is one frame per 4 MiB segment (docs/FORMAT.md section 7).
    return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(data)


def zstd_compress(data: bytes, level: int = 3) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=level).compress(data)


def assert_same_arrays(got: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> None:
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.dtype == e.dtype, (i, g.dtype, e.dtype)
        assert g.shape == e.shape, (i, g.shape, e.shape)
        assert g.tobytes() == e.tobytes(), i


def integrity_ok(db: Path) -> None:
    """SQLite's own integrity check passes (read-write: recovers a WAL as any SQLite would)."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


def visible_files(root: Path) -> FrozenSet[str]:
    """The entries of a run directory a user sees (lock and temporary files start with a dot)."""
    return frozenset(f for f in os.listdir(root) if not f.startswith("."))


def check_logged_rows(path: Path, n: int, row: Callable[[int], np.ndarray]) -> None:
    """The file holds exactly rows 0..n-1 (key `i`) of `row`, byte for byte."""
    rows = read_rows(path)
    assert [k["i"] for k, _ in rows] == list(range(n)), path
    for i, (_, a) in enumerate(rows):
        assert a.tobytes() == row(i).tobytes(), (path, i)


def resume_and_append(root: Path, n: int, row: Callable[[int], np.ndarray]) -> None:
    """The next run after a kill or a failed call (nothing injected): register
    cleans up what was left and resumes array x of rows 0..n-1 of `row`, logs
    row n; close leaves x.db.zst alone, with rows 0..n."""
    with array_logger.Logger(root, 3, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=row(n).shape, dtype="float64")
        lg.log("x", {"i": n}, row(n))
    assert visible_files(root) == {"x.db.zst"}, visible_files(root)
    check_logged_rows(root / "x.db.zst", n + 1, row)


def kill_when_logged(child: subprocess.Popen, target: int, counter_path: Path) -> int:
    """Kill -9 a child that prints its row count per line once it reports
    `target` rows, and return how many rows its log() calls had returned
    for: the 8-byte counter it keeps in `counter_path` (mmap), read while
    every thread of the child is stopped (SIGSTOP), so no commit can follow."""
    try:
        while True:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            if int(line) >= target:
                break
        os.kill(child.pid, signal.SIGSTOP)
        _, status = os.waitpid(child.pid, os.WUNTRACED)  # returns once every thread is stopped
        assert os.WIFSTOPPED(status)
        with open(counter_path, "rb") as f, mmap.mmap(f.fileno(), 8, access=mmap.ACCESS_READ) as m:
            logged = int.from_bytes(m[:8], "little")
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return logged
