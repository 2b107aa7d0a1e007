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

_URL = re.compile(
    r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]*)(?::\d*)?[^?#]*(?:\?([^#]*))?"
)


def _data(name: str) -> dict[str, Any]:
    text = resources.files("logaudit.enrich").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return {k: v for k, v in data.items() if not k.startswith("_")}


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

    def referrer_source(self, referrer: str, own: frozenset[str]) -> dict[str, str]:
        return _referrer_source(self, referrer, own)


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


@lru_cache(maxsize=65536)
def _referrer_source(t: SourceTables, referrer: str, own: frozenset[str]) -> dict[str, str]:
    site, query = site_and_query(referrer)
    if not site:
        return {"kind": "direct", "source": DIRECT}
    if site in own:
        return {"kind": "internal", "source": INTERNAL}
    name = t.email.find(site)
    if name is not None:
        return {"kind": "email", "source": name}
    name = t.search.find(site)
    if name is not None:
        out = {"kind": "search", "source": name}
        if query:
            params = _params(query)
            phrase = next((params[p] for p in t.search_params.get(name, ()) if params.get(p)), "")
            if phrase:
                out["keyphrase"] = " ".join(phrase.split()).casefold()
        return out
    name = t.social.find(site)
    if name is not None:
        return {"kind": "social", "source": name}
    return {"kind": "referral", "source": site}


def classify(
    referrers: Sequence[str], queries: Sequence[str], own: Iterable[str], tables: SourceTables
) -> pd.DataFrame:
    """The source of each (referrer, query) pair (the entry page view's Referer and query
    string): a frame of ``COLUMNS``, one row per pair, in order, '' where a column does not
    apply. Pairs should be distinct: the work is per pair (with caches per query and
    referrer)."""
    own_set = frozenset(h.lower().removeprefix("www.") for h in own)
    rows: dict[str, list[str]] = {c: [] for c in COLUMNS}
    for ref, query in zip(referrers, queries, strict=True):
        got = tables.query_source(str(query)) or tables.referrer_source(str(ref), own_set)
        for c in COLUMNS:
            rows[c].append(got.get(c, ""))
    return pd.DataFrame({c: np.asarray(v, dtype=object) for c, v in rows.items()}, dtype="str")
