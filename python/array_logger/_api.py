"""The module-level API of the pure-Python array_logger: init / register / log /
close (+ flush), unchanged (README.md, "Quick start").

One process-wide :class:`~array_logger.Logger` lives behind these functions.
It is kept in one place, the compiled module (``_core._get_default()``), so
that ``log`` goes straight to the C++ core.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Sequence

from . import _checkpoint, _core
from ._logger import Logger


def init(
    root_path: "str | os.PathLike[str]",
    compression_level: Optional[int] = 22,
    **options: Any,
) -> Logger:
    """Starts logging into ``root_path``. Call once per run.

    ``compression_level`` 1..22 compresses each file with zstd at ``close()``;
    ``None`` keeps plain ``.db`` files. Further keyword options are those of
    :class:`Logger`. Raises ``RuntimeError("Logger already initialized")`` when
    called again before :func:`close`.

    Example:
        >>> array_logger.init(root_path="./logs", compression_level=22)  # doctest: +SKIP
    """
    current = get_logger()
    if current is not None and not current.closed:
        raise _core.StateError("Logger already initialized")
    logger = Logger(root_path, compression_level, **options)
    _core._set_default(logger)
    return logger


def _require() -> Logger:
    logger = get_logger()
    if logger is None or logger.closed:
        raise _core.StateError("array_logger is not initialized: call array_logger.init() first")
    return logger


def register(
    name: str,
    keys: Sequence[str],
    shape: Any,
    dtype: Any,
    commit_threshold_rows: int = 100,
    commit_threshold_seconds: float = 60.0,
    **options: Any,
) -> None:
    """Declares an array name (see :meth:`Logger.register`).

    Example:
        >>> array_logger.register("q_values", keys=["episode", "step"], shape=(10, 5), dtype="float32")  # doctest: +SKIP
    """
    _require().register(name, keys, shape, dtype, commit_threshold_rows, commit_threshold_seconds, **options)


# log(name, key_values, array), log(name, array, key_values) or keywords:
# one C++ call, no Python frame in between.
log: Callable[..., None] = _core._log_default


def log_many(name: str, key_values: Mapping[str, Sequence[Any]], arrays: Any) -> None:
    """Logs N rows in one call: ``arrays`` of shape ``(N, *shape)`` and
    ``key_values`` mapping each key to N values. Same checks as :func:`log`.

    Example:
        >>> array_logger.log_many("loss", {"episode": [0, 1, 2]}, np.zeros((3, 1), np.float32))  # doctest: +SKIP
    """
    _require().log_many(name, key_values, arrays)


def checkpoint(state: Any, *, keep_last_n: int = 3, **keys: Any) -> "_checkpoint.Checkpoint":
    """Saves ``state`` with the logs' positions (see :meth:`Logger.checkpoint`).

    Example:
        >>> array_logger.checkpoint({"spins": spins, "rng": rng.bit_generator.state}, sweep=sweep)  # doctest: +SKIP
    """
    return _require().checkpoint(state, keep_last_n=keep_last_n, **keys)


def flush() -> None:
    """Waits until every row logged so far is committed to disk."""
    _require().flush()


def close() -> None:
    """Commits everything, closes the files and compresses them (if enabled).

    Afterwards :func:`init` may be called again. Closing when not initialized
    does nothing.
    """
    logger = get_logger()
    _core._set_default(None)
    if logger is not None:
        logger.close()


def get_logger() -> Optional[Logger]:
    """The logger behind the module functions, or None before :func:`init`."""
    return _core._get_default()  # type: ignore[return-value]
