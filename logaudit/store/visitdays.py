"""Closed days keep their visits: trends read them instead of the page-view events.

The visit figures (``visits``, ``clicks_per_visit`` per period, and the overview's visits,
clicks per visit, median clicks, bounce rate and median visit length) come from sessionizing
every page-view event of the period: a year of a 10,000-visitor site is about 12 million
events. When a day closes (``store/close.py``) the store sessionizes that day's events once
and keeps one row per visit (``visit_rows``: start, end, local start, clicks), a few times
fewer rows than events and four small columns.

**Exactly the one-pass visits.** A new visit starts at a visitor's first page view or after a
gap longer than the visit timeout (``analyze/visits.py``). A visit of one day can join a
visit of another day only when it comes within the timeout of the day's edge: the other day's
events lie before ``day start - max offset`` or from ``day end - min offset`` in UTC (offsets
over the day and its neighbours, recorded with the day). Those *edge* visits keep their
visitor key (``edge`` true) and are chained at report time with the edge visits of the other
days and the visits of the open days' events: sorted by visitor and start, a piece joins the
visit before it when it starts at most the timeout after that visit's end (the running
maximum, so pieces that overlap join too). Chaining runs of events is sessionizing them: the
result equals sessionizing all the events, for any range of whole days. Interior visits keep
no visitor key (0).

The rows are used only when they give the same figures:

- the chosen sections read visits only through these figures (``SECTIONS``: the trends
  series and the overview); with ``movers``, which reads the events themselves (not the
  visits), every day's events are read too, but the visits are still not sessionized from
  them; the visits sections read the events;
- the day was closed with the report's visit timeout (``--visit-timeout``);
- every offset in the period lies within the offsets the day was closed with.

Otherwise the events are read, as before. A day that gets late lines reopens and loses its
rows; the next close makes them again.

**Entry sources** (schema 6, branch ``storesrc``): the movers' source movers classify each
visit's entry (referrer, query) pair. The visits ``attribution.cut`` cuts from the touch
events open at page views exactly as here, so they are these visits: each row now also keeps
its visit's entry ``ref_h`` and ``query_h`` (taken, when the day closes, from the day's touch
events cut alone and matched on (visitor, start)), and the day's entry says
``visit_sources``. Chaining keeps the first piece's pair, as cutting all the events would.
The source movers then read no touch event of such a closed day (``source_visits``); a day
closed without them (an older logaudit, a day without touch events) is read as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from logaudit.analyze.base import Table
from logaudit.analyze.visits import Visits, sessionize
from logaudit.store.layout import Layout, State, day_name, day_number

DAY_S = 86_400
ROWS = Table("visit_rows", lambda c, s: pd.DataFrame(), kind="concat")
# Where the store hands the chained visits to the report (popped by ``stored_context``).
HANDOFF = "_stored_visits"
# Sections whose visit figures these rows give exactly (besides the overview's headline).
SECTIONS = frozenset({"periods", "change", "unusual"})
# Sections that read the page-view events themselves but not the visits made of them: with
# them the events are read, and the visits still come from the rows.
WITH_EVENTS = frozenset({"movers"})
COLUMNS = ("visitor", "start", "end", "start_local", "clicks")
# The entry (referrer, query) hashes of each visit, on rows of days whose entry says SOURCES.
PAIR = ("ref_h", "query_h")
SOURCES = "visit_sources"


def offsets_near(layout: Layout, state: State, name: str) -> tuple[int, int] | None:
    """(min, max) offset in seconds over the day and its stored neighbours (``trend_hours``)."""
    found: list[np.ndarray] = []
    d = day_number(name)
    for near in (day_name(d - 1), name, day_name(d + 1)):
        info = state.days.get(near)
        if info is None:
            continue
        th = layout.read_table(near, info, "trend_hours")
        if th is not None and len(th):
            found.append(th.index.get_level_values("offset").to_numpy(np.int64))
    if not found:
        return None
    o = np.concatenate(found) * 60
    return int(o.min()), int(o.max())


def day_rows(
    events: pd.DataFrame,
    day: int,
    timeout: int,
    lo: int,
    hi: int,
    touch: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One closed day's visits (``COLUMNS`` and ``edge``); ``lo``/``hi``: offsets (s).
    ``touch``: the day's touch events: the rows get their entry ``PAIR`` from them when every
    visit is found there (else none, and the day's sources are read from its events)."""
    t = sessionize(events, timeout, per_event=False).table
    start = t["start"].to_numpy(np.int64)
    end = t["end"].to_numpy(np.int64)
    # Another day's event is before day*DAY - lo or from (day+1)*DAY - hi (UTC seconds).
    edge = (start - (day * DAY_S - lo) <= timeout) | (((day + 1) * DAY_S - hi) - end <= timeout)
    visitor = t["visitor"].to_numpy(np.uint64).copy()
    visitor[~edge] = 0
    rows = pd.DataFrame(
        {
            "visitor": visitor,
            "start": start,
            "end": end,
            "start_local": t["start_local"].to_numpy(np.int64),
            "clicks": t["clicks"].to_numpy(np.int64),
            "edge": edge,
        }
    )
    if touch is not None and len(touch):
        pair = _entry_pairs(t, touch, timeout)
        if pair is not None:
            rows["ref_h"], rows["query_h"] = pair
    return rows


