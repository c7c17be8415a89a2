"""The ``array-logger`` command line (also ``python -m array_logger``).

One verb per command, on argparse (no dependency beyond numpy); ``--json`` on
every command that prints data, for scripts. Exit status: 0 success, 1 damage
or a failed check (a corrupt file, a missing file, ``verify`` finding a
problem), 2 usage (bad arguments, an invalid ``--where``). docs/CLI.md has the
reference; ``array-logger COMMAND --help`` shows examples.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

import numpy as np

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments found after parsing (exit status 2)."""


class CheckFailed(Exception):
    """A check found damage (exit status 1); the details are already printed."""


# --- output helpers ------------------------------------------------------------
def _jsonable(x: Any) -> Any:
    """numpy values -> JSON; non-finite floats as the strings "NaN",
    "Infinity", "-Infinity" (JSON has no such numbers)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "c":
            x = x.view(f"<f{x.dtype.itemsize // 2}").reshape(x.shape + (2,))
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, complex):
        return [_jsonable(x.real), _jsonable(x.imag)]
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x


def _print_json(x: Any) -> None:
    print(json.dumps(_jsonable(x), allow_nan=False))


def _table(rows: List[Dict[str, Any]], columns: Sequence[str]) -> None:
    """A plain aligned table for humans."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(map(str, v)) + ("," if len(v) == 1 else "") + ")"
    return str(v)


