"""``logaudit digest``: the daily mail a site owner reads in 30 seconds, as a normal Report.

**Period.** Whole local days: ``--since``/``--until`` (default: yesterday, i.e. ``--since
yesterday --until today``), ``--since`` rounded down and ``--until`` rounded up to midnight;
``--since`` alone is its day (a relative one, ``7d``, ``12h``, runs to now as summary's: the
days from its day to yesterday), ``--until`` alone the day before it; a ``--until`` not after the
``--since`` is an empty period, as summary's (no request, exit 8, nothing compared).

**Two passes over the logs.** The period itself (its overview, top pages, referring sites,
problems) is one ordinary report restricted to the period, so each of its figures is exactly what
``summary`` says for the same ``--since``/``--until``. The comparison is a second run over the
period and the ``max(14, N)`` days before it, with daily trends: the headline's previous period
(the N days before) and the same weekday a week before (for periods under a week) come from its
per-day rows, and ``unusual`` (each day against its previous 7 complete days) and ``movers``
(shares against the 4 days before) are trends' own sections. Reading the logs twice costs time;
it buys figures that agree with ``summary`` to the unit.

**Headline** (section ``digest``, first): requests, visitors (distinct people over the period: one
day's daily visitors), visits (started in the period), page views, bandwidth, 4xx and 5xx
rates; each with the previous period and the week before, and the change as trends write it
(``▲ +8.0%``). **Verdict** (``overview["verdict"]``, the mail's subject): ``[logaudit] SITE DATE:
12,431 visits (+8 %), 5xx 0.4 %`` with `` (!)`` when the 5xx rate is at least 1 %, a day of the
period is unusual, or there was no request at all.

**One visit count.** A visit belongs to the day it starts on (METRICS.md, as trends): the
period's own run cuts the visits at its first midnight (a visit begun the evening before
counts again from its first page view after midnight), so the overview's visit figures
(visits, clicks, clicks per visit, median clicks, bounce rate, median visit) are those of the
comparison run's visits that start in the period, the ones the headline counts: the overview,
the headline and the subject say one number.

**Conversions** (when goals are configured: ``--goal`` or the config's ``goals``): three more
headline rows, ``conversions``, ``conversion_rate`` (conversions / visits) and ``revenue``, with
the same comparisons, from the campaigns sections' per-day rows (``source-periods``: visits
counted on the day they start, conversions on the day they happen, METRICS.md) of the
comparison run.

**Detail** (``--detail``, as logwatch): which sections follow the headline, and how many rows.
Problem sections are included by name when registered (``PROBLEM_SECTIONS``), so sections added
by other modules need only their names listed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from logaudit.analyze import SECTIONS, visitcounts
from logaudit.analyze import periods as per
from logaudit.analyze import trends as tr
from logaudit.analyze import visits as vis
from logaudit.config import Settings
from logaudit.report import Report, Section
from logaudit.timespec import now_in
from logaudit.wording import counted

# Problem and campaign sections from other modules (analyze/problems, analyze/campaigns),
# shown when registered: "headline" there is problems' "What is wrong".
PROBLEMS_LOW: tuple[str, ...] = ("headline", "failing-urls")
PROBLEMS_MORE: tuple[str, ...] = ("slow-endpoints", "suspicious-clients")
PROBLEM_SECTIONS: tuple[str, ...] = (*PROBLEMS_LOW, *PROBLEMS_MORE, "error-timeline")
# --detail -> (rows per section, sections after the digest's own table, in order).
DETAIL: dict[str, tuple[int, tuple[str, ...]]] = {
    "low": (5, ("unusual", *PROBLEMS_LOW, "pages")),
    "med": (
        10,
        ("unusual", *PROBLEMS_LOW, *PROBLEMS_MORE, "not-found", "pages", "referring-sites",
         "campaigns", "movers"),
    ),
    "high": (
        25,
        ("unusual", *PROBLEM_SECTIONS, "status", "not-found", "pages", "referring-sites",
         "referrers", "sources", "campaigns", "conversions", "movers", "entry-pages",
         "browsers", "countries", "hours", "vhosts"),
    ),
}
# Sections that come from the comparison run (the others from the period's own run).
WIDE_SECTIONS = ("unusual", "movers")
FLAG_5XX_RATE = 0.01
# Headline rows added when goals are configured, from the ``source-periods`` section.
CONVERSION_HEADLINE: tuple[str, ...] = ("conversions", "conversion_rate", "revenue")

# Headline metrics, in order (renderers name them in words; JSON keeps the keys).
HEADLINE: tuple[str, ...] = (
    "requests",
    "visitors",
    "visits",
    "page_views",
    "bandwidth",
    "rate_4xx",
    "rate_5xx",
)


def period_of(settings: Settings) -> tuple[datetime, datetime]:
    """The digest's whole local days [since, until): --since alone is its day (a relative one,
    7d, 12h, runs to now: its days up to today), --until alone the day before it. A --until
    not after the --since given (``--since 2026-02-02 --until 2026-02-01``) is an empty
    period, ``until <= since``: summary's period is then empty too (no request, exit 8), where
    the digest used to report the --since day instead."""
    today = now_in(settings.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    asked_since, asked_until = settings.since, settings.until
    if asked_since and not asked_until and settings.extra.get("since_relative"):
        # 7d (the midnight 7 days before today's), 12h (12 hours before now): to now as
        # summary's; in whole days, from its day to the last complete one (7d: the 7 days
        # before today, as before Nd became a midnight; 12h: at least yesterday).
        return min(_midnight(asked_since), today - timedelta(days=1)), today
    until = asked_until or (_midnight(asked_since) + timedelta(days=1) if asked_since else today)
    if until.time() != datetime.min.time():
        until = _midnight(until) + timedelta(days=1)
    since = _midnight(asked_since) if asked_since else until - timedelta(days=1)
    if asked_since and asked_until and asked_until <= asked_since:
        return since, min(since, _midnight(asked_until))
    return since, until


def _midnight(d: datetime) -> datetime:
    return d.replace(hour=0, minute=0, second=0, microsecond=0)


def _day(d: datetime) -> int:
    return (d - datetime(1970, 1, 1)).days


def _day_seconds(iso: str) -> int:
    """Wall seconds of an overview's ``first_local`` (ISO, its offset ignored: wall time)."""
    d = datetime.fromisoformat(iso).replace(tzinfo=None)
    return int((d - datetime(1970, 1, 1)).total_seconds())


