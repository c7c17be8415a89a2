"""Long-simulation benchmarks (README, "Long simulations"), measured in one
run, written between the ``long-sim`` markers of benchmarks/RESULTS.md:

- periodic streams: ``log()`` cost per step of a periodic name (mean over
  ``P`` steps, accumulated in C++) against its peers on the same loop: a
  plain row per step, and what users do without periodic streams
  (accumulate in numpy, log one row per period);
- fixed point: file sizes of a float32 random walk stored dense and
  quantised (the C workload: 100,000 x (10, 5), steps N(0, 0.01)), plain
  and zstd level 3 / 22 at close, and the largest error;
- sparse: sizes and log()/read_all() time of (10,000,) float32 rows at 1%,
  10% and 50% density, sparse against dense.

Timings are the best of ``--repeat`` (default 3), the peers of one table
interleaved in each repeat so that machine noise hits them alike; sizes are
exact. Because wall-clock time on a shared machine is noisy, the same cases
are also counted with ``valgrind --tool=callgrind`` (instructions of every
thread per step or row: the difference between a run of N1 and one of N2
steps, so start-up, register and close cancel out).
``python benchmarks/long_sim.py [--quick] [--no-callgrind] [--out -]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

import array_logger
from report import write_section

BEGIN, END = "<!-- long-sim:begin -->", "<!-- long-sim:end -->"


def best_of(repeat: int, cases: Dict[str, Callable[[], float]]) -> Dict[str, float]:
    """Runs every case once per repeat (interleaved); the best time of each."""
    out = {k: float("inf") for k in cases}
    for _ in range(repeat):
        for k, fn in cases.items():
            out[k] = min(out[k], fn())
    return out


def file_bytes(root: Path, name: str) -> int:
    for suffix in (".db.zst", ".db"):
        p = root / (name + suffix)
        if p.exists():
            return p.stat().st_size
    raise FileNotFoundError(name)


# --- periodic streams ---------------------------------------------------------
def periodic_case(kind: str, steps: int, shape: tuple, period: int, throughput: bool, xs: np.ndarray) -> Callable[[], float]:
    """The timed loop: `steps` log() calls (or numpy accumulation), then close."""

    def run() -> float:
        root = Path(tempfile.mkdtemp(prefix="al_longsim_"))
        try:
            lg = array_logger.Logger(root, None, throughput_mode=throughput, handle_signals=False)
            if kind == "periodic":
                lg.register("e", ["sweep"], shape, "float64", period=period, mode="mean")
            else:
                lg.register("e", ["sweep"], shape, "float64")
            n = len(xs)
            t = time.perf_counter()
            if kind == "periodic":
                for i in range(steps):
                    lg.log("e", {"sweep": i}, xs[i % n])
            elif kind == "row":
                for i in range(steps):
                    lg.log("e", {"sweep": i}, xs[i % n])
            else:  # numpy accumulation, one row per period
                acc = np.zeros(shape, np.float64)
                for i in range(steps):
                    acc += xs[i % n]
                    if (i + 1) % period == 0:
                        lg.log("e", {"sweep": i + 1 - period}, acc / period)
                        acc[...] = 0
            loop = time.perf_counter() - t
            lg.close()
            return loop / steps * 1e6
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return run


def bench_periodic(steps: int, repeat: int) -> List[Dict[str, object]]:
    rows = []
    rng = np.random.default_rng(0)
    for shape in ((), (10, 5)):
        xs = rng.normal(size=(1000,) + shape)
        xs = [np.float64(x) for x in xs] if shape == () else list(xs)
        for period in (100, 1000):
            for throughput in (False, True):
                cases = {k: periodic_case(k, steps, shape, period, throughput, xs) for k in ("periodic", "row", "numpy")}
                t = best_of(repeat, cases)
                rows.append({"shape": shape, "period": period, "mode": "throughput" if throughput else "default", **t})
                print(f"periodic {rows[-1]}", file=sys.stderr)
    return rows


# --- fixed point ------------------------------------------------------------------
def bench_fixed_point(rows: int) -> List[Dict[str, object]]:
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(scale=0.01, size=(rows, 50)), axis=0).astype(np.float32).reshape(rows, 10, 5)
    lim = float(np.ceil(np.abs(walk).max()))
    out = []
    for label, kw in (("dense float32", {}), ("quantize 1e-3", {"quantize": 1e-3, "value_range": (-lim, lim)}),
                      ("quantize 1e-4", {"quantize": 1e-4, "value_range": (-lim, lim)})):
        sizes = {}
        for level in (None, 3, 22):
            root = Path(tempfile.mkdtemp(prefix="al_longsim_fp_"))
            try:
                with array_logger.Logger(root, level, handle_signals=False) as lg:
                    lg.register("w", ["i"], (10, 5), "float32", **kw)
                    for i in range(rows):
                        lg.log("w", {"i": i}, walk[i])
                sizes[level] = file_bytes(root, "w")
                if level is None:
                    with array_logger.open_reader(root / "w.db") as r:
                        back = r.read_all().arrays
                        storage = r.meta.get("fixed_point_dtype", "float32")
                    err = float(np.abs(back.astype(np.float64) - walk).max())
            finally:
                shutil.rmtree(root, ignore_errors=True)
        out.append({"label": label, "storage": storage, "max_error": err, "db": sizes[None], "zst3": sizes[3],
                    "zst22": sizes[22], "payload": walk.nbytes, "range": lim})
        print(f"fixed point {out[-1]}", file=sys.stderr)
    return out


# --- sparse -------------------------------------------------------------------------
def bench_sparse(rows: int, repeat: int) -> List[Dict[str, object]]:
    n = 10_000
    out = []
    for density in (0.01, 0.1, 0.5):
        rng = np.random.default_rng(int(density * 1000))
        pool = [np.where(rng.random(n) < density, rng.normal(size=n), 0).astype(np.float32) for _ in range(50)]
        sizes: Dict[str, Dict[str, int]] = {}

        def case(sparse: bool, level, keep: Dict[str, float]) -> Callable[[], float]:
            def run() -> float:
                root = Path(tempfile.mkdtemp(prefix="al_longsim_sp_"))
                try:
                    lg = array_logger.Logger(root, level, handle_signals=False)
                    lg.register("s", ["i"], (n,), "float32", sparse=sparse)
                    t = time.perf_counter()
                    for i in range(rows):
                        lg.log("s", {"i": i}, pool[i % len(pool)])
                    loop = time.perf_counter() - t
                    lg.close()
                    sizes.setdefault("sparse" if sparse else "dense", {})[str(level)] = file_bytes(root, "s")
                    if level is None:
                        with array_logger.open_reader(root / "s.db") as r:
                            t = time.perf_counter()
                            r.read_all()
                            keep["read"] = min(keep.get("read", float("inf")), (time.perf_counter() - t) / rows * 1e6)
                            if sparse:
                                t = time.perf_counter()
                                for _ in r.iterate_sparse():
                                    pass
                                keep["pairs"] = min(keep.get("pairs", float("inf")),
                                                    (time.perf_counter() - t) / rows * 1e6)
                    return loop / rows * 1e6
                finally:
                    shutil.rmtree(root, ignore_errors=True)
            return run

        reads: Dict[str, Dict[str, float]] = {"sparse": {}, "dense": {}}
        t = best_of(repeat, {"sparse": case(True, None, reads["sparse"]), "dense": case(False, None, reads["dense"])})
        case(True, 3, {})()
        case(False, 3, {})()
        out.append({"density": density, "log_sparse": t["sparse"], "log_dense": t["dense"],
                    "read_sparse": reads["sparse"]["read"], "read_dense": reads["dense"]["read"],
                    "pairs_sparse": reads["sparse"]["pairs"], "sizes": sizes, "payload": rows * n * 4})
        print(f"sparse {out[-1]}", file=sys.stderr)
    return out


# --- instruction counts (callgrind) -----------------------------------------------
LOOP = """
import sys, tempfile, numpy as np, array_logger
kind, n, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
root = tempfile.mkdtemp()
lg = array_logger.Logger(root, None, handle_signals=False)
if kind in ("periodic", "row", "numpy"):
    period = int(arg)
    xs = [np.float64(x) for x in np.random.default_rng(0).normal(size=1000)]
    if kind == "periodic":
        lg.register("e", ["sweep"], (), "float64", period=period, mode="mean")
        for i in range(n):
            lg.log("e", {"sweep": i}, xs[i % 1000])
    elif kind == "row":
        lg.register("e", ["sweep"], (), "float64")
        for i in range(n):
            lg.log("e", {"sweep": i}, xs[i % 1000])
    else:
        lg.register("e", ["sweep"], (), "float64")
        acc = np.zeros((), np.float64)
        for i in range(n):
            acc += xs[i % 1000]
            if (i + 1) % period == 0:
                lg.log("e", {"sweep": i + 1 - period}, acc / period)
                acc[...] = 0
    lg.close()
