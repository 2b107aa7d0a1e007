"""User-agent enrichment: known agents, caching, hostile input, and accuracy on public corpora.

The corpus tests read ../shared/data/useragents (uap-core's test cases and the crawler-user-agents
list) in place and print their figures; run ``pytest -s tests/test_agents.py`` to see them.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from logaudit.enrich import agents as agents_mod
from logaudit.enrich.agents import (
    AGENT_CLASSES,
    COLUMNS,
    DEVICES,
    MAX_AGENT,
    NO_AGENT,
    RESOLVER,
    AgentClassifier,
    _analysable,
    _spider_name,
    lookup_keys,
)
from logaudit.enrich.crawlers import PATTERN_OVERRIDES, TOOLS, RobotMatcher, robot_name
from logaudit.enrich.uaparse import DeviceRules

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
CHROME_WIN_BUILD = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.{build} Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/119.0.6045.199 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)"
)
AHREFS = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"

# agent -> (browser, browser_version, os, os_version, device, agent_class, crawler)
KNOWN: dict[str, tuple[str, str, str, str, str, str, str]] = {
    CHROME_WIN: ("Chrome", "120", "Windows", "10", "desktop", "person", ""),
    SAFARI_IPHONE: ("Mobile Safari", "17", "iOS", "17.1", "mobile", "person", ""),
    SAFARI_IPAD: ("Mobile Safari", "16", "iOS", "16.6", "tablet", "person", ""),
    SAFARI_MAC: ("Safari", "17", "Mac OS X", "10.15", "desktop", "person", ""),
    ANDROID_PHONE: ("Chrome Mobile", "119", "Android", "13", "mobile", "person", ""),
    ANDROID_TABLET: ("Chrome", "119", "Android", "13", "tablet", "person", ""),
    FIREFOX_LINUX: ("Firefox", "120", "Linux", "", "desktop", "person", ""),
    GOOGLEBOT: ("Googlebot", "2", "Other", "", "bot", "crawler", "Googlebot"),
    GOOGLEBOT_PHONE: ("Googlebot", "2", "Android", "6.0", "bot", "crawler", "Googlebot"),
    AHREFS: ("AhrefsBot", "7", "Other", "", "bot", "crawler", "AhrefsBot"),
    "curl/8.4.0": ("curl", "8", "Other", "", "bot", "tool", "curl"),
    "python-requests/2.31.0": (
        "Python Requests",
        "2",
        "Other",
        "",
        "bot",
        "tool",
        "python-requests",
    ),
    "Go-http-client/1.1": ("Go-http-client", "1", "Other", "", "bot", "tool", "Go-http-client"),
    "": ("Other", "", "Other", "", "bot", "tool", NO_AGENT),
    "-": ("Other", "", "Other", "", "bot", "tool", NO_AGENT),
}

# Agents the list's broad patterns used to flag (see crawlers.PATTERN_OVERRIDES): people.
OVERRIDDEN_PEOPLE = (
    # '008\/' inside an Opera Mini version number
    "Opera/9.80 (MAUI Runtime; Opera Mini/4.4.39008/37.9178; U; en) Presto/2.12.423 Version/12.16",
    # 'RED\/' inside the WIRED app's token
    "Mozilla/5.0 (iPad; U; CPU iPhone OS 7_0 like Mac OS X; de-DE) WIRED/3.2.3.11.87970",
    # 'AP3A\.240617\.008': an Android firmware build id
    "Mozilla/5.0 (Linux; Android 15; CPH2617 Build/AP3A.240617.008) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/125.0.6422.72 Mobile Safari/537.36",
)

HOSTILE = (
    "\x00\x01\x02\x1b[31mred\x1b[0m\r\n\t",
    "[bold]Chrome[/bold] [link=http://x]click[/link]",
    "<script>alert(1)</script> Mozilla/5.0 (compatible; Googlebot/2.1)",
    "Mozilla/5.0 " + "A" * 10_000,
    "(" * 5_000 + ")" * 5_000,
    "curl/" + "9" * 10_000,
    "x" * 1_000_000,
    "bad bytes \udcff\udcfe kept by surrogateescape",
    "\ud800",
    "Mozilla/5.0 (Linux; Android 13; \u202eRTL\u202c) 😀 Ｃｈｒｏｍｅ/1",
    "   ",
    "'; DROP TABLE agents; --",
)


@pytest.fixture(scope="module")
def classifier() -> AgentClassifier:
    return AgentClassifier()


def _row(table: pd.DataFrame, agent: str) -> tuple[str, ...]:
    return tuple(table.loc[agent, list(COLUMNS)])


# --- known agents -----------------------------------------------------------------------------


def test_known_agents(classifier: AgentClassifier) -> None:
    table = classifier.classify(pd.Index(list(KNOWN), dtype="str"))
    assert list(table.columns) == list(COLUMNS)
    for agent, expected in KNOWN.items():
        assert _row(table, agent) == expected, agent


@pytest.mark.parametrize("agent", OVERRIDDEN_PEOPLE)
def test_broad_patterns_do_not_flag_browsers(classifier: AgentClassifier, agent: str) -> None:
    row = classifier.classify(pd.Index([agent]))
    assert row["agent_class"].iloc[0] == "person"
    assert row["crawler"].iloc[0] == ""


def test_tool_versus_crawler_precedence(classifier: AgentClassifier) -> None:
    agents = {
        # a crawler that names the library it runs on: the crawler wins (leftmost)
        "serpstatbot/1.0 (advanced backlink tracking bot; curl/7.58.0; http://serpstatbot.com/)": (
            "crawler",
            "serpstatbot",
        ),
        # a tool that names its runtime
        "Apache-HttpClient/4.5.2 (Java/1.8.0_151)": ("tool", "Apache-HttpClient"),
        "Python/3.9 aiohttp/3.7.3": ("tool", "aiohttp"),
        # Scrapy is a crawling framework: a crawler (see crawlers.py)
        "Scrapy/2.11.0 (+https://scrapy.org)": ("crawler", "Scrapy"),
        # a spider only uap-core knows
        "Steeler/3.3 (http://www.tkl.iis.u-tokyo.ac.jp/~crawler/)": ("crawler", "Steeler"),
        # a crawler named from a URL pattern gets uap-core's better name
        "Mozilla/5.0 (compatible; YandexMedia/3.0; +http://yandex.com/bots)": (
            "crawler",
            "YandexMedia",
        ),
    }
    table = classifier.classify(pd.Index(list(agents)))
    for agent, (kind, name) in agents.items():
        assert (table.loc[agent, "agent_class"], table.loc[agent, "crawler"]) == (kind, name)


def test_robot_name() -> None:
    agent = "msnbot-media/1.1 (+http://search.msn.com/msnbot.htm)"
    assert robot_name(agent, 0, 6) == "msnbot-media"
    agent = "Mozilla/5.0 (compatible; SomeBot; +https://www.example.org/bot)"
    k = agent.index("https")
    assert robot_name(agent, k, len(agent) - 1) == "example.org"
    assert robot_name("(;;)", 1, 3) == ";;"
    # uap-core's generic family for an unknown spider gives way to the agent's own token
    assert _spider_name("; bot", "Mozilla/5.0 (compatible; YaK/1.0; http://x.com/)") == "YaK"
    assert _spider_name("Steeler", "Steeler/3.3") == "Steeler"
    assert _spider_name("crawler", "(((") == "(unnamed robot)"


# --- the tables -------------------------------------------------------------------------------


def test_tool_patterns_run_in_both_engines() -> None:
    for name, regex in TOOLS:
        pc.match_substring_regex(pa.array([name]), regex)  # RE2 accepts it
        re.compile(regex)


def test_overrides_are_current_and_keep_their_crawlers() -> None:
    """Every override names a pattern still in the installed list, and the replacement still
    finds that pattern's own example agents (unless the pattern is dropped on purpose)."""
    by_pattern = {e["pattern"]: e for e in CRAWLER_USER_AGENTS_DATA}
    matcher = RobotMatcher()
    for pattern, (replacement, reason) in PATTERN_OVERRIDES.items():
        assert pattern in by_pattern, f"stale override {pattern!r}"
        assert reason
        if replacement is not None:
            instances = by_pattern[pattern].get("instances", [])
            assert all(r is not None for r in matcher.match(instances)), pattern


