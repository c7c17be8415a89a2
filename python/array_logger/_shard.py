"""Shard ids: which file of a sharded name this process writes (docs/SCALING.md).

``Logger(root, shard=ID)`` / ``init(root, shard=ID)`` make every name the
process registers a *sharded* name: its rows go to
``{root}/{name}.shards/{ID}.db`` with a lock of its own, so any number of
processes (MPI ranks, Slurm tasks, multiprocessing workers) write the same
name at once. ``ID`` is an int, a str that is a plain file name, or
``"auto"``:

=============================================  ================================
environment                                    shard id
=============================================  ================================
``SLURM_ARRAY_TASK_ID`` (a Slurm job array)    the task id (int); with several
                                               tasks per job ``"{task}-{rank}"``
                                               zero-padded to 6 digits each
an MPI rank (``OMPI_COMM_WORLD_RANK``,         the rank (int)
``PMIX_RANK``, ``PMI_RANK``,
``MV2_COMM_WORLD_RANK``)
torchrun (``RANK`` with ``WORLD_SIZE``)        the rank (int)
``SLURM_PROCID`` (srun)                        the rank (int)
none of them                                   ``"{hostname}-{pid}"``
=============================================  ================================

A shard id is stored as text (the file name and the file's ``shard`` meta
row); one that spells an integer in canonical form (``3``, ``-1``, not
``007``) reads back as an int (:func:`shard_value`).
"""

from __future__ import annotations

import os
import re
import socket
from typing import Any, Mapping, Optional, Union

ShardId = Union[int, str]

_MPI_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")


def _int_env(env: Mapping[str, str], name: str) -> Optional[int]:
    text = env.get(name, "").strip()
    return int(text) if re.fullmatch(r"[0-9]+", text) else None


def rank_from_environment(env: Optional[Mapping[str, str]] = None) -> Optional[ShardId]:
    """The shard id the launcher's environment gives this process, or None.

    Example:
        >>> rank_from_environment({"OMPI_COMM_WORLD_RANK": "3"})
        3
        >>> rank_from_environment({"SLURM_ARRAY_TASK_ID": "7", "SLURM_NTASKS": "2", "SLURM_PROCID": "1"})
        '000007-000001'
    """
    env = os.environ if env is None else env
    rank = None
    for name in _MPI_RANK_VARS:
        rank = _int_env(env, name)
        if rank is not None:
            break
    if rank is None and "WORLD_SIZE" in env:
        rank = _int_env(env, "RANK")
    if rank is None:
        rank = _int_env(env, "SLURM_PROCID")
    task = _int_env(env, "SLURM_ARRAY_TASK_ID")
    if task is not None:
        ntasks = _int_env(env, "SLURM_NTASKS") or 1
        return task if ntasks <= 1 and not rank else f"{task:06d}-{rank or 0:06d}"
    return rank


def auto_shard_id(env: Optional[Mapping[str, str]] = None) -> ShardId:
    """``"auto"``: the launcher's rank (see the module doc), else host + pid."""
    rank = rank_from_environment(env)
    if rank is not None:
        return rank
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "host"
    return f"{host}-{os.getpid()}"


def shard_text(shard: Any) -> str:
    """The shard option as the core takes it: ``""`` for no shard, else the id's text.

    Raises ValueError for anything but None, an int, a str or ``"auto"``
    (the core refuses a str that is not a plain file name).
    """
    if shard is None:
        return ""
    if isinstance(shard, str) and shard == "auto":
        shard = auto_shard_id()
    if isinstance(shard, bool) or not isinstance(shard, (int, str)):
        if hasattr(shard, "__index__") and not isinstance(shard, bool):
            shard = int(shard.__index__())  # numpy integers
        else:
            raise ValueError(f"shard must be an int, a str or 'auto', got {shard!r}")
    text = str(shard)
    if not text:
        raise ValueError("shard must not be empty")
    return text


def shard_value(text: str) -> ShardId:
    """A stored shard id back as the value rows carry: canonical integers as int.

    Example:
        >>> shard_value("3"), shard_value("007"), shard_value("node1-42")
        (3, '007', 'node1-42')
    """
    return int(text) if _CANONICAL_INT.match(text) else text


def shard_order(value: ShardId) -> tuple:
    """Sort key of shards in a dataset: integers first, numerically, then text."""
    return (0, value, "") if isinstance(value, int) else (1, 0, value)
