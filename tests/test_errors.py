"""Every error docs/DESIGN.md ("Errors") promises, and that the logger stays usable and loses
nothing after each of them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import array_logger
from array_logger import (
    ArrayLoggerError,
    CorruptFileError,
    MetaMismatchError,
    StateError,
    StorageError,
    ValidationError,
)
from al_helpers import read_rows


def visible(root: Path) -> list:
    return sorted(f for f in os.listdir(root) if not f.startswith("."))


def tree(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --- exception classes ----------------------------------------------------------

def test_exception_hierarchy() -> None:
    assert issubclass(ValidationError, ValueError) and issubclass(ValidationError, ArrayLoggerError)
    assert issubclass(MetaMismatchError, ValidationError)
    assert issubclass(StateError, RuntimeError) and issubclass(StateError, ArrayLoggerError)
    assert issubclass(StorageError, OSError) and issubclass(StorageError, ArrayLoggerError)
    assert issubclass(CorruptFileError, ValueError) and issubclass(CorruptFileError, ArrayLoggerError)


# --- init ----------------------------------------------------------------------

def test_init_twice_raises_logger_already_initialized(tmp_path: Path) -> None:
    array_logger.init(tmp_path / "a", compression_level=None)
    with pytest.raises(RuntimeError) as info:
        array_logger.init(tmp_path / "b", compression_level=None)
    assert str(info.value) == "Logger already initialized"
    assert not (tmp_path / "b").exists() or os.listdir(tmp_path / "b") == []
    # The first logger is untouched by the failed init.
    array_logger.register("x", keys=["i"], shape=(1,), dtype="int64")
    array_logger.log("x", {"i": 1}, np.array([1]))
    array_logger.close()
    assert [k["i"] for k, _ in read_rows(tmp_path / "a" / "x.db")] == [1]


def test_init_after_close_same_root_resumes(tmp_path: Path) -> None:
    for run in range(3):
        array_logger.init(tmp_path, compression_level=None if run != 1 else 3)
        array_logger.register("x", keys=["run", "i"], shape=(2,), dtype="float64")
        for i in range(5):
            array_logger.log("x", {"run": run, "i": i}, np.array([run, i], dtype=np.float64))
        array_logger.close()
    rows = read_rows(tmp_path / "x.db")
    assert [(k["run"], k["i"]) for k, _ in rows] == [(r, i) for r in range(3) for i in range(5)]
    assert [a.tolist() for _, a in rows] == [[float(r), float(i)] for r in range(3) for i in range(5)]


def test_close_when_not_initialized_is_harmless() -> None:
    array_logger.close()
    array_logger.close()


@pytest.mark.parametrize("level", [0, 23, -1, "3", 2.5, True])
def test_invalid_compression_level(tmp_path: Path, level: object) -> None:
    with pytest.raises(ValueError):
        array_logger.init(tmp_path, compression_level=level)
    assert array_logger.get_logger() is None or array_logger.get_logger().closed
    array_logger.init(tmp_path, compression_level=None)  # still possible


def test_invalid_synchronous(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        array_logger.Logger(tmp_path, None, synchronous="sometimes")


# --- register ------------------------------------------------------------------

def test_register_twice_raises_already_registered(tmp_path: Path) -> None:
    array_logger.init(tmp_path, compression_level=None)
    array_logger.register("x", keys=["i"], shape=(3,), dtype="float32")
    array_logger.log("x", {"i": 0}, np.zeros(3, np.float32))
    for spec in [(["i"], (3,), "float32"), (["j"], (4,), "int8")]:
        with pytest.raises(ValueError) as info:
            array_logger.register("x", *spec)
        assert str(info.value) == "Array 'x' already registered"
    array_logger.log("x", {"i": 1}, np.ones(3, np.float32))
    array_logger.close()
    assert [k["i"] for k, _ in read_rows(tmp_path / "x.db")] == [0, 1]


@pytest.mark.parametrize("name", ["", "a/b", "..", "a\\b", ".hidden", "a\x00b", "../evil", "/abs", ".", "x/../y"])
def test_invalid_names_are_rejected_and_nothing_written_outside_root(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "sibling").mkdir()
    before = tree(tmp_path)
    with array_logger.Logger(root, compression_level=3) as lg:
        with pytest.raises(ValueError):
            lg.register(name, keys=["i"], shape=(1,), dtype="int64")
        with pytest.raises(ValueError):
            lg.log(name, {"i": 0}, np.array([0]))
        # The logger still works.
        lg.register("ok", keys=["i"], shape=(1,), dtype="int64")
        lg.log("ok", {"i": 7}, np.array([7]))
    assert tree(tmp_path) - before == {"root/ok.db.zst"}
    assert [k["i"] for k, _ in read_rows(root / "ok.db")] == [7]


@pytest.mark.parametrize("kwargs", [
    dict(keys=["data"], shape=(1,), dtype="int64"),
    dict(keys=["a", "A"], shape=(1,), dtype="int64"),
    dict(keys=[], shape=(1,), dtype="int64"),
    dict(keys="episode", shape=(1,), dtype="int64"),
    dict(keys=["a"], shape=(-1,), dtype="int64"),
    dict(keys=["a"], shape=(1,), dtype="object"),
    dict(keys=["a"], shape=(1,), dtype="U4"),
    dict(keys=["a"], shape=(1,), dtype="float32", commit_threshold_rows=0),
    dict(keys=["a"], shape=(1,), dtype="float32", commit_threshold_seconds=0),
])
def test_invalid_register_arguments(tmp_path: Path, kwargs: dict) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        with pytest.raises(ValueError):
            lg.register("x", **kwargs)
        lg.register("x", keys=["a"], shape=(1,), dtype="int64")  # the name is still free
        lg.log("x", {"a": 1}, np.array([5]))
    assert [a.tolist() for _, a in read_rows(tmp_path / "x.db")] == [[5]]


def _make_file(root: Path, compression: "int | None", keys=("episode", "step"), shape=(3,), dtype="float32"):
    with array_logger.Logger(root, compression) as lg:
        lg.register("x", keys=list(keys), shape=shape, dtype=dtype)
        for i in range(10):
            lg.log("x", {k: i for k in keys}, np.full(shape, i, dtype=dtype))


@pytest.mark.parametrize("compression", [None, 3])
@pytest.mark.parametrize("other", [
    dict(keys=["episode", "step"], shape=(4,), dtype="float32"),
    dict(keys=["episode", "step"], shape=(3, 1), dtype="float32"),
    dict(keys=["episode", "step"], shape=(3,), dtype="float64"),
    dict(keys=["episode"], shape=(3,), dtype="float32"),
    dict(keys=["step", "episode"], shape=(3,), dtype="float32"),
    dict(keys=["episode", "step", "env"], shape=(3,), dtype="float32"),
])
def test_meta_mismatch_on_existing_file(tmp_path: Path, compression, other: dict) -> None:
    _make_file(tmp_path, compression)
    array_logger.init(tmp_path, compression_level=compression)
    with pytest.raises(ValueError) as info:
        array_logger.register("x", **other)
    assert isinstance(info.value, MetaMismatchError)
    assert str(info.value).startswith("Meta mismatch")
    # Usable afterwards: another name, and the same name with the right spec.
    array_logger.register("y", keys=["i"], shape=(1,), dtype="int8")
    array_logger.register("x", keys=["episode", "step"], shape=(3,), dtype="float32")
    array_logger.log("x", {"episode": 10, "step": 10}, np.full(3, 10, np.float32))
    array_logger.close()
    rows = read_rows(tmp_path / "x.db")
    assert [k["episode"] for k, _ in rows] == list(range(11))
    assert [a.tolist() for _, a in rows] == [[float(i)] * 3 for i in range(11)]


def test_meta_mismatch_on_db_zst_leaves_the_files_as_they_were(tmp_path: Path) -> None:
    """A refused register must not change what is on disk: the run's only
    copy stays the compressed one, with no decompressed .db left beside it."""
    _make_file(tmp_path, 3)
    assert visible(tmp_path) == ["x.db.zst"]
    before = (tmp_path / "x.db.zst").read_bytes()
    with array_logger.Logger(tmp_path, 3) as lg:
        with pytest.raises(MetaMismatchError):
            lg.register("x", keys=["episode", "step"], shape=(4,), dtype="float32")
    assert visible(tmp_path) == ["x.db.zst"]
    assert (tmp_path / "x.db.zst").read_bytes() == before


# --- log -------------------------------------------------------------------------

@pytest.fixture
def logger_x(tmp_path: Path):
    array_logger.init(tmp_path, compression_level=None)
    array_logger.register("x", keys=["episode", "step"], shape=(10, 5), dtype="float32")
    yield tmp_path
    array_logger.close()


def test_shape_mismatch_message_names_both_shapes(logger_x: Path) -> None:
    with pytest.raises(ValueError) as info:
        array_logger.log("x", {"episode": 0, "step": 0}, np.zeros((5, 10), np.float32))
    msg = str(info.value)
    assert msg.startswith("Shape mismatch")
    assert "(10, 5)" in msg and "(5, 10)" in msg
    with pytest.raises(ValueError, match=r"^Shape mismatch.*\(10, 5\).*\(50,\)"):
        array_logger.log("x", {"episode": 0, "step": 0}, np.zeros(50, np.float32))
    with pytest.raises(ValueError, match=r"^Shape mismatch"):
        array_logger.log("x", {"episode": 0, "step": 0}, np.zeros((1, 10, 5), np.float32))


@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "uint8", "complex64", "bool"])
def test_dtype_mismatch_no_silent_cast(logger_x: Path, dtype: str) -> None:
    # Proves README.md: "its dtype must be the registered one (`ValueError("Dtype mismatch ...")`,
    # never a silent cast)"
    with pytest.raises(ValueError) as info:
        array_logger.log("x", {"episode": 0, "step": 0}, np.zeros((10, 5), dtype))
    assert str(info.value).startswith("Dtype mismatch")
    assert "float32" in str(info.value) and np.dtype(dtype).name in str(info.value)


def test_numpy_float64_scalar_is_not_silently_cast(tmp_path: Path) -> None:
    """A numpy scalar has a dtype of its own, like an ndarray: float64 into a
    float32 registration must be refused as the 0-d array would be."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("s", keys=["i"], shape=(), dtype="float32")
        with pytest.raises(ValueError, match="^Dtype mismatch"):
            lg.log("s", {"i": 0}, np.array(0.1, dtype=np.float64))
        with pytest.raises(ValueError, match="^Dtype mismatch"):
            lg.log("s", {"i": 0}, np.int64(1))
        with pytest.raises(ValueError, match="^Dtype mismatch"):
            lg.log("s", {"i": 0}, np.float64(0.1))


