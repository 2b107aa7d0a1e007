"""``logaudit problems``: what is failing, since when, for whom, how slowly, and who attacks.

Sections (terminal order): ``headline`` (one finding per row, worst first), ``error-timeline``,
``failing-urls``, ``slow-endpoints`` and ``slow-requests``, ``suspicious-clients``, and ``now``
with ``--last``. Every figure comes from the mergeable tables of ``tables.py``; the thresholds
(``--max-5xx-rate`` ...) are checked by ``breaches`` on the headline's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from logaudit.analyze import periods, timing
from logaudit.analyze.base import Context, Partial, SectionSpec
from logaudit.analyze.problems import clients as clients_mod
from logaudit.analyze.problems.clock import (
    Clock,
    minute_offsets,
    spelled,
    when,
    zone_offsets,
)
from logaudit.analyze.problems.tables import SLOWEST_PER_CHUNK, TABLES
from logaudit.report import Section
from logaudit.wording import counted

# --every for the error timeline: name -> minutes.
INTERVALS: dict[str, int] = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "6h": 360, "1d": 1440}
TIMELINE_ROWS = 72  # auto: the shortest interval giving at most this many rows
# A burst: an interval with at least BURST_MIN 5xx, BURST_FACTOR times the median interval's
# (plus one), and at least BURST_RATE of its requests failing.
BURST_MIN = 10
BURST_FACTOR = 5
BURST_RATE = 0.05
# Headline findings: an endpoint's 5xx are one from FAIL_MIN errors and FAIL_SHARE of its hits;
# its 4xx from FAIL_MIN errors, FAIL_SHARE, and BROKEN_CLIENTS distinct clients (a broken link
# fails for many people; one client's 404s are a scanner's, reported as such).
FAIL_MIN = 10
FAIL_SHARE = 0.05
BROKEN_CLIENTS = 5
# Slow: an endpoint whose p95 is at least SLOW_P95 seconds over at least SLOW_MIN requests.
SLOW_P95 = 1.0
SLOW_MIN = 20
# --last: the window is compared with the hour before it.
BEFORE_MINUTES = 60


def _t(p: Partial, name: str) -> pd.DataFrame:
    f = p.get(name)
    return f if f is not None else pd.DataFrame()


def clock_of(p: Partial, ctx: Context) -> Clock:
    """The wall clock of the report's minutes (UTC minutes: ``clock.py``), made once."""
    return ctx.once("problems:clock", lambda: Clock(_t(p, "pb_minutes")))


def percentiles(
    bins: pd.Series,
    qs: tuple[float, ...] = (0.5, 0.95, 0.99),
    lo: float = float("nan"),
    hi: float = float("nan"),
) -> list[float]:
    """Seconds at each quantile of a histogram (bin -> count) of ``tables._bins``, clamped
    between the exact ``lo`` and ``hi`` when known (``timing.from_bins``)."""
    if bins.empty:
        return [float("nan")] * len(qs)
    b = bins.groupby(level=-1).sum()
    return timing.from_bins(b.index.to_numpy(np.int64), b.to_numpy(np.int64), list(qs), lo, hi)


# ---- error timeline --------------------------------------------------------------------


def interval(p: Partial, ctx: Context) -> int:
    chosen = str(ctx.settings.extra.get("problems_every") or "auto")
    if chosen in INTERVALS:
        return INTERVALS[chosen]
    m = _t(p, "pb_minutes")
    if m.empty:
        return 60
    span = int(m.index.max()) - int(m.index.min()) + 1
    for k in INTERVALS.values():
        if span / k <= TIMELINE_ROWS:
            return k
    return 1440


