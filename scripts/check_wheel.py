"""Checks a portable wheel beyond its file name (scripts/packaging_tests.sh).

    python scripts/check_wheel.py WHEEL manylinux_2_17_x86_64
    python scripts/check_wheel.py WHEEL musllinux_1_2_x86_64

For every ELF file in the wheel, from readelf's view of it:
  - the platform tag is in the wheel's name;
  - it needs only the libraries the tag allows (libc, libm, libpthread, libdl,
    the loader; for musl the musl libc) -- no libstdc++/libc++/libgcc_s, no
    libsqlite3/libzstd: those are inside, static;
  - manylinux_2_X: no symbol version above GLIBC_2.X, and no GLIBCXX_,
    CXXABI_ or GCC_ version at all (they would come from a dynamic C++ runtime);
  - no packed relative relocations (DT_RELR): musl loads them only from 1.2.4
    on, and an older musl (Debian 12 has 1.2.3, within musllinux_1_2) jumps
    to unrelocated addresses -- numpy 2.x's musllinux wheels crash that way
    there (docs/WHEELS.md); glibc would at least refuse them by version;
  - it exports nothing but PyInit_<module> (SQLite, zstd and the C++ runtime
    inside stay private, so a process that also loads other copies of them
    never mixes the two).
Prints one summary line per ELF file; exits 1 with the reasons otherwise.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import zipfile

GLIBC_LIBS = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
              "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
MUSL_LIBS = {"libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"}


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", "-W", *args], check=True, capture_output=True,
                          text=True).stdout


def check_elf(path: str, name: str, plat: str) -> list[str]:
    problems = []
    dynamic = readelf("-d", path)
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    allowed = MUSL_LIBS if plat.startswith("musllinux") else GLIBC_LIBS
    if needed - allowed:
        problems.append(f"{name}: needs {sorted(needed - allowed)} (allowed: {sorted(allowed)})")

    if re.search(r"\(RELR\)", dynamic):
        problems.append(f"{name}: packed relative relocations (DT_RELR), which musl < 1.2.4 "
                        "and glibc < 2.36 cannot apply")

    versions = set(re.findall(r"Name: (\S+)", readelf("-V", path)))
    glibc = sorted({v for v in versions if v.startswith("GLIBC_2.")},
                   key=lambda v: tuple(int(x) for x in v[6:].split(".")))
    cxx = sorted(v for v in versions if v.startswith(("GLIBCXX_", "CXXABI_", "GCC_")))
    if cxx:
        problems.append(f"{name}: C++ runtime / libgcc symbol versions {cxx}")
    m = re.match(r"manylinux_(\d+)_(\d+)_", plat)
    if m:
        limit = (int(m.group(1)), int(m.group(2)))
        too_new = [v for v in glibc if tuple(int(x) for x in v[6:].split("."))[:2] > limit]
        if too_new:
            problems.append(f"{name}: symbol versions above GLIBC_{limit[0]}.{limit[1]}: {too_new}")
    elif glibc:
        problems.append(f"{name}: glibc symbol versions in a {plat} wheel: {glibc}")

    exported = []
    for line in readelf("--dyn-syms", path).splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) >= 8 and f[4] in ("GLOBAL", "WEAK") and f[6] != "UND":
            exported.append(f[7].split("@")[0])
    if [s for s in exported if not s.startswith("PyInit_")]:
        problems.append(f"{name}: exports more than PyInit_*: {sorted(exported)[:20]}")
    print(f"check_wheel: {name}: needs {sorted(needed)}; newest glibc version "
          f"{glibc[-1] if glibc else 'none'}; no C++ runtime; no DT_RELR; exports {sorted(exported)}")
    return problems


def main(wheel: str, plat: str) -> int:
    if plat not in os.path.basename(wheel):
        print(f"check_wheel: {wheel} is not tagged {plat}")
        return 1
    problems, seen = [], 0
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                if f.read(4) != b"\x7fELF":
                    continue
            seen += 1
            problems += check_elf(zf.extract(info, tmp), info.filename, plat)
    if not seen:
        problems.append("no ELF file in the wheel")
    for p in problems:
        print(f"check_wheel: FAIL {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
