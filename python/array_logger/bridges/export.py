"""Streamed export of rows to Parquet, Arrow IPC, NPZ, CSV and HDF5.

Every writer consumes the rows batch by batch, so memory stays at about one
batch whatever the file's size (NPZ and HDF5 also keep the key columns, 8
bytes per row and key, until the end). Formats and their layouts are in
docs/ANALYSIS.md.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import zipfile
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np

from .._extras import require
from .frames import element_names
from .rows import Rows, repr_column

FORMATS = ("parquet", "arrow", "npz", "csv", "hdf5")
SUFFIXES = {
    ".parquet": "parquet", ".pq": "parquet",
    ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
    ".npz": "npz", ".csv": "csv",
    ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5",
}
# CSV writes one column per element; beyond this many elements it refuses
# (a (512, 512) array would be a 262,144-column spreadsheet).
CSV_MAX_ELEMENTS = 4096

Progress = Callable[[int], None]


def format_from_path(path: "str | os.PathLike[str]") -> str:
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot tell the export format from {os.fspath(path)!r}: pass format= one of {FORMATS}")
    return SUFFIXES[suffix]


@contextlib.contextmanager
def output_file(path: "str | os.PathLike[str]") -> Iterator[str]:
    """A temporary name beside ``path`` to write to, renamed to ``path`` when
    the block succeeds and removed when it fails: an export that stops
    half-way (a damaged row, a full disk, Ctrl-C) leaves no partial file
    that looks complete, and an existing ``path`` is only replaced by a
    complete one."""
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def export(rows: Rows, path: "str | os.PathLike[str]", format: Optional[str] = None, *,
           progress: Optional[Progress] = None, csv_max_elements: int = CSV_MAX_ELEMENTS) -> int:
    """Writes ``rows`` to ``path`` in ``format``; returns the number of rows.
    ``progress(n)`` is called after each batch with the rows it wrote.
    ``path`` appears only once complete (:func:`output_file`)."""
    fmt = format or format_from_path(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {FORMATS}")
    with output_file(path) as tmp:
        if fmt in ("parquet", "arrow"):
            from . import arrow

            write = arrow.write_parquet if fmt == "parquet" else arrow.write_ipc
            return write(rows, tmp, progress=progress)
        if fmt == "npz":
            return write_npz(rows, tmp, progress=progress)
        if fmt == "csv":
            return write_csv(rows, tmp, progress=progress, max_elements=csv_max_elements)
        return write_hdf5(rows, tmp, progress=progress)


def _info(rows: Rows) -> Dict[str, Any]:
    return {"shape": list(rows.shape), "dtype": np.dtype(rows.dtype).name, "keys": list(rows.keys),
            "key_kinds": rows.key_kinds, "meta": rows.meta}


class _KeyColumns:
    """Key columns collected over the batches (small next to the arrays)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.parts: Dict[str, List[np.ndarray]] = {k: [] for k in rows.keys}

    def add(self, keys: Dict[str, np.ndarray]) -> None:
        for k, v in keys.items():
            self.parts[k].append(v)

    def column(self, k: str) -> np.ndarray:
        """int64 / float64 / unicode; mixed keys as each value's repr()."""
        kind = self.rows.key_kinds[k]
        if kind in ("int", "float"):
            want = np.int64 if kind == "int" else np.float64
            return np.concatenate([p.astype(want) for p in self.parts[k]]) if self.parts[k] else np.empty(0, want)
        values = np.concatenate(self.parts[k]) if self.parts[k] else np.empty(0, object)
        if kind == "mixed":
            values = repr_column(values)
        return np.array(values.tolist(), dtype=str) if len(values) else np.empty(0, dtype="<U1")


