"""docs/FORMAT.md is the truth: read files we wrote using only sqlite3, numpy,
zstandard and the document's rules, and compare with what was logged."""

from __future__ import annotations

import ast
import os
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import array_logger
from al_helpers import zstd_decompress

DOC = Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md"

# Section 6 of the document.
DTYPE_TABLE = {
    "bool": ("|b1", 1), "int8": ("|i1", 1), "uint8": ("|u1", 1), "int16": ("<i2", 2),
    "uint16": ("<u2", 2), "int32": ("<i4", 4), "uint32": ("<u4", 4), "int64": ("<i8", 8),
    "uint64": ("<u8", 8), "float16": ("<f2", 2), "float32": ("<f4", 4), "float64": ("<f8", 8),
    "complex64": ("<c8", 8), "complex128": ("<c16", 16),
}


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


# --- a reader written from the document alone --------------------------------------

class DocFile:
    def __init__(self, meta: Dict[str, str], keys: List[str], shape: tuple, dtype: np.dtype,
                 rows: List[Tuple[dict, np.ndarray, bytes]], header_bytes: bytes) -> None:
        self.meta, self.keys, self.shape, self.dtype, self.rows = meta, keys, shape, dtype, rows
        self.header_bytes = header_bytes


def parse_header(blob: bytes, shape: tuple, dtype_name: str) -> Tuple[int, int]:
    """Section 5.1: returns (flags, header_size), checking every field."""
    assert blob[0:4] == b"ALB1"
    flags, ndim = blob[4], blob[5]
    assert flags & ~1 == 0
    header_size = int.from_bytes(blob[6:8], "little")
    assert header_size % 8 == 0 and header_size <= len(blob)
    dims = tuple(int.from_bytes(blob[8 + 8 * i: 16 + 8 * i], "little") for i in range(ndim))
    assert dims == shape
    at = 8 + 8 * ndim
    dtype_len = blob[at]
    type_str = blob[at + 1: at + 1 + dtype_len].decode("ascii")
    assert type_str == DTYPE_TABLE[dtype_name][0]
    assert header_size == (at + 1 + dtype_len + 7) // 8 * 8
    assert blob[at + 1 + dtype_len: header_size] == b"\0" * (header_size - at - 1 - dtype_len)
    return flags, header_size


def decode_payload(blob: bytes, shape: tuple, dtype: np.dtype, fmt: str) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    size = n * dtype.itemsize
    if fmt == "1":
        payload = blob  # 5.3: bare bytes
    else:
        flags, header_size = parse_header(blob, shape, dtype.name)
        payload = blob[header_size:]
        if flags & 1:  # 5.2: zstd frame of the byte-shuffled payload
            shuffled = np.frombuffer(zstd_decompress(payload), dtype=np.uint8)
            assert shuffled.size == size
            payload = shuffled.reshape(dtype.itemsize, n).T.reshape(-1).tobytes()
    assert len(payload) == size
    return np.frombuffer(payload, dtype=dtype.newbyteorder("<")).reshape(shape)


def read_by_the_document(path: Path) -> DocFile:
    tmp = None
    if path.name.endswith(".db.zst"):  # section 7
        raw = zstd_decompress(path.read_bytes())
        fd, tmp = tempfile.mkstemp(suffix=".db")
        os.write(fd, raw)
        os.close(fd)
        path = Path(tmp)
    try:
        header_bytes = path.read_bytes()[:100]
        assert header_bytes[:16] == b"SQLite format 3\x00"
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            assert tables == {"meta", "array_log"}
            indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                                  "ORDER BY name").fetchall()
            meta = dict(con.execute("SELECT key, value FROM meta"))
            assert all(isinstance(v, str) for v in meta.values())
            fmt = meta.get("format_version", "1")
            assert fmt in ("1", "2")
            shape = ast.literal_eval(meta["shape"])
            assert isinstance(shape, tuple) and all(isinstance(d, int) for d in shape)
            dtype = np.dtype(meta["dtype"])
            assert meta["dtype"] in DTYPE_TABLE and DTYPE_TABLE[meta["dtype"]][1] == dtype.itemsize
            keys = list(ast.literal_eval(meta["keys"]))
            columns = [r[1] for r in con.execute("PRAGMA table_info(array_log)")]
            assert columns == keys + ["data"]
            declared = [r[2] for r in con.execute("PRAGMA table_info(array_log)")]
            if fmt == "2":
                assert declared == [""] * len(keys) + ["BLOB"]  # section 4: no type affinity
            cols = ", ".join('"' + k.replace('"', '""') + '"' for k in keys)
            rows = []
            for *kv, blob in con.execute(f"SELECT {cols}, data FROM array_log ORDER BY rowid"):
                rows.append((dict(zip(keys, kv)), decode_payload(blob, shape, dtype, fmt), blob))
            doc = DocFile(meta, keys, shape, dtype, rows, header_bytes)
            doc.indexes = indexes
            return doc
        finally:
            con.close()
    finally:
        if tmp:
            os.unlink(tmp)


