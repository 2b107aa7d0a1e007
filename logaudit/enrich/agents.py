"""User-agent enrichment: browser, OS, device type, and whether the agent is a person, a crawler or
a tool. ua-parser and user_agents are wrapped by ``uaparse.py``, the robot patterns by
``crawlers.py``: both are imported only when an agent must actually be classified (~16 ms of
CPU), never by a run whose agents all come from the cache across runs (``agentcache.py``) nor
by the process whose agents the helper classifies (``agentproc.py``).

How each column is decided, for one distinct agent string:

- **browser, browser_version, os, os_version**: uap-core's rules (``ua-parser`` 1.0 with its
  bundled ``ua-parser-builtins`` rules), resolved by the fastest resolver ``ua_parser`` offers here,
  which is its own choice: ``ua_parser.BestAvailableResolver`` is the Rust ``ua-parser-rs`` when
  importable, else ``google-re2``, else the pure-Python one (``RESOLVER`` names the one in use,
  found without importing ua-parser).
  Versions: the browser's major version; the OS's ``major`` or ``major.minor``; '' when unknown.
  Families are 'Other' when unknown.
- **agent_class and crawler**: a *tool* when the agent's leftmost robot signature is an HTTP
  library or command-line client (curl, python-requests, ...; the table is ``crawlers.TOOLS``),
  a *crawler* when it matches the crawler-user-agents pattern list (``crawlers.py``) or uap-core
  calls its device a 'Spider', else a *person*. ``crawler`` names the robot or tool, '' for persons.
- **No user agent**: an empty, blank or '-' agent is *tool* named ``(no user agent)``. Every
  browser sends a User-Agent header; requests without one come from scripts and scanners.
- **device**: 'bot' for every crawler and tool. For persons, ``user_agents``' rules: 'tablet'
  (``is_tablet``), else 'mobile' (``is_mobile``), else 'desktop' (``is_pc``), else 'other'
  (TVs, consoles, e-mail clients, unknown).

Speed. uap-core's rules run in the fast resolver, never in ``user_agents``' own slow parse
(``uaparse.py``).
Robots are found for a whole batch at once (``crawlers.RobotMatcher``). Each distinct agent is
parsed once per process: results are cached in the ``AgentClassifier`` across calls, and agents
differing only in a browser's build number share one lookup (``lookup_keys``).

Only the first ``MAX_AGENT`` characters of an agent are analysed (real agents are far shorter;
this bounds the work a hostile 1 MB header can cause). Lone surrogates (undecodable bytes kept
with ``surrogateescape``) are replaced by '?' for the analysis. Names and families can carry
text copied from the agent (uap-core rules substitute captured groups; robot names are cut out of
the agent): renderers must escape them like any other logged text.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.formats.later import Later

# pandas, imported on first use: only ``classify`` builds a frame, and the helper process
# that classifies a small log's agents (agentproc.py) never does (~0.2 s).
if TYPE_CHECKING:
    import pandas as pd

    from logaudit.enrich.crawlers import Robot, RobotMatcher
    from logaudit.enrich.uaparse import DefaultedResult, Domain, Resolver
else:
    pd = Later("pandas")

COLUMNS: tuple[str, ...] = (
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "agent_class",
    "crawler",
)
DEVICES: tuple[str, ...] = ("desktop", "mobile", "tablet", "bot", "other")
AGENT_CLASSES: tuple[str, ...] = ("person", "crawler", "tool")
# A feed reader or fetcher ('feed' in the agents table and the crawlers panel) is a robot whose
# hits count with the crawlers' (code 1: not people, in crawler_hits); see crawlers.py "Feeds".
ROBOT_KINDS: tuple[str, ...] = ("crawler", "tool", "feed")
_CLASS_CODE = {**{name: code for code, name in enumerate(AGENT_CLASSES)}, "feed": 1}
NO_AGENT = "(no user agent)"
MAX_AGENT = 2048



@cache
def resolver_name() -> str:
    """The class ``ua_parser.BestAvailableResolver`` is, named without importing ua-parser
    (~8 ms; the agent cache's fingerprint names it on every run): ua-parser 1.0 takes the
    first of its Rust, re2 and pure-Python resolvers whose engine is importable
    (tests/test_agents.py checks the name against ua-parser's own choice)."""
    from importlib.util import find_spec

    if find_spec("ua_parser_rs"):
        return "ua_parser.regex.Resolver"
    if find_spec("re2"):
        return "ua_parser.re2.Resolver"
    return "ua_parser.basic.Resolver"


def __getattr__(name: str) -> str:
    """``RESOLVER``: ``resolver_name()``, found on first use (two module searches, ~0.2 ms)."""
    if name == "RESOLVER":
        return resolver_name()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ua-parser names some unknown spiders after a fragment of their agent ('; bot', 'io/bot',
# 'crawler'): such a family is no name. A usable one is a short product-like word.
_CLEAN_FAMILY = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._!-]{0,58}[A-Za-z0-9]")
_GENERIC = frozenset({"bot", "robot", "crawler", "crawl", "spider", "other", "web-crawlers"})

Row = tuple[str, str, str, str, str, str, str]


def _analysable(agent: str) -> str:
    agent = agent[:MAX_AGENT]
    if not agent.isascii():
        try:
            agent.encode("utf-8")
        except UnicodeEncodeError:
            agent = agent.encode("utf-8", "replace").decode("utf-8")
    return agent


# Agents that differ only in a browser's build and patch numbers share one lookup: the third
# and fourth components of these products' versions are replaced by 0 before the cache and the
# parser see the agent ('Chrome/120.0.6099.109' -> 'Chrome/120.0.0.0'). Only these tokens:
# uap-core reads other build numbers (CFNetwork/672.0.8 names iOS 7.0, NETTV/4.1.3 a Philips
# TV's year), so a general rule would change answers. Classifying the shared key gives every
# one of uap-core's and crawler-user-agents' test agents the same row as classifying the agent
# itself (tests/test_agents.py::test_build_numbers_share_a_lookup_on_uap_core); columns only
# keep the browser's major and the OS's major.minor, never a build number.
_BUILD_PRODUCTS = (
    r"((?:Chrome|Chromium|CriOS|Edg|EdgA|EdgiOS|OPR|YaBrowser|Firefox|FxiOS|SamsungBrowser"
    r"|Version|Safari|AppleWebKit)/\d+\.\d+)"
)
_BUILD_4 = _BUILD_PRODUCTS + r"\.\d+\.\d+"
_BUILD_3 = _BUILD_PRODUCTS + r"\.\d+"
_BUILD_3_LEFT = _BUILD_PRODUCTS + r"\.(?:[1-9]|0\d)"  # a third component other than '0'


def lookup_keys(texts: list[str]) -> list[str]:
    """The shared lookup key of each agent text (already ``_analysable``), vectorised in Arrow
    (RE2): see ``_BUILD_PRODUCTS``."""
    if not texts:
        return []
    out: list[str] = _arrow_keys(pa.array(texts, type=pa.large_string())).to_pylist()
    return out


def _arrow_keys(arr: pa.Array) -> pa.Array:
    """``lookup_keys`` of an Arrow array of agent texts (already ``_analysable``), as one."""
    arr = pc.replace_substring_regex(arr, _BUILD_4, r"\1.0.0")
    # Three-component versions are rarer: RE2 finds them (a match costs a fifth of a
    # replacement), and only those agents are rewritten.
    mask = pc.match_substring_regex(arr, _BUILD_3_LEFT)
    if not pc.any(mask).as_py():
        return arr
    sub = pc.replace_substring_regex(arr.filter(mask), _BUILD_3, r"\1.0")
    return pc.replace_with_mask(arr, mask, sub)


def _analysed(agents: pd.Index) -> pa.Array:
    """The agents' texts as ``_analysable`` makes them, missing ones empty, in one Arrow
    array: taken as they are from an Arrow-backed index (valid UTF-8 already, so only cut to
    ``MAX_AGENT`` characters), through Python strings only for other indexes."""
    values = agents.array
    if isinstance(values, pd.arrays.ArrowStringArray):
        arr = pa.array(values)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
        if arr.null_count:
            arr = arr.fill_null("")
        if len(arr) and pc.max(pc.binary_length(arr)).as_py() > MAX_AGENT:
            arr = pc.utf8_slice_codeunits(arr, 0, MAX_AGENT)
        return arr
    texts = [_analysable(a) if isinstance(a, str) else "" for a in agents.tolist()]
    return pa.array(texts, type=pa.large_string())


# Agent texts whose lookup keys ``AgentClassifier._known_keys`` remembers (a few MB), and
# the most distinct agents of a block it takes: more (every agent new, the all-distinct
# benchmark) are rewritten in Arrow at once, as before.
KEYS_KNOWN = 20_000

# How many indexes' lookup keys ``AgentClassifier._keys`` remembers: the blocks in flight
# (engine.local.THREADS), and one to spare.
RECENT = 3


def _version(*parts: str | None) -> str:
    out: list[str] = []
    for p in parts:
        if not p:
            break
        out.append(p)
    return ".".join(out)


def _spider_name(family: str, agent: str) -> str:
    """A name for an agent only uap-core knows as a spider: its family when usable, else the
    agent's first product token that is not a platform, engine or browser token
    (``crawlers.product_name``: 'crawler' in 'Mozilla/5.0 (compatible; crawler/3.0.0
    +http://...)', 'Spinn3r' rather than 'X11' in Spinn3r's Firefox-like agent)."""
    if _CLEAN_FAMILY.fullmatch(family) and family.lower() not in _GENERIC:
        return family
    from logaudit.enrich.crawlers import product_name

    return product_name(agent)


class AgentClassifier:
    """Classifies distinct user agents; remembers every agent it has seen (see ``classify``)."""

    def __init__(self, max_cached: int = 1_000_000) -> None:
        """``max_cached`` bounds the memory a flood of made-up agents can take: past it the cache
        is emptied and starts again (about 300 bytes per agent)."""
        self._resolver_built: Resolver | None = None
        self._robots_built: RobotMatcher | None = None
        self._cache: dict[str, Row] = {}
        # Lookup key -> class code, for keys classified by class alone (``classes``).
        self._class_cache: dict[str, int] = {}
        self.max_cached = max_cached
        self.parsed = 0  # agents parsed so far (each distinct agent once)
        # Keys met since the last ``used_rows`` (most recent last): what the cache across runs
        # keeps first (enrich/agentcache.py).
        self._used: dict[str, None] = {}
        self.track_use = False
        # (Arrow data, distinct keys, positions) of the last indexes given to ``_keys``.
        self._recent: list[tuple[object, list[str], np.ndarray]] = []
        # Agent text (as a block's categories hold it) -> its lookup key, for ``_keys``.
        self._key_of: dict[str | None, str] = {}
        # For ``classify(coded=True)``: each column's values met so far (a value's number is
        # its position), a value's number, and each row met as its values' numbers.
        self._values: list[list[str]] = [[] for _ in COLUMNS]
        self._numbers: list[dict[str, int]] = [{} for _ in COLUMNS]
        self._coded: dict[Row, tuple[int, ...]] = {}

    @property
    def _resolver(self) -> Resolver:
        """ua-parser's resolver, built on the first agent the caches do not know (building it
        compiles the rules: 0.10-0.17 s)."""
        if self._resolver_built is None:
            from logaudit.enrich import uaparse

            self._resolver_built = uaparse.resolver()
        return self._resolver_built

    def prepare(self) -> None:
        """Build ua-parser's resolver and the robot matcher now rather than on the first
        agent the caches do not know (``classify.prepare_classifier``)."""
        self._resolver  # noqa: B018 - the property builds it
        self._robots  # noqa: B018

    @property
    def _robots(self) -> RobotMatcher:
        if self._robots_built is None:
            from logaudit.enrich.crawlers import RobotMatcher

            self._robots_built = RobotMatcher()
        return self._robots_built

    def preload(self, rows: dict[str, tuple[str, ...]]) -> None:
        """Remember rows classified by an earlier run (``agentcache.load``); rows of the
        current run win."""
        room = max(0, self.max_cached - len(self._cache))
        for key, row in rows.items():
            if room <= 0:
                break
            if key not in self._cache and len(row) == len(COLUMNS):
                self._cache[key] = row  # type: ignore[assignment]
                room -= 1

    def adopt(self, rows: dict[str, tuple[str, ...]]) -> None:
        """Take rows another process classified (a ``--jobs`` worker's, ``classify``): known
        ones are kept, new ones remembered and counted as parsed; all count as met."""
        known = len(self._cache)
        self.preload(rows)
        self.parsed += len(self._cache) - known
        if self.track_use:
            if len(self._used) > self.max_cached:
                self._used.clear()
            self._used.update(dict.fromkeys(rows))

    def used_rows(self, older: Iterable[str] = ()) -> Iterator[tuple[str, Row]]:
        """(key, row) of the keys met since the last call, most recent first, then those of
        ``older`` (keys in most-recently-used order) still remembered; forgets the keys met."""
        used, self._used = self._used, {}
        cache = self._cache
        for key in reversed(used):
            row = cache.get(key)
            if row is not None:
                yield key, row
        for key in older:
            if key not in used:
                row = cache.get(key)
                if row is not None:
                    yield key, row

    def parse(self, agent: str, domains: Domain | None = None) -> DefaultedResult:
        """ua-parser's result for one agent (already cut to ``MAX_AGENT``); the domains not asked
        for (None: all), and those that found nothing, hold the defaults ('Other')."""
        from logaudit.enrich import uaparse

        return uaparse.parse(self._resolver, agent, uaparse.ALL if domains is None else domains)

    def classify(
        self, agents: pd.Index, at: np.ndarray | None = None, coded: bool = False
    ) -> pd.DataFrame:
        """One row per given agent, index = ``agents`` (same order, duplicates kept), columns
        ``COLUMNS`` as plain strings. Agents already seen by this classifier are not parsed again,
        nor are agents differing from one seen only in a browser's build number (``lookup_keys``).
        Missing values (NaN/None) are treated as an empty agent.

        ``at``: only the agents at these positions (the index is ``agents.take(at)``).
        ``coded``: the columns as categoricals, their categories in order of first appearance
        among the rows (what ``pd.factorize`` of each text column gives), without making the
        text of every row first."""
        # The agents table asks last for a block's categories: their keys are forgotten then.
        distinct, of = self._keys(agents, last=True)
        index = agents
        if at is not None:
            of, index = of[at], agents.take(at)
        from logaudit.schema import categorical  # imports pandas: not at the module's start

        rows = self._rows_of(distinct)
        out: dict[str, object] = {}
        if coded:
            # Each distinct row's values as codes among every value the column has had (kept
            # across blocks: a block's few hundred keys mostly repeat earlier blocks' rows,
            # whose seven texts a dict numbered again each block, ~1 ms a block). A column's
            # categories are its values in order of first appearance among the rows, as
            # ``pd.factorize`` of its texts gives, whatever numbers the values carry.
            by_key = self._row_codes(rows)
            for j, name in enumerate(COLUMNS):
                codes, used = pd.factorize(by_key[:, j][of], sort=False)
                names = self._values[j]
                out[name] = categorical(codes, pd.Index([names[u] for u in used], dtype="str"))
            return pd.DataFrame(out, index=index, copy=False)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
        for name, col in zip(COLUMNS, columns, strict=True):
            out[name] = pd.Index(list(col), dtype="str").take(of).array
        return pd.DataFrame(out, index=index, copy=False)

    def _row_codes(self, rows: list[Row]) -> np.ndarray:
        """Per row, its seven values' numbers in ``_values`` (one row of the result each)."""
        known = self._coded
        if len(known) > self.max_cached:  # made-up agents by the million: start again
            known.clear()
            self._values = [[] for _ in COLUMNS]
            self._numbers = [{} for _ in COLUMNS]
        got = [known.get(r) for r in rows]
        for i, codes in enumerate(got):
            if codes is None:
                got[i] = known[rows[i]] = self._number(rows[i])
        if not got:
            return np.zeros((0, len(COLUMNS)), np.intp)
        return np.array(got, np.intp)

    def _number(self, row: Row) -> tuple[int, ...]:
        out = []
        for value, numbers, values in zip(row, self._numbers, self._values, strict=True):
            code = numbers.get(value)
            if code is None:
                code = numbers[value] = len(values)
                values.append(value)
            out.append(code)
        return tuple(out)

    def classes(self, agents: pd.Index, rows: bool = True) -> np.ndarray:
        """Only the ``agent_class`` of each agent, as codes (0 person, 1 crawler, 2 tool): what
        every block needs, without building ``classify``'s seven text columns.

        ``rows`` False: agents not seen yet get their class alone (``_class_of``: the robot
        patterns, then uap-core's device rules for the others), not a full row, which costs
        two to three times more; for a run that will never ask for their rows."""
        # Only a run that needs rows has the agents table, which asks for these keys next.
        distinct, of = self._keys(agents, keep=rows)
        if not rows:
            return self._classes_only(distinct)[of]
        code = _CLASS_CODE
        rows_ = self._rows_of(distinct)
        return np.fromiter((code[r[5]] for r in rows_), np.int8, len(rows_))[of]

    def _classes_only(self, shared: list[str]) -> np.ndarray:
        """The class code of each distinct lookup key."""
        cache, known = self._cache, self._class_cache
        new = [k for k in shared if k not in cache and k not in known]
        if new and len(known) + len(new) > self.max_cached:
            known.clear()
            new = [k for k in shared if k not in cache]
        if new:
            for text, robot in zip(new, self._robots.match(new), strict=True):
                known[text] = self._class_of(text, robot)
        code = _CLASS_CODE
        by_key = [code[cache[k][5]] if k in cache else known[k] for k in shared]
        return np.array(by_key, np.int8)

    def _class_of(self, text: str, robot: Robot | None) -> int:
        """The class code ``_row`` gives ``text``, without the rest of its row."""
        if text.strip() in ("", "-"):
            return _CLASS_CODE["tool"]
        if robot is not None:
            return _CLASS_CODE[robot.kind]
        from logaudit.enrich import uaparse

        spider = self.parse(text, uaparse.DEVICE).device.family == "Spider"
        return _CLASS_CODE["crawler" if spider else "person"]

    def _keys(
        self, agents: pd.Index, last: bool = False, keep: bool = True
    ) -> tuple[list[str], np.ndarray]:
        """The agents' distinct lookup keys (in order of first appearance) and each agent's
        position among them: computed in Arrow over the whole index (``_analysed``,
        ``_arrow_keys``), so that only the distinct keys (a few hundred where agents differ
        in build numbers) become Python strings, not every agent.

        The answers for the last few Arrow-backed indexes are remembered (by the identity of
        their immutable Arrow data, held meanwhile): a block's categories are asked for by the
        enricher's classes and again by the agents table (``classify(..., at=...)``), which
        asks ``last``: the entry is dropped then, not held with the block's text. ``keep``
        False: not remembered (no one will ask again)."""
        data = getattr(agents.array, "_pa_array", None)
        if data is not None:
            for k, (seen, distinct, of) in enumerate(self._recent):
                if seen is data:
                    if last:
                        del self._recent[k]
                    return distinct, of
        if not len(agents):
            return [], np.zeros(0, np.intp)
        if data is not None and len(agents) <= KEYS_KNOWN:
            distinct, of = self._known_keys(agents)
        else:
            enc = pc.dictionary_encode(_arrow_keys(_analysed(agents)))
            distinct = enc.dictionary.to_pylist()
            of = enc.indices.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
        if data is not None and keep and not last:
            self._recent = [(data, distinct, of), *self._recent[: RECENT - 1]]
        return distinct, of

    def _known_keys(self, agents: pd.Index) -> tuple[list[str], np.ndarray]:
        """``_keys`` of a block's Arrow-backed agents, each text's key remembered: a log's
        blocks mostly repeat the agents of the blocks before, whose keys RE2 rewrote each
        block again (0.8-0.9 ms of a block's ~1 ms of classes). Only the texts not seen go
        through ``_arrow_keys``; each text's key is its own, whatever else is rewritten with
        it, so the keys, their order (of first appearance) and positions are as before."""
        texts: list[str | None] = pa.array(agents.array).to_pylist()
        known = self._key_of
        keys: list[Any] = [known.get(t) for t in texts]  # str once the new are filled in
        new = [i for i, k in enumerate(keys) if k is None]
        if new:
            if len(known) + len(new) > KEYS_KNOWN:
                known.clear()
            fresh = _arrow_keys(_analysed(agents.take(new))).to_pylist()
            for i, key in zip(new, fresh, strict=True):
                keys[i] = known[texts[i]] = key
        first: dict[str, int] = {}
        of = np.fromiter((first.setdefault(k, len(first)) for k in keys), np.intp, len(keys))
        return list(first), of

    def _rows_of(self, shared: list[str]) -> list[Row]:
        """The cached row of each distinct lookup key, classifying the keys not seen yet."""
        if self.track_use:
            if len(self._used) > self.max_cached:
                self._used.clear()
            self._used.update(dict.fromkeys(shared))
        new = [k for k in shared if k not in self._cache]
        if new and len(self._cache) + len(new) > self.max_cached:
            self._cache.clear()
            new = list(shared)
        if new:
            self._classify_new(new)
        cache = self._cache
        return [cache[k] for k in shared]

    def _classify_new(self, texts: list[str]) -> None:
        """Classify agent texts not yet cached (already ``_analysable`` and shared keys)."""
        robots = self._robots.match(texts)
        for text, robot in zip(texts, robots, strict=True):
            self._cache[text] = self._row(text, robot)
        self.parsed += len(texts)

    def _row(self, text: str, robot: Robot | None) -> Row:
        from logaudit.enrich import uaparse

        intern = sys.intern  # the cache holds a few hundred distinct families, not 7 per agent
        if text.strip() in ("", "-"):
            return ("Other", "", "Other", "", "bot", "tool", NO_AGENT)
        # A robot's device is 'bot' whatever uap-core says: skip its device rules (a quarter of
        # the parsing time), unless needed below.
        r = self.parse(text, uaparse.ALL if robot is None else uaparse.NO_DEVICE)
        ua, os = r.user_agent, r.os
        parsed = (
            intern(ua.family),
            intern(ua.major or ""),
            intern(os.family),
            intern(_version(os.major, os.minor)),
        )
        if robot is not None:
            name = robot.name
            # A name cut from a URL ('yandex.com' for YandexMedia's '+http://yandex.com/bots')
            # is worse than uap-core's family for a spider it knows.
            if (
                robot.kind != "tool"
                and "." in name
                and _CLEAN_FAMILY.fullmatch(ua.family)
                and ua.family.lower() not in _GENERIC
                and self.parse(text, uaparse.DEVICE).device.family == "Spider"
            ):
                name = ua.family
            return (*parsed, "bot", robot.kind, intern(name))
        if r.device.family == "Spider":
            return (*parsed, "bot", "crawler", intern(_spider_name(ua.family, text)))
        return (*parsed, uaparse.device_type(text, r), "person", "")

    def cached(self) -> int:
        """How many distinct agents are remembered."""
        return len(self._cache)