def test_no_pattern_needs_python() -> None:
    # RE2 rejects none of list 1.67; a new rejection still works (slower) but should be seen.
    assert RobotMatcher().python_only == ()


def test_best_resolver_in_use() -> None:
    if importlib.util.find_spec("ua_parser_rs"):
        assert RESOLVER == "ua_parser.regex.Resolver"


def test_legacy_parser_is_never_called(
    classifier: AgentClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """user_agents.parse() would run ua-parser's slow legacy API; the classifier must not."""
    from ua_parser import user_agent_parser

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("legacy parser called")

    for name in ("Parse", "ParseUserAgent", "ParseOS", "ParseDevice"):
        monkeypatch.setattr(user_agent_parser, name, boom)
    AgentClassifier().classify(pd.Index(list(KNOWN) + [s + " x" for s in KNOWN]))


def test_device_rules_match_user_agents(classifier: AgentClassifier) -> None:
    import user_agents

    for agent in KNOWN:
        if agent.strip("-"):
            ours = DeviceRules(agent, classifier.parse(agent))
            theirs = user_agents.parse(agent)
            for prop in ("is_mobile", "is_tablet", "is_pc", "is_bot"):
                assert getattr(ours, prop) == getattr(theirs, prop), (agent, prop)


# --- cache and shape --------------------------------------------------------------------------


def test_cache_parses_each_agent_once(monkeypatch: pytest.MonkeyPatch) -> None:
    c = AgentClassifier()
    calls: list[str] = []
    real = c.parse

    def counting(agent: str, *args: Any) -> Any:
        calls.append(agent)
        return real(agent, *args)

    monkeypatch.setattr(c, "parse", counting)
    first = pd.Index([CHROME_WIN, SAFARI_IPHONE, AHREFS])
    a = c.classify(first)
    assert len(calls) == 3 and c.parsed == 3
    b = c.classify(first)
    assert len(calls) == 3 and c.parsed == 3  # nothing parsed again
    pd.testing.assert_frame_equal(a, b)
    c.classify(pd.Index([AHREFS, GOOGLEBOT, CHROME_WIN]))  # one new agent
    assert calls[3:] == [GOOGLEBOT] and c.parsed == 4
    assert c.cached() == 4


def test_order_and_index_preserved(classifier: AgentClassifier) -> None:
    agents = list(KNOWN)[::-1] + [CHROME_WIN]  # reversed, with a duplicate
    index = pd.Index(agents, dtype="str", name="agent")
    table = classifier.classify(index)
    assert table.index.equals(index) and table.index.name == "agent"
    assert table["browser"].iloc[0] == KNOWN[agents[0]][0]
    assert table["browser"].iloc[-1] == "Chrome"
    categories = pd.Categorical(agents).categories  # as the pipeline passes them
    assert classifier.classify(pd.Index(categories)).index.equals(pd.Index(categories))


def test_empty_and_missing(classifier: AgentClassifier) -> None:
    empty = classifier.classify(pd.Index([], dtype="str"))
    assert list(empty.columns) == list(COLUMNS) and len(empty) == 0
    table = classifier.classify(pd.Index([None, float("nan"), "-"], dtype=object))
    assert list(table["crawler"]) == [NO_AGENT] * 3


# --- hostile input ----------------------------------------------------------------------------


def _valid(table: pd.DataFrame) -> None:
    assert set(table["device"]) <= set(DEVICES)
    assert set(table["agent_class"]) <= set(AGENT_CLASSES)
    for col in COLUMNS:
        assert all(isinstance(v, str) for v in table[col])
    assert all(len(v) <= 100 for v in table["crawler"])


def test_hostile_agents_do_not_raise() -> None:
    table = AgentClassifier().classify(pd.Index(list(HOSTILE), dtype=object))
    _valid(table)
    assert len(table) == len(HOSTILE)
    assert table.loc["   ", "crawler"] == NO_AGENT
    # a Googlebot mention survives the markup around it
    assert table.loc[HOSTILE[2], "crawler"] == "Googlebot"
    # a robot signature beyond MAX_AGENT characters is not looked at
    late = "A" * MAX_AGENT + " Googlebot/2.1"
    assert AgentClassifier().classify(pd.Index([late]))["agent_class"].iloc[0] == "person"


@functools.cache
def _hypothesis_classifier() -> AgentClassifier:
    return AgentClassifier()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=20, unique=True))
