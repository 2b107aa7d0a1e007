"""Robots counted as people (issue 18): case-insensitive robot patterns, feed readers and
fetchers as their own kind, the extra robots of ``enrich/data/robots.json``, robot names taken from
the right token, and real browsers that must stay people.

The agents of the issue come from a real 2015 Apache log (elastic/examples' ``apache_logs``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from logaudit.enrich.agents import AgentClassifier
from logaudit.enrich.crawlers import (
    CASE_SENSITIVE,
    FEED_HINT,
    KINDS,
    ROBOTS_FILE,
    RobotMatcher,
    _literal,
    crawler_patterns,
    extra_robots,
    fold_pattern,
    product_name,
)

SPINN3R = (
    "Mozilla/5.0 (X11; U; Linux x86_64; en-US; rv:1.9.0.19; aggregator:Spinn3r (Spinn3r 3.1); "
    "http://spinn3r.com/robot) Gecko/2008072421 Firefox/3.0.19"
)

# Every agent issue 18 names, as the 2015 log has it: agent -> (agent_class, name shown).
ISSUE_AGENTS: dict[str, tuple[str, str]] = {
    "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/": (
        "feed",
        "UniversalFeedParser",
    ),
    # the crawler list writes 'ezooms': found now that matching ignores case
    "Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)": ("crawler", "Ezooms"),
    "Digg Feed Fetcher 1.0 (Digg/1.0)": ("feed", "Digg Feed Fetcher"),
    "LiveJournal.com (webmaster@livejournal.com; for http://www.livejournal.com/users/rfinnie/; "
    "7 readers)": ("feed", "LiveJournal"),
    "Chef Client/10.18.2 (ruby-1.9.3-p327; ohai-6.16.0; x86_64-linux; +http://opscode.com)": (
        "tool",
        "Chef Client",
    ),
    "HTTP_Request2/2.2.1 (http://pear.php.net/package/http_request2) PHP/5.3.10": (
        "tool",
        "HTTP_Request2",
    ),
    "distilator/0.1 (+http://distilator.com)": ("crawler", "distilator"),
    "Liferea/1.8.12 (Linux; en_US.UTF-8; http://liferea.sf.net/)": ("feed", "Liferea"),
    # named by its own name, not by the platform token it starts with
    SPINN3R: ("crawler", "Spinn3r"),
}


@pytest.fixture(scope="module")
def classifier() -> AgentClassifier:
    return AgentClassifier()


def _classes(classifier: AgentClassifier, agents: list[str]) -> pd.DataFrame:
    return classifier.classify(pd.Index(agents, dtype=object))


@pytest.mark.parametrize("agent", list(ISSUE_AGENTS))
def test_issue_agent(classifier: AgentClassifier, agent: str) -> None:
    row = _classes(classifier, [agent]).iloc[0]
    assert (row["agent_class"], row["crawler"]) == ISSUE_AGENTS[agent]
    assert row["device"] == "bot"


def test_issue_agents_are_not_people_in_the_row_column(classifier: AgentClassifier) -> None:
    """Feeds count with the crawlers in the per-row class (code 1): not people, and in the
    overview's crawler hits; tools keep code 2."""
    agents = list(ISSUE_AGENTS)
    codes = classifier.classes(pd.Index(agents, dtype=object))
    expected = [{"crawler": 1, "feed": 1, "tool": 2}[k] for k, _ in ISSUE_AGENTS.values()]
    assert codes.tolist() == expected


# --- case -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; EZOOMS/1.0; help@moz.com)",
        "mozilla/5.0 (compatible; googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; AHREFSBOT/7.0; +http://ahrefs.com/robot/)",
    ],
)
def test_patterns_ignore_case(classifier: AgentClassifier, agent: str) -> None:
    row = _classes(classifier, [agent]).iloc[0]
    assert row["agent_class"] == "crawler"
    # the name is the agent's own spelling, cut from the agent
    assert row["crawler"].lower() in agent.lower()


