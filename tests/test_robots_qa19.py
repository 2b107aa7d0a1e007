"""QA19 #8: robots AWStats' list names that were people (sucker, woozweb, libwww, PHP/, Ruby/,
LWP::), HTTP tools whatever their case, one crawlers-panel row per robot whatever the case its
agents write it in, and ``records --fields agent_class`` saying ``feed`` as the panel does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import isolate, line, utc, write

from logaudit.cli import cli
from logaudit.enrich.agents import AgentClassifier

# agent -> (agent_class, name shown). Each was a person or a crawler before (QA19 #8).
AGENTS: dict[str, tuple[str, str]] = {
    # AWStats' robots.pm: 'sucker' (its generic ids), 'woozweb', 'libwww'
    "This is sucker xxx": ("crawler", "sucker"),
    "woozweb-monitoring": ("crawler", "woozweb"),
    "libwww": ("tool", "libwww"),
    # AWStats 'php', 'ruby\/', libwww-perl's LWP:: modules: HTTP libraries, so tools
    "PHP/7.4": ("tool", "PHP"),
    "Ruby/2.7": ("tool", "Ruby"),
    "LWP::Simple/6.0": ("tool", "libwww-perl"),
    # tools in any case, and bare names (AWStats' test log has 'wget'): crawlers before
    "wget": ("tool", "Wget"),
    "curl": ("tool", "curl"),
    "CURL/7.1": ("tool", "curl"),
    "go-http-client/1.1": ("tool", "Go-http-client"),
    "Python-Requests/2.31": ("tool", "python-requests"),
    "OkHttp/4": ("tool", "okhttp"),
}

# Stay as they were.
KEPT: dict[str, tuple[str, str]] = {
    "Wget/1.21.2": ("tool", "Wget"),
    "WGET/1.0": ("tool", "Wget"),
    "WGETbot/1.0": ("crawler", "WGETbot"),  # a crawler named after wget, not wget
    "libwww-perl/6.0": ("tool", "libwww-perl"),
    "serpstatbot/1.0 (advanced backlink tracking bot; curl/7.58.0; http://serpstatbot.com/)": (
        "crawler",
        "serpstatbot",
    ),
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0": ("person", ""),
}


@pytest.fixture(scope="module")
def classifier() -> AgentClassifier:
    return AgentClassifier()


@pytest.mark.parametrize("agent", [*AGENTS, *KEPT])
def test_agent(classifier: AgentClassifier, agent: str) -> None:
    row = classifier.classify(pd.Index([agent], dtype=object)).iloc[0]
    assert (row["agent_class"], row["crawler"]) == {**AGENTS, **KEPT}[agent]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _log(tmp_path: Path, agents: list[str]) -> Path:
    return write(
        tmp_path / "access.log",
        [
            line(client=f"198.51.100.{i}", when=utc(2026, 12, 1, 10, i, 0), agent=agent)
            for i, agent in enumerate(agents)
        ],
    )


def _summary(log: Path) -> dict:
    run = CliRunner().invoke(cli, ["summary", str(log), "--format", "json"])
    assert run.exit_code == 0, run.output
    return json.loads(run.stdout)


def _crawlers(report: dict) -> list[tuple[str, str, int, int]]:
    rows = next(s for s in report["sections"] if s["name"] == "crawlers")["rows"]
    return [(r["name"], r["kind"], r["hits"], r["clients"]) for r in rows]


def test_the_crawlers_panel_has_one_row_per_robot_whatever_its_case(tmp_path: Path) -> None:
    agents = [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "googlebot/2.1",
        "GOOGLEBOT",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; BingBot/2.0)",
        "Mozilla/5.0 (compatible; BingBot/2.0)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "ahrefsbot",
    ]
    got = _crawlers(_summary(_log(tmp_path, agents)))
    # the most frequent spelling; on a tie the mixed-case one
    assert sorted(got) == [
        ("AhrefsBot", "crawler", 2, 2),
        ("BingBot", "crawler", 3, 3),
        ("Googlebot", "crawler", 3, 3),
    ]


def test_records_agent_class_says_feed_as_the_panel_does(tmp_path: Path) -> None:
    agents = ["UniversalFeedParser/4.2", "curl/8.0", "Googlebot/2.1", "Mozilla/5.0 Firefox/121.0"]
    log = _log(tmp_path, agents)
    kinds = {name: kind for name, kind, *_ in _crawlers(_summary(log))}
    assert kinds["UniversalFeedParser"] == "feed"
    run = CliRunner().invoke(
        cli, ["records", str(log), "--fields", "agent_class", "--format", "csv"]
    )
    assert run.exit_code == 0, run.output
    assert run.stdout.split() == ["agent_class", "feed", "tool", "crawler", "person"]
    rows = (
        CliRunner()
        .invoke(cli, ["records", str(log), "--fields", "agent_class", "--format", "jsonl"])
        .stdout
    )
    assert [json.loads(r)["agent_class"] for r in rows.splitlines()] == [
        "feed",
        "tool",
        "crawler",
        "person",
    ]


def test_a_tool_never_takes_a_crawlers_spelling() -> None:
    # Review rev19-d #5: a store from the version before held CURL/7.1 as the crawler
    # "CURL", this version's curl/8.0 is the tool "curl": the panel showed "CURL" twice,
    # once a crawler, once a tool. Spellings are merged within one kind only.
    from logaudit.analyze.audience import _one_spelling

    names = ["CURL", "curl", "Googlebot", "googlebot", "curl"]
    kinds = ["crawler", "tool", "crawler", "crawler", "tool"]
    bots = pd.DataFrame(
        {
            "crawler": pd.Categorical(names),
            "agent_class": pd.Categorical(kinds),
            "hits": [2, 1, 1, 3, 0],
        }
    )
    got = _one_spelling(bots)
    pairs = zip(got["crawler"].astype(str), got["agent_class"].astype(str), strict=True)
    assert list(pairs) == [
        ("CURL", "crawler"),
        ("curl", "tool"),
        ("googlebot", "crawler"),
        ("googlebot", "crawler"),
        ("curl", "tool"),
    ]
