"""Runs a child Python under strace and returns the file-system calls it made
on files of one directory, in order (not a test module itself).

The crash-safety of close() and of resuming a compressed run is an order of
system calls (write, fsync, rename, fsync the directory, unlink): the order is
what a crash at any moment sees, so the tests check the order itself, with no
timing involved. strace comes from Debian (scripts/test.sh installs it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from al_helpers import child_env

# open: musl calls it where the architecture has it (x86_64), glibc openat;
# "?" lets strace skip a name the architecture lacks (aarch64 has no open).
TRACED = "?open,openat,rename,renameat,renameat2,unlink,unlinkat,fsync,fdatasync"

# 1234  fsync(5</tmp/x/x.db.zst.tmp>)  = 0
# 1234  openat(AT_FDCWD</tmp/x>, "/tmp/x/x.db.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 5</tmp/x/x.db.tmp>
# 1234  open("/tmp/x/x.db.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 5</tmp/x/x.db.tmp>
# 1234  rename("/tmp/x/a", "/tmp/x/b") = 0
# 1234  renameat2(AT_FDCWD</tmp>, "/tmp/x/a", AT_FDCWD</tmp>, "/tmp/x/b", 0) = 0
# 1234  unlink("/tmp/x/x.db") = 0
_LINE = re.compile(r"^\d+\s+(?P<call>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FD_PATH = re.compile(r"^\d+<(?P<path>[^>]*)>")
# A call of one thread interrupted by another thread's call is split in two:
# 1234  fsync(5</tmp/x/x.db.zst.tmp> <unfinished ...>
# 1234  <... fsync resumed>)         = 0
_UNFINISHED = re.compile(r"^(?P<pid>\d+)\s+(?P<head>.*) <unfinished \.\.\.>$")
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. \w+ resumed>(?P<tail>.*)$")


def _joined(lines: List[str]) -> List[str]:
    """The trace with each split call made whole again, where it finished."""
    pending: Dict[str, str] = {}
    out: List[str] = []
    for line in lines:
        m = _UNFINISHED.match(line)
        if m:
            pending[m["pid"]] = f"{m['pid']}  {m['head']}"
            continue
        m = _RESUMED.match(line)
        if m and m["pid"] in pending:
            out.append(pending.pop(m["pid"]) + m["tail"])
            continue
        out.append(line)
    return out


@dataclass(frozen=True)
class Call:
    op: str           # open, rename, unlink, fsync
    path: str         # file name relative to the traced directory ("." for itself)
    to: str = ""      # rename target
    flags: str = ""   # open flags
    ok: bool = True

    def __str__(self) -> str:
        extra = f" -> {self.to}" if self.to else (f" [{self.flags}]" if self.flags else "")
        return f"{self.op} {self.path}{extra}{'' if self.ok else ' (failed)'}"


def _relative(path: str, root: str) -> Optional[str]:
    if path == root:
        return "."
    if path.startswith(root + "/"):
        return path[len(root) + 1:]
    return None


def parse(lines: List[str], root: Path) -> List[Call]:
    root_s = os.path.realpath(root)
    calls: List[Call] = []
    for line in _joined(lines):
        m = _LINE.match(line)
        if not m:
            continue
        call, args, ok = m["call"], m["args"], int(m["ret"]) >= 0
        strings = _STRING.findall(args)
        if call in ("fsync", "fdatasync"):
            fd = _FD_PATH.match(args)
            rel = _relative(fd["path"], root_s) if fd else None
            if rel is not None:
                calls.append(Call("fsync", rel, ok=ok))
        elif call in ("open", "openat") and strings:
            rel = _relative(os.path.realpath(strings[0]) if strings[0].startswith("/") else strings[0], root_s)
            if rel is not None:
                fields = args.split(", ")
                at = 1 if call == "openat" else 0   # openat's first argument is the directory
                flags = fields[at + 1] if len(fields) > at + 1 else ""
                calls.append(Call("open", rel, flags=flags, ok=ok))
        elif call.startswith("rename") and len(strings) >= 2:
            a, b = _relative(strings[0], root_s), _relative(strings[1], root_s)
            if a is not None or b is not None:
                calls.append(Call("rename", a or strings[0], b or strings[1], ok=ok))
        elif call.startswith("unlink") and strings:
            rel = _relative(strings[-1], root_s)
            if rel is not None:
                calls.append(Call("unlink", rel, ok=ok))
    return calls


def trace_child(code: str, root: Path, *args: str, timeout: float = 120) -> List[Call]:
    """Runs `code` in a child Python (argv[1] = root, then args) under strace;
    returns its calls on files under `root`. Fails on a non-zero exit."""
    out = root.parent / f"{root.name}.strace"
    cmd = ["strace", "-f", "-qq", "-y", "-s", "4096", "-e", f"trace={TRACED}", "-o", str(out),
           sys.executable, "-c", textwrap.dedent(code), str(root), *args]
    done = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    out.unlink()
    return parse(lines, root)


def index(calls: List[Call], call: Call) -> int:
    """Position of the first call equal to `call` (fails with the whole trace)."""
    for i, c in enumerate(calls):
        if c == call:
            return i
    raise AssertionError(f"{call} not in the trace:\n" + "\n".join(map(str, calls)))
