"""Robots: crawlers (from the crawler-user-agents pattern list) and HTTP tools (from ``TOOLS``).

The pattern list (https://github.com/monperrus/crawler-user-agents, PyPI ``crawler-user-agents``)
holds about 1,500 case-sensitive regular expressions. They are never tried one by one per agent:

1. **Detect, vectorised.** The patterns are joined into alternations of ``CHUNK`` patterns each and
   every alternation is run over the whole array of distinct agents at once with
   ``pyarrow.compute.match_substring_regex`` (RE2, linear time). One alternation of all 1,500
   patterns is slower, not faster: its DFA outgrows RE2's memory budget and RE2 falls back to its
   NFA (6 s instead of 0.13 s for 45,000 agents), hence the chunks. A pattern RE2 rejects is run
   with Python ``re`` instead (none in list 1.67; the check runs at start-up).
2. **Name, only the hits.** The agents a chunk matched go through the chunk's parts (alternations
   of ``PART`` patterns) the same vectorised way. Then, per agent, only the patterns of the parts
   that matched are located (``str.find`` for the 96 % of patterns that are plain literals, ``re``
   for the rest), and the leftmost match names the robot (see ``robot_name``).

Tools versus crawlers: an agent whose leftmost robot signature is one of ``TOOLS`` (an HTTP
library or command-line client: curl, Wget, python-requests, Go-http-client, ...) is a *tool*;
any other match is a *crawler*. A tool fetches the URLs a person or script tells it to; a crawler
finds its own way. ``serpstatbot/1.0 (...; curl/7.58.0)`` is therefore the crawler serpstatbot, and
``Apache-HttpClient/4.5 (Java/1.8)`` the tool Apache-HttpClient. Decisions on the border:

- **Scrapy** is a *crawler*: its default agent is only seen when someone runs a Scrapy spider, a
  program that follows links on its own; it is a crawling framework, not an HTTP client.
- **HeadlessChrome, PhantomJS, Selenium, Playwright** stay *crawlers*, as the list has them:
  scripted whole browsers that render pages are how scrapers and monitors crawl today.
- **HTTrack, Wget-based mirrors named as bots** (``WGETbot``) are crawlers: they walk the site.

``PATTERN_OVERRIDES`` lists the patterns of the list that flag real browsers, with the fix and the
reason; ``tests/test_agents.py`` keeps the false-positive rate on uap-core's browser cases in check.

Case. Robot patterns (the list's and ``data/robots.json``'s) match **case-insensitively**: the list
writes 'ezooms' for an agent that sends 'Ezooms/1.0', and AWStats, GoAccess and Matomo all match
robots without regard to case. RE2 runs each alternation with ``(?i)``; Python locates the match in
the agent lower-cased once (ASCII only, so positions do not move) or with ``re.IGNORECASE``. The
``TOOLS`` regexes match without regard to case too ('CURL/7.1', 'go-http-client/1.1' and
'Python-Requests/2.31' are tools as 'curl/8.0' is; they were crawlers of the list before).
The crawlers panel shows one row per robot whatever the case its agents write it in
(``analyze/audience.py``).

Feeds. Feed readers and fetchers (Liferea, UniversalFeedParser, Feedly, LiveJournal's syndication,
...) are robots of their own kind, ``feed``: they poll a feed on behalf of their subscribers, and no
person reads a page when they do. An agent is a feed when its leftmost robot signature is a
``feed`` entry of ``data/robots.json``, or when it is a robot or an unknown agent that says what it
is (``FEED_HINT``: 'feed fetcher', 'feed parser', 'RSS reader', or a subscriber count such as
'12 subscribers' / '7 readers', which feed services append to their agent).

Extra robots. ``data/robots.json`` adds the robots the list misses or files under the wrong kind,
checked against AWStats', GoAccess's and Matomo's lists (its header names the sources). Its
entries come before the list's patterns, so on a tie (both match at the same place) they decide
the kind and the name.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

# HTTP libraries and command-line clients: (name shown in reports, regex). The regexes match
# without regard to ASCII case (written lower-case where it matters not: 'CURL/7.1', 'wget' and
# 'OkHttp/4' are the tools curl, Wget and okhttp), run in both RE2 and Python ``re`` (keep to
# the common syntax), and should match the product token, not a mention of it. A bare name
# ('wget', 'curl') is the tool too, as AWStats counts it; 'WGETbot' is no tool (a crawler).
TOOLS: tuple[tuple[str, str], ...] = (
    ("curl", r"(?:^|[^\w-])curl(?:/|$)"),
    ("Wget", r"(?:^|[^\w-])wget2?(?:/|$)"),
    ("python-requests", r"python-requests/"),
    ("python-urllib", r"python-urllib(?:/|2\b)"),
    ("python-httpx", r"python-httpx/"),
    ("urllib3", r"(?:^|[^\w-])urllib3/"),
    ("aiohttp", r"(?:^|[^\w-])aiohttp/"),
    ("Go-http-client", r"go-http-client/"),
    ("Java", r"(?:^|[^\w-])java/\d|^jersey/|httpurlconnection"),
    ("Apache-HttpClient", r"apache-httpclient/"),
    ("AsyncHttpClient", r"^ahc/"),
    ("okhttp", r"(?:^|[^\w-])okhttp"),
    ("axios", r"(?:^|[^\w-])axios/"),
    ("node-fetch", r"node-fetch"),
    ("undici", r"^undici"),
    ("got", r"^got(?:/| \(https://github\.com/sindresorhus/got)"),
    ("PostmanRuntime", r"postmanruntime/"),
    ("HTTPie", r"^httpie/"),
    # LWP::Simple and LWP::UserAgent are libwww-perl's modules; a bare 'libwww' is AWStats'.
    ("libwww-perl", r"libwww-perl/|^lwp-(?:trivial|request)/|(?:^|[^\w-])lwp::"),
    ("libwww", r"(?:^|[^\w-])libwww(?:$|[/ ;)])"),
    ("Mechanize", r"mechanize/"),
    ("Guzzle", r"guzzlehttp/"),
    ("PHP-Curl-Class", r"^php-curl-class/"),
    ("PHP", r"(?:^|[^\w-])php/\d"),  # PHP's own streams (file_get_contents) with a user_agent
    ("PowerShell", r"windowspowershell/|^powershell/"),
    ("Ruby", r"^ruby(?:$|/)|^faraday v\d"),
    ("Dart", r"^dart/\d"),
    ("reqwest", r"^reqwest/"),
    ("Deno", r"^deno/\d"),
    ("aws-sdk", r"^(?:aws-cli|aws-sdk-[\w-]+|boto3?|botocore)/"),
)

# Patterns of the list that flag mainstream browsers: pattern -> (replacement or None to drop it,
# why). Found by running the list over uap-core's test agents (see tests/test_agents.py).
PATTERN_OVERRIDES: dict[str, tuple[str | None, str]] = {
    r"AP3A\.240617\.008": (
        None,
        "an Android 15 firmware build id (OPPO/OnePlus/realme phones), present in every browser "
        "and app agent of those phones; the list's only instance is Instagram's in-app browser",
    ),
    r"008\/": (
        r"(?:^|[ ;(])008\/",
        "80legs/AdvancedWebRanking's token '008/'; unbounded it matches inside version numbers, "
        "e.g. 'Opera Mini/4.4.39008/37.9178'",
    ),
    r"RED\/": (
        r"(?:^|[ ;(])RED\/",
        "REDbot's token 'RED/'; unbounded it matches the WIRED/ magazine app on iPhone and iPad",
    ),
}

# Patterns of the list that keep their case: matched case-insensitively they flag people's agents
# (found on uap-core's test agents, see tests/test_robots.py). pattern -> why.
CASE_SENSITIVE: dict[str, str] = {
    "Sonic": "'panasonic' in HbbTV TV agents, 'supersonic' (an HTC phone) in Yahoo Mail's",
    r"NING\/": "'Lightning/', Thunderbird's calendar add-on",
    "Gwene": "inside ordinary words ('somethinGWENEverknew')",
    "NextCloud": "the Nextcloud desktop client ('mirall/2.3.2 (Nextcloud)'), a person's sync app; "
    "the server's own fetches say 'NextCloud'",
}

# Alternations of this many patterns keep RE2's DFA within its memory budget (measured: 200 per
# chunk is fastest; 400 already falls back to the slow NFA).
CHUNK = 200
# Agents a chunk matched are sorted out by alternations of this many patterns of the chunk.
PART = 16

# Characters that extend a robot's name around its match: 'msnbot' in 'msnbot-media/1.1'.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_NAME_STOP = "/()+;:,@[]{}<>\"'|\\"
_MAX_NAME = 60


# Agents that say they poll feeds: a feed fetcher/parser/reader, an RSS reader or bot, or the
# subscriber count feed services append ('12 subscribers', LiveJournal's '7 readers'). Matched
# case-insensitively, in RE2 and Python alike.
FEED_HINT = (
    r"feed[ _-]?(?:fetcher|parser|reader|crawler)"
    r"|rss[ _-]?(?:reader|fetcher|parser|bot|crawler)"
    r"|(?:^|[;(,] *)\d+ (?:subscribers?|readers?)(?:$|[;),])"
)

# The robots data file: see data/robots.json's "_about".
ROBOTS_FILE = Path(__file__).with_name("data") / "robots.json"
KINDS = ("crawler", "tool", "feed")

# Lower-cases ASCII letters only: a string keeps its length, so match positions still hold.
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True)
class Robot:
    kind: str  # 'crawler', 'tool' or 'feed'
    name: str


@cache
def extra_robots() -> tuple[tuple[str, str, str], ...]:
    """``data/robots.json``'s entries: (kind, name, pattern), in file order."""
    data = json.loads(ROBOTS_FILE.read_text("utf-8"))
    out = tuple((str(k), str(n), str(p)) for k, n, p in data["robots"])
    bad = [e for e in out if e[0] not in KINDS]
    if bad:
        raise ValueError(f"{ROBOTS_FILE.name}: unknown kind in {bad[0]!r}")
    return out


