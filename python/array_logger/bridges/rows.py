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


def kind_of_column(values: np.ndarray) -> str:
    """The key kind of one key column as the reader returns it (int64,
    float64, or an object array of Python values)."""
    if values.dtype == np.int64:
        return "int"
    if values.dtype == np.float64:
        return "float"
    kinds = {type(v) for v in values.tolist()}
    if kinds == {str}:
        return "text"
    if kinds <= {int}:
        return "int"
    if kinds <= {float}:
        return "float"
    return "mixed"


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
    """Classifies each key column over the selected rows with SQL ``typeof``
    (counts only: no array is read)."""
    kinds: Dict[str, str] = {}
    base = tuple(params or ())
    for key in reader.keys:
        if count == 0:
            kinds[key] = "int"
            continue
        q = quote_identifier(key)
        seen = []
        for sql_type, kind in (("integer", "int"), ("real", "float"), ("text", "text")):
            n = reader.count(and_where(where_clause, f"typeof({q}) = '{sql_type}'"), base)
            if n == count:
                seen = [kind]
                break
            if n:
                seen.append(kind)
        kinds[key] = seen[0] if len(seen) == 1 else "mixed"
    return kinds


def rowid_batches(
    reader: Any, where_clause: Optional[str], params: Optional[Sequence[Any]], batch_rows: int
) -> Iterator[Batch]:
    """Streams the selected rows of ``reader`` in logging order, at most
    ``batch_rows`` rows per batch, through the reader's one-pass bulk read
    (``read_all``) over consecutive windows of SQLite rowids.

    Rows are only ever appended and their rowids increase in logging order
    (docs/FORMAT.md, section 4), so windows ``(lo, lo + batch_rows]`` cover
    every row once and in order, and a window never holds more than
    ``batch_rows`` rows. The last rowid is fixed when streaming starts: rows a
    live writer appends later are not part of this stream.
    """
    base = tuple(params or ())
    last = _last_rowid(reader)
    lo = 0
    while lo < last:
        hi = min(last, lo + batch_rows)
        keys, arrays = reader._core.read_all(and_where(where_clause, "_rowid_ > ? AND _rowid_ <= ?"), base + (lo, hi))
        if len(arrays):
            yield Batch(keys, arrays)
        elif not reader.count("_rowid_ > ? AND _rowid_ <= ?", (lo, hi)):
            # A gap in the rowids (array_logger never leaves one; a hand-edited
            # file may): jump to the next row instead of walking the gap.
            hi = _next_rowid(reader, hi, last) - 1
        lo = hi


def _last_rowid(reader: Any) -> int:
    """The largest rowid in the file (0 when empty), by bisection over counts."""
    if reader.count() == 0:
        return 0
    hi = 1
    while reader.count("_rowid_ > ?", (hi,)):
        hi *= 2
    lo = hi // 2  # a row above lo exists, none above hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reader.count("_rowid_ > ?", (mid,)):
            lo = mid
        else:
            hi = mid
    return hi


def _next_rowid(reader: Any, after: int, last: int) -> int:
    """The smallest rowid > ``after`` (``after < last``)."""
    lo, hi = after, last  # no row in (after, lo], a row at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reader.count("_rowid_ > ? AND _rowid_ <= ?", (after, mid)):
            hi = mid
        else:
            lo = mid
    return hi
