"""Reading the values of ``problems``' options: ``--last 15m``, ``--max-5xx-rate 2%``,
``--max-p95 800ms``. A value that cannot be read is one line and exit 2."""

from __future__ import annotations

import re

from logaudit.errors import ExitCode, LogauditError
from logaudit.timespec import MAX_DAYS, UNIT_SECONDS

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, **UNIT_SECONDS}  # timespec's units (m is minutes), and seconds
_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$")


def _bad(option: str, value: str, example: str) -> LogauditError:
    return LogauditError(f"{option}: cannot read {value!r} (e.g. {example})", ExitCode.USAGE)


def duration(value: str, option: str = "--last") -> int:
    """'15m', '2h', '1d', '1w', '90s' (a bare number is minutes) -> seconds, at least 60 and
    at most timespec.MAX_DAYS (a longer one overflowed the window's dates: QA18 #2)."""
    m = _DURATION.match(value)
    if not m:
        raise _bad(option, value, "15m, 2h, 1d, 1w")
    seconds = float(m.group(1)) * _SECONDS[(m.group(2) or "m").lower()]
    if seconds < 60:
        raise LogauditError(f"{option}: {value!r} is under a minute", ExitCode.USAGE)
    if seconds > MAX_DAYS * 86400:
        raise LogauditError(
            f"{option}: {value!r} is more than {MAX_DAYS}d (a hundred years)", ExitCode.USAGE
        )
    return int(seconds)


def seconds(value: str, option: str) -> float:
    """A time: '800ms', '1.5s', '2' (bare: seconds), and the durations' units '5m', '5h',
    '1d', '1w' (m is minutes, as for --last), at most timespec.MAX_DAYS -> seconds."""
    m = _TIME.match(value)
    if not m:
        raise _bad(option, value, "800ms, 1.5s or 5h")
    unit = (m.group(2) or "s").lower()
    v = float(m.group(1)) / 1000.0 if unit == "ms" else float(m.group(1)) * _SECONDS[unit]
    if v > MAX_DAYS * 86400:
        raise LogauditError(
            f"{option}: {value!r} is more than {MAX_DAYS}d (a hundred years)", ExitCode.USAGE
        )
    return v


def rate(value: str, option: str) -> float:
    """'2%' or '0.02' -> 0.02."""
    m = _RATE.match(value)
    if not m:
        raise _bad(option, value, "2% or 0.02")
    v = float(m.group(1)) / (100.0 if m.group(2) else 1.0)
    if v > 1:
        raise LogauditError(f"{option}: {value!r} is over 100 %", ExitCode.USAGE)
    return v
