"""Every promise of README.md, docs/DURABILITY.md and docs/FORMAT.md has a test
that proves it and quotes it.

PROMISES lists the promise sentences of each document and the test that
proves each one. This module checks both directions: the sentence is still in
the document, word for word (so a changed promise fails here until its test is
revisited), and the named test exists and quotes the sentence in its docstring
or comments (so the proof says what it proves).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"

# (document, promise sentence as written there, test proving it)
PROMISES: List[Tuple[str, str, str]] = [
    # README.md
    ("README.md", "Every example of the original README runs unchanged (the test suite runs each of them verbatim).",
     "test_seed_examples.py::test_quickstart_writes_a_compressed_file_with_every_row"),
    ("README.md", "its dtype must be the registered one (`ValueError(\"Dtype mismatch ...\")`, never a silent cast)",
     "test_errors.py::test_dtype_mismatch_no_silent_cast"),
    ("README.md", "Non-contiguous and Fortran-ordered arrays are stored in C order",
     "test_inputs.py::test_fortran_and_non_contiguous_arrays_are_stored_in_c_order"),
    ("README.md", "changing your array after `log` never changes what was logged.",
     "test_inputs.py::test_mutating_the_array_after_log_does_not_change_the_row"),
    ("README.md", "Every error leaves the logger usable and loses nothing already logged.",
     "test_errors.py::test_every_error_leaves_the_logger_usable_and_loses_nothing"),
    ("README.md", "an exit handler closes open loggers, so a forgotten `close()` loses nothing",
     "test_durability.py::test_exit_without_close_commits_everything"),
    ("README.md", "Committed rows survive the process being killed (`kill -9`)",
     "test_durability.py::test_kill_9_while_logging_loses_only_the_uncommitted_tail"),
    ("README.md", "`synchronous=\"normal\"` (default) also survives power loss except for the last commits; "
     "`\"full\"` loses none; `\"off\"` is fastest and still survives a killed process.",
     "test_syscall_order.py::test_synchronous_reaches_the_writers_connection"),
    ("README.md", "With compression, `close()` checkpoints and closes each database, writes `{name}.db.zst.tmp`, "
     "fsyncs it, renames it to `{name}.db.zst`, fsyncs the directory, and only then removes `{name}.db`.",
     "test_syscall_order.py::test_close_compresses_in_the_crash_safe_order"),
    ("README.md", "A crash at any moment leaves a complete `.db` or a complete `.db.zst`.",
     "test_crash_points.py::test_kill_at_every_step_of_close"),
    ("README.md", "Files written by the pure-Python array_logger (format 1) are read and resumed as they are.",
     "test_format1_compat.py::test_register_resumes_a_plain_format1_file"),
    # docs/DURABILITY.md
    ("docs/DURABILITY.md", "`commit_threshold_rows` rows of a name since its last commit (default 100) | that "
     "group, as soon as its last row is logged",
     "test_commit_groups.py::test_each_commit_group_is_committed_when_its_last_row_is_logged"),
    ("docs/DURABILITY.md", "A flushed row is never lost: `flush()` returns only after the commit",
     "test_durability.py::test_kill_9_right_after_flush_keeps_every_flushed_row"),
    ("docs/DURABILITY.md", "A kill at any moment leaves a complete `{name}.db` or a complete `{name}.db.zst` "
     "(or both, identical).", "test_crash_points.py::test_kill_at_every_step_of_close"),
    ("docs/DURABILITY.md", "A stray `{name}.db.zst.tmp` is ignored by readers and removed by the next `register` "
     "of that name.", "test_durability.py::test_stray_tmp_files_are_ignored_by_the_reader_and_removed_by_register"),
    ("docs/DURABILITY.md", "When both files exist, `{name}.db` is the newer or identical copy: readers and "
     "`register` use it, and `register` removes the stale `.db.zst`.",
     "test_durability.py::test_both_db_and_db_zst_left_by_a_crash"),
    ("docs/DURABILITY.md", "Resuming a compressed run decompresses `{name}.db.zst` completely and durably "
     "(temporary file, fsync, rename) before appending.",
     "test_syscall_order.py::test_resume_decompresses_through_a_temporary_file"),
    ("docs/DURABILITY.md", "or does nothing more for `SIG_IGN`",
     "test_failure_paths.py::test_sigterm_ignored_by_the_program_stays_ignored"),
    ("docs/DURABILITY.md", "re-raises SIGTERM with the default action (the process ends with the signal, as the "
     "scheduler expects)", "test_signals_fork_lock.py::test_sigterm_commits_buffered_rows_and_the_process_still_dies"),
    ("docs/DURABILITY.md", "calls the program's own Python handler",
     "test_signals_fork_lock.py::test_sigterm_chains_to_the_programs_own_handler"),
    ("docs/DURABILITY.md", "`Logger(..., handle_signals=False)` (or `init(..., handle_signals=False)`) leaves "
     "signal handling alone.", "test_signals_fork_lock.py::test_signal_handling_can_be_switched_off"),
    ("docs/DURABILITY.md", "Using it in the child raises `StateError`; the child's exit handlers skip it, so the "
     "parent's files are never touched by the child.",
     "test_signals_fork_lock.py::test_forked_child_cannot_use_the_parents_logger"),
    ("docs/DURABILITY.md", "A second writer of the same name — another process, or a second open `Logger` in the "
     "same process — gets `StateError` at `register`, never a corrupt or interleaved file",
     "test_signals_fork_lock.py::test_second_writer_of_a_name_gets_a_clear_error_at_register"),
    ("docs/DURABILITY.md", "A reader in another process sees only committed rows",
     "test_faults.py::test_reader_in_another_process_sees_a_growing_committed_prefix"),
    ("docs/DURABILITY.md", "With compression on, a name whose writes failed is left as its `.db`, not compressed.",
     "test_failure_paths.py::test_a_name_whose_writes_failed_is_not_compressed_at_close"),
    ("docs/DURABILITY.md", "Once there is space again, a new `Logger` resumes the file after the rows it kept",
     "test_faults.py::test_file_size_limit_gives_a_clear_error_and_keeps_committed_rows"),
    ("docs/DURABILITY.md", "recursive CTEs are refused",
     "test_failure_paths.py::test_recursive_cte_in_a_where_clause_is_refused"),
    ("docs/DURABILITY.md", "A `.db.zst` is decompressed to a private temporary file (`array_logger-XXXXXX.db`, "
     "mode 0600, in `TMPDIR`) that is removed on `close()`",
     "test_reader.py::test_db_zst_temporary_copy_is_private_and_removed"),
    ("docs/DURABILITY.md", "the clause must stay inside its parentheses (no `;`, no unbalanced brackets, no open "
     "comments)", "test_reader.py::test_where_clause_cannot_escape_its_parentheses"),
    # docs/FORMAT.md
    ("docs/FORMAT.md", "It holds exactly two tables, `meta` and `array_log`",
     "test_format_doc.py::test_our_files_read_by_the_document"),
    ("docs/FORMAT.md", "so a closed format-2 file is a single self-contained file: header bytes 18 and 19 (file "
     "format write/read versions) are both `1`.", "test_format_doc.py::test_our_files_read_by_the_document"),
    ("docs/FORMAT.md", "declared **without a type**: no type affinity, so each value keeps its SQLite storage class",
     "test_inputs.py::test_key_values_keep_their_type"),
    ("docs/FORMAT.md", "`REAL` (Python/numpy floats, IEEE double)",
     "test_stored_values_exact.py::test_float_keys_are_stored_at_double_precision"),
    ("docs/FORMAT.md", "numpy `dtype.str`, ASCII, e.g. `<f4` (section 6)",
     "test_stored_values_exact.py::test_blob_header_names_the_documented_dtype_string"),
    ("docs/FORMAT.md", "with `shuffle-zstd`, a row the filter would not make smaller (incompressible data) is stored "
     "unfiltered, flags 0.", "test_format_doc.py::test_filtered_and_unfiltered_rows_in_one_file"),
    ("docs/FORMAT.md", "`data` is exactly `P` bytes: `ndarray.tobytes()`",
     "test_failure_paths.py::test_format1_blob_longer_than_its_array_is_refused"),
    ("docs/FORMAT.md", "A resumed format-1 file stays format 1: appended rows are bare blobs too, its meta is left "
     "unchanged.", "test_format1_compat.py::test_register_resumes_a_plain_format1_file"),
    ("docs/FORMAT.md", "`zstd -d NAME.db.zst` gives back `NAME.db`.",
     "test_promises.py::test_zstd_cli_gives_back_the_database"),
    ("docs/FORMAT.md", "Writing (at `close()`, crash-safe): compress `NAME.db` into `NAME.db.zst.tmp`, fsync it, "
     "rename it to `NAME.db.zst`, fsync the directory, then remove `NAME.db` and fsync the directory.",
     "test_syscall_order.py::test_close_compresses_in_the_crash_safe_order"),
    ("docs/FORMAT.md", "At every moment a complete `NAME.db` or a complete `NAME.db.zst` exists.",
     "test_crash_points.py::test_kill_at_every_step_of_close"),
    ("docs/FORMAT.md", "Resuming (`register`): decompress to `NAME.db.tmp`, fsync, rename to `NAME.db`, then remove "
     "`NAME.db.zst`.", "test_crash_points.py::test_kill_at_every_step_of_resume"),
]


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def function_text(path: Path, name: str) -> str:
    """The docstring and source (comments included) of a test function."""
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines()[node.lineno - 1 - len(node.decorator_list): node.end_lineno]
            return "\n".join(lines)
    raise AssertionError(f"{path.name} has no test {name}")


def quoted(text: str) -> str:
    """Source text as prose: docstring/comment continuation marks removed."""
    text = re.sub(r"^\s*#\s?", "", text, flags=re.M)
    return normalized(text.replace('\\"', '"'))


@pytest.mark.parametrize("doc, sentence, test", PROMISES, ids=[f"{d}:{t.split('::')[1]}" for d, _, t in PROMISES])
def test_promise_is_in_its_document_and_quoted_by_its_test(doc: str, sentence: str, test: str) -> None:
    doc_text = normalized((REPO / doc).read_text(encoding="utf-8"))
    assert normalized(sentence) in doc_text, f"{doc} no longer says: {sentence}"
    file, name = test.split("::")
    assert normalized(sentence) in quoted(function_text(TESTS / file, name)), \
        f"{test} does not quote the promise it proves: {sentence}"


def test_every_document_has_promises() -> None:
    per_doc: Dict[str, int] = {}
    for doc, _, _ in PROMISES:
        per_doc[doc] = per_doc.get(doc, 0) + 1
    assert set(per_doc) == {"README.md", "docs/DURABILITY.md", "docs/FORMAT.md"}


def test_zstd_cli_gives_back_the_database(tmp_path: Path) -> None:
    """docs/FORMAT.md section 7: "`zstd -d NAME.db.zst` gives back `NAME.db`."
    The CLI's output is the closed database, byte for byte what the reader
    decompresses, and holds the logged rows."""
    import shutil
    import sqlite3
    import subprocess

    import numpy as np

    import array_logger
    from al_helpers import zstd_decompress

    assert shutil.which("zstd"), "the zstd CLI (Debian package zstd) is installed by scripts/test.sh"
    with array_logger.Logger(tmp_path / "logs", 19) as lg:
        lg.register("x", keys=["i"], shape=(8,), dtype="float32")
        for i in range(50):
            lg.log("x", {"i": i}, np.full(8, i, np.float32))
    zst = tmp_path / "logs" / "x.db.zst"
    out = tmp_path / "x.db"
    subprocess.run(["zstd", "-q", "-d", str(zst), "-o", str(out)], check=True, timeout=60)
    assert out.read_bytes() == zstd_decompress(zst.read_bytes())
    assert out.read_bytes()[18:20] == b"\x01\x01"  # DELETE journal mode: no -wal needed
    con = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT i, data FROM array_log ORDER BY rowid").fetchall()
    finally:
        con.close()
    assert [i for i, _ in rows] == list(range(50))
    header = 8 + 8 + 1 + 3 + 4  # ALB1 header of shape (8,), '<f4', padded to 24
    assert [np.frombuffer(d[header:], np.float32).tolist() for _, d in rows] == [[float(i)] * 8 for i in range(50)]
