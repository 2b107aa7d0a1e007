"""Where a visit came from: its *source* and the source's *kind*, from the entry page view's
Referer and query string (METRICS.md, "Referrers, campaigns and conversions").

In order, the first that applies:

1. campaign tags in the entry page's query (``utm_*``, Matomo's ``mtm_*`` and ``pk_*``): the
   source is ``utm_source`` (else the campaign), the kind comes from ``utm_medium`` (``cpc`` ->
   ``ads``, ``email`` -> ``email``, ...; any other medium: ``campaign``);
2. an ad click id (``gclid``, ``msclkid``, ``fbclid``, ...): the network it belongs to;
3. an affiliate parameter (``ref``, ``aff``, ``affiliate``, ``partner``, ``via``): kind
   ``affiliate``, the source is the parameter's value;
4. the Referer: ``internal`` for the site's own hosts; else a known webmail (``email``), search
   engine (``search``, with its keyphrase where the engine still sends one) or social network
   (``social``); else ``referral`` (the referring site, ``www.`` removed);
5. else ``direct``.

The tables of engines, networks, webmail hosts, tags and click ids are data
(``enrich/data/*.json``), extended by the ``sources`` setting. Everything here runs once per
distinct referrer, per distinct query and per distinct (referrer, query) pair, never per line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.errors import ConfigError

KINDS: tuple[str, ...] = (
    "campaign",
    "ads",
    "affiliate",
    "search",
    "social",
    "email",
    "referral",
    "internal",
    "direct",
)
# Kinds that are not a touch for attribution: no one brought the visitor.
NOT_A_TOUCH = frozenset({"direct", "internal"})
DIRECT = "(direct)"
INTERNAL = "(internal)"
TAGS: tuple[str, ...] = ("source", "medium", "campaign", "term", "content")
COLUMNS: tuple[str, ...] = ("kind", "source", "keyphrase", "affiliate", *(f"utm_{t}" for t in TAGS))

# The tables the ``sources`` setting may extend.
EXTENSIBLE = ("search_engines", "social_networks", "webmail", "click_ids", "mediums")

# Where a search engine's keyphrase is, when its entry does not say (METRICS.md).
KEYPHRASE_PARAMS: tuple[str, ...] = ("q", "p", "query", "text", "wd")

# The host of a URL, for Arrow's RE2 (referrers.py's rule: lower-cased, www. removed after).
_SITE = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(?P<host>[^/:?#]*)"

_URL = re.compile(
    r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]*)(?::\d*)?[^?#]*(?:\?([^#]*))?"
)


def _data(name: str) -> dict[str, Any]:
    text = resources.files("logaudit.enrich").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def check_config(extra: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``sources`` setting's host tables, checked when the config is read (exit 7)."""
    for table in ("search_engines", "social_networks", "webmail"):
        entries = extra.get(table) or {}
        if not isinstance(entries, Mapping):
            raise ConfigError(f"sources.{table}: expected a table of name = [hosts]")
        for name, v in entries.items():
            _check_hosts(f"sources.{table}", name, v, table == "search_engines")
    return extra


def _check_hosts(where: str, name: str, v: Any, engine: bool) -> None:
    """A config entry's hosts are a list of text (a string would be read one character a
    host: ``"lemmy.world"`` as l, e, m...); a search engine's may be a table with ``hosts``
    and ``params`` lists."""

    def texts(x: Any) -> bool:
        return isinstance(x, list) and all(isinstance(h, str) for h in x)

    if engine and isinstance(v, Mapping):
        if texts(v.get("hosts")) and texts(v.get("params", [])):
            return
        shape = '{ hosts = ["find.example"], params = ["q"] }'
    elif texts(v):
        return
    else:
        shape = '["lemmy.world"]'
    raise ConfigError(f"{where}: {name} = {v!r}: give a list of hosts, as {name} = {shape}")


