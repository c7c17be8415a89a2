"""Mutation testing of array_logger's critical paths (C++ core, binding, facade).

Each mutant is one small deliberate bug: a flipped comparison, an off-by-one,
a dropped call, two statements swapped, a changed constant, applied to one
line of a critical function (commit policy, close and resume ordering, blob
and meta codecs, where-clause checks, key conversion, signal and fork
handling), plus the named bug classes of issue 16. For each mutant the script
rebuilds the extension incrementally, runs the tests that cover the mutated
code (stopping at the first failure) and records whether the suite killed it.

The source tree is never touched: mutants are applied to a copy in
build/mutation/src, built in build/mutation/cmake (ccache makes the rebuild of
the restored file free), and the tests of this checkout run against the copy's
module through PYTHONPATH (build/mutation/site). Takes about an hour on two
cores; run it niced:

    nice -n 10 .venv/bin/python scripts/mutation_test.py            # all mutants
    .venv/bin/python scripts/mutation_test.py --list                 # what would run
    .venv/bin/python scripts/mutation_test.py --only close.reorder   # some of them (prefix match)

It writes docs/MUTATION_RESULTS.md (every mutant and its fate) and prints the
score; docs/TESTING.md explains the survivors.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "build" / "mutation"  # --work: another directory (two runs at once)
SRC = WORK / "src"
BUILD = WORK / "cmake"
SITE = WORK / "site"


def set_work(work: Path) -> None:
    global WORK, SRC, BUILD, SITE
    WORK, SRC, BUILD, SITE = work, work / "src", work / "cmake", work / "site"
RESULTS = REPO / "docs" / "MUTATION_RESULTS.md"
SEED = 16  # issue 16; the sample of generated mutants is the same every run
PER_MUTANT_TIMEOUT = 900


# --- what is mutated, and which tests cover it -----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Region:
    area: str            # critical path, for the report
    file: str            # file name (found anywhere under cpp/src, python/src, python/array_logger)
    start: str           # regex of the first line of the region (a function signature)
    tests: Tuple[str, ...]
    budget: int          # generated mutants sampled from this region
    cpp_tests: bool = False  # also run the C++ unit tests


# The tests that cover each critical path, fastest and most direct first
# (pytest -x stops at the first failure, so a killed mutant costs little).
COMMIT = ("tests/test_commit_groups.py", "tests/test_crash_points.py::test_kill_before_and_after_a_commit",
          "tests/test_log_many.py", "tests/test_inputs.py", "tests/test_errors.py",
          "tests/test_durability.py::test_kill_9_right_after_flush_keeps_every_flushed_row",
          "tests/test_durability.py::test_commit_threshold_seconds_commits_without_flush",
          "tests/test_durability.py::test_commit_threshold_rows_commits_without_flush",
          "tests/test_periodic.py")  # periodic rows: their own insert path (partial rows replaced)
CLOSE = ("tests/test_crash_points.py", "tests/test_syscall_order.py", "tests/test_fail_points.py",
         "tests/test_failure_paths.py",
         "tests/test_durability.py::test_stray_tmp_files_are_ignored_by_the_reader_and_removed_by_register",
         "tests/test_durability.py::test_both_db_and_db_zst_left_by_a_crash",
         "tests/test_durability.py::test_exit_without_close_commits_everything", "tests/test_errors.py")
CODEC = ("tests/test_stored_values_exact.py", "tests/test_failure_paths.py", "tests/test_format_doc.py",
         "tests/test_format1_compat.py", "tests/test_inputs.py", "tests/test_reader.py", "tests/test_hostile_files.py")
SEGMENTED = ("tests/test_close_compression.py", "tests/test_crash_points.py::test_kill_at_every_step_of_close",
             "tests/test_fail_points.py", "tests/test_faults.py")
WHERE = ("tests/test_failure_paths.py", "tests/test_reader.py")
KEYS = ("tests/test_stored_values_exact.py", "tests/test_inputs.py", "tests/test_errors.py",
        "tests/test_reader.py")
SIGNALS = ("tests/test_failure_paths.py", "tests/test_signals_fork_lock.py",
           "tests/test_durability.py::test_exit_without_close_commits_everything",
           "tests/test_faults.py::test_decompressed_copies_removed_when_the_process_ends")

REGIONS = [
    Region("commit policy", "logger.cpp", r"^bool Logger::Impl::push\(", COMMIT, 10),
    Region("commit policy", "logger.cpp", r"^void Logger::Impl::writer_loop\(", COMMIT, 10),
    Region("commit policy", "logger.cpp", r"^void Logger::Impl::process\(", COMMIT, 4),
    Region("commit policy", "array_store.cpp", r"^void ArrayStore::insert\(", COMMIT, 8),
    Region("commit policy", "array_store.cpp", r"^void ArrayStore::commit\(\)", COMMIT, 4),
    Region("close/resume order", "logger.cpp", r"^void Logger::Impl::compress_all\(", CLOSE, 5),
    Region("close/resume order", "logger.cpp", r"^void Logger::close\(\)", CLOSE, 6),
    Region("close/resume order", "store_files.cpp", r"^StoreFiles::StoreFiles\(", CLOSE, 6),
    Region("close/resume order", "store_files.cpp", r"^void StoreFiles::compress\(", CLOSE, 7),
    Region("close/resume order", "store_files.cpp", r"^void StoreFiles::publish_zst\(", CLOSE, 5),
    Region("close/resume order", "segmented_zstd.cpp", r"^std::vector<std::exception_ptr> compress_files_segmented\(",
           SEGMENTED, 6, True),
    Region("close/resume order", "store_files.cpp", r"^void StoreFiles::abandon\(", CLOSE, 2),
    Region("close/resume order", "array_store.cpp", r"^void ArrayStore::finish\(\)", CLOSE, 4),
    Region("close/resume order", "file_ops.cpp", r"^void durable_rename\(", CLOSE, 2),
    Region("close/resume order", "zstd_file.cpp", r"^void decompress_to_fd\(", CLOSE, 4),
    Region("blob/meta codecs", "blob.cpp", r"^std::vector<std::byte> encode_blob_header\(", CODEC, 5, True),
    Region("blob/meta codecs", "blob.cpp", r"^BlobHeader decode_blob_header\(", CODEC, 8, True),
    Region("blob/meta codecs", "blob_codec.cpp", r"^std::span<const std::byte> BlobDecoder::decode\(", CODEC, 6),
    Region("blob/meta codecs", "blob_codec.cpp", r"^std::span<const std::byte> BlobEncoder::encode\(", CODEC, 4),
    Region("blob/meta codecs", "meta.cpp", r"^FileMeta decode_meta\(", CODEC, 6, True),
    Region("blob/meta codecs", "dtype.cpp", r"^(namespace|const|constexpr|static).*", CODEC, 3, True),
    Region("where-clause checks", "sql_text.cpp", r"^void check_where_clause\(", WHERE, 10, True),
    Region("where-clause checks", "reader.cpp", r"^int read_only_authorizer\(", WHERE, 2),
    Region("where-clause checks", "reader.cpp", r"^detail::Statement Reader::Impl::prepare_user_query\(", WHERE, 5),
    Region("key conversion", "py_convert.cpp", r"^void convert_key\(", KEYS, 5),
    Region("key conversion", "py_convert.cpp", r"^KeyValue to_key_value\(", KEYS, 4),
    Region("key conversion", "record_ring.cpp", r"^(void pack_keys|const std::byte\* unpack_key)\(", KEYS, 4),
    Region("signal/fork", "_lifecycle.py", r"^def _on_sigterm\(", SIGNALS, 4),
    Region("signal/fork", "_lifecycle.py", r"^def install_sigterm_handler\(", SIGNALS, 3),
    Region("signal/fork", "_lifecycle.py", r"^def close_all\(", SIGNALS, 3),
    Region("signal/fork", "fork_guard.cpp", r"^const bool g_installed", SIGNALS, 1),
    Region("signal/fork", "logger.cpp", r"^Logger::~Logger\(", SIGNALS, 2),
]


@dataclasses.dataclass
class Mutant:
    id: str
    area: str
    file: Path            # relative to the source copy
    line: int             # 1-based
    old: str              # the original line(s)
    new: str
    operator: str
    tests: Tuple[str, ...]
    cpp_tests: bool = False
    status: str = ""      # killed, survived, timeout, stillborn (did not compile)
    seconds: float = 0.0
    detail: str = ""


# --- the named bug classes of issue 16 -----------------------------------------------------------

# (id, area, file, old text, new text, tests): each one a bug a reviewer put into
# the core once and the suite did not notice.
_RESUME_TAIL = ("    } catch (...) {  // a partial or wrong copy: gone, the .db.zst untouched\n"
                "      remove_if_exists(db_tmp_);\n      throw;\n    }\n    crash_point(\"resume.after_tmp_fsync\");\n")
NAMED = [
    ("issue16.close-remove-before-rename", "close/resume order", "store_files.cpp",
     "  durable_rename(zst_tmp_, zst_, \"close.after_rename\");\n"
     "  crash_point(\"close.after_rename_dir_fsync\");\n  remove_if_exists(db_);\n",
     "  remove_if_exists(db_);\n  durable_rename(zst_tmp_, zst_, \"close.after_rename\");\n"
     "  crash_point(\"close.after_rename_dir_fsync\");\n", CLOSE),
    ("issue16.resume-without-temp-file", "close/resume order", "store_files.cpp",
     "      decompress_file(zst_, db_tmp_, 0644);\n      check_whole_database(db_tmp_, zst_);\n" + _RESUME_TAIL
     + "    durable_rename(db_tmp_, db_, \"resume.after_rename\");\n",
     "      decompress_file(zst_, db_, 0644);\n      check_whole_database(db_, zst_);\n" + _RESUME_TAIL, CLOSE),
    ("issue16.compress-failed-file", "close/resume order", "logger.cpp",
     "    if (!store->finished()) continue;  // its writes failed: leave the .db as it is\n",
     "", CLOSE),
    ("issue16.recursive-cte-allowed", "where-clause checks", "reader.cpp",
     "    case SQLITE_FUNCTION:\n", "    case SQLITE_FUNCTION:\n    case SQLITE_RECURSIVE:\n", WHERE),
    ("issue16.float-keys-float32", "key conversion", "py_convert.cpp",
     "    k = KeyRef::of(PyFloat_AS_DOUBLE(v));\n",
     "    k = KeyRef::of(static_cast<double>(static_cast<float>(PyFloat_AS_DOUBLE(v))));\n", KEYS),
    ("issue16.wrong-dtype-string", "blob/meta codecs", "dtype.cpp", '"<u2"', '"<i2"', CODEC),
    ("issue16.synchronous-ignored", "commit policy", "store_database.cpp",
     "  s.db.exec(synchronous_pragma(sync));\n", "", ("tests/test_syscall_order.py",)),
    ("issue16.sig-ign-not-respected", "signal/fork", "_lifecycle.py",
     "    elif previous == signal.SIG_IGN:\n        return\n", "", SIGNALS),
    ("issue16.format1-longer-blob", "blob/meta codecs", "blob_codec.cpp",
     "    if (n != payload_)\n", "    if (n < payload_)\n", CODEC),
    ("issue16.commit-group-one-late", "commit policy", "logger.cpp",
     "  if (++stream.arrived == stream.needed ||",
     "  if (++stream.arrived == stream.needed + 1 ||", COMMIT),
]


# --- survivors, explained ------------------------------------------------------------------------

# Every survivor of the last run (docs/MUTATION_RESULTS.md), by id: equivalent
# (no program can tell it from the original) or why no test of the mutation
# build kills it. The report prints them and scores the non-equivalent ones.
EQUIVALENT = "equivalent"
EXPLAINED: Dict[str, Tuple[str, str]] = {
 "store_files.StoreFiles_StoreFiles.L87.swap-two-statements": (EQUIVALENT, "`decompressed_` set before instead of after the crash point `resume.after_rename_dir_fsync`: the crash point returns or SIGKILLs, and the flag is read only by `abandon()` in the same process"),
 "blob_codec.std_span_const_std_byte_BlobDecoder_deco.L79.swap-two-statements": (EQUIVALENT, "unshuffles into the output before the size check instead of after: when the check fails it throws and the output is discarded"),
 "array_store.void_ArrayStore_commit.L193.swap-two-statements": (EQUIVALENT, "two independent assignments swapped"),
 "array_store.void_ArrayStore_commit.L190.swap-two-statements": (EQUIVALENT, "the committed transaction object is destroyed after instead of before a counter update"),
 "array_store.void_ArrayStore_finish.L205.swap-two-statements": (EQUIVALENT, "`commit()` before `reopen()`: the writer loop committed every store just before `finish()` (stopping commits all), so there is no transaction and `commit()` does nothing either way"),
 "array_store.void_ArrayStore_finish.L206.drop-a-call": (EQUIVALENT, "the same `commit()` dropped: the writer loop has just committed (a defensive call, kept so `finish()` stands alone)"),
 "meta.FileMeta_decode_meta.L211.swap-two-statements": (EQUIVALENT, "shape parsed after the keys instead of before: both must parse; only a meta with both broken would report the other one first"),
 "array_store.void_ArrayStore_insert.L167.swap-two-statements": (EQUIVALENT, "two independent counter updates swapped"),
 "array_store.void_ArrayStore_insert.L172.swap-two-statements": (EQUIVALENT, "two independent counter updates swapped"),
 "blob.BlobHeader_decode_blob_header.L65.swap-two-statements": (EQUIVALENT, "two independent assignments swapped"),
 "blob.std_vector_std_byte_encode_blob_header.L28.swap-two-statements": (EQUIVALENT, "two header bytes written in the other order"),
 "logger.void_Logger_Impl_process.L155.swap-two-statements": (EQUIVALENT, "`pool.forget` before `abandon_transaction`: forgetting only drops the pool's bookkeeping, it does not close the database"),
 "logger.void_Logger_Impl_writer_loop.L186.swap-two-statements": (EQUIVALENT, "two independent local constants swapped"),
 "logger.void_Logger_Impl_writer_loop.L164.swap-two-statements": (EQUIVALENT, "an empty local vector constructed after instead of before taking the lock"),
 "logger.void_Logger_Impl_writer_loop.L210.swap-two-statements": (EQUIVALENT, "a reference to an existing element formed before the null check of another vector's element"),
 "reader.detail_Statement_Reader_Impl_prepare_use.L58.swap-two-statements": (EQUIVALENT, "the `\"SELECT \"` string built before the closed check"),
 "reader.detail_Statement_Reader_Impl_prepare_use.L81.swap-two-statements": (EQUIVALENT, "the read-only check and the parameter count computed in the other order"),
 "zstd_file.void_decompress_to_fd.L120.change-a-constant": (EQUIVALENT, "input buffer 7 instead of 8 times ZSTD_DStreamInSize(): any size decodes the same bytes"),
 "zstd_file.void_decompress_to_fd.L137.swap-two-statements": (EQUIVALENT, "`output_full` computed before instead of after writing the same buffer"),
 "logger.void_Logger_Impl_compress_all.L390.swap-two-statements": (EQUIVALENT, "two fields of a job set in the other order"),
 "logger.void_Logger_Impl_compress_all.L391.off-by-one": (EQUIVALENT, "`i <= frame_caches.size()`: in adaptive mode every store has its frame cache (`frame_caches.size() == stores.size()`, logger.cpp register), so `i` never reaches the size"),
 "store_files.StoreFiles_StoreFiles.L72.swap-two-statements": (EQUIVALENT, "two leftover temporary files removed in the other order"),
 "store_files.void_StoreFiles_publish_zst.L125.swap-two-statements": (EQUIVALENT, "the crash point `close.after_unlink` after instead of before the directory fsync: a kill at either point leaves the same files (only a power loss could tell, which no test can make)"),
 "logger.void_Logger_close.L613.change-a-constant": (EQUIVALENT, "`wake = false` in close(): the writer waits for `wake || stop`, and close sets `stop`"),
 "logger.bool_Logger_Impl_push.L228.swap-two-statements": (EQUIVALENT, "the writer's failure checked after instead of before the array id: only a call that is wrong twice (an unknown id on a failed logger) sees the other error, and no contract orders two errors of one call"),
 "logger.bool_Logger_Impl_push.L229.swap-two-statements": ("not killed (ASan only)", "a reference to `infos[id]` formed before the bounds check: out of bounds only for an unknown id (the new C++ test `unknown array id 7`), an 8-byte read past the vector that only the ASan build of the C++ tests can see, not the plain -O0 mutation build"),
 "logger.bool_Logger_Impl_push.L226.swap-two-statements": ("not killed (TSan only)", "`closed` read before the mutex is taken: a data race with `close()` on another thread, visible only to ThreadSanitizer, which the mutation build does not use"),
 "logger.void_Logger_close.L598.swap-two-statements": ("not killed (TSan only)", "`closed` read before the mutex is taken in close(): a data race with another thread's close(), visible only to ThreadSanitizer"),
 "logger.void_Logger_Impl_compress_all.L391.flip-comparison": ("not killed (speed only)", "close never uses the frames the background compressor wrote during the run: the .db.zst is byte-identical, close is slower; benchmarks/run.py --close-section measures it (C@22 close)"),
 "segmented_zstd.std_vector_std_exception_ptr_compress_fi.L295.swap-two-statements": ("not killed", "the workers are joined before they are woken: a hang only when a worker thread could not start (`fatal`), with others waiting; no test can make `std::thread` fail"),
}


# --- generating mutants --------------------------------------------------------------------------

def find_source(name: str) -> Path:
    hits = [p for top in ("cpp/src", "python/src", "python/array_logger") for p in (SRC / top).rglob(name)]
    if len(hits) != 1:
        raise SystemExit(f"mutation: expected one {name} under the sources, found {hits}")
    return hits[0].relative_to(SRC)


def region_lines(lines: List[str], start: str, python: bool) -> range:
    """Line indexes of the function whose first line matches `start` (the whole
    file when the pattern matches a file-level declaration, as for dtype.cpp)."""
    first = next((i for i, l in enumerate(lines) if re.match(start, l)), None)
    if first is None:
        raise SystemExit(f"mutation: no line matches {start!r}")
    if python:
        end = first + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "\t"))):
            end += 1
        return range(first + 1, end)
    if start.startswith("^(namespace|const"):
        return range(0, len(lines))
    depth, seen, i = 0, False, first
    while i < len(lines):
        depth += lines[i].count("{") - lines[i].count("}")
        seen = seen or "{" in lines[i]
        if seen and depth <= 0:
            return range(first + 1, i)
        i += 1
    return range(first + 1, len(lines))


CPP_SWAPS = [(" == ", " != "), (" != ", " == "), (" < ", " >= "), (" >= ", " < "), (" > ", " <= "),
             (" <= ", " > "), (" && ", " || "), (" || ", " && "), ("true", "false"), ("false", "true")]
CPP_OFF_BY_ONE = [(" < ", " <= "), (" <= ", " < "), (" > ", " >= "), (" >= ", " > ")]
PY_SWAPS = [(" == ", " != "), (" != ", " == "), (" is not ", " is "), (" is ", " is not "), (" and ", " or "),
            (" or ", " and "), ("True", "False"), ("False", "True"), ("if ", "if not ")]
SKIP = re.compile(r"^\s*(//|#|\*|/\*|case |default:|}|{|else|return;|break;|continue;|try|catch|\))")
CALL_STATEMENT_CPP = re.compile(r"^\s*[\w:.\->\[\]()*&]+\(.*\);\s*(//.*)?$")
CALL_STATEMENT_PY = re.compile(r"^\s*[\w.\[\]]+\(.*\)\s*(#.*)?$")
NUMBER = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def candidates(lines: List[str], idx: range, python: bool) -> Iterator[Tuple[int, str, str, str]]:
    """(line index, operator, old, new) for every mutation of the region."""
    swaps = PY_SWAPS if python else CPP_SWAPS
    for i in idx:
        line = lines[i]
        code = line.split("//")[0] if not python else line.split("#")[0]
        if not code.strip() or SKIP.match(line) or "static_assert" in code or "#include" in line:
            continue
        for a, b in swaps:
            for m in re.finditer(re.escape(a), code):
                op = "flip comparison" if a.strip() in ("==", "!=", "<", ">=", ">", "<=", "is", "is not") \
                    else ("change a constant" if a in ("true", "false", "True", "False") else "flip condition")
                if a in ("true", "false", "True", "False") and not re.search(rf"\b{a}\b", code[m.start():m.end() + 1]):
                    continue
                yield i, op, line, line[:m.start()] + b + line[m.end():]
        if not python:
            for a, b in CPP_OFF_BY_ONE:
                for m in re.finditer(re.escape(a), code):
                    yield i, "off-by-one", line, line[:m.start()] + b + line[m.end():]
        for m in NUMBER.finditer(code):
            n = int(m.group(1))
            if '"' in code[:m.start()] and code[:m.start()].count('"') % 2 == 1:
                continue  # inside a string literal
            new = str(n + 1) if n < 2 else str(n - 1)
            yield i, "off-by-one" if n < 2 else "change a constant", line, line[:m.start()] + new + line[m.end():]
        stmt = CALL_STATEMENT_PY if python else CALL_STATEMENT_CPP
        if stmt.match(code) and not re.match(r"^\s*(return|throw|raise|auto|const|std::|[\w:<>]+\s+\w+\s*[=({])", code):
            indent = line[:len(line) - len(line.lstrip())]
            yield i, "drop a call", line, indent + ("pass\n" if python else ";\n")
        nxt = i + 1
        if nxt in idx and not SKIP.match(lines[nxt]) and lines[nxt].strip():
            a_, b_ = line, lines[nxt]
            ind = lambda s: len(s) - len(s.lstrip())
            ends = (lambda s: not s.rstrip().endswith(":")) if python else (lambda s: s.rstrip().endswith(";"))
            if ind(a_) == ind(b_) and ends(a_) and ends(b_) and a_ != b_:
                yield i, "swap two statements", a_ + b_, b_ + a_


def generate() -> List[Mutant]:
    rng = random.Random(SEED)
    mutants: List[Mutant] = []
    for r in REGIONS:
        rel = find_source(r.file)
        lines = (SRC / rel).read_text().splitlines(keepends=True)
        python = rel.suffix == ".py"
        found = list(candidates(lines, region_lines(lines, r.start, python), python))
        # Spread the budget over the region: at most one mutant per line and operator.
        seen, unique = set(), []
        for c in found:
            if (c[0], c[1]) not in seen:
                seen.add((c[0], c[1]))
                unique.append(c)
        for i, op, old, new in sorted(rng.sample(unique, min(r.budget, len(unique)))):
            fn = re.sub(r"\W+", "_", r.start.strip("^\\(")).strip("_")[:40]
            mutants.append(Mutant(f"{rel.stem}.{fn}.L{i + 1}.{op.replace(' ', '-')}", r.area, rel, i + 1,
                                  old, new, op, r.tests, r.cpp_tests))
    for mid, area, name, old, new, tests in NAMED:
        rel = find_source(name)
        text = (SRC / rel).read_text()
        at = text.find(old)
        if at < 0:
            raise SystemExit(f"mutation: {mid}: the original text is not in {rel}")
        line = text[:at].count("\n") + 1
        mutants.append(Mutant(mid, area, rel, line, old, new, "named bug (issue 16)", tests,
                              name in ("dtype.cpp", "blob.cpp")))
    return mutants


# --- building and running ------------------------------------------------------------------------

def run(cmd: Sequence[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kw)


def prepare() -> None:
    if SRC.exists():
        shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    # Copies stamped now (shutil.copy, not copy2): an object left compiled
    # from a mutant by an interrupted run is older than its fresh source, so
    # the build below recompiles it (ccache makes the unchanged ones cheap).
    for item in ("cpp", "python", "cmake", "CMakeLists.txt", "pyproject.toml", "tests"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, SRC / item, copy_function=shutil.copy)
        else:
            shutil.copy(src, SRC / item)
    py = REPO / ".venv" / "bin" / "python"
    cmakedir = run([str(py), "-m", "pybind11", "--cmakedir"], 60).stdout.strip()
    done = run(["cmake", "-S", str(SRC), "-B", str(BUILD), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                "-DARRAY_LOGGER_BUILD_PYTHON=ON", "-DARRAY_LOGGER_BUILD_TESTS=ON",
                # -O0 for our code: the mutated file recompiles several times faster
                # than at -O3 (SQLite keeps -O2: it is not mutated, and it is hot).
                "-DCMAKE_CXX_FLAGS_RELEASE=-O0 -DNDEBUG", "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG",
                # pybind11 links Release modules with -flto: every relink would
                # recompile the whole module. Defining the variable turns that off.
                "-DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF",
                f"-DPython_EXECUTABLE={py}", f"-Dpybind11_DIR={cmakedir}"], 600)
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    if not build():
        raise SystemExit("mutation: the unmutated copy does not build")


def build(cpp_tests: bool = True) -> bool:
    targets = ["_core", "array_logger_tests"] if cpp_tests else ["_core"]
    done = run(["cmake", "--build", str(BUILD), "-j", str(os.cpu_count() or 2), "--target", *targets], 1800)
    if done.returncode:
        return False
    if SITE.exists():
        shutil.rmtree(SITE)
    (SITE / "array_logger").mkdir(parents=True)
    stage_python()
    for so in (BUILD / "python").glob("_core*.so"):
        shutil.copy2(so, SITE / "array_logger" / so.name)
    return True


def stage_python() -> None:
    """Copies (not links: the tests resolve the package's real path for their
    child processes) the facade's sources next to the built module."""
    shutil.copytree(SRC / "python" / "array_logger", SITE / "array_logger", dirs_exist_ok=True)