def test_any_text_classifies(agents: list[str]) -> None:
    _valid(_hypothesis_classifier().classify(pd.Index(agents)))


# --- corpora (../shared/data/useragents) ------------------------------------------------------

# uap-core families counted as mainstream browsers (the brief's list and their mobile, tablet and
# WebView forms as uap-core names them, plus the other large browsers of the corpus).
MAINSTREAM = frozenset(
    {
        "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chrome Frame",
        "Chromium", "Firefox", "Firefox Beta", "Firefox Mobile", "Firefox iOS", "Safari",
        "Mobile Safari", "Mobile Safari UI/WKWebView", "Edge", "Edge Mobile", "Opera",
        "Opera Mini", "Opera Mobile", "Opera Tablet", "Opera Touch", "Opera GX",
        "Samsung Internet", "IE", "IE Mobile", "IE Large Screen", "Brave", "Vivaldi",
        "Yandex Browser", "UC Browser", "Amazon Silk",
    }
)  # fmt: skip

# Every mainstream-family case of uap-core's test_ua that is flagged, by name, with why it is
# right to flag it. A new entry is a false positive until looked at.
EXPECTED_FLAGGED: dict[str, str] = {
    # Google's page-preview fetcher, which uap-core files under its Chrome engine
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; Google Web Preview) "
    "Chrome/27.0 .1453 Safari/537.36.": "Google Web Preview",
}


