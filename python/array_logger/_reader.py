"""Reading array_logger files: :func:`open_reader` and :class:`ArrayReader`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Iterator, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import _core, _lifecycle

if TYPE_CHECKING:
    from .bridges.rows import Rows

# Rows fetched from the core per block while iterating: up to 4096, and at
# most ~8 MiB of arrays, so memory stays small and fresh pages few.
_BLOCK_ROWS = 4096
_BLOCK_BYTES = 8 << 20


class Batch(NamedTuple):
    """All selected rows at once: ``keys[name]`` is a 1-D array per key,
    ``arrays`` one ndarray of shape ``(N, *shape)``."""

    keys: Dict[str, np.ndarray]
    arrays: np.ndarray


class ArrayReader:
    """A read-only view of one array_logger file (``.db`` or ``.db.zst``).

    Never modifies the file: the connection is read-only and ``where_clause``
    may only read. A ``.db.zst`` is decompressed to a private temporary file
    that :meth:`close` (or garbage collection, or interpreter exit) removes.

    Example:
        >>> reader = array_logger.open_reader("./logs/q_values.db")  # doctest: +SKIP
        >>> for keys, array in reader.iterate("episode = ?", (10,)):  # doctest: +SKIP
        ...     print(keys["step"], array.mean())
        >>> batch = reader.read_all("step < ?", (5,))  # doctest: +SKIP
        >>> batch.arrays.shape, batch.keys["episode"]  # doctest: +SKIP
        >>> reader.close()  # doctest: +SKIP
    """

    def __init__(self, db_path: "str | os.PathLike[str]") -> None:
        self._core = _core.Reader(os.fspath(db_path))
        _lifecycle.track(self, writer=False)

    # --- what the file is -------------------------------------------------
    @property
    def shape(self) -> Tuple[int, ...]:
        """Shape of every array in the file."""
        return self._core.shape

    @property
    def dtype(self) -> np.dtype:
        return self._core.dtype

    @property
    def keys(self) -> list:
        """Key names, in the order they were registered."""
        return self._core.keys

    @property
    def meta(self) -> Dict[str, str]:
        """Every row of the file's meta table, as text."""
        return self._core.meta

    @property
    def format_version(self) -> int:
        """1 for files of the pure-Python array_logger, 2 for ours."""
        return self._core.format_version

    @property
    def storage(self) -> Dict[str, Dict[str, Any]]:
        """How the rows are stored beyond plain arrays (docs/FORMAT.md 5.4,
        5.5, 10), from the meta: ``{"period": {"steps", "mode",
        "input_dtype"}, "fixed_point": {"step", "min", "max", "dtype"},
        "sparse": {"index_dtype"}}``, each present only when it applies."""
        m = self.meta
        out: Dict[str, Dict[str, Any]] = {}
        if "period" in m:
            out["period"] = {"steps": int(m["period"]), "mode": m["period_mode"], "input_dtype": m["period_input_dtype"]}
        if "fixed_point_step" in m:
            out["fixed_point"] = {"step": float(m["fixed_point_step"]), "min": float(m["fixed_point_min"]),
                                  "max": float(m["fixed_point_max"]), "dtype": m["fixed_point_dtype"]}
        if "sparse_index_dtype" in m:
            out["sparse"] = {"index_dtype": m["sparse_index_dtype"]}
        return out

    @property
    def path(self) -> str:
        return self._core.path

    @property
    def closed(self) -> bool:
        return self._core.closed

    # --- reading ------------------------------------------------------------
    def iterate(
        self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None
    ) -> Iterator[Tuple[Dict[str, Any], np.ndarray]]:
        """Yields ``(keys_dict, array)`` for each row, in logging order.

        ``where_clause`` is an SQL expression over the key columns with ``?``
        placeholders (``"episode > ? AND step % 10 = 0"``), ``params`` their
        values. Each array is independent of the reader and of later rows.
        """
        cursor = self._core.query(where_clause or "", params)
        row_bytes = max(1, self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64)))
        rows = max(1, min(_BLOCK_ROWS, _BLOCK_BYTES // row_bytes))
        while True:
            block = cursor.fetch(rows)
            if block is None:
                return
            keys, arrays = block
            if arrays.ndim == 1:  # 0-d arrays: indexing would give numpy scalars
                yield from zip(keys, (arrays[i, ...] for i in range(len(keys))))
            else:
                yield from zip(keys, arrays)

    def iterate_sparse(
        self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None
    ) -> Iterator[Tuple[Dict[str, Any], Tuple[np.ndarray, np.ndarray]]]:
        """Yields ``(keys_dict, (indices, values))`` for each row, in logging
        order: the flat C-order ``indices`` (int64) of the elements that are
        not zero and their ``values`` (the file's dtype). Rows of a
        ``sparse=True`` name come as stored, without making the dense array;
        other rows are scanned (an element is zero when all its bytes are, so
        ``-0.0`` and NaN are kept). ``np.unravel_index(indices, reader.shape)``
        gives N-d positions.

        Example:
            >>> for keys, (idx, vals) in reader.iterate_sparse("step = ?", (3,)):  # doctest: +SKIP
            ...     dense = np.zeros(reader.shape, reader.dtype); dense.flat[idx] = vals
        """
        cursor = self._core.query_sparse(where_clause or "", params)
        while True:
            block = cursor.fetch_sparse(_BLOCK_ROWS)
            if block is None:
                return
            yield from zip(*block)

    def read_all(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> Batch:
        """Every selected row in one call: ``Batch(keys, arrays)``.

        ``arrays`` has shape ``(N, *shape)``; ``keys[name]`` is an int64 array
        when every value is an int, float64 when every value is a float,
        otherwise an object array of the values with their own types.
        """
        keys, arrays = self._core.read_all(where_clause or "", params)
        return Batch(keys, arrays)

    def count(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> int:
        """Number of rows (that ``where_clause`` selects)."""
        return self._core.count(where_clause or "", params)

    def __len__(self) -> int:
        return self.count()

    # --- batches and the analysis bridges (docs/ANALYSIS.md) ---------------
    # Each bridge lives in array_logger.bridges and imports its library lazily:
    # `import array_logger` needs numpy only.
    def iter_batches(
        self,
        where_clause: Optional[str] = None,
        params: Optional[Sequence[Any]] = None,
        batch_rows: Optional[int] = None,
    ) -> Iterator[Batch]:
        """Yields the selected rows as ``Batch(keys, arrays)`` of at most
        ``batch_rows`` rows each (default: about 32 MiB of arrays), in logging
        order, so files larger than memory stream.

        Example:
            >>> for batch in reader.iter_batches("episode < ?", (10,)):  # doctest: +SKIP
            ...     total += batch.arrays.sum(axis=0)
        """
        from .bridges import rows as _rows

        size = _rows.check_batch_rows(batch_rows, self.shape, self.dtype)
        return _rows.cursor_batches(self, where_clause, tuple(params) if params is not None else None, size)

    def rows(
        self,
        where_clause: Optional[str] = None,
        params: Optional[Sequence[Any]] = None,
        batch_rows: Optional[int] = None,
    ) -> "Rows":
        """The selected rows described for the bridges (count, key kinds) with
        a ``batches()`` callable that streams them; see ``array_logger.bridges.rows``."""
        from .bridges import rows as _rows

        n = self.count(where_clause, params)
        size = _rows.check_batch_rows(batch_rows, self.shape, self.dtype)
        params = tuple(params) if params is not None else None
        return _rows.Rows(
            shape=self.shape, dtype=self.dtype, keys=self.keys, meta=self.meta, count=n,
            batches=lambda: _rows.cursor_batches(self, where_clause, params, size),
            find_key_kinds=lambda: _rows.key_kinds(self, where_clause, params, n), batch_rows=size,
        )

    def to_arrow(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                 batch_rows: Optional[int] = None) -> Any:
        """The selected rows as a ``pyarrow.Table`` (extra ``arrow``): one
        column per key, ``data`` as ``arrow.fixed_shape_tensor`` built over the
        read arrays without a copy, the file's meta in the schema metadata.

        Example:
            >>> table = reader.to_arrow("episode = ?", (3,))  # doctest: +SKIP
            >>> table.column("data").combine_chunks().to_numpy_ndarray().shape  # doctest: +SKIP
            (50, 10, 5)
        """
        from .bridges import arrow

        return arrow.to_table(self.rows(where_clause, params, batch_rows))

    def to_arrow_reader(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                        batch_rows: Optional[int] = None) -> Any:
        """A streaming ``pyarrow.RecordBatchReader`` over the selected rows
        (extra ``arrow``); memory stays at about one batch."""
        from .bridges import arrow

        return arrow.to_reader(self.rows(where_clause, params, batch_rows))

    def to_parquet(self, path: "str | os.PathLike[str]", where_clause: Optional[str] = None,
                   params: Optional[Sequence[Any]] = None, *, compression: str = "zstd",
                   batch_rows: Optional[int] = None) -> int:
        """Streams the selected rows into a Parquet file (extra ``arrow``), one
        row group per batch; returns the number of rows written. The tensor
        type and the meta survive the round trip."""
        from .bridges import arrow, export

        with export.output_file(path) as tmp:  # no partial file if it stops half-way
            return arrow.write_parquet(self.rows(where_clause, params, batch_rows), tmp, compression=compression)

    def to_pandas(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                  index: bool = False, flatten: bool = False) -> Any:
        """The selected rows as a ``pandas.DataFrame`` (extra ``pandas``).

        Keys are columns (``index=True``: a MultiIndex). ``data`` holds one
        ndarray per row, each a view into one block read at once;
        ``flatten=True`` gives one column per element instead (``data_0_3``).
        Shape ``()`` gives a plain numeric ``data`` column.
        """
        from .bridges import frames

        return frames.to_pandas(self.rows(where_clause, params), index=index, flatten=flatten)

    def to_polars(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> Any:
        """The selected rows as a ``polars.DataFrame`` (extra ``polars``): keys as
        columns, ``data`` as an ``Array`` column that keeps the shape."""
        from .bridges import frames

        return frames.to_polars(self.rows(where_clause, params))

    def to_xarray(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> Any:
        """The selected rows as an ``xarray.Dataset`` (extra ``xarray``): variable
        ``data`` with dims ``("row", "dim_0", ...)``, the keys as coordinates
        along ``row``, the meta as attrs."""
        from .bridges import frames

        return frames.to_xarray(self.rows(where_clause, params))

    def export(self, path: "str | os.PathLike[str]", format: Optional[str] = None,
               where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
               progress: Any = None, batch_rows: Optional[int] = None) -> int:
        """Streams the selected rows into ``path`` as ``parquet``, ``arrow``
        (IPC file), ``npz``, ``csv`` or ``hdf5`` (default: from the suffix);
        returns the number of rows written. See docs/ANALYSIS.md."""
        from .bridges import export

        return export.export(self.rows(where_clause, params, batch_rows), path, format, progress=progress)

    def stats(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
              by: Optional[str] = None, per_element: bool = True) -> Dict[str, Any]:
        """count, mean, std, min, max and median of the selected rows, over all
        elements and per element (or per value of key ``by``), streamed in
        bounded memory; see docs/ANALYSIS.md for how the median is computed."""
        from .bridges import stats

        return stats.compute(self.rows(where_clause, params), by=by, per_element=per_element)

    def follow(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
               poll_seconds: float = 0.5, timeout: Optional[float] = None
               ) -> Iterator[Tuple[Dict[str, Any], np.ndarray]]:
        """Yields every row of this file exactly once, the rows already there
        first, then each row another process commits, as ``(keys_dict, array)``;
        waits ``poll_seconds`` between polls that find nothing new. Ends when
        the writer is gone (closed, including when close() compresses the file
        to ``.db.zst``, or killed) and every committed row was yielded, or
        after ``timeout`` seconds. Each poll opens the file afresh, so the
        writer is never held up (docs/SCALING.md, "Live follow").

        Example:
            >>> for keys, array in reader.follow(poll_seconds=1.0):  # doctest: +SKIP
            ...     print(keys["step"], array.mean())
        """
        from . import _follow

        return _follow.follow_file(self.path, where_clause, params, poll_seconds, timeout)

    def close(self) -> None:
        """Closes the file and removes the temporary copy of a ``.db.zst``."""
        self._core.close()

    def __enter__(self) -> "ArrayReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<array_logger.ArrayReader {self.path!r} shape={self.shape} dtype={self.dtype} keys={self.keys}>"


def open_reader(db_path: "str | os.PathLike[str]") -> ArrayReader:
    """Opens ``db_path`` for reading: a ``.db``, a ``.db.zst``, or a ``.db`` path
    whose ``.db.zst`` is what exists on disk.

    Example:
        >>> reader = array_logger.open_reader("./logs/q_values.db")  # doctest: +SKIP
        >>> for keys_dict, array in reader.iterate():  # doctest: +SKIP
        ...     pass
        >>> reader.close()  # doctest: +SKIP
    """
    return ArrayReader(db_path)

