"""The README's Metropolis Monte Carlo demo ("Long simulations"), verbatim:
killed with SIGKILL at random moments, run again each time, it ends with
every period of the energy log exactly once -- the same bytes as a run that
was never interrupted."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import array_logger
from al_helpers import child_env

README = Path(__file__).resolve().parent.parent / "README.md"


def demo_code() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Long simulations"):]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    code = next(b for b in blocks if "array_logger.resume(ROOT)" in b)
    assert "kill -9" in section[:section.index(code)]
    return code


def start(script: Path, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script)], cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_killed_and_resumed_run_logs_every_period_once(tmp_path: Path) -> None:
    script = tmp_path / "metropolis.py"
    script.write_text(demo_code(), encoding="utf-8")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir()
    killed.mkdir()
    done = subprocess.run([sys.executable, str(script)], cwd=whole, env=child_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr

    rng = random.Random(11)
    kills = 0
    for attempt in range(3):  # kill after a random progress line (every 50 sweeps), then run again
        child = start(script, killed)
        target = rng.randint(1, 12)
        try:
            for _ in range(target):
                line = child.stdout.readline()
                if not line:
                    break
            child.kill()
        finally:
            child.communicate(timeout=120)
        kills += child.returncode == -9
    assert kills >= 2
    done = subprocess.run([sys.executable, str(script)], cwd=killed, env=child_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr  # the demo's own asserts: every period exactly once

    a = array_logger.open_reader(whole / "mc_run" / "energy.db").read_all()
    b = array_logger.open_reader(killed / "mc_run" / "energy.db").read_all()
    assert b.keys["sweep"].tolist() == list(range(0, 2000, 100))
    assert b.keys["steps"].tolist() == [100] * 20 and b.keys["partial"].tolist() == [0] * 20
    assert b.arrays.tobytes() == a.arrays.tobytes()
    assert -2.0 <= b.arrays.min() and b.arrays.max() < 0  # energies per spin of a ferromagnet near T_c
