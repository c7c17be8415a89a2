"""Normalising what ``register`` accepts into what the core stores."""

from __future__ import annotations

import math
import operator
from typing import Any, Dict, Optional, Sequence

import numpy as np


def normalize_shape(shape: Any) -> tuple[int, ...]:
    """Any sequence of ints (tuple, list, ``torch.Size``) or a single int -> tuple of ints.

    Only the form is checked here; the values (no negative dimension, at most
    32, a row that fits in memory) are checked once, by the core's
    ``validate_spec``, which raises ``ValidationError`` (a ``ValueError``)."""
    if isinstance(shape, (int, np.integer)):
        return (operator.index(shape),)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError as exc:
        raise ValueError(f"shape must be a sequence of ints, got {shape!r}") from exc
    return dims


def normalize_dtype(dtype: Any) -> str:
    """A dtype string, numpy dtype or scalar type, or torch dtype -> numpy dtype name."""
    text = str(dtype)
    if text.startswith("torch."):  # torch.float32 -> "float32", torch.bool -> "bool"
        dtype = text[len("torch."):]
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype {dtype!r} is not a numpy dtype") from exc
    if dt.byteorder == ">":
        dt = dt.newbyteorder("<")
    return dt.name


def normalize_keys(keys: Sequence[str]) -> list[str]:
    """A list of key names; a single string is rejected as ambiguous."""
    if isinstance(keys, (str, bytes)):
        raise ValueError(f"keys must be a list of names, got the string {keys!r} (did you mean [{keys!r}]?)")
    out = list(keys)
    for k in out:
        if not isinstance(k, str):
            raise ValueError(f"key names must be str, got {k!r}")
    return out


PERIOD_MODES = ("state", "sum", "mean", "min", "max")
# quantize without value_range: the values of an int32 (docs/FORMAT.md 5.4).
_INT32_STEPS = (-(2**31), 2**31 - 1)


def normalize_stream_options(
    period: Optional[int], mode: Optional[str], quantize: Optional[float], value_range: Any, sparse: Any
) -> Dict[str, Any]:
    """register's long-simulation options -> the core's ``_register`` keywords."""
    out: Dict[str, Any] = {"period": 0, "period_mode": "state", "quantize_step": None,
                           "quantize_min": 0.0, "quantize_max": 0.0, "sparse": bool(sparse)}
    if not isinstance(sparse, (bool, np.bool_)):
        raise ValueError(f"sparse must be True or False, got {sparse!r}")
    if period is not None:
        if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
            raise ValueError(f"period must be an int >= 1 (steps per row), got {period!r}")
        out["period"] = int(period)
        out["period_mode"] = "state" if mode is None else mode
        if out["period_mode"] not in PERIOD_MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, PERIOD_MODES))}, got {mode!r}")
    elif mode is not None:
        raise ValueError(f"mode={mode!r} needs period=N (the steps each row covers)")
    if quantize is not None:
        if isinstance(quantize, bool) or not isinstance(quantize, (int, float, np.integer, np.floating)):
            raise ValueError(f"quantize must be a positive number (the step), got {quantize!r}")
        step = float(quantize)
        if not (step > 0 and math.isfinite(step)):
            raise ValueError(f"quantize must be a positive finite step, got {quantize!r}")
        if value_range is None:
            lo, hi = _INT32_STEPS[0] * step, _INT32_STEPS[1] * step
        else:
            try:
                lo, hi = (float(v) for v in value_range)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"value_range must be (lo, hi), got {value_range!r}") from exc
        out.update(quantize_step=step, quantize_min=lo, quantize_max=hi)
    elif value_range is not None:
        raise ValueError("value_range needs quantize=STEP")
    return out