def figures(t: tr.Trend | None, vd: pd.DataFrame | None, lo: int, hi: int) -> dict[str, float]:
    """Headline figures over local days [lo, hi) from a daily Trend and visitor_days."""
    out: dict[str, float] = dict.fromkeys(HEADLINE, 0)
    if t is not None:
        rows = t.values[(t.ids >= lo) & (t.ids < hi)]
        for k, col in (("requests", "hits"), ("visits", "visits"), ("page_views", "page_views"),
                       ("bandwidth", "bandwidth")):
            out[k] = int(rows[col].sum())
        for k in ("4xx", "5xx"):
            n = int(rows[f"status_{k}"].sum())
            out[f"rate_{k}"] = n / out["requests"] if out["requests"] else 0.0
    if vd is not None and len(vd):
        days = vd.index.get_level_values("day").to_numpy(np.int64)
        keep = (days >= lo) & (days < hi)
        out["visitors"] = int(pd.unique(vd.index.get_level_values("visitor")[keep]).size)
    return out


@dataclass
class Visits:
    """The comparison run's visits: listed (``visits_of``: ``start_local`` seconds) and, from a
    history store, its closed months' counted per local start day (``visitcounts``)."""

    table: pd.DataFrame
    counted: dict[str, pd.DataFrame] | None = None


