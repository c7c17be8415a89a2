"""Every code example of the pure-Python array_logger's README, run verbatim.

The examples live in tests/seed_examples/ exactly as the README prints them.
Each runs in a fresh interpreter with the working directory in tmp_path; a
runner seeds numpy's global RNG first so the test can regenerate the arrays
the example logged and compare them byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import array_logger

EXAMPLES = Path(__file__).parent / "seed_examples"
RUNNER = "import sys, runpy, numpy; numpy.random.seed(0); runpy.run_path(sys.argv[1], run_name='__main__')"


def run_example(name: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, str(EXAMPLES / name)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def expected_quickstart() -> list:
    np.random.seed(0)
    return [np.random.rand(10, 5).astype(np.float32) for _ in range(100 * 50)]


@pytest.fixture(scope="module")
def quickstart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("seed")
    done = run_example("quickstart.py", cwd)
    assert done.returncode == 0, done.stderr
    return cwd


def test_quickstart_writes_a_compressed_file_with_every_row(quickstart_dir: Path) -> None:
    # Proves README.md: "Every example of the original README runs unchanged (the test suite runs
    # each of them verbatim)."
    logs = quickstart_dir / "logs"
    assert sorted(os.listdir(logs)) == ["q_values.db.zst"]
    expected = expected_quickstart()
    with array_logger.open_reader(logs / "q_values.db") as reader:
        rows = list(reader.iterate())
    assert len(rows) == 5000
    for i, (keys, arr) in enumerate(rows):
        assert keys == {"episode": i // 50, "step": i % 50}
        assert arr.dtype == np.float32 and arr.shape == (10, 5)
        assert arr.tobytes() == expected[i].tobytes()


def test_reading_example_prints_every_row(quickstart_dir: Path) -> None:
    done = run_example("reading.py", quickstart_dir)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Episode 0, Step 0"
    assert lines[1] == "Array shape: (10, 5), dtype: float32"
    assert lines.count("Array shape: (10, 5), dtype: float32") == 5000
    assert lines[-2] == "Episode 99, Step 49"


def test_filtered_reading_example_selects_episode_10(quickstart_dir: Path) -> None:
    done = run_example("filtered_reading.py", quickstart_dir)
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stdout.splitlines() if line.startswith("Step ")]
    assert [s.split(":")[0] for s in steps] == [f"Step {i}" for i in range(50)]
    expected = expected_quickstart()
    # print(f"Step {step}: {array}") shows numpy's repr of the logged array.
    assert str(expected[10 * 50 + 7]).splitlines()[0] in done.stdout


def test_multiple_arrays_example(tmp_path: Path) -> None:
    done = run_example("multiple_arrays.py", tmp_path)
    assert done.returncode == 0, done.stderr
    logs = tmp_path / "logs"
    assert {"loss.db.zst", "weights.db.zst"} <= set(os.listdir(logs))
    np.random.seed(0)
    weights = [np.random.rand(100, 50).astype(np.float32) for _ in range(1000)]
    with array_logger.open_reader(logs / "loss.db") as reader:
        loss = reader.read_all()
    assert loss.arrays.shape == (1000, 1)
    assert np.all(loss.arrays == np.float32(0.5))
    assert loss.keys["episode"].tolist() == list(range(1000))
    with array_logger.open_reader(logs / "weights.db.zst") as reader:
        got = reader.read_all()
    assert got.arrays.tobytes() == np.stack(weights).tobytes()


def test_compression_example_lines_are_alternatives(tmp_path: Path) -> None:
    # As printed, the block calls init() three times without close(): like the
    # pure-Python version, the second call raises the documented error.
    done = run_example("compression_levels.py", tmp_path)
    assert done.returncode != 0
    # array_logger.StateError is a RuntimeError, as the README documents.
    assert "StateError: Logger already initialized" in done.stderr
    assert issubclass(array_logger.StateError, RuntimeError)
    # Each line on its own works and decides what close() leaves on disk.
    for level, suffix in ((22, ".db.zst"), (3, ".db.zst"), (None, ".db")):
        root = tmp_path / f"level_{level}"
        array_logger.init(str(root), compression_level=level)
        array_logger.register("x", keys=["episode"], shape=(1,), dtype="float32")
        array_logger.log("x", {"episode": 0}, np.array([1.5], dtype=np.float32))
        array_logger.close()
        assert (root / f"x{suffix}").exists()
        with array_logger.open_reader(root / "x.db") as reader:
            assert [(k, a.tolist()) for k, a in reader.iterate()] == [({"episode": 0}, [1.5])]
