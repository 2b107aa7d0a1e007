"""Goals: which hits are conversions, and the order value they carry.

A goal is written ``[NAME=][METHOD ]PATTERN[ STATUS...]``:

- ``PATTERN`` matches the path (query string removed): a glob (``*`` any run of characters,
  ``/`` included; no wildcard: that exact path) or ``re:`` and a regular expression (RE2,
  searched in the path);
- ``METHOD`` (``POST``, or ``GET,POST``) and ``STATUS`` (``200``, ``2xx``, ``2xx,3xx``) narrow
  it. Without either, a goal hit is a page view (METRICS.md: a conversion is a people page
  view matching a goal). With a method and no status, any 2xx or 3xx answer counts (a
  ``POST /checkout`` answered 303 is a completed checkout);
- ``NAME`` names it in reports (default: the goal as written).

Matching runs once per distinct path, method and query of a chunk, never per line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.enrich.classify import check_regex, glob_regex
from logaudit.errors import ConfigError
from logaudit.schema import arrow_strings

# Goals are bits of a uint32 per event.
MAX_GOALS = 32
VALUE_PARAMS: tuple[str, ...] = ("value", "revenue", "total", "amount")

_NAME = re.compile(r"^([A-Za-z][\w.-]*)=(.+)$")
_METHOD = re.compile(r"^[A-Z]+(?:,[A-Z]+)*$")
_STATUS = re.compile(r"^([1-5])(xx|\d\d)$", re.IGNORECASE)


@dataclass(frozen=True)
class Goal:
    name: str
    regex: str
    methods: tuple[str, ...] = ()  # empty: any
    statuses: tuple[tuple[int, int], ...] = ()  # inclusive ranges; empty: see page_only

    @property
    def page_only(self) -> bool:
        return not self.methods and not self.statuses

    def status_ok(self, status: np.ndarray) -> np.ndarray:
        ranges = self.statuses or ((200, 399),)
        ok = np.zeros(len(status), dtype=bool)
        for lo, hi in ranges:
            ok |= (status >= lo) & (status <= hi)
        return ok


def parse_goal(text: str) -> Goal:
    spec = text.strip()
    where = f"goal {text!r}"
    name = spec
    m = _NAME.match(spec)
    if m:
        name, spec = m.group(1), m.group(2).strip()
    tokens = spec.split()
    if not tokens:
        raise ConfigError(f"{where}: no path pattern")
    methods: tuple[str, ...] = ()
    if _METHOD.match(tokens[0]) and len(tokens) > 1:
        methods = tuple(tokens[0].split(","))
        tokens = tokens[1:]
    pattern, rest = tokens[0], tokens[1:]
    statuses: list[tuple[int, int]] = []
    for tok in ",".join(rest).split(","):
        if not tok:
            continue
        sm = _STATUS.match(tok)
        if sm is None:
            raise ConfigError(f"{where}: {tok!r} is not a status (200, 2xx)")
        if sm.group(2).lower() == "xx":
            base = int(sm.group(1)) * 100
            statuses.append((base, base + 99))
        else:
            statuses.append((int(tok), int(tok)))
    if not pattern.startswith(("/", "*", "re:")):
        raise ConfigError(f"{where}: the path pattern must start with /, * or re:")
    regex = glob_regex(pattern)
    check_regex(regex, where)
    return Goal(name, regex, methods, tuple(statuses))


def parse_goals(specs: Sequence[str]) -> tuple[Goal, ...]:
    goals = tuple(parse_goal(s) for s in specs)
    if len(goals) > MAX_GOALS:
        raise ConfigError(f"--goal: at most {MAX_GOALS} goals")
    names = [g.name for g in goals]
    if len(set(names)) != len(names):
        raise ConfigError("--goal: two goals have the same name")
    return goals


def goal_bits(chunk: pd.DataFrame, goals: Sequence[Goal], people: np.ndarray) -> np.ndarray:
    """Per row, a bit per goal the hit reaches (uint32; 0: none). Only ``people`` rows."""
    bits = np.zeros(len(chunk), dtype=np.uint32)
    if not goals or not len(chunk):
        return bits
    path = chunk["path"].array
    codes = np.asarray(path.codes)
    names = arrow_strings(path.categories)
    status = chunk["status"].to_numpy()
    is_page = chunk["is_page"].to_numpy()
    for i, g in enumerate(goals):
        by_cat = np.asarray(pc.match_substring_regex(names, g.regex))
        if not by_cat.any():
            continue
        hit = by_cat[codes] & people
        if g.page_only:
            hit &= is_page
        else:
            hit &= g.status_ok(status)
            if g.methods:
                method = chunk["method"].array
                ok = np.asarray(method.categories.isin(g.methods))
                hit &= ok[np.asarray(method.codes)]
        bits[hit] |= np.uint32(1 << i)
    return bits


# An order value: a plain non-negative ASCII decimal (``123``, ``123.45``). Python's float()
# also read ``-500``, ``1_000``, Arabic-Indic digits, ``1e6``, ``inf`` and ``nan`` (qa21): a
# negative value lowered the commissions owed, ``1e6`` made a 100,000.00 commission. At most
# 12 integer digits and 3 decimals (rev21-c): 15 significant digits, which float64 keeps (it
# reads back the same), and no sum of them reaches inf (308 digits did: ``"revenue":
# Infinity``, not JSON; 30 digits showed float noise in the note).
VALUE_RE = r"^[0-9]{1,12}(\.[0-9]{1,3})?$"
ASCII_SPACE = " \t\n\r\x0b\x0c"


def query_values(
    queries: Sequence[str], params: Sequence[str] = VALUE_PARAMS
) -> tuple[np.ndarray, np.ndarray]:
    """Per query string (distinct ones: called once per distinct goal query), the order value
    it carries: the first of ``params`` present whose value is a plain non-negative decimal
    (``12.50``; at most 12 integer digits and 3 decimals), else NaN; and whether one of
    ``params`` was present but none such (a value ignored). The candidates are checked and
    read at once, by Arrow."""
    n = len(queries)
    owner: list[int] = []
    texts: list[str] = []
    for i, query in enumerate(queries):
        if not query or "=" not in query:
            continue
        found: dict[str, str] = {}
        for k, v in parse_qsl(query, keep_blank_values=False, errors="replace"):
            # ASCII whitespace only: str.strip() also took a no-break space around 12 (rev21-c).
            # Blank (value=, value=%20) alike is no value, not one ignored, as parse_qsl drops
            # value= (and value=&value=5 reads 5, so does value=%20&value=5).
            v = v.strip(ASCII_SPACE)
            if v:
                found.setdefault(k, v)
        for p in params:
            text = found.get(p)
            if text is not None:
                owner.append(i)
                texts.append(text)
    values = np.full(n, np.nan)
    ignored = np.zeros(n, dtype=bool)
    if not texts:
        return values, ignored
    cand = pa.array(texts, type=pa.string())
    ok = np.asarray(pc.match_substring_regex(cand, VALUE_RE))
    who = np.asarray(owner, dtype=np.int64)
    if ok.any():
        x = np.full(len(texts), np.nan)
        x[ok] = np.asarray(pc.cast(cand.filter(pa.array(ok)), pa.float64()))
        ignored[who[~ok]] = True
        # The first valid candidate per query: candidates are in query, then params, order.
        first, at = np.unique(who[ok], return_index=True)
        values[first] = x[ok][at]
        ignored[first] = False
    else:
        ignored[who] = True
    return values, ignored
