"""``RobotMatcher`` for a few agents (``_FewAgents``: literals looked up, no alternation of the
whole list compiled) gives every agent the same parts, so the same robot, as the whole-list
RE2 pass: on crafted agents and on every agent of the shared corpora."""

from __future__ import annotations

import pytest

from logaudit.enrich import crawlers
from logaudit.enrich.crawlers import FEW_AGENTS, GRAM, RobotMatcher, extra_robots

CRAFTED = [
    "",
    "-",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "GOOGLEBOT/2.1",  # a folded literal, upper case
    "python-requests/2.31.0",  # a tool, and a crawler pattern too: the tool wins the tie
    "curl/8.4.0",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers; like FeedFetcher-Google)",
    "MyRSS reader 2.0",  # only the feed hint
    "Opera/9.80 (J2ME/MIDP; Opera Mini/4.4.39008/37.9178; U; en) Presto/2.12.423",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) WIRED/12.0",
    "mirall/2.3.2 (Nextcloud)",  # a case-sensitive pattern that must not match
    "NextCloud-Server-Crawler",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) panasonic",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0",
    "ab",  # shorter than a gram
    "\u00e9t\u00e9 bot \u4e2d\u6587 spider",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)" * 3,
]


def _both(matcher: RobotMatcher, agents: list[str]) -> None:
    whole = matcher._todo(agents)
    few = matcher._few.todo(agents)
    assert {i: [(id(g), id(p)) for g, p in v] for i, v in few.items()} == {
        i: [(id(g), id(p)) for g, p in v] for i, v in whole.items()
    }
    assert matcher._decide(agents, few) == matcher._decide(agents, whole)


def test_crafted_agents_get_the_same_parts() -> None:
    _both(RobotMatcher(), CRAFTED)
    got = RobotMatcher().match(CRAFTED)
    assert got[2] is not None and got[2].kind == "crawler"
    assert got[4] is not None and got[4].kind == "tool"


def test_every_literal_is_indexed_or_short() -> None:
    """Each literal pattern of a vectorised group is found by the lookup: an agent that is the
    literal itself gets its part."""
    matcher = RobotMatcher()
    agents = [
        p.literal
        for g in matcher.groups
        if g.re2 is not None
        for _, part in g.parts
        for p in part
        if p.literal is not None
    ]
    assert any(len(a) < GRAM for a in agents) or agents
    for start in range(0, len(agents), 500):
        _both(matcher, agents[start : start + 500])


def test_variants_the_matcher_offers() -> None:
    """The matcher without folding, feeds and extra robots (bench/robots_people.py's), and one
    whose patterns are all regexes, agree too."""
    _both(RobotMatcher(fold=False, feeds=False, extra=()), CRAFTED)
    _both(RobotMatcher(patterns=[r"Foo(?=Bot)", r"Googlebot\/", r"[a-z]+bot\d"], tools=()), CRAFTED)


def test_match_takes_the_path_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    matcher = RobotMatcher()
    calls: list[int] = []
    real = crawlers._FewAgents.todo

    def spy(self: crawlers._FewAgents, agents: list[str]) -> object:
        calls.append(len(agents))
        return real(self, agents)

    monkeypatch.setattr(crawlers._FewAgents, "todo", spy)
    many = [f"agent {i}" for i in range(FEW_AGENTS + 1)]
    assert matcher.match(many[:3]) == [None] * 3
    assert matcher.match(many) == [None] * len(many)
    assert calls == [3]


@pytest.mark.shared
def test_corpora_get_the_same_robots(corpus_agents: list[str]) -> None:
    agents = list(dict.fromkeys(corpus_agents + [n for _, n, _ in extra_robots()]))
    assert len(agents) > 3000
    matcher = RobotMatcher()
    for start in range(0, len(agents), FEW_AGENTS):
        _both(matcher, agents[start : start + FEW_AGENTS])


def _hits_by_take(text, whole, parts):  # type: ignore[no-untyped-def]
    """``crawlers._regex_hits`` as it was: the matched agents taken by their positions."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = pc.match_substring_regex(text, whole)
    if not pc.any(mask).as_py():
        return []
    where = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    subset = text.take(pa.array(where))
    out = []
    for re2, part in parts:
        sub = pc.match_substring_regex(subset, re2).to_numpy(zero_copy_only=False)
        out.extend((i, part) for i in where[sub].tolist())
    return out


@pytest.mark.parametrize("nulls", [False, True])
def test_regex_hits_are_those_of_taking_the_matched_agents(nulls: bool) -> None:
    """The matched agents filtered by the mask are the ones taken at its true positions: the
    same (agent, part) pairs in the same order, null agents (no match) included."""
    import pyarrow as pa

    texts: list[str | None] = [t.lower() for t in CRAFTED] * 3
    if nulls:
        texts[1::5] = [None] * len(texts[1::5])
    text = pa.array(texts, pa.large_string())
    parts = [("bot|spider", "a"), ("curl|requests", "b"), ("nothing-matches-this", "c"), ("e", "d")]
    whole = "|".join(p for p, _ in parts)
    got = list(crawlers._regex_hits(text, whole, parts))
    assert got == _hits_by_take(text, whole, parts)
    assert {p for _, p in got} == {"a", "b", "d"}  # the probe matches something
    assert list(crawlers._regex_hits(text, "nothing-matches-this", parts)) == []


def test_robots_found_without_importing_numpy_ma() -> None:
    """The agents helper (enrich/agentproc.py) runs without pandas, which imports numpy.ma:
    ``pa.array`` of a numpy array imported it (~7 ms) inside the helper's first answer, while
    a pipeline thread waited for it. Matching robots must not."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent  # this tree's logaudit, not an installed one
    probe = (
        "import sys\n"
        "from logaudit.enrich import agentproc\n"
        "agentproc._no_pandas()\n"
        "from logaudit.enrich.crawlers import RobotMatcher\n"
        "m = RobotMatcher()\n"
        "found = m.match(['curl/8.0.1', 'Mozilla/5.0 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0']"
        " * 50)\n"
        "assert found[0] is not None and found[1] is not None and found[2] is None, found[:3]\n"
        "print('numpy.ma' in sys.modules, 'numpy' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert out == ["False", "True"]  # numpy is there (pyarrow's), numpy.ma is not
