"""`root_path` is resolved to an absolute path once, when the logger is
created, and `open_reader` resolves its path when it opens: a later
os.chdir (Hydra and other config frameworks change the working directory
after start-up) changes nothing about where files go (README, "API")."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import read_rows


def row(i: int) -> np.ndarray:
    return np.full(3, i, np.float32)


@pytest.mark.parametrize("compression_level", [None, 3])
def test_module_logger_keeps_its_root_across_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   compression_level) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    array_logger.init("./logs", compression_level=compression_level)
    assert array_logger.get_logger().root_path == str(tmp_path / "logs")
    array_logger.register("rel", keys=["i"], shape=(3,), dtype="float32")
    array_logger.log("rel", {"i": 0}, row(0))
    os.chdir(elsewhere)  # between two log() calls
    array_logger.log("rel", {"i": 1}, row(1))
    array_logger.register("late", keys=["i"], shape=(3,), dtype="float32")  # registered after the chdir
    array_logger.log("late", {"i": 0}, row(7))
    array_logger.flush()
    os.chdir(tmp_path / "logs")  # and again before close
    array_logger.close()
    assert os.listdir(elsewhere) == []
    logs = tmp_path / "logs"
    expected = ["late.db", "rel.db"] if compression_level is None else ["late.db.zst", "rel.db.zst"]
    assert sorted(os.listdir(logs)) == expected  # compressed, and no lock file left behind
    assert [(k["i"], a.tolist()) for k, a in read_rows(logs / "rel.db")] == [(0, row(0).tolist()),
                                                                              (1, row(1).tolist())]
    assert [a.tolist() for _, a in read_rows(logs / "late.db")] == [row(7).tolist()]


def test_logger_object_keeps_its_root_across_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    with array_logger.Logger("logs", compression_level=3) as lg:
        lg.register("x", keys=["i"], shape=(3,), dtype="float32")
        monkeypatch.chdir(tmp_path)
        for i in range(5):
            lg.log("x", {"i": i}, row(i))
    assert sorted(os.listdir(tmp_path / "a" / "logs")) == ["x.db.zst"]
    assert not (tmp_path / "logs").exists()
    assert [k["i"] for k, _ in read_rows(tmp_path / "a" / "logs" / "x.db")] == list(range(5))


def test_reader_opened_with_a_relative_path_survives_chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           private_tmpdir: Path) -> None:
    with array_logger.Logger(tmp_path / "logs", compression_level=None) as lg:
        lg.register("x", keys=["i"], shape=(3,), dtype="float32")
        for i in range(4):
            lg.log("x", {"i": i}, row(i))
    monkeypatch.chdir(tmp_path)
    reader = array_logger.open_reader("logs/x.db")
    assert reader.path == str(tmp_path / "logs" / "x.db")
    monkeypatch.chdir(private_tmpdir)
    try:
        assert reader.count() == 4
        assert [k["i"] for k, _ in reader.iterate()] == [0, 1, 2, 3]
        assert reader.read_all().keys["i"].tolist() == [0, 1, 2, 3]
    finally:
        reader.close()