# --- the document itself ------------------------------------------------------------

def test_document_exists_and_is_versioned() -> None:
    text = doc_text()
    assert re.search(r"\*\*Document version \d+\.\d+\*\*", text)
    for needle in ["ALB1", "format_version", "blob_filter", "shuffle-zstd", ".db.zst", "array_log",
                   "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", "journal_mode=DELETE", "write_journal", "array_log_first_key",
                   "header_size", "u16 LE", "u64 LE", "0600"]:
        assert needle in text, needle


def test_document_dtype_table_matches_the_test() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `\\?(\|?[<|]?[a-z]\d+)` \| (\d+) \|$", doc_text(), re.M)
    table = {name: (s, int(size)) for name, s, size in rows}
    assert table == DTYPE_TABLE
    for name, (s, size) in table.items():
        assert np.dtype(name).str == s and np.dtype(name).itemsize == size


def test_document_blob_header_offsets() -> None:
    text = doc_text()
    for row in ["| 0 | 4 | magic `ALB1`", "| 4 | 1 | flags; bit 0", "| 5 | 1 | `ndim`",
                "| 6 | 2 | `header_size`, u16 LE", "| 8 | 8 × ndim | the shape, one u64 LE",
                "| 8 + 8·ndim | 1 | `dtype_len`", "| 9 + 8·ndim | dtype_len | numpy `dtype.str`"]:
        assert row in text, row


# --- our files, read by the document -------------------------------------------------

CASES = [
    ("q", ["episode", "step"], (10, 5), "float32", False),
    ("scalar", ["i"], (), "float64", False),
    ("empty", ["i"], (0,), "int32", False),
    ("cube", ["run", "t"], (2, 3, 4), "complex64", False),
    ("flags", ["i"], (7,), "bool", False),
    ("half", ["i"], (3, 3), "float16", False),
    ("filtered", ["i", "tag"], (16, 4), "float32", True),
    ("filtered64", ["i"], (5,), "uint64", True),
    ("filtered0", ["i"], (), "int16", True),
]


def logged_values(name: str, keys: List[str], shape: tuple, dtype: str, n: int = 40):
    rng = np.random.default_rng(len(name))
    out = []
    for i in range(n):
        if dtype == "bool":
            a = rng.integers(0, 2, size=shape).astype(bool)
        elif np.dtype(dtype).kind == "c":
            a = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
        elif np.dtype(dtype).kind == "f":
            a = np.cumsum(rng.standard_normal(shape)).reshape(shape).astype(dtype)
        else:
            a = rng.integers(0, 1000, size=shape).astype(dtype)
        kv: Dict[str, Any] = {}
        for j, k in enumerate(keys):
            kv[k] = [i, f"{i:03d}", i / 8][j % 3] if k != "tag" else f"{i:03d}"
        out.append((kv, a))
    return out


