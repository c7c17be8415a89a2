"""Dask over a dataset (extra ``dask``): known chunks, a LocalCluster of
process workers, .db.zst shards decompressed once per worker."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import array_logger

da = pytest.importorskip("dask.array")  # installed by scripts/test.sh (requirements-analysis.txt)
distributed = pytest.importorskip("distributed")

ROWS = {0: 25_000, 1: 10_000, 2: 0, 3: 40_000}


def write_shards(root: Path, level: "int | None") -> None:
    for shard, n in ROWS.items():
        with array_logger.Logger(root, compression_level=level, shard=shard, record_run=False) as lg:
            lg.register("x", keys=["step"], shape=(3, 2), dtype="float32")
            data = np.random.default_rng(shard).standard_normal((n, 3, 2)).astype(np.float32)
            lg.log_many("x", {"step": list(range(n))}, data)


def test_chunks_are_known_without_reading_arrays(tmp_path: Path) -> None:
    write_shards(tmp_path, None)
    with array_logger.open_dataset(tmp_path, "x") as ds:
        arr = ds.to_dask_array(chunk_rows=10_000)
        assert arr.shape == (75_000, 3, 2) and arr.dtype == np.float32
        assert arr.chunks[0] == (10_000, 10_000, 5_000, 10_000, 10_000, 10_000, 10_000, 10_000)
        sel = ds.to_dask_array("step % 3 = ?", (0,), chunk_rows=10_000)
        assert sum(sel.chunks[0]) == ds.count("step % 3 = ?", (0,))
        want = ds.read_all("step % 3 = ?", (0,)).arrays
        assert sel.compute(scheduler="sync").tobytes() == want.tobytes()


def test_local_cluster_of_processes_matches_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one cluster (its start-up is most of this test's time) for a plain and a compressed dataset
    roots = {level: tmp_path / f"level_{level}" for level in (None, 3)}
    for level, root in roots.items():
        write_shards(root, level)
    worker_tmp = tmp_path / "worker_tmp"
    worker_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(worker_tmp))  # the workers' temporary copies go here
    results = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        for level, root in roots.items():
            with array_logger.open_dataset(root, "x") as ds:
                everything = ds.read_all().arrays
                arr = ds.to_dask_array(chunk_rows=16_384)
                frame = ds.to_dask_dataframe(chunk_rows=16_384)
                total, mean = client.compute([arr.sum(axis=0, dtype=np.float64),
                                              arr.mean(axis=0, dtype=np.float64)], sync=True)
                counts = client.compute(frame.groupby("shard")["step"].count(), sync=True)
                col = client.compute(frame["data_2_1"].sum(), sync=True)
                results[level] = (everything, total, mean, counts, col)
        # one copy per worker and compressed file, while the workers live
        copies = [p for d in worker_tmp.glob("array_logger-dask-*") for p in d.iterdir()]
        assert 0 < len(copies) <= 2 * 3, copies
    for everything, total, mean, counts, col in results.values():
        # float64 sums of float32 values: equal up to the order of the additions
        np.testing.assert_allclose(total, everything.sum(axis=0, dtype=np.float64), rtol=1e-12)
        np.testing.assert_allclose(mean, everything.mean(axis=0, dtype=np.float64), rtol=1e-12)
        assert counts.to_dict() == {s: n for s, n in ROWS.items() if n}
        assert col == pytest.approx(float(everything[:, 2, 1].sum(dtype=np.float64)), rel=1e-5)  # float32 sums
    assert os.listdir(worker_tmp) == []  # every worker removed its copies when it exited
