"""Progress of long exports: a bar on a terminal, plain lines otherwise.

On a terminal with tqdm installed (extra ``progress``) a tqdm bar; otherwise
(a log file, CI, a pipe) one line per 10% of the rows, so logs stay short.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, TextIO


class Progress:
    """Callable with the number of rows just written; ``close()`` at the end."""

    def __init__(self, total: int, label: str, stream: Optional[TextIO] = None) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._next_percent = 10
        if _isatty(self.stream):
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, desc=label, unit="rows", file=self.stream, leave=True)

    def __call__(self, rows: int) -> None:
        self.done += rows
        if self._bar is not None:
            self._bar.update(rows)
            return
        percent = 100 * self.done // self.total if self.total else 100
        if percent >= self._next_percent:
            print(f"{self.label}: {percent}% ({self.done}/{self.total} rows)", file=self.stream, flush=True)
            self._next_percent = (percent // 10 + 1) * 10

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


ProgressCallback = Callable[[int], None]
