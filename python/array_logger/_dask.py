"""Dask collections over a :class:`~array_logger.Dataset` (extra ``dask``).

The graph is built from what the driver already knows, as
``dask.array.from_delayed`` / ``dask.dataframe.from_map`` want it: each file
is split into rowid windows ``(lo, hi]`` of at most ``chunk_rows`` rows, and
each window is one task whose row count is known before anything is computed
(without a ``where_clause`` it is ``hi - lo``, since our files number their
rows 1..N, which one count checks; with one, a count per window). No array is
read to build the graph.

On a worker, each task opens its own read-only connection (``ArrayReader``)
and closes it when done. A ``.db.zst`` file is decompressed once per worker
process into a private temporary directory (``array_logger-dask-*``, mode
0700) and every task of that file opens that copy; the directory is removed
when the worker process exits (``atexit`` and multiprocessing's finalizers,
which Dask's process workers run), or by :func:`drop_worker_copies`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._extras import require
from ._reader import ArrayReader

DEFAULT_CHUNK_BYTES = 128 << 20
FLATTEN_MAX_ELEMENTS = 64
_WINDOW = "_rowid_ > ? AND _rowid_ <= ?"


@dataclass(frozen=True)
class Chunk:
    """One task: rows of ``path`` with ``lo < rowid <= hi`` (that the where
    clause selects), ``rows`` of them."""

    path: str
    shard: Any
    lo: int
    hi: int
    rows: int


def _clause(where_clause: Optional[str]) -> str:
    return f"({where_clause}) AND {_WINDOW}" if where_clause else _WINDOW


def plan(ds: Any, where_clause: Optional[str], params: Optional[Sequence[Any]],
         chunk_rows: Optional[int]) -> List[Chunk]:
    """The chunks of ``ds`` in dataset order (empty ones left out)."""
    row_bytes = max(1, ds.dtype.itemsize * int(np.prod(ds.shape, dtype=np.int64)))
    if chunk_rows is None:
        chunk_rows = max(1, DEFAULT_CHUNK_BYTES // row_bytes)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be an int >= 1, got {chunk_rows!r}")
    params_t = tuple(params) if params is not None else ()
    chunks: List[Chunk] = []
    for f in ds.files:
        if f.rows == 0:
            continue
        reader = ds._reader(f)
        if reader.count("_rowid_ > ?", (f.rows,)) == 0:
            last, dense = f.rows, True  # N distinct rowids, none above N: exactly 1..N
        else:
            from .bridges.inspect import last_rowid

            last, dense = last_rowid(reader), False
        for lo in range(0, last, chunk_rows):
            hi = min(lo + chunk_rows, last)
            n = hi - lo if dense and not where_clause else reader.count(_clause(where_clause), params_t + (lo, hi))
            if n:
                chunks.append(Chunk(f.path, f.shard, lo, hi, n))
    return chunks


# --- on the workers ----------------------------------------------------------------
_copies_lock = threading.Lock()
_copies: Dict[str, str] = {}  # .db.zst path -> this process's decompressed copy
_copies_dir: Optional[str] = None
_copies_pid: Optional[int] = None


def drop_worker_copies() -> None:
    """Removes this process's decompressed copies (also run at process exit)."""
    global _copies_dir
    with _copies_lock:
        if _copies_dir is not None and _copies_pid == os.getpid():
            shutil.rmtree(_copies_dir, ignore_errors=True)
        _copies.clear()
        _copies_dir = None


def _local_copy(path: str) -> str:
    """The plain copy of ``path`` (a .db.zst) in this process, made on first use."""
    global _copies_dir, _copies_pid
    with _copies_lock:
        if _copies_pid != os.getpid():  # a fork child starts with its own copies
            _copies.clear()
            _copies_dir, _copies_pid = None, os.getpid()
        copy = _copies.get(path)
        if copy is None:
            if _copies_dir is None:
                _copies_dir = tempfile.mkdtemp(prefix="array_logger-dask-")
                atexit.register(drop_worker_copies)
                import multiprocessing.util

                multiprocessing.util.Finalize(None, drop_worker_copies, exitpriority=100)
            copy = os.path.join(_copies_dir, f"{len(_copies)}.db")
            _core.decompress_copy(path, copy)
            _copies[path] = copy
        return copy


