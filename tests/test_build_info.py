"""What is inside the built module: SQLite from the amalgamation, zstd linked statically."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import array_logger
from array_logger import _core


def test_build_info_names_the_amalgamation_and_zstd() -> None:
    info = array_logger.build_info()
    assert info["version"] == array_logger.__version__
    assert info["sqlite"]["source"] == "amalgamation"
    assert info["sqlite"]["version"].startswith("3.")
    options = info["sqlite"]["compile_options"]
    for expected in ("THREADSAFE=2", "DQS=0", "DEFAULT_MEMSTATUS=0", "OMIT_DEPRECATED",
                     "OMIT_SHARED_CACHE", "OMIT_LOAD_EXTENSION", "LIKE_DOESNT_MATCH_BLOBS"):
        assert expected in options, (expected, options)
    assert info["zstd"]["version"].count(".") == 2


def test_extension_links_neither_libsqlite3_nor_libzstd() -> None:
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.fail("ldd is not available on this machine")
    out = subprocess.run([ldd, _core.__file__], capture_output=True, text=True, check=True).stdout
    assert "libsqlite3" not in out, out
    assert "libzstd" not in out, out


def test_extension_exports_no_sqlite_or_zstd_symbols() -> None:
    nm = shutil.which("nm")
    if nm is None:
        pytest.fail("nm is not available on this machine")
    out = subprocess.run([nm, "-D", "--defined-only", _core.__file__], capture_output=True, text=True,
                         check=True).stdout
    leaked = [line for line in out.splitlines() if " sqlite3_" in line or " ZSTD_" in line]
    assert leaked == []
