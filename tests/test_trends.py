"""logaudit trends: periods, zeros, offsets and DST, change, movers and unusual periods.

Each log is built here with a known shape, so every expected figure below follows from the
shape and the rules in ``logaudit/analyze/trends/__init__.py``'s docstring, worked out by hand.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from logaudit.analyze import trends
from logaudit.analyze.base import Context
from logaudit.cli import cli
from logaudit.config import Settings

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
PARIS = ZoneInfo("Europe/Paris")


def clf(
    when: datetime,
    ip: str,
    path: str = "/a",
    status: int = 200,
    size: int = 1000,
    referrer: str = "-",
    agent: str = FIREFOX,
) -> str:
    """One combined line; ``when`` is aware and its own offset is written."""
    off = int((when.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "-" if off < 0 else "+"
    stamp = (
        f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} "
        f"{sign}{abs(off) // 60:02d}{abs(off) % 60:02d}"
    )
    return f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "{referrer}" "{agent}"'


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["trends", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def section(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["sections"] if s["name"] == name)


# ---- the daily log: a weekly cycle, a spike, a step, a gap, a -05:00 offset ----------------

EST = timezone(timedelta(hours=-5))
FIRST_DAY = date(2025, 1, 6)  # a Monday
# People per day (each: one page view of /a plus its stylesheet), Mon..Sun per line.
# fmt: off
PEOPLE = [
    60, 60, 60, 60, 60, 24, 24,  # 2025-W02: the weekly cycle
    60, 60, 200, 60, 60, 24, 24,  # W03: a spike on Wednesday 15 January
    60, 60, 60, 60, 60, 24, 24,  # W04
    90, 90, 90, 90, 90, 36, 36,  # W05: a step up by half from Monday 27 January
    90, 0, 0, 90, 90, 36, 36,  # W06: nothing logged on Tuesday 4 and Wednesday 5 February
    99, 45,  # W07: Monday 10 February (5 server errors too), Tuesday 11 cut at 08:48
]
# fmt: on


def daily_lines() -> list[str]:
    lines = []
    for k, n in enumerate(PEOPLE):
        day = datetime.combine(FIRST_DAY + timedelta(days=k), datetime.min.time(), EST)
        # Spread over the day; the last day is spaced 12 minutes apart so it stops at 08:48.
        gap = 720 if k == len(PEOPLE) - 1 else 86400 // max(n, 1)
        for i in range(n):
            t = day + timedelta(seconds=i * gap)
            ip = f"198.51.100.{i % 250}" if i < 250 else f"203.0.113.{i - 250}"
            lines.append(clf(t, ip, "/a", 200, 1000))
            lines.append(clf(t, ip, "/style.css", 200, 500, "http://shop.test/a"))
        if n:
            # A scanner: 4xx only, so never a visitor.
            for j in range(2):
                lines.append(
                    clf(day + timedelta(hours=12, minutes=j), "192.0.2.99", "/wp-login", 404, 200)
                )
        if k == len(PEOPLE) - 2:
            for j in range(5):
                lines.append(
                    clf(day + timedelta(hours=13, minutes=j), "198.51.100.1", "/api", 500, 100)
                )
    return lines


@pytest.fixture(scope="module")
def daily_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("daily") / "access.log", daily_lines())


@pytest.fixture(scope="module")
def daily(daily_log: Path) -> dict[str, Any]:
    return run(str(daily_log), "--every", "day")


def _hits(n: int) -> int:
    return 2 * n + 2 if n else 0


def test_days_one_row_each_with_zeros_for_the_gap(daily: dict[str, Any]) -> None:
    rows = section(daily, "periods")["rows"]
    assert [r["period"] for r in rows] == [
        (FIRST_DAY + timedelta(days=k)).isoformat() for k in range(len(PEOPLE))
    ]
    assert rows[0]["start"] == "2025-01-06T00:00:00-05:00"
    assert [r["page_views"] for r in rows] == PEOPLE
    assert [r["visitors"] for r in rows] == PEOPLE
    assert [r["visits"] for r in rows] == PEOPLE
    expected_hits = [_hits(n) for n in PEOPLE]
    expected_hits[-2] += 5
    assert [r["hits"] for r in rows] == expected_hits
    assert rows[0] | {"unusual": ""} == {
        "period": "2025-01-06",
        "start": "2025-01-06T00:00:00-05:00",
        "hits": 122,
        "page_views": 60,
        "visitors": 60,
        "visits": 60,
        "clicks_per_visit": 1.0,
        "bandwidth": 60 * 1500 + 2 * 200,
        "status_4xx": 2,
        "rate_4xx": 0.0164,
        "status_5xx": 0,
        "rate_5xx": 0.0,
        "complete": True,
        "unusual": "",
    }
    gap = rows[29]
    assert gap["period"] == "2025-02-04" and rows[30]["period"] == "2025-02-05"
    for r in (gap, rows[30]):
        assert {k: v for k, v in r.items() if k not in ("period", "start", "unusual")} == {
            "hits": 0,
            "page_views": 0,
            "visitors": 0,
            "visits": 0,
            "clicks_per_visit": 0.0,
            "bandwidth": 0,
            "status_4xx": 0,
            "rate_4xx": 0.0,
            "status_5xx": 0,
            "rate_5xx": 0.0,
            "complete": True,
        }
    assert rows[-2]["status_5xx"] == 5 and rows[-2]["rate_5xx"] == round(5 / 205, 4)
    # The last day stops at 08:48: partial. Every other day is complete.
    assert [r["complete"] for r in rows] == [True] * (len(PEOPLE) - 1) + [False]
    # No response time in this format: no such columns.
    assert "response_p50_ms" not in rows[0]


def test_change_against_the_day_before_and_a_week_earlier(daily: dict[str, Any]) -> None:
    sec = section(daily, "change")
    assert sec["headline"] == {
        "period": "2025-02-10",
        "start": "2025-02-10T00:00:00-05:00",
        "previous": "2025-02-09",
        "week_before": "2025-02-03",
    }
    rows = {r["metric"]: r for r in sec["rows"]}
    # Monday 10 Feb: 99 people + 5 errors = 205 hits; Sunday 9: 74; Monday 3: 182.
    assert rows["hits"] == {
        "metric": "hits",
        "last": 205,
        "previous": 74,
        "change_pct": 177.0,
        "change": "▲ +177.0%",
        "week_before": 182,
        "week_change_pct": 12.6,
        "week_change": "▲ +12.6%",
    }
    assert rows["page_views"]["change"] == "▲ +175.0%"
    assert rows["page_views"]["week_change"] == "▲ +10.0%"
    assert rows["status_4xx"]["change"] == "≈ 0.0%"
    assert rows["status_5xx"]["change_pct"] is None and rows["status_5xx"]["change"] == "▲ new"
    assert rows["clicks_per_visit"]["change"] == "≈ 0.0%"


def test_unusual_spike_and_outage_but_not_weekends_or_the_step(daily: dict[str, Any]) -> None:
    rows = section(daily, "unusual")["rows"]
    got = [(r["period"], r["metric"], r["value"], r["baseline_median"], r["z"]) for r in rows]
    # Spike: the 7 days before are 60 x 5 and 24 x 2 people: median 60, quartiles 42 and 60, so
    # the scale is 18 / 1.349 = 13.34 and z = 140 / 13.34 = 10.5 (hits: 280 / 26.69).
    # Outage on Tuesday 4: median 90 (hits 182), quartiles 63 and 90: z = -90 / 20.02 = -4.5.
    # Wednesday 5 is not flagged: Tuesday's zero already widened the quartiles (z = -2.25).
    # Weekends (z = -2.7) and the step to 90 (z = 2.25) stay under 3.5. Bandwidth moves 210 kB
    # and 4xx/5xx counts by under 20: below their floors.
    assert got == [
        ("2025-01-15", "hits", 402, 122, 10.5),
        ("2025-01-15", "page_views", 200, 60, 10.5),
        ("2025-01-15", "visitors", 200, 60, 10.5),
        ("2025-01-15", "visits", 200, 60, 10.5),
        ("2025-02-04", "hits", 0, 182, -4.5),
        ("2025-02-04", "page_views", 0, 90, -4.5),
        ("2025-02-04", "visitors", 0, 90, -4.5),
        ("2025-02-04", "visits", 0, 90, -4.5),
    ]
    flagged = {r["period"]: r["unusual"] for r in section(daily, "periods")["rows"] if r["unusual"]}
    assert flagged == {
        "2025-01-15": "hits, page_views, visitors, visits",
        "2025-02-04": "hits, page_views, visitors, visits",
    }


def test_unusual_says_when_too_little_history_was_checked(daily_log: Path) -> None:
    """Each period needs its whole baseline complete before it: with none that has, the section
    says it checked nothing (text and JSON) instead of "none" found; otherwise how many were."""
    monthly = section(run(str(daily_log), "--every", "month", "--section", "unusual"), "unusual")
    assert monthly["rows"] == []
    assert monthly["note"] == (
        "not checked: each month needs the 6 complete months before it, and this report has "
        "at most 0 complete months before one"
    )
    assert monthly["headline"] == {
        "checked": False,
        "periods_checked": 0,
        "periods": 2,
        "baseline_periods": 6,
    }

    def text(every: str) -> str:
        args = ["trends", str(daily_log), "--every", every, "--section", "unusual"]
        return " ".join(CliRunner().invoke(cli, [*args, "--format", "text"]).stdout.split())

    assert "Unusual periods: nothing to show (none; 1 of 6 weeks checked;" in text("week")
    shown = text("month")
    assert "(not checked: each month needs the 6 complete months before it" in shown
    assert "none" not in shown
    daily = section(run(str(daily_log), "--every", "day", "--section", "unusual"), "unusual")
    assert daily["headline"]["periods_checked"] == 29 and daily["headline"]["periods"] == 37
    assert daily["note"].startswith("29 of 37 days checked; baseline: the previous 7 days")


def test_weeks_count_distinct_visitors_and_months_are_partial(daily_log: Path) -> None:
    weekly = section(run(str(daily_log), "--every", "week"), "periods")["rows"]
    assert [r["period"] for r in weekly] == [f"2025-W{w:02d}" for w in range(2, 8)]
    assert weekly[0]["start"] == "2025-01-06T00:00:00-05:00"
    assert [r["hits"] for r in weekly] == [710, 990, 710, 1058, 694, 205 + 92]
    # The same addresses come back every day: a week's visitors are its busiest day's.
    assert [r["visitors"] for r in weekly] == [60, 200, 60, 90, 90, 99]
    assert [r["visits"] for r in weekly] == [348, 488, 348, 522, 342, 144]
    assert [r["complete"] for r in weekly] == [True] * 5 + [False]

    report = run(str(daily_log), "--every", "month")
    monthly = section(report, "periods")["rows"]
    assert [(r["period"], r["start"], r["complete"]) for r in monthly] == [
        ("2025-01", "2025-01-01T00:00:00-05:00", False),  # starts on the 6th
        ("2025-02", "2025-02-01T00:00:00-05:00", False),  # ends on the 11th
    ]
    assert sum(r["hits"] for r in monthly) == sum(r["hits"] for r in weekly)
    assert section(report, "change")["rows"] == []


def test_auto_picks_days_for_five_weeks(daily_log: Path) -> None:
    report = run(str(daily_log), "--section", "periods")
    assert section(report, "periods")["headline"]["every"] == "day"
    assert [s["name"] for s in report["sections"]] == ["periods"]


def test_csv_is_one_row_per_period(daily_log: Path) -> None:
    result = CliRunner().invoke(
        cli, ["trends", str(daily_log), "--section", "periods", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == [
        "period",
        "start",
        "hits",
        "page_views",
        "visitors",
        "visits",
        "clicks_per_visit",
        "bandwidth",
        "status_4xx",
        "rate_4xx",
        "status_5xx",
        "rate_5xx",
        "complete",
        "unusual",
    ]
    assert len(table) == 1 + len(PEOPLE)
    assert table[1][:6] == ["2025-01-06", "2025-01-06T00:00:00-05:00", "122", "60", "60", "60"]
    assert table[30][2] == "0"  # 2025-02-04


def test_terminal_chart_and_sparklines(daily_log: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "trends",
            str(daily_log),
            "--section",
            "periods",
            "--metric",
            "page_views",
            "--metric",
            "visits",
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    spark = next(x for x in lines if x.startswith("page views"))
    assert "▁" in spark and "█" in spark and "0–200" in spark
    assert any(x.startswith("visits ") for x in lines)
    # The chart is page_views: the spike's row has the longest bar.
    bars = {x.split()[1]: x.rstrip().split()[-1] for x in lines if x.startswith(" 2025-")}
    assert max(bars.values(), key=len) == bars["402"] and "█" in bars["402"]


# ---- DST: offsets written in the log, and --tz on UTC lines ---------------------------------

DST_START = datetime(2025, 3, 28, 23, 0, tzinfo=UTC)  # 2025-03-29 00:00 in Paris


def dst_lines(in_paris: bool) -> list[str]:
    """One page view an hour by one visitor, at half past, for the 71 real hours from Saturday
    29 March 00:00 Paris time to Monday 31 23:59 (clocks go forward on Sunday 30 at 02:00),
    none on Monday from 10:00 to 12:59."""
    lines = []
    for k in range(71):
        t = DST_START + timedelta(hours=k, minutes=30)
        local = t.astimezone(PARIS)
        if local.date() == date(2025, 3, 31) and 10 <= local.hour <= 12:
            continue
        lines.append(clf(local if in_paris else t, "198.51.100.7", "/a", 200, 100))
    return lines


@pytest.mark.parametrize("in_paris", [True, False], ids=["log-offsets", "utc-with-tz"])
def test_dst_days_and_hours(tmp_path: Path, in_paris: bool) -> None:
    log = write(tmp_path / "dst.log", dst_lines(in_paris))
    tz = [] if in_paris else ["--tz", "Europe/Paris"]
    days = section(run(str(log), "--every", "day", *tz), "periods")["rows"]
    assert [(r["period"], r["start"], r["hits"], r["visitors"], r["visits"]) for r in days] == [
        ("2025-03-29", "2025-03-29T00:00:00+01:00", 24, 1, 24),
        ("2025-03-30", "2025-03-30T00:00:00+01:00", 23, 1, 23),  # a 23-hour day
        ("2025-03-31", "2025-03-31T00:00:00+02:00", 21, 1, 21),  # 3 of its hours empty
    ]
    # The last hit, 23:30, is in the day's last 72 minutes: complete.
    assert days[-1]["complete"] is True

    hours = section(run(str(log), "--every", "hour", *tz), "periods")["rows"]
    assert len(hours) == 71  # real hours: the skipped 02:00 is no row, empty hours are
    sunday = [(r["period"], r["start"]) for r in hours if r["period"].startswith("2025-03-30 0")]
    assert sunday[:4] == [
        ("2025-03-30 00:00", "2025-03-30T00:00:00+01:00"),
        ("2025-03-30 01:00", "2025-03-30T01:00:00+01:00"),
        ("2025-03-30 03:00", "2025-03-30T03:00:00+02:00"),
        ("2025-03-30 04:00", "2025-03-30T04:00:00+02:00"),
    ]
    empty = [
        r
        for r in hours
        if r["period"] in ("2025-03-31 10:00", "2025-03-31 11:00", "2025-03-31 12:00")
    ]
    assert [(r["hits"], r["visitors"], r["visits"]) for r in empty] == [(0, 0, 0)] * 3
    assert all(r["visitors"] == 1 for r in hours if r["hits"])


def test_repeated_autumn_hour_is_two_rows_with_tz(tmp_path: Path) -> None:
    # Clocks go back on Sunday 26 October 2025 at 03:00 (+02:00) to 02:00 (+01:00).
    base = datetime(2025, 10, 25, 22, 0, tzinfo=UTC)
    lines = [
        clf(base + timedelta(hours=k, minutes=m), "198.51.100.8")
        for k in range(6)
        for m in range(0, 60, 10)
    ]
    hours = section(
        run(str(write(tmp_path / "oct.log", lines)), "--every", "hour", "--tz", "Europe/Paris"),
        "periods",
    )["rows"]
    assert [(r["period"], r["start"], r["hits"]) for r in hours] == [
        ("2025-10-26 00:00", "2025-10-26T00:00:00+02:00", 6),
        ("2025-10-26 01:00", "2025-10-26T01:00:00+02:00", 6),
        # QA18 #7: the two 02:00 told apart in the label too (text, CSV, HTML show no start).
        ("2025-10-26 02:00 +02:00", "2025-10-26T02:00:00+02:00", 6),
        ("2025-10-26 02:00 +01:00", "2025-10-26T02:00:00+01:00", 6),
        ("2025-10-26 03:00", "2025-10-26T03:00:00+01:00", 6),
        ("2025-10-26 04:00", "2025-10-26T04:00:00+01:00", 6),
    ]
    for fmt in ("text", "csv"):
        out = CliRunner().invoke(
            cli,
            ["trends", str(tmp_path / "oct.log"), "--every", "hour", "--tz", "Europe/Paris",
             "--section", "periods", "--format", fmt],
        ).stdout
        assert "2025-10-26 02:00 +02:00" in out and "2025-10-26 02:00 +01:00" in out, fmt
    # Review of qafix18b #5: a window that starts at the second 02:00 labelled it plainly
    # (the offset came only when two rows shared a label): the zone repeats it, so it says so.
    late = section(
        run(str(tmp_path / "oct.log"), "--every", "hour", "--tz", "Europe/Paris",
            "--since", "2025-10-26T02:00+01:00"),
        "periods",
    )["rows"]
    assert [r["period"] for r in late] == [
        "2025-10-26 02:00 +01:00", "2025-10-26 03:00", "2025-10-26 04:00"
    ]
    assert (
        section(run(str(tmp_path / "oct.log"), "--tz", "Europe/Paris"), "periods")["headline"][
            "every"
        ]
        == "hour"
    )


# ---- movers ----------------------------------------------------------------------------------


def movers_lines() -> list[str]:
    """Four baseline days: /a 30 views (UK, Firefox, from news.example) and /b 20 (Germany,
    Chrome, internal referrer). The fifth day: /a 20, /b 15, and from Japan with Chrome via
    www.search.example /new 13 and /tiny 2."""
    lines = []
    day0 = datetime(2025, 5, 5, tzinfo=UTC)
    for d in range(5):
        groups = [
            ("81.2.69.{}", "/a", "https://news.example/story", FIREFOX, 30 if d < 4 else 20),
            ("5.5.0.{}", "/b", "http://shop.test/a", CHROME, 20 if d < 4 else 15),
        ]
        if d == 4:
            groups += [
                ("2001:218::{}", "/new", "https://www.search.example/?q=x", CHROME, 13),
                ("2001:218::2:{}", "/tiny", "https://www.search.example/?q=y", CHROME, 2),
            ]
        k = 0
        for ip, path, ref, ua, n in groups:
            for i in range(n):
                t = day0 + timedelta(days=d, minutes=20 * k)
                lines.append(clf(t, ip.format(i + 1), path, 200, 800, ref, ua))
                k += 1
        lines.append(clf(day0 + timedelta(days=d, hours=23, minutes=50), "81.2.69.200", "/x.css"))
    return lines


def test_movers_pages_sites_countries_browsers(tmp_path: Path) -> None:
    geo_helpers = pytest.importorskip("geo_helpers")
    geo = tmp_path / "geo"
    geo.mkdir()
    geo_helpers.write_city(geo / "city.mmdb")
    log = write(tmp_path / "movers.log", movers_lines())
    report = run(
        str(log),
        "--every",
        "day",
        "--site-host",
        "shop.test",
        "--geoip-dir",
        str(geo),
        "--section",
        "movers",
    )
    sec = section(report, "movers")
    assert sec["headline"] == {
        "period": "2025-05-09",
        "baseline": ["2025-05-05", "2025-05-06", "2025-05-07", "2025-05-08"],
    }
    got = [
        (
            r["kind"],
            r["item"],
            r["share_before"],
            r["share_last"],
            r["change"],
            r["count_last"],
            r["count_before"],
        )
        for r in sec["rows"]
    ]
    # /tiny (2 views) moved 4 points but is under the 10-view minimum.
    assert got == [
        ("page", "/new", 0.0, 0.26, 26.0, 13, 0),
        ("page", "/a", 0.6, 0.4, -20.0, 20, 120),
        ("page", "/b", 0.4, 0.3, -10.0, 15, 80),
        ("site", "search.example", 0.0, 0.4286, 42.86, 15, 0),
        ("site", "news.example", 1.0, 0.5714, -42.86, 20, 120),
        ("country", "Japan", 0.0, 0.3, 30.0, 15, 0),
        ("country", "United Kingdom", 0.6, 0.4, -20.0, 20, 120),
        ("country", "Germany", 0.4, 0.3, -10.0, 15, 80),
        ("browser", "Chrome", 0.4, 0.6, 20.0, 30, 80),
        ("browser", "Firefox", 0.6, 0.4, -20.0, 20, 120),
        # Sources by share of visits (here one page view each): /b's visits come from the
        # site itself (--site-host shop.test).
        ("source", "search.example", 0.0, 0.3, 30.0, 15, 0),
        ("source", "news.example", 0.6, 0.4, -20.0, 20, 120),
        ("source", "(internal)", 0.4, 0.3, -10.0, 15, 80),
    ]


def test_movers_sources_are_shares_of_visits(tmp_path: Path) -> None:
    """Days 5-6 May (baseline): 30 Google search visits of 1 page view and 30 newsletter
    campaign visits of 3 a day. 7 May (last): Google 30, newsletter 10 (3 views each) and 30
    direct visits. Shares of visits: baseline Google 60/120, newsletter 60/120; last Google
    30/70, newsletter 10/70, direct 30/70. (Shares of page views would be 60/240 for Google.)"""
    day0 = datetime(2025, 5, 5, tzinfo=UTC)
    google = "https://www.google.com/search?q=shoes"
    camp = "/?utm_source=newsletter&utm_medium=email&utm_campaign=may"
    lines = []
    for d in range(3):
        t0 = day0 + timedelta(days=d)
        for i in range(30):
            when = t0 + timedelta(minutes=i)
            lines.append(clf(when, f"198.51.100.{i + 1}", "/g", referrer=google))
            if i < (30 if d < 2 else 10):
                for k, path in enumerate((camp, "/p1", "/p2")):
                    when = t0 + timedelta(hours=2, minutes=i, seconds=k)
                    lines.append(clf(when, f"203.0.113.{i + 1}", path))
            if d == 2:
                lines.append(clf(t0 + timedelta(hours=4, minutes=i), f"192.0.2.{i + 1}", "/"))
        lines.append(clf(t0 + timedelta(hours=23, minutes=50), "198.51.100.200", "/x.css"))
    lines.sort(key=lambda x: x.split("[", 1)[1])
    log = write(tmp_path / "sources.log", lines)
    sec = section(run(str(log), "--every", "day", "--section", "movers"), "movers")
    got = [
        (r["item"], r["share_before"], r["share_last"], r["change"], r["count_last"],
         r["count_before"])
        for r in sec["rows"] if r["kind"] == "source"
    ]  # fmt: skip
    assert got == [
        ("(direct)", 0.0, 0.4286, 42.86, 30, 0),
        ("newsletter", 0.5, 0.1429, -35.71, 10, 60),  # fallers: largest fall first
        ("Google", 0.5, 0.4286, -7.14, 30, 60),
    ]
    assert "sources: of visits" in sec["note"]


def test_movers_skip_countries_without_geoip(tmp_path: Path) -> None:
    log = write(tmp_path / "movers.log", movers_lines())
    ctx_sec = section(
        run(str(log), "--every", "day", "--geoip-dir", str(tmp_path), "--section", "movers"),
        "movers",
    )
    if any(r["kind"] == "country" for r in ctx_sec["rows"]):
        pytest.skip("a system GeoIP database answered")
    assert "countries: no GeoIP country data" in ctx_sec["note"]


# ---- response times: the histogram, on a hand-made chunk -------------------------------------


def test_response_percentiles_from_the_histogram() -> None:
    # Hour 0: 1..100 ms; hour 1: nothing; hour 2: 1000 ms x 20.
    ms = np.concatenate([np.arange(1, 101, dtype=float), np.full(20, 1000.0)])
    secs = np.concatenate([np.arange(100) * 30, 7200 + np.arange(20)])
    utc = pd.Series(pd.to_datetime(secs + 1_700_000_000 - 1_700_000_000 % 3600, unit="s"))
    chunk = pd.DataFrame(
        {
            "time": utc.dt.tz_localize("UTC").astype("datetime64[s, UTC]"),
            "local": utc.astype("datetime64[s]"),
            "status": np.full(len(ms), 200, np.int16),
            "bytes": np.full(len(ms), 10, np.int64),
            "is_page": np.ones(len(ms), bool),
            "person": np.ones(len(ms), bool),
            "response_time": ms / 1000.0,
        }
    )
    s = Settings(extra={"every": "hour"})
    p = {"trend_hours": trends.t_hours(chunk, s), "trend_response": trends.t_response(chunk, s)}
    rows = trends.sec_periods(p, Context(s)).rows
    assert list(rows["hits"]) == [100, 0, 20]
    p50, p95 = rows["response_p50_ms"].tolist(), rows["response_p95_ms"].tolist()
    assert abs(p50[0] - 50) / 50 < 0.03 and abs(p95[0] - 95) / 95 < 0.03
    assert np.isnan(p50[1]) and abs(p50[2] - 1000) / 1000 < 0.03
    assert trends.response_bins(np.array([0.0, 1e-4])).tolist() == [0, 0]
    # Change: hour 2 against hour 1, which has no response time to compare with.
    change = trends.sec_change(p, Context(s)).rows.set_index("metric")
    assert change.loc["hits", "change"] == "▲ new"
    assert change.loc["response_p50_ms", "previous"] is None
    assert change.loc["response_p50_ms", "change"] == ""


# ---- a real log: days agree with summary's daily section ------------------------------------


@pytest.mark.shared
def test_real_log_days_match_summary(shared_data: Path) -> None:
    log = shared_data / "logs" / "lnav" / "logfile_shop_access_log.0"
    if not log.is_file():
        pytest.skip(f"{log} is absent")
    ours = run(str(log), "--every", "day", "--bots", "include", "--section", "periods")
    result = CliRunner().invoke(
        cli, ["summary", str(log), "--bots", "include", "--section", "daily", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    daily = section(json.loads(result.stdout), "daily")["rows"]
    got = [
        (r["period"], r["hits"], r["visitors"], r["page_views"], r["bandwidth"])
        for r in section(ours, "periods")["rows"]
    ]
    want = [(r["date"], r["hits"], r["visitors"], r["page_views"], r["bandwidth"]) for r in daily]
    assert got == want and len(got) >= 1


def test_movers_when_the_last_periods_have_no_page_views(tmp_path: Path) -> None:
    """Only stylesheet hits after the first day: the movers' referrer split gets no referrer
    at all, and the report must still come out (it once crashed in Arrow on an untyped
    empty array)."""
    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    lines = [
        f'81.2.69.142 - - [01/Jan/2026:{h:02d}:00:00 +0000] "GET /page{h % 3} HTTP/1.1" 200 100 '
        f'"http://ex.com/" "{agent}"'
        for h in range(24)
    ]
    start = datetime(2026, 1, 2, 6, tzinfo=UTC)
    lines += [
        f'81.2.69.142 - - [{(start + timedelta(hours=12 * k)):%d/%b/%Y:%H:%M:%S +0000}] '
        f'"GET /s.css HTTP/1.1" 200 100 "-" "{agent}"'
        for k in range(36)
    ]
    report = run(str(write(tmp_path / "quiet.log", lines)), "--every", "day")
    assert section(report, "movers")["rows"] == []


def test_site_of_an_empty_or_missing_index() -> None:
    from logaudit.analyze.referrers import site_of

    assert site_of(pd.Index([], dtype=object)).empty
    got = site_of(pd.Index([None, "https://www.Example.com/a?b"], dtype=object))
    assert list(got["site"]) == ["", "example.com"]


def test_a_rate_change_is_the_counts_change_not_the_rounded_rates(sample_logs: Path) -> None:
    """QA16 finding 7: rate_4xx 0.0114 against 0.0095 (shown to 4 digits) read +20.0%; from
    the counts the section itself shows (173/15197 against 142/14980) it is +20.1%."""
    r = CliRunner().invoke(
        cli, ["trends", str(sample_logs / "weeks"), "--every", "week", "--format", "json"]
    )
    assert r.exit_code == 0, r.stderr
    sec = next(s for s in json.loads(r.stdout)["sections"] if s["name"] == "change")
    rows = {x["metric"]: x for x in sec["rows"]}
    rate = [rows["status_4xx"][k] / rows["hits"][k] for k in ("last", "previous")]
    assert rows["rate_4xx"]["last"] == round(rate[0], 4)  # shown rounded
    assert rows["rate_4xx"]["change_pct"] == round((rate[0] - rate[1]) / rate[1] * 100, 1)


@pytest.mark.parametrize("hours", [9, -8])
def test_an_instant_bound_judges_completeness_in_the_logs_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hours: int
) -> None:
    """A bound that names an instant (a time with its offset, now, 90m, 10h) cut the hits'
    UTC times, but completeness compared the machine's wall clock (UTC here) with the log's:
    at -08:00 a last hour cut at :20 (one hit) was "complete" and changed -83.3 % against a
    full hour; at +09:00 a first hour cut at :40 was "complete" too."""
    monkeypatch.setenv("TZ", "UTC")
    zone = timezone(timedelta(hours=hours))
    start = datetime(2026, 3, 10, 6, 0, tzinfo=zone)
    # One hit a minute for six hours of the log's clock, 06:00 to 11:59.
    log = write(
        tmp_path / "a.log", [clf(start + timedelta(minutes=k), "10.0.0.1") for k in range(360)]
    )
    off = f"{'+' if hours > 0 else '-'}{abs(hours):02d}:00"
    # Cut at 06:40 and 10:20 of the log's clock: the first and last hours are partial.
    cut = run(
        str(log),
        "--every",
        "hour",
        "--since",
        f"2026-03-10T06:40:00{off}",
        "--until",
        f"2026-03-10T10:20:00{off}",
    )
    rows = section(cut, "periods")["rows"]
    assert [r["hits"] for r in rows] == [20, 60, 60, 60, 20]
    assert [r["complete"] for r in rows] == [False, True, True, True, False]
    # Bounds on the hours' edges leave them whole: complete.
    whole = run(
        str(log),
        "--every",
        "hour",
        "--since",
        f"2026-03-10T07:00:00{off}",
        "--until",
        f"2026-03-10T10:00:00{off}",
    )
    assert [r["complete"] for r in section(whole, "periods")["rows"]] == [True] * 3
    # The same instants written in UTC: the same answer.
    utc = start.astimezone(UTC).replace(tzinfo=None)
    as_utc = run(
        str(log),
        "--every",
        "hour",
        "--since",
        f"{utc + timedelta(minutes=40):%Y-%m-%dT%H:%M:%S}Z",
        "--until",
        f"{utc + timedelta(hours=4, minutes=20):%Y-%m-%dT%H:%M:%S}Z",
    )
    assert [r["complete"] for r in section(as_utc, "periods")["rows"]] == [
        False,
        True,
        True,
        True,
        False,
    ]
    # Days: the bound at 10:20 of the log's clock leaves the day partial, whatever the offset.
    day = run(str(log), "--every", "day", "--until", f"2026-03-10T10:20:00{off}")
    assert [r["complete"] for r in section(day, "periods")["rows"]] == [False]


@pytest.mark.parametrize("hours", [9, -8])
def test_now_relative_bounds_judge_completeness_in_the_logs_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hours: int
) -> None:
    """The reviewer's case: --since 10h --until 100m on a log whose offset is not the
    machine's: the first and last hours are complete only when the bound falls on their
    edge (one hit a minute, so within EDGE of it)."""
    monkeypatch.setenv("TZ", "UTC")
    zone = timezone(timedelta(hours=hours))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    log = write(
        tmp_path / "a.log",
        [clf((now - timedelta(minutes=k)).astimezone(zone), "10.0.0.1") for k in range(720, 0, -1)],
    )
    got = run(str(log), "--every", "hour", "--since", "10h", "--until", "100m")
    rows = section(got, "periods")["rows"]
    # One hit a minute from the hour's start to the bound (last hour) or from the bound to
    # the hour's end (first hour): complete only with a hit within 3 minutes (EDGE) of the
    # far edge, so 58 hits or more at the end, 57 or more at the start. The machine's clock
    # read as the log's made the last hour at -08:00, the first at +09:00, always complete.
    assert rows[-1]["complete"] is (rows[-1]["hits"] >= 58), rows[-1]
    assert rows[0]["complete"] is (rows[0]["hits"] >= 57), rows[0]
    assert all(r["complete"] and r["hits"] == 60 for r in rows[1:-1])