TESTS_DIR = REPO  # --tests-dir: run another checkout's tests (e.g. main's, to show what they miss)


def test_paths(tests: Sequence[str]) -> List[str]:
    paths = []
    for t in tests:
        if (TESTS_DIR / t.split("::")[0]).exists():
            paths.append(str(TESTS_DIR / t))
    return paths


# Tests that killed earlier mutants, per mutated file (most recent first): a
# mutant is tried against them before its region's whole list, since a test
# that caught one bug in a function usually catches its neighbours. Killed
# mutants then cost one short pytest run; only survivors run everything.
KILLERS: Dict[str, List[str]] = {}
MAX_KILLERS = 6


def remember_killer(m: Mutant, detail: str) -> None:
    node = _node_id(detail)
    if node:
        known = KILLERS.setdefault(m.file.as_posix(), [])
        if node in known:
            known.remove(node)
        known.insert(0, node)


def _node_id(detail: str) -> str:
    """The test id (relative to TESTS_DIR) in a "FAILED path::name - why" line."""
    if not detail.startswith(("FAILED ", "ERROR ")):
        return ""
    node = detail.split(" ", 1)[1].split(" - ")[0].strip()
    path, _, rest = node.partition("::")
    try:
        rel = (WORK / path).resolve().relative_to(TESTS_DIR)
    except ValueError:
        return ""
    return f"{rel.as_posix()}::{rest}" if rest else ""


