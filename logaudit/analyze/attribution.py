"""Visits with their entry (referrer, query), their conversions, and which visit each
conversion is credited to: array work over events sorted by (visitor, time), no Python loop
per row.

Events are people page views and goal hits (``analyze.campaigns.t_touch_events``). Visits are
cut from the page views exactly as ``analyze.visits`` cuts them (same timeout rule), so the
visits here are the report's visits. A goal hit that is not a page view (``POST /checkout``
answered 303) belongs to the visit of the visitor's page view before it, if that is no older
than the timeout; otherwise it is in no visit and does not count.

Attribution (METRICS.md), over the same visitor key, within ``window`` seconds looked back from
the conversion; a *touch* is a visit whose source is not direct (nor internal navigation):

- ``last``: the converting visit itself, whatever its source;
- ``last-non-direct`` (default): the converting visit if it is a touch, else the latest touch
  in the window, else the converting visit, credited to direct (campaigns.py: also when that
  visit came by internal navigation);
- ``first``: the earliest touch in the window, else the converting visit, credited likewise.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from logaudit.names import ATTRIBUTION_MODELS

# --attribution's choices, in logaudit.names so that the CLI reads them without pandas.
MODELS = ATTRIBUTION_MODELS

VISIT_COLUMNS = ("visitor", "start", "start_local", "clicks", "ref_h", "query_h")
CONVERSION_COLUMNS = ("visit", "goal", "utc", "local", "query_h")


def cut(
    events: pd.DataFrame, timeout: int, n_goals: int, ends: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One partition's events (a visitor's events all in it) -> (visits, conversions).

    visits: ``VISIT_COLUMNS``, sorted by (visitor, start); conversions: ``CONVERSION_COLUMNS``,
    ``visit`` a row number of visits, at most one per (visit, goal): its first hit.
    ``ends``: visits also get ``end``, their last page view's time (the history store chains
    them with stored visit pieces, ``store/visitdays.py``)."""
    if events.empty:
        return _empty((*VISIT_COLUMNS, "end") if ends else VISIT_COLUMNS), _empty(
            CONVERSION_COLUMNS
        )
    v = events["visitor"].to_numpy()
    t = events["utc"].to_numpy()
    pv = events["pv"].to_numpy()
    # Page views before other hits at the same second: a goal hit logged in the same second
    # as the page view that opens the visit belongs to it.
    order = np.lexsort((~pv, t, v))
    v, t, pv = v[order], t[order], pv[order]
    n = len(v)
    idx = np.arange(n)
    # The last page view at or before each event (-1: none yet).
    last_pv = np.maximum.accumulate(np.where(pv, idx, -1))
    prev_pv = np.empty(n, dtype=np.int64)
    prev_pv[0] = -1
    prev_pv[1:] = last_pv[:-1]
    # A page view opens a visit when no earlier page view of its visitor is within timeout.
    has_prev = prev_pv >= 0
    prev_safe = np.where(has_prev, prev_pv, 0)
    same = has_prev & (v[prev_safe] == v) & (t - t[prev_safe] <= timeout)
    opens = pv & ~same
    visit_no = np.cumsum(opens) - 1
    # Every event's visit: its own (page views) or its last page view's (other hits).
    last_safe = np.where(last_pv >= 0, last_pv, 0)
    in_visit = (last_pv >= 0) & (v[last_safe] == v) & (t - t[last_safe] <= timeout)
    visit = np.where(in_visit, visit_no[last_safe], -1)

    starts = np.flatnonzero(opens)
    local = events["local"].to_numpy()[order]
    ref_h = events["ref_h"].to_numpy()[order]
    query_h = events["query_h"].to_numpy()[order]
    clicks = np.bincount(visit_no[pv], minlength=len(starts)).astype(np.int64)
    visits = pd.DataFrame(
        {
            "visitor": v[starts],
            "start": t[starts],
            "start_local": local[starts],
            "clicks": clicks,
            "ref_h": ref_h[starts],
            "query_h": query_h[starts],
        }
    )
    if ends:
        at = np.flatnonzero(pv)
        last = at[np.r_[visit_no[at][1:] != visit_no[at][:-1], True]]
        visits["end"] = t[last]
    goals = events["goals"].to_numpy()[order]
    # The referral cookie's value hash on each goal hit, when the run logs one (0: none).
    cookie = events["cookie_h"].to_numpy()[order] if "cookie_h" in events else None
    parts = []
    for g in range(n_goals):
        hit = np.flatnonzero(((goals >> np.uint32(g)) & np.uint32(1)).astype(bool) & (visit >= 0))
        if not len(hit):
            continue
        # Sorted by time within a visit: the first hit of each visit is the conversion.
        first = hit[np.r_[True, visit[hit][1:] != visit[hit][:-1]]]
        frame = pd.DataFrame(
            {
                "visit": visit[first],
                "goal": np.full(len(first), g, dtype=np.int64),
                "utc": t[first],
                "local": local[first],
                "query_h": query_h[first],
            }
        )
        if cookie is not None:
            frame["cookie_h"] = cookie[first]
        parts.append(frame)
    conv = pd.concat(parts, ignore_index=True) if parts else _empty(CONVERSION_COLUMNS)
    return visits, conv