def _uap_cases(shared_data: Path, name: str) -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = (shared_data / "useragents" / name).read_text("utf-8")
    cases: list[dict[str, Any]] = yaml.load(text, loader)["test_cases"]
    return cases


def _family_agreement(
    classifier: AgentClassifier, cases: list[dict[str, Any]], column: str
) -> tuple[float, list[tuple[str, str, str]]]:
    agents = [c["user_agent_string"] for c in cases]
    table = classifier.classify(pd.Index(agents, dtype=object))
    got = table[column].tolist()
    wrong = [
        (a, c["family"], g) for a, c, g in zip(agents, cases, got, strict=True) if c["family"] != g
    ]
    return 1 - len(wrong) / len(cases), wrong


@pytest.mark.shared
def test_browser_family_agrees_with_uap_core(
    shared_data: Path, classifier: AgentClassifier
) -> None:
    cases = _uap_cases(shared_data, "uap-core_test_ua.yaml")
    share, wrong = _family_agreement(classifier, cases, "browser")
    print(f"\nbrowser family: {share:.2%} of {len(cases)} uap-core cases agree; wrong: {wrong[:5]}")
    assert share >= 0.99


@pytest.mark.shared
def test_os_family_agrees_with_uap_core(shared_data: Path, classifier: AgentClassifier) -> None:
    cases = _uap_cases(shared_data, "uap-core_test_os.yaml")
    share, wrong = _family_agreement(classifier, cases, "os")
    print(f"\nOS family: {share:.2%} of {len(cases)} uap-core cases agree; wrong: {wrong[:5]}")
    assert share >= 0.99


