"""Progress of long exports and compressions: a bar on a terminal, plain
lines otherwise.

On a terminal with tqdm installed (extra ``progress``) a tqdm bar; otherwise
(a log file, CI, a pipe) one line per 10% of the work, so logs stay short.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, TextIO


class Progress:
    """Callable with the number of rows just written; ``close()`` at the end."""

    def __init__(self, total: int, label: str, stream: Optional[TextIO] = None, unit: str = "rows") -> None:
        self.total, self.label, self.done, self.unit = total, label, 0, unit
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._next_percent = 10
        if _isatty(self.stream):
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                scaled = unit == "bytes"  # 1.2GB/s rather than 1234567890bytes/s
                self._bar = tqdm(total=total, desc=label, unit="B" if scaled else unit, unit_scale=scaled,
                                 unit_divisor=1024, file=self.stream, leave=True)

    def __call__(self, rows: int) -> None:
        self.done += rows
        if self._bar is not None:
            self._bar.update(rows)
            return
        percent = 100 * self.done // self.total if self.total else 100
        if percent >= self._next_percent:
            print(f"{self.label}: {percent}% ({self.done}/{self.total} {self.unit})", file=self.stream, flush=True)
            self._next_percent = (percent // 10 + 1) * 10

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class BytesProgress:
    """The ``progress(name, bytes_done, bytes_total)`` callback of
    ``_core.compress_file`` (called every 64 MiB of input and at the end) as
    a :class:`Progress` in bytes, created at the first call (when the total,
    the size of the database compressed, is known)."""

    def __init__(self, label: str, stream: Optional[TextIO] = None) -> None:
        self.label, self.stream = label, stream
        self._progress: Optional[Progress] = None

    def __call__(self, name: str, done: int, total: int) -> None:
        if self._progress is None:
            self._progress = Progress(total, self.label, self.stream, unit="bytes")
        self._progress(done - self._progress.done)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


ProgressCallback = Callable[[int], None]
