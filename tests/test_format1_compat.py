"""Files of the pure-Python array_logger (format 1): readable and resumable.

The files are built by hand with the stdlib sqlite3 module following
docs/FORMAT.md (format 1): meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) with shape /
dtype / keys as Python reprs and array_logger_version "1.0"; array_log with
one INTEGER NOT NULL column per key and data BLOB NOT NULL holding the bare
ndarray.tobytes(); WAL journal mode as the old writer left it; compressed
files are one zstd frame of the whole .db.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import pytest

import array_logger
from al_helpers import meta_rows, read_rows, zstd_compress, zstd_decompress

V1_META_KEYS = {"shape", "dtype", "keys", "array_logger_version"}


def write_format1(path: Path, keys: Sequence[str], shape: tuple, dtype: str,
                  rows: List[Tuple[Sequence[int], np.ndarray]]) -> None:
    """What the pure-Python writer left on disk after close()."""
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cols = ", ".join(f'"{k}" INTEGER NOT NULL' for k in keys)
    con.execute(f"CREATE TABLE IF NOT EXISTS array_log ({cols}, data BLOB NOT NULL)")
    con.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [
        ("shape", str(tuple(shape))),
        ("dtype", np.dtype(dtype).name),
        ("keys", str(list(keys))),
        ("array_logger_version", "1.0"),
    ])
    marks = ", ".join("?" for _ in keys)
    for i in range(0, len(rows), 100):  # commit every 100 rows, as it did
        con.executemany(f"INSERT INTO array_log ({', '.join(f'{chr(34)}{k}{chr(34)}' for k in keys)}, data) "
                        f"VALUES ({marks}, ?)",
                        [(*kv, a.tobytes()) for kv, a in rows[i:i + 100]])
        con.commit()
    con.close()


def compress_format1(db: Path) -> Path:
    zst = db.with_name(db.name + ".zst")
    zst.write_bytes(zstd_compress(db.read_bytes(), level=19))
    db.unlink()
    return zst


def stdlib_read_format1(path: Path) -> Tuple[dict, List[Tuple[dict, np.ndarray]]]:
    """The pure-Python array_logger's reader: stdlib sqlite3 + numpy only,
    bare blobs, keys from the meta reprs."""
    tmp = None
    if path.name.endswith(".zst"):
        fd, tmp = tempfile.mkstemp(suffix=".db")
        os.write(fd, zstd_decompress(path.read_bytes()))
        os.close(fd)
        path = Path(tmp)
    try:
        con = sqlite3.connect(path)
        meta = dict(con.execute("SELECT key, value FROM meta"))
        shape = ast.literal_eval(meta["shape"])
        dtype = np.dtype(meta["dtype"])
        keys = ast.literal_eval(meta["keys"])
        cols = ", ".join(f'"{k}"' for k in keys)
        out = []
        for row in con.execute(f"SELECT {cols}, data FROM array_log"):
            out.append((dict(zip(keys, row[:-1])), np.frombuffer(row[-1], dtype=dtype).reshape(shape)))
        con.close()
        return meta, out
    finally:
        if tmp:
            os.unlink(tmp)


def make_rows(n: int, keys: Sequence[str], shape: tuple, dtype: str, seed: int = 0, start: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(start, start + n):
        if np.dtype(dtype).kind == "b":
            a = rng.integers(0, 2, size=shape).astype(bool)
        elif np.dtype(dtype).kind in "iu":
            a = rng.integers(-100 if np.dtype(dtype).kind == "i" else 0, 100, size=shape).astype(dtype)
        else:
            a = rng.standard_normal(shape).astype(dtype)
        rows.append((tuple(i * (j + 1) for j in range(len(keys))), a))
    return rows


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SPECS = [
    (["episode", "step"], (10, 5), "float32"),
    (["episode"], (1,), "float32"),
    (["i"], (), "int64"),
    (["a", "b", "c"], (2, 3, 4), "uint8"),
    (["e"], (4,), "bool"),
    (["e"], (3,), "complex128"),
]


@pytest.mark.parametrize("keys, shape, dtype", SPECS)
@pytest.mark.parametrize("compressed", [False, True])
def test_reader_reads_format1_exactly(tmp_path: Path, keys, shape, dtype, compressed: bool) -> None:
    db = tmp_path / "x.db"
    rows = make_rows(150, keys, shape, dtype)
    write_format1(db, keys, shape, dtype, rows)
    assert db.read_bytes()[18:20] == b"\x02\x02"  # WAL mode in the header
    assert not Path(str(db) + "-wal").exists()
    path = compress_format1(db) if compressed else db
    digest = sha(path)
    with array_logger.open_reader(tmp_path / "x.db") as reader:  # x.db -> x.db.zst when compressed
        assert reader.format_version == 1
        assert reader.shape == shape and reader.dtype == np.dtype(dtype) and reader.keys == keys
        assert reader.meta["array_logger_version"] == "1.0"
        assert reader.count() == len(rows) and len(reader) == len(rows)
        got = list(reader.iterate())
        batch = reader.read_all()
    assert [tuple(k[name] for name in keys) for k, _ in got] == [kv for kv, _ in rows]
    assert all(type(v) is int for k, _ in got for v in k.values())
    for (_, g), (_, e) in zip(got, rows):
        g = np.asarray(g)
        assert g.dtype == e.dtype and g.shape == e.shape and g.tobytes() == e.tobytes()
    assert batch.arrays.tobytes() == b"".join(e.tobytes() for _, e in rows)
    assert batch.keys[keys[0]].dtype == np.int64
    assert sha(path) == digest  # reading changed nothing


def test_reading_a_format1_file_leaves_no_wal_or_shm_files(tmp_path: Path) -> None:
    """The old writer left its files in WAL mode (without -wal/-shm, deleted
    at its close). The reader never modifies what it reads: it must not leave
    new x.db-wal / x.db-shm files beside a run's file either (they also make
    reading impossible on read-only media, where they cannot be created)."""
    keys, shape, dtype = SPECS[0]
    write_format1(tmp_path / "x.db", keys, shape, dtype, make_rows(10, keys, shape, dtype))
    digest = sha(tmp_path / "x.db")
    assert len(read_rows(tmp_path / "x.db")) == 10
    assert sha(tmp_path / "x.db") == digest
    assert sorted(os.listdir(tmp_path)) == ["x.db"]


def test_reader_reads_format1_compressed_by_the_zstd_cli(tmp_path: Path) -> None:
    assert shutil.which("zstd"), "the zstd CLI (Debian package zstd) is installed by scripts/test.sh"
    keys, shape, dtype = SPECS[0]
    rows = make_rows(120, keys, shape, dtype)
    db = tmp_path / "x.db"
    write_format1(db, keys, shape, dtype, rows)
    subprocess.run(["zstd", "-q", "-19", "--rm", str(db)], check=True)
    assert sorted(os.listdir(tmp_path)) == ["x.db.zst"]
    got = read_rows(tmp_path / "x.db")
    assert [a.tobytes() for _, a in got] == [a.tobytes() for _, a in rows]


def test_format1_where_clause(tmp_path: Path) -> None:
    keys, shape, dtype = SPECS[0]
    rows = [((e, s), np.full(shape, e * 100 + s, np.float32)) for e in range(20) for s in range(10)]
    write_format1(tmp_path / "x.db", keys, shape, dtype, rows)
    got = read_rows(tmp_path / "x.db", "episode = ?", (10,))
    assert [k for k, _ in got] == [{"episode": 10, "step": s} for s in range(10)]
    assert [float(a[0, 0]) for _, a in got] == [1000.0 + s for s in range(10)]


def _check_resumed(path: Path, keys, shape, dtype, rows) -> None:
    """Both readers see every row, the meta is still format 1, blobs are bare."""
    with array_logger.open_reader(path) as reader:
        assert reader.format_version == 1
        got = list(reader.iterate())
    assert [tuple(k[n] for n in keys) for k, _ in got] == [kv for kv, _ in rows]
    assert [np.asarray(a).tobytes() for _, a in got] == [a.tobytes() for _, a in rows]
    meta, old = stdlib_read_format1(path)
    assert meta == {"shape": str(tuple(shape)), "dtype": dtype, "keys": str(list(keys)),
                    "array_logger_version": "1.0"}
    assert [tuple(k[n] for n in keys) for k, _ in old] == [kv for kv, _ in rows]
    assert [a.tobytes() for _, a in old] == [a.tobytes() for _, a in rows]


@pytest.mark.parametrize("keys, shape, dtype", SPECS[:3])
def test_register_resumes_a_plain_format1_file(tmp_path: Path, keys, shape, dtype) -> None:
    # Proves README.md: "Files written by the pure-Python array_logger (format 1) are read and
    # resumed as they are."
    # Proves docs/FORMAT.md: "A resumed format-1 file stays format 1: appended rows are bare blobs
    # too, its meta is left unchanged."
    db = tmp_path / "x.db"
    old_rows = make_rows(130, keys, shape, dtype, seed=1)
    write_format1(db, keys, shape, dtype, old_rows)
    con = sqlite3.connect(db)
    schema = con.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    con.close()
    new_rows = make_rows(70, keys, shape, dtype, seed=2, start=130)
    array_logger.init(tmp_path, compression_level=None)
    array_logger.register("x", keys=keys, shape=shape, dtype=dtype, commit_threshold_rows=25)
    for kv, a in new_rows:
        array_logger.log("x", dict(zip(keys, kv)), a)
    array_logger.close()
    assert sorted(f for f in os.listdir(tmp_path) if not f.startswith(".")) == ["x.db"]
    _check_resumed(db, keys, shape, dtype, old_rows + new_rows)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert con.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    payload = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    assert {n for (n,) in con.execute("SELECT DISTINCT length(data) FROM array_log")} == {payload}
    assert {t for (t,) in con.execute(f'SELECT DISTINCT typeof("{keys[0]}") FROM array_log')} == {"integer"}
    con.close()


@pytest.mark.parametrize("compression", [3, None])
def test_register_resumes_a_format1_db_zst_without_losing_rows(tmp_path: Path, compression) -> None:
    keys, shape, dtype = SPECS[0]
    db = tmp_path / "x.db"
    old_rows = make_rows(250, keys, shape, dtype, seed=3)
    write_format1(db, keys, shape, dtype, old_rows)
    compress_format1(db)
    new_rows = make_rows(40, keys, shape, dtype, seed=4, start=250)
    with array_logger.Logger(tmp_path, compression) as lg:
        lg.register("x", keys=keys, shape=shape, dtype=dtype)
        for kv, a in new_rows:
            lg.log("x", dict(zip(keys, kv)), a)
    files = sorted(f for f in os.listdir(tmp_path) if not f.startswith("."))
    assert files == (["x.db.zst"] if compression else ["x.db"])
    path = tmp_path / files[0]
    _check_resumed(path, keys, shape, dtype, old_rows + new_rows)
    # Resumed twice: still one format, still everything.
    with array_logger.Logger(tmp_path, compression) as lg:
        lg.register("x", keys=keys, shape=shape, dtype=dtype)
        lg.log("x", {"episode": 999, "step": 0}, np.ones(shape, np.float32))
    _check_resumed(path, keys, shape, dtype, old_rows + new_rows + [((999, 0), np.ones(shape, np.float32))])


@pytest.mark.parametrize("other", [
    dict(keys=["episode", "step"], shape=(5, 10), dtype="float32"),
    dict(keys=["episode", "step"], shape=(10, 5), dtype="float64"),
    dict(keys=["episode"], shape=(10, 5), dtype="float32"),
])
def test_format1_meta_mismatch(tmp_path: Path, other: dict) -> None:
    keys, shape, dtype = SPECS[0]
    rows = make_rows(10, keys, shape, dtype)
    write_format1(tmp_path / "x.db", keys, shape, dtype, rows)
    digest = sha(tmp_path / "x.db")
    with array_logger.Logger(tmp_path, None) as lg:
        with pytest.raises(ValueError, match="^Meta mismatch"):
            lg.register("x", **other)
    _check_resumed(tmp_path / "x.db", keys, shape, dtype, rows)
    del digest  # the file may have been opened read-write; its rows and meta are what matter


def test_format1_register_accepts_keys_repr_with_double_quotes_or_tuple_shape(tmp_path: Path) -> None:
    """Key names that Python reprs with double quotes, and a one-element shape."""
    keys, shape = ["it's", "step"], (7,)
    rows = make_rows(20, keys, shape, "float64")
    write_format1(tmp_path / "x.db", keys, shape, "float64", rows)
    assert meta_rows(tmp_path / "x.db")["keys"] == '["it\'s", \'step\']'
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=keys, shape=shape, dtype="float64")
        lg.log("x", {"it's": 100, "step": 200}, np.zeros(shape))
    _check_resumed(tmp_path / "x.db", keys, shape, "float64", rows + [((100, 200), np.zeros(shape))])


@pytest.mark.parametrize("key", ["nbsp\xa0key", "zero\u200bwidth", "emoji\U0001F600", "ctrl\x85x"])
def test_format1_key_names_that_python_repr_escapes(tmp_path: Path, key: str) -> None:
    """repr() escapes non-printable characters as \\xhh, \\uXXXX, \\UXXXXXXXX:
    the meta `keys` row of the old writer holds those escapes, and they mean
    code points (UTF-8 in the column names), not raw bytes."""
    keys, shape = [key], (2,)
    rows = make_rows(5, keys, shape, "float32")
    write_format1(tmp_path / "x.db", keys, shape, "float32", rows)
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        assert reader.keys == keys
        assert [list(k) for k, _ in reader.iterate()] == [keys] * 5
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=keys, shape=shape, dtype="float32")
        lg.log("x", {key: 5}, np.zeros(shape, np.float32))
    _check_resumed(tmp_path / "x.db", keys, shape, "float32", rows + [((5,), np.zeros(shape, np.float32))])


def test_our_keys_meta_row_is_python_repr_for_escaped_names(tmp_path: Path) -> None:
    """Our meta keeps `keys` in the pure-Python library's text form: repr(list)."""
    keys = ["nbsp\xa0key", "zero\u200bwidth", "tab\tkey"]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=keys, shape=(1,), dtype="int8")
    assert meta_rows(tmp_path / "x.db")["keys"] == repr(keys)


def test_our_meta_refuses_an_old_style_check(tmp_path: Path) -> None:
    """Our files keep shape/dtype/keys in format 1's text form but differ in
    array_logger_version and add a format row, so an old installation that
    compares the meta rows it knows refuses them instead of misreading blobs."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["episode", "step"], shape=(10, 5), dtype="float32")
    meta = meta_rows(tmp_path / "x.db")
    assert meta["shape"] == "(10, 5)" and meta["dtype"] == "float32" and meta["keys"] == "['episode', 'step']"
    assert meta["array_logger_version"] != "1.0"
    assert meta["format_version"] == "2"
    assert V1_META_KEYS < set(meta)