@pytest.mark.shared
def test_crawler_recall(shared_data: Path, classifier: AgentClassifier) -> None:
    entries = json.loads((shared_data / "useragents" / "crawler-user-agents.json").read_text())
    instances = list(dict.fromkeys(i for e in entries for i in e.get("instances", [])))
    table = classifier.classify(pd.Index(instances, dtype=object))
    missed = table.index[table["agent_class"] == "person"].tolist()
    recall = 1 - len(missed) / len(instances)
    print(f"\ncrawler recall: {recall:.2%} of {len(instances)} instances; missed: {missed}")
    assert recall >= 0.98


@pytest.mark.shared
def test_mainstream_browsers_not_flagged(shared_data: Path, classifier: AgentClassifier) -> None:
    cases = [
        c for c in _uap_cases(shared_data, "uap-core_test_ua.yaml") if c["family"] in MAINSTREAM
    ]
    agents = list(dict.fromkeys(c["user_agent_string"] for c in cases))
    table = classifier.classify(pd.Index(agents, dtype=object))
    flagged = table[table["agent_class"] != "person"]
    share = len(flagged) / len(agents)
    print(f"\nmainstream browsers flagged: {share:.2%} of {len(agents)} uap-core cases:")
    for agent, name in flagged["crawler"].items():
        print(f"  {name!r}: {agent}")
    assert share < 0.02
    assert dict(flagged["crawler"].items()) == EXPECTED_FLAGGED


@pytest.mark.shared
def test_device_rules_match_user_agents_on_uap_core(
    shared_data: Path, classifier: AgentClassifier
) -> None:
    """``DeviceRules`` reproduces user_agents' device rules on every uap-core agent where the two
    parsers see the same browser, OS and device (the legacy Python parser and the Rust one
    disagree on a handful of spiders; those cases are counted, not compared)."""
    import user_agents

    agents = list(
        dict.fromkeys(
            c["user_agent_string"]
            for name in ("uap-core_test_ua.yaml", "uap-core_test_os.yaml")
            for c in _uap_cases(shared_data, name)
        )
    )
    differ = 0
    for agent in agents:
        theirs = user_agents.parse(agent)
        ours = DeviceRules(agent, classifier.parse(agent))
        if (ours.browser, ours.os, ours.device) != (theirs.browser, theirs.os, theirs.device):
            differ += 1
            continue
        for prop in ("is_mobile", "is_tablet", "is_pc", "is_bot"):
            assert getattr(ours, prop) == getattr(theirs, prop), (agent, prop)
    print(f"\ndevice rules: {len(agents) - differ} agents compared, {differ} parsed differently")
    assert differ <= len(agents) * 0.01


def test_module_imports_are_confined() -> None:
    """enrich/uaparse.py is the one place that imports ua_parser / user_agents."""
    root = Path(agents_mod.__file__).resolve().parent.parent
    for path in root.rglob("*.py"):
        if path.name == "uaparse.py" and path.parent.name == "enrich":
            continue
        text = path.read_text("utf-8")
        for lib in ("ua_parser", "user_agents"):
            assert f"import {lib}" not in text and f"from {lib}" not in text, (path, lib)


def test_patterns_re2_rejects_still_work() -> None:
    """A pattern RE2 cannot run (a look-ahead) is run with Python ``re`` for every agent."""
    matcher = RobotMatcher(patterns=[r"Foo(?=Bot)", r"Googlebot\/"], tools=())
    assert matcher.python_only == (r"Foo(?=Bot)",)
    found = matcher.match(["FooBot/1.0", "Foo/1.0", GOOGLEBOT, CHROME_WIN])
    assert [r and (r.kind, r.name) for r in found] == [
        ("crawler", "FooBot"),
        None,
        ("crawler", "Googlebot"),
        None,
    ]


def test_cache_is_bounded() -> None:
    c = AgentClassifier(max_cached=3)
    c.classify(pd.Index([CHROME_WIN, SAFARI_IPHONE]))
    table = c.classify(pd.Index([CHROME_WIN, AHREFS, GOOGLEBOT]))  # 4 > 3: starts again
    assert c.cached() == 3 and c.parsed == 5
    assert list(table["browser"]) == ["Chrome", "AhrefsBot", "Googlebot"]