def visit_figures(v: Visits, lo: int, hi: int) -> dict[str, object]:
    """The overview's visit figures (``visits.headline``) of the visits starting on local days
    [lo, hi)."""
    vt = v.table
    if len(vt):
        day = vt["start_local"].to_numpy(np.int64) // per.DAY
        vt = vt[(day >= lo) & (day < hi)]
    counts: dict[str, pd.DataFrame] = {}
    for k, f in (v.counted or {}).items():
        if f is not None and "day" in f:
            d = f["day"].to_numpy(np.int64)
            counts[k] = f[(d >= lo) & (d < hi)]
    return visitcounts.headline(vt, counts)


def period_visits(v: Visits, since: datetime, until: datetime) -> vis.Visits:
    """The comparison run's listed visits that start on the local days [since, until): the
    period run's visits (``ctx.cache["visits"]``, as ``store.stored_context`` hands a store's)."""
    vt = v.table
    if len(vt):
        day = vt["start_local"].to_numpy(np.int64) // per.DAY
        vt = vt[(day >= _day(since)) & (day < _day(until))].reset_index(drop=True)
    return vis.Visits(vt, pd.DataFrame())


def conversion_figures(per_day: pd.DataFrame, lo: int, hi: int) -> dict[str, float]:
    """Conversions, conversion rate and revenue over local days [lo, hi) from the
    ``source-periods`` rows of a daily run (one row per day, labelled ``YYYY-MM-DD``)."""
    out: dict[str, float] = {"conversions": 0, "conversion_rate": 0.0, "revenue": 0.0}
    if per_day.empty or "period" not in per_day:
        return out
    days = np.array([_day(datetime.fromisoformat(str(x))) for x in per_day["period"]])
    rows = per_day[(days >= lo) & (days < hi)]
    visits = int(rows["visits"].sum())
    out["conversions"] = int(rows["conversions"].sum())
    out["revenue"] = float(rows["revenue"].sum())
    out["conversion_rate"] = out["conversions"] / visits if visits else 0.0
    return out


def _covered(t: tr.Trend | None, lo: int, hi: int, first_hit: int | None) -> bool:
    """Whether the logs cover local days [lo, hi): their first hit (wall seconds) lies within
    the first 5 % of day ``lo`` or before (trends' rule for a complete period: the comparison
    run's own --since says nothing about the logs), and every day there is complete. Else
    there is nothing to compare with, which is not the same as a period of zeros."""
    if t is None or first_hit is None or not len(t.ids):
        return False
    if first_hit > lo * per.DAY + tr.EDGE * per.DAY:
        return False
    return bool(np.all(t.complete[(t.ids >= lo) & (t.ids < hi)]))


def headline_section(
    t: tr.Trend | None,
    vd: pd.DataFrame | None,
    since: datetime,
    until: datetime,
    first_hit: int | None = None,
    per_day: pd.DataFrame | None = None,
) -> Section:
    """``per_day``: the ``source-periods`` rows of the daily run, when goals are configured
    (adds the conversion rows)."""
    lo, hi = _day(since), _day(until)
    n = hi - lo
    now = figures(t, vd, lo, hi)
    # An empty period (no day: --until not after --since) has nothing to compare.
    prev = figures(t, vd, lo - n, lo) if n > 0 and _covered(t, lo - n, lo, first_hit) else None
    cover = 0 < n < 7 and _covered(t, lo - 7, hi - 7, first_hit)
    week = figures(t, vd, lo - 7, hi - 7) if cover else None
    keys = HEADLINE
    if per_day is not None:
        keys = (*HEADLINE, *CONVERSION_HEADLINE)
        now.update(conversion_figures(per_day, lo, hi))
        if prev is not None:
            prev.update(conversion_figures(per_day, lo - n, lo))
        if week is not None:
            week.update(conversion_figures(per_day, lo - 7, hi - 7))
    rows = []
    # The shape of trends' change table (metric, last, previous, change, week_before,
    # week_change), so renderers give each row its metric's unit and words.
    for key in keys:
        row: dict[str, object] = {"metric": key, "last": _shown(key, now[key])}
        for name, other, prefix in (("previous", prev, ""), ("week_before", week, "week_")):
            before = other[key] if other is not None else None
            pct, text = tr.change_text(now[key], before) if before is not None else (None, "")
            row[name] = _shown(key, before) if before is not None else None
            row[f"{prefix}change"] = text
            row[f"{prefix}change_pct"] = pct
        rows.append(row)
    label = _label(since, until)
    notes = [f"{label} against the {counted(n, 'day')} before"]
    if n <= 0:
        notes = [f"{label}: no day (--until is not after --since)"]
    elif n < 7:
        notes.append("and the same days a week earlier")
    if n > 0 and (prev is None or (n < 7 and week is None)):
        notes.append("(a comparison is empty where the logs do not cover it)")
    return Section(
        "digest",
        f"Digest: {label}",
        pd.DataFrame(rows, dtype=object),
        len(rows),
        note=" ".join(notes),
        headline={"period": label, "days": n},
        narrow_drop=("change_pct", "week_change_pct"),
    )


