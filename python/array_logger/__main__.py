"""``python -m array_logger``: the same command line as ``array-logger``."""

from .cli import run

run()