class HostTable:
    """Host patterns -> a name. ``example.com`` matches that host and its subdomains;
    ``google.*`` also any public suffix after the name (google.fr, google.co.uk)."""

    def __init__(self, entries: Mapping[str, Iterable[str]]) -> None:
        self.exact: dict[str, str] = {}
        wild: list[tuple[str, str]] = []
        for name, patterns in entries.items():
            for p in patterns:
                p = str(p).lower().strip().removeprefix("www.")
                if p.endswith(".*"):
                    wild.append((re.escape(p[:-2]), name))
                elif p:
                    self.exact.setdefault(p, name)
        self.wild = [
            (re.compile(rf"(?:^|\.){w}\.[a-z]{{2,3}}(?:\.[a-z]{{2}})?$"), name) for w, name in wild
        ]

    def find(self, host: str) -> str | None:
        labels = host.split(".")
        for i in range(len(labels)):
            name = self.exact.get(".".join(labels[i:]))
            if name is not None:
                return name
        for rx, name in self.wild:
            if rx.search(host):
                return name
        return None


# eq=False: hashed by identity, so the per-value caches can key on the tables in use.
@dataclass(frozen=True, eq=False)
class SourceTables:
    search: HostTable
    search_params: Mapping[str, tuple[str, ...]]
    social: HostTable
    email: HostTable
    tags: Mapping[str, tuple[str, ...]]  # tag -> query parameters, first found wins
    mediums: Mapping[str, str]
    click_ids: Mapping[str, tuple[str, str]]  # parameter -> (network, kind)
    affiliate_params: tuple[str, ...]

    @property
    def param_regex(self) -> str:
        """RE2 finding a query string that names any parameter this table reads."""
        names = [n for names in self.tags.values() for n in names]
        names += [*self.click_ids, *self.affiliate_params]
        return "(?:^|[&;])(?:" + "|".join(re.escape(n) for n in names) + ")="

    @property
    def click_id_regex(self) -> str | None:
        """RE2 finding the start of a click id's value that is surely not blank: its first
        characters unreserved (no escape, no '+'), so parsed and stripped it is not empty.
        Only the presence of such a value counts (``_query_source``), never the value: it can
        be replaced by ``x``. Names a tag or affiliate parameter also reads are left alone."""
        read = {n for names in self.tags.values() for n in names} | set(self.affiliate_params)
        names = [n for n in self.click_ids if n not in read]
        if not names:
            return None
        return "(^|&)(" + "|".join(re.escape(n) for n in names) + ")=[A-Za-z0-9_.~-]+"

    @classmethod
    def load(
        cls, extra: Mapping[str, Any] | None = None, affiliate_params: Sequence[str] = ()
    ) -> SourceTables:
        """The data tables, with ``extra`` (the ``sources`` setting: ``search_engines``,
        ``social_networks``, ``webmail``, ``click_ids``, ``mediums``) merged over them: an
        entry named in the config replaces the built-in one of that name."""
        extra = dict(extra or {})
        unknown = set(extra) - set(EXTENSIBLE)
        if unknown:
            raise ConfigError(f"sources: unknown table {sorted(unknown)[0]!r}")
        check_config(extra)
        try:
            engines = {**_data("search_engines.json"), **extra.get("search_engines", {})}
            social = {**_data("social_networks.json"), **extra.get("social_networks", {})}
            webmail = {**_data("webmail.json"), **extra.get("webmail", {})}
            params = _data("campaign_params.json")
            mediums = {k: v for k, v in params["mediums"].items() if not k.startswith("_")}
            mediums.update({str(k).lower(): str(v) for k, v in extra.get("mediums", {}).items()})
            clicks = {k: v for k, v in params["click_ids"].items() if not k.startswith("_")}
            clicks.update(extra.get("click_ids", {}))
            for k, v in clicks.items():
                if isinstance(v, str) or len(v) != 2 or str(v[1]) not in KINDS:
                    raise ConfigError(
                        f"sources.click_ids: {k} = {v!r}: give [network, kind], kind one of "
                        + ", ".join(KINDS)
                    )
            search_params: dict[str, tuple[str, ...]] = {}
            for name, e in engines.items():
                hosts = e["hosts"] if isinstance(e, Mapping) else e
                ps = e.get("params", KEYPHRASE_PARAMS) if isinstance(e, Mapping) else ()
                engines[name] = [str(h) for h in hosts]
                search_params[name] = tuple(str(p) for p in ps) or ()
            return cls(
                search=HostTable(engines),
                search_params=search_params,
                social=HostTable(social),
                email=HostTable(webmail),
                tags={t: tuple(params["tags"][t]) for t in TAGS},
                mediums=mediums,
                click_ids={k: (str(v[0]), str(v[1])) for k, v in clicks.items()},
                affiliate_params=tuple(affiliate_params) or tuple(params["affiliate"]),
            )
        except (KeyError, TypeError, IndexError, AttributeError) as e:
            raise ConfigError(
                f"sources: a table entry is not in the expected shape ({e})"
            ) from None

    def query_source(self, query: str) -> dict[str, str] | None:
        """What an entry page's query string says of the visit's source, or None."""
        return _query_source(self, query)


