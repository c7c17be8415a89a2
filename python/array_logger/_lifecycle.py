"""The open loggers and readers of this process, and what happens to them
when the process ends.

One registry (weak references: an object the program dropped is still
garbage-collected) and one exit hook. At interpreter exit every logger still
open commits and closes (and compresses), then every reader closes, which
removes its temporary copy of a ``.db.zst``. Objects inherited through
``fork()`` are left alone: they belong to the parent.

SIGTERM: cluster schedulers send it at the time limit, and its default
action ends the process at once, without ``atexit``, so rows still in the
buffer would be lost. The handler installed here closes every open logger
(commit, then compress) and then does what the handler the program had
would have done: re-raises the signal with the default action (after
closing the readers too: the process ends), calls the program's own Python
handler, or nothing (SIG_IGN). Ctrl-C (SIGINT) needs no handler: Python
raises KeyboardInterrupt, and the exit hook closes what is open. The handler
is installed once, from the main thread, when the first Logger is created
(``handle_signals=False`` leaves signal handling alone).

This module imports nothing else from the package, so every other module
may use it without an import cycle.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from typing import Any, Callable, NamedTuple, Optional


class _Entry(NamedTuple):
    pid: int      # the process that opened it
    writer: bool  # a Logger (closed first) or a reader


_open: "weakref.WeakKeyDictionary[Any, _Entry]" = weakref.WeakKeyDictionary()
_exit_hook_installed = False
_sigterm_installed = False
_previous: Any = None


def track(obj: Any, *, writer: bool) -> None:
    """Registers an object with a ``close()`` to be closed at exit."""
    global _exit_hook_installed
    if not _exit_hook_installed:
        # Installed at the first object, i.e. after _core's own exit hook
        # (atexit runs hooks in reverse): ours runs while _core still works.
        atexit.register(close_all)
        _exit_hook_installed = True
    _open[obj] = _Entry(os.getpid(), writer)


def close_all(*, writers: bool = True, readers: bool = True) -> None:
    """Closes this process's open loggers, then its open readers."""
    pid = os.getpid()
    entries = [(obj, e) for obj, e in list(_open.items()) if e.pid == pid]
    for want_writer in (True, False):
        if not (writers if want_writer else readers):
            continue
        for obj, entry in entries:
            if entry.writer != want_writer:
                continue
            try:
                obj.close()
            except Exception as exc:  # noqa: BLE001 - report, keep closing the others
                print(f"array_logger: error closing {obj!r} at exit: {exc}", file=sys.stderr)


def _on_sigterm(signum: int, frame: Any) -> None:
    previous = _previous
    close_all(readers=False)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:  # SIG_DFL (or None: a handler not installed from Python): end as asked
        close_all(writers=False)  # the process ends: remove decompressed .db.zst copies too
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def install_sigterm_handler() -> bool:
    """Installs the handler once; returns False when it cannot (not the main thread)."""
    global _sigterm_installed, _previous
    if _sigterm_installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    _previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _sigterm_installed = True
    return True


def previous_sigterm_handler() -> Optional[Callable[..., Any]]:
    """The SIGTERM handler the program had before ours (for tests and docs)."""
    return _previous
