"""RESULTS.md: the machine, the method, per-workload tables with ratios
against array_logger measured in the same run, the targets and why a missed
one is missed, and the raw JSON lines. The prose comes from report_text.md."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess

import numpy as np

from measure import WORK
from peers import ALL_PEERS
from workloads import ALL_WORKLOADS

HERE = os.path.dirname(os.path.abspath(__file__))


def _read_text(path):
    """report_text.md as {"Method": text, "Why a target is missed": {heading: paragraph}}."""
    sections, current, sub = {}, None, None
    for line in open(path, encoding="utf-8").read().splitlines():
        if line.startswith("## "):
            current, sub = line[3:].strip(), None
            sections[current] = {} if current == "Why a target is missed" else []
        elif line.startswith("### ") and current == "Why a target is missed":
            sub = line[4:].strip()
            sections[current][sub] = []
        elif current == "Method":
            sections[current].append(line)
        elif sub is not None and line.strip():
            sections[current][sub].append(line.strip())
    return {"Method": "\n".join(sections["Method"]).strip(),
            "Why a target is missed": {k: " ".join(v) for k, v in sections["Why a target is missed"].items()}}


TEXT = _read_text(os.path.join(HERE, "report_text.md"))


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


def comparison_section(results):
    """Another build of array_logger run on the same cases in the same run
    (run.py --compare PYTHON): this build's figures over that build's."""
    by = {(r["peer"], r["workload"]): r for r in results if "error" not in r}
    L = []
    for other in sorted({r["peer"] for r in results if r.get("build")}):
        L.append(f"## This build against {other}, same run\n")
        L.append(f"Each ratio is this build's value / {other}'s (< 1: this build is faster or smaller). "
                 "`array_logger_throughput` logs as 2.0.0 did (log() waits for buffer space only); "
                 "`array_logger` is this build's default (the loss bound: log() also waits while a "
                 "name has 2 × commit_threshold_rows rows uncommitted). Wall-clock figures of one run "
                 "on a shared machine: see the Method section on noise; the instruction counts of the "
                 "log path (benchmarks/profile_log.sh) are the repeatable comparison.\n")
        L.append(f"| workload | this build | µs/log | ×{other} | total s | × | read iterate s | × "
                 "| read bulk s | × | MB on disk | × |")
        L.append("|---|---|" + "---:|" * 10)
        workloads = [r["workload"] for r in results if r["peer"] == other]
        for wl in workloads:
            ref = by.get((other, wl))
            if ref is None:
                continue
            for peer in ("array_logger_throughput", "array_logger"):
                r = by.get((peer, wl))
                if r is None:
                    continue
                L.append("| " + " | ".join([wl, peer] + [
                    c for k in ("us_per_log", "total_s", "read_iter_s", "read_bulk_s", "bytes_on_disk")
                    for c in ((_fmt(r.get(k) / 1e6) if k == "bytes_on_disk" and r.get(k) else _fmt(r.get(k))),
                              _ratio(r.get(k), ref.get(k)))]) + " |")
            L.append(f"| {wl} | *{other}* | {_fmt(ref.get('us_per_log'))} | | {_fmt(ref.get('total_s'))} | "
                     f"| {_fmt(ref.get('read_iter_s'))} | | {_fmt(ref.get('read_bulk_s'))} | "
                     f"| {_fmt(ref.get('bytes_on_disk', 0) / 1e6)} | |")
        L.append("")
    return L


def write_report(path, results, info, args, skipped, wall):
    """RESULTS.md from the results of every case (and the run's settings)."""
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
    L.append(TEXT["Method"] + "\n")
    L.extend(comparison_section(results))

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
    notes = TEXT["Why a target is missed"]
    for name in missed:
        key = name if name in notes else next((k for k in notes if k in name), None)
        if key:
            L.append(f"- **{name}**: {notes[key]}")
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


def section_provenance(flag, info, wall):
    """The first words of a section of a later run: what made it, when, how long, which version."""
    return (f"Generated by `python benchmarks/run.py {flag}` on {info['date']} (wall time {wall:.0f} s), "
            f"same machine and method as above; array_logger {(info.get('array_logger') or {}).get('version', '?')}")


def write_close_section(path, results, info, wall):
    """The --close-section run as a section of an existing report (inserted
    before its raw results, replacing an earlier one): its own date, tables,
    targets and JSON lines (prefixed, so that --rerender of the report keeps
    reading only the full run's)."""
    by = {(r["peer"], r["workload"]): r for r in results}
    L = [CLOSE_SECTION + "\n",
         section_provenance("--close-section", info, wall) + ". One run: every ratio compares "
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
    write_section(path, CLOSE_SECTION, "\n".join(L) + "\n")


def write_section(path, heading, section, end=None):
    """Puts `section` (text starting with the line `heading`) into the report
    at `path`: in place of an earlier section of that heading, else before the
    raw results, else at the end; the rest of the report is kept. With `end`,
    `heading` and `end` are marker lines (<!-- name:begin/end -->) around the
    section, which may hold headings of its own: the old text between the
    markers is what is replaced. `path` "-" prints the section instead."""
    if path == "-":
        print(section)
        return
    text = open(path).read() if os.path.exists(path) else ""
    if end is not None and heading in text and end in text:
        after = text[text.index(end) + len(end):]
        text = text[:text.index(heading)] + section + after[after.startswith("\n"):]
    elif end is None and heading in text:
        before, rest = text.split(heading, 1)
        after = rest[rest.index("\n## "):] if "\n## " in rest else ""
        text = before + section + after.lstrip("\n")
    elif "## Raw results (JSON lines)" in text:
        before, after = text.split("## Raw results (JSON lines)", 1)
        text = before + section + "\n## Raw results (JSON lines)" + after
    else:
        text += "\n" + section
    with open(path, "w") as f:
        f.write(text)
