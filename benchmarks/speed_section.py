"""Issue 11 ("speed, round two") as a section of RESULTS.md.

    python benchmarks/run.py --speed-section [--quick]

runs S, M, L, XL and C@none for array_logger (default mode), the pure-Python
baseline, h5py, raw write and lmdb, plus SCALE (array_logger alone: 10M rows
of (1,) float32, the filtered read and the bulk read of that file), and
writes them, with the issue's targets, as the section SPEED_SECTION of the
report (replacing an earlier one; the rest of the report is kept).
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import time

import numpy as np

from measure import _maxrss_kib, _reset_peak, _rss_kib  # one peak-RSS method for every case
from report import section_provenance, write_section

SPEED_SECTION = "## Speed, round two (issue 11)"
PEERS = ["array_logger", "baseline", "h5py", "raw", "lmdb"]
SPEED_CASES = [(p, w) for w in ("S", "M", "L", "XL") for p in PEERS] + [("array_logger", "C@none"),
                                                                        ("array_logger", "SCALE")]
SCALE_ROWS = 10_000_000
SPE = 100


def index_bytes(db):
    """Bytes of the first-key index: the pages DROP INDEX frees, rolled back."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        page = con.execute("PRAGMA page_size").fetchone()[0]
        con.execute("BEGIN")
        before = con.execute("PRAGMA freelist_count").fetchone()[0]
        con.execute("DROP INDEX array_log_first_key")
        freed = con.execute("PRAGMA freelist_count").fetchone()[0] - before
        con.execute("ROLLBACK")
        return freed * page
    finally:
        con.close()


