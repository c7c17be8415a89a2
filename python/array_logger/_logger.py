"""The object API: :class:`Logger`, one per run, usable as a context manager."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple

from . import _checkpoint, _core, _lifecycle
from ._run_status import RunRecord
from ._shard import shard_text
from ._spec import normalize_dtype, normalize_keys, normalize_shape, normalize_stream_options

_progress_log = logging.getLogger("array_logger")


def _log_close_progress(name: str, done: int, total: int) -> None:
    # Default close_progress: long compressions (level 22 on GBs) report on
    # the "array_logger" logger at INFO, every 64 MiB of input.
    if total:
        _progress_log.info("compressing %s.db: %d%% of %.1f MiB", name, 100 * done // total, total / 2**20)


class Logger(_core.Logger):
    """Logs numpy arrays into ``{root_path}/{name}.db``, one SQLite file per name.

    ``log`` copies the array into a bounded buffer and returns; a background
    thread inserts and commits the rows. Rows are committed at the latest every
    ``commit_threshold_rows`` rows or ``commit_threshold_seconds`` seconds, on
    :meth:`flush`, on :meth:`close` and at interpreter exit.

    Args:
        root_path: directory for the database files (created if missing).
        compression_level: zstd level 1..22 used at close to turn each ``.db``
            into ``.db.zst``; ``None`` keeps plain ``.db`` files.
        synchronous: SQLite ``synchronous`` while writing: ``"normal"``
            (default; survives a killed process, may lose the last commits on
            power loss), ``"full"`` or ``"off"`` (fastest; a killed process
            still loses nothing committed, a power loss may corrupt).
        buffer_bytes: memory for rows waiting for the writer thread; ``log``
            blocks while it is full.
        compression_mode: how close() compresses. ``"adaptive"`` (default):
            the level is a size target and an effort ceiling; 4 MiB segments
            on every core, each with the cheapest zstd parameters within 2%
            of the level's output on a sample, segments compressed during the
            run reused; the ``.db.zst`` is one zstd stream of several frames
            and a seek table. ``"plain"``: one zstd frame of the whole file at
            exactly ``compression_level``, as array_logger 2.0 wrote it
            (docs/DESIGN.md, "Close").
        compression_workers: zstd threads at close (-1: one per core).
        close_progress: optional ``callback(name, bytes_done, bytes_total)``
            called during close-time compression (every 64 MiB); by default
            progress goes to the ``array_logger`` logger at INFO level.
        handle_signals: on SIGTERM, close open loggers (commit + compress)
            before the signal takes its course (see ``_lifecycle.py``; chains
            to the program's own handler).
        throughput_mode: ``False`` (default) keeps the loss bound: at every
            moment all rows of a name are committed except at most the last
            ``2 * commit_threshold_rows`` logged (and those logged in the last
            ``commit_threshold_seconds``); ``log`` waits for the writer thread
            rather than fall further behind. ``True`` lets ``log`` run ahead of
            the writer by up to ``buffer_bytes`` of rows: faster when the loop
            outruns SQLite, but a ``kill -9`` may lose that whole buffer
            (docs/DURABILITY.md).
        shard: make every name this logger registers a *sharded* name: its
            rows go to ``{root}/{name}.shards/{shard}.db``, one file per
            writer, so many processes (MPI ranks, Slurm tasks, pool workers)
            log the same names at once without waiting for each other. An
            int, a str (a plain file name) or ``"auto"`` (the MPI / Slurm /
            torchrun rank from the environment, else host + pid; see
            ``array_logger._shard``). Every shard of a name must have the
            same keys, shape and dtype (``MetaMismatchError`` naming the first
            shard otherwise). Read them back as one with
            :func:`array_logger.open_dataset` (docs/SCALING.md). ``None``
            (default): one file per name, one writer at a time.
        run_metadata: JSON-serialisable mapping stored in this writer's run
            record (``{root}/.array_logger.runs/``, shown by ``array-logger ls``);
            giving it turns the record on.
        record_run: keep that run record (host, pid, start/end, argv,
            versions, git commit, status running/finished/crashed). Default
            ``None``: on for a sharded logger (or with ``run_metadata``), off
            otherwise, so that a root logged the seed library's way holds
            exactly the files it always held (scripts list roots and open
            every entry; docs/SCALING.md, "Run status").

    Example:
        >>> import numpy as np, array_logger, tempfile
        >>> with array_logger.Logger(tempfile.mkdtemp(), compression_level=None) as lg:
        ...     lg.register("loss", keys=["episode"], shape=(1,), dtype="float32")
        ...     lg.log("loss", {"episode": 0}, np.array([0.5], dtype=np.float32))
    """

    def __init__(
        self,
        root_path: "str | os.PathLike[str]",
        compression_level: Optional[int] = 22,
        *,
        synchronous: str = "normal",
        buffer_bytes: int = 16 << 20,
        compression_mode: str = "adaptive",
        compression_workers: int = -1,
        close_progress: Optional[Callable[[str, int, int], None]] = None,
        handle_signals: bool = True,
        throughput_mode: bool = False,
        shard: Any = None,
        run_metadata: Optional[Mapping[str, Any]] = None,
        record_run: Optional[bool] = None,
    ) -> None:
        if compression_level is not None and (
            isinstance(compression_level, bool) or not isinstance(compression_level, int)
        ):
            raise ValueError(f"compression_level must be an int 1..22 or None, got {compression_level!r}")
        self._shard = shard_text(shard)
        self._run: Optional[RunRecord] = None
        super().__init__(
            os.fspath(root_path),
            compression_level,
            synchronous,
            buffer_bytes,
            compression_workers,
            close_progress if close_progress is not None else _log_close_progress,
            bool(throughput_mode),
            compression_mode,
        )
        self._pid = os.getpid()
        if record_run is None:
            record_run = bool(self._shard) or run_metadata is not None
        if record_run:
            try:
                self._run = RunRecord(self.root_path, self._shard or None, run_metadata)
            except BaseException:
                super().close()  # nothing registered yet: releases the writer thread
                raise
        _lifecycle.track(self, writer=True)
        if handle_signals:
            _lifecycle.install_sigterm_handler()

    def register(
        self,
        name: str,
        keys: Sequence[str],
        shape: Any,
        dtype: Any,
        commit_threshold_rows: int = 100,
        commit_threshold_seconds: float = 60.0,
        *,
        metadata: Optional[Mapping[str, Any]] = None,
        shuffle_zstd: bool = False,
        period: Optional[int] = None,
        mode: Optional[str] = None,
        quantize: Optional[float] = None,
        value_range: Optional[Tuple[float, float]] = None,
        sparse: bool = False,
        journal: str = "auto",
    ) -> None:
        """Declares an array name: its key names, shape and dtype.

        Creates ``{name}.db``, or appends to an existing ``{name}.db`` /
        ``{name}.db.zst`` written with the same spec (``MetaMismatchError``, a
        ``ValueError``, otherwise). ``metadata`` (JSON-serialisable) is stored
        in the file's meta table. ``shuffle_zstd`` stores each array
        byte-shuffled and zstd-compressed (smaller files for smooth float data).
        ``journal`` (``"auto"``, ``"wal"``, ``"rollback"``) chooses how a new
        file is journaled while written (docs/DESIGN.md, "Journal modes");
        ``"auto"`` takes a rollback journal for rows over 32 KiB. A resumed
        file keeps the mode it was created with.

        Long simulations (README, "Long simulations"):

        - ``period=N, mode="state" | "sum" | "mean" | "min" | "max"``: ``log``
          feeds every step, the core accumulates, and one row is written per
          ``N`` steps, keyed by the period's first key values plus ``steps``
          (steps covered) and ``partial`` (1 for the open period written by
          ``flush``/``close``/``checkpoint``). Sums are float64 for float
          input, int64 (uint64) for ints; means float64.
        - ``quantize=STEP, value_range=(lo, hi)``: float32/float64 values are
          stored as ``round(x / STEP)`` in the smallest integer type holding
          the range (default range: that of int32); read back within
          ``STEP / 2``. A value outside the range raises at ``log``.
        - ``sparse=True``: rows are stored as the indices and values of their
          non-zero elements (read dense, or with ``iterate_sparse``).

        Example:
            >>> lg.register("energy", keys=["sweep"], shape=(), dtype="float64", period=100, mode="mean")  # doctest: +SKIP
            >>> lg.register("spins", keys=["sweep"], shape=(64, 64), dtype="float32", quantize=1e-3,
            ...             value_range=(-1, 1), sparse=True)  # doctest: +SKIP
        """
        if not isinstance(name, str):
            raise ValueError(f"name must be a str, got {name!r}")
        user_metadata = json.dumps(dict(metadata), sort_keys=True) if metadata is not None else ""
        key_list = normalize_keys(keys)
        stream = normalize_stream_options(period, mode, quantize, value_range, sparse)
        resume_period = _checkpoint.pending_open_period(self.root_path, name) if stream["period"] else None
        self._register(
            name,
            key_list,
            list(normalize_shape(shape)),
            normalize_dtype(dtype),
            int(commit_threshold_rows),
            float(commit_threshold_seconds),
            user_metadata,
            bool(shuffle_zstd),
            repr(key_list),  # meta `keys` in exactly the pure-Python library's text form
            resume_period=resume_period,
            **stream,
            journal=journal,
            shard=self._shard,
        )
        # A checkpoint's open period (array_logger.resume) is continued once.
        _checkpoint.forget_open_period(self.root_path, name)
        if self._run is not None:
            self._run.registered(name)

    def checkpoint(self, state: Any, *, keep_last_n: int = 3, **keys: Any) -> "_checkpoint.Checkpoint":
        """Saves ``state`` (numpy arrays and any picklable values) crash-safely
        next to the logs, with every registered name's log position at this
        moment, and keeps the newest ``keep_last_n`` checkpoints.

        Flushes first (a periodic name's open period is written as a partial
        row and saved in the checkpoint). :func:`array_logger.resume` later
        returns the newest usable checkpoint and brings every log back to its
        position. ``keys`` are saved with the state (``sweep=500``). A kill at
        any moment leaves the previous checkpoint usable. See
        docs/DURABILITY.md, "Checkpoints and resume".

        Example:
            >>> lg.checkpoint({"spins": spins, "rng": rng.bit_generator.state}, sweep=sweep)  # doctest: +SKIP
        """
        payload = _checkpoint.pickle.dumps({"state": state, "keys": dict(keys)}, protocol=_checkpoint._PICKLE_PROTOCOL)
        positions = self._checkpoint_positions()
        return _checkpoint.save(self.root_path, state, keys, positions, keep_last_n, payload=payload)

    @property
    def shard(self) -> Optional[str]:
        """This logger's shard id (as stored: text), or None when unsharded."""
        return self._shard or None

    @property
    def run_id(self) -> Optional[str]:
        """The id of this writer's run record, or None when it keeps none (``record_run``)."""
        return self._run.run_id if self._run is not None else None

    def close(self) -> None:
        """Commits everything, closes (and compresses) every file, then marks
        this writer's run record ``finished``. Idempotent."""
        try:
            super().close()
        except BaseException as exc:
            if self._run is not None and os.getpid() == self._pid:
                self._run.finish(exc)
            raise
        if self._run is not None and os.getpid() == self._pid:
            self._run.finish()

    def __del__(self) -> None:
        # Dropped without close(): close here (as the C++ destructor would,
        # just after) so that the run record says "finished", not "crashed".
        run = getattr(self, "_run", None)
        if run is not None and os.getpid() == self._pid and not self.closed:
            try:
                self.close()
            except Exception as exc:  # noqa: BLE001 - a destructor reports, never raises
                import sys

                print(f"array_logger: error while closing logger: {exc}", file=sys.stderr)

    def __enter__(self) -> "Logger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<array_logger.Logger {self.root_path!r} {state} names={self.names!r}>"