def test_a_failed_background_build_is_reported_by_its_caller(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The classifier is built in a background thread; if that fails, the thread stays quiet
    (no 'Exception in thread' traceback) and the first caller that needs it gets the error."""
    import threading

    from logaudit.enrich import classify

    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("rule tables unreadable")

    uncaught: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    monkeypatch.setattr(classify, "_classifier", None)
    monkeypatch.setattr(agents_mod, "AgentClassifier", Broken)
    classify.prepare_classifier()
    for t in threading.enumerate():
        if t.name == "logaudit-agents":
            t.join(timeout=30)
    assert uncaught == [] and "Exception in thread" not in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="rule tables unreadable"):
        classify.shared_classifier()


def test_build_numbers_share_a_lookup() -> None:
    """Agents differing only in a browser's build and patch numbers are parsed once."""
    c = AgentClassifier()
    a = CHROME_WIN_BUILD.format(build="6099.109")
    b = CHROME_WIN_BUILD.format(build="6099.110")
    d = CHROME_WIN_BUILD.format(build="5993.88")
    table = c.classify(pd.Index([a, b, d]))
    assert c.parsed == 1 and c.cached() == 1
    assert list(table["browser"]) == ["Chrome"] * 3
    assert list(table["browser_version"]) == ["120"] * 3
    assert lookup_keys([a, "CFNetwork/672.0.8 Darwin/14.0.0"]) == [
        CHROME_WIN_BUILD.format(build="0.0"),
        "CFNetwork/672.0.8 Darwin/14.0.0",  # uap-core reads iOS's version from it: kept
    ]


@pytest.mark.shared
def test_build_numbers_share_a_lookup_on_uap_core(shared_data: Path) -> None:
    """The proof that sharing cannot change an answer: every agent of uap-core's browser and OS
    test cases and of crawler-user-agents' instances gets the same row through its shared key
    as when classified on its own, with no sharing."""
    agents = list(
        dict.fromkeys(
            [
                c["user_agent_string"]
                for name in ("uap-core_test_ua.yaml", "uap-core_test_os.yaml")
                for c in _uap_cases(shared_data, name)
            ]
            + [
                i
                for e in json.loads(
                    (shared_data / "useragents" / "crawler-user-agents.json").read_text()
                )
                for i in e.get("instances", [])
            ]
        )
    )
    texts = [_analysable(a) for a in agents]
    keys = lookup_keys(texts)
    changed = sum(k != t for k, t in zip(keys, texts, strict=True))
    shared = AgentClassifier().classify(pd.Index(agents, dtype=object))
    alone = AgentClassifier()
    robots = alone._robots.match(texts)
    wrong = [
        (t, row, tuple(shared.iloc[i]))
        for i, (t, robot) in enumerate(zip(texts, robots, strict=True))
        if (row := alone._row(t, robot)) != tuple(shared.iloc[i])
    ]
    print(f"\nshared lookups: {changed} of {len(agents)} agents change key; wrong: {wrong[:3]}")
    assert changed >= 400  # the rule does apply to the corpus
    assert wrong == []


def test_classes_agree_with_classify(classifier: AgentClassifier) -> None:
    agents = pd.Index([*KNOWN, CHROME_WIN, None, "-"], dtype=object)
    codes = classifier.classes(agents)
    table = classifier.classify(agents)
    assert codes.dtype == np.int8
    assert [AGENT_CLASSES[k] for k in codes] == list(table["agent_class"])


def test_resolver_is_named_as_ua_parser_chooses_it() -> None:
    """``RESOLVER`` (found without importing ua-parser, for the agent cache's fingerprint)
    names the class ua-parser itself picks, which ``uaparse`` builds."""
    import ua_parser

    best = ua_parser.BestAvailableResolver
    assert RESOLVER == f"{best.__module__}.{best.__qualname__}"
    assert agents_mod.resolver_name() == RESOLVER