# Bumped whenever ``classify`` would name a (referrer, query) pair otherwise with the same
# tables: classifications kept in the history store (``store/entrysources.py``) name it.
# The digest also covers the text of the modules that name a pair (this one and
# ``analyze/campaigns.py``, whose ``visit_sources`` fills the pairs in), so a change there
# that forgets the version still makes the stored classifications again.
CLASSIFY_VERSION = 1
_CODE_FILES = (("logaudit.enrich", "sources.py"), ("logaudit.analyze", "campaigns.py"))
_TABLE_FILES = (
    "search_engines.json",
    "social_networks.json",
    "webmail.json",
    "campaign_params.json",
)


def rules_digest(
    extra: Mapping[str, Any] | None = None, affiliate_params: Sequence[str] = ()
) -> str:
    """What ``classify`` depends on besides the pair and the own hosts: this code's version, the
    data tables and the ``sources``/``affiliate_params`` settings (``SourceTables.load``'s
    arguments), as a SHA-256; a stored classification made under other rules is not used."""
    data = {
        name: resources.files("logaudit.enrich").joinpath("data", name).read_text(encoding="utf-8")
        for name in _TABLE_FILES
    }
    text = json.dumps(
        [CLASSIFY_VERSION, _code_digest(), data, dict(extra or {}), list(affiliate_params)],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _code_digest() -> str:
    """A SHA-256 of the classifying modules' text (``_CODE_FILES``); where a module's source
    is not installed (only compiled files), its name stands in and the version decides."""
    h = hashlib.sha256()
    for package, name in _CODE_FILES:
        try:
            h.update(resources.files(package).joinpath(name).read_bytes())
        except OSError:
            h.update(f"{package}/{name}".encode())
    return h.hexdigest()


def _params(query: str) -> dict[str, str]:
    """The first value of each parameter, decoded; keys as written."""
    out: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=False, errors="replace"):
        out.setdefault(k, v.strip())
    return out


@lru_cache(maxsize=65536)
def _query_source(t: SourceTables, query: str) -> dict[str, str] | None:
    if not query or "=" not in query:
        return None
    params = _params(query)
    if not params:
        return None
    tags = {
        tag: next((params[n] for n in names if params.get(n)), "") for tag, names in t.tags.items()
    }
    if tags["source"] or tags["medium"] or tags["campaign"]:
        kind = t.mediums.get(tags["medium"].lower(), "campaign")
        source = tags["source"] or tags["campaign"] or tags["medium"]
        out = {f"utm_{k}": v for k, v in tags.items()}
        out.update(kind=kind, source=source)
        if kind == "affiliate":
            out["affiliate"] = source
        return out
    for name, (network, kind) in t.click_ids.items():
        if params.get(name):
            return {"kind": kind, "source": network}
    for name in t.affiliate_params:
        if params.get(name):
            return {"kind": "affiliate", "source": params[name], "affiliate": params[name]}
    return None


def site_and_query(referrer: str) -> tuple[str, str]:
    """The referring site (host lower-cased, ``www.`` removed; '' when not a URL) and the
    referrer's query string."""
    m = _URL.match(referrer)
    if m is None:
        return "", ""
    return m.group(1).lower().removeprefix("www."), m.group(2) or ""


