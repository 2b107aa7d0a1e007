"""The partial tables behind ``logaudit problems``: one small table per question, computed per
chunk and merged like every other table (``analyze.base.Table``).

Times are *instants*: UTC minutes (``time`` // 60), so the hour a daylight-saving fall-back
repeats is two hours of minutes and the hour a spring-forward skips is none. ``pb_minutes``
keeps each minute's UTC offset in the report zone (``local`` - ``time``), from which the
sections show the wall clock (``clock.Clock``).
Text keys (endpoint, client, referrer) are computed once per distinct value of the chunk and
counted through integer codes; only error rows, login attempts, probes and claimed crawlers
reach the per-client tables, so their size follows the incidents, not the traffic.
"""

from __future__ import annotations

import csv
import ipaddress
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.analyze.base import Table
from logaudit.config import Settings
from logaudit.schema import arrow_strings

HERE = Path(__file__).parent

# Identifiers in paths become one placeholder, so /item/123 and /item/456 are one endpoint.
# RE2 has no look-ahead: each rule takes the following '/' (or the end) and puts it back, and
# the numeric rule runs twice so that /a/1/2 becomes /a/{id}/{id}.
ID = "{id}"
_ID_RULES: tuple[tuple[str, str], ...] = (
    (
        r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(/|$)",
        "/{id}\\1",
    ),
    (r"/[0-9a-fA-F]{16,}(/|$)", "/{id}\\1"),  # hashes: md5, sha1, sha256, object ids
    (r"/[0-9]+(/|$)", "/{id}\\1"),
    (r"/[0-9]+(/|$)", "/{id}\\1"),
    (r"/[0-9]+-[^/]*(/|$)", "/{id}\\1"),  # an id with a slug: /products/178-suede-belt
    (r"/[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*[A-Za-z][A-Za-z0-9_-]{20,}(/|$)", "/{id}\\1"),  # tokens
)

# A status class of the error tables: 4 (4xx) or 5 (5xx).
ERROR_CLASSES = (4, 5)
# Rows per chunk kept as the slowest single requests: the most the section shows, so the
# chunks' (and stored days') rows hold the overall top that the finish keeps. With 20 a
# chunk, --top 30 (or top 0: 50) showed as 21st-50th rows that were not the next slowest.
SLOWEST_PER_CHUNK = 50
# A (client, minute) pair is kept for flood detection from this many requests in one chunk;
# the others are only counted in the rate histogram. A flood is far above this.
FLOOD_KEEP = 20
# Login paths for brute force (RE2, any case): POSTs here at a rate, or 401/403 anywhere.
LOGIN = (
    r"(^|/)(wp-login\.php|xmlrpc\.php|login|signin|sign-in|log-in|auth|session|sessions|"
    r"admin|administrator|user/login|account/login|api/login|api/auth|oauth/token)(/|\.php|$)"
)


def group_paths(names: pa.Array) -> pa.Array:
    """Paths with ids, UUIDs, hashes and long tokens replaced by ``{id}``. Every rule needs
    a digit (a hash of letters a-f only is a word), so only paths with one are rewritten."""
    digit = np.asarray(pc.match_substring_regex(names, "[0-9]").fill_null(False), dtype=bool)
    if not digit.any():
        return names
    some = names.filter(pa.array(digit))
    for pattern, repl in _ID_RULES:
        some = pc.replace_substring_regex(some, pattern, repl)
    where = np.flatnonzero(digit)
    idx = np.arange(len(names))
    idx[where] = len(names) + np.arange(len(where))
    return pa.concat_arrays([names.cast(pa.string()), some.cast(pa.string())]).take(pa.array(idx))


# The last chunk's endpoint mapping, per thread: six tables of one chunk ask for it in turn
# (grouping is six regex passes over the distinct paths). The categories object is held, so
# its identity cannot be reused by another chunk's while cached.
_last = threading.local()


