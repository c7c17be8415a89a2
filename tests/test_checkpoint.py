"""Checkpoints consistent with the log (docs/DURABILITY.md, "Checkpoints and
resume"; docs/FORMAT.md section 11): Logger.checkpoint saves the state with
every name's position, resume() brings the logs back to the newest usable
checkpoint (rows logged after it set aside in files of their own) and the
next register continues a periodic name's open period. Kills at every step
of a checkpoint and of a resume leave a usable checkpoint."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import child_env


def ckpt_files(root: Path) -> list:
    d = root / "checkpoints"
    return sorted(f for f in os.listdir(d) if f.endswith(".alck")) if d.exists() else []


def test_state_keys_and_positions_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    state = {"spins": rng.integers(-1, 2, (8, 8)).astype(np.int8), "theta": rng.normal(size=5),
             "rng": rng.bit_generator.state, "note": ("any", "picklable", {"value": 3})}
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", ["i"], (2,), "float32")
        lg.register("e", ["i"], (), "float64", period=4, mode="sum")
        for i in range(10):
            lg.log("x", {"i": i}, np.array([i, i], np.float32))
            lg.log("e", {"i": i}, float(i))
        saved = lg.checkpoint(state, sweep=np.int64(9), label="after ten")
    assert saved.id == 1 and saved.path == str(tmp_path / "checkpoints" / "checkpoint-00000001.alck")
    ck = array_logger._checkpoint.load(saved.path)
    assert ck.keys == {"sweep": 9, "label": "after ten"} and type(ck.keys["sweep"]) is np.int64
    assert ck.state["spins"].tobytes() == state["spins"].tobytes() and ck.state["spins"].dtype == np.int8
    assert ck.state["theta"].tobytes() == state["theta"].tobytes()
    assert ck.state["rng"] == state["rng"] and ck.state["note"] == state["note"]
    assert ck.logs["x"].rows == 10 and ck.logs["x"].open_period is None
    # Two complete periods (rowids 1, 2); the open one (8, 9) is saved, not counted.
    assert ck.logs["e"].rows == 2
    steps, first_keys, acc = ck.logs["e"].open_period
    assert (steps, first_keys, np.frombuffer(acc, np.float64).tolist()) == (2, [8], [17.0])


def test_keep_last_n_and_module_function(tmp_path: Path) -> None:
    array_logger.init(tmp_path, compression_level=None)
    array_logger.register("x", ["i"], (), "int32")
    for i in range(6):
        array_logger.log("x", {"i": i}, np.int32(i))
        array_logger.checkpoint({"i": i}, keep_last_n=2, i=i)
    assert ckpt_files(tmp_path) == ["checkpoint-00000005.alck", "checkpoint-00000006.alck"]
    with pytest.raises(ValueError, match="keep_last_n"):
        array_logger.checkpoint({}, keep_last_n=0)
    array_logger.close()
    ck = array_logger.resume(tmp_path)
    assert ck.id == 6 and ck.state == {"i": 5} and ck.set_aside == {}


def test_resume_without_checkpoints_is_none(tmp_path: Path) -> None:
    assert array_logger.resume(tmp_path / "nothing") is None
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", ["i"], (), "int32")
        lg.log("x", {"i": 0}, np.int32(0))
    assert array_logger.resume(tmp_path) is None
    assert len(array_logger.open_reader(tmp_path / "x.db")) == 1  # untouched


def test_rows_after_the_checkpoint_are_set_aside_and_readable(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, 3) as lg:
        lg.register("x", ["i"], (3,), "float32")
        lg.register("late", ["i"], (), "int8")
        for i in range(20):
            lg.log("x", {"i": i}, np.full(3, i, np.float32))
            if i == 11:
                lg.checkpoint({"i": i}, i=i)
        lg.log("late", {"i": 0}, np.int8(1))  # registered before the checkpoint, logged after
    ck = array_logger.resume(tmp_path)
    assert ck.keys == {"i": 11}
    assert sorted(ck.set_aside) == ["late", "x"]
    with array_logger.open_reader(tmp_path / "x.db") as r:
        assert r.read_all().keys["i"].tolist() == list(range(12))
    with array_logger.open_reader(ck.set_aside["x"]) as r:
        moved = r.read_all()
        assert moved.keys["i"].tolist() == list(range(12, 20))
        assert moved.arrays.tobytes() == np.stack([np.full(3, i, np.float32) for i in range(12, 20)]).tobytes()
        note = __import__("json").loads(r.meta["set_aside"])
        assert note["after_row"] == 12 and note["checkpoint"] == ck.id and note["from"] == "x.db"
    assert len(array_logger.open_reader(tmp_path / "late.db")) == 0
    # The logs were .db.zst: the one that changed is a .db now (the next close compresses it).
    assert sorted(os.listdir(tmp_path)) == ["checkpoints", "late.db", "x.db"]
    # resume is idempotent: nothing more to set aside.
    again = array_logger.resume(tmp_path)
    assert again.id == ck.id and again.set_aside == {}


def test_open_period_continues_after_resume(tmp_path: Path) -> None:
    """A checkpoint in the middle of a period: the resumed run's rows equal an uninterrupted run's."""
    x = np.random.default_rng(5).normal(size=(40, 3))

    def run(root: Path, stop: int, start: int = 0) -> None:
        with array_logger.Logger(root, None) as lg:
            lg.register("m", ["i"], (3,), "float64", period=7, mode="mean")
            for i in range(start, stop):
                lg.log("m", {"i": i}, x[i])
                if i == 17:
                    lg.checkpoint({"next": i + 1})

    run(tmp_path / "whole", 40)
    run(tmp_path / "cut", 26)  # a run that went on after the checkpoint, then ended
    ck = array_logger.resume(tmp_path / "cut")
    assert ck.state == {"next": 18} and ck.logs["m"].open_period[0] == 4  # steps 14..17
    run(tmp_path / "cut", 40, start=ck.state["next"])
    a = array_logger.open_reader(tmp_path / "whole" / "m.db").read_all()
    b = array_logger.open_reader(tmp_path / "cut" / "m.db").read_all()
    assert a.arrays.tobytes() == b.arrays.tobytes()
    assert all(a.keys[k].tolist() == b.keys[k].tolist() for k in ("i", "steps", "partial"))
    assert b.keys["i"].tolist() == [0, 7, 14, 21, 28, 35] and b.keys["partial"].tolist() == [0] * 5 + [1]


def test_damaged_or_unreachable_checkpoints_fall_back(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", ["i"], (), "int32")
        for i in range(30):
            lg.log("x", {"i": i}, np.int32(i))
            if i % 10 == 9:
                lg.checkpoint({"i": i})
    newest = tmp_path / "checkpoints" / "checkpoint-00000003.alck"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="checkpoint 3: .*SHA-256"):
        ck = array_logger.resume(tmp_path)
    assert ck.id == 2 and len(array_logger.open_reader(tmp_path / "x.db")) == 20
    # A log that lost rows the checkpoint counts on (power loss): the older one is taken.
    import sqlite3

    con = sqlite3.connect(tmp_path / "x.db")
    con.execute("DELETE FROM array_log WHERE rowid > 15")
    con.commit()
    con.close()
    with pytest.warns(RuntimeWarning, match="checkpoint 2: x has 15 rows, the checkpoint needs 20"):
        ck = array_logger.resume(tmp_path)
    assert ck.id == 1 and len(array_logger.open_reader(tmp_path / "x.db")) == 10
    (tmp_path / "checkpoints" / "checkpoint-00000001.alck").write_bytes(b"ALCKPT\x00\x01 torn")
    (tmp_path / "checkpoints" / "checkpoint-00000002.alck").unlink()
    with pytest.raises(array_logger.CorruptFileError, match="no usable checkpoint"):
        array_logger.resume(tmp_path)


def test_resume_refuses_a_name_being_written(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", ["i"], (), "int32")
        lg.log("x", {"i": 0}, np.int32(0))
        lg.checkpoint({})
        lg.log("x", {"i": 1}, np.int32(1))
        lg.flush()
        with pytest.raises(array_logger.StateError, match="being written"):
            array_logger.resume(tmp_path)
        lg.log("x", {"i": 2}, np.int32(2))  # the logger is unharmed
    assert len(array_logger.open_reader(tmp_path / "x.db")) == 3


# --- kills ------------------------------------------------------------------
CHILD = """
    import sys, numpy as np, array_logger
    root = sys.argv[1]
    ck = array_logger.resume(root)
    start = ck.state["next"] if ck else 0
    big = np.arange(200_000, dtype=np.float64)  # ~1.6 MB of state: a checkpoint takes a while
    with array_logger.Logger(root, None, handle_signals=False) as lg:
        lg.register("e", ["i"], (2,), "float64", period=5, mode="sum")
        lg.register("x", ["i"], (), "int64", commit_threshold_rows=1)
        for i in range(start, 60):
            lg.log("e", {"i": i}, np.array([i, 1.0]))
            lg.log("x", {"i": i}, np.int64(i))
            if i % 7 == 6:
                lg.checkpoint({"next": i + 1, "big": big + i}, keep_last_n=2, i=i)
                print("checkpoint", i, flush=True)
