"""Golden outputs: every ``tests/golden/<name>.log`` is summarised and compared with
``<name>.json`` (the JSON report) and ``<name>.txt`` (the terminal report at width 100, no colour)
next to it. Inputs are found by glob: adding a log adds a case.

To accept new output on purpose (after checking the diff!), refresh the files with

    LOGAUDIT_REFRESH_GOLDEN=1 python -m pytest tests/test_golden.py

then review ``git diff tests/golden``. The figures of ``basic.log`` are also checked against a
hand computation from METRICS.md (test_basic_figures_by_hand), so a refresh cannot bless a wrong
count there.

Volatile fields are left out of the comparison: ``generated`` (the run's clock). File names are
stable because the logs are read by their relative name from inside tests/golden. The sections
are fixed (the foundation's own, none needing GeoIP), so a new section elsewhere does not
change these files; a new overview figure does, and is a refresh.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from loglines import isolate
from rich.console import Console

from logaudit import api
from logaudit.cli import cli
from logaudit.config import load
from logaudit.render.terminal import render

GOLDEN = Path(__file__).parent / "golden"
LOGS = sorted(GOLDEN.glob("*.log"))
# Read at import: the isolation fixture clears LOGAUDIT_* variables.
REFRESH = os.environ.get("LOGAUDIT_REFRESH_GOLDEN") == "1"
VOLATILE = ("generated",)
SECTIONS = (
    "daily",
    "pages",
    "static",
    "not-found",
    "hosts",
    "status",
    "referring-sites",
    "referrers",
    "hours",
    "vhosts",
    "methods",
    "protocols",
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(GOLDEN)


def current_json(name: str) -> dict[str, Any]:
    args = ["summary", name, "--format", "json", "--top", "0"]
    for s in SECTIONS:
        args += ["--section", s]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, (r.stderr, r.exception)
    data = json.loads(r.stdout)
    for key in VOLATILE:
        data.pop(key, None)
    return data


def current_text(name: str) -> str:
    settings = load({"top": 0, "sections": SECTIONS}, env={"LOGAUDIT_CONFIG": os.devnull})
    outcome = api.summary([name], settings, SECTIONS)
    assert outcome.report is not None and outcome.exit_code == 0, outcome.messages
    buf = io.StringIO()
    render(outcome.report, console=Console(file=buf, width=100, color_system=None))
    return buf.getvalue()


def _compare(path: Path, current: str) -> None:
    if REFRESH or not path.exists():
        if not REFRESH:
            pytest.fail(f"{path.name} is missing: run LOGAUDIT_REFRESH_GOLDEN=1 pytest {__file__}")
        path.write_text(current, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert current == expected, (
        f"{path.name} differs from the current output; if the change is intended, refresh with "
        "LOGAUDIT_REFRESH_GOLDEN=1 python -m pytest tests/test_golden.py and review the diff"
    )


def test_there_are_golden_inputs() -> None:
    assert len(LOGS) >= 3


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_json_matches_golden(log: Path) -> None:
    data = current_json(log.name)
    _compare(log.with_suffix(".json"), json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_terminal_matches_golden(log: Path) -> None:
    text = current_text(log.name)
    assert "\x1b" not in text and "\u202e" not in text
    _compare(log.with_suffix(".txt"), text)


def _basic_figures(data: dict[str, Any]) -> dict[str, Any]:
    ov = data["overview"]
    sections = {s["name"]: s for s in data["sections"]}
    status = {r["status"]: r["hits"] for r in sections["status"]["rows"]}
    return {
        "requests": ov["requests"],
        "bad_lines": ov["bad_lines"],
        "page_views": ov["page_views"],
        "visitor_days": ov["visitor_days"],
        "unique_visitors": ov["unique_visitors"],
        "bandwidth": ov["bandwidth"],
        "404": status.get(404, 0),
        "not_found_urls": ov["not_found_urls"],
        "not_found_rows": {r["path"]: r["hits"] for r in sections["not-found"]["rows"]},
        "daily_visitors": [(r["date"], r["visitors"]) for r in sections["daily"]["rows"]],
        "crawler_hits": ov["crawler_hits"],
        "tool_hits": ov["tool_hits"],
        "status": status,
    }


# basic.log, by hand (METRICS.md). Visitor keys are (IP, user agent):
#   A = 203.0.113.10 + Firefox, B = 203.0.113.10 + Chrome (same IP, another key),
#   C = 198.51.100.20 + Firefox, G = Googlebot (crawler), T = curl (tool).
#
#   #  day  key status path            bytes  page view?                 visitor-day hit?
#   1  1    A   200    /               1000   yes                        yes
#   2  1    A   200    /style.css       500   no (static)                yes
#   3  1    A   200    /about?lang=en   800   yes                        yes
#   4  1    B   404    /missing         200   no (404)                   no (4xx)
#   5  1    C   200    /products/1     1200   yes                        yes
#   6  1    C   304    /img/logo.png      -   no (static; '-' = 0 B)     yes
#   7  1    G   200    /robots.txt       40   no (crawler, static)       no (crawler)
#   8  1    G   200    /products/1     1200   no (crawler)               no (crawler)
#   9  1    T   200    /api/status       20   no (tool)                  no (tool)
#  10  1    C   302    /cart/add          0   no (3xx other than 304)    yes
#  11  2    A   200    /products/2      900   yes                        yes
#  12  2    B   404    /old-page        150   no (404)                   no (4xx)
#  13  2    B   200    /               1000   yes                        yes
#  14  2    C   404    /missing         200   no (404)                   no (4xx)
#  15  2    C   500    /contact         300   no (5xx)                   yes (5xx is not 4xx)
#  16  2    A   200    HEAD /             -   yes (any method)           yes
#
#  requests 16, bad lines 0
#  page views: lines 1, 3, 5, 11, 13, 16 = 6
#  bandwidth: 1000+500+800+200+1200+0+40+1200+20+0+900+150+1000+200+300+0 = 7510
#  daily visitors: day 1 {A, C} = 2 (B only had a 404); day 2 {A, B, C} = 3
#  visitor-days: 2 + 3 = 5; unique visitors over the period: {A, B, C} = 3
#  404s: lines 4, 12, 14 = 3 hits on 2 URLs (/missing 2, /old-page 1)
#  crawler hits 2 (G), tool hits 1 (T)
#  status: 200 x10, 302 x1, 304 x1, 404 x3, 500 x1
BASIC_BY_HAND = {
    "requests": 16,
    "bad_lines": 0,
    "page_views": 6,
    "visitor_days": 5,
    "unique_visitors": 3,
    "bandwidth": 7510,
    "404": 3,
    "not_found_urls": 2,
    "not_found_rows": {"/missing": 2, "/old-page": 1},
    "daily_visitors": [("2024-03-01", 2), ("2024-03-02", 3)],
    "crawler_hits": 2,
    "tool_hits": 1,
    "status": {200: 10, 302: 1, 304: 1, 404: 3, 500: 1},
}


def test_basic_figures_by_hand() -> None:
    assert _basic_figures(current_json("basic.log")) == BASIC_BY_HAND


# Visits (30-minute timeout, people's page views only), by hand:
#   A: / 10:00 + /about 10:01 (day 1) | /products/2 00:00:10 (day 2) | HEAD / 10:00 (day 2)
#   B: / 09:00:05 (day 2);  C: /products/1 11:00 (day 1)
#   5 visits, 6 page views -> 1.2 clicks per visit; 4 one-page visits -> bounce rate 0.8;
#   durations 60, 0, 0, 0, 0 s -> median 0.
def test_basic_visits_by_hand() -> None:
    ov = current_json("basic.log")["overview"]
    if "visits" not in ov:
        pytest.skip("no visit figures in the overview")
    assert (ov["visits"], ov["clicks_per_visit"], ov["bounce_rate"]) == (5, 1.2, 0.8)
    assert ov["median_visit_seconds"] == 0


def test_basic_golden_file_holds_the_hand_figures() -> None:
    stored = json.loads((GOLDEN / "basic.json").read_text(encoding="utf-8"))
    assert _basic_figures(stored) == BASIC_BY_HAND


# vhost_common_bad.log, by hand: 13 lines; 1 blank + 1 whitespace-only + 2 comments are skipped;
# of the other 9, three are bad: line 6 (unbalanced quote), line 8 (no month "Foo"), line 12
# (not a log line); 6 are hits. The common format has no user agent.
def test_bad_lines_by_hand() -> None:
    data = current_json("vhost_common_bad.log")
    assert data["overview"]["requests"] == 6
    assert data["overview"]["bad_lines"] == 3
    examples = data["bad_lines"]["examples"]
    assert {e["file"] for e in examples} == {"vhost_common_bad.log"}
    reasons = {e["line"]: e["reason"] for e in examples}
    assert sorted(reasons) == [6, 8, 12]
    assert "quote" in reasons[6] and "timestamp" in reasons[8]
    [inp] = data["inputs"]
    assert (inp["format"], inp["parsed"], inp["bad_lines"]) == ("vcommon", 6, 3)
    vhosts = {s["name"]: s for s in data["sections"]}["vhosts"]["rows"]
    assert {r["vhost"]: r["hits"] for r in vhosts} == {
        "www.example.com": 4,
        "shop.example.com:443": 2,
    }
