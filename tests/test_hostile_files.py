"""Hostile and broken files: random bytes, truncated .db and .db.zst, other
programs' SQLite files, blobs whose header lies, meta that lies, and random
corruption (hypothesis). Each must read correctly or raise a clear error
(CorruptFileError / ValueError / OSError) — never crash, hang or allocate
what a lie claims.

Every file is opened in a child process (one long-lived worker, fed paths on
stdin) whose address space is limited to what it uses plus 512 MiB
(RLIMIT_AS): a multi-GB allocation would fail there as MemoryError, which
counts as a failure, and a crash kills only the worker, which the test sees.
The worker also reports its peak RSS growth."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import array_logger

SHAPE = (3, 5)
ROWS = 40

WORKER = r"""
import json, os, resource, sys
import numpy as np, array_logger

def attempt(path, where=None):
    stage = "open"
    try:
        with array_logger.open_reader(path) as r:
            stage = "read"
            batch = r.read_all(where)
            keys, arrays = [], []
            for k, a in r.iterate(where):
                keys.append(k)
                arrays.append(np.array(a, copy=True))
            n = r.count(where)
        # read_all, iterate and count agree (byte for byte; NaN payloads compare equal)
        agree = len(arrays) == len(batch.arrays) == n and all(
            a.tobytes() == b.tobytes() for a, b in zip(arrays, batch.arrays))
        # ... and every row is the pristine file's row for its key
        consistent = agree and r.shape == (3, 5) and "i" in r.keys and all(
            isinstance(k["i"], int) and a.dtype == np.float32 and np.array_equal(a, np.full((3, 5), k["i"], np.float32))
            for k, a in zip(keys, arrays))
        return {"outcome": "read", "rows": n, "agree": bool(agree), "consistent": bool(consistent),
                "i": [k.get("i") for k in keys]}
    except (ValueError, OSError) as exc:
        return {"outcome": "error", "stage": stage, "type": type(exc).__name__, "msg": str(exc)}
    except BaseException as exc:  # MemoryError, RuntimeError, SystemError ...: not a clear error
        return {"outcome": "bad", "stage": stage, "type": type(exc).__name__, "msg": str(exc)}

def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

