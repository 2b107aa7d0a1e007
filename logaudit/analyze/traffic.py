"""Traffic: totals, days and hours, requested and static files, not-found URLs, hosts, status
codes, methods, protocols, virtual hosts and inputs.

Rules (METRICS.md): a *hit* is a parsed line; a *page view* is a people hit with status 2xx or
304 whose path has no static extension; *daily visitors* are distinct (client, user agent) keys
per calendar day among people hits whose status is not 4xx; *visitor-days* is their sum over the
period; *unique visitors* are distinct keys over the whole period.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.analyze import blockkeys, visitcounts
from logaudit.analyze.base import (
    Context,
    Partial,
    Table,
    count_by,
    count_small,
    int_levels,
)
from logaudit.analyze.periods import cap_note, capped_low, period_cap
from logaudit.analyze.spill import partitions
from logaudit.config import Settings
from logaudit.report import Section
from logaudit.schema import hash_strings


def _i64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.int64)


def t_totals(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    status = c["status"].to_numpy()
    utc = c["time"].array.asi8
    local = c["local"].array.asi8
    person = c["person"].to_numpy()
    # No agent_class: the run classified no agent (no table needed it, --bots include), so
    # its robots are not counted, and say so (``overview``), rather than count none.
    classified = "agent_class" in c
    cls = np.asarray(c["agent_class"].array.codes) if classified else np.zeros(0, np.int8)
    size = c["bytes"].to_numpy()
    total = int(size.sum())  # exact up to 2**23 rows (a block): sizes are below 2**40
    row = {
        "hits": len(c),
        "bytes": total,
        # The sum in MiB, rounded down: merged, it stays exact where "bytes" may wrap, so
        # ``bandwidth_may_overflow`` can tell (schema.SIZE_LIMIT). No pass of its own.
        "bytes_mib": total >> 20 if len(size) <= 1 << 23 else int((size >> 20).sum()),
        # count_nonzero: a bool array's sum() converts every row to an integer first.
        "page_views": np.count_nonzero(c["is_page"].to_numpy() & person),
        "people_hits": np.count_nonzero(person),
        "crawler_hits": np.count_nonzero(cls == 1),
        "tool_hits": np.count_nonzero(cls == 2),
        "unclassified": 0 if classified else len(c),
        "first": int(utc.min()) if len(c) else np.iinfo(np.int64).max,
        "last": int(utc.max()) if len(c) else np.iinfo(np.int64).min,
        "first_local": int(local.min()) if len(c) else np.iinfo(np.int64).max,
        "last_local": int(local.max()) if len(c) else np.iinfo(np.int64).min,
    }
    for k in range(1, 6):
        row[f"s{k}xx"] = np.count_nonzero((status >= k * 100) & (status < k * 100 + 100))
    # One int64 block (every figure is an integer, as a frame of the dict made them): a
    # frame from a list of dicts built each column through pandas' inference, ~0.4 ms a block.
    values = np.array([list(row.values())], np.int64)
    return pd.DataFrame(values, columns=list(row), index=pd.Index([0], name="all"), copy=False)


def _visitor_rows(c: pd.DataFrame) -> np.ndarray:
    status = c["status"].to_numpy()
    return c["person"].to_numpy() & ~((status >= 400) & (status < 500))


_DAY_MIX = np.uint64(0xBF58476D1CE4E5B9)


def tuple_hash(*keys: np.ndarray) -> np.ndarray:
    """One 64-bit hash per row of the integer key tuple (a false match needs a collision)."""
    h = np.zeros(len(keys[0]), dtype=np.uint64)
    for k in keys:
        h = (h ^ k.astype(np.uint64)) * _DAY_MIX
        h ^= h >> np.uint64(31)
    return h


def distinct_rows(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct key tuple, count of rows per tuple), via one 64-bit hash of
    the tuple and a hash-based factorize: far cheaper than a multi-column group-by."""
    codes, uniq = pd.factorize(tuple_hash(*keys), sort=False)
    counts = np.bincount(codes, minlength=len(uniq))
    first = np.full(len(uniq), len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    return first, counts


def t_visitor_days(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    m = np.flatnonzero(_visitor_rows(c))
    day = c["day"].to_numpy()[m]
    visitor = c["visitor"].to_numpy()[m]
    # Counted by the block's visitor codes (shared with the visitors table), not by hashing.
    dense = blockkeys.distinct_day_visitors(c, m, day)
    first, counts = dense if dense is not None else distinct_rows(day, visitor)
    index = int_levels([day[first], visitor[first]], ["day", "visitor"])
    return pd.DataFrame({"hits": counts}, index=index)


def t_daily(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    pv = c["is_page"].to_numpy() & c["person"].to_numpy()
    return count_small(
        c["day"].to_numpy(), {"hits": None, "page_views": pv, "bytes": c["bytes"].to_numpy()}, "day"
    )


def t_hours(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    pv = c["is_page"].to_numpy() & c["person"].to_numpy()
    return count_small(
        c["hour"].to_numpy().astype(np.int64),
        {"hits": None, "page_views": pv, "bytes": c["bytes"].to_numpy()},
        "hour",
    )


def t_paths(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    status = c["status"].to_numpy()
    pv = c["is_page"].to_numpy() & c["person"].to_numpy()
    frame = count_by(
        c,
        "path",
        {
            "hits": None,
            # The bytes of the hits other than 404s: pages and static leave 404s out, their
            # bytes as their hits (the not-found section shows no bytes). A history store's
            # days written before kept the 404s' bytes in.
            "bytes": np.where(status == 404, 0, c["bytes"].to_numpy()),
            "page_views": pv,
            "not_found": status == 404,
            "static": c["is_static"].to_numpy(),
        },
    )
    frame["static"] = frame["static"] > 0
    return frame


def t_path_visitors(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The distinct (path, day, visitor) triples among visitor hits, each keyed by one 64-bit
    hash, with the path's hash alongside. Triples, not per-chunk counts: a visitor-day that
    spans two blocks must count once, so partials merge by union and counting waits for the
    end (``path_visitor_counts``)."""
    m = np.flatnonzero(_visitor_rows(c))
    day, visitor = c["day"].to_numpy()[m], c["visitor"].to_numpy()[m]
    # Deduplicate within the block on the cheap category codes, then hash only what is left.
    codes = np.asarray(c["path"].array.codes)[m]
    m = m[~pd.Series(tuple_hash(codes, day, visitor), copy=False).duplicated().to_numpy()]
    path_h = blockkeys.row_hashes(c, "path", m)  # the page-view events reuse these
    key = tuple_hash(path_h, c["day"].to_numpy()[m], c["visitor"].to_numpy()[m])
    return pd.DataFrame({"path_h": path_h}, index=pd.Index(key, name="key"))


def path_visitor_counts(p: Partial, ctx: Context) -> pd.Series:
    """Visitor-days per path text, from the merged triples (once per report); in the order of
    the ``paths`` table's rows, so callers filtering that table can filter this alike."""
    return ctx.once("path_visitors", lambda: _path_visitor_counts(p, ctx))


def path_hashes(p: Partial, ctx: Context) -> pd.Index:
    """``hash_strings`` of the ``paths`` table's index, in its order, once per report: the
    path sections and the visits' entry and exit pages each hashed every distinct path of
    the run again (1M lines, ~200,000 paths: ~25 ms each, on the finish's one thread)."""
    return ctx.once("path_rows", lambda: pd.Index(hash_strings(p["paths"].index)))


def _path_visitor_counts(p: Partial, ctx: Context) -> pd.Series:
    paths = p.get("paths", pd.DataFrame())
    # One partition at a time when the triples spilled: a triple's copies share a partition.
    per_part = [t.groupby("path_h", sort=False).size() for t in partitions(p.get("path_visitors"))]
    # The history store's closed days hold counts in place of triples (store/close.py).
    closed = p.get("path_visitor_counts")
    if closed is not None and len(closed):
        per_part.append(closed["visitors"])
    if not per_part or paths.empty:
        return pd.Series(dtype=np.int64)
    per_hash = per_part[0] if len(per_part) == 1 else pd.concat(per_part).groupby(level=0).sum()
    counts = per_hash.reindex(path_hashes(p, ctx), fill_value=0).to_numpy()
    return pd.Series(counts, index=paths.index)


def _simple(col: str) -> Callable[[pd.DataFrame, Settings], pd.DataFrame]:
    def compute(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
        pv = c["is_page"].to_numpy() & c["person"].to_numpy()
        return count_by(c, col, {"hits": None, "page_views": pv, "bytes": c["bytes"].to_numpy()})

    compute.__name__ = f"t_{col}"
    return compute


def t_span(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """Wall-clock range of the input's requests before --since/--until (set by the Enricher
    when a period is asked for); the kept rows' range otherwise."""
    span = c.attrs.get("span_local")
    if span is None:
        if not len(c):
            return pd.DataFrame()
        local = c["local"].array.asi8
        span = (int(local.min()), int(local.max()))
    return pd.DataFrame(
        [{"first_local": span[0], "last_local": span[1]}], index=pd.Index([0], name="all")
    )


def t_status(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    return count_small(c["status"].to_numpy().astype(np.int64), {"hits": None}, "status")


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "totals",
            t_totals,
            {"first": "min", "last": "max", "first_local": "min", "last_local": "max"},
        ),
        Table("visitor_days", t_visitor_days),
        Table("daily", t_daily),
        Table("hours", t_hours),
        Table("paths", t_paths, {"static": "max"}, spill_text=True),
        Table("path_visitors", t_path_visitors, kind="distinct", spill_key="key"),
        Table("status", t_status),
        Table("methods", _simple("method")),
        Table("protocols", _simple("protocol")),
        Table("vhosts", _simple("vhost")),
        Table("files", _simple("file")),
        Table("span", t_span, {"first_local": "min", "last_local": "max"}),
    )
}


# ---- finishing: merged tables -> sections -------------------------------------------------


def _iso(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s").isoformat()


def ranked(
    frame: pd.DataFrame, s: Settings, key: str, by: str = "hits"
) -> tuple[pd.DataFrame, int]:
    """Rows sorted by ``by`` (descending; ties by key, so the order never depends on the order
    partials were merged in), cut to ``--top``, with the index turned into a first column
    named ``key``; also the row count before the cut."""
    total = len(frame)
    if s.top and total > s.top:
        keep = top_positions(frame, by, s.top)
        if len(keep) < total:  # all of them when ``by`` cannot be partitioned: no copy
            frame = frame.iloc[keep]
    frame = frame.sort_index(kind="stable").sort_values([by], ascending=False, kind="stable")
    if s.top:
        frame = frame.head(s.top)
    rows = frame.reset_index(drop=True)
    rows.insert(0, key, [str(x) for x in frame.index])
    return rows, total


def top_positions(frame: pd.DataFrame, by: str, n: int) -> np.ndarray:
    """Positions (ascending) of the rows that ``ranked`` keeps for a top ``n``: ``by`` counts
    first (a partition of the numbers, not a sort of the table), then the keys only of the
    rows tied at the cut. Sorting just these rows orders them exactly as sorting the whole
    table would (the order is by ``by`` descending, key, then position): on a table of 1M
    distinct paths or referrers the full sort built an engine of 1M Python strings."""
    return _top_of(frame, by, n, None)


def _top_of(frame: pd.DataFrame, by: str, n: int, rows: np.ndarray | None) -> np.ndarray:
    """``top_positions`` among the rows at positions ``rows`` (ascending; all when None),
    as positions in ``frame``: the rows left out are never copied."""
    vals = frame[by].to_numpy()
    if rows is not None:
        vals = vals[rows]
    if vals.dtype.kind not in "iuf" or (vals.dtype.kind == "f" and np.isnan(vals).any()):
        return np.arange(len(frame)) if rows is None else rows
    cut = np.partition(vals, len(vals) - n)[len(vals) - n]
    above = np.flatnonzero(vals > cut)
    tied = np.flatnonzero(vals == cut)
    if rows is not None:
        above, tied = rows[above], rows[tied]
    need = n - len(above)
    if len(tied) > need:
        least = _least_keys(frame.index, tied, need)
        if least is not None:
            return np.union1d(above, least)
        keys = frame.index[tied]
        if keys.dtype == "str" and not isinstance(keys, pd.MultiIndex):
            # Arrow orders UTF-8 bytewise (code-point order, as Python's str does), nulls
            # last (as sort_index); a stable sort keeps equal keys in table order.
            order = pc.array_sort_indices(
                pa.array(keys.array), order="ascending", null_placement="at_end"
            ).to_numpy()
        else:
            # Any other key: pandas' own sort, of the tied rows only.
            pos = pd.Series(np.arange(len(tied)), index=keys)
            order = pos.sort_index(kind="stable").to_numpy()
        tied = np.sort(tied[order[:need]])
    return np.union1d(above, tied)


def ranked_rows(
    frame: pd.DataFrame, rows: np.ndarray, s: Settings, key: str, by: str = "hits"
) -> tuple[pd.DataFrame, int]:
    """``ranked(frame.iloc[rows])`` (``rows`` ascending) without copying the rows left out
    by the cut: the external referrers of a table of 5M were a copy of all their text."""
    total = len(rows)
    if s.top and total > s.top:
        rows = _top_of(frame, by, s.top, rows)
    return ranked(frame.iloc[rows], s, key, by)[0], total


def _least_keys(index: pd.Index, tied: np.ndarray, need: int) -> np.ndarray | None:
    """Positions (ascending) of the ``need`` least text keys among rows ``tied``, by a heap of
    ``need`` (Arrow's select_k), where ``top_positions`` sorted all tied keys: when every row
    ties (5M distinct paths of one hit each) that sort took 8 s and ~500 MB, and the tied keys
    were first copied. None where it might not be what the stable sort keeps: nulls, not one
    text level, or a key equal to the last one kept left out (the sort keeps the first)."""
    if need <= 0 or isinstance(index, pd.MultiIndex) or index.dtype != "str":
        return None
    text = pa.array(index.array)
    if len(tied) < len(index):
        text = text.take(pa.array(tied))
    if text.null_count:
        return None
    pick = pc.select_k_unstable(text, k=need, sort_keys=[("", "ascending")])
    chosen = text.take(pick)
    last = pc.max(chosen)
    if pc.sum(pc.equal(text, last)).as_py() != pc.sum(pc.equal(chosen, last)).as_py():
        return None
    return np.sort(tied[pick.to_numpy()])


def _share(part: pd.Series, whole: float) -> pd.Series:
    return (part / whole).round(4) if whole else part * 0.0


def _distinct_visitors(index: pd.Index) -> int:
    """The distinct visitors of the (day, visitor) keys: the visitor level's values in use (a
    year of the store is 3.5M keys: hashing their values again cost ~0.3 s)."""
    if isinstance(index, pd.MultiIndex):
        at = index.names.index("visitor")
        codes = np.asarray(index.codes[at])
        # A level holds each value once; codes -1 are missing values (not counted).
        return int(np.count_nonzero(np.bincount(codes[codes >= 0], minlength=1)))
    return int(index.get_level_values("visitor").nunique())


def overview(p: Partial, s: Settings) -> dict[str, object]:
    t = p.get("totals")
    if t is None or t.empty:
        return empty_overview()
    row = t.iloc[0]
    hits = int(row["hits"])
    vd = p.get("visitor_days", pd.DataFrame())
    visitor_days = int(len(vd))
    unique = _distinct_visitors(vd.index) if len(vd) else 0
    sets = p.get(visitcounts.SETS)  # the store's closed months, counted
    if sets is not None and len(sets):
        visitor_days += int(sets["rows"].sum())
        unique = int(sets["unique"].iloc[0])
    paths = p.get("paths", pd.DataFrame())
    out: dict[str, object] = {
        "requests": hits,
        "page_views": int(row["page_views"]),
        "visitor_days": visitor_days,
        "unique_visitors": unique,
        "bandwidth": int(row["bytes"]),
        "first": pd.Timestamp(int(row["first"]), unit="s", tz="UTC").isoformat(),
        "last": pd.Timestamp(int(row["last"]), unit="s", tz="UTC").isoformat(),
        "first_local": _iso(int(row["first_local"])),
        "last_local": _iso(int(row["last_local"])),
        "crawler_hits": int(row["crawler_hits"]),
        "tool_hits": int(row["tool_hits"]),
        "not_found_urls": int((paths["not_found"] > 0).sum()) if len(paths) else 0,
        "distinct_pages": int(((~paths["static"]) & (paths["page_views"] > 0)).sum())
        if len(paths)
        else 0,
    }
    for k in range(1, 6):
        out[f"status_{k}xx"] = int(row[f"s{k}xx"])
        out[f"share_{k}xx"] = round(int(row[f"s{k}xx"]) / hits, 4) if hits else 0.0
    # Hits whose agents were not classified (a store's older days have no such column: 0).
    unclassified = row.get("unclassified", 0)
    if not pd.isna(unclassified) and int(unclassified):
        out["crawler_hits"] = out["tool_hits"] = None
    return out


def bandwidth_may_overflow(p: Partial) -> bool:
    """Whether the sum of all sizes may reach 2**63, past what the int64 sums of bandwidth
    (total, per key, merged in the store) hold: a size is below schema.SIZE_LIMIT (2**40), so
    up to 2**23 lines always fit. A frame's sizes sum to less than (its ``bytes_mib`` + its
    hits) MiB (one MiB for its rounding, or for each size's), so the total is below 2**63
    while ``bytes_mib`` plus the hits is at most 2**43 (a store's days from before the
    column: their MiB not known, counted as none)."""
    t = p.get("totals")
    if t is None or t.empty or "bytes_mib" not in t:
        return False
    mib = t["bytes_mib"].iloc[0]
    return not pd.isna(mib) and int(mib) + int(t["hits"].iloc[0]) > 1 << 43


# The report's note when ``bandwidth_may_overflow``: its figures are int64 sums.
BANDWIDTH_OVERFLOW = (
    "bandwidth may be wrong: the response sizes add up to 2^63 bytes (8 EiB) or more, past "
    "the 64-bit integers its sums are kept in (docs/metrics.md)"
)


# The report's note when the overview's robot counts are null (``t_totals``).
ROBOTS_NOT_COUNTED = (
    "crawler_hits and tool_hits are not counted (null): with --bots include and no chosen "
    "section that needs user agents, no agent was classified (add --section crawlers, or "
    "leave --bots at its default, to count them)"
)


def empty_overview() -> dict[str, object]:
    """No request in the period: the same keys, counts 0 and times None (JSON null)."""
    out: dict[str, object] = {
        "requests": 0,
        "page_views": 0,
        "visitor_days": 0,
        "unique_visitors": 0,
        "bandwidth": 0,
        "first": None,
        "last": None,
        "first_local": None,
        "last_local": None,
        "crawler_hits": 0,
        "tool_hits": 0,
        "not_found_urls": 0,
        "distinct_pages": 0,
    }
    for k in range(1, 6):
        out[f"status_{k}xx"] = 0
        out[f"share_{k}xx"] = 0.0
    return out


def sec_daily(p: Partial, s: Settings) -> Section:
    d = p.get("daily", pd.DataFrame())
    vd = p.get("visitor_days", pd.DataFrame())
    if d.empty:
        return Section("daily", "Daily visitors", pd.DataFrame())
    per_day = vd.groupby(level="day").size() if len(vd) else pd.Series(dtype=np.int64)
    first, last = int(d.index.min()), int(d.index.max())
    lo = capped_low(first, last, "day", period_cap(s.top))
    days = np.arange(lo, last + 1)
    d = d.reindex(days, fill_value=0)
    rows = pd.DataFrame(
        {
            "date": pd.to_datetime(days, unit="D").strftime("%Y-%m-%d"),
            "hits": d["hits"].to_numpy(),
            "visitors": per_day.reindex(days, fill_value=0).to_numpy(),
            "page_views": d["page_views"].to_numpy(),
            "bandwidth": d["bytes"].to_numpy(),
        }
    )
    note = "visitors: distinct (IP, user agent) per day, 4xx hits left out"
    if lo > first:
        note += "; " + cap_note(len(rows), "day")
    return Section(
        "daily",
        "Daily visitors",
        rows,
        last - first + 1,
        note=note,
        chart="visitors",
    )


def sec_hours(p: Partial, s: Settings) -> Section:
    h = p.get("hours", pd.DataFrame())
    if h.empty:
        return Section("hours", "Hour of day", pd.DataFrame())
    h = h.reindex(range(24), fill_value=0)
    rows = pd.DataFrame(
        {
            "hour": [f"{i:02d}" for i in range(24)],
            "hits": h["hits"].to_numpy(),
            "page_views": h["page_views"].to_numpy(),
            "bandwidth": h["bytes"].to_numpy(),
        }
    )
    return Section("hours", "Hour of day", rows, 24, chart="hits")


def _path_section(p: Partial, ctx: Context, name: str, title: str, static: bool | None) -> Section:
    s = ctx.settings
    paths = p.get("paths", pd.DataFrame())
    if paths.empty:
        return Section(name, title, pd.DataFrame())
    pv = path_visitor_counts(p, ctx)
    if static is None:
        hits = paths["not_found"].to_numpy()
        keep = hits > 0
        cols = ["hits"]
    else:
        hits = (paths["hits"] - paths["not_found"]).to_numpy()
        keep = (paths["static"] == static).to_numpy() & (hits > 0)
        cols = ["hits", "visitors", *([] if static else ["page_views"]), "bytes"]
    rows_kept = np.flatnonzero(keep)
    total = len(rows_kept)
    if s.top and total > s.top:
        # The top rows picked on the counts first (the others' hits below any kept row's),
        # so that only they are copied, text included: copying every kept row (5M distinct
        # paths) held the table's text twice, the finish's peak.
        probe = pd.DataFrame({"hits": hits}, index=paths.index, copy=False)
        rows_kept = _top_of(probe, "hits", s.top, rows_kept)
        del probe
    # pv is aligned with paths' rows (or empty): taken by position, not by text.
    visitors = pv.to_numpy()[rows_kept] if len(pv) == len(paths) else 0
    f = paths.iloc[rows_kept].assign(hits=hits[rows_kept], visitors=visitors)[cols]
    rows, _ = ranked(f.rename(columns={"bytes": "bandwidth"}), s, "path")
    return Section(name, title, rows, total)


def sec_pages(p: Partial, ctx: Context) -> Section:
    sec = _path_section(p, ctx, "pages", "Requested pages", False)
    sec.note = "404s are listed under not-found; static files under static"
    return sec


def sec_static(p: Partial, ctx: Context) -> Section:
    return _path_section(p, ctx, "static", "Static files", True)


def sec_not_found(p: Partial, ctx: Context) -> Section:
    return _path_section(p, ctx, "not-found", "Not-found URLs (404)", None)


def _keyed(p: Partial, s: Settings, table: str, name: str, title: str, key: str) -> Section:
    f = p.get(table, pd.DataFrame())
    if f.empty:
        return Section(name, title, pd.DataFrame())
    f = f.rename(columns={"bytes": "bandwidth"})
    hits = f["hits"].sum()
    f = f.assign(share=_share(f["hits"], hits))
    rows, total = ranked(f, s, key)
    return Section(name, title, rows, total)


def sec_hosts(p: Partial, s: Settings) -> Section:
    """Client hosts, from the per-visitor table (client, agent) summed over agents."""
    v = p.get("visitors", pd.DataFrame())
    if v.empty:
        return Section("hosts", "Client hosts", pd.DataFrame())
    f = _per_client(v)
    if f is None:
        f = _per_client_grouped(v)
    rows, total = ranked(f, s, "client")
    rows["first"] = [_local(v) for v in rows["first"]]
    rows["last"] = [_local(v) for v in rows["last"]]
    return Section("hosts", "Client hosts", rows, total, narrow_drop=("first", "last"))


_PER_CLIENT = {
    "hits": ("hits", np.add),
    "page_views": ("page_views", np.add),
    "bandwidth": ("bytes", np.add),
    "first": ("first", np.minimum),
    "last": ("last", np.maximum),
}


def _per_client(v: pd.DataFrame) -> pd.DataFrame | None:
    """``sec_hosts``' group-by of the visitors table by client, through the client level's
    codes: one row per client the rows use, keyed by the level itself (its Arrow text, not
    copied). The group-by made a text key per group and its hash table (5M distinct clients:
    the finish's peak, ~500 MB above the table). The rows come in level order, not in order
    of first appearance; ``ranked`` orders by hits and key, and keys are distinct, so the
    section is the same. None where it might not be the group-by's (no client level, a
    missing client, columns that are not 64-bit integers)."""
    index = v.index
    if not isinstance(index, pd.MultiIndex) or "client" not in index.names:
        return None
    k = list(index.names).index("client")
    codes = np.asarray(index.codes[k], dtype=np.intp)
    level = index.levels[k]
    if len(codes) and codes.min() < 0:
        return None
    out: dict[str, np.ndarray] = {}
    for name, (col, ufunc) in _PER_CLIENT.items():
        values = v[col].to_numpy()
        if values.dtype != np.int64:
            return None
        if ufunc is np.add:
            acc = np.zeros(len(level), np.int64)
        else:
            info = np.iinfo(np.int64)
            acc = np.full(len(level), info.max if ufunc is np.minimum else info.min)
        ufunc.at(acc, codes, values)
        out[name] = acc
    f = pd.DataFrame(out, index=level.rename("client"), copy=False)
    used = np.bincount(codes, minlength=len(level)) > 0
    return f if used.all() else f.iloc[np.flatnonzero(used)]


_HOW = {np.add: "sum", np.minimum: "min", np.maximum: "max"}


def _per_client_grouped(v: pd.DataFrame) -> pd.DataFrame:
    """The per-visitor table summed over agents by pandas' group-by (``_per_client``'s
    answer, for any table; its rows in order of first appearance)."""
    how = {name: (col, _HOW[ufunc]) for name, (col, ufunc) in _PER_CLIENT.items()}
    return v.groupby(level="client", sort=False).agg(**how)


def _local(v: int) -> str:
    """Wall-clock time in the report zone, to the second."""
    return pd.Timestamp(int(v), unit="s").strftime("%Y-%m-%d %H:%M:%S")


def sec_status(p: Partial, s: Settings) -> Section:
    f = p.get("status", pd.DataFrame())
    if f.empty:
        return Section("status", "Status codes", pd.DataFrame())
    hits = f["hits"].sum()
    total = len(f)
    if s.top:  # --top: the most frequent codes, still listed by code
        f = f.sort_index(kind="stable").sort_values(["hits"], ascending=False, kind="stable")
        f = f.head(s.top)
    f = f.sort_index()
    rows = pd.DataFrame(
        {
            "status": [int(x) for x in f.index],
            "meaning": [_reason(int(x)) for x in f.index],
            "hits": f["hits"].to_numpy(),
            "share": _share(f["hits"], hits).to_numpy(),
        }
    )
    return Section("status", "Status codes", rows, total, chart="hits")


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def sec_methods(p: Partial, s: Settings) -> Section:
    return _keyed(p, s, "methods", "methods", "Request methods", "method")


def sec_protocols(p: Partial, s: Settings) -> Section:
    return _keyed(p, s, "protocols", "protocols", "Protocols", "protocol")


def sec_vhosts(p: Partial, s: Settings) -> Section:
    f = p.get("vhosts", pd.DataFrame())
    if f.empty or (len(f) == 1 and f.index[0] == ""):
        return Section(
            "vhosts", "Virtual hosts", pd.DataFrame(), note="no virtual host in this log format"
        )
    return _keyed(p, s, "vhosts", "vhosts", "Virtual hosts", "vhost")
