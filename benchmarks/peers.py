"""The peers every workload runs against. Each: setup(root, shape, level,
count); loop(episodes, spe, n_ep); close(); read_iter(root) -> iterator of
(keys_dict, array) or None; read_bulk(root) -> (episode, step, data) or None.
The timed loop is written out per peer (no extra call layer), and every loop
builds the same key dict per call."""
from __future__ import annotations

import os
import struct
import sys

import numpy as np

from workloads import KEYS, NAME

HERE = os.path.dirname(os.path.abspath(__file__))


class _SeedAPIPeer:
    """The module API (as in the pure-Python array_logger): init / register / log / close / open_reader."""
    module = None
    can_compress = True

    def setup(self, root, shape, level, count):
        m = self.module
        m.init(root, compression_level=level)
        m.register(NAME, KEYS, shape, "float32")

    def loop(self, episodes, spe, n_ep):
        log = self.module.log
        n_lists = len(episodes)
        name = NAME
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                log(name, {"episode": ep, "step": st}, rows[st])

    def close(self):
        self.module.close()

    def read_iter(self, root):
        r = self.module.open_reader(os.path.join(root, NAME + ".db"))
        try:
            yield from r.iterate()
        finally:
            r.close()

    read_bulk = None


class ArrayLoggerPeer(_SeedAPIPeer):
    name = "array_logger"

    def __init__(self):
        import array_logger
        self.module = array_logger

    mode = "adaptive"

    def setup(self, root, shape, level, count):
        if level != "shuffle":
            if self.mode != "adaptive":
                self.module.init(root, compression_level=level, compression_mode=self.mode)
                self.module.register(NAME, KEYS, shape, "float32")
                return None
            return super().setup(root, shape, level, count)
        self.module.init(root, compression_level=None)
        self.module.register(NAME, KEYS, shape, "float32", shuffle_zstd=True)

    def read_bulk(self, root):
        r = self.module.open_reader(os.path.join(root, NAME + ".db"))
        try:
            keys, arrays = r.read_all()
        finally:
            r.close()
        return keys["episode"], keys["step"], arrays


class ArrayLoggerThroughputPeer(ArrayLoggerPeer):
    """array_logger with throughput_mode=True: log() waits only for buffer
    space, never for the writer's commits (the default waits when a name has
    2 x commit_threshold_rows rows uncommitted: the loss bound)."""
    name = "array_logger_throughput"

    def setup(self, root, shape, level, count):
        shuffle = level == "shuffle"
        self.module.init(root, compression_level=None if shuffle else level, throughput_mode=True)
        self.module.register(NAME, KEYS, shape, "float32", shuffle_zstd=shuffle)


class BaselinePeer(_SeedAPIPeer):
    name = "baseline"

    def __init__(self):
        sys.path.insert(0, HERE)
        import baseline_pure_python
        self.module = baseline_pure_python


class H5pyPeer:
    """Resizable chunked datasets; per call: resize + assign (data and each key)."""
    name = "h5py"
    can_compress = False
    max_count = 20_000  # ~1 ms per call here: 20 s per workload

    def __init__(self):
        import h5py
        self.h5py = h5py

    def setup(self, root, shape, level, count):
        assert level is None
        self.f = f = self.h5py.File(os.path.join(root, "data.h5"), "w")
        row_bytes = 4 * int(np.prod(shape))
        chunk_rows = max(1, (256 << 10) // row_bytes)
        self.ds = f.create_dataset("data", shape=(0,) + tuple(shape),
                                   maxshape=(None,) + tuple(shape),
                                   chunks=(chunk_rows,) + tuple(shape), dtype="<f4")
        self.kds = [f.create_dataset(k, shape=(0,), maxshape=(None,),
                                     chunks=(4096,), dtype="<i8") for k in KEYS]

    def loop(self, episodes, spe, n_ep):
        ds = self.ds
        eds, sds = self.kds
        n_lists = len(episodes)
        i = 0
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                kv = {"episode": ep, "step": st}
                n = i + 1
                ds.resize(n, axis=0)
                ds[i] = rows[st]
                eds.resize(n, axis=0)
                eds[i] = kv["episode"]
                sds.resize(n, axis=0)
                sds[i] = kv["step"]
                i = n

    def close(self):
        self.f.close()

    read_iter = None

    def read_bulk(self, root):
        with self.h5py.File(os.path.join(root, "data.h5"), "r") as f:
            return f["episode"][:], f["step"][:], f["data"][:]


class RawPeer:
    """The physical limit: one binary file, per call struct-packed keys + a.tobytes()."""
    name = "raw"
    can_compress = False

    def setup(self, root, shape, level, count):
        assert level is None
        self.shape = tuple(shape)
        self.f = open(os.path.join(root, "data.bin"), "wb", buffering=1 << 20)

    def loop(self, episodes, spe, n_ep):
        write = self.f.write
        pack = struct.Struct("<qq").pack
        n_lists = len(episodes)
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                kv = {"episode": ep, "step": st}
                write(pack(kv["episode"], kv["step"]))
                write(rows[st].tobytes())

    def close(self):
        self.f.close()

    read_iter = None

    def read_bulk(self, root):
        dt = np.dtype([("episode", "<i8"), ("step", "<i8"), ("data", "<f4", self.shape)])
        rec = np.fromfile(os.path.join(root, "data.bin"), dtype=dt)
        return rec["episode"], rec["step"], rec["data"]


class LmdbPeer:
    """txn.put(packed (episode, step), a.tobytes()) per call; commit every 100 puts."""
    name = "lmdb"
    can_compress = False
    commit_every = 100

    def __init__(self):
        import lmdb
        self.lmdb = lmdb

    def setup(self, root, shape, level, count):
        assert level is None
        self.shape = tuple(shape)
        row = 4 * int(np.prod(shape)) + 16
        map_size = max(1 << 30, 3 * count * (row + 4096 * (row > 2000) + 64))
        self.env = self.lmdb.open(os.path.join(root, "lmdb"), map_size=map_size,
                                  subdir=True)
        self.txn = self.env.begin(write=True)

    def loop(self, episodes, spe, n_ep):
        env = self.env
        txn = self.txn
        put = txn.put
        pack = struct.Struct(">qq").pack  # big-endian: cursor order == log order
        every = self.commit_every
        pending = 0
        n_lists = len(episodes)
        for ep in range(n_ep):
            rows = episodes[ep % n_lists]
            for st in range(spe):
                kv = {"episode": ep, "step": st}
                put(pack(kv["episode"], kv["step"]), rows[st].tobytes())
                pending += 1
                if pending >= every:
                    txn.commit()
                    txn = env.begin(write=True)
                    put = txn.put
                    pending = 0
        self.txn = txn

    def close(self):
        self.txn.commit()
        self.env.close()

    def read_iter(self, root):
        env = self.lmdb.open(os.path.join(root, "lmdb"), readonly=True, lock=False,
                             subdir=True)
        unpack = struct.Struct(">qq").unpack
        shape = self.shape
        try:
            with env.begin() as txn:
                for k, v in txn.cursor():
                    ep, st = unpack(k)
                    yield ({"episode": ep, "step": st},
                           np.frombuffer(v, dtype="<f4").reshape(shape))
        finally:
            env.close()

    read_bulk = None


# name -> class, in report order
PEERS = {
    "array_logger": ArrayLoggerPeer,
    "array_logger_throughput": ArrayLoggerThroughputPeer,
    "baseline": BaselinePeer,
    "h5py": H5pyPeer,
    "raw": RawPeer,
    "lmdb": LmdbPeer,
}
ALL_PEERS = list(PEERS)
