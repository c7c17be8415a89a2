"""Paths taken when something went wrong before: a name whose writes failed at
close with compression on, SIGTERM when the program ignores it, format-1 blobs
of the wrong length, where clauses that would loop."""

from __future__ import annotations

import re
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import array_logger
from array_logger import CorruptFileError, ValidationError
from al_helpers import run_child

FAIL_THEN_CLOSE_COMPRESSED = """
    import os, resource, signal, sys, numpy as np, array_logger
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, resource.RLIM_INFINITY))
    lg = array_logger.Logger(sys.argv[1], compression_level=3, handle_signals=False)
    lg.register("x", keys=["i"], shape=(1024,), dtype="float32", commit_threshold_rows=10)
    lg.register("ok", keys=["i"], shape=(1,), dtype="int64")
    lg.log("ok", {"i": 0}, np.array([42]))
    flushed = 0
    try:
        for i in range(100_000):
            lg.log("x", {"i": i}, np.full(1024, i, np.float32))  # compresses to almost nothing
            if i % 50 == 49:
                lg.flush()
                flushed = i + 1
        print("no error", flush=True)
    except OSError as exc:
        print("error", type(exc).__name__, flushed, flush=True)
    try:
        lg.close()
        print("closed", flush=True)
    except OSError as exc:
        print("close error", type(exc).__name__, flush=True)
    print(" ".join(sorted(f for f in os.listdir(sys.argv[1]) if not f.startswith("."))), flush=True)
"""


def test_a_name_whose_writes_failed_is_not_compressed_at_close(tmp_path: Path) -> None:
    """docs/DURABILITY.md: "With compression on, a name whose writes failed is
    left as its `.db`, not compressed." and "`close()` still closes every
    database and releases every name, raising the same error"."""
    done = run_child(FAIL_THEN_CLOSE_COMPRESSED, str(tmp_path))
    assert done.returncode == 0, done.stderr
    error, close, files = done.stdout.splitlines()
    word, kind, flushed = error.split()
    assert (word, kind) == ("error", "StorageError") and int(flushed) >= 50, done.stdout
    assert close == "close error StorageError", done.stdout
    # The failed name stays a plain .db (with its WAL: the committed rows may
    # still be there); the healthy name was compressed as usual.
    assert "x.db" in files.split() and "ok.db.zst" in files.split(), files
    assert not {"x.db.zst", "x.db.zst.tmp", "ok.db"} & set(files.split()), files
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        batch = reader.read_all()
    n = len(batch.arrays)
    assert n >= int(flushed)
    assert batch.keys["i"].tolist() == list(range(n))
    assert batch.arrays.tobytes() == np.repeat(np.arange(n, dtype=np.float32), 1024).tobytes()
    with array_logger.open_reader(tmp_path / "ok.db") as reader:
        assert [(k["i"], a.tolist()) for k, a in reader.iterate()] == [(0, [42])]


SIGTERM_IGNORED = """
    import signal, sys, numpy as np, array_logger
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    lg = array_logger.Logger(sys.argv[1], None)
    lg.register("x", keys=["i"], shape=(2,), dtype="int32",
                commit_threshold_rows=1_000_000, commit_threshold_seconds=3600)
    for i in range(25):
        lg.log("x", {"i": i}, np.array([i, -i], np.int32))
    signal.raise_signal(signal.SIGTERM)
    print("survived", lg.closed, flush=True)
"""


def test_sigterm_ignored_by_the_program_stays_ignored(tmp_path: Path) -> None:
    """docs/DURABILITY.md: the SIGTERM handler "closes every open logger of the
    process, then does what the previous handler would have done: ... or does
    nothing more for `SIG_IGN`"."""
    done = run_child(SIGTERM_IGNORED, str(tmp_path))
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout.strip() == "survived True", done.stdout
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        got = [(k["i"], a.tolist()) for k, a in reader.iterate()]
    assert got == [(i, [i, -i]) for i in range(25)]


def _format1_file(path: Path, blobs: list) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('shape', '(3, 5)'), ('dtype', 'float32'), ('keys', \"['i']\"),"
        " ('array_logger_version', '1.0');"
        "CREATE TABLE array_log (i INTEGER NOT NULL, data BLOB NOT NULL);")
    con.executemany("INSERT INTO array_log VALUES (?, ?)", list(enumerate(blobs)))
    con.commit()
    con.close()


@pytest.mark.parametrize("extra", [1, 4, 60, 4096])
def test_format1_blob_longer_than_its_array_is_refused(tmp_path: Path, extra: int) -> None:
    """docs/FORMAT.md 5.3: "`data` is exactly `P` bytes: `ndarray.tobytes()`"."""
    good = np.arange(15, dtype=np.float32).reshape(3, 5)
    path = tmp_path / "f1.db"
    _format1_file(path, [good.tobytes(), good.tobytes() + b"\x01" * extra, good.tobytes()])
    with array_logger.open_reader(path) as reader:
        assert reader.format_version == 1
        # "row N": the N-th row of the query's result.
        with pytest.raises(CorruptFileError, match=f"row 2: blob has {60 + extra} bytes, meta says 60"):
            list(reader.iterate())
        with pytest.raises(CorruptFileError, match="row 2: blob has"):
            reader.read_all()
        with pytest.raises(CorruptFileError, match="row 1: blob has"):
            list(reader.iterate("i = ?", (1,)))
        rows = list(reader.iterate("i <> ?", (1,)))
        assert [(k["i"], a.tobytes()) for k, a in rows] == [(0, good.tobytes()), (2, good.tobytes())]


