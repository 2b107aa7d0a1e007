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
and ``response_p95_ms`` appear when the log has response times: pandas' percentiles (linear
interpolation) read from a histogram of 40 logarithmic bins per decade, so within 2.9 % (or
0.05 ms, rounded to 0.1 ms) of the exact value (0 ms and anything under 1 µs count as 0),
clamped to the period's exact min and max (``trend_response_range``); exact for up to two
requests where both are known (not a store's days written before this release) and for a period
holding every timed request (the overview's; ``analyze.timing.grouped``). ``start`` is the
period's first instant in ISO 8601 with its offset: with ``--tz`` the zone's offset at that
wall time (DST-aware); without, the offset most common in the period's first hour with hits (an
empty period takes the offset in force at the end of the previous one).

**Complete periods.** Only the first and the last row, and the rows on either side of a gap,
can be partial. The last is complete when ``--until`` is at or after its end (taken as the
user's word that the log covers it) or the last line lies within ``EDGE_TOLERANCE`` of its end
(1 minute of an hour, 15 of a day, 2 hours of a week or month), or within ``EDGE_SPACINGS`` (3)
mean times between lines up to ``EDGE_SHARE_MAX`` (an eighth) of the period (a quiet log); the
first likewise with ``--since``. ``Trend.why`` says
why each partial row is partial ("2026-W04 ends 8 h before the ISO week does").

**Gaps.** A run of rows without hits is a gap, not zero traffic, when no input covers it: no
input has lines both before and after it (``trend_inputs``: each input's first and last line,
kept per day in the store too). Where the inputs are not all known (a store's days written
before this release) no run is a gap (an outage looks the same): it stays zeros, and a
silence of ``GAP_HOURS`` (24) or more is said in the note as either. A gap's rows are zeros with
``complete`` false (so no change or baseline reads
them), said once in the periods note; the rows on either side are partial when their lines
stop or start farther than the tolerance from the gap.

**Change.** The last complete period against the one before (when that one is complete too) and,
for hours and days, against the same wall-clock period 7 days earlier (when it lies in the data
and is complete). Change = (last - before) / before, computed from the figures as the
``periods`` rows show them, as ``+12.3%`` with ▲ (rose) or ▼ (fell), or ``≈ 0.0%`` (unchanged
at one decimal); from 0 it is ``new`` (▲), 0 to 0 is ``≈ 0.0%``.

**Movers.** Shares of people's page views in the last complete period against the pooled
baseline of up to ``MOVER_BASELINE`` (4) periods before it: pages (path), referring sites
(external referrers only; share among page views with an external referrer), countries
(GeoIP; non-public addresses named as such) and browsers (family). ``change`` is in percentage
points: (share_last - share_before) x 100. An item is listed when it has at least
``MOVER_MIN_ITEM`` (10) page views in the last and baseline periods together and moved at least
``MOVER_MIN_CHANGE`` (1.0) point; a kind is compared only when it has at least
``MOVER_MIN_TOTAL`` (30) page views in each side. Up to ``MOVERS_PER_SIDE`` (3) risers and 3
fallers per kind, largest moves first. Sources (kind ``source``, named as the ``sources``
section names them: ``Google``, ``newsletter``, ``(direct)``...) are compared by their share of
people's *visits* starting in each period, with the same thresholds counted in visits.

**Unusual periods.** Each complete period is compared with the periods just before it
(``BASELINE``: the previous 24 hours, 7 days, 4 weeks or 6 months, all of them complete).
z = (value - median) / scale, the scale being the baseline's spread measured robustly: the
larger of 1.4826 x MAD (median absolute deviation) and IQR / 1.349 (quartiles interpolated
linearly, as numpy does). Both equal the standard deviation for normal noise and ignore one odd
period; the IQR also keeps a regular cycle that fills a minority of the window (2 weekend days
in 7, 8 night hours in 24) from making every weekend or night unusual, which MAD alone would.
The scale is at least 5 % of the median, and for counts at least the median's square root (the
noise of a count) and 1; a baseline of zeros (median 0, no spread) gives no z (None): the period
is flagged on the floor alone. A period is flagged for a metric when |z| > ``Z_LIMIT`` (3.5) and it
lies at least the metric's floor from the median (``UNUSUAL_FLOORS``: 20 for counts, 1 MiB of
bandwidth, 100 ms of response time), so tiny counts never flag. Metrics checked: hits,
page_views, visitors, visits, bandwidth, status_4xx, status_5xx, response_p95_ms. A run of
several empty periods is flagged at its start: its first zero widens the next baselines.

