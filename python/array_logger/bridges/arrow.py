"""Rows as Apache Arrow: tables, streaming readers, Parquet and Arrow IPC files.

Layout of a record batch (docs/ANALYSIS.md):

- one column per key (int64, float64 or string; see :mod:`.rows` for mixed keys);
- ``data``: Arrow's canonical extension type ``arrow.fixed_shape_tensor`` with
  the file's shape, whose storage is a ``fixed_size_list`` over the batch's
  ndarray buffer itself (no copy). Special cases:

  ==============  =========================================================
  shape ``()``    a plain primitive column (one number per row)
  complex         float32/float64 tensor with a trailing dimension of 2
                  (real, imaginary): Arrow has no complex type
  bool            Arrow booleans are bit-packed: the one dtype that is copied
  ==============  =========================================================

- schema metadata ``array_logger``: JSON with the shape, dtype and keys of the
  file and its meta rows, so :func:`batch_from_arrow` restores the exact
  ndarray (complex, bool, shape ``()``) from a table, a Parquet or IPC file.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, Optional

import numpy as np

from .._extras import require
from .._reader import Batch
from .rows import Rows, repr_column

METADATA_KEY = b"array_logger"
DATA_COLUMN = "data"


def _pa() -> Any:
    return require("pyarrow")


def storage_dtype(dtype: np.dtype) -> np.dtype:
    """The numpy dtype of the values Arrow holds: complex -> its float parts."""
    dtype = np.dtype(dtype)
    return np.dtype(f"<f{dtype.itemsize // 2}") if dtype.kind == "c" else dtype


def tensor_shape(shape: tuple, dtype: np.dtype) -> tuple:
    return tuple(shape) + (2,) if np.dtype(dtype).kind == "c" else tuple(shape)


def data_type(shape: tuple, dtype: np.dtype) -> Any:
    pa = _pa()
    value_type = pa.from_numpy_dtype(storage_dtype(dtype))
    shape = tensor_shape(shape, dtype)
    return value_type if shape == () else pa.fixed_shape_tensor(value_type, list(shape))


def key_type(kind: str) -> Any:
    pa = _pa()
    return {"int": pa.int64(), "float": pa.float64()}.get(kind, pa.string())


def schema_metadata(rows: Rows) -> Dict[bytes, bytes]:
    info = {
        "shape": list(rows.shape),
        "dtype": np.dtype(rows.dtype).name,
        "keys": list(rows.keys),
        "key_kinds": rows.key_kinds,
        "meta": rows.meta,
    }
    return {METADATA_KEY: json.dumps(info, sort_keys=True).encode()}


def schema(rows: Rows) -> Any:
    pa = _pa()
    fields = [pa.field(k, key_type(rows.key_kinds[k]), nullable=False) for k in rows.keys]
    fields.append(pa.field(DATA_COLUMN, data_type(rows.shape, rows.dtype), nullable=False))
    return pa.schema(fields, metadata=schema_metadata(rows))


def _primitive(values: np.ndarray) -> Any:
    """A numpy 1-D array as an Arrow array over the same memory (bool: packed copy)."""
    pa = _pa()
    if values.dtype == np.bool_:
        return pa.array(values, type=pa.bool_())
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def data_array(arrays: np.ndarray, shape: tuple, dtype: np.dtype) -> Any:
    """The ``data`` column of one batch, built over ``arrays``' buffer."""
    pa = _pa()
    dtype = np.dtype(dtype)
    values = np.ascontiguousarray(arrays).view(storage_dtype(dtype)).reshape(-1)
    tshape = tensor_shape(shape, dtype)
    if tshape == ():
        return _primitive(values)
    width = int(np.prod(tshape, dtype=np.int64))
    storage = pa.FixedSizeListArray.from_arrays(_primitive(values), width)
    return pa.ExtensionArray.from_storage(data_type(tuple(shape), dtype), storage)


def key_array(values: np.ndarray, kind: str) -> Any:
    pa = _pa()
    if kind == "mixed":
        return pa.array(repr_column(values).tolist(), type=pa.string())
    if kind == "text":
        return pa.array(values.tolist(), type=pa.string())
    if len(values) == 0:
        return pa.array([], type=key_type(kind))
    return _primitive(np.ascontiguousarray(values, dtype=np.int64 if kind == "int" else np.float64))


def record_batch(batch: Batch, rows: Rows, arrow_schema: Any) -> Any:
    pa = _pa()
    columns = [key_array(batch.keys[k], rows.key_kinds[k]) for k in rows.keys]
    columns.append(data_array(batch.arrays, rows.shape, rows.dtype))
    return pa.RecordBatch.from_arrays(columns, schema=arrow_schema)


