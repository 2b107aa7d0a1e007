"""Visits, clicks, durations, entry and exit pages, checked against hand-computed answers.

The hand-built log (all times +0000):

visitor A = 203.0.113.1 + Firefox
  10 Mar 23:50:00 /a 200     page
  10 Mar 23:50:01 /style.css static, not a page view
  10 Mar 23:55:00 /b 200     page
  11 Mar 00:10:00 /c 200     page (15 min gap: same visit, across midnight)
  11 Mar 00:40:00 /d 200     page (gap of exactly 30 min: same visit)
  11 Mar 01:10:01 /e 200     page (gap of 30 min 1 s: a new visit)
  -> V1 = /a /b /c /d (4 clicks, 50 min = 3000 s, starts 10 Mar), V2 = /e (bounce, 0 s, 11 Mar)
visitor B = 203.0.113.1 + Chrome (same IP, another user agent: another visitor)
  10 Mar 23:51:00 /a 200 page; 23:52:00 /x 301 (redirect, not a page view);
  23:52:01 /y 200 page; 23:53:00 /missing 404; 23:54:00 /z 500 (errors are not page views)
  -> V3 = /a /y (2 clicks, 61 s)
visitor D = 198.51.100.7 + iPhone Safari
  11 Mar 12:00:00 /a 304 (304 counts as a page view) -> V4 = /a (bounce)
crawler = 66.249.66.1 + Googlebot: 11 Mar 10:00:00 /a, 10:01:00 /b
  -> a visit only with --bots include

Default (people only): visits 4; clicks 4+1+2+1 = 8 = people page views; bounces V2, V4 -> 0.5;
mean clicks 2.0, median of (1, 1, 2, 4) = 1.5; durations (3000, 0, 61, 0) -> median 30.5 s.
Entry pages: /a 3 (V1, V3, V4; V4 bounced -> bounce rate 1/3), /e 1. Exit pages: /d, /e, /y, /a.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

HITS = [
    ("203.0.113.1", "10/Mar/2026:23:50:00", "/a", 200, FIREFOX, "https://www.google.com/?q=x"),
    ("203.0.113.1", "10/Mar/2026:23:50:01", "/style.css", 200, FIREFOX, "-"),
    ("203.0.113.1", "10/Mar/2026:23:51:00", "/a", 200, CHROME, "-"),
    ("203.0.113.1", "10/Mar/2026:23:52:00", "/x", 301, CHROME, "-"),
    ("203.0.113.1", "10/Mar/2026:23:52:01", "/y", 200, CHROME, "-"),
    ("203.0.113.1", "10/Mar/2026:23:53:00", "/missing", 404, CHROME, "-"),
    ("203.0.113.1", "10/Mar/2026:23:54:00", "/z", 500, CHROME, "-"),
    ("203.0.113.1", "10/Mar/2026:23:55:00", "/b", 200, FIREFOX, "-"),
    ("203.0.113.1", "11/Mar/2026:00:10:00", "/c", 200, FIREFOX, "-"),
    ("203.0.113.1", "11/Mar/2026:00:40:00", "/d", 200, FIREFOX, "-"),
    ("203.0.113.1", "11/Mar/2026:01:10:01", "/e", 200, FIREFOX, "-"),
    ("66.249.66.1", "11/Mar/2026:10:00:00", "/a", 200, GOOGLEBOT, "-"),
    ("66.249.66.1", "11/Mar/2026:10:01:00", "/b", 200, GOOGLEBOT, "-"),
    ("198.51.100.7", "11/Mar/2026:12:00:00", "/a", 304, IPHONE, "-"),
]


def line(ip: str, when: str, path: str, status: int, ua: str, ref: str) -> str:
    size = "-" if status == 304 else "512"
    return f'{ip} - - [{when} +0000] "GET {path} HTTP/1.1" {status} {size} "{ref}" "{ua}"\n'


@pytest.fixture()
def visits_log(tmp_path: Path) -> Path:
    p = tmp_path / "visits.log"
    p.write_text("".join(line(*h) for h in HITS))
    return p


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json", "--top", "0"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def section(report: dict, name: str) -> list[dict]:
    return next(s["rows"] for s in report["sections"] if s["name"] == name)


def test_visit_figures_match_the_hand_computation(visits_log: Path) -> None:
    r = run_json("visits", str(visits_log))
    ov = r["overview"]
    assert ov["visits"] == 4
    assert ov["page_views"] == 8
    assert ov["clicks"] == 8
    assert ov["clicks_per_visit"] == 2.0
    assert ov["median_clicks"] == 1.5
    assert ov["bounce_rate"] == 0.5
    assert ov["median_visit_seconds"] == 30.5


def test_click_and_duration_distributions(visits_log: Path) -> None:
    r = run_json("visits", str(visits_log))
    clicks = {row["clicks"]: row["visits"] for row in section(r, "visits")}
    assert clicks == {"1": 2, "2": 1, "3-5": 1, "6-10": 0, "11-20": 0, "21+": 0}
    durations = {row["duration"]: row["visits"] for row in section(r, "durations")}
    assert durations == {
        "0-10 s": 2,
        "10-30 s": 0,
        "30 s-2 min": 1,
        "2-10 min": 0,
        "10-30 min": 0,
        "30 min+": 1,
    }


def test_entry_and_exit_pages(visits_log: Path) -> None:
    r = run_json("visits", str(visits_log))
    entries = {r["path"]: (r["visits"], r["bounce_rate"]) for r in section(r, "entry-pages")}
    assert entries == {"/a": (3, round(1 / 3, 4)), "/e": (1, 1.0)}
    exits = {row["path"]: row["visits"] for row in section(r, "exit-pages")}
    assert exits == {"/d": 1, "/e": 1, "/y": 1, "/a": 1}
    paths = {row["entry -> exit"]: row["visits"] for row in section(r, "entry-exit")}
    assert paths == {"/a -> /d": 1, "/e -> /e": 1, "/a -> /y": 1, "/a -> /a": 1}


def test_crawlers_make_visits_only_with_bots_include(visits_log: Path) -> None:
    assert run_json("visits", str(visits_log), "--bots", "include")["overview"]["visits"] == 5
    assert run_json("visits", str(visits_log), "--bots", "only")["overview"]["visits"] == 1


def test_visit_timeout_option(visits_log: Path) -> None:
    # 10 minutes: A's visit splits at the 15 and 30 minute gaps: [/a /b] [/c] [/d] [/e];
    # B [/a /y]; D [/a] -> 6 visits.
    r = run_json("visits", str(visits_log), "--visit-timeout", "10")
    assert r["overview"]["visits"] == 6
    # summary shows visits too, so it takes the same option (it had none).
    assert run_json("summary", str(visits_log), "--visit-timeout", "10")["overview"]["visits"] == 6


def test_summary_carries_the_visit_headline_and_sections(visits_log: Path) -> None:
    r = run_json("summary", str(visits_log))
    for key in ("visits", "clicks_per_visit", "bounce_rate", "median_visit_seconds"):
        assert key in r["overview"]
    assert r["overview"]["visits"] == 4
    assert {row["path"]: row["visits"] for row in section(r, "entry-pages")}["/a"] == 3
    assert sum(row["visits"] for row in section(r, "exit-pages")) == 4


def test_one_visitors_clickstream(visits_log: Path) -> None:
    r = run_json("visits", str(visits_log), "--visitor", "203.0.113.1")
    visits = section(r, "visitor-visits")
    summary = sorted((v["clicks"], v["duration_s"], v["entry"], v["exit"]) for v in visits)
    assert summary == [(1, 0, "/e", "/e"), (2, 61, "/a", "/y"), (4, 3000, "/a", "/d")]
    first = next(v for v in visits if v["clicks"] == 4)
    assert first["referrer"] == "https://www.google.com/?q=x"
    assert first["start"] == "2026-03-10 23:50:00"
    pages = [(c["visit"], c["page"]) for c in section(r, "clickstream")]
    assert len(pages) == 7  # page views only: the css, the redirect and the errors are not listed
    only_chrome = run_json("visits", str(visits_log), "--visitor", "203.0.113.1", "--ua", "Chrome")
    assert [v["clicks"] for v in section(only_chrome, "visitor-visits")] == [2]


def test_ua_needs_visitor(visits_log: Path) -> None:
    result = CliRunner().invoke(cli, ["visits", str(visits_log), "--ua", "Chrome"])
    assert result.exit_code == 2
    assert "--ua goes with --visitor" in result.output


def test_real_log_totals_reconcile(shared_data: Path) -> None:
    """On a real log: entries summed = exits summed = visits; clicks summed = people page views."""
    log = shared_data / "logs" / "lnav" / "logfile_shop_access_log.0"
    r = run_json("visits", str(log))
    ov = r["overview"]
    assert ov["visits"] > 0
    assert sum(row["visits"] for row in section(r, "entry-pages")) == ov["visits"]
    assert sum(row["visits"] for row in section(r, "exit-pages")) == ov["visits"]
    assert sum(row["visits"] for row in section(r, "visits")) == ov["visits"]
    assert ov["clicks"] == ov["page_views"]
    assert round(ov["clicks"] / ov["visits"], 3) == ov["clicks_per_visit"]


def test_sessionize_is_vectorised_and_order_independent() -> None:
    """The same events in any order give the same visits (the partials of different chunks
    arrive in any order)."""
    import numpy as np
    import pandas as pd

    from logaudit.analyze.visits import sessionize

    rng = np.random.default_rng(7)
    n = 5000
    events = pd.DataFrame(
        {
            "visitor": rng.integers(0, 50, n).astype(np.uint64),
            "utc": rng.integers(0, 86400 * 3, n),
            "local": np.zeros(n, np.int64),
            "path_h": rng.integers(0, 100, n).astype(np.uint64),
            "ref_h": np.zeros(n, np.uint64),
        }
    )
    events["local"] = events["utc"]
    a = sessionize(events, 1800).table
    b = sessionize(events.sample(frac=1, random_state=3), 1800).table
    key = ["visitor", "start"]
    pd.testing.assert_frame_equal(
        a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    )
    assert a["clicks"].sum() == n


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_durations_are_said_one_way(visits_log: Path, fmt: str) -> None:
    """The durations note and a visitor's visits say a duration as the overview does (1 min
    01 s, 50 min 00 s), not as a count of seconds (the note said 'median 61 s' beside 'Median
    visit 1 min 01 s'); JSON keeps the numbers."""
    a = ["visits", str(visits_log), "--client", "203.0.113.1", "--format", fmt]
    out = CliRunner().invoke(cli, a).stdout  # visits of 3000, 0 and 61 s: median 61
    assert out.count("1 min 01 s") == 2 and "61 s" not in out.replace("1 min 01 s", "")
    out = CliRunner().invoke(cli, ["visits", str(visits_log), "--visitor", "203.0.113.1"] + a[4:])
    assert "50 min 00 s" in out.stdout and "1 min 01 s" in out.stdout and "3,000" not in out.stdout
    r = run_json("visits", str(visits_log), "--client", "203.0.113.1")
    assert r["overview"]["median_visit_seconds"] == 61
    note = next(s["note"] for s in r["sections"] if s["name"] == "durations")
    assert note == "median 1 min 01 s; first to last page view"


@pytest.mark.parametrize(("given", "said"), [("90s", "90 s"), ("10", "10 min"), ("2h", "120 min")])
def test_the_notes_say_the_timeout_as_given(visits_log: Path, given: str, said: str) -> None:
    """QA16 finding 10: --visit-timeout 90s (1 visit here) was said "timeout 1 min", the
    timeout that makes 2 of them."""
    notes = {}
    for more in ((), ("--visitor", "203.0.113.1")):
        r = run_json("visits", str(visits_log), "--visit-timeout", given, *more)
        notes |= {s["name"]: s.get("note", "") for s in r["sections"]}
    assert notes["visits"].endswith(f"timeout {said}")
    assert notes["visitor-visits"] == f"visit timeout {said}"
