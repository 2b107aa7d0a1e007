"""A text-keyed table's stored rows merged in Arrow, before they become a DataFrame (branch
``trends15``).

``load`` reads each small table of the period's entries as one (a year: 12 months' roll-ups
and the open days) and merges the rows among themselves (``analyze.base.merged_rows``). For
``paths`` that is 1.1M rows of 83,000 paths a year at 10,000 visitors a day: each row made a
pandas row, the 1.1M texts factorized and each column folded by ``ufunc.at`` (~220 ms of CPU
with the read). Grouped here in Arrow (one hash aggregation, single-threaded), only the
merged rows become a DataFrame: ~50 ms less.

The result is ``merged_rows(table, _frame(rows))`` exactly: the same groups in the same order
(each key where it first appears: the aggregation also takes each key's first row number,
and the groups are put in that order), the same columns and dtypes. Only where the rules are
plainly the same (``_by_text``'s cases): a group table keyed by one text column without a
null, every other column 64-bit integers (summed, or their max or min) or flags (max or min),
none null and none an extension dtype. Anything else is None: the caller merges as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from logaudit.analyze.base import Table
from logaudit.store.layout import Layout, _frame, _shape

# (rule, Arrow type) -> Arrow's hash aggregate: the pairs whose result is the fold's.
_RULES = {
    ("sum", pa.int64()): "sum",
    ("max", pa.int64()): "max",
    ("min", pa.int64()): "min",
    ("max", pa.bool_()): "max",
    ("min", pa.bool_()): "min",
}


# The tables merged here, where it was measured to win (lead, fifteenth round, a year's store
# read from a mid-month day: 41 entries): paths 296 ms against 433 (1.9M rows, 83,000 paths).
# Where most keys are distinct the ordering costs more than the fold: referrers 670 ms against
# 236 (1.2M rows, 513,000 referrers); queries, pb_clients no better (a reviewer).
ARROW_TABLES = frozenset({"paths"})


def merged(table: Table, rows: pa.Table) -> pd.DataFrame | None:
    """``merged_rows(table, _frame(rows))`` for ``rows`` as ``Layout.read_arrow`` gives them
    (several entries' rows of ``table``), grouped in Arrow; None where not plainly the same
    (the caller merges the DataFrame as before)."""
    if table.name not in ARROW_TABLES or table.kind != "group" or rows.num_rows < 2:
        return None
    index, types = _shape(rows)
    if len(index) != 1 or types:
        return None
    key = index[0]
    if key not in rows.column_names:
        return None
    text = rows.column(key)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return None
    if text.null_count:
        return None
    columns = [c for c in rows.column_names if c != key]
    aggs = []
    for c in columns:
        col = rows.column(c)
        how = _RULES.get((table.agg.get(c, "sum"), col.type))
        if how is None or col.null_count:
            return None
        aggs.append((c, how))
    first = "first_row"
    while first in rows.column_names:
        first = "_" + first
    if key in {f"{c}_{how}" for c, how in [*aggs, (first, "min")]}:
        return None  # Arrow names each aggregate COLUMN_RULE: the key would collide
    numbered = rows.append_column(first, pa.array(np.arange(rows.num_rows, dtype=np.int64)))
    # Single-threaded: one pass in row order. Its groups are not in first-appearance order
    # past the first batch, so each key's first row puts them in it.
    grouped = numbered.group_by(key, use_threads=False).aggregate([*aggs, (first, "min")])
    order = np.argsort(grouped.column(f"{first}_min").to_numpy(), kind="stable")
    grouped = grouped.take(pa.array(order))
    out = pa.Table.from_arrays(
        [grouped.column(f"{c}_{how}") for c, how in aggs] + [grouped.column(key)],
        names=[*columns, key],
    )
    return _frame(out, (index, types))


def read(
    layout: Layout, entries: list[tuple[str, dict[str, Any]]], table: Table
) -> tuple[pd.DataFrame | None, bool]:
    """``layout.read_tables(entries, table.name)``, and whether its rows are merged already
    (``merged``; else as read, for the caller to merge)."""
    rows = layout.read_arrow(entries, table.name)
    if rows is None:
        return None, False
    done = merged(table, rows)
    return (done, True) if done is not None else (_frame(rows, _shape(rows)), False)


__all__ = ["merged", "read"]
