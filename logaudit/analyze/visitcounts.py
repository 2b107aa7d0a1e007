"""Visits counted, not listed: the history store's closed months (branch ``year3``).

A year of trends from the store handed the report 3.8M visit rows (10,000 visitors a day),
read, copied and walked for figures that need far less: the visits and clicks per day, week
or month (``trends/series.py``) and the overview's headline (visits, clicks, clicks per
visit, median clicks, bounce rate, median visit length: ``visits.headline``). A closed
month's interior visits never change, so the store keeps them as value counts per local
start day (``store/entries.py``): ``clicks`` -> (day, clicks, n) and ``duration`` -> (day,
duration, n), a few thousand rows a month instead of 316,000. The report then holds the
other visits as rows (``visits_of``: edge visits chained, open days sessionized) and these
counts beside them (``ctx.cache[KEY]``); every figure below adds both, exactly: sums are
integer, medians are found by rank in the merged value counts and averaged as
``Series.median`` averages its two middle values.

Only for calendar periods (days, weeks, months: a visit's period is that of its local start
day) and only for sections that read visits through these figures (``store/visitdays.py``
``SECTIONS``): the store hands no counts otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from logaudit.analyze.base import Context

KEY = "visit_counts"
# Distinct visitors counted, not listed (branch ``year5``, ``store/visitorsets.py``
# ``counted``): for monthly periods the store hands its closed months' ``visitor_days`` as
# one row per month in the partial under this key (``day``: the month's first local day,
# ``visitors``: its distinct visitors, ``rows``: its visitor-days, ``unique``: the distinct
# visitors of the whole period, open days too, the same on every row); ``visitor_days`` then
# holds the other days' rows only. A calendar month is either closed (its set) or read as
# days, so no month is counted twice.
SETS = "_visitor_sets"


def of(ctx: Context) -> dict[str, pd.DataFrame] | None:
    """The counted visits handed by the store, if any."""
    got = ctx.cache.get(KEY)
    return got if isinstance(got, dict) and got else None


def _counted(rows: np.ndarray) -> pd.Series:
    """``pd.Series(np.ones(len(rows))).groupby(rows).sum()``: how many of each value, sorted
    by value; for integers of a narrow range (clicks, visit lengths in seconds) by counting,
    not by hashing every visit's value (branch ``trends23``: a year's ~300,000 listed
    visits, twice per headline)."""
    if len(rows) and rows.dtype.kind in "iu" and (rows.dtype.kind == "i"
                                                    or int(rows.max()) < 1 << 63):
        # In int64 (every value fits): a narrow type's differences would wrap.
        wide = rows.astype(np.int64, copy=False)
        lo = int(wide.min())
        span = int(wide.max()) - lo + 1
        if span <= max(1 << 16, len(rows) // 4):
            counts = np.bincount((wide - lo).astype(np.intp), minlength=span)
            at = np.flatnonzero(counts)
            values = (at + lo).astype(rows.dtype, copy=False)
            return pd.Series(counts[at].astype(np.int64), index=pd.Index(values))
    return pd.Series(np.ones(len(rows), np.int64)).groupby(rows).sum()


def _values(rows: np.ndarray, counted: pd.DataFrame | None, column: str) -> pd.Series:
    """Value -> how many visits, over the listed ``rows`` and the ``counted`` ones, sorted."""
    listed = _counted(rows)
    if counted is None or not len(counted):
        return listed.sort_index()
    more = counted.groupby(column)["n"].sum()
    both = pd.concat([listed, more]).groupby(level=0).sum()
    return both.sort_index()


def _median(values: pd.Series) -> float:
    """The median of the visits whose values ``values`` counts (index: value, sorted)."""
    n = int(values.sum())
    cum = np.cumsum(values.to_numpy(np.int64))
    keys = values.index.to_numpy(np.float64)
    lo = keys[np.searchsorted(cum, (n - 1) // 2 + 1)]
    hi = keys[np.searchsorted(cum, n // 2 + 1)]
    return float(np.mean([lo, hi]))


# The headline of no visits (``visits.headline`` gives the same).
NO_VISITS: dict[str, object] = {
    "visits": 0,
    "clicks_per_visit": 0.0,
    "median_clicks": 0.0,
    "bounce_rate": 0.0,
    "median_visit_seconds": 0.0,
    "clicks": 0,
}


def headline(vt: pd.DataFrame, counts: dict[str, pd.DataFrame]) -> dict[str, object]:
    """``visits.headline`` over the listed visits ``vt`` and the ``counts``."""
    clicks = _values(vt["clicks"].to_numpy(np.int64), counts.get("clicks"), "clicks")
    lengths = _values(vt["duration"].to_numpy(np.int64), counts.get("duration"), "duration")
    n = int(clicks.sum())
    if n == 0:
        return dict(NO_VISITS)
    total = int((clicks.index.to_numpy(np.int64) * clicks.to_numpy(np.int64)).sum())
    return {
        "visits": n,
        "clicks_per_visit": round(float(total) / n, 3),
        "median_clicks": _median(clicks),
        "bounce_rate": round(float(clicks.get(1, 0)) / n, 4),
        "median_visit_seconds": _median(lengths),
        "clicks": total,
    }


def per_day(counts: dict[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(local day, visits, clicks) of the counted visits, one entry per (day, clicks) row."""
    c = counts.get("clicks")
    if c is None or not len(c):
        z = np.zeros(0, np.int64)
        return z, z, z
    n = c["n"].to_numpy(np.int64)
    return c["day"].to_numpy(np.int64), n, c["clicks"].to_numpy(np.int64) * n


__all__ = ["KEY", "headline", "of", "per_day"]