def test_fold_pattern_keeps_escapes() -> None:
    assert fold_pattern(r"Googlebot\/\d+") == r"googlebot\/\d+"
    assert fold_pattern(r"A\DB\SC\WD\B") == r"a\Db\Sc\Wd\B"
    assert fold_pattern(r"\\X") == r"\\x"  # an escaped backslash, then a letter
    # a folded pattern on folded text matches what (?i) matches on the original
    agents = pa.array(["Foo GOOGLEBOT/2.1", "Mozilla/5.0 X", "a\\Xb", "NoDigits/x"])
    for pattern in (r"Googlebot\/\d", r"\\X", r"[A-Z]o\D"):
        folded = pc.match_substring_regex(pc.ascii_lower(agents), fold_pattern(pattern))
        assert folded.to_pylist() == pc.match_substring_regex(agents, "(?i)" + pattern).to_pylist()


def test_case_sensitive_patterns_are_current_and_still_match() -> None:
    patterns = crawler_patterns()
    for pattern, why in CASE_SENSITIVE.items():
        assert pattern in patterns, f"{pattern!r} is no longer in the list: drop it"
        assert why
    matcher = RobotMatcher()
    got = matcher.match(["Sonic/1.0", "NING/1.0", "Gwene/1.0", "NextCloud-Server/25"])
    assert all(r is not None and r.kind == "crawler" for r in got)


@pytest.mark.parametrize(
    "agent",
    [
        "HbbTV/1.1.1 (;Panasonic;VIERA 2011;f.532;0071-0802 2000-0000;)",
        "YahooMobileMail/1.0 (Android Mail; 1.3.10) (supersonic;HTC;PC36100;2.3.5/GRJ90)",
        "Mozilla/5.0 (X11; Linux x86_64; rv:24.0) Gecko/20100101 Thunderbird/24.2.0 "
        "Lightning/2.6.4",
        "Mozilla/5.0 (Linux) mirall/2.3.2 (Nextcloud)",
        "SomethingWeNeverKnewExisted",
    ],
)
def test_case_sensitive_patterns_leave_people_alone(
    classifier: AgentClassifier, agent: str
) -> None:
    assert _classes(classifier, [agent]).iloc[0]["agent_class"] == "person"


# --- feeds ------------------------------------------------------------------------------------

FEEDS: dict[str, str] = {
    # a subscriber count in an agent no list knows: named by its product token
    "FooReader/2.0 (+http://fooreader.example/; 12 subscribers)": "FooReader",
    "SomeAggregator 1.1 (http://agg.example; 1 subscriber)": "SomeAggregator",
    # a feed service the crawler list has as a crawler: the feed entry wins the tie
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 47 subscribers; like FeedFetcher-Google)": (
        "Feedly"
    ),
    "Mozilla/5.0 (compatible; Feedfetcher-Google; +http://www.google.com/feedfetcher.html)": (
        "Feedfetcher-Google"
    ),
    # an agent that says it is a feed fetcher
    "ExampleCorp Feed Fetcher/3 (+http://example.com)": "Feed Fetcher",
    "Tiny Tiny RSS/21.04 (http://tt-rss.org/)": "Tiny Tiny RSS",
    "NewsBlur Feed Fetcher - 5 subscribers - http://www.newsblur.com/site/1/x": "NewsBlur",
    # Digg's fetcher as AWStats quotes it: a Safari agent inside
    "Digg Feed Fetcher 1.0 (Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_1) AppleWebKit/534.48.3 "
    "(KHTML, like Gecko) Version/5.1 Safari/534.48.3)": "Digg Feed Fetcher",
}


@pytest.mark.parametrize("agent", list(FEEDS))
def test_feeds(classifier: AgentClassifier, agent: str) -> None:
    row = _classes(classifier, [agent]).iloc[0]
    assert (row["agent_class"], row["crawler"]) == ("feed", FEEDS[agent])


