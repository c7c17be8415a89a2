"""log_many(): N rows in one call, same checks and same files as N log() calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import array_logger


def test_log_many_equals_row_by_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = rng.random((500, 3, 2)).astype(np.float32)
    episodes = np.arange(500) // 50
    tags = [f"t{i % 3}" for i in range(500)]
    with array_logger.Logger(tmp_path / "many", compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["episode", "tag"], shape=(3, 2), dtype="float32")
        lg.log_many("x", {"episode": episodes[:200], "tag": tags[:200]}, arrays[:200])
        lg.log_many("x", {"episode": list(episodes[200:]), "tag": tags[200:]}, arrays[200:])
    with array_logger.Logger(tmp_path / "one", compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["episode", "tag"], shape=(3, 2), dtype="float32")
        for i in range(500):
            lg.log("x", {"episode": int(episodes[i]), "tag": tags[i]}, arrays[i])
    with array_logger.open_reader(tmp_path / "many" / "x.db") as a, \
            array_logger.open_reader(tmp_path / "one" / "x.db") as b:
        ra, rb = a.read_all(), b.read_all()
    assert ra.arrays.tobytes() == rb.arrays.tobytes() == arrays.tobytes()
    assert ra.keys["episode"].tolist() == rb.keys["episode"].tolist() == episodes.tolist()
    assert ra.keys["tag"].tolist() == tags


def test_log_many_rejects_bad_batches_and_logs_nothing(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=(2,), dtype="int32")
        with pytest.raises(ValueError, match="Shape mismatch"):
            lg.log_many("x", {"i": [0, 1]}, np.zeros((2, 3), np.int32))
        with pytest.raises(ValueError, match="Dtype mismatch"):
            lg.log_many("x", {"i": [0, 1]}, np.zeros((2, 2), np.int64))
        with pytest.raises(ValueError, match="2 values for 3 arrays"):
            lg.log_many("x", {"i": [0, 1]}, np.zeros((3, 2), np.int32))
        with pytest.raises(ValueError, match="missing"):
            lg.log_many("x", {"j": [0, 1]}, np.zeros((2, 2), np.int32))
        lg.log_many("x", {"i": [7]}, np.ones((1, 2), np.int32))
    with array_logger.open_reader(tmp_path / "x.db") as r:
        assert r.read_all().keys["i"].tolist() == [7]