**How.** Per chunk, everything is a bincount on integer keys: ``trend_hours`` holds (local hour
number, offset in minutes) -> hits, page views, bytes, 4xx, 5xx, so any period length and the
offset of each period's start come from it at the end; ``trend_response`` a log-scale histogram
per (hour, offset) and ``trend_response_range`` its exact min and max and the count they are
over (merged by min, max and sum; ``timing.grouped`` reads them); ``trend_visitor_hours``
distinct (hour, visitor) pairs, for hourly periods only (other lengths use ``visitor_days``).
Visits come from the shared sessionization (``visits.visits_of``). Movers reuse the page-view
events every report keeps for visits (``pv_events``: wall and UTC time, path, referrer, visitor
key) and map each distinct path, referrer, client and user agent once (``paths``, ``referrers``
and ``visitors`` tables); the source movers reuse the campaigns sections' visits and sources
(``campaigns.journeys``).
"""

from __future__ import annotations

from logaudit.analyze.base import SectionSpec
from logaudit.analyze.campaigns import NEEDS as CAMPAIGNS_NEEDS
from logaudit.analyze.trends.change import change_text, sec_change
from logaudit.analyze.trends.movers import MOVER_KINDS, sec_movers
from logaudit.analyze.trends.movers import TABLES as MOVER_TABLES
from logaudit.analyze.trends.periods import chosen_metrics, sec_periods
from logaudit.analyze.trends.series import (
    CHANGE_METRICS,
    DEFAULT_CHART,
    EDGE,
    EDGE_SHARE_MAX,
    EDGE_SPACINGS,
    EDGE_TOLERANCE,
    EVERY,
    GAP_HOURS,
    METRICS,
    RESP_BINS,
    RESP_MIN_MS,
    RESP_PER_DECADE,
    Trend,
    bin_value,
    response_bins,
    t_hours,
    t_response,
    t_visitor_hours,
    trend_of,
)
from logaudit.analyze.trends.series import TABLES as SERIES_TABLES
from logaudit.analyze.trends.unusual import BASELINE, Z_LIMIT, sec_unusual
from logaudit.analyze.visits import NEEDS as VISITS_NEEDS

# Per-chunk tables; ``mover_counts`` is read by no section's needs: the store reads it for
# movers (store/movers.py).
TABLES = {**SERIES_TABLES, **MOVER_TABLES}

NEEDS_PERIODS: tuple[str, ...] = (
    "trend_hours",
    "trend_visitor_hours",
    "trend_response",
    "trend_response_range",
    "trend_inputs",
    "totals",
    "visitor_days",
    *VISITS_NEEDS,
)

SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("periods", "Traffic per period", sec_periods, NEEDS_PERIODS),
    SectionSpec("change", "Change since the period before", sec_change, NEEDS_PERIODS),
    SectionSpec(
        "movers",
        "Movers: pages, sites, countries, browsers, sources",
        sec_movers,
        (*NEEDS_PERIODS, "vhosts", "visitors", *CAMPAIGNS_NEEDS),
    ),
    SectionSpec("unusual", "Unusual periods", sec_unusual, NEEDS_PERIODS),
)


__all__ = [
    "BASELINE",
    "CHANGE_METRICS",
    "DEFAULT_CHART",
    "EDGE",
    "EDGE_SHARE_MAX",
    "EDGE_SPACINGS",
    "EDGE_TOLERANCE",
    "EVERY",
    "GAP_HOURS",
    "METRICS",
    "MOVER_KINDS",
    "NEEDS_PERIODS",
    "RESP_BINS",
    "RESP_MIN_MS",
    "RESP_PER_DECADE",
    "SECTIONS",
    "TABLES",
    "Trend",
    "Z_LIMIT",
    "bin_value",
    "change_text",
    "chosen_metrics",
    "response_bins",
    "sec_change",
    "sec_movers",
    "sec_periods",
    "sec_unusual",
    "t_hours",
    "t_response",
    "t_visitor_hours",
    "trend_of",
]
