"""Visits (sessions), clicks, durations, entry and exit pages.

Rules (METRICS.md): a *visit* is a run of page views by one visitor key (client IP, user agent),
people only unless ``--bots include``, with no gap longer than the visit timeout (30 minutes by
default; a gap of exactly the timeout stays in the visit). It belongs to the day it starts on.
*Clicks* are its page views; *duration* runs from its first to its last page view (0 for one);
its *entry* and *exit* pages are the first and last; a *bounce* is a one-page visit.

Partials keep one compact event per people page view (visitor key, time, and 64-bit hashes of
path and referrer, 40 bytes); at the end the events are sorted by (visitor, time) and cut into
visits with array comparisons: no Python loop per row. Paths and referrers come back from the
hashes through the ``paths`` and ``referrers`` tables, which hold every distinct value once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from logaudit.analyze import blockkeys
from logaudit.analyze.base import Context, Partial, Table
from logaudit.analyze.spill import partitions
from logaudit.analyze.traffic import path_hashes, ranked
from logaudit.config import Settings, timeout_text
from logaudit.report import Section
from logaudit.schema import hash_strings
from logaudit.timespec import say_duration

CLICK_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-5", 3, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21+", 21, 1 << 62),
)
DURATION_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("0-10 s", 0, 9),
    ("10-30 s", 10, 29),
    ("30 s-2 min", 30, 119),
    ("2-10 min", 120, 599),
    ("10-30 min", 600, 1799),
    ("30 min+", 1800, 1 << 62),
)


def t_pv_events(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    m = np.flatnonzero(c["is_page"].to_numpy() & c["person"].to_numpy())
    return pd.DataFrame(
        {
            "visitor": c["visitor"].to_numpy()[m],
            "utc": c["time"].array.asi8[m],
            "local": c["local"].array.asi8[m],
            "path_h": blockkeys.row_hashes(c, "path", m),
            "ref_h": blockkeys.row_hashes(c, "referrer", m),
        }
    )


TABLES = {"pv_events": Table("pv_events", t_pv_events, kind="concat", spill_key="visitor")}
NEEDS = ("pv_events", "paths", "referrers")


@dataclass
class Visits:
    """One row per visit: visitor, start/end (UTC and local seconds), clicks, duration,
    entry/exit path hashes, entry referrer hash, and the local day it starts on."""

    table: pd.DataFrame
    # Per page view, the visit it belongs to (same order as the sorted events); empty in the
    # report-wide visits (visits_of), which keep the visits only.
    events: pd.DataFrame


def sessionize(events: pd.DataFrame, timeout: int, per_event: bool = True) -> Visits:
    """``per_event`` False: the visits alone, without the page views' table (empty), which
    only the clickstream reads (every page view's columns copied again, on the finish)."""
    if events.empty:
        cols = [
            "visitor",
            "start",
            "end",
            "start_local",
            "clicks",
            "duration",
            "entry_h",
            "exit_h",
            "ref_h",
            "day",
        ]
        return Visits(pd.DataFrame({c: np.array([], np.int64) for c in cols}), events)
    v = events["visitor"].to_numpy()
    t = events["utc"].to_numpy()
    order = np.lexsort((t, v))
    v, t = v[order], t[order]
    new = np.ones(len(v), dtype=bool)
    new[1:] = (v[1:] != v[:-1]) | (t[1:] - t[:-1] > timeout)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(v)) - 1
    visit_of = np.cumsum(new) - 1
    local = events["local"].to_numpy()[order]
    path_h = events["path_h"].to_numpy()[order]
    ref_h = events["ref_h"].to_numpy()[order]
    table = pd.DataFrame(
        {
            "visitor": v[starts],
            "start": t[starts],
            "end": t[ends],
            "start_local": local[starts],
            "clicks": (ends - starts + 1).astype(np.int64),
            "duration": t[ends] - t[starts],
            "entry_h": path_h[starts],
            "exit_h": path_h[ends],
            "ref_h": ref_h[starts],
            "day": (local[starts] // 86400).astype(np.int64),
        }
    )
    if not per_event:
        return Visits(table, pd.DataFrame())
    ev = pd.DataFrame(
        {
            "visit": visit_of,
            "utc": t,
            "local": local,
            "path_h": path_h,
            "ref_h": ref_h,
            "visitor": v,
        }
    )
    return Visits(table, ev)


def visits_of(p: Partial, ctx: Context) -> Visits:
    """Sessionize once per report; every visits section shares the result."""
    return ctx.once("visits", lambda: _sessionized(p, ctx.settings.visit_timeout))


def _sessionized(p: Partial, timeout: int) -> Visits:
    # One partition at a time when the events spilled (a visitor's events share one); the
    # visits are kept, the events are not.
    tables = [sessionize(ev, timeout, False).table for ev in partitions(p.get("pv_events"))]
    if not tables:
        tables = [sessionize(pd.DataFrame(), timeout).table]
    table = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
    return Visits(table, pd.DataFrame())


def path_texts(
    p: Partial, ctx: Context, hashes: pd.Index | np.ndarray, missing: str | None = "?"
) -> pd.Index:
    """The path of each hash, ``missing`` where no path has it (None: left missing), taken
    from the paths table's own (Arrow) text by the report's path hashes
    (``traffic.path_hashes``, computed once): only the asked paths are made text; a table of
    every distinct path as a Python string (1M distinct 200-byte paths: ~250 MB, the
    finish's peak; a year of trends: 83,000) is never built."""
    paths = p.get("paths", pd.DataFrame())
    if not len(paths):
        return pd.Index([missing] * len(hashes), dtype="str" if missing else object)
    rows = path_hashes(p, ctx)  # shared with the path sections' visitor counts
    at = rows.get_indexer(hashes)  # type: ignore[arg-type]  # any array-like: pandas takes it
    text = pd.Index(paths.index.array.take(at, allow_fill=True), dtype="str")
    return text if missing is None else text.fillna(missing)


def referrer_names(p: Partial) -> pd.Series:
    refs = p.get("referrers", pd.DataFrame())
    return pd.Series(np.asarray(refs.index, dtype=object), index=hash_strings(refs.index))


def headline(p: Partial, ctx: Context) -> dict[str, object]:
    vt = visits_of(p, ctx).table
    from logaudit.analyze import visitcounts

    counted = visitcounts.of(ctx)  # the history store's closed months, counted
    if counted is not None:
        return visitcounts.headline(vt, counted)
    n = len(vt)
    if n == 0:
        return dict(visitcounts.NO_VISITS)
    return {
        "visits": n,
        "clicks_per_visit": round(float(vt["clicks"].mean()), 3),
        "median_clicks": float(vt["clicks"].median()),
        "bounce_rate": round(float((vt["clicks"] == 1).mean()), 4),
        "median_visit_seconds": float(vt["duration"].median()),
        "clicks": int(vt["clicks"].sum()),
    }


def _buckets(
    values: np.ndarray, buckets: tuple[tuple[str, int, int], ...], label: str
) -> pd.DataFrame:
    total = len(values)
    rows = []
    for name, lo, hi in buckets:
        k = int(((values >= lo) & (values <= hi)).sum())
        rows.append({label: name, "visits": k, "share": round(k / total, 4) if total else 0.0})
    return pd.DataFrame(rows)


def sec_visits(p: Partial, ctx: Context) -> Section:
    h = headline(p, ctx)
    vt = visits_of(p, ctx).table
    rows = _buckets(vt["clicks"].to_numpy(), CLICK_BUCKETS, "clicks")
    note = (
        f"visits {h['visits']:,}; clicks per visit: mean {h['clicks_per_visit']}, median "
        f"{h['median_clicks']}; bounce rate {100 * float(str(h['bounce_rate'])):.1f}%; "
        f"timeout {timeout_text(ctx.settings.visit_timeout)}"
    )
    return Section(
        "visits",
        "Visits by clicks (page views per visit)",
        rows,
        len(rows),
        note=note,
        chart="visits",
        headline=h,
    )


def sec_durations(p: Partial, ctx: Context) -> Section:
    vt = visits_of(p, ctx).table
    rows = _buckets(vt["duration"].to_numpy(), DURATION_BUCKETS, "duration")
    med = float(vt["duration"].median()) if len(vt) else 0.0
    return Section(
        "durations",
        "Visit duration",
        rows,
        len(rows),
        note=f"median {say_duration(med)}; first to last page view",
        chart="visits",
    )


def sec_entry_pages(p: Partial, ctx: Context) -> Section:
    vt = visits_of(p, ctx).table
    if vt.empty:
        return Section("entry-pages", "Entry pages", pd.DataFrame())
    g = (
        vt.assign(bounce=vt["clicks"] == 1)
        .groupby("entry_h", sort=False)["bounce"]
        .agg(visits="size", bounces="sum")
    )
    g["share"] = (g["visits"] / len(vt)).round(4)
    g["bounce_rate"] = (g["bounces"] / g["visits"]).round(4)
    g.index = path_texts(p, ctx, g.index)
    cols = pd.DataFrame(g).loc[:, ["visits", "share", "bounce_rate"]]
    rows, total = ranked(cols, ctx.settings, "path", by="visits")
    return Section("entry-pages", "Entry pages", rows, total, note="first page view of each visit")


def sec_exit_pages(p: Partial, ctx: Context) -> Section:
    vt = visits_of(p, ctx).table
    if vt.empty:
        return Section("exit-pages", "Exit pages", pd.DataFrame())
    g = vt.groupby("exit_h", sort=False).size().to_frame("visits")
    g["share"] = (g["visits"] / len(vt)).round(4)
    g.index = path_texts(p, ctx, g.index)
    rows, total = ranked(g, ctx.settings, "path", by="visits")
    return Section("exit-pages", "Exit pages", rows, total, note="last page view of each visit")


def sec_entry_exit(p: Partial, ctx: Context) -> Section:
    vt = visits_of(p, ctx).table
    if vt.empty:
        return Section("entry-exit", "Entry to exit", pd.DataFrame())
    g = vt.groupby(["entry_h", "exit_h"], sort=False).size().to_frame("visits")
    entry = path_texts(p, ctx, g.index.get_level_values(0)).to_numpy()
    exit_ = path_texts(p, ctx, g.index.get_level_values(1)).to_numpy()
    g.index = pd.Index([f"{a} -> {b}" for a, b in zip(entry, exit_, strict=True)])
    g["share"] = (g["visits"] / len(vt)).round(4)
    rows, total = ranked(g, ctx.settings, "entry -> exit", by="visits")
    return Section("entry-exit", "Most common entry -> exit", rows, total)
