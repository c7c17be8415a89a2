"""Cross-language round trip, driven by scripts/packaging_tests.sh.

  cross_language_check.py write ROOT ROWS [LEVEL]   Python writes ROOT/grid.db(.zst)
  cross_language_check.py read PATH ROWS            Python reads what C++ wrote
  cross_language_check.py same A.db B.db            rows and blobs identical, meta too (but created_at)

The rule for row r (shared with cpp/examples/consumer/logbook.cpp): episode
r // 10, step r % 10, a (3, 4) float32 array v[i] = r + i * 0.25.
"""

from __future__ import annotations

import sqlite3
import sys

import numpy as np

import array_logger


def row_values(r: int) -> np.ndarray:
    return (np.float32(r) + np.arange(12, dtype=np.float32) * np.float32(0.25)).reshape(3, 4)


def write(root: str, rows: int, level: "int | None") -> None:
    with array_logger.Logger(root, compression_level=level, handle_signals=False) as lg:
        lg.register("grid", keys=["episode", "step"], shape=(3, 4), dtype="float32")
        for r in range(rows):
            lg.log("grid", {"episode": r // 10, "step": r % 10}, row_values(r))


def read(path: str, rows: int) -> None:
    with array_logger.open_reader(path) as reader:
        got = list(reader.iterate())
    assert len(got) == rows, (len(got), rows)
    for r, (keys, arr) in enumerate(got):
        assert keys == {"episode": r // 10, "step": r % 10}, (r, keys)
        assert arr.dtype == np.float32 and arr.tobytes() == row_values(r).tobytes(), r
    print(f"ok {rows}")


def same(a: str, b: str) -> None:
    def content(path: str):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT episode, step, data FROM array_log ORDER BY rowid").fetchall()
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        meta.pop("created_at", None)
        return rows, meta

    ra, ma = content(a)
    rb, mb = content(b)
    assert ma == mb, (ma, mb)
    assert ra == rb, "array_log rows differ"
    print(f"identical {len(ra)} rows")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
    elif cmd == "read":
        read(sys.argv[2], int(sys.argv[3]))
    elif cmd == "same":
        same(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
