"""Run status: who wrote a root, with what, and whether it is still writing.

A :class:`~array_logger.Logger` (a *writer*) that records its run (a sharded
one, or one given ``run_metadata=`` or ``record_run=True``; docs/SCALING.md
says why not every one) keeps one small JSON record in
``{root}/.array_logger.runs/{run_id}.json``: host, pid, start and end
time, argv, the versions of Python, numpy and array_logger, the git commit
when the program runs inside a git work tree, the user's ``run_metadata``,
its shard id, the names it registered, and a status.

The record is replaced whole (temporary file, fsync, rename, fsync of the
directory), so a crash leaves the previous complete version. While it writes,
the Logger holds an exclusive ``flock`` on ``{run_id}.lock`` beside it (taken
before the first record exists, released and removed at close). The stored
status is ``running`` until ``close()`` writes ``finished``; a reader reports
``crashed`` for a record that still says ``running`` when its lock is free
(the kernel drops it when the process dies, SIGKILL included) or, on the
same host, its pid is gone. ``array-logger ls`` shows every record.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional

RUNS_DIR = ".array_logger.runs"
_sequence = itertools.count()  # several Loggers of one process in one second


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def git_commit(start: Optional[str] = None) -> Optional[str]:
    """The commit checked out in the git work tree holding ``start`` (default:
    the current directory), read from ``.git`` without running git; None
    outside a work tree."""
    d = os.path.abspath(start or os.getcwd())
    while True:
        dotgit = os.path.join(d, ".git")
        if os.path.exists(dotgit):
            break
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    try:
        if os.path.isfile(dotgit):  # a worktree or submodule: "gitdir: PATH"
            with open(dotgit) as f:
                gitdir = f.read().strip().split("gitdir:", 1)[1].strip()
            gitdir = os.path.join(d, gitdir)
        else:
            gitdir = dotgit
        with open(os.path.join(gitdir, "HEAD")) as f:
            head = f.read().strip()
        if not head.startswith("ref:"):
            return head
        ref = head[4:].strip()
        common = gitdir
        if os.path.isfile(os.path.join(gitdir, "commondir")):
            with open(os.path.join(gitdir, "commondir")) as f:
                common = os.path.join(gitdir, f.read().strip())
        for base in (gitdir, common):
            p = os.path.join(base, ref)
            if os.path.isfile(p):
                with open(p) as f:
                    return f.read().strip()
        with open(os.path.join(common, "packed-refs")) as f:
            for line in f:
                if line.rstrip().endswith(" " + ref):
                    return line.split()[0]
    except (OSError, IndexError):
        return None
    return None


def _write_atomically(path: str, record: Mapping[str, Any], durable: bool) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        fd = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class RunRecord:
    """The record of one writer; created by ``Logger.__init__``."""

    def __init__(self, root: str, shard: Optional[str], metadata: Optional[Mapping[str, Any]]) -> None:
        import numpy

        from . import _core

        now = time.time()
        host = socket.gethostname()
        self.pid = os.getpid()
        self.run_id = (f"{datetime.fromtimestamp(now, tz=timezone.utc):%Y%m%dT%H%M%S}-{host.split('.')[0]}"
                       f"-{self.pid}-{next(_sequence)}")
        self.dir = os.path.join(root, RUNS_DIR)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, self.run_id + ".json")
        self.lock_path = os.path.join(self.dir, self.run_id + ".lock")
        # Locked before the record exists: a reader never sees "running"
        # with a free lock for a live writer.
        self._lock_fd: Optional[int] = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.record: Dict[str, Any] = {
            "run_id": self.run_id,
            "status": "running",
            "host": host,
            "pid": self.pid,
            "started_at": _utc(now),
            "ended_at": None,
            "argv": list(sys.argv),
            "cwd": os.getcwd(),
            "python": sys.version.split()[0],
            "numpy": numpy.__version__,
            "array_logger": _core.__version__,
            "git_commit": git_commit(),
            "shard": shard,
            "names": [],
            "metadata": dict(metadata) if metadata is not None else {},
        }
        json.dumps(self.record["metadata"])  # not JSON-serialisable: refuse now, not at close
        _write_atomically(self.path, self.record, durable=True)

    def registered(self, name: str) -> None:
        if name not in self.record["names"] and self._lock_fd is not None:
            self.record["names"].append(name)
            _write_atomically(self.path, self.record, durable=False)  # atomic; made durable at close

    def finish(self, error: Optional[BaseException] = None) -> None:
        """Writes the final record (``finished``), then drops and removes the lock."""
        if self._lock_fd is None or os.getpid() != self.pid:
            return
        self.record["status"] = "finished"
        self.record["ended_at"] = _utc(time.time())
        if error is not None:
            self.record["close_error"] = f"{type(error).__name__}: {error}"
        try:
            _write_atomically(self.path, self.record, durable=True)
        finally:
            fd, self._lock_fd = self._lock_fd, None
            try:
                os.unlink(self.lock_path)
            finally:
                os.close(fd)


def _lock_free(lock_path: str) -> bool:
    """Whether nobody holds the writer's lock (a shared lock taken and dropped
    at once: the writer took its exclusive one before its record existed)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def read_runs(root: "str | os.PathLike[str]") -> List[Dict[str, Any]]:
    """Every writer's record under ``root``, oldest first, with ``status``
    ``running``, ``finished`` or ``crashed`` as of now.

    Example:
        >>> for run in array_logger.read_runs("./logs"):  # doctest: +SKIP
        ...     print(run["run_id"], run["status"], run["host"], run["pid"])
    """
    d = os.path.join(os.fspath(root), RUNS_DIR)
    try:
        entries = sorted(e for e in os.listdir(d) if e.endswith(".json"))
    except FileNotFoundError:
        return []
    host = socket.gethostname()
    runs = []
    for entry in entries:
        path = os.path.join(d, entry)
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue  # removed meanwhile, or not ours
        if record.get("status") == "running":
            gone = record.get("host") == host and _pid_gone(int(record.get("pid", 0)))
            if gone or _lock_free(path[: -len(".json")] + ".lock"):
                try:  # it may have finished between the two reads
                    with open(path) as f:
                        record = json.load(f)
                except (OSError, ValueError):
                    pass
                if record.get("status") == "running":
                    record["status"] = "crashed"
        runs.append(record)
    runs.sort(key=lambda r: (r.get("started_at") or "", r.get("run_id") or ""))
    return runs
