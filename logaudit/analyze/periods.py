"""Period arithmetic for trends: hours, calendar days, ISO weeks and calendar months.

Times here are integer seconds. *Wall* seconds are the report zone's naive wall clock counted
from 1970-01-01 00:00 (the record table's ``local`` column); *instants* are UTC seconds.

Period ids, all integers so that per-chunk tables stay integer-keyed and merge cheaply:

- ``hour``: the UTC instant at which the local hour starts. A local hour is identified by its
  instant, not by its wall time, so the hour a DST change repeats (02:00 twice in autumn) is
  two periods and the hour it skips (02:00 in spring) is no period at all.
- ``day``: local days since 1970-01-01.
- ``week``: ISO weeks (Monday first) since the week of 1969-12-29: ``(day + 3) // 7``
  (1970-01-01 was a Thursday).
- ``month``: calendar months since January 1970.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

UNITS: tuple[str, ...] = ("hour", "day", "week", "month")

HOUR = 3600
DAY = 86400

# --every auto: the shortest period whose count stays readable for the span of the data.
AUTO_LIMITS: tuple[tuple[str, int], ...] = (
    ("hour", 2 * 24),  # up to 2 days of data: hours
    ("day", 62 * 24),  # up to 62 days (two months): days
    ("week", 366 * 24),  # up to a year: weeks
)


def choose(every: str, span_hours: int) -> str:
    """The period length for ``--every``; ``auto`` picks from the span (in local hours, first
    to last hit inclusive) by ``AUTO_LIMITS``, then months."""
    if every != "auto":
        return every
    for unit, limit in AUTO_LIMITS:
        if span_hours <= limit:
            return unit
    return "month"


def months_of_days(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def of_hours(hours: np.ndarray, offsets: np.ndarray, every: str) -> np.ndarray:
    """Period ids of local hours (wall seconds // 3600) with the zone's offset (minutes) then."""
    hours = np.asarray(hours, dtype=np.int64)
    if every == "hour":
        return hours * HOUR - np.asarray(offsets, dtype=np.int64) * 60
    return of_days(hours // 24, every)


def of_days(days: np.ndarray, every: str) -> np.ndarray:
    days = np.asarray(days, dtype=np.int64)
    if every == "day":
        return days
    if every == "week":
        return (days + 3) // 7
    if every == "month":
        return months_of_days(days)
    raise ValueError(f"not a calendar period: {every}")


def of_times(wall: np.ndarray, utc: np.ndarray, every: str) -> np.ndarray:
    """Period ids of events given their wall and UTC seconds."""
    wall = np.asarray(wall, dtype=np.int64)
    if every == "hour":
        # The instant the local hour began: correct for offsets that are not whole hours too.
        return np.asarray(utc, dtype=np.int64) - wall % HOUR
    return of_days(wall // DAY, every)


def span(lo: int, hi: int, every: str, present: np.ndarray | None = None) -> np.ndarray:
    """Every period id from ``lo`` to ``hi``, so that empty periods become rows. Hours step by
    3600 s from ``lo``; ids in ``present`` off that grid (a half-hour offset change) are kept."""
    if every == "hour":
        ids = np.arange(lo, hi + 1, HOUR, dtype=np.int64)
        if present is not None:
            ids = np.union1d(ids, np.asarray(present, dtype=np.int64))
        return ids
    return np.arange(lo, hi + 1, dtype=np.int64)


# Per-period tables (daily visitors, trends' periods) keep at most this many of the most
# recent periods, or --top's if larger, up to PERIOD_ROWS_MAX (also with --top 0: 35 years
# of hours, 315,000 rows, took 200 s and 2 GB to a terminal). Rows are made only for the
# kept span, so two far-apart hits cost at most that many rows, not one per empty period
# between them (issue #19).
PERIOD_ROWS = 1000
PERIOD_ROWS_MAX = 20_000


def period_cap(top: int) -> int:
    """How many periods a per-period table keeps for ``--top`` (0: as many as allowed)."""
    return PERIOD_ROWS_MAX if top == 0 else min(PERIOD_ROWS_MAX, max(PERIOD_ROWS, top))


def capped_low(lo: int, hi: int, every: str, cap: int) -> int:
    """The first period id to keep so that at most ``cap`` periods run up to ``hi``."""
    step = HOUR if every == "hour" else 1
    return max(lo, hi - (cap - 1) * step)


def cap_note(kept: int, every: str) -> str:
    """The note a capped per-period table carries."""
    return (
        f"only the last {kept:,} {every}s are shown; earlier hits still count in the totals "
        f"(--top N raises the limit, up to {PERIOD_ROWS_MAX:,})"
    )


def start_day(ids: np.ndarray, every: str) -> np.ndarray:
    """First local day of calendar periods."""
    ids = np.asarray(ids, dtype=np.int64)
    if every == "day":
        return ids
    if every == "week":
        return ids * 7 - 3
    return ids.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def wall_bounds(ids: np.ndarray, offsets: np.ndarray, every: str) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) wall seconds of each period; for hours, in the offset at its start."""
    ids = np.asarray(ids, dtype=np.int64)
    if every == "hour":
        start = ids + np.asarray(offsets, dtype=np.int64) * 60
        return start, start + HOUR
    return start_day(ids, every) * DAY, start_day(ids + 1, every) * DAY


def label(wall_start: int, every: str) -> str:
    """How a period is named in tables: 2026-03-29 14:00, 2026-03-29, 2026-W13, 2026-03."""
    d = datetime(1970, 1, 1) + timedelta(seconds=int(wall_start))
    if every == "hour":
        return d.strftime("%Y-%m-%d %H:00")
    if every == "day":
        return d.strftime("%Y-%m-%d")
    if every == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    return d.strftime("%Y-%m")


def labels(
    wall_start: np.ndarray, offsets: np.ndarray, every: str, zone: ZoneInfo | None = None
) -> list[str]:
    """``label`` of each period; an hour whose wall clock the zone repeats (02:00 twice in
    autumn: its offsets at ``fold`` 0 and 1 differ) carries its offset, in every output and
    whatever the window holds, so that text, CSV and HTML tell them apart as JSON's ``start``
    does: 2026-10-25 02:00 +02:00, 2026-10-25 02:00 +01:00. Without a zone (the log's own
    offsets), an hour label that two periods share carries it."""
    out = [label(int(w), every) for w in wall_start]
    if every != "hour":
        return out
    if zone is not None:
        twice = [_repeated(zone, int(w)) for w in wall_start]
    else:
        seen: dict[str, int] = {}
        for x in out:
            seen[x] = seen.get(x, 0) + 1
        twice = [seen[x] > 1 for x in out]
    return [
        f"{x} {iso(int(w), int(o))[-6:]}" if t else x
        for x, w, o, t in zip(out, wall_start, offsets, twice, strict=True)
    ]


def _repeated(zone: ZoneInfo, wall: int) -> bool:
    """Whether the zone's clocks show wall time ``wall`` twice (a fall-back hour)."""
    d = datetime(1970, 1, 1) + timedelta(seconds=int(wall))
    first = d.replace(tzinfo=zone, fold=0).utcoffset()
    second = d.replace(tzinfo=zone, fold=1).utcoffset()
    return first is not None and second is not None and first > second


def iso(wall_start: int, offset_minutes: int) -> str:
    """ISO 8601 with the offset: 2026-03-29T00:00:00+01:00."""
    tz = timezone(timedelta(minutes=int(offset_minutes)))
    wall = datetime(1970, 1, 1) + timedelta(seconds=int(wall_start))
    return wall.replace(tzinfo=tz).isoformat()


def zone_offset_at_wall(zone: ZoneInfo, wall: int) -> int:
    """The zone's UTC offset (minutes) at a wall time; at a skipped or repeated wall time the
    one in force before the change (``fold=0``)."""
    d = (datetime(1970, 1, 1) + timedelta(seconds=int(wall))).replace(tzinfo=zone)
    off = d.utcoffset()
    return int(off.total_seconds() // 60) if off is not None else 0


def zone_offset_at_instant(zone: ZoneInfo, instant: int) -> int:
    off = datetime.fromtimestamp(int(instant), zone).utcoffset()
    return int(off.total_seconds() // 60) if off is not None else 0