@pytest.mark.parametrize("compression", [None, 5])
def test_our_files_read_by_the_document(tmp_path: Path, compression) -> None:
    # Proves docs/FORMAT.md: "It holds exactly two tables, `meta` and `array_log`"
    # Proves docs/FORMAT.md: "so a closed format-2 file is a single self-contained file: header
    # bytes 18 and 19 (file format write/read versions) are both `1`."
    logged = {}
    with array_logger.Logger(tmp_path, compression) as lg:
        for name, keys, shape, dtype, filtered in CASES:
            lg.register(name, keys=keys, shape=shape, dtype=dtype, shuffle_zstd=filtered,
                        metadata={"case": name, "n": 1})
            logged[name] = logged_values(name, keys, shape, dtype)
            for kv, a in logged[name]:
                lg.log(name, kv, a)
    for name, keys, shape, dtype, filtered in CASES:
        path = tmp_path / (f"{name}.db.zst" if compression else f"{name}.db")
        assert path.exists() and not (tmp_path / (f"{name}.db" if compression else f"{name}.db.zst")).exists()
        f = read_by_the_document(path)
        # Section 3.
        assert f.meta["shape"] == repr(tuple(shape)) and f.meta["dtype"] == dtype and f.meta["keys"] == repr(keys)
        assert f.meta["format_version"] == "2" and f.meta["blob_layout"] == "ALB1"
        assert f.meta["blob_filter"] == ("shuffle-zstd" if filtered else "none")
        assert f.meta["byte_order"] == "little"
        assert f.meta["array_logger_version"] == array_logger.__version__
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f.meta["created_at"])
        assert f.meta["user_metadata"] == '{"case": "%s", "n": 1}' % name
        row_bytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        assert f.meta["write_journal"] == ("rollback" if row_bytes + 64 > 32768 else "wal")
        # Section 4: the first key's index, and nothing else.
        assert f.indexes == [("array_log_first_key", f'CREATE INDEX array_log_first_key ON array_log ("{keys[0]}")')]
        # Section 2: closed cleanly -> DELETE journal mode (bytes 18/19 = 1).
        assert f.header_bytes[18:20] == b"\x01\x01"
        # Rows: keys with their types, arrays byte for byte, headers as documented.
        assert len(f.rows) == len(logged[name])
        for (kv, arr, blob), (want_kv, want) in zip(f.rows, logged[name]):
            assert kv == want_kv and [type(v) for v in kv.values()] == [type(v) for v in want_kv.values()]
            assert arr.dtype == np.dtype(dtype) and arr.shape == shape
            assert arr.tobytes() == want.tobytes()
            # 5.2: with the filter, a row it would not shrink is stored unfiltered.
            assert blob[4] in ((0, 1) if filtered else (0,))
            if blob[4] == 1:
                assert len(blob) < want.nbytes + 8 + 8 * len(shape) + 8


def test_filtered_and_unfiltered_rows_in_one_file(tmp_path: Path) -> None:
    # Proves docs/FORMAT.md: "with `shuffle-zstd`, a row the filter would not make smaller
    # (incompressible data) is stored unfiltered, flags 0."
    rng = np.random.default_rng(0)
    smooth = np.zeros((64, 8), np.float32)
    noise = np.frombuffer(rng.bytes(64 * 8 * 4), np.float32).reshape(64, 8)
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(64, 8), dtype="float32", shuffle_zstd=True)
        lg.log("x", {"i": 0}, smooth)
        lg.log("x", {"i": 1}, noise)
    f = read_by_the_document(tmp_path / "x.db")
    assert f.meta["blob_filter"] == "shuffle-zstd"
    assert [blob[4] for _, _, blob in f.rows] == [1, 0]
    assert len(f.rows[0][2]) < smooth.nbytes
    assert [a.tobytes() for _, a, _ in f.rows] == [smooth.tobytes(), noise.tobytes()]


def test_closed_plain_file_needs_no_wal(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(3,), dtype="int64")
        lg.log("x", {"i": 1}, np.arange(3))
    assert sorted(p for p in os.listdir(tmp_path) if not p.startswith(".")) == ["x.db"]
    f = read_by_the_document(tmp_path / "x.db")
    assert [(kv, a.tolist()) for kv, a, _ in f.rows] == [({"i": 1}, [0, 1, 2])]


def test_a_resumed_file_keeps_its_filter_and_header(tmp_path: Path) -> None:
    for run in range(2):
        with array_logger.Logger(tmp_path, None) as lg:
            # The second run asks for no filter: the file keeps the one it was created with.
            lg.register("x", keys=["i"], shape=(4,), dtype="float64", shuffle_zstd=(run == 0))
            lg.log("x", {"i": run}, np.full(4, run + 0.5))
    f = read_by_the_document(tmp_path / "x.db")
    assert f.meta["blob_filter"] == "shuffle-zstd"
    assert [a.tolist() for _, a, _ in f.rows] == [[0.5] * 4, [1.5] * 4]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(4,), dtype="float64")
        lg.log("x", {"i": 2}, np.zeros(4))  # compressible: filtered, as the file says
    f = read_by_the_document(tmp_path / "x.db")
    assert f.rows[-1][2][4] == 1


def test_the_informative_recipe_of_section_8_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = doc_text()
    code = text.split("## 8.")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    with array_logger.Logger("logs", None) as lg:
        lg.register("q_values", keys=["episode", "step"], shape=(10, 5), dtype="float32")
        lg.log("q_values", {"episode": 1, "step": 2}, np.full((10, 5), 3, np.float32))
    ns: Dict[str, Any] = {}
    exec(compile(code, "FORMAT.md section 8", "exec"), ns)
    assert ns["key_values"] == [1, 2]
    assert ns["array"].tobytes() == np.full((10, 5), 3, np.float32).tobytes()
