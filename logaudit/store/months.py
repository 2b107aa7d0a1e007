"""Closed months: each table of a month's closed days rolled up into one file.

A year of trends read about 7 small tables for each of 365 days, some 2,500 files at ~0.4 ms
each before any row. Once every stored day of a calendar month is closed (``close.py``) and the
store holds a day of a later month, the month is *rolled up*: every table that reports read for
all the period's days at once (counts per key: ``load``'s ``at_once``, the closed days'
per-page visitor counts, the places) becomes one file per month, the days' rows merged by the
table's own rules, and the closed days' visit rows (``visitdays.py``) one file too. A report
whose period holds all of a month's stored days reads the month's files instead of its days';
the tables read day by day (page-view and touch events, open days' key sets) are still the
days'. Merging is associative (any partition of the lines merges to the one-pass result,
``analyze/base.py``), so the figures are those of the days.

**Layout.** ``month=YYYY-MM/TABLE.gGEN.parquet``, checksummed in ``store.json`` under
``"months"`` like a day's files, with ``"of"``: a SHA-256 of the month's day entries (names,
files' checksums, closed flags, visit timeouts and offsets), but for their ``DERIVED`` files
(made later from a day's own files, not rolled up), when it was rolled up. A roll-up is used
only while that digest still matches: a day that gets late lines, reopens, is pruned or added
changes it, the commit drops the stale roll-up, and the next report rolls the month again. (A
store of schema 2, before roll-ups, is read and gets them on its next report; a digest an
older logaudit took over the ``DERIVED`` files too still stands and is restamped by the next
commit.) The entry's files also hold the month's *tails* (``store/tails.py``): ``TABLE@DD``
files, the table rolled up over the month's days from the ``DD``th on, read as ``TABLE``
through the entry ``tails.tail_entry`` makes (its file's ``"as"``).

**When.** At the end of a report run over the store (``stored_run``), under the store's lock:
so when a run closes a month's last day, and lazily for a store written before roll-ups (its
first report rolls every closed month once).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from logaudit.analyze.base import Table, merged_rows
from logaudit.store import entries as entry_counts
from logaudit.store import texthash, visitorsets
from logaudit.store.layout import Layout, State, write_order

if TYPE_CHECKING:
    import pyarrow as pa

# Tables never rolled up: read day by day (they may spill, or be stored packed).
DAY_ONLY = frozenset({"pv_events", "touch_events", "path_visitors"})
ROWS = "visit_rows"
SOURCES = "visit_sources"  # visitdays.SOURCES: a day whose rows keep their entry pairs


def month_of(day: str) -> str:
    return day[:7]


def _cached(state: State) -> dict[str, Any]:
    """This generation's cache (``State.cache``): every change to the days is made under a
    new generation (``state.gen += 1`` before its files are written) and committed before a
    report reads, and a commit clears it, so a digest of the same generation is the same."""
    c = state.cache
    if c.get("gen") != state.gen or c.get("n") != len(state.days):
        c.clear()
        by_month: dict[str, list[str]] = {}
        for d in sorted(state.days):
            by_month.setdefault(month_of(d), []).append(d)
        c.update(gen=state.gen, n=len(state.days), days=by_month, digests={})
    return c


def days_of(state: State, month: str) -> list[str]:
    return list(_cached(state)["days"].get(month, ()))


# A day's files made from another file of the same day (``store/sites.py``), never rolled
# up: the roll-up is not made of them, so a day given one later (a report reading a month's
# days, a ``--since`` inside it) leaves its month's roll-up standing (branch ``trends16``).
DERIVED = frozenset({"referrer_sites"})


def _made_of(info: dict[str, Any]) -> dict[str, Any]:
    files = info.get("files", {})
    if not DERIVED & set(files):
        return info
    return {**info, "files": {t: f for t, f in files.items() if t not in DERIVED}}


def _sha(days: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(days, sort_keys=True).encode()).hexdigest()


def digest(state: State, month: str) -> str:
    """What a roll-up of ``month`` was made from: its days' entries as stored, but for their
    ``DERIVED`` files. Computed once per generation (``covering`` is called by every reader:
    ~5 % of a year's trends)."""
    digests = _cached(state)["digests"]
    got = digests.get(month)
    if got is None:
        got = _sha({d: _made_of(state.days[d]) for d in days_of(state, month)})
        digests[month] = got
    return got


def _older_digest(state: State, month: str) -> str:
    """``digest`` as an older logaudit took it: over the days' ``DERIVED`` files too. Once
    per generation, as ``digest``."""
    older = _cached(state).setdefault("older", {})
    got = older.get(month)
    if got is None:
        got = _sha({d: state.days[d] for d in days_of(state, month)})
        older[month] = got
    return got


def stands(state: State, month: str) -> bool:
    """Whether the roll-up of ``month`` was made from its days as they are now: stamped with
    their ``digest``, or by an older logaudit with its digest (``_older_digest``) that still
    matches them. Only reads: ``drop_stale`` restamps the latter at commit time."""
    entry = state.months.get(month)
    if entry is None:
        return False
    of = entry.get("of")
    return of == digest(state, month) or of == _older_digest(state, month)


def drop_stale(state: State) -> list[str]:
    """Forget roll-ups whose days changed since they were made; the months dropped. One an
    older logaudit stamped that still stands gets this digest (``Layout.commit`` calls this
    just before it saves ``state``)."""
    stale = [m for m in state.months if not stands(state, m)]
    for m in stale:
        del state.months[m]
    for m, entry in state.months.items():
        entry["of"] = digest(state, m)
    return stale


def rollable(state: State) -> list[str]:
    """Months to roll up: every stored day closed, a later month's day stored, not rolled."""
    if not state.days:
        return []
    latest = month_of(max(state.days))
    by_month: dict[str, list[dict[str, Any]]] = {}
    for d, info in state.days.items():
        by_month.setdefault(month_of(d), []).append(info)
    return sorted(
        m
        for m, infos in by_month.items()
        if m < latest
        and all(i.get("closed") for i in infos)
        and not stands(state, m)
    )


def roll(layout: Layout, state: State, tables: Mapping[str, Table]) -> list[str]:
    """Roll up the rollable months (new files of the next generation, not yet committed);
    the months rolled. ``tables``: the rules of every table a day may hold."""
    from logaudit.store import tails  # it reads the months: imported here, not in a cycle

    months = rollable(state)
    if not months:
        return []
    state.gen += 1
    for month in months:
        days = [(d, state.days[d]) for d in days_of(state, month)]
        # References first: the month's keys are stored once too (store/layout.py REFS).
        names = write_order({t for _, info in days for t in info["files"]} - DAY_ONLY)
        files: dict[str, Any] = {}
        written: dict[str, pa.Table] = {}  # referenced tables, not read back from disk
        rows = None
        for t in names:
            if t != ROWS and t not in tables:
                continue  # a table this logaudit does not know: leave it to the days
            frame = layout.read_tables(days, t)
            if frame is None or not len(frame):
                continue
            if t in tails.TAILED:
                tails.write(layout, month, files, days, t, tables[t], frame, state.gen)
            if t != ROWS and len(frame) > 1:
                # The same merge as load's one-go read of the days.
                frame = merged_rows(tables[t], frame)
            files[t] = layout.write_file(
                month, t, frame, state.gen, {"gen": state.gen, "files": files}, written
            )
            if t == ROWS:
                rows = frame
            if t in texthash.HASHED:
                # Their hashes beside them: movers name keys without hashing (texthash.py).
                texthash.write(layout, month, files, t, frame.index, state.gen)
                if t == "referrers":  # and each referrer's site (schema 11)
                    texthash.write_hosts(layout, month, files, frame.index, state.gen)
            if t == visitorsets.SOURCE:
                # Its visitor keys as a sorted set and codes (store/visitorsets.py).
                visitorsets.write(layout, month, files, frame, state.gen)
        entry: dict[str, Any] = {"gen": state.gen, "files": files, "of": digest(state, month)}
        with_events = [i for _, i in days if "pv_events" in i["files"]]
        timeouts = {i.get("visit_timeout") for i in with_events}
        if (
            ROWS in files
            and all(ROWS in i["files"] for i in with_events)
            and len(timeouts) == 1
            and None not in timeouts
        ):
            # The month's rows stand for its events under the same conditions as a day's
            # (visitdays.usable/offsets_fit): one timeout, offsets within every day's.
            entry["visit_timeout"] = timeouts.pop()
            entry["offsets"] = [
                max(int(i["offsets"][0]) for i in with_events),
                min(int(i["offsets"][1]) for i in with_events),
            ]
            if rows is not None and all(i.get(SOURCES) for _, i in days if ROWS in i["files"]):
                # The source movers' counts of its interior visits (store/entries.py), and
                # the texts its edge visits' entry pairs name (store/texthash.py).
                if entry_counts.write(layout, month, files, rows, state.gen):
                    for t in texthash.EDGE_NAMED:
                        if t in files and texthash.ready({"files": files}, t):
                            texthash.write_edges(layout, month, files, t, state.gen)
        else:
            files.pop(ROWS, None)
        state.months[month] = entry
    return months


def covering(
    state: State, days: list[tuple[str, dict[str, Any]]]
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """The period ``days`` as (entries to read the merged tables from: valid roll-ups of the
    months whose stored days all lie in the period, and the other days, in time order; the
    days those months cover)."""
    inside = {d for d, _ in days}
    months = {
        m: e
        for m, e in state.months.items()
        if stands(state, m) and set(days_of(state, m)) <= inside
    }
    covered = [(d, info) for d, info in days if month_of(d) in months]
    rest = [(d, info) for d, info in days if month_of(d) not in months]
    entries = sorted([*months.items(), *rest], key=lambda x: x[0])
    return entries, covered


__all__ = [
    "covering",
    "days_of",
    "digest",
    "drop_stale",
    "month_of",
    "roll",
    "rollable",
    "stands",
]
