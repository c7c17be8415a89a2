"""Shared fixtures: a temporary working directory and a clean module-level logger."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Iterator

import pytest

import array_logger

# A shell that starts a command in the background (`cmd &` without job
# control) starts it with SIGINT ignored, and every child inherits that: the
# Ctrl-C tests' children would then never see their KeyboardInterrupt. A
# handler of this process resets to the default in each child it starts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Runs the test with tmp_path as the working directory (README examples
    use "./logs") and makes sure the module-level logger is closed afterwards."""
    monkeypatch.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        array_logger.close()


@pytest.fixture(autouse=True)
def _no_module_logger_left_open() -> Iterator[None]:
    """A test that fails half way must not leave the process-wide logger
    initialized for the next test."""
    yield
    if array_logger.get_logger() is not None:
        array_logger.close()


@pytest.fixture
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR for the reader's decompressed copies, private to the test."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    return d