# The digits a ratio or an amount is shown with; ``figures`` keeps them exact, so that a
# change is the counts' change and not the rounding's (8/1660 against 16/2037: -38.6%, where
# the rounded 0.0048 against 0.0079 gave -39.2%).
SHOWN_DIGITS = {"rate_4xx": 4, "rate_5xx": 4, "conversion_rate": 4, "revenue": 2}


def _shown(key: str, value: float) -> float:
    digits = SHOWN_DIGITS.get(key)
    return value if digits is None else round(value, digits)


def _label(since: datetime, until: datetime) -> str:
    """The period's days (first to last); an empty one as asked and said to be empty
    (``2026-02-02 to 2026-02-02 (empty period)``, never collapsed into the day 2026-02-02,
    which would read as a day without requests)."""
    if until <= since:
        return f"{since:%Y-%m-%d} to {until:%Y-%m-%d} (empty period)"
    a, b = since.strftime("%Y-%m-%d"), (until - timedelta(days=1)).strftime("%Y-%m-%d")
    return a if a == b else f"{a} to {b}"


def site_name(report: Report, settings: Settings) -> str:
    """The site a report is about: the first --site-host, else the --site name, else the
    busiest virtual host."""
    if settings.site_hosts:
        return settings.site_hosts[0]
    if settings.site:
        return settings.site
    for s in report.sections:
        if s.name == "vhosts" and not s.rows.empty and "vhost" in s.rows:
            return str(s.rows["vhost"].iloc[0])
    return "access logs"


def verdict(site: str, head: Section, unusual: Section | None) -> tuple[str, bool]:
    """The subject line and whether it carries the (!) flag."""
    by = {r["metric"]: r for r in head.rows.to_dict("records")}
    label = str(head.headline["period"])
    requests = int(by["requests"]["last"])
    if int(head.headline["days"]) <= 0:  # not "no requests": its days were never read
        return f"[logaudit] {site} {label}: --until is not after --since (!)", True
    if not requests:
        return f"[logaudit] {site} {label}: no requests (!)", True
    visits = int(by["visits"]["last"])
    pct = by["visits"]["change_pct"]
    change = f" ({pct:+.0f} %)" if isinstance(pct, (int, float)) else ""
    rate = float(by["rate_5xx"]["last"])
    odd = unusual is not None and not unusual.rows.empty
    flag = rate >= FLAG_5XX_RATE or odd
    text = f"[logaudit] {site} {label}: {counted(visits, 'visit')}{change}, 5xx {rate * 100:.1f} %"
    return text + (" (!)" if flag else ""), flag


def chosen(detail: str) -> tuple[int, tuple[str, ...]]:
    top, names = DETAIL[detail]
    return top, tuple(n for n in names if n in SECTIONS)


