"""Trends: traffic per hour, day, week or month; what changed; what moved; what is unusual.

Every figure below can be checked by hand from the ``periods`` rows.

**Periods.** ``--every hour|day|week|month`` cuts the report zone's wall clock (the record
table's ``local`` column: ``--tz``, else each line's own offset) into local hours, calendar
days, ISO weeks (Monday first) and calendar months. ``auto`` picks from the span of the data,
first to last hit: hours up to 2 days, days up to 62 days, weeks up to 366 days, then months.
Rows run oldest first from the first period with a hit to the last one; a period without hits
is a row of zeros (ratios 0, response times empty), never a gap. An hour is identified by the
instant it starts, so an hour a DST change repeats is two rows and a skipped hour is none.

**Row figures** (METRICS.md): ``hits`` every parsed line; ``page_views`` people's page views;
``visitors`` distinct (client, user agent) keys among people's hits that are not 4xx, *per
period*: for days this is the daily-visitors figure of ``summary``, for hours, weeks and months
a key seen on several days of the period counts once; ``visits`` visits starting in the period
(``clicks_per_visit`` = their page views / visits); ``bandwidth`` response bytes;
``status_4xx``/``status_5xx`` and ``rate_4xx``/``rate_5xx`` (count / hits). ``response_p50_ms``
and ``response_p95_ms`` appear when the log has response times: nearest-rank percentiles from a
histogram of 40 logarithmic bins per decade, so within ±3 % of the exact value (0 ms and
anything under 1 µs count as 0). ``start`` is the period's first instant in ISO 8601 with its
offset: with ``--tz`` the zone's offset at that wall time (DST-aware); without, the offset most
common in the period's first hour with hits (an empty period takes the offset in force at the
end of the previous one).

**Complete periods.** Only the first and the last row can be partial. The last is complete when
``--until`` is at or after its end (taken as the user's word that the log covers it) or the last
hit falls in its final 5 % (3 minutes of an hour, 72 minutes of a day, 8.4 hours of a week,
about 1.5 days of a month); the first likewise with ``--since`` and its first 5 %. The
``complete`` column says which.

**Change.** The last complete period against the one before (when that one is complete too) and,
for hours and days, against the same wall-clock period 7 days earlier (when it lies in the data
and is complete). Change = (last - before) / before, computed from the figures as the
``periods`` rows show them, as ``+12.3%`` with ▲ (rose), ▼ (fell) or = (unchanged at one
decimal); from 0 it is ``new`` (▲), 0 to 0 is ``=``.

**Movers.** Shares of people's page views in the last complete period against the pooled
baseline of up to ``MOVER_BASELINE`` (4) periods before it: pages (path), referring sites
(external referrers only; share among page views with an external referrer), countries
(GeoIP; non-public addresses named as such) and browsers (family). ``change`` is in percentage
points: (share_last - share_before) x 100. An item is listed when it has at least
``MOVER_MIN_ITEM`` (10) page views in the last and baseline periods together and moved at least
``MOVER_MIN_CHANGE`` (1.0) point; a kind is compared only when it has at least
``MOVER_MIN_TOTAL`` (30) page views in each side. Up to ``MOVERS_PER_SIDE`` (3) risers and 3
fallers per kind, largest moves first.

**Unusual periods.** Each complete period is compared with the periods just before it
(``BASELINE``: the previous 24 hours, 7 days, 4 weeks or 6 months, all of them complete).
z = (value - median) / scale, the scale being the baseline's spread measured robustly: the
larger of 1.4826 x MAD (median absolute deviation) and IQR / 1.349 (quartiles interpolated
linearly, as numpy does). Both equal the standard deviation for normal noise and ignore one odd
period; the IQR also keeps a regular cycle that fills a minority of the window (2 weekend days
in 7, 8 night hours in 24) from making every weekend or night unusual, which MAD alone would.
The scale is at least 5 % of the median, and for counts at least the median's square root (the
noise of a count) and 1. A period is flagged for a metric when |z| > ``Z_LIMIT`` (3.5) and it
lies at least the metric's floor from the median (``UNUSUAL_FLOORS``: 20 for counts, 1 MiB of
bandwidth, 100 ms of response time), so tiny counts never flag. Metrics checked: hits,
page_views, visitors, visits, bandwidth, status_4xx, status_5xx, response_p95_ms. A run of
several empty periods is flagged at its start: its first zero widens the next baselines.

**How.** Per chunk, everything is a bincount on integer keys: ``trend_hours`` holds (local hour
number, offset in minutes) -> hits, page views, bytes, 4xx, 5xx, so any period length and the
offset of each period's start come from it at the end; ``trend_response`` a log-scale histogram
per (hour, offset); ``trend_visitor_hours`` distinct (hour, visitor) pairs, for hourly periods
only (other lengths use ``visitor_days``). Visits come from the shared sessionization
(``visits.visits_of``). Movers reuse the page-view events every report keeps for visits
(``pv_events``: wall and UTC time, path, referrer, visitor key) and map each distinct path,
referrer, client and user agent once (``paths``, ``referrers`` and ``visitors`` tables).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from logaudit.analyze import periods as per
from logaudit.analyze.audience import named_places
from logaudit.analyze.base import Context, Partial, SectionSpec, Table
from logaudit.analyze.referrers import external
from logaudit.analyze.spill import partitions
from logaudit.analyze.visits import NEEDS as VISITS_NEEDS
from logaudit.analyze.visits import hash_strings, path_names, referrer_names, visits_of
from logaudit.config import Settings
from logaudit.enrich.classify import visitor_key, zone
from logaudit.report import Section

# Period lengths --every accepts; "auto" picks from the span.
EVERY: tuple[str, ...] = ("auto", *per.UNITS)

# --metric choices: name -> meaning (the column of the `periods` section).
METRICS: dict[str, str] = {
    "hits": "requests",
    "page_views": "page views (people)",
    "visitors": "distinct visitors in the period (daily visitors for days)",
    "visits": "visits starting in the period",
    "clicks_per_visit": "page views per visit",
    "bandwidth": "response bytes",
    "status_4xx": "4xx responses",
    "rate_4xx": "4xx responses / hits",
    "status_5xx": "5xx responses",
    "rate_5xx": "5xx responses / hits",
    "response_p50_ms": "median response time (ms), when the log has one",
    "response_p95_ms": "95th percentile response time (ms), when the log has one",
}
DEFAULT_CHART: tuple[str, ...] = ("hits", "visitors")

EDGE = 0.05  # share of a period at either end within which a hit makes it complete

MOVER_BASELINE = 4
MOVER_MIN_ITEM = 10
MOVER_MIN_TOTAL = 30
MOVER_MIN_CHANGE = 1.0
MOVERS_PER_SIDE = 3

# every -> how many periods before a period form its baseline (all must be complete)
BASELINE: dict[str, int] = {"hour": 24, "day": 7, "week": 4, "month": 6}
Z_LIMIT = 3.5
MAD_TO_SIGMA = 1.4826
IQR_TO_SIGMA = 1 / 1.349
SCALE_FLOOR_SHARE = 0.05
COUNT_METRICS = frozenset({"hits", "page_views", "visitors", "visits", "status_4xx", "status_5xx"})
UNUSUAL_FLOORS: dict[str, float] = {
    "hits": 20,
    "page_views": 20,
    "visitors": 20,
    "visits": 20,
    "bandwidth": 1 << 20,
    "status_4xx": 20,
    "status_5xx": 20,
    "response_p95_ms": 100,
}
CHANGE_METRICS: tuple[str, ...] = tuple(METRICS)

# Response-time histogram: bin 0 holds 0 (and anything under RESP_MIN_MS); bin b >= 1 holds
# [RESP_MIN_MS * 10**((b-1)/40), RESP_MIN_MS * 10**(b/40)); the top bin also holds larger values.
RESP_PER_DECADE = 40
RESP_MIN_MS = 1e-3
RESP_BINS = RESP_PER_DECADE * 10 + 1  # up to 10**7 ms


# ---- per-chunk tables: integer keys, one bincount per figure --------------------------------


def _hour_keys(c: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(local hour numbers, the zone's offset in minutes, UTC seconds) per row. The offset is
    local - UTC, so it is the line's own offset, or the ``--tz`` zone's at that instant."""
    local = c["local"].array.asi8
    utc = c["time"].array.asi8
    return local // per.HOUR, (local - utc) // 60, utc