def test_a_filtered_blob_that_does_not_decompress_to_its_array_is_refused(tmp_path: Path) -> None:
    """A shuffle-zstd row (flags 1) cut to its header alone, or to a frame of
    the wrong size, is corrupt, said so, and the other rows still read."""
    smooth = [np.full((64, 8), i, np.float32) for i in range(3)]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(64, 8), dtype="float32", shuffle_zstd=True)
        for i, a in enumerate(smooth):
            lg.log("x", {"i": i}, a)
    con = sqlite3.connect(tmp_path / "x.db")
    try:
        (blob,) = con.execute("SELECT data FROM array_log WHERE i = 1").fetchone()
        assert blob[4] == 1  # filtered
        cut = bytes(blob[:int.from_bytes(blob[6:8], "little")])  # the header alone (header_size, FORMAT.md 5)
        con.execute("UPDATE array_log SET data = ? WHERE i = 1", (cut,))
        con.commit()
        with array_logger.open_reader(tmp_path / "x.db") as reader:
            with pytest.raises(CorruptFileError, match="filtered blob does not decompress to the array size"):
                list(reader.iterate("i = ?", (1,)))
            rows = list(reader.iterate("i <> ?", (1,)))
            assert [(k["i"], a.tobytes()) for k, a in rows] == [(0, smooth[0].tobytes()), (2, smooth[2].tobytes())]
    finally:
        con.close()


RECURSIVE = [
    "i IN (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT 5) SELECT n FROM c)",
    "i IN (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c)",  # never ends
    "EXISTS (WITH RECURSIVE c(n) AS (VALUES(1) UNION SELECT n FROM c) SELECT 1 FROM c)",
]


@pytest.mark.parametrize("where", RECURSIVE)
def test_recursive_cte_in_a_where_clause_is_refused(tmp_path: Path, where: str) -> None:
    """docs/DURABILITY.md "Reading": "recursive CTEs are refused"."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(1,), dtype="int64")
        for i in range(10):
            lg.log("x", {"i": i}, np.array([i]))
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        for call in (lambda: list(reader.iterate(where)), lambda: reader.read_all(where),
                     lambda: reader.count(where)):
            with pytest.raises(ValidationError, match="invalid where_clause"):
                call()
        # A plain (non-recursive) CTE is an ordinary read and stays allowed.
        assert reader.count("i IN (WITH c(n) AS (VALUES(3), (4)) SELECT n FROM c)") == 2


TAGS = ["it's", "a)b", "x", "x;y", "--", "/*", "x", "q\"q", "]", "x"]


@pytest.mark.parametrize("where, selects", [
    ("tag = 'it''s'", lambda i, t: t == "it's"),                 # doubled quote inside a literal
    ("tag = 'a)b'", lambda i, t: t == "a)b"),                     # a bracket inside a literal
    ("tag = 'x;y'", lambda i, t: t == "x;y"),                     # ';' inside a literal
    ("tag IN ('--', '/*')", lambda i, t: t in ("--", "/*")),      # comment openers inside literals
    ("\"tag\" = 'x'", lambda i, t: t == "x"),                     # quoted identifiers, three ways
    ("[tag] = 'x'", lambda i, t: t == "x"),
    ("`tag` = 'x'", lambda i, t: t == "x"),
    ("tag = 'q\"q'", lambda i, t: t == 'q"q'),
    ("tag = ']'", lambda i, t: t == "]"),
    ("i < 3 -- the rest ; ) is a comment", lambda i, t: i < 3),
    ("i < 3 -- a comment line\n AND i > 0", lambda i, t: 0 < i < 3),
    ("i /* ; ) ( */ < 3", lambda i, t: i < 3),
    ("(i < 3) OR (i = 9)", lambda i, t: i < 3 or i == 9),
])
def test_where_clause_quotes_and_comments_are_read_as_sql_does(tmp_path: Path, where: str, selects) -> None:
    """docs/DURABILITY.md "Reading": "the clause must stay inside its
    parentheses (no `;`, no unbalanced brackets, no open comments)" -- and
    brackets, semicolons and comment markers inside literals, quoted names and
    comments do not count: such clauses run and select exactly the logged rows."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i", "tag"], shape=(1,), dtype="int64")
        for i, t in enumerate(TAGS):
            lg.log("x", {"i": i, "tag": t}, np.array([i * 10]))
    want = [i for i, t in enumerate(TAGS) if selects(i, t)]
    assert want, where
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        got = [(k["i"], k["tag"], int(a[0])) for k, a in reader.iterate(where)]
        assert reader.count(where) == len(want)
    assert got == [(i, TAGS[i], i * 10) for i in want]


@pytest.mark.parametrize("where, why", [
    ("tag = 'open", "unterminated quote"),
    ("[tag = 'x'", "unterminated quote"),
    ("i < 3 /* open", "unterminated comment"),
    ("(i < 3", "unbalanced '('"),
    ("i < 3)", "unbalanced ')'"),
])
def test_where_clause_left_open_is_refused(tmp_path: Path, where: str, why: str) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i", "tag"], shape=(1,), dtype="int64")
        lg.log("x", {"i": 0, "tag": "x"}, np.array([0]))
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        with pytest.raises(ValidationError, match=re.escape(why)):
            reader.count(where)
        assert reader.count() == 1
