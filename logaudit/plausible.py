"""Plausibility of parsed times: the one check every format's chunk goes through.

A line whose timestamp parses can still be absurd: a year 0001 or 9999 stretches every
per-period table over millennia (3.6 million empty days from a 3-line log), and an offset such
as ``+9959`` moves days and breaks period arithmetic. Such lines are *bad lines* with reasons
of their own, never silently dropped and never allowed to blow a report up.

``check(chunk, window)`` is vectorised over the chunk's ``time`` and ``offset`` columns, so
every format family calls it once where it finishes a chunk (``parse.parse_block``) and gets
the same rules.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

import numpy as np
import pandas as pd

# The widest real UTC offsets are -12:00 and +14:00 (Line Islands); ±14:00 either way.
MAX_OFFSET_MINUTES = 14 * 60
# A parser that read an offset whose minutes are over 59 ("+0075") stores this in ``offset``
# (int16's largest value, far beyond any real offset) so the row reaches ``check`` and is
# counted with its own reason rather than as an unreadable timestamp.
BAD_MINUTES = np.iinfo(np.int16).max

DEFAULT_EARLIEST = "1990-01-01"
DEFAULT_AHEAD_DAYS = 1

OFFSET_MINUTES_REASON = "UTC offset minutes over 59"
OFFSET_RANGE_REASON = "UTC offset beyond ±14:00"
# ``Window.late_reason`` up to its number of days: what tells a line dated too far ahead
# (analyze/inputs.py says so of an input whose bad lines are all such).
LATE_PREFIX = "implausible timestamp: more than "


@dataclass(frozen=True)
class Window:
    """Plausible instants, UTC seconds since 1970, ``lo <= t < hi``."""

    lo: int
    hi: int
    ahead_days: int = DEFAULT_AHEAD_DAYS

    @property
    def early_reason(self) -> str:
        lo = datetime.fromtimestamp(self.lo, UTC).strftime("%Y-%m-%d")
        return f"implausible timestamp: before {lo}"

    @property
    def late_reason(self) -> str:
        days = "day" if self.ahead_days == 1 else "days"
        return f"{LATE_PREFIX}{self.ahead_days} {days} in the future"


def window(earliest: str | date | None = None, ahead_days: int | None = None) -> Window:
    """The window from a first day (ISO date) to now plus ``ahead_days`` days.

    Raises ValueError for an earliest day that is not an ISO date or a negative ``ahead_days``
    (config.py turns that into a ConfigError)."""
    first = earliest or DEFAULT_EARLIEST
    d = first if isinstance(first, date) else date.fromisoformat(str(first))
    ahead = DEFAULT_AHEAD_DAYS if ahead_days is None else int(ahead_days)
    if ahead < 0:
        raise ValueError("days ahead must be 0 or more")
    lo = int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())
    hi = int(_time.time()) + ahead * 86400
    return Window(lo, hi, ahead)


def check(chunk: pd.DataFrame, win: Window | None = None) -> list[tuple[np.ndarray, str]]:
    """Masks of implausible rows of a parsed chunk, each with its reason, first reason first.

    Reads ``time`` (datetime64[s, UTC]) and ``offset`` (int16 minutes). A row may be in more
    than one mask; callers count it under the first. Empty list when every row is plausible."""
    win = win or window()
    out: list[tuple[np.ndarray, str]] = []
    if not len(chunk):
        return out
    offset = np.asarray(chunk["offset"], dtype=np.int64)
    minutes = offset == BAD_MINUTES
    if minutes.any():
        out.append((minutes, OFFSET_MINUTES_REASON))
    far = (np.abs(offset) > MAX_OFFSET_MINUTES) & ~minutes
    if far.any():
        out.append((far, OFFSET_RANGE_REASON))
    secs = chunk["time"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    early = (secs < win.lo) & ~minutes & ~far
    if early.any():
        out.append((early, win.early_reason))
    late = (secs >= win.hi) & ~minutes & ~far
    if late.any():
        out.append((late, win.late_reason))
    return out


class _Bad(Protocol):
    parsed: dict[str, int]

    def note(self, name: str, lines: np.ndarray, reason: str | Callable[[int], str]) -> None: ...


def drop(chunk: pd.DataFrame, name: str, bad: _Bad, win: Window | None = None) -> pd.DataFrame:
    """``chunk`` without its implausible rows, which are counted in ``bad`` as bad lines of
    input ``name`` (the chunk's rows were counted as parsed; they are moved over)."""
    masks = check(chunk, win)
    if not masks:
        return chunk
    lines = np.asarray(chunk["line"], dtype=np.int64)
    gone = np.zeros(len(chunk), bool)
    for mask, why in masks:
        rows = np.flatnonzero(mask & ~gone)
        bad.note(name, lines[rows], why)
        gone |= mask
    bad.parsed[name] = bad.parsed.get(name, 0) - int(gone.sum())
    return chunk.iloc[np.flatnonzero(~gone)].reset_index(drop=True)
