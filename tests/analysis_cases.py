"""Files for the analysis tests (bridges, export, stats, CLI): one per edge
case of docs/ANALYSIS.md, with the rows that were logged, so tests compare
byte for byte against what was logged (not against our own reader)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

import array_logger
from test_format1_compat import compress_format1, write_format1


@dataclass
class Case:
    name: str
    path: Path
    keys: List[str]
    shape: Tuple[int, ...]
    dtype: np.dtype
    key_rows: List[Dict[str, Any]]
    arrays: np.ndarray  # (N, *shape), exactly what was logged

    def key_column(self, k: str) -> List[Any]:
        return [row[k] for row in self.key_rows]


def _arrays(rng: np.random.Generator, n: int, shape: tuple, dtype: str) -> np.ndarray:
    dt = np.dtype(dtype)
    size = (n,) + shape
    if dt.kind == "b":
        return rng.random(size) > 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size, dtype=dt, endpoint=True)
    if dt.kind == "c":
        part = np.dtype(f"<f{dt.itemsize // 2}")
        return (rng.standard_normal(size).astype(part) + 1j * rng.standard_normal(size).astype(part)).astype(dt)
    exponent = 3 if dt.itemsize == 2 else 8  # float16 overflows beyond 65504
    out = (rng.standard_normal(size) * 10.0 ** rng.integers(-exponent, exponent, size)).astype(dt)
    flat = out.reshape(-1)
    if flat.size > 4:  # values whose text forms are tricky
        flat[:4] = [0.1, -0.0, np.finfo(dt).tiny, np.finfo(dt).max]
    return out


# name -> (keys, shape, dtype, key values per row as a function of i, compression)
SPECS: Dict[str, Tuple[List[str], tuple, str, Any, Any]] = {
    "f32_2d": (["episode", "step"], (3, 2), "float32", lambda i: {"episode": i // 7, "step": i % 7}, None),
    "scalar_f64": (["episode"], (), "float64", lambda i: {"episode": i}, None),
    "bool": (["step"], (4,), "bool", lambda i: {"step": i}, None),
    "complex64": (["step"], (2,), "complex64", lambda i: {"step": i}, None),
    "complex128_scalar": (["step"], (), "complex128", lambda i: {"step": i}, None),
    "int64": (["step"], (2,), "int64", lambda i: {"step": i}, None),
    "uint64": (["step"], (3,), "uint64", lambda i: {"step": i}, None),
    "float16": (["step"], (2, 2), "float16", lambda i: {"step": i}, None),
    "mixed_keys": (["run", "t"], (2,), "float32",
                   lambda i: {"run": [1, "two", 3.5, "007"][i % 4], "t": float(i) / 4}, None),
    "text_keys": (["agent"], (2,), "int32", lambda i: {"agent": f"agent-{i % 3}"}, None),
    "zst": (["episode", "step"], (5,), "float64", lambda i: {"episode": i // 10, "step": i % 10}, 3),
}


def make_case(root: Path, name: str, n: int = 23, seed: int = 0) -> Case:
    keys, shape, dtype, key_fn, level = SPECS[name]
    rng = np.random.default_rng(seed)
    arrays = _arrays(rng, n, shape, dtype)
    key_rows = [key_fn(i) for i in range(n)]
    d = root / name
    with array_logger.Logger(d, compression_level=level) as lg:
        lg.register(name, keys=keys, shape=shape, dtype=dtype, metadata={"case": name})
        for kv, a in zip(key_rows, arrays):
            lg.log(name, kv, a)
    path = d / (name + (".db.zst" if level else ".db"))
    assert path.exists()
    return Case(name, path, keys, shape, np.dtype(dtype), key_rows, arrays)


def make_format1_case(root: Path, n: int = 19, compressed: bool = True) -> Case:
    keys, shape, dtype = ["episode", "step"], (4,), "float32"
    rng = np.random.default_rng(1)
    arrays = rng.standard_normal((n, 4)).astype(np.float32)
    key_rows = [{"episode": i // 5, "step": i % 5} for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    db = root / "old.db"
    write_format1(db, keys, shape, dtype, [((r["episode"], r["step"]), a) for r, a in zip(key_rows, arrays)])
    path = compress_format1(db) if compressed else db
    return Case("format1", path, keys, shape, np.dtype(dtype), key_rows, arrays)


def assert_batch_equals(case: Case, keys: Dict[str, Sequence[Any]], arrays: np.ndarray,
                        select: Any = slice(None)) -> None:
    """Arrays byte-exact (dtype and shape too) and key values with their types."""
    want = case.arrays[select]
    assert arrays.dtype == want.dtype, (arrays.dtype, want.dtype)
    assert arrays.shape == want.shape, (arrays.shape, want.shape)
    assert np.ascontiguousarray(arrays).tobytes() == np.ascontiguousarray(want).tobytes()
    idx = range(len(case.key_rows))[select] if isinstance(select, slice) else np.flatnonzero(select)
    for k in case.keys:
        got = list(keys[k].tolist() if hasattr(keys[k], "tolist") else keys[k])
        expected = [case.key_rows[i][k] for i in idx]
        assert got == expected, (k, got[:5], expected[:5])
        assert [type(v) for v in got] == [type(v) for v in expected], k