@pytest.mark.parametrize(
    "agent",
    [
        # a number and 'readers' outside a subscriber count
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Readers/3",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/441.0.0.33.113]",
    ],
)
def test_feed_hint_leaves_browsers_alone(classifier: AgentClassifier, agent: str) -> None:
    assert _classes(classifier, [agent]).iloc[0]["agent_class"] == "person"


def test_feed_hint_runs_in_both_engines() -> None:
    hint = re.compile(FEED_HINT, re.ASCII | re.IGNORECASE)
    for text, want in [
        ("X (12 subscribers)", True),
        ("X; 7 readers)", True),
        ("RSScrawler/4.0", True),
        ("feed-parser", True),
        ("12 subscribers-only club", False),
        ("Firefox/120.0", False),
    ]:
        re2 = pc.match_substring_regex(pa.array([text]), FEED_HINT, ignore_case=True)
        assert bool(hint.search(text)) is want is re2[0].as_py(), text


# --- the data file ----------------------------------------------------------------------------


def test_robots_file_is_well_formed() -> None:
    data = json.loads(ROBOTS_FILE.read_text("utf-8"))
    assert "AWStats" in data["_sources"] and "GoAccess" in data["_sources"]
    assert "device-detector" in data["_sources"]
    entries = extra_robots()
    assert len(entries) == len(data["robots"]) > 100
    names = [n for _, n, _ in entries]
    assert len(names) == len(set(names)), "one entry per robot"
    for kind, name, pattern in entries:
        assert kind in KINDS and name.strip() == name and name
        re.compile(pattern, re.ASCII | re.IGNORECASE)
        pc.match_substring_regex(pa.array([""]), fold_pattern(pattern))  # RE2 accepts it


# Agents for the entries whose pattern is a regex that neither their name nor a literal gives.
INSTANCES = {
    "LiveJournal": "LiveJournal.com (webmaster@livejournal.com; for http://x; 3 readers)",
    "Feeddler": "FeeddlerRSS 2.4 CFNetwork/672.1.15 Darwin/14.0.0",
    "Flipboard": "Mozilla/5.0 (compatible; FlipboardRSS/1.1; +http://flipboard.com/rss)",
    "The Old Reader": "Mozilla/5.0 (compatible; theoldreader.com; 12 subscribers)",
    "HTTP_Request2": "HTTP_Request2/2.3.0 (http://pear.php.net/package/http_request2) PHP/7",
    "Apt": "Debian APT-HTTP/1.3 (2.2.4)",
    "Amazon Route 53 Health Check": "Amazon Route 53 Health Check Service; ref:x",
    "Youdao": "Mozilla/5.0 (compatible; YoudaoBot/1.0; http://www.youdao.com/help/)",
    "Analytics SEO Crawler": "Curious George - www.analyticsseo.com/crawler",
}


def _instance(name: str, pattern: str) -> str:
    """An agent for an entry: its name, or its pattern's literal text, as a product token."""
    if name in INSTANCES:
        return INSTANCES[name]
    literal = _literal(pattern.lstrip("^"))
    for token in (literal, name):
        for agent in (
            f"{token}/1.0 (+http://example.org/bot)",
            f"Mozilla/5.0 (compatible; {token}/1.0; +http://example.org/bot)",
            f"{token}",
        ):
            if token and re.search(pattern, agent, re.IGNORECASE):
                return agent
    pytest.fail(f"no sample agent for {name!r}: add one to INSTANCES")


