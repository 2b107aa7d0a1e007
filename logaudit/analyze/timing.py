"""Response times: the overview's exact percentiles from a mergeable table, and the
percentiles of the log-scale histograms (problems' endpoints and windows, trends' periods).

Servers write durations at a fixed resolution (nginx: milliseconds, Apache %D: microseconds), so
the distinct values of a log are few next to its lines. The table counts requests per distinct
response time; two partials merge by adding counts, and the percentiles computed from the merged
table are exactly pandas' ``quantile`` (linear interpolation) over every request that has one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from logaudit.analyze.base import Partial, Table
from logaudit.config import Settings

QUANTILES: dict[str, float] = {
    "response_time_p50": 0.50,
    "response_time_p95": 0.95,
    "response_time_p99": 0.99,
}


def t_response_values(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """seconds -> n: requests per distinct response time (NaN, not logged, left out)."""
    values = c["response_time"].to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]
    if not len(values):
        return pd.DataFrame()
    keys, n = np.unique(values, return_counts=True)
    return pd.DataFrame({"n": n.astype(np.int64)}, index=pd.Index(keys, name="seconds"))


TABLES: dict[str, Table] = {t.name: t for t in (Table("response_values", t_response_values),)}


def quantiles(values: np.ndarray, counts: np.ndarray, qs: list[float]) -> list[float]:
    """pandas' linear-interpolation quantiles of the multiset ``values`` x ``counts``."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    cum = np.cumsum(counts[order])
    total = int(cum[-1])
    out = []
    for q in qs:
        h = (total - 1) * q
        lo = int(np.floor(h))
        hi = min(lo + 1, total - 1)
        x_lo = v[np.searchsorted(cum, lo, side="right")]
        x_hi = v[np.searchsorted(cum, hi, side="right")]
        out.append(float(x_lo + (h - lo) * (x_hi - x_lo)))
    return out


def overview(p: Partial) -> dict[str, object]:
    """response_time_p50/_p95/_p99/_max in seconds, when the log has any response time."""
    t = p.get("response_values")
    if t is None or t.empty:
        return {}
    values = t.index.to_numpy(dtype=np.float64)
    counts = t["n"].to_numpy(dtype=np.int64)
    keep = counts > 0
    if not keep.any():
        return {}
    got = quantiles(values[keep], counts[keep], list(QUANTILES.values()))
    out: dict[str, object] = {k: rounded(v) for k, v in zip(QUANTILES, got, strict=True)}
    out["response_time_max"] = rounded(float(values[keep].max()))
    out["response_time_requests"] = int(counts[keep].sum())
    return out


def rounded(seconds: float) -> float:
    """One spelling of a time in seconds for every section (overview, slow endpoints, slow
    requests, the problems headline): to the microsecond, and past 10**9 s to the 15
    significant digits a float holds, so 123456789012344.98 (a max kept in milliseconds) and
    123456789012345.02 are one value."""
    v = round(float(seconds), 6)
    return float(f"{v:.15g}") if abs(v) >= 1e9 else v


def exact(p: Partial, qs: list[float]) -> tuple[int, list[float]]:
    """(requests with a time, their exact percentiles) from the overview's table; (0, [])
    without one."""
    t = p.get("response_values")
    if t is None or t.empty:
        return 0, []
    counts = t["n"].to_numpy(dtype=np.int64)
    keep = counts > 0
    if not keep.any():
        return 0, []
    values = t.index.to_numpy(dtype=np.float64)[keep]
    return int(counts[keep].sum()), quantiles(values, counts[keep], qs)


# Days a store wrote before qafix19b (this release) keep every time of 10**7 ms and over in
# this bin, the old top (``trends.series``: the histogram then had 401 bins): its middle,
# 9,716 s, stands for times that may be far longer, and no exact span clamps a reading of
# those days. There a percentile is the larger of the interpolated reading and the nearest-rank
# one (what logaudit read before qafix19b: 9,716 s where the rank falls in the bin), so an
# interpolation toward the bin never reads under what older releases showed and hides a breach.
OLD_TOP_BIN = 400
OLD_DAYS_NOTE = (
    "the store's days written before this release hold times over 9,716 s in one bin, read "
    "as 9,716 s: run `logaudit state rebuild LOG...` for exact percentiles"
)


