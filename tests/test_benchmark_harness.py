"""The benchmark harness runs and every read-back checksum matches (--quick).

No timing is asserted here: speed is measured by benchmarks/run.py itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_quick_run_reads_back_exactly_what_was_written(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS_quick.md"
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--quick", "--peers", "array_logger,baseline,raw", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = out.read_text(encoding="utf-8")
    assert "All read-backs matched the expected checksums." in report
    assert "| **MISMATCH** |" not in report
    progress = done.stdout + done.stderr
    assert "CHECKSUM MISMATCH" not in progress
    # Every workload ran for array_logger, compressed variants included.
    for workload in ("S", "M", "L", "XL", "C@none", "C@3", "C@22", "C@22plain", "C@shuffle", "C1M@22", "T"):
        assert f"array_logger {workload} ... " in progress, workload