def _entry_pairs(
    t: pd.DataFrame, touch: pd.DataFrame, timeout: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per visit of ``t`` (sessionized), the entry (ref_h, query_h) of the same visit cut
    from the day's touch events; None unless every visit is found exactly once."""
    from logaudit.analyze.attribution import cut

    cv, _ = cut(touch, timeout, 0)
    if len(cv) != len(t):
        return None
    key = pd.MultiIndex.from_arrays(
        [cv["visitor"].to_numpy(np.uint64), cv["start"].to_numpy(np.int64)]
    )
    want = pd.MultiIndex.from_arrays(
        [t["visitor"].to_numpy(np.uint64), t["start"].to_numpy(np.int64)]
    )
    if not key.is_unique:
        return None
    at = key.get_indexer(want)
    if (at < 0).any():
        return None
    return (
        cv["ref_h"].to_numpy(np.uint64)[at],
        cv["query_h"].to_numpy(np.uint64)[at],
    )


def close_day(
    layout: Layout, state: State, name: str, info: dict[str, Any], timeout: int, gen: int
) -> dict[str, Any]:
    """``info`` with the day's visit rows written (generation ``gen``), when it has events."""
    events = layout.read_table(name, info, "pv_events")
    near = offsets_near(layout, state, name)
    if events is None or not len(events) or near is None:
        return info
    # The day's touch events: the rows' entry pairs (store/movers.py source_visits).
    has_touch = "touch_events" in info["files"]
    touch = layout.read_table(name, info, "touch_events") if has_touch else None
    rows = day_rows(events, day_number(name), timeout, *near, touch=touch)
    files = {**info["files"], ROWS.name: layout.write_file(name, ROWS.name, rows, gen)}
    out = {**info, "files": files, "visit_timeout": timeout, "offsets": list(near)}
    out.pop(SOURCES, None)
    if "ref_h" in rows.columns:
        out[SOURCES] = True
    return out


def usable(days: Iterable[tuple[str, dict[str, Any]]], timeout: int) -> list[str]:
    """The days whose visit rows can stand for their events (offsets are checked later)."""
    return [
        n
        for n, info in days
        if info.get("closed")
        and ROWS.name in info["files"]
        and info.get("visit_timeout") == timeout
    ]


def offsets_fit(days: dict[str, dict[str, Any]], used: list[str], offsets_s: np.ndarray) -> bool:
    """Every offset of the period lies within each used day's recorded offsets."""
    if not len(offsets_s) or not used:
        return True
    lo, hi = int(offsets_s.min()), int(offsets_s.max())
    return all(days[n]["offsets"][0] <= lo and hi <= days[n]["offsets"][1] for n in used)


def chain(pieces: pd.DataFrame, timeout: int) -> pd.DataFrame:
    """Visits from runs of one visitor's events (``COLUMNS``): joined as sessionizing joins.
    Pieces with the entry ``PAIR`` give each visit its first piece's."""
    carried = [c for c in PAIR if c in pieces.columns]
    if not len(pieces):
        return pieces.loc[:, [*COLUMNS, *carried]]
    v = pieces["visitor"].to_numpy(np.uint64)
    s = pieces["start"].to_numpy(np.int64)
    order = np.lexsort((s, v))
    v, s = v[order], s[order]
    e = pieces["end"].to_numpy(np.int64)[order]
    # Running maximum of the end within each visitor (ends are >= starts, sorted by start).
    same = np.ones(len(v), dtype=bool)
    same[0] = False
    same[1:] = v[1:] == v[:-1]
    group = np.cumsum(~same)
    reach = pd.Series(e).groupby(group).cummax().to_numpy(np.int64)
    new = np.ones(len(v), dtype=bool)
    new[1:] = ~same[1:] | (s[1:] - reach[:-1] > timeout)
    visit = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    out = pd.DataFrame(
        {
            "visitor": v[first],
            "start": s[first],
            "end": np.maximum.reduceat(e, first) if len(first) else e[:0],
            "start_local": pieces["start_local"].to_numpy(np.int64)[order][first],
            "clicks": np.bincount(visit, weights=pieces["clicks"].to_numpy(np.int64)[order])
            .round()
            .astype(np.int64),
        }
    )
    for c in carried:
        out[c] = pieces[c].to_numpy(np.uint64)[order][first]
    return out


def with_rows(
    stored: pd.DataFrame | None,
    pieces: list[pd.DataFrame],
    columns: tuple[str, ...],
    timeout: int,
) -> pd.DataFrame:
    """Stored days' interior visits as stored (``columns``), then their edge visits chained
    with ``pieces`` (the visits cut from the other days' events, with ``columns`` and
    ``end``), as ``columns``: the visits sessionizing every day's events would give."""
    if stored is None or not len(stored):
        both = [p for p in pieces if len(p)]
        if not both:
            return pd.DataFrame({c: np.array([], np.int64) for c in columns})
        return chain(pd.concat(both, ignore_index=True), timeout).loc[:, list(columns)]
    edge = stored["edge"].to_numpy(bool)
    chained = [*COLUMNS, *(c for c in PAIR if c in columns)]  # what ``chain`` reads
    both = [p for p in [*pieces, stored.loc[edge, chained]] if len(p)]
    joined = chain(pd.concat(both, ignore_index=True), timeout) if both else None
    # Column by column into the result: a year's interior rows (2.6M at 10,000 visitors a
    # day) are copied once, not taken into a frame and then concatenated with the rest.
    interior = ~edge
    n = int(np.count_nonzero(interior))
    out = {}
    for c in columns:
        col = stored[c].to_numpy()
        tail = joined[c].to_numpy() if joined is not None else col[:0]
        got = np.empty(n + len(tail), dtype=np.result_type(col.dtype, tail.dtype))
        if col.dtype == got.dtype:
            np.compress(interior, col, out=got[:n])
        else:  # compress only writes its own dtype; promoted as pd.concat did
            got[:n] = col[interior]
        got[n:] = tail
        out[c] = got
    return pd.DataFrame(out)


def visits(
    stored: pd.DataFrame | None, open_events: Iterable[pd.DataFrame], timeout: int
) -> Visits:
    """The visits of the period: closed days' interior visits as stored, their edge visits
    chained with the visits of the open days' events."""
    pieces = [
        sessionize(ev, timeout, per_event=False).table.loc[:, list(COLUMNS)] for ev in open_events
    ]
    table = with_rows(stored, pieces, COLUMNS, timeout)
    table["duration"] = table["end"] - table["start"]
    table["day"] = table["start_local"] // DAY_S
    return Visits(table.reset_index(drop=True), pd.DataFrame())
