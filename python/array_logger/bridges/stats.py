"""Summary statistics of rows, streamed in bounded memory.

For the selected rows: count, mean, std (population, ddof=0, as numpy),
min, max and median, over all elements of all rows ("all"), per element
("per_element", arrays of the file's shape) and per value of one key ("by").

- Moments are merged batch by batch (Chan et al.'s pairwise update), in
  float64. NaNs are left out of every statistic and counted in ``nan``.
- min and max keep the file's dtype (exact for int64 and uint64).
- Complex arrays are analysed as (real, imaginary) pairs: a trailing
  dimension of 2 in ``per_element``; ``all`` covers both parts.
- The median is exact. When the selected values (as float64) fit in
  ``memory_budget`` bytes they are collected in one pass. Otherwise a second
  pass counts each cell's values (a cell is one element, the whole array, or
  one group) into a histogram between its min and max, and a third pass
  collects only the values in the one or two bins that hold the middle
  rank(s). If those bins together hold more values than the budget allows,
  the median is reported from the histogram (linear within its bin),
  ``median_exact`` is false and ``median_error`` bounds the error (the bin
  width). Integers beyond 2**53 are compared as float64 for the median.

docs/ANALYSIS.md explains the choices.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .rows import Rows

DEFAULT_MEMORY_BUDGET = 256 << 20
MAX_BINS = 4096


def _float_view(arrays: np.ndarray) -> np.ndarray:
    """Complex -> float pairs (trailing dimension 2); other dtypes unchanged."""
    if arrays.dtype.kind == "c":
        return arrays.view(f"<f{arrays.dtype.itemsize // 2}").reshape(arrays.shape + (2,))
    return arrays


def _raw(values: np.ndarray) -> np.ndarray:
    # min/max in the file's dtype; bool compares as uint8 (fmin has no bool loop everywhere)
    return values.view(np.uint8) if values.dtype == np.bool_ else values


def _top(dtype: np.dtype) -> Any:
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _bottom(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


class _View:
    """One way of grouping values into cells: each input row of ``values2d``
    (shape (r, w)) contributes its w values to cell ``cells[r]``."""

    def __init__(self, n_cells: int, raw_dtype: np.dtype) -> None:
        self.n = np.zeros(n_cells, np.int64)
        self.nan = np.zeros(n_cells, np.int64)
        self.mean = np.zeros(n_cells, np.float64)
        self.m2 = np.zeros(n_cells, np.float64)
        self.raw_dtype = raw_dtype
        self.min: Optional[np.ndarray] = None
        self.max: Optional[np.ndarray] = None

    def grow(self, n_cells: int) -> None:
        extra = n_cells - len(self.n)
        if extra <= 0:
            return
        self.n = np.concatenate([self.n, np.zeros(extra, np.int64)])
        self.nan = np.concatenate([self.nan, np.zeros(extra, np.int64)])
        self.mean = np.concatenate([self.mean, np.zeros(extra)])
        self.m2 = np.concatenate([self.m2, np.zeros(extra)])
        if self.min is not None:
            self.min = np.concatenate([self.min, np.full(extra, _top(self.min.dtype), self.min.dtype)])
            self.max = np.concatenate([self.max, np.full(extra, _bottom(self.max.dtype), self.max.dtype)])

    def add(self, values2d: np.ndarray, raw2d: np.ndarray, cells: np.ndarray) -> None:
        nan_mask = np.isnan(values2d) if raw2d.dtype.kind == "f" else None
        if nan_mask is not None and not nan_mask.any():
            nan_mask = None
        if nan_mask is None:  # the common case: no NaN, no masking passes
            cnt_r = np.full(values2d.shape[0], values2d.shape[1], np.float64)
            sum_r = values2d.sum(axis=1)
            mean_r = sum_r / cnt_r if values2d.shape[1] else np.zeros_like(sum_r)
            dev = values2d - mean_r[:, None]
            nan_r = np.zeros(values2d.shape[0])
        else:
            ok = ~nan_mask
            cnt_r = ok.sum(axis=1).astype(np.float64)
            sum_r = np.where(ok, values2d, 0.0).sum(axis=1)
            mean_r = np.divide(sum_r, cnt_r, out=np.zeros_like(sum_r), where=cnt_r > 0)
            dev = np.where(ok, values2d - mean_r[:, None], 0.0)
            nan_r = nan_mask.sum(axis=1)
        m2_r = np.einsum("ij,ij->i", dev, dev)
        C = len(self.n)
        n_b = np.bincount(cells, weights=cnt_r, minlength=C)
        s_b = np.bincount(cells, weights=sum_r, minlength=C)
        mean_b = np.divide(s_b, n_b, out=np.zeros(C), where=n_b > 0)
        m2_b = np.bincount(cells, weights=m2_r + cnt_r * (mean_r - mean_b[cells]) ** 2, minlength=C)
        # merge (n, mean, m2) with the batch's (n_b, mean_b, m2_b)
        n_tot = self.n + n_b
        delta = mean_b - self.mean
        frac = np.divide(n_b, n_tot, out=np.zeros(C), where=n_tot > 0)
        self.mean = self.mean + delta * frac
        self.m2 = self.m2 + m2_b + delta * delta * self.n * frac
        self.n = n_tot.astype(np.int64)
        self.nan += np.bincount(cells, weights=nan_r, minlength=C).astype(np.int64)
        # min / max in the raw dtype; float NaNs are skipped by fmin/fmax
        mn = np.fmin.reduce(raw2d, axis=1) if raw2d.shape[1] else None
        mx = np.fmax.reduce(raw2d, axis=1) if raw2d.shape[1] else None
        if mn is None:
            return
        if self.min is None:
            self.min = np.full(C, _top(mn.dtype), mn.dtype)
            self.max = np.full(C, _bottom(mx.dtype), mx.dtype)
        np.fmin.at(self.min, cells, mn)
        np.fmax.at(self.max, cells, mx)

    def result(self) -> Dict[str, np.ndarray]:
        n = self.n
        if self.min is not None and self.min.dtype.kind == "f":  # cells of NaNs only
            self.min = np.where(n > 0, self.min, np.nan).astype(self.min.dtype)
            self.max = np.where(n > 0, self.max, np.nan).astype(self.max.dtype)
        mean = np.where(n > 0, self.mean, np.nan)
        std = np.sqrt(np.divide(self.m2, n, out=np.full(len(n), np.nan), where=n > 0))
        return {"count": n, "nan": self.nan, "mean": mean, "std": std, "min": self.min, "max": self.max}


class _Medians:
    """Exact medians of cells in up to two more passes (see the module doc)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray, counts: np.ndarray, budget_values: int) -> None:
        C = len(lo)
        self.bins = int(max(2, min(MAX_BINS, budget_values // max(1, C))))
        self.lo, self.hi, self.counts = lo, hi, counts
        self.width = np.where(hi > lo, (hi - lo) / self.bins, 1.0)
        self.hist = np.zeros(C * self.bins, np.int64)
        self.budget_values = budget_values

    def _bin(self, values2d: np.ndarray, cells: np.ndarray) -> np.ndarray:
        b = np.floor((values2d - self.lo[cells][:, None]) / self.width[cells][:, None])
        return np.clip(np.nan_to_num(b, nan=0.0), 0, self.bins - 1).astype(np.int64)

    def count(self, values2d: np.ndarray, cells: np.ndarray) -> None:
        ok = ~np.isnan(values2d)
        flat = cells[:, None] * self.bins + self._bin(values2d, cells)
        self.hist += np.bincount(flat[ok], minlength=len(self.hist))

    def plan(self) -> bool:
        """After the counting pass: the bins of the middle ranks; False when
        collecting them would exceed the budget (then approximate)."""
        C, B = len(self.lo), self.bins
        h = self.hist.reshape(C, B)
        cum = np.cumsum(h, axis=1)
        n = self.counts
        self.k1 = np.maximum(n - 1, 0) // 2  # 0-based middle ranks
        self.k2 = n // 2
        self.b1 = np.array([np.searchsorted(cum[c], self.k1[c], side="right") for c in range(C)], np.int64)
        self.b2 = np.array([np.searchsorted(cum[c], self.k2[c], side="right") for c in range(C)], np.int64)
        self.b1 = np.minimum(self.b1, B - 1)
        self.b2 = np.minimum(self.b2, B - 1)
        self.below1 = np.where(self.b1 > 0, cum[np.arange(C), np.maximum(self.b1 - 1, 0)], 0)
        self.below2 = np.where(self.b2 > 0, cum[np.arange(C), np.maximum(self.b2 - 1, 0)], 0)
        held = h[np.arange(C), self.b1] + np.where(self.b2 != self.b1, h[np.arange(C), self.b2], 0)
        self.spread = self.hi > self.lo  # a cell whose min == max has that value as its median
        held = np.where(self.spread, held, 0)
        self.exact = bool(held.sum() <= self.budget_values)
        self.collected: List[Tuple[np.ndarray, np.ndarray]] = []
        return self.exact

    def collect(self, values2d: np.ndarray, cells: np.ndarray) -> None:
        b = self._bin(values2d, cells)
        keep = ~np.isnan(values2d) & ((b == self.b1[cells][:, None]) | (b == self.b2[cells][:, None]))
        keep &= self.spread[cells][:, None]
        rr, cc = np.nonzero(keep)
        self.collected.append((cells[rr], values2d[rr, cc]))

    def result(self) -> Tuple[np.ndarray, np.ndarray]:
        C = len(self.lo)
        # Empty cells have no median; a cell whose min == max has that value.
        med = np.where((self.counts > 0) & ~self.spread, self.lo, np.nan).astype(np.float64)
        err = np.zeros(C)
        todo = [c for c in range(C) if self.counts[c] != 0 and self.spread[c]]
        if self.exact:
            cell = np.concatenate([c for c, _ in self.collected]) if self.collected else np.empty(0, np.int64)
            vals = np.concatenate([v for _, v in self.collected]) if self.collected else np.empty(0)
            order = np.lexsort((vals, cell))
            cell, vals = cell[order], vals[order]
            starts = np.searchsorted(cell, np.arange(C), side="left")
            for c in todo:
                b1, b2 = self.b1[c], self.b2[c]
                # the collected values of cell c are those of bins b1 (and b2), sorted
                seg = vals[starts[c]:(starts[c + 1] if c + 1 < C else len(vals))]
                v1 = seg[self.k1[c] - self.below1[c]]
                if b2 == b1:
                    v2 = seg[self.k2[c] - self.below1[c]]
                else:
                    in_b1 = self.hist[c * self.bins + b1]
                    v2 = seg[in_b1 + self.k2[c] - self.below2[c]]
                med[c] = (v1 + v2) / 2.0 if v1 != v2 else v1  # as numpy.median
            return med, err
        for c in todo:
            vals = []
            for k, b, below in ((self.k1[c], self.b1[c], self.below1[c]), (self.k2[c], self.b2[c], self.below2[c])):
                in_bin = max(1, self.hist[c * self.bins + b])
                vals.append(self.lo[c] + self.width[c] * (b + (k - below + 0.5) / in_bin))
            med[c] = (vals[0] + vals[1]) / 2.0
            err[c] = self.width[c] if self.hi[c] > self.lo[c] else 0.0
        return med, err


def _group_index(values: np.ndarray, index: Dict[Any, int]) -> np.ndarray:
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values.tolist()):
        key = (type(v) is str, v)  # 1 and "1" are different groups; 1 and 1.0 the same, as in SQL
        g = index.get(key)
        if g is None:
            g = index[key] = len(index)
        out[i] = g
    return out


def compute(rows: Rows, *, by: Optional[str] = None, per_element: bool = True,
            memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Dict[str, Any]:
    """The statistics of ``rows`` (see the module doc); arrays for per-element values.

    Example:
        >>> s = reader.stats()  # doctest: +SKIP
        >>> s["all"]["mean"], s["per_element"]["max"].shape  # doctest: +SKIP
    """
    # Values of +-inf make inf - inf in the moments: mean +-inf or NaN and std
    # NaN, as numpy computes them; the answer, not a reason to warn.
    with np.errstate(invalid="ignore", over="ignore"):
        return _compute(rows, by=by, per_element=per_element, memory_budget=memory_budget)


def _compute(rows: Rows, *, by: Optional[str], per_element: bool, memory_budget: int) -> Dict[str, Any]:
    if by is not None and by not in rows.keys:
        raise ValueError(f"--by {by!r}: not a key of this file (keys: {rows.keys})")
    shape = tuple(rows.shape)
    elem_shape = shape + ((2,) if np.dtype(rows.dtype).kind == "c" else ())
    E = int(np.prod(elem_shape, dtype=np.int64))
    raw_dtype = _raw(np.empty(0, _float_view(np.empty((0,) + shape, rows.dtype)).dtype)).dtype
    # Moments per element; the over-all ones are merged from them exactly.
    views: Dict[str, _View] = {"per_element": _View(E, raw_dtype)}
    groups: Dict[Any, int] = {}
    if by is not None:
        views["by"] = _View(0, raw_dtype)

    def prepare(batch: Any) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        raw = _raw(_float_view(np.ascontiguousarray(batch.arrays))).reshape(len(batch.arrays), E)
        g = None
        if by is not None:
            g = _group_index(batch.keys[by], groups)
            views["by"].grow(len(groups))
        return raw, raw.astype(np.float64), g

    def layouts(batch: Any) -> Iterator[Tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        raw, values, g = prepare(batch)
        yield "all", values.reshape(1, -1), raw.reshape(1, -1), np.zeros(1, np.int64)
        yield "per_element", values.T, raw.T, np.arange(E)
        if g is not None:
            yield "by", values, raw, g

    # One pass when every value fits the budget (as float64): collect them.
    collect_all = rows.count * E * 8 <= memory_budget
    collected: List[np.ndarray] = []
    group_of_row: List[np.ndarray] = []
    for batch in rows.batches():
        if not len(batch.arrays):
            continue
        raw, values, g = prepare(batch)
        views["per_element"].add(values.T, raw.T, np.arange(E))
        if g is not None:
            views["by"].add(values, raw, g)
            group_of_row.append(g)
        if collect_all:
            collected.append(values)
    results = {name: v.result() for name, v in views.items()}
    results["all"] = _merge_cells(results["per_element"], views["per_element"].m2)
    if collect_all:
        X = np.concatenate(collected) if collected else np.empty((0, E))
        has_nan = bool(np.isnan(X).any())
        median = np.nanmedian if has_nan else np.median
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN or empty cells give NaN
            results["per_element"]["median"] = median(X, axis=0) if len(X) else np.full(E, np.nan)
            results["all"]["median"] = np.array([median(X) if X.size else np.nan])
            if by is not None:
                G = np.concatenate(group_of_row) if group_of_row else np.empty(0, np.int64)
                order = np.argsort(G, kind="stable")
                bounds = np.searchsorted(G[order], np.arange(len(groups) + 1))
                results["by"]["median"] = np.array(
                    [median(X[order[bounds[i]:bounds[i + 1]]]) for i in range(len(groups))])
        for name in results:
            results[name]["median_error"] = np.zeros(len(results[name]["count"]))
        exact = True
    else:
        views["all"] = _View(1, raw_dtype)
        views["all"].n = results["all"]["count"]
        exact = _median_passes(rows, views, results, layouts, memory_budget)
    if not per_element:
        del results["per_element"]
    return _shape_results(rows, results, groups, by, elem_shape, exact)


def _merge_cells(r: Dict[str, Any], m2_cells: np.ndarray) -> Dict[str, Any]:
    """The moments of all cells together, from each cell's (exact pairwise merge)."""
    n = r["count"]
    total = int(n.sum())
    ok = n > 0
    mean = float((r["mean"][ok] * n[ok]).sum() / total) if total else np.nan
    m2 = float((np.where(ok, m2_cells, 0.0) + n * np.where(ok, r["mean"] - mean, 0.0) ** 2).sum())
    mins = r["min"][ok] if r["min"] is not None else np.empty(0)
    maxs = r["max"][ok] if r["max"] is not None else np.empty(0)
    return {
        "count": np.array([total]), "nan": np.array([int(r["nan"].sum())]),
        "mean": np.array([mean]), "std": np.array([np.sqrt(m2 / total) if total else np.nan]),
        "min": mins.min(keepdims=True) if len(mins) else None,
        "max": maxs.max(keepdims=True) if len(maxs) else None,
    }


def _middle(sorted_values: np.ndarray) -> float:
    n = len(sorted_values)
    a, b = sorted_values[(n - 1) // 2], sorted_values[n // 2]
    return float((a + b) / 2.0) if a != b else float(a)  # as numpy.median


def _median_passes(rows: Rows, views: Dict[str, _View], results: Dict[str, Dict[str, Any]], layouts: Any,
                   memory_budget: int) -> bool:
    budget_values = max(1024, memory_budget // 8 // max(1, len(views)))
    meds = {}
    for name, v in views.items():
        lo = results[name]["min"].astype(np.float64) if results[name]["min"] is not None else np.zeros(len(v.n))
        hi = results[name]["max"].astype(np.float64) if results[name]["max"] is not None else np.zeros(len(v.n))
        lo = np.nan_to_num(lo, nan=0.0, posinf=np.finfo(np.float64).max, neginf=np.finfo(np.float64).min)
        hi = np.nan_to_num(hi, nan=0.0, posinf=np.finfo(np.float64).max, neginf=np.finfo(np.float64).min)
        meds[name] = _Medians(lo, hi, v.n, budget_values)
    for batch in rows.batches():
        if len(batch.arrays):
            for name, values2d, _, cells in layouts(batch):
                meds[name].count(values2d, cells)
    exact = all([m.plan() for m in meds.values()])
    if any(m.exact for m in meds.values()):
        for batch in rows.batches():
            if len(batch.arrays):
                for name, values2d, _, cells in layouts(batch):
                    if meds[name].exact:
                        meds[name].collect(values2d, cells)
    for name, m in meds.items():
        results[name]["median"], results[name]["median_error"] = m.result()
    return exact


def _shape_results(rows: Rows, results: Dict[str, Dict[str, Any]], groups: Dict[Any, int], by: Optional[str],
                   elem_shape: tuple, exact: bool) -> Dict[str, Any]:
    def scalar(x: Any) -> Any:
        return x.item() if hasattr(x, "item") else x

    out: Dict[str, Any] = {"rows": rows.count, "shape": list(rows.shape), "dtype": np.dtype(rows.dtype).name,
                           "median_exact": exact}
    a = results["all"]
    out["all"] = {k: (scalar(v[0]) if v is not None else None) for k, v in a.items()}
    if "per_element" in results:
        pe = results["per_element"]
        out["per_element"] = {k: (v.reshape(elem_shape) if v is not None else None) for k, v in pe.items()}
    if by is not None:
        r = results["by"]
        values = sorted(groups, key=lambda g: groups[g])
        lines = []
        for (_, value), gi in zip(values, range(len(values))):
            lines.append({"value": value, **{k: (scalar(v[gi]) if v is not None else None) for k, v in r.items()}})
        try:
            lines.sort(key=lambda d: (isinstance(d["value"], str), d["value"]))
        except TypeError:
            pass
        out["by"] = {"key": by, "groups": lines}
    return out
