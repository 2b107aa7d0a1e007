"""The wall clock of ``problems``' minutes, which are instants (UTC minutes since 1970).

Each minute of ``pb_minutes`` carries the report zone's UTC offset then (the line's own, or
``--tz``'s), so it shows as that zone's wall clock. A wall time the clock may have shown
twice (the hour a daylight-saving fall-back repeats: 01:30 -04:00, then 01:30 -05:00) carries
its offset wherever it is shown; every other time shows as before, without one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# More fall-backs than this (a log of servers in several zones, read without --tz,
# alternating minute by minute): every time carries its offset.
MAX_BACKS = 64


def when(minute: int | float) -> str:
    """A wall minute (since 1970) as 2026-11-24 13:05: numpy's minutes, which reach any year
    (pd.Timestamp's nanoseconds stopped in 2262: OutOfBoundsDatetime, QA18 #2)."""
    return str(np.datetime64(int(minute), "m")).replace("T", " ")


def spelled(offset: int) -> str:
    """An offset in minutes as ISO 8601 writes it: -04:00, +05:30."""
    sign = "-" if offset < 0 else "+"
    return f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def minute_offsets(m: pd.DataFrame) -> np.ndarray:
    """Each row's offset in minutes; 0 where unknown (a store's day written before schema
    14 without offsets in its ``trend_hours``: ``store/walls.py`` leaves its wall minutes as
    they were, read as before)."""
    if "offset" not in m:
        return np.zeros(len(m), np.int64)
    return m["offset"].to_numpy(np.float64, na_value=0.0).astype(np.int64)


def zone_offsets(zone: Any, minutes: np.ndarray) -> np.ndarray:
    """The zone's UTC offset (minutes) at each UTC minute, in one vectorised conversion (a
    zone lookup per row was 100,000 calls for --every 1m over months: rev23-dst23 4)."""
    utc = pd.DatetimeIndex((np.asarray(minutes, np.int64) * 60).astype("datetime64[s]"), tz="UTC")
    wall = utc.tz_convert(zone).tz_localize(None).as_unit("s").asi8
    return (wall - utc.tz_localize(None).as_unit("s").asi8) // 60


class Clock:
    """Instants (UTC minutes) to the report zone's wall clock, from ``pb_minutes``."""

    def __init__(self, m: pd.DataFrame) -> None:
        order = np.argsort(m.index.to_numpy(np.int64), kind="stable")
        self.minutes = m.index.to_numpy(np.int64)[order]
        self.offsets = minute_offsets(m)[order]
        # Where the offset falls (the clock goes back) between minute a and the next, b,
        # the change came at some instant T after a and up to b, and the clock showed
        # T + new .. T + old - 1 twice: the walls of a + 1 + new .. b + old - 1 may be twice.
        back = np.flatnonzero(np.diff(self.offsets) < 0)
        self.changes = int(np.count_nonzero(np.diff(self.offsets)))
        self.twice_spans = [
            (
                int(self.minutes[i]) + 1 + int(self.offsets[i + 1]),
                int(self.minutes[i + 1]) + int(self.offsets[i]) - 1,
            )
            for i in back[: MAX_BACKS + 1]
        ]

    @property
    def single(self) -> bool:
        """Whether every minute is in one offset: wall and instant arithmetic agree."""
        return self.changes == 0

    def offset(self, minute: int) -> int:
        """The offset at a UTC minute: its own row's, else the last row's before it (the
        first row's before the report begins)."""
        if not len(self.minutes):
            return 0
        i = int(np.searchsorted(self.minutes, minute, side="right")) - 1
        return int(self.offsets[max(i, 0)])

    def wall(self, minute: int, offset: int | None = None) -> int:
        return int(minute) + (self.offset(int(minute)) if offset is None else int(offset))

    def twice(self, wall: int) -> bool:
        """Whether the wall clock may have shown minute ``wall`` twice (a fall-back)."""
        if len(self.twice_spans) > MAX_BACKS:
            return True
        return any(lo <= wall <= hi for lo, hi in self.twice_spans)

    def when(self, minute: int | float, offset: int | None = None) -> str:
        """A UTC minute as its wall minute, 2024-11-03 01:30, with its offset (2024-11-03
        01:30 -04:00) when the clock may have shown that wall minute twice."""
        off = self.offset(int(minute)) if offset is None else int(offset)
        wall = int(minute) + off
        text = when(wall)
        return f"{text} {spelled(off)}" if not self.single and self.twice(wall) else text

    def seconds(self, values: np.ndarray) -> list[str]:
        """UTC seconds as wall times to the second, 2024-11-03 01:30:15 (with the offset as
        ``when`` puts it); NaN: unknown, "". One numpy pass, not a call per value."""
        v = np.asarray(values, dtype=np.float64)
        known = ~np.isnan(v)
        secs = np.where(known, v, 0).astype(np.int64)
        minute = secs // 60
        if len(self.minutes):
            at = np.maximum(np.searchsorted(self.minutes, minute, side="right") - 1, 0)
            off = self.offsets[at]
        else:
            off = np.zeros(len(secs), np.int64)
        wall = secs + off * 60
        text = np.char.replace(wall.astype("datetime64[s]").astype(str), "T", " ")
        out = [str(t) if k else "" for t, k in zip(text, known, strict=True)]
        if self.single:
            return out
        return [
            f"{t} {spelled(int(o))}" if t and self.twice(int(w) // 60) else t
            for t, o, w in zip(out, off, wall, strict=True)
        ]

    def clock(self, minute: int | float) -> str:
        """As ``when``, without the date: 01:30, or 01:30 -04:00."""
        return self.when(minute)[11:]
