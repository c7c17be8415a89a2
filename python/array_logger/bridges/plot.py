"""A quick matplotlib figure of rows (``array-logger plot``; extra ``plot``).

The y value of a row is the mean of its array or one element of it; x is a
key or the row number; ``by`` draws one line per value of a key. The figure
is written with the non-interactive Agg backend, so no display is needed.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .._extras import require
from .rows import Rows


def series(rows: Rows, *, index: Optional[Tuple[int, ...]] = None, x: Optional[str] = None,
           by: Optional[str] = None) -> Dict[Any, Tuple[np.ndarray, np.ndarray]]:
    """``{group: (xs, ys)}`` streamed batch by batch (one group, ``None``, without ``by``)."""
    for k in (x, by):
        if k is not None and k not in rows.keys:
            raise ValueError(f"{k!r} is not a key of this file (keys: {rows.keys})")
    if index is not None:
        if len(index) != len(rows.shape) or any(not 0 <= i < n for i, n in zip(index, rows.shape)):
            raise ValueError(f"element index {index} is not inside shape {tuple(rows.shape)}")
    xs: Dict[Any, List[np.ndarray]] = {}
    ys: Dict[Any, List[np.ndarray]] = {}
    at = 0
    for batch in rows.batches():
        m = len(batch.arrays)
        if index is None:
            y = batch.arrays.reshape(m, -1).astype(np.float64).mean(axis=1) if m else np.empty(0)
        else:
            y = batch.arrays[(slice(None),) + tuple(index)]
            y = y.real if np.iscomplexobj(y) else y
            y = np.asarray(y, dtype=np.float64)
        xv = np.arange(at, at + m) if x is None else batch.keys[x]
        groups = [None] * m if by is None else batch.keys[by].tolist()
        for g in dict.fromkeys(groups):
            sel = np.fromiter((gg == g for gg in groups), bool, m) if by is not None else slice(None)
            xs.setdefault(g, []).append(np.asarray(xv)[sel])
            ys.setdefault(g, []).append(y[sel])
        at += m
    return {g: (np.concatenate(xs[g]), np.concatenate(ys[g])) for g in xs}


def plot(rows: Rows, path: "str | os.PathLike[str]", *, index: Optional[Tuple[int, ...]] = None,
         x: Optional[str] = None, by: Optional[str] = None, title: str = "", max_lines: int = 20) -> None:
    """Writes a PNG of the rows to ``path`` (see the module doc)."""
    matplotlib = require("matplotlib")
    matplotlib.use("Agg", force=True)
    plt = require("matplotlib.pyplot")
    data = series(rows, index=index, x=x, by=by)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for i, (g, (xv, yv)) in enumerate(data.items()):
            if i == max_lines:
                break
            label = None if by is None else f"{by}={g!r}"
            ax.plot(xv, yv, label=label, linewidth=1)
        ax.set_xlabel(x or "row")
        ax.set_ylabel("mean of the array" if index is None else f"element {list(index)}")
        shown = f" (first {max_lines} of {len(data)} lines)" if len(data) > max_lines else ""
        ax.set_title(title + shown)
        if by is not None and data:
            ax.legend(fontsize="small", ncol=2)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.fspath(path), format="png")
    finally:
        plt.close(fig)
