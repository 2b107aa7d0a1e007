"""The shared record filters: ``--status``, ``--path``, ``--client``... and their ``--exclude-``
twins, as one vectorised mask per chunk.

A filter is data (``Filters``, frozen and picklable, carried in ``Settings.extra["filters"]``)
until a chunk arrives; then every text test runs once per *distinct* value of the chunk (its
categories) and maps back to the rows through the codes, never once per line. Regular
expressions are RE2 (Arrow compute), so no pattern can backtrack for ever. The mask is applied
by the enricher before any table is computed, so a filter that keeps 1 % of the lines makes
every table after it cheaper.

Rules, where the options are repeated: values of one option are alternatives (any matches);
different options must all hold; an ``--exclude-...`` value that matches drops the row.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.errors import ExitCode, LogauditError
from logaudit.names import FILTERS  # the table of filters, readable without pandas
from logaudit.schema import arrow_strings, host_names

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CASE_INSENSITIVE = frozenset({"referrer", "agent", "network"})


class FilterError(LogauditError):
    """A filter value that cannot be read: one line, exit 2 like any bad option value."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Filters:
    """The filters of one run: option name -> values kept, and -> values excluded.
    Status values are stored as (low, high) ranges; the others as given (validated)."""

    keep: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    drop: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.keep or self.drop)

    def describe(self) -> list[str]:
        """One phrase per filter in force, for the report ('status 5xx', 'not client ...')."""
        out = []
        for sign, table in (("", self.keep), ("not ", self.drop)):
            for name, values in table.items():
                shown = ", ".join(_show(name, v) for v in values)
                out.append(f"{sign}{name} {shown}")
        return out

    @property
    def needs_geo(self) -> bool:
        return any(k in ("country", "network") for k in (*self.keep, *self.drop))


def _show(name: str, value: Any) -> str:
    if name == "status":
        lo, hi = value
        if lo == hi:
            return str(lo)
        if lo % 100 == 0 and hi == lo + 99:
            return f"{lo // 100}xx"
        return f"{lo}-{hi}"
    return str(value)


_STATUS_TERM = re.compile(r"^(?:(\d{3})|([1-5])xx|(\d{3})-(\d{3}))$", re.IGNORECASE)


def parse_status(text: str) -> tuple[tuple[int, int], ...]:
    """'404', '5xx', '4xx,5xx', '500-504' -> inclusive ranges."""
    out = []
    for term in (t.strip() for t in text.split(",")):
        m = _STATUS_TERM.match(term)
        if not m:
            raise FilterError(
                f"--status: cannot read {term!r} (use 404, 5xx, '4xx,5xx' or 500-504)"
            )
        if m.group(1):
            lo = hi = int(m.group(1))
        elif m.group(2):
            lo = int(m.group(2)) * 100
            hi = lo + 99
        else:
            lo, hi = int(m.group(3)), int(m.group(4))
        if not (100 <= lo <= hi <= 599):
            raise FilterError(f"--status: {term!r} is not a status or range within 100-599")
        out.append((lo, hi))
    return tuple(out)


def parse_network(text: str, option: str = "client") -> IPNetwork:
    """An address or CIDR range; host bits set in a range are a mistake worth a message."""
    value = text.strip()
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as e:
        if "/" in value and "host bits set" in str(e):
            raise FilterError(
                f"--{option}: {value!r} has host bits set (did you mean "
                f"{_network_text(ipaddress.ip_network(value, strict=False))}?)"
            ) from None
        raise FilterError(
            f"--{option}: {value!r} is not an IP address or CIDR range "
            "(e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32)"
        ) from None


def _v4_of_mapped(net: IPNetwork) -> ipaddress.IPv4Network | None:
    """The IPv4 network an IPv4-mapped one (``::ffff:198.51.100.0/120``) stands for: the
    clients it matches are compared as IPv4 (``parse_address``), as a dual-stack server's
    mapped clients are."""
    if net.version != 6 or net.prefixlen < 96:
        return None
    v4 = net.network_address.ipv4_mapped
    return None if v4 is None else ipaddress.IPv4Network((v4, net.prefixlen - 96))


def _network_text(net: IPNetwork) -> str:
    """A filter's stored value: the network, a mapped one with its IPv4 part dotted as logged
    and as the hosts panel shows it (``::ffff:198.51.100.99/128``, not ``::ffff:c633:6463``)."""
    v4 = _v4_of_mapped(net)
    return str(net) if v4 is None else f"::ffff:{v4.network_address}/{net.prefixlen}"