def _pair_codes(hours: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """One small integer per (hour, offset): (codes, first hour, distinct offsets)."""
    lo = int(hours.min())
    if offsets.min() == offsets.max():  # the usual chunk: one offset
        return hours - lo, lo, offsets[:1].copy()
    values, inverse = np.unique(offsets, return_inverse=True)
    return (hours - lo) * len(values) + inverse, lo, values


def _pair_index(codes: np.ndarray, lo: int, values: np.ndarray) -> pd.MultiIndex:
    n = len(values)
    return pd.MultiIndex.from_arrays(
        [codes // n + lo, values[codes % n].astype(np.int64)], names=["hour", "offset"]
    )


def t_hours(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(local hour, offset) -> hits, page_views, bytes, s4xx, s5xx."""
    hours, offsets, _ = _hour_keys(c)
    codes, lo, values = _pair_codes(hours, offsets)
    status = c["status"].to_numpy()
    hits = np.bincount(codes)
    seen = np.flatnonzero(hits)

    def sums(w: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=w, minlength=len(hits))[seen].astype(np.int64)

    frame = pd.DataFrame(
        {
            "hits": hits[seen].astype(np.int64),
            "page_views": sums(c["is_page"].to_numpy() & c["person"].to_numpy()),
            "bytes": sums(c["bytes"].to_numpy()),
            "s4xx": sums((status >= 400) & (status < 500)),
            "s5xx": sums((status >= 500) & (status < 600)),
        }
    )
    frame.index = _pair_index(seen, lo, values)
    return frame


def t_visitor_hours(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """Distinct (hour instant, visitor) pairs: only hourly trends need them (days, weeks and
    months use ``visitor_days``). Deduplicated per chunk and again at the end."""
    if s.extra.get("every", "auto") not in ("hour", "auto"):
        return pd.DataFrame()
    status = c["status"].to_numpy()
    m = c["person"].to_numpy() & ~((status >= 400) & (status < 500))
    hour = per.of_times(c["local"].array.asi8[m], c["time"].array.asi8[m], "hour")
    return pd.DataFrame({"hour": hour, "visitor": c["visitor"].to_numpy()[m]}).drop_duplicates()


def response_bins(ms: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.floor(RESP_PER_DECADE * np.log10(ms / RESP_MIN_MS)) + 1
    b = np.where(ms >= RESP_MIN_MS, b, 0)
    return np.clip(b, 0, RESP_BINS - 1).astype(np.int64)


def bin_value(b: np.ndarray) -> np.ndarray:
    """A bin's representative: its geometric middle (0 for bin 0)."""
    b = np.asarray(b, dtype=np.float64)
    mid = RESP_MIN_MS * 10 ** ((b - 0.5) / RESP_PER_DECADE)
    return np.where(b > 0, mid, 0.0)


def t_response(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(local hour, offset, bin) -> n: a mergeable log-scale histogram of response times."""
    ms = c["response_time"].to_numpy(dtype=np.float64, na_value=np.nan) * 1000.0
    m = ~np.isnan(ms)
    if not m.any():
        return pd.DataFrame()
    hours, offsets, _ = _hour_keys(c)
    codes, lo, values = _pair_codes(hours[m], offsets[m])
    keys, n = np.unique(codes * RESP_BINS + response_bins(ms[m]), return_counts=True)
    pair = _pair_index(keys // RESP_BINS, lo, values)
    index = pd.MultiIndex.from_arrays(
        [pair.get_level_values(0), pair.get_level_values(1), keys % RESP_BINS],
        names=["hour", "offset", "bin"],
    )
    return pd.DataFrame({"n": n.astype(np.int64)}, index=index)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("trend_hours", t_hours),
        Table("trend_visitor_hours", t_visitor_hours, kind="concat"),
        Table("trend_response", t_response),
    )
}


# ---- finishing: the series, computed once per report ---------------------------------------


@dataclass
class Trend:
    every: str
    ids: np.ndarray  # period ids (periods.py), oldest first, no gaps
    wall_start: np.ndarray
    wall_end: np.ndarray
    offsets: np.ndarray  # minutes, at each period's start
    labels: list[str]
    starts: list[str]  # ISO 8601 with offset
    complete: np.ndarray
    values: pd.DataFrame  # one row per period, one column per metric (METRICS order)
    unusual: pd.DataFrame  # period index, metric, value, baseline_median, z
    notes: list[str] = field(default_factory=list)

    def present(self, metric: str) -> bool:
        return metric in self.values

    def last_complete(self) -> int | None:
        done = np.flatnonzero(self.complete)
        return int(done[-1]) if len(done) else None


def trend_of(p: Partial, ctx: Context) -> Trend | None:
    return ctx.once("trend", lambda: _build(p, ctx))


def _positions(ids: np.ndarray, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row position of each period id, and which ids are rows at all."""
    pos = np.searchsorted(ids, pid)
    ok = pos < len(ids)
    ok[ok] = ids[pos[ok]] == pid[ok]
    return pos, ok


def _count(pos: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``weights`` (default: rows) per period position, as integers."""
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    return np.rint(np.bincount(pos, weights=w, minlength=n)).astype(np.int64)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, 0 where b is 0 (an empty period's ratios are zeros like its counts)."""
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


def _build(p: Partial, ctx: Context) -> Trend | None:
    th = p.get("trend_hours")
    if th is None or th.empty:
        return None
    s = ctx.settings
    hours = th.index.get_level_values("hour").to_numpy(np.int64)
    offs = th.index.get_level_values("offset").to_numpy(np.int64)
    every = per.choose(str(s.extra.get("every") or "auto"), int(hours.max() - hours.min() + 1))
    pid = per.of_hours(hours, offs, every)
    # Only the most recent periods become rows (periods.PERIOD_ROWS); earlier hours are left
    # out of the series here, before any per-period array is made.
    lo = per.capped_low(int(pid.min()), int(pid.max()), every, per.period_cap(s.top))
    cut = pid < lo
    if cut.any():
        th, hours, offs, pid = th[~cut], hours[~cut], offs[~cut], pid[~cut]
    ids = per.span(min(lo, int(pid.min())), int(pid.max()), every, np.unique(pid))
    n = len(ids)
    pos, _ = _positions(ids, pid)
    hits = th["hits"].to_numpy()

    offsets = _start_offsets(ids, every, pos, hours, offs, hits, s.tz)
    wall_start, wall_end = per.wall_bounds(ids, offsets, every)
    labels = [per.label(int(w), every) for w in wall_start]
    starts = [per.iso(int(w), int(o)) for w, o in zip(wall_start, offsets, strict=True)]

    v = pd.DataFrame(index=pd.RangeIndex(n))
    v["hits"] = _count(pos, n, hits)
    v["page_views"] = _count(pos, n, th["page_views"].to_numpy())
    v["visitors"] = _visitors(p, ids, every)
    visits, clicks = _visits(p, ctx, ids, every)
    v["visits"] = visits
    v["clicks_per_visit"] = np.round(_ratio(clicks, visits), 3)
    v["bandwidth"] = _count(pos, n, th["bytes"].to_numpy())
    hits_all = v["hits"].to_numpy()
    for k in ("4xx", "5xx"):
        cnt = _count(pos, n, th[f"s{k}"].to_numpy())
        v[f"status_{k}"] = cnt
        v[f"rate_{k}"] = np.round(_ratio(cnt, hits_all), 4)
    resp = _response(p, ids, every)
    if resp is not None:
        v["response_p50_ms"], v["response_p95_ms"] = resp

    complete = _complete(p, s, every, ids, wall_start, wall_end)
    unusual = _unusual(v, complete, every)
    t = Trend(every, ids, wall_start, wall_end, offsets, labels, starts, complete, v, unusual)
    if cut.any():
        t.notes.append(per.cap_note(n, every))
    return t


def _start_offsets(
    ids: np.ndarray,
    every: str,
    pos: np.ndarray,
    hours: np.ndarray,
    offs: np.ndarray,
    hits: np.ndarray,
    tz: str | None,
) -> np.ndarray:
    n = len(ids)
    z = zone(tz)
    if z is not None:
        if every == "hour":
            return np.array([per.zone_offset_at_instant(z, int(i)) for i in ids], dtype=np.int64)
        days = per.start_day(ids, every)
        return np.array(
            [per.zone_offset_at_wall(z, int(d) * per.DAY) for d in days], dtype=np.int64
        )
    # The log's own offsets: the most common one in each period's first (and last) hour.
    instant = hours * per.HOUR - offs * 60
    first = np.lexsort((-hits, instant, pos))
    last = np.lexsort((-hits, -instant, pos))
    first_off = pd.Series(offs[first]).groupby(pos[first], sort=False).first()
    last_off = pd.Series(offs[last]).groupby(pos[last], sort=False).first()
    start = first_off.reindex(range(n))
    carried = last_off.reindex(range(n)).ffill().shift(1)
    return start.fillna(carried).bfill().fillna(0).to_numpy(np.int64)


def _visitors(p: Partial, ids: np.ndarray, every: str) -> np.ndarray:
    n = len(ids)
    if every == "hour":
        vh = p.get("trend_visitor_hours", pd.DataFrame())
        if vh.empty:
            return np.zeros(n, np.int64)
        key = vh["hour"].to_numpy(np.int64)
        distinct = pd.DataFrame({"hour": key, "visitor": vh["visitor"].to_numpy()})
        key = distinct.drop_duplicates()["hour"].to_numpy(np.int64)
    else:
        vd = p.get("visitor_days", pd.DataFrame())
        if vd.empty:
            return np.zeros(n, np.int64)
        # visitor_days is already one row per (day, visitor).
        key = per.of_days(vd.index.get_level_values("day").to_numpy(np.int64), every)
        if every != "day":
            pairs = pd.DataFrame({"p": key, "v": vd.index.get_level_values("visitor").to_numpy()})
            key = pairs.drop_duplicates()["p"].to_numpy(np.int64)
    pos, ok = _positions(ids, key)
    return _count(pos[ok], n)


def _visits(p: Partial, ctx: Context, ids: np.ndarray, every: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(ids)
    vt = visits_of(p, ctx).table
    if vt.empty:
        return np.zeros(n, np.int64), np.zeros(n, np.int64)
    # A visit belongs to the period it starts in.
    vp = per.of_times(vt["start_local"].to_numpy(), vt["start"].to_numpy(), every)
    pos, ok = _positions(ids, vp)
    return _count(pos[ok], n), _count(pos[ok], n, vt["clicks"].to_numpy()[ok])


def _response(p: Partial, ids: np.ndarray, every: str) -> tuple[np.ndarray, np.ndarray] | None:
    tr = p.get("trend_response")
    if tr is None or tr.empty:
        return None
    hours = tr.index.get_level_values("hour").to_numpy(np.int64)
    offs = tr.index.get_level_values("offset").to_numpy(np.int64)
    pos, ok = _positions(ids, per.of_hours(hours, offs, every))
    h = pd.DataFrame(
        {
            "pos": pos[ok],
            "bin": tr.index.get_level_values("bin").to_numpy(np.int64)[ok],
            "n": tr["n"].to_numpy()[ok],
        }
    )
    h = h.groupby(["pos", "bin"], sort=True)["n"].sum().reset_index()
    cum = h.groupby("pos")["n"].cumsum().to_numpy()
    total = h.groupby("pos")["n"].transform("sum").to_numpy()
    out = []
    for q in (0.50, 0.95):
        # Nearest rank: the smallest value with at least ceil(q * n) values at or below it.
        reached = cum >= np.ceil(q * total)
        first = h[reached].drop_duplicates("pos")
        col = np.full(len(ids), np.nan)
        col[first["pos"].to_numpy()] = np.round(bin_value(first["bin"].to_numpy()), 1)
        out.append(col)
    return out[0], out[1]


def _complete(
    p: Partial,
    s: Settings,
    every: str,
    ids: np.ndarray,
    wall_start: np.ndarray,
    wall_end: np.ndarray,
) -> np.ndarray:
    n = len(ids)
    complete = np.ones(n, dtype=bool)
    tot = p.get("totals")
    if tot is None or tot.empty:
        return complete
    row = tot.iloc[0]
    length = wall_end - wall_start
    until = int(pd.Timestamp(s.until).value // 10**9) if s.until is not None else None
    since = int(pd.Timestamp(s.since).value // 10**9) if s.since is not None else None
    if every == "hour":
        # Hours are instants: compare instants (a repeated wall hour stays unambiguous).
        last_hit = int(row["last"]) - int(ids[-1]) + int(wall_start[-1])
        first_hit = int(row["first"]) - int(ids[0]) + int(wall_start[0])
    else:
        last_hit, first_hit = int(row["last_local"]), int(row["first_local"])
    end_ok = last_hit >= wall_end[-1] - EDGE * length[-1]
    start_ok = first_hit <= wall_start[0] + EDGE * length[0]
    complete[-1] = end_ok or (until is not None and until >= wall_end[-1])
    complete[0] &= start_ok or (since is not None and since <= wall_start[0])
    return complete


def _unusual(v: pd.DataFrame, complete: np.ndarray, every: str) -> pd.DataFrame:
    """Rows (pos, metric, value, baseline_median, z) of the flagged periods."""
    k = BASELINE[every]
    n = len(v)
    back = np.arange(n)[:, None] - np.arange(1, k + 1)[None, :]
    valid = back >= 0
    valid[valid] = complete[back[valid]]
    checked = complete & valid.all(axis=1)
    rows = []
    for metric, floor in UNUSUAL_FLOORS.items():
        if metric not in v or not checked.any():
            continue
        x = v[metric].to_numpy(np.float64)
        base = np.where(valid & checked[:, None], x[np.clip(back, 0, None)], np.nan)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are not checked
            med = np.nanmedian(base, axis=1)
            mad = np.nanmedian(np.abs(base - med[:, None]), axis=1)
            q1, q3 = np.nanpercentile(base, [25, 75], axis=1)
            scale = np.fmax(MAD_TO_SIGMA * mad, IQR_TO_SIGMA * (q3 - q1))
            scale = np.fmax(scale, SCALE_FLOOR_SHARE * np.abs(med))
            if metric in COUNT_METRICS:
                scale = np.fmax(scale, np.fmax(np.sqrt(np.abs(med)), 1.0))
            z = (x - med) / np.fmax(scale, 1e-9)
        flag = checked & ~np.isnan(x) & (np.abs(z) > Z_LIMIT) & (np.abs(x - med) >= floor)
        for j in np.flatnonzero(flag):
            rows.append(
                {
                    "pos": int(j),
                    "metric": metric,
                    "value": _num(x[j], metric),
                    "baseline_median": _num(med[j], metric),
                    "z": round(float(z[j]), 1),
                }
            )
    order = {m: k for k, m in enumerate(METRICS)}
    rows.sort(key=lambda r: (r["pos"], order[str(r["metric"])]))
    # Object columns keep counts as integers next to fractional medians and times.
    return pd.DataFrame(
        rows, columns=["pos", "metric", "value", "baseline_median", "z"], dtype=object
    ).astype({"pos": np.int64, "z": np.float64})


def _num(x: float, metric: str) -> int | float:
    """Counts and bytes as integers (a median of an even count can end in .5)."""
    if metric.endswith("_ms") or metric.startswith("rate_") or metric == "clicks_per_visit":
        return round(float(x), 4)
    return int(x) if float(x).is_integer() else round(float(x), 1)


# ---- sections -----------------------------------------------------------------------------


_PER = {"hour": "hour", "day": "day", "week": "ISO week", "month": "calendar month"}


def _empty(name: str, title: str, note: str = "no request in the chosen period") -> Section:
    return Section(name, title, pd.DataFrame(), note=note)


def chosen_metrics(t: Trend, s: Settings) -> tuple[list[str], list[str]]:
    """(metrics to chart, those asked for that this log cannot give)."""
    asked = tuple(s.extra.get("metrics") or ()) or DEFAULT_CHART
    return [m for m in asked if t.present(m)], [m for m in asked if not t.present(m)]


def sec_periods(p: Partial, ctx: Context) -> Section:
    title = "Traffic per period"
    t = trend_of(p, ctx)
    if t is None:
        return _empty("periods", title)
    title = f"Traffic per {_PER[t.every]}"
    flagged = t.unusual.groupby("pos")["metric"].agg(", ".join) if len(t.unusual) else None
    rows = pd.DataFrame({"period": t.labels, "start": t.starts})
    rows = pd.concat([rows, t.values], axis=1)
    rows["complete"] = t.complete
    rows["unusual"] = (
        flagged.reindex(range(len(rows)), fill_value="").to_numpy() if flagged is not None else ""
    )
    charted, missing = chosen_metrics(t, ctx.settings)
    notes = [
        f"visitors: distinct (IP, user agent) per {_PER[t.every]}, 4xx hits left out",
        "empty periods are zeros",
    ]
    partial = [t.labels[i] for i in (0, len(t.labels) - 1) if not t.complete[i]]
    if partial:
        notes.append("partial: " + ", ".join(dict.fromkeys(partial)))
    if missing:
        notes.append("not in this log: " + ", ".join(missing))
    notes.extend(t.notes)
    return Section(
        "periods",
        title,
        rows,
        len(rows),
        note="; ".join(notes),
        chart=charted[0] if charted else None,
        headline={
            "every": t.every,
            "periods": len(rows),
            "first": t.starts[0],
            "last": t.starts[-1],
            "complete_last": bool(t.complete[-1]),
        },
        sparklines={m: [float(x) for x in t.values[m]] for m in charted},
        narrow_drop=(
            "start",
            "clicks_per_visit",
            "rate_4xx",
            "rate_5xx",
            "response_p50_ms",
            "status_4xx",
            "complete",
            "bandwidth",
        ),
    )


def change_text(now: float, before: float) -> tuple[float | None, str]:
    """(percentage, 'arrow +12.3%'); percentage None when ``before`` is 0."""
    if before == 0:
        return (None, "▲ new") if now > 0 else (0.0, "= +0.0%")
    pct = round((now - before) / before * 100, 1)
    arrow = "▲" if pct > 0 else "▼" if pct < 0 else "="
    return pct, f"{arrow} {pct:+.1f}%"


def _week_back(t: Trend, i: int) -> int | None:
    if t.every not in ("hour", "day"):
        return None
    target = t.wall_start[i] - 7 * per.DAY
    hit = np.flatnonzero(t.wall_start == target)
    if not len(hit) or not t.complete[hit[0]]:
        return None
    return int(hit[0])


def sec_change(p: Partial, ctx: Context) -> Section:
    title = "Change"
    t = trend_of(p, ctx)
    if t is None:
        return _empty("change", title)
    last = t.last_complete()
    if last is None or last == 0 or not t.complete[last - 1]:
        return _empty("change", title, "needs two complete periods in a row")
    prev = last - 1
    week = _week_back(t, last)
    rows = []
    for m in CHANGE_METRICS:
        if not t.present(m):
            continue
        now, before = _figure(t, m, last), _figure(t, m, prev)
        if now is None:  # no response time logged in the last period
            continue
        pct, text = change_text(now, before) if before is not None else (None, "")
        row: dict[str, object] = {
            "metric": m,
            "last": now,
            "previous": before,
            "change_pct": pct,
            "change": text,
        }
        if t.every in ("hour", "day"):
            ago = _figure(t, m, week) if week is not None else None
            wpct, wtext = change_text(now, ago) if ago is not None else (None, "")
            row.update(week_before=ago, week_change_pct=wpct, week_change=wtext)
        rows.append(row)
    frame = pd.DataFrame(rows, dtype=object)
    note = f"{t.labels[last]} against {t.labels[prev]}"
    if t.every in ("hour", "day"):
        note += (
            f" and {t.labels[week]} (a week earlier)"
            if week is not None
            else ("; no complete period a week earlier in the data")
        )
    return Section(
        "change",
        f"Change: last complete {_PER[t.every]}",
        frame,
        len(frame),
        note=note,
        headline={
            "period": t.labels[last],
            "start": t.starts[last],
            "previous": t.labels[prev],
            "week_before": t.labels[week] if week is not None else None,
        },
        narrow_drop=("change_pct", "week_change_pct"),
    )


def _figure(t: Trend, metric: str, i: int) -> int | float | None:
    """One period's figure as a Python number; None where there is none (NaN)."""
    v = t.values[metric].iloc[i].item()
    return None if isinstance(v, float) and math.isnan(v) else v


# Movers: kind -> function(p, ctx, event frame) -> (item per event or None, note)
Mapper = Callable[[Partial, Context, pd.DataFrame], tuple[pd.Series | None, str]]


def _pages(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    keys = pd.Index(ev["path_h"].unique())
    names = path_names(p).reindex(keys)
    return pd.Series(names.to_numpy(), index=keys), ""


def _sites(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    keys = pd.Index(ev["ref_h"].unique())
    refs = referrer_names(p).reindex(keys).dropna()
    # The referring-sites sections' own split (cached per report): sites of external referrers.
    ext, _, _ = external(p, ctx)
    site = ext["site"].reindex(refs.to_numpy()) if len(ext) else pd.Series(np.nan, index=refs)
    found = site.notna().to_numpy()
    return pd.Series(site.to_numpy()[found], index=refs.index[found]), ""


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


def _countries(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    if ctx.geo is None:
        return None, "countries: no GeoIP lookup in this run"
    if not ctx.geo_places:
        return None, "countries: no GeoIP country data (see --geoip-dir)"
    who = _who(p, ctx, ev)
    if who is None:
        return None, "countries: needs the visitors table"
    places = named_places(ctx.geo(pd.Index(who["client"].unique())), ("country",))
    kind = places["address_kind"].astype(object)
    country = places["country"].astype(object)
    item = country.reindex(who["client"].to_numpy()).to_numpy(dtype=object)
    if not (country[kind == "public"] != "unknown").any():
        return None, "countries: no GeoIP country data (see --geoip-dir)"
    return pd.Series(item, index=who.index), ""


def _browsers(p: Partial, ctx: Context, ev: pd.DataFrame) -> tuple[pd.Series | None, str]:
    if ctx.agents is None:
        return None, "browsers: user-agent parsing is not available"
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
    # Only the compared periods' page views, gathered one partition at a time.
    kept: list[pd.DataFrame] = []
    for part in partitions(p.get("pv_events")):
        pid = per.of_times(part["local"].to_numpy(), part["utc"].to_numpy(), t.every)
        in_last = pid == t.ids[last]
        keep = in_last | np.isin(pid, t.ids[base])
        kept.append(part[keep].assign(in_last=in_last[keep]))
    if not kept:
        return _empty("movers", title, "no page views")
    ev = kept[0] if len(kept) == 1 else pd.concat(kept, ignore_index=True)
    in_last = ev["in_last"].to_numpy()
    rows: list[pd.DataFrame] = []
    notes: list[str] = []
    for kind, col, mapper in MOVER_KINDS:
        items, why = mapper(p, ctx, ev)
        if items is None:
            notes.append(why)
            continue
        moved, why = _moves(kind, ev[col].to_numpy(), in_last, items)
        if why:
            notes.append(why)
        rows.append(moved)
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    span = f"{t.labels[base[0]]}..{t.labels[base[-1]]}" if len(base) > 1 else t.labels[base[0]]
    notes.insert(0, f"share of page views in {t.labels[last]} against {span}; change in points")
    return Section(
        "movers",
        f"Movers: last complete {_PER[t.every]}",
        frame,
        len(frame),
        note="; ".join(notes),
        headline={"period": t.labels[last], "baseline": [t.labels[i] for i in base]},
    )


def _moves(
    kind: str, keys: np.ndarray, in_last: np.ndarray, items: pd.Series
) -> tuple[pd.DataFrame, str]:
    """Risers and fallers of one kind; items maps each key to its text (missing: not counted)."""
    cols = ["kind", "item", "share_before", "share_last", "change", "count_last", "count_before"]
    # Page views per key on each side, by counting codes (a value_counts over the pairs was
    # a quarter of the section's time at 5M lines).
    codes, uniq = pd.factorize(keys)
    n = len(uniq)
    counts = pd.DataFrame(
        {
            False: np.bincount(codes[~in_last], minlength=n),
            True: np.bincount(codes[in_last], minlength=n),
        },
        index=pd.Index(items.reindex(uniq).to_numpy(dtype=object)),
    )
    counts = counts[counts.index.notna()].groupby(level=0).sum()
    before, now = counts[False], counts[True]
    if before.sum() < MOVER_MIN_TOTAL or now.sum() < MOVER_MIN_TOTAL:
        return pd.DataFrame(columns=cols), f"{kind}s: under {MOVER_MIN_TOTAL} page views a side"
    share_b = before / before.sum()
    share_l = now / now.sum()
    change = ((share_l - share_b) * 100).round(2)
    f = pd.DataFrame(
        {
            "kind": kind,
            "item": counts.index.astype(str),
            "share_before": share_b.round(4).to_numpy(),
            "share_last": share_l.round(4).to_numpy(),
            "change": change.to_numpy(),
            "count_last": now.to_numpy(),
            "count_before": before.to_numpy(),
        }
    )
    f = f[
        (f["count_last"] + f["count_before"] >= MOVER_MIN_ITEM)
        & (f["change"].abs() >= MOVER_MIN_CHANGE)
    ]
    up = f[f["change"] > 0].sort_values(["change", "item"], ascending=[False, True])
    down = f[f["change"] < 0].sort_values(["change", "item"], ascending=[True, True])
    return pd.concat([up.head(MOVERS_PER_SIDE), down.head(MOVERS_PER_SIDE)])[cols], ""


def sec_unusual(p: Partial, ctx: Context) -> Section:
    title = "Unusual periods"
    t = trend_of(p, ctx)
    if t is None:
        return _empty("unusual", title)
    k = BASELINE[t.every]
    note = (
        f"baseline: the previous {k} {t.every}s, all complete; flagged when |z| > {Z_LIMIT} "
        "and far enough from the median"
    )
    u = t.unusual
    if u.empty:
        return Section("unusual", title, pd.DataFrame(), note="none; " + note)
    pos = u["pos"].to_numpy()
    rows = pd.DataFrame(
        {
            "period": [t.labels[i] for i in pos],
            "start": [t.starts[i] for i in pos],
            "metric": u["metric"].to_numpy(),
            "value": u["value"].to_numpy(),
            "baseline_median": u["baseline_median"].to_numpy(),
            "z": u["z"].to_numpy(),
        }
    )
    return Section("unusual", title, rows, len(rows), note=note, narrow_drop=("start",))


NEEDS_PERIODS: tuple[str, ...] = (
    "trend_hours",
    "trend_visitor_hours",
    "trend_response",
    "totals",
    "visitor_days",
    *VISITS_NEEDS,
)

SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("periods", "Traffic per period", sec_periods, NEEDS_PERIODS),
    SectionSpec("change", "Change since the period before", sec_change, NEEDS_PERIODS),
    SectionSpec(
        "movers",
        "Movers: pages, sites, countries, browsers",
        sec_movers,
        (*NEEDS_PERIODS, "vhosts", "visitors"),
    ),
    SectionSpec("unusual", "Unusual periods", sec_unusual, NEEDS_PERIODS),
)