def crawler_patterns() -> list[str]:
    """The pattern list, with ``PATTERN_OVERRIDES`` applied, in the list's order."""
    out: list[str] = []
    for entry in CRAWLER_USER_AGENTS_DATA:
        pattern = str(entry["pattern"])
        if pattern in PATTERN_OVERRIDES:
            replacement = PATTERN_OVERRIDES[pattern][0]
            if replacement is None:
                continue
            pattern = replacement
        out.append(pattern)
    return out


def _re2_accepts(pattern: str) -> bool:
    try:
        pc.match_substring_regex(pa.array([""]), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


_META = frozenset(".^$*+?{}[]|()")


def _literal(pattern: str) -> str | None:
    """The text a pattern matches when it is a plain literal ('Googlebot\\/' -> 'Googlebot/'),
    else None. Most of the list is literal, and ``str.find`` is far cheaper than a regex."""
    out: list[str] = []
    escaped = False
    for ch in pattern:
        if escaped:
            if ch.isalnum():
                return None  # \d, \s, \b, ...
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in _META:
            return None
        else:
            out.append(ch)
    return None if escaped else "".join(out)


class _Pattern:
    """One pattern, able to say where it first matches an agent (-1: nowhere)."""

    __slots__ = ("source", "name", "kind", "fold", "literal", "regex")

    def __init__(self, source: str, name: str, fold: bool = False, kind: str = "") -> None:
        """``fold``: match without regard to ASCII case. ``name`` '': named from the match;
        '*': the ``FEED_HINT`` fallback. ``kind`` '': the group's."""
        self.source = source
        self.name = name
        self.kind = kind
        self.fold = fold
        literal = _literal(source)
        self.literal = literal.translate(_FOLD) if fold and literal is not None else literal
        # re.ASCII aligns \d \w \s with RE2's meaning.
        flags = re.ASCII | (re.IGNORECASE if fold else 0)
        self.regex = None if self.literal is not None else re.compile(source, flags)

    def find(self, agent: str, folded: str) -> tuple[int, int]:
        """Where the pattern first matches: ``folded`` is ``agent`` lower-cased by ``_FOLD``."""
        if self.literal is not None:
            k = (folded if self.fold else agent).find(self.literal)
            return k, k + len(self.literal)
        assert self.regex is not None
        m = self.regex.search(agent)
        return (m.start(), m.end()) if m is not None else (-1, -1)


@dataclass
class _Group:
    """Patterns tried together. ``re2`` is their alternation for the vectorised pass (None: the
    group runs in Python for every agent); ``parts`` split them again into small alternations,
    run over the agents the group matched, so that Python only tries a handful per agent."""

    kind: str
    re2: str | None
    parts: list[tuple[str | None, list[_Pattern]]]
    fold: bool = False  # RE2 runs over the lower-cased agents


def fold_pattern(pattern: str) -> str:
    """The pattern for ASCII-lower-cased text: its unescaped ASCII letters lower-cased ('\\D',
    '\\S', '\\W', '\\B' keep their meaning). Used only where the agent is folded too."""
    out: list[str] = []
    escaped = False
    for ch in pattern:
        out.append(ch if escaped else ch.translate(_FOLD))
        escaped = not escaped and ch == "\\"
    return "".join(out)


def _alternation(patterns: Sequence[str], fold: bool) -> str:
    """RE2 runs a folding group over the agents lower-cased once (``pc.ascii_lower``), with its
    patterns lower-cased: cheaper than ``(?i)``, which makes every alternation's DFA larger."""
    return "|".join(fold_pattern(p) for p in patterns) if fold else "|".join(patterns)


K = TypeVar("K")


def _regex_hits(
    text: pa.Array, whole: str, parts: Sequence[tuple[str | None, K]]
) -> Iterator[tuple[int, K]]:
    """(agent index, part) for each of ``parts`` (its RE2 alternation, the part) that matches
    an agent of ``text``, part by part, agents in order: RE2 in Arrow, each part run only over
    the agents the group's whole alternation ``whole`` matched."""
    mask = pc.match_substring_regex(text, whole)
    if not pc.any(mask).as_py():
        return
    where = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    # The same agents as ``text.take(pa.array(where))``; ``pa.array`` of a numpy array imports
    # numpy.ma (~7 ms), which the agents helper (agentproc.py: no pandas, which imports it)
    # paid inside its first answer, while a pipeline thread waited for it.
    subset = text.filter(mask)
    for re2, part in parts:
        assert re2 is not None
        sub = pc.match_substring_regex(subset, re2).to_numpy(zero_copy_only=False)
        for i in where[sub].tolist():
            yield i, part


def _group(kind: str, patterns: list[_Pattern], re2: bool = True) -> _Group:
    fold = any(p.fold for p in patterns)
    assert all(p.fold == fold for p in patterns), "a group folds all its patterns or none"
    if not re2:
        return _Group(kind, None, [(None, patterns)], fold)
    parts = [patterns[k : k + PART] for k in range(0, len(patterns), PART)]
    return _Group(
        kind,
        _alternation([p.source for p in patterns], fold),
        [(_alternation([p.source for p in part], fold), part) for part in parts],
        fold,
    )


class RobotMatcher:
    """Finds crawlers and tools among agents. Build once per process; ``match`` is reentrant."""

    def __init__(
        self,
        patterns: Sequence[str] | None = None,
        tools: Sequence[tuple[str, str]] = TOOLS,
        extra: Sequence[tuple[str, str, str]] | None = None,
        fold: bool = True,
        feeds: bool = True,
    ) -> None:
        """``patterns``: the crawler list (default: ``crawler_patterns()``); ``extra``: (kind,
        name, pattern) entries tried before it (default: ``extra_robots()``). ``fold=False,
        feeds=False, extra=()`` is how robots were found before issue 18 (case-sensitive list, no
        feed kind): ``bench/robots_people.py`` measures the difference on a log. (Its tools are
        the lower-case spellings only since round 19: ``TOOLS`` is written for folding.)"""
        crawler: list[str] = []  # folded; CASE_SENSITIVE ones go in a group of their own
        cased: list[str] = []
        for p in crawler_patterns() if patterns is None else patterns:
            if _literal(p) is None:
                try:
                    re.compile(p, re.ASCII | re.IGNORECASE)
                except re.error:
                    continue  # unusable for naming; the list's CI validates its patterns
            (cased if p in CASE_SENSITIVE or not fold else crawler).append(p)
        # The tool group comes first so that on a tie (both match at the same place, e.g.
        # 'python-requests' is also a crawler pattern) the agent is a tool; then the extra
        # robots, which decide the kind over the list's patterns.
        groups = (
            [_group("tool", [_Pattern(rx, name, fold=fold) for name, rx in tools])] if tools else []
        )
        # One group (one RE2 pass) for the extra robots, feeds first, then the feed hint.
        extras = extra_robots() if extra is None else extra
        mine = [
            _Pattern(p, n, fold=True, kind=k)
            for kind in ("feed", "tool", "crawler")
            for k, n, p in extras
            if k == kind
        ]
        if feeds:
            mine.append(_Pattern(FEED_HINT, "*", fold=True, kind="feed"))
        if mine:
            groups.append(_group("crawler", mine))
        slow: list[str] = []
        for start in range(0, len(crawler), CHUNK):
            chunk = crawler[start : start + CHUNK]
            if not _re2_accepts(_alternation(chunk, True)):
                slow.extend(p for p in chunk if not _re2_accepts(_alternation([p], True)))
                chunk = [p for p in chunk if _re2_accepts(_alternation([p], True))]
            if chunk:
                groups.append(_group("crawler", [_Pattern(p, "", fold=True) for p in chunk]))
        if slow:
            groups.append(_group("crawler", [_Pattern(p, "", fold=True) for p in slow], re2=False))
        for start in range(0, len(cased), CHUNK):  # all of the list when not folding
            chunk = cased[start : start + CHUNK]
            if not _re2_accepts("|".join(chunk)):
                slow_cased = [p for p in chunk if not _re2_accepts(p)]
                groups.append(_group("crawler", [_Pattern(p, "") for p in slow_cased], re2=False))
                slow.extend(slow_cased)
                chunk = [p for p in chunk if _re2_accepts(p)]
            if chunk:
                groups.append(_group("crawler", [_Pattern(p, "") for p in chunk]))

        self.groups = groups
        self.feeds = feeds
        # Patterns only Python runs (RE2 rejected them); exposed for the tests.
        self.python_only: tuple[str, ...] = tuple(slow)
        self._few = _FewAgents(groups)

    def match(self, agents: Sequence[str]) -> list[Robot | None]:
        """For each agent, the robot it names, or None. Agents must be valid Unicode (no lone
        surrogates) and are best kept to a sane length by the caller."""
        n = len(agents)
        if n == 0:
            return []
        if n <= FEW_AGENTS:
            return self._decide(agents, self._few.todo(agents))
        return self._decide(agents, self._todo(agents))

    def _todo(self, agents: Sequence[str]) -> dict[int, list[tuple[_Group, list[_Pattern]]]]:
        """Agent index -> the (group, patterns) worth trying on it, in group order: the parts
        whose RE2 alternation matches the agent, found in Arrow (RE2) over all the agents."""
        n = len(agents)
        array = pa.array(agents, type=pa.large_string())
        lowered = pc.ascii_lower(array)
        # agent index -> the (group, patterns) worth trying on it, in group order
        todo: dict[int, list[tuple[_Group, list[_Pattern]]]] = {}
        for group in self.groups:
            if group.re2 is None:
                for i in range(n):
                    todo.setdefault(i, []).append((group, group.parts[0][1]))
                continue
            text = lowered if group.fold else array
            for i, part in _regex_hits(text, group.re2, group.parts):
                todo.setdefault(i, []).append((group, part))
        return todo

    def _decide(
        self, agents: Sequence[str], todo: dict[int, list[tuple[_Group, list[_Pattern]]]]
    ) -> list[Robot | None]:
        """Each agent's robot: the earliest match (in Python) among its parts' patterns."""
        out: list[Robot | None] = [None] * len(agents)
        feed_hint = _feed_hint()
        feeds = self.feeds
        for i in sorted(todo):
            agent = agents[i]
            folded = agent.translate(_FOLD)
            best: tuple[int, int, _Group, _Pattern] | None = None
            hinted = False
            for group, part in todo[i]:
                for pattern in part:
                    if pattern.name == "*":  # FEED_HINT: a fallback, not a position
                        hinted = True
                        continue
                    s, e = pattern.find(agent, folded)
                    if s >= 0 and (best is None or s < best[0]):
                        best = (s, e, group, pattern)
            if best is None:
                hint = feed_hint.search(agent) if hinted else None
                if hint is not None:
                    # 'RSScrawler/4.0' names itself; a subscriber count names nothing
                    named = hint.group(0)[:1].isalpha()
                    name = robot_name(agent, *hint.span()) if named else product_name(agent)
                    out[i] = Robot("feed", name)
                continue  # else RE2 and Python disagree on an edge of syntax: no match
            s, e, group, pattern = best
            kind = pattern.kind or group.kind
            if kind == "crawler" and feeds and feed_hint.search(agent):
                kind = "feed"
            out[i] = Robot(kind, pattern.name or robot_name(agent, s, e))
        return out


# Up to this many agents, ``RobotMatcher.match`` finds their candidate parts without RE2's
# alternations over the whole list (``_FewAgents``): Arrow compiles a regex on every call,
# about 5.5 ms for the list's 25 KB of patterns, while a block after a log's first brings a
# few dozen new agents (on the 1M-line benchmark: 16 calls, 88 of their 112 ms compiling).
# Past it, scanning each agent in Python costs more than one compiled pass over all of them.
FEW_AGENTS = 1000

# Literal patterns found by their first GRAM characters among an agent's GRAM-character slices.
GRAM = 3


class _FewAgents:
    """The parts whose alternation matches each of a few agents, as ``RobotMatcher._todo``
    finds them, without compiling the list's alternations.

    A part's RE2 alternation matches an agent when one of its patterns does. Most patterns
    are literals, which RE2 matches exactly where the (folded) literal is a substring of the
    (ASCII-lower-cased) agent: those are looked up by their first GRAM characters among the
    agent's slices and checked with ``in``. The few regex patterns go through RE2 as before,
    as alternations of only themselves (a group's, then a part's), whose compiling is cheap.
    So each agent gets the same parts, in the same order, as the whole list's alternations
    give it, and the same robot."""

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups
        # Folded literals (most of the list) by their first GRAM characters, as a tuple of
        # them: (literal, group position, part position). The others (case-sensitive, or
        # under GRAM characters, a few) are tried on every agent.
        self.by_gram: dict[tuple[str, ...], list[tuple[str, int, int]]] = {}
        self.each: list[tuple[bool, str, int, int]] = []
        # group position -> (its regex patterns' alternation, [(theirs, part position)])
        self.regex: dict[int, tuple[str, list[tuple[str, int]]]] = {}
        for g, group in enumerate(groups):
            if group.re2 is None:
                continue
            parts: list[tuple[str, int]] = []
            for k, (_, part) in enumerate(group.parts):
                sources = []
                for pattern in part:
                    if pattern.literal is None:
                        sources.append(pattern.source)
                    elif not group.fold or len(pattern.literal) < GRAM:
                        self.each.append((group.fold, pattern.literal, g, k))
                    else:
                        key = tuple(pattern.literal[:GRAM])
                        self.by_gram.setdefault(key, []).append((pattern.literal, g, k))
                if sources:
                    parts.append((_alternation(sources, group.fold), k))
            if parts:
                whole = _alternation(
                    [p.source for _, part in group.parts for p in part if p.literal is None],
                    group.fold,
                )
                self.regex[g] = (whole, parts)
        self.grams = frozenset(self.by_gram)

    def todo(self, agents: Sequence[str]) -> dict[int, list[tuple[_Group, list[_Pattern]]]]:
        marks: list[set[tuple[int, int]]] = [set() for _ in agents]
        by_gram, each, grams = self.by_gram, self.each, self.grams
        for i, agent in enumerate(agents):
            found = marks[i]
            folded = agent.translate(_FOLD)
            # The agent's GRAM-character slices as tuples of characters, by zip (the shorter
            # tails end it: strict=False): a slice per position in Python took ~40 % of the
            # scan (5 of 12.5 ms for 505 agents).
            slices = zip(*(folded[j:] for j in range(GRAM)), strict=False)
            for start in grams.intersection(slices):
                for needle, g, k in by_gram[start]:
                    if needle in folded:
                        found.add((g, k))
            for fold, needle, g, k in each:
                if needle in (folded if fold else agent):
                    found.add((g, k))
        if self.regex:
            array = pa.array(agents, type=pa.large_string())
            lowered = pc.ascii_lower(array)
            for g, (whole, parts) in self.regex.items():
                text = lowered if self.groups[g].fold else array
                for i, k in _regex_hits(text, whole, parts):
                    marks[i].add((g, k))
        todo: dict[int, list[tuple[_Group, list[_Pattern]]]] = {}
        for g, group in enumerate(self.groups):
            if group.re2 is None:  # run in Python on every agent, as in the whole-list pass
                for i in range(len(agents)):
                    marks[i].add((g, 0))
        for i, found in enumerate(marks):
            if found:
                todo[i] = [(self.groups[g], self.groups[g].parts[k][1]) for g, k in sorted(found)]
        return todo


@cache
def _feed_hint() -> re.Pattern[str]:
    return re.compile(FEED_HINT, re.ASCII | re.IGNORECASE)


# Tokens that name a platform, an engine or a browser, never the robot itself.
_NOT_NAMES = frozenset(
    "mozilla compatible x11 u i n linux windows macintosh iphone ipad android ubuntu wow64 win64 "
    "x64 x86_64 i686 amd64 intel mac os cpu like gecko khtml applewebkit chrome safari firefox "
    "version mobile msie trident nt sv1 en en-us en-gb rv aggregator http https www com org "
    "net".split()
)

_WORD = re.compile(r"(?<![\w.:/@=-])[A-Za-z][\w.!-]*", re.ASCII)
_LOCALE = re.compile(r"[a-z]{2}[-_][A-Za-z]{2}", re.ASCII)


def product_name(agent: str) -> str:
    """The robot's name when no pattern names it: the agent's first product-like word that is
    not a platform, engine, browser or locale token ('Spinn3r' in 'Mozilla/5.0 (X11; U; Linux
    x86_64; en-US; ...; aggregator:Spinn3r (Spinn3r 3.1); ...)', not 'X11'), else the host of
    its first URL, else '(unnamed robot)'. Words inside URLs and e-mail addresses are skipped."""
    for m in _WORD.finditer(agent):
        word = m.group(0).rstrip(".-!")
        if (
            len(word) < 2
            or word.lower() in _NOT_NAMES
            or _LOCALE.fullmatch(word)
            or agent.startswith("@", m.end())
        ):
            continue
        return word[:_MAX_NAME]
    host = re.search(r"https?://(?:www\.)?([\w.-]+)", agent, re.ASCII)
    if host:
        return host.group(1)[:_MAX_NAME]
    return "(unnamed robot)"


def robot_name(agent: str, start: int, end: int) -> str:
    """The robot's name from where its pattern matched: the matched text trimmed of punctuation,
    widened to the whole product token ('msnbot' in 'msnbot-media/1.1' gives 'msnbot-media'),
    cut at the first version or URL separator. Falls back to the matched text."""
    s, e = start, end
    while s < e and not agent[s].isalnum():
        s += 1
    for prefix in ("https://", "http://", "www."):
        if agent.startswith(prefix, s) and s + len(prefix) < e:
            s += len(prefix)
    while e > s and not agent[e - 1].isalnum():
        e -= 1
    if s == e:
        return agent[start:end].strip()[:_MAX_NAME] or "(unnamed robot)"
    while s > 0 and agent[s - 1] in _NAME_CHARS:
        s -= 1
    while e < len(agent) and agent[e] in _NAME_CHARS:
        e += 1
    name = agent[s:e]
    cut = min((k for k in (name.find(c) for c in _NAME_STOP) if k > 0), default=len(name))
    name = name[:cut].strip(" .-_!")
    if len(name) > _MAX_NAME:
        name = name[:_MAX_NAME].rsplit(" ", 1)[0]
    return name or agent[start:end].strip()[:_MAX_NAME] or "(unnamed robot)"