def _site_source(t: SourceTables, site: str, own: frozenset[str]) -> dict[str, str]:
    """The source a referring site names (no keyphrase: that is in the full URL)."""
    if not site:
        return {"kind": "direct", "source": DIRECT}
    if site in own:
        return {"kind": "internal", "source": INTERNAL}
    for kind, table in (("email", t.email), ("search", t.search), ("social", t.social)):
        name = table.find(site)
        if name is not None:
            return {"kind": kind, "source": name}
    return {"kind": "referral", "source": site}


def _columns(results: Sequence[dict[str, str] | None]) -> dict[str, np.ndarray]:
    return {c: np.array([(r or {}).get(c, "") for r in results], dtype=object) for c in COLUMNS}


def classify(
    referrers: Sequence[str], queries: Sequence[str], own: Iterable[str], tables: SourceTables
) -> pd.DataFrame:
    """The source of each (referrer, query) pair (the entry page view's Referer and query
    string): a frame of ``COLUMNS``, one row per pair, in order, '' where a column does not
    apply.

    Python runs once per distinct query that names a known parameter, per distinct referring
    site, and per distinct search-engine URL carrying a query (for its keyphrase); finding
    the sites and the queries worth parsing is Arrow's work over the distinct values."""
    own_set = frozenset(h.lower().removeprefix("www.") for h in own)
    q_codes, q_uniq = pd.factorize(np.asarray(queries, dtype=object))
    r_codes, r_uniq = pd.factorize(np.asarray(referrers, dtype=object))
    # Queries: only those naming a tag, click id or affiliate parameter are parsed.
    q_text = pa.array(np.asarray(q_uniq, dtype=object), pa.string())
    worth = np.asarray(pc.match_substring_regex(q_text, tables.param_regex).fill_null(False))
    todo = np.flatnonzero(worth)
    # A click id's value (gclid=Cj0KCQiA...: one per ad click, so nearly one distinct query
    # per visit) says nothing but that it is there: queries that differ only in such values
    # are parsed once. Each distinct query points at its parsed result (the last: None).
    rx = tables.click_id_regex
    if rx is not None and len(todo):
        same = pc.replace_substring_regex(q_text.take(pa.array(todo)), rx, r"\1\2=x")
        codes, canon = pd.factorize(np.asarray(same.to_pandas(), dtype=object))
    else:
        codes, canon = np.arange(len(todo)), np.asarray(q_uniq, dtype=object)[todo]
    got: list[dict[str, str] | None] = [tables.query_source(str(q)) for q in canon]
    got.append(None)
    q_at = np.full(len(q_uniq), len(got) - 1, dtype=np.int64)
    q_at[todo] = codes
    q_has = np.array([r is not None for r in got], dtype=bool)
    # Referrers: the site of each distinct one by Arrow's regex, then once per site.
    r_text = pa.array(np.asarray(r_uniq, dtype=object), pa.string())
    m = pc.extract_regex(r_text, _SITE)
    site = pc.replace_substring_regex(pc.utf8_lower(m.field("host").fill_null("")), r"^www\.", "")
    s_codes, s_uniq = pd.factorize(np.asarray(site.to_pandas(), dtype=object))
    s_res = [_site_source(tables, str(x), own_set) for x in s_uniq]
    r_res = [s_res[c] for c in s_codes]
    has_query = np.asarray(pc.match_substring(r_text, "?").fill_null(False))
    for i in np.flatnonzero(has_query):
        res = r_res[i]
        if res["kind"] == "search":
            phrase = _keyphrase(tables, res["source"], str(r_uniq[i]))
            if phrase:
                r_res[i] = {**res, "keyphrase": phrase}
    # Each pair's parsed query (or None), straight from its query's code.
    at = q_at[q_codes]
    q_cols, r_cols = _columns(got), _columns(r_res)
    use_q = q_has[at]
    data = {
        c: np.where(use_q, q_cols[c][at], r_cols[c][r_codes]) if len(use_q) else q_cols[c][at]
        for c in COLUMNS
    }
    return pd.DataFrame(data, dtype="str")


def _keyphrase(t: SourceTables, engine: str, referrer: str) -> str:
    _, query = site_and_query(referrer)
    if not query:
        return ""
    params = _params(query)
    phrase = next((params[p] for p in t.search_params.get(engine, ()) if params.get(p)), "")
    return " ".join(phrase.split()).casefold()
