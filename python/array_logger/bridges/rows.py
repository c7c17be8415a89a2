"""What every bridge consumes: :class:`Rows`, a description of selected rows
plus a way to stream them as :class:`~array_logger.Batch` objects.

The bridges (Arrow, Parquet, dataframes, file exports, statistics, plots) take
a ``Rows`` and nothing else, so any source that can describe its rows and
yield ``Batch(keys, arrays)`` batches of bounded size (one file's
:class:`~array_logger.ArrayReader`, a multi-file dataset) gets all of them.

Key kinds. Arrow, Parquet and polars need one type per column, known before
the first batch. SQLite keeps each key value's own type, so each key column is
classified over the selected rows first (:func:`key_kinds`):

========  ===========================  =======================================
kind      values                       column type in Arrow / Parquet / polars
========  ===========================  =======================================
``int``   all INTEGER (or no rows)     int64
``float`` all REAL                     float64
``text``  all TEXT                     string
``mixed`` more than one of the above   string holding each value's ``repr()``
                                       (``3``, ``3.0``, ``'007'``):
                                       ``ast.literal_eval`` gives it back
========  ===========================  =======================================

numpy-based outputs (pandas, xarray, NPZ through object arrays) keep mixed
values as Python objects where they can; see docs/ANALYSIS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .._reader import Batch

KEY_KINDS = ("int", "float", "text", "mixed")

# Default batch size: up to 65,536 rows and at most ~32 MiB of arrays per batch.
DEFAULT_BATCH_ROWS = 65536
DEFAULT_BATCH_BYTES = 32 << 20


@dataclass
class Rows:
    """Selected rows of one array name, ready to be streamed.

    Attributes:
        shape, dtype, keys: what every row holds (the file's spec).
        meta: the file's meta rows (text), as ``ArrayReader.meta``.
        count: number of rows ``batches()`` yields in total.
        batches: a callable returning a fresh iterator of ``Batch`` objects,
            each at most ``batch_rows`` rows; calling it again streams again
            (statistics make several passes).
        batch_rows: the bound on rows per batch.
        find_key_kinds: a callable returning ``{key: "int" | "float" | "text"
            | "mixed"}`` over those rows; called once, on first use of
            :attr:`key_kinds` (statistics and plots never need it).
    """

    shape: Tuple[int, ...]
    dtype: np.dtype
    keys: List[str]
    meta: Dict[str, str]
    count: int
    batches: Callable[[], Iterator[Batch]] = field(repr=False)
    find_key_kinds: Callable[[], Dict[str, str]] = field(repr=False)
    batch_rows: int = DEFAULT_BATCH_ROWS
    _kinds: Optional[Dict[str, str]] = field(default=None, repr=False)

    @property
    def key_kinds(self) -> Dict[str, str]:
        """``{key: kind}`` (see the module doc), computed on first use."""
        if self._kinds is None:
            self._kinds = dict(self.find_key_kinds())
        return self._kinds

    @property
    def row_bytes(self) -> int:
        """Bytes of one array."""
        return row_bytes(self.shape, self.dtype)


def row_bytes(shape: Sequence[int], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def default_batch_rows(shape: Sequence[int], dtype: np.dtype) -> int:
    """Rows per batch so a batch stays near DEFAULT_BATCH_BYTES."""
    return max(1, min(DEFAULT_BATCH_ROWS, DEFAULT_BATCH_BYTES // max(1, row_bytes(shape, dtype))))


def check_batch_rows(batch_rows: Optional[int], shape: Sequence[int], dtype: np.dtype) -> int:
    """``batch_rows`` validated, or the default for this row size."""
    if batch_rows is None:
        return default_batch_rows(shape, dtype)
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, (int, np.integer)) or batch_rows < 1:
        raise ValueError(f"batch_rows must be an int >= 1, got {batch_rows!r}")
    return int(batch_rows)


def merge_kinds(a: Optional[str], b: str) -> str:
    """The kind of a column made of a column of kind ``a`` followed by one of kind ``b``."""
    return b if a is None or a == b else "mixed"


def repr_column(values: np.ndarray) -> np.ndarray:
    """A mixed key column as an object array of each value's ``repr()``."""
    out = np.empty(len(values), dtype=object)
    out[:] = [repr(v) for v in values.tolist()]
    return out


def and_where(where_clause: Optional[str], extra: str) -> str:
    """``(where_clause) AND extra``; just ``extra`` without a clause."""
    return f"({where_clause}) AND {extra}" if where_clause else extra


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def key_kinds(reader: Any, where_clause: Optional[str], params: Optional[Sequence[Any]], count: int) -> Dict[str, str]:
    """Classifies each key column over the selected rows (no array is read).

    The common case first: every key an integer, answered by counting the
    rows with a key that is not (one predicate per row; about 2.5 times
    cheaper than the full key summary, which costs more than reading the rows
    for an M-sized file, benchmarks/RESULTS.md). Otherwise the reader's key
    summary gives each column's storage classes."""
    if count == 0 or not reader.keys:
        return {key: "int" for key in reader.keys}
    not_int = " OR ".join(f"typeof({quote_identifier(k)}) != 'integer'" for k in reader.keys)
    if reader._core.count(and_where(where_clause, f"({not_int})"), params) == 0:
        return {key: "int" for key in reader.keys}
    _, summary = reader._core.summarize_keys(where_clause or "", params)
    kinds: Dict[str, str] = {}
    for key, s in zip(reader.keys, summary):
        seen = [kind for kind, n in (("int", s["integers"]), ("float", s["reals"]), ("text", s["texts"])) if n]
        kinds[key] = seen[0] if len(seen) == 1 else ("int" if not seen else "mixed")
    return kinds


def cursor_batches(
    reader: Any, where_clause: Optional[str], params: Optional[Sequence[Any]], batch_rows: int
) -> Iterator[Batch]:
    """Streams the selected rows of ``reader`` in logging order, at most
    ``batch_rows`` rows per batch, in one pass of the core's query: each
    batch is filled in C++ with the GIL released (the layout of ``read_all``)."""
    cursor = reader._core.query(where_clause or "", params)
    while True:
        block = cursor.fetch_batch(batch_rows)
        if block is None:
            return
        yield Batch(*block)