else:  # sparse / dense rows of (10000,) float32 at density arg; then read_all (kind ends with _read)
    density = float(arg)
    rng = np.random.default_rng(1)
    pool = [np.where(rng.random(10000) < density, rng.normal(size=10000), 0).astype(np.float32) for _ in range(20)]
    write_n = n if not kind.endswith("_read") else 200
    lg.register("s", ["i"], (10000,), "float32", sparse=kind.startswith("sparse"))
    for i in range(write_n):
        lg.log("s", {"i": i}, pool[i % 20])
    lg.close()
    if kind.endswith("_read"):
        r = array_logger.open_reader(root + "/s.db")
        for _ in range(n // 50):
            r.read_all("i < 50")
"""


def instructions(kind: str, n: int, arg: str) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
                          LOOP, kind, str(n), arg], capture_output=True, text=True, env={**os.environ,
                          "PYTHONMALLOC": "malloc"}, check=True)
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))


def per_step(kind: str, n1: int, n2: int, arg: str) -> float:
    return (instructions(kind, n2, arg) - instructions(kind, n1, arg)) / (n2 - n1)


def bench_callgrind(quick: bool) -> Dict[str, Dict[str, float]]:
    n1, n2 = (200, 1200) if quick else (2000, 12000)
    out: Dict[str, Dict[str, float]] = {"periodic": {}, "sparse": {}}
    for period in (100, 1000):
        for kind in ("periodic", "row", "numpy"):
            out["periodic"][f"{kind}@{period}"] = per_step(kind, n1, n2, str(period))
    r1, r2 = (50, 150) if quick else (200, 1200)
    for density in ("0.01", "0.1", "0.5"):
        for kind in ("sparse", "dense", "sparse_read", "dense_read"):
            out["sparse"][f"{kind}@{density}"] = per_step(kind, r1, r2, density)
    print(f"callgrind {out}", file=sys.stderr)
    return out


def mib(b: int) -> str:
    return f"{b / 2**20:.2f}"


def render(per: List[Dict[str, object]], fp: List[Dict[str, object]], sp: List[Dict[str, object]], steps: int,
           fp_rows: int, sp_rows: int, repeat: int, cg: Dict[str, Dict[str, float]]) -> str:
    L = [BEGIN, "## Long simulations: periodic streams, fixed point, sparse arrays", "",
         f"`python benchmarks/long_sim.py` (timings: best of {repeat}, the peers of a row interleaved in each "
         "repeat; µs per step or row including the Python loop; sizes exact).", "",
         f"**Periodic streams.** {steps:,} steps of a float64 array, `mode=\"mean\"`, uncompressed. *periodic*: "
         "`register(..., period=P, mode=\"mean\")` and one `log()` per step (the mean is accumulated in C++); "
         "*row per step*: a plain name, one row per `log()`; *numpy + row per period*: what users do without "
         "periodic streams (`acc += x` per step, one `log()` of `acc / P` per period). Ratios: peer time / "
         "periodic time (> 1: the periodic stream is faster).", "",
         "| array | P | mode | periodic µs/step | row per step µs/step | ratio | numpy + row per period µs/step | ratio |",
         "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in per:
        L.append(f"| {r['shape']} | {r['period']} | {r['mode']} | {r['periodic']:.3f} | {r['row']:.3f} "
                 f"| {r['row'] / r['periodic']:.2f}× | {r['numpy']:.3f} | {r['numpy'] / r['periodic']:.2f}× |")
    if cg.get("periodic"):
        p = cg["periodic"]
        L += ["", "Instructions per step (callgrind, every thread: the caller's loop, `log()`, the writer and "
              "SQLite), shape `()` float64, default mode; ratio = peer / periodic:", "",
              "| P | periodic | row per step | ratio | numpy + row per period | ratio |", "|---:|---:|---:|---:|---:|---:|"]
        for period in sorted({int(k.split("@")[1]) for k in p}):
            a, b, c = p[f"periodic@{period}"], p[f"row@{period}"], p[f"numpy@{period}"]
            L.append(f"| {period} | {a:,.0f} | {b:,.0f} | {b / a:.2f}× | {c:,.0f} | {c / a:.2f}× |")
    L += ["", f"**Fixed point.** The C workload: {fp_rows:,} × (10, 5) float32 random walk (steps N(0, 0.01)), "
          f"range ±{fp[0]['range']:g}; file bytes (MiB) of the `.db`, and of the `.db.zst` at close with level 3 "
          "and 22; ratio = quantised / dense at the same level.", "",
          "| storage | stored as | max error | .db MiB | ratio | level 3 MiB | ratio | level 22 MiB | ratio |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    d = fp[0]
    for r in fp:
        L.append(f"| {r['label']} | {r['storage']} | {r['max_error']:.2e} | {mib(r['db'])} | {r['db'] / d['db']:.2f} "
                 f"| {mib(r['zst3'])} | {r['zst3'] / d['zst3']:.2f} | {mib(r['zst22'])} | {r['zst22'] / d['zst22']:.2f} |")
    L += ["", f"Dense float32 at level 3 is {d['zst3'] / d['db']:.2f} of its database (random-walk floats barely "
          "compress); quantised values are integers with few significant bytes, which zstd then packs further.",
          "", f"**Sparse arrays.** {sp_rows:,} rows of (10,000,) float32 (40 KB dense); `log()` and `read_all()` "
          "µs per row (read: dense arrays out, warm cache), `iterate_sparse()` µs per row; sizes in MiB.", "",
          "| density | log sparse | log dense | read_all sparse | read_all dense | iterate_sparse | .db sparse "
          "| .db dense | ratio | level 3 sparse | level 3 dense | ratio |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sp:
        s, dd = r["sizes"]["sparse"], r["sizes"]["dense"]
        L.append(f"| {r['density']:.0%} | {r['log_sparse']:.1f} | {r['log_dense']:.1f} | {r['read_sparse']:.1f} "
                 f"| {r['read_dense']:.1f} | {r['pairs_sparse']:.1f} | {mib(s['None'])} | {mib(dd['None'])} "
                 f"| {s['None'] / dd['None']:.2f} | {mib(s['3'])} | {mib(dd['3'])} | {s['3'] / dd['3']:.2f} |")
    if cg.get("sparse"):
        c = cg["sparse"]
        L += ["", "Instructions per row (callgrind, every thread) for the same rows: `log()` (with the writer's "
              "INSERT and commit) and `read_all()` (dense arrays out); ratio = sparse / dense:", "",
              "| density | log sparse | log dense | ratio | read_all sparse | read_all dense | ratio |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
        for d in ("0.01", "0.1", "0.5"):
            a, b = c[f"sparse@{d}"], c[f"dense@{d}"]
            ra, rb = c[f"sparse_read@{d}"], c[f"dense_read@{d}"]
            L.append(f"| {float(d):.0%} | {a:,.0f} | {b:,.0f} | {a / b:.2f} | {ra:,.0f} | {rb:,.0f} | {ra / rb:.2f} |")
    L += ["", "A sparse row costs 8 bytes plus an index and a value per non-zero element (uint16 indices here), so "
          "float32 rows are smaller sparse up to 2/3 density; past that they are stored dense "
          "(docs/FORMAT.md 5.5).", END]
    return "\n".join(L) + "\n"




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts, one repeat (checks the harness)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    ap.add_argument("--steps", type=int, default=200_000, help="periodic-stream steps per case")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args()
    repeat = 1 if args.quick else args.repeat
    steps, fp_rows, sp_rows = (2_000, 1_000, 100) if args.quick else (args.steps, 100_000, 2_000)
    per = bench_periodic(steps, repeat)
    fp = bench_fixed_point(fp_rows)
    sp = bench_sparse(sp_rows, repeat)
    cg = {} if args.no_callgrind else bench_callgrind(args.quick)
    write_section(args.out, BEGIN, render(per, fp, sp, steps, fp_rows, sp_rows, repeat, cg), end=END)


if __name__ == "__main__":
    main()
