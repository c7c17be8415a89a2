"""`array-logger export` streams: a file larger than the address space the
exporting process may use (RLIMIT_AS) exports to Parquet, and the output
holds every logged value. (Parquet is the export that holds the most in
memory: a row group and its compressed copy; NPZ, CSV and HDF5 write each
batch straight through.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq  # extra "arrow", installed by scripts/test.sh
import pytest

import array_logger
from al_helpers import child_env

ROW_ELEMENTS = 1 << 20  # 4 MiB float32 rows
ROWS = 144  # a 576 MiB database
LIMIT = 512 << 20  # the exporting process may map 512 MiB in total


def row(i: int) -> np.ndarray:
    return (np.arange(ROW_ELEMENTS, dtype=np.float32) * np.float32(1e-3) + np.float32(i)).reshape(1024, 1024)


@pytest.fixture
def big_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory in memory (tmpfs) when the machine has one: the test is
    about the exporter's address space, not about disk speed."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(prefix="array_logger_test_", dir=shm))
    try:
        yield d
    finally:
        shutil.rmtree(d)


def test_export_of_a_file_larger_than_rlimit_as(big_dir: Path) -> None:
    tmp_path = big_dir
    with array_logger.Logger(tmp_path, compression_level=None, synchronous="off") as lg:
        lg.register("big", keys=["step"], shape=(1024, 1024), dtype="float32")
        for i in range(ROWS):
            lg.log("big", {"step": i}, row(i))
    db = tmp_path / "big.db"
    assert db.stat().st_size > LIMIT
    code = f"""
import resource, sys
from array_logger.cli import main
resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))
try:
    bytearray({LIMIT})
    in_force = False
except MemoryError:  # the limit is in force: the whole file could not even be allocated
    in_force = True
if not in_force:
    sys.exit("RLIMIT_AS not in force")
for out in sys.argv[1:]:
    status = main(["export", {str(db)!r}, "-o", out, "--batch-rows", "4", "-q"])
    if status:
        sys.exit(status)
"""
    # Arrow's system allocator: jemalloc reserves address space up front.
    env = child_env(ARROW_DEFAULT_MEMORY_POOL="system", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "big.parquet")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    db.unlink()
    f = pq.ParquetFile(tmp_path / "big.parquet")
    assert f.metadata.num_rows == ROWS
    i = 0
    for rb in f.iter_batches(batch_size=8):
        values = rb.column(rb.schema.get_field_index("data")).storage.flatten().to_numpy()
        steps = rb.column(rb.schema.get_field_index("step")).to_pylist()
        for j, step in enumerate(steps):
            assert step == i
            assert values[j * ROW_ELEMENTS:(j + 1) * ROW_ELEMENTS].tobytes() == row(i).tobytes()
            i += 1
    assert i == ROWS
