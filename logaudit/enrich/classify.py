"""Columns derived once per distinct value: page or static file, visitor key, calendar
fields, and which rows count for the ``--bots`` mode.

Everything here works on a chunk's categories (distinct values) and maps back with the codes.
"""

from __future__ import annotations

import copy
import re
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.config import Settings
from logaudit.errors import ConfigError
from logaudit.filters import regex_reason
from logaudit.schema import AGENT_UNLOGGED, arrow_strings, categorical, hash_strings

# The agent_class column's categories, in code order (0 person, 1 crawler, 2 tool). Feed readers
# and fetchers ("feed" in the agents table and the crawlers panel) are code 1: robots, not people.
AGENT_CLASSES = pd.Index(["person", "crawler", "tool"], dtype="str")

# Mixes the client and agent hashes into one visitor key (see visitor_key).
VISITOR_MIX = np.uint64(0x9E3779B97F4A7C15)


def visitor_key(client_hashes: np.ndarray, agent_hashes: np.ndarray) -> np.ndarray:
    """The 64-bit visitor key of (client, user agent), from their string hashes
    (``schema.hash_strings``). Every table that keys visitors uses this one formula."""
    return client_hashes * VISITOR_MIX ^ agent_hashes


def static_pattern(extensions: tuple[str, ...]) -> str:
    exts = "|".join(re.escape(e.lower().lstrip(".")) for e in extensions)
    return rf"\.(?:{exts})$"


# METRICS.md: answers that show a page; 204 No Content, 206 partial content and the other 2xx
# do not (nor redirects, which show the page they point to).
PAGE_STATUSES = np.array([200, 203, 304], dtype=np.int16)

# Paths that are never pages a person viewed (XHR and API calls); ``non_pages`` extends them.
NON_PAGES: tuple[str, ...] = ("/api/*", "*.json")


def glob_regex(pattern: str) -> str:
    """An anchored RE2 regex for a path pattern: ``re:REGEX`` as it is (searched, not
    anchored), else a glob where ``*`` matches any run of characters (``/`` included) and
    ``?`` one character; a pattern without either is an exact path."""
    if pattern.startswith("re:"):
        return pattern[3:]
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "^" + "".join(out) + "$"


def check_regex(regex: str, where: str) -> None:
    """A ConfigError naming ``where`` when Arrow's RE2 cannot compile ``regex`` (it compiles
    lazily, on the first non-empty input)."""
    try:
        pc.match_substring_regex(pa.array([""]), regex)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        reason = regex_reason(e)
        raise ConfigError(f"{where}: not a valid regular expression {regex!r} ({reason})") from None


def non_page_pattern(patterns: tuple[str, ...]) -> str:
    regex = "|".join(f"(?:{glob_regex(p)})" for p in (*NON_PAGES, *patterns))
    check_regex(regex, "non_pages")
    return regex


