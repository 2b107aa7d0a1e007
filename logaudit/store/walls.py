"""``problems``' stored tables written before schema 14, keyed on wall minutes: read as instants.

Up to schema 13 ``problems``' tables (``analyze/problems/tables.py``) keyed their minutes, and
a client's first and last seconds, on the report zone's wall clock; from 14 on they are UTC
minutes and seconds, so a daylight-saving fall-back's repeated hour is two hours and a
spring-forward's skipped hour none. A file written since says so in its store.json entry
(``MARK``); one without it is converted as it is read (``Layout._stored``), each wall minute
less its hour's offset, from the same day's (or month's) ``trend_hours`` (local hour, offset).
Exact where the hour had one offset; in an hour of two (the hour a fall-back repeats, or lines
of servers in several zones read without --tz) every minute takes the westernmost, one minute
as before (``t_minutes``' rule). An entry without ``trend_hours`` offsets is read as before.
A day read on by a new run rewrites these files as instants (``store._add_days``), before its
``trend_hours`` gains the new lines' offsets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Table -> its columns of minutes (since 1970); pb_clients' are seconds.
MINUTES: dict[str, tuple[str, ...]] = {
    t: ("minute",)
    for t in (
        "pb_minutes",
        "pb_fail",
        "pb_response_minutes",
        "pb_response_span",
        "pb_slowest",
        "pb_login",
        "pb_rate",
    )
}
SECONDS: dict[str, tuple[str, ...]] = {"pb_clients": ("first", "last")}
TABLES = frozenset(MINUTES) | frozenset(SECONDS)
# Tables that keep each row's offset (minutes) beside its minute from 14 on.
WITH_OFFSET = frozenset({"pb_minutes", "pb_slowest"})
# The store.json file entry's key of a table written keyed on instants.
MARK = "instants"
HOURS = "trend_hours"

Offsets = tuple[np.ndarray, np.ndarray]  # (wall hours, ascending; the offset of each, minutes)


def mark(table: str, meta: dict[str, Any]) -> dict[str, Any]:
    """A file entry just written, marked as instants where ``table`` is one of ``TABLES``."""
    if table in TABLES:
        meta[MARK] = True
    return meta


def walled(info: dict[str, Any]) -> set[str]:
    """The tables of a stored day (or month) ``info`` kept on wall minutes (before 14)."""
    return {t for t, meta in info["files"].items() if t in TABLES and not meta.get(MARK)}


def hour_offsets(hours: pa.Table) -> Offsets | None:
    """Each wall hour's offset from a stored ``trend_hours`` (its westernmost where it had
    two); None where it keeps no offsets (or no rows)."""
    if "hour" not in hours.column_names or "offset" not in hours.column_names:
        return None
    h = hours.column("hour").to_numpy().astype(np.int64)
    o = hours.column("offset").to_numpy().astype(np.int64)
    if not len(h):
        return None
    order = np.lexsort((o, h))  # by hour, its westernmost offset first
    h, o = h[order], o[order]
    first = np.r_[True, h[1:] != h[:-1]]
    return h[first], o[first]


def _at(offsets: Offsets, hour: np.ndarray) -> np.ndarray:
    """The offset of each wall hour: its own, else the last one before it (the first's
    before the first)."""
    h, o = offsets
    i = np.searchsorted(h, hour, side="right") - 1
    return o[np.maximum(i, 0)]


def _shifted(rows: pa.Table, column: str, per: int, offsets: Offsets) -> tuple[pa.Table, Any]:
    """``rows`` with ``column`` (wall times in units of ``per`` seconds) less each one's
    offset; and the offsets (minutes)."""
    i = rows.schema.get_field_index(column)
    col = rows.column(column)
    o = offsets[1]
    if o.min() == o.max():  # the usual entry: one offset (0: nothing to do), no lookup
        off = np.full(len(col), o[0], np.int64)
        if not o[0]:
            return rows, off
        moved = pc.subtract(col, pa.scalar(int(o[0]) * 60 // per, col.type))
    else:
        wall = pc.fill_null(col, 0).to_numpy().astype(np.int64)
        off = _at(offsets, wall * per // 3600)
        moved = pc.subtract(col, pa.array(off * 60 // per, col.type))
    return rows.set_column(i, rows.schema.field(column), moved), off


def instants(table: str, rows: pa.Table, offsets: Offsets | None) -> pa.Table:
    """A stored file of ``table`` kept on wall minutes (``walled``), keyed on instants as 14
    writes it; as read where ``offsets`` is None (unknown: read as before)."""
    if offsets is None or not rows.num_rows:
        return rows
    off = None
    for column in MINUTES.get(table, ()):
        if column in rows.column_names:
            rows, off = _shifted(rows, column, 60, offsets)
    for column in SECONDS.get(table, ()):
        if column in rows.column_names:
            rows, _ = _shifted(rows, column, 1, offsets)
    if table in WITH_OFFSET and off is not None and "offset" not in rows.column_names:
        rows = rows.append_column("offset", pa.array(off, pa.int64()))
    return rows
