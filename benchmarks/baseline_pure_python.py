"""Pure-Python array_logger (format 1): the design users run today.

A faithful re-implementation of the pure-Python array_logger 1.x, used
  * by benchmarks/run.py as the ``baseline`` peer, and
  * by the test suite to create format-1 files (``Logger`` needs no global state).

Layout written (format 1, docs/FORMAT.md):
  {root}/{name}.db, WAL mode while writing, stdlib sqlite3 defaults otherwise.
  meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) rows:
      shape = repr(tuple(shape))          e.g. "(10, 5)", "(1,)"
      dtype = np.dtype(dtype).name        e.g. "float32"
      keys  = repr(list(keys))            e.g. "['episode', 'step']"
      array_logger_version = "1.0"
  array_log(<key> INTEGER NOT NULL, ..., data BLOB NOT NULL)   (no id column)
      data = ndarray.tobytes()  (C order, native little-endian, no header)
  One INSERT per log(); commit every commit_threshold_rows rows or
  commit_threshold_seconds seconds, and at close().
  At close(), with compression_level not None: the whole .db becomes
  {name}.db.zst (one zstd frame, `zstandard` package) and the .db is removed.

Only stdlib + numpy (+ zstandard when compressing / reading .zst).
"""
from __future__ import annotations

import ast
import os
import sqlite3
import tempfile
import time
from collections.abc import Mapping

import numpy as np

__all__ = [
    "Logger", "ArrayReader", "init", "register", "log", "close", "open_reader",
    "FORMAT_VERSION",
]

FORMAT_VERSION = "1.0"


def _check_name(name):
    if (not isinstance(name, str) or not name or name.startswith(".")
            or "/" in name or "\\" in name or "\0" in name or ".." in name):
        raise ValueError(f"Invalid array name: {name!r}")


def _ident(k):
    """Key column as written in SQL: bare when a plain identifier, else quoted."""
    if k.isidentifier() and k.isascii():
        return k
    return '"' + k.replace('"', '""') + '"'


def _zstd():
    import zstandard  # imported lazily: only needed for .zst

    return zstandard


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _decompress_file(src, dst):
    zstd = _zstd()
    dctx = zstd.ZstdDecompressor()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        dctx.copy_stream(fi, fo)
        fo.flush()
        os.fsync(fo.fileno())


def _compress_file(src, dst, level):
    zstd = _zstd()
    cctx = zstd.ZstdCompressor(level=level)
    tmp = dst + ".tmp"
    size = os.path.getsize(src)
    with open(src, "rb") as fi, open(tmp, "wb") as fo:
        cctx.copy_stream(fi, fo, size=size)  # one frame, content size recorded
        fo.flush()
        os.fsync(fo.fileno())
    os.replace(tmp, dst)
    _fsync_dir(os.path.dirname(os.path.abspath(dst)))


class _Array:
    __slots__ = ("name", "keys", "shape", "dtype", "conn", "insert_sql",
                 "threshold_rows", "threshold_seconds", "pending", "last_commit",
                 "db_path", "stale_zst")


