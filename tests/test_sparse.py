"""Sparse rows (docs/FORMAT.md 5.5): register(..., sparse=True) stores the
indices and values of the elements whose bytes are not all zero whenever
that is smaller than the array; reads are dense by default and exact byte
for byte, and iterate_sparse() returns (indices, values)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import child_env


def sparse_rows(dtype: str, shape: tuple, density: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = (n,) + shape
    mask = rng.random(size) < density
    if dtype == "bool":
        return mask
    if dtype.startswith("complex"):
        values = rng.normal(size=size) + 1j * rng.normal(size=size)
    else:
        values = rng.normal(size=size) * 50
    return np.where(mask, values, 0).astype(dtype)


def nonzero_bytes(a: np.ndarray) -> np.ndarray:
    """Flat indices of the elements with a non-zero byte."""
    flat = a.reshape(-1)
    return np.flatnonzero(flat.view(np.uint8).reshape(len(flat), -1).any(axis=1))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int16", "uint8", "bool", "complex128"])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_exact_round_trip_dense_and_as_indices_and_values(tmp_path: Path, dtype: str, density: float) -> None:
    shape = (40, 25)
    x = sparse_rows(dtype, shape, density, 20, seed=int(density * 100))
    if dtype.startswith("float"):
        x[3, 0, :3] = [-0.0, np.nan, np.inf]  # kept: not all-zero bytes
    with array_logger.Logger(tmp_path, 3) as lg:
        lg.register("s", ["i"], shape, dtype, sparse=True)
        for i, row in enumerate(x):
            lg.log("s", {"i": i}, row)
    with array_logger.open_reader(tmp_path / "s.db") as r:
        assert r.meta["sparse_index_dtype"] == "uint16" and r.meta["format_version"] == "3"
        assert r.read_all().arrays.tobytes() == x.tobytes()
        assert b"".join(a.tobytes() for _, a in r.iterate()) == x.tobytes()
        for (keys, (idx, vals)), row in zip(r.iterate_sparse(), x):
            want = nonzero_bytes(row)
            assert idx.dtype == np.int64 and idx.tolist() == want.tolist()
            assert vals.dtype == x.dtype and vals.tobytes() == row.reshape(-1)[want].tobytes()


def test_a_row_is_stored_sparse_only_when_that_is_smaller(tmp_path: Path) -> None:
    x = np.zeros((3, 100), np.float64)
    x[0, [5, 50]] = [1.5, -2.5]       # 2 of 100: sparse (8 + 2 * (1 + 8) bytes)
    x[1, :] = np.arange(1, 101)        # dense is smaller
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("s", ["i"], (100,), "float64", sparse=True)
        for i in range(3):
            lg.log("s", {"i": i}, x[i])
    con = sqlite3.connect(tmp_path / "s.db")
    blobs = [b for (b,) in con.execute("SELECT data FROM array_log ORDER BY rowid")]
    con.close()
    h = int.from_bytes(blobs[0][6:8], "little")
    assert [b[4] for b in blobs] == [4, 0, 4]
    assert [len(b) - h for b in blobs] == [8 + 2 * 9, 800, 8]
    # Section 5.5 with numpy: count, indices (sparse_index_dtype), values.
    nnz = int.from_bytes(blobs[0][h:h + 8], "little")
    idx = np.frombuffer(blobs[0], np.uint8, nnz, h + 8)
    vals = np.frombuffer(blobs[0], np.float64, nnz, h + 8 + nnz)
    assert idx.tolist() == [5, 50] and vals.tolist() == [1.5, -2.5]
    assert array_logger.open_reader(tmp_path / "s.db").read_all().arrays.tobytes() == x.tobytes()


def test_sparse_fixed_point_rows(tmp_path: Path) -> None:
    x = sparse_rows("float32", (1000,), 0.02, 10, seed=1) / 100
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("s", ["i"], (1000,), "float32", sparse=True, quantize=1e-3, value_range=(-5, 5))
        for i, row in enumerate(x):
            lg.log("s", {"i": i}, row)
    con = sqlite3.connect(tmp_path / "s.db")
    assert {b[4] for (b,) in con.execute("SELECT data FROM array_log")} == {6}
    con.close()
    with array_logger.open_reader(tmp_path / "s.db") as r:
        got = r.read_all().arrays
        assert np.abs(got.astype(np.float64) - x).max() <= 0.5e-3 * (1 + 1e-6)
        for (_, (idx, vals)), row in zip(r.iterate_sparse(), got):
            assert idx.tolist() == np.flatnonzero(row).tolist() and vals.tobytes() == row[idx].tobytes()


def test_iterate_sparse_on_a_dense_file_finds_the_non_zero_elements(tmp_path: Path) -> None:
    x = sparse_rows("int32", (6, 7), 0.2, 5, seed=2)
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("d", ["i"], (6, 7), "int32")
        for i, row in enumerate(x):
            lg.log("d", {"i": i}, row)
    rows = list(array_logger.open_reader(tmp_path / "d.db").iterate_sparse("i >= ?", (3,)))
    assert [k["i"] for k, _ in rows] == [3, 4]
    for (_, (idx, vals)), row in zip(rows, x[3:]):
        assert idx.tolist() == np.flatnonzero(row).tolist() and vals.tolist() == row.reshape(-1)[idx].tolist()


@pytest.mark.parametrize("damage", ["index_out_of_range", "indices_not_increasing", "count_too_large", "flag_on_dense"])
def test_damaged_sparse_blobs_are_refused(tmp_path: Path, damage: str) -> None:
    x = np.zeros(300, np.float32)
    x[[3, 200]] = [1, 2]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("s", ["i"], (300,), "float32", sparse=True)
        lg.log("s", {"i": 0}, x)
    con = sqlite3.connect(tmp_path / "s.db")
    blob = bytearray(con.execute("SELECT data FROM array_log").fetchone()[0])
    h = int.from_bytes(blob[6:8], "little")
    idx = h + 8  # uint16 indices
    if damage == "index_out_of_range":
        blob[idx + 2:idx + 4] = (300).to_bytes(2, "little")
    elif damage == "indices_not_increasing":
        blob[idx:idx + 2] = (250).to_bytes(2, "little")
    elif damage == "count_too_large":
        blob[h:h + 8] = (3).to_bytes(8, "little")
    else:
        blob[4] = 2  # fixed point in a file without it
    con.execute("UPDATE array_log SET data = ?", (bytes(blob),))
    con.commit()
    con.close()
    with array_logger.open_reader(tmp_path / "s.db") as r:
        with pytest.raises(array_logger.CorruptFileError):
            r.read_all()
        with pytest.raises(array_logger.CorruptFileError):
            list(r.iterate_sparse())
    verify = subprocess.run([sys.executable, "-m", "array_logger", "verify", str(tmp_path / "s.db")], env=child_env(),
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 1, verify.stdout + verify.stderr


def test_cli_and_bridges_read_encoded_and_periodic_files(tmp_path: Path) -> None:
    x = sparse_rows("float32", (30,), 0.1, 12, seed=4)
    with array_logger.Logger(tmp_path, 3) as lg:
        lg.register("s", ["i"], (30,), "float32", sparse=True, quantize=1e-3, value_range=(-500, 500))
        lg.register("p", ["i"], (30,), "float32", period=5, mode="max")
        for i, row in enumerate(x):
            lg.log("s", {"i": i}, row)
            lg.log("p", {"i": i}, row)
    run = lambda *a: subprocess.run([sys.executable, "-m", "array_logger", *a], env=child_env(),  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    verify = run("verify", str(tmp_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    info = run("info", str(tmp_path / "s.db"))
    assert info.returncode == 0 and "fixed point step 0.001" in info.stdout and "sparse" in info.stdout, info.stdout
    info = run("info", str(tmp_path / "p.db"))
    assert "period 5 steps, max of float32" in info.stdout, info.stdout
    with array_logger.open_reader(tmp_path / "s.db") as r:
        assert r.storage == {"fixed_point": {"step": 1e-3, "min": -500.0, "max": 500.0, "dtype": "int32"},
                             "sparse": {"index_dtype": "uint8"}}
        df = r.to_pandas()
        assert np.stack(df["data"].to_numpy()).tobytes() == r.read_all().arrays.tobytes()
    with array_logger.open_reader(tmp_path / "p.db") as r:
        table = r.to_arrow()
        assert table.column("steps").to_pylist() == [5, 5, 2] and table.column("partial").to_pylist() == [0, 0, 1]
        assert r.storage == {"period": {"steps": 5, "mode": "max", "input_dtype": "float32"}}
    # compress / decompress reopen the files with their stored form (a plain register would be refused)
    for name in ("s", "p"):
        with array_logger.open_reader(tmp_path / f"{name}.db") as r:
            before = r.read_all()
        for step in (["decompress", str(tmp_path / f"{name}.db.zst")],
                     ["compress", str(tmp_path / f"{name}.db"), "--level", "5"]):
            proc = run(*step)
            assert proc.returncode == 0, proc.stderr
        with array_logger.open_reader(tmp_path / f"{name}.db") as r:
            after = r.read_all()
            assert r.path.endswith(f"{name}.db.zst")
        assert after.arrays.tobytes() == before.arrays.tobytes()
        assert {k: list(v) for k, v in after.keys.items()} == {k: list(v) for k, v in before.keys.items()}
