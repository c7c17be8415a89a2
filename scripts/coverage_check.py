"""Prints the coverage totals of a scripts/coverage.sh run and fails below
the thresholds: C++ lines/branches of cpp/src (gcovr's JSON summary) and
Python lines of python/array_logger (coverage.py's data).

usage: coverage_check.py OUT_DIR CPP_LINE_MIN CPP_BRANCH_MIN PY_LINE_MIN
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import coverage


def main() -> int:
    out, cpp_line_min, cpp_branch_min, py_line_min = Path(sys.argv[1]), *map(float, sys.argv[2:5])
    cpp = json.loads((out / "cpp.json").read_text())
    cov = coverage.Coverage(data_file=str(out / ".coverage"), config_file=str(Path(__file__).with_name("coveragerc")))
    cov.load()
    data = cov.get_data()
    statements = missing = 0
    for path in sorted(data.measured_files()):
        _, stmts, _, miss, _ = cov.analysis2(path)
        statements += len(stmts)
        missing += len(miss)
    py_line = 100.0 * (statements - missing) / statements if statements else 0.0
    results = [
        ("C++ lines (cpp/src)", cpp["line_percent"], cpp_line_min, f"{cpp['line_covered']}/{cpp['line_total']}"),
        ("C++ branches (cpp/src)", cpp["branch_percent"], cpp_branch_min,
         f"{cpp['branch_covered']}/{cpp['branch_total']}"),
        ("Python lines (python/array_logger)", py_line, py_line_min, f"{statements - missing}/{statements}"),
    ]
    failed = False
    for what, got, want, counts in results:
        ok = got >= want
        failed |= not ok
        print(f"coverage: {what}: {got:.1f}% ({counts}), threshold {want:.0f}% {'ok' if ok else 'FAILED'}")
    print(f"coverage: reports in {out}/ (cpp.txt, cpp.html, python.txt)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
