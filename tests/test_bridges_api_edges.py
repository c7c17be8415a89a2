"""The bridges' Python API on their refusals and less common paths
(docs/ANALYSIS.md): merge's checks and progress, plot's series, frames that
would be too wide, tables that are not ours, key kinds, batch sizes. Values
are compared with what was logged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import array_logger
from analysis_cases import Case, make_case
from array_logger.bridges import arrow as al_arrow
from array_logger.bridges import frames, merge, plot, rows


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return make_case(tmp_path_factory.mktemp("api"), "f32_2d")  # 23 rows, episode = i // 7, step = i % 7


def test_merge_checks_its_arguments_and_reports_progress(case: Case, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="output must be a NAME.db path, got 'out.txt'"):
        merge.merge("out.txt", [case.path])
    with pytest.raises(ValueError, match="duplicates must be one of"):
        merge.merge(tmp_path / "m.db", [case.path], duplicates="last")
    with pytest.raises(ValueError, match="at least one input"):
        merge.merge(tmp_path / "m.db", [])
    assert list(tmp_path.iterdir()) == []
    done = []
    assert merge.merge(tmp_path / "m.db", [case.path, case.path], duplicates="first", progress=done.append) == 23
    assert sum(done) == 46  # every row read is reported, kept or not
    with pytest.raises(FileExistsError, match="merge writes a new file"):
        merge.merge(tmp_path / "m.db", [case.path])
    with array_logger.open_reader(tmp_path / "m.db") as r:
        assert r.read_all().arrays.tobytes() == case.arrays.tobytes()


def test_plot_series_are_the_logged_values(case: Case) -> None:
    with array_logger.open_reader(case.path) as r:
        data = plot.series(r.rows(batch_rows=5), index=(2, 1), x="step", by="episode")
        means = plot.series(r.rows(batch_rows=5))
        with pytest.raises(ValueError, match="'nokey' is not a key"):
            plot.series(r.rows(), x="nokey")
        with pytest.raises(ValueError, match=r"element index \(3, 0\) is not inside shape \(3, 2\)"):
            plot.series(r.rows(), index=(3, 0))
    episodes = np.array([kv["episode"] for kv in case.key_rows])
    assert sorted(data) == [0, 1, 2, 3]
    for e, (xs, ys) in data.items():
        assert xs.tolist() == [kv["step"] for kv in case.key_rows if kv["episode"] == e]
        assert ys.tolist() == case.arrays[episodes == e][:, 2, 1].astype(np.float64).tolist()
    [(xs, ys)] = means.values()
    assert xs.tolist() == list(range(23))
    assert ys.tolist() == case.arrays.reshape(23, -1).astype(np.float64).mean(axis=1).tolist()


def test_frames_refuse_too_many_columns_and_tables_not_ours(case: Case, tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None) as lg:
        lg.register("wide", keys=["step"], shape=(65, 65), dtype="uint8")
        lg.log("wide", {"step": 0}, np.arange(65 * 65, dtype=np.uint8).reshape(65, 65))
    with array_logger.open_reader(tmp_path / "wide.db") as r:
        with pytest.raises(ValueError, match=r"shape \(65, 65\) has 4225 elements: more than 4096 columns"):
            r.to_pandas(flatten=True)
        df = r.to_pandas()  # one ndarray per row instead
        assert df["data"][0].tobytes() == np.arange(65 * 65, dtype=np.uint8).tobytes()
    with pytest.raises(ValueError, match="not an array_logger table"):
        al_arrow.batch_from_arrow(pa.table({"x": [1, 2]}))
    with array_logger.open_reader(case.path) as r:
        b = frames.gather(r.rows(batch_rows=4))
    assert b.arrays.tobytes() == case.arrays.tobytes() and b.keys["step"].dtype == np.int64


def test_key_kinds_over_the_selected_rows(case: Case, tmp_path: Path) -> None:
    with array_logger.open_reader(case.path) as r:
        assert rows.key_kinds(r, "episode = ?", (1,), 7) == {"episode": "int", "step": "int"}  # the one-count path
    mixed = make_case(tmp_path, "mixed_keys")  # run: 1, "two", 3.5, "007" in turn; t = i / 4 (REAL)
    with array_logger.open_reader(mixed.path) as r:
        assert rows.key_kinds(r, None, None, 23) == {"run": "mixed", "t": "float"}
        assert rows.key_kinds(r, "run = ?", (1,), 6) == {"run": "int", "t": "float"}
        assert rows.key_kinds(r, "typeof(run) = 'text'", None, 11) == {"run": "text", "t": "float"}
        assert rows.key_kinds(r, "run = ? AND t = ?", (1, 0.0), 1) == {"run": "int", "t": "float"}


def test_key_kinds_merge_and_batch_sizes() -> None:
    assert rows.merge_kinds(None, "text") == "text"
    assert rows.merge_kinds("int", "int") == "int"
    assert rows.merge_kinds("int", "float") == "mixed"
    assert rows.default_batch_rows((512, 512), np.float32) == 32  # ~32 MiB of arrays
    assert rows.default_batch_rows((), np.int8) == rows.DEFAULT_BATCH_ROWS
    assert rows.check_batch_rows(np.int64(7), (2,), np.float32) == 7
    for bad in (0, -1, True, 2.5, "10"):
        with pytest.raises(ValueError, match="batch_rows must be an int >= 1"):
            rows.check_batch_rows(bad, (2,), np.float32)
