"""Fixed-point storage (docs/FORMAT.md 5.4): register(..., quantize=STEP,
value_range=(lo, hi)) stores round(x / STEP) in the smallest integer type
holding the range; reads return the registered float dtype within STEP / 2
(plus the float type's own rounding); values out of range raise at log()."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import meta_rows


def bound(step: float, values: np.ndarray) -> np.ndarray:
    """STEP / 2 plus half an ulp of the value in its own dtype (the final rounding)."""
    return step / 2 * (1 + 1e-12) + np.spacing(np.abs(values).astype(values.dtype)).astype(np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("step,lo,hi,storage", [
    (0.01, -1.0, 1.0, "int8"),        # q in -100..100
    (0.01, 0.0, 2.55, "uint8"),       # q in 0..255
    (1e-3, -30.0, 30.0, "int16"),
    (1e-3, 0.0, 65.535, "uint16"),
    (1e-6, -1000.0, 1000.0, "int32"),
    (1e-6, 0.0, 4000.0, "uint32"),
    (1e-9, -1e6, 1e6, "int64"),
])
def test_round_trip_within_half_a_step_in_the_smallest_type(tmp_path: Path, dtype: str, step: float, lo: float,
                                                            hi: float, storage: str) -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(lo, hi, size=(64, 5, 3)).astype(dtype)
    # The ends of the range: the nearest values of the dtype inside it.
    ends = np.array([lo, hi], dtype=np.float64).astype(dtype)
    ends[0] = ends[0] if ends[0] >= lo else np.nextafter(ends[0], np.inf, dtype=dtype)
    ends[1] = ends[1] if ends[1] <= hi else np.nextafter(ends[1], -np.inf, dtype=dtype)
    x[0, 0, :2] = ends
    wide = x.astype(np.float64)
    x = x[((wide >= lo) & (wide <= hi)).all(axis=(1, 2))]  # uniform()'s rounding to float32 may step outside
    assert len(x) > 50
    with array_logger.Logger(tmp_path, 3) as lg:
        lg.register("q", ["i"], (5, 3), dtype, quantize=step, value_range=(lo, hi))
        for i, row in enumerate(x):
            lg.log("q", {"i": i}, row)
    with array_logger.open_reader(tmp_path / "q.db") as r:
        assert r.meta["fixed_point_dtype"] == storage
        assert r.dtype == np.dtype(dtype) and len(r) == len(x)
        got = r.read_all().arrays
    assert got.dtype == np.dtype(dtype)
    err = np.abs(got.astype(np.float64) - x.astype(np.float64))
    assert (err <= bound(step, x)).all(), err.max()
    # Exactly the documented formula: q = rint(x / step) in float64, read back as q * step.
    q = np.rint(x.astype(np.float64) / step)
    assert got.tobytes() == (q * step).astype(dtype).tobytes()


def test_values_out_of_range_raise_at_log_and_nothing_is_logged(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("q", ["i"], (3,), "float32", quantize=0.5, value_range=(-2, 2))
        lg.log("q", {"i": 0}, np.array([-2, 0, 2], np.float32))
        for bad, text in [([0, 2.25, 0], "element 1 is 2.25"), ([-2.01, 0, 0], "element 0 is -2.0099"),
                          ([0, 0, np.nan], "element 2 is nan"), ([np.inf, 0, 0], "element 0 is inf")]:
            with pytest.raises(ValueError, match=f"out of the quantize range: {text}"):
                lg.log("q", {"i": 1}, np.array(bad, np.float32))
        lg.log("q", {"i": 1}, np.array([1.25, -1.25, 0.75], np.float32))  # ties round to even
    got = array_logger.open_reader(tmp_path / "q.db").read_all()
    assert got.keys["i"].tolist() == [0, 1]
    assert got.arrays.tolist() == [[-2, 0, 2], [1.0, -1.0, 1.0]]


def test_default_range_is_that_of_int32(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("q", ["i"], (2,), "float64", quantize=0.25)
        lg.log("q", {"i": 0}, np.array([-(2**31) * 0.25, (2**31 - 1) * 0.25]))
        with pytest.raises(ValueError, match="out of the quantize range"):
            lg.log("q", {"i": 1}, np.array([0, 2**31 * 0.25]))
    meta = meta_rows(tmp_path / "q.db")
    assert meta["fixed_point_dtype"] == "int32" and float(meta["fixed_point_max"]) == (2**31 - 1) * 0.25
    assert array_logger.open_reader(tmp_path / "q.db").read_all().arrays.tolist() == [[-(2**29), 2**29 - 0.25]]


def test_register_errors(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        with pytest.raises(ValueError, match="float32 and float64"):
            lg.register("a", ["i"], (), "int32", quantize=1)
        with pytest.raises(ValueError, match="float32 and float64"):
            lg.register("a", ["i"], (), "float16", quantize=0.1)
        with pytest.raises(ValueError, match="positive finite step"):
            lg.register("a", ["i"], (), "float32", quantize=0)
        with pytest.raises(ValueError, match="min <= max"):
            lg.register("a", ["i"], (), "float32", quantize=0.1, value_range=(1, -1))
        with pytest.raises(ValueError, match="62-bit"):
            lg.register("a", ["i"], (), "float64", quantize=1e-300, value_range=(-1, 1))
        with pytest.raises(ValueError, match="needs quantize"):
            lg.register("a", ["i"], (), "float32", value_range=(0, 1))
        with pytest.raises(ValueError, match="shuffle_zstd cannot"):
            lg.register("a", ["i"], (), "float32", quantize=0.1, shuffle_zstd=True)
        lg.register("a", ["i"], (4,), "float32", quantize=0.1, value_range=(0, 1))
    for kw in ({"quantize": 0.2, "value_range": (0, 1)}, {"quantize": 0.1, "value_range": (0, 2)}, {}):
        with array_logger.Logger(tmp_path, None) as lg:
            with pytest.raises(array_logger.MetaMismatchError, match="quantize=0.1 range=\\[0, 1\\] as int8"):
                lg.register("a", ["i"], (4,), "float32", **kw)
    with array_logger.Logger(tmp_path, 3) as lg:  # the same spec appends
        lg.register("a", ["i"], (4,), "float32", quantize=0.1, value_range=(0, 1))
        lg.log("a", {"i": 0}, np.full(4, 0.3, np.float32))
    assert array_logger.open_reader(tmp_path / "a.db").read_all().arrays.tolist() == [[np.float32(0.3)] * 4]


def test_plain_sqlite_and_numpy_read_a_fixed_point_file(tmp_path: Path) -> None:
    """Section 5.4, as documented: integers of fixed_point_dtype after the header (flag bit 1)."""
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("q", ["i"], (4,), "float32", quantize=1 / 128, value_range=(-1, 1))
        for i in range(3):
            lg.log("q", {"i": i}, x[i])
    con = sqlite3.connect(tmp_path / "q.db")
    meta = dict(con.execute("SELECT key, value FROM meta"))
    assert meta["format_version"] == "3"
    step, qtype = float(meta["fixed_point_step"]), np.dtype(meta["fixed_point_dtype"])
    assert qtype == np.int16
    out = []
    for (blob,) in con.execute("SELECT data FROM array_log ORDER BY rowid"):
        assert blob[:4] == b"ALB1" and blob[4] == 2
        q = np.frombuffer(blob[int.from_bytes(blob[6:8], "little"):], qtype)
        out.append((q.astype(np.float64) * step).astype(meta["dtype"]))
    con.close()
    assert np.array(out).tobytes() == array_logger.open_reader(tmp_path / "q.db").read_all().arrays.tobytes()


def test_size_on_random_walk_data_is_smaller(tmp_path: Path) -> None:
    """Random-walk float32 at 1e-3: int16 payloads are half the bytes, and compress further."""
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(scale=0.01, size=(2000, 50)), axis=0).astype(np.float32)
    for name, kw in (("dense", {}), ("fixed", {"quantize": 1e-3, "value_range": (-30, 30)})):
        with array_logger.Logger(tmp_path / name, 3) as lg:
            lg.register("w", ["i"], (50,), "float32", **kw)
            for i, row in enumerate(walk):
                lg.log("w", {"i": i}, row)
    dense, fixed = ((tmp_path / n / "w.db.zst").stat().st_size for n in ("dense", "fixed"))
    assert fixed < 0.6 * dense, (fixed, dense)
