"""Checkpoints consistent with the log (placeholder until the full module)."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

_pending: Dict[Tuple[str, str], Any] = {}


def pending_open_period(root: str, name: str) -> Optional[Any]:
    return _pending.get((os.path.abspath(root), name))


def forget_open_period(root: str, name: str) -> None:
    _pending.pop((os.path.abspath(root), name), None)
