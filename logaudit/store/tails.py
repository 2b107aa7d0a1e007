"""A closed month's *tails* (branch ``trends16``; ``store/months.py``): the tables a trends
report reads at once over its period, rolled up again over the month's days from each of
``TAIL_STARTS`` on, as ``TABLE@DD`` files of the month's entry. A period starting inside the
month (``--since 365d`` on any day but the store's first) reads its first days up to the next
start and the tail, not every day: at most 6 days and one file. Kept small: ``paths`` and
one-row tables. Written with the month's roll-up (``months.roll``), or by the first report
that reads a month rolled up without them (``backfill_tails``); they go with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logaudit.analyze.base import Table, merged_rows
from logaudit.store import madeof
from logaudit.store.layout import Layout, State
from logaudit.store.months import days_of, month_of, stands

TAIL_STARTS = (8, 15, 22)
TAILED = frozenset({"paths", "totals", "vhosts", "files", "span", "trend_hours"})


def tail_name(table: str, start: int) -> str:
    return f"{table}@{start:02d}"


def tail_entry(entry: dict[str, Any], table: str, start: int) -> dict[str, Any]:
    """A month ``entry``'s tail of ``table`` from ``start`` as an entry of its own whose file
    is read as ``table`` (its ``"as"``: ``Layout.path``)."""
    name = tail_name(table, start)
    return {"gen": entry["gen"], "files": {table: {**entry["files"][name], "as": name}}}


def write(
    layout: Layout,
    month: str,
    files: dict[str, Any],
    days: list[tuple[str, dict[str, Any]]],
    table: str,
    rules: Table,
    frame: Any,
    gen: int,
) -> None:
    """Write ``table``'s tails of ``month`` into ``files``: ``frame`` holds its ``days``' rows
    as read (concatenated in day order, not merged), so each tail is a slice of it (each day's
    row count is in its entry), merged by the table's rules. A tail of every day or of none is
    not written (the month itself, or nothing to read), nor one of the same days as the
    previous start's (a gap in the store: Feb 11-24 missing, @15 and @22 hold Feb 25 on)."""
    counts = [int(i["files"][table]["rows"]) if table in i["files"] else 0 for _, i in days]
    prev = None
    for start in TAIL_STARTS:
        first = next((i for i, (d, _) in enumerate(days) if int(d[8:10]) >= start), None)
        if not first or first == prev:  # None: no day in the tail; 0: every day is
            continue
        prev = first
        rows = frame.iloc[sum(counts[:first]) :]
        if not len(rows):
            continue
        if len(rows) > 1:
            rows = merged_rows(rules, rows)
        name = tail_name(table, start)
        files[name] = layout.write_file(month, name, rows, gen)


def tails_ready(entry: dict[str, Any], days: list[tuple[str, dict[str, Any]]]) -> bool:
    """Whether a month entry has every tail its stored ``days`` make (``_tails``: one per
    tailed table and start with days on both sides of it, the later ones holding the table,
    but for a start whose days are the previous start's)."""
    files = entry["files"]
    prev = None
    for start in TAIL_STARTS:
        later = [i for d, i in days if int(d[8:10]) >= start]
        if not later or len(later) in (len(days), prev):
            continue
        prev = len(later)
        for t in TAILED & set(files):
            if any(t in i["files"] for i in later) and tail_name(t, start) not in files:
                return False
    return True


def backfill_tails(
    layout: Layout, state: State, months: list[str], tables: Mapping[str, Table]
) -> bool:
    """Make the tails of the standing roll-ups ``months`` rolled up without them (an older
    logaudit: not yet committed); whether any were made."""
    todo = [
        m
        for m in months
        if stands(state, m)
        and not tails_ready(state.months[m], [(d, state.days[d]) for d in days_of(state, m)])
    ]
    if not todo:
        return False
    state.gen += 1
    for month in todo:
        days = [(d, state.days[d]) for d in days_of(state, month)]
        files = state.months[month]["files"]
        with madeof.unless_full(files):
            for t in sorted(TAILED & set(files) & set(tables)):
                frame = layout.read_tables(days, t)
                if frame is not None:
                    write(layout, month, files, days, t, tables[t], frame, state.gen)
    return True


def partial_months(state: State, days: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The months with a standing roll-up whose stored days the period ``days`` holds a part
    of, ending with the month's last day (a ``--since`` inside it)."""
    inside = {d for d, _ in days}
    out = []
    for m in sorted({month_of(d) for d in inside}):
        mine = days_of(state, m)
        held = [d for d in mine if d in inside]
        if m in state.months and 0 < len(held) < len(mine) and held == mine[-len(held) :]:
            if stands(state, m):
                out.append(m)
    return out


def with_tails(
    state: State, entries: list[tuple[str, dict[str, Any]]], months: list[str], table: str
) -> list[tuple[str, dict[str, Any]]]:
    """``entries`` (``covering``'s, in time order) with the days of each of ``months``
    (``partial_months``) that a tail of ``table`` holds replaced by that tail, read as
    ``table``: the first tail whose days all lie in the period. Merging is associative and the
    tail's rows keep their days' order, so the merged table is the days'."""
    out = list(entries)
    for m in months:
        entry = state.months[m]
        names = {n for n, _ in out}
        mine = days_of(state, m)
        for start in TAIL_STARTS:
            meta = entry["files"].get(tail_name(table, start))
            tail = [d for d in mine if int(d[8:10]) >= start]
            if meta is None or not tail or not set(tail) <= names:
                continue
            at = next(i for i, (n, _) in enumerate(out) if n == tail[0])
            kept = [(n, i) for n, i in out if n not in set(tail)]
            kept.insert(at, (m, tail_entry(entry, table, start)))
            out = kept
            break
    return out


__all__ = [
    "TAILED",
    "TAIL_STARTS",
    "backfill_tails",
    "partial_months",
    "tail_entry",
    "tail_name",
    "tails_ready",
    "with_tails",
    "write",
]
