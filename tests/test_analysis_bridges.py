"""The analysis bridges (docs/ANALYSIS.md): batches, Arrow, Parquet, Arrow IPC
(memory-mapped, zero-copy), NPZ, HDF5, CSV, pandas, polars, xarray and DuckDB.
Every value is compared byte for byte with what was logged."""

from __future__ import annotations

import ast
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import run_child
from analysis_cases import SPECS, Case, assert_batch_equals, make_case, make_format1_case

# The analysis extras are installed by scripts/test.sh (scripts/requirements-analysis.txt).
import duckdb
import h5py
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from array_logger.bridges import arrow as al_arrow

CASE_NAMES = sorted(SPECS) + ["format1"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("cases")
    out = {name: make_case(root, name) for name in SPECS}
    out["format1"] = make_format1_case(root / "format1")
    return out


def _reader(case: Case) -> array_logger.ArrayReader:
    return array_logger.open_reader(case.path)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_iter_batches_are_bounded_and_complete(cases: dict, name: str) -> None:
    case = cases[name]
    with _reader(case) as r:
        batches = list(r.iter_batches(batch_rows=5))
    assert [len(b.arrays) for b in batches] == [5] * (len(case.arrays) // 5) + (
        [len(case.arrays) % 5] if len(case.arrays) % 5 else [])
    keys = {k: sum((b.keys[k].tolist() for b in batches), []) for k in case.keys}
    assert_batch_equals(case, keys, np.concatenate([b.arrays for b in batches]))


def test_iter_batches_with_where_and_empty_result(cases: dict) -> None:
    case = cases["f32_2d"]
    with _reader(case) as r:
        got = list(r.iter_batches("step = ?", (3,), batch_rows=2))
        assert all(len(b.arrays) <= 2 for b in got)
        sel = np.array([kv["step"] == 3 for kv in case.key_rows])
        keys = {k: sum((b.keys[k].tolist() for b in got), []) for k in case.keys}
        assert_batch_equals(case, keys, np.concatenate([b.arrays for b in got]), sel)
        assert list(r.iter_batches("step > ?", (100,))) == []
        with pytest.raises(ValueError):
            list(r.iter_batches(batch_rows=0))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_arrow_table_round_trip(cases: dict, name: str) -> None:
    case = cases[name]
    with _reader(case) as r:
        table = r.to_arrow(batch_rows=4)
    assert table.num_rows == len(case.arrays)
    assert table.column_names == case.keys + ["data"]
    info = json.loads(table.schema.metadata[b"array_logger"])
    assert info["shape"] == list(case.shape) and info["dtype"] == case.dtype.name
    assert info["meta"]["dtype"] == case.dtype.name
    back = al_arrow.batch_from_arrow(table)
    assert_batch_equals(case, back.keys, back.arrays)


def test_arrow_types_per_edge_case(cases: dict) -> None:
    def data_type(name: str):
        with _reader(cases[name]) as r:
            return r.to_arrow().schema.field("data").type

    t = data_type("f32_2d")
    assert isinstance(t, pa.FixedShapeTensorType) and t.shape == [3, 2] and t.value_type == pa.float32()
    assert data_type("scalar_f64") == pa.float64()  # shape (): one number per row
    c = data_type("complex64")  # complex: (real, imaginary) as a trailing dimension
    assert c.shape == [2, 2] and c.value_type == pa.float32()
    c0 = data_type("complex128_scalar")
    assert c0.shape == [2] and c0.value_type == pa.float64()
    assert data_type("bool").value_type == pa.bool_()
    with _reader(cases["mixed_keys"]) as r:
        table = r.to_arrow()
    assert table.schema.field("run").type == pa.string()  # mixed: repr() text
    assert table.column("run").to_pylist()[:4] == ["1", "'two'", "3.5", "'007'"]
    assert [ast.literal_eval(v) for v in table.column("run").to_pylist()[:4]] == [1, "two", 3.5, "007"]
    assert table.schema.field("t").type == pa.float64()


def test_arrow_data_column_is_built_without_copy(cases: dict) -> None:
    case = cases["f32_2d"]
    with _reader(case) as r:
        rows = r.rows(batch_rows=8)
        schema = al_arrow.schema(rows)
        for batch in rows.batches():
            rb = al_arrow.record_batch(batch, rows, schema)
            values = rb.column(rb.schema.get_field_index("data")).storage.values
            assert values.buffers()[1].address == batch.arrays.ctypes.data


def test_arrow_reader_streams_batches(cases: dict) -> None:
    case = cases["zst"]
    with _reader(case) as r:
        reader = r.to_arrow_reader(batch_rows=6)
        assert isinstance(reader, pa.RecordBatchReader)
        sizes = [rb.num_rows for rb in reader]
    assert sizes == [6, 6, 6, 5]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_parquet_round_trip_keeps_tensor_type_and_values(cases: dict, name: str, tmp_path: Path) -> None:
    case = cases[name]
    out = tmp_path / "x.parquet"
    with _reader(case) as r:
        assert r.to_parquet(out, batch_rows=10) == len(case.arrays)
    table = pq.read_table(out)
    if case.shape != () or case.dtype.kind == "c":
        assert isinstance(table.schema.field("data").type, pa.FixedShapeTensorType)
    back = al_arrow.batch_from_arrow(table)
    assert_batch_equals(case, back.keys, back.arrays)


@pytest.mark.parametrize("name", ["f32_2d", "complex64", "int64", "scalar_f64"])
def test_arrow_ipc_export_is_read_zero_copy_from_a_memory_map(cases: dict, name: str, tmp_path: Path) -> None:
    case = cases[name]
    out = tmp_path / "x.arrow"
    with _reader(case) as r:
        r.export(out, batch_rows=1000)
    with pa.memory_map(str(out)) as mm:
        whole = mm.read_buffer()  # the mapping itself: no copy
        lo, hi = whole.address, whole.address + whole.size
        mm.seek(0)
        table = pa.ipc.open_file(mm).read_all()
        back = al_arrow.batch_from_arrow(table)
        assert_batch_equals(case, back.keys, back.arrays)
        start = back.arrays.ctypes.data
        assert lo <= start and start + back.arrays.nbytes <= hi, "the array is not a view into the map"
        assert not back.arrays.flags.owndata
        del table, back, whole


@pytest.mark.parametrize("name", CASE_NAMES)
def test_npz_round_trip(cases: dict, name: str, tmp_path: Path) -> None:
    case = cases[name]
    out = tmp_path / "x.npz"
    with _reader(case) as r:
        assert r.export(out, batch_rows=7) == len(case.arrays)
    with np.load(out, allow_pickle=False) as z:
        keys = {}
        for k in case.keys:
            col = z[f"key_{k}"]
            keys[k] = [ast.literal_eval(v) for v in col.tolist()] if name == "mixed_keys" and k == "run" else col.tolist()
        assert_batch_equals(case, keys, z["data"])


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hdf5_round_trip(cases: dict, name: str, tmp_path: Path) -> None:
    case = cases[name]
    out = tmp_path / "x.h5"
    with _reader(case) as r:
        r.export(out, batch_rows=6)
    with h5py.File(out, "r") as f:
        keys = {}
        for k in case.keys:
            ds = f["keys"][k]
            vals = ds.asstr()[()].tolist() if ds.dtype.kind == "O" else ds[()].tolist()
            keys[k] = [ast.literal_eval(v) for v in vals] if name == "mixed_keys" and k == "run" else vals
        assert_batch_equals(case, keys, f["data"][()])
        assert f["data"].attrs["dtype"] == case.dtype.name


@pytest.mark.parametrize("name", CASE_NAMES)
def test_csv_round_trip_text_is_exact(cases: dict, name: str, tmp_path: Path) -> None:
    case = cases[name]
    out = tmp_path / "x.csv"
    with _reader(case) as r:
        r.export(out, batch_rows=5)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    nk = len(case.keys)
    assert header[:nk] == case.keys
    elements = int(np.prod(case.shape, dtype=np.int64)) * (2 if case.dtype.kind == "c" else 1)
    assert len(header) == nk + elements
    if case.shape == (3, 2):
        assert header[nk:] == ["data_0_0", "data_0_1", "data_1_0", "data_1_1", "data_2_0", "data_2_1"]
    part = np.dtype(f"<f{case.dtype.itemsize // 2}") if case.dtype.kind == "c" else case.dtype
    if case.dtype.kind == "b":
        values = np.array([[v == "1" for v in line[nk:]] for line in body], dtype=bool)
    else:
        values = np.array([[part.type(v) for v in line[nk:]] for line in body], dtype=part)
    arrays = values.view(case.dtype).reshape((len(body),) + case.shape)
    kinds = {k: type(case.key_rows[0][k]) for k in case.keys}
    keys = {}
    for i, k in enumerate(case.keys):
        texts = [line[i] for line in body]
        keys[k] = [ast.literal_eval(t) for t in texts] if name == "mixed_keys" and k == "run" else \
            [kinds[k](t) for t in texts]
    assert_batch_equals(case, keys, arrays)


def test_csv_refuses_arrays_with_too_many_elements(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None) as lg:
        lg.register("big", keys=["i"], shape=(80, 80), dtype="uint8")
        lg.log("big", {"i": 0}, np.zeros((80, 80), np.uint8))
    with array_logger.open_reader(tmp_path / "big.db") as r:
        with pytest.raises(ValueError, match="6400 elements"):
            r.export(tmp_path / "big.csv")
        assert not (tmp_path / "big.csv").exists()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_pandas_round_trip(cases: dict, name: str) -> None:
    case = cases[name]
    with _reader(case) as r:
        df = r.to_pandas()
        flat = r.to_pandas(flatten=True)
        indexed = r.to_pandas(index=True)
    keys = {k: df[k].tolist() for k in case.keys}
    if case.shape == ():
        arrays = df["data"].to_numpy()
    else:
        arrays = np.stack(df["data"].tolist()) if len(df) else np.empty((0,) + case.shape, case.dtype)
        first = df["data"].iloc[0]
        assert first.base is not None  # a view into the one block read
    assert_batch_equals(case, keys, arrays)
    cols = [c for c in flat.columns if c.startswith("data")]
    assert_batch_equals(case, {k: flat[k].tolist() for k in case.keys},
                        flat[cols].to_numpy().astype(case.dtype).reshape((len(flat),) + case.shape))
    assert list(indexed.index.names) == case.keys


@pytest.mark.parametrize("name", CASE_NAMES)
def test_polars_round_trip_keeps_the_shape(cases: dict, name: str) -> None:
    case = cases[name]
    with _reader(case) as r:
        df = r.to_polars()
    tshape = case.shape + ((2,) if case.dtype.kind == "c" else ())
    if tshape:
        assert isinstance(df.schema["data"], pl.Array) and tuple(df.schema["data"].shape) == tshape
    values = df["data"].to_numpy()
    if case.dtype.kind == "c":
        values = np.ascontiguousarray(values).view(case.dtype).reshape((len(df),) + case.shape)
    keys = {k: ([ast.literal_eval(v) for v in df[k].to_list()] if name == "mixed_keys" and k == "run"
                else df[k].to_list()) for k in case.keys}
    assert_batch_equals(case, keys, values.astype(case.dtype, copy=False))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_xarray_round_trip(cases: dict, name: str) -> None:
    case = cases[name]
    with _reader(case) as r:
        ds = r.to_xarray()
    assert ds["data"].dims == ("row",) + tuple(f"dim_{i}" for i in range(len(case.shape)))
    assert ds.attrs["dtype"] == case.dtype.name
    assert_batch_equals(case, {k: ds[k].values.tolist() for k in case.keys}, ds["data"].values)


@pytest.mark.parametrize("name", ["f32_2d", "zst", "format1"])  # format 2, a .db.zst, a format-1 .db.zst
def test_duckdb_queries_the_arrow_table_and_reader(cases: dict, name: str) -> None:
    case = cases[name]
    with _reader(case) as r:
        q_table = r.to_arrow()
        con = duckdb.connect()
        # the tensor column is a fixed-size array: data[1] is its first element (C order)
        got = con.execute("SELECT episode, count(*), sum(data[1]::DOUBLE) FROM q_table "
                          "GROUP BY episode ORDER BY episode").fetchall()
        episodes = np.array([kv["episode"] for kv in case.key_rows])
        assert [g[0] for g in got] == sorted(set(episodes.tolist()))
        for e, n, total in got:
            sel = case.arrays[episodes == e]
            assert n == len(sel)
            assert total == pytest.approx(sel.reshape(len(sel), -1)[:, 0].astype(np.float64).sum(), rel=1e-12)
        q_reader = r.to_arrow_reader(batch_rows=5)
        rows = con.execute("SELECT step FROM q_reader WHERE episode = 1 ORDER BY step").fetchall()
        assert [s for (s,) in rows] == [kv["step"] for kv in case.key_rows if kv["episode"] == 1]


@pytest.mark.parametrize("name", ["f32_2d", "scalar_f64", "mixed_keys"])
def test_empty_selection_gives_empty_outputs(cases: dict, name: str, tmp_path: Path) -> None:
    case = cases[name]
    where = f"\"{case.keys[0]}\" = 'no such value'"
    with _reader(case) as r:
        assert r.to_arrow(where).num_rows == 0
        assert list(r.iter_batches(where)) == []
        r.export(tmp_path / "e.parquet", where_clause=where)
        r.export(tmp_path / "e.npz", where_clause=where)
        r.export(tmp_path / "e.csv", where_clause=where)
        assert len(r.to_pandas(where)) == 0
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
    with np.load(tmp_path / "e.npz") as z:
        assert z["data"].shape == (0,) + case.shape
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 1


def test_missing_extra_names_the_pip_command(cases: dict) -> None:
    path = str(cases["f32_2d"].path)
    proc = run_child(
        """
        import sys
        for m in ("pyarrow", "pandas", "polars", "xarray", "h5py", "matplotlib"):
            sys.modules[m] = None  # as if not installed
        import array_logger
        r = array_logger.open_reader(sys.argv[1])
        for call, extra in ((r.to_arrow, "arrow"), (r.to_pandas, "pandas"), (r.to_polars, "polars"),
                            (r.to_xarray, "xarray")):
            try:
                call()
            except ImportError as e:
                assert f"pip install 'array-logger[{extra}]'" in str(e), str(e)
            else:
                raise SystemExit(f"{call} worked without its extra")
        print("ok")
        """, path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_import_array_logger_loads_no_optional_library() -> None:
    proc = run_child(
        """
        import sys, array_logger
        heavy = {"pyarrow", "pandas", "polars", "xarray", "duckdb", "h5py", "matplotlib", "tqdm",
                 "argparse", "array_logger.cli", "array_logger.bridges"}
        print(sorted(heavy & set(sys.modules)))
        """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
