"""The command line (docs/CLI.md) on what a newcomer meets after a run:
format-1 files of the pure-Python version, .db.zst files, damaged files,
empty directories and wrong arguments. Run in-process through
``array_logger.cli.main`` (test_cli.py runs the program as a subprocess);
values are compared with what was logged."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest

import array_logger
from analysis_cases import Case, make_case, make_format1_case
from array_logger.bridges import inspect
from array_logger.bridges.progress import BytesProgress, Progress
from array_logger.cli import main


def run(capsys: pytest.CaptureFixture, *args: object) -> Tuple[int, str, str]:
    """(exit status, stdout, stderr) of one command."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:  # argparse: --help, usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture, *args: object) -> object:
    status, out, err = run(capsys, *args, "--json")
    assert status == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("edges")
    old_zst = make_format1_case(root / "format1_zst")  # old.db.zst, as the pure-Python close() left it
    old_db = make_format1_case(root / "format1_db", compressed=False)  # old.db in WAL mode
    zst = make_case(root, "zst")  # format 2, zstd level 3
    plain = make_case(root, "f32_2d")
    bad = damaged_file(root / "damaged")
    return {"old_zst": old_zst, "old_db": old_db, "zst": zst, "plain": plain, "bad": bad, "root": root}


def damaged_file(root: Path) -> Path:
    """bad.db: 400 rows of 256 bytes over a few dozen pages, the last page of
    array blobs (the one before the first-key index, which close() appends
    after them) overwritten with garbage: the first rows read, later ones fail."""
    with array_logger.Logger(root, compression_level=None) as lg:
        lg.register("bad", keys=["step"], shape=(64,), dtype="float32")
        for i in range(400):
            lg.log("bad", {"step": i}, np.full(64, i, np.float32))
    bad = root / "bad.db"
    con = sqlite3.connect(f"file:{bad}?mode=ro", uri=True)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    (index_root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'array_log'").fetchone()
    con.close()
    data = bytearray(bad.read_bytes())
    end = (index_root - 1) * page_size
    data[end - 2048:end] = bytes(range(256)) * 8
    bad.write_bytes(bytes(data))
    return bad


def _rows(js: list) -> Tuple[List[dict], np.ndarray]:
    return [r["keys"] for r in js], np.array([r["array"] for r in js])


# --- format-1 and .db.zst files ------------------------------------------------
@pytest.mark.parametrize("which", ["old_zst", "old_db", "zst"])
def test_head_tail_count_read_old_and_compressed_files_exactly(capsys: pytest.CaptureFixture, files: dict,
                                                             which: str) -> None:
    case: Case = files[which]
    keys, arrays = _rows(run_json(capsys, "head", case.path, "-n", "3"))
    assert keys == case.key_rows[:3]
    assert arrays.astype(case.dtype).tobytes() == case.arrays[:3].tobytes()
    keys, arrays = _rows(run_json(capsys, "tail", case.path, "-n", "2", "--where", "step < ?", "--param", "2"))
    want = [i for i, kv in enumerate(case.key_rows) if kv["step"] < 2][-2:]
    assert keys == [case.key_rows[i] for i in want]
    assert arrays.astype(case.dtype).tobytes() == case.arrays[want].tobytes()
    n = sum(kv["episode"] == 1 for kv in case.key_rows)
    assert run_json(capsys, "count", case.path, "--where", "episode = ?", "--param", "1")["count"] == n


def test_info_shows_the_sqlite_details_of_a_db_zst(capsys: pytest.CaptureFixture, files: dict) -> None:
    for which in ("old_zst", "zst"):
        d = run_json(capsys, "info", files[which].path)
        s, c = d["sqlite"], d["compression"]
        # the database inside the frame: its pages are exactly the zstd content size
        assert s["page_size"] == 4096 and s["page_size"] * s["page_count"] == c["database_bytes"]
        assert s["freelist_count"] == 0 and "journal_mode" not in s
        assert c["compressed_bytes"] == files[which].path.stat().st_size == d["bytes"]
    old = run_json(capsys, "info", files["old_db"].path)
    assert old["format_version"] == 1 and old["created"] is None
    assert old["sqlite"]["journal_mode"] == "wal"  # the pure-Python writer left it in WAL mode (header)
    assert old["sqlite"]["page_size"] * old["sqlite"]["page_count"] == files["old_db"].path.stat().st_size
    status, out, _ = run(capsys, "info", files["old_zst"].path)
    assert status == 0
    assert "format          1 (blob filter: none)" in out
    assert f"sqlite          {array_logger.build_info()['sqlite']['version']}, page size 4096, 4 pages (0 free)\n" in out
    assert "compression     zstd, database 16384 bytes" in out


def test_stats_verify_export_of_a_format1_db_zst(capsys: pytest.CaptureFixture, files: dict, tmp_path: Path) -> None:
    case: Case = files["old_zst"]
    st = run_json(capsys, "stats", case.path, "--by", "episode")
    episodes = np.array([kv["episode"] for kv in case.key_rows])
    for g in st["by"]["groups"]:
        assert g["median"] == np.median(case.arrays[episodes == g["value"]].astype(np.float64))
    assert run_json(capsys, "verify", case.path) == [
        {"path": str(case.path), "ok": True, "rows": len(case.arrays), "rows_read": len(case.arrays)}]
    status, _, err = run(capsys, "export", case.path, "-o", tmp_path / "old.npz")
    assert status == 0 and err.endswith(f"wrote {len(case.arrays)} rows to {tmp_path / 'old.npz'} (npz)\n")
    with np.load(tmp_path / "old.npz") as z:
        assert z["data"].tobytes() == case.arrays.tobytes()
        assert z["key_episode"].tolist() == episodes.tolist()


# --- damaged files and failures leave nothing half-written ------------------------
def test_verify_reports_each_damaged_file_on_one_line(capsys: pytest.CaptureFixture, files: dict) -> None:
    status, out, _ = run(capsys, "verify", files["bad"].parent)
    assert status == 1
    assert len(out.splitlines()) == 1 and out.startswith(f"DAMAGED  {files['bad']}  SQLite integrity check: On tree page")
    [res] = run_json_status(capsys, 1, "verify", files["bad"])
    assert res["ok"] is False and len(res["problems"]) > 3 and "in all)" in res["error"]
    assert all("\n" not in p and not p.startswith("***") for p in res["problems"])
    status, out, err = run(capsys, "verify", files["root"] / "nothing_here")
    assert (status, out) == (1, "")
    assert err == f"array-logger verify: FileNotFoundError: {files['root'] / 'nothing_here'}: no such file or directory\n"


def run_json_status(capsys: pytest.CaptureFixture, want: int, *args: object) -> object:
    status, out, err = run(capsys, *args, "--json")
    assert status == want, err
    return json.loads(out)


@pytest.mark.parametrize("suffix", ["npz", "parquet", "csv"])
def test_a_failed_export_leaves_no_file(capsys: pytest.CaptureFixture, files: dict, tmp_path: Path,
                                        suffix: str) -> None:
    out = tmp_path / f"bad.{suffix}"
    # 350 rows are written in batches of 50, then a row on the damaged page fails
    status, _, err = run(capsys, "export", files["bad"], "-o", out, "--batch-rows", "50")
    assert status == 1 and "CorruptFileError" in err and "malformed" in err
    assert "export bad.%s: 87%% (350/400 rows)" % suffix in err
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary
    # an existing output is replaced only by a complete one
    out.write_bytes(b"earlier export")
    assert run(capsys, "export", files["bad"], "-o", out, "-q", "--batch-rows", "50")[0] == 1
    assert out.read_bytes() == b"earlier export" and len(list(tmp_path.iterdir())) == 1
    assert run(capsys, "export", files["plain"].path, "-o", out, "-q")[0] == 0
    assert out.read_bytes() != b"earlier export" and len(list(tmp_path.iterdir())) == 1
    with array_logger.open_reader(files["bad"]) as r:
        with pytest.raises(array_logger.CorruptFileError):
            r.to_parquet(tmp_path / "api.parquet")
    assert not (tmp_path / "api.parquet").exists() and len(list(tmp_path.iterdir())) == 1


def test_a_failed_merge_leaves_no_file(capsys: pytest.CaptureFixture, files: dict, tmp_path: Path) -> None:
    status, _, err = run(capsys, "merge", tmp_path / "m.db", files["bad"])
    assert status == 1 and "malformed" in err
    assert list(tmp_path.iterdir()) == []
    # and the same output name then works
    assert run(capsys, "merge", tmp_path / "m.db", files["plain"].path, files["plain"].path, "--level", "3")[0] == 0
    with array_logger.open_reader(tmp_path / "m.db") as r:
        assert r.path.endswith("m.db.zst")
        assert r.read_all().arrays.tobytes() == np.concatenate([files["plain"].arrays] * 2).tobytes()


def test_ls_of_a_directory_without_array_files(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an array file")
    status, out, err = run(capsys, "ls", tmp_path)
    assert status == 0 and out.split() == ["name", "rows", "shape", "dtype", "size", "zst", "key", "ranges",
                                           "last_written"]
    assert err == f"array-logger ls: no array files (NAME.db or NAME.db.zst) in {tmp_path}\n"
    assert run_json(capsys, "ls", tmp_path) == []


# --- wrong arguments: exit 2 and one line saying what is wrong ---------------------
USAGE_ERRORS = [
    ([], "array-logger: error: the following arguments are required: COMMAND"),
    (["frobnicate"], "array-logger: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["head", "{q}", "-n", "-3"], "array-logger head: error: argument -n: must be >= 0, got -3"),
    (["tail", "{q}", "-n", "x"], "array-logger tail: error: argument -n: invalid int value: 'x'"),
    (["export", "{q}", "-o", "{tmp}/x.csv", "--batch-rows", "0"],
     "array-logger export: error: argument --batch-rows: must be >= 1, got 0"),
    (["export", "{q}", "-o", "{tmp}/x.txt"],
     "array-logger export: error: cannot tell the format from '{tmp}/x.txt': name it with --format"),
    (["export", "{q}"], "array-logger export: error: the following arguments are required: -o/--output"),
    (["plot", "{q}", "--y", "element", "3,0", "-o", "{tmp}/p.png"],
     "array-logger plot: error: --y element 3,0: not an element of shape (3, 2)"),
    (["plot", "{q}", "--y", "element", "1", "-o", "{tmp}/p.png"],
     "array-logger plot: error: --y element 1: not an element of shape (3, 2)"),
    (["merge", "{tmp}/m.db", "{q}", "--level", "50"], "array-logger merge: error: --level must be 1..22, got 50"),
    (["compress", "{q}", "--level", "0"], "array-logger compress: error: --level must be 1..22, got 0"),
    (["compress", "{q}", "--workers", "-2"], "array-logger compress: error: argument --workers: must be >= -1"),
    (["stats", "{q}", "--by", "nokey"], "array-logger stats: error: --by 'nokey': not a key of this file"),
    (["count", "{q}", "--param", "1"], "array-logger count: error: --param needs --where"),
    (["count", "{q}", "--where", "nokey = 1"], "array-logger count: error: invalid where_clause 'nokey = 1'"),
    (["plot", "{q}", "--y", "element", "a", "-o", "{tmp}/p.png"],
     "array-logger plot: error: --y element INDEX: INDEX is comma-separated integers, got 'a'"),
    (["plot", "{q}", "--x", "nokey", "-o", "{tmp}/p.png"], "array-logger plot: error: 'nokey' is not a key"),
    (["plot", "{q}", "--y", "median", "-o", "{tmp}/p.png"], "array-logger plot: error: --y is 'mean' or 'element INDEX'"),
    (["count", "{q}", "--where", "step = ? AND episode = ?", "--param", "1"],
     "array-logger count: error: where_clause has 2 placeholders but 1 params were given"),
]


@pytest.mark.parametrize("argv,message", USAGE_ERRORS, ids=[" ".join(a[:2]) or "none" for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture, files: dict, tmp_path: Path,
                                           argv: List[str], message: str) -> None:
    fill = {"q": str(files["plain"].path), "tmp": str(tmp_path)}
    status, out, err = run(capsys, *[a.format(**fill) for a in argv])
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(message.format(**fill)), err
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert files["plain"].path.exists()  # compress refused before touching it


# --- compress shows its progress ----------------------------------------------------
def test_compress_reports_progress_in_bytes(capsys: pytest.CaptureFixture, files: dict, tmp_path: Path) -> None:
    shutil.copy(files["plain"].path, tmp_path / "q.db")
    size = (tmp_path / "q.db").stat().st_size
    status, _, err = run(capsys, "compress", tmp_path / "q.db", "--level", "3", "--workers", "0")
    assert status == 0
    lines = err.splitlines()
    assert lines[0] == f"compress q.db: 100% ({size}/{size} bytes)"  # stderr is no terminal: plain lines
    assert lines[-1].startswith(f"{tmp_path / 'q.db.zst'}: ") and lines[-1].endswith(f"(level 3, from {size})")
    status, _, err = run(capsys, "decompress", tmp_path / "q.db.zst")
    assert (status, err) == (0, f"{tmp_path / 'q.db'}: {size} bytes\n")
    status, _, err = run(capsys, "compress", tmp_path / "q.db", "--level", "3", "-q")
    assert status == 0 and "%" not in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    term = _Terminal()
    p = BytesProgress("compress big.db", stream=term)
    for done in (64 << 20, 128 << 20, 150 << 20):  # as the core reports: every 64 MiB, then the end
        p("big", done, 150 << 20)
    p.close()
    assert p._progress.done == 150 << 20
    text = term.getvalue()
    assert "compress big.db: 100%|" in text and "150M/150M" in text  # tqdm, in bytes scaled to MiB
    plain = io.StringIO()
    q = BytesProgress("compress big.db", stream=plain)
    for done in (64 << 20, 128 << 20, 150 << 20):
        q("big", done, 150 << 20)
    q.close()
    assert plain.getvalue().splitlines() == [
        f"compress big.db: 42% ({64 << 20}/{150 << 20} bytes)", f"compress big.db: 85% ({128 << 20}/{150 << 20} bytes)",
        f"compress big.db: 100% ({150 << 20}/{150 << 20} bytes)"]
    rows = io.StringIO()
    r = Progress(0, "export empty.npz", stream=rows)
    r(0)
    r.close()
    assert rows.getvalue() == "export empty.npz: 100% (0/0 rows)\n"


def test_integrity_problems_are_one_per_line(files: dict) -> None:
    with array_logger.open_reader(files["bad"]) as r:
        problems = inspect.integrity_problems(r)
    assert len(problems) > 3 and all(p.startswith("On tree page") or "malformed" in p for p in problems)
    with array_logger.open_reader(files["plain"].path) as r:
        assert inspect.integrity_problems(r) == []


# --- what the output helpers do with unusual values and files ------------------------
def test_json_of_complex_and_non_finite_values(capsys: pytest.CaptureFixture, files: dict, tmp_path: Path) -> None:
    c = make_case(tmp_path, "complex64")
    js = run_json(capsys, "head", c.path, "-n", "2")
    got = np.array([r["array"] for r in js], np.float32)  # complex as [real, imaginary]
    assert got.shape == (2, 2, 2) and got.tobytes() == c.arrays[:2].view(np.float32).tobytes()
    s = make_case(tmp_path, "complex128_scalar")  # shape (): a numpy complex scalar per row
    js = run_json(capsys, "tail", s.path, "-n", "1")
    assert js == [{"keys": {"step": len(s.arrays) - 1}, "array": [s.arrays[-1].real, s.arrays[-1].imag]}]
    with array_logger.Logger(tmp_path / "nf", compression_level=None) as lg:
        lg.register("nf", keys=["step"], shape=(4,), dtype="float64")
        lg.log("nf", {"step": 0}, np.array([np.nan, np.inf, -np.inf, 1.5]))
    assert run_json(capsys, "head", tmp_path / "nf" / "nf.db") == [
        {"keys": {"step": 0}, "array": ["NaN", "Infinity", "-Infinity", 1.5]}]
    st = run_json(capsys, "stats", tmp_path / "nf" / "nf.db")
    assert st["all"]["nan"] == 1 and st["all"]["max"] == "Infinity" and st["all"]["min"] == "-Infinity"


def test_param_values_are_int_float_or_text(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    case = make_case(tmp_path, "mixed_keys")  # run cycles through 1, "two", 3.5, "007"
    runs = [kv["run"] for kv in case.key_rows]

    def count(*param: str) -> int:
        return run_json(capsys, "count", case.path, "--where", "run = ?", *param)["count"]

    assert count("--param", "3.5") == runs.count(3.5) == 6
    assert count("--param", "two") == runs.count("two") == 6
    assert count("--param", "1") == runs.count(1) == 6
    assert count("--param-str", "007") == runs.count("007") == 5
    assert count("--param", "007") == 0  # read as the int 7
    status, out, _ = run(capsys, "stats", case.path, "--by", "run", "--no-per-element")
    lines = out.splitlines()
    assert status == 0 and lines[0] == f"{len(runs)} rows of shape (2,) float32"
    assert [ln.split()[0] for ln in lines[2:]] == ["1", "3.5", "'007'", "'two'"]  # numbers, then text
    assert [int(ln.split()[1]) for ln in lines[2:]] == [2 * runs.count(v) for v in (1, 3.5, "007", "two")]


def test_ls_and_verify_of_a_directory_with_a_damaged_file(capsys: pytest.CaptureFixture, files: dict,
                                                           tmp_path: Path) -> None:
    # ls reads no array (the keys come from the first-key index): the damaged file is listed
    [res] = run_json(capsys, "ls", files["bad"].parent)
    assert (res["name"], res["rows"], res["key_ranges"]) == ("bad", 400, {"step": {"min": 0, "max": 399}})
    # a file that is no array file is listed with the error, and ls fails
    (tmp_path / "q.db").write_bytes(b"not a database" * 100)
    shutil.copy(files["plain"].path, tmp_path / "f32_2d.db")
    status, out, _ = run(capsys, "ls", tmp_path)
    assert status == 1
    first, second = out.splitlines()[1:]
    assert first.split()[:3] == ["f32_2d", "23", "(3,"]
    assert second.split()[:6] == ["q", "-", "-", "-", "-", "-"] and "CorruptFileError" in second
    (tmp_path / "q.db").unlink()
    (tmp_path / "f32_2d.db").unlink()
    status, _, err = run(capsys, "verify", tmp_path)  # a directory without array files
    assert status == 1 and err == (f"array-logger verify: FileNotFoundError: {tmp_path}: "
                                   "no array files (NAME.db or NAME.db.zst) there\n")


def test_ls_info_head_tail_of_an_empty_file(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    with array_logger.Logger(tmp_path, compression_level=None) as lg:
        lg.register("empty", keys=["step"], shape=(2,), dtype="int8", metadata={"x": 1})
    con = sqlite3.connect(tmp_path / "empty.db")  # user metadata another program wrote, not JSON
    with con:
        con.execute("UPDATE meta SET value = 'plain text, not JSON' WHERE key = 'user_metadata'")
    con.close()
    (tmp_path / ".hidden.db").write_bytes(b"")  # dot files are not array files
    [line] = run_json(capsys, "ls", tmp_path)
    assert (line["name"], line["rows"], line["key_ranges"]) == ("empty", 0, {})
    status, out, _ = run(capsys, "ls", tmp_path, "--no-ranges")
    kib = f"{line['bytes'] / 1024:.1f}"
    assert status == 0 and out.splitlines()[1].split()[:8] == ["empty", "0", "(2,)", "int8", kib, "KiB", "no", "-"]
    d = run_json(capsys, "info", tmp_path / "empty.db")
    assert d["user_metadata"] == "plain text, not JSON" and d["key_ranges"] == {}
    assert run_json(capsys, "tail", tmp_path / "empty.db") == []
    assert run_json(capsys, "head", tmp_path / "empty.db", "-n", "0") == []
    assert run_json(capsys, "tail", tmp_path / "empty.db", "--where", "step > ?", "--param", "3") == []


def test_file_headers_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "short").write_bytes(b"SQLite format 3\0")
    (tmp_path / "text").write_bytes(b"x" * 200)
    assert inspect.sqlite_header(str(tmp_path / "short")) == {}
    assert inspect.sqlite_header(str(tmp_path / "text")) == {}
    assert inspect.zstd_content_size(str(tmp_path / "text")) is None
    # a zstd frame without the content size (a streamed frame: flag byte 0)
    (tmp_path / "nosize.zst").write_bytes(b"\x28\xb5\x2f\xfd\x00\x58" + b"\0" * 12)
    assert inspect.zstd_content_size(str(tmp_path / "nosize.zst")) is None
    # the 2-byte size field holds size - 256 (zstd format, Frame_Content_Size)
    (tmp_path / "two.zst").write_bytes(b"\x28\xb5\x2f\xfd\x60" + (1000 - 256).to_bytes(2, "little") + b"\0" * 8)
    assert inspect.zstd_content_size(str(tmp_path / "two.zst")) == 1000


def test_sizes_are_shown_in_binary_units() -> None:
    from array_logger.cli import _size

    assert [_size(n) for n in (0, 1023, 1024, 1536 << 10, 5 << 30, 3 << 40)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 MiB", "5.0 GiB", "3072.0 GiB"]
