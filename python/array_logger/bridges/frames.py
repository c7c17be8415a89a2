"""Rows as in-memory frames: pandas, polars, xarray (each library imported lazily).

These hold every selected row in memory (as those libraries do); for files
larger than memory use :mod:`.arrow` (a streaming reader) or :mod:`.export`.
The rows are gathered once into one ``(N, *shape)`` ndarray; the frames are
built over it.
"""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from .._extras import require
from .._reader import Batch
from .rows import Rows, repr_column

# flatten=True refuses arrays with more elements than this (one column each).
MAX_FLAT_COLUMNS = 4096


def gather(rows: Rows) -> Batch:
    """Every batch of ``rows`` in one Batch: arrays ``(count, *shape)`` filled
    batch by batch; key columns concatenated, int64 / float64 where the kind
    allows, else object arrays of the values with their own Python types."""
    arrays = np.empty((rows.count,) + tuple(rows.shape), dtype=rows.dtype)
    parts: Dict[str, List[np.ndarray]] = {k: [] for k in rows.keys}
    at = 0
    for batch in rows.batches():
        n = len(batch.arrays)
        if at + n > rows.count:
            raise RuntimeError("more rows than counted: the file changed while it was read")
        arrays[at:at + n] = batch.arrays
        for k in rows.keys:
            parts[k].append(batch.keys[k])
        at += n
    if at != rows.count:
        arrays = arrays[:at]
    keys = {}
    for k in rows.keys:
        kind = rows.key_kinds[k]
        want = np.int64 if kind == "int" else np.float64 if kind == "float" else object
        keys[k] = np.concatenate([p.astype(want, copy=False) for p in parts[k]]) if parts[k] else np.empty(0, want)
    return Batch(keys, arrays)


def element_names(shape: tuple) -> List[str]:
    """``data_0_3``-style names of each element, in C order (``data`` for shape ())."""
    if shape == ():
        return ["data"]
    return ["data_" + "_".join(map(str, idx)) for idx in np.ndindex(*shape)]


def _check_flat(shape: tuple, limit: int = MAX_FLAT_COLUMNS) -> None:
    n = int(np.prod(shape, dtype=np.int64))
    if n > limit:
        raise ValueError(f"shape {shape} has {n} elements: more than {limit} columns; use flatten=False")


def to_pandas(rows: Rows, *, index: bool = False, flatten: bool = False) -> Any:
    pd = require("pandas")
    batch = gather(rows)
    columns: Dict[str, Any] = {k: batch.keys[k] for k in rows.keys}
    shape = tuple(rows.shape)
    n = len(batch.arrays)
    if shape == ():
        columns["data"] = batch.arrays
    elif flatten:
        _check_flat(shape)
        flat = batch.arrays.reshape(n, -1)
        for i, name in enumerate(element_names(shape)):
            columns[name] = flat[:, i]
    else:
        cell = np.empty(n, dtype=object)
        for i in range(n):  # views into batch.arrays, one per row
            cell[i] = batch.arrays[i]
        columns["data"] = cell
    frame = pd.DataFrame(columns, copy=False)
    frame.attrs["array_logger"] = {"shape": shape, "dtype": np.dtype(rows.dtype).name, "meta": dict(rows.meta)}
    if index and rows.keys:
        frame = frame.set_index(list(rows.keys))
    return frame


def to_polars(rows: Rows) -> Any:
    pl = require("polars")
    batch = gather(rows)
    series = []
    for k in rows.keys:
        values = batch.keys[k]
        if rows.key_kinds[k] == "mixed":
            values = repr_column(values)
        dtype = {"int": pl.Int64, "float": pl.Float64}.get(rows.key_kinds[k], pl.String)
        series.append(pl.Series(k, values.tolist() if values.dtype == object else values, dtype=dtype))
    arrays = batch.arrays
    dtype = np.dtype(rows.dtype)
    shape = tuple(rows.shape)
    if dtype.kind == "c":  # polars has no complex type: (real, imaginary) as a last dimension
        arrays = arrays.view(f"<f{dtype.itemsize // 2}").reshape(arrays.shape + (2,))
        shape = shape + (2,)
    if shape == ():
        series.append(pl.Series("data", arrays))
    else:
        inner = pl.Series("data", arrays.reshape(-1))
        series.append(pl.Series("data", arrays, dtype=pl.Array(inner.dtype, shape)))
    return pl.DataFrame(series)


def to_xarray(rows: Rows) -> Any:
    xr = require("xarray")
    batch = gather(rows)
    dims = ("row",) + tuple(f"dim_{i}" for i in range(len(rows.shape)))
    coords = {k: ("row", batch.keys[k]) for k in rows.keys}
    attrs = dict(rows.meta)
    return xr.Dataset({"data": (dims, batch.arrays)}, coords=coords, attrs=attrs)
