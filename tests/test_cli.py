"""The `array-logger` command line (docs/CLI.md), run as a subprocess: what it
prints, its --json output, and its exit status (0 ok, 1 damage, 2 usage)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest

import array_logger
from al_helpers import child_env, run_child

CONSOLE_SCRIPT = Path(sys.executable).parent / "array-logger"


def cli(*args: str, cwd: Path = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "array_logger", *map(str, args)], env=child_env(),
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def cli_json(*args: str) -> object:
    proc = cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(5)
    q = rng.standard_normal((60, 3, 2)).astype(np.float32)
    loss = rng.random(12)
    with array_logger.Logger(root / "logs", compression_level=None) as lg:
        lg.register("q", keys=["episode", "step"], shape=(3, 2), dtype="float32", metadata={"lr": 0.01})
        lg.register("loss", keys=["episode"], shape=(), dtype="float64")
        for i, a in enumerate(q):
            lg.log("q", {"episode": i // 10, "step": i % 10}, a)
        for i, v in enumerate(loss):
            lg.log("loss", {"episode": i}, v)
    with array_logger.Logger(root / "logs", compression_level=3) as lg:  # a compressed one beside them
        lg.register("w", keys=["k"], shape=(2,), dtype="int16")
        for i in range(5):
            lg.log("w", {"k": f"k{i}"}, np.array([i, -i], np.int16))
    return {"root": root, "logs": root / "logs", "q": q, "loss": loss}


def test_console_script_and_module_both_run(run: dict) -> None:
    assert CONSOLE_SCRIPT.exists(), "pip install did not create the array-logger console script"
    proc = subprocess.run([str(CONSOLE_SCRIPT), "count", str(run["logs"] / "q.db")], env=child_env(),
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "60\n")
    assert cli("count", run["logs"] / "q.db").stdout == "60\n"


def test_help_shows_examples_and_exit_codes() -> None:
    proc = cli("--help")
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "array-logger export" in proc.stdout and "exit status" in proc.stdout
    assert cli("stats", "--help").stdout.count("array-logger stats") >= 1
    # every command's own help, in one child process
    proc = run_child(
        """
        import contextlib, io
        from array_logger.cli import main
        for command in ("ls", "info", "head", "tail", "count", "stats", "verify", "compress", "decompress", "merge",
                        "export", "plot"):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    main([command, "--help"])
                except SystemExit as e:
                    assert e.code == 0, (command, e.code)
            text = out.getvalue()
            assert "example:" in text and f"array-logger {command}" in text, (command, text)
        print("ok")
        """)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_export_shows_a_progress_bar_on_a_terminal(run: dict, tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    try:
        proc = subprocess.run([sys.executable, "-m", "array_logger", "export", str(run["logs"] / "q.db"),
                               "-o", str(tmp_path / "q.npz")], env=child_env(), stdout=subprocess.PIPE,
                              stderr=child_fd, timeout=120)
        os.close(child_fd)
        child_fd = -1
        chunks = []
        while True:
            try:
                data = os.read(main_fd, 4096)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if child_fd >= 0:
            os.close(child_fd)
        os.close(main_fd)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text
    assert "60/60" in text and "rows" in text and "100%|" in text, text  # tqdm's bar, not plain lines
    assert "% (60/60 rows)" not in text


def test_ls(run: dict) -> None:
    lines = cli_json("ls", run["logs"])
    by_name = {ln["name"]: ln for ln in lines}
    assert sorted(by_name) == ["loss", "q", "w"]
    q = by_name["q"]
    assert (q["rows"], q["shape"], q["dtype"], q["compressed"]) == (60, [3, 2], "float32", False)
    assert q["key_ranges"] == {"episode": {"min": 0, "max": 5}, "step": {"min": 0, "max": 9}}
    assert q["bytes"] > 60 * 24 and q["created"].endswith("Z") and q["last_written"].endswith("Z")
    assert by_name["w"]["compressed"] is True and by_name["w"]["key_ranges"]["k"] == {"min": "k0", "max": "k4"}
    text = cli("ls", run["logs"]).stdout
    assert text.splitlines()[0].split()[:4] == ["name", "rows", "shape", "dtype"]
    assert "episode=0..5 step=0..9" in text


def test_info(run: dict) -> None:
    d = cli_json("info", run["logs"] / "q.db")
    assert d["format_version"] == 2 and d["rows"] == 60 and d["keys"] == ["episode", "step"]
    assert d["user_metadata"] == {"lr": 0.01}
    assert d["meta"]["shape"] == "(3, 2)" and d["sqlite"]["page_size"] >= 4096
    z = cli_json("info", run["logs"] / "w.db.zst")
    assert z["compression"]["codec"] == "zstd" and z["compression"]["database_bytes"] > z["bytes"]
    text = cli("info", run["logs"] / "q.db").stdout
    assert "user metadata   {\"lr\": 0.01}" in text and "rows            60" in text


def test_head_tail_count_with_where(run: dict) -> None:
    q = run["q"]
    rows = cli_json("head", run["logs"] / "q.db", "-n", "3", "--where", "episode = ?", "--param", "2")
    assert [r["keys"] for r in rows] == [{"episode": 2, "step": s} for s in range(3)]
    assert np.array(rows[1]["array"], np.float32).tobytes() == q[21].tobytes()
    tail = cli_json("tail", run["logs"] / "q.db", "-n", "4")
    assert [r["keys"]["step"] for r in tail] == [6, 7, 8, 9]
    assert np.array(tail[-1]["array"], np.float32).tobytes() == q[-1].tobytes()
    tail_w = cli_json("tail", run["logs"] / "q.db", "-n", "2", "--where", "step < ?", "--param", "3")
    assert [r["keys"] for r in tail_w] == [{"episode": 5, "step": 1}, {"episode": 5, "step": 2}]
    assert cli_json("count", run["logs"] / "q.db", "--where", "step >= ?", "--param", "7")["count"] == 18
    w = cli_json("head", run["logs"] / "w.db.zst", "--where", "k = ?", "--param-str", "k3")
    assert w == [{"keys": {"k": "k3"}, "array": [3, -3]}]
    assert "episode=2 step=0" in cli("head", run["logs"] / "q.db", "--where", "episode = ?", "--param", "2").stdout


def test_stats_json_and_by(run: dict) -> None:
    st = cli_json("stats", run["logs"] / "q.db")
    x = run["q"].astype(np.float64)
    assert st["all"]["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert st["all"]["median"] == np.median(x) and st["median_exact"] is True
    assert np.array(st["per_element"]["max"], np.float32).tobytes() == run["q"].max(axis=0).tobytes()
    by = cli_json("stats", run["logs"] / "q.db", "--by", "episode")
    assert [g["value"] for g in by["by"]["groups"]] == list(range(6))
    assert by["by"]["groups"][2]["median"] == np.median(x[20:30])
    text = cli("stats", run["logs"] / "loss.db").stdout
    assert "all elements" in text and f"{run['loss'].max():.6g}" in text


def test_export_every_format_with_progress_lines(run: dict, tmp_path: Path) -> None:
    for suffix in ("parquet", "arrow", "npz", "csv", "h5"):
        out = tmp_path / f"q.{suffix}"
        proc = cli("export", run["logs"] / "q.db", "-o", out, "--where", "episode < ?", "--param", "3",
                   "--batch-rows", "7")
        assert proc.returncode == 0, proc.stderr
        assert out.exists() and out.stat().st_size > 0
        progress = [ln for ln in proc.stderr.splitlines() if ln.startswith("export ")]
        assert progress[-1].endswith("100% (30/30 rows)"), proc.stderr  # plain lines: stderr is no terminal
        assert len(progress) <= 10
    with np.load(tmp_path / "q.npz") as z:
        assert z["data"].tobytes() == run["q"][:30].tobytes()


def test_merge(run: dict, tmp_path: Path) -> None:
    out = tmp_path / "merged" / "q.db"
    proc = cli("merge", out, run["logs"] / "q.db", run["logs"] / "q.db", "--duplicates", "first")
    assert proc.returncode == 0, proc.stderr
    with array_logger.open_reader(out) as r:
        assert r.read_all().arrays.tobytes() == run["q"].tobytes()
    out2 = tmp_path / "merged" / "q2.db"
    assert cli("merge", out2, run["logs"] / "q.db", run["logs"] / "q.db").returncode == 0
    assert cli_json("count", out2)["count"] == 120
    failed = cli("merge", tmp_path / "merged" / "q3.db", run["logs"] / "q.db", run["logs"] / "q.db",
                 "--duplicates", "error")
    assert failed.returncode == 1 and "duplicate key" in failed.stderr
    assert not (tmp_path / "merged" / "q3.db").exists()
    mismatch = cli("merge", tmp_path / "merged" / "m.db", run["logs"] / "q.db", run["logs"] / "loss.db")
    assert mismatch.returncode == 1 and "Meta mismatch" in mismatch.stderr


def test_plot_writes_a_png(run: dict, tmp_path: Path) -> None:
    import matplotlib.image as mpimg  # extra "plot", installed by scripts/test.sh

    out = tmp_path / "q.png"
    proc = cli("plot", run["logs"] / "q.db", "--y", "element", "0,1", "--x", "step", "--by", "episode", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)
    assert img.shape[0] >= 300 and img.shape[1] >= 500
    assert img[..., :3].std() > 0.05  # not a blank canvas
    assert cli("plot", run["logs"] / "loss.db", "-o", tmp_path / "l.png").returncode == 0


def test_verify_ok_and_damage(run: dict, tmp_path: Path) -> None:
    assert cli("verify", run["logs"]).returncode == 0
    results = cli_json("verify", run["logs"])
    assert all(r["ok"] for r in results) and {r["rows"] for r in results} == {60, 12, 5}
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(run["logs"] / "q.db", bad / "q.db")
    data = bytearray((bad / "q.db").read_bytes())
    # overwrite the end of the last page of array blobs with garbage: the
    # page before the first-key index, which close() appends after them
    con = sqlite3.connect(f"file:{bad / 'q.db'}?mode=ro", uri=True)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    (index_root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'array_log'").fetchone()
    con.close()
    end = (index_root - 1) * page_size
    data[end - 2048:end] = bytes(range(256)) * 8
    (bad / "q.db").write_bytes(bytes(data))
    shutil.copy(run["logs"] / "w.db.zst", bad / "w.db.zst")
    zst = bytearray((bad / "w.db.zst").read_bytes())
    zst[len(zst) // 2] ^= 0xFF
    (bad / "w.db.zst").write_bytes(bytes(zst))
    proc = cli("verify", bad)
    assert proc.returncode == 1
    assert proc.stdout.count("DAMAGED") == 2, proc.stdout
    js = json.loads(cli("verify", bad, "--json").stdout)
    assert [r["ok"] for r in js] == [False, False] and all(r["error"] for r in js)


def _codes(*cases: List[str]) -> List[int]:
    return [cli(*c).returncode for c in cases]


def test_exit_codes(run: dict, tmp_path: Path) -> None:
    q = str(run["logs"] / "q.db")
    # through the program itself; each usage error's message: test_cli_edges.py (in-process)
    assert _codes(["frobnicate"], ["count", q, "--where", "step <"],
                  ["export", q, "-o", str(tmp_path / "x.unknown")]) == [2] * 3
    assert _codes(["count", str(tmp_path / "missing.db")], ["ls", str(tmp_path / "nodir")]) == [1, 1]
    not_ours = tmp_path / "other.db"
    not_ours.write_bytes(b"this is not a database" * 100)
    proc = cli("info", not_ours)
    assert proc.returncode == 1 and proc.stderr.startswith("array-logger info: ")
    assert "Traceback" not in proc.stderr


def test_compress_and_decompress_use_the_core_steps(run: dict, tmp_path: Path) -> None:
    work = tmp_path / "c"
    work.mkdir()
    shutil.copy(run["logs"] / "q.db", work / "q.db")
    proc = cli("compress", work / "q.db", "--level", "3")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in work.iterdir()) == ["q.db.zst"]  # no .db, no .tmp, no lock left
    with array_logger.open_reader(work / "q.db") as r:  # x.db finds x.db.zst
        assert r.path.endswith("q.db.zst") and r.read_all().arrays.tobytes() == run["q"].tobytes()
    assert cli("compress", work / "q.db.zst", "--level", "19").returncode == 0  # recompress
    proc = cli("decompress", work / "q.db.zst")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in work.iterdir()) == ["q.db"]
    with array_logger.open_reader(work / "q.db") as r:
        assert r.read_all().arrays.tobytes() == run["q"].tobytes()
    assert cli_json("info", work / "q.db")["sqlite"]["journal_mode"] == "delete"
    # a file being written is refused, and left as it is
    with array_logger.Logger(work, compression_level=None) as lg:
        lg.register("q", keys=["episode", "step"], shape=(3, 2), dtype="float32")
        busy = cli("compress", work / "q.db")
        assert busy.returncode == 1 and "StateError" in busy.stderr, busy.stderr
        assert (work / "q.db").exists() and not (work / "q.db.zst").exists()
    assert cli("compress", work / "q.db", "--level", "0").returncode == 2
