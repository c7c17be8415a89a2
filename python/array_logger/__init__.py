"""array_logger: keep the numpy arrays of every step of long experiments.

Each registered array name becomes one self-describing SQLite file
(``{root}/{name}.db``, optionally zstd-compressed to ``{name}.db.zst`` at
close), written by a C++ core on a background thread.

Example:
    >>> import numpy as np, array_logger
    >>> array_logger.init("./logs", compression_level=None)  # doctest: +SKIP
    >>> array_logger.register("loss", keys=["episode"], shape=(1,), dtype="float32")  # doctest: +SKIP
    >>> array_logger.log("loss", {"episode": 0}, np.array([0.5], dtype=np.float32))  # doctest: +SKIP
    >>> array_logger.close()  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Dict

from . import _core
from ._api import checkpoint, close, flush, get_logger, init, log, log_many, register
from ._checkpoint import Checkpoint, resume
from ._core import (
    ArrayLoggerError,
    CorruptFileError,
    MetaMismatchError,
    StateError,
    StorageError,
    ValidationError,
)
from ._logger import Logger
from ._reader import ArrayReader, Batch, open_reader
from ._run_status import read_runs
from .dataset import Dataset, open_dataset

__version__: str = _core.__version__


def build_info() -> Dict[str, Any]:
    """What this build contains: SQLite (version, amalgamation or system
    library, compile options) and zstd (version, multithreading)."""
    return json.loads(_core._build_info_json())


__all__ = [
    "ArrayLoggerError",
    "ArrayReader",
    "Batch",
    "Checkpoint",
    "Dataset",
    "CorruptFileError",
    "Logger",
    "MetaMismatchError",
    "StateError",
    "StorageError",
    "ValidationError",
    "__version__",
    "build_info",
    "checkpoint",
    "close",
    "flush",
    "get_logger",
    "init",
    "log",
    "log_many",
    "open_dataset",
    "open_reader",
    "read_runs",
    "register",
    "resume",
]
