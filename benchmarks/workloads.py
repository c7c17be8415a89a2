"""The benchmark's workloads: what is logged (shapes, counts, content), the
inputs generated before timing, and the checksums every read-back is
compared with."""
from __future__ import annotations

import numpy as np

NAME = "arr"               # registered array name (file name for the loggers)
KEYS = ["episode", "step"]
SPE = 100                   # steps per episode
POOL = 100                  # distinct pre-generated arrays for non-C workloads
MASK64 = (1 << 64) - 1
ALL_WORKLOADS = ["S", "M", "L", "XL", "C", "C1M", "T"]
C_LEVELS = [None, 3, 22]

# name -> (count, shape, content)
WORKLOADS = {
    "S": (1_000_000, (1,), "random"),
    "M": (100_000, (10, 5), "random"),
    "L": (20_000, (100, 50), "random"),
    "XL": (1_000, (512, 512), "random"),
    "C": (100_000, (10, 5), "randomwalk"),
    "C1M": (1_000_000, (10, 5), "randomwalk"),  # C at 1M rows, level 22 only
}
# T: the training script of issue 9 (measure.run_training_case): 3 agents x (50, 10)
# float32 random-walk Q-values and a (1,) loss per step, 100 episodes x 50
# steps, a (64, 32) weight matrix every 10 episodes, one filtered read; all
# defaults (compression_level=22).
T_EPISODES, T_STEPS, T_AGENTS = 100, 50, 3


def case_spec(workload, quick):
    """'S' / 'C@22' -> (base, count, shape, content, level)."""
    base, _, lvl = workload.partition("@")
    if base not in WORKLOADS:
        raise SystemExit(f"unknown workload {workload!r}")
    count, shape, content = WORKLOADS[base]
    if quick:
        count //= 100
    # "shuffle": no close-time compression, array_logger's per-blob
    # byte-shuffle + zstd filter instead. "22plain": level 22 with
    # compression_mode="plain" (one frame of the whole file, as 2.0.0 did).
    lvl = lvl.removesuffix("plain")
    level = None if lvl in ("", "none", "None") else ("shuffle" if lvl == "shuffle" else int(lvl))
    return base, count, shape, content, level


def case_mode(workload):
    """compression_mode of a case: 'plain' for the C@22plain-style cases."""
    return "plain" if workload.endswith("plain") else "adaptive"


def make_inputs(count, shape, content, seed=12345):
    """Episode lists of pre-generated float32 arrays, touched (prefaulted).

    Returns (episodes, spe): log row (ep, st) uses episodes[ep % len][st].
    """
    spe = min(SPE, count)
    assert count % spe == 0
    rng = np.random.default_rng(seed)
    if content == "random":
        n_distinct = spe
        data = rng.random((n_distinct,) + tuple(shape), dtype=np.float32)
    elif content == "randomwalk":
        n_distinct = count  # unique content, so compressors cannot cheat
        m = int(np.prod(shape))
        data = np.empty((count, m), dtype=np.float32)
        acc = 0.0
        step_rows = max(1, (1 << 20) // m)
        for i in range(0, count, step_rows):  # chunked: no big float64 temporary
            inc = rng.standard_normal((min(step_rows, count - i), m)) * 0.01
            walk = np.cumsum(inc.ravel()) + acc
            acc = float(walk[-1])
            data[i:i + len(inc)] = walk.reshape(inc.shape)
        data = data.reshape((count,) + tuple(shape))
    else:
        raise ValueError(content)
    # prefault: write every page once more (fresh pages are slow on first touch)
    data += 0
    arrays = [data[i] for i in range(n_distinct)]
    episodes = [arrays[e * spe:(e + 1) * spe] for e in range(n_distinct // spe)]
    return episodes, spe, data


def _row_weight_sums(flat_u32_rows):
    """Position-weighted uint64 sums (mod 2**64) of rows of uint32 words."""
    n, m = flat_u32_rows.shape
    pos = np.arange(1, m + 1, dtype=np.uint64)
    out = np.empty(n, dtype=np.uint64)
    chunk = max(1, (4 << 20) // max(m, 1))
    with np.errstate(over="ignore"):
        for i in range(0, n, chunk):
            blk = flat_u32_rows[i:i + chunk].astype(np.uint64)
            blk *= pos
            out[i:i + chunk] = blk.sum(axis=1, dtype=np.uint64)
    return out


def _weights(ep, st):
    ep = np.asarray(ep).astype(np.uint64)
    st = np.asarray(st).astype(np.uint64)
    with np.errstate(over="ignore"):
        return ep * np.uint64(1_000_003) + st + np.uint64(1)


def checksum_bulk(ep, st, data):
    """Checksum of all rows: sum_i weight(keys_i) * possum(bits(data_i)) mod 2**64.

    Exact integer arithmetic on the float32 bit patterns: order-independent,
    detects wrong values, wrong element order and wrong key/array pairing."""
    n = len(ep)
    if n == 0:
        return "0:0000000000000000"
    data = np.ascontiguousarray(data, dtype=np.float32).reshape(n, -1)
    rs = _row_weight_sums(data.view(np.uint32))
    with np.errstate(over="ignore"):
        tot = int((rs * _weights(ep, st)).sum(dtype=np.uint64))
    return f"{n}:{tot & MASK64:016x}"


class RowChecksum:
    """Same checksum, accumulated row by row (for iterate-style readers)."""

    def __init__(self):
        self.n = 0
        self.tot = 0
        self._pos = None

    def add(self, episode, step, arr):
        a = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1).view(np.uint32)
        if self._pos is None or len(self._pos) != a.size:
            self._pos = np.arange(1, a.size + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            rs = int((a.astype(np.uint64) * self._pos).sum(dtype=np.uint64))
        w = (int(episode) * 1_000_003 + int(step) + 1) & MASK64
        self.tot = (self.tot + rs * w) & MASK64
        self.n += 1

    def value(self):
        return f"{self.n}:{self.tot:016x}"


def expected_checksum(episodes, spe, count):
    n_lists = len(episodes)
    stacked = np.stack([np.stack(e) for e in episodes])  # (n_lists, spe, *shape)
    rs = _row_weight_sums(stacked.reshape(n_lists * spe, -1).view(np.uint32))
    rs = rs.reshape(n_lists, spe)
    idx = np.arange(count)
    ep, st = idx // spe, idx % spe
    with np.errstate(over="ignore"):
        tot = int((rs[ep % n_lists, st] * _weights(ep, st)).sum(dtype=np.uint64))
    return f"{count}:{tot & MASK64:016x}"
