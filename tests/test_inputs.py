"""What log() and register() accept: memory layouts, byte orders, key types,
every dtype and shape, argument orders. Everything is read back and compared
byte for byte."""

from __future__ import annotations

import array
import sqlite3
import types
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import meta_rows, read_rows

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]
SHAPES = [(), (0,), (3,), (2, 3, 4)]


def random_array(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    # Any bit pattern, NaN payloads and extremes included.
    return np.frombuffer(rng.bytes(n), dtype=dt.newbyteorder("<")).astype(dt).reshape(shape)


# --- memory layouts ---------------------------------------------------------------

def test_fortran_and_non_contiguous_arrays_are_stored_in_c_order(tmp_path: Path) -> None:
    # Proves README.md: "Non-contiguous and Fortran-ordered arrays are stored in C order"
    base = np.arange(6 * 8, dtype=np.float64).reshape(6, 8)
    inputs = [
        np.asfortranarray(base[:4, :6]),          # Fortran order
        base[:4, :6],                             # rows not contiguous
        base[::-1, ::-1][:4, :6],                 # negative strides
        base[::2, ::2][:, :4].T[:, :3].T.repeat(2, 0)[:4].reshape(4, 4)[:, :4].repeat(2, 1)[:, :6],
        base.T[:6, :4].T,                         # transposed view
        np.broadcast_to(np.arange(6.0), (4, 6)),  # zero strides, read-only
        base[1:5, 2:8],
    ]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(4, 6), dtype="float64")
        for i, a in enumerate(inputs):
            assert a.shape == (4, 6)
            lg.log("x", {"i": i}, a)
    rows = read_rows(tmp_path / "x.db")
    assert len(rows) == len(inputs)
    for (_, got), a in zip(rows, inputs):
        assert got.flags.c_contiguous
        assert got.tobytes() == np.ascontiguousarray(a).tobytes()
    # On disk: C-order bytes after the blob header.
    con = sqlite3.connect(tmp_path / "x.db")
    blobs = [b for (b,) in con.execute("SELECT data FROM array_log ORDER BY rowid")]
    con.close()
    for blob, a in zip(blobs, inputs):
        assert blob.endswith(np.ascontiguousarray(a).tobytes())


def test_mutating_the_array_after_log_does_not_change_the_row(tmp_path: Path) -> None:
    # Proves README.md: "changing your array after `log` never changes what was logged."
    a = np.zeros((100, 10), np.float32)
    big = np.zeros((512, 1024), np.float32)  # 2 MiB: the copy that releases the GIL
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(100, 10), dtype="float32", commit_threshold_rows=1000)
        lg.register("big", keys=["i"], shape=(512, 1024), dtype="float32", commit_threshold_rows=1000)
        for i in range(50):
            a[...] = i
            lg.log("x", {"i": i}, a)
        for i in range(3):
            big[...] = i
            lg.log("big", {"i": i}, big)
        a[...] = -1
        big[...] = -1
    assert [float(r.mean()) for _, r in read_rows(tmp_path / "x.db")] == [float(i) for i in range(50)]
    assert [(float(r.min()), float(r.max())) for _, r in read_rows(tmp_path / "big.db")] == [(i, i) for i in range(3)]


@pytest.mark.parametrize("dtype", ["int16", "uint32", "int64", "float32", "float64", "complex128"])
def test_big_endian_input_is_stored_little_endian(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(1)
    little = random_array(rng, (5, 4), dtype)
    big = little.astype(np.dtype(dtype).newbyteorder(">"))
    assert big.dtype.byteorder == ">"
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(5, 4), dtype=dtype)
        lg.log("x", {"i": 0}, big)
        lg.log("x", {"i": 1}, big[:, ::-1])
    rows = read_rows(tmp_path / "x.db")
    assert rows[0][1].dtype == np.dtype(dtype)
    assert rows[0][1].tobytes() == little.tobytes()
    assert rows[1][1].tobytes() == np.ascontiguousarray(little[:, ::-1]).tobytes()


def test_big_endian_dtype_at_register_is_normalised(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(2,), dtype=">f4")
        lg.log("x", {"i": 0}, np.array([1.5, 2.5], np.float32))
    assert meta_rows(tmp_path / "x.db")["dtype"] == "float32"
    assert read_rows(tmp_path / "x.db")[0][1].tolist() == [1.5, 2.5]


# --- keys ---------------------------------------------------------------------------

