"""Periodic streams (docs/FORMAT.md section 10, docs/DURABILITY.md "Periodic
streams"): one row per period of log() calls, accumulated in C++, compared
with numpy over the same steps: bit-exact for state/min/max, sums and means
equal to numpy's over axis 0 in the accumulator type (numpy reduces axis 0
in step order, as the core does)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import List

import numpy as np
import pytest

import array_logger
from al_helpers import meta_rows, sqlite_ro

MODES = ("state", "sum", "mean", "min", "max")


def steps_of(dtype: str, n: int, shape: tuple, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = (n,) + shape
    if dtype == "bool":
        return rng.random(size) < 0.3
    if dtype.startswith("complex"):
        return (rng.normal(size=size) + 1j * rng.normal(size=size)).astype(dtype)
    if dtype.startswith("float"):
        return (rng.normal(size=size) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), size=size, endpoint=True).astype(dtype)


def expected(mode: str, seg: np.ndarray) -> np.ndarray:
    """What numpy says a period row holds."""
    kind = seg.dtype.kind
    acc = {"b": np.int64, "i": np.int64, "u": np.uint64, "f": np.float64, "c": np.complex128}[kind]
    if mode == "state":
        return seg[-1]
    if mode == "min":
        return np.minimum.reduce(seg, axis=0)
    if mode == "max":
        return np.maximum.reduce(seg, axis=0)
    total = np.add.reduce(seg.astype(acc), axis=0)
    if mode == "sum":
        return total
    return (total / len(seg)) if kind == "c" else (total.astype(np.float64) / np.float64(len(seg)))


def periods(n: int, period: int) -> List[tuple]:
    return [(lo, min(lo + period, n)) for lo in range(0, n, period)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int8", "int32", "int64", "uint16", "uint64",
                                   "bool", "complex64"])
def test_every_mode_equals_numpy_over_the_same_steps(tmp_path: Path, dtype: str) -> None:
    n, period, shape = 230, 50, (3, 4)
    x = steps_of(dtype, n, shape, seed=len(dtype))
    modes = [m for m in MODES if not (dtype.startswith("complex") and m in ("min", "max"))]
    with array_logger.Logger(tmp_path, None) as lg:
        for m in modes:
            lg.register(m, keys=["sweep"], shape=shape, dtype=dtype, period=period, mode=m)
        for i in range(n):
            for m in modes:
                lg.log(m, {"sweep": i}, x[i])
    for m in modes:
        with array_logger.open_reader(tmp_path / f"{m}.db") as r:
            batch = r.read_all()
            assert r.keys == ["sweep", "steps", "partial"]
            assert r.meta["period"] == "50" and r.meta["period_mode"] == m and r.meta["period_input_dtype"] == dtype
        spans = periods(n, period)
        assert batch.keys["sweep"].tolist() == [lo for lo, _ in spans]
        assert batch.keys["steps"].tolist() == [hi - lo for lo, hi in spans]
        assert batch.keys["partial"].tolist() == [0] * (len(spans) - 1) + [1]  # the last one, written by close
        for k, (lo, hi) in enumerate(spans):
            want = expected(m, x[lo:hi])
            assert batch.arrays[k].dtype == want.dtype, (m, batch.arrays[k].dtype, want.dtype)
            if m == "mean" and dtype.startswith("complex"):
                # numpy divides complex by multiplying with 1/n: last-bit differences
                np.testing.assert_allclose(batch.arrays[k], want, rtol=1e-15)
            else:
                assert batch.arrays[k].tobytes() == want.tobytes(), (m, k)


def test_nan_propagates_through_min_max_and_sums(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    x[1, 0] = np.nan
    with array_logger.Logger(tmp_path, None) as lg:
        for m in ("min", "max", "sum"):
            lg.register(m, ["i"], (3,), "float64", period=4, mode=m)
        for i in range(4):
            for m in ("min", "max", "sum"):
                lg.log(m, {"i": i}, x[i])
    for m in ("min", "max", "sum"):
        got = array_logger.open_reader(tmp_path / f"{m}.db").read_all().arrays[0]
        assert np.isnan(got[0]) and not np.isnan(got[1:]).any()
        np.testing.assert_array_equal(got[1:], expected(m, x)[1:])


def test_first_keys_keep_their_types_and_text(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("e", ["run", "t"], (), "float64", period=3, mode="sum")
        for i in range(6):
            lg.log("e", {"run": f"run-{i // 3:03d}", "t": i * 0.5}, np.float64(i))
    rows = list(array_logger.open_reader(tmp_path / "e.db").iterate())
    assert [k for k, _ in rows] == [{"run": "run-000", "t": 0.0, "steps": 3, "partial": 0},
                                    {"run": "run-001", "t": 1.5, "steps": 3, "partial": 0}]
    assert [float(a) for _, a in rows] == [3.0, 12.0]


def test_flush_writes_the_open_period_as_partial_and_its_next_row_replaces_it(tmp_path: Path) -> None:
    x = np.arange(25, dtype=np.float32)
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("e", ["i"], (), "float32", period=10, mode="sum")
        for i in range(13):
            lg.log("e", {"i": i}, x[i])
        lg.flush()
        con = sqlite_ro(tmp_path / "e.db")
        # Another process sees the complete period and the open one, marked partial.
        assert con.execute("SELECT rowid, i, steps, partial FROM array_log").fetchall() == [(1, 0, 10, 0), (2, 10, 3, 1)]
        lg.log("e", {"i": 13}, x[13])
        lg.flush()  # a newer partial row replaces the older one
        assert con.execute("SELECT rowid, i, steps, partial FROM array_log").fetchall() == [(1, 0, 10, 0), (2, 10, 4, 1)]
        for i in range(14, 25):
            lg.log("e", {"i": i}, x[i])
        lg.flush()
        assert con.execute("SELECT rowid, i, steps, partial FROM array_log").fetchall() == [
            (1, 0, 10, 0), (2, 10, 10, 0), (3, 20, 5, 1)]
        con.close()
    got = array_logger.open_reader(tmp_path / "e.db").read_all()
    assert got.arrays.tolist() == [np.sum(x[0:10], dtype=np.float64), np.sum(x[10:20], dtype=np.float64),
                                   np.sum(x[20:25], dtype=np.float64)]
    assert got.keys["partial"].tolist() == [0, 0, 1]


def test_a_new_run_starts_new_periods_and_keeps_the_old_partial_row(tmp_path: Path) -> None:
    for run in range(2):
        with array_logger.Logger(tmp_path, 3) as lg:
            lg.register("e", ["i"], (), "int32", period=4, mode="sum")
            for i in range(run * 10, run * 10 + 10):
                lg.log("e", {"i": i}, np.int32(1))
    got = array_logger.open_reader(tmp_path / "e.db").read_all()
    assert got.keys["i"].tolist() == [0, 4, 8, 10, 14, 18]
    assert got.keys["steps"].tolist() == [4, 4, 2, 4, 4, 2]
    assert got.keys["partial"].tolist() == [0, 0, 1, 0, 0, 1]
    assert got.arrays.tolist() == [4, 4, 2, 4, 4, 2]


def test_register_errors(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        with pytest.raises(ValueError, match="needs period"):
            lg.register("a", ["i"], (), "float32", mode="sum")
        with pytest.raises(ValueError, match="mode must be one of"):
            lg.register("a", ["i"], (), "float32", period=3, mode="median")
        with pytest.raises(ValueError, match="period must be an int >= 1"):
            lg.register("a", ["i"], (), "float32", period=0)
        with pytest.raises(ValueError, match="reserved in periodic streams"):
            lg.register("a", ["i", "Steps"], (), "float32", period=3)
        with pytest.raises(ValueError, match="real values"):
            lg.register("a", ["i"], (), "complex64", period=3, mode="max")
        lg.register("a", ["i"], (2,), "float32", period=3, mode="mean")
    for kwargs in ({"period": 4, "mode": "mean"}, {"period": 3, "mode": "sum"}, {}):
        with array_logger.Logger(tmp_path, None) as lg:
            with pytest.raises(array_logger.MetaMismatchError):
                lg.register("a", ["i"], (2,), "float32", **kwargs)


def test_an_overflowing_integer_sum_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("s", ["i"], (1,), "int64", period=3, mode="sum")
        lg.log("s", {"i": 0}, np.array([2**61], dtype=np.int64))
        lg.log("s", {"i": 1}, np.array([2**61], dtype=np.int64))
        with pytest.raises(ValueError, match="overflow"):
            lg.log("s", {"i": 2}, np.array([2**62], dtype=np.int64))  # 2^63 does not fit
        lg.log("s", {"i": 2}, np.array([-5], dtype=np.int64))  # the period goes on
    got = array_logger.open_reader(tmp_path / "s.db").read_all()
    assert got.arrays.tolist() == [[2**62 - 5]] and got.keys["steps"].tolist() == [3]


def test_periodic_rows_can_be_sparse_and_fixed_point(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = np.where(rng.random((40, 200)) < 0.05, rng.uniform(-1, 1, (40, 200)), 0).astype(np.float32)
    with array_logger.Logger(tmp_path, 3) as lg:
        lg.register("st", ["i"], (200,), "float32", period=10, mode="state", sparse=True)
        lg.register("mq", ["i"], (200,), "float32", period=10, mode="mean", quantize=1e-4, value_range=(-1, 1))
        for i in range(40):
            lg.log("st", {"i": i}, x[i])
            lg.log("mq", {"i": i}, x[i])
        with pytest.raises(ValueError, match="out of the quantize range"):
            lg.log("mq", {"i": 40}, np.full(200, 1.5, np.float32))
    st = array_logger.open_reader(tmp_path / "st.db").read_all()
    assert st.arrays.tobytes() == x[9::10].tobytes()
    mq = array_logger.open_reader(tmp_path / "mq.db")
    assert mq.meta["format_version"] == "3" and mq.dtype == np.float64
    want = np.stack([x[lo:lo + 10].astype(np.float64).mean(axis=0) for lo in range(0, 40, 10)])
    assert np.abs(mq.read_all().arrays - want).max() <= 0.5e-4 * (1 + 1e-9)
    with pytest.raises(ValueError, match="period sums"):
        array_logger.Logger(tmp_path / "x", None).register("q", ["i"], (), "float32", period=2, mode="sum",
                                                           quantize=0.1)


def test_plain_sqlite_reads_a_periodic_file(tmp_path: Path) -> None:
    """Section 10: a periodic file is a format-2 file with two more key columns."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("e", ["sweep"], (2,), "float32", period=5, mode="mean")
        for i in range(12):
            lg.log("e", {"sweep": i}, np.array([i, -i], np.float32))
    meta = meta_rows(tmp_path / "e.db")
    assert meta["format_version"] == "2" and meta["keys"] == "['sweep', 'steps', 'partial']"
    assert meta["dtype"] == "float64"
    con = sqlite3.connect(tmp_path / "e.db")
    rows = con.execute("SELECT sweep, steps, partial, data FROM array_log ORDER BY rowid").fetchall()
    con.close()
    header = int.from_bytes(rows[0][3][6:8], "little")
    got = [(s, n, p, np.frombuffer(b[header:], np.float64).tolist()) for s, n, p, b in rows]
    assert got == [(0, 5, 0, [2.0, -2.0]), (5, 5, 0, [7.0, -7.0]), (10, 2, 1, [10.5, -10.5])]
