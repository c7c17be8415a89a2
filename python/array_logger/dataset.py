"""Many files of one array name read as one: :func:`open_dataset` and :class:`Dataset`.

A *dataset* is every file of a name: the shards that many processes wrote
(``{root}/{name}.shards/*.db`` / ``*.db.zst``, see :class:`~array_logger.Logger`'s
``shard``) and the name's plain file ``{root}/{name}.db`` when there is one,
or any list of files of the same spec. It has the reader's API (``count``,
``iterate``, ``read_all``, ``iter_batches``, the Arrow / pandas / polars /
xarray / Parquet exports and statistics of docs/ANALYSIS.md, all through the
same bridges as :class:`~array_logger.ArrayReader`), Dask collections
(``to_dask_array``, ``to_dask_dataframe``) and :meth:`Dataset.follow`.

Order (deterministic): file by file, each in logging order. Files of a root
come as: the plain ``{name}.db`` first, then the shards by shard id (integer
ids numerically, then text ids in code point order); a list of paths keeps
the order given. Each row's keys carry the file's shard id under
``shard_key`` (default ``"shard"``): the file's ``shard`` meta row (an int
when it spells one), or None for a file without one. ``where_clause`` is an
SQL expression over the files' own key columns (as for one reader); pick
shards with ``open_dataset(..., shards=[...])``.

docs/SCALING.md has the layout, the costs and the Dask details.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._reader import ArrayReader, Batch
from ._shard import ShardId, shard_order, shard_value

SHARDS_SUFFIX = ".shards"
# Member readers kept open at once (each holds up to three descriptors; a
# .db.zst member holds a decompressed temporary copy).
_OPEN_READERS = 16


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset: its path, its shard id and its row count when opened."""

    path: str
    shard: Optional[ShardId]
    rows: int


def _existing(stem: str) -> Optional[str]:
    """``stem.db`` when it exists (the authoritative copy), else ``stem.db.zst``, else None."""
    for path in (stem + ".db", stem + ".db.zst"):
        if os.path.isfile(path):
            return path
    return None


def dataset_paths(root: "str | os.PathLike[str]", name: str) -> List[str]:
    """The files of ``name`` under ``root`` in dataset order (see the module doc)."""
    root = os.fspath(root)
    out = []
    plain = _existing(os.path.join(root, name))
    if plain:
        out.append(plain)
    shard_dir = os.path.join(root, name + SHARDS_SUFFIX)
    stems = set()
    if os.path.isdir(shard_dir):
        for entry in os.listdir(shard_dir):
            if entry.startswith("."):
                continue
            for suffix in (".db.zst", ".db"):
                if entry.endswith(suffix):
                    stems.add(entry[: -len(suffix)])
                    break
    for stem in sorted(stems, key=lambda s: shard_order(shard_value(s))):
        path = _existing(os.path.join(shard_dir, stem))
        if path:
            out.append(path)
    return out


