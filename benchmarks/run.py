#!/usr/bin/env python
"""array_logger benchmark harness: every peer, same workloads, same disk.

    python benchmarks/run.py [--quick] [--out benchmarks/RESULTS.md]
                             [--peers array_logger,baseline,h5py,raw,lmdb]
                             [--workloads S,M,L,XL,C]

Each (peer, workload) case runs in a fresh subprocess
(``python benchmarks/run.py --case PEER WORKLOAD --json``) so that peak RSS is
per case; the parent collects the JSON lines and writes RESULTS.md.
Exit status is 1 if any case failed or any checksum mismatched.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")
NAME = "arr"               # registered array name (file name for the loggers)
KEYS = ["episode", "step"]
SPE = 100                   # steps per episode
POOL = 100                  # distinct pre-generated arrays for non-C workloads
MASK64 = (1 << 64) - 1
ALL_PEERS = ["array_logger", "array_logger_throughput", "baseline", "h5py", "raw", "lmdb"]
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
# T: the training script of issue 9 (run_training_case): 3 agents x (50, 10)
# float32 random-walk Q-values and a (1,) loss per step, 100 episodes x 50
# steps, a (64, 32) weight matrix every 10 episodes, one filtered read; all
# defaults (compression_level=22).
T_EPISODES, T_STEPS, T_AGENTS = 100, 50, 3


# --------------------------------------------------------------------------
# memory helpers
# --------------------------------------------------------------------------
def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak():
    """Reset the kernel's peak-RSS mark (VmHWM, which ru_maxrss reports) to
    the current RSS, so the next ru_maxrss reading is the peak of one phase."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --------------------------------------------------------------------------
# inputs and checksums
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# peers. Each: setup(root, shape, level, count); loop(episodes, spe, n_ep);
# close(); read_iter(root) -> iterator of (keys_dict, array) or None;
# read_bulk(root) -> (episode, step, data) or None.
# The timed loop is written out per peer (no extra call layer), and every loop
# builds the same key dict per call.
# --------------------------------------------------------------------------
class _SeedAPIPeer:
    """The seed's module API: init / register / log / close / open_reader."""
    module = None
    can_compress = True

    def setup(self, root, shape, level, count):
        m = self.module
        m.init(root, compression_level=level)
        m.register(NAME, KEYS, shape, "float32")

    def loop(self, episodes, spe, n_ep):
        log = self.module.log
        n_lists = len(episodes)
        name = NAME
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                log(name, {"episode": ep, "step": st}, rows[st])

    def close(self):
        self.module.close()

    def read_iter(self, root):
        r = self.module.open_reader(os.path.join(root, NAME + ".db"))
        try:
            yield from r.iterate()
        finally:
            r.close()

    read_bulk = None


class ArrayLoggerPeer(_SeedAPIPeer):
    name = "array_logger"

    def __init__(self):
        import array_logger
        self.module = array_logger

    mode = "adaptive"

    def setup(self, root, shape, level, count):
        if level != "shuffle":
            if self.mode != "adaptive":
                self.module.init(root, compression_level=level, compression_mode=self.mode)
                self.module.register(NAME, KEYS, shape, "float32")
                return None
            return super().setup(root, shape, level, count)
        self.module.init(root, compression_level=None)
        self.module.register(NAME, KEYS, shape, "float32", shuffle_zstd=True)

    def read_bulk(self, root):
        r = self.module.open_reader(os.path.join(root, NAME + ".db"))
        try:
            keys, arrays = r.read_all()
        finally:
            r.close()
        return keys["episode"], keys["step"], arrays


class ArrayLoggerThroughputPeer(ArrayLoggerPeer):
    """array_logger with throughput_mode=True: log() waits only for buffer
    space, never for the writer's commits (the default waits when a name has
    2 x commit_threshold_rows rows uncommitted: the loss bound)."""
    name = "array_logger_throughput"

    def setup(self, root, shape, level, count):
        shuffle = level == "shuffle"
        self.module.init(root, compression_level=None if shuffle else level, throughput_mode=True)
        self.module.register(NAME, KEYS, shape, "float32", shuffle_zstd=shuffle)


class BaselinePeer(_SeedAPIPeer):
    name = "baseline"

    def __init__(self):
        sys.path.insert(0, HERE)
        import baseline_pure_python
        self.module = baseline_pure_python