# A sample of the added robots, by kind, with the agents they send (from the projects' docs
# and the three lists' test fixtures).
SAMPLE: list[tuple[str, str, str]] = [
    ("Bloglovin/1.0 (http://www.bloglovin.com; 1000 subscribers)", "feed", "Bloglovin"),
    ("Blogtrottr/2.0", "feed", "Blogtrottr"),
    ("BazQux/2.4 (+https://bazqux.com/fetcher; 3 subscribers)", "feed", "BazQux Reader"),
    ("Windows-RSS-Platform/2.0 (IE 11.0; Windows NT 6.1)", "feed", "Windows RSS Platform"),
    ("Akregator/5.7.3; librss/remnants", "feed", "Akregator"),
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "feed", "NetNewsWire"),
    ("Apple-PubSub/65.28", "feed", "Apple PubSub"),
    ("SimplePie/1.3.1 (Feed Parser; http://simplepie.org; Allow like Gecko) Build/1", "feed",
     "SimplePie"),
    ("Debian APT-HTTP/1.3 (1.0.1ubuntu2)", "tool", "Apt"),
    ("PycURL/7.43.0 libcurl/7.38.0 OpenSSL/1.0.1t", "tool", "PycURL"),
    ("WordPress/4.9.8; https://example.org", "tool", "WordPress"),
    ("ApacheBench/2.3", "tool", "ApacheBench"),
    ("Zend_Http_Client", "tool", "Zend_Http_Client"),
    ("Mozilla/5.0 (compatible; Dataprovider.com)", "crawler", "Dataprovider"),
    ("Mozilla/5.0 (compatible; Cloudflare-AMP/1.0; +https://amp.cloudflare.com/)", "crawler",
     "Cloudflare AMP Fetcher"),
    ("Mozilla/5.0 (compatible; EasouSpider; +http://www.easou.com/search/spider.html)",
     "crawler", "Easou Spider"),
    ("NewRelicPinger/1.0 (1025794)", "crawler", "NewRelicPinger"),
    ("Amazon Route 53 Health Check Service; ref:c97cd53f; report http://amzn.to/1vsZADi",
     "crawler", "Amazon Route 53 Health Check"),
]  # fmt: skip


@pytest.mark.parametrize(("agent", "kind", "name"), SAMPLE)
def test_added_robots_sample(classifier: AgentClassifier, agent: str, kind: str, name: str) -> None:
    row = _classes(classifier, [agent]).iloc[0]
    assert (row["agent_class"], row["crawler"]) == (kind, name)


def test_every_added_robot_is_found_and_named() -> None:
    """Each entry of robots.json finds an agent carrying its name, with its kind (a feed hint
    in the name makes a crawler entry a feed) and a name that is not a platform token."""
    entries = [e for e in extra_robots() if "\\" not in e[1]]
    agents = [_instance(n, p) for _, n, p in entries]
    got = RobotMatcher().match(agents)
    wrong = [
        (agent, robot)
        for (kind, name, _), agent, robot in zip(entries, agents, got, strict=True)
        if robot is None
        or robot.name != name
        or not (robot.kind == kind or (kind == "crawler" and robot.kind == "feed"))
    ]
    assert wrong == []


# --- names ------------------------------------------------------------------------------------

PLATFORM_TOKENS = frozenset(
    "mozilla compatible x11 u linux windows nt macintosh iphone ipad android khtml applewebkit "
    "gecko wow64 win64 x64 en-us like intel cpu safari chrome firefox mobile version".split()
)


def test_product_name() -> None:
    assert product_name(SPINN3R) == "Spinn3r"
    assert product_name("Mozilla/5.0 (compatible; crawler/3.0.0 +http://x.y)") == "crawler"
    assert product_name("LiveJournal.com (webmaster@livejournal.com; 7 readers)") == (
        "LiveJournal.com"
    )
    assert product_name("Mozilla/5.0 (X11; Linux) (+https://www.spider.example/x)") == (
        "spider.example"
    )
    assert product_name("(((") == "(unnamed robot)"