"""


def run_child(root: Path, crash_at: str = "") -> subprocess.CompletedProcess:
    env = child_env(ARRAY_LOGGER_CRASH_AT=crash_at) if crash_at else child_env()
    return subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(root)], env=env, capture_output=True,
                          text=True, timeout=180)


def check_consistent(root: Path) -> None:
    """The logs and the newest checkpoint agree, and a resumed run ends as an uninterrupted one."""
    ck = array_logger.resume(root)
    if ck is not None:
        assert ck.state["big"].tobytes() == (np.arange(200_000, dtype=np.float64) + ck.keys["i"]).tobytes()
        assert len(array_logger.open_reader(root / "x.db")) == ck.state["next"]
    done = run_child(root)
    assert done.returncode == 0, done.stderr
    x = array_logger.open_reader(root / "x.db").read_all()
    assert x.keys["i"].tolist() == list(range(60)) and x.arrays.tolist() == list(range(60))
    e = array_logger.open_reader(root / "e.db").read_all()
    assert e.keys["i"].tolist() == list(range(0, 60, 5)) and e.keys["steps"].tolist() == [5] * 12
    assert e.arrays.tolist() == [[sum(range(lo, lo + 5)), 5.0] for lo in range(0, 60, 5)]


@pytest.mark.parametrize("step", ["checkpoint_write", "checkpoint_rename", "checkpoint_prune",
                                  "checkpoint_prune_one", "resume_rewind"])
def test_a_kill_at_every_step_leaves_a_usable_checkpoint(tmp_path: Path, step: str) -> None:
    # The third checkpoint (or, for resume, the second name of the resume
    # after a first kill) is where the process dies.
    if step == "resume_rewind":
        first = run_child(tmp_path, "checkpoint_rename:4")
        assert first.returncode == -9
        killed = run_child(tmp_path, "resume_rewind:2")
    else:
        killed = run_child(tmp_path, f"{step}:3")
    assert killed.returncode == -9 and f"crash point {step}" in killed.stderr, killed.stderr
    files = ckpt_files(tmp_path)
    assert files, files
    check_consistent(tmp_path)


def test_kill_9_at_random_moments_of_a_checkpointing_run(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    for k in range(3):
        root = tmp_path / f"run{k}"
        target = rng.randint(1, 6)
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(root)], env=child_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(target):
                assert child.stdout.readline(), child.stderr.read()
            child.kill()  # SIGKILL, wherever the next checkpoint is
        finally:
            child.communicate(timeout=60)
        check_consistent(root)


def test_checkpoint_file_layout_matches_format_doc(tmp_path: Path) -> None:
    """Section 11: magic, manifest JSON, pickle payload, SHA-256 -- readable without array_logger."""
    import hashlib
    import json
    import struct

    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("e", ["i"], (), "float64", period=3, mode="mean")
        for i in range(4):
            lg.log("e", {"i": i}, float(i))
        lg.checkpoint({"w": np.ones(3)}, sweep=4)
    data = (tmp_path / "checkpoints" / "checkpoint-00000001.alck").read_bytes()
    assert data[:8] == b"ALCKPT\x00\x01" and hashlib.sha256(data[:-32]).digest() == data[-32:]
    (n,) = struct.unpack_from("<Q", data, 8)
    manifest = json.loads(data[16:16 + n])
    (m,) = struct.unpack_from("<Q", data, 16 + n)
    payload = pickle.loads(data[24 + n:24 + n + m])
    assert manifest["checkpoint"] == 1 and manifest["keys"] == {"sweep": 4}
    assert manifest["logs"]["e"]["rows"] == 1
    assert manifest["logs"]["e"]["open_period"]["steps"] == 1 and manifest["logs"]["e"]["open_period"]["first_keys"] == [3]
    assert payload["keys"] == {"sweep": 4} and payload["state"]["w"].tolist() == [1, 1, 1]
