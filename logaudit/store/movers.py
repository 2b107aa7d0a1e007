"""Movers from the store: per-period page-view counts instead of a year of events.

The ``movers`` section compares shares of people's page views in the last complete period
with the (up to 4) periods before it. Over the logs it counts the page-view events; a store
read that way opened every day's events (a year: 365 files of ~30 rows per visitor each).
Every stored day also keeps ``mover_counts`` (``analyze/trends/movers.py``: page views per
path, referrer and visitor key), rolled up per closed month like the other count tables. For
day, week and month periods a period is a set of whole local days, so the counts of its days
merged are exactly what the events give.

Which periods: only the first and last period rows can be partial, so the last complete
period and its baseline lie within the last ``WINDOW`` periods of the report's data. The
store reads those periods' counts (as read: ``read_counts``), the ``visitors`` and places
of their days only (the country and browser movers map visitor keys through them), and the
``touch_events`` of their days and ``margin_days`` before (the source movers cut visits from
them: a visit starting in the window is cut from events of the window and the visit timeout
before it, so the days before cover it). Hourly periods, and stores written before the
counts existed, read the events as before.

**People counts** (``mover_people``, branch ``storedense``): the country and browser movers
count page views per visitor's country and browser. A day's counts per visitor key are barely
fewer than its page views, and mapping them needed the days' ``visitors`` and places. Each day
written now maps its new page views' visitor keys once, when it is stored (the place of each
client is looked up then anyway; the browser is the day's ``agents`` row, the same classifier a
report applies), and keeps page views per (kind, item) instead: kind 0 a public address's
country, 1 the label of another address ('(private address)'...), 2 a browser. Its
``mover_counts`` then hold no visitor keys. A day stored without the people counts (an older
logaudit, or a day that got new lines after one did) keeps its visitor keys and is mapped at
report time as before; each day holds one or the other, so the sum is exact.

**Source movers from the visit rows** (branch ``storesrc``, schema 6): the source movers
classify the entry (referrer, query) pair of each visit starting in the compared periods.
They cut those visits from ``touch_events`` (~23,000 rows a day at 10,000 visitors a day,
half a year of them). A closed day's ``visit_rows`` are those visits already and now keep
their entry pair (``store/visitdays.py``), so ``source_visits`` takes the interior visits of
such days as stored, chains their edge visits with the visits cut from the other days'
touch events (open days, days closed by an older logaudit), and the section classifies the
distinct pairs (at report time: ``own_hosts`` depends on the report's period). The rows are
used only under the conditions the series uses them (the report's visit timeout, every
offset of the days read within each day's recorded ones); otherwise every day's touch events
are read, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from logaudit.analyze import periods as per
from logaudit.analyze.audience import named_places
from logaudit.analyze.base import Table, merged_rows
from logaudit.analyze.trends.movers import (
    BROWSER,
    COUNTED,
    MOVER_BASELINE,
    OTHER_PLACE,
    PUBLIC_COUNTRY,
    _visitor_texts,
)
from logaudit.store import months, texthash, visitdays
from logaudit.store.layout import PV, TOUCH, Layout, State, day_number

COUNTS = "mover_counts"
# Periods read: only the first and the last period row can be partial (trends' ``_complete``),
# so the last complete one is the last or the one before; with MOVER_BASELINE (4) periods
# before it, the last 6 hold every compared period.
WINDOW = MOVER_BASELINE + 2
# (kind: PEOPLE_KINDS, item) -> page views, summed when merged (per day, per closed month).
PEOPLE = Table("mover_people", lambda c, s: pd.DataFrame())
_VISITOR = COUNTED.index("visitor")


def every_of(
    layout: Layout, state: State, days: list[tuple[str, dict[str, Any]]], every: str
) -> str:
    """The period length the trends will use (``series._build``: ``auto`` from the span)."""
    if every != "auto":
        return every
    entries, _ = months.covering(state, days)
    th = layout.read_tables(entries, "trend_hours")
    if th is None or not len(th):
        return "day"
    hours = th.index.get_level_values("hour").to_numpy(np.int64)
    return per.choose("auto", int(hours.max() - hours.min() + 1))


def window(
    days: list[tuple[str, dict[str, Any]]], every: str
) -> dict[int, list[tuple[str, dict[str, Any]]]] | None:
    """The last ``WINDOW`` periods' stored days, by period id (every period of the window,
    one without stored days too: a day or week without traffic counts as nothing); None when
    the counts cannot answer (hourly periods, or a day with page views stored without them).
    A day without page views has no counts file and needs none."""
    if every == "hour" or not days or any(_uncounted(info) for _, info in days):
        return None
    pid = per.of_days(np.array([day_number(n) for n, _ in days], dtype=np.int64), every)
    hi = int(pid.max())
    lo = hi - WINDOW + 1
    out: dict[int, list[tuple[str, dict[str, Any]]]] = {p: [] for p in range(lo, hi + 1)}
    for (name, info), p in zip(days, pid, strict=True):
        if p >= lo:
            out[int(p)].append((name, info))
    return out


def _uncounted(info: dict[str, Any]) -> bool:
    """A stored day whose page views are not in counts (written before the counts existed)."""
    files = info["files"]
    return COUNTS not in files and (PV in files or TOUCH in files)


def stale(old: dict[str, Any] | None) -> bool:
    """Whether new lines of a stored day must not be written as counts: the day stored its
    earlier page views without them, so counts of the new lines alone would be partial (the
    day's movers keep reading its events)."""
    return old is not None and _uncounted(old)


def with_people(
    part: dict[str, pd.DataFrame], old: dict[str, Any] | None, where: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """A day's new (keyed) tables with its counts' visitor keys turned into page views per
    country and browser (``PEOPLE``), unless the day is stored with visitor keys already (its
    earlier page views were not counted that way: the new ones must not be either).
    ``where``: the places of the new lines' clients, by token."""
    counts = part.get(COUNTS)
    if counts is None or not len(counts):
        return part
    if old is not None and COUNTS in old["files"] and PEOPLE.name not in old["files"]:
        return part
    kind = counts.index.get_level_values("kind").to_numpy()
    is_key = kind == _VISITOR
    keys = counts.index.get_level_values("key").to_numpy(np.uint64)[is_key]
    pv = counts["pv"].to_numpy(np.int64)[is_key]
    vis = part.get("visitors", pd.DataFrame())
    if vis.empty or "visitor" not in vis.columns:
        return part  # no way to map them: kept as keys
    # Each key's (client, agent): its first visitors row, as the report maps stored keys.
    who = _visitor_texts(part, pd.DataFrame({"visitor": keys}))
    if who is None:
        return part
    at = who.index.get_indexer(keys)
    found = at >= 0
    pv = pv[found]
    clients = pd.Index(who["client"].to_numpy()[at[found]])
    agents = pd.Index(who["agent"].to_numpy()[at[found]])
    frames = []
    if len(where):
        place = named_places(where.reindex(pd.Index(clients.unique())), ("country",))
        country = place["country"].astype(object).reindex(clients).to_numpy(dtype=object)
        public = (place["address_kind"].astype(object) == "public").reindex(clients)
        kind_of = np.where(public.fillna(False).to_numpy(bool), PUBLIC_COUNTRY, OTHER_PLACE)
        frames.append((kind_of, country))
    browsers = part.get("agents", pd.DataFrame())
    if "browser" in browsers.columns:
        b = browsers["browser"].astype(object)
        b = b[~b.index.duplicated()]
        frames.append((np.full(len(agents), BROWSER), b.reindex(agents).to_numpy(dtype=object)))
    kinds, items, counts_ = [], [], []
    for k, item in frames:
        ok = pd.notna(item)
        kinds.append(np.asarray(k)[ok].astype(np.int8))
        items.append(item[ok].astype(str))
        counts_.append(pv[ok])
    out = dict(part)
    out[COUNTS] = counts[~is_key]
    if kinds:
        f = pd.DataFrame(
            {
                "kind": np.concatenate(kinds),
                "item": np.concatenate(items),
                "pv": np.concatenate(counts_),
            }
        )
        f = f.groupby(["kind", "item"], sort=True)[["pv"]].sum()
        if len(f):
            out[PEOPLE.name] = f
    return out


def read_merged(
    layout: Layout,
    state: State,
    days: list[tuple[str, dict[str, Any]]],
    table: Table,
    merge: bool = True,
) -> pd.DataFrame | None:
    """``table`` over ``days`` merged: from the month roll-ups that hold it for months whose
    stored days all lie in ``days``, else from the days. ``merge=False``: the rows as read
    (the visitors table, which movers read only as visitor key -> client and agent)."""
    use = _entries(state, days, table.name)
    f = layout.read_tables(use, table.name)
    read = sum(1 for _, e in use if table.name in e["files"])
    # One file (a closed month's roll-up, or one day) is merged already.
    if merge and read > 1 and f is not None and len(f) > 1:
        f = merged_rows(table, f)
    return f


def _entries(
    state: State, days: list[tuple[str, dict[str, Any]]], table: str
) -> list[tuple[str, dict[str, Any]]]:
    """Where ``table`` of ``days`` is read, in order: the month roll-ups that hold it for
    months whose stored days all lie in ``days``, else the days."""
    entries, covered = months.covering(state, days)
    rolled = {m for m, e in entries if len(m) == 7 and table in e["files"]}
    use = [(n, e) for n, e in entries if len(n) != 7 or n in rolled]
    use += [(n, e) for n, e in covered if months.month_of(n) not in rolled]
    return sorted(use, key=lambda x: x[0])


def read_counts(
    layout: Layout, state: State, days: list[tuple[str, dict[str, Any]]], table: Table
) -> pa.Table | None:
    """The page-view counts (``kind``, ``key``, ``pv`` columns) of ``days`` as read, not
    merged: the section sums them per key once over all compared periods
    (``trends.movers._stored_sides``), so merging each period's files first, as frames
    (a MultiIndex each, appended again by the section), was work done twice (~6 % of a
    year's trends, branch ``movers13``)."""
    return layout.read_arrow(_entries(state, days, table.name), table.name)


# Text tables the movers name keys from, read over the window's days instead of the period's
# (``trends.movers._names``): table -> its text column. Each served only movers (a year of
# queries merged and hashed was ~0.8 s at 10,000 visitors a day; the referrers' own hosts
# come from ``store/sites.py``). Paths repeat from month to month (83,000 distinct in 1.1M
# rows a year): the period's merged table, which the overview reads anyway, is fewer texts.
NAMED = {"queries": "query", "referrers": "referrer"}


def names(
    layout: Layout, state: State, days: list[tuple[str, dict[str, Any]]]
) -> dict[str, texthash.Named]:
    """table -> (hash -> text) over the texts of ``days`` (closed months from their roll-ups,
    their hashes stored: store/texthash.py), and ``texthash.HOSTS`` -> (hash -> referring
    site) of the closed months' referrers: looked up for the keys the movers compare only
    (``texthash.Named``), the texts left in Arrow until then."""
    entries, _ = months.covering(state, days)
    reads: texthash.Reads = {}  # the referrers' hashes, read once for both
    out = {table: texthash.named(layout, entries, table, reads) for table in NAMED}
    out[texthash.HOSTS] = texthash.sites(layout, entries, reads)
    return out


def margin_days(timeout: int) -> int:
    """Whole days before the window whose touch events the source movers need."""
    return int(timeout) // 86_400 + 2


def handoff(
    layout: Layout,
    state: State,
    periods: Mapping[int, list[tuple[str, dict[str, Any]]]],
    every: str,
    rule: Table,
) -> dict[str, Any]:
    """What the movers section reads instead of events (``trends.movers.STORED``)."""
    counts = {p: read_counts(layout, state, d, rule) for p, d in periods.items()}
    people = {p: read_merged(layout, state, d, PEOPLE) for p, d in periods.items()}
    return {
        "every": every,
        "counts": {p: f for p, f in counts.items() if f is not None},
        "people": {p: f for p, f in people.items() if f is not None and len(f)},
        "periods": sorted(periods),
    }


def source_days(
    days: list[tuple[str, dict[str, Any]]], timeout: int
) -> list[tuple[str, dict[str, Any]]]:
    """The closed days whose visit rows give the source movers' visits (their entry pairs
    stored, closed with the report's visit timeout); offsets are checked by the caller."""
    ok = set(visitdays.usable(days, timeout))
    return [(n, i) for n, i in days if n in ok and i.get(visitdays.SOURCES)]


def source_entries(
    state: State,
    read: list[tuple[str, dict[str, Any]]],
    rowed: list[tuple[str, dict[str, Any]]],
    timeout: int,
) -> list[tuple[str, dict[str, Any]]]:
    """Where to read the ``rowed`` days' visit rows: a closed month's one roll-up when all
    its stored days lie in ``read`` and each of its days with rows is rowed (the roll-up's
    rows are its days' rows, pairs and all), else the days."""
    names = {n for n, _ in rowed}
    entries, _ = months.covering(state, read)
    whole = {
        m: e
        for m, e in entries
        if len(m) == 7
        and visitdays.ROWS.name in e["files"]
        and e.get("visit_timeout") == timeout
        and all(
            d in names
            for d in months.days_of(state, m)
            if visitdays.ROWS.name in state.days[d]["files"]
        )
    }
    out = [(m, e) for m, e in whole.items()]
    out += [(n, i) for n, i in rowed if months.month_of(n) not in whole]
    return sorted(out, key=lambda x: x[0])


SOURCE_COLUMNS = ("visitor", "start", "start_local", "ref_h", "query_h")


def source_visits(
    rows: pd.DataFrame | None, touch: Iterable[pd.DataFrame], timeout: int
) -> pd.DataFrame:
    """The visits (``SOURCE_COLUMNS``) of the days read: the stored days' interior visits as
    stored, their edge visits chained with the visits cut from the other days' touch
    events (``touch``: partitions, a visitor's events all in one), each keeping its first
    piece's entry pair: the visits and pairs ``attribution.cut_all`` gives over all the
    days' touch events."""
    from logaudit.analyze.attribution import cut

    keep = [*visitdays.COLUMNS, *visitdays.PAIR]
    pieces = [cut(ev, timeout, 0, ends=True)[0].loc[:, keep] for ev in touch]
    return visitdays.with_rows(rows, pieces, SOURCE_COLUMNS, timeout)


def keyed_days(
    days: list[tuple[str, dict[str, Any]]],
) -> list[tuple[str, dict[str, Any]]]:
    """The days whose counts hold visitor keys (no people counts): only their visitors and
    places are read, to map the keys."""
    return [(n, i) for n, i in days if COUNTS in i["files"] and PEOPLE.name not in i["files"]]


__all__ = [
    "COUNTS",
    "PEOPLE",
    "keyed_days",
    "with_people",
    "WINDOW",
    "every_of",
    "handoff",
    "margin_days",
    "names",
    "NAMED",
    "read_counts",
    "read_merged",
    "SOURCE_COLUMNS",
    "source_days",
    "source_entries",
    "source_visits",
    "stale",
    "window",
]