# --- NPZ ---------------------------------------------------------------------
def write_npz(rows: Rows, path: "str | os.PathLike[str]", *, progress: Optional[Progress] = None) -> int:
    """``data.npy`` (N, *shape) streamed into the zip, then one ``.npy`` per key
    (int64, float64 or unicode; mixed keys as repr text) and ``array_logger.json``.
    ``numpy.load(path)["data"]`` reads it back."""
    fmt = np.lib.format
    keys = _KeyColumns(rows)
    n = 0
    with zipfile.ZipFile(os.fspath(path), "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open("data.npy", "w", force_zip64=True) as f:
            header = {"descr": fmt.dtype_to_descr(np.dtype(rows.dtype)), "fortran_order": False,
                      "shape": (rows.count,) + tuple(rows.shape)}
            fmt.write_array_header_2_0(f, header)
            for batch in rows.batches():
                f.write(np.ascontiguousarray(batch.arrays).data)
                keys.add(batch.keys)
                n += len(batch.arrays)
                if progress is not None:
                    progress(len(batch.arrays))
        if n != rows.count:
            raise RuntimeError(f"counted {rows.count} rows but read {n}: the file changed while it was exported")
        for k in rows.keys:
            with zf.open(f"key_{k}.npy", "w", force_zip64=True) as f:
                fmt.write_array(f, keys.column(k), allow_pickle=False)
        zf.writestr("array_logger.json", json.dumps(_info(rows), sort_keys=True))
    return n


# --- CSV -----------------------------------------------------------------------
def _text(values: np.ndarray) -> np.ndarray:
    """Each number as the shortest text that reads back to the same value of
    its type (numpy's repr: float32 0.1 -> "0.1"; NaN payloads are not kept);
    bool as 0/1."""
    if values.dtype == np.bool_:
        return values.astype(np.uint8).astype(str)
    return values.astype(str)


def write_csv(rows: Rows, path: "str | os.PathLike[str]", *, progress: Optional[Progress] = None,
              max_elements: int = CSV_MAX_ELEMENTS) -> int:
    """One line per row: the keys, then one column per element (``data_0_3``,
    C order; complex as ``..._re`` / ``..._im`` pairs). Floats are written
    with the shortest text that reads back exactly, key values as they are."""
    shape = tuple(rows.shape)
    elements = int(np.prod(shape, dtype=np.int64))
    if elements > max_elements:
        raise ValueError(f"CSV export writes one column per element: shape {shape} has {elements} elements, "
                         f"more than {max_elements} (use parquet, arrow, npz or hdf5)")
    dtype = np.dtype(rows.dtype)
    names = element_names(shape)
    if dtype.kind == "c":
        names = [f"{name}_{part}" for name in names for part in ("re", "im")]
    n = 0
    with open(os.fspath(path), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(list(rows.keys) + names)
        for batch in rows.batches():
            m = len(batch.arrays)
            flat = batch.arrays.reshape(m, -1)
            if dtype.kind == "c":
                flat = flat.view(f"<f{dtype.itemsize // 2}")
            text = _text(flat).tolist()
            key_cols = [_key_text(batch.keys[k], rows.key_kinds[k]) for k in rows.keys]
            for i in range(m):
                w.writerow([c[i] for c in key_cols] + text[i])
            n += m
            if progress is not None:
                progress(m)
    return n


def _key_text(values: np.ndarray, kind: str) -> List[str]:
    if kind == "mixed":
        return repr_column(values).tolist()
    if kind == "float":
        return [repr(v) for v in values.tolist()]
    return [str(v) for v in values.tolist()]


# --- HDF5 ----------------------------------------------------------------------
def write_hdf5(rows: Rows, path: "str | os.PathLike[str]", *, progress: Optional[Progress] = None) -> int:
    """Dataset ``data`` (N, *shape) in the file's dtype (complex and bool as
    h5py stores them), written batch by batch; one dataset per key under
    ``keys/`` (int64, float64, UTF-8 strings; mixed keys as repr text); the
    meta rows as attributes of ``data``."""
    h5py = require("h5py")
    keys = _KeyColumns(rows)
    n = 0
    with h5py.File(os.fspath(path), "w") as f:
        chunk_rows = max(1, min(rows.batch_rows, (1 << 20) // max(1, rows.row_bytes)))
        chunks = (chunk_rows,) + tuple(rows.shape) if rows.count else None
        ds = f.create_dataset("data", shape=(rows.count,) + tuple(rows.shape), dtype=np.dtype(rows.dtype),
                              chunks=chunks)
        for batch in rows.batches():
            m = len(batch.arrays)
            if n + m > rows.count:
                raise RuntimeError("more rows than counted: the file changed while it was exported")
            ds[n:n + m] = batch.arrays
            keys.add(batch.keys)
            n += m
            if progress is not None:
                progress(m)
        if n != rows.count:
            raise RuntimeError(f"counted {rows.count} rows but read {n}: the file changed while it was exported")
        group = f.create_group("keys")
        for k in rows.keys:
            col = keys.column(k)
            if col.dtype.kind == "U":
                group.create_dataset(k, data=col.astype(object), dtype=h5py.string_dtype("utf-8"))
            else:
                group.create_dataset(k, data=col)
        for mk, mv in rows.meta.items():
            ds.attrs[mk] = mv
        ds.attrs["array_logger"] = json.dumps(_info(rows), sort_keys=True)
    return n
