"""The ``movers`` section: pages, referring sites, countries and browsers whose share of page
views moved most, and sources whose share of visits did (``campaigns.journeys``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from logaudit.analyze import periods as per
from logaudit.analyze.audience import named_places
from logaudit.analyze.base import Context, Partial, Table, hash_strings
from logaudit.analyze.campaigns import query_names
from logaudit.analyze.referrers import external, own_hosts, site_of
from logaudit.analyze.spill import partitions
from logaudit.analyze.trends.series import _PER, _empty, trend_of
from logaudit.analyze.visits import path_texts, referrer_names, t_pv_events
from logaudit.config import Settings
from logaudit.enrich.classify import visitor_key
from logaudit.report import Section

MOVER_BASELINE = 4
MOVER_MIN_ITEM = 10
MOVER_MIN_TOTAL = 30
MOVER_MIN_CHANGE = 1.0
MOVERS_PER_SIDE = 3

# The history store answers movers from per-day page-view counts instead of events
# (``mover_counts``: (kind, key) -> page views; kinds are the event columns below), handed over
# per period by ``store.stored_run`` (``STORED``). A run over the logs reads the events.
COUNTED = ("path_h", "ref_h", "visitor")
STORED = "_stored_movers"
# The store's referring site per referrer hash, in ``STORED``'s ``names`` (store/texthash.py).
HOSTS = "referrer_hosts"
# Days stored since branch storedense count their visitors' page views per country and browser
# (``mover_people``: (kind, item) -> pv) instead of per visitor key: the kinds.
PUBLIC_COUNTRY, OTHER_PLACE, BROWSER = 0, 1, 2
_PEOPLE = {"country": (PUBLIC_COUNTRY, OTHER_PLACE), "browser": (BROWSER,)}


def t_mover_counts(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(kind: index in ``COUNTED``, key) -> people's page views: what movers count, per day
    in the store. The same rows as ``pv_events``, so the same counts as the events give."""
    ev = t_pv_events(c, s)
    kinds, keys, counts = [], [], []
    for k, col in enumerate(COUNTED):
        uniq, n = np.unique(ev[col].to_numpy(np.uint64), return_counts=True)
        kinds.append(np.full(len(uniq), k, np.int8))
        keys.append(uniq)
        counts.append(n.astype(np.int64))
    index = pd.MultiIndex.from_arrays(
        [np.concatenate(kinds), np.concatenate(keys)], names=["kind", "key"]
    )
    return pd.DataFrame({"pv": np.concatenate(counts)}, index=index)


TABLES = {"mover_counts": Table("mover_counts", t_mover_counts)}

# Movers: kind -> function(p, ctx, event frame) -> (item per event or None, note)
Mapper = Callable[[Partial, Context, pd.DataFrame], tuple[pd.Series | None, str]]


# The text tables movers name keys from: table -> hash -> text over the period's texts.
_NAMERS: dict[str, Callable[[Partial], pd.Series]] = {
    "referrers": referrer_names,
    "queries": query_names,
}


def _names(p: Partial, ctx: Context, table: str, keys: Any) -> pd.Series:
    """The text of each of ``keys`` (hashes of ``table``'s texts; NaN where none has it). From
    the history store, the texts of the compared periods' days only (``STORED`` ``names``,
    ``texthash.Named``: looked up for these keys, the rest never made Python strings): every
    key movers name was seen on one of those days, and each day's table holds the text of
    every key its events have, so the lookup is the period's; over the logs, the period's
    merged table, once per report."""
    stored = ctx.cache.get(STORED)
    if isinstance(stored, dict) and table in stored.get("names", {}):
        return stored["names"][table].of(keys)
    if table == "paths":
        return _path_names(p, ctx, keys)
    return ctx.once(f"movers_names_{table}", lambda: _NAMERS[table](p)).reindex(keys)


def _path_names(p: Partial, ctx: Context, keys: pd.Index) -> pd.Series:
    """Each key's path, missing where no path has it (``visits.path_texts``)."""
    names = path_texts(p, ctx, keys, missing=None).to_numpy(dtype=object)
    return pd.Series(names, index=keys, dtype=object)


