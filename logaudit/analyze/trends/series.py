"""The trend series: per-chunk tables on integer keys, and the per-period figures
built from them once per report (``Trend``), which every trends section reads.

The rules are in the package docstring (``logaudit.analyze.trends``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from logaudit.analyze import periods as per
from logaudit.analyze import timing, visitcounts
from logaudit.analyze.base import Context, Partial, Table, int_bincount
from logaudit.analyze.visits import visits_of
from logaudit.config import Settings
from logaudit.enrich.classify import zone
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

# The digest's own rule for a day its logs cover from the start (digest._covered): a first
# hit within this share of the day. Trends' periods use EDGE_TOLERANCE (below).
EDGE = 0.05

# A period is complete when the inputs cover it wholly: its first (last) line lies within
# EDGE_TOLERANCE seconds of its start (end), or within EDGE_SPACINGS times the report's mean
# time between lines (a quiet log: one line an hour ends a whole day at 21:00 or later).
EDGE_TOLERANCE: dict[str, int] = {"hour": 60, "day": 15 * 60, "week": 2 * 3600, "month": 2 * 3600}
EDGE_SPACINGS = 3
EDGE_SHARE_MAX = 1 / 8
# A gap: periods without a line inside the span that no input covers (``trend_inputs``). Where
# the inputs are not all known (a store's days written before it was kept) no run is called a
# gap (an outage looks the same: rev23-qafix23b 1): such a run is zeros, as before, and the
# note says it may be either when it lasts at least GAP_HOURS.
GAP_HOURS = 24

CHANGE_METRICS: tuple[str, ...] = tuple(METRICS)

# Response-time histogram: bin 0 holds 0 (and anything under RESP_MIN_MS); bin b >= 1 holds
# [RESP_MIN_MS * 10**((b-1)/40), RESP_MIN_MS * 10**(b/40)), up to 10**18 ms: every time the
# reader accepts (under 10**15 of the log's unit, seconds at most). Before qafix19b (this
# release; the schema is still 12) the top was 10**7 ms, its last bin (400) holding every
# longer time: a store's days written then keep that (``timing.OLD_TOP_BIN``).
RESP_PER_DECADE = 40
RESP_MIN_MS = 1e-3
RESP_BINS = RESP_PER_DECADE * 21 + 1


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
        return int_bincount(codes, w, len(hits))[seen].astype(np.int64)

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


def _timed(c: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int, np.ndarray] | None:
    """The timed requests' response times (ms) and their (local hour, offset) pair codes
    (``_pair_codes``), or None when no request has a time."""
    ms = c["response_time"].to_numpy(dtype=np.float64, na_value=np.nan) * 1000.0
    m = ~np.isnan(ms)
    if not m.any():
        return None
    hours, offsets, _ = _hour_keys(c)
    codes, lo, values = _pair_codes(hours[m], offsets[m])
    return ms[m], codes, lo, values


def t_response(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(local hour, offset, bin) -> n: a mergeable log-scale histogram of response times."""
    timed_rows = _timed(c)
    if timed_rows is None:
        return pd.DataFrame()
    ms, codes, lo, values = timed_rows
    keys, n = np.unique(codes * RESP_BINS + response_bins(ms), return_counts=True)
    pair = _pair_index(keys // RESP_BINS, lo, values)
    index = pd.MultiIndex.from_arrays(
        [pair.get_level_values(0), pair.get_level_values(1), keys % RESP_BINS],
        names=["hour", "offset", "bin"],
    )
    return pd.DataFrame({"n": n.astype(np.int64)}, index=index)


RANGE = {"min_ms": "min", "max_ms": "max", "timed": "sum"}


def t_response_range(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(local hour, offset) -> the shortest and longest response time (ms) and the count they
    are over: a period's percentiles are clamped between them (``_response``)."""
    timed_rows = _timed(c)
    if timed_rows is None:
        return pd.DataFrame()
    ms, codes, lo, values = timed_rows
    timed = np.bincount(codes)  # small integer codes, as t_hours counts them
    least, most = np.full(len(timed), np.inf), np.full(len(timed), -np.inf)
    np.minimum.at(least, codes, ms)
    np.maximum.at(most, codes, ms)
    seen = np.flatnonzero(timed)
    frame = pd.DataFrame(
        {"min_ms": least[seen], "max_ms": most[seen], "timed": timed[seen].astype(np.int64)}
    )
    frame.index = _pair_index(seen, lo, values)
    return frame


INPUT_SPAN = {"first": "min", "last": "max"}


def t_inputs(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """input -> its first and last line's UTC second: what each input covers, so that a
    stretch without a line is told a gap (no input covers it) from quiet traffic. A store
    keeps it per day (each day's lines of each input), merged by min and max to the same."""
    if not len(c):
        return pd.DataFrame()
    utc = c["time"].array.asi8
    f = c["file"].array
    codes = np.asarray(f.codes, dtype=np.int64)
    names = f.categories
    if codes.min() == codes.max():  # the usual chunk: one input
        at = np.array([codes[0]])
        first, last = np.array([utc.min()]), np.array([utc.max()])
    else:
        k = len(names)
        first = np.full(k, np.iinfo(np.int64).max)
        last = np.full(k, np.iinfo(np.int64).min)
        np.minimum.at(first, codes, utc)
        np.maximum.at(last, codes, utc)
        at = np.flatnonzero(np.bincount(codes, minlength=k))
        first, last = first[at], last[at]
    index = pd.Index([str(names[int(i)]) for i in at], name="file")  # per input, not line
    return pd.DataFrame({"first": first.astype(np.int64), "last": last.astype(np.int64)}, index)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("trend_hours", t_hours),
        Table("trend_inputs", t_inputs, agg=INPUT_SPAN),
        Table("trend_visitor_hours", t_visitor_hours, kind="concat"),
        Table("trend_response", t_response),
        Table("trend_response_range", t_response_range, agg=RANGE),
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
    # Per period, whether its response percentiles are read no lower than by nearest rank
    # (a store's older days: ``timing.old_groups``); empty when none is.
    read_old: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # The ratios before rounding (values holds them rounded for display): a change is computed
    # from these, so that it is the counts' change and not the rounding's.
    exact: dict[str, np.ndarray] = field(default_factory=dict)
    # Per period, whether it lies in a gap (no input covers it: ``_gaps``); and why each
    # partial period is partial ("2026-W04 ends 8 h before the week does"), by position.
    gap: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    why: dict[int, str] = field(default_factory=dict)

    def present(self, metric: str) -> bool:
        return metric in self.values

    def old_days_note(self, at: Iterable[int]) -> str:
        """``timing.OLD_DAYS_NOTE`` when a period of ``at`` shows percentiles read so, else
        "" (problems' headline says the same of its window)."""
        old = len(self.read_old) and self.read_old[np.asarray(list(at), dtype=np.int64)].any()
        return timing.OLD_DAYS_NOTE if old else ""

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
    if weights is not None and np.asarray(weights).dtype.kind in "iub":
        return int_bincount(pos, np.asarray(weights), n).astype(np.int64, copy=False)
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
    labels = per.labels(wall_start, offsets, every, zone(s.tz))
    starts = [per.iso(int(w), int(o)) for w, o in zip(wall_start, offsets, strict=True)]

    v = pd.DataFrame(index=pd.RangeIndex(n))
    v["hits"] = _count(pos, n, hits)
    v["page_views"] = _count(pos, n, th["page_views"].to_numpy())
    v["visitors"] = _visitors(p, ids, every)
    visits, clicks = _visits(p, ctx, ids, every)
    v["visits"] = visits
    exact = {"clicks_per_visit": _ratio(clicks, visits)}
    v["clicks_per_visit"] = np.round(exact["clicks_per_visit"], 3)
    v["bandwidth"] = _count(pos, n, th["bytes"].to_numpy())
    hits_all = v["hits"].to_numpy()
    for k in ("4xx", "5xx"):
        cnt = _count(pos, n, th[f"s{k}"].to_numpy())
        v[f"status_{k}"] = cnt
        exact[f"rate_{k}"] = _ratio(cnt, hits_all)
        v[f"rate_{k}"] = np.round(exact[f"rate_{k}"], 4)
    resp = _response(p, ids, every)
    read_old = np.zeros(n, dtype=bool)
    if resp is not None:
        v["response_p50_ms"], v["response_p95_ms"], read_old = resp

    edges = (pos, hours, offs, hits)
    bounds = (wall_start, wall_end, offsets)
    gap, gap_notes, silent, reach = _gaps(
        edges, hits_all, every, labels, bounds, p.get("trend_inputs")
    )
    spacing = _spacing(p, float(hits_all.sum()), silent)
    why = _gap_edges(gap, reach, bounds, every, spacing, labels)
    complete, ends = _complete(p, s, every, ids, wall_start, wall_end, spacing, labels)
    complete &= ~gap
    why = {**why, **ends}
    for i in list(why):
        complete[i] = False
    from logaudit.analyze.trends.unusual import _unusual  # it reads this module

    unusual = _unusual(v, complete, every)
    t = Trend(every, ids, wall_start, wall_end, offsets, labels, starts, complete, v, unusual)
    t.exact = exact
    t.read_old = read_old
    t.gap, t.why = gap, dict(sorted(why.items()))
    t.notes.extend(gap_notes)
    if cut.any():
        t.notes.append(per.cap_note(n, every))
    return t


def _tolerance(every: str, spacing: float, length: float) -> float:
    """Seconds a period's first or last line may lie from its bound: EDGE_TOLERANCE, or
    EDGE_SPACINGS mean times between lines up to EDGE_SHARE_MAX of the period (a log of a
    few lines a day does not make a day that starts at noon whole)."""
    return max(float(EDGE_TOLERANCE[every]), min(EDGE_SPACINGS * spacing, EDGE_SHARE_MAX * length))


def _spacing(p: Partial, lines: float, silent: float) -> float:
    """The report's mean seconds between lines: its span (first to last line, UTC) less
    its gaps, over its lines."""
    tot = p.get("totals")
    if tot is None or tot.empty or not lines:
        return 0.0
    row = tot.iloc[0]
    return max(0.0, float(int(row["last"]) - int(row["first"]) + 1) - silent) / lines


def _gap_edges(
    gap: np.ndarray,
    reach: tuple[np.ndarray, np.ndarray],
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray],
    every: str,
    spacing: float,
    labels: list[str],
) -> dict[int, str]:
    """Why the periods around a gap are partial: their lines stop (start) farther than the
    tolerance from its end (start), read to the hour (``reach``: per period the wall second
    its first hour with lines starts and its last one ends)."""
    first_wall, last_wall = reach
    wall_start, wall_end, _ = bounds
    why: dict[int, str] = {}
    unit = _PER[every]
    for k in np.flatnonzero(gap & ~np.r_[False, gap[:-1]]).tolist():
        short = float(wall_end[k - 1] - last_wall[k - 1])
        if short > _tolerance(every, spacing, float(wall_end[k - 1] - wall_start[k - 1])):
            why[k - 1] = f"{labels[k - 1]} ends {duration(short)} before the {unit} does (a gap)"
    for k in np.flatnonzero(gap & ~np.r_[gap[1:], False]).tolist():
        late = float(first_wall[k + 1] - wall_start[k + 1])
        if late > _tolerance(every, spacing, float(wall_end[k + 1] - wall_start[k + 1])):
            why[k + 1] = f"{labels[k + 1]} starts {duration(late)} after the {unit} does (a gap)"
    return why


def duration(seconds: float) -> str:
    """A shortfall as a person reads it: 45 s, 3 min, 8 h, 2.5 d."""
    s = float(seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.0f} h"
    return f"{s / 86400:.1f} d" if s < 10 * 86400 else f"{s / 86400:,.0f} d"


def _gaps(
    edges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    hits: np.ndarray,
    every: str,
    labels: list[str],
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray],
    inputs: pd.DataFrame | None,
) -> tuple[np.ndarray, list[str], float, tuple[np.ndarray, np.ndarray]]:
    """(gap, notes, silent, reach): which periods lie in a gap, the note that says the gaps,
    their seconds without a line, and per period the wall second its first hour with lines
    starts and its last one ends (``_gap_edges``).

    A gap is a run of periods without a line that no input covers: no input has lines both
    before and after it (``trend_inputs``, kept in the store's days too: a rotated set missing
    members, logs of other years). Where the inputs are not all known (a store's days written
    before this release: the inputs' lines do not reach the report's first or last hour), no
    run is a gap: an outage looks the same; a silence of GAP_HOURS or more is said, as either.
    Any other run of empty periods is quiet traffic: zeros."""
    pos, hours, offs, _ = edges
    wall_start, wall_end, offsets = bounds
    instant = hours * per.HOUR - offs * 60  # UTC second each hour with lines starts
    cover = None
    if inputs is not None and not inputs.empty:
        cover = (inputs["first"].to_numpy(np.int64), inputs["last"].to_numpy(np.int64))
        if cover[0].min() >= instant.min() + per.HOUR or cover[1].max() < instant.max():
            cover = None  # a store's days written before the table was kept: not all known
    n = len(hits)
    gap = np.zeros(n, dtype=bool)
    notes: list[str] = []
    first_inst = np.full(n, np.iinfo(np.int64).max)
    last_inst = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first_inst, pos, instant)
    np.maximum.at(last_inst, pos, instant)
    first_wall = np.full(n, np.iinfo(np.int64).max)
    last_wall = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first_wall, pos, hours * per.HOUR)
    np.maximum.at(last_wall, pos, hours * per.HOUR + per.HOUR)
    empty = hits == 0
    silent = 0.0
    spells: list[str] = []
    unknown: list[str] = []
    # Runs of empty periods with periods with lines on both sides (a run is short: periods,
    # not lines).
    starts = np.flatnonzero(empty & ~np.r_[False, empty[:-1]])
    ends = np.flatnonzero(empty & ~np.r_[empty[1:], False])
    for i, j in zip(starts.tolist(), ends.tolist(), strict=True):
        if i == 0 or j == n - 1:
            continue
        silence = float(first_inst[j + 1] - (last_inst[i - 1] + per.HOUR))
        if cover is not None:
            # The run's first and last instants (UTC seconds): covered when an input's
            # lines lie on both sides of it.
            lo = int(wall_start[i]) - int(offsets[i]) * 60
            hi = int(wall_end[j]) - int(offsets[j + 1]) * 60
            if ((cover[0] < lo) & (cover[1] >= hi)).any():
                continue
        else:
            if silence >= GAP_HOURS * per.HOUR:
                unknown.append(
                    (f"in {labels[i]}" if i == j else f"from {labels[i]} to {labels[j]}")
                    + f" ({duration(silence)})"
                )
            continue
        gap[i : j + 1] = True
        silent += silence
        spells.append(
            (f"in {labels[i]}" if i == j else f"from {labels[i]} to {labels[j]}")
            + f" ({duration(silence)})"
        )
    if spells:
        notes.append(
            "no line "
            + ", ".join(spells)
            + ": inside the span, no input covers it (a gap): left out of changes and "
            "baselines, not counted as zero traffic"
        )
    if unknown:
        notes.append(
            "no line "
            + ", ".join(unknown)
            + ": counted as zero traffic; it may be a gap in the inputs or an outage (this "
            "store's older days do not record which inputs they read)"
        )
    return gap, notes, silent, (first_wall, last_wall)


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
        # The store's closed months, counted (analyze/visitcounts.py SETS): months only.
        sets = p.get(visitcounts.SETS)
        closed = np.zeros(n, np.int64)
        if sets is not None and len(sets):
            if every != "month":
                raise AssertionError("the store handed counted visitors to other periods")
            month, found = _positions(ids, per.of_days(sets["day"].to_numpy(np.int64), every))
            closed = _count(month[found], n, sets["visitors"].to_numpy(np.int64)[found])
        if vd.empty:
            return closed
        # visitor_days is already one row per (day, visitor).
        key = per.of_days(vd.index.get_level_values("day").to_numpy(np.int64), every)
        if every != "day":
            # The distinct (period, visitor) pairs through the index's visitor codes: a
            # drop_duplicates of the two columns hashed ~2M pairs per half year of a
            # 10,000-visitor site several times over.
            index = vd.index
            assert isinstance(index, pd.MultiIndex)
            at = index.names.index("visitor")
            codes = np.asarray(index.codes[at], dtype=np.int64)
            width = max(1, len(index.levels[at]))
            key = _distinct_pairs(key.astype(np.int64, copy=False), codes, width)
        pos, ok = _positions(ids, key)
        return _count(pos[ok], n) + closed
    pos, ok = _positions(ids, key)
    return _count(pos[ok], n)


