"""What the command line shows about files: listing a root, one file's
details, key ranges, the last rows, and a full verification pass."""

from __future__ import annotations

import json
import os
import struct
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .._reader import ArrayReader, Batch
from .rows import and_where, check_batch_rows

SUFFIXES = (".db.zst", ".db")


def array_files(root: "str | os.PathLike[str]") -> List[str]:
    """The array files of a run directory, one per name: ``NAME.db`` when it
    exists (the authoritative copy, docs/FORMAT.md section 1), else ``NAME.db.zst``."""
    names: Dict[str, str] = {}
    for entry in sorted(os.listdir(root)):
        if entry.startswith("."):
            continue
        for suffix in SUFFIXES:
            if entry.endswith(suffix):
                name = entry[: -len(suffix)]
                if suffix == ".db" or name not in names:
                    names[name] = os.path.join(os.fspath(root), entry)
                break
    return [names[n] for n in sorted(names)]


def array_name(path: str) -> str:
    """NAME of ``.../NAME.db`` or ``.../NAME.db.zst``."""
    base = os.path.basename(path)
    for suffix in SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def bytes_on_disk(path: str) -> int:
    total = 0
    for p in (path, path + "-wal", path + "-shm"):
        try:
            total += os.stat(p).st_size
        except FileNotFoundError:
            pass
    return total


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_ranges(reader: ArrayReader, where_clause: Optional[str] = None,
               params: Optional[Sequence[Any]] = None) -> Dict[str, Dict[str, Any]]:
    """``{key: {"min": v, "max": v}}`` over the selected rows, in SQLite's
    order (numbers before text), from one pass over the key columns (no
    array is read); empty without rows."""
    rows, summary = reader._core.summarize_keys(where_clause or "", params)
    if not rows:
        return {}
    return {k: {"min": s["min"], "max": s["max"]} for k, s in zip(reader.keys, summary)}


def zstd_content_size(path: str) -> Optional[int]:
    """The decompressed size recorded in a zstd frame header (None if absent)."""
    with open(path, "rb") as f:
        head = f.read(18)
    if len(head) < 6 or head[:4] != b"\x28\xb5\x2f\xfd":
        return None
    d = head[4]
    fcs_flag, single, dict_flag = d >> 6, (d >> 5) & 1, d & 3
    at = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag]
    size = (1 if single else 0, 2, 4, 8)[fcs_flag]
    if size == 0:
        return None
    raw = head[at:at + size].ljust(8, b"\0")
    value = struct.unpack("<Q", raw)[0]
    return value + 256 if size == 2 else value