def _own(p: Partial, ctx: Context) -> set[str]:
    """The site's own hosts (``referrers.own_hosts``), once per report: the referrer movers
    and the source movers both use them (each computed them over a year's referrers)."""
    stored = ctx.cache.get(STORED)
    if isinstance(stored, dict) and "own" in stored:
        return set(stored["own"])  # from the store's referring sites (store/sites.py)
    if "external" in ctx.cache:  # a referrers section split them already
        return external(p, ctx)[1]
    return ctx.once("movers_own", lambda: own_hosts(p, ctx.settings, ctx)[0])


def _pages(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    keys = pd.Index(ev["path_h"].unique())
    names = _names(p, ctx, "paths", keys)
    return pd.Series(names.to_numpy(), index=keys), ""


def _sites(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    keys = pd.Index(ev["ref_h"].unique())
    # The referring-sites sections' split, for these referrers only: the site of an external
    # referrer (a URL with a host that is not one of the site's own). From the store, closed
    # months' referrers give their stored sites (store/texthash.py HOSTS), and only the
    # others' texts are looked up, for site_of to name; a key with neither a stored site nor a
    # text is left out.
    stored = ctx.cache.get(STORED)
    known = stored.get("names", {}).get(HOSTS) if isinstance(stored, dict) else None
    if known is not None and len(known.keys):
        site = known.of(keys).to_numpy(dtype=object, copy=True)
        todo = pd.isna(site)
        texts = _names(p, ctx, "referrers", keys[todo])
        named = texts.notna().to_numpy(bool)
        rest = site[todo]
        rest[named] = site_of(pd.Index(texts.to_numpy(dtype=object)[named], dtype=object))[
            "site"
        ].to_numpy(dtype=object)
        site[todo] = rest
        held = ~todo
        held[todo] = named
        site, keys = site[held], keys[held]
    else:
        refs = _names(p, ctx, "referrers", keys).dropna()
        site = site_of(pd.Index(refs.to_numpy(dtype=object), dtype=object))["site"].to_numpy(
            dtype=object
        )
        keys = refs.index
    # As Python objects: an inferred text Index copied every site into Arrow first.
    found = (site != "") & ~pd.Index(site, dtype=object).isin(list(_own(p, ctx)))
    return pd.Series(site[found], index=keys[found]), ""


def _who(p: Partial, ctx: Context, ev: pd.DataFrame) -> pd.DataFrame | None:
    """The (client, agent) text of each visitor key in the events, from the ``visitors`` table;
    once per report (the country and browser movers share it). Keys are hashed per distinct
    client and agent (the index levels), and text is made only for the visitors wanted: at 5M
    lines, hashing every row's agent twice had cost 1.5 s and 250 MB."""
    return ctx.once("movers_who", lambda: _visitor_texts(p, ev))


def _visitor_texts(p: Partial, ev: pd.DataFrame) -> pd.DataFrame | None:
    vis = p.get("visitors", pd.DataFrame())
    if vis.empty:
        return None
    index = vis.index
    assert isinstance(index, pd.MultiIndex)
    client_codes, agent_codes = (np.asarray(c) for c in index.codes)
    if "visitor" in vis.columns:
        # From the history store: the client is a keyed token, the key was kept beside it.
        key = vis["visitor"].to_numpy()
    else:
        key = visitor_key(
            hash_strings(index.levels[0])[client_codes], hash_strings(index.levels[1])[agent_codes]
        )
    rows = np.flatnonzero(pd.Index(key).isin(ev["visitor"].unique()))
    rows = rows[~pd.Series(key[rows], copy=False).duplicated().to_numpy()]
    return pd.DataFrame(
        {
            "client": np.asarray(index.levels[0][client_codes[rows]], dtype=object),
            "agent": np.asarray(index.levels[1][agent_codes[rows]], dtype=object),
        },
        index=key[rows],
    )


_NO_COUNTRY = "countries: no GeoIP country data (see --geoip-dir)"


def _countries(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    item, why, known = _country_items(p, ctx, ev)
    if item is not None and not known:
        return None, _NO_COUNTRY
    return item, why


def _country_items(
    p: Partial, ctx: Context, ev: pd.DataFrame
) -> tuple[pd.Series | None, str, bool]:
    """Each visitor key's country, and whether any public address had a known one."""
    gate = _country_gate(ctx)
    if gate or ctx.geo is None:
        return None, gate, False
    who = _who(p, ctx, ev)
    if who is None:
        return None, "countries: needs the visitors table", False
    places = named_places(ctx.geo(pd.Index(who["client"].unique())), ("country",))
    kind = places["address_kind"].astype(object)
    country = places["country"].astype(object)
    item = country.reindex(who["client"].to_numpy()).to_numpy(dtype=object)
    known = bool((country[kind == "public"] != "unknown").any())
    return pd.Series(item, index=who.index), "", known


def _country_gate(ctx: Context) -> str:
    """Why this run cannot name countries ('' when it can)."""
    if ctx.geo is None:
        return "countries: no GeoIP lookup in this run"
    return "" if ctx.geo_places else _NO_COUNTRY


def _browser_gate(ctx: Context) -> str:
    """Why this run cannot name browsers ('' when it can)."""
    return "browsers: user-agent parsing is not available" if ctx.agents is None else ""


def _browsers(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    gate = _browser_gate(ctx)
    if gate or ctx.agents is None:
        return None, gate
    who = _who(p, ctx, ev)
    if who is None:
        return None, "browsers: needs the visitors table"
    agents = ctx.agents(pd.Index(who["agent"].unique()))["browser"].astype(object)
    return pd.Series(
        agents.reindex(who["agent"].to_numpy()).to_numpy(dtype=object), index=who.index
    ), ""


MOVER_KINDS: tuple[tuple[str, str, Mapper], ...] = (
    ("page", "path_h", _pages),
    ("site", "ref_h", _sites),
    ("country", "visitor", _countries),
    ("browser", "visitor", _browsers),
)


def sec_movers(p: Partial, ctx: Context) -> Section:
    title = "Movers"
    t = trend_of(p, ctx)
    if t is None:
        return _empty("movers", title)
    last = t.last_complete()
    if last is None or last == 0:
        return _empty("movers", title, "needs a complete period and one before it")
    base = list(range(max(0, last - MOVER_BASELINE), last))
    stored = ctx.cache.get(STORED)
    sides = (
        _stored_sides(stored, t.every, int(t.ids[last]), [int(i) for i in t.ids[base]])
        if isinstance(stored, dict)
        else _event_sides(p, t.every, t.ids[last], t.ids[base])
    )
    if sides is None:
        return _empty("movers", title, "no page views")
    rows: list[pd.DataFrame] = []
    notes: list[str] = []
    people = (
        _people_sides(stored, int(t.ids[last]), [int(i) for i in t.ids[base]])
        if isinstance(stored, dict)
        else {}
    )
    for kind, col, mapper in MOVER_KINDS:
        keys, n_before, n_last = sides[col]
        items: pd.Series | None
        if kind in people:
            got, why = _with_people(kind, p, ctx, sides[col], people[kind])
            if got is not None:
                keys, n_before, n_last, items = got
            else:
                items = None
        else:
            items, why = mapper(p, ctx, pd.DataFrame({col: keys}))
        if items is None:
            notes.append(why)
            continue
        moved, why = _count_moves(kind, keys, n_before, n_last, items)
        if why:
            notes.append(why)
        rows.append(moved)
    by_source, why = _source_moves(p, ctx, t.ids[last], t.ids[base], t.every)
    if why:
        notes.append(why)
    if by_source is not None:
        rows.append(by_source)
    rows = [r for r in rows if len(r)]
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    span = f"{t.labels[base[0]]}..{t.labels[base[-1]]}" if len(base) > 1 else t.labels[base[0]]
    notes.insert(
        0,
        f"share of page views (sources: of visits) in {t.labels[last]} against {span}; "
        "change in points",
    )
    return Section(
        "movers",
        f"Movers: last complete {_PER[t.every]}",
        frame,
        len(frame),
        note="; ".join(notes),
        headline={"period": t.labels[last], "baseline": [t.labels[i] for i in base]},
    )


# Per event column: (distinct keys, page views in the baseline, in the last period).
Sides = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _event_sides(p: Partial, every: str, last: int, base: np.ndarray) -> Sides | None:
    """Page views per key on each side, counted from the events (a run over the logs)."""
    # Only the compared periods' page views, gathered one partition at a time.
    kept: list[pd.DataFrame] = []
    for part in partitions(p.get("pv_events")):
        pid = per.of_times(part["local"].to_numpy(), part["utc"].to_numpy(), every)
        in_last = pid == last
        keep = in_last | np.isin(pid, base)
        kept.append(part[keep].assign(in_last=in_last[keep]))
    if not kept:
        return None
    ev = kept[0] if len(kept) == 1 else pd.concat(kept, ignore_index=True)
    in_last = ev["in_last"].to_numpy()
    return {col: _split(ev[col].to_numpy(), in_last) for col in COUNTED}


def _split(
    keys: np.ndarray, in_last: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``keys``, and how many of each (or their ``weights`` summed) fall in the
    baseline and in the last period: by counting codes (a value_counts over the pairs was a
    quarter of the section's time at 5M lines)."""
    codes, uniq = pd.factorize(keys)
    n = len(uniq)
    before, last = ~in_last, in_last
    w_before = None if weights is None else weights[before]
    w_last = None if weights is None else weights[last]
    return (
        np.asarray(uniq),
        np.bincount(codes[before], weights=w_before, minlength=n).astype(np.int64, copy=False),
        np.bincount(codes[last], weights=w_last, minlength=n).astype(np.int64, copy=False),
    )


def _stored_sides(stored: dict, every: str, last: int, base: list[int]) -> Sides | None:
    """Page views per key on each side, from the store's per-period counts."""
    if stored.get("every") != every or not set([last, *base]) <= set(stored["periods"]):
        raise AssertionError("the store handed movers other periods than the trends use")
    # Each period's counts as read (store/movers.py ``read_counts``: Arrow, not merged):
    # their columns joined, and ``_split`` sums each key's rows once.
    counts = stored["counts"]
    parts = [(counts[i], i == last) for i in [*base, last] if i in counts and len(counts[i])]
    if not parts:
        return None
    kind, key, pv = (
        np.concatenate([np.asarray(t.column(c).to_numpy(), dtype=d) for t, _ in parts])
        for c, d in (("kind", np.int64), ("key", np.uint64), ("pv", np.int64))
    )
    side = np.concatenate([np.full(len(t), s, dtype=bool) for t, s in parts])
    out: Sides = {}
    for k, col in enumerate(COUNTED):
        m = kind == k
        out[col] = _split(key[m], side[m], pv[m])
    return out


# Per people kind: (kind code, item, page views in the baseline, in the last period).
People = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _people_sides(stored: dict, last: int, base: list[int]) -> People:
    """Page views per (kind code, item) on each side, from the store's people counts (none
    when no day of the compared periods has them)."""
    got = stored.get("people", {})
    frames = [got[i].assign(side=i == last) for i in [*base, last] if i in got]
    if not frames:
        return {}
    f = frames[0] if len(frames) == 1 else pd.concat(frames)
    code = f.index.get_level_values("kind").to_numpy(np.int64)
    item = f.index.get_level_values("item").to_numpy(dtype=object)
    pv = f["pv"].to_numpy(np.int64)
    side = f["side"].to_numpy(bool)
    out: People = {}
    for kind, codes in _PEOPLE.items():
        m = np.isin(code, codes)
        out[kind] = (
            code[m],
            item[m],
            np.where(side[m], 0, pv[m]),
            np.where(side[m], pv[m], 0),
        )
    return out


def _with_people(
    kind: str,
    p: Partial,
    ctx: Context,
    keyed: tuple[np.ndarray, np.ndarray, np.ndarray],
    people: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, pd.Series] | None, str]:
    """The country or browser counts of the days stored as people counts, added to those of
    the days stored with visitor keys (mapped as over the logs): each count row's name and its
    page views on each side, and the names as ``items``; or None and the note the logs' way
    would give."""
    keys, n_before, n_last = keyed
    code, item, p_before, p_last = people
    gate = _country_gate(ctx) if kind == "country" else _browser_gate(ctx)
    if gate:
        return None, gate
    known = kind == "country" and bool(((code == PUBLIC_COUNTRY) & (item != "unknown")).any())
    names, befores, lasts = [item], [p_before], [p_last]
    if len(keys):
        ev = pd.DataFrame({"visitor": keys})
        if kind == "country":
            mapped, why, known_keyed = _country_items(p, ctx, ev)
            known = known or known_keyed
        else:
            mapped, why = _browsers(p, ctx, ev)
        if mapped is None:
            return None, why
        names.append(mapped.reindex(keys).to_numpy(dtype=object))
        befores.append(n_before)
        lasts.append(n_last)
    if kind == "country" and not known:
        return None, _NO_COUNTRY
    # Each name as its own key (``_count_moves`` drops the missing ones and sums per item).
    all_names = np.concatenate(names)
    uniq = pd.unique(all_names[pd.notna(all_names)])
    return (
        all_names,
        np.concatenate(befores).astype(np.int64, copy=False),
        np.concatenate(lasts).astype(np.int64, copy=False),
        pd.Series(uniq, index=uniq),
    ), ""


def _source_moves(
    p: Partial, ctx: Context, last: int, base: np.ndarray, every: str
) -> tuple[pd.DataFrame | None, str]:
    """Sources (as the ``sources`` section names them) by their share of visits starting in
    the last period against the same baseline: visits, not page views, are what a source
    brings. The visits and their sources are the campaigns sections' (``journeys``, shared
    with them in one report)."""
    found = _visit_sources(p, ctx, last, base, every)
    if found is None:
        return None, "sources: no visit"
    names, in_last, weights = found
    keys, uniq = pd.factorize(names)
    items = pd.Series(np.asarray(uniq, dtype=object), index=np.arange(len(uniq)))
    return _moves("source", keys, in_last, items, unit="visits", weights=weights)


def _visit_sources(
    p: Partial, ctx: Context, last: int, base: np.ndarray, every: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """The source of each visit starting in the compared periods, and whether it starts in
    the last one. The campaigns sections' ``journeys`` when a section made them already;
    else only what movers use of them: the visits cut from the touch events as ``journeys``
    cuts them, and the (referrer, query) pairs of the kept visits classified as it classifies
    them (``classify`` names each pair on its own), without the conversions and their
    attribution (half of ``journeys``' time). Third: how many visits each row stands for
    (None: one each; the store's counted visits, ``_counted_sources``)."""
    from logaudit.analyze import attribution
    from logaudit.analyze.campaigns import Journeys, check_settings, goals_of

    made = ctx.cache.get("journeys")
    stored = ctx.cache.get(STORED)
    if isinstance(made, Journeys):
        v = made.visits
    elif isinstance(stored, dict) and "visits" in stored:
        # From the history store: the closed days' visit rows with their entry pairs,
        # chained with the visits of the other days' touch events (store/movers.py).
        check_settings(ctx.settings)
        v = stored["visits"]
        counted = stored.get("visit_counts")
        sourced = stored.get("source_counts")  # closed months' counts, named (entrysources)
        if (counted is not None and len(counted)) or (sourced is not None and len(sourced)):
            return _counted_sources(p, ctx, v, counted, last, base, every, sourced)
    else:
        s = ctx.settings
        check_settings(s)
        v, _ = attribution.cut_all(
            partitions(p.get("touch_events")), s.visit_timeout, len(goals_of(s.goals))
        )
    if v.empty:
        return None
    pid = per.of_times(v["start_local"].to_numpy(), v["start"].to_numpy(), every)
    in_last = pid == last
    keep = in_last | np.isin(pid, base)
    if isinstance(made, Journeys):
        return v["source"].to_numpy(dtype=object)[keep], in_last[keep], None
    return _named_sources(p, ctx, v[keep]), in_last[keep], None


def _named_sources(p: Partial, ctx: Context, v: pd.DataFrame) -> np.ndarray:
    """The source of each (``ref_h``, ``query_h``) row of ``v``, each distinct pair
    classified once as ``campaigns.visit_sources`` does."""
    from logaudit.analyze.campaigns import pair_sources
    from logaudit.enrich.sources import SourceTables

    s = ctx.settings
    tables = SourceTables.load(s.sources, s.affiliate_params)
    # The referrer and query texts of these visits only (the period's was a year of them).
    refs = _names(p, ctx, "referrers", pd.unique(v["ref_h"].to_numpy()))
    queries = _names(p, ctx, "queries", pd.unique(v["query_h"].to_numpy()))
    return pair_sources(v, refs, queries, _own(p, ctx), tables)


def _counted_sources(
    p: Partial,
    ctx: Context,
    v: pd.DataFrame,
    counted: pd.DataFrame | None,
    last: int,
    base: np.ndarray,
    every: str,
    sourced: pd.DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``_visit_sources`` from the store's visits plus closed months' interior visits
    counted per (local start day, entry pair) (``store/entries.py``): each counted row
    weighs its ``n`` visits. A visit's period is that of its local start day (the store's
    counts serve days, weeks and months only). ``sourced``: closed months' interior visits
    counted per (local start day, source) already (``store/entrysources.py``: named under
    this report's rules and own hosts), not classified again."""
    if counted is None:
        counted = pd.DataFrame(
            {"day": np.zeros(0, np.int64), "n": np.zeros(0, np.int64)}
            | {c: np.zeros(0, np.uint64) for c in ("ref_h", "query_h")}
        )
    pid = np.concatenate(
        [
            per.of_times(v["start_local"].to_numpy(), v["start"].to_numpy(), every),
            per.of_days(counted["day"].to_numpy(np.int64), every),
        ]
    )
    pair = pd.DataFrame(
        {
            c: np.concatenate([v[c].to_numpy(np.uint64), counted[c].to_numpy(np.uint64)])
            for c in ("ref_h", "query_h")
        }
    )
    weights = np.concatenate([np.ones(len(v), np.int64), counted["n"].to_numpy(np.int64)])
    in_last = pid == last
    keep = in_last | np.isin(pid, base)
    # As the rows' path: visits read but none in the compared periods still answer (with
    # no rows), so the note is the rows' one, not "no visit".
    names = [_named_sources(p, ctx, pair[keep])] if keep.any() or sourced is None else []
    lasts, weighed = [in_last[keep]], [weights[keep]]
    if sourced is not None and len(sourced):
        s_pid = per.of_days(sourced["day"].to_numpy(np.int64), every)
        s_last = s_pid == last
        s_keep = s_last | np.isin(s_pid, base)
        names.append(sourced["source"].to_numpy(dtype=object)[s_keep])
        lasts.append(s_last[s_keep])
        weighed.append(sourced["n"].to_numpy(np.int64)[s_keep])
    return (
        np.concatenate(names) if names else np.array([], dtype=object),
        np.concatenate(lasts),
        np.concatenate(weighed),
    )


def _moves(
    kind: str,
    keys: np.ndarray,
    in_last: np.ndarray,
    items: pd.Series,
    unit: str = "page views",
    weights: np.ndarray | None = None,
) -> tuple[pd.DataFrame, str]:
    """Risers and fallers of one kind; items maps each key to its text (missing: not counted).
    ``weights``: how many each row counts for (default 1)."""
    return _count_moves(kind, *_split(keys, in_last, weights), items, unit)


def _count_moves(
    kind: str,
    keys: np.ndarray,
    n_before: np.ndarray,
    n_last: np.ndarray,
    items: pd.Series,
    unit: str = "page views",
) -> tuple[pd.DataFrame, str]:
    """``_moves`` from the counts per distinct key on each side."""
    cols = ["kind", "item", "share_before", "share_last", "change", "count_last", "count_before"]
    named = items.reindex(keys)
    # Text names stay Arrow (pages: the period's paths); as Python objects they were made
    # text again by the Index.
    names = named.array if named.dtype == "str" else named.to_numpy(dtype=object)
    # Counts summed per item: the items numbered once (missing names: -1, left out) and
    # each side added by number, not a frame indexed by text grouped and sorted. The
    # items' order is not the group-by's (sorted), but the rows are sorted by (change,
    # item) below, each item once, so the section is the same.
    codes, uniq = pd.factorize(names)
    held = codes >= 0
    at = codes[held]
    before = np.zeros(len(uniq), np.int64)
    now = np.zeros(len(uniq), np.int64)
    np.add.at(before, at, np.asarray(n_before, dtype=np.int64)[held])
    np.add.at(now, at, np.asarray(n_last, dtype=np.int64)[held])
    if before.sum() < MOVER_MIN_TOTAL or now.sum() < MOVER_MIN_TOTAL:
        return pd.DataFrame(columns=cols), f"{kind}s: under {MOVER_MIN_TOTAL} {unit} a side"
    share_b = pd.Series(before / before.sum())
    share_l = pd.Series(now / now.sum())
    change = ((share_l - share_b) * 100).round(2)
    f = pd.DataFrame(
        {
            "kind": kind,
            "item": pd.Index(uniq).astype(str),
            "share_before": share_b.round(4).to_numpy(),
            "share_last": share_l.round(4).to_numpy(),
            "change": change.to_numpy(),
            "count_last": now,
            "count_before": before,
        }
    )
    f = f[
        (f["count_last"] + f["count_before"] >= MOVER_MIN_ITEM)
        & (f["change"].abs() >= MOVER_MIN_CHANGE)
    ]
    up = f[f["change"] > 0].sort_values(["change", "item"], ascending=[False, True])
    down = f[f["change"] < 0].sort_values(["change", "item"], ascending=[True, True])
    return pd.concat([up.head(MOVERS_PER_SIDE), down.head(MOVERS_PER_SIDE)])[cols], ""