def endpoint_codes(c: pd.DataFrame, s: Settings) -> tuple[np.ndarray, pd.Index]:
    """Per row, the code of its endpoint among the returned names (grouped unless
    ``--no-group``), computed once per distinct path."""
    cat = c["path"].array
    group = bool(s.extra.get("group", True))
    hit = getattr(_last, "value", None)
    if hit is not None and hit[0] is cat.categories and hit[1] == group:
        by_cat, uniq = hit[2], hit[3]
    else:
        names = arrow_strings(cat.categories)
        if group:
            names = group_paths(names)
        enc = pc.dictionary_encode(names)
        by_cat = np.asarray(enc.indices, dtype=np.int64)
        uniq = pd.Index(pd.array(enc.dictionary, dtype="str"), dtype="str")
        _last.value = (cat.categories, group, by_cat, uniq)
    return by_cat[np.asarray(cat.codes)], uniq


def minutes(c: pd.DataFrame) -> np.ndarray:
    """Per row, its UTC minute (since 1970)."""
    return c["time"].array.asi8 // 60


def offsets(c: pd.DataFrame) -> np.ndarray:
    """Per row, the report zone's UTC offset in minutes: the line's own, or --tz's then."""
    return (c["local"].array.asi8 - c["time"].array.asi8) // 60


