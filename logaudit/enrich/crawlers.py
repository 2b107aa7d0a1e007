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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

# HTTP libraries and command-line clients: (name shown in reports, regex). The regexes are
# case-sensitive, run in both RE2 and Python ``re`` (keep to the common syntax), and should
# match the product token, not a mention of it.
TOOLS: tuple[tuple[str, str], ...] = (
    ("curl", r"(?:^|[^\w-])curl/"),
    ("Wget", r"(?:^|[^\w-])(?:[Ww]get2?|WGET)/"),
    ("python-requests", r"python-requests/"),
    ("python-urllib", r"Python-urllib(?:/|2\b)"),
    ("python-httpx", r"python-httpx/"),
    ("urllib3", r"(?:^|[^\w-])urllib3/"),
    ("aiohttp", r"(?:^|[^\w-])aiohttp/"),
    ("Go-http-client", r"Go-http-client/"),
    ("Java", r"(?:^|[^\w-])Java/\d|^Jersey/|HttpUrlConnection"),
    ("Apache-HttpClient", r"Apache-HttpClient/"),
    ("AsyncHttpClient", r"^AHC/"),
    ("okhttp", r"(?:^|[^\w-])okhttp"),
    ("axios", r"(?:^|[^\w-])axios/"),
    ("node-fetch", r"node-fetch"),
    ("undici", r"^undici"),
    ("got", r"^got(?:/| \(https://github\.com/sindresorhus/got)"),
    ("PostmanRuntime", r"PostmanRuntime/"),
    ("HTTPie", r"^HTTPie/"),
    ("libwww-perl", r"libwww-perl/|^lwp-(?:trivial|request)/"),
    ("Mechanize", r"[Mm]echanize/"),
    ("Guzzle", r"GuzzleHttp/"),
    ("PHP-Curl-Class", r"^PHP-Curl-Class/"),
    ("PowerShell", r"WindowsPowerShell/|^PowerShell/"),
    ("Ruby", r"^Ruby$|^Faraday v\d"),
    ("Dart", r"^Dart/\d"),
    ("reqwest", r"^reqwest/"),
    ("Deno", r"^Deno/\d"),
    ("aws-sdk", r"^(?:aws-cli|aws-sdk-[\w-]+|Boto3?|botocore)/"),
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

# Alternations of this many patterns keep RE2's DFA within its memory budget (measured: 200 per
# chunk is fastest; 400 already falls back to the slow NFA).
CHUNK = 200
# Agents a chunk matched are sorted out by alternations of this many patterns of the chunk.
PART = 16

# Characters that extend a robot's name around its match: 'msnbot' in 'msnbot-media/1.1'.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_NAME_STOP = "/()+;:,@[]{}<>\"'|\\"
_MAX_NAME = 60


@dataclass(frozen=True)
class Robot:
    kind: str  # 'crawler' or 'tool'
    name: str


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

    __slots__ = ("source", "name", "literal", "regex")

    def __init__(self, source: str, name: str) -> None:
        self.source = source
        self.name = name
        self.literal = _literal(source)
        # re.ASCII aligns \d \w \s with RE2's meaning.
        self.regex = None if self.literal is not None else re.compile(source, re.ASCII)

    def find(self, agent: str) -> tuple[int, int]:
        if self.literal is not None:
            k = agent.find(self.literal)
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


def _group(kind: str, patterns: list[_Pattern], re2: bool = True) -> _Group:
    if not re2:
        return _Group(kind, None, [(None, patterns)])
    parts = [patterns[k : k + PART] for k in range(0, len(patterns), PART)]
    return _Group(
        kind,
        "|".join(p.source for p in patterns),
        [("|".join(p.source for p in part), part) for part in parts],
    )


class RobotMatcher:
    """Finds crawlers and tools among agents. Build once per process; ``match`` is reentrant."""

    def __init__(
        self, patterns: Sequence[str] | None = None, tools: Sequence[tuple[str, str]] = TOOLS
    ) -> None:
        crawler: list[str] = []
        for p in crawler_patterns() if patterns is None else patterns:
            if _literal(p) is None:
                try:
                    re.compile(p, re.ASCII)
                except re.error:
                    continue  # unusable for naming; the list's CI validates its patterns
            crawler.append(p)
        # The tool group comes first so that on a tie (both match at the same place, e.g.
        # 'python-requests' is also a crawler pattern) the agent is a tool.
        groups = [_group("tool", [_Pattern(rx, name) for name, rx in tools])]
        slow: list[str] = []
        for start in range(0, len(crawler), CHUNK):
            chunk = crawler[start : start + CHUNK]
            if not _re2_accepts("|".join(chunk)):
                slow.extend(p for p in chunk if not _re2_accepts(p))
                chunk = [p for p in chunk if _re2_accepts(p)]
            if chunk:
                groups.append(_group("crawler", [_Pattern(p, p) for p in chunk]))
        if slow:
            groups.append(_group("crawler", [_Pattern(p, p) for p in slow], re2=False))
        self.groups = groups
        # Patterns only Python runs (RE2 rejected them); exposed for the tests.
        self.python_only: tuple[str, ...] = tuple(slow)

    def match(self, agents: Sequence[str]) -> list[Robot | None]:
        """For each agent, the robot it names, or None. Agents must be valid Unicode (no lone
        surrogates) and are best kept to a sane length by the caller."""
        n = len(agents)
        out: list[Robot | None] = [None] * n
        if n == 0:
            return out
        array = pa.array(agents, type=pa.large_string())
        # agent index -> the (group, patterns) worth trying on it, in group order
        todo: dict[int, list[tuple[_Group, list[_Pattern]]]] = {}
        for group in self.groups:
            if group.re2 is None:
                for i in range(n):
                    todo.setdefault(i, []).append((group, group.parts[0][1]))
                continue
            mask = pc.match_substring_regex(array, group.re2)
            if not pc.any(mask).as_py():
                continue
            where = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
            subset = array.take(pa.array(where))
            for re2, part in group.parts:
                assert re2 is not None
                sub = pc.match_substring_regex(subset, re2).to_numpy(zero_copy_only=False)
                for i in where[sub].tolist():
                    todo.setdefault(i, []).append((group, part))
        for i in sorted(todo):
            agent = agents[i]
            best: tuple[int, int, _Group, _Pattern] | None = None
            for group, part in todo[i]:
                for pattern in part:
                    s, e = pattern.find(agent)
                    if s >= 0 and (best is None or s < best[0]):
                        best = (s, e, group, pattern)
            if best is None:
                continue  # RE2 and Python disagree on an edge of syntax: no match
            s, e, group, pattern = best
            if group.kind == "tool":
                out[i] = Robot("tool", pattern.name)
            else:
                out[i] = Robot("crawler", robot_name(agent, s, e))
        return out


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
