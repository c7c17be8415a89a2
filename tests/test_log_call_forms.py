"""Every unambiguous way of calling log() works, for the module function and
for Logger.log: positional and keyword arguments mixed in both orders of the
two values (the mapping is the keys, the other value is the array; README,
"Quick start"). Ambiguous calls raise TypeError naming the accepted forms."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest

import array_logger
from al_helpers import read_rows

Call = Tuple[Tuple[Any, ...], Dict[str, Any]]


def every_unambiguous_call(name: str, kv: Any, arr: Any) -> List[Call]:
    """Each way of passing (name, key_values, array) that Python would bind
    for `def log(name, key_values, array)` or `def log(name, array,
    key_values)`: name first when positional, each value positional or
    keyword, two positional values in either order."""
    calls: List[Call] = []
    for keyword_values in [(), ("key_values",), ("array",), ("key_values", "array")]:
        kwargs = {r: {"key_values": kv, "array": arr}[r] for r in keyword_values}
        values = [v for r, v in [("key_values", kv), ("array", arr)] if r not in keyword_values]
        for order in ([values, values[::-1]] if len(values) == 2 else [values]):
            calls.append(((name, *order), dict(kwargs)))
    calls.append(((), {"name": name, "key_values": kv, "array": arr}))
    calls.append(((), {"array": arr, "name": name, "key_values": kv}))
    return calls


def logged_rows(log: Callable[..., None], flush: Callable[[], None], db: Path) -> None:
    calls = every_unambiguous_call("x", {"i": 0}, np.zeros(2, np.int16))
    assert len(calls) == 7
    for i, (args, kwargs) in enumerate(calls):
        kv = {"i": i}
        arr = np.full(2, i, np.int16)
        args = tuple(kv if isinstance(a, dict) else arr if isinstance(a, np.ndarray) else a for a in args)
        kwargs = {k: kv if k == "key_values" else arr if k == "array" else v for k, v in kwargs.items()}
        log(*args, **kwargs)
    flush()
    rows = read_rows(db)
    assert [k["i"] for k, _ in rows] == list(range(len(calls)))
    assert [a.tolist() for _, a in rows] == [[i, i] for i in range(len(calls))]


def test_module_log_accepts_every_unambiguous_call_form(tmp_path: Path) -> None:
    array_logger.init(tmp_path, compression_level=None)
    array_logger.register("x", keys=["i"], shape=(2,), dtype="int16")
    logged_rows(array_logger.log, array_logger.flush, tmp_path / "x.db")
    array_logger.close()


def test_logger_log_accepts_every_unambiguous_call_form(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(2,), dtype="int16")
        logged_rows(lg.log, lg.flush, tmp_path / "x.db")


def test_the_seeds_reference_order_with_keyword_keys(tmp_path: Path) -> None:
    """The form of the report: log(name, array, key_values=kv)."""
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["episode", "step"], shape=(2,), dtype="float32")
        lg.log("x", np.array([1, 2], np.float32), key_values={"episode": 0, "step": 1})
        lg.log("x", types.MappingProxyType({"episode": 0, "step": 2}), array=np.array([3, 4], np.float32))
    rows = read_rows(tmp_path / "x.db")
    assert [(k["episode"], k["step"], a.tolist()) for k, a in rows] == [(0, 1, [1, 2]), (0, 2, [3, 4])]


ACCEPTED = "log(name, key_values, array)"


@pytest.mark.parametrize("args, kwargs", [
    (("x", {"i": 0}, np.zeros(2, np.int16), np.zeros(2, np.int16)), {}),      # a fourth argument
    (("x", {"i": 0}, np.zeros(2, np.int16)), {"array": np.zeros(2, np.int16)}),  # three values
    (("x", np.zeros(2, np.int16)), {"key_values": {"i": 0}, "array": np.zeros(2, np.int16)}),
    (("x", {"i": 0}), {"name": "x"}),                                         # two names
    (({"i": 0}, np.zeros(2, np.int16)), {"name": "x"}),                       # name must come first
    (("x", {"i": 0}, {"i": 1}), {}),                                          # two mappings: which are the keys?
    (("x",), {"key_values": {"i": 0}, "array": {"i": 1}}),
    ((), {"key_values": {"i": 0}, "array": np.zeros(2, np.int16)}),           # no name
    (("x", {"i": 0}, np.zeros(2, np.int16)), {"bogus": 1}),                   # unknown keyword
])
@pytest.mark.parametrize("which", ["module", "object"])
def test_ambiguous_or_malformed_calls_raise_type_error_naming_the_forms(tmp_path: Path, args, kwargs,
                                                                         which: str) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(2,), dtype="int16")
        array_logger.init(tmp_path / "m", compression_level=None)
        array_logger.register("x", keys=["i"], shape=(2,), dtype="int16")
        log = array_logger.log if which == "module" else lg.log
        with pytest.raises(TypeError) as info:
            log(*args, **kwargs)
        assert ACCEPTED in str(info.value)
        lg.log("x", {"i": 5}, np.full(2, 5, np.int16))  # still usable, nothing queued by the refusal
        array_logger.close()
    assert [k["i"] for k, _ in read_rows(tmp_path / "x.db")] == [5]


def test_a_missing_value_is_a_validation_error_naming_the_forms(tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, None) as lg:
        lg.register("x", keys=["i"], shape=(2,), dtype="int16")
        for args, kwargs in [(("x", np.zeros(2, np.int16)), {}), (("x",), {"key_values": {"i": 0}}),
                             (("x", {"i": 0}, None), {})]:
            with pytest.raises(array_logger.ValidationError, match="needs both key_values and array") as info:
                lg.log(*args, **kwargs)
            assert ACCEPTED in str(info.value)
