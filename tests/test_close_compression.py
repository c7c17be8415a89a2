"""Close-time compression (docs/DESIGN.md "Close", docs/FORMAT.md section 7):
the adaptive policy's .db.zst is one standard zstd stream of 4 MiB frames that
`zstd -d` and the zstandard package turn back into exactly the closed .db;
compression_mode="plain" writes 2.0.0's single frame; kills, a full disk and
resuming keep a complete .db or .db.zst (docs/DURABILITY.md).

Speed is measured by benchmarks/run.py, not here.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zstandard

import array_logger
from al_helpers import read_rows, run_child, start_child

SEGMENT = 4 << 20  # bytes of the .db per frame (os/segmented_zstd.hpp)


def visible(root: Path) -> list:
    return sorted(f for f in os.listdir(root) if not f.startswith("."))


def walk_rows(n: int, shape: tuple, seed: int = 5) -> np.ndarray:
    """A float32 random walk, as the benchmark's C workload."""
    rng = np.random.default_rng(seed)
    m = int(np.prod(shape))
    return np.cumsum(rng.standard_normal(n * m) * 0.01).astype(np.float32).reshape((n,) + shape)


def zstd_cli(path: Path) -> bytes:
    return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True, timeout=120).stdout


def zstandard_stream(path: Path) -> bytes:
    out = io.BytesIO()
    with open(path, "rb") as f:
        zstandard.ZstdDecompressor().copy_stream(f, out)
    return out.getvalue()


