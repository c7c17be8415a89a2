"""SPEC.md's errors: each is clear, leaves the logger usable and loses nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import array_logger


@pytest.fixture()
def module_logger(tmp_path: Path):
    array_logger.init(str(tmp_path), compression_level=None)
    yield tmp_path
    array_logger.close()


def rows(path: Path) -> list:
    with array_logger.open_reader(path) as reader:
        return [(k, a.tolist()) for k, a in reader.iterate()]


def test_init_twice_then_again_after_close(tmp_path: Path) -> None:
    array_logger.init(str(tmp_path), compression_level=None)
    try:
        with pytest.raises(RuntimeError, match=r"^Logger already initialized$"):
            array_logger.init(str(tmp_path), compression_level=None)
        array_logger.register("x", keys=["i"], shape=(1,), dtype="int64")
        array_logger.log("x", {"i": 0}, np.array([0]))
    finally:
        array_logger.close()
    array_logger.init(str(tmp_path), compression_level=None)  # a new run on the same root resumes
    array_logger.register("x", keys=["i"], shape=(1,), dtype="int64")
    array_logger.log("x", {"i": 1}, np.array([1]))
    array_logger.close()
    assert rows(tmp_path / "x.db") == [({"i": 0}, [0]), ({"i": 1}, [1])]


def test_register_twice(module_logger: Path) -> None:
    array_logger.register("x", keys=["i"], shape=(2,), dtype="float32")
    with pytest.raises(ValueError, match=r"^Array 'x' already registered$"):
        array_logger.register("x", keys=["i"], shape=(2,), dtype="float32")
    array_logger.log("x", {"i": 0}, np.zeros(2, np.float32))


def test_shape_and_dtype_mismatch_name_both_sides(module_logger: Path) -> None:
    array_logger.register("x", keys=["i"], shape=(10, 5), dtype="float32")
    with pytest.raises(ValueError, match=r"^Shape mismatch") as err:
        array_logger.log("x", {"i": 0}, np.zeros((5, 10), np.float32))
    assert "(10, 5)" in str(err.value) and "(5, 10)" in str(err.value)
    with pytest.raises(ValueError, match=r"^Dtype mismatch") as err:
        array_logger.log("x", {"i": 0}, np.zeros((10, 5), np.float64))
    assert "float32" in str(err.value) and "float64" in str(err.value)
    array_logger.log("x", {"i": 1}, np.ones((10, 5), np.float32))
    array_logger.flush()
    assert [k for k, _ in rows(module_logger / "x.db")] == [{"i": 1}]


def test_python_scalars_and_lists_take_the_registered_dtype(module_logger: Path) -> None:
    array_logger.register("s", keys=["i"], shape=(), dtype="float32")
    array_logger.register("l", keys=["i"], shape=(3,), dtype="int16")
    array_logger.log("s", {"i": 0}, 0.25)
    array_logger.log("l", {"i": 0}, [1, 2, 3])
    array_logger.flush()
    with array_logger.open_reader(module_logger / "s.db") as r:
        (_, a), = list(r.iterate())
        assert a.dtype == np.float32 and a.shape == () and float(a) == 0.25
    with array_logger.open_reader(module_logger / "l.db") as r:
        (_, a), = list(r.iterate())
        assert a.dtype == np.int16 and a.tolist() == [1, 2, 3]


def test_unknown_name_missing_and_extra_keys(module_logger: Path) -> None:
    array_logger.register("x", keys=["episode", "step"], shape=(1,), dtype="int32")
    a = np.zeros(1, np.int32)
    with pytest.raises(ValueError, match="not registered"):
        array_logger.log("nope", {"episode": 0, "step": 0}, a)
    with pytest.raises(ValueError, match="missing \\['step'\\]"):
        array_logger.log("x", {"episode": 0}, a)
    with pytest.raises(ValueError, match="unexpected \\['extra'\\]"):
        array_logger.log("x", {"episode": 0, "step": 0, "extra": 1}, a)
    with pytest.raises(ValueError, match="None"):
        array_logger.log("x", {"episode": None, "step": 0}, a)
    array_logger.log("x", {"step": 1, "episode": 2}, a)  # any key order
    array_logger.flush()
    assert [k for k, _ in rows(module_logger / "x.db")] == [{"episode": 2, "step": 1}]


def test_log_before_init_and_after_close(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        array_logger.log("x", {"i": 0}, np.zeros(1))
    lg = array_logger.Logger(tmp_path, compression_level=None, handle_signals=False)
    lg.register("x", keys=["i"], shape=(1,), dtype="float64")
    lg.close()
    with pytest.raises(RuntimeError, match="closed"):
        lg.log("x", {"i": 0}, np.zeros(1))
    lg.close()  # idempotent


@pytest.mark.parametrize("bad", ["", "a/b", "..", "a\\b", ".hidden", "a\x00b", "../escape", "/abs"])
def test_names_that_are_not_plain_file_names(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "root"
    with array_logger.Logger(root, compression_level=None, handle_signals=False) as lg:
        with pytest.raises(ValueError, match="Invalid array name"):
            lg.register(bad, keys=["i"], shape=(1,), dtype="int8")
        lg.register("ok", keys=["i"], shape=(1,), dtype="int8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
    assert sorted(p.name for p in root.iterdir()) == ["ok.db"]


def test_meta_mismatch_on_an_existing_file(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=3, handle_signals=False) as lg:
        lg.register("x", keys=["episode"], shape=(2,), dtype="float32")
        lg.log("x", {"episode": 0}, np.zeros(2, np.float32))
    for keys, shape, dtype in ((["episode"], (3,), "float32"), (["episode"], (2,), "float64"),
                               (["step"], (2,), "float32"), (["episode", "step"], (2,), "float32")):
        with array_logger.Logger(tmp_path, compression_level=3, handle_signals=False) as lg:
            with pytest.raises(ValueError, match="^Meta mismatch"):
                lg.register("x", keys=keys, shape=shape, dtype=dtype)
    assert rows(tmp_path / "x.db") == [({"episode": 0}, [0.0, 0.0])]


def test_keys_keep_their_python_type(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("x", keys=["run", "step", "temp"], shape=(1,), dtype="uint8")
        lg.log("x", {"run": "007", "step": np.int64(3), "temp": 0.5}, np.array([1], np.uint8))
        lg.log("x", {"run": "008", "step": True, "temp": np.float32(1.5)}, np.array([2], np.uint8))
    got = rows(tmp_path / "x.db")
    assert got[0][0] == {"run": "007", "step": 3, "temp": 0.5}
    assert type(got[0][0]["run"]) is str and type(got[0][0]["step"]) is int
    assert got[1][0] == {"run": "008", "step": 1, "temp": 1.5}


def test_register_accepts_sequences_and_dtype_objects(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("a", keys=("i",), shape=[2, 3], dtype=np.float32)
        lg.register("b", keys=["i"], shape=(2,), dtype=np.dtype("<i8"))
        lg.register("c", keys=["i"], shape=(2,), dtype="<f8")
        lg.log("a", {"i": 0}, np.zeros((2, 3), np.float32))
    with array_logger.open_reader(tmp_path / "c.db") as r:
        assert r.dtype == np.float64 and r.meta["dtype"] == "float64"
    with array_logger.open_reader(tmp_path / "a.db") as r:
        assert r.shape == (2, 3) and r.meta["shape"] == "(2, 3)"


def test_inputs_are_stored_in_c_order_and_copied(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    fortran = np.asfortranarray(base[:, :3])
    sliced = base[::2, ::2]
    big_endian = base[:2, :3].astype(">f8")
    with array_logger.Logger(tmp_path, compression_level=None, handle_signals=False) as lg:
        lg.register("f", keys=["i"], shape=(4, 3), dtype="float64")
        lg.register("s", keys=["i"], shape=(2, 3), dtype="float64")
        lg.log("f", {"i": 0}, fortran)
        lg.log("s", {"i": 0}, sliced)
        lg.log("s", {"i": 1}, big_endian)
        mutable = np.ones((2, 3))
        lg.log("s", {"i": 2}, mutable)
        mutable[:] = 7  # after log: must not change what was logged
    with array_logger.open_reader(tmp_path / "f.db") as r:
        assert r.read_all().arrays[0].tobytes() == np.ascontiguousarray(base[:, :3]).tobytes()
    with array_logger.open_reader(tmp_path / "s.db") as r:
        got = r.read_all().arrays
    assert got[0].tobytes() == np.ascontiguousarray(sliced).tobytes()
    assert got[1].tobytes() == base[:2, :3].tobytes()
    assert got[2].tolist() == np.ones((2, 3)).tolist()


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                                   "uint64", "float16", "float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4)])
def test_every_dtype_and_shape_round_trips(tmp_path: Path, dtype: str, shape: tuple) -> None:
    rng = np.random.default_rng(0)
    values = [(rng.random(shape) * 100).astype(dtype) for _ in range(3)]
    with array_logger.Logger(tmp_path, compression_level=3, handle_signals=False) as lg:
        lg.register("x", keys=["i"], shape=shape, dtype=dtype)
        for i, v in enumerate(values):
            lg.log("x", {"i": i}, v)
    with array_logger.open_reader(tmp_path / "x.db") as r:
        got = [a for _, a in r.iterate()]
        bulk = r.read_all().arrays
    assert [g.tobytes() for g in got] == [v.tobytes() for v in values]
    assert all(g.dtype == np.dtype(dtype) and g.shape == shape for g in got)
    assert bulk.shape == (3, *shape) and bulk.tobytes() == np.stack(values).tobytes()
