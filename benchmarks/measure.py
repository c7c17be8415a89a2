"""One (peer, workload) case, measured in this process: setup, the timed
logging loop, close, CPU and waits, bytes on disk, peak RSS of each phase,
timed read-backs and their checksums. The harness (run.py) runs every case
in a subprocess of its own, so that peak RSS is per case."""
from __future__ import annotations

import ctypes
import gc
import os
import resource
import shutil
import time

import numpy as np

from peers import PEERS
from workloads import (T_AGENTS, T_EPISODES, T_STEPS, RowChecksum, case_mode, case_spec, checksum_bulk,
                       expected_checksum, make_inputs)

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "_work")


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak():
    """Reset the kernel's peak-RSS mark (VmHWM, which ru_maxrss reports) to
    the current RSS, so the next ru_maxrss reading is the peak of one phase.
    Free heap memory goes back to the kernel first (malloc_trim): otherwise a
    phase that reuses it (a read_all after the iterate pass freed its rows)
    raises no peak and its memory reads as 0."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: measure without it
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _close_measured(close):
    """Runs close() with the peak-RSS mark reset first: returns (the peak of
    what ran before, in KiB), the RSS right before close, close's own peak."""
    loop_peak = _maxrss_kib()
    _reset_peak()
    rss_close0 = _rss_kib()
    close()
    return loop_peak, rss_close0, _maxrss_kib()


def _dir_bytes(root):
    total = 0
    for dp, _, files in os.walk(root):
        for fn in files:
            try:
                total += os.stat(os.path.join(dp, fn)).st_size
            except FileNotFoundError:
                pass
    return total


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
        loop_peak, rss_close0, close_peak = _close_measured(peer.close)
        t3 = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
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
        loop_peak, rss_close0, close_peak = _close_measured(mod.close)
        t3 = time.perf_counter()
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
