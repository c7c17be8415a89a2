"""Property test: any corruption of a valid file gives data or a clear error.

Random bytes of a small file are overwritten (hypothesis picks where and
what); the reader must either read rows or raise CorruptFileError /
ValueError / OSError — never crash or hang. Each example runs in a child
process so that a crash would be seen as such, not take the suite down.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import array_logger

CHILD = """
import sys, array_logger
try:
    with array_logger.open_reader(sys.argv[1]) as r:
        b = r.read_all()
        rows = list(r.iterate())
        assert len(rows) == len(b.arrays)
    print("read", len(rows))
except (ValueError, OSError) as exc:
    print("error", type(exc).__name__)
"""


def _pristine(directory: Path) -> bytes:
    path = directory / "x.db"
    if not path.exists():
        with array_logger.Logger(directory, compression_level=None, handle_signals=False) as lg:
            lg.register("x", keys=["i", "tag"], shape=(3, 5), dtype="float32")
            for i in range(40):
                lg.log("x", {"i": i, "tag": f"t{i % 3}"}, np.full((3, 5), i, np.float32))
    return path.read_bytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_files_read_or_raise_cleanly(tmp_path: Path, data: st.DataObject) -> None:
    original = _pristine(tmp_path)
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=64))
        damaged[at:at + len(chunk)] = chunk
    if data.draw(st.booleans()):
        damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    target = tmp_path / "damaged.db"
    target.write_bytes(bytes(damaged))
    done = subprocess.run([sys.executable, "-c", CHILD, str(target)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] in ("read", "error"), done.stdout