attempt(sys.argv[1])  # warm up (imports, caches, first allocations) on a good file
resource.setrlimit(resource.RLIMIT_AS, (vm_size() + (512 << 20), resource.RLIM_INFINITY))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    result = attempt(request["path"], request.get("where"))
    result["rss_growth_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(json.dumps(result), flush=True)
"""


class Worker:
    """One child process that opens the files it is sent and reports."""

    def __init__(self, good_file: Path, tmpdir: Path) -> None:
        env = dict(os.environ, TMPDIR=str(tmpdir))
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(good_file)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", self._died()

    def _died(self) -> str:
        self.proc.kill()
        _, err = self.proc.communicate(timeout=30)
        return f"worker exited with {self.proc.returncode}: {err[-3000:]}"

    def open(self, path: Path, where: Optional[str] = None, timeout: float = 60) -> dict:
        self.proc.stdin.write(json.dumps({"path": str(path), "where": where}) + "\n")
        self.proc.stdin.flush()
        # A hang shows as no answer: a watchdog kills the worker, readline() then ends.
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            timer.cancel()
        if not line:
            raise AssertionError(f"opening {path.name}: " + self._died())
        result = json.loads(line)
        assert result["outcome"] != "bad", (path.name, result)
        assert result["rss_growth_mib"] < 200, (path.name, result)
        return result

    def close(self) -> None:
        _, err = self.proc.communicate(timeout=30)  # closes stdin: the worker ends
        assert self.proc.returncode == 0, err[-3000:]


def make_pristine(directory: Path) -> Path:
    with array_logger.Logger(directory, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["i", "tag"], shape=SHAPE, dtype="float32")
        for i in range(ROWS):
            lg.log("x", {"i": i, "tag": f"t{i % 3}"}, np.full(SHAPE, i, np.float32))
    return directory / "x.db"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def pristine(files: Path) -> Path:
    d = files / "pristine"
    d.mkdir()
    return make_pristine(d)


@pytest.fixture(scope="module")
def worker_tmpdir(files: Path) -> Path:
    d = files / "worker_tmpdir"
    d.mkdir()
    return d


@pytest.fixture(scope="module")
def worker(pristine: Path, worker_tmpdir: Path) -> Iterator[Worker]:
    w = Worker(pristine, worker_tmpdir)
    yield w
    w.close()
    # No decompressed copy is left behind, whatever failed.
    assert os.listdir(worker_tmpdir) == []


def copy_of(pristine: Path, files: Path, name: str) -> Path:
    target = files / name
    shutil.copyfile(pristine, target)
    return target


def edit(path: Path, *sql_and_params) -> None:
    con = sqlite3.connect(path)
    try:
        for item in sql_and_params:
            sql, params = (item, ()) if isinstance(item, str) else item
            con.execute(sql, params)
        con.commit()
    finally:
        con.close()


def assert_clear_error(result: dict, stage: Optional[str] = None, cls: Optional[str] = None) -> None:
    assert result["outcome"] == "error", result
    assert result["type"] in ("CorruptFileError", "ValueError", "StorageError", "FileNotFoundError", "OSError",
                              "IsADirectoryError", "PermissionError"), result
    if stage:
        assert result["stage"] == stage, result
    if cls:
        assert result["type"] == cls, result


def rng_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).bytes(n)


# --- random bytes ------------------------------------------------------------------

RANDOM: Dict[str, Callable[[], bytes]] = {
    "random.db": lambda: rng_bytes(8192),
    "empty.db": lambda: b"",
    "sqlite_magic_then_random.db": lambda: b"SQLite format 3\0" + rng_bytes(8192, 1),
    "random.db.zst": lambda: rng_bytes(4096, 2),
    "zstd_magic_then_garbage.db.zst": lambda: b"\x28\xb5\x2f\xfd" + rng_bytes(4096, 3),
    "zstd_of_random_bytes.db.zst": lambda: zstandard.ZstdCompressor(level=1).compress(rng_bytes(100_000, 4)),
    "zstd_of_nothing.db.zst": lambda: zstandard.ZstdCompressor(level=1).compress(b""),
    # A frame header claiming a 2 GiB window: refused, not allocated.
    "zstd_huge_window.db.zst": lambda: b"\x28\xb5\x2f\xfd\x00\xa8" + rng_bytes(64, 5),
}


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_bytes(worker: Worker, files: Path, name: str) -> None:
    path = files / name
    path.write_bytes(RANDOM[name]())
    assert_clear_error(worker.open(path), stage="open")


# --- truncated files -------------------------------------------------------------------

@pytest.mark.parametrize("keep", ["50", "100", "1024", "4096", "half", "all_but_one_page", "all_but_1"])
def test_truncated_db(worker: Worker, pristine: Path, files: Path, keep: str) -> None:
    data = pristine.read_bytes()
    n = {"half": len(data) // 2, "all_but_one_page": len(data) - 4096, "all_but_1": len(data) - 1}.get(keep)
    n = int(keep) if n is None else n
    path = files / f"truncated_{keep}.db"
    path.write_bytes(data[:n])
    # SQLite alone would read a missing tail as zeros (altered rows); the
    # reader compares the file with the page count in its header.
    assert_clear_error(worker.open(path), stage="open", cls="CorruptFileError")
    assert path.read_bytes() == data[:n]  # and the file is left as it was


@pytest.mark.parametrize("keep", [0, 4, 10, 100, "half", "all_but_1"])
def test_truncated_db_zst(worker: Worker, pristine: Path, files: Path, keep) -> None:
    data = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(pristine.read_bytes())
    n = {"half": len(data) // 2, "all_but_1": len(data) - 1}.get(keep, keep)
    path = files / f"truncated_{keep}.db.zst"
    path.write_bytes(data[:n])
    assert_clear_error(worker.open(path), stage="open", cls="CorruptFileError")


# --- SQLite files written by other programs ---------------------------------------------

FOREIGN = {
    "foreign_tables.db": ["CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
                          "INSERT INTO users (name) VALUES ('alice')"],
    "foreign_no_tables.db": ["PRAGMA user_version = 7"],
    "foreign_meta_other_columns.db": ["CREATE TABLE meta (name TEXT, val TEXT)",
                                      "INSERT INTO meta VALUES ('shape', '(3, 5)')",
                                      "CREATE TABLE array_log (x)"],
    "foreign_meta_without_dtype.db": ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
                                      "INSERT INTO meta VALUES ('shape', '(3, 5)'), ('keys', \"['i']\")",
                                      "CREATE TABLE array_log (i INTEGER, data BLOB)"],
    "foreign_meta_no_array_log.db": ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
                                     "INSERT INTO meta VALUES ('shape', '(3, 5)'), ('keys', \"['i']\"), "
                                     "('dtype', 'float32')"],
    "foreign_array_log_wrong_columns.db": ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
                                           "INSERT INTO meta VALUES ('shape', '(3, 5)'), ('keys', \"['i']\"), "
                                           "('dtype', 'float32')",
                                           "CREATE TABLE array_log (j INTEGER, payload BLOB)"],
    "foreign_meta_is_a_view.db": ["CREATE VIEW meta AS SELECT 'shape' AS key, 1/0 AS value",
                                  "CREATE TABLE array_log (i INTEGER, data BLOB)"],
    "foreign_wal_mode.db": ["PRAGMA journal_mode=WAL", "CREATE TABLE t (a)", "INSERT INTO t VALUES (1)"],
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_sqlite_file_of_another_program(worker: Worker, files: Path, name: str) -> None:
    path = files / name
    con = sqlite3.connect(path)
    for sql in FOREIGN[name]:
        con.execute(sql)
    con.commit()
    con.close()
    before = path.read_bytes()
    assert_clear_error(worker.open(path), stage="open", cls="CorruptFileError")
    assert path.read_bytes() == before
    assert sorted(p.name for p in files.glob(name + "*")) == [name]  # no -wal / -shm / -journal created


# --- blobs whose header lies -------------------------------------------------------------
# ALB1 header of a (3, 5) float32 array: magic[0:4] flags[4] ndim[5] header_size[6:8]
# shape[8:24] dtype_len[24] dtype[25:28] padding[28:32], then 60 bytes of payload.

def _lying_blob(blob: bytearray, damage: str) -> object:
    if damage == "ndim_200":
        blob[5] = 200
    elif damage == "ndim_200_and_header_size":
        blob[5] = 200
        blob[6:8] = (8 + 8 * 200 + 4).to_bytes(2, "little")
    elif damage == "shape_product_overflows":
        blob[8:16] = (2**63 - 1).to_bytes(8, "little")
        blob[16:24] = (2**63 - 1).to_bytes(8, "little")
    elif damage == "shape_of_4_tib":
        blob[8:16] = (2**20).to_bytes(8, "little")
        blob[16:24] = (2**20).to_bytes(8, "little")
    elif damage == "garbage_dtype":
        blob[25:28] = b"<?9"
    elif damage == "dtype_object":
        blob[25:28] = b"|O8"
    elif damage == "dtype_length_past_the_end":
        blob[24] = 255
    elif damage == "header_size_past_the_end":
        blob[6:8] = (0xFFFF).to_bytes(2, "little")
    elif damage == "header_size_zero":
        blob[6:8] = b"\0\0"
    elif damage == "bad_magic":
        blob[0:4] = b"ALB9"
    elif damage == "unknown_flags":
        blob[4] = 0x80
    elif damage == "payload_shorter":
        del blob[-4:]
    elif damage == "payload_longer":
        blob += b"\0" * 4
    elif damage == "other_shape_same_bytes":
        blob[8:16] = (5).to_bytes(8, "little")
        blob[16:24] = (3).to_bytes(8, "little")
    elif damage == "header_only":
        del blob[32:]
    elif damage == "six_bytes":
        del blob[6:]
    elif damage == "empty":
        return b""
    elif damage == "text":
        return "text"
    elif damage == "integer":
        return 42
    return bytes(blob)


BLOB_DAMAGE = ["ndim_200", "ndim_200_and_header_size", "shape_product_overflows", "shape_of_4_tib", "garbage_dtype",
               "dtype_object", "dtype_length_past_the_end", "header_size_past_the_end", "header_size_zero",
               "bad_magic", "unknown_flags", "payload_shorter", "payload_longer", "other_shape_same_bytes",
               "header_only", "six_bytes", "empty", "text", "integer"]


@pytest.mark.parametrize("damage", BLOB_DAMAGE)
def test_blob_whose_header_lies(worker: Worker, pristine: Path, files: Path, damage: str) -> None:
    path = copy_of(pristine, files, f"blob_{damage}.db")
    con = sqlite3.connect(path)
    blob = bytearray(con.execute("SELECT data FROM array_log WHERE i = 1").fetchone()[0])
    con.close()
    edit(path, ("UPDATE array_log SET data = ? WHERE i = 1", (_lying_blob(blob, damage),)))
    result = worker.open(path)
    assert_clear_error(result, stage="read", cls="CorruptFileError")
    assert "row 2: " in result["msg"], result  # names the row (rowid) that lies
    good = worker.open(path, where="i <> 1")  # the other rows still read
    assert good["outcome"] == "read" and good["consistent"] and good["rows"] == ROWS - 1, good


def test_format1_file_whose_blob_has_the_wrong_length(worker: Worker, files: Path) -> None:
    """Format 1 (pure-Python array_logger): bare tobytes() blobs, no header."""
    path = files / "format1.db"
    edit(path,
         "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
         "INSERT INTO meta VALUES ('shape', '(3, 5)'), ('dtype', 'float32'), ('keys', \"['i']\"), "
         "('array_logger_version', '1.0')",
         "CREATE TABLE array_log (i INTEGER NOT NULL, data BLOB NOT NULL)",
         ("INSERT INTO array_log VALUES (0, ?)", (np.zeros(SHAPE, np.float32).tobytes(),)),
         ("INSERT INTO array_log VALUES (1, ?)", (np.zeros(SHAPE, np.float32).tobytes()[:-1],)),
         ("INSERT INTO array_log VALUES (2, ?)", (b"\0" * (2**20),)))
    result = worker.open(path)
    assert_clear_error(result, stage="read", cls="CorruptFileError")
    assert "row 2: " in result["msg"], result
    assert worker.open(path, where="i = 0")["rows"] == 1


def test_text_key_that_is_not_utf8_is_the_same_error_in_iterate_and_read_all(tmp_path: Path) -> None:
    """Key values are decoded in one place: bytes that are not UTF-8 in a text
    key (array_logger writes only UTF-8) are CorruptFileError whichever way
    the rows are read (read_all used to raise UnicodeDecodeError)."""
    with array_logger.Logger(tmp_path, compression_level=None) as lg:
        lg.register("tags", keys=["i", "tag"], shape=(2,), dtype="float32")
        for i in range(3):
            lg.log("tags", {"i": i, "tag": f"t{i}"}, np.full(2, i, np.float32))
    path = tmp_path / "tags.db"
    edit(path, "UPDATE array_log SET tag = CAST(X'FF74' AS TEXT) WHERE i = 1")
    messages = []
    with array_logger.open_reader(path) as reader:
        for read in (lambda: list(reader.iterate()), reader.read_all):
            with pytest.raises(array_logger.CorruptFileError) as info:
                read()
            messages.append(str(info.value))
        assert reader.read_all("i <> 1").keys["tag"].tolist() == ["t0", "t2"]  # the other rows still read
    assert messages == ["a text key value is not valid UTF-8"] * 2


# --- meta that lies -----------------------------------------------------------------------

META_LIES = {
    "shape_80_gb_per_row": {"shape": "(100000, 100000)", "dtype": "float64"},
    "shape_product_overflows": {"shape": "(4294967296, 4294967296, 4294967296)"},
    "shape_negative": {"shape": "(-1, 5)"},
    "shape_40_dims": {"shape": "(" + "1, " * 40 + ")"},
    "shape_deeply_nested": {"shape": "(" * 100_000 + ")" * 100_000},
    "shape_not_a_tuple": {"shape": "'(3, 5)'"},
    "shape_huge_integer": {"shape": "(" + "9" * 5000 + ",)"},
    "shape_empty_text": {"shape": ""},
    "dtype_object": {"dtype": "object"},
    "dtype_python_expression": {"dtype": "__import__('os').system('true')"},
    "dtype_big_endian": {"dtype": ">f4"},
    "dtype_empty": {"dtype": ""},
    "keys_a_string": {"keys": "'i'"},
    "keys_a_number": {"keys": "42"},
    "keys_a_dict": {"keys": "{'i': 1, 'tag': 2}"},
    "keys_empty_list": {"keys": "[]"},
    "keys_duplicated": {"keys": "['i', 'i']"},
    "keys_not_the_columns": {"keys": "['episode', 'step']"},
    "keys_reserved_name": {"keys": "['i', 'data']"},
    "keys_unterminated": {"keys": "['i', 'tag"},
    "format_version_99": {"format_version": "99"},
    "format_version_negative": {"format_version": "-1"},
    "format_version_text": {"format_version": "two"},
    "blob_filter_unknown": {"blob_filter": "lz4"},
}


@pytest.mark.parametrize("lie", sorted(META_LIES))
def test_meta_that_lies(worker: Worker, pristine: Path, files: Path, lie: str) -> None:
    path = copy_of(pristine, files, f"meta_{lie}.db")
    edit(path, *[("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", kv) for kv in META_LIES[lie].items()])
    assert_clear_error(worker.open(path), stage="open", cls="CorruptFileError")


@pytest.mark.parametrize("missing", ["shape", "dtype", "keys", "the_table"])
def test_meta_missing(worker: Worker, pristine: Path, files: Path, missing: str) -> None:
    path = copy_of(pristine, files, f"meta_missing_{missing}.db")
    edit(path, "DROP TABLE meta" if missing == "the_table" else ("DELETE FROM meta WHERE key = ?", (missing,)))
    assert_clear_error(worker.open(path), stage="open", cls="CorruptFileError")


@pytest.mark.parametrize("lie", ["other_shape_same_bytes", "other_dtype_same_bytes", "fewer_dims"])
def test_meta_that_disagrees_with_the_blobs(worker: Worker, pristine: Path, files: Path, lie: str) -> None:
    """The meta parses, but the blobs say otherwise: each row is refused."""
    change = {"other_shape_same_bytes": ("shape", "(5, 3)"), "other_dtype_same_bytes": ("dtype", "int32"),
              "fewer_dims": ("shape", "(15,)")}[lie]
    path = copy_of(pristine, files, f"disagree_{lie}.db")
    edit(path, ("UPDATE meta SET value = ? WHERE key = ?", change[::-1]))
    result = worker.open(path)
    assert_clear_error(result, stage="read", cls="CorruptFileError")
    assert "row 1: " in result["msg"], result


def test_hostile_db_zst_of_a_lying_file(worker: Worker, pristine: Path, files: Path) -> None:
    """The same checks apply to the decompressed copy of a .db.zst."""
    lying = copy_of(pristine, files, "lying_source.db")
    edit(lying, "UPDATE meta SET value = '(100000, 100000)' WHERE key = 'shape'")
    path = files / "lying.db.zst"
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(lying.read_bytes()))
    assert_clear_error(worker.open(path), stage="open", cls="CorruptFileError")


# --- random corruption (hypothesis) -------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_randomly_corrupted_file_reads_or_raises_cleanly(worker: Worker, pristine: Path, files: Path,
                                                         data: st.DataObject) -> None:
    damaged = bytearray(pristine.read_bytes())
    for _ in range(data.draw(st.integers(1, 8), label="writes")):
        at = data.draw(st.integers(0, len(damaged) - 1), label="at")
        chunk = data.draw(st.binary(min_size=1, max_size=64), label="bytes")
        damaged[at:at + len(chunk)] = chunk
    if data.draw(st.booleans(), label="truncate"):
        damaged = damaged[: data.draw(st.integers(0, len(damaged)), label="length")]
    compressed = data.draw(st.booleans(), label="as .db.zst")
    path = files / ("random_damage.db.zst" if compressed else "random_damage.db")
    path.write_bytes(zstandard.ZstdCompressor(level=1).compress(bytes(damaged)) if compressed else bytes(damaged))
    result = worker.open(path)
    if result["outcome"] == "error":
        assert_clear_error(result)
    else:
        # Whatever reads is self-consistent: read_all == iterate == count.
        assert result["outcome"] == "read" and result["agree"], result
