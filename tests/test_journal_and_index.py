"""The write path's journal choice and the first-key index (docs/DESIGN.md,
"Journal modes"; docs/FORMAT.md, sections 2-4), checked on the files with
the stdlib sqlite3 module, and the reads that depend on them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import array_logger
from test_format1_compat import write_format1

BIG = (96, 96)    # 36 KiB of float32: over the 32 KiB line, a rollback journal
SMALL = (10, 5)   # 200 B: WAL


def ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def log_rows(root: Path, shape: tuple, n: int, first: int = 0, **register: object) -> np.ndarray:
    rng = np.random.default_rng(first)
    arrays = rng.standard_normal((n, *shape)).astype(np.float32)
    with array_logger.Logger(root, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["episode", "step"], shape=shape, dtype="float32", commit_threshold_rows=7, **register)
        for i in range(n):
            lg.log("x", {"episode": (first + i) // 10, "step": (first + i) % 10}, arrays[i])
    return arrays


@pytest.mark.parametrize("shape, asked, expected", [
    (BIG, "auto", "rollback"), (SMALL, "auto", "wal"), (SMALL, "rollback", "rollback"), (BIG, "wal", "wal")])
def test_journal_is_chosen_at_creation_and_recorded(tmp_path: Path, shape: tuple, asked: str, expected: str) -> None:
    arrays = log_rows(tmp_path, shape, 30, journal=asked)
    con = ro(tmp_path / "x.db")
    assert dict(con.execute("SELECT key, value FROM meta"))["write_journal"] == expected
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # closed: one self-contained file
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["x.db"]
    # A resumed file keeps its recorded mode whatever register asks.
    other = "wal" if expected == "rollback" else "rollback"
    more = log_rows(tmp_path, shape, 12, first=30, journal=other)
    with array_logger.open_reader(tmp_path / "x.db") as r:
        assert r.meta["write_journal"] == expected
        batch = r.read_all()
    assert batch.arrays.tobytes() == np.concatenate([arrays, more]).tobytes()
    assert batch.keys["step"].tolist() == [i % 10 for i in range(42)]


def test_journal_must_be_known(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        with pytest.raises(ValueError, match="journal"):
            lg.register("x", keys=["i"], shape=(1,), dtype="float32", journal="memory")


def test_rollback_file_while_written_has_a_journal_and_no_wal(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=BIG, dtype="float32")
        lg.log("x", {"i": 0}, np.ones(BIG, np.float32))
        lg.flush()
        names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
        assert names == ["x.db", "x.db-journal"]
        assert (tmp_path / "x.db-journal").stat().st_size == 0  # emptied by the commit: never hot
        with array_logger.open_reader(tmp_path / "x.db") as r:  # a live reader: no recovery copy
            assert len(r) == 1


@pytest.mark.parametrize("shape", [BIG, SMALL])
def test_close_indexes_the_first_key_and_filters_use_it(tmp_path: Path, shape: tuple) -> None:
    arrays = log_rows(tmp_path, shape, 60)
    con = ro(tmp_path / "x.db")
    assert con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'array_log'").fetchall() \
        == [("array_log_first_key", 'CREATE INDEX array_log_first_key ON array_log ("episode")')]
    plan = " ".join(str(r) for r in con.execute(
        'EXPLAIN QUERY PLAN SELECT "episode", "step", data FROM array_log WHERE (episode = ?) AND _rowid_ > ? '
        "ORDER BY rowid", (3, 0)))
    assert "USING INDEX array_log_first_key" in plan and "TEMP B-TREE" not in plan, plan
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with array_logger.open_reader(tmp_path / "x.db") as r:
        got = list(r.iterate("episode = ?", (3,)))
        batch = r.read_all("episode = ?", (3,))
    assert [k["step"] for k, _ in got] == list(range(10))
    assert np.stack([a for _, a in got]).tobytes() == arrays[30:40].tobytes() == batch.arrays.tobytes()


def test_format1_files_get_no_index(tmp_path: Path) -> None:
    rows = [((i // 10, i % 10), np.full((2,), i, np.float32)) for i in range(20)]
    write_format1(tmp_path / "x.db", ["episode", "step"], (2,), "float32", rows)
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["episode", "step"], shape=(2,), dtype="float32")
        lg.log("x", {"episode": 2, "step": 0}, np.full((2,), 20, np.float32))
    con = ro(tmp_path / "x.db")
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'array_log'").fetchone() == (0,)
    assert "write_journal" not in dict(con.execute("SELECT key, value FROM meta"))  # meta unchanged
    con.close()


@pytest.mark.parametrize("shuffle", [False, True], ids=["raw", "shuffle_zstd"])
def test_big_rows_read_back_exactly_through_every_path(tmp_path: Path, shuffle: bool) -> None:
    """read_all and iterate write big unfiltered rows straight into their
    output; filtered rows take the decoding path. Same bytes either way."""
    arrays = log_rows(tmp_path, BIG, 25, shuffle_zstd=shuffle)  # random: stored unfiltered
    zeros = np.zeros((1, *BIG), np.float32)  # the filter stores it compressed
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["episode", "step"], shape=BIG, dtype="float32", shuffle_zstd=shuffle)
        lg.log("x", {"episode": 9, "step": 9}, zeros[0])
    with array_logger.open_reader(tmp_path / "x.db") as r:
        batch = r.read_all()
        iterated = np.stack([a for _, a in r.iterate()])
    expected = np.concatenate([arrays, zeros]).tobytes()
    assert batch.arrays.tobytes() == expected and iterated.tobytes() == expected
