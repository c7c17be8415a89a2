"""Live follow: the rows of a file (or of every file of a dataset) while
another process writes them, each exactly once, ending when the writer is gone.

Rows are only ever appended, and SQLite gives a new row a rowid above the
largest one. So when a poll counts ``k`` committed rows above the last rowid
seen ``lo``, the largest rowid is at least ``lo + k`` and no row can appear
in ``(lo, lo + k]`` any more: that window is final, and reading it yields
each of its rows once. The next poll starts at ``lo + k``. Every poll opens
the file afresh (a read-only connection held only for the poll), so the
writer's close is never held up: its checkpoint and journal switch run as
without a reader, and a file compressed away at close is read from its
``.db.zst`` (the same database, the same rowids).

The end: before each poll the writer's lock is tested (``_core.writer_active``,
which takes nothing). A writer releases it only after committing its last
row (close) or by dying (whatever it committed is there). So a poll that
starts after the lock was seen free reads everything there will ever be,
and the follow ends after it. Like TensorBoard's reload loop (and unlike h5py
SWMR, whose readers must refresh datasets by hand and can see stale
metadata), nothing is needed from the writer but its commits.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._reader import ArrayReader


def _stem(path: str) -> str:
    """``x.db`` for ``x.db`` and ``x.db.zst``: the name both copies share."""
    return path[:-4] if path.endswith(".zst") else path


def _open(stem: str) -> Optional[ArrayReader]:
    """A fresh reader of ``x.db`` (or of ``x.db.zst`` once close compressed it),
    or None when the file changed between finding and opening it (the .db
    removed at close right after its .db.zst was renamed into place: the
    next poll opens the .db.zst)."""
    try:
        return ArrayReader(stem)
    except (_core.StorageError, FileNotFoundError):
        if os.path.exists(stem) or os.path.exists(stem + ".zst"):
            return None
        raise


class _Followed:
    """One file's position: rows up to rowid ``lo`` have been yielded."""

    def __init__(self, path: str, lo: int = 0) -> None:
        self.stem = _stem(path)
        self.lo = lo

    def poll(self, where_clause: Optional[str], params: Tuple[Any, ...]
             ) -> Tuple[bool, List[Tuple[Dict[str, Any], np.ndarray]]]:
        """(writer still active before the poll, the new rows)."""
        active = _core.writer_active(self.stem)
        reader = _open(self.stem)
        if reader is None:
            return True, []
        try:
            k = reader.count("_rowid_ > ?", (self.lo,))
            if not k:
                return active, []
            # At most ~32 MiB of arrays per poll: (lo, lo + m] with m <= k is final too.
            hi = self.lo + min(k, max(1, (32 << 20) // max(1, reader.dtype.itemsize * int(np.prod(reader.shape)))))
            window = "_rowid_ > ? AND _rowid_ <= ?"
            clause = f"({where_clause}) AND {window}" if where_clause else window
            rows = list(reader.iterate(clause, params + (self.lo, hi)))
            self.lo = hi
            return active, rows
        finally:
            reader.close()


def follow_many(sources: Callable[[], List[Tuple[str, Any]]], where_clause: Optional[str],
                params: Optional[Sequence[Any]], poll_seconds: float, timeout: Optional[float],
                shard_key: Optional[str], start: Optional[Dict[str, int]] = None
                ) -> Iterator[Tuple[Dict[str, Any], np.ndarray]]:
    """Follows every file ``sources()`` names (asked again at each poll, so
    files that appear are followed too); see the module doc. ``start`` maps a
    file (``_stem`` of its absolute path) to the rowid after which to begin
    (``tail -f``: after the rows already shown)."""
    if not (poll_seconds > 0):
        raise ValueError(f"poll_seconds must be positive, got {poll_seconds!r}")
    params_t = tuple(params) if params is not None else ()
    deadline = None if timeout is None else time.monotonic() + timeout
    followed: Dict[str, _Followed] = {}
    while True:
        any_active = any_new = False
        for path, shard in sources():
            stem = _stem(os.path.abspath(path))
            f = followed.get(stem)
            if f is None:
                f = followed[stem] = _Followed(stem, (start or {}).get(stem, 0))
            active, rows = f.poll(where_clause, params_t)
            any_active |= active
            any_new |= bool(rows)
            for keys, array in rows:
                if shard_key is not None:
                    keys = {shard_key: shard, **keys}
                yield keys, array
        if not any_active:
            return  # every poll above began after its writer was gone: nothing more will come
        if deadline is not None and time.monotonic() >= deadline:
            return
        if not any_new:
            time.sleep(poll_seconds if deadline is None else max(0.0, min(poll_seconds, deadline - time.monotonic())))


def follow_file(path: str, where_clause: Optional[str], params: Optional[Sequence[Any]], poll_seconds: float,
                timeout: Optional[float]) -> Iterator[Tuple[Dict[str, Any], np.ndarray]]:
    """``ArrayReader.follow``: one file."""
    return follow_many(lambda: [(path, None)], where_clause, params, poll_seconds, timeout, None)
