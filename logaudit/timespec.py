"""``--since`` / ``--until`` values: absolute or relative, and durations.

Absolute: ``2026-11-24``, ``2026-11-24 13:00``, ``2026-11-24T13:00:05``. Relative: ``now``,
``90m``, ``12h`` (that long before now), ``today``, ``yesterday``, ``7d``, ``2w`` (midnights:
``Nd`` is the midnight N days before today's, so ``1d`` is ``yesterday``, ``0d`` ``today``, and
``--since 7d`` is today so far and the 7 whole days before it). ``parse_when`` gives a naive
wall-clock time, compared with the report's clock: ``--tz`` when given, else the log's own wall
clock (for a server's own logs, the machine's zone).

``now``, ``Nm`` and ``Nh`` name instants, like a time written with its offset
(``2026-01-23T00:00:00+00:00``, ``...Z``): ``instant`` gives its UTC time, which cli.py keeps
as ``since_utc``/``until_utc`` and the hits' UTC times are cut by (enrich/classify.py), so
``--since 90m`` is the last 90 minutes whatever offset the log writes; the report shows it in
UTC with its offset. ``today``, ``yesterday``, ``Nd`` and ``Nw`` are midnights of the report's
clock (a store answers them from its whole days, with nothing to round). ``parse_when`` still
turns an instant into a wall time (``--tz``'s, else the machine's zone), used only where whole
days are counted: the digest's days, and a store's, which answers an instant as the whole day
that holds it (store.whole_days).

Durations share ``MAX_DAYS`` and ``m`` as minutes, not one grammar (README, Durations):
``--since``/``--until`` take a whole number and ``m``, ``h``, ``d`` or ``w`` (``_REL``);
``--window`` the same, a bare number seconds (``duration_seconds``); ``--last`` decimals and
``s`` too, bare minutes (analyze/problems/limits.duration); ``visit_timeout`` decimals,
``s``/``sec``, ``m``/``min``, ``h``, bare minutes (config.visit_timeout_seconds);
``--older-than`` ``d``, ``w``, ``mo``, ``y``, bare days (store/manage.age_days).
zoneinfo is imported where a zone is named: ``logaudit config`` reads durations from here
without it (tests/test_startup.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from logaudit.errors import ConfigError, ExitCode, LogauditError

_REL = re.compile(r"^(\d+)\s*([mhdw])$")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest duration read (a hundred years): longer ones are refused in one line, where
# date arithmetic overflowed (OverflowError, OutOfBoundsDatetime: QA18 #2).
MAX_DAYS = 36500
# Units that name an instant (``now`` too); d and w are days of the report's clock.
_INSTANT_UNITS = ("m", "h")


def too_long(number: str) -> bool:
    """A whole number (digits) too large to turn into an int cheaply: over 12 digits once
    its leading zeros are dropped (``0000000000001`` is 1, not too long)."""
    return len(number.lstrip("0")) > 12


def relative_seconds(number: str, unit: str) -> int:
    """``number`` of ``unit`` (m, h, d, w) in seconds; ValueError beyond ``MAX_DAYS``."""
    if too_long(number) or int(number) * UNIT_SECONDS[unit] > MAX_DAYS * 86400:
        raise ValueError(f"more than {MAX_DAYS}d (a hundred years)")
    return int(number) * UNIT_SECONDS[unit]


def now_in(tz: str | None) -> datetime:
    if tz:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(tz)).replace(tzinfo=None)
    return datetime.now().replace(microsecond=0)


def parse_when(text: str, tz: str | None = None, now: datetime | None = None) -> datetime:
    t = text.strip().lower()
    current = now or now_in(tz)
    midnight = current.replace(hour=0, minute=0, second=0, microsecond=0)
    if t == "now":
        return current
    if t == "today":
        return midnight
    if t == "yesterday":
        return midnight - timedelta(days=1)
    m = _REL.match(t)
    if m:
        try:
            seconds = relative_seconds(m.group(1), m.group(2))
        except ValueError as e:
            raise LogauditError(f"cannot read the time {text!r}: {e}", ExitCode.USAGE) from None
        if m.group(2) in _INSTANT_UNITS:
            return current - timedelta(seconds=seconds)
        # Nd, Nw: whole days, as yesterday is (1d): the midnight N days before today's, the
        # same in one pass and in a store (QA23 F6: 2d was now minus 48 h in one pass).
        return midnight - timedelta(seconds=seconds)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        # A bad option value: usage, exit 2 (README), like every other unreadable value.
        raise LogauditError(
            f"cannot read the time {text!r}: use 2026-11-24, '2026-11-24 13:00', today, "
            "yesterday, 24h, 7d or 2w",
            ExitCode.USAGE,
        ) from None
    if value.tzinfo is not None:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(tz) if tz else None
        value = value.astimezone(zone).replace(tzinfo=None)
    return value


def relative(text: str) -> bool:
    """``90m``, ``12h`` (that long before now), ``7d``, ``2w`` (that many midnights back): a
    span that runs to now."""
    return bool(_REL.match(text.strip().lower()))


def instant(text: str, now: datetime | None = None) -> datetime | None:
    """The UTC time (naive) of an absolute time written with its offset
    (``2026-01-23T00:00:00+01:00``), or of ``now``, ``Nm``, ``Nh`` (that long before ``now``,
    UTC, naive; default the clock), else None: it names one instant, whatever the zone."""
    t = text.strip().lower()
    m = _REL.match(t)
    if t == "now" or (m and m.group(2) in _INSTANT_UNITS):
        current = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        return current - timedelta(seconds=relative_seconds(m.group(1), m.group(2)) if m else 0)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None)


def duration_seconds(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``2w`` (or a plain number of seconds) -> seconds, at least
    one second and at most ``MAX_DAYS``; ValueError saying why not."""
    t = text.strip().lower()
    m = _REL.match(t)
    if m:
        seconds = relative_seconds(m.group(1), m.group(2))
    elif t.isdigit():  # seconds
        seconds = MAX_DAYS * 86400 + 1 if too_long(t) else int(t)
        if seconds > MAX_DAYS * 86400:
            raise ValueError(f"more than {MAX_DAYS}d (a hundred years)")
    else:
        seconds = 0
    if seconds <= 0:
        raise ValueError("use 30d, 12h, 90m or 2w")
    return seconds


def parse_duration(text: str, where: str = "duration") -> int:
    """``duration_seconds``, a ConfigError naming ``where`` when it cannot be read."""
    try:
        return duration_seconds(text)
    except ValueError as e:
        raise ConfigError(f"{where}: cannot read the duration {text!r}: {e}") from None


def say_seconds(seconds: int) -> str:
    """A duration as a user writes it for ``duration_seconds``: 7d, 12h, 90m, else seconds."""
    for unit in "dhm":
        if seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return str(seconds)


def say_duration(seconds: float) -> str:
    """A duration for people, the one way every report says it (the overview's median visit,
    the durations note, a visitor's visits): 13 s, 20 min 00 s, 2 h 05 min."""
    s = float(seconds)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def machine_zone() -> str:
    """The machine's IANA zone name ($TZ, else /etc/localtime's target), "UTC" if unknown.
    Times a log writes without a zone are read as wall time in it when --tz is not given."""
    import os
    from zoneinfo import ZoneInfo

    for name in (os.environ.get("TZ", "").lstrip(":"), _localtime_link()):
        if name:
            try:
                ZoneInfo(name)
                return name
            except (ValueError, OSError, KeyError):
                continue
    return "UTC"


def _localtime_link() -> str:
    import os

    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return ""
    _, sep, name = target.partition("zoneinfo/")
    return name if sep else ""
