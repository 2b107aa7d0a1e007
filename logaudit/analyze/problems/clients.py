"""Suspicious clients, each with the evidence that makes it one.

Kinds and rules (thresholds below, documented in docs/metrics.md):

- ``flood``: the client's busiest minute holds at least FLOOD_MIN requests and FLOOD_FACTOR
  times what the 99th percentile of all (client, minute) pairs holds: far above the rest.
- ``brute-force``: at least BRUTE_MIN login attempts (a 401 or 403 anywhere, or a POST to a
  login path), with at least BRUTE_RATE in one minute.
- ``exploit-probes``: requests matching the probe registry (``probes.tsv``).
- ``404-scanner``: at least SCAN_MIN_PATHS distinct not-found paths, and 404s are at least
  SCAN_MIN_SHARE of the client's requests (a site with broken links sends people to the same
  few missing paths).
- ``fake-crawler``: the user agent claims a big search engine (``engines.tsv``) but the
  client is neither in the engine's published ranges (``crawler_ranges.tsv``, a snapshot: no
  DNS is asked, so a run is offline and repeatable) nor a host name under the engine's domains.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd

from logaudit.analyze.base import Partial
from logaudit.analyze.problems.clock import Clock
from logaudit.analyze.problems.tables import engine_ranges, engines
from logaudit.schema import is_client_token
from logaudit.wording import counted

FLOOD_MIN = 120
FLOOD_FACTOR = 10
BRUTE_MIN = 20
BRUTE_RATE = 5
SCAN_MIN_PATHS = 20
SCAN_MIN_SHARE = 0.5

KINDS = ("flood", "brute-force", "exploit-probes", "404-scanner", "fake-crawler")
COLUMNS = ["client", "kind", "evidence", "requests", "first", "last"]


def _table(p: Partial, name: str) -> pd.DataFrame:
    f = p.get(name)
    return f if f is not None else pd.DataFrame()


def typical_rate(p: Partial) -> float:
    """The 99th percentile of requests per (client, minute) pair."""
    h = _table(p, "pb_rate_hist")
    if h.empty:
        return 0.0
    h = h.sort_index()
    cum = h["pairs"].cumsum().to_numpy()
    i = int(np.searchsorted(cum, 0.99 * cum[-1]))
    return float(h.index[min(i, len(h) - 1)])


def floods(p: Partial) -> list[tuple[str, str, str]]:
    r = _table(p, "pb_rate")
    if r.empty:
        return []
    peak = r.groupby(level="client", sort=False)["n"].max()
    typical = typical_rate(p)
    limit = max(FLOOD_MIN, FLOOD_FACTOR * typical)
    out = []
    for client, n in peak[peak >= limit].items():
        out.append(
            (
                str(client),
                "flood",
                f"peak {int(n):,} requests in one minute (a busy client's minute: "
                f"{typical:,.0f} at the 99th percentile)",
            )
        )
    return out


def brute_force(p: Partial) -> list[tuple[str, str, str]]:
    t = _table(p, "pb_login")
    if t.empty:
        return []
    g = t.groupby(level="client", sort=False)["n"].agg(["sum", "max"])
    hit = g[(g["sum"] >= BRUTE_MIN) & (g["max"] >= BRUTE_RATE)]
    return [
        (
            str(c),
            "brute-force",
            f"{int(row['sum']):,} login attempts (401/403 or POST to a login path), "
            f"up to {int(row['max']):,} in one minute",
        )
        for c, row in hit.iterrows()
    ]


def exploit_probes(p: Partial) -> list[tuple[str, str, str]]:
    t = _table(p, "pb_probes")
    if t.empty:
        return []
    out = []
    for client, g in t.groupby(level="client", sort=False)["n"]:
        kinds = g.droplevel("client").sort_values(ascending=False, kind="stable")
        shown = ", ".join(f"{k} x{int(n)}" for k, n in kinds.head(4).items())
        more = f" and {counted(len(kinds) - 4, 'more kind')}" if len(kinds) > 4 else ""
        out.append(
            (
                str(client),
                "exploit-probes",
                f"{counted(int(g.sum()), 'known exploit probe')}: {shown}{more}",
            )
        )
    return out


def scanners(p: Partial) -> list[tuple[str, str, str]]:
    t = _table(p, "pb_client_404")
    clients = _table(p, "pb_clients")
    if t.empty or clients.empty:
        return []
    distinct = t.groupby(level="client", sort=False).size()
    distinct = distinct[distinct >= SCAN_MIN_PATHS]
    out = []
    totals = clients["hits"].reindex(distinct.index).to_numpy()
    s404s = clients["s404"].reindex(distinct.index).to_numpy()
    for (client, n), hits, s404 in zip(distinct.items(), totals, s404s, strict=True):
        share = s404 / hits if hits else 0.0
        if share >= SCAN_MIN_SHARE:
            out.append(
                (
                    str(client),
                    "404-scanner",
                    f"{int(n):,} distinct not-found paths, {s404:,} 404s "
                    f"({share:.0%} of its requests)",
                )
            )
    return out


def genuine(client: str, engine: str) -> bool:
    """Whether ``client`` may be ``engine``'s crawler: in its published ranges, or a host
    name under its domains (a log written with HostnameLookups On)."""
    from logaudit.enrich.geo import parse_address

    ip = parse_address(client)
    if ip is None:
        hosts = next((e.hosts for e in engines() if e.name == engine), ())
        name = client.lower().rstrip(".")
        return any(name.endswith(h) for h in hosts)
    return any(ip.version == n.version and ip in n for n in engine_ranges().get(engine, ()))


def fake_crawlers(p: Partial) -> list[tuple[str, str, str]]:
    t = _table(p, "pb_claims")
    if t.empty:
        return []
    out = []
    pairs = zip(
        t.index.get_level_values("client"),
        t.index.get_level_values("engine"),
        t["n"].to_numpy(),
        strict=True,
    )
    # From the store (clients as tokens) the claims are the fake ones already, each with
    # whether its client was a host name (store.days.before_keying: +1 a name, -1 an
    # address, summed by a merge); a day stored before that column adds 0 (merged with a
    # newer day) or has none: neither is said.
    named = t["named"].to_numpy(dtype=float) if "named" in t.columns else None
    for i, (client, engine, n) in enumerate(pairs):
        if is_client_token(str(client)):
            kind = named[i] if named is not None else np.nan
            where = (
                "a client outside its published ranges and domains"
                if kind != kind or kind == 0  # not recorded
                else _WHERE[bool(kind > 0)]
            )
            out.append(
                (
                    str(client),
                    "fake-crawler",
                    f"{counted(int(n), 'request')} claiming {engine} from {where}",
                )
            )
        elif not genuine(str(client), str(engine)):
            where = _WHERE[_is_name(str(client))]
            out.append(
                (
                    str(client),
                    "fake-crawler",
                    f"{counted(int(n), 'request')} claiming {engine} from {where}",
                )
            )
    return out


_WHERE = {True: "a host name outside its domains", False: "an address outside its published ranges"}


def claimed_by_name(clients: pd.Index) -> np.ndarray:
    """+1 for each client that is a host name, -1 for an address: what a stored claim keeps
    once its client is a token (a sum of them keeps its sign; 0, a day stored before the
    column, says neither)."""
    return np.fromiter((1 if _is_name(str(c)) else -1 for c in clients), np.int64, len(clients))


def _is_name(client: str) -> bool:
    try:
        ipaddress.ip_address(client.split("%")[0])
    except ValueError:
        return True
    return False


def suspicious(p: Partial, clock: Clock) -> pd.DataFrame:
    """Every suspicious client, one row per (client, kind), ordered by kind then requests;
    first and last (UTC seconds) shown on ``clock``, the report zone's wall clock."""
    found = [*floods(p), *brute_force(p), *exploit_probes(p), *scanners(p), *fake_crawlers(p)]
    if not found:
        return pd.DataFrame(columns=COLUMNS)
    f = pd.DataFrame(found, columns=["client", "kind", "evidence"])
    clients = _table(p, "pb_clients")
    span = clients.reindex(f["client"])
    f["requests"] = span["hits"].fillna(0).astype(np.int64).to_numpy()
    f["first"] = clock.seconds(span["first"].to_numpy(np.float64, na_value=np.nan))
    f["last"] = clock.seconds(span["last"].to_numpy(np.float64, na_value=np.nan))
    f["_order"] = f["kind"].map(KINDS.index)
    f = f.sort_values(
        ["_order", "requests", "client"], ascending=[True, False, True], kind="stable"
    )
    return f.drop(columns="_order").reset_index(drop=True)[COLUMNS]
