"""After the run: the bridges from array_logger files to the analysis tools.

Each module takes a :class:`~array_logger.bridges.rows.Rows` (a description of
selected rows plus a way to stream them as ``Batch`` objects) and imports its
library lazily, so ``import array_logger`` stays numpy-only:

- ``rows``: ``Rows``, key kinds, the rowid-window batch stream of one file;
- ``arrow``: Arrow tables/readers, Parquet and Arrow IPC files;
- ``frames``: pandas, polars, xarray;
- ``export``: the streamed exports (Parquet, Arrow IPC, NPZ, CSV, HDF5);
- ``stats``: streamed statistics with an exact median;
- ``plot``, ``inspect``, ``merge``, ``progress``: what the command line uses.

The facade (``ArrayReader``) reaches them only inside its methods; see
docs/ANALYSIS.md.
"""
