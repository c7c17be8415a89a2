"""Smoke test of an installed wheel: log, compress, read back (cibuildwheel's
test-command and scripts/packaging_tests.sh)."""

import os
import tempfile

import numpy as np

import array_logger

root = tempfile.mkdtemp()
with array_logger.Logger(root, compression_level=3, handle_signals=False) as lg:
    lg.register("x", keys=["i"], shape=(2, 3), dtype="float64")
    for i in range(100):
        lg.log("x", {"i": i}, np.full((2, 3), i, dtype=np.float64))
assert os.listdir(root) == ["x.db.zst"], os.listdir(root)
with array_logger.open_reader(os.path.join(root, "x.db")) as r:
    b = r.read_all()
assert b.arrays.shape == (100, 2, 3) and (b.arrays[:, 0, 0] == np.arange(100)).all()
info = array_logger.build_info()
print("wheel smoke ok", array_logger.__version__, "sqlite", info["sqlite"]["version"], info["sqlite"]["source"])
