"""Merging files of the same spec into one (``array-logger merge``)."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Callable, Dict, Optional, Sequence, Set, Tuple

import numpy as np

from .._logger import Logger
from .._reader import ArrayReader

DUPLICATE_POLICIES = ("keep", "first", "error")


class DuplicateKeyError(ValueError):
    """A key tuple appears twice and the policy is ``error``."""


def output_name(out: "str | os.PathLike[str]") -> Tuple[str, str]:
    """``dir/name.db`` (or ``.db.zst``) -> (dir, name)."""
    path = os.path.abspath(os.fspath(out))
    base = os.path.basename(path)
    for suffix in (".db.zst", ".db"):
        if base.endswith(suffix):
            return os.path.dirname(path), base[: -len(suffix)]
    raise ValueError(f"output must be a NAME.db path, got {os.fspath(out)!r}")


def merge(out: "str | os.PathLike[str]", inputs: Sequence["str | os.PathLike[str]"], *,
          duplicates: str = "keep", compression_level: Optional[int] = None,
          progress: Optional[Callable[[int], None]] = None) -> int:
    """Appends the rows of every input, in order, to a new file ``out``;
    returns the number of rows written.

    All inputs must have the same keys, shape and dtype. ``duplicates``:
    ``keep`` every row; ``first``: skip a row whose key tuple an earlier row
    had; ``error``: stop (DuplicateKeyError) before writing anything.
    The output is written by the Logger (format 2; compressed at close when
    ``compression_level`` is given), the user metadata of the first input kept.
    If anything fails (a damaged input, a duplicate key), the output is
    removed: no partial merge is left behind.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    if not inputs:
        raise ValueError("merge needs at least one input file")
    root, name = output_name(out)
    for suffix in (".db", ".db.zst"):
        if os.path.exists(os.path.join(root, name + suffix)):
            raise FileExistsError(f"{os.path.join(root, name + suffix)} exists: merge writes a new file")
    try:
        return _merge(root, name, inputs, duplicates, compression_level, progress)
    except BaseException:
        # checked above: none of these existed, so each is this merge's own
        for suffix in (".db", ".db-wal", ".db-shm", ".db-journal", ".db.zst", ".db.zst.tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(root, name + suffix))
        raise


def _merge(root: str, name: str, inputs: Sequence["str | os.PathLike[str]"], duplicates: str,
           compression_level: Optional[int], progress: Optional[Callable[[int], None]]) -> int:
    readers = []
    try:
        readers.extend(ArrayReader(p) for p in inputs)
        first = readers[0]
        spec = (first.keys, first.shape, first.dtype)
        for r in readers[1:]:
            if (r.keys, r.shape, r.dtype) != spec:
                raise ValueError(f"Meta mismatch: {r.path} has keys={r.keys} shape={r.shape} dtype={r.dtype}, "
                                 f"{first.path} has keys={first.keys} shape={first.shape} dtype={first.dtype}")
        if duplicates == "error":
            _check_no_duplicates(readers)
        user = first.meta.get("user_metadata")
        metadata = json.loads(user) if user else None
        seen: Set[Tuple[Any, ...]] = set()
        written = 0
        os.makedirs(root, exist_ok=True)
        with Logger(root, compression_level=compression_level, handle_signals=False) as lg:
            lg.register(name, keys=first.keys, shape=first.shape, dtype=first.dtype,
                        commit_threshold_rows=1 << 30, commit_threshold_seconds=3600.0, metadata=metadata)
            for r in readers:
                for batch in r.iter_batches():
                    keys, arrays = batch.keys, batch.arrays
                    if duplicates == "first":
                        keep = _first_seen(keys, first.keys, seen, len(arrays))
                        keys = {k: v[keep] for k, v in keys.items()}
                        arrays = arrays[keep]
                    if len(arrays):
                        lg.log_many(name, {k: keys[k].tolist() for k in first.keys}, arrays)
                        written += len(arrays)
                    if progress is not None:
                        progress(len(batch.arrays))
        return written
    finally:
        for r in readers:
            r.close()


def _key_tuples(keys: Dict[str, np.ndarray], names: Sequence[str]) -> list:
    cols = [keys[k].tolist() for k in names]
    # 1 and "1" are different keys; 1 and 1.0 the same (SQLite compares them equal)
    return [tuple((isinstance(v, str), v) for v in row) for row in zip(*cols)]


def _first_seen(keys: Dict[str, np.ndarray], names: Sequence[str], seen: Set[Tuple[Any, ...]], n: int) -> np.ndarray:
    keep = np.zeros(n, bool)
    tuples = _key_tuples(keys, names) if names else [()] * n
    for i, t in enumerate(tuples):
        if t not in seen:
            seen.add(t)
            keep[i] = True
    return keep


def _check_no_duplicates(readers: Sequence[ArrayReader]) -> None:
    seen: Dict[Tuple[Any, ...], str] = {}
    names = readers[0].keys
    for r in readers:
        for batch in r.iter_batches():
            for t in _key_tuples(batch.keys, names):
                if t in seen:
                    shown = {k: v for k, (_, v) in zip(names, t)}
                    raise DuplicateKeyError(f"duplicate key {shown} in {r.path} (first in {seen[t]})")
                seen[t] = r.path
