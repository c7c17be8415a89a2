"""Demo: a Monte Carlo run that logs a million steps, then reads them back.

A random walker estimates pi by throwing darts; every step logs the walker's
state (a float32 vector of 4) under keys (episode, step). Afterwards the run
is read back three ways: iterate(), a filtered iterate(), and read_all().
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import numpy as np

import array_logger

EPISODES = 1000
STEPS = 1000  # 1,000,000 steps in all


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "array_logger_demo")
    shutil.rmtree(root, ignore_errors=True)
    print(f"array_logger {array_logger.__version__}; SQLite {array_logger.build_info()['sqlite']['version']} "
          f"({array_logger.build_info()['sqlite']['source']}), zstd {array_logger.build_info()['zstd']['version']}")

    rng = np.random.default_rng(0)
    array_logger.init(root_path=root, compression_level=3)
    array_logger.register("state", keys=["episode", "step"], shape=(4,), dtype="float32")
    array_logger.register("estimate", keys=["episode"], shape=(1,), dtype="float64")

    t_sim = 0.0
    t0 = time.perf_counter()
    for episode in range(EPISODES):
        # The simulation, vectorised per episode: one block of darts, then
        # each step's state (x, y, hit, running estimate of pi).
        ts = time.perf_counter()
        darts = rng.random((STEPS, 2)).astype(np.float32)
        hit = (darts ** 2).sum(axis=1) <= 1.0
        running = 4.0 * np.cumsum(hit) / np.arange(1, STEPS + 1)
        states = np.column_stack([darts, hit, running]).astype(np.float32)
        t_sim += time.perf_counter() - ts
        # Logging every step, as an experiment loop does.
        for step in range(STEPS):
            array_logger.log("state", {"episode": episode, "step": step}, states[step])
        array_logger.log("estimate", {"episode": episode}, np.array([running[-1]]))
    t_log = time.perf_counter() - t0 - t_sim
    array_logger.close()
    t_close = time.perf_counter() - t0 - t_log - t_sim
    n = EPISODES * STEPS
    files = sorted(os.listdir(root))
    size = sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"logged {n:,} steps in {t_log:.2f} s ({t_log / n * 1e6:.2f} us per log call, loop included; "
          f"simulation {t_sim:.2f} s), close + zstd level 3 in {t_close:.2f} s")
    print(f"files: {files}, {size / 2**20:.1f} MiB on disk")

    with array_logger.open_reader(os.path.join(root, "state.db")) as reader:
        t0 = time.perf_counter()
        count = 0
        last_estimate = 0.0
        for keys, arr in reader.iterate():
            count += 1
            last_estimate = float(arr[3])
        t_iter = time.perf_counter() - t0
        print(f"iterate(): {count:,} rows in {t_iter:.2f} s; last running estimate of pi {last_estimate:.5f}")
        assert count == n, (count, n)

        episode_10 = [arr for keys, arr in reader.iterate("episode = ?", (10,))]
        assert len(episode_10) == STEPS
        print(f"iterate('episode = ?', (10,)): {len(episode_10)} rows, final estimate {episode_10[-1][3]:.5f}")

        t0 = time.perf_counter()
        batch = reader.read_all("step % 100 = 0")
        t_bulk = time.perf_counter() - t0
        print(f"read_all('step % 100 = 0'): arrays {batch.arrays.shape} {batch.arrays.dtype}, "
              f"keys {sorted(batch.keys)} in {t_bulk:.3f} s")
        assert batch.arrays.shape == (EPISODES * STEPS // 100, 4)

    with array_logger.open_reader(os.path.join(root, "estimate.db.zst")) as reader:
        est = reader.read_all().arrays[:, 0]
        print(f"pi over {len(est)} episodes: {est.mean():.5f} +- {est.std() / np.sqrt(len(est)):.5f}")
        assert abs(est.mean() - np.pi) < 0.01
    print("demo OK")


if __name__ == "__main__":
    main()
