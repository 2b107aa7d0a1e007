"""Closed months' visit entries, counted once (schema 8, branch ``year3``).

The source movers (``trends.movers``: sources by their share of visits) classify each visit's
entry (referrer, query) pair over the compared periods: the last 5 months of a year at 10,000
visitors a day is some 1.5M visit rows read from the months' ``visit_rows``, their pairs
factorized (two random 64-bit hashes each) and chained: about a quarter of the trends' time.

A closed month never changes, and what the source movers need of its *interior* visits (those
that no other day's visit can join, ``store/visitdays.py``) is only how many start on each
local day with each entry pair: the period of a visit is a function of its local start day
for days, weeks and months (hourly periods never use the store's counts). So each rolled-up
month keeps:

- ``entry_counts``: (``day``, ``ref_h``, ``query_h``) -> ``n``, the month's interior visits
  counted per local start day and entry pair (75,000 rows for 316,000 visits here);
- ``edge_rows``: the month's edge visit rows, every column of ``visit_rows`` (8,000 rows):
  they are chained at report time with the neighbouring days' visits, as before.

A report reads these two instead of the month's ``visit_rows`` and weighs each counted pair
by ``n``: the visits and pairs per period are those of the rows, so the movers are the same.

**Valid while the rows are.** Each file's entry in ``store.json`` records the checksum of the
month's ``visit_rows`` file it was made from (``"of"``); a month whose days change loses its
roll-up (``months.drop_stale``) and gets new files with its next roll-up. They are made when
a month is rolled up (``months.roll``) and, for months rolled up by an older logaudit, by the
first report whose source movers read the month (under the store's lock, committed once).
A month whose rows lack the entry pairs (days closed by a logaudit before schema 6) gets none
and is read as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from logaudit.store import madeof, visitdays
from logaudit.store.layout import Layout, State

COUNTS = "entry_counts"
EDGES = "edge_rows"
CLICKS = "visit_clicks"
LENGTHS = "visit_lengths"
TABLES = (COUNTS, EDGES, CLICKS, LENGTHS)
ROWS = visitdays.ROWS.name


def _counted(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The distinct rows of ``columns`` (sorted) and how many of each (``n``)."""
    keys = pd.DataFrame(columns)
    counts = keys.groupby(list(columns), sort=True).size().rename("n").reset_index()
    counts["n"] = counts["n"].astype(np.int64)
    return counts


def of_rows(rows: pd.DataFrame) -> tuple[pd.DataFrame, ...] | None:
    """(``entry_counts``, ``edge_rows``, ``visit_clicks``, ``visit_lengths``) of a month's
    visit rows; None when the rows do not all keep their entry pair."""
    if not set(visitdays.PAIR) <= set(rows.columns) or rows.loc[:, list(visitdays.PAIR)].isna().any(
        axis=None
    ):
        return None
    edge = rows["edge"].to_numpy(bool)
    inner = ~edge
    day = rows["start_local"].to_numpy(np.int64)[inner] // visitdays.DAY_S
    counts = _counted(
        {
            "day": day,
            "ref_h": rows["ref_h"].to_numpy(np.uint64)[inner],
            "query_h": rows["query_h"].to_numpy(np.uint64)[inner],
        }
    )
    clicks = _counted({"day": day, "clicks": rows["clicks"].to_numpy(np.int64)[inner]})
    length = rows["end"].to_numpy(np.int64) - rows["start"].to_numpy(np.int64)
    lengths = _counted({"day": day, "duration": length[inner]})
    columns = [*visitdays.COLUMNS, "edge", *visitdays.PAIR]
    edges = rows.loc[edge, columns].reset_index(drop=True)
    for c in visitdays.PAIR:
        edges[c] = edges[c].to_numpy(np.uint64)
    return counts, edges, clicks, lengths


def ready(entry: dict[str, Any]) -> bool:
    """Whether a month entry's counts and edges stand for its visit rows."""
    return madeof.all_stand(entry["files"], TABLES, ROWS)


def write(
    layout: Layout, month: str, files: dict[str, Any], rows: pd.DataFrame, gen: int
) -> bool:
    """Add the month's counts and edges made from ``rows`` (its stored ``visit_rows``, whose
    file entry ``files`` holds) to ``files``; whether they could be made."""
    made = of_rows(rows)
    if made is None:
        return False
    for table, frame in zip(TABLES, made, strict=True):
        madeof.stamp(layout, month, files, table, frame, gen, ROWS)
    return True


def backfill(layout: Layout, state: State, entries: list[tuple[str, dict[str, Any]]]) -> bool:
    """Make the missing counts and edges of the month ``entries`` (not yet committed): months
    rolled up by an older logaudit; whether any were made."""
    return madeof.backfill_months(layout, state, entries, ROWS, ready, write)[1]


def split(
    entries: list[tuple[str, dict[str, Any]]],
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """(the month entries whose counts and edges are read, the entries whose rows are)."""
    counted = [(m, e) for m, e in entries if len(m) == 7 and ready(e)]
    done = {m for m, _ in counted}
    return counted, [(n, e) for n, e in entries if n not in done]


def read_visits(
    layout: Layout, counted: list[tuple[str, dict[str, Any]]]
) -> tuple[pd.DataFrame | None, dict[str, pd.DataFrame]]:
    """The counted months' edge rows (``visitdays.COLUMNS`` and ``edge``) and their
    interior visits as value counts (``analyze/visitcounts.py``: ``clicks`` and
    ``duration`` -> (day, value, n)), each concatenated."""
    if not counted:
        return None, {}
    edges = layout.read_tables(counted, EDGES, columns=(*visitdays.COLUMNS, "edge"))
    got = {
        "clicks": layout.read_tables(counted, CLICKS),
        "duration": layout.read_tables(counted, LENGTHS),
    }
    return edges, {k: f for k, f in got.items() if f is not None}


__all__ = [
    "CLICKS",
    "COUNTS",
    "EDGES",
    "LENGTHS",
    "TABLES",
    "backfill",
    "of_rows",
    "read_visits",
    "ready",
    "split",
    "write",
]
