#!/usr/bin/env python
"""array_logger benchmark harness: every peer, same workloads, same disk.

    python benchmarks/run.py [--quick] [--out benchmarks/RESULTS.md]
                             [--peers array_logger,baseline,h5py,raw,lmdb]
                             [--workloads S,M,L,XL,C] [--compare OTHER_PYTHON]

Each (peer, workload) case runs in a fresh subprocess
(``python benchmarks/run.py --case PEER WORKLOAD --json``) so that peak RSS is
per case; the parent collects the JSON lines and writes RESULTS.md.
Exit status is 1 if any case failed or any checksum mismatched.

What runs where: workloads.py (inputs, checksums), peers.py (what is
compared), measure.py (one case), report.py + report_text.md (RESULTS.md),
speed_section.py (issue 11's section and its SCALE case).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import speed_section
from measure import WORK, run_case
from peers import ALL_PEERS, PEERS
from report import CLOSE_CASES, _machine_info, write_close_section, write_report
from workloads import ALL_WORKLOADS, C_LEVELS, WORKLOADS, case_spec

HERE = os.path.dirname(os.path.abspath(__file__))


def _probe_array_logger(python=sys.executable):
    code = ("import array_logger as a; import json; "
            "miss=[n for n in ('init','register','log','close','open_reader') "
            "if not hasattr(a,n)]; "
            "print(json.dumps({'version': getattr(a,'__version__','?'), "
            "'file': getattr(a,'__file__','?'), 'missing': miss}))")
    p = subprocess.run([python, "-c", code], capture_output=True, text=True,
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


def _run_case_process(python, peer, wl, quick, timeout):
    """One case in a subprocess of `python`: its JSON line, or a record of the failure."""
    cmd = [python, os.path.abspath(__file__), "--case", peer, wl, "--json"] + (["--quick"] if quick else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
        if line is None:
            raise RuntimeError(f"exit {p.returncode}: " + (p.stderr.strip()[-2000:] or "no output"))
        return json.loads(line)
    except Exception as e:  # record and go on
        base, count, shape, _, level = case_spec("S" if wl == "SCALE" else wl, quick)
        return {"peer": peer, "workload": wl, "count": count, "shape": list(shape),
                "level": level, "row_bytes": 4 * int(np.prod(shape)),
                "error": f"{type(e).__name__}: {e}"}


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
    ap.add_argument("--compare", metavar="PYTHON",
                    help="also run every array_logger case with this interpreter (another build, e.g. "
                         "2.0.0 in its own venv); the report compares the two")
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
    if args.speed_section:
        plan = [c for c in speed_section.SPEED_CASES if c[0] in run_peers]
    elif args.close_section:
        plan = CLOSE_CASES
    else:
        plan = _cases(run_peers, args.workloads)
    cases = [(sys.executable, peer, wl, None) for peer, wl in plan]
    if args.compare:
        other, why = _probe_array_logger(args.compare)
        if other is None:
            skipped.append(f"--compare {args.compare}: {why}")
        else:
            info["compare"] = other
            label = f"array_logger {other['version']}"
            # (the plain-mode cases need compression_mode, which older builds lack: their
            # level-22 cases are what "plain" reproduces)
            theirs = {wl: (args.compare, "array_logger", wl, label)
                      for _, wl in _cases(["array_logger"], args.workloads) if not wl.endswith("plain")}
            # Each case of the other build next to this build's, which one first
            # alternating: a change of machine load between them hits both alike.
            paired, pairs = [], 0
            for c in cases:
                o = theirs.pop(c[2], None) if c[1] == "array_logger" else None
                if o is None:
                    paired.append(c)
                else:
                    paired += [c, o] if pairs % 2 == 0 else [o, c]
                    pairs += 1
            cases = paired + list(theirs.values())
    results = []
    t_all = time.perf_counter()
    for i, (python, peer, wl, label) in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {label or peer} {wl} ...", end=" ", file=sys.stderr, flush=True)
        t = time.perf_counter()
        r = _run_case_process(python, peer, wl, args.quick, timeout)
        if label is not None:
            r["peer"], r["build"] = label, python
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
