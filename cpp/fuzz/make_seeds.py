"""Seed corpora for the fuzzers, made by array_logger itself: one small file
per (shape, dtype), whose first blob seeds fuzz_blob_header and whose meta
values (shape, keys, ...) seed fuzz_meta. So the seeds are what the library
writes, with no second encoder of the blob header here.

    python cpp/fuzz/make_seeds.py OUTDIR     (writes OUTDIR/blob/*, OUTDIR/meta/*)
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np

import array_logger

FILES = {  # name: (keys, shape, dtype)
    "grid": (["episode", "step"], (10, 5), "float32"),
    "scalar": (["i"], (), "float64"),
    "bytes": (["i"], (3,), "uint8"),
    "cube": (["it's", "a\x85\u200b\U0001f600"], (2, 2, 2), "complex128"),
}


def main(out: Path) -> None:
    (out / "blob").mkdir(parents=True, exist_ok=True)
    (out / "meta").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as root:
        with array_logger.Logger(root, compression_level=None, handle_signals=False) as lg:
            for name, (keys, shape, dtype) in FILES.items():
                lg.register(name, keys, shape, dtype)
                lg.log(name, {k: 1 for k in keys}, np.ones(shape, dtype))
        for name in FILES:
            con = sqlite3.connect(Path(root) / f"{name}.db")
            (out / "blob" / name).write_bytes(con.execute("SELECT data FROM array_log").fetchone()[0])
            for key, value in con.execute("SELECT key, value FROM meta"):
                (out / "meta" / f"{name}_{key}").write_text(value, encoding="utf-8")
            con.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
