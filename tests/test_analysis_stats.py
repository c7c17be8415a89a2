"""Streamed statistics (array_logger.bridges.stats, docs/ANALYSIS.md) against
numpy over the logged arrays: one pass when the values fit the memory budget,
the histogram passes when they do not, the approximate median when even the
middle bins do not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import array_logger
from array_logger.bridges import stats

BUDGETS = [1 << 30, 4096, 8]  # one pass; histogram + exact; histogram (minimum bins)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("stats")
    rng = np.random.default_rng(7)
    data = {
        "f": rng.standard_normal((300, 3, 2)).astype(np.float32),
        "i": rng.integers(-2**62, 2**62, (300, 4)),
        "c": (rng.standard_normal((300, 2)) + 1j * rng.standard_normal((300, 2))).astype(np.complex64),
    }
    data["f"][17, 0, 0] = np.nan
    data["f"][40:60, 1, 1] = 0.25  # ties
    with array_logger.Logger(root, compression_level=None) as lg:
        for name, arrays in data.items():
            lg.register(name, keys=["episode", "step"], shape=arrays.shape[1:], dtype=arrays.dtype)
            for i, a in enumerate(arrays):
                lg.log(name, {"episode": i // 37, "step": i % 37}, a)
    return {"root": root, **data}


def _floats(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "c":
        a = a.view(f"<f{a.dtype.itemsize // 2}").reshape(a.shape + (2,))
    return a.astype(np.float64)


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("name", ["f", "i", "c"])
def test_stats_match_numpy(files: dict, name: str, budget: int) -> None:
    arrays = files[name]
    x = _floats(arrays)
    with array_logger.open_reader(files["root"] / f"{name}.db") as r:
        st = stats.compute(r.rows(batch_rows=64), by="episode", memory_budget=budget)
    assert st["median_exact"]
    a = st["all"]
    assert a["count"] == np.count_nonzero(~np.isnan(x)) and a["nan"] == np.count_nonzero(np.isnan(x))
    assert a["mean"] == pytest.approx(np.nanmean(x), rel=1e-12, abs=1e-12)
    assert a["std"] == pytest.approx(np.nanstd(x), rel=1e-12)
    assert a["median"] == np.nanmedian(x)
    raw = x if name != "i" else arrays
    assert a["min"] == np.nanmin(raw) and a["max"] == np.nanmax(raw)  # int64 min/max exact
    pe = st["per_element"]
    assert pe["mean"].shape == x.shape[1:]
    np.testing.assert_allclose(pe["mean"], np.nanmean(x, axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pe["std"], np.nanstd(x, axis=0), rtol=1e-12)
    np.testing.assert_array_equal(pe["median"], np.nanmedian(x, axis=0))
    if name == "i":
        assert pe["min"].dtype == np.int64
        np.testing.assert_array_equal(pe["min"], arrays.min(axis=0))
        np.testing.assert_array_equal(pe["max"], arrays.max(axis=0))
    episodes = np.arange(len(arrays)) // 37
    groups = st["by"]["groups"]
    assert [g["value"] for g in groups] == sorted(set(episodes.tolist()))
    for g in groups:
        sel = x[episodes == g["value"]]
        assert g["count"] == np.count_nonzero(~np.isnan(sel))
        assert g["mean"] == pytest.approx(np.nanmean(sel), rel=1e-12, abs=1e-12)
        assert g["median"] == np.nanmedian(sel)


def test_stats_with_where_and_empty_selection(files: dict) -> None:
    with array_logger.open_reader(files["root"] / "f.db") as r:
        st = r.stats("step < ?", (5,))
        sel = _floats(files["f"])[np.arange(300) % 37 < 5]
        assert st["all"]["median"] == np.nanmedian(sel)
        empty = r.stats("step < ?", (0,))
    assert empty["rows"] == 0 and empty["all"]["count"] == 0
    assert np.isnan(empty["all"]["mean"]) and np.isnan(empty["all"]["median"])


def test_median_is_approximate_with_a_bound_when_the_middle_bins_do_not_fit(tmp_path: Path) -> None:
    # Values crowded into the middle bin so collecting it would exceed the budget.
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.uniform(0.5, 0.5001, 5000), [0.0, 1.0]]).astype(np.float64)
    with array_logger.Logger(tmp_path, compression_level=None) as lg:
        lg.register("v", keys=["i"], shape=(), dtype="float64")
        lg.log_many("v", {"i": list(range(len(values)))}, values)
    with array_logger.open_reader(tmp_path / "v.db") as r:
        st = stats.compute(r.rows(), per_element=False, memory_budget=8)
    a = st["all"]
    assert not st["median_exact"]
    assert 0 < a["median_error"] <= 1.0 / 2 + 1e-12
    assert abs(a["median"] - np.median(values)) <= a["median_error"]


def test_stats_of_bool_and_constant_arrays(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None) as lg:
        lg.register("b", keys=["i"], shape=(3,), dtype="bool")
        lg.register("k", keys=["i"], shape=(2,), dtype="float32")
        for i in range(10):
            lg.log("b", {"i": i}, np.array([True, i % 2 == 0, False]))
            lg.log("k", {"i": i}, np.full(2, 1.5, np.float32))
    with array_logger.open_reader(tmp_path / "b.db") as r:
        st = stats.compute(r.rows(), memory_budget=8)
    np.testing.assert_array_equal(st["per_element"]["mean"], [1.0, 0.5, 0.0])
    with array_logger.open_reader(tmp_path / "k.db") as r:
        st = stats.compute(r.rows(), memory_budget=8)
    assert st["median_exact"] and st["all"]["median"] == 1.5 and st["all"]["std"] == 0.0