def from_bins(
    bins: np.ndarray,
    counts: np.ndarray,
    qs: list[float],
    lo: float = float("nan"),
    hi: float = float("nan"),
) -> list[float]:
    """Percentiles in seconds of one log-scale histogram (``trends.response_bins``: bin ->
    requests): ``grouped``'s one-group case."""
    order = np.argsort(bins, kind="stable")
    b, c = np.asarray(bins)[order], np.asarray(counts, dtype=np.int64)[order]
    if int(c.sum()) == 0:
        return [float("nan")] * len(qs)
    got = grouped(np.zeros(1, np.int64), b, c, qs, np.array([lo]), np.array([hi]), 1000.0)
    return [float(v[0]) for v in got]


def grouped(
    first: np.ndarray,
    bins: np.ndarray,
    counts: np.ndarray,
    qs: list[float] | tuple[float, ...],
    lo: np.ndarray,
    hi: np.ndarray,
    unit: float,
) -> list[np.ndarray]:
    """Per quantile, the percentile of each group of a log-scale histogram: rows sorted by
    group then bin, ``first`` each group's first row (every group holds a request); times in
    milliseconds / ``unit``, as ``lo``/``hi`` (per group) are.

    Read as pandas reads the values (linear interpolation between the two ranks around
    q x (n - 1)), each rank taken at its bin's middle. A bin's middle is within about 2.9 % of
    any time in the bin (bin 0: under 1 microsecond), so the result is within that of the
    exact percentile (or 0.05 ms once trends round it to 0.1 ms). ``lo``/``hi``, the exact
    shortest and longest time when known, clamp it (the exact one lies between them), and
    two requests with both known are exact (min + q x (max - min)). Where neither is known
    and ``OLD_TOP_BIN`` holds requests (a store's older days), the nearest-rank bin's middle
    is read where it is larger."""
    from logaudit.analyze.trends import bin_value

    counts = np.asarray(counts, dtype=np.int64)
    total = np.add.reduceat(counts, first)
    cum = np.cumsum(counts)
    before = cum[first] - counts[first]
    mid = bin_value(bins) / unit
    known = ~(np.isnan(lo) | np.isnan(hi))
    old = old_groups(first, bins, counts, lo, hi)
    two = (total <= 2) & known
    q = np.asarray(qs, dtype=np.float64)[:, None]  # one row per quantile, a column per group
    rank = (total - 1) * q
    r_lo = np.floor(rank).astype(np.int64)
    r_hi = np.minimum(r_lo + 1, total - 1)
    x_lo = mid[np.searchsorted(cum, before + r_lo, side="right")]
    x_hi = mid[np.searchsorted(cum, before + r_hi, side="right")]
    v = x_lo + (rank - r_lo) * (x_hi - x_lo)
    if old is not None:  # and the smallest bin with ceil(q x n) requests at or below it
        near = np.searchsorted(cum, before + np.ceil(q * total).astype(np.int64))
        v = np.where(old, np.fmax(v, mid[np.minimum(near, len(mid) - 1)]), v)
    v = np.fmax(np.fmin(v, hi), lo)
    if two.any():
        v = np.where(two, lo + q * (hi - lo), v)
    return list(v)


def old_groups(
    first: np.ndarray, bins: np.ndarray, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray | None:
    """Per group of ``grouped``'s arguments, whether ``grouped`` reads it no lower than by
    nearest rank: ``OLD_TOP_BIN`` holds requests and no exact span is known (the reports
    then say ``OLD_DAYS_NOTE``). None when no group is read so."""
    known = ~(np.isnan(lo) | np.isnan(hi))
    top = np.asarray(bins) == OLD_TOP_BIN
    if known.all() or not top.any():
        return None
    return ~known & (np.add.reduceat(np.asarray(counts, dtype=np.int64) * top, first) > 0)


def old_top(bins: np.ndarray, counts: np.ndarray, lo: float, hi: float) -> bool:
    """``old_groups`` of one histogram (``from_bins``'s arguments)."""
    old = old_groups(
        np.zeros(1, np.int64), np.asarray(bins), np.asarray(counts), np.array([lo]), np.array([hi])
    )
    return old is not None and bool(old[0])