class H5pyPeer:
    """Resizable chunked datasets; per call: resize + assign (data and each key)."""
    name = "h5py"
    can_compress = False
    max_count = 20_000  # ~1 ms per call here: 20 s per workload

    def __init__(self):
        import h5py
        self.h5py = h5py

    def setup(self, root, shape, level, count):
        assert level is None
        self.f = f = self.h5py.File(os.path.join(root, "data.h5"), "w")
        row_bytes = 4 * int(np.prod(shape))
        chunk_rows = max(1, (256 << 10) // row_bytes)
        self.ds = f.create_dataset("data", shape=(0,) + tuple(shape),
                                   maxshape=(None,) + tuple(shape),
                                   chunks=(chunk_rows,) + tuple(shape), dtype="<f4")
        self.kds = [f.create_dataset(k, shape=(0,), maxshape=(None,),
                                     chunks=(4096,), dtype="<i8") for k in KEYS]

    def loop(self, episodes, spe, n_ep):
        ds = self.ds
        eds, sds = self.kds
        n_lists = len(episodes)
        i = 0
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                kv = {"episode": ep, "step": st}
                n = i + 1
                ds.resize(n, axis=0)
                ds[i] = rows[st]
                eds.resize(n, axis=0)
                eds[i] = kv["episode"]
                sds.resize(n, axis=0)
                sds[i] = kv["step"]
                i = n

    def close(self):
        self.f.close()

    read_iter = None

    def read_bulk(self, root):
        with self.h5py.File(os.path.join(root, "data.h5"), "r") as f:
            return f["episode"][:], f["step"][:], f["data"][:]


class RawPeer:
    """The physical limit: one binary file, per call struct-packed keys + a.tobytes()."""
    name = "raw"
    can_compress = False

    def setup(self, root, shape, level, count):
        assert level is None
        self.shape = tuple(shape)
        self.f = open(os.path.join(root, "data.bin"), "wb", buffering=1 << 20)

    def loop(self, episodes, spe, n_ep):
        write = self.f.write
        pack = struct.Struct("<qq").pack
        n_lists = len(episodes)
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                kv = {"episode": ep, "step": st}
                write(pack(kv["episode"], kv["step"]))
                write(rows[st].tobytes())

    def close(self):
        self.f.close()

    read_iter = None

    def read_bulk(self, root):
        dt = np.dtype([("episode", "<i8"), ("step", "<i8"), ("data", "<f4", self.shape)])
        rec = np.fromfile(os.path.join(root, "data.bin"), dtype=dt)
        return rec["episode"], rec["step"], rec["data"]


class LmdbPeer:
    """txn.put(packed (episode, step), a.tobytes()) per call; commit every 100 puts."""
    name = "lmdb"
    can_compress = False
    commit_every = 100

    def __init__(self):
        import lmdb
        self.lmdb = lmdb

    def setup(self, root, shape, level, count):
        assert level is None
        self.shape = tuple(shape)
        row = 4 * int(np.prod(shape)) + 16
        map_size = max(1 << 30, 3 * count * (row + 4096 * (row > 2000) + 64))
        self.env = self.lmdb.open(os.path.join(root, "lmdb"), map_size=map_size,
                                  subdir=True)
        self.txn = self.env.begin(write=True)

    def loop(self, episodes, spe, n_ep):
        env = self.env
        txn = self.txn
        put = txn.put
        pack = struct.Struct(">qq").pack  # big-endian: cursor order == log order
        every = self.commit_every
        pending = 0
        n_lists = len(episodes)
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                kv = {"episode": ep, "step": st}
                put(pack(kv["episode"], kv["step"]), rows[st].tobytes())
                pending += 1
                if pending >= every:
                    txn.commit()
                    txn = env.begin(write=True)
                    put = txn.put
                    pending = 0
        self.txn = txn

    def close(self):
        self.txn.commit()
        self.env.close()

    def read_iter(self, root):
        env = self.lmdb.open(os.path.join(root, "lmdb"), readonly=True, lock=False,
                             subdir=True)
        unpack = struct.Struct(">qq").unpack
        shape = self.shape
        try:
            with env.begin() as txn:
                for k, v in txn.cursor():
                    ep, st = unpack(k)
                    yield ({"episode": ep, "step": st},
                           np.frombuffer(v, dtype="<f4").reshape(shape))
        finally:
            env.close()

    read_bulk = None


PEERS = {
    "array_logger": ArrayLoggerPeer,
    "array_logger_throughput": ArrayLoggerThroughputPeer,
    "baseline": BaselinePeer,
    "h5py": H5pyPeer,
    "raw": RawPeer,
    "lmdb": LmdbPeer,
}


def _dir_bytes(root):
    total = 0
    for dp, _, files in os.walk(root):
        for fn in files:
            try:
                total += os.stat(os.path.join(dp, fn)).st_size
            except FileNotFoundError:
                pass
    return total


# --------------------------------------------------------------------------
# one case (runs in its own subprocess)
# --------------------------------------------------------------------------
def run_case(peer_name, workload, quick, keep=False):
    if workload == "T":
        return run_training_case(peer_name, quick, keep)
    base, count, shape, content, level = case_spec(workload, quick)
    peer = PEERS[peer_name]()
    peer.mode = case_mode(workload)
    if level is not None and not peer.can_compress:
        raise SystemExit(f"{peer_name} cannot compress")
    # Peers that take ~1 ms per call run a capped number of rows: their
    # per-call figures are what we compare, and a full S run would take 15 min.
    capped = getattr(peer, "max_count", None)
    if capped is not None and count > capped:
        count = capped
    episodes, spe, _data = make_inputs(count, shape, content)
    n_ep = count // spe
    expected = expected_checksum(episodes, spe, count)

    root = os.path.join(WORK, f"{peer_name}_{workload.replace('@', '_')}_{os.getpid()}")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    res = {"peer": peer_name, "workload": workload, "base": base, "count": count,
           "shape": list(shape), "level": level, "quick": quick,
           "row_bytes": 4 * int(np.prod(shape))}
    try:
        gc.collect()
        peak_ok = _reset_peak()
        rss0 = _rss_kib()
        max0 = _maxrss_kib()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        peer.setup(root, shape, level, count)
        t1 = time.perf_counter()
        peer.loop(episodes, spe, n_ep)
        t2 = time.perf_counter()
        loop_peak = _maxrss_kib()
        _reset_peak()
        rss_close0 = _rss_kib()
        peer.close()
        t3 = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        close_peak = _maxrss_kib()
        write_peak = max(loop_peak, close_peak)
        res.update({
            "setup_s": t1 - t0, "loop_s": t2 - t1, "close_s": t3 - t2,
            "total_s": t3 - t0, "us_per_log": (t2 - t1) / count * 1e6,
            # CPU of every thread (user + system) and the times a thread
            # blocked (voluntary context switches), setup to close: what
            # waiting for the writer costs, less sensitive to a busy machine
            # than wall time.
            "cpu_us_per_row": (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / count * 1e6,
            "waits_per_1000_rows": (ru1.ru_nvcsw - ru0.ru_nvcsw) / count * 1000,
            "bytes_on_disk": _dir_bytes(root),
            "rss_before_mib": rss0 / 1024,
            "peak_rss_write_mib": max(0, write_peak - (rss0 if peak_ok else max0)) / 1024,
            # close alone (commit, checkpoint, compression), above the RSS
            # right before close(): issue 9's memory target.
            "peak_rss_close_mib": max(0, close_peak - rss_close0) / 1024 if peak_ok else None,
            "peak_method": "ru_maxrss after clear_refs reset" if peak_ok
                           else "ru_maxrss delta (no reset)",
        })

        checks = {}
        # read-back 1: iterate (timed: just consume rows), then checksum pass
        if peer.read_iter is not None:
            gc.collect()
            _reset_peak()
            r0 = _rss_kib()
            t = time.perf_counter()
            n = 0
            for _kd, _a in peer.read_iter(root):
                n += 1
            res["read_iter_s"] = time.perf_counter() - t
            res["read_iter_rows"] = n
            res["peak_rss_read_iter_mib"] = max(0, _maxrss_kib() - r0) / 1024
            ck = RowChecksum()
            for kd, a in peer.read_iter(root):
                ck.add(kd["episode"], kd["step"], a)
            checks["iterate"] = ck.value()
        # read-back 2: bulk (timed), checksum after the timer
        if peer.read_bulk is not None:
            gc.collect()
            _reset_peak()
            r0 = _rss_kib()
            t = time.perf_counter()
            ep, st, data = peer.read_bulk(root)
            res["read_bulk_s"] = time.perf_counter() - t
            res["read_bulk_rows"] = int(len(ep))
            res["peak_rss_read_bulk_mib"] = max(0, _maxrss_kib() - r0) / 1024
            checks["bulk"] = checksum_bulk(ep, st, data)
            del ep, st, data
        res["expected_checksum"] = expected
        res["checksums"] = checks
        res["checksum_ok"] = bool(checks) and all(v == expected for v in checks.values())
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return res


def _walk(rng, rows, m, step=0.01):
    """(rows, m) float32 random walk, continuous across rows."""
    w = np.cumsum(rng.standard_normal(rows * m) * step)
    return w.astype(np.float32).reshape(rows, m)


def run_training_case(peer_name, quick, keep=False):
    """Issue 9's training script, end to end at the defaults (module API):
    init (compression_level=22), register 5 names, log, close, one filtered
    read. The whole run is timed; so are its phases."""
    peer = PEERS[peer_name]()
    mod = peer.module
    episodes = T_EPISODES // 10 if quick else T_EPISODES
    rng = np.random.default_rng(2024)
    steps = episodes * T_STEPS
    q = [_walk(rng, steps, 500).reshape(steps, 50, 10) for _ in range(T_AGENTS)]
    loss = _walk(rng, steps, 1)
    weights = rng.standard_normal((episodes // 10 + 1, 64, 32)).astype(np.float32)
    for a in (*q, loss, weights):
        a += 0  # prefault
    names = [f"q_agent{a}" for a in range(T_AGENTS)]
    root = os.path.join(WORK, f"{peer_name}_T_{os.getpid()}")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    res = {"peer": peer_name, "workload": "T", "base": "T", "count": steps * (T_AGENTS + 1) + len(weights),
           "shape": [50, 10], "level": 22, "quick": quick, "row_bytes": 2000}
    try:
        gc.collect()
        _reset_peak()
        rss0 = _rss_kib()
        t0 = time.perf_counter()
        mod.init(root)
        for n in names:
            mod.register(n, ["episode", "step"], (50, 10), "float32")
        mod.register("loss", ["episode", "step"], (1,), "float32")
        mod.register("weights", ["episode"], (64, 32), "float32")
        t1 = time.perf_counter()
        log = mod.log
        i = 0
        for e in range(episodes):
            for s in range(T_STEPS):
                kv = {"episode": e, "step": s}
                for a in range(T_AGENTS):
                    log(names[a], kv, q[a][i])
                log("loss", kv, loss[i])
                i += 1
            if e % 10 == 0:
                log("weights", {"episode": e}, weights[e // 10])
        t2 = time.perf_counter()
        loop_peak = _maxrss_kib()
        _reset_peak()
        rss_close0 = _rss_kib()
        mod.close()
        t3 = time.perf_counter()
        close_peak = _maxrss_kib()
        last = episodes - 1
        r = mod.open_reader(os.path.join(root, names[0] + ".db"))
        try:
            got = [(kd["step"], np.array(a)) for kd, a in r.iterate(where_clause="episode = ?", params=(last,))]
        finally:
            r.close()
        t4 = time.perf_counter()
        ok = [s for s, _ in got] == list(range(T_STEPS)) and all(
            np.array_equal(a, q[0][last * T_STEPS + s]) for s, a in got)
        res.update({
            "setup_s": t1 - t0, "loop_s": t2 - t1, "close_s": t3 - t2, "read_s": t4 - t3,
            "total_s": t4 - t0, "us_per_log": (t2 - t1) / res["count"] * 1e6,
            "bytes_on_disk": _dir_bytes(root), "rss_before_mib": rss0 / 1024,
            "peak_rss_write_mib": max(0, max(loop_peak, close_peak) - rss0) / 1024,
            "peak_rss_close_mib": max(0, close_peak - rss_close0) / 1024,
            "expected_checksum": f"{T_STEPS} rows of episode {last}",
            "checksums": {"filtered read": f"{len(got)} rows" + ("" if ok else " WRONG")},
            "checksum_ok": bool(ok),
        })
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return res


# --------------------------------------------------------------------------
# parent: orchestrate and report
# --------------------------------------------------------------------------
def _machine_info():
    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = cpu
    info["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    info["kernel"] = platform.release()
    info["python"] = platform.python_version()
    info["numpy"] = np.__version__
    import sqlite3
    info["sqlite"] = sqlite3.sqlite_version
    for mod in ("h5py", "lmdb", "zstandard"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = "not installed"
    try:
        out = subprocess.run(["df", "-T", WORK], capture_output=True, text=True).stdout
        parts = out.splitlines()[1].split()
        info["disk"] = f"{parts[0]} ({parts[1]})"
    except Exception:
        info["disk"] = "?"
    return info


def _probe_array_logger():
    code = ("import array_logger as a; import json; "
            "miss=[n for n in ('init','register','log','close','open_reader') "
            "if not hasattr(a,n)]; "
            "print(json.dumps({'version': getattr(a,'__version__','?'), "
            "'file': getattr(a,'__file__','?'), 'missing': miss}))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=HERE)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"`import array_logger` failed: {last}"
    info = json.loads(p.stdout.strip().splitlines()[-1])
    if info["missing"]:
        return None, f"array_logger lacks {info['missing']}"
    return info, None


def _cases(peers, workloads):
    out = []
    for wl in workloads:
        for p in peers:
            if wl == "C":
                for lvl in C_LEVELS:
                    if lvl is not None and not PEERS[p].can_compress:
                        continue
                    out.append((p, f"C@{'none' if lvl is None else lvl}"))
                if p == "array_logger":
                    out.append((p, "C@22plain"))  # the size reference of issue 9
                if p.startswith("array_logger"):
                    out.append((p, "C@shuffle"))
            elif wl in ("C1M", "T"):
                # Issue 9's close-time workloads: the loggers that compress.
                if p not in ("array_logger", "baseline"):
                    continue
                if wl == "T":
                    out.append((p, "T"))
                else:
                    out.append((p, "C1M@22"))
                    if p == "array_logger":
                        out.append((p, "C1M@22plain"))
            else:
                out.append((p, wl))
    return out


def _fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def _ratio(v, ref):
    if v is None or ref is None or ref == 0:
        return "—"
    return f"{v / ref:.2f}×"


def write_report(path, results, info, args, skipped, wall):
    by = {(r["peer"], r["workload"]): r for r in results}
    peers = [p for p in args.peers if any(r["peer"] == p for r in results)]
    workloads = []
    for r in results:
        if r["workload"] not in workloads:
            workloads.append(r["workload"])
    have_al = any(r["peer"] == "array_logger" and "error" not in r for r in results)
    bad = [r for r in results if "error" in r or not r.get("checksum_ok")]

    L = []
    L.append("# array_logger benchmark results\n")
    cmd = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    if args.peers != ALL_PEERS:
        cmd += " --peers " + ",".join(args.peers)
    if args.workloads != ALL_WORKLOADS:
        cmd += " --workloads " + ",".join(args.workloads)
    L.append(f"Generated by `{cmd}` on {info['date']} (harness wall time {wall:.0f} s)."
             + (" **QUICK mode: counts scaled down 100×; figures are not "
                "representative.**" if args.quick else "") + "\n")
    if bad:
        L.append(f"**{len(bad)} case(s) FAILED or checksum MISMATCH — see below.**\n")
    else:
        L.append("All read-backs matched the expected checksums.\n")

    L.append("## Machine\n")
    L.append(f"- CPU: {info['cpu']} ({info['cores']} cores), RAM {info.get('mem_gib')} GiB, "
             f"Linux {info['kernel']}")
    L.append(f"- Python {info['python']}, numpy {info['numpy']}, SQLite {info['sqlite']}, "
             f"h5py {info['h5py']}, lmdb {info['lmdb']}, zstandard {info['zstandard']}")
    if info.get("array_logger"):
        L.append(f"- array_logger {info['array_logger']['version']} "
                 f"({info['array_logger']['file']})")
    L.append(f"- Work dir: `benchmarks/_work/` on {info['disk']} (same disk for every peer)\n")

    if skipped:
        L.append("## Skipped\n")
        for s in skipped:
            L.append(f"- {s}")
        L.append("")

    L.append("## Method\n")
    L.append(textwrap_method(have_al))

    L.append("## Summary: µs per log call\n")
    hdr = "| workload | " + " | ".join(peers) + " |"
    L.append(hdr)
    L.append("|" + "---|" * (len(peers) + 1))
    for wl in workloads:
        cells = []
        ref = by.get(("array_logger", wl), {}).get("us_per_log")
        for p in peers:
            r = by.get((p, wl))
            if r is None:
                cells.append("—")
            elif "error" in r:
                cells.append("FAILED")
            else:
                c = _fmt(r["us_per_log"])
                if have_al and p != "array_logger" and ref:
                    c += f" ({_ratio(r['us_per_log'], ref)})"
                cells.append(c)
        L.append(f"| {wl} | " + " | ".join(cells) + " |")
    L.append("\n" + ("Ratios in parentheses: peer / array_logger (>1 = array_logger "
                     "faster)." if have_al else
                     "array_logger was not run, so no ratios; rerun once it is "
                     "importable.") + "\n")

    L.append("## Per workload\n")
    L.append("Times in seconds unless stated; `×al` = value / array_logger's value "
             "in this run (>1: array_logger is better).\n")
    for wl in workloads:
        rs = [by[(p, wl)] for p in peers if (p, wl) in by]
        if not rs:
            continue
        r0 = rs[0]
        lvl = r0["level"]
        L.append(f"### {wl}: {r0['count']:,} × {tuple(r0['shape'])} float32"
                 f" ({r0['row_bytes']:,} B/array), compression "
                 f"{'None' if lvl is None else lvl}\n")
        L.append("| peer | µs/log | ×al | setup | close | total | ×al | MB on disk | ×al "
                 "| B/row overhead | peak RSS write MiB | read iterate | read bulk | ×al "
                 "| checksum |")
        L.append("|---|" + "---:|" * 14)
        ref = by.get(("array_logger", wl)) if have_al else None
        if ref is not None and "error" in ref:
            ref = None
        for r in rs:
            if "error" in r:
                L.append(f"| {r['peer']} | FAILED: {r['error'][:120]} |" + " |" * 13)
                continue
            def g(k, rr=r):
                return rr.get(k)
            def rg(k):
                return ref.get(k) if ref else None
            best_read = min([x for x in (g("read_iter_s"), g("read_bulk_s")) if x is not None],
                            default=None)
            ref_read = None
            if ref:
                ref_read = min([x for x in (rg("read_iter_s"), rg("read_bulk_s"))
                                if x is not None], default=None)
            overhead = r["bytes_on_disk"] / r["count"] - r["row_bytes"]
            ck = "ok" if r.get("checksum_ok") else "**MISMATCH**"
            L.append("| " + " | ".join([
                r["peer"], _fmt(g("us_per_log")), _ratio(g("us_per_log"), rg("us_per_log")),
                _fmt(g("setup_s")), _fmt(g("close_s")), _fmt(g("total_s")),
                _ratio(g("total_s"), rg("total_s")),
                _fmt(r["bytes_on_disk"] / 1e6), _ratio(r["bytes_on_disk"], rg("bytes_on_disk")),
                _fmt(float(overhead)), _fmt(g("peak_rss_write_mib")),
                _fmt(g("read_iter_s")), _fmt(g("read_bulk_s")), _ratio(best_read, ref_read),
                ck]) + " |")
        L.append("")

    if bad:
        L.append("## Failures / mismatches\n")
        for r in bad:
            if "error" in r:
                L.append(f"- {r['peer']} {r['workload']}: FAILED\n\n```\n{r['error']}\n```")
            else:
                L.append(f"- {r['peer']} {r['workload']}: CHECKSUM MISMATCH, expected "
                         f"{r.get('expected_checksum')}, got {r.get('checksums')}")
        L.append("")

    if have_al and not args.quick:
        L.extend(targets_section(by))
        L.extend(close_targets_section(by))
    L.append("## Raw results (JSON lines)\n")
    L.append("<details><summary>one line per case</summary>\n\n```")
    for r in results:
        L.append(json.dumps(r, sort_keys=True))
    L.append("```\n</details>\n")
    with open(path, "w") as f:
        f.write("\n".join(L))


# Why a target is missed, from the profiles (callgrind/perf) behind this
# harness, and what would close it. Shown only for targets this run missed.
MISS_NOTES = {
    "S µs/log": "Absolute figure: on this VM a raw `f.write` loop alone costs 0.7-0.8 µs (see "
                "the raw column), so 0.6 µs including the Python loop is below what this CPU "
                "does; the producer side of log() is ~850 instructions (callgrind), the Python "
                "loop and dict building about as many again. What is left to cut is ours: the "
                "dict walk and the ndarray checks (~300 instructions); log_many() skips the "
                "Python loop entirely (0.7 µs per row here, writer-bound).",
    "M µs/log": "As for S (raw `f.write` is 0.8 µs here); M's 200-byte rows also keep the "
                "writer busy, and the producer waits for buffer space when it falls behind "
                "(see M end to end).",
    "L µs/log": "The writer is bound by SQLite writing every byte twice (WAL, then the "
                "checkpoint into the database) plus the checkpoint fsyncs of "
                "synchronous=NORMAL; with synchronous=OFF L drops to ~43 µs. Closing it needs "
                "checkpoints off the writer thread (a second connection) or a rollback journal "
                "(append-only pages are not journaled), which the WAL contract rules out.",
    "XL µs/log": "Same cause as L at 1 MiB per row: ~5 GB of memory traffic per GB logged "
                 "(ring copy, SQLite page copy, WAL write, checkpoint read + write) and fsyncs; "
                 "synchronous=OFF gives ~1,450 µs. See L for what would close it.",
    "XL vs baseline": "See XL µs/log.",
    "end to end / log loop": "The writer thread is slower than the producer for this row size, "
                             "so close() first drains the buffer. callgrind: the writer spends "
                             "~2,750 instructions per 200-byte row (M) against ~2,000 per 4-byte "
                             "row (S); the rest of its time is in the kernel: each commit of 100 "
                             "M rows appends ~6 WAL frames (a write() each for header and page), "
                             "later copied again by the checkpoint. Fewer, larger commits "
                             "(commit_threshold_rows) close the gap; the seed's default is 100.",
    "compression at close": "zstd level 3 on this 2-core VM, two workers splitting the file "
                            "into jobs, while the same cores also finish the writer's backlog "
                            "and page in the database. Closing it: compress while logging "
                            "(segments of the file as they are checkpointed) instead of at close.",
    "bulk read speed vs raw": "Each row is a SQLite cell (small rows) or an overflow chain "
                        "(large rows) read with one C++ pass; the raw file is one fread. "
                        "For large results the cost is the first touch of the freshly "
                        "allocated output array on this VM (~0.5 GB/s), which np.fromfile "
                        "avoids by reading into pages the kernel fills. What would close it: "
                        "reading into a caller-provided (already touched) array, and for "
                        "small rows fetching many rows per SQLite step (a packed layout).",
    "shuffle filter size": "Per-row filtering of 200-byte rows (a 4-byte-per-value random "
                           "walk whose low mantissa bytes are noise) cannot get below ~0.9× "
                           "with byte shuffle + zstd; close-time zstd over the whole file "
                           "reaches 0.62-0.66×. Rows of a few KiB and smooth data compress "
                           "far better per row.",
}


def targets_section(by):
    """The issue's targets against this run's figures."""
    def al(wl, key):
        r = by.get(("array_logger", wl))
        return None if r is None or "error" in r else r.get(key)

    def peer(p, wl, key):
        r = by.get((p, wl))
        return None if r is None or "error" in r else r.get(key)

    rows = []

    def target(name, value, ok, goal, fmt="{:.3g}"):
        if value is None:
            return
        rows.append((name, fmt.format(value), goal, ok(value)))

    target("S µs/log", al("S", "us_per_log"), lambda v: v <= 0.6, "≤ 0.6")
    b, a, raw = peer("baseline", "S", "us_per_log"), al("S", "us_per_log"), peer("raw", "S", "us_per_log")
    if b and a:
        target("S vs baseline", b / a, lambda v: v >= 8, "≥ 8×", "{:.1f}×")
    if raw and a:
        target("S vs raw file", a / raw, lambda v: v <= 2, "≤ 2× raw", "{:.2f}×")
    target("M µs/log", al("M", "us_per_log"), lambda v: v <= 0.8, "≤ 0.8")
    target("L µs/log", al("L", "us_per_log"), lambda v: v <= 15, "≤ 15")
    target("XL µs/log", al("XL", "us_per_log"), lambda v: v <= 600, "≤ 600")
    b, a = peer("baseline", "XL", "us_per_log"), al("XL", "us_per_log")
    if b and a:
        target("XL vs baseline", b / a, lambda v: v >= 5, "≥ 5×", "{:.2f}×")
    for wl in ("S", "M", "L", "XL"):
        tot, loop = al(wl, "total_s"), al(wl, "loop_s")
        if tot and loop:
            target(f"{wl} end to end / log loop", tot / loop, lambda v: v <= 1.5, "≤ 1.5×", "{:.2f}×")
    for wl in ("S", "M", "L", "XL"):
        bulk, raw_read = al(wl, "read_bulk_s"), peer("raw", wl, "read_bulk_s")
        if bulk and raw_read:
            target(f"{wl} bulk read speed vs raw", raw_read / bulk, lambda v: v >= 0.5, "≥ 0.5", "{:.2f}")
    it, n = al("S", "read_iter_s"), al("S", "read_iter_rows")
    if it and n:
        target("S iterate() rows/s", n / it, lambda v: v >= 1e6, "≥ 1,000,000", "{:,.0f}")
    peaks = [r.get("peak_rss_write_mib") for (p, _), r in by.items() if p == "array_logger" and "error" not in r]
    if peaks:
        target("max peak RSS, any workload (MiB)", max(peaks), lambda v: v < 100, "< 100", "{:.0f}")
    # Compression speed: the close of C@3 minus the close of the same rows
    # uncompressed (commit, checkpoint), over the database's size.
    plain, close3, close0 = al("C@none", "bytes_on_disk"), al("C@3", "close_s"), al("C@none", "close_s")
    if plain and close3 and close0 is not None and close3 > close0:
        target("level 3 compression at close (MB/s of database)", plain / (close3 - close0) / 1e6,
               lambda v: v >= 200, "≥ 200", "{:.0f}")
    shuf, count, row = al("C@shuffle", "bytes_on_disk"), al("C@shuffle", "count"), al("C@shuffle", "row_bytes")
    if shuf and count and row:
        target("shuffle filter size / payload", shuf / (count * row), lambda v: v <= 0.6, "≤ 0.6×", "{:.2f}×")

    L = ["## Targets (issue 3) in this run\n",
         "| target | measured | goal | met |", "|---|---:|---|---|"]
    for name, value, goal, ok in rows:
        L.append(f"| {name} | {value} | {goal} | {'yes' if ok else '**no**'} |")
    L.append("")
    missed = [name for name, _, _, ok in rows if not ok]
    for name in missed:
        key = name if name in MISS_NOTES else next((k for k in MISS_NOTES if k in name), None)
        if key:
            L.append(f"- **{name}**: {MISS_NOTES[key]}")
    if missed:
        L.append("")
    return L


def close_targets_section(by, heading="##"):
    """Issue 9: close() at the default level 22, against the pure-Python baseline."""
    def get(p, wl, key):
        r = by.get((p, wl))
        return None if r is None or "error" in r else r.get(key)

    rows = []

    def target(name, value, ok, goal, fmt):
        if value is not None:
            rows.append((name, fmt.format(value), goal, ok(value)))

    b, a = get("baseline", "T", "total_s"), get("array_logger", "T", "total_s")
    if b and a:
        target("T (training script, defaults) end to end vs baseline", b / a, lambda v: v >= 3, "≥ 3×", "{:.2f}×")
    for wl in ("C@22", "C1M@22"):
        b, a = get("baseline", wl, "close_s"), get("array_logger", wl, "close_s")
        if b and a:
            target(f"{wl} close vs baseline", b / a, lambda v: v >= 3.5, "≥ 3.5×", "{:.2f}×")
        size, plain = get("array_logger", wl, "bytes_on_disk"), get("array_logger", wl + "plain", "bytes_on_disk")
        if size and plain:
            target(f"{wl} .db.zst size / plain level-22 pass", size / plain, lambda v: v <= 1.02, "≤ 1.02", "{:.4f}")
    peaks = [get("array_logger", wl, "peak_rss_close_mib") for wl in ("T", "C@22", "C1M@22")]
    peaks = [p for p in peaks if p is not None]
    if peaks:
        target("peak RSS during close at level 22 (MiB above the interpreter)", max(peaks),
               lambda v: v < 100, "< 100", "{:.0f}")
    if not rows:
        return []
    L = [f"{heading} Targets (issue 9: close at the default level 22) in this run\n",
         "| target | measured | goal | met |", "|---|---:|---|---|"]
    for name, value, goal, ok in rows:
        L.append(f"| {name} | {value} | {goal} | {'yes' if ok else '**no**'} |")
    L.append("")
    return L


CLOSE_SECTION = "## Close at the default level 22 (issue 9)"
CLOSE_CASES = [(p, wl) for wl in ("C@none", "C@22", "C@22plain", "C1M@22", "C1M@22plain", "T")
               for p in ("array_logger", "baseline") if not (p == "baseline" and wl.endswith("plain"))]


def write_close_section(path, results, info, wall):
    """The --close-section run as a section of an existing report (inserted
    before its raw results, replacing an earlier one): its own date, tables,
    targets and JSON lines (prefixed, so that --rerender of the report keeps
    reading only the full run's)."""
    by = {(r["peer"], r["workload"]): r for r in results}
    L = [CLOSE_SECTION + "\n",
         f"Generated by `python benchmarks/run.py --close-section` on {info['date']} (wall time "
         f"{wall:.0f} s), same machine and method as above; array_logger "
         f"{(info.get('array_logger') or {}).get('version', '?')}. One run: every ratio compares "
         "cases of this run. close = drain, checkpoint, compression, renames and fsyncs; T = the "
         "training script of issue 9 at the defaults (3 agents × (50, 10) random-walk Q-values and a "
         "(1,) loss per step, 100 episodes × 50 steps, a (64, 32) weight matrix every 10 episodes, "
         "one filtered read); `plain` = `compression_mode=\"plain\"` (one frame at exactly level 22, "
         "2.0.0's pass): the size reference.\n",
         "| workload | peer | log loop s | close s | read s | total s | MB on disk | peak RSS close MiB | check |",
         "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if "error" in r:
            last = (r["error"].strip().splitlines() or ["?"])[-1][:120].replace("|", "/")
            L.append(f"| {r['workload']} | {r['peer']} | FAILED: {last} | | | | | | |")
            continue
        read = r.get("read_s", r.get("read_iter_s"))
        L.append("| " + " | ".join([r["workload"], r["peer"], _fmt(r.get("loop_s")), _fmt(r.get("close_s")),
                                     _fmt(read), _fmt(r.get("total_s")), _fmt(r["bytes_on_disk"] / 1e6),
                                     _fmt(r.get("peak_rss_close_mib")),
                                     "ok" if r.get("checksum_ok") else "**MISMATCH**"]) + " |")
    L.append("")
    L.extend(close_targets_section(by, heading="###"))
    L.append("<details><summary>JSON lines of this run</summary>\n\n```")
    L.extend("json: " + json.dumps(r, sort_keys=True) for r in results)
    L.append("```\n</details>\n")
    section = "\n".join(L) + "\n"
    text = open(path).read() if os.path.exists(path) else ""
    if CLOSE_SECTION in text:
        before, rest = text.split(CLOSE_SECTION, 1)
        after = rest[rest.index("\n## "):] if "\n## " in rest else ""
        text = before + section + after.lstrip("\n")
    elif "## Raw results (JSON lines)" in text:
        before, after = text.split("## Raw results (JSON lines)", 1)
        text = before + section + "\n## Raw results (JSON lines)" + after
    else:
        text += "\n" + section
    with open(path, "w") as f:
        f.write(text)


def textwrap_method(have_al):
    return "\n".join([
        "- Keys `episode`, `step` (100 steps per episode); float32 arrays generated "
        "before timing. S/M/L/XL reuse a pool of 100 distinct random arrays; C is M "
        "with unique random-walk content (a float32 random walk, steps N(0, 0.01)), "
        "so compressors cannot exploit repeats.",
        "- **Buffers are prefaulted before timed phases.** This VM returns freed "
        "memory to the host, and the first touch of fresh pages is ~15× slower, so "
        "every input array is allocated and written before the clock starts. "
        "(Memory the peers allocate themselves during a phase is part of their cost.)",
        "- Each (peer, workload) case runs in a fresh subprocess "
        "(`python benchmarks/run.py --case PEER WORKLOAD --json`). Peak RSS = the "
        "kernel's peak-RSS mark (`ru_maxrss`, reset via `/proc/self/clear_refs` "
        "right before the phase) minus the RSS right before the phase: memory above "
        "the interpreter + inputs.",
        "- µs/log = the logging loop / count; the loop includes building the key "
        "dict `{\"episode\": e, \"step\": s}` per call. array_logger and baseline are "
        "called through the seed's module API: `log(name, key_dict, array)`. "
        "total = setup (init/register or open) + loop + close (close includes "
        "commit, checkpoint and zstd compression where enabled).",
        "- Peers: `baseline` = benchmarks/baseline_pure_python.py (the seed's "
        "pure-Python design: stdlib sqlite3 with default `synchronous` (FULL) in WAL "
        "mode, so every commit — every 100 rows — fsyncs the WAL); `h5py` = resizable "
        "chunked datasets (~256 KiB chunks), resize + assign per call for data and "
        "each key, no fsync; `raw` = one buffered file, `struct.pack` keys + "
        "`a.tobytes()` per call, no fsync (the physical limit); `lmdb` = "
        "`txn.put(packed keys, a.tobytes())`, commit (fsync) every 100 puts.",
        "- fsync-bound peers are noisy here: `baseline` (and array_logger if it "
        "fsyncs per commit) and `lmdb` pay one fsync per 100 rows; an fsync on this "
        "VM disk takes ~0.9 ms but varies a lot (repeated baseline M / C@none runs "
        "gave 16-45 µs/log for identical work). Compare small-row figures across "
        "runs with care; rerun a case with `--case PEER WORKLOAD` to check.",
        "- Read-back is warm page cache. `read iterate` = open + iterate every row as "
        "(keys_dict, ndarray) (baseline, lmdb cursor, array_logger `iterate()`); "
        "`read bulk` = one call returning all rows (array_logger `read_all()`, "
        "h5py `ds[:]`, raw `np.fromfile`). The read ×al column compares each peer's "
        "fastest read with array_logger's fastest. Both timings only consume the "
        "rows; the checksum is computed afterwards in an untimed pass.",
        "- Checksum: Σ over rows of (episode·1000003 + step + 1) · Σⱼ (j+1)·bits(a[j]) "
        "mod 2⁶⁴ over the float32 bit patterns, compared with the value computed from "
        "the generated inputs; any difference is reported as **MISMATCH**.",
        "- B/row overhead = bytes on disk / rows − raw array bytes per row.",
        "",
    ])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="counts / 100 (harness check)")
    ap.add_argument("--out", default=None,
                    help="report path (default benchmarks/RESULTS.md; with --quick "
                         "benchmarks/_work/RESULTS_quick.md, so a quick run never "
                         "overwrites the committed full results)")
    ap.add_argument("--peers", default=",".join(ALL_PEERS))
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS))
    ap.add_argument("--case", nargs=2, metavar=("PEER", "WORKLOAD"),
                    help="run one case in this process (WORKLOAD: S, M, L, XL, C@none, C@3, C@22)")
    ap.add_argument("--json", action="store_true", help="with --case: print one JSON line")
    ap.add_argument("--keep", action="store_true", help="keep the case's files in _work/")
    ap.add_argument("--timeout", type=float, default=None, help="per-case timeout, s")
    ap.add_argument("--close-section", action="store_true",
                    help="run only issue 9's close cases (C@none, C@22, C1M@22, T; array_logger and "
                         "baseline) and write them as a section of --out (default RESULTS.md)")
    ap.add_argument("--speed-section", action="store_true",
                    help="run only issue 11's cases (S, M, L, XL, C@none for every peer but the throughput "
                         "mode; SCALE: 10M rows, filtered and bulk reads) and write them as a section of --out "
                         "(default RESULTS.md); see benchmarks/speed_section.py")
    ap.add_argument("--rerender", metavar="REPORT",
                    help="rewrite a report from the JSON lines it contains (no new measurements)")
    args = ap.parse_args(argv)

    if args.rerender:
        text = open(args.rerender).read()
        block = text.split("## Raw results (JSON lines)", 1)[1]
        results = [json.loads(ln) for ln in block.splitlines() if ln.startswith("{")]
        wall = float(text.split("harness wall time ", 1)[1].split(" s", 1)[0])
        args.peers = [p for p in ALL_PEERS if any(r["peer"] == p for r in results)]
        args.workloads = ALL_WORKLOADS
        info = _machine_info()
        info["date"] = text.split(" on ", 1)[1].split(" (harness", 1)[0]
        al, _ = _probe_array_logger()
        if al is not None:
            info["array_logger"] = al
        write_report(args.out or args.rerender, results, info, args, [], wall)
        return 0

    if args.case:
        peer, wl = args.case
        if peer not in PEERS:
            ap.error(f"unknown peer {peer!r}")
        if wl == "SCALE":
            sys.path.insert(0, HERE)
            import speed_section
            res = speed_section.run_scale_case(WORK, args.quick, keep=args.keep)
        else:
            res = run_case(peer, wl, args.quick, keep=args.keep)
        if args.json:
            print(json.dumps(res), flush=True)
        else:
            for k, v in res.items():
                print(f"{k:>24}: {v}")
        return 0 if res.get("checksum_ok") else 1

    if args.out is None:
        args.out = (os.path.join(WORK, "RESULTS_quick.md") if args.quick
                    else os.path.join(HERE, "RESULTS.md"))
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for p in args.peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p!r}; choose from {ALL_PEERS}")
    for w in args.workloads:
        if w not in WORKLOADS and w != "T":
            ap.error(f"unknown workload {w!r}; choose from {ALL_WORKLOADS}")
    os.makedirs(WORK, exist_ok=True)
    info = _machine_info()
    skipped = []
    run_peers = list(args.peers)
    if any(p.startswith("array_logger") for p in run_peers):
        al, why = _probe_array_logger()
        if al is None:
            run_peers = [p for p in run_peers if not p.startswith("array_logger")]
            skipped.append(f"array_logger: {why}. Its column will be filled by "
                           "rerunning this command once the package is installed "
                           "(`pip install .`).")
        else:
            info["array_logger"] = al
    for mod in ("h5py", "lmdb"):
        if mod in run_peers and info.get(mod) == "not installed":
            run_peers.remove(mod)
            skipped.append(f"{mod}: not installed (pip install -r benchmarks/requirements.txt)")
    if "baseline" in run_peers and info.get("zstandard") == "not installed" \
            and "C" in args.workloads:
        skipped.append("zstandard not installed: compressed baseline cases will fail")

    timeout = args.timeout or (300 if args.quick else 3600)
    results = []
    t_all = time.perf_counter()
    if args.speed_section:
        sys.path.insert(0, HERE)
        import speed_section
        cases = [c for c in speed_section.SPEED_CASES if c[0] in run_peers]
    elif args.close_section:
        cases = CLOSE_CASES
    else:
        cases = _cases(run_peers, args.workloads)
    for i, (peer, wl) in enumerate(cases, 1):
        cmd = [sys.executable, os.path.abspath(__file__), "--case", peer, wl, "--json"]
        if args.quick:
            cmd.append("--quick")
        print(f"[{i}/{len(cases)}] {peer} {wl} ...", end=" ", file=sys.stderr, flush=True)
        t = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            line = next((ln for ln in reversed(p.stdout.splitlines())
                         if ln.startswith("{")), None)
            if line is None:
                raise RuntimeError(f"exit {p.returncode}: "
                                   + (p.stderr.strip()[-2000:] or "no output"))
            r = json.loads(line)
        except Exception as e:  # record and go on
            base, count, shape, _, level = case_spec("S" if wl == "SCALE" else wl, args.quick)
            r = {"peer": peer, "workload": wl, "count": count, "shape": list(shape),
                 "level": level, "row_bytes": 4 * int(np.prod(shape)),
                 "error": f"{type(e).__name__}: {e}"}
        results.append(r)
        if "error" in r:
            status = "FAILED"
        elif r["checksum_ok"]:
            status = f"{r['us_per_log']:.2f} µs/log, checksum ok"
        else:
            status = "CHECKSUM MISMATCH"
        print(f"{status} ({time.perf_counter() - t:.1f} s)", file=sys.stderr, flush=True)
        if "error" in r or not r.get("checksum_ok"):
            print(f"!!! {peer} {wl}: {r.get('error') or 'MISMATCH ' + str(r.get('checksums'))}"
                  f" expected {r.get('expected_checksum')}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t_all
    if args.speed_section:
        speed_section.write_speed_section(args.out, results, info, wall, speed_section.notes_text(args.out))
    elif args.close_section:
        write_close_section(args.out, results, info, wall)
    else:
        write_report(args.out, results, info, args, skipped, wall)
    print(f"wrote {args.out}", file=sys.stderr)
    ok = all("error" not in r and r.get("checksum_ok") for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