def build(
    settings: Settings,
    detail: str,
    run_period: Callable[[Settings, tuple[str, ...]], Callable[[vis.Visits | None], Report]],
    run_wide: Callable[
        [Settings, tuple[str, ...]], tuple[Report, tr.Trend | None, pd.DataFrame, Visits | None]
    ],
) -> Report:
    """The digest Report. ``run_period``/``run_wide`` run the pipeline (api.py wires them):
    ``run_period`` reads the period, then builds its report from the comparison run's visits
    that start in it, so that every section counts the overview's visits."""
    since, until = period_of(settings)
    top, names = chosen(detail)
    if settings.sections:  # --section: these instead of the detail's list
        names = tuple(settings.sections)
    top = settings.top if "top" in settings.origins else top
    own = tuple(n for n in names if n not in WIDE_SECTIONS)
    if "vhosts" not in own and not settings.site_hosts:
        own += ("vhosts",)  # to name the site; shown only with --detail high
    # The digest counts whole local days: an instant --since/--until (since_utc/until_utc,
    # cli.py) would still cut the widened period and the comparison run by the hour.
    wall = {k: v for k, v in settings.extra.items() if k not in ("since_utc", "until_utc",
                                                                 "since_relative")}
    period = replace(settings, since=since, until=until, top=top, sections=own, extra=wall)
    period_report = run_period(period, own)
    days = max(14, _day(until) - _day(since))
    wide = replace(
        settings,
        since=since - timedelta(days=days),
        until=until,
        top=top,
        extra={**wall, "every": "day", "metrics": ()},
    )
    wide_names = tuple(n for n in names if n in WIDE_SECTIONS)
    if settings.goals and "source-periods" in SECTIONS:
        wide_names += ("source-periods",)  # per-day conversions, for the headline only
    trend, vd, visits, first_hit, extra = None, None, None, None, {}
    if until > since:  # an empty period has no day to compare, nor one unusual or moved
        wide_report, trend, vd, visits = run_wide(wide, wide_names)
        first = wide_report.overview.get("first_local")
        first_hit = _day_seconds(str(first)) if first else None
        extra = {s.name: s for s in wide_report.sections}
    conv = extra.pop("source-periods", None)
    per_day = conv.rows if conv is not None else None
    head = headline_section(trend, vd, since, until, first_hit, per_day)
    report = period_report(None if visits is None else period_visits(visits, since, until))
    if "unusual" in extra and trend is not None:
        extra["unusual"] = _only_period(extra["unusual"], since, until)
    sections = {s.name: s for s in report.sections}
    sections.update(extra)
    shown = [sections[n] for n in names if n in sections]
    site = site_name(report, settings)
    subject, flagged = verdict(site, head, extra.get("unusual"))
    report.command = "digest"
    report.sections = [head, *shown]
    # The CSV's shape (render.tabular.one_table) by what the digest asked for: the headline
    # and its sections, not the period run's own (which hold no unusual nor movers).
    report.asked = ("headline", *names)
    if visits is not None and "visits" in report.overview:
        # One visit count: the visits starting in the period, as the headline's.
        report.overview.update(visit_figures(visits, _day(since), _day(until)))
    report.overview = {
        **report.overview,
        "period": head.headline["period"],
        "site": site,
        "verdict": subject,
        "flagged": flagged,
    }
    report.settings = {**report.settings, "detail": detail}
    return report


def _only_period(sec: Section, since: datetime, until: datetime) -> Section:
    if sec.rows.empty or "period" not in sec.rows:
        return sec
    days = {(since + timedelta(days=i)).strftime("%Y-%m-%d") for i in range((until - since).days)}
    rows = sec.rows[sec.rows["period"].isin(days)].reset_index(drop=True)
    note = sec.note if len(rows) else "none in the period; " + sec.note.removeprefix("none; ")
    return replace(sec, rows=rows, total_rows=len(rows), note=note)

