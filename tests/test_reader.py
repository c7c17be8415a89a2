"""The reader: bulk reads equal iterate(), filters, key column types, the
reader never modifies what it reads, temporary copies of .db.zst files."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

import array_logger
from array_logger import ValidationError
from al_helpers import read_rows


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict:
    return {p.name: digest(p) for p in sorted(root.iterdir()) if p.is_file()}


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """200 rows: int keys episode/step, a text key, arrays of shape (4, 3)."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["episode", "step", "tag"], shape=(4, 3), dtype="float32")
        for i in range(200):
            lg.log("x", {"episode": i // 20, "step": i % 20, "tag": f"t{i % 7:02d}"},
                   np.arange(12, dtype=np.float32).reshape(4, 3) + i)
    return tmp_path


def stacked_iterate(reader: Any, where: Optional[str] = None, params: Any = None):
    rows = list(reader.iterate(where, params))
    keys = {k: [r[0][k] for r in rows] for k in reader.keys}
    arrays = np.stack([r[1] for r in rows]) if rows else np.empty((0, *reader.shape), reader.dtype)
    return keys, arrays


# (where, params, which of the sample's logged rows it selects)
@pytest.mark.parametrize("where, params, selects", [
    (None, None, lambda e, s, t: True),
    ("episode = ?", (3,), lambda e, s, t: e == 3),
    ("episode > ? AND step % 10 = 0", [4], lambda e, s, t: e > 4 and s % 10 == 0),
    ("tag = ?", ("t03",), lambda e, s, t: t == "t03"),
    ("episode BETWEEN ? AND ? OR step = ?", (1, 2, 19), lambda e, s, t: 1 <= e <= 2 or s == 19),
    ("episode < 0", None, lambda e, s, t: e < 0),
    ("episode = ?", (np.int64(5),), lambda e, s, t: e == 5),
    ("episode = ?", (5.0,), lambda e, s, t: e == 5),
])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_all_equals_stacked_iterate(tmp_path: Path, sample: Path, where, params, selects, compressed) -> None:
    """Both read paths return exactly the logged rows the clause selects
    (computed here from what the sample fixture logged), in logging order."""
    logged = [i for i in range(200) if selects(i // 20, i % 20, f"t{i % 7:02d}")]
    n = len(logged)
    path = sample / "x.db"
    if compressed:
        with array_logger.Logger(sample, 3) as lg:  # resume + compress at close
            lg.register("x", keys=["episode", "step", "tag"], shape=(4, 3), dtype="float32")
        path = sample / "x.db.zst"
        assert path.exists() and not (sample / "x.db").exists()
    with array_logger.open_reader(path) as reader:
        keys, arrays = stacked_iterate(reader, where, params)
        batch = reader.read_all(where, params)
        assert reader.count(where, params) == n
    assert isinstance(batch, array_logger.Batch)
    assert batch.arrays.shape == (n, 4, 3) and batch.arrays.dtype == np.float32
    assert batch.arrays.tobytes() == arrays.tobytes()
    assert list(batch.keys) == ["episode", "step", "tag"]
    assert batch.keys["episode"].dtype == np.int64 and batch.keys["step"].dtype == np.int64
    if n:  # an empty selection has no values to tell a text column from an int one
        assert batch.keys["tag"].dtype == object
    for k in ["episode", "step", "tag"]:
        assert batch.keys[k].shape == (n,)
        assert batch.keys[k].tolist() == keys[k]
    assert batch.keys["episode"].tolist() == [i // 20 for i in logged]
    assert batch.keys["step"].tolist() == [i % 20 for i in logged]
    assert batch.keys["tag"].tolist() == [f"t{i % 7:02d}" for i in logged]
    expected = np.stack([np.arange(12, dtype=np.float32).reshape(4, 3) + i for i in logged]) if n else \
        np.empty((0, 4, 3), np.float32)
    assert batch.arrays.tobytes() == expected.tobytes()


def test_read_all_float_keys_and_mixed_keys(tmp_path: Path) -> None:
    values = [1, 2.5, 3, "x", 4, 5.5]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("f", keys=["t"], shape=(1,), dtype="int8")
        lg.register("m", keys=["t"], shape=(1,), dtype="int8")
        for i in range(4):
            lg.log("f", {"t": i * 0.5}, np.array([i], np.int8))
        for i, v in enumerate(values):
            lg.log("m", {"t": v}, np.array([i], np.int8))
    with array_logger.open_reader(tmp_path / "f.db") as reader:
        b = reader.read_all()
    assert b.keys["t"].dtype == np.float64 and b.keys["t"].tolist() == [0.0, 0.5, 1.0, 1.5]
    with array_logger.open_reader(tmp_path / "m.db") as reader:
        b = reader.read_all()
        it = [k["t"] for k, _ in reader.iterate()]
    assert it == values and [type(v) for v in it] == [type(v) for v in values]
    # Bulk read keeps each value's type, like iterate(): an object column.
    assert b.keys["t"].dtype == object
    assert b.keys["t"].tolist() == values
    assert [type(v) for v in b.keys["t"]] == [type(v) for v in values]


def test_iterated_arrays_are_independent(sample: Path) -> None:
    with array_logger.open_reader(sample / "x.db") as reader:
        rows = list(reader.iterate())
        first = rows[0][1]
        first[...] = -1  # writable, and changes nothing else
        again = next(iter(reader.iterate()))[1]
    assert again.tolist() == (np.arange(12).reshape(4, 3)).tolist()
    assert rows[1][1].tolist() == (np.arange(12).reshape(4, 3) + 1).tolist()


def test_iterate_many_blocks_and_partial_consumption(tmp_path: Path) -> None:
    n = 10_000  # more than one fetch block
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(2,), dtype="int32", commit_threshold_rows=5000)
        for i in range(n):
            lg.log("x", {"i": i}, np.array([i, -i], np.int32))
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        it = reader.iterate()
        head = [next(it) for _ in range(3)]
        assert [k["i"] for k, _ in head] == [0, 1, 2]
        del it
        assert len(reader) == n
        all_rows = list(reader.iterate("i % 1000 = ?", (999,)))
        assert [k["i"] for k, _ in all_rows] == list(range(999, n, 1000))
        b = reader.read_all()
    assert b.arrays[:, 0].tolist() == list(range(n)) and b.keys["i"].tolist() == list(range(n))


def test_reader_properties(sample: Path) -> None:
    with array_logger.open_reader(sample / "x.db") as reader:
        assert reader.shape == (4, 3)
        assert reader.dtype == np.dtype("float32")
        assert reader.keys == ["episode", "step", "tag"]
        assert reader.format_version == 2
        assert reader.meta["shape"] == "(4, 3)" and reader.meta["format_version"] == "2"
        assert len(reader) == 200 == reader.count()
        assert not reader.closed
    assert reader.closed


def test_open_reader_resolves_db_to_db_zst(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, 1) as lg:
        lg.register("x", keys=["i"], shape=(1,), dtype="int64")
        lg.log("x", {"i": 0}, np.array([42]))
    for p in [tmp_path / "x.db", tmp_path / "x.db.zst", str(tmp_path / "x.db")]:
        assert [a.tolist() for _, a in read_rows(p)] == [[42]]


def test_reading_while_a_logger_writes(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(8,), dtype="float64", commit_threshold_rows=10)
        for i in range(55):
            lg.log("x", {"i": i}, np.full(8, float(i)))
        lg.flush()
        with array_logger.open_reader(tmp_path / "x.db") as reader:
            assert reader.count() == 55
            b = reader.read_all()
            for i in range(55, 60):
                lg.log("x", {"i": i}, np.full(8, float(i)))
            lg.flush()
            assert reader.count() == 60
        assert b.arrays[:, 0].tolist() == [float(i) for i in range(55)]


# --- the reader never modifies what it reads -----------------------------------------

INJECTIONS = [
    "1; DROP TABLE array_log",
    "1) OR 1=1 --",
    "episode=1); DELETE FROM array_log; --",
    "1); DELETE FROM array_log WHERE (1",
    "episode = 1; UPDATE array_log SET data = x'00'",
    "PRAGMA writable_schema=1",
    "1); PRAGMA journal_mode=WAL; --",
    "1); PRAGMA user_version=5; --",
    "1); ATTACH DATABASE 'evil.db' AS evil; --",
    "1); ATTACH DATABASE 'evil.db' AS evil; CREATE TABLE evil.t(a); --",
    "1); VACUUM INTO 'copy.db'; --",
    "1); BEGIN IMMEDIATE; --",
    "1) /* ; DROP TABLE meta; */ OR (1",
    "load_extension('/nonexistent')",
    "(SELECT count(*) FROM sqlite_master) > 0",
    "episode IN (SELECT episode FROM array_log WHERE step = 4)",
    "1\x00; DROP TABLE array_log",
]
# Of those, the ones that are just reads (allowed, and select every row).
READ_ONLY_INJECTIONS = {
    "(SELECT count(*) FROM sqlite_master) > 0",
    "episode IN (SELECT episode FROM array_log WHERE step = 4)",
}


@pytest.mark.parametrize("compressed", [False, True])
def test_where_clause_cannot_write(tmp_path: Path, sample: Path, compressed: bool, private_tmpdir: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sample)
    if compressed:
        with array_logger.Logger(sample, 3) as lg:
            lg.register("x", keys=["episode", "step", "tag"], shape=(4, 3), dtype="float32")
    before = snapshot(sample)
    name = "x.db.zst" if compressed else "x.db"
    with array_logger.open_reader(sample / name) as reader:
        for where in INJECTIONS:
            if where in READ_ONLY_INJECTIONS:  # a valid read-only expression, true for every row
                assert len(list(reader.iterate(where))) == reader.count(where) == len(reader.read_all(where).arrays) == 200
                continue
            for call in (lambda: list(reader.iterate(where)), lambda: reader.count(where),
                         lambda: reader.read_all(where)):
                with pytest.raises(ValidationError):
                    call()
            # Injections through params are just values.
            assert reader.count("tag = ?", (where,)) == 0
        assert reader.count() == 200
    assert snapshot(sample) == before
    assert not (sample / "evil.db").exists() and not (sample / "copy.db").exists()
    assert os.listdir(private_tmpdir) == []


@pytest.mark.parametrize("where", [
    "1) LIMIT 1 /*",
    "1) ORDER BY rowid DESC /*",
    "1) GROUP BY (episode",
    "1) UNION ALL SELECT 1, 2, 3, x'00' /*",
    "1) LIMIT 5 OFFSET (1",
])
def test_where_clause_cannot_escape_its_parentheses(sample: Path, where: str) -> None:
    # Proves docs/DURABILITY.md: "the clause must stay inside its parentheses (no `;`, no unbalanced
    # brackets, no open comments)"
    """A where_clause is one expression: text that closes the parenthesis
    around it and reshapes the query (LIMIT, ORDER BY, GROUP BY, UNION), with
    an unterminated /* comment or balanced parentheses to swallow the rest, is
    refused as invalid (ValidationError), not half-run (rows missing from
    read_all with 'rows changed while being read', fabricated rows reported as
    a corrupt file)."""
    before = snapshot(sample)
    with array_logger.open_reader(sample / "x.db") as reader:
        with pytest.raises(ValidationError):
            list(reader.iterate(where))
        with pytest.raises(ValidationError):
            reader.read_all(where)
        with pytest.raises(ValidationError):
            reader.count(where)
    assert snapshot(sample) == before


def test_bad_where_clause_and_params(sample: Path) -> None:
    with array_logger.open_reader(sample / "x.db") as reader:
        for where, params in [("episode = ?", None), ("episode = ?", (1, 2)), ("nosuchcol = 1", None),
                              ("episode =", None), ("episode = ?", "1"), ("episode = ?", ([1],)),
                              ("episode = ?", (None,)), ("episode = :e", {"e": 1})]:
            with pytest.raises((ValidationError, TypeError)):
                list(reader.iterate(where, params))
        assert reader.count() == 200  # still usable
        # An integer beyond 64 bits is refused, not wrapped to another value.
        for big in (2 ** 64, -(2 ** 63) - 1, np.uint64(2 ** 64 - 1)):
            with pytest.raises(ValidationError, match="does not fit in 64 bits"):
                reader.count("episode = ?", (big,))


# --- temporary copies of .db.zst files ------------------------------------------------

def test_db_zst_temporary_copy_is_private_and_removed(tmp_path: Path, private_tmpdir: Path) -> None:
    # Proves docs/DURABILITY.md: "A `.db.zst` is decompressed to a private temporary file
    # (`array_logger-XXXXXX.db`, mode 0600, in `TMPDIR`) that is removed on `close()`"
    with array_logger.Logger(tmp_path / "logs", 3) as lg:
        lg.register("x", keys=["i"], shape=(16,), dtype="float32")
        for i in range(100):
            lg.log("x", {"i": i}, np.full(16, i, np.float32))
    zst = tmp_path / "logs" / "x.db.zst"
    before = digest(zst)
    readers = [array_logger.open_reader(zst) for _ in range(3)]
    temps = sorted(private_tmpdir.iterdir())
    assert len(temps) == 3
    for t in temps:
        mode = stat.S_IMODE(t.stat().st_mode)
        assert mode == 0o600, oct(mode)
        assert t.stat().st_uid == os.getuid()
    assert [r.count() for r in readers] == [100] * 3
    readers[0].close()
    assert len(list(private_tmpdir.iterdir())) == 2
    with readers[1]:
        pass
    assert len(list(private_tmpdir.iterdir())) == 1
    r = readers.pop()
    del readers
    r.close()
    assert list(private_tmpdir.iterdir()) == []
    assert digest(zst) == before
    assert sorted(f for f in os.listdir(tmp_path / "logs") if not f.startswith(".")) == ["x.db.zst"]


def test_db_zst_temporary_copy_removed_at_interpreter_exit(tmp_path: Path, private_tmpdir: Path) -> None:
    from al_helpers import run_child

    with array_logger.Logger(tmp_path, 3) as lg:
        lg.register("x", keys=["i"], shape=(4,), dtype="float32")
        lg.log("x", {"i": 0}, np.zeros(4, np.float32))
    done = run_child("""
        import sys, os, array_logger
        r = array_logger.open_reader(sys.argv[1])   # never closed
        print(len(os.listdir(os.environ["TMPDIR"])), r.count())
        r2 = array_logger.open_reader(sys.argv[1])
        it = r2.iterate()
        next(it)
    """, str(tmp_path / "x.db.zst"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
    assert list(private_tmpdir.iterdir()) == []
