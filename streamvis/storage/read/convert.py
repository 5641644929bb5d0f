"""Arrow tables from the store to the ndarray dicts of the export API."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from streamvis.storage.read.reading import index_runs

__all__ = ["split_by_index", "tables_to_arrays"]


def split_by_index(table: pa.Table) -> dict[int, dict[str, np.ndarray]]:
    """``{index: {column: ndarray}}`` from a (scope, name) table; zero-copy slices
    when the table's rows are grouped by index (as the store returns them)."""
    table = table.combine_chunks()
    values, bounds = index_runs(table.column("index"))  # on the dictionary codes
    if not values:
        return {}
    cols = {
        c: table.column(c).chunk(0).to_numpy(zero_copy_only=False)
        for c in table.column_names
        if c != "index"
    }
    out: dict[int, dict[str, np.ndarray]] = {}
    for i, s, e in zip(values, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        part = {c: a[s:e] for c, a in cols.items()}
        if i in out:  # rows of one index not contiguous: concatenate (copies)
            part = {c: np.concatenate((out[i][c], part[c])) for c in part}
        out[i] = part
    return out


def tables_to_arrays(
    tables: dict[tuple[str, str], pa.Table],
) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
    """``{(scope, name, index): {column: ndarray}}``, in table then index order."""
    out = {}
    for (scope, name), table in tables.items():
        for index, cols in split_by_index(table).items():
            out[(scope, name, index)] = cols
    return out