def _size(n: int) -> str:
    """1023 B, 1.0 KiB, ..., 3.5 GiB (GiB is the largest unit)."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _ranges_text(ranges: Dict[str, Dict[str, Any]]) -> str:
    return " ".join(f"{k}={v['min']!r}..{v['max']!r}" for k, v in ranges.items()) or "-"


# --- argument helpers ---------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line, naming the command and where
    the help is (argparse prints the whole usage first, which for ``export``
    is five lines before the one that matters). Exit status 2, as argparse."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")



def _param(text: str) -> Any:
    """A --param value: an int if it reads as one, else a float, else text."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _int_at_least(low: int) -> Any:
    """An argparse type: an int >= low (argparse then reports a bad value
    with the command's usage and exit status 2)."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    convert.__name__ = f"int >= {low}"
    return convert


def _where(args: argparse.Namespace) -> Dict[str, Any]:
    params = [_param(p) for p in args.param or []] + list(args.param_str or [])
    if params and not args.where:
        raise UsageError("--param needs --where")
    return {"where_clause": args.where, "params": params or None}


def _open(path: str) -> Any:
    from ._reader import ArrayReader

    return ArrayReader(path)


# --- commands -------------------------------------------------------------------
def _dataset_summary(root: str, name: str) -> Dict[str, Any]:
    """One line of ``ls`` for a sharded name: every file of it as one."""
    from .bridges import inspect
    from .dataset import open_dataset

    with open_dataset(root, name) as ds:
        sizes = [inspect.bytes_on_disk(p) for p in ds.paths]
        return {
            "name": name, "path": os.path.join(root, name + ".shards"), "rows": ds.count(),
            "shape": list(ds.shape), "dtype": ds.dtype.name, "keys": ds.keys, "bytes": sum(sizes),
            "shards": len(ds.files), "compressed_shards": sum(p.endswith(".zst") for p in ds.paths),
            "compressed": all(p.endswith(".zst") for p in ds.paths),
            "last_written": inspect._iso(max(os.stat(p).st_mtime for p in ds.paths)),
        }


def cmd_ls(args: argparse.Namespace) -> int:
    from ._run_status import read_runs
    from .bridges import inspect

    if not os.path.isdir(args.root):
        raise FileNotFoundError(f"{args.root}: not a directory")
    if args.runs:
        runs = read_runs(args.root)
        if args.json:
            _print_json(runs)
        else:
            _print_runs(runs)
        return EXIT_OK
    lines, failed = [], False
    paths = inspect.array_files(args.root)
    sharded = [e for e in sorted(os.listdir(args.root))
               if e.endswith(".shards") and not e.startswith(".") and os.path.isdir(os.path.join(args.root, e))]
    if not paths and not sharded:
        print(f"array-logger ls: no array files (NAME.db or NAME.db.zst) in {args.root}", file=sys.stderr)
    for path in paths:
        try:
            lines.append(inspect.summary(path, ranges=not args.no_ranges))
        except Exception as exc:  # noqa: BLE001 - one damaged file does not hide the others
            lines.append({"name": inspect.array_name(path), "path": path, "error": f"{type(exc).__name__}: {exc}"})
            failed = True
    for entry in sharded:
        name = entry[: -len(".shards")]
        if any(ln.get("name") == name for ln in lines):
            continue  # the plain file and the shards are one dataset: shown as such
        try:
            lines.append(_dataset_summary(args.root, name))
        except Exception as exc:  # noqa: BLE001
            lines.append({"name": name, "path": os.path.join(args.root, entry),
                          "error": f"{type(exc).__name__}: {exc}"})
            failed = True
    for ln in lines:  # a plain file with shards beside it: the whole dataset
        if "error" not in ln and "shards" not in ln and os.path.isdir(os.path.join(args.root, ln["name"] + ".shards")):
            try:
                ln.update({k: v for k, v in _dataset_summary(args.root, ln["name"]).items() if k != "path"})
            except Exception as exc:  # noqa: BLE001
                ln["error"] = f"{type(exc).__name__}: {exc}"
                failed = True
    if args.json:
        _print_json(lines)
    else:
        for ln in lines:
            ln["size"] = _size(ln["bytes"]) if "bytes" in ln else None
            ln["zst"] = ("yes" if ln.get("compressed") else "no" if "compressed" in ln else None) if "shards" not in ln \
                else f"{ln['compressed_shards']}/{ln['shards']}"
            ln["key ranges"] = (_ranges_text(ln["key_ranges"]) if "key_ranges" in ln else ln.get("error")) \
                if "shards" not in ln else ln.get("error", f"{ln['shards']} shards")
        _table(lines, ["name", "rows", "shape", "dtype", "size", "zst", "key ranges", "last_written"])
        runs = read_runs(args.root)
        if runs:
            print()
            _print_runs(runs)
    return EXIT_FAILED if failed else EXIT_OK


def _print_runs(runs: List[Dict[str, Any]]) -> None:
    """The writers' run records (``ls`` and ``ls --runs``)."""
    if not runs:
        print("no run records")
        return
    rows = [{"writer": r.get("run_id"), "status": r.get("status"), "host": r.get("host"), "pid": r.get("pid"),
             "shard": r.get("shard"), "started": r.get("started_at", "")[:19], "ended": (r.get("ended_at") or "")[:19],
             "names": ",".join(r.get("names") or []), "commit": (r.get("git_commit") or "")[:10],
             "argv": " ".join(r.get("argv") or [])[:60]} for r in runs]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("running", "finished", "crashed")}
    print("writers: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    _table(rows, ["writer", "status", "host", "pid", "shard", "started", "ended", "names", "commit", "argv"])


def cmd_info(args: argparse.Namespace) -> int:
    from . import build_info
    from .bridges import inspect

    d = inspect.details(args.file)
    d["sqlite_version"] = build_info().get("sqlite", {}).get("version")
    if args.json:
        _print_json(d)
        return EXIT_OK
    print(f"file            {d['path']}")
    print(f"format          {d['format_version']} (blob filter: {d['blob_filter']})")
    print(f"spec            shape={_cell(d['shape'])} dtype={d['dtype']} keys={d['keys']}")
    if d.get("storage"):
        print(f"storage         {_storage_text(d['storage'])}")
    print(f"rows            {d['rows']}")
    print(f"key ranges      {_ranges_text(d['key_ranges'])}")
    print(f"bytes on disk   {d['bytes']} ({_size(d['bytes'])})")
    if d["compression"]:
        c = d["compression"]
        ratio = f", ratio {c['ratio']:.3f}" if c["ratio"] else ""
        print(f"compression     zstd, database {c['database_bytes']} bytes{ratio}")
    else:
        print("compression     none")
    s = d["sqlite"]
    journal = f", journal {s['journal_mode']}" if s.get("journal_mode") else ""
    print(f"sqlite          {d['sqlite_version']}, page size {s['page_size']}, {s['page_count']} pages "
          f"({s['freelist_count']} free){journal}")
    print(f"created         {d['created'] or '-'}   last written {d['last_written']}")
    if "user_metadata" in d:
        print(f"user metadata   {json.dumps(d['user_metadata'], sort_keys=True)}")
    print("meta")
    for k, v in sorted(d["meta"].items()):
        if k != "user_metadata":
            print(f"  {k:<22}{v}")
    return EXIT_OK


def _storage_text(storage: Dict[str, Dict[str, Any]]) -> str:
    """"period 100 steps, mean of float32; fixed point step 0.001 in [-1, 1] as int16; sparse (uint16 indices)"."""
    parts = []
    if "period" in storage:
        p = storage["period"]
        parts.append(f"period {p['steps']} steps, {p['mode']} of {p['input_dtype']}")
    if "fixed_point" in storage:
        f = storage["fixed_point"]
        parts.append(f"fixed point step {f['step']:g} in [{f['min']:g}, {f['max']:g}] as {f['dtype']}")
    if "sparse" in storage:
        parts.append(f"sparse ({storage['sparse']['index_dtype']} indices)")
    return "; ".join(parts)


def _print_rows(keys: List[Dict[str, Any]], arrays: Sequence[np.ndarray], as_json: bool) -> None:
    if as_json:
        _print_json([{"keys": k, "array": a} for k, a in zip(keys, arrays)])
        return
    with np.printoptions(threshold=20, edgeitems=2, linewidth=100):
        for k, a in zip(keys, arrays):
            text = np.array2string(np.asarray(a), separator=", ")
            print(" ".join(f"{n}={v!r}" for n, v in k.items()) + "  " + text.replace("\n", "\n    "))


def cmd_head(args: argparse.Namespace) -> int:
    from .bridges import inspect

    with _open(args.file) as r:
        rows = list(inspect.head(r, args.n, **_where(args)))
        _print_rows([k for k, _ in rows], [a for _, a in rows], args.json)
    return EXIT_OK


def _batch_rows_as_dicts(b: Any, keys: Sequence[str]) -> List[Dict[str, Any]]:
    return [{k: b.keys[k][i].item() if hasattr(b.keys[k][i], "item") else b.keys[k][i] for k in keys}
            for i in range(len(b.arrays))]


def cmd_tail(args: argparse.Namespace) -> int:
    from . import _follow
    from .bridges import inspect

    where = _where(args)
    if os.path.isdir(args.file):
        if not args.name:
            raise UsageError("tail ROOT needs the array NAME: array-logger tail ROOT NAME")
        return _tail_dataset(args, where)
    if args.name:
        raise UsageError("NAME is only for a ROOT directory")
    with _open(args.file) as r:
        b = inspect.tail(r, args.n, **where)
        _print_tail(_batch_rows_as_dicts(b, r.keys), list(b.arrays), args)
        start = {_follow._stem(os.path.abspath(r.path)): inspect.last_rowid(r)}
        path = r.path
    if args.follow:
        _print_stream(_follow.follow_many(lambda: [(path, None)], where["where_clause"], where["params"],
                                          args.poll, None, None, start=start), args.json)
    return EXIT_OK


def _tail_dataset(args: argparse.Namespace, where: Dict[str, Any]) -> int:
    from . import _follow
    from .bridges import inspect
    from .dataset import _shard_of, dataset_paths, open_dataset

    start: Dict[str, int] = {}
    with open_dataset(args.file, args.name) as ds:
        parts: List[Tuple[List[Dict[str, Any]], List[np.ndarray]]] = []
        wanted = args.n
        for f in reversed(ds.files):  # the last rows in dataset order
            r = ds._reader(f)
            start[_follow._stem(os.path.abspath(f.path))] = inspect.last_rowid(r)
            if wanted > 0:
                b = inspect.tail(r, wanted, **where)
                rows = [{ds.shard_key: f.shard, **k} for k in _batch_rows_as_dicts(b, r.keys)]
                parts.append((rows, list(b.arrays)))
                wanted -= len(rows)
        keys = [k for rows, _ in reversed(parts) for k in rows]
        arrays = [a for _, arrs in reversed(parts) for a in arrs]
        _print_tail(keys, arrays, args)
        shard_key = ds.shard_key
    if args.follow:
        root, name = args.file, args.name
        _print_stream(_follow.follow_many(lambda: [(p, _shard_of(p)) for p in dataset_paths(root, name)],
                                          where["where_clause"], where["params"], args.poll, None, shard_key,
                                          start=start), args.json)
    return EXIT_OK


def _print_tail(keys: List[Dict[str, Any]], arrays: List[np.ndarray], args: argparse.Namespace) -> None:
    """The last rows: one JSON document (--json), or with -f a line each, as the rows that follow."""
    if args.follow:
        _print_stream(zip(keys, arrays), args.json)
    else:
        _print_rows(keys, arrays, args.json)


def _print_stream(rows: Any, as_json: bool) -> None:
    """Rows as they come: one line each (one JSON document per line with --json)."""
    for keys, array in rows:
        if as_json:
            print(json.dumps(_jsonable({"keys": keys, "array": array}), allow_nan=False))
        else:
            _print_rows([keys], [array], False)
        sys.stdout.flush()


def cmd_count(args: argparse.Namespace) -> int:
    with _open(args.file) as r:
        n = r.count(**_where(args))
    if args.json:
        _print_json({"path": args.file, "count": n})
    else:
        print(n)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args.file) as r:
        if args.by is not None and args.by not in r.keys:
            raise UsageError(f"--by {args.by!r}: not a key of this file (keys: {r.keys})")
        st = r.stats(**_where(args), by=args.by, per_element=args.per_element)
    if args.json:
        _print_json(st)
        return EXIT_OK
    cols = ["count", "nan", "mean", "std", "min", "max", "median"]
    print(f"{st['rows']} rows of shape {_cell(st['shape'])} {st['dtype']}"
          + ("" if st["median_exact"] else "  (median approximate: see median_error in --json)"))
    if args.by is not None:
        _table([{args.by: repr(g["value"]), **g} for g in st["by"]["groups"]], [args.by] + cols)
        return EXIT_OK
    lines = [{"over": "all elements", **st["all"]}]
    if args.per_element:
        pe = st["per_element"]
        for idx in np.ndindex(*pe["count"].shape):
            lines.append({"over": "[" + ",".join(map(str, idx)) + "]", **{c: pe[c][idx] for c in cols if pe[c] is not None}})
    for ln in lines:
        for c in cols:
            if isinstance(ln.get(c), np.generic):
                ln[c] = ln[c].item()
    _table(lines, ["over"] + cols)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .bridges import inspect

    if not os.path.exists(args.path) and not os.path.exists(args.path + ".zst"):
        raise FileNotFoundError(f"{args.path}: no such file or directory")
    paths = inspect.array_files(args.path) if os.path.isdir(args.path) else [args.path]
    if not paths:
        raise FileNotFoundError(f"{args.path}: no array files (NAME.db or NAME.db.zst) there")
    results = [inspect.verify(p) for p in paths]
    if args.json:
        _print_json(results)
    else:
        for res in results:
            if res["ok"]:
                print(f"ok       {res['path']}  {res['rows']} rows")
            else:
                print(f"DAMAGED  {res['path']}  {res['error']}")
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_FAILED


