"""Looking after a store: ``logaudit state info|verify|prune|rebuild``."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from logaudit.config import Settings
from logaudit.errors import ConfigError, ExitCode, LogauditError
from logaudit.sources import Input
from logaudit.store.layout import Layout, day_number
from logaudit.store.lock import locked
from logaudit.wording import counted

_AGE = re.compile(r"^\s*(\d+)\s*(d|w|mo|y|m|h)?\s*$", re.I)
_AGE_DAYS = {"d": 1, "w": 7, "mo": 30, "y": 365}


def age_days(text: str) -> int:
    """``400d``, ``8w``, ``13mo`` (30 days), ``1y`` (365 days); a bare number is days. At most
    timespec.MAX_DAYS (a longer one overflowed the date: QA18 #2). ``13m`` is refused, not
    read as months: m is minutes in every other duration (QA18 #14), and a store keeps whole
    days (``13m`` meant months here before)."""
    from logaudit.timespec import MAX_DAYS, too_long

    m = _AGE.match(text)
    if not m:
        raise LogauditError(
            f"--older-than {text!r}: give days like 400d, 8w, 13mo or 1y", ExitCode.USAGE
        )
    unit = (m.group(2) or "d").lower()
    if unit in ("m", "h"):
        raise LogauditError(
            f"--older-than {text!r}: a store keeps whole days and m is minutes; write "
            f"{m.group(1)}mo for months, or days like 400d",
            ExitCode.USAGE,
        )
    if too_long(m.group(1)) or int(m.group(1)) * _AGE_DAYS[unit] > MAX_DAYS:
        raise LogauditError(
            f"--older-than {text!r}: more than {MAX_DAYS}d (a hundred years)", ExitCode.USAGE
        )
    return int(m.group(1)) * _AGE_DAYS[unit]


def _existing(root: Path) -> Layout:
    layout = Layout(root)
    if not layout.exists():
        raise ConfigError(f"--state {root}: no store there")
    return layout


def _local(seconds: Any) -> str | None:
    """Local seconds (the report zone's wall clock) as text."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%d %H:%M:%S")


def info(root: Path) -> dict[str, Any]:
    layout = _existing(root)
    state = layout.read_state()
    days = sorted(state.days)
    return {
        "store": str(root),
        "days": len(days),
        # Days no later line can reach: per-page visitors kept as counts (store/close.py).
        "closed_days": sum(1 for d in state.days.values() if d.get("closed")),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "bytes": layout.size(),
        "files": sum(len(d["files"]) for d in state.days.values()),
        # Closed months rolled up into one file per table (store/months.py).
        "months_rolled_up": sorted(state.months),
        "settings": state.settings,
        "inputs": [
            {
                **{k: r.get(k) for k in ("name", "offset", "lines", "size", "compressed", "seen")},
                "last_line": _local(r.get("last_local")),
            }
            for r in state.inputs
        ],
        "last_runs": state.runs[-5:],
    }


def verify(root: Path, wait: float | None = 0.0) -> list[str]:
    """One line per problem found (none: the store is sound): one per damaged file, saying
    what is wrong with it (missing; not its checksum, and whether it still reads; unreadable;
    not the rows recorded). Closed months' roll-ups (store/months.py) are checked as the days
    are."""
    layout = _existing(root)
    with locked(root, wait):
        state = layout.read_state()
        problems = [wrong] if (wrong := layout.key_damage(state)) else []
        for kind, day, d, table in layout.stored_files(state):
            name = f"{kind} {day}: {layout.path(day, d, table).name}"
            damage = layout.damage(day, d, table)
            if damage and damage.startswith(("is missing", "cannot be read")):
                problems.append(f"{name} {damage}")
                continue
            try:
                frame = layout.read_table(day, d, table)
            except Exception as e:
                # Once the checksum says damaged, any failure is the damage: a flipped byte in
                # the pandas metadata fails as a KeyError, in Arrow's text decoding as a
                # UnicodeDecodeError.
                if damage:
                    problems.append(f"{name} {damage} and does not read")
                elif not any(layout.damage(day, d, other) for other in d["files"]):
                    if not isinstance(e, LogauditError):
                        raise
                    problems.append(str(e))
                # else the read failed on another damaged file of the day, which has its own
                # line: mostly the day's paths, which the tables naming paths by number read
                # with them (path_visitor_counts, pb_client_404, pv_events), or the page
                # views' own events (touch_events), read with packed page views
                continue
            if damage:
                problems.append(f"{name} {damage} (it still reads)")
            elif frame is not None and len(frame) != d["files"][table]["rows"]:
                problems.append(
                    f"{kind} {day}: {table} holds {counted(len(frame), 'row')}, not the "
                    f"{d['files'][table]['rows']:,} recorded"
                )
    return problems


def prune(
    root: Path,
    older_than_days: int,
    wait: float | None = 0.0,
    today: date | None = None,
    yes: bool = False,
) -> list[str]:
    """Remove the days before ``today - older_than_days``; the days removed. An age of 0 (every
    day before today) is refused unless ``yes`` (``--yes``): the logs it read are not read
    again, so a report on them would find nothing (QA22 #10). Any other age may remove every
    day held: a nightly retention prune of a store no longer fed must keep working."""
    layout = _existing(root)
    cutoff = day_number(((today or date.today()) - timedelta(days=older_than_days)).isoformat())
    with locked(root, wait):
        state = layout.read_state()
        gone = sorted(d for d in state.days if day_number(d) < cutoff)
        if gone and older_than_days < 1 and not yes:
            raise LogauditError(
                f"state prune --older-than 0 would remove every day before today ({len(gone):,}"
                f" of {len(state.days):,}, {gone[0]} .. {gone[-1]}), and the logs they were "
                "read from are not read again (reports on them would find no request): give "
                "--yes to do it, or `logaudit state rebuild LOG...` to read the logs anew",
                ExitCode.USAGE,
            )
        if gone:
            for d in gone:
                del state.days[d]
            layout.commit(state)
    return gone


def rebuild(root: Path, inputs: list[Input], settings: Settings, wait: float | None = 0.0) -> Any:
    """Read ``inputs`` from the start into a new store and put it in place of ``root``'s (the
    old one is kept until the new one is complete: a failed rebuild changes nothing)."""
    from logaudit.store import ingest

    if not inputs:
        raise LogauditError("state rebuild: name the logs to read", ExitCode.USAGE)
    from logaudit.store.layout import make_root

    make_root(root)  # 0700; its parent must exist
    new = root.with_name(f".{root.name}.rebuild-{os.getpid()}")
    shutil.rmtree(new, ignore_errors=True)
    with locked(root, wait):
        layout = Layout(new)
        layout.create()
        old_key = root / "key"
        if old_key.exists():
            # The same key: tokens in the rebuilt store match the ones users have seen.
            shutil.copy2(old_key, new / "key")
        try:
            r = ingest(layout, layout.read_state(), inputs, settings)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        old = root.with_name(f".{root.name}.old-{os.getpid()}")
        os.replace(root, old)
        os.replace(new, root)
        shutil.rmtree(old, ignore_errors=True)
    return r
