"""Faults and hostile inputs (issue #19): absurd times, damaged archives, NUL prefixes, output
files, exit codes for internal errors, signals and processes.

Each test states the fault it injects and checks the promise: nothing a user asked for is lost,
nothing is injected, nothing blows up, and every failure is one line with its documented code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from loglines import isolate, line, write

from logaudit import plausible
from logaudit.cli import cli
from logaudit.errors import ExitCode


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("COLUMNS", "100")


def run(*args: str | Path, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True)


def summary_json(*args: str | Path, code: int = 0, command: str = "summary") -> dict:
    r = run(command, *args, "--format", "json")
    assert r.exit_code == code, (r.exit_code, r.stderr, r.exception)
    return json.loads(r.stdout)


def section(report: dict, name: str) -> dict:
    return next(s for s in report["sections"] if s["name"] == name)


# ---- implausible times and offsets are bad lines with their own reasons --------------------


ABSURD = {
    "01/Jan/0001:00:00:00 +0000": "implausible timestamp: before 1990-01-01",
    "31/Dec/9999:23:59:59 +0000": "implausible timestamp: more than 1 day in the future",
    "31/Dec/1989:23:59:59 +0000": "implausible timestamp: before 1990-01-01",
    "01/Jan/2024:00:00:00 +9959": plausible.OFFSET_RANGE_REASON,
    "01/Jan/2024:00:00:00 -1401": plausible.OFFSET_RANGE_REASON,
    "01/Jan/2024:00:00:00 +0160": plausible.OFFSET_MINUTES_REASON,
}


@pytest.mark.parametrize("command", ["summary", "trends", "visits"])
def test_absurd_times_are_bad_lines_with_reasons(tmp_path: Path, command: str) -> None:
    good = [line(when="01/Jan/2024:10:00:00 +1400"), line(when="02/Jan/2024:10:00:00 -1200")]
    log = write(tmp_path / "a.log", [line(when=w) for w in ABSURD] + good)
    rep = summary_json(log, command=command)
    assert rep["overview"]["requests"] == 2
    bad = rep["bad_lines"]
    assert bad["total"] == len(ABSURD)
    got = {e["line"]: e["reason"] for e in bad["examples"]}
    # Examples keep the first five; each names its own reason.
    for n, reason in enumerate(ABSURD.values(), start=1):
        if n in got:
            assert got[n] == reason


def test_window_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = write(tmp_path / "a.log", [line(when="01/Jan/1985:00:00:00 +0000"), line()])
    assert summary_json(log)["overview"]["requests"] == 1
    monkeypatch.setenv("LOGAUDIT_EARLIEST", "1980-01-01")
    assert summary_json(log)["overview"]["requests"] == 2
    monkeypatch.setenv("LOGAUDIT_EARLIEST", "not a date")
    r = run("summary", log)
    assert r.exit_code == ExitCode.CONFIG, r.stderr


def test_window_ahead_days(tmp_path: Path) -> None:
    win = plausible.window("1990-01-01", 0)
    later = plausible.window("1990-01-01", 3)
    assert later.hi - win.hi >= 3 * 86400 - 5
    with pytest.raises(ValueError):
        plausible.window("1990-01-01", -1)


def test_far_apart_hits_do_not_blow_up(tmp_path: Path) -> None:
    # The 3-line log with first and last hit 35 years apart: each per-period table is
    # capped at PERIOD_ROWS rows, with a note, and its total says how many periods there were.
    from logaudit.analyze.periods import PERIOD_ROWS

    log = write(
        tmp_path / "far.log",
        [line(when="01/Jan/1991:00:00:00 +0000"), line(when="01/Jan/2026:00:00:00 +0000")],
    )
    daily = section(summary_json(log), "daily")
    assert len(daily["rows"]) == PERIOD_ROWS
    assert "only the last 1,000 days" in daily["note"]
    assert daily["rows"][-1]["date"] == "2026-01-01"
    for every in ("hour", "day", "week"):
        rep = summary_json(log, "--every", every, command="trends")
        periods = section(rep, "periods")
        assert len(periods["rows"]) == PERIOD_ROWS, every
        assert "only the last 1,000" in periods["note"]
        # The most recent hit is in the series; the old one is still in the totals.
        assert sum(r["hits"] for r in periods["rows"]) == 1
        assert rep["overview"]["requests"] == 2
    # --top raises the cap; --top 0 lifts it.
    rows = section(summary_json(log, "--top", "2000"), "daily")["rows"]
    assert len(rows) == 2000
    rows = section(summary_json(log, "--top", "0"), "daily")["rows"]
    assert len(rows) == 35 * 365 + 9 + 1  # 9 leap days in 1992..2024


def test_near_hits_are_not_capped(tmp_path: Path) -> None:
    log = write(
        tmp_path / "near.log",
        [line(when="01/Jan/2024:00:00:00 +0000"), line(when="31/Mar/2024:00:00:00 +0000")],
    )
    daily = section(summary_json(log), "daily")
    assert len(daily["rows"]) == 91
    assert "only the last" not in daily["note"]
