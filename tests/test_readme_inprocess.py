"""The pure-Python array_logger's README examples, verbatim, run in this process.

Each example is the exact text of that README (tests/seed_examples/); it runs with
the working directory in a temporary directory, numpy's global RNG seeded so
that the logged arrays can be regenerated and compared byte for byte.
(tests/test_seed_examples.py runs the same examples in fresh interpreters.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import meta_rows, zstd_decompress

# The examples as the README prints them (also run in fresh interpreters by
# tests/test_seed_examples.py).
_EXAMPLES = Path(__file__).parent / "seed_examples"
QUICKSTART = (_EXAMPLES / "quickstart.py").read_text(encoding="utf-8")
READING = (_EXAMPLES / "reading.py").read_text(encoding="utf-8")
MULTIPLE = (_EXAMPLES / "multiple_arrays.py").read_text(encoding="utf-8")
FILTERED = (_EXAMPLES / "filtered_reading.py").read_text(encoding="utf-8")

COMPRESSION_LINES = [
    '# 圧縮あり（デフォルト、レベル22 = 最高圧縮率）\narray_logger.init("./logs", compression_level=22)\n',
    '# 圧縮あり（レベル3 = 高速・低圧縮率）\narray_logger.init("./logs", compression_level=3)\n',
    '# 圧縮なし\narray_logger.init("./logs", compression_level=None)\n',
]


def run(code: str) -> None:
    exec(compile(code, "<README example>", "exec"), {"__name__": "__main__"})


def expected_quickstart() -> list:
    np.random.seed(1234)
    return [np.random.rand(10, 5).astype(np.float32) for _ in range(100 * 50)]


def written_files(root: Path) -> list:
    """Files of the run, ignoring the per-name lock files (leading dot)."""
    return sorted(f for f in os.listdir(root) if not f.startswith("."))


@pytest.fixture
def quickstart(in_tmp_cwd: Path) -> Path:
    np.random.seed(1234)
    run(QUICKSTART)
    return in_tmp_cwd


def test_quickstart_compresses_every_row_into_db_zst(quickstart: Path) -> None:
    logs = quickstart / "logs"
    assert written_files(logs) == ["q_values.db.zst"]
    # A standard zstd frame of a complete SQLite database.
    raw = zstd_decompress((logs / "q_values.db.zst").read_bytes())
    assert raw[:16] == b"SQLite format 3\x00"
    expected = expected_quickstart()
    with array_logger.open_reader("./logs/q_values.db") as reader:
        assert reader.shape == (10, 5)
        assert reader.dtype == np.float32
        assert reader.keys == ["episode", "step"]
        assert reader.count() == 5000
        for i, (keys, arr) in enumerate(reader.iterate()):
            assert keys == {"episode": i // 50, "step": i % 50}
            assert arr.shape == (10, 5) and arr.dtype == np.float32
            assert arr.tobytes() == expected[i].tobytes()
    assert i == 4999


def test_reading_example(quickstart: Path, capsys: pytest.CaptureFixture) -> None:
    run(READING)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 5000
    assert lines[0] == "Episode 0, Step 0"
    assert lines[1] == "Array shape: (10, 5), dtype: float32"
    assert lines[-2] == "Episode 99, Step 49"
    assert lines[1::2] == ["Array shape: (10, 5), dtype: float32"] * 5000
    assert lines[0::2] == [f"Episode {e}, Step {s}" for e in range(100) for s in range(50)]


def test_filtered_reading_example(quickstart: Path, capsys: pytest.CaptureFixture) -> None:
    run(FILTERED)
    out = capsys.readouterr().out
    expected = expected_quickstart()
    want = "".join(f"Step {s}: {expected[10 * 50 + s]}\n" for s in range(50))
    assert out == want


def test_reading_leaves_no_temporary_copy(quickstart: Path, private_tmpdir: Path, capsys) -> None:
    run(READING)
    run(FILTERED)
    capsys.readouterr()
    assert os.listdir(private_tmpdir) == []
    assert written_files(quickstart / "logs") == ["q_values.db.zst"]


def test_multiple_arrays_example(in_tmp_cwd: Path) -> None:
    np.random.seed(99)
    run(MULTIPLE)
    logs = in_tmp_cwd / "logs"
    assert written_files(logs) == ["loss.db.zst", "weights.db.zst"]
    with array_logger.open_reader("./logs/loss.db") as reader:
        batch = reader.read_all()
    assert batch.arrays.shape == (1000, 1) and batch.arrays.dtype == np.float32
    assert (batch.arrays == np.float32(0.5)).all()
    assert batch.keys["episode"].tolist() == list(range(1000))
    np.random.seed(99)
    with array_logger.open_reader("./logs/weights.db.zst") as reader:
        n = 0
        for keys, arr in reader.iterate():
            assert keys == {"episode": n}
            assert arr.tobytes() == np.random.rand(100, 50).astype(np.float32).tobytes()
            n += 1
    assert n == 1000


@pytest.mark.parametrize("index", range(3))
def test_compression_init_lines(in_tmp_cwd: Path, index: int) -> None:
    code = "import array_logger\n\n" + COMPRESSION_LINES[index] + (
        'array_logger.register("x", keys=["i"], shape=(3,), dtype="int32")\n'
        'for i in range(250):\n'
        '    array_logger.log("x", {"i": i}, [i, i + 1, i + 2])\n'
        "array_logger.close()\n")
    run(code)
    logs = in_tmp_cwd / "logs"
    compressed = index < 2
    assert written_files(logs) == (["x.db.zst"] if compressed else ["x.db"])
    rows = []
    with array_logger.open_reader("./logs/x.db") as reader:
        rows = list(reader.iterate())
    assert [k["i"] for k, _ in rows] == list(range(250))
    assert all(a.dtype == np.int32 and a.tolist() == [i, i + 1, i + 2] for i, (_, a) in enumerate(rows))
    if not compressed:
        assert meta_rows(logs / "x.db")["dtype"] == "int32"


def test_compression_examples_in_sequence_each_followed_by_close(in_tmp_cwd: Path) -> None:
    """The README's three init lines one after the other, a close() after each:
    every run resumes the same files, whatever the compression."""
    for n, line in enumerate(COMPRESSION_LINES):
        run("import array_logger\n" + line)
        array_logger.register("x", keys=["run"], shape=(1,), dtype="int64")
        array_logger.log("x", {"run": n}, np.array([n]))
        array_logger.close()
    assert written_files(in_tmp_cwd / "logs") == ["x.db"]
    with array_logger.open_reader("./logs/x.db") as reader:
        assert [(k["run"], a.tolist()) for k, a in reader.iterate()] == [(0, [0]), (1, [1]), (2, [2])]