class Dataset:
    """Every file of one array name, read as one (see the module doc).

    Example:
        >>> ds = array_logger.open_dataset("./logs", "q_values")  # doctest: +SKIP
        >>> len(ds), ds.shards  # doctest: +SKIP
        (400000, [0, 1, 2, 3])
        >>> batch = ds.read_all("step < ?", (10,))  # doctest: +SKIP
        >>> batch.keys["shard"], batch.arrays.shape  # doctest: +SKIP
        >>> df = ds.to_pandas()  # doctest: +SKIP
        >>> x = ds.to_dask_array().mean(axis=0).compute()  # doctest: +SKIP
    """

    def __init__(self, paths: Sequence[str], *, name: Optional[str] = None, shard_key: str = "shard") -> None:
        if not paths:
            raise FileNotFoundError(f"no array_logger files of {name!r}" if name else "no array_logger files given")
        self.name = name
        self.shard_key = shard_key
        self._readers: "OrderedDict[str, ArrayReader]" = OrderedDict()
        files: List[DatasetFile] = []
        first: Optional[ArrayReader] = None
        for path in paths:
            reader = ArrayReader(path)
            try:
                if first is None:
                    first = reader
                    self._shape, self._dtype, self._file_keys = reader.shape, reader.dtype, list(reader.keys)
                    self._meta = {k: v for k, v in reader.meta.items() if k != "shard"}
                elif (reader.shape, reader.dtype, list(reader.keys)) != (self._shape, self._dtype, self._file_keys):
                    from ._core import MetaMismatchError

                    raise MetaMismatchError(
                        f"Meta mismatch: {reader.path} has keys {reader.keys}, shape {reader.shape}, dtype "
                        f"{reader.dtype} but {files[0].path} has keys {self._file_keys}, shape {self._shape}, "
                        f"dtype {self._dtype}")
                stored = reader.meta.get("shard")
                files.append(DatasetFile(reader.path, shard_value(stored) if stored is not None else None,
                                         reader.count()))
            finally:
                self._keep(reader)
        if shard_key in self._file_keys:
            raise ValueError(f"the files have a key named {shard_key!r}: pass another shard_key to open_dataset")
        self.files: List[DatasetFile] = files

    # --- readers of the members (a few kept open) ----------------------------
    def _keep(self, reader: ArrayReader) -> None:
        self._readers[reader.path] = reader
        self._readers.move_to_end(reader.path)
        while len(self._readers) > _OPEN_READERS:
            _, old = self._readers.popitem(last=False)
            old.close()

    def _reader(self, f: DatasetFile) -> ArrayReader:
        reader = self._readers.get(f.path)
        if reader is None or reader.closed:
            reader = ArrayReader(f.path)
        self._keep(reader)
        return reader

    # --- what it is -------------------------------------------------------------
    @property
    def shape(self) -> Tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def keys(self) -> List[str]:
        """``shard_key`` followed by the files' key names."""
        return [self.shard_key] + self._file_keys

    @property
    def meta(self) -> Dict[str, str]:
        """The first file's meta rows (without its ``shard`` row)."""
        return dict(self._meta)

    @property
    def shards(self) -> List[Optional[ShardId]]:
        """The shard id of each file, in dataset order."""
        return [f.shard for f in self.files]

    @property
    def paths(self) -> List[str]:
        return [f.path for f in self.files]

    # --- reading ------------------------------------------------------------------
    def count(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> int:
        """Number of rows (that ``where_clause`` selects) over every file."""
        if where_clause is None and params is None:
            return sum(f.rows for f in self.files)
        return sum(self._reader(f).count(where_clause, params) for f in self.files)

    def __len__(self) -> int:
        return self.count()

    def iterate(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None
                ) -> Iterator[Tuple[Dict[str, Any], np.ndarray]]:
        """Yields ``(keys_dict, array)`` per row, file by file; ``keys_dict``
        holds ``shard_key`` first."""
        for f in self.files:
            for keys, array in self._reader(f).iterate(where_clause, params):
                out = {self.shard_key: f.shard}
                out.update(keys)
                yield out, array

    def _with_shard(self, f: DatasetFile, batch: Batch) -> Batch:
        n = len(batch.arrays)
        if isinstance(f.shard, int):
            column = np.full(n, f.shard, dtype=np.int64)
        else:
            column = np.empty(n, dtype=object)
            column[:] = [f.shard] * n
        keys = {self.shard_key: column}
        keys.update(batch.keys)
        return Batch(keys, batch.arrays)

    def read_all(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> Batch:
        """Every selected row of every file: ``Batch(keys, arrays)`` with
        ``arrays`` of shape ``(N, *shape)`` and one array per key (``shard_key``
        included), in dataset order."""
        parts = [self._with_shard(f, self._reader(f).read_all(where_clause, params)) for f in self.files]
        return concat_batches(parts, self.keys, self.shape, self.dtype)

    def iter_batches(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None,
                     batch_rows: Optional[int] = None) -> Iterator[Batch]:
        """Yields the selected rows as batches of at most ``batch_rows`` rows
        (default about 32 MiB of arrays); a batch never spans two files."""
        from .bridges import rows as _rows

        size = _rows.check_batch_rows(batch_rows, self.shape, self.dtype)
        return self._batches(where_clause, tuple(params) if params is not None else None, size)

    def _batches(self, where_clause: Optional[str], params: Optional[Tuple[Any, ...]], size: int) -> Iterator[Batch]:
        from .bridges import rows as _rows

        for f in self.files:
            reader = self._reader(f)
            for batch in _rows.cursor_batches(reader, where_clause, params, size):
                yield self._with_shard(f, batch)

    def rows(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None,
             batch_rows: Optional[int] = None) -> Any:
        """The selected rows described for the bridges (``array_logger.bridges.rows.Rows``)."""
        from .bridges import rows as _rows

        size = _rows.check_batch_rows(batch_rows, self.shape, self.dtype)
        params = tuple(params) if params is not None else None
        n = self.count(where_clause, params)

        def kinds() -> Dict[str, str]:
            out: Dict[str, Optional[str]] = {k: None for k in self.keys}
            for f in self.files:
                reader = self._reader(f)
                m = reader.count(where_clause, params)
                if m == 0:
                    continue
                shard_kind = "int" if isinstance(f.shard, int) else "text" if isinstance(f.shard, str) else "mixed"
                out[self.shard_key] = _rows.merge_kinds(out[self.shard_key], shard_kind)
                for k, kind in _rows.key_kinds(reader, where_clause, params, m).items():
                    out[k] = _rows.merge_kinds(out[k], kind)
            return {k: v or "int" for k, v in out.items()}

        return _rows.Rows(shape=self.shape, dtype=self.dtype, keys=self.keys, meta=self.meta, count=n,
                          batches=lambda: self._batches(where_clause, params, size), find_key_kinds=kinds,
                          batch_rows=size)

    # --- the bridges of docs/ANALYSIS.md, over rows() as for one reader ----------
    def to_arrow(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                 batch_rows: Optional[int] = None) -> Any:
        """A ``pyarrow.Table`` (extra ``arrow``), layout of ``ArrayReader.to_arrow``."""
        from .bridges import arrow

        return arrow.to_table(self.rows(where_clause, params, batch_rows))

    def to_arrow_reader(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                        batch_rows: Optional[int] = None) -> Any:
        """A streaming ``pyarrow.RecordBatchReader`` (extra ``arrow``)."""
        from .bridges import arrow

        return arrow.to_reader(self.rows(where_clause, params, batch_rows))

    def to_parquet(self, path: "str | os.PathLike[str]", where_clause: Optional[str] = None,
                   params: Optional[Sequence[Any]] = None, *, compression: str = "zstd",
                   batch_rows: Optional[int] = None) -> int:
        """Streams the rows into one Parquet file (extra ``arrow``); returns the rows written."""
        from .bridges import arrow

        return arrow.write_parquet(self.rows(where_clause, params, batch_rows), path, compression=compression)

    def to_pandas(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                  index: bool = False, flatten: bool = False) -> Any:
        """A ``pandas.DataFrame`` (extra ``pandas``), layout of ``ArrayReader.to_pandas``."""
        from .bridges import frames

        return frames.to_pandas(self.rows(where_clause, params), index=index, flatten=flatten)

    def to_polars(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> Any:
        """A ``polars.DataFrame`` (extra ``polars``)."""
        from .bridges import frames

        return frames.to_polars(self.rows(where_clause, params))

    def to_xarray(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None) -> Any:
        """An ``xarray.Dataset`` (extra ``xarray``)."""
        from .bridges import frames

        return frames.to_xarray(self.rows(where_clause, params))

    def export(self, path: "str | os.PathLike[str]", format: Optional[str] = None,
               where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
               progress: Any = None, batch_rows: Optional[int] = None) -> int:
        """Streams the rows into one ``parquet`` / ``arrow`` / ``npz`` / ``csv`` / ``hdf5`` file."""
        from .bridges import export

        return export.export(self.rows(where_clause, params, batch_rows), path, format, progress=progress)

    def stats(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
              by: Optional[str] = None, per_element: bool = True) -> Dict[str, Any]:
        """Streamed statistics over every file (see ``ArrayReader.stats``)."""
        from .bridges import stats

        return stats.compute(self.rows(where_clause, params), by=by, per_element=per_element)

    # --- Dask and live follow ------------------------------------------------------
    def to_dask_array(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                      chunk_rows: Optional[int] = None) -> Any:
        """A ``dask.array`` of shape ``(N, *shape)`` (extra ``dask``) with known
        chunks: one or more per file (a file is split into row ranges of at
        most ``chunk_rows`` rows, default about 128 MiB). Each task opens its
        own read-only connection; a ``.db.zst`` is decompressed once per worker
        process into a private temporary file, removed when the worker exits."""
        from . import _dask

        return _dask.to_dask_array(self, where_clause, params, chunk_rows)

    def to_dask_dataframe(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
                          chunk_rows: Optional[int] = None, flatten: Optional[bool] = None) -> Any:
        """A ``dask.dataframe`` of the keys (``shard_key`` first), plus one column
        per element (``data_0_3``) for arrays of at most 64 elements (or when
        ``flatten=True``); partitions as in :meth:`to_dask_array`."""
        from . import _dask

        return _dask.to_dask_dataframe(self, where_clause, params, chunk_rows, flatten)

    def follow(self, where_clause: Optional[str] = None, params: Optional[Sequence[Any]] = None, *,
               poll_seconds: float = 0.5, timeout: Optional[float] = None
               ) -> Iterator[Tuple[Dict[str, Any], np.ndarray]]:
        """Yields every row of every file of the dataset exactly once, rows
        already there first, then new ones as writers commit them; shards that
        appear meanwhile are followed too. Ends when no writer of any file is
        left (closed, compressed or killed) and every committed row was
        yielded, or after ``timeout`` seconds. See ``ArrayReader.follow``."""
        from . import _follow

        if self.name is None or self._root is None:
            sources: Callable[[], List[Tuple[str, Optional[ShardId]]]] = lambda: [(f.path, f.shard) for f in self.files]
        else:
            root, name = self._root, self.name
            sources = lambda: [(p, _shard_of(p)) for p in dataset_paths(root, name)]
        return _follow.follow_many(sources, where_clause, params, poll_seconds, timeout, self.shard_key)

    _root: Optional[str] = None

    def close(self) -> None:
        """Closes the open member readers (and removes their temporary copies)."""
        while self._readers:
            _, reader = self._readers.popitem()
            reader.close()

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<array_logger.Dataset {self.name!r} files={len(self.files)} rows={self.count()} "
                f"shape={self.shape} dtype={self.dtype}>")


def _shard_of(path: str) -> Optional[ShardId]:
    parent = os.path.basename(os.path.dirname(path))
    if not parent.endswith(SHARDS_SUFFIX):
        return None
    stem = os.path.basename(path)
    for suffix in (".db.zst", ".db"):
        if stem.endswith(suffix):
            return shard_value(stem[: -len(suffix)])
    return None


def concat_batches(parts: Sequence[Batch], keys: Sequence[str], shape: Tuple[int, ...], dtype: np.dtype) -> Batch:
    """Batches of one spec as one (int64 / float64 key columns stay so when
    every part has that type; otherwise object arrays of the values)."""
    if not parts:
        return Batch({k: np.empty(0, dtype=np.int64) for k in keys}, np.empty((0,) + tuple(shape), dtype=dtype))
    arrays = np.concatenate([p.arrays for p in parts]) if len(parts) > 1 else parts[0].arrays
    out: Dict[str, np.ndarray] = {}
    for k in keys:
        cols = [p.keys[k] for p in parts if len(p.arrays)] or [parts[0].keys[k]]
        dtypes = {c.dtype for c in cols}
        if len(dtypes) == 1:
            out[k] = np.concatenate(cols) if len(cols) > 1 else cols[0]
        else:
            col = np.empty(sum(len(c) for c in cols), dtype=object)
            col[:] = [v for c in cols for v in c.tolist()]
            out[k] = col
    return Batch(out, arrays)


def open_dataset(root_or_paths: Union["str | os.PathLike[str]", Iterable["str | os.PathLike[str]"]],
                 name: Optional[str] = None, *, shards: Optional[Iterable[ShardId]] = None,
                 shard_key: str = "shard") -> Dataset:
    """Every file of array ``name`` under a root directory (its shards and its
    plain file), or the files given as a list, read as one :class:`Dataset`.

    ``shards`` keeps only those shard ids. Raises FileNotFoundError when there
    is no file, ``MetaMismatchError`` when the files' specs differ.

    Example:
        >>> ds = array_logger.open_dataset("./logs", "q_values")  # doctest: +SKIP
        >>> ds = array_logger.open_dataset(["run1/q.db", "run2/q.db.zst"])  # doctest: +SKIP
    """
    root: Optional[str] = None
    if isinstance(root_or_paths, (str, os.PathLike)):
        root = os.fspath(root_or_paths)
        if name is None:
            raise ValueError("open_dataset(root, name): name is required with a root directory")
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{root}: not a directory")
        paths = dataset_paths(root, name)
    else:
        paths = [os.fspath(p) for p in root_or_paths]
    if shards is not None:
        wanted = {shard_value(str(s)) for s in shards}
        paths = [p for p in paths if _shard_of(p) in wanted]
    ds = Dataset(paths, name=name, shard_key=shard_key)
    ds._root = os.path.abspath(root) if root is not None else None
    if shards is not None:
        ds.files = [f for f in ds.files if f.shard in wanted]
    return ds