def sqlite_header(path: str) -> Dict[str, Any]:
    """Page size, page count and journal mode from a plain .db's 100-byte header
    (the journal mode is the header's: a reader opening the file immutable
    would report "delete" for a WAL file, docs/FORMAT.md)."""
    with open(path, "rb") as f:
        h = f.read(100)
    if len(h) < 100 or not h.startswith(b"SQLite format 3\0"):
        return {}
    page_size = struct.unpack(">H", h[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    return {"page_size": page_size, "page_count": struct.unpack(">I", h[28:32])[0],
            "journal_mode": "wal" if h[18] == 2 else "delete"}


def summary(path: str, *, ranges: bool = True) -> Dict[str, Any]:
    """One line of ``ls``: rows, shape, dtype, bytes, compression, key ranges, times."""
    with ArrayReader(path) as r:
        st = os.stat(r.path)
        out: Dict[str, Any] = {
            "name": array_name(r.path),
            "path": r.path,
            "rows": r.count(),
            "shape": list(r.shape),
            "dtype": r.dtype.name,
            "keys": r.keys,
            "bytes": bytes_on_disk(r.path),
            "compressed": r.path.endswith(".zst"),
            "format_version": r.format_version,
            "created": r.meta.get("created_at"),
            "last_written": _iso(st.st_mtime),
        }
        if ranges:
            out["key_ranges"] = key_ranges(r)
    return out


def details(path: str) -> Dict[str, Any]:
    """Everything ``info`` shows about one file."""
    with ArrayReader(path) as r:
        meta = dict(r.meta)
        user = meta.get("user_metadata")
        out = summary(path)
        out["meta"] = meta
        if user:
            try:
                out["user_metadata"] = json.loads(user)
            except ValueError:
                out["user_metadata"] = user
        # page size and counts of the database read (a .db.zst's decompressed copy)
        out["sqlite"] = r._core.database_info()
        if r.path.endswith(".zst"):
            content = zstd_content_size(r.path)
            out["compression"] = {"codec": "zstd", "compressed_bytes": os.stat(r.path).st_size,
                                  "database_bytes": content,
                                  "ratio": (os.stat(r.path).st_size / content) if content else None}
        else:
            out["compression"] = None
            out["sqlite"]["journal_mode"] = sqlite_header(r.path).get("journal_mode")
        out["blob_filter"] = meta.get("blob_filter", "none")
        out["storage"] = r.storage  # periodic rows, fixed point, sparse (docs/FORMAT.md 5.4, 5.5, 10)
        return out


def tail(reader: ArrayReader, n: int, where_clause: Optional[str] = None,
         params: Optional[Sequence[Any]] = None) -> Batch:
    """The last ``n`` selected rows, read backwards in rowid windows (only the
    end of the file is read)."""
    base = tuple(params or ())
    rows_per = check_batch_rows(None, reader.shape, reader.dtype)
    hi = last_rowid(reader)
    got: List[Batch] = []
    have = 0
    while hi > 0 and have < n:
        lo = max(0, hi - max(rows_per, n))
        keys, arrays = reader._core.read_all(and_where(where_clause, "_rowid_ > ? AND _rowid_ <= ?"), base + (lo, hi))
        if len(arrays):
            got.append(Batch(keys, arrays))
            have += len(arrays)
        hi = lo
    got.reverse()
    if not got:
        return reader.read_all("0")
    keys = {k: np.concatenate([b.keys[k].astype(object) if any(x.keys[k].dtype == object for x in got)
                               else b.keys[k] for b in got]) for k in reader.keys}
    arrays = np.concatenate([b.arrays for b in got])
    return Batch({k: v[-n:] for k, v in keys.items()}, arrays[-n:])


def last_rowid(reader: Any) -> int:
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


def head(reader: ArrayReader, n: int, where_clause: Optional[str] = None,
         params: Optional[Sequence[Any]] = None) -> Iterator[Tuple[Dict[str, Any], np.ndarray]]:
    """The first ``n`` selected rows."""
    if n <= 0:
        return
    for i, row in enumerate(reader.iterate(where_clause, params)):
        yield row
        if i + 1 >= n:
            return


def integrity_problems(reader: ArrayReader) -> List[str]:
    """SQLite's integrity check, one problem per item (SQLite puts several,
    one per line, in one row, after a "*** in database main ***" heading)."""
    lines = [ln.strip() for msg in reader._core.integrity_check() for ln in msg.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("***")]


def verify(path: str) -> Dict[str, Any]:
    """Opens the file (a .db.zst's frame checksum is checked while it is
    decompressed), runs SQLite's integrity check, reads every row (each
    blob's header is checked against the meta) and checks the rows read
    against the row count. ``ok`` is false with the problem in
    ``error`` on any damage."""
    out: Dict[str, Any] = {"path": os.fspath(path), "ok": False}
    try:
        with ArrayReader(path) as r:
            out["path"] = r.path
            problems = integrity_problems(r)
            if problems:
                shown = "; ".join(problems[:3]) + (f"; ... ({len(problems)} in all)" if len(problems) > 3 else "")
                out["error"] = "SQLite integrity check: " + shown
                out["problems"] = problems
                return out
            n = r.count()
            out["rows"] = n
            read = 0
            for batch in r.iter_batches():
                read += len(batch.arrays)
            out["rows_read"] = read
            if read != n:
                out["error"] = f"row count says {n} rows but {read} could be read"
                return out
    except Exception as exc:  # noqa: BLE001 - reported per file, the exit status says it failed
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    out["ok"] = True
    return out
