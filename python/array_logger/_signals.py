"""Commit logged rows when the process is asked to stop (SIGTERM).

Cluster schedulers send SIGTERM at the time limit; its default action ends
the process at once, without ``atexit``, so rows still in the buffer would be
lost. The handler installed here closes every open logger (commit, then
compress) and then does what the handler the program had would have done:
re-raises the signal with the default action (the process ends as the signal
asks), calls the program's own Python handler, or nothing (SIG_IGN).

Ctrl-C (SIGINT) needs no handler: Python raises KeyboardInterrupt, and the
exit handler closes open loggers. Installation happens once, from the main
thread, when the first Logger is created; pass ``handle_signals=False`` to
:class:`array_logger.Logger` / ``init`` to leave signal handling alone.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable, Optional

_installed = False
_previous: Any = None


def _on_sigterm(signum: int, frame: Any) -> None:
    from ._logger import close_all_open_loggers

    previous = _previous
    close_all_open_loggers()
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:  # SIG_DFL (or None: a handler not installed from Python): end as asked
        from ._reader import _close_open_readers

        _close_open_readers()  # the process ends: remove decompressed .db.zst copies too
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def install_sigterm_handler() -> bool:
    """Installs the handler once; returns False when it cannot (not the main thread)."""
    global _installed, _previous
    if _installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    _previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True
    return True


def previous_handler() -> Optional[Callable[..., Any]]:
    """The SIGTERM handler the program had before ours (for tests and docs)."""
    return _previous