def run_scale_case(work, quick, keep=False):
    """10M rows of (1,) float32 in the default mode: µs per call over the
    first 1M rows and over all of them, peak RSS, close (with the index),
    the index's bytes per row, iterate("episode = ?") of one 100-row episode
    with the index and as a scan, read_all's time and peak RSS."""
    import array_logger

    n = SCALE_ROWS // (100 if quick else 1)
    first = n // 10
    root = os.path.join(work, f"array_logger_SCALE_{os.getpid()}")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    res = {"peer": "array_logger", "workload": "SCALE", "count": n, "shape": [1], "level": None,
           "quick": quick, "row_bytes": 4}
    pool = [np.random.default_rng(i).random(1, dtype=np.float32) for i in range(SPE)]
    try:
        peak_ok = _reset_peak()
        rss0 = _rss_kib()
        t0 = time.perf_counter()
        array_logger.init(root, compression_level=None)
        array_logger.register("arr", ["episode", "step"], (1,), "float32")
        log = array_logger.log
        t1 = time.perf_counter()
        for ep in range(first // SPE):
            for st in range(SPE):
                log("arr", {"episode": ep, "step": st}, pool[st])
        t_first = time.perf_counter()
        rss_first = _rss_kib()
        for ep in range(first // SPE, n // SPE):
            for st in range(SPE):
                log("arr", {"episode": ep, "step": st}, pool[st])
        t2 = time.perf_counter()
        array_logger.close()
        t3 = time.perf_counter()
        db = os.path.join(root, "arr.db")
        res.update({
            "setup_s": t1 - t0, "loop_s": t2 - t1, "close_s": t3 - t2, "total_s": t3 - t0,
            "us_per_log": (t2 - t1) / n * 1e6, "us_per_log_first_tenth": (t_first - t1) / first * 1e6,
            "us_per_log_rest": (t2 - t_first) / (n - first) * 1e6,
            "rss_after_first_tenth_mib": (rss_first - rss0) / 1024, "rss_end_of_loop_mib": (_rss_kib() - rss0) / 1024,
            "peak_rss_write_mib": max(0, _maxrss_kib() - rss0) / 1024 if peak_ok else None,
            "bytes_on_disk": os.path.getsize(db), "index_bytes_per_row": index_bytes(db) / n,
        })
        rng = np.random.default_rng(7)
        episodes = [int(e) for e in rng.integers(0, n // SPE, 7)]
        r = array_logger.open_reader(db)
        try:
            def timed(where):
                times, ok = [], True
                for e in episodes:
                    t = time.perf_counter()
                    got = list(r.iterate(where, (e,)))
                    times.append(time.perf_counter() - t)
                    ok &= [k["step"] for k, _ in got] == list(range(SPE)) and all(k["episode"] == e for k, _ in got)
                    ok &= all(float(a[0]) == float(pool[k["step"]][0]) for k, a in got)
                return statistics.median(times), ok
            res["filter_indexed_ms"], ok1 = timed("episode = ?")
            res["filter_indexed_ms"] *= 1e3
            res["filter_scan_ms"], ok2 = timed("+episode = ?")  # unary +: SQLite may not use the index
            res["filter_scan_ms"] *= 1e3
            _reset_peak()
            rb0 = _rss_kib()
            t = time.perf_counter()
            keys, arrays = r.read_all()
            res["read_bulk_s"] = time.perf_counter() - t
            res["peak_rss_read_bulk_mib"] = max(0, _maxrss_kib() - rb0) / 1024
            res["read_bulk_output_mib"] = (arrays.nbytes + sum(v.nbytes for v in keys.values())) / 2**20
            ok3 = len(arrays) == n and int(keys["episode"][-1]) == n // SPE - 1 and \
                np.array_equal(keys["step"][:SPE], np.arange(SPE)) and \
                arrays[:SPE, 0].tobytes() == np.concatenate(pool).tobytes()
            del keys, arrays
        finally:
            r.close()
        res["expected_checksum"] = "filtered rows and bulk read as logged"
        res["checksums"] = {"filtered": bool(ok1 and ok2), "bulk": bool(ok3)}
        res["checksum_ok"] = bool(ok1 and ok2 and ok3)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return res


def _get(by, peer, wl, key):
    r = by.get((peer, wl))
    return None if r is None or "error" in r else r.get(key)


def _output_mib(r):
    return r["count"] * (r["row_bytes"] + 16) / 2**20  # arrays + two int64 key columns


def targets(by):
    rows = []

    def target(name, value, goal, ok, fmt="{:.2f}"):
        if value is not None:
            rows.append((name, fmt.format(value), goal, bool(ok(value))))

    for wl in ("L", "XL"):
        a, lm, raw = (_get(by, p, wl, "us_per_log") for p in ("array_logger", "lmdb", "raw"))
        if a and lm:
            target(f"{wl} µs/log vs lmdb", a / lm, "≤ 1×", lambda v: v <= 1, "{:.2f}×")
        if a and raw:
            target(f"{wl} µs/log vs raw write", a / raw, "≤ 2×", lambda v: v <= 2, "{:.2f}×")
        a, lm, raw = (_get(by, p, wl, "total_s") for p in ("array_logger", "lmdb", "raw"))
        if a and lm:
            target(f"{wl} end to end vs lmdb", a / lm, "≤ 1×", lambda v: v <= 1, "{:.2f}×")
        if a and raw:
            target(f"{wl} end to end vs raw write", a / raw, "≤ 2×", lambda v: v <= 2, "{:.2f}×")
    for wl, goal in (("S", 1.5), ("M", 2.0)):
        a, raw = _get(by, "array_logger", wl, "us_per_log"), _get(by, "raw", wl, "us_per_log")
        if a and raw:
            target(f"{wl} µs/log vs raw write (default mode)", a / raw, f"≤ {goal}×", lambda v, g=goal: v <= g,
                   "{:.2f}×")
    for wl in ("S", "M", "L", "XL", "C@none", "SCALE"):
        tot, loop = _get(by, "array_logger", wl, "total_s"), _get(by, "array_logger", wl, "loop_s")
        if tot and loop:
            target(f"{wl} end to end / log loop", tot / loop, "≤ 1.5×", lambda v: v <= 1.5, "{:.2f}×")
    for wl in ("L", "XL"):
        a, raw = _get(by, "array_logger", wl, "read_bulk_s"), _get(by, "raw", wl, "read_bulk_s")
        if a and raw:
            target(f"{wl} read_all speed vs np.fromfile", raw / a, "≥ 0.5", lambda v: v >= 0.5)
    for wl in ("S", "M", "L", "XL", "SCALE"):
        r = by.get(("array_logger", wl))
        if r and "error" not in r and r.get("peak_rss_read_bulk_mib") is not None:
            target(f"{wl} read_all peak RSS / arrays returned", r["peak_rss_read_bulk_mib"] / _output_mib(r),
                   "≤ 1.5×", lambda v: v <= 1.5, "{:.2f}×")
    ms = _get(by, "array_logger", "SCALE", "filter_indexed_ms")
    target("iterate(\"episode = ?\"), 100 rows of 10M (ms)", ms, "≤ 10", lambda v: v <= 10, "{:.2f}")
    peaks = [r.get("peak_rss_write_mib") for (p, _), r in by.items()
             if p == "array_logger" and "error" not in r and r.get("peak_rss_write_mib") is not None]
    if peaks:
        target("max peak RSS while logging, any workload (MiB)", max(peaks), "< 100", lambda v: v < 100, "{:.0f}")
    first, rest = (_get(by, "array_logger", "SCALE", k) for k in ("us_per_log_first_tenth", "us_per_log_rest"))
    if first and rest:
        target("10M rows: µs/log of rows 1M-10M / of the first 1M", rest / first, "≈ 1×", lambda v: v <= 1.15,
               "{:.2f}×")
    return rows


def write_speed_section(path, results, info, wall, notes):
    by = {(r["peer"], r["workload"]): r for r in results}
    L = [SPEED_SECTION + "\n",
         section_provenance("--speed-section", info, wall) + " in its default mode (the loss bound). One run: "
         "every ratio compares cases of this run. Read = `read_all` (array_logger), `ds[:]` (h5py), "
         "`np.fromfile` (raw); peak RSS of a read is above the RSS before it. Output = the arrays a bulk read "
         "returns (data and two int64 key columns).\n",
         "| workload | peer | µs/log | loop s | close s | total s | CPU µs/row | peak RSS write MiB | bulk read s "
         "| peak RSS read MiB | output MiB | MB on disk | check |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    f = lambda v, d=3: "—" if v is None else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{d}g}")  # noqa: E731
    for r in results:
        if "error" in r:
            last = (r["error"].strip().splitlines() or ["?"])[-1][:120].replace("|", "/")
            L.append(f"| {r['workload']} | {r['peer']} | FAILED: {last} |" + " |" * 11)
            continue
        L.append("| " + " | ".join([
            r["workload"], r["peer"], f(r.get("us_per_log")), f(r.get("loop_s")), f(r.get("close_s")),
            f(r.get("total_s")), f(r.get("cpu_us_per_row")), f(r.get("peak_rss_write_mib")),
            f(r.get("read_bulk_s")), f(r.get("peak_rss_read_bulk_mib")),
            f(_output_mib(r)) if r.get("read_bulk_s") is not None else "—", f(r["bytes_on_disk"] / 1e6),
            "ok" if r.get("checksum_ok") else "**MISMATCH**"]) + " |")
    sc = by.get(("array_logger", "SCALE"))
    if sc and "error" not in sc:
        L += ["", f"SCALE ({sc['count']:,} rows of (1,) float32, keys episode/step, default mode): "
              f"{sc['us_per_log_first_tenth']:.3g} µs/log over the first tenth, {sc['us_per_log_rest']:.3g} over "
              f"the rest; RSS above the start {sc['rss_after_first_tenth_mib']:.0f} MiB after the first tenth, "
              f"{sc['rss_end_of_loop_mib']:.0f} MiB at the end of the loop; close {sc['close_s']:.2f} s "
              f"(commit, first-key index, checkpoint); the index takes {sc['index_bytes_per_row']:.1f} bytes per "
              f"row; iterate(\"episode = ?\") of one 100-row episode {sc['filter_indexed_ms']:.2f} ms with it, "
              f"{sc['filter_scan_ms']:.0f} ms as a scan (`+episode = ?`); read_all {sc['read_bulk_s']:.2f} s, "
              f"peak RSS {sc['peak_rss_read_bulk_mib']:.0f} MiB for {sc['read_bulk_output_mib']:.0f} MiB returned."]
    L += ["", "### Targets (issue 11) in this run\n", "| target | measured | goal | met |", "|---|---:|---|---|"]
    for name, value, goal, ok in targets(by):
        L.append(f"| {name} | {value} | {goal} | {'yes' if ok else '**no**'} |")
    L += ["", notes.strip(), ""]
    L.append("<details><summary>JSON lines of this run</summary>\n\n```")
    L.extend("json: " + json.dumps(r, sort_keys=True) for r in results)
    L.append("```\n</details>\n")
    write_section(path, SPEED_SECTION, "\n".join(L) + "\n")


def notes_text(path):
    """The hand-written notes under the targets table (profiles, floors):
    kept from the existing section, between the table and the JSON lines."""
    if not os.path.exists(path):
        return ""
    text = open(path).read()
    if SPEED_SECTION not in text:
        return ""
    sec = text.split(SPEED_SECTION, 1)[1]
    sec = sec.split("\n## ", 1)[0]
    if "### Targets (issue 11) in this run" not in sec:
        return ""
    tail = sec.split("### Targets (issue 11) in this run", 1)[1]
    lines = tail.split("\n")
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith("|")):
        i += 1
    body = "\n".join(lines[i:]).split("<details>", 1)[0]
    return body.strip()
