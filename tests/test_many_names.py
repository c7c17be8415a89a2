"""Thousands of names under the common limit of 1,024 open files (README,
"Many names"; docs/DESIGN.md, "Open files"): one lock file per root instead
of one per name, a bounded pool of open databases that closes the least
recently used ones and reopens them on demand, and the soft limit raised to
the hard one when a Logger is created."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import array_logger
from al_helpers import child_env

NAMES = 2000
ROUNDS = 3

CHILD = """
    import os, resource, sys, numpy as np, array_logger
    root, names, rounds, comp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    width = int(sys.argv[5])
    fds_before = len(os.listdir("/proc/self/fd"))
    # synchronous="off": this test is about descriptors, and 2,000 files
    # created and closed would otherwise wait for ~10,000 fsyncs.
    lg = array_logger.Logger(root, None if comp == "none" else int(comp), synchronous="off",
                             handle_signals=False)
    print("soft_limit=%d" % resource.getrlimit(resource.RLIMIT_NOFILE)[0], flush=True)
    for n in range(names):
        lg.register(f"n{n}", keys=["round"], shape=(width,), dtype="int32", commit_threshold_rows=2)
    for r in range(rounds):            # every name at every step: the worst order for a pool
        for n in range(names):
            row = np.zeros(width, np.int32)
            row[:2] = (n, r)
            lg.log(f"n{n}", {"round": r}, row)
    print("fds_while_logging=%d" % len(os.listdir("/proc/self/fd")), flush=True)
    lg.close()
    print("fds_left_after_close=%d" % (len(os.listdir("/proc/self/fd")) - fds_before), flush=True)
"""


def limit_open_files(soft: int, hard: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return apply


def run_limited(root: Path, soft: int, hard: int, names: int, comp: str = "none", width: int = 2) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(root), str(names), str(ROUNDS), comp,
                           str(width)],
                          env=child_env(), capture_output=True, text=True, timeout=600,
                          preexec_fn=limit_open_files(soft, hard))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {k: int(v) for k, v in (line.split("=") for line in proc.stdout.splitlines())}


def check_round_trip(root: Path, names: int, compressed: bool, width: int = 2) -> None:
    for n in range(names):
        assert (root / (f"n{n}.db.zst" if compressed else f"n{n}.db")).exists()
        with array_logger.open_reader(root / f"n{n}.db") as reader:
            batch = reader.read_all()
        assert batch.keys["round"].tolist() == list(range(ROUNDS)), n
        assert batch.arrays[:, :2].tolist() == [[n, r] for r in range(ROUNDS)], n
        assert batch.arrays.shape == (ROUNDS, width) and not batch.arrays[:, 2:].any(), n
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # no lock file left


def hard_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@pytest.mark.skipif(hard_limit() != resource.RLIM_INFINITY and hard_limit() < 1024,
                    reason="the hard limit is below 1024 here")
def test_two_thousand_names_under_a_hard_and_soft_limit_of_1024(tmp_path: Path) -> None:
    out = run_limited(tmp_path, 1024, 1024, NAMES)
    assert out["soft_limit"] == 1024
    assert out["fds_while_logging"] < 1024
    assert out["fds_left_after_close"] == 0  # every database and the lock file closed
    check_round_trip(tmp_path, NAMES, compressed=False)


def test_many_names_compressed_under_a_small_limit(tmp_path: Path) -> None:
    """300 names under a limit of 256: more names than the pool keeps open,
    and more files than close may compress at once."""
    out = run_limited(tmp_path, 256, 256, 300, comp="3")
    assert out["fds_while_logging"] < 256 and out["fds_left_after_close"] == 0
    check_round_trip(tmp_path, 300, compressed=True)


def test_many_big_row_names_under_a_small_limit(tmp_path: Path) -> None:
    """Rows over 32 KiB are written with a rollback journal (docs/DESIGN.md,
    "Journal modes"): the pool closes and reopens those databases too, and a
    reopened one keeps its journal mode and its transaction cap."""
    width = 9000  # 36,000 bytes per row
    out = run_limited(tmp_path, 256, 256, 80, width=width)
    assert out["fds_while_logging"] < 256 and out["fds_left_after_close"] == 0
    check_round_trip(tmp_path, 80, compressed=False, width=width)
    with array_logger.open_reader(tmp_path / "n0.db") as reader:
        assert reader.meta["write_journal"] == "rollback"


@pytest.mark.skipif(hard_limit() != resource.RLIM_INFINITY and hard_limit() <= 1024,
                    reason="needs a hard limit above 1024 to show the soft one raised")
def test_the_soft_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    hard = min(hard_limit(), 4096) if hard_limit() != resource.RLIM_INFINITY else 4096
    out = run_limited(tmp_path, 1024, hard, 10)
    assert out["soft_limit"] == hard
    check_round_trip(tmp_path, 10, compressed=False)