@pytest.mark.shared
def test_no_robot_is_named_by_a_platform_token(
    shared_data: Path, classifier: AgentClassifier
) -> None:
    """Spinn3r used to show as 'X11': a robot's name is its own, on every robot of the
    crawler-user-agents corpus and uap-core's cases."""
    entries = json.loads((shared_data / "useragents" / "crawler-user-agents.json").read_text())
    agents = [a for e in entries for a in e.get("instances", [])]
    agents += [c["user_agent_string"] for c in _uap_cases(shared_data, "uap-core_test_ua.yaml")]
    table = _classes(classifier, list(dict.fromkeys([*agents, SPINN3R])))
    robots = table[table["agent_class"] != "person"]
    bad = robots[robots["crawler"].str.lower().isin(PLATFORM_TOKENS)]
    assert bad.empty, dict(bad["crawler"].items())
    assert table.loc[SPINN3R, "crawler"] == "Spinn3r"


# --- real browsers stay people ----------------------------------------------------------------


def _uap_cases(shared_data: Path, name: str) -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = (shared_data / "useragents" / name).read_text("utf-8")
    cases: list[dict[str, Any]] = yaml.load(text, loader)["test_cases"]
    return cases


# uap-core test agents that uap-core does not call spiders but that are robots, by the name
# shown: monitors, headless browsers, HTTP libraries, feed services. Any other name is a browser
# (or app) taken for a robot: a false positive until looked at.
UAP_NON_SPIDER_ROBOTS = frozenset(
    {
        "Catchpoint", "GoogleImageProxy", "NewRelicPinger", "RuxitSynthetic", "python-requests",
        "Rackspace Monitoring", "PhantomJS", "Apache-HttpClient", "Mediapartners-Google",
        "HeadlessChrome", "okhttp", "curl", "Apt", "libwww-perl", "Wget", "Bloglovin",
        "Feedbin", "Tiny Tiny RSS", "Go-http-client", "reqwest", "aiohttp", "axios", "got",
        "aws-sdk", "PycURL", "Java", "OpenVAS-VT", "OpenVAS", "AsyncHttpClient", "Site24x7",
        "monitis", "Guzzle", "HTTrack", "PostmanRuntime", "HTTPie", "Google Web Preview",
    }
)  # fmt: skip


@pytest.mark.shared
def test_uap_core_browsers_stay_people(shared_data: Path, classifier: AgentClassifier) -> None:
    """Every uap-core browser test agent (test_ua.yaml and test_os.yaml) that uap-core does not
    itself call a spider stays a person, but for the reviewed robots above."""
    from ua_parser import Domain

    cases = _uap_cases(shared_data, "uap-core_test_ua.yaml")
    cases += _uap_cases(shared_data, "uap-core_test_os.yaml")
    agents = list(dict.fromkeys(c["user_agent_string"] for c in cases))
    table = _classes(classifier, agents)
    spider = np.array(
        [classifier.parse(a[:2048], Domain.DEVICE).device.family == "Spider" for a in agents]
    )
    robots = table[(table["agent_class"] != "person").to_numpy() & ~spider]
    unexpected = robots[~robots["crawler"].isin(UAP_NON_SPIDER_ROBOTS)]
    assert unexpected.empty, dict(unexpected["crawler"].items())
    people = (table["agent_class"] == "person").to_numpy() & ~spider
    print(f"\nuap-core: {int(people.sum())} browser agents stay people, {len(robots)} robots")
    assert people.sum() > 1000


def test_the_matching_before_issue_18_is_still_available() -> None:
    """``bench/robots_people.py`` measures a log against the old matching: case-sensitive list,
    no feed kind, no extra robots. It missed every agent of the issue that uap-core misses."""
    old = RobotMatcher(fold=False, feeds=False, extra=())
    got = old.match([*ISSUE_AGENTS, "Mozilla/5.0 (compatible; Googlebot/2.1)", "curl/8.0"])
    assert got[: len(ISSUE_AGENTS)] == [None] * len(ISSUE_AGENTS)
    assert [r.kind if r else None for r in got[len(ISSUE_AGENTS) :]] == ["crawler", "tool"]
