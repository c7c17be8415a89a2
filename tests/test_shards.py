"""Sharded names (docs/SCALING.md): many processes write one name, each into
its own file, and the files read back as one dataset; run status per writer.

Real processes throughout: four writers at once, a writer killed with
SIGKILL, writers of another spec refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

import array_logger
from al_helpers import child_env, start_child

ROWS = 100_000
SHAPE = (4,)

# One shard writer: rows (episode, step) with step 0..ROWS-1 and episode =
# step // 1000; the arrays come from a generator seeded with the shard id,
# so the test regenerates them. log() for the first 1,000 rows, then
# log_many in blocks (the sharded file gets both paths).
WRITER = """
import sys, numpy as np, array_logger
root, shard, level, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
array_logger.init(root, compression_level=None if level == "none" else int(level), shard=shard,
                  run_metadata={"seed": shard})
array_logger.register("q", keys=["episode", "step"], shape=(4,), dtype="float32")
data = np.random.default_rng(shard).standard_normal((rows, 4)).astype(np.float32)
steps = np.arange(rows)
for i in range(1000):
    array_logger.log("q", {"episode": i // 1000, "step": i}, data[i])
for s in range(1000, rows, 10000):
    e = min(rows, s + 10000)
    array_logger.log_many("q", {"episode": (steps[s:e] // 1000).tolist(), "step": steps[s:e].tolist()}, data[s:e])
    if s == 1000:
        array_logger.flush()
        print("logging", flush=True)
        if len(sys.argv) > 5:
            sys.stdin.readline()  # the test kills us here, or lets us go on
array_logger.close()
print("done", flush=True)
"""


def expected(shard: int, rows: int = ROWS) -> np.ndarray:
    return np.random.default_rng(shard).standard_normal((rows, 4)).astype(np.float32)


def run_writers(root: Path, shards: List[int], level: str) -> None:
    procs = [start_child(WRITER, str(root), str(s), level, str(ROWS)) for s in shards]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert out.endswith("done\n"), (out, err)


@pytest.mark.parametrize("level", ["none", "3"])
def test_four_processes_one_sharded_name_read_back_exactly(tmp_path: Path, level: str) -> None:
    run_writers(tmp_path, [0, 1, 2, 3], level)
    suffix = ".db.zst" if level != "none" else ".db"
    assert sorted(os.listdir(tmp_path / "q.shards")) == [".spec"] + [f"{s}{suffix}" for s in range(4)]
    assert not (tmp_path / "q.db").exists() and not (tmp_path / "q.db.zst").exists()
    with array_logger.open_dataset(tmp_path, "q") as ds:
        assert ds.shards == [0, 1, 2, 3] and ds.keys == ["shard", "episode", "step"]
        assert len(ds) == 4 * ROWS and ds.shape == SHAPE and ds.dtype == np.float32
        batch = ds.read_all()
        want = np.concatenate([expected(s) for s in range(4)])
        assert batch.arrays.dtype == np.float32 and batch.arrays.tobytes() == want.tobytes()
        assert batch.keys["shard"].dtype == np.int64
        assert batch.keys["shard"].tolist() == [s for s in range(4) for _ in range(ROWS)]
        assert batch.keys["step"].tolist() == list(range(ROWS)) * 4
        assert batch.keys["episode"].tolist() == [i // 1000 for i in range(ROWS)] * 4
        # the same rows through the other read paths: a filter, batches, iterate
        sel = ds.read_all("step >= ? AND step < ?", (500, 1500))
        assert sel.arrays.tobytes() == np.concatenate([expected(s)[500:1500] for s in range(4)]).tobytes()
        assert ds.count("step < ?", (10,)) == 40
        got = [b for b in ds.iter_batches(batch_rows=30_000)]
        assert all(len(b.arrays) <= 30_000 for b in got)
        assert np.concatenate([b.arrays for b in got]).tobytes() == want.tobytes()
        rows = list(ds.iterate("episode = ?", (99,)))
        assert [k["shard"] for k, _ in rows] == [s for s in range(4) for _ in range(1000)]
        assert np.stack([a for _, a in rows]).tobytes() == np.concatenate(
            [expected(s)[99_000:] for s in range(4)]).tobytes()
    runs = array_logger.read_runs(tmp_path)
    assert sorted(r["shard"] for r in runs) == ["0", "1", "2", "3"]
    assert {r["status"] for r in runs} == {"finished"} and all(r["names"] == ["q"] for r in runs)
    assert sorted(r["metadata"]["seed"] for r in runs) == [0, 1, 2, 3]
    assert all(r["argv"][-2:] == [level, str(ROWS)] and r["ended_at"] for r in runs)
    for shard in range(4):  # each shard is a complete file of its own, with its id in the meta
        with array_logger.open_reader(tmp_path / "q.shards" / f"{shard}.db") as r:
            assert r.meta["shard"] == str(shard) and r.count() == ROWS


def test_dataset_exports_through_the_reader_bridges(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")  # installed by scripts/test.sh (requirements-analysis.txt)
    pa = pytest.importorskip("pyarrow")
    for shard in ("b", 7, "a"):
        with array_logger.Logger(tmp_path, compression_level=None, shard=shard) as lg:
            lg.register("x", keys=["step"], shape=(2,), dtype="int64")
            lg.log_many("x", {"step": [0, 1, 2]}, np.arange(6).reshape(3, 2) + (ord(str(shard)[0])))
    with array_logger.open_dataset(tmp_path, "x") as ds:
        assert ds.shards == [7, "a", "b"]  # integers first, then text (documented order)
        df = ds.to_pandas(flatten=True)
        assert df["shard"].tolist() == [7] * 3 + ["a"] * 3 + ["b"] * 3
        assert df["data_1"].tolist() == [ord(c) + v for c in "7ab" for v in (1, 3, 5)]
        table = ds.to_arrow()
        assert table.column("shard").type == pa.string()  # a mix of int and text ids: repr()s
        assert table.column("shard").to_pylist() == ["7"] * 3 + ["'a'"] * 3 + ["'b'"] * 3
        assert ds.export(tmp_path / "all.npz") == 9
        with np.load(tmp_path / "all.npz", allow_pickle=True) as z:
            assert z["data"].tobytes() == ds.read_all().arrays.tobytes()
            assert z["key_shard"].tolist() == ["7"] * 3 + ["'a'"] * 3 + ["'b'"] * 3  # mixed: repr()s
        stats = ds.stats(per_element=False)
        assert stats["rows"] == 9 and stats["all"]["max"] == ord("b") + 5
    assert isinstance(df, pd.DataFrame)


def test_a_shard_of_another_spec_is_refused_naming_the_first_shard(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, shard=0) as first:
        first.register("q", keys=["step"], shape=(3,), dtype="float32")
        first.log("q", {"step": 0}, np.zeros(3, np.float32))
        code = """
import sys, array_logger
lg = array_logger.Logger(sys.argv[1], compression_level=None, shard=1)
try:
    lg.register("q", keys=["step"], shape=(4,), dtype="float32")
except array_logger.MetaMismatchError as e:
    print("refused:", e)
lg.register("q", keys=["step"], shape=(3,), dtype="float32")  # the same spec is welcome
lg.close()
"""
        p = start_child(code, str(tmp_path))
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "refused: Meta mismatch for 'q' shard '1': shard '0'" in out
        assert "shape (4,)" in out or "(4,)" in out
    with pytest.raises(array_logger.MetaMismatchError, match="shard '0'"):
        with array_logger.Logger(tmp_path, compression_level=None, shard="x") as lg:
            lg.register("q", keys=["episode"], shape=(3,), dtype="float32")
    assert sorted(os.listdir(tmp_path / "q.shards")) == [".spec", "0.db", "1.db"]  # nothing of "x" left


def test_without_shard_the_one_writer_rule_stays(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None) as a:
        a.register("q", keys=["step"], shape=(1,), dtype="float32")
        with array_logger.Logger(tmp_path, compression_level=None) as b:
            with pytest.raises(array_logger.StateError, match="being written by another logger"):
                b.register("q", keys=["step"], shape=(1,), dtype="float32")
        # a shard of the same name is another file: it may write alongside
        with array_logger.Logger(tmp_path, compression_level=None, shard=0) as c:
            c.register("q", keys=["step"], shape=(1,), dtype="float32")
            with array_logger.Logger(tmp_path, compression_level=None, shard=0) as d:
                with pytest.raises(array_logger.StateError):  # one writer per shard, too
                    d.register("q", keys=["step"], shape=(1,), dtype="float32")
        with array_logger.Logger(tmp_path, compression_level=None, shard=0) as e:
            e.register("q", keys=["step"], shape=(1,), dtype="float32")  # released at close: resumes


@pytest.mark.parametrize("shard", ["", "../x", ".hidden", "a/b", 1.5, True])
def test_bad_shard_ids_are_refused(tmp_path: Path, shard: object) -> None:
    with pytest.raises(ValueError):
        with array_logger.Logger(tmp_path, compression_level=None, shard=shard) as lg:
            lg.register("q", keys=["step"], shape=(1,), dtype="float32")
    assert not (tmp_path / "x.db").exists() and not (tmp_path.parent / "x.db").exists()


def test_auto_shard_ids_from_launchers() -> None:
    from array_logger._shard import auto_shard_id, shard_text

    assert auto_shard_id({"OMPI_COMM_WORLD_RANK": "5", "SLURM_PROCID": "0"}) == 5
    assert auto_shard_id({"PMI_RANK": "2"}) == 2
    assert auto_shard_id({"RANK": "3", "WORLD_SIZE": "8"}) == 3  # torchrun
    assert auto_shard_id({"RANK": "3"}) != 3  # RANK alone is not a launcher's
    assert auto_shard_id({"SLURM_PROCID": "7"}) == 7
    assert auto_shard_id({"SLURM_ARRAY_TASK_ID": "12", "SLURM_PROCID": "0"}) == 12
    assert auto_shard_id({"SLURM_ARRAY_TASK_ID": "12", "SLURM_NTASKS": "4", "SLURM_PROCID": "3"}) == "000012-000003"
    host_pid = auto_shard_id({})
    assert isinstance(host_pid, str) and host_pid.endswith(f"-{os.getpid()}")
    assert shard_text(np.int16(4)) == "4" and shard_text(None) == ""


def test_shard_auto_in_processes_started_like_mpi(tmp_path: Path) -> None:
    code = """
import sys, numpy as np, array_logger
with array_logger.Logger(sys.argv[1], compression_level=None, shard="auto") as lg:
    lg.register("r", keys=["i"], shape=(), dtype="int32")
    lg.log("r", {"i": 0}, np.int32(lg.shard))
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                              env=child_env(OMPI_COMM_WORLD_RANK=str(rank)), stderr=subprocess.PIPE, text=True)
             for rank in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with array_logger.open_dataset(tmp_path, "r") as ds:
        b = ds.read_all()
        assert b.keys["shard"].tolist() == [0, 1, 2] and b.arrays.tolist() == [0, 1, 2]


def test_a_killed_shard_writer_leaves_the_others_and_the_dataset_readable(tmp_path: Path) -> None:
    from array_logger.cli import main

    victim = start_child(WRITER, str(tmp_path), "9", "3", str(ROWS), "wait", stdin=subprocess.PIPE)
    assert victim.stdout.readline() == "logging\n"  # 11,000 rows committed (flush), more queued
    run_writers(tmp_path, [0, 1], "3")
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    # the killed shard is a WAL-mode .db (never compressed); its rows are a prefix
    assert sorted(os.listdir(tmp_path / "q.shards"))[:4] == [".array_logger.lock", ".spec", "0.db.zst", "1.db.zst"]
    with array_logger.open_dataset(tmp_path, "q") as ds:
        assert ds.shards == [0, 1, 9]
        n9 = ds.files[2].rows
        assert 11_000 <= n9 <= ROWS
        b = ds.read_all()
        want = np.concatenate([expected(0), expected(1), expected(9)[:n9]])
        assert b.arrays.tobytes() == want.tobytes()
    status = {r["shard"]: r for r in array_logger.read_runs(tmp_path)}
    assert status["9"]["status"] == "crashed" and status["9"]["ended_at"] is None
    assert status["0"]["status"] == status["1"]["status"] == "finished"
    assert status["9"]["pid"] == victim.pid
    # `array-logger ls` shows the dataset and the crashed writer
    proc = subprocess.run([sys.executable, "-m", "array_logger", "ls", str(tmp_path), "--runs", "--json"],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout)
    assert sorted((r["shard"], r["status"]) for r in runs) == [("0", "finished"), ("1", "finished"), ("9", "crashed")]
    proc = subprocess.run([sys.executable, "-m", "array_logger", "ls", str(tmp_path)],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "writers: 2 finished, 1 crashed" in proc.stdout
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("q "))
    assert str(2 * ROWS + n9) in line and "2/3" in line and "3 shards" in line
    assert main(["ls", str(tmp_path), "--json"]) == 0


def test_run_status_of_a_running_writer_and_its_git_commit(tmp_path: Path) -> None:
    from array_logger._run_status import git_commit

    repo = tmp_path / "repo"
    (repo / ".git" / "refs" / "heads").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "refs" / "heads" / "main").write_text("0123456789abcdef0123456789abcdef01234567\n")
    (repo / "sub").mkdir()
    assert git_commit(str(repo / "sub")) == "0123456789abcdef0123456789abcdef01234567"
    assert git_commit(str(tmp_path)) is None or tmp_path in Path(git_commit.__code__.co_filename).parents
    with array_logger.Logger(tmp_path / "logs", compression_level=None, run_metadata={"lr": 0.1}) as lg:
        lg.register("a", keys=["i"], shape=(), dtype="float64")
        (run,) = array_logger.read_runs(tmp_path / "logs")
        assert (run["status"], run["pid"], run["names"], run["metadata"]) == ("running", os.getpid(), ["a"], {"lr": 0.1})
        assert run["python"] == sys.version.split()[0] and run["numpy"] == np.__version__
        assert run["array_logger"] == array_logger.__version__ and run["shard"] is None
    (run,) = array_logger.read_runs(tmp_path / "logs")
    assert run["status"] == "finished" and run["ended_at"] >= run["started_at"]
    assert os.listdir(tmp_path / "logs" / ".array_logger.runs") == [run["run_id"] + ".json"]  # lock removed
    # an unsharded logger keeps no record unless asked: its root holds only its files, as ever
    with array_logger.Logger(tmp_path / "quiet", compression_level=None) as lg:
        lg.register("a", keys=["i"], shape=(), dtype="float64")
        assert lg.run_id is None
    assert os.listdir(tmp_path / "quiet") == ["a.db"]
    with array_logger.Logger(tmp_path / "asked", compression_level=None, record_run=True) as lg:
        lg.register("a", keys=["i"], shape=(), dtype="float64")
    assert [r["run_id"] for r in array_logger.read_runs(tmp_path / "asked")] == [lg.run_id]