class NonPages:
    """Which of a chunk's distinct paths match ``non_page_pattern``'s alternation, each
    pattern tried by RE2 only on the paths that can match it: a glob's regex is anchored at
    both ends and its text before the first wildcard (after the last) is literal, so only
    paths starting (ending) with that text are candidates, found by Arrow's ``starts_with``
    (``ends_with``), a byte comparison. The whole alternation over every path of a block
    (~14,000) took ~0.8 ms a block; the defaults (``/api/*``, ``*.json``) leave a few
    candidates. A path matches when one of the patterns does, as with the alternation."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        whole = non_page_pattern(patterns)  # a ConfigError when the alternation is invalid
        self.tests: list[tuple[str, str, str]] = []  # (prefilter, its literal, regex)
        for p in (*NON_PAGES, *patterns):
            regex = f"(?:{glob_regex(p)})"  # as in the alternation
            try:
                check_regex(regex, "non_pages")
            except ConfigError:
                # Valid only inside the alternation ("re:x)|(?:y"): the alternation it is.
                self.tests = [("", "", whole)]
                return
            if p.startswith("re:"):
                self.tests.append(("", "", regex))
                continue
            wild = [i for i, ch in enumerate(p) if ch in "*?"]
            if not wild:
                self.tests.append(("equal", p, regex))
            elif wild[0] > 0:
                self.tests.append(("starts_with", p[: wild[0]], regex))
            elif wild[-1] < len(p) - 1:
                self.tests.append(("ends_with", p[wild[-1] + 1 :], regex))
            else:
                self.tests.append(("", "", regex))

    def match(self, names: pa.Array) -> np.ndarray:
        out = np.zeros(len(names), bool)
        for kind, literal, regex in self.tests:
            if not kind:
                out |= np.asarray(pc.match_substring_regex(names, regex).fill_null(False))
                continue
            if kind == "equal":
                test = pc.equal(names, literal)
            else:
                test = getattr(pc, kind)(names, pattern=literal)
            at = np.flatnonzero(np.asarray(test.fill_null(False)) & ~out)
            if len(at):
                hit = pc.match_substring_regex(names.take(at), regex)
                out[at[np.asarray(hit.fill_null(False))]] = True
        return out


def per_category(cat: pd.Categorical, values: np.ndarray) -> np.ndarray:
    """Spread one value per category to the rows."""
    return values[np.asarray(cat.codes)]


def hash_categories(cat: pd.Categorical) -> np.ndarray:
    """A stable 64-bit hash per row, computed once per category."""
    h = hash_strings(cat.categories)
    return per_category(cat, h)


def zone(tz: str | None) -> ZoneInfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"--tz: unknown time zone {tz!r} (use an IANA name like Europe/Paris)"
        ) from None


class Enricher:
    """Adds the ``schema.ENRICHED`` columns and applies the row filters of a run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.static_re = static_pattern(settings.static_extensions)
        self.non_pages = NonPages(settings.non_pages)
        self.zone = zone(settings.tz)
        from logaudit.filters import Matcher, of_settings

        wanted = of_settings(settings.extra)
        use_agent_cache(settings)
        # The shared record filters (--status, --path, --client...), before any table.
        self.matcher = Matcher(wanted, settings.geoip_dir) if wanted else None
        # How far each chunk's agents are classified (analyze.base.AGENT_WORK): "none" leaves
        # out the agent_class column and never builds the classifier; "classes" gives agents
        # not seen yet their class alone; "rows" (unless the engine says less) their full row,
        # which a table will ask for (classifying a class first would match robots twice).
        self.agents = "rows"

    def needing(self, work: str) -> Enricher:
        """This enricher for a run that needs ``work`` of the user agents (``agent_work``)."""
        if work == "none" and self.settings.bots != "include":
            raise ValueError("--bots other than include needs the agents' classes")
        out = copy.copy(self)
        out.agents = work
        return out

    def apply(self, chunk: pd.DataFrame, has_agent: bool | None = True) -> pd.DataFrame:
        """Add the enriched columns. ``has_agent`` False: the format logs no user agent
        (common, vcommon), so no hit can be told to be a robot and every hit is a person.
        None (``formats.agent_logged``: W3C): the rows whose agent is missing (NaN: parse's
        mark of a line under a #Fields: header without cs(User-Agent)) had none logged, and
        are people as those, their agent "" from here on; the others are classified (a
        logged empty agent, quoted W3C's "", as any). A chunk with the
        ``schema.AGENT_UNLOGGED`` column (--log-format auto+ mixing formats with and without
        an agent) says so per row: those rows are people, whatever ``has_agent``."""
        s = self.settings
        unlogged: np.ndarray | None = None
        if AGENT_UNLOGGED in chunk.columns:
            # auto+ over formats with and without an agent: the parser says which rows.
            unlogged = chunk.pop(AGENT_UNLOGGED).to_numpy(dtype=bool)
            if not unlogged.any() or unlogged.all():
                has_agent, unlogged = not unlogged.any(), None
            else:
                has_agent = None
        elif has_agent is None:
            agent = chunk["agent"].array
            unlogged = np.asarray(agent.codes) < 0
            if unlogged.any():
                if "" not in agent.categories:
                    agent = agent.add_categories([""])
                chunk["agent"] = agent.fillna("")
            if not unlogged.any() or unlogged.all():
                has_agent, unlogged = not unlogged.any(), None
        if self.zone is not None:
            chunk["local"] = chunk["time"].dt.tz_convert(self.zone).dt.tz_localize(None)
        keep = np.ones(len(chunk), dtype=bool)
        local = chunk["local"].to_numpy()
        period = s.since is not None or s.until is not None
        filtered = self.matcher is not None or s.bots in ("exclude", "only")
        if (period or filtered) and len(local):
            secs = local.astype("datetime64[s]").astype(np.int64)
            # The chunk's first and last lines before any filter cuts it (the "pb_start"
            # table): problems --last tells a minute before the log began from a quiet one,
            # and ends its window at the log's newest line, not the newest one kept. As
            # instants (UTC seconds), as problems keys its minutes.
            utc_secs = chunk["time"].array.asi8
            chunk.attrs["first_utc"] = int(utc_secs.min())
            chunk.attrs["last_utc"] = int(utc_secs.max())
            if period:
                # What the input covers before --since/--until cut it (the "span" table): a
                # run with no request in the period can then say where the log's requests are.
                chunk.attrs["span_local"] = (int(secs.min()), int(secs.max()))
        # A bound written with its offset is an instant (cli, timespec.instant): it cuts the
        # hits' UTC times, not their wall clock (the log's own offset, without --tz).
        at_since, at_until = s.extra.get("since_utc"), s.extra.get("until_utc")
        t = chunk["time"]
        # UTC instants, without the zone (what ``Series.values`` gave; pandas 4 will keep it)
        utc = t.to_numpy(dtype=f"datetime64[{t.dt.unit}]") if at_since or at_until else local
        if s.since is not None:
            keep &= (
                utc >= np.datetime64(at_since, "s")
                if at_since
                else local >= np.datetime64(s.since, "s")
            )
        if s.until is not None:
            keep &= (
                utc < np.datetime64(at_until, "s")
                if at_until
                else local < np.datetime64(s.until, "s")
            )

        if self.matcher is not None:
            keep &= self.matcher.mask(chunk)

        classify = self.agents != "none"
        agent_class = (
            self._agent_class(chunk["agent"].array)
            if has_agent is not False and classify
            else np.zeros(len(chunk), dtype=np.int8)
        )
        if unlogged is not None:
            agent_class[unlogged] = 0
        if s.bots == "exclude":
            keep &= agent_class == 0
        elif s.bots == "only":
            keep &= agent_class != 0
        if not keep.all():
            chunk = chunk.loc[keep].reset_index(drop=True)
            agent_class = agent_class[keep]
            local = local[keep]

        path = chunk["path"].array
        names = arrow_strings(path.categories)
        static_by_cat = np.asarray(
            pc.match_substring_regex(names, self.static_re, ignore_case=True)
        )
        non_page_by_cat = self.non_pages.match(names)
        is_static = per_category(path, static_by_cat)
        status = chunk["status"].to_numpy()
        ok = status == PAGE_STATUSES[0]  # np.isin's setup cost more than three comparisons
        for page_status in PAGE_STATUSES[1:]:
            ok |= status == page_status
        new: dict[str, object] = {
            "is_static": is_static,
            "is_page": ok & ~(static_by_cat | non_page_by_cat)[np.asarray(path.codes)],
        }
        if classify or not has_agent:  # without an agent field every hit is a person
            new["agent_class"] = categorical(agent_class, AGENT_CLASSES)
        # People metrics: humans by default; everyone kept by include/exclude/only.
        new["person"] = (agent_class == 0) if s.bots == "auto" else np.ones(len(chunk), bool)
        new["visitor"] = visitor_key(
            hash_categories(chunk["client"].array), hash_categories(chunk["agent"].array)
        )
        secs = local.astype("datetime64[s]").astype(np.int64)
        day = secs // 86400
        new["day"] = day.astype(np.int32)
        # The second of the day by a subtraction: numpy's % of int64 (floor modulo) took
        # 0.2 ms a block, four times the division; the same hour, negative times included.
        new["hour"] = ((secs - day * 86400) // 3600).astype(np.int8)
        # Joined at once: a column added by assignment inserts into the Arrow-backed column
        # index, about 0.1 ms each; concat keeps no attrs of mixed frames, so they are put back.
        attrs = chunk.attrs
        chunk = pd.concat([chunk, pd.DataFrame(new, index=chunk.index)], axis=1)
        chunk.attrs = attrs
        return chunk

    def _agent_class(self, agent: pd.Categorical) -> np.ndarray:
        """0 person, 1 crawler, 2 tool, per row."""
        c = shared_classifier()
        with _classifier_lock:
            codes = c.classes(pd.Index(agent.categories), rows=self.agents == "rows")
        return per_category(agent, codes)


_classifier: Any = None
_classifier_lock = threading.Lock()


def shared_classifier() -> Any:
    """The process's one AgentClassifier: its cache means each distinct agent is parsed once
    per process, whichever chunk or table meets it first."""
    global _classifier
    with _classifier_lock:
        if _classifier is None:
            # A small log's new agents may be classified by a helper process (agentproc.py).
            from logaudit.enrich import agentproc

            _classifier = agentproc.classifier()
        _load_agent_cache(_classifier)
        return _classifier


# The cache of classifications across runs (enrich/agentcache.py): the file this process uses
# (None: off), the file already read, and its keys (most recently used first) still to keep.
_cache_file: Path | None = None
_cache_read: Path | None = None
_cache_keys: list[str] = []


def use_agent_cache(settings: Settings) -> None:
    """Choose the run's cache file (its state folder, else the user's cache folder; none with
    --no-cache, ``cache = false`` or LOGAUDIT_NO_CACHE=1). It is read once, lazily, with the
    classifier (``shared_classifier``), before the first block is classified."""
    global _cache_file
    from logaudit.enrich import agentcache

    path = agentcache.cache_path(settings.state, settings.cache)
    with _classifier_lock:
        _cache_file = path


def _load_agent_cache(c: Any) -> None:
    """Read the chosen cache file into ``c`` unless it is read already (called holding the
    lock)."""
    global _cache_read, _cache_keys
    path = _cache_file
    if path is None or path == _cache_read:
        return
    from logaudit.enrich import agentcache
    from logaudit.enrich.agents import COLUMNS

    rows = agentcache.load(path, COLUMNS)
    c.preload(rows)
    c.track_use = True
    _cache_read, _cache_keys = path, list(rows)
    _saved[path] = c.parsed  # written again only when this run classifies something new


def save_agent_cache() -> None:
    """At the end of a run: write the cache file when this process classified agents it did
    not know (the most recently used first); never fails (one warning at most)."""
    global _cache_keys
    with _classifier_lock:
        c, path = _classifier, _cache_file
        if c is None or path is None or path != _cache_read or c.parsed == _saved.get(path):
            return
        from logaudit.enrich import agentcache
        from logaudit.enrich.agents import COLUMNS

        rows = list(c.used_rows(_cache_keys))[: agentcache.MAX_KEYS]
        agentcache.save(path, rows, COLUMNS)
        _cache_keys = [k for k, _ in rows]
        _saved[path] = c.parsed


_saved: dict[Path, int] = {}


def met_agent_rows() -> Any:
    """In a ``--jobs`` worker: the rows of the agents it met since the last call, as one Arrow
    table (``agentcache.table_of``), for the main process to save with its own
    (``adopt_agent_rows``); None when there are none or the run keeps no cache."""
    with _classifier_lock:
        c = _classifier
        if c is None or _cache_file is None or not c.track_use:
            return None
        from logaudit.enrich import agentcache
        from logaudit.enrich.agents import COLUMNS

        rows = list(c.used_rows())
        return agentcache.table_of(rows, COLUMNS) if rows else None


def adopt_agent_rows(table: Any) -> None:
    """In the main process: a worker's ``met_agent_rows``, remembered as if classified here,
    so that ``save_agent_cache`` writes them (the workers' own classifiers die with them)."""
    if table is None:
        return
    from logaudit.enrich import agentcache
    from logaudit.enrich.agents import COLUMNS

    rows = agentcache.rows_of(table, COLUMNS)
    c = shared_classifier()
    with _classifier_lock:
        c.adopt(rows)


def prepare_classifier() -> None:
    """Start building the process's classifier in a background thread; ``shared_classifier``
    waits for it. Call ``shared_classifier`` before forking: a child forked mid-build would
    inherit the lock held by a thread it does not have.

    ua-parser-rs compiles its rule tables in about 0.12 s *holding* the GIL: started while
    other threads are in Arrow's tokenizer (which releases it), the build overlaps their
    work; started earlier, it only delays reading (see ``engine.local.run``)."""
    if _classifier is None:
        threading.Thread(target=_build_quietly, name="logaudit-agents", daemon=True).start()


def _build_quietly() -> None:
    try:
        c = shared_classifier()
        with _classifier_lock:
            # Nothing remembered from earlier runs (a first run, --no-cache): the first block's
            # agents all miss, so build ua-parser's rules now, overlapping the tokenizers,
            # rather than on a worker thread that then holds the lock and the GIL for it.
            if not c.cached():
                c.prepare()
    except Exception:  # noqa: BLE001 - the first caller that needs it builds again and reports
        pass


def classify_agents(
    agents: pd.Index, at: np.ndarray | None = None, coded: bool = False
) -> pd.DataFrame:
    """Classification of distinct agents (``enrich.agents`` columns), thread-safe; ``at`` and
    ``coded`` as ``AgentClassifier.classify``'s."""
    c = shared_classifier()
    with _classifier_lock:
        return c.classify(agents, at, coded)