def _buckets(p: Partial, ctx: Context, k: int) -> tuple[pd.DataFrame, np.ndarray]:
    """(per interval of ``k`` minutes the sums of ``pb_minutes``, indexed by the instant it
    starts, with no interval left out; each interval's offset). An interval is one of the
    report zone's wall clock (an hour from :00 in that zone), so one of k <= 60 minutes is
    cut by offset too: the hour a fall-back repeats is two rows, the hour a spring-forward
    skips none. A longer one (6h, 1d) is the wall clock's span whatever it holds: the day
    of a fall-back has 25 hours. Intervals without a request between two with one are rows
    of 0, in the offset of the one before (--tz's zone's when given)."""
    m = _t(p, "pb_minutes")
    minute = m.index.to_numpy(np.int64)
    off = minute_offsets(m)
    wall = (minute + off) // k * k
    sums = m[["hits", "s4xx", "s5xx", "s404"]]
    if clock_of(p, ctx).single:  # one offset: wall and instant intervals agree
        g = sums.groupby(wall - off).sum()
        full = np.arange(int(g.index.min()), int(g.index.max()) + 1, k)
        return g.reindex(full, fill_value=0), np.full(len(full), int(off[0]), np.int64)
    key = wall - off if k <= 60 else wall
    order = np.argsort(minute, kind="stable")
    g = sums.groupby(key).sum()
    first = pd.Series(off[order], index=key[order]).groupby(level=0).first()
    g_off = first.reindex(g.index).to_numpy(np.int64)
    starts = g.index.to_numpy(np.int64) - (g_off if k > 60 else 0)  # instants
    zone = _zone(ctx)
    if k <= 60:
        grid = _filled(starts, k)
        at = np.searchsorted(starts, grid, side="right") - 1
        offs = g_off[at]
        empty = ~np.isin(grid, starts)
        if zone is not None and empty.any():
            offs[empty] = zone_offsets(zone, grid[empty])
    else:
        walls = np.arange(int(g.index.min()), int(g.index.max()) + 1, k)
        at = np.searchsorted(g.index.to_numpy(np.int64), walls, side="right") - 1
        offs = g_off[at]
        if zone is not None:
            offs = np.array([periods.zone_offset_at_wall(zone, int(w) * 60) for w in walls])
        offs = np.where(np.isin(walls, g.index.to_numpy()), g_off[at], offs)
        grid = walls - offs
    filled = g.set_axis(starts).reindex(grid, fill_value=0)
    return filled, offs