def count_keys(
    levels: Sequence[tuple[str, np.ndarray, pd.Index | None]],
    mask: np.ndarray | None = None,
    weights: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Rows counted per key tuple. Each level is (name, per-row codes or integers, the names
    of the codes or None for a plain integer level). Columns: n, and a sum per ``weights``."""
    arrays = [(name, v if mask is None else v[mask], names) for name, v, names in levels]
    total = len(arrays[0][1])
    if total == 0:
        return pd.DataFrame()
    key = np.zeros(total, np.int64)
    spans = []
    for _, v, _ in arrays:
        lo = int(v.min())
        span = int(v.max()) - lo + 1
        key = key * span + (v.astype(np.int64) - lo)
        spans.append((lo, span))
    uniq, inverse, n = np.unique(key, return_inverse=True, return_counts=True)
    parts = []
    rest = uniq
    for lo, span in reversed(spans):
        parts.append(rest % span + lo)
        rest = rest // span
    parts.reverse()
    index_arrays = [
        pd.Index(names[p], dtype="str") if names is not None else pd.Index(p, dtype=np.int64)
        for (_, _, names), p in zip(arrays, parts, strict=True)
    ]
    data = {"n": n.astype(np.int64)}
    for col, w in (weights or {}).items():
        ww = w if mask is None else w[mask]
        data[col] = np.bincount(inverse, weights=ww, minlength=len(uniq)).astype(np.int64)
    frame = pd.DataFrame(data)
    if len(index_arrays) == 1:
        frame.index = index_arrays[0].rename(arrays[0][0])
    else:
        frame.index = pd.MultiIndex.from_arrays(index_arrays, names=[a[0] for a in arrays])
    return frame


def _client(c: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    cat = c["client"].array
    return np.asarray(cat.codes), pd.Index(cat.categories, dtype="str")


def _classes(c: pd.DataFrame) -> np.ndarray:
    return (c["status"].to_numpy() // 100).astype(np.int64)


# ---- the tables --------------------------------------------------------------------------


def t_minutes(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """minute -> hits, s4xx, s5xx, s404, offset: the error timeline and the window
    comparison. ``offset`` (merged by min) is the minute's UTC offset in the report zone,
    the wall clock the sections show it in; lines of one minute in several offsets (a log
    of servers in several zones, read without --tz) show in the westernmost."""
    status = c["status"].to_numpy()
    cls = status // 100
    minute = minutes(c)
    f = count_keys(
        [("minute", minute, None)],
        weights={
            "s4xx": (cls == 4).astype(np.int64),
            "s5xx": (cls == 5).astype(np.int64),
            "s404": (status == 404).astype(np.int64),
        },
    ).rename(columns={"n": "hits"})
    if f.empty:
        return f
    off = offsets(c)
    if off.min() == off.max():  # the usual chunk: one offset
        f["offset"] = np.full(len(f), int(off[0]), np.int64)
    else:
        least = np.full(len(f), np.iinfo(np.int64).max)
        np.minimum.at(least, np.searchsorted(f.index.to_numpy(), minute), off)
        f["offset"] = least
    return f


def t_start(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The UTC minutes of the chunk's first and last lines before any filter (the Enricher's
    ``first_utc`` and ``last_utc``; the rows' when nothing was filtered): where the log
    begins and ends, for ``--last``."""
    first, last = c.attrs.get("first_utc"), c.attrs.get("last_utc")
    if first is None or last is None:
        if not len(c):
            return pd.DataFrame()
        utc = c["time"].array.asi8
        first, last = int(utc.min()), int(utc.max())
    return pd.DataFrame(
        {"first": [int(first) // 60], "last": [int(last) // 60]}, index=pd.Index([0], name="all")
    )


def t_endpoints(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """endpoint -> hits: the share of an endpoint's traffic that fails."""
    codes, names = endpoint_codes(c, s)
    return count_keys([("endpoint", codes, names)]).rename(columns={"n": "hits"})


def _errors(c: pd.DataFrame) -> np.ndarray:
    cls = _classes(c)
    return (cls == 4) | (cls == 5)


def t_fail(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(endpoint, class, minute) -> n, error rows only: counts, first and last seen, and the
    endpoints failing in a window."""
    codes, names = endpoint_codes(c, s)
    return count_keys(
        [("endpoint", codes, names), ("class", _classes(c), None), ("minute", minutes(c), None)],
        _errors(c),
    )


def t_fail_clients(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    codes, names = endpoint_codes(c, s)
    cc, cn = _client(c)
    return count_keys(
        [("endpoint", codes, names), ("class", _classes(c), None), ("client", cc, cn)],
        _errors(c),
    )


def t_fail_referrers(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    codes, names = endpoint_codes(c, s)
    cat = c["referrer"].array
    return count_keys(
        [
            ("endpoint", codes, names),
            ("class", _classes(c), None),
            ("referrer", np.asarray(cat.codes), pd.Index(cat.categories, dtype="str")),
        ],
        _errors(c) & (np.asarray(cat.codes) >= 0),
    )


# Response times: the log-scale bins of ``analyze.trends`` (40 per decade of milliseconds, up
# to the longest time the reader accepts), so percentiles are within about 3 % of the exact
# value (``timing.from_bins``) and the table merges by summing.
def _bins(seconds: np.ndarray) -> np.ndarray:
    from logaudit.analyze.trends import response_bins

    return response_bins(seconds * 1000.0)


def t_response(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(endpoint, which, bin) -> n; which 0: response time, 1: upstream time."""
    frames = []
    if c["response_time"].isna().all() and c["upstream_time"].isna().all():
        return pd.DataFrame()
    codes, names = endpoint_codes(c, s)
    for which, col in enumerate(("response_time", "upstream_time")):
        v = c[col].to_numpy(dtype=np.float64, na_value=np.nan)
        m = ~np.isnan(v)
        if not m.any():
            continue
        frames.append(
            count_keys(
                [
                    ("endpoint", codes[m], names),
                    ("which", np.full(int(m.sum()), which), None),
                    ("bin", _bins(v[m]), None),
                ]
            )
        )
    return pd.concat(frames) if frames else pd.DataFrame()


EXTREMES = {
    "max_ms": "max",
    "max_up_ms": "max",
    "min_ms": "min",
    "min_up_ms": "min",
    "timed": "sum",
    "up_timed": "sum",
}


def t_response_max(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """endpoint -> the longest response and upstream time, in milliseconds (agg max), and the
    shortest (agg min): the histogram's percentiles are clamped between them (a bin's middle
    is not a time that was logged: one request of 1.50 s read p50 1.54 s, above its max).
    ``timed``/``up_timed`` count the times the minimum is over: a store's days written before
    it have none, so the minimum is known only where they equal the histogram's count."""
    rt = c["response_time"].to_numpy(dtype=np.float64, na_value=np.nan)
    up = c["upstream_time"].to_numpy(dtype=np.float64, na_value=np.nan)
    m = ~np.isnan(rt) | ~np.isnan(up)
    if not m.any():
        return pd.DataFrame()
    codes, names = endpoint_codes(c, s)
    frame = (
        pd.DataFrame(
            {
                "endpoint": codes[m],
                "max_ms": np.nan_to_num(rt[m] * 1000, nan=-1.0),
                "max_up_ms": np.nan_to_num(up[m] * 1000, nan=-1.0),
                "min_ms": np.nan_to_num(rt[m] * 1000, nan=np.inf),
                "min_up_ms": np.nan_to_num(up[m] * 1000, nan=np.inf),
                "timed": ~np.isnan(rt[m]),
                "up_timed": ~np.isnan(up[m]),
            }
        )
        .groupby("endpoint")
        .agg(EXTREMES)
    )
    frame.index = pd.Index(names[frame.index.to_numpy()], dtype="str", name="endpoint")
    return frame


def t_response_minutes(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(minute, bin) -> n: p95 and p99 overall and per window."""
    rt = c["response_time"].to_numpy(dtype=np.float64, na_value=np.nan)
    m = ~np.isnan(rt)
    if not m.any():
        return pd.DataFrame()
    return count_keys([("minute", minutes(c)[m], None), ("bin", _bins(rt[m]), None)])


SPAN = {"min_ms": "min", "max_ms": "max", "timed": "sum"}


def t_response_span(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """minute -> the shortest and longest response time (ms, merged by min and max) and the
    count they are over: a window's p95/p99 from the histogram are clamped between them (a
    bin's middle is no logged time). ``timed`` tells a span that covers every time of the
    histogram from one a store's older days leave partly unknown."""
    rt = c["response_time"].to_numpy(dtype=np.float64, na_value=np.nan)
    m = ~np.isnan(rt)
    if not m.any():
        return pd.DataFrame()
    minute = minutes(c)[m]
    ms = rt[m] * 1000.0
    first = int(minute.min())
    if int(minute.max()) - first <= 4 * len(minute):  # the usual chunk: minutes in a row
        keys, inverse = None, minute - first
    else:  # a chunk across a gap of months: only its own minutes
        keys, inverse = np.unique(minute, return_inverse=True)
    timed = np.bincount(inverse)
    least, most = np.full(len(timed), np.inf), np.full(len(timed), -np.inf)
    np.minimum.at(least, inverse, ms)
    np.maximum.at(most, inverse, ms)
    seen = np.flatnonzero(timed)
    index = seen + first if keys is None else keys[seen]
    return pd.DataFrame(
        {"min_ms": least[seen], "max_ms": most[seen], "timed": timed[seen].astype(np.int64)},
        index=pd.Index(index.astype(np.int64), name="minute"),
    )


def t_slowest(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The chunk's slowest requests, as rows (kind concat; the finish keeps the top)."""
    rt = c["response_time"].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.flatnonzero(~np.isnan(rt))
    if not len(ok):
        return pd.DataFrame()
    top = ok[np.argsort(-rt[ok], kind="stable")[:SLOWEST_PER_CHUNK]]
    rows = c.iloc[top]
    return pd.DataFrame(
        {
            "minute": minutes(rows),
            "local": rows["local"].astype(str).to_numpy(),
            "offset": offsets(rows),
            "client": rows["client"].astype(str).to_numpy(),
            "method": rows["method"].astype(str).to_numpy(),
            "path": rows["path"].astype(str).to_numpy(),
            "status": rows["status"].to_numpy().astype(np.int64),
            "seconds": rt[top],
            "upstream": rows["upstream_time"].to_numpy(dtype=np.float64, na_value=np.nan),
        }
    )


def t_clients(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """client -> hits, first, last (UTC seconds), s404: every client's span, for the
    evidence rows and the 404-scanner share."""
    cc, cn = _client(c)
    used = np.flatnonzero(np.bincount(cc[cc >= 0], minlength=len(cn)))
    n = len(cn)
    t = c["time"].array.asi8
    ok = cc >= 0
    code, tt = cc[ok], t[ok]
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, code, tt)
    np.maximum.at(last, code, tt)
    frame = pd.DataFrame(
        {
            "hits": np.bincount(code, minlength=n)[used].astype(np.int64),
            "first": first[used],
            "last": last[used],
            "s404": np.bincount(code, weights=c["status"].to_numpy()[ok] == 404, minlength=n)[
                used
            ].astype(np.int64),
        }
    )
    frame.index = pd.Index(cn[used], dtype="str", name="client")
    return frame


def t_client_404(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(client, path) -> n for 404s: distinct not-found paths per client."""
    cc, cn = _client(c)
    cat = c["path"].array
    names = pd.Index(cat.categories, dtype="str")
    return count_keys(
        [("client", cc, cn), ("path", np.asarray(cat.codes), names)],
        c["status"].to_numpy() == 404,
    )


@dataclass(frozen=True)
class Probe:
    name: str
    where: str  # path, query or target
    pattern: str


def _rows_of(name: str) -> list[list[str]]:
    with open(HERE / name, encoding="utf-8", newline="") as f:
        return [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")]


@cache
def probes() -> tuple[Probe, ...]:
    """The exploit-probe registry (probes.tsv)."""
    return tuple(Probe(*r[:3]) for r in _rows_of("probes.tsv"))


def _first_match(values: pa.Array, wanted: Sequence[tuple[int, Probe]]) -> np.ndarray:
    """Per value, the position (in the registry) of the first probe matching, or -1. One
    pass of all the patterns at once finds the few values that are probes; only those are
    tried pattern by pattern."""
    out = np.full(len(values), -1, np.int64)
    if not wanted or not len(values):
        return out
    anyof = "|".join(f"(?:{p.pattern})" for _, p in wanted)
    some = np.flatnonzero(
        np.asarray(
            pc.match_substring_regex(values, anyof, ignore_case=True).fill_null(False), dtype=bool
        )
    )
    if not len(some):
        return out
    values = values.take(pa.array(some))
    found = np.full(len(some), -1, np.int64)
    for i, p in reversed(list(wanted)):
        m = np.asarray(
            pc.match_substring_regex(values, p.pattern, ignore_case=True).fill_null(False),
            dtype=bool,
        )
        found[m] = i
    out[some] = found
    return out


def probe_codes(c: pd.DataFrame) -> np.ndarray:
    """Per row, the registry position of the probe it is, or -1 (per distinct path/query)."""
    reg = list(enumerate(probes()))
    path = c["path"].array
    query = c["query"].array
    on_path = _first_match(
        arrow_strings(path.categories), [(i, p) for i, p in reg if p.where in ("path", "target")]
    )
    on_query = _first_match(
        arrow_strings(query.categories), [(i, p) for i, p in reg if p.where in ("query", "target")]
    )
    pp = np.append(on_path, -1)[np.asarray(path.codes)]
    qq = np.append(on_query, -1)[np.asarray(query.codes)]
    return np.where(pp >= 0, pp, qq)


def t_probes(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(client, probe) -> n."""
    code = probe_codes(c)
    m = code >= 0
    if not m.any():
        return pd.DataFrame()
    cc, cn = _client(c)
    names = pd.Index([p.name for p in probes()], dtype="str")
    return count_keys([("client", cc, cn), ("probe", code, names)], m)


def login_rows(c: pd.DataFrame) -> np.ndarray:
    """Failed authentication (401, 403) or a POST to a login path."""
    status = c["status"].to_numpy()
    path = c["path"].array
    is_login = np.asarray(
        pc.match_substring_regex(arrow_strings(path.categories), LOGIN, ignore_case=True).fill_null(
            False
        ),
        dtype=bool,
    )
    login = np.append(is_login, False)[np.asarray(path.codes)]
    method = c["method"].array
    post = np.append(np.asarray(pd.Index(method.categories).astype(str) == "POST"), False)[
        np.asarray(method.codes)
    ]
    return (status == 401) | (status == 403) | (login & post)


def t_login(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(client, minute) -> n login attempts."""
    cc, cn = _client(c)
    return count_keys([("client", cc, cn), ("minute", minutes(c), None)], login_rows(c))


def t_rate(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(client, minute) -> n, only pairs of at least FLOOD_KEEP requests in the chunk."""
    cc, cn = _client(c)
    pairs = count_keys([("client", cc, cn), ("minute", minutes(c), None)])
    return pairs[pairs["n"] >= FLOOD_KEEP] if len(pairs) else pairs


def t_rate_hist(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """requests in one (client, minute) of the chunk -> number of such pairs: what a busy
    client's minute usually looks like, for 'far above the rest'."""
    cc, _ = _client(c)
    pairs = count_keys([("client", cc, None), ("minute", minutes(c), None)])
    if not len(pairs):
        return pd.DataFrame()
    k, n = np.unique(pairs["n"].to_numpy(), return_counts=True)
    return pd.DataFrame({"pairs": n.astype(np.int64)}, index=pd.Index(k, name="rate"))


@dataclass(frozen=True)
class Engine:
    name: str
    agent: str
    hosts: tuple[str, ...]


@cache
def engines() -> tuple[Engine, ...]:
    return tuple(Engine(r[0], r[1], tuple(r[2].split())) for r in _rows_of("engines.tsv"))


@cache
def engine_ranges() -> dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
    out: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
    for name, net in _rows_of("crawler_ranges.tsv"):
        out.setdefault(name, []).append(ipaddress.ip_network(net))
    return {k: tuple(v) for k, v in out.items()}


def t_claims(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """(client, engine) -> n: requests whose user agent claims a big search engine."""
    cat = c["agent"].array
    names = arrow_strings(cat.categories)
    claim = np.full(len(names), -1, np.int64)
    for i, e in reversed(list(enumerate(engines()))):
        m = np.asarray(
            pc.match_substring_regex(names, e.agent, ignore_case=True).fill_null(False), dtype=bool
        )
        claim[m] = i
    row = np.append(claim, -1)[np.asarray(cat.codes)]
    if not (row >= 0).any():
        return pd.DataFrame()
    cc, cn = _client(c)
    en = pd.Index([e.name for e in engines()], dtype="str")
    return count_keys([("client", cc, cn), ("engine", row, en)], row >= 0)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("pb_minutes", t_minutes, agg={"offset": "min"}),
        Table("pb_start", t_start, agg={"first": "min", "last": "max"}),
        Table("pb_endpoints", t_endpoints),
        Table("pb_fail", t_fail),
        Table("pb_fail_clients", t_fail_clients),
        Table("pb_fail_referrers", t_fail_referrers),
        Table("pb_response", t_response),
        Table("pb_response_max", t_response_max, agg=EXTREMES),
        Table("pb_response_minutes", t_response_minutes),
        Table("pb_response_span", t_response_span, agg=SPAN),
        Table("pb_slowest", t_slowest, kind="concat"),
        Table("pb_clients", t_clients, agg={"first": "min", "last": "max"}),
        Table("pb_client_404", t_client_404),
        Table("pb_probes", t_probes),
        Table("pb_login", t_login),
        Table("pb_rate", t_rate),
        Table("pb_rate_hist", t_rate_hist),
        Table("pb_claims", t_claims),
    )
}
