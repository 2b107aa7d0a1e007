"""A report from the store says the period bounds it used: whole days (QA 17 #6)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from logaudit.render.tabular import as_dict
from tests.store_helpers import log_bytes, report

DATA = log_bytes()


def _days(tmp: Path) -> tuple[Path, Path, datetime]:
    log = tmp / "a.log"
    log.write_bytes(DATA)
    state = tmp / "state"
    whole = as_dict(report([str(log)], state).report)  # type: ignore[arg-type]
    first = datetime.fromisoformat(whole["overview"]["first_local"][:19])
    return log, state, datetime.combine(first.date(), datetime.min.time())


def test_a_bound_inside_a_day_reads_as_the_whole_day_the_store_counted(tmp_path: Path) -> None:
    log, state, day0 = _days(tmp_path)
    since, until = day0 + timedelta(days=1, hours=6), day0 + timedelta(days=1, hours=12)
    out = report([], state, since=since, until=until)
    d = as_dict(out.report)  # type: ignore[arg-type]
    assert d["settings"]["since"] == (day0 + timedelta(days=1)).isoformat()
    assert d["settings"]["until"] == (day0 + timedelta(days=2)).isoformat()
    assert d["overview"]["last_local"][:10] == (day0 + timedelta(days=1)).date().isoformat()
    assert d["overview"]["last_local"][11:19] > "12:00:00"
    # Read directly, the asked bounds are the ones used.
    direct = as_dict(report([str(log)], since=since, until=until).report)  # type: ignore[arg-type]
    assert direct["settings"]["since"] == since.isoformat()
    assert direct["settings"]["until"] == until.isoformat()


def test_whole_day_bounds_are_shown_as_asked(tmp_path: Path) -> None:
    _, state, day0 = _days(tmp_path)
    until = day0 + timedelta(days=2)
    d = as_dict(report([], state, since=day0, until=until).report)  # type: ignore[arg-type]
    assert d["settings"]["since"] == day0.isoformat()
    assert d["settings"]["until"] == until.isoformat()
