"""What is stored is exactly what was logged, checked against the bytes on
disk with sqlite3 and docs/FORMAT.md, never against another read path of the
library: float keys at double precision, every dtype's blob header string."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest

import array_logger
from al_helpers import sqlite_ro

DOC = Path(__file__).resolve().parent.parent / "docs" / "FORMAT.md"


def format_doc_dtypes() -> Dict[str, Tuple[str, int]]:
    """Section 6 of docs/FORMAT.md, parsed from the document itself."""
    text = DOC.read_text(encoding="utf-8").split("## 6. Dtypes", 1)[1].split("## 7.", 1)[0]
    table = {}
    for name, type_str, size in re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (\d+) \|$", text, re.M):
        table[name] = (type_str.replace("\\|", "|"), int(size))
    assert len(table) == 14, table
    return table


DTYPES = format_doc_dtypes()


def expected_header(shape: tuple, type_str: str, flags: int) -> bytes:
    """Section 5.1, written out from the document."""
    ndim = len(shape)
    used = 8 + 8 * ndim + 1 + len(type_str)
    size = (used + 7) // 8 * 8
    h = b"ALB1" + bytes([flags, ndim]) + struct.pack("<H", size)
    h += b"".join(struct.pack("<Q", d) for d in shape) + bytes([len(type_str)]) + type_str.encode("ascii")
    return h + b"\0" * (size - len(h))


def sample(dtype: str, shape: tuple, i: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + i)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(dtype).itemsize, dtype=np.uint8)
    a = np.frombuffer(raw.tobytes(), dtype=dtype).reshape(shape).copy()
    if np.dtype(dtype).kind == "b":
        a = a.view(np.uint8).astype(bool) if a.size else a  # only 0/1 bytes are valid bools
    return a


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_blob_header_names_the_documented_dtype_string(tmp_path: Path, dtype: str) -> None:
    """docs/FORMAT.md 5.1: "`9 + 8·ndim` | dtype_len | numpy `dtype.str`,
    ASCII, e.g. `<f4` (section 6)", with the strings of the section 6 table;
    3: meta `dtype` is the numpy dtype **name**."""
    type_str, itemsize = DTYPES[dtype]
    assert np.dtype(dtype).itemsize == itemsize
    shapes = {"raw": (3, 2), "filtered": (64, 8)}  # zeros of this size always shrink: stored filtered
    logged = [sample(dtype, shapes["raw"], i) for i in range(3)]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("raw", keys=["i"], shape=shapes["raw"], dtype=dtype)
        lg.register("filtered", keys=["i"], shape=shapes["filtered"], dtype=dtype, shuffle_zstd=True)
        for i, a in enumerate(logged):
            lg.log("raw", {"i": i}, a)
            lg.log("filtered", {"i": i}, np.zeros(shapes["filtered"], dtype))
    for name, flags in (("raw", 0), ("filtered", 1)):
        shape = shapes[name]
        con = sqlite_ro(tmp_path / (name + ".db"))
        try:
            meta = dict(con.execute("SELECT key, value FROM meta"))
            blobs = [b for (b,) in con.execute("SELECT data FROM array_log ORDER BY rowid")]
        finally:
            con.close()
        assert meta["dtype"] == dtype
        header = expected_header(shape, type_str, flags)
        assert len(blobs) == 3
        for i, blob in enumerate(blobs):
            assert blob[:len(header)] == header, (name, i, blob[:len(header)])
            if flags == 0:
                assert blob[len(header):] == logged[i].astype(np.dtype(dtype).newbyteorder("<")).tobytes()


FLOAT_KEYS = [0.1, 1 / 3, 2.0 ** -1074, 1e300, -123456789.123456789, 16777217.0,
              np.float64(0.7), np.float32(0.1), np.float16(0.3)]


def test_float_keys_are_stored_at_double_precision(tmp_path: Path) -> None:
    """docs/FORMAT.md 4: key columns keep their storage class, "`REAL`
    (Python/numpy floats, IEEE double)"."""
    expected = [float(v) for v in FLOAT_KEYS]  # numpy float32/16 keys: their exact value as a double
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["t"], shape=(1,), dtype="int64")
        for i, v in enumerate(FLOAT_KEYS):
            lg.log("x", {"t": v}, np.array([i]))
    con = sqlite_ro(tmp_path / "x.db")
    try:
        stored = con.execute("SELECT t, typeof(t) FROM array_log ORDER BY rowid").fetchall()
    finally:
        con.close()
    assert [t for t, _ in stored] == expected
    assert {ty for _, ty in stored} == {"real"}
    assert [float(struct.unpack("<d", struct.pack("<d", t))[0]) for t, _ in stored] == expected
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        # A where parameter is a double too: each key matches itself only.
        for i, v in enumerate(expected):
            rows = list(reader.iterate("t = ?", (v,)))
            assert [(k["t"], a.tolist()) for k, a in rows] == [(v, [i])], v
        assert reader.count("t = ?", (np.float64(0.1),)) == 1
        assert reader.count("t = ?", (np.float32(0.1),)) == 1
        assert reader.count("t < ?", (0.1,)) == 2  # 2**-1074 and -123456789.12...


def test_text_keys_survive_the_reuse_of_the_log_buffer(tmp_path: Path) -> None:
    # The log buffer is a ring: after it wraps, a row's key bytes land where
    # an earlier row's array was. Arrays of 0xFF bytes and text keys of
    # random lengths: every key comes back exactly as logged (checked with
    # sqlite3), none read with a length mixed from stale bytes.
    rng = np.random.default_rng(15)
    tags = ["k" * int(n) + str(i) for i, n in enumerate(rng.integers(0, 41, 3000))]
    with array_logger.Logger(tmp_path, None, buffer_bytes=1 << 16, handle_signals=False) as lg:
        lg.register("x", keys=["tag", "i"], shape=(203,), dtype="uint8")
        for i, tag in enumerate(tags):
            lg.log("x", {"tag": tag, "i": i}, np.full(203, 255, np.uint8))
    con = sqlite_ro(tmp_path / "x.db")
    try:
        stored = con.execute("SELECT tag, i FROM array_log ORDER BY rowid").fetchall()
    finally:
        con.close()
    assert stored == [(tag, i) for i, tag in enumerate(tags)]