@contextlib.contextmanager
def _progress(args: argparse.Namespace, make: Callable[[], Any]) -> Iterator[Any]:
    """The progress display of a long command, None with --quiet; closed
    however the command ends (the last bar line is not left half drawn)."""
    progress = None if args.quiet else make()
    try:
        yield progress
    finally:
        if progress is not None:
            progress.close()


def _check_level(level: int) -> None:
    """--level of compress and merge: a zstd level, as init()'s compression_level."""
    if not 1 <= level <= 22:
        raise UsageError(f"--level must be 1..22, got {level}")


def _size_of(path: str) -> int:
    return os.stat(path).st_size if os.path.exists(path) else 0


def cmd_compress(args: argparse.Namespace) -> int:
    from ._core import compress_file

    _check_level(args.level)
    from .bridges.progress import BytesProgress

    before = {p: _size_of(p) for p in (args.file, args.file + ".zst")}
    with _progress(args, lambda: BytesProgress(f"compress {os.path.basename(args.file)}")) as progress:
        out = compress_file(args.file, args.level, args.workers, progress)
    print(f"{out}: {_size_of(out)} bytes (level {args.level}, from {max(before.values())})", file=sys.stderr)
    return EXIT_OK


def cmd_decompress(args: argparse.Namespace) -> int:
    from ._core import decompress_file

    out = decompress_file(args.file)
    print(f"{out}: {_size_of(out)} bytes", file=sys.stderr)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from .bridges import export
    from .bridges.progress import Progress

    try:
        fmt = args.format or export.format_from_path(args.output)
    except ValueError:
        raise UsageError(f"cannot tell the format from {args.output!r}: name it with --format "
                         f"({', '.join(export.FORMATS)})") from None
    with _open(args.file) as r:
        rows = r.rows(**_where(args), batch_rows=args.batch_rows)
        with _progress(args, lambda: Progress(rows.count, f"export {os.path.basename(args.output)}")) as progress:
            n = export.export(rows, args.output, fmt, progress=progress,
                              csv_max_elements=args.csv_max_elements)
    print(f"wrote {n} rows to {args.output} ({fmt})", file=sys.stderr)
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from .bridges import merge

    if args.level is not None:
        _check_level(args.level)
    n = merge.merge(args.output, args.inputs, duplicates=args.duplicates, compression_level=args.level)
    print(f"wrote {n} rows to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from .bridges import plot

    y = args.y
    if y[0] == "mean" and len(y) == 1:
        index = None
    elif y[0] == "element" and len(y) == 2:
        try:
            index = tuple(int(i) for i in y[1].split(",")) if y[1] else ()
        except ValueError:
            raise UsageError(f"--y element INDEX: INDEX is comma-separated integers, got {y[1]!r}") from None
    else:
        raise UsageError("--y is 'mean' or 'element INDEX' (INDEX like 0,3)")
    with _open(args.file) as r:
        for k in (args.x, args.by):
            if k is not None and k not in r.keys:
                raise UsageError(f"{k!r} is not a key of this file (keys: {r.keys})")
        if index is not None and (len(index) != len(r.shape)
                                  or any(not 0 <= i < n for i, n in zip(index, r.shape))):
            raise UsageError(f"--y element {y[1]}: not an element of shape {tuple(r.shape)}")
        plot.plot(r.rows(**_where(args)), args.output, index=index, x=args.x, by=args.by,
                  title=os.path.basename(r.path))
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


# --- the parser ---------------------------------------------------------------
EPILOG = """\
examples:
  array-logger ls ./logs
  array-logger info ./logs/q_values.db.zst
  array-logger head ./logs/q_values.db -n 3 --where "episode = ?" --param 10
  array-logger stats ./logs/loss.db --by episode --json
  array-logger export ./logs/q_values.db -o q.parquet --where "step % 10 = 0"
  array-logger verify ./logs && echo intact

exit status: 0 success, 1 damage or a failed check, 2 usage error.
docs/CLI.md in the array_logger repository has the full reference."""


def _add_where(p: argparse.ArgumentParser) -> None:
    p.add_argument("--where", metavar="SQL", help="SQL expression over the key columns, with ? placeholders")
    p.add_argument("--param", action="append", metavar="V",
                   help="value of the next ? (repeatable); read as int, else float, else text")
    p.add_argument("--param-str", action="append", metavar="V",
                   help="a ? value kept as text even if it looks like a number (after the --param values)")


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (for scripts) instead of text")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="array-logger", description="Look at, check, convert and export array_logger files.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"array-logger {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name: str, help: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, epilog="example:\n  " + example,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = command("ls", "every array name in a run directory: rows, shape, dtype, size, key ranges",
                "array-logger ls ./logs --json")
    p.add_argument("root", metavar="ROOT")
    p.add_argument("--no-ranges", action="store_true", help="skip key ranges (they read every key)")
    p.add_argument("--runs", action="store_true",
                   help="only the writers' run records: host, pid, status running/finished/crashed, ...")
    _add_json(p)
    p.set_defaults(func=cmd_ls)

    p = command("info", "one file: spec, format, meta, rows, key ranges, SQLite and compression details",
                "array-logger info ./logs/q_values.db")
    p.add_argument("file", metavar="FILE")
    _add_json(p)
    p.set_defaults(func=cmd_info)

    for name, what, func in (("head", "the first rows", cmd_head), ("tail", "the last rows", cmd_tail)):
        p = command(name, f"{what} (keys and array)" + (
            "; -f: then every new row as writers commit it, until they are gone" if name == "tail" else ""),
            f"array-logger {name} ./logs/loss.db -n 5 --json" if name == "head" else
            "array-logger tail -f ./logs q_values   (every shard of a sharded name)")
        p.add_argument("file", metavar="FILE" if name == "head" else "FILE|ROOT")
        if name == "tail":
            p.add_argument("name", metavar="NAME", nargs="?", help="the array name, with a ROOT directory")
            p.add_argument("-f", "--follow", action="store_true",
                           help="keep printing new rows until every writer closed (or was killed)")
            p.add_argument("--poll", type=float, default=0.5, help="seconds between polls with -f (default 0.5)")
        p.add_argument("-n", type=_int_at_least(0), default=10, help="number of rows (default 10)")
        _add_where(p)
        _add_json(p)
        p.set_defaults(func=func)

    p = command("count", "number of rows (that --where selects)",
                "array-logger count ./logs/loss.db --where \"episode >= ?\" --param 90")
    p.add_argument("file", metavar="FILE")
    _add_where(p)
    _add_json(p)
    p.set_defaults(func=cmd_count)

    p = command("stats", "count, mean, std, min, max, median over all elements and per element, "
                "or per value of a key (--by); streamed in bounded memory",
                "array-logger stats ./logs/loss.db --by episode")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--by", metavar="KEY", help="one line per value of this key")
    p.add_argument("--no-per-element", dest="per_element", action="store_false",
                   help="skip per-element statistics (faster for large arrays)")
    _add_where(p)
    _add_json(p)
    p.set_defaults(func=cmd_stats)

    p = command("verify", "read every row of a file or of every file in a directory; exit 1 on any damage",
                "array-logger verify ./logs")
    p.add_argument("path", metavar="FILE|ROOT")
    _add_json(p)
    p.set_defaults(func=cmd_verify)

    p = command("compress", "NAME.db -> NAME.db.zst with the crash-safe steps of close(); "
                "a .db.zst is recompressed", "array-logger compress ./logs/q_values.db --level 19")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--level", type=int, default=22, help="zstd level 1..22 (default 22, as init())")
    p.add_argument("--workers", type=_int_at_least(-1), default=-1,
                   help="zstd threads (default -1: one per core; 0: no worker thread)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_compress)

    p = command("decompress", "NAME.db.zst -> NAME.db with the steps register() takes to resume a run",
                "array-logger decompress ./logs/q_values.db.zst")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=cmd_decompress)

    p = command("merge", "files of the same spec into one new file, in the order given",
                "array-logger merge all/q.db run1/q.db run2/q.db.zst --duplicates first")
    p.add_argument("output", metavar="OUT", help="the new NAME.db")
    p.add_argument("inputs", metavar="IN", nargs="+")
    p.add_argument("--duplicates", choices=("keep", "first", "error"), default="keep",
                   help="rows whose keys an earlier row had: keep them (default), skip them, or fail")
    p.add_argument("--level", type=int, default=None, help="compress the output with zstd at this level")
    p.set_defaults(func=cmd_merge)

    p = command("export", "stream rows into Parquet, Arrow IPC, NPZ, CSV or HDF5",
                "array-logger export ./logs/q_values.db -o q.parquet --where \"episode < ?\" --param 10")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--format", choices=("parquet", "arrow", "npz", "csv", "hdf5"),
                   help="default: from OUT's suffix (.parquet .arrow/.feather .npz .csv .h5)")
    p.add_argument("--batch-rows", type=_int_at_least(1), default=None,
                   help="rows per batch (default: ~32 MiB of arrays)")
    p.add_argument("--csv-max-elements", type=_int_at_least(1), default=4096,
                   help="CSV writes one column per element; refuse arrays with more (default 4096)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_where(p)
    p.set_defaults(func=cmd_export)

    p = command("plot", "a quick PNG: the mean of each row or one element, against a key or the row number",
                "array-logger plot ./logs/q_values.db --y element 0,3 --x step --by episode -o q.png")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--y", nargs="+", default=["mean"], metavar="WHAT",
                   help="'mean' (default) or 'element INDEX' with INDEX like 0,3")
    p.add_argument("--x", metavar="KEY", help="key on the x axis (default: row number)")
    p.add_argument("--by", metavar="KEY", help="one line per value of this key")
    p.add_argument("-o", "--output", required=True, metavar="PNG")
    _add_where(p)
    p.set_defaults(func=cmd_plot)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs one command; returns the exit status (0, 1 or 2)."""
    from ._core import ArrayLoggerError, ValidationError

    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    try:
        return args.func(args)
    except UsageError as exc:  # one line, as for an invalid --where
        print(f"array-logger {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:  # an invalid --where, params, a bad option value
        print(f"array-logger {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ArrayLoggerError, OSError, ValueError, ImportError, RuntimeError) as exc:
        print(f"array-logger {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


def run() -> None:
    """Entry point of the console script (and of ``python -m array_logger``)."""
    sys.exit(main())
