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
commit.) The entry's files also hold the month's *tails* (``TAILED``): ``TABLE@DD`` files,
the table rolled up over the month's days from the ``DD``th on, read as ``TABLE`` through
the entry ``tail_entry`` makes (its file's ``"as"``).

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
# A month's *tails* (branch ``trends16``): the tables a trends report reads at once over its
# period, rolled up again over the month's days from each of these days of the month on, as
# ``TABLE@DD`` files of the month's entry. A period starting inside the month (``--since
# 365d`` on any day but the store's first) reads its first days up to the next start and the
# tail, not every day: at most 6 days and one file. Kept small: ``paths`` and one-row tables.
TAIL_STARTS = (8, 15, 22)
TAILED = frozenset({"paths", "totals", "vhosts", "files", "span", "trend_hours"})
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
            if t in TAILED:
                _tails(layout, month, files, days, t, tables[t], frame, state.gen)
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
                # The source movers' counts of its interior visits (store/entries.py).
                entry_counts.write(layout, month, files, rows, state.gen)
        else:
            files.pop(ROWS, None)
        state.months[month] = entry
    return months


def tail_name(table: str, start: int) -> str:
    return f"{table}@{start:02d}"


def tail_entry(entry: dict[str, Any], table: str, start: int) -> dict[str, Any]:
    """A month ``entry``'s tail of ``table`` from ``start`` as an entry of its own whose file
    is read as ``table`` (its ``"as"``: ``Layout.path``)."""
    name = tail_name(table, start)
    return {"gen": entry["gen"], "files": {table: {**entry["files"][name], "as": name}}}


def _tails(
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
        for t in sorted(TAILED & set(files) & set(tables)):
            frame = layout.read_tables(days, t)
            if frame is not None:
                _tails(layout, month, files, days, t, tables[t], frame, state.gen)
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
    "TAILED",
    "TAIL_STARTS",
    "backfill_tails",
    "covering",
    "digest",
    "drop_stale",
    "month_of",
    "partial_months",
    "roll",
    "rollable",
    "stands",
    "tail_entry",
    "tail_name",
    "tails_ready",
    "with_tails",
]