# RE2's limit on repeats: each count at most 1000, and so the product of nested ones
# (``((a{100}){100}){100}`` is refused though every count is 100, which its message does not say).
RE2_MAX_REPEAT = 1000


def regex_reason(error: Exception) -> str:
    """Arrow's RE2 compile error as the reason a user reads, naming the repeat limit."""
    reason = str(error).split(":", 1)[-1].strip() or "invalid"
    if reason.startswith("invalid repetition size"):
        reason += (
            f"; RE2 repeats at most {RE2_MAX_REPEAT} times, nested repeats multiplied together"
        )
    return reason


def check_regex(option: str, pattern: str) -> str:
    """The pattern if RE2 compiles it, else a FilterError naming the option."""
    try:
        pc.match_substring_regex(pa.array([""]), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        reason = regex_reason(e)
        raise FilterError(f"--{option}: bad regular expression {pattern!r} ({reason})") from None
    return pattern


def parse(values: Mapping[str, Sequence[str]]) -> Filters:
    """Command-line values -> Filters. ``values`` maps 'status', 'exclude_status', ... to the
    (repeatable) strings given. Raises FilterError (exit 2), also for an empty value: it was
    ignored, and ``--status "$S"`` with S unset silently filtered nothing."""
    keep: dict[str, tuple[Any, ...]] = {}
    drop: dict[str, tuple[Any, ...]] = {}
    for name, (_, kind, _) in FILTERS.items():
        for table, key in ((keep, name), (drop, "exclude_" + name)):
            given = [v for v in values.get(key, ()) or () if v is not None]
            if not given:
                continue
            option = key.replace("_", "-")
            if any(not v.strip() for v in given):
                raise FilterError(f"--{option}: the value is empty")
            parsed: list[Any] = []
            for v in given:
                if kind == "status":
                    parsed.extend(parse_status(v))
                elif kind in ("regex", "network"):
                    parsed.append(check_regex(option, v))
                elif kind == "cidr":
                    for part in v.split(","):
                        parsed.append(_network_text(parse_network(part, option)))
                elif kind == "country":
                    for part in v.split(","):
                        code = part.strip().upper()
                        if not re.fullmatch(r"[A-Z]{2}", code):
                            raise FilterError(
                                f"--{option}: {part.strip()!r} is not a two-letter ISO country "
                                "code (e.g. SE, US)"
                            )
                        parsed.append(code)
                else:  # word: methods, virtual hosts
                    parsed.extend(p.strip() for p in v.split(",") if p.strip())
            table[name] = tuple(dict.fromkeys(parsed))
    return Filters(keep, drop)


def of_settings(extra: Mapping[str, Any]) -> Filters:
    f = extra.get("filters")
    return f if isinstance(f, Filters) else Filters()


# ---- applying: per distinct value, then spread to rows ------------------------------------


def _regex_any(names: pa.Array, patterns: Sequence[str], ignore_case: bool) -> np.ndarray:
    hit = np.zeros(len(names), dtype=bool)
    for p in patterns:
        m = pc.match_substring_regex(names, p, ignore_case=ignore_case)
        hit |= np.asarray(m.fill_null(False), dtype=bool)
    return hit


def client_in(clients: pd.Index, networks: Sequence[str]) -> np.ndarray:
    """Whether each distinct client lies in any of ``networks``. Plain IPv4 clients are
    compared as integers in one pass; IPv6 (and IPv4-mapped IPv6) one by one, which is
    rare; host names and garbage are in no range."""
    from logaudit.enrich.geo import ipv4_values, parse_address

    nets = [ipaddress.ip_network(n) for n in networks]
    # A mapped network matches what its IPv4 network matches (mapped clients parse as IPv4).
    nets = [_v4_of_mapped(n) or n for n in nets]
    value, is_v4 = ipv4_values(clients)
    hit = np.zeros(len(clients), dtype=bool)
    for net in nets:
        if net.version == 4:
            lo, hi = int(net.network_address), int(net.broadcast_address)
            hit |= is_v4 & (value >= lo) & (value <= hi)
    rest = np.flatnonzero(~is_v4)
    if len(rest):
        listed = clients[rest].tolist()
        for i, client in zip(rest, listed, strict=True):
            ip = parse_address(client) if isinstance(client, str) and ":" in client else None
            if ip is not None and any(ip.version == n.version and ip in n for n in nets):
                hit[i] = True
    return hit


class Matcher:
    """The compiled form of Filters for one process: ``mask(chunk)``. Thread-safe (the GeoIP
    lookup, when a country or network filter needs it, is opened once, under a lock)."""

    def __init__(self, filters: Filters, geoip_dir: Any = None) -> None:
        self.filters = filters
        self.geoip_dir = geoip_dir
        self._geo: Callable[[pd.Index], pd.DataFrame] | None = None
        self._lock = threading.Lock()

    def _geo_table(self, clients: pd.Index) -> pd.DataFrame:
        with self._lock:
            if self._geo is None:
                from logaudit.enrich.geo import GeoDatabases, GeoLookup

                dbs = GeoDatabases.discover(self.geoip_dir)
                if (dbs.city or dbs.country or dbs.asn or dbs.isp) is None:
                    raise FilterError("--country/--network need a GeoIP database (see --geoip-dir)")
                self._geo = GeoLookup(dbs).lookup
            return self._geo(clients)

    def _per_category(self, name: str, cats: pd.Index, values: tuple[Any, ...]) -> np.ndarray:
        kind = FILTERS[name][1]
        if kind == "regex":
            return _regex_any(arrow_strings(cats), values, name in _CASE_INSENSITIVE)
        if kind == "cidr":
            return client_in(cats, values)
        if kind == "word":
            text = pd.Series(np.asarray(cats, dtype=object), dtype=object).astype(str)
            if name == "method":
                return text.str.upper().isin([v.upper() for v in values]).to_numpy()
            wanted = _host_ports(values)
            by_host = {h for h, port in wanted if not port}  # a name alone: any port
            exact = {w for w in wanted if w[1]}
            return np.array([hp[0] in by_host or hp in exact for hp in _host_ports(text)],
                            dtype=bool)
        geo = self._geo_table(cats)
        if kind == "country":
            return geo["country_code"].astype(str).str.upper().isin(values).to_numpy()
        return _regex_any(arrow_strings(geo["network"].astype("str")), values, True)

    def _rows(self, chunk: pd.DataFrame, name: str, values: tuple[Any, ...]) -> np.ndarray:
        col = FILTERS[name][0]
        if name == "status":
            status = chunk["status"].to_numpy()
            hit = np.zeros(len(chunk), dtype=bool)
            for lo, hi in values:
                hit |= (status >= lo) & (status <= hi)
            return hit
        cat = chunk[col].array
        by_cat = self._per_category(name, pd.Index(cat.categories), values)
        codes = np.asarray(cat.codes)
        # A missing value (code -1) matches nothing: it is kept only by exclusions.
        return np.append(by_cat, False)[codes]

    def mask(self, chunk: pd.DataFrame) -> np.ndarray:
        keep = np.ones(len(chunk), dtype=bool)
        for name, values in self.filters.keep.items():
            keep &= self._rows(chunk, name, values)
        for name, values in self.filters.drop.items():
            keep &= ~self._rows(chunk, name, values)
        return keep


def _host_ports(values: Iterable[str]) -> list[tuple[str, str]]:
    """Virtual hosts as ``--vhost`` compares them: (host, port or ''), each folded as the
    parser reads the vhost column (``schema.host_names``: lower case, no trailing dot), in one
    Arrow call; an IPv6 literal's brackets kept off (``[2001:db8::1]:443`` is host
    ``2001:db8::1``)."""
    return [_host_port(v) for v in host_names(pa.array(list(values), pa.string())).to_pylist()]


def _host_port(v: str) -> tuple[str, str]:
    if v.startswith("["):
        end = v.find("]")
        return (v[1:end], v[end + 2 :]) if end > 0 else (v, "")
    if v.count(":") == 1:
        host, port = v.split(":", 1)
        return host, port
    return v, ""  # a name, or a bare IPv6 literal


def unlogged(filters: Filters, formats: Sequence[Any]) -> str:
    """Why ``--vhost`` kept nothing when no input's format writes a virtual host ('' in the
    vhost column, schema.py): a clause for the "no request matching the filters" line, or ''.
    ``formats``: the inputs' layouts (formats/spec.py)."""
    if "vhost" not in filters.keep or not formats:
        return ""
    if any(p.role == "vhost" for f in formats for t in f.tokens for p in t.pieces):
        return ""
    names = ", ".join(dict.fromkeys(f.name for f in formats))
    return f"the log's format ({names}) has no virtual host field for --vhost to match"


def option_names() -> list[str]:
    """Every filter option's parameter name, as Click passes them ('status', 'exclude_status')."""
    return [n for name in FILTERS for n in (name, "exclude_" + name)]


__all__ = [
    "FILTERS",
    "FilterError",
    "Filters",
    "Matcher",
    "client_in",
    "of_settings",
    "option_names",
    "parse",
    "parse_status",
    "unlogged",
]
