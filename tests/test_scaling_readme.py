"""README.md's multiprocessing example ("Many processes, one dataset"), as
printed, run as a script: four pool workers write shards of one name, the
dataset reads them back as one (values regenerated and compared exactly)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import array_logger
from al_helpers import child_env

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- README example: multiprocessing[^>]*-->\n```python\n(.*?)```\n<!-- end of README example -->",
                  text, re.S)
    assert m, "the multiprocessing example is missing from README.md"
    return m.group(1)


def test_readme_multiprocessing_example_writes_one_dataset(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    # the example's last lines, plus a check of what it computed
    script.write_text(readme_example() + "        np.save('mean.npy', mean)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=child_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["4000 [0, 1, 2, 3]"]
    assert sorted(os.listdir(tmp_path / "logs" / "q_values.shards")) == [".spec", "0.db.zst", "1.db.zst", "2.db.zst",
                                                                         "3.db.zst"]
    want = []
    for rank in range(4):
        rng = np.random.default_rng(rank)
        want.append(np.stack([rng.random((10, 5), dtype=np.float32) for _ in range(1000)]))
    expected = np.concatenate(want)
    with array_logger.open_dataset(tmp_path / "logs", "q_values") as ds:
        batch = ds.read_all()
        assert batch.arrays.tobytes() == expected.tobytes()
        assert batch.keys["shard"].tolist() == [r for r in range(4) for _ in range(1000)]
        assert batch.keys["step"].tolist() == list(range(1000)) * 4
    # float32 means, summed in another order by Dask
    np.testing.assert_allclose(np.load(tmp_path / "mean.npy"), expected.mean(axis=0, dtype=np.float64), rtol=1e-5)
    runs = array_logger.read_runs(tmp_path / "logs")
    assert sorted((r["shard"], r["status"]) for r in runs) == [(str(r), "finished") for r in range(4)]