def pytest(m: Mutant, tests: Sequence[str]) -> Tuple[bool, str]:
    env = dict(os.environ, PYTHONPATH=str(SITE))
    cmd = [str(REPO / ".venv" / "bin" / "python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "--timeout=240", "--timeout-method=thread", "-rfE", "--rootdir", str(TESTS_DIR), "-c", str(TESTS_DIR / "pyproject.toml"),
           *tests]
    done = run(cmd, PER_MUTANT_TIMEOUT, cwd=str(WORK), env=env)
    if done.returncode == 0:
        return True, ""
    if done.returncode == 4 and "not found" in done.stdout + done.stderr:
        return True, ""  # a remembered test id that no longer exists (parametrisation changed)
    if done.returncode < 0:  # the test process itself crashed (the mutant made the extension segfault)
        return False, f"pytest killed by signal {-done.returncode} ({_last_failure(done.stdout) or 'no test summary'})"
    if done.returncode != 1:  # not "tests failed": a usage or collection error is no kill
        raise SystemExit(f"mutation: pytest exited {done.returncode} for {m.id}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return False, _last_failure(done.stdout)


def run_tests(m: Mutant) -> Tuple[bool, str]:
    """True when every covering test passes (the mutant survived). The tests
    that killed a neighbour first (one short run), then the C++ unit tests,
    then the region's whole list."""
    paths = test_paths(m.tests)
    killers = [str(TESTS_DIR / k) for k in KILLERS.get(m.file.as_posix(), [])[:MAX_KILLERS]]
    if killers and m.id != "baseline":
        survived, detail = pytest(m, killers)
        if not survived:
            return False, detail
    if m.cpp_tests:
        # The unit tests of the mutated file only (doctest's source-file filter):
        # the whole -O0 binary takes minutes, its own tests seconds.
        done = run([str(BUILD / "tests" / "cpp" / "array_logger_tests"), "--abort-after=1",
                    f"--source-file={','.join(cpp_test_files(m))}"], 600, cwd=BUILD)
        if done.returncode:
            return False, "C++ unit tests: " + _last_failure(done.stdout)
    survived, detail = pytest(m, paths)
    return survived, detail


# The C++ unit-test files that cover a source file besides its own test_<stem>.cpp.
CPP_TESTS_OF = {"dtype": ("test_blob", "test_meta"), "blob": ("test_blob", "test_meta"),
                "logger": ("test_logger_reader",), "store_files": ("test_logger_reader",)}


def cpp_test_files(m: Mutant) -> List[str]:
    """doctest --source-file patterns for the mutated file; every file when it has no unit test of its own."""
    names = CPP_TESTS_OF.get(m.file.stem, (f"test_{m.file.stem}",))
    names = [n for n in names if (SRC / "tests" / "cpp" / f"{n}.cpp").exists()]
    return [f"*{n}.cpp" for n in names] or ["*"]


def _last_failure(out: str) -> str:
    for line in out.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            return line.strip()[:300]
    for line in out.splitlines():
        if "Failed" in line:
            return line.strip()[:300]
    return out.strip().splitlines()[-1][:160] if out.strip() else ""


def apply(m: Mutant) -> str:
    path = SRC / m.file
    text = path.read_text()
    if m.operator == "named bug (issue 16)":
        mutated = text.replace(m.old, m.new, 1)
    else:
        lines = text.splitlines(keepends=True)
        n_old = m.old.count("\n") or 1
        assert "".join(lines[m.line - 1: m.line - 1 + n_old]) == m.old, m.id
        lines[m.line - 1: m.line - 1 + n_old] = [m.new]
        mutated = "".join(lines)
    assert mutated != text, m.id
    path.write_text(mutated)
    return text


def baseline(tests: Sequence[str]) -> None:
    m = Mutant("baseline", "", Path(), 0, "", "", "", tuple(sorted(set(tests))), True)
    ok, why = run_tests(m)
    if not ok:
        raise SystemExit(f"mutation: the tests fail without any mutant: {why}")


def report(mutants: List[Mutant], seconds: float, total: int = 0) -> Tuple[int, int]:
    scored = [m for m in mutants if m.status in ("killed", "timeout", "survived")]
    killed = sum(m.status in ("killed", "timeout") for m in scored)
    equivalent = sum(m.status == "survived" and EXPLAINED.get(m.id, ("",))[0] == EQUIVALENT for m in scored)
    lines = [
        "# Mutation testing: last result",
        "",
        "Written by `scripts/mutation_test.py` (see docs/TESTING.md for the command and the survivors).",
        "",
        f"- mutants: {len(mutants)}{f' run of {total}' if total > len(mutants) else ''} "
        f"({len(scored)} scored, {len(mutants) - len(scored)} did not compile)",
        f"- killed (a hang counts): {killed} of {len(scored)} = {100.0 * killed / max(1, len(scored)):.1f}%",
        f"- equivalent survivors (explained below): {equivalent}",
        f"- **mutation score** (killed of the non-equivalent): {killed} of {len(scored) - equivalent} = "
        f"**{100.0 * killed / max(1, len(scored) - equivalent):.1f}%**",
        f"- run time: {seconds / 60:.0f} min",
        "",
        "| mutant | area | operator | file:line | status | killed by |",
        "|---|---|---|---|---|---|",
    ]
    for m in mutants:
        detail = m.detail.replace("|", "\\|")
        lines.append(f"| `{m.id}` | {m.area} | {m.operator} | {m.file.as_posix()}:{m.line} | {m.status} | {detail} |")
    lines += ["", "## Survivors: the mutated lines", ""]
    for m in mutants:
        if m.status == "survived":
            kind, why = EXPLAINED.get(m.id, ("not explained yet", "a test is missing or the mutant is equivalent"))
            lines += [f"### `{m.id}`", "", f"**{kind}**: {why}", "", "```diff"] + [f"-{l}" for l in m.old.rstrip("\n").split("\n")] + \
                     [f"+{l}" for l in m.new.rstrip("\n").split("\n")] + ["```", ""]
    RESULTS.write_text("\n".join(lines) + "\n")
    return killed, len(scored)


def save_json(mutants: List[Mutant], seconds: float, total: int) -> None:
    import json

    rows = [dict(dataclasses.asdict(m), file=m.file.as_posix(), tests=list(m.tests)) for m in mutants]
    (WORK / "results.json").write_text(json.dumps({"seconds": seconds, "total": total, "mutants": rows}, indent=1))


def done_elsewhere(works: Sequence[Path]) -> set:
    """Ids of the mutants with a result in the results.json of these --work directories."""
    import json

    ids = set()
    for w in works:
        try:
            ids |= {row["id"] for row in json.loads((w / "results.json").read_text())["mutants"] if row["status"]}
        except (OSError, ValueError):  # not written yet, or being rewritten: nothing to skip this time
            continue
    return ids


def merge(works: Sequence[Path]) -> int:
    import json

    mutants: List[Mutant] = []
    seconds, total = 0.0, 0
    for w in works:
        data = json.loads((w / "results.json").read_text())
        seconds, total = max(seconds, data["seconds"]), total + data["total"]
        for row in data["mutants"]:
            if not row["status"] or any(m.id == row["id"] for m in mutants):
                continue  # two runs of one shard (--reverse) met: the first result counts
            row["file"], row["tests"] = Path(row["file"]), tuple(row["tests"])
            mutants.append(Mutant(**row))
    set_work(works[0].resolve())
    total = len(generate())  # the whole sample (shards run twice, --reverse, would count twice)
    order = {mid: i for i, (mid, *_rest) in enumerate(NAMED)}
    mutants.sort(key=lambda m: (m.id not in order, order.get(m.id, 0), m.area, m.id))
    killed, scored = report(mutants, seconds, total=total)
    equivalent = sum(m.status == "survived" and EXPLAINED.get(m.id, ("",))[0] == EQUIVALENT for m in mutants)
    print(f"killed {killed} of {scored}; mutation score (killed of the {scored - equivalent} non-equivalent): "
          f"{100.0 * killed / max(1, scored - equivalent):.1f}% (docs/MUTATION_RESULTS.md)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    ap.add_argument("--only", nargs="*", default=None, help="mutant id prefixes to run")
    ap.add_argument("--no-report", action="store_true", help="do not rewrite docs/MUTATION_RESULTS.md")
    ap.add_argument("--work", type=Path, default=WORK, help="build directory of the mutated copy")
    ap.add_argument("--shard", default="0/1",
                    help="K/N: run every N-th mutant starting at K (N runs in parallel, each with its own --work)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip running the covering tests once without mutants (when the suite just passed)")
    ap.add_argument("--merge", nargs="*", type=Path, default=None,
                    help="write docs/MUTATION_RESULTS.md from the results.json of these --work directories")
    ap.add_argument("--resume", action="store_true",
                    help="keep the results already in --work/results.json and run only the other mutants "
                         "(an interrupted run goes on where it stopped)")
    ap.add_argument("--reverse", action="store_true",
                    help="run the shard's mutants last first: a second run of the same shard from the other end")
    ap.add_argument("--skip-done-in", nargs="*", type=Path, default=[],
                    help="--work directories of runs going on at the same time: a mutant one of them has a "
                         "result for is skipped (two runs of one shard meet in the middle)")
    ap.add_argument("--tests", nargs="*", default=None,
                    help="run these tests (pytest ids) instead of the region's list: to show that a test written "
                         "for a survivor kills it")
    ap.add_argument("--cpp-tests", action="store_true",
                    help="also run the C++ unit tests of the mutated file (as the codec regions always do)")
    ap.add_argument("--tests-dir", type=Path, default=REPO,
                    help="checkout whose tests/ run (default: this one); its missing test files are left out")
    args = ap.parse_args()
    import signal

    # A stopped run (kill PID) still restores the mutated file (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    global TESTS_DIR
    TESTS_DIR = args.tests_dir.resolve()
    set_work(args.work.resolve())
    t0 = time.monotonic()
    if args.list:
        if not SRC.exists():
            prepare()
        for m in generate():
            print(f"{m.id:70s} {m.file}:{m.line}  {m.old.strip()[:60]!r} -> {m.new.strip()[:60]!r}")
        return 0
    if args.merge:
        return merge(args.merge)
    prepare()
    mutants = generate()
    # The named bugs first, then the generated ones in a fixed shuffled order:
    # a run stopped early still samples every critical path.
    named = [m for m in mutants if m.id.startswith("issue16.")]
    generated = [m for m in mutants if not m.id.startswith("issue16.")]
    random.Random(SEED).shuffle(generated)
    mutants = named + generated
    if args.only:
        mutants = [m for m in mutants if any(m.id.startswith(p) for p in args.only)]
    if args.tests is not None:
        mutants = [dataclasses.replace(m, tests=tuple(args.tests)) for m in mutants]
    if args.cpp_tests:
        mutants = [dataclasses.replace(m, cpp_tests=True) for m in mutants]
    k, n_shards = map(int, args.shard.split("/"))
    mutants = mutants[k::n_shards]
    if args.reverse:
        mutants.reverse()
    if n_shards > 1:
        args.no_report = True  # each shard writes results.json; --merge writes the report
    earlier: List[Mutant] = []
    if args.resume and (WORK / "results.json").exists():
        import json

        # A result is kept for the same mutation of the same text in the same
        # file: lines that only moved (code added above them) keep it, an
        # edited line is run again.
        current = {(m.file.as_posix(), m.old, m.new): m for m in mutants}
        for row in json.loads((WORK / "results.json").read_text())["mutants"]:
            m = current.get((row["file"], row["old"], row["new"]))
            if m is not None and m not in earlier and row["status"]:
                m.status, m.seconds, m.detail = row["status"], row["seconds"], row["detail"]
                earlier.append(m)
                if m.status == "killed":
                    remember_killer(m, m.detail)
        mutants = [m for m in mutants if m not in earlier]
        print(f"mutation: {len(earlier)} results kept, {len(mutants)} to run", flush=True)
    if TESTS_DIR == REPO and not args.no_baseline:
        baseline([t for m in mutants for t in m.tests])
    # (another checkout's suite is only a reference: its flaky tests are its own)
    for n, m in enumerate(mutants, 1):
        if m.id in done_elsewhere(args.skip_done_in):
            m.status, m.detail = "", "run by another shard"
            print(f"[{n}/{len(mutants)}] skipped: {m.id} has a result in another run", flush=True)
            continue
        start = time.monotonic()
        original = apply(m)
        try:
            if m.file.suffix == ".py":
                stage_python()
            if m.file.suffix != ".py" and not build(m.cpp_tests):
                m.status = "stillborn"
            else:
                try:
                    survived, m.detail = run_tests(m)
                    m.status = "survived" if survived else "killed"
                    if not survived:
                        remember_killer(m, m.detail)
                except subprocess.TimeoutExpired:
                    m.status, m.detail = "timeout", f"no result within {PER_MUTANT_TIMEOUT} s (a hang counts as killed)"
        finally:
            (SRC / m.file).write_text(original)
            if m.file.suffix == ".py":
                stage_python()
        m.seconds = time.monotonic() - start
        print(f"[{n}/{len(mutants)}] {m.status:9s} {m.seconds:5.0f}s {m.id}", flush=True)
        # an interrupted run keeps what it found
        ran = [x for x in mutants[:n] if x.status]
        save_json(earlier + ran, time.monotonic() - t0, len(earlier) + len(mutants))
        if not args.no_report:
            report(earlier + ran, time.monotonic() - t0, total=len(earlier) + len(mutants))
    build()  # leave the copy built without mutants
    killed, scored = report(earlier + [m for m in mutants if m.status], time.monotonic() - t0) \
        if not args.no_report else (0, 0)
    if scored:
        print(f"mutation score: {killed}/{scored} = {100.0 * killed / scored:.1f}% (docs/MUTATION_RESULTS.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
