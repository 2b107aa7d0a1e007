"""The investigation bugs of issue #12, one test each."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import CHROME, FIREFOX, GOOGLEBOT, isolate, line, utc, write

from logaudit.analyze.audience import one_name_per_asn
from logaudit.cli import cli


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def run(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_visitor_visits_in_date_order(tmp_path: Path) -> None:
    # Two user agents behind one address: visits of each interleave in time.
    lines = []
    for day, agent in ((1, FIREFOX), (2, CHROME), (3, FIREFOX), (4, CHROME), (5, FIREFOX)):
        lines.append(line(client="81.2.69.142", when=utc(2024, 3, day, 10), agent=agent))
    log = write(tmp_path / "a.log", lines)
    r = run("visits", log, "--visitor", "81.2.69.142", "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    visits = next(s for s in doc["sections"] if s["name"] == "visitor-visits")["rows"]
    starts = [v["start"] for v in visits]
    assert starts == sorted(starts) and len(starts) == 5
    assert [v["visit"] for v in visits] == [1, 2, 3, 4, 5]
    clicks = next(s for s in doc["sections"] if s["name"] == "clickstream")["rows"]
    assert [c["time"] for c in clicks] == sorted(c["time"] for c in clicks)


@pytest.mark.parametrize("bad", ["notanip", "81.2.69", "1.2.3.4.5", "-"])
def test_visitor_must_be_an_address_or_host(bad: str, tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", [line()])
    r = run("visits", log, "--visitor", bad)
    assert r.exit_code == 2 and "--visitor" in r.stderr and r.stderr.count("\n") == 1


def test_visitor_host_name_and_ipv6_accepted(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", [line(client="crawl.example.com"), line(client="2001:db8::1")])
    for v in ("crawl.example.com", "2001:db8::1"):
        assert run("visits", log, "--visitor", v, "--bots", "include").exit_code == 0


def test_bots_only_labels_follow_the_filter(tmp_path: Path) -> None:
    lines = [
        line(client=f"66.249.66.{i}", agent=GOOGLEBOT, when=utc(2024, 3, 1, 10, i))
        for i in range(5)
    ]
    lines += [line(client="81.2.69.1", agent=CHROME, referrer="https://news.example/x")]
    log = write(tmp_path / "a.log", lines)
    r = run("summary", log, "--bots", "only", "--format", "json", "--top", "0")
    doc = json.loads(r.stdout)
    notes = {s["name"]: s["note"] for s in doc["sections"]}
    for name in ("browsers", "os", "devices"):
        assert "people only" not in notes[name] and "crawlers and tools only" in notes[name]
    assert "own host" not in notes["referring-sites"]
    assert "no referring URL" in notes["referring-sites"]
    r = run("summary", log, "--format", "json")
    notes = {s["name"]: s["note"] for s in json.loads(r.stdout)["sections"]}
    assert notes["browsers"].startswith("people only")


def test_no_user_agent_format_one_rule(tmp_path: Path) -> None:
    lines = [
        line(client=f"81.2.69.{i}", referrer=None, agent=None, when=utc(2024, 3, 1, 10, i))
        for i in range(6)
    ]
    log = write(tmp_path / "common.log", lines)
    r = run("summary", log, "--format", "json", "--top", "0")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["overview"]["tool_hits"] == 0 and doc["overview"]["crawler_hits"] == 0
    sections = {s["name"]: s for s in doc["sections"]}
    assert sections["crawlers"]["rows"] == []
    devices = {row["device"] for row in sections["devices"]["rows"]}
    assert "bot" not in devices
    assert sum(row["hits"] for row in sections["browsers"]["rows"]) == 6


def test_top_visitors_count_the_overview_visitors(tmp_path: Path) -> None:
    # 81.2.69.9 has only a 404: a people hit, but not a visitor (METRICS.md).
    lines = [line(client=f"81.2.69.{i}", when=utc(2024, 3, 1, 10, i)) for i in range(4)]
    lines.append(line(client="81.2.69.9", status=404, when=utc(2024, 3, 1, 11)))
    log = write(tmp_path / "a.log", lines)
    doc = json.loads(run("visitors", log, "--format", "json").stdout)
    top = next(s for s in doc["sections"] if s["name"] == "top-visitors")
    assert top["total_rows"] == doc["overview"]["unique_visitors"] == 4


def test_one_isp_is_one_network() -> None:
    places = pd.DataFrame(
        {
            "network": ["Bredband2 AB", "AS29518 Bredband2 AB", "Bredband2 AB", "AS1 X", "unknown"],
            "asn": pd.array([29518, 29518, 29518, 1, None], dtype="Int64"),
        }
    )
    got = one_name_per_asn(places)["network"].tolist()
    assert got == ["Bredband2 AB", "Bredband2 AB", "Bredband2 AB", "AS1 X", "unknown"]


def test_bad_since_is_usage_exit_2(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", [line()])
    for opt in ("--since", "--until"):
        r = run("summary", log, opt, "lastweek")
        assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "lastweek" in r.stderr