def test_key_values_keep_their_type(tmp_path: Path) -> None:
    # Proves docs/FORMAT.md: "declared **without a type**: no type affinity, so each value keeps its
    # SQLite storage class"
    values = ["007", "7", "", "エピソード", "a'b\"c", 7, -3, 0, 2 ** 63 - 1, -(2 ** 63), 1.5, -0.25, 2.0,
              float("inf"), np.int8(-5), np.uint16(65535), np.int64(123456789012), np.uint64(2 ** 63 - 1),
              np.float32(0.5), np.float64(3.25), True, False]
    expected = ["007", "7", "", "エピソード", "a'b\"c", 7, -3, 0, 2 ** 63 - 1, -(2 ** 63), 1.5, -0.25, 2.0,
                float("inf"), -5, 65535, 123456789012, 2 ** 63 - 1, 0.5, 3.25, 1, 0]
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["k"], shape=(1,), dtype="int64")
        for i, v in enumerate(values):
            lg.log("x", {"k": v}, np.array([i]))
    rows = read_rows(tmp_path / "x.db")
    got = [k["k"] for k, _ in rows]
    assert got == expected
    assert [type(g) for g in got] == [type(e) for e in expected]
    assert [a.tolist() for _, a in rows] == [[i] for i in range(len(values))]
    # Stored with their SQLite type: no column affinity converts "007" to 7.
    con = sqlite3.connect(tmp_path / "x.db")
    types_ = [t for (t,) in con.execute("SELECT typeof(k) FROM array_log ORDER BY rowid")]
    con.close()
    assert types_[:5] == ["text"] * 5 and types_[5] == "integer" and types_[10] == "real"


def test_where_clause_on_text_and_float_keys(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["run", "t"], shape=(1,), dtype="int32")
        for i in range(20):
            lg.log("x", {"run": f"{i % 3:03d}", "t": i / 4}, np.array([i], np.int32))
    rows = read_rows(tmp_path / "x.db", "run = ? AND t >= ?", ("001", 2.0))
    assert [(k["run"], k["t"]) for k, _ in rows] == [("001", 2.5), ("001", 3.25), ("001", 4.0), ("001", 4.75)]
    assert [a[0] for _, a in rows] == [10, 13, 16, 19]


@pytest.mark.parametrize("keys", [
    ["episode", "step"],
    ["my key", "it's", 'say "hi"', "back\\slash"],
    ["エピソード", "ステップ"],
    ["select", "from", "where"],
    ["Episode"],
])
def test_any_key_names(tmp_path: Path, keys: list) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=keys, shape=(2,), dtype="float32")
        for i in range(5):
            lg.log("x", {k: i * 10 + j for j, k in enumerate(keys)}, np.full(2, i, np.float32))
    meta = meta_rows(tmp_path / "x.db")
    assert meta["keys"] == repr(keys)  # the pure-Python library's text form
    with array_logger.open_reader(tmp_path / "x.db") as reader:
        assert reader.keys == keys
        rows = list(reader.iterate())
    assert [list(k) for k, _ in rows] == [keys] * 5  # dict order = key order
    assert [k for k, _ in rows] == [{k: i * 10 + j for j, k in enumerate(keys)} for i in range(5)]
    # And the file can be resumed with the same key names.
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=keys, shape=(2,), dtype="float32")
        lg.log("x", {k: 99 for k in keys}, np.full(2, 99, np.float32))
    assert len(read_rows(tmp_path / "x.db")) == 6


# --- dtypes and shapes ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_and_shape_round_trips(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(abs(hash(dtype)) % 2 ** 32)
    expected = {}
    with array_logger.Logger(tmp_path, None) as lg:
        for n, shape in enumerate(SHAPES):
            name = f"s{n}"
            lg.register(name, keys=["i"], shape=shape, dtype=dtype)
            expected[name] = [random_array(rng, shape, dtype) for _ in range(7)]
            for i, a in enumerate(expected[name]):
                lg.log(name, {"i": i}, a)
    for n, shape in enumerate(SHAPES):
        name = f"s{n}"
        meta = meta_rows(tmp_path / f"{name}.db")
        assert meta["dtype"] == dtype and meta["shape"] == repr(tuple(shape))
        with array_logger.open_reader(tmp_path / f"{name}.db") as reader:
            assert reader.shape == shape and reader.dtype == np.dtype(dtype)
            rows = list(reader.iterate())
            batch = reader.read_all()
        assert [k["i"] for k, _ in rows] == list(range(7))
        for (_, got), want in zip(rows, expected[name]):
            got = np.asarray(got)
            assert got.dtype == np.dtype(dtype) and got.shape == shape
            assert got.tobytes() == want.tobytes()
        assert batch.arrays.shape == (7, *shape) and batch.arrays.dtype == np.dtype(dtype)
        assert batch.arrays.tobytes() == b"".join(w.tobytes() for w in expected[name])


