"""Lazy imports of the optional analysis libraries (the extras in pyproject.toml).

``import array_logger`` needs numpy only; each bridge imports its library the
first time it is used, through :func:`require`, so a missing library is
reported with the extra that installs it instead of a bare ModuleNotFoundError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# module to import -> the pyproject extra that installs it
EXTRA_OF = {
    "pyarrow": "arrow",
    "pyarrow.parquet": "arrow",
    "pyarrow.ipc": "arrow",
    "pandas": "pandas",
    "polars": "polars",
    "xarray": "xarray",
    "duckdb": "duckdb",
    "h5py": "hdf5",
    "matplotlib": "plot",
    "matplotlib.pyplot": "plot",
    "tqdm": "progress",
    "dask": "dask",
    "dask.array": "dask",
    "dask.dataframe": "dask",
    "distributed": "dask",
}


def require(module: str) -> ModuleType:
    """Imports ``module`` or raises ImportError naming ``pip install array-logger[extra]``.

    Example:
        >>> pa = require("pyarrow")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRA_OF.get(module, "all")
        raise ImportError(
            f"{module} is needed for this; install it with: pip install 'array-logger[{extra}]'"
        ) from exc