def _filled(starts: np.ndarray, k: int) -> np.ndarray:
    """The intervals' starts (instants, ascending) with the empty ones between them: after
    each, every ``k`` minutes up to the next. Not a grid of ``k`` from the first: where an
    offset changes by less than ``k`` (Lord Howe's half hour) the starts after it are off
    that grid, which put phantom rows between them, overlapping (rev23-dst23 2)."""
    # Only whole intervals that end by the next start (a gap across a half-hour change has a
    # part-interval left over, without lines: no row).
    gap = np.maximum((starts[1:] - starts[:-1]) // k - 1, 0)
    if not gap.sum():
        return starts
    before = np.repeat(starts[:-1], gap)
    step = np.arange(int(gap.sum())) - np.repeat(np.cumsum(gap) - gap, gap) + 1
    return np.sort(np.concatenate([starts, before + step * k]))


def _zone(ctx: Context) -> Any:
    from zoneinfo import ZoneInfo

    tz = ctx.settings.tz
    return ZoneInfo(tz) if tz else None


def timeline(p: Partial, ctx: Context) -> pd.DataFrame:
    def make() -> pd.DataFrame:
        m = _t(p, "pb_minutes")
        if m.empty:
            return pd.DataFrame()
        k = interval(p, ctx)
        g, offs = _buckets(p, ctx, k)
        rate = np.where(g["hits"] > 0, g["s5xx"] / g["hits"].clip(lower=1), 0.0)
        base = float(np.median(g["s5xx"]))
        burst = (
            (g["s5xx"] >= BURST_MIN)
            & (g["s5xx"] >= BURST_FACTOR * (base + 1))
            & (rate >= BURST_RATE)
        )
        return pd.DataFrame(
            {
                "start": _labels(clock_of(p, ctx), g.index.to_numpy(np.int64), offs),
                "minute": g.index.to_numpy(),
                "requests": g["hits"].to_numpy(),
                "4xx": g["s4xx"].to_numpy(),
                "5xx": g["s5xx"].to_numpy(),
                "5xx_rate": np.round(rate, 4),
                "burst": burst.to_numpy(),
            }
        )

    return ctx.once("problems:timeline", make)


def _labels(cl: Clock, starts: np.ndarray, offs: np.ndarray) -> list[str]:
    """Each interval's wall start, with its offset where the report shows that wall time
    in two offsets, or two rows would read the same (``Clock.when``)."""
    plain = [when(int(s) + int(o)) for s, o in zip(starts, offs, strict=True)]
    if cl.single:
        return plain
    shared = pd.Series(plain).duplicated(keep=False).to_numpy()
    return [
        f"{x} {spelled(int(o))}" if both else cl.when(int(s), int(o))
        for x, s, o, both in zip(plain, starts, offs, shared, strict=True)
    ]


def sec_timeline(p: Partial, ctx: Context) -> Section:
    t = timeline(p, ctx)
    title = "Errors over time"
    if t.empty:
        return Section("error-timeline", title, pd.DataFrame(), note="no request")
    k = interval(p, ctx)
    name = next(n for n, v in INTERVALS.items() if v == k)
    rows = t.drop(columns="minute").assign(burst=np.where(t["burst"], "BURST", ""))
    bursts = int(t["burst"].sum())
    note = f"one row per {name}; " + (
        f"{bursts} burst(s) of 5xx marked" if bursts else "no burst of 5xx"
    )
    return Section("error-timeline", title, rows, len(rows), note=note, chart="5xx")


# ---- failing URLs ----------------------------------------------------------------------


def _top_of(t: pd.DataFrame, key: str, skip: tuple[str, ...] = ()) -> dict[tuple[str, int], str]:
    """(endpoint, class) -> 'a (12), b (3)' for the top three values of ``key``."""
    if t.empty:
        return {}
    f = t.reset_index()
    f = f[~f[key].isin(skip)]
    f = f.sort_values(["n", key], ascending=[False, True], kind="stable")
    out: dict[tuple[str, int], str] = {}
    for (e, c), g in f.groupby(["endpoint", "class"], sort=False):
        out[(str(e), int(str(c)))] = ", ".join(
            f"{v} ({int(n)})" for v, n in zip(g[key].head(3), g["n"].head(3), strict=True)
        )
    return out


def failing(p: Partial, ctx: Context) -> pd.DataFrame:
    def make() -> pd.DataFrame:
        f = _t(p, "pb_fail")
        if f.empty:
            return pd.DataFrame()
        g = (
            f.reset_index()
            .groupby(["endpoint", "class"], sort=False)
            .agg(count=("n", "sum"), first=("minute", "min"), last=("minute", "max"))
        )
        hits = _t(p, "pb_endpoints")["hits"]
        g["share"] = (g["count"] / hits.reindex(g.index.get_level_values(0)).to_numpy()).round(4)
        fc = _t(p, "pb_fail_clients")
        ndist = fc.groupby(level=["endpoint", "class"]).size() if not fc.empty else None
        g["clients_n"] = ndist.reindex(g.index).fillna(0).astype(int) if ndist is not None else 0
        g = g.reset_index()
        g = g.sort_values(
            ["class", "count", "endpoint"], ascending=[False, False, True], kind="stable"
        )
        return g.reset_index(drop=True)

    return ctx.once("problems:failing", make)


def sec_failing(p: Partial, ctx: Context) -> Section:
    title = "Failing URLs"
    g = failing(p, ctx)
    if g.empty:
        return Section("failing-urls", title, pd.DataFrame(), note="no 4xx or 5xx response")
    total = len(g)
    top = ctx.settings.top
    g = g.head(top) if top else g
    cl = clock_of(p, ctx)
    who = _top_of(_t(p, "pb_fail_clients"), "client")
    refs = _top_of(_t(p, "pb_fail_referrers"), "referrer", ("-", ""))
    rows = pd.DataFrame(
        {
            "path": g["endpoint"].astype(str),
            "status": [f"{int(c)}xx" for c in g["class"]],
            "count": g["count"].astype(np.int64),
            "share": g["share"],
            "first": [cl.when(x) for x in g["first"]],
            "last": [cl.when(x) for x in g["last"]],
            "clients": [
                who.get((str(e), int(c)), "")
                for e, c in zip(g["endpoint"], g["class"], strict=True)
            ],
            "referrers": [
                refs.get((str(e), int(c)), "")
                for e, c in zip(g["endpoint"], g["class"], strict=True)
            ],
        }
    )
    grouped = ctx.settings.extra.get("group", True)
    note = (
        "share: of the path's requests; ids, UUIDs and hashes grouped as {id} (--no-group "
        "keeps the paths as logged)"
        if grouped
        else "share: of the path's requests; paths as logged"
    )
    return Section(
        "failing-urls",
        title,
        rows,
        total,
        note=note,
        chart="count",
        narrow_drop=("referrers", "clients", "first"),
    )


# ---- slow endpoints --------------------------------------------------------------------

NO_TIMES = (
    "this log records no response time, so nothing can be called slow: log nginx's "
    "$request_time (and $upstream_response_time) or Apache's %D"
)


def slow(p: Partial, ctx: Context) -> pd.DataFrame:
    """Per endpoint with a response time: requests, p50, p95, p99, max (seconds) and, where
    upstream times are logged, upstream_p95; slowest p95 first."""
    return _slow(p, ctx)[0]


def _slow(p: Partial, ctx: Context) -> tuple[pd.DataFrame, np.ndarray]:
    """(``slow``'s table, per row whether its percentiles are read no lower than by nearest
    rank: ``timing.old_groups``). Every endpoint's histogram is read by one
    ``timing.grouped`` (one per kind of time), not a pandas lookup per endpoint."""

    def make() -> tuple[pd.DataFrame, np.ndarray]:
        r = _t(p, "pb_response")
        if r.empty:
            return pd.DataFrame(), np.zeros(0, dtype=bool)
        mx = _t(p, "pb_response_max")
        which = r.index.get_level_values("which").to_numpy()
        resp = _read_grouped(r["n"][which == 0], mx, ("min_ms", "max_ms", "timed"), QS)
        if resp is None:
            return pd.DataFrame(), np.zeros(0, dtype=bool)
        names, n, got, lo, hi, old = resp
        # An endpoint holding every timed request has the overview's exact figures.
        every = timing.exact(p, list(QS))
        if every[0]:
            whole = n == every[0]
            for k in range(len(QS)):
                got[k] = np.where(whole, every[1][k], got[k])
            old &= ~whole
        f = pd.DataFrame(
            {
                "endpoint": pd.Series([str(e) for e in names], dtype=object),
                "requests": n,
                **{
                    key: [timing.rounded(v) for v in got[k]]
                    for k, key in enumerate(("p50", "p95", "p99"))
                },
                "max": [timing.rounded(v) for v in hi],
            }
        )
        up = _read_grouped(r["n"][which == 1], mx, ("min_up_ms", "max_up_ms", "up_timed"), (0.95,))
        if up is not None:
            at = pd.Index(up[0]).get_indexer(names)
            if (at >= 0).any():
                p95 = np.where(at >= 0, up[2][0][at], np.nan)
                f["upstream_p95"] = [timing.rounded(v) for v in p95]
                old |= np.where(at >= 0, up[5][at], False)
        order = f.sort_values(
            ["p95", "requests", "endpoint"], ascending=[False, False, True], kind="stable"
        ).index.to_numpy()
        return f.iloc[order].reset_index(drop=True), old[order]

    return ctx.once("problems:slow", make)


QS = (0.5, 0.95, 0.99)


def _read_grouped(
    hist: pd.Series, mx: pd.DataFrame, cols: tuple[str, str, str], qs: tuple[float, ...]
) -> tuple[pd.Index, np.ndarray, list[np.ndarray], np.ndarray, np.ndarray, np.ndarray] | None:
    """Of (endpoint, bin) -> n histograms: (endpoints, requests, per quantile the seconds,
    the exact shortest and longest (``_extremes``), whether read by the old top bin), the
    endpoints in histogram order; None without one. An endpoint whose counts sum to 0 reads
    NaN, as one histogram of ``percentiles`` does."""
    if hist.empty:
        return None
    h = hist.groupby(level=["endpoint", "bin"], sort=True).sum()
    ends = h.index.get_level_values("endpoint")
    codes = pd.factorize(ends)[0]
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    names = ends[first]
    counts = h.to_numpy(np.int64)
    n = np.add.reduceat(counts, first)
    lo, hi = _extremes(mx, names, *cols, n)
    got = [np.full(len(names), np.nan) for _ in qs]
    old = np.zeros(len(names), dtype=bool)
    held = n > 0
    if held.any():
        sizes = np.diff(np.r_[first, len(counts)])
        keep = np.repeat(held, sizes)
        sub_first = np.r_[0, np.cumsum(sizes[held])[:-1]]
        bins = h.index.get_level_values("bin").to_numpy(np.int64)[keep]
        read = timing.grouped(sub_first, bins, counts[keep], qs, lo[held], hi[held], 1000.0)
        for k, v in enumerate(read):
            got[k][held] = v
        flags = timing.old_groups(sub_first, bins, counts[keep], lo[held], hi[held])
        if flags is not None:
            old[held] = flags
    return names, n, got, lo, hi, old


def _extremes(
    mx: pd.DataFrame, endpoints: pd.Index, lo: str, hi: str, timed: str, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each endpoint's exact shortest and longest time, in seconds; NaN where not known. The
    shortest is known when it is over all ``n`` times of the histogram: a store's days written
    before it was kept have neither it nor their ``timed`` count. A min above the max is not
    known either: an older logaudit's month roll-up (of a schema-11 store) summed the column
    it did not know, and clamping up to that sum read p50 2.82 s against a max of 1.41."""
    nan = np.full(len(endpoints), np.nan)

    def column(col: str) -> np.ndarray:
        if col not in mx:
            return nan
        return mx[col].reindex(endpoints).to_numpy(np.float64, na_value=np.nan)

    def get(col: str) -> np.ndarray:
        v = column(col)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(v) & (v >= 0), v / 1000.0, np.nan)

    least, most = np.where(column(timed) == n, get(lo), np.nan), get(hi)
    with np.errstate(invalid="ignore"):
        return np.where(least > most, np.nan, least), most


def sec_slow(p: Partial, ctx: Context) -> Section:
    title = "Slow endpoints"
    f, old = _slow(p, ctx)
    if f.empty:
        return Section("slow-endpoints", title, pd.DataFrame(), note=NO_TIMES)
    top = ctx.settings.top
    rows = f.head(top) if top else f
    note = (
        "seconds; percentiles from a log-scale histogram (within about 3 % of the exact, "
        "clamped to the min and max; exact for up to 2 requests)"
    )
    if "upstream_p95" in f:
        note += "; upstream: the backend's own time"
    if old[: len(rows)].any():  # as the headline says of its window
        note += "; " + timing.OLD_DAYS_NOTE
    return Section(
        "slow-endpoints", title, rows.reset_index(drop=True), len(f), note=note, chart="p95"
    )


def sec_slow_requests(p: Partial, ctx: Context) -> Section:
    title = "Slowest requests"
    s = _t(p, "pb_slowest")
    if s.empty:
        return Section("slow-requests", title, pd.DataFrame(), note=NO_TIMES)
    top = min(ctx.settings.top or SLOWEST_PER_CHUNK, SLOWEST_PER_CHUNK)  # what chunks keep
    s = s.sort_values(["seconds", "local"], ascending=[False, True], kind="stable").head(top)
    rows = pd.DataFrame(
        {
            "time": _seconds_shown(clock_of(p, ctx), s),
            "client": s["client"].to_numpy(),
            "method": s["method"].to_numpy(),
            "path": s["path"].to_numpy(),
            "status": s["status"].to_numpy(),
            "seconds": [timing.rounded(v) for v in s["seconds"]],
            "upstream": [timing.rounded(v) for v in s["upstream"]],
        }
    )
    if rows["upstream"].isna().all():
        rows = rows.drop(columns="upstream")
    return Section("slow-requests", title, rows, len(rows), note="seconds")


def _seconds_shown(cl: Clock, s: pd.DataFrame) -> list[str]:
    """The slowest requests' wall times, each with its offset where the report shows its
    minute in two offsets (a store's rows kept before the offset was: as logged)."""
    local = [str(x) for x in s["local"]]
    if cl.single or "offset" not in s:
        return local
    out = []
    for text, minute, off in zip(local, s["minute"], s["offset"], strict=True):
        if off == off and cl.twice(int(minute) + int(off)):
            text += " " + spelled(int(off))
        out.append(text)
    return out


# ---- suspicious clients ----------------------------------------------------------------


def suspicious(p: Partial, ctx: Context) -> pd.DataFrame:
    return ctx.once("problems:clients", lambda: clients_mod.suspicious(p, clock_of(p, ctx)))


def sec_clients(p: Partial, ctx: Context) -> Section:
    title = "Suspicious clients"
    f = suspicious(p, ctx)
    if f.empty:
        return Section(
            "suspicious-clients",
            title,
            pd.DataFrame(columns=clients_mod.COLUMNS),
            note="none found",
        )
    top = ctx.settings.top
    rows = f.head(top) if top else f
    return Section(
        "suspicious-clients",
        title,
        rows.reset_index(drop=True),
        len(f),
        note="requests, first, last: all of the client's requests",
        narrow_drop=("first", "last"),
    )


# ---- now -------------------------------------------------------------------------------


def window(p: Partial, ctx: Context) -> tuple[int, int, int] | None:
    """(first minute of the window, newest minute, first minute of the hour before), or None
    without --last. The newest minute is the log's newest line before any filter
    (``pb_start``'s last: a --status or --path filter's newest request says nothing of where
    the log ends), not after --until; after an --until written with an offset, the newest
    minute kept (under a filter, the newest request it keeps)."""
    last = ctx.settings.extra.get("last")
    m = _t(p, "pb_minutes")
    if not last or m.empty:
        return None
    newest = int(m.index.max())
    ends = _t(p, "pb_start")
    if "last" in ends:
        newest = max(newest, int(ends["last"].max()))
    until = ctx.settings.until
    if ctx.settings.extra.get("until_utc"):
        # An instant --until cut the hits by their UTC time (classify.py), not by this wall
        # clock (the machine's, off by the log's offset): the newest minute kept is the end.
        newest = int(m.index.max())
    elif until is not None:  # lines before --until only: its minute holds the last one kept
        end = np.datetime64(until, "s") - np.timedelta64(1, "s")
        wall = int(end.astype("datetime64[m]").astype(np.int64))
        # A wall time: its instant in the offset of the newest minute kept.
        newest = min(newest, wall - clock_of(p, ctx).offset(int(m.index.max())))
    span = max(1, int(last) // 60)
    start = newest - span + 1
    return start, newest, start - BEFORE_MINUTES


def _start(p: Partial, ctx: Context) -> tuple[int, bool]:
    """(the first minute the report covers, whether --since set it), computed once: the log's
    first line before any filter (``pb_start``: the first request a --status or --bots filter
    counts says nothing of where the log begins), and not before --since. A store keeps no
    ``pb_start`` (it answers no filter): its first minute counted is where its logs begin,
    and it answers --since by whole days, so its minutes before --since on that day are
    counted and the cut is the day's first minute (a rate over the minutes from --since of
    the hits from midnight was inflated)."""

    def make() -> tuple[int, bool]:
        start = int(_t(p, "pb_minutes").index.min())
        first = _t(p, "pb_start")
        if not first.empty:
            start = min(start, int(first["first"].min()))
        since = ctx.settings.since
        if since is None:
            return start, False
        if ctx.settings.extra.get("since_utc"):
            # An instant --since cut the hits by their UTC time (classify.py), not by this
            # wall clock (the machine's): the first minute kept is where the report begins.
            cut = int(_t(p, "pb_minutes").index.min())
            return max(start, cut), cut > start
        cut = int(np.datetime64(since, "m").astype(np.int64))
        if first.empty:  # a store: the whole day --since falls in
            cut -= cut % (24 * 60)
        # A wall time: its instant in the offset of the first minute kept.
        cut -= clock_of(p, ctx).offset(int(_t(p, "pb_minutes").index.min()))
        return max(start, cut), cut > start

    return ctx.once("problems:log_start", make)


def covered(p: Partial, ctx: Context, lo: int, hi: int) -> int:
    """The first minute of lo..hi that the report covers (from ``_start``): a minute before
    the log began is not a quiet minute. Above hi when it covers none."""
    return max(lo, _start(p, ctx)[0])


def _figures(p: Partial, ctx: Context, lo: int, hi: int) -> dict[str, float]:
    """Figures of minutes lo..hi. The request rate is over the minutes of it the log covers;
    rates with no request are NaN (unknown), not 0."""
    m = _t(p, "pb_minutes")
    part = m[(m.index >= lo) & (m.index <= hi)]
    hits = int(part["hits"].sum())
    minutes = hi - covered(p, ctx, lo, hi) + 1
    nan = float("nan")
    out: dict[str, float] = {
        "requests": hits,
        "requests_per_minute": hits / minutes if minutes > 0 else nan,
        "5xx_rate": float(part["s5xx"].sum() / hits) if hits else nan,
        "4xx_rate": float(part["s4xx"].sum() / hits) if hits else nan,
    }
    r = _t(p, "pb_response_minutes")
    if not r.empty:
        mins = r.index.get_level_values("minute")
        part_r = r[(mins >= lo) & (mins <= hi)]["n"]
        n = int(part_r.sum())
        every = timing.exact(p, [0.95, 0.99])
        if n and every[0] == n:  # the span holds every timed request: the overview's figures
            out["p95"], out["p99"] = every[1]
        else:
            least, most = _span_extremes(p, lo, hi, n)
            out["p95"], out["p99"] = percentiles(part_r, (0.95, 0.99), least, most)
            b = part_r.groupby(level="bin").sum()
            if timing.old_top(b.index.to_numpy(), b.to_numpy(), least, most):
                out["old_days"] = 1.0  # read no lower than nearest rank: sec_headline's note
    return out


def _span_extremes(p: Partial, lo: int, hi: int, n: int) -> tuple[float, float]:
    """The exact shortest and longest response time (seconds) of minutes lo..hi, from
    ``pb_response_span``; NaN when it does not cover all ``n`` times of the histogram (a
    store's days written before it was kept)."""
    t = _t(p, "pb_response_span")
    nan = float("nan")
    if t.empty:
        return nan, nan
    part = t[(t.index >= lo) & (t.index <= hi)]
    if int(part["timed"].sum()) != n or not n:
        return nan, nan
    return float(part["min_ms"].min()) / 1000.0, float(part["max_ms"].max()) / 1000.0


def _failing_in(p: Partial, lo: int, hi: int) -> dict[tuple[str, int], int]:
    """(endpoint, class) -> errors between minutes lo and hi."""
    f = _t(p, "pb_fail")
    if f.empty:
        return {}
    mins = f.index.get_level_values("minute")
    part = f[(mins >= lo) & (mins <= hi)]["n"]
    g = part.groupby(level=["endpoint", "class"]).sum()
    keys = zip(g.index.get_level_values(0), g.index.get_level_values(1), strict=True)
    return {(str(e), int(c)): int(n) for (e, c), n in zip(keys, g.to_numpy(), strict=True)}


def sec_now(p: Partial, ctx: Context) -> Section:
    title = "Now"
    w = window(p, ctx)
    if w is None:
        return Section(
            "now",
            title,
            pd.DataFrame(),
            note="give --last 15m to compare the last minutes with the hour before them",
        )
    start, newest, before = w
    now = _figures(p, ctx, start, newest)
    prior = _figures(p, ctx, before, start - 1)
    # The hour before is known when the log covers some of it (a quiet hour is a known 0);
    # before the log began there is nothing to compare with.
    known = covered(p, ctx, before, start - 1) <= start - 1
    rows: list[dict[str, Any]] = []
    for metric in ("requests_per_minute", "5xx_rate", "4xx_rate", "p95", "p99"):
        if metric in now:
            a, b = float(now[metric]), float(prior.get(metric, float("nan")))
            rows.append(
                {
                    "metric": metric,
                    "path": "",
                    "now": _round(a, metric),
                    "before": _round(b, metric),
                    "change": _change(a, b),
                }
            )
    # Endpoints failing in the window and not in the hour before: now = their errors. With
    # no request before, none is known to be new: they are listed as failing, before unknown.
    failing_now = _failing_in(p, start, newest)
    earlier = _failing_in(p, before, start - 1)
    for (e, c), n in sorted(failing_now.items(), key=lambda kv: (-kv[1], kv[0])):
        if (e, c) not in earlier:
            rows.append(
                {
                    "metric": f"new failing URL ({c}xx)" if known else f"failing URL ({c}xx)",
                    "path": e,
                    "now": n,
                    "before": 0 if known else None,
                    "change": "new" if known else "",
                }
            )
    # The end's date too when the window crosses midnight (QA18 #14: "23:14-01:13").
    cl = clock_of(p, ctx)
    end = cl.clock(newest) if cl.when(start)[:10] == cl.when(newest)[:10] else cl.when(newest)
    begin = cl.when(start)
    dash = "-" if len(begin) == len(when(0)) and len(end) in (5, len(begin)) else " to "
    note = f"last {newest - start + 1} min ({begin}{dash}{end})" + _coverage(p, ctx, start, newest)
    note += f", against the {BEFORE_MINUTES} min before" + (
        _coverage(p, ctx, before, start - 1)
        if known
        else " (before --since: unknown)"
        if _start(p, ctx)[1]
        else " (the log had not begun: unknown)"
    )
    note += "; requests per minute over the minutes the log covers"
    if "p95" in now:
        note += (
            "; p95, p99 from a log-scale histogram (within about 3 %, clamped to the "
            "window's min and max; the overview's are exact)"
        )
    # Object columns keep counts as integers and unknowns as None next to rates.
    frame = pd.DataFrame(rows, columns=["metric", "path", "now", "before", "change"], dtype=object)
    return Section("now", title, frame, len(rows), note=note)


def _coverage(p: Partial, ctx: Context, lo: int, hi: int) -> str:
    """', of which the log covers the last N min' when it starts inside lo..hi (or
    --since does)."""
    first = covered(p, ctx, lo, hi)
    if first == lo or first > hi:
        return ""
    return (
        f", of which {_covers(p, ctx)} {hi - first + 1} min (from {clock_of(p, ctx).clock(first)})"
    )


def _covers(p: Partial, ctx: Context) -> str:
    return "--since leaves" if _start(p, ctx)[1] else "the log covers"


def _round(v: float, metric: str = "") -> float | None:
    """Rates to 4 places; times as every section spells them (``timing.rounded``)."""
    if v != v:
        return None
    return timing.rounded(v) if metric in ("p95", "p99") else round(v, 4)


def _change(a: float, b: float) -> str:
    if a != a or b != b:
        return ""
    if b == 0:
        return "new" if a else "same"
    return f"{(a - b) / b:+.0%}"


# ---- headline and thresholds -----------------------------------------------------------


def figures(p: Partial, ctx: Context) -> dict[str, Any]:
    """The figures the thresholds check: over the --last window when given, else the whole
    report."""
    m = _t(p, "pb_minutes")
    if m.empty:
        return {}
    w = window(p, ctx)
    lo, hi = (w[0], w[1]) if w else (int(m.index.min()), int(m.index.max()))
    f: dict[str, Any] = dict(_figures(p, ctx, lo, hi))
    f["scope"] = f"last {hi - lo + 1} min" if w else "whole report"
    first = covered(p, ctx, lo, hi)
    if w and first > lo:  # the rate is over these minutes: say so beside the window
        f["scope"] += f" ({_covers(p, ctx)} the last {hi - first + 1})"
    f["not_found_hits"] = int(m["s404"].sum())
    f["has_response_time"] = not _t(p, "pb_response_minutes").empty
    return f


def findings(p: Partial, ctx: Context) -> pd.DataFrame:
    """One row per finding, worst first: (tier, size) ordering."""
    rows: list[tuple[int, int, str, str, str]] = []  # tier, size, kind, text, since
    cl = clock_of(p, ctx)
    for r in failing(p, ctx).to_dict("records"):
        cls, count, share = int(r["class"]), int(r["count"]), float(r["share"])
        if count < FAIL_MIN or share < FAIL_SHARE:
            continue
        if cls == 4 and r["clients_n"] < BROKEN_CLIENTS:
            continue
        rows.append(
            (
                0 if cls == 5 else 5,
                count,
                f"{cls}xx",
                f"{cls}xx on {r['endpoint']}: {counted(count, 'error')}, {share:.0%} of its "
                f"hits, since {cl.clock(r['first'])}",
                cl.when(r["first"]),
            )
        )
    t = timeline(p, ctx)
    if not t.empty:
        for b in t[t["burst"]].to_dict("records"):
            rows.append(
                (
                    1,
                    int(b["5xx"]),
                    "burst",
                    f"5xx burst at {b['start']}: {counted(int(b['5xx']), 'error')}, "
                    f"{b['5xx_rate']:.0%} of requests",
                    str(b["start"]),
                )
            )
    s = slow(p, ctx)
    if not s.empty:
        for sl in s[(s["p95"] >= SLOW_P95) & (s["requests"] >= SLOW_MIN)].to_dict("records"):
            rows.append(
                (
                    2,
                    int(sl["requests"]),
                    "slow",
                    f"slow {sl['endpoint']}: p95 {sl['p95']:.2f} s, p99 {sl['p99']:.2f} s "
                    f"over {int(sl['requests']):,} requests",
                    "",
                )
            )
    from logaudit.anonymize import client_namer

    named = client_namer(ctx.settings)  # --anonymize: the client masked here, host names too
    for c in suspicious(p, ctx).to_dict("records"):
        rows.append(
            (
                3,
                int(c["requests"]),
                str(c["kind"]),
                f"{c['kind']} {named(str(c['client']))}: {c['evidence']}",
                str(c["first"]),
            )
        )
    f = pd.DataFrame(rows, columns=["tier", "size", "kind", "finding", "since"])
    f = f.sort_values(["tier", "size", "finding"], ascending=[True, False, True], kind="stable")
    return f.drop(columns=["tier", "size"]).reset_index(drop=True)


def sec_headline(p: Partial, ctx: Context) -> Section:
    f = findings(p, ctx)
    fig = figures(p, ctx)
    total = len(f)
    top = ctx.settings.top
    rows = f.head(top) if top else f
    head = {k: v for k, v in fig.items() if k not in ("has_response_time", "old_days")}
    if not fig.get("has_response_time"):
        head.pop("p95", None)
        head.pop("p99", None)
    for key in ("p95", "p99"):  # spelled as the overview's (timing.rounded); NaN: unknown
        if key in head:
            head[key] = None if head[key] != head[key] else timing.rounded(head[key])
    note = "nothing wrong found" if f.empty else ""
    if fig.get("old_days") and "p95" in head:
        note = "; ".join(x for x in (note, timing.OLD_DAYS_NOTE) if x)
    rows = rows[["finding", "since", "kind"]]
    return Section(
        "headline",
        "What is wrong",
        rows,
        total,
        note=note,
        headline=head,
        narrow_drop=("kind", "since"),
    )


def breaches(report_sections: list[Section], thresholds: Mapping[str, float]) -> list[str]:
    """One message per threshold breached (``--max-5xx-rate`` ...), from the headline's
    figures (p95, p99: the overview's exact ones over the whole report); a threshold that
    cannot be checked (no response times, or none in the --last window) is a message too,
    starting with ``--max-`` (api.py puts it in the report's notes as well)."""
    head = next((s.headline for s in report_sections if s.name == "headline"), None)
    if head is None or not thresholds:
        return []
    out = []
    for key, limit in thresholds.items():
        option = "--max-" + key.replace("_", "-")
        unit = "s" if key.startswith("p9") else ""
        if unit and key not in head:
            out.append(f"{option}: cannot be checked, the log has no response times")
            continue
        value = head.get(key)
        if value is None:
            if unit:
                out.append(
                    f"{option}: cannot be checked, no request with a response time "
                    f"({head.get('scope')})"
                )
            continue
        if value > limit:
            shown = f"{value:.3f} s > {limit:g} s" if unit else f"{value:.2%} > {limit:.2%}"
            out.append(f"threshold breached: {key} {shown} ({head.get('scope')})")
    return out


def _specs() -> tuple[SectionSpec, ...]:
    t = TABLES
    return (
        SectionSpec("headline", "What is wrong", sec_headline, tuple(t)),
        SectionSpec("error-timeline", "Errors over time", sec_timeline, ("pb_minutes",)),
        SectionSpec(
            "failing-urls",
            "Failing URLs",
            sec_failing,
            ("pb_fail", "pb_endpoints", "pb_fail_clients", "pb_fail_referrers"),
        ),
        SectionSpec(
            "slow-endpoints", "Slow endpoints", sec_slow, ("pb_response", "pb_response_max")
        ),
        SectionSpec("slow-requests", "Slowest requests", sec_slow_requests, ("pb_slowest",)),
        SectionSpec(
            "suspicious-clients",
            "Suspicious clients",
            sec_clients,
            (
                "pb_clients",
                "pb_client_404",
                "pb_probes",
                "pb_login",
                "pb_rate",
                "pb_rate_hist",
                "pb_claims",
            ),
        ),
        SectionSpec(
            "now",
            "Now",
            sec_now,
            ("pb_minutes", "pb_start", "pb_fail", "pb_response_minutes", "pb_response_span"),
        ),
    )


SECTIONS: tuple[SectionSpec, ...] = _specs()
PROBLEMS_SECTIONS: tuple[str, ...] = tuple(s.name for s in SECTIONS)

__all__ = ["PROBLEMS_SECTIONS", "SECTIONS", "TABLES", "breaches"]
