"""Checkpoints consistent with the log: :meth:`Logger.checkpoint` and
:func:`resume` (docs/DURABILITY.md, "Checkpoints and resume"; the file
layout is docs/FORMAT.md section 11).

A checkpoint is one file, ``{root}/checkpoints/checkpoint-NNNNNNNN.alck``,
holding the user's state (pickled: numpy arrays and any picklable value),
the keys it was saved with, and every registered name's log position at
that moment (after a flush): the rowid of its last row, and a periodic
name's open period. It is written to a hidden temporary file, synced, then
renamed into place, and only then are checkpoints beyond ``keep_last_n``
removed: a kill at any moment leaves the previous checkpoint intact.

:func:`resume` takes the newest checkpoint that is complete and whose
positions the logs still reach, moves the rows each log gained after it into
``{root}/checkpoints/set_aside/`` (array_logger files of their own, readable
with :func:`~array_logger.open_reader`), and remembers the open periods so
that the next ``register`` of each periodic name continues its period.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import struct
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _core

CHECKPOINT_DIR = "checkpoints"
SET_ASIDE_DIR = "set_aside"
SUFFIX = ".alck"
MAGIC = b"ALCKPT\x00\x01"  # "ALCKPT", NUL, layout version 1
_PREFIX = "checkpoint-"
_PICKLE_PROTOCOL = 5

# (root, name) -> the open period register continues (set by resume()).
_pending: Dict[Tuple[str, str], Tuple[int, List[Any], bytes]] = {}


@dataclass(frozen=True)
class LogPosition:
    """Where one name's log stood at a checkpoint: the rowid of its last
    row (``rows``; a periodic name's partial row not included) and, for a
    periodic name, its open period ``(steps, first_keys, accumulator)``."""

    rows: int
    open_period: Optional[Tuple[int, List[Any], bytes]] = None


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint: what :meth:`Logger.checkpoint` saved.

    Attributes:
        state: the state passed to ``checkpoint`` (unpickled).
        keys: the keyword arguments passed with it (``sweep=500``).
        id: its number (1, 2, ...), increasing.
        path: its file.
        created_at: UTC time it was saved, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
        logs: ``{name: LogPosition}`` for every name registered when it was saved.
        set_aside: after :func:`resume`, ``{name: path}`` of the files that
            received the rows logged after the checkpoint (names with none
            are absent).
    """

    state: Any
    keys: Dict[str, Any]
    id: int
    path: str
    created_at: str
    logs: Dict[str, LogPosition]
    set_aside: Dict[str, str] = field(default_factory=dict)


# --- crash points ----------------------------------------------------------
# ARRAY_LOGGER_CRASH_AT=<step>[:<n>] kills the process with SIGKILL the n-th
# time it reaches the named step (as the core's crash points do), so the
# tests can kill a checkpoint or a resume at every step without timing.
_crash_plan: Optional[List[Any]] = None


def _crash_point(step: str) -> None:
    global _crash_plan
    if _crash_plan is None:
        spec = os.environ.get("ARRAY_LOGGER_CRASH_AT", "")
        name, _, nth = spec.partition(":")
        _crash_plan = [name, max(1, int(nth)) if nth.isdigit() else 1, 0]
    if not _crash_plan[0] or _crash_plan[0] != step:
        return
    _crash_plan[2] += 1
    if _crash_plan[2] == _crash_plan[1]:
        import signal

        os.write(2, f"array_logger: crash point {step}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)


# --- files -----------------------------------------------------------------
def checkpoint_dir(root: str) -> str:
    return os.path.join(root, CHECKPOINT_DIR)


def _file_name(ident: int) -> str:
    return f"{_PREFIX}{ident:08d}{SUFFIX}"


def checkpoint_ids(root: str) -> List[int]:
    """Numbers of the checkpoint files under ``root`` (complete or not), ascending."""
    try:
        entries = os.listdir(checkpoint_dir(root))
    except FileNotFoundError:
        return []
    out = []
    for entry in entries:
        if entry.startswith(_PREFIX) and entry.endswith(SUFFIX):
            digits = entry[len(_PREFIX):-len(SUFFIX)]
            if digits.isdigit():
                out.append(int(digits))
    return sorted(out)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_keys(keys: Mapping[str, Any]) -> Dict[str, Any]:
    """The keys for the manifest (informative): JSON values as they are,
    anything else (numpy scalars included) as ``.item()`` or ``repr``."""
    out: Dict[str, Any] = {}
    for k, v in keys.items():
        if hasattr(v, "item") and callable(v.item):
            try:
                v = v.item()
            except (TypeError, ValueError):
                pass
        out[k] = v if isinstance(v, (bool, int, float, str, type(None))) else repr(v)
    return out


def _encode(manifest: Dict[str, Any], payload: bytes) -> bytes:
    head = json.dumps(manifest, sort_keys=True).encode()
    body = b"".join([MAGIC, struct.pack("<Q", len(head)), head, struct.pack("<Q", len(payload))])
    digest = hashlib.sha256(body)
    digest.update(payload)
    return body + payload + digest.digest()


def save(root: str, state: Any, keys: Mapping[str, Any], positions: Sequence[Mapping[str, Any]],
         keep_last_n: int, payload: Optional[bytes] = None) -> Checkpoint:
    """Writes checkpoint ``max(id) + 1`` crash-safely, then keeps the
    newest ``keep_last_n``. ``positions``: ``Logger._checkpoint_positions()``."""
    if isinstance(keep_last_n, bool) or not isinstance(keep_last_n, int) or keep_last_n < 1:
        raise ValueError(f"keep_last_n must be an int >= 1, got {keep_last_n!r}")
    if payload is None:
        payload = pickle.dumps({"state": state, "keys": dict(keys)}, protocol=_PICKLE_PROTOCOL)
    directory = checkpoint_dir(root)
    os.makedirs(directory, exist_ok=True)
    ids = checkpoint_ids(root)
    ident = (ids[-1] if ids else 0) + 1
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    logs: Dict[str, LogPosition] = {}
    manifest_logs: Dict[str, Any] = {}
    for p in positions:
        op = p["open_period"]
        op = (int(op[0]), list(op[1]), bytes(op[2])) if op is not None else None
        logs[p["name"]] = LogPosition(int(p["rows"]), op)
        entry: Dict[str, Any] = {"rows": int(p["rows"])}
        if op is not None:
            entry["open_period"] = {"steps": op[0], "first_keys": op[1],
                                    "accumulator": base64.b64encode(op[2]).decode()}
        manifest_logs[p["name"]] = entry
    manifest = {"checkpoint": ident, "created_at": created, "array_logger_version": _core.__version__,
                "pickle_protocol": _PICKLE_PROTOCOL, "keys": _json_keys(keys), "logs": manifest_logs}
    data = _encode(manifest, payload)
    final = os.path.join(directory, _file_name(ident))
    tmp = os.path.join(directory, "." + _file_name(ident) + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        half = len(data) // 2
        while len(view) > len(data) - half:  # the first half, then a crash point, then the rest
            view = view[os.write(fd, view[:len(view) - (len(data) - half)]):]
        _crash_point("checkpoint_write")
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    _crash_point("checkpoint_rename")
    os.rename(tmp, final)
    _fsync_dir(directory)
    _crash_point("checkpoint_prune")
    _prune(root, keep_last_n)
    return Checkpoint(state=state, keys=dict(keys), id=ident, path=final, created_at=created, logs=logs)


def _prune(root: str, keep_last_n: int) -> None:
    """Removes all but the newest ``keep_last_n`` checkpoints, oldest first,
    and temporary files left by killed checkpoints."""
    directory = checkpoint_dir(root)
    removed = False
    for ident in checkpoint_ids(root)[:-keep_last_n]:
        os.unlink(os.path.join(directory, _file_name(ident)))
        removed = True
        _crash_point("checkpoint_prune_one")
    for entry in os.listdir(directory):
        if entry.startswith("." + _PREFIX) and entry.endswith(".tmp"):
            os.unlink(os.path.join(directory, entry))
            removed = True
    if removed:
        _fsync_dir(directory)


def load(path: "str | os.PathLike[str]") -> Checkpoint:
    """Reads one checkpoint file. Raises ``CorruptFileError`` when it is
    incomplete or damaged (its SHA-256 does not match)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()

    def corrupt(why: str) -> Exception:
        return _core.CorruptFileError(f"{path} is not a complete checkpoint: {why}")

    if len(data) < len(MAGIC) + 8 + 8 + 32 or not data.startswith(MAGIC):
        raise corrupt("no checkpoint header")
    if hashlib.sha256(data[:-32]).digest() != data[-32:]:
        raise corrupt("its SHA-256 does not match (truncated or damaged)")
    at = len(MAGIC)
    (n,) = struct.unpack_from("<Q", data, at)
    manifest = json.loads(data[at + 8:at + 8 + n].decode())
    at += 8 + n
    (m,) = struct.unpack_from("<Q", data, at)
    if at + 8 + m + 32 != len(data):
        raise corrupt("its lengths do not add up")
    content = pickle.loads(data[at + 8:at + 8 + m])
    logs = {}
    for name, entry in manifest["logs"].items():
        op = entry.get("open_period")
        if op is not None:
            op = (int(op["steps"]), list(op["first_keys"]), base64.b64decode(op["accumulator"]))
        logs[name] = LogPosition(int(entry["rows"]), op)
    return Checkpoint(state=content["state"], keys=content["keys"], id=int(manifest["checkpoint"]), path=path,
                      created_at=manifest["created_at"], logs=logs)


# --- resume ----------------------------------------------------------------
def _aside_path(root: str, name: str, ck: Checkpoint) -> str:
    """A new file name under checkpoints/set_aside for ``name``'s rows after ``ck``."""
    directory = os.path.join(checkpoint_dir(root), SET_ASIDE_DIR)
    base = f"{name}.after-checkpoint-{ck.id}"
    n = 1
    while True:
        path = os.path.join(directory, f"{base}.{n}.db")
        if not os.path.exists(path) and not os.path.exists(path + ".tmp"):
            return path
        n += 1


def resume(root: "str | os.PathLike[str]") -> Optional[Checkpoint]:
    """Brings the logs under ``root`` back to the latest usable checkpoint
    and returns it (``None`` when ``root`` has no checkpoint).

    Usable: complete (its SHA-256 matches) and every log it names still
    reaches its position (a power loss with ``synchronous="normal"`` may
    lose the last commits; an older checkpoint is then taken, with a
    warning). For each name of the checkpoint, the rows logged after its
    position are moved to ``{root}/checkpoints/set_aside/NAME.after-checkpoint-ID.K.db``
    (an array_logger file: ``open_reader`` reads it), and the next
    ``register`` of a periodic name continues the period that was open.
    Names registered after the checkpoint are not touched. Call it before
    the run registers its names (a name being written raises ``StateError``).
    Raises ``CorruptFileError`` when checkpoints exist but none is usable.

    Example:
        >>> ck = array_logger.resume("./logs")  # doctest: +SKIP
        >>> start = ck.state["sweep"] + 1 if ck else 0  # doctest: +SKIP
    """
    root = os.path.abspath(os.fspath(root))
    ids = checkpoint_ids(root)
    if not ids:
        return None
    problems: List[str] = []
    chosen: Optional[Checkpoint] = None
    for ident in reversed(ids):
        path = os.path.join(checkpoint_dir(root), _file_name(ident))
        try:
            ck = load(path)
        except (_core.CorruptFileError, OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            problems.append(f"checkpoint {ident}: {exc}")
            continue
        short = []
        for name, pos in ck.logs.items():
            end = _core._log_end(root, name)
            if end < pos.rows:
                short.append(f"{name} has {end} rows, the checkpoint needs {pos.rows}")
        if short:
            problems.append(f"checkpoint {ident}: " + "; ".join(short))
            continue
        chosen = ck
        break
    if chosen is None:
        raise _core.CorruptFileError(f"no usable checkpoint under {checkpoint_dir(root)}: " + " | ".join(problems))
    if problems:
        warnings.warn(f"array_logger.resume: using checkpoint {chosen.id}; newer ones are unusable: "
                      + " | ".join(problems), RuntimeWarning, stacklevel=2)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, pos in chosen.logs.items():
        aside = _aside_path(root, name, chosen)
        note = json.dumps({"from": f"{name}.db", "after_row": pos.rows, "checkpoint": chosen.id,
                           "checkpoint_file": os.path.basename(chosen.path), "set_aside_at": now}, sort_keys=True)
        _crash_point("resume_rewind")
        if _core._rewind_log(root, name, pos.rows, aside, note):
            chosen.set_aside[name] = aside
        if pos.open_period is not None:
            _pending[(root, name)] = pos.open_period
        else:
            _pending.pop((root, name), None)
    return chosen


def pending_open_period(root: str, name: str) -> Optional[Tuple[int, List[Any], bytes]]:
    """The open period :func:`resume` left for ``register`` of ``name``."""
    return _pending.get((os.path.abspath(root), name))


def forget_open_period(root: str, name: str) -> None:
    _pending.pop((os.path.abspath(root), name), None)