class Logger:
    """State of one logging run (the module functions wrap one instance)."""

    def __init__(self, root_path, compression_level=22):
        if compression_level is not None:
            compression_level = int(compression_level)
            if not 1 <= compression_level <= 22:
                raise ValueError("compression_level must be 1..22 or None")
        self.root_path = os.fspath(root_path)
        self.compression_level = compression_level
        os.makedirs(self.root_path, exist_ok=True)
        self._arrays = {}
        self._closed = False

    # -- context manager -------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- API ---------------------------------------------------------------
    def register(self, name, keys, shape, dtype,
                 commit_threshold_rows=100, commit_threshold_seconds=60.0):
        if self._closed:
            raise RuntimeError("Logger is closed")
        _check_name(name)
        if name in self._arrays:
            raise ValueError(f"Array '{name}' already registered")
        keys = [str(k) for k in keys]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Duplicate key names: {keys}")
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
        expected = {
            "shape": repr(shape),
            "dtype": dtype.name,
            "keys": repr(list(keys)),
            "array_logger_version": FORMAT_VERSION,
        }
        db_path = os.path.join(self.root_path, name + ".db")
        zst_path = db_path + ".zst"
        restored = False
        if not os.path.exists(db_path) and os.path.exists(zst_path):
            # resume a compressed run: restore the .db; close() compresses it
            # again (or, without compression, removes the superseded .zst)
            _decompress_file(zst_path, db_path + ".part")
            os.replace(db_path + ".part", db_path)
            restored = True
        conn = sqlite3.connect(db_path, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta "
                         "(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            existing = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if existing:
                if existing != expected:
                    raise ValueError(
                        f"Meta mismatch for '{name}': existing {existing}, "
                        f"requested {expected}")
            else:
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 list(expected.items()))
            cols = ", ".join(f"{_ident(k)} INTEGER NOT NULL" for k in keys)
            conn.execute(f"CREATE TABLE IF NOT EXISTS array_log "
                         f"({cols}, data BLOB NOT NULL)")
            conn.commit()
        except BaseException:
            conn.close()
            if restored:  # the .zst is still the authoritative copy
                for suffix in ("", "-wal", "-shm"):
                    try:
                        os.remove(db_path + suffix)
                    except FileNotFoundError:
                        pass
            raise
        a = _Array()
        a.name = name
        a.keys = keys
        a.shape = shape
        a.dtype = dtype
        a.conn = conn
        a.db_path = db_path
        a.stale_zst = zst_path if restored else None
        colnames = ", ".join(_ident(k) for k in keys)
        marks = ", ".join("?" * (len(keys) + 1))
        a.insert_sql = f"INSERT INTO array_log ({colnames}, data) VALUES ({marks})"
        a.threshold_rows = int(commit_threshold_rows)
        a.threshold_seconds = float(commit_threshold_seconds)
        a.pending = 0
        a.last_commit = time.monotonic()
        self._arrays[name] = a

    def log(self, name, key_values=None, array=None, **kwargs):
        # accept log(name, key_values, array), log(name, array, key_values),
        # and keywords
        if kwargs:
            if "key_values" in kwargs:
                key_values = kwargs.pop("key_values")
            if "array" in kwargs:
                array = kwargs.pop("array")
            if kwargs:
                raise TypeError(f"Unexpected arguments: {sorted(kwargs)}")
        if not isinstance(key_values, Mapping) and isinstance(array, Mapping):
            key_values, array = array, key_values
        if self._closed:
            raise RuntimeError("Logger is closed")
        try:
            a = self._arrays[name]
        except KeyError:
            raise ValueError(f"Array '{name}' is not registered") from None
        if not isinstance(key_values, Mapping):
            raise TypeError("key_values must be a dict")
        if len(key_values) != len(a.keys) or any(k not in key_values for k in a.keys):
            raise ValueError(f"Key mismatch for '{name}': expected {a.keys}, "
                             f"got {list(key_values)}")
        arr = np.asarray(array, dtype=a.dtype)
        if arr.shape != a.shape:
            raise ValueError(f"Shape mismatch: expected {a.shape}, got {arr.shape}")
        row = [key_values[k] for k in a.keys]
        row.append(arr.tobytes())
        a.conn.execute(a.insert_sql, row)
        a.pending += 1
        if a.pending >= a.threshold_rows or (
                time.monotonic() - a.last_commit >= a.threshold_seconds):
            a.conn.commit()
            a.pending = 0
            a.last_commit = time.monotonic()

    def flush(self):
        for a in self._arrays.values():
            a.conn.commit()
            a.pending = 0
            a.last_commit = time.monotonic()

    def close(self):
        if self._closed:
            return
        self._closed = True
        arrays, self._arrays = self._arrays, {}
        for a in arrays.values():
            a.conn.commit()
            a.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            a.conn.close()
            if self.compression_level is not None:
                _compress_file(a.db_path, a.db_path + ".zst",
                               self.compression_level)
                for suffix in ("", "-wal", "-shm"):
                    try:
                        os.remove(a.db_path + suffix)
                    except FileNotFoundError:
                        pass
            elif a.stale_zst is not None:
                # the complete .db now holds every row of the old .zst
                _fsync_dir(self.root_path)
                try:
                    os.remove(a.stale_zst)
                except FileNotFoundError:
                    pass


class ArrayReader:
    """Reads a format-1 .db or .db.zst file."""

    def __init__(self, db_path):
        db_path = os.fspath(db_path)
        if not os.path.exists(db_path) and os.path.exists(db_path + ".zst"):
            db_path = db_path + ".zst"
        if not os.path.exists(db_path):
            raise FileNotFoundError(db_path)
        self.path = db_path
        self._tmpdir = None
        if db_path.endswith(".zst"):
            self._tmpdir = tempfile.mkdtemp(prefix="array_logger_")
            local = os.path.join(self._tmpdir,
                                 os.path.basename(db_path)[:-len(".zst")])
            _decompress_file(db_path, local)
            self._conn = sqlite3.connect(local)
        else:
            self._conn = sqlite3.connect(
                "file:" + os.path.abspath(db_path) + "?mode=ro", uri=True)
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        self.meta = meta
        self.shape = tuple(ast.literal_eval(meta["shape"]))
        self.dtype = np.dtype(meta["dtype"])
        self.keys = list(ast.literal_eval(meta["keys"]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return self._conn.execute("SELECT COUNT(*) FROM array_log").fetchone()[0]

    def iterate(self, where_clause=None, params=None):
        cols = ", ".join(_ident(k) for k in self.keys)
        sql = f"SELECT {cols}, data FROM array_log"
        if where_clause:
            sql += f" WHERE {where_clause}"
        cur = self._conn.execute(sql, tuple(params) if params is not None else ())
        keys, dtype, shape, nk = self.keys, self.dtype, self.shape, len(self.keys)
        for row in cur:
            arr = np.frombuffer(row[nk], dtype=dtype).reshape(shape)
            yield dict(zip(keys, row[:nk])), arr

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._tmpdir is not None:
            for f in os.listdir(self._tmpdir):
                os.remove(os.path.join(self._tmpdir, f))
            os.rmdir(self._tmpdir)
            self._tmpdir = None


# ---- module-level API (its four functions) ---------------------------------
_logger = None


def init(root_path, compression_level=22):
    global _logger
    if _logger is not None:
        raise RuntimeError("Logger already initialized")
    _logger = Logger(root_path, compression_level=compression_level)


def _current():
    if _logger is None:
        raise RuntimeError("Logger not initialized; call init() first")
    return _logger


def register(name, keys, shape, dtype,
             commit_threshold_rows=100, commit_threshold_seconds=60.0):
    _current().register(name, keys, shape, dtype,
                        commit_threshold_rows=commit_threshold_rows,
                        commit_threshold_seconds=commit_threshold_seconds)


def log(name, key_values=None, array=None, **kwargs):
    _current().log(name, key_values, array, **kwargs)


def flush():
    _current().flush()


def close():
    global _logger
    lg, _logger = _logger, None
    if lg is not None:
        lg.close()


def open_reader(db_path):
    return ArrayReader(db_path)