def iter_record_batches(rows: Rows) -> Iterator[Any]:
    arrow_schema = schema(rows)
    for batch in rows.batches():
        yield record_batch(batch, rows, arrow_schema)


def to_reader(rows: Rows) -> Any:
    """A streaming ``pyarrow.RecordBatchReader``: one record batch per batch."""
    pa = _pa()
    return pa.RecordBatchReader.from_batches(schema(rows), iter_record_batches(rows))


def to_table(rows: Rows) -> Any:
    """A ``pyarrow.Table`` of every selected row (its chunks are the batches)."""
    pa = _pa()
    return pa.Table.from_batches(list(iter_record_batches(rows)), schema=schema(rows))


def write_parquet(rows: Rows, path: "str | os.PathLike[str]", *, compression: str = "zstd",
                  progress: Optional[Any] = None) -> int:
    """Streams the rows into a Parquet file, one row group per batch; returns the row count."""
    pq = require("pyarrow.parquet")
    arrow_schema = schema(rows)
    # Dictionary encoding and statistics only for the keys: on array values
    # they cost a dictionary per column chunk and rarely pay.
    keys = list(rows.keys)
    with pq.ParquetWriter(os.fspath(path), arrow_schema, compression=compression, use_dictionary=keys,
                          write_statistics=keys) as writer:
        return _write_batches(writer, rows, progress)


def write_ipc(rows: Rows, path: "str | os.PathLike[str]", *, progress: Optional[Any] = None) -> int:
    """Streams the rows into an uncompressed Arrow IPC file (Feather v2):
    ``pyarrow.memory_map`` + ``pyarrow.ipc.open_file`` then read it without copying."""
    pa = _pa()
    arrow_schema = schema(rows)
    with pa.OSFile(os.fspath(path), "wb") as sink, pa.ipc.new_file(sink, arrow_schema) as writer:
        return _write_batches(writer, rows, progress)


def _write_batches(writer: Any, rows: Rows, progress: Optional[Any]) -> int:
    """Every record batch of `rows` into a Parquet or IPC writer; the row count."""
    n = 0
    for rb in iter_record_batches(rows):
        writer.write_batch(rb)
        n += rb.num_rows
        if progress is not None:
            progress(rb.num_rows)
    return n


def info_from_schema(arrow_schema: Any) -> Dict[str, Any]:
    """The ``array_logger`` schema metadata (shape, dtype, keys, key_kinds, meta)."""
    raw = (arrow_schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ValueError("not an array_logger table: no 'array_logger' schema metadata")
    return json.loads(raw)


def _column_numpy(column: Any) -> np.ndarray:
    """A ChunkedArray/Array of primitives as numpy, without copying when it has one chunk."""
    chunks = column.chunks if hasattr(column, "chunks") else [column]
    parts = [c.to_numpy(zero_copy_only=False) for c in chunks]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0)


def batch_from_arrow(table: Any) -> Batch:
    """The exact ``Batch(keys, arrays)`` back from a table or record batch that
    :func:`to_table` / :func:`to_reader` made (or a Parquet / IPC file of it).

    Arrays are views into Arrow's memory when the data column has one chunk
    and is not bool (for a memory-mapped IPC file: views into the map).
    """
    info = info_from_schema(table.schema)
    shape, dtype = tuple(info["shape"]), np.dtype(info["dtype"])
    keys: Dict[str, np.ndarray] = {}
    for k in info["keys"]:
        kind = info["key_kinds"][k]
        col = table.column(k)
        if kind in ("int", "float"):
            keys[k] = _column_numpy(col).astype(np.int64 if kind == "int" else np.float64, copy=False)
        else:
            import ast

            vals = col.to_pylist()
            out = np.empty(len(vals), dtype=object)
            out[:] = [ast.literal_eval(v) for v in vals] if kind == "mixed" else vals
            keys[k] = out
    data = table.column(DATA_COLUMN)
    chunks = data.chunks if hasattr(data, "chunks") else [data]
    sdt = storage_dtype(dtype)
    flat = []
    for c in chunks:
        values = c.storage.flatten() if hasattr(c, "storage") else c
        flat.append(values.to_numpy(zero_copy_only=(sdt != np.bool_)) if len(values) else np.empty(0, sdt))
    values = flat[0] if len(flat) == 1 else (np.concatenate(flat) if flat else np.empty(0, sdt))
    arrays = values.astype(sdt, copy=False).reshape((table.num_rows,) + tensor_shape(shape, dtype))
    if dtype.kind == "c":
        arrays = arrays.view(dtype).reshape((table.num_rows,) + shape)
    return Batch(keys, arrays)
