"""The `array-logger` command line run in this process (`cli.main(argv)`), for
the paths tests/test_cli.py (which runs it as a subprocess) does not take:
complex and non-finite values in --json, text tables of `stats --by` and per
element, a damaged file among good ones in `ls`, parameters that read as
floats or text, empty selections, usage errors, an interrupted command. Every
printed value is checked against what was logged. In-process, so the whole
file costs about a second.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Tuple

import numpy as np
import pytest

import array_logger
from array_logger import cli
from array_logger.bridges import inspect, merge, plot, progress


def run_cli(capsys: pytest.CaptureFixture, *argv: Any) -> Tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    with array_logger.Logger(root, compression_level=None, handle_signals=False) as lg:
        lg.register("c", keys=["i"], shape=(2,), dtype="complex64")
        lg.log("c", {"i": 0}, np.array([1 + 2j, np.nan - 1j], np.complex64))
        lg.log("c", {"i": 1}, np.array([np.inf + 0j, 3 - 4j], np.complex64))
        lg.register("s", keys=["i"], shape=(), dtype="complex128")
        lg.log("s", {"i": 5}, np.complex128(-0.5 + 2j))
        lg.register("v", keys=["run", "t"], shape=(1,), dtype="float64", metadata={"lr": 0.5})
        for r in range(2):
            for t in range(3):
                lg.log("v", {"run": f"r{r}", "t": t}, np.array([10.0 * r + t]))
        lg.register("empty", keys=["i"], shape=(3,), dtype="int32")
    (root / "broken.db").write_bytes(b"not a database at all, " * 10)
    (root / ".hidden.db").write_bytes(b"dot files are not array files")
    return root


def test_json_writes_complex_as_pairs_and_non_finite_as_strings(logs: Path, capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_cli(capsys, "head", logs / "c.db", "--json")
    assert status == 0
    assert json.loads(out) == [
        {"keys": {"i": 0}, "array": [[1.0, 2.0], ["NaN", -1.0]]},
        {"keys": {"i": 1}, "array": [["Infinity", 0.0], [3.0, -4.0]]},
    ]
    # a scalar (shape ()) complex array is one pair (it raised ValueError before)
    status, out, _ = run_cli(capsys, "tail", logs / "s.db", "--json")
    assert (status, json.loads(out)) == (0, [{"keys": {"i": 5}, "array": [-0.5, 2.0]}])


def test_text_rows_of_head_and_tail(logs: Path, capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_cli(capsys, "tail", logs / "v.db", "-n", "2")
    assert status == 0
    assert out.splitlines() == ["run='r1' t=1  [11.]", "run='r1' t=2  [12.]"]
    # -n 0 prints nothing; a where clause nothing matches gives no row either
    assert run_cli(capsys, "head", logs / "v.db", "-n", "0") == (0, "", "")
    assert run_cli(capsys, "tail", logs / "v.db", "--where", "t > 99") == (0, "", "")
    assert run_cli(capsys, "tail", logs / "empty.db", "--json")[:2] == (0, "[]\n")


def test_params_read_as_int_float_or_text(logs: Path, capsys: pytest.CaptureFixture) -> None:
    # "1.5" is a float, "r1" text, "2" an int: rows t=2 of r1 only
    status, out, _ = run_cli(capsys, "count", logs / "v.db", "--where", "t > ? AND run = ? AND t <= ?",
                             "--param", "1.5", "--param", "r1", "--param", "2")
    assert (status, out) == (0, "1\n")


def test_stats_tables_by_key_and_per_element(logs: Path, capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_cli(capsys, "stats", logs / "v.db", "--by", "run")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "6 rows of shape (1,) float64"
    assert lines[1].split() == ["run", "count", "nan", "mean", "std", "min", "max", "median"]
    assert lines[2].split()[:4] == ["'r0'", "3", "0", "1"] and lines[2].split()[5:] == ["0", "2", "1"]
    assert lines[3].split()[:4] == ["'r1'", "3", "0", "11"] and lines[3].split()[5:] == ["10", "12", "11"]
    status, out, _ = run_cli(capsys, "stats", logs / "v.db")
    rows = [ln.split() for ln in out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["all", "[0]"]  # all elements, then element [0]
    assert rows[1][1:4] == ["6", "0", "6"] and rows[1][5:7] == ["0", "12"]


def test_info_of_a_plain_file_shows_its_user_metadata_and_sqlite_header(logs: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_cli(capsys, "info", logs / "v.db")
    assert status == 0
    assert "spec            shape=(1,) dtype=float64 keys=['run', 't']" in out
    assert "user metadata   {\"lr\": 0.5}" in out
    assert "journal delete" in out and "compression     none" in out


def test_ls_reports_a_damaged_file_and_lists_the_others(logs: Path, capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_cli(capsys, "ls", logs, "--json")
    assert status == 1  # a damaged file fails the command, the others are still listed
    by_name = {e["name"]: e for e in json.loads(out)}
    assert set(by_name) == {"broken.db", "c", "empty", "s", "v"}  # .hidden.db is not an array file
    assert "error" in by_name["broken.db"] and by_name["v"]["rows"] == 6
    assert by_name["empty"]["rows"] == 0 and by_name["empty"]["key_ranges"] == {}
    assert by_name["v"]["key_ranges"] == {"run": {"min": "r0", "max": "r1"}, "t": {"min": 0, "max": 2}}


def test_usage_errors_exit_2(logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for argv in (["plot", logs / "v.db", "--y", "element", "a,b", "-o", tmp_path / "p.png"],
                 ["plot", logs / "v.db", "--x", "nokey", "-o", tmp_path / "p.png"],
                 ["count", logs / "v.db", "--param", "1"]):
        with pytest.raises(SystemExit) as exc:
            run_cli(capsys, *argv)
        assert exc.value.code == 2, argv
    status, _, err = run_cli(capsys, "verify", tmp_path)  # a directory without array files
    assert status == 1 and "no array files" in err


def test_export_quiet_writes_the_rows(logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "v.npz"
    status, _, err = run_cli(capsys, "export", logs / "v.db", "-o", out, "-q")
    assert status == 0 and err == f"wrote 6 rows to {out} (npz)\n"
    with np.load(out, allow_pickle=False) as z:
        assert z["data"].ravel().tolist() == [0.0, 1.0, 2.0, 10.0, 11.0, 12.0]
        assert z["key_t"].tolist() == [0, 1, 2, 0, 1, 2]


def test_an_interrupted_command_exits_130(logs: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_count", interrupted)
    assert run_cli(capsys, "count", logs / "v.db")[0] == 130


# --- the helpers behind the commands -------------------------------------------------------------

def test_sizes_for_humans() -> None:
    assert [cli._size(n) for n in (0, 1023, 1024, 1536 << 10, 3 << 30, 5 << 40)] == \
        ["0 B", "1023 B", "1.0 KiB", "1.5 MiB", "3.0 GiB", "5120.0 GiB"]


def test_zstd_content_size_reads_the_frame_header(tmp_path: Path) -> None:
    magic = b"\x28\xb5\x2f\xfd"
    cases = [
        (b"SQLite format 3\x00", None),                             # not zstd
        (magic + bytes([0x00, 0x00]), None),                        # no content size recorded
        (magic + bytes([0x20]) + bytes([7]), 7),                    # single segment, 1-byte size
        (magic + bytes([0x40, 0x00]) + struct.pack("<H", 10), 266),  # 2-byte size: +256
        (magic + bytes([0x80, 0x00]) + struct.pack("<I", 70000), 70000),
    ]
    for i, (head, size) in enumerate(cases):
        p = tmp_path / f"f{i}"
        p.write_bytes(head + b"\0" * 8)
        assert inspect.zstd_content_size(str(p)) == size, head


def test_sqlite_header_of_a_short_or_64k_page_file(tmp_path: Path) -> None:
    short = tmp_path / "short.db"
    short.write_bytes(b"SQLite format 3\x00")
    assert inspect.sqlite_header(str(short)) == {}
    big = tmp_path / "big.db"
    h = bytearray(b"SQLite format 3\x00" + b"\0" * 84)
    h[16:18], h[18], h[28:32] = b"\x00\x01", 2, struct.pack(">I", 3)  # page size 1 means 65536
    big.write_bytes(bytes(h))
    assert inspect.sqlite_header(str(big)) == {"page_size": 65536, "page_count": 3, "journal_mode": "wal"}


def test_merge_and_plot_refuse_bad_arguments(logs: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NAME.db path"):
        merge.output_name(tmp_path / "out.sqlite")
    with pytest.raises(ValueError, match="duplicates must be one of"):
        merge.merge(tmp_path / "m.db", [logs / "v.db"], duplicates="maybe")
    with pytest.raises(ValueError, match="at least one input"):
        merge.merge(tmp_path / "m.db", [])
    with pytest.raises(FileExistsError):
        merge.merge(logs / "v.db", [logs / "v.db"])
    with array_logger.open_reader(logs / "v.db") as r:
        with pytest.raises(ValueError, match="is not a key"):
            plot.series(r.rows(), x="nokey")
        with pytest.raises(ValueError, match="not inside shape"):
            plot.series(r.rows(), index=(1,))


def test_progress_prints_every_ten_percent_without_a_terminal() -> None:
    class Closed:
        def isatty(self) -> bool:
            raise ValueError("I/O operation on closed file")

    assert progress._isatty(Closed()) is False  # type: ignore[arg-type]
    lines = []

    class Sink:
        def write(self, s: str) -> None:
            lines.append(s)

        def flush(self) -> None:
            return None

    p = progress.Progress(20, "x", stream=Sink())  # type: ignore[arg-type]
    for _ in range(20):
        p(1)
    p.close()
    text = "".join(lines).splitlines()
    assert text[0] == "x: 10% (2/20 rows)" and text[-1] == "x: 100% (20/20 rows)" and len(text) == 10