def test_iterate_yields_ndarrays_for_0d_shape(tmp_path: Path) -> None:
    """iterate() yields `(keys_dict, array)` with `array` an ndarray for every
    shape; for shape () a 0-d ndarray (as np.frombuffer(...).reshape(()) gave
    in the pure-Python version), not a numpy scalar."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("s", keys=["i"], shape=(), dtype="float32")
        lg.log("s", {"i": 0}, np.float32(1.5))
    with array_logger.open_reader(tmp_path / "s.db") as reader:
        (keys, arr), = list(reader.iterate())
    assert isinstance(arr, np.ndarray)
    assert arr.shape == () and arr.dtype == np.float32 and float(arr) == 1.5


def test_shuffle_zstd_filter_round_trips_every_dtype(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    expected = {}
    with array_logger.Logger(tmp_path, 3) as lg:
        for dtype in DTYPES:
            lg.register(dtype, keys=["i"], shape=(3, 5), dtype=dtype, shuffle_zstd=True)
            expected[dtype] = [random_array(rng, (3, 5), dtype) for _ in range(4)]
            for i, a in enumerate(expected[dtype]):
                lg.log(dtype, {"i": i}, a)
    for dtype in DTYPES:
        with array_logger.open_reader(tmp_path / f"{dtype}.db") as reader:
            assert reader.meta["blob_filter"] == "shuffle-zstd"
            got = [a.tobytes() for _, a in reader.iterate()]
        assert got == [a.tobytes() for a in expected[dtype]]


# --- argument forms -------------------------------------------------------------------

def test_log_argument_orders_and_keywords(tmp_path: Path) -> None:
    def a(i):
        return np.full(2, i, np.int16)

    array_logger.init(tmp_path, compression_level=None)
    array_logger.register("x", keys=["i"], shape=(2,), dtype="int16")
    log = array_logger.log
    log("x", {"i": 0}, a(0))
    log("x", a(1), {"i": 1})
    log(name="x", key_values={"i": 2}, array=a(2))
    log(name="x", array=a(3), key_values={"i": 3})
    log("x", key_values={"i": 4}, array=a(4))
    log("x", array=a(5), key_values={"i": 5})
    log("x", {"i": 6}, array=a(6))
    log("x", a(7), array={"i": 7})  # the mapping is the keys, whatever the slot
    log("x", types.MappingProxyType({"i": 8}), a(8))
    log("x", a(9), types.MappingProxyType({"i": 9}))
    log("x", [9, 10], {"i": 10})  # list array, dict keys, the pure-Python version's documented order
    with pytest.raises(TypeError):
        log("x", {"i": 11}, a(11), a(11))
    with pytest.raises(TypeError):
        log("x", {"i": 11}, a(11), bogus=1)
    array_logger.close()
    rows = read_rows(tmp_path / "x.db")
    assert [k["i"] for k, _ in rows] == list(range(11))
    assert [r.tolist() for _, r in rows] == [[i, i] for i in range(10)] + [[9, 10]]


def test_logger_object_log_argument_orders(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(1,), dtype="uint8")
        lg.log("x", {"i": 0}, np.array([0], np.uint8))
        lg.log("x", np.array([1], np.uint8), {"i": 1})
        lg.log(name="x", key_values={"i": 2}, array=np.array([2], np.uint8))
        lg.log("x", array=np.array([3], np.uint8), key_values={"i": 3})
    assert [a.tolist() for _, a in read_rows(tmp_path / "x.db")] == [[0], [1], [2], [3]]


@pytest.mark.parametrize("shape, dtype", [
    ([10, 5], np.float32),
    ((np.int64(10), np.int32(5)), np.dtype("float32")),
    ((10, 5), "<f4"),
    ((10, 5), "f4"),
    ((10, 5), np.dtype(">f4")),
])
def test_register_accepts_shape_sequences_and_dtype_forms(tmp_path: Path, shape, dtype) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=shape, dtype=dtype)
        lg.log("x", {"i": 0}, np.ones((10, 5), np.float32))
    meta = meta_rows(tmp_path / "x.db")
    assert (meta["shape"], meta["dtype"]) == ("(10, 5)", "float32")


def test_register_accepts_torch_dtype_and_size(tmp_path: Path) -> None:
    import torch  # scripts/requirements-test-extra.txt (installed by scripts/test.sh)
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=torch.Size([2, 3]), dtype=torch.float32)
        lg.log("x", {"i": 0}, torch.ones(2, 3))
    meta = meta_rows(tmp_path / "x.db")
    assert (meta["shape"], meta["dtype"]) == ("(2, 3)", "float32")


def test_log_accepts_array_like_objects(tmp_path: Path) -> None:
    class HasArray:
        def __array__(self, dtype=None, copy=None):
            return np.array([4.0, 5.0, 6.0], np.float32)

    class DLPackOnly:
        def __init__(self, a):
            self._a = a

        def __dlpack__(self, **kw):
            return self._a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self._a.__dlpack_device__()

    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(3,), dtype="float32")
        lg.log("x", {"i": 0}, array.array("f", [1, 2, 3]))          # buffer protocol
        lg.log("x", {"i": 1}, HasArray())                            # __array__
        lg.log("x", {"i": 2}, DLPackOnly(np.array([7, 8, 9], np.float32)))  # DLPack
        lg.log("x", {"i": 3}, memoryview(np.array([10, 11, 12], np.float32)))
        with pytest.raises(ValueError, match="^Dtype mismatch"):
            lg.log("x", {"i": 4}, array.array("d", [1, 2, 3]))
    assert [a.tolist() for _, a in read_rows(tmp_path / "x.db")] == [
        [1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]


def test_many_names_interleaved(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    names = [f"n{i}" for i in range(6)]
    expected = {n: [] for n in names}
    with array_logger.Logger(tmp_path, None, buffer_bytes=1 << 16) as lg:
        for j, n in enumerate(names):
            lg.register(n, keys=["i"], shape=(j + 1, 7), dtype="float32", commit_threshold_rows=13)
        for i in range(600):
            n = names[int(rng.integers(len(names)))]
            a = rng.random((int(n[1:]) + 1, 7), dtype=np.float32)
            lg.log(n, {"i": i}, a)
            expected[n].append((i, a))
    for n in names:
        rows = read_rows(tmp_path / f"{n}.db")
        assert [k["i"] for k, _ in rows] == [i for i, _ in expected[n]]
        assert [a.tobytes() for _, a in rows] == [a.tobytes() for _, a in expected[n]]


def test_log_from_several_threads(tmp_path: Path) -> None:
    import threading

    def worker(lg, t):
        for i in range(1500):
            lg.log("x", {"t": t, "i": i}, np.full(16, t * 100000 + i, np.int64))

    with array_logger.Logger(tmp_path, None, buffer_bytes=1 << 16) as lg:
        lg.register("x", keys=["t", "i"], shape=(16,), dtype="int64", commit_threshold_rows=37)
        threads = [threading.Thread(target=worker, args=(lg, t)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    rows = read_rows(tmp_path / "x.db")
    assert len(rows) == 6000
    seen = {(k["t"], k["i"]) for k, _ in rows}
    assert seen == {(t, i) for t in range(4) for i in range(1500)}
    for k, a in rows:
        assert (a == k["t"] * 100000 + k["i"]).all()
    for t in range(4):  # each thread's rows in its own order
        assert [k["i"] for k, _ in rows if k["t"] == t] == list(range(1500))


def test_rows_larger_than_the_buffer(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    arrays = [rng.random((512, 1024), dtype=np.float32) for _ in range(4)]
    with array_logger.Logger(tmp_path, None, buffer_bytes=1 << 16) as lg:
        lg.register("small", keys=["i"], shape=(4,), dtype="float32")
        lg.log("small", {"i": 0}, np.ones(4, np.float32))
        lg.register("big", keys=["i"], shape=(512, 1024), dtype="float32")
        for i, a in enumerate(arrays):
            lg.log("big", {"i": i}, a)
            lg.log("small", {"i": i + 1}, np.full(4, i, np.float32))
    assert [a.tobytes() for _, a in read_rows(tmp_path / "big.db")] == [a.tobytes() for a in arrays]
    assert [k["i"] for k, _ in read_rows(tmp_path / "small.db")] == list(range(5))
