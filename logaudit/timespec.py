"""``--since`` / ``--until`` values: absolute or relative, in the report's zone.

Absolute: ``2026-11-24``, ``2026-11-24 13:00``, ``2026-11-24T13:00:05``. Relative: ``now``,
``today``, ``yesterday`` (midnights), ``7d``, ``24h``, ``90m``, ``2w`` (that long before now).
``parse_when`` gives a naive wall-clock time, compared with the report's clock: ``--tz`` when
given, else the log's own wall clock (for a server's own logs, the machine's zone).

A time written with its offset (``2026-01-23T00:00:00+00:00``, ``...Z``) names one instant:
``instant`` gives its UTC time, which cli.py keeps as ``since_utc``/``until_utc`` and the hits'
UTC times are cut by (enrich/classify.py); the report shows it with its offset. ``parse_when``
still turns it into a wall time (``--tz``'s, else the machine's zone), used only where whole
days are counted: the digest's days; the store does not answer an instant (store.answerable).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from logaudit.errors import ConfigError, ExitCode, LogauditError

_REL = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def now_in(tz: str | None) -> datetime:
    if tz:
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
        return current - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
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
        zone = ZoneInfo(tz) if tz else None
        value = value.astimezone(zone).replace(tzinfo=None)
    return value


def instant(text: str) -> datetime | None:
    """The UTC time (naive) of an absolute time written with its offset
    (``2026-01-23T00:00:00+01:00``), else None: it names one instant, whatever the zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def parse_duration(text: str, where: str = "duration") -> int:
    """``30d``, ``12h``, ``90m``, ``2w`` (or a plain number of seconds) -> seconds; at least
    one second."""
    t = text.strip().lower()
    m = _REL.match(t)
    seconds = (
        int(timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}).total_seconds())
        if m
        else int(t)
        if t.isdigit()
        else 0
    )
    if seconds <= 0:
        raise ConfigError(f"{where}: cannot read the duration {text!r}: use 30d, 12h, 90m or 2w")
    return seconds


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