def frame_count(data: bytes) -> int:
    """Data frames in a zstd stream (skippable frames, such as the seek table, not counted)."""
    n = pos = 0
    while pos < len(data):
        magic = int.from_bytes(data[pos:pos + 4], "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:
            pos += 8 + int.from_bytes(data[pos + 4:pos + 8], "little")
            continue
        one = zstandard.ZstdDecompressor().decompressobj()  # stops at the end of one frame
        one.decompress(data[pos:])
        pos = len(data) - len(one.unused_data)
        n += 1
    return n


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uncompressed database of ~13 MB (four segments) of random-walk rows."""
    root = tmp_path_factory.mktemp("pristine")
    rows = walk_rows(3000, (32, 32))
    with array_logger.Logger(root, None, handle_signals=False) as lg:
        lg.register("w", keys=["i"], shape=(32, 32), dtype="float32")
        for i in range(len(rows)):
            lg.log("w", {"i": i}, rows[i])
    assert (root / "w.db").stat().st_size > 3 * SEGMENT
    return root / "w.db"


def close_a_copy(pristine: Path, root: Path, level: int, mode: str) -> Path:
    """Resume a copy of `pristine` (no new rows) and close it compressed."""
    root.mkdir()
    shutil.copy(pristine, root / "w.db")
    with array_logger.Logger(root, level, compression_mode=mode, handle_signals=False) as lg:
        lg.register("w", keys=["i"], shape=(32, 32), dtype="float32")
    assert visible(root) == ["w.db.zst"]
    return root / "w.db.zst"


def test_adaptive_stream_decompresses_to_exactly_the_plain_pass_bytes(tmp_path: Path, pristine: Path) -> None:
    # Two identical copies resumed and closed the same way hold the same bytes
    # at close (SQLite only bumps the change counter): the adaptive stream must
    # decompress to exactly what 2.0.0's single frame holds, with every decoder.
    adaptive = close_a_copy(pristine, tmp_path / "a", 3, "adaptive")
    plain = close_a_copy(pristine, tmp_path / "p", 3, "plain")
    expected = zstd_cli(plain)
    assert frame_count(plain.read_bytes()) == 1
    original = pristine.read_bytes()
    assert len(expected) == len(original)
    # Only the change counter (24..27) and version-valid-for (92..95) moved.
    differ = [i for i in range(len(original)) if original[i] != expected[i]]
    assert set(differ) <= set(range(24, 28)) | set(range(92, 96)), differ[:10]
    data = adaptive.read_bytes()
    assert frame_count(data) == -(-len(expected) // SEGMENT) >= 4
    assert zstd_cli(adaptive) == expected
    assert zstandard_stream(adaptive) == expected
    assert zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(data) == expected
    # A one-frame decoder that trusts the frame's size must fail, not return
    # the first segment as if it were the file.
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompress(data)
    rows = walk_rows(3000, (32, 32))
    with array_logger.open_reader(adaptive) as reader:
        batch = reader.read_all()
    assert batch.keys["i"].tolist() == list(range(3000))
    assert batch.arrays.tobytes() == rows.tobytes()


def test_level_22_within_2_percent_of_a_plain_level_22_pass(tmp_path: Path) -> None:
    # The benchmark's C data (random walk, (10, 5) float32), 20,000 rows (~5 MB, two segments).
    rows = walk_rows(20_000, (10, 5), seed=12345)
    root = tmp_path / "logs"
    with array_logger.Logger(root, None, handle_signals=False) as lg:
        lg.register("c", keys=["episode", "step"], shape=(10, 5), dtype="float32")
        for i in range(len(rows)):
            lg.log("c", {"episode": i // 100, "step": i % 100}, rows[i])
    pristine = root / "c.db"
    sizes, contents = {}, {}
    for mode in ("adaptive", "plain"):
        r = tmp_path / mode
        r.mkdir()
        shutil.copy(pristine, r / "c.db")
        with array_logger.Logger(r, 22, compression_mode=mode, handle_signals=False) as lg:
            lg.register("c", keys=["episode", "step"], shape=(10, 5), dtype="float32")
        sizes[mode] = (r / "c.db.zst").stat().st_size
        contents[mode] = zstd_cli(r / "c.db.zst")
    assert contents["adaptive"] == contents["plain"]
    assert frame_count((tmp_path / "adaptive" / "c.db.zst").read_bytes()) == 2
    # "plain" is one frame at exactly level 22 (2.0.0's pass, the size reference).
    assert sizes["adaptive"] <= 1.02 * sizes["plain"], sizes


def test_compression_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression_mode"):
        array_logger.Logger(tmp_path, 3, compression_mode="fast", handle_signals=False)


def test_resume_from_an_adaptive_db_zst(tmp_path: Path, pristine: Path) -> None:
    zst = close_a_copy(pristine, tmp_path / "r", 3, "adaptive")
    root = zst.parent
    more = walk_rows(10, (32, 32), seed=9)
    with array_logger.Logger(root, 3, handle_signals=False) as lg:
        lg.register("w", keys=["i"], shape=(32, 32), dtype="float32")
        for i in range(10):
            lg.log("w", {"i": 3000 + i}, more[i])
    assert visible(root) == ["w.db.zst"]
    with array_logger.open_reader(root / "w.db") as reader:
        batch = reader.read_all()
    assert batch.keys["i"].tolist() == list(range(3010))
    assert batch.arrays.tobytes() == np.concatenate([walk_rows(3000, (32, 32)), more]).tobytes()


CLOSE = """
    import sys, array_logger
    lg = array_logger.Logger(sys.argv[1], int(sys.argv[2]), handle_signals=False)
    lg.register("w", keys=["i"], shape=(32, 32), dtype="float32")
    print("closing", flush=True)
    lg.close()
    print("closed", flush=True)
"""


def check_whole(root: Path) -> None:
    """What a user opens has every row of the pristine file, exactly."""
    with array_logger.open_reader(root / "w.db") as reader:
        batch = reader.read_all()
    assert batch.keys["i"].tolist() == list(range(3000))
    assert batch.arrays.tobytes() == walk_rows(3000, (32, 32)).tobytes()


def test_kill_9_during_segmented_close(tmp_path: Path, pristine: Path) -> None:
    outcomes = []
    # Level 19 takes a few seconds for these four segments: the middle kills
    # land between frames being compressed and written.
    for trial, delay in enumerate([0.0, 0.02, 0.3, 1.0, 2.5, None]):
        root = tmp_path / f"t{trial}"
        root.mkdir()
        shutil.copy(pristine, root / "w.db")
        child = start_child(CLOSE, str(root), "19")
        try:
            assert child.stdout.readline().strip() == "closing", child.stderr.read()
            if delay is None:
                child.wait(timeout=300)
            else:
                time.sleep(delay)
        finally:
            child.kill()
            out, _ = child.communicate(timeout=60)
        files = visible(root)
        assert "w.db" in files or "w.db.zst" in files, files
        assert set(files) <= {"w.db", "w.db.zst", "w.db.zst.tmp", "w.db-wal", "w.db-shm", "w.db-journal"}, files
        outcomes.append("closed" if "closed" in out else ("zst" if "w.db.zst" in files else "db"))
        if "w.db.zst" in files:
            assert zstd_cli(root / "w.db.zst")[:16] == b"SQLite format 3\x00"
        check_whole(root)
        # The next register cleans up and resumes, whatever the kill left.
        with array_logger.Logger(root, None, handle_signals=False) as lg:
            lg.register("w", keys=["i"], shape=(32, 32), dtype="float32")
        assert visible(root) == ["w.db"] and os.listdir(root) == ["w.db"], os.listdir(root)
        check_whole(root)
    assert "db" in outcomes
    assert outcomes[-1] == "closed"


def wait_for_first_frame(side: Path, child: "subprocess.Popen[str] | None" = None) -> None:
    """Waits (deadline 120 s) for the background thread's first frame in the side file `side`."""
    deadline = time.monotonic() + 120
    while not (side.exists() and side.stat().st_size > 0):
        assert time.monotonic() < deadline, "no frame compressed during the run"
        if child is not None:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
        time.sleep(0.05)


BACKGROUND = """
    import sys, numpy as np, array_logger
    lg = array_logger.Logger(sys.argv[1], 1, handle_signals=False)
    lg.register("big", keys=["i"], shape=(512, 512), dtype="float32")
    for i in range(100):   # 100 MiB: the WAL checkpoints at 64 MiB, the .db grows past 2 segments
        lg.log("big", {"i": i}, np.full((512, 512), i, np.float32))
    lg.flush()
    print("flushed", flush=True)
    sys.stdin.readline()   # killed here
"""


def test_kill_9_during_background_compression_keeps_the_db_whole(tmp_path: Path) -> None:
    child = start_child(BACKGROUND, str(tmp_path), stdin=subprocess.PIPE)
    side = tmp_path / ".big.db.zst.frames"
    try:
        assert child.stdout.readline().strip() == "flushed", child.stderr.read()
        wait_for_first_frame(side, child)
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert side.exists()
    # Every flushed row is in the .db; the side file is garbage the next register removes.
    def check(n: int) -> None:
        with array_logger.open_reader(tmp_path / "big.db") as reader:
            batch = reader.read_all()
        assert batch.keys["i"].tolist() == list(range(n))
        assert batch.arrays.tobytes() == np.repeat(np.arange(n, dtype=np.float32), 512 * 512).tobytes()
    # register removes the stale side file. (Checked without compression: a
    # compressing logger's background thread may start a new one at once.)
    with array_logger.Logger(tmp_path, None, handle_signals=False) as lg:
        lg.register("big", keys=["i"], shape=(512, 512), dtype="float32")
        assert not side.exists()
    with array_logger.Logger(tmp_path, 1, handle_signals=False) as lg:
        lg.register("big", keys=["i"], shape=(512, 512), dtype="float32")
        lg.log("big", {"i": 100}, np.full((512, 512), 100, np.float32))
    assert os.listdir(tmp_path) == ["big.db.zst"]
    assert frame_count((tmp_path / "big.db.zst").read_bytes()) > 2
    check(101)


FILL_ON_CLOSE = """
    import sys, array_logger
    lg = array_logger.Logger(sys.argv[1], 1, handle_signals=False)
    lg.register("w", keys=["i"], shape=(32, 32), dtype="float32")
    try:
        lg.close()
        print("closed", flush=True)
    except OSError as e:
        print("close error", type(e).__name__, e, flush=True)
"""


def test_disk_full_during_compression_keeps_the_db(tmp_path: Path, pristine: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    size = pristine.stat().st_size
    # Room for the .db and a third of its compressed copy: compression fails.
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size + size // 5}", "tmpfs", str(mnt)],
                             capture_output=True, text=True, timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({mounted.stderr.strip()})")
    try:
        shutil.copy(pristine, mnt / "w.db")
        done = run_child(FILL_ON_CLOSE, str(mnt))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("close error StorageError"), done.stdout
        assert "No space left" in done.stdout or "disk" in done.stdout, done.stdout
        assert visible(mnt) == ["w.db"] and os.listdir(mnt) == ["w.db"], os.listdir(mnt)
        check_whole(mnt)
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_db_zst_cut_at_a_frame_boundary_is_refused(tmp_path: Path, pristine: Path) -> None:
    # A copy cut after its second frame decompresses without a zstd error to
    # the first 8 MiB of the database: reading and resuming must refuse it.
    data = close_a_copy(pristine, tmp_path / "whole", 3, "adaptive").read_bytes()
    one = zstandard.ZstdDecompressor().decompressobj()
    one.decompress(data)
    first = len(data) - len(one.unused_data)
    two = zstandard.ZstdDecompressor().decompressobj()
    two.decompress(data[first:])
    cut = len(data) - len(two.unused_data)
    root = tmp_path / "cut"
    root.mkdir()
    (root / "w.db.zst").write_bytes(data[:cut])
    assert len(zstd_cli(root / "w.db.zst")) == 2 * SEGMENT
    with pytest.raises(array_logger.CorruptFileError):  # "truncated" or "malformed", by where the cut fell
        array_logger.open_reader(root / "w.db")
    with array_logger.Logger(root, 3, handle_signals=False) as lg:
        with pytest.raises(array_logger.CorruptFileError, match="truncated"):
            lg.register("w", keys=["i"], shape=(32, 32), dtype="float32")
    assert os.listdir(root) == ["w.db.zst"]
    assert (root / "w.db.zst").read_bytes() == data[:cut]


@pytest.mark.parametrize("mode", ["adaptive", "plain"])
def test_close_progress_reports_every_name_up_to_its_whole_size(tmp_path: Path, mode: str) -> None:
    # Logger(close_progress=callback(name, bytes_done, bytes_total)): per
    # name, bytes_done grows to bytes_total, the size of the closed .db.
    calls: list = []
    root = tmp_path / "logs"
    rows = walk_rows(3000, (256,))
    with array_logger.Logger(root, 3, compression_mode=mode, handle_signals=False,
                             close_progress=lambda *call: calls.append(call)) as lg:
        for name in ("a", "b"):
            lg.register(name, keys=["i"], shape=(256,), dtype="float32")
        for i, r in enumerate(rows):
            lg.log("a", {"i": i}, r)
            lg.log("b", {"i": i}, -r)
    for name in ("a", "b"):
        mine = [(done, total) for n, done, total in calls if n == name]
        assert mine, calls
        size = len(zstandard_stream(root / f"{name}.db.zst"))
        assert {total for _, total in mine} == {size}, mine
        done = [d for d, _ in mine]
        assert done == sorted(done) and done[-1] == size, mine
        with array_logger.open_reader(root / f"{name}.db.zst") as reader:
            assert np.array_equal(reader.read_all().arrays, rows if name == "a" else -rows)


def test_close_releases_the_frames_of_the_run_before_the_logger_object_goes(tmp_path: Path) -> None:
    # close() removes every side file at once (the same name may be
    # registered again right away), not when the Logger object is collected.
    lg = array_logger.Logger(tmp_path, 1, handle_signals=False)
    lg.register("big", keys=["i"], shape=(512, 512), dtype="float32")
    for i in range(80):  # 80 MiB: the WAL checkpoints at 64 MiB, the background thread compresses a segment
        lg.log("big", {"i": i}, np.full((512, 512), i, np.float32))
    lg.flush()
    wait_for_first_frame(tmp_path / ".big.db.zst.frames")
    lg.close()
    assert os.listdir(tmp_path) == ["big.db.zst"], os.listdir(tmp_path)
    with array_logger.open_reader(tmp_path / "big.db.zst") as reader:
        assert reader.read_all().keys["i"].tolist() == list(range(80))
