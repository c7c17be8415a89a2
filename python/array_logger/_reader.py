"""Reading array_logger files: :func:`open_reader` and :class:`ArrayReader`."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import _core, _lifecycle

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