# Periods up to which distinct visitors are counted with one "seen" flag per visitor code and
# period (a pass over the codes per period) rather than by hashing every (period, visitor)
# pair: a year of 10,000 visitors a day is 3.5M pairs, 13 months or 53 weeks.
_FLAG_PERIODS = 64


def _distinct_pairs(key: np.ndarray, codes: np.ndarray, width: int) -> np.ndarray:
    """The period of each distinct (period ``key``, visitor code) pair (in no set order)."""
    periods = pd.unique(key)
    if len(periods) > _FLAG_PERIODS:
        lo = int(key.min())
        return pd.unique((key - lo) * width + codes) // width + lo
    seen = np.zeros(width, dtype=bool)
    counts = np.zeros(len(periods), np.int64)
    for i, period in enumerate(periods):
        seen[:] = False
        seen[codes[key == period]] = True
        counts[i] = np.count_nonzero(seen)
    return np.repeat(periods, counts)


def _visits(p: Partial, ctx: Context, ids: np.ndarray, every: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(ids)
    vt = visits_of(p, ctx).table
    visits, clicks = np.zeros(n, np.int64), np.zeros(n, np.int64)
    counted = visitcounts.of(ctx)
    if counted is not None:
        # The store's closed months, counted per local start day (analyze/visitcounts.py).
        if every == "hour":
            raise AssertionError("the store handed counted visits to hourly periods")
        day, nv, nc = visitcounts.per_day(counted)
        pos, ok = _positions(ids, per.of_days(day, every))
        visits += _count(pos[ok], n, nv[ok])
        clicks += _count(pos[ok], n, nc[ok])
    if vt.empty:
        return visits, clicks
    # A visit belongs to the period it starts in.
    vp = per.of_times(vt["start_local"].to_numpy(), vt["start"].to_numpy(), every)
    pos, ok = _positions(ids, vp)
    return visits + _count(pos[ok], n), clicks + _count(pos[ok], n, vt["clicks"].to_numpy()[ok])


def _response(
    p: Partial, ids: np.ndarray, every: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per period, p50 and p95 (ms, NaN without a timed request) and whether they are read
    no lower than by nearest rank (``Trend.read_old``)."""
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
    n = h["n"].to_numpy(np.int64)
    at, first = np.unique(h["pos"].to_numpy(np.int64), return_index=True)
    total = np.add.reduceat(n, first)
    lo, hi = _range(p, ids, every, at, total)
    # The periods' histograms read as timing.grouped reads them (interpolated, clamped to the
    # period's min and max, exact for two requests), and the overview's exact figure for a
    # period that holds every timed request.
    got, values = timing.exact(p, [0.50, 0.95])
    bins = h["bin"].to_numpy(np.int64)
    read = timing.grouped(first, bins, n, (0.50, 0.95), lo, hi, 1.0)
    out = []
    for k, v in enumerate(read):
        if got:
            v = np.where(total == got, values[k] * 1000.0, v)
        col = np.full(len(ids), np.nan)
        col[at] = np.round(v, 1)
        out.append(col)
    read_old = np.zeros(len(ids), dtype=bool)
    old = timing.old_groups(first, bins, n, lo, hi)
    if old is not None:
        read_old[at] = old & ~(total == got) if got else old
    return out[0], out[1], read_old


def _range(
    p: Partial, ids: np.ndarray, every: str, at: np.ndarray, total: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per period ``at``, the shortest and longest response time (ms), NaN where
    ``trend_response_range`` does not cover all ``total`` times (a store's days written
    before it was kept)."""
    lo, hi = np.full(len(at), np.nan), np.full(len(at), np.nan)
    tr = p.get("trend_response_range")
    if tr is None or tr.empty:
        return lo, hi
    hours = tr.index.get_level_values("hour").to_numpy(np.int64)
    offs = tr.index.get_level_values("offset").to_numpy(np.int64)
    pos, ok = _positions(ids, per.of_hours(hours, offs, every))
    g = (
        pd.DataFrame({"pos": pos[ok], **{c: tr[c].to_numpy()[ok] for c in RANGE}})
        .groupby("pos")
        .agg(RANGE)
        .reindex(at)
    )
    known = (g["timed"] == total).to_numpy()
    lo[known] = g["min_ms"].to_numpy()[known]
    hi[known] = g["max_ms"].to_numpy()[known]
    return lo, hi


def _complete(
    p: Partial,
    s: Settings,
    every: str,
    ids: np.ndarray,
    wall_start: np.ndarray,
    wall_end: np.ndarray,
    spacing: float,
    labels: list[str],
) -> tuple[np.ndarray, dict[int, str]]:
    """Whether each period is complete as far as the report's ends go, and why the first or
    last is not: its first (last) line lies farther than the tolerance (``_tolerance``) from
    its start (end), and --since (--until) does not vouch for it."""
    n = len(ids)
    complete = np.ones(n, dtype=bool)
    why: dict[int, str] = {}
    tot = p.get("totals")
    if tot is None or tot.empty:
        return complete, why
    row = tot.iloc[0]
    if every == "hour":
        # Hours are instants: compare instants (a repeated wall hour stays unambiguous).
        last_hit = int(row["last"]) - int(ids[-1]) + int(wall_start[-1])
        first_hit = int(row["first"]) - int(ids[0]) + int(wall_start[0])
    else:
        last_hit, first_hit = int(row["last_local"]), int(row["first_local"])
    # A bound in the periods' wall clock. An instant (since_utc/until_utc: now, 90m, 10h, a
    # time with its offset) cut the hits' UTC times: it is moved into the log's clock by the
    # offset of the hit nearest it, where s.since/s.until are the machine's wall clock (a
    # log at -0800 had a cut last hour judged complete, a log at +0900 a cut first hour).
    at_until, at_since = s.extra.get("until_utc"), s.extra.get("since_utc")
    until = _wall_bound(at_until, s.until, last_hit, int(row["last"]))
    since = _wall_bound(at_since, s.since, first_hit, int(row["first"]))
    # The last line's second: a line at 23:59:59 leaves 1 s of the day.
    short = int(wall_end[-1]) - last_hit - 1
    late = first_hit - int(wall_start[0])
    unit = _PER[every]
    length = wall_end - wall_start
    if not (
        short <= _tolerance(every, spacing, float(length[-1]))
        or (until is not None and until >= wall_end[-1])
    ):
        complete[-1] = False
        why[n - 1] = f"{labels[-1]} ends {duration(short + 1)} before the {unit} does"
    if not (
        late <= _tolerance(every, spacing, float(length[0]))
        or (since is not None and since <= wall_start[0])
    ):
        complete[0] = False
        why[0] = f"{labels[0]} starts {duration(late)} after the {unit} does"
    return complete, why


def _wall_bound(instant: object, wall: object, hit_local: int, hit_utc: int) -> int | None:
    """A period bound in the periods' wall clock (seconds): an instant moved by the offset of
    the hit nearest it (``hit_local - hit_utc``), else the wall-clock bound, else None."""
    if instant:
        return _seconds(instant) + hit_local - hit_utc
    return _seconds(wall) if wall is not None else None


def _seconds(t: object) -> int:
    return int(pd.Timestamp(t).value // 10**9)  # type: ignore[arg-type]


def _num(x: float, metric: str) -> int | float:
    """Counts and bytes as integers (a median of an even count can end in .5)."""
    if metric.endswith("_ms") or metric.startswith("rate_") or metric == "clicks_per_visit":
        return round(float(x), 4)
    return int(x) if float(x).is_integer() else round(float(x), 1)


_PER = {"hour": "hour", "day": "day", "week": "ISO week", "month": "calendar month"}


def _empty(name: str, title: str, note: str = "no request in the chosen period") -> Section:
    return Section(name, title, pd.DataFrame(), note=note)
