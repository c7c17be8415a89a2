"""Normalising what ``register`` accepts into what the core stores."""

from __future__ import annotations

import operator
from typing import Any, Sequence

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