def test_python_scalars_and_lists_take_the_registered_dtype(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("f", keys=["i"], shape=(3,), dtype="float32")
        lg.register("u", keys=["i"], shape=(2, 2), dtype="uint8")
        lg.register("s", keys=["i"], shape=(), dtype="int16")
        lg.register("c", keys=["i"], shape=(2,), dtype="complex64")
        lg.log("f", {"i": 0}, [0.1, 2, 3.5])
        lg.log("f", {"i": 1}, (1, 2, 3))
        lg.log("u", {"i": 0}, [[1, 2], [3, 255]])
        lg.log("s", {"i": 0}, 7)
        lg.log("s", {"i": 1}, -3)
        lg.log("c", {"i": 0}, [1 + 2j, 3])
        with pytest.raises(ValueError, match="^Shape mismatch"):
            lg.log("f", {"i": 2}, [1.0, 2.0])
        with pytest.raises(ValueError, match="^Shape mismatch"):
            lg.log("s", {"i": 2}, [1])
    f = read_rows(tmp_path / "f.db")
    assert f[0][1].tobytes() == np.array([0.1, 2, 3.5], np.float32).tobytes()
    assert f[1][1].tobytes() == np.array([1, 2, 3], np.float32).tobytes()
    assert read_rows(tmp_path / "u.db")[0][1].tobytes() == bytes([1, 2, 3, 255])
    s = read_rows(tmp_path / "s.db")
    assert [np.asarray(a).tobytes() for _, a in s] == [np.int16(7).tobytes(), np.int16(-3).tobytes()]
    c = read_rows(tmp_path / "c.db")
    assert c[0][1].tobytes() == np.array([1 + 2j, 3], np.complex64).tobytes()


def test_unknown_name(logger_x: Path) -> None:
    with pytest.raises(ValueError, match="nope"):
        array_logger.log("nope", {"episode": 0, "step": 0}, np.zeros((10, 5), np.float32))


@pytest.mark.parametrize("keys, words", [
    ({"episode": 0}, ["step"]),
    ({"step": 0}, ["episode"]),
    ({}, ["episode", "step"]),
    ({"episode": 0, "step": 0, "extra": 1}, ["extra"]),
    ({"episode": 0, "stp": 0}, ["step", "stp"]),
])
def test_missing_or_extra_keys(logger_x: Path, keys: dict, words: list) -> None:
    with pytest.raises(ValueError) as info:
        array_logger.log("x", keys, np.zeros((10, 5), np.float32))
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("value", [None, [1], {"a": 1}, object(), 2 ** 64, -(2 ** 63) - 1, np.uint64(2 ** 64 - 1),
                                   np.uint64(2 ** 63), b"bytes"])
def test_unsupported_key_values(logger_x: Path, value: object) -> None:
    with pytest.raises(ValueError):
        array_logger.log("x", {"episode": value, "step": 0}, np.zeros((10, 5), np.float32))


@pytest.mark.parametrize("args", [
    ("x", {"episode": 0, "step": 0}),
    ("x", {"episode": 0, "step": 0}, None),
    ("x", [0, 0], np.zeros((10, 5), np.float32)),
    ("x", {"episode": 0, "step": 0}, "not an array"),
])
def test_bad_log_arguments(logger_x: Path, args: tuple) -> None:
    with pytest.raises(ValueError):
        array_logger.log(*args)


def test_log_before_init_and_after_close(tmp_path: Path) -> None:
    a = np.zeros(1, np.float32)
    for call in [lambda: array_logger.log("x", {"i": 0}, a), array_logger.flush,
                 lambda: array_logger.register("x", ["i"], (1,), "float32")]:
        with pytest.raises(RuntimeError, match="init"):
            call()
    array_logger.init(tmp_path, compression_level=None)
    array_logger.register("x", ["i"], (1,), "float32")
    array_logger.log("x", {"i": 0}, a)
    array_logger.close()
    with pytest.raises(RuntimeError):
        array_logger.log("x", {"i": 1}, a)
    with pytest.raises(RuntimeError):
        array_logger.flush()
    assert len(read_rows(tmp_path / "x.db")) == 1


def test_logger_object_after_close(tmp_path: Path) -> None:
    lg = array_logger.Logger(tmp_path, None)
    lg.register("x", ["i"], (1,), "float32")
    lg.close()
    lg.close()  # idempotent
    with pytest.raises(RuntimeError):
        lg.log("x", {"i": 0}, np.zeros(1, np.float32))
    with pytest.raises(RuntimeError):
        lg.register("y", ["i"], (1,), "float32")
    with pytest.raises(RuntimeError):
        lg.flush()


def test_every_error_leaves_the_logger_usable_and_loses_nothing(tmp_path: Path) -> None:
    # Proves README.md: "Every error leaves the logger usable and loses nothing already logged."
    array_logger.init(tmp_path, compression_level=3)
    array_logger.register("x", keys=["i"], shape=(4,), dtype="int32", commit_threshold_rows=7)
    good = []
    bad_calls = [
        lambda i: array_logger.log("x", {"i": i}, np.zeros(5, np.int32)),
        lambda i: array_logger.log("x", {"i": i}, np.zeros(4, np.int64)),
        lambda i: array_logger.log("x", {"j": i}, np.zeros(4, np.int32)),
        lambda i: array_logger.log("x", {"i": i, "j": 0}, np.zeros(4, np.int32)),
        lambda i: array_logger.log("y", {"i": i}, np.zeros(4, np.int32)),
        lambda i: array_logger.register("x", ["i"], (4,), "int32"),
        lambda i: array_logger.register("../x", ["i"], (4,), "int32"),
        lambda i: array_logger.init(tmp_path),
        lambda i: array_logger.log("x", {"i": None}, np.zeros(4, np.int32)),
    ]
    for i in range(60):
        arr = np.arange(4, dtype=np.int32) * i
        array_logger.log("x", {"i": i}, arr)
        good.append(arr)
        with pytest.raises((ValueError, RuntimeError)):
            bad_calls[i % len(bad_calls)](i)
        if i == 30:
            array_logger.flush()
    array_logger.close()
    rows = read_rows(tmp_path / "x.db")
    assert [k["i"] for k, _ in rows] == list(range(60))
    assert [a.tobytes() for _, a in rows] == [g.tobytes() for g in good]


# --- reader errors ------------------------------------------------------------

def test_open_reader_missing_file(tmp_path: Path) -> None:
    for p in [tmp_path / "nope.db", tmp_path / "nope.db.zst", str(tmp_path / "nope")]:
        with pytest.raises(FileNotFoundError):
            array_logger.open_reader(p)


def test_open_reader_on_foreign_files(tmp_path: Path) -> None:
    import sqlite3

    (tmp_path / "junk.db").write_bytes(b"x" * 5000)
    with pytest.raises(CorruptFileError):
        array_logger.open_reader(tmp_path / "junk.db")
    con = sqlite3.connect(tmp_path / "other.db")
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    with pytest.raises(CorruptFileError):
        array_logger.open_reader(tmp_path / "other.db")
    (tmp_path / "garbage.db.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 50)
    with pytest.raises(CorruptFileError):
        array_logger.open_reader(tmp_path / "garbage.db.zst")


def test_truncated_db_zst_is_corrupt(tmp_path: Path, private_tmpdir: Path) -> None:
    _make_file(tmp_path, 3)
    data = (tmp_path / "x.db.zst").read_bytes()
    (tmp_path / "cut.db.zst").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError):
        array_logger.open_reader(tmp_path / "cut.db.zst")
    assert os.listdir(private_tmpdir) == []  # the partial temporary copy is gone


def test_reader_after_close(tmp_path: Path) -> None:
    _make_file(tmp_path, None)
    reader = array_logger.open_reader(tmp_path / "x.db")
    reader.close()
    reader.close()
    with pytest.raises(RuntimeError):
        list(reader.iterate())
    with pytest.raises(RuntimeError):
        reader.read_all()
    with pytest.raises(RuntimeError):
        reader.count()