def _open(path: str) -> ArrayReader:
    return ArrayReader(_local_copy(path) if path.endswith(".zst") else path)


def read_chunk(chunk: Chunk, where_clause: Optional[str], params: Tuple[Any, ...]) -> Any:
    """A task: the chunk's rows as ``Batch(keys, arrays)``, checked against the plan."""
    reader = _open(chunk.path)
    try:
        batch = reader.read_all(_clause(where_clause), params + (chunk.lo, chunk.hi))
    finally:
        reader.close()
    if len(batch.arrays) != chunk.rows:
        raise RuntimeError(f"{chunk.path} changed after the Dask graph was built: rows {chunk.lo + 1}.."
                           f"{chunk.hi} hold {len(batch.arrays)} selected rows, not {chunk.rows}")
    return batch


def read_chunk_arrays(chunk: Chunk, where_clause: Optional[str], params: Tuple[Any, ...]) -> np.ndarray:
    return read_chunk(chunk, where_clause, params).arrays


# --- the collections -----------------------------------------------------------------
def to_dask_array(ds: Any, where_clause: Optional[str], params: Optional[Sequence[Any]],
                  chunk_rows: Optional[int]) -> Any:
    da = require("dask.array")
    dask = require("dask")
    params_t = tuple(params) if params is not None else ()
    blocks = [
        da.from_delayed(dask.delayed(read_chunk_arrays, pure=True)(c, where_clause, params_t),
                        shape=(c.rows,) + tuple(ds.shape), dtype=ds.dtype)
        for c in plan(ds, where_clause, params, chunk_rows)
    ]
    if not blocks:
        return da.zeros((0,) + tuple(ds.shape), dtype=ds.dtype)
    return da.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]


def _frame(chunk: Chunk, where_clause: Optional[str], params: Tuple[Any, ...], shard_key: str,
           key_dtypes: Dict[str, str], flatten: bool) -> Any:
    import pandas as pd

    batch = read_chunk(chunk, where_clause, params)
    n = len(batch.arrays)
    columns: Dict[str, Any] = {shard_key: pd.Series([chunk.shard] * n, dtype=key_dtypes[shard_key])}
    for k, v in batch.keys.items():
        columns[k] = pd.Series(v, dtype=key_dtypes[k]) if key_dtypes[k] != "object" else pd.Series(
            v.tolist(), dtype=object)
    if flatten:
        flat = batch.arrays.reshape(n, -1)
        for i, idx in enumerate(np.ndindex(*batch.arrays.shape[1:]) if batch.arrays.ndim > 1 else [()]):
            columns["data" + "".join(f"_{j}" for j in idx)] = flat[:, i]
    return pd.DataFrame(columns)


def to_dask_dataframe(ds: Any, where_clause: Optional[str], params: Optional[Sequence[Any]],
                      chunk_rows: Optional[int], flatten: Optional[bool]) -> Any:
    dd = require("dask.dataframe")
    require("pandas")
    elements = int(np.prod(ds.shape, dtype=np.int64))
    if flatten is None:
        flatten = elements <= FLATTEN_MAX_ELEMENTS
    if ds.dtype.kind == "c" and flatten:
        raise ValueError("complex arrays cannot be flattened into dataframe columns; pass flatten=False")
    params_t = tuple(params) if params is not None else ()
    kinds = ds.rows(where_clause, params).key_kinds
    key_dtypes = {k: {"int": "int64", "float": "float64"}.get(kind, "object") for k, kind in kinds.items()}
    chunks = plan(ds, where_clause, params, chunk_rows)
    import pandas as pd

    meta_cols: Dict[str, Any] = {k: pd.Series([], dtype=key_dtypes[k]) for k in ds.keys}
    if flatten:
        for idx in (np.ndindex(*ds.shape) if ds.shape else [()]):
            meta_cols["data" + "".join(f"_{j}" for j in idx)] = pd.Series([], dtype=ds.dtype)
    meta = pd.DataFrame(meta_cols)
    if not chunks:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(_frame, chunks, where_clause=where_clause, params=params_t, shard_key=ds.shard_key,
                       key_dtypes=key_dtypes, flatten=flatten, meta=meta, enforce_metadata=False)