def _empty(cols: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: np.array([], np.int64) for c in cols})


def cut_all(
    partitions: Iterable[pd.DataFrame], timeout: int, n_goals: int, ends: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``cut`` over every partition, visits numbered across them; visits stay sorted by
    (visitor, start) within each visitor (a visitor's visits are all in one partition)."""
    vs, cs = [], []
    offset = 0
    for ev in partitions:
        v, c = cut(ev, timeout, n_goals, ends)
        c = c.assign(visit=c["visit"].to_numpy() + offset)
        offset += len(v)
        vs.append(v)
        cs.append(c)
    if not vs:
        return _empty((*VISIT_COLUMNS, "end") if ends else VISIT_COLUMNS), _empty(
            CONVERSION_COLUMNS
        )
    return pd.concat(vs, ignore_index=True), pd.concat(cs, ignore_index=True)


def credited(
    visits: pd.DataFrame,
    touch: np.ndarray,
    conversions: pd.DataFrame,
    model: str,
    window: int,
) -> np.ndarray:
    """The visit each conversion is credited to, under ``model``. ``touch``: per visit,
    whether its source is a touch (not direct, not internal)."""
    conv_visit = conversions["visit"].to_numpy()
    if model == "last" or not len(conv_visit):
        return conv_visit
    n = len(visits)
    idx = np.arange(n)
    visitor = visits["visitor"].to_numpy()
    start = visits["start"].to_numpy()
    # Visits are grouped by visitor and sorted by start within each: block numbers and the
    # first visit of each block.
    block = np.r_[0, np.cumsum(visitor[1:] != visitor[:-1])] if n else np.zeros(0, np.int64)
    t = conversions["utc"].to_numpy()
    since = t - window
    if model == "last-non-direct":
        last_touch = np.maximum.accumulate(np.where(touch, idx, -1))
        j = last_touch[conv_visit]
        j_safe = np.where(j >= 0, j, 0)
        ok = (j >= 0) & (block[j_safe] == block[conv_visit]) & (start[j_safe] >= since)
        return np.where(ok, j, conv_visit)
    if model == "first":
        # The first visit of the visitor that starts inside the window, then the first touch
        # from there; it counts if it is not after the converting visit.
        base = int(start.min())
        span = int(max(start.max(), t.max())) - base + 1
        key = block.astype(np.int64) * (span + window + 1) + (start - base)
        want = block[conv_visit].astype(np.int64) * (span + window + 1) + np.maximum(
            since - base, -window
        )
        p = np.searchsorted(key, want, side="left")
        next_touch = np.minimum.accumulate(np.where(touch, idx, n)[::-1])[::-1]
        k = next_touch[np.minimum(p, n - 1)]
        ok = (p < n) & (k <= conv_visit)
        return np.where(ok, k, conv_visit)
    raise ValueError(f"unknown attribution model {model!r}")
