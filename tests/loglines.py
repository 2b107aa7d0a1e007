"""Small builders for access-log lines and files, shared by the foundation tests.

Lines are built field by field so a test states only what it is about; everything else takes a
plain, valid default. Nothing here imports logaudit: expectations are computed independently of
the code under test.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CURL = "curl/8.4.0"

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def clf_time(when: datetime) -> str:
    """``10/Oct/2000:13:55:36 -0700`` for an aware datetime (its own offset is written)."""
    off = when.utcoffset() or timedelta(0)
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    mins = abs(mins)
    return (
        f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when.year:04d}:"
        f"{when:%H:%M:%S} {sign}{mins // 60:02d}{mins % 60:02d}"
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def line(
    client: str = "203.0.113.1",
    when: str | datetime = "01/Mar/2024:10:00:00 +0000",
    request: str = "GET / HTTP/1.1",
    status: int | str = 200,
    size: int | str = 100,
    referrer: str | None = "-",
    agent: str | None = FIREFOX,
    user: str = "-",
    vhost: str | None = None,
    extra: Iterable[str] = (),
) -> str:
    """One combined line; ``referrer=None, agent=None`` gives the common format, ``vhost``
    a leading virtual host. ``extra`` fields are appended as written."""
    t = clf_time(when) if isinstance(when, datetime) else when
    parts = [client, "-", user, f"[{t}]", f'"{request}"', str(status), str(size)]
    if vhost is not None:
        parts.insert(0, vhost)
    if referrer is not None or agent is not None:
        parts += [
            f'"{"-" if referrer is None else referrer}"',
            f'"{"-" if agent is None else agent}"',
        ]
    parts += list(extra)
    return " ".join(parts)


def write(path: Path, lines: Iterable[str | bytes], newline_at_end: bool = True) -> Path:
    """Write lines (str as UTF-8, bytes as they are) joined by LF."""
    raw = b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8") for x in lines)
    if newline_at_end:
        raw += b"\n"
    path.write_bytes(raw)
    return path


def countable_lines(raw: bytes) -> int:
    """Lines that are neither blank nor ``#`` comments: each is a hit or a bad line."""
    n = 0
    for piece in raw.split(b"\n"):
        s = piece.strip()
        if s and not s.startswith(b"#"):
            n += 1
    return n


def write_text(path: Path, text: str, mode: int = 0o600) -> Path:
    """A config file (or any text file) written with its folders, in ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user config file, no LOGAUDIT_* variables, no GeoIP directory from outside."""
    for k in list(os.environ):
        if k.startswith("LOGAUDIT_") and k != "LOGAUDIT_SHARED_DATA":
            monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("LOGAUDIT_CONFIG", os.devnull)  # an empty config: none
    # Not this machine's /etc/logaudit/logaudit.toml (always read, under any user file).
    monkeypatch.setattr("logaudit.config.SYSTEM_CONFIG", tmp_path / "etc" / "logaudit.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("NO_COLOR", "1")
