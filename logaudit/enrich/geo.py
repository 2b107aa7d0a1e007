"""GeoIP enrichment: country, city and network (ISP or AS) of each distinct client.

This is the only module that imports ``maxminddb``; swapping the GeoIP library touches this file
alone. It reads MaxMind DB (.mmdb) files: MaxMind GeoIP2 / GeoLite2, DB-IP and ipinfo all ship
that format. A database is recognised by the ``database_type`` in its metadata, never by its file
name, because distributions, geoipupdate and DB-IP all name their files differently.

Lookups go through ``maxminddb``'s C reader (MODE_AUTO) and plain dicts rather than geoip2's
model objects: on the same City database that is about twice as fast (about 135,000 against
60,000 found records per second), and we need three fields of a record, not a typed object.

Missing databases are not an error (METRICS.md "Places and networks"): the columns say
``unknown`` and :meth:`GeoDatabases.missing_hint` gives the one line the report prints.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.errors import ConfigError
from logaudit.formats.later import Later
from logaudit.schema import arrow_strings, categorical

# maxminddb (and the importlib.metadata and email packages it loads, ~10 ms) only once a
# database is opened: a report without one, or without places, never needs it (issue #18).
if TYPE_CHECKING:
    import maxminddb
else:
    maxminddb = Later("maxminddb")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ENV_VAR = "LOGAUDIT_GEOIP_DIR"
# Searched after --geoip-dir and $LOGAUDIT_GEOIP_DIR, in this order. geoipupdate writes to
# /usr/share/GeoIP (most distributions) or /var/lib/GeoIP (Debian's geoipupdate package).
SYSTEM_DIRS: tuple[str, ...] = (
    "/usr/share/GeoIP",
    "/var/lib/GeoIP",
    "/usr/local/share/GeoIP",
    "~/.local/share/GeoIP",
)

UNKNOWN = "unknown"
COLUMNS: tuple[str, ...] = ("country_code", "country", "city", "network", "asn", "address_kind")
KINDS: tuple[str, ...] = ("public", "private", "loopback", "link-local", "reserved", "invalid")

# The distinct-client cache is dropped when it grows past this many entries (about 100 MB),
# so a log with tens of millions of addresses costs repeated lookups, not unbounded memory.
CACHE_LIMIT = 1_000_000

# IPv4 ranges that are not public, from IANA's special-purpose address registry. 'private' is
# RFC 1918 plus carrier-grade NAT (RFC 6598); 'reserved' covers this-network, protocol
# assignments, documentation, benchmarking, multicast and class E. A sorted table searched with
# bisect is about four times faster than ipaddress's is_private/is_global chain, whose exact set
# has also changed between Python patch releases. Most clients are IPv4, so this is the hot path.
_V4_RANGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loopback", ("127.0.0.0/8",)),
    ("link-local", ("169.254.0.0/16",)),
    ("private", ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16")),
    (
        "reserved",
        (
            "0.0.0.0/8",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/4",
            "240.0.0.0/4",
        ),
    ),
)
_V4_TABLE = sorted(
    (int(net.network_address), int(net.broadcast_address), kind)
    for kind, nets in _V4_RANGES
    for net in map(ipaddress.IPv4Network, nets)
)
_V4_STARTS = [first for first, _, _ in _V4_TABLE]
_V4_FIRST = np.array(_V4_STARTS, np.int64)
_V4_LAST = np.array([last for _, last, _ in _V4_TABLE], np.int64)
_V4_KIND_CODE = np.array([KINDS.index(kind) for _, _, kind in _V4_TABLE], np.int8)
# A dotted quad as inet_pton reads one: four decimal octets, no leading zeros.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = "^" + r"\.".join([_OCTET] * 4) + "$"
# IPv6, checked in this order, first match wins: clients come from global unicast (2000::/3)
# except its protocol-assignment (Teredo, ORCHID, benchmarking) and documentation blocks.
# Everything that matches none (unspecified, IPv4-compatible, NAT64, site-local, multicast,
# unassigned space) is 'reserved'. Integer comparisons again avoid ipaddress's slow properties,
# which also call site-local and unassigned space 'global'.
_V6_RANGES = tuple(
    (int(net.network_address), int(net.broadcast_address), kind)
    for kind, net in (
        ("reserved", ipaddress.IPv6Network("2001::/23")),
        ("reserved", ipaddress.IPv6Network("2001:db8::/32")),
        ("reserved", ipaddress.IPv6Network("3fff::/20")),
        ("public", ipaddress.IPv6Network("2000::/3")),
        ("loopback", ipaddress.IPv6Network("::1/128")),
        ("link-local", ipaddress.IPv6Network("fe80::/10")),
        ("private", ipaddress.IPv6Network("fc00::/7")),  # unique local addresses
    )
)

# One result row, in COLUMNS order; asn is None when unknown.
Row = tuple[str, str, str, str, int | None, str]


def _v4_kind(value: int) -> str:
    i = bisect_right(_V4_STARTS, value) - 1
    return _V4_TABLE[i][2] if i >= 0 and value <= _V4_TABLE[i][1] else "public"


# Addresses parsed per slice by ipv4_values.
V4_SLICE = 1 << 18


def ipv4_values(clients: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(integer value, whether the text is a plain IPv4 address) per client, vectorised: what
    ``ipv4_value`` gives one at a time. A match without capture groups runs on RE2's DFA;
    the matches are then split at their dots (64,000 clients: 25 -> 11 ms against one
    extraction with four groups)."""
    text = arrow_strings(clients)
    value = np.zeros(len(clients), np.int64)
    ok = np.zeros(len(clients), bool)
    # A slice at a time: the split's four strings per address and their integers are the
    # lookup's biggest transient (5M distinct clients: ~350 MB at once; issue #18).
    for start in range(0, len(clients), V4_SLICE):
        part = text.slice(start, V4_SLICE)
        good = np.asarray(pc.match_substring_regex(part, _DOTTED_QUAD).fill_null(False), bool)
        ok[start : start + len(part)] = good
        if good.any():
            parts = pc.split_pattern(part.filter(pa.array(good)), ".")
            octets = np.asarray(pc.list_flatten(parts).cast(pa.int64()), dtype=np.int64)
            del parts
            o = octets.reshape(-1, 4)
            value[start + np.flatnonzero(good)] = (
                (o[:, 0] << 24) | (o[:, 1] << 16) | (o[:, 2] << 8) | o[:, 3]
            )
    return value, ok


def v4_kind_codes(values: np.ndarray) -> np.ndarray:
    """_v4_kind of many IPv4 integers at once, as positions in KINDS."""
    i = np.searchsorted(_V4_FIRST, values, side="right") - 1
    inside = (i >= 0) & (values <= _V4_LAST[np.maximum(i, 0)])
    codes = np.full(len(values), KINDS.index("public"), dtype=np.int8)
    codes[inside] = _V4_KIND_CODE[i[inside]]
    return codes


def v4_kinds(values: np.ndarray) -> np.ndarray:
    """_v4_kind of many IPv4 integers at once (an object array of kind names)."""
    return np.array(KINDS, dtype=object)[v4_kind_codes(values)]


def address_kind(ip: IPAddress) -> str:
    """'public', 'private', 'loopback', 'link-local' or 'reserved'; only 'public' is looked up."""
    value = int(ip)
    return _v4_kind(value) if isinstance(ip, ipaddress.IPv4Address) else _v6_kind(value)


def _v6_kind(value: int) -> str:
    for first, last, kind in _V6_RANGES:
        if first <= value <= last:
            return kind
    return "reserved"


def client_kind(client: object) -> str:
    """``address_kind`` of a logged client field, 'invalid' when it is no IP address: what
    ``parse_address`` then ``address_kind`` give, without building ipaddress objects (a fifth
    of the time: 7,500 IPv6 clients took 0.05 s the other way)."""
    if not isinstance(client, str):
        return "invalid"
    if ":" not in client:
        value = ipv4_value(client)
        return "invalid" if value is None else _v4_kind(value)
    try:
        packed = socket.inet_pton(socket.AF_INET6, client.split("%", 1)[0])
    except (OSError, ValueError):
        return "invalid"
    value = int.from_bytes(packed)
    if value >> 32 == 0xFFFF:  # IPv4-mapped (::ffff:1.2.3.4): the IPv4 address's kind
        return _v4_kind(value & 0xFFFFFFFF)
    return _v6_kind(value)


def ipv4_value(text: str) -> int | None:
    """The integer of a dotted-quad IPv4 address, or None. The C parser (inet_pton) is
    several times faster than ipaddress and as strict (no leading zeros)."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None


def parse_address(client: object) -> IPAddress | None:
    """The IP address in a logged client field, or None for host names and garbage.

    IPv4-mapped IPv6 (``::ffff:1.2.3.4``, written by dual-stack servers) is the IPv4 address.
    """
    if not isinstance(client, str):
        return None
    if ":" not in client:
        value = ipv4_value(client)
        return None if value is None else ipaddress.IPv4Address(value)
    try:
        # As for IPv4: inet_pton, then an integer constructor. An IPv6 scope id
        # ("fe80::1%eth0") names an interface, not part of the address.
        text = client.split("%", 1)[0]
        ip = ipaddress.IPv6Address(int.from_bytes(socket.inet_pton(socket.AF_INET6, text)))
    except (OSError, ValueError):
        return None
    return ip if ip.ipv4_mapped is None else ip.ipv4_mapped


def database_roles(database_type: str) -> tuple[str, ...]:
    """Which GeoDatabases fields a database of this metadata type can fill.

    Matched by substring, case-insensitively: 'GeoIP2-City', 'GeoLite2-City', 'DBIP-City-Lite'
    -> city; '...-Country...' -> country; '...-ASN...' -> asn; 'GeoIP2-ISP' -> isp. Combined
    databases fill two fields: GeoIP2-Enterprise (and DB-IP's 'Location-ISP') carry City data and
    ISP traits; ipinfo's 'country_asn' and 'lite' carry a country and an AS. Every other type
    (Anonymous-IP, Domain, Connection-Type, ...) fills none and is skipped.
    """
    t = database_type.lower()
    roles: list[str] = []
    if "city" in t or "location" in t or "enterprise" in t:
        roles.append("city")
    elif "country" in t or (t.startswith("ipinfo") and "lite" in t):
        roles.append("country")
    if "isp" in t or "enterprise" in t:
        roles.append("isp")
    elif "asn" in t or (t.startswith("ipinfo") and "lite" in t):
        roles.append("asn")
    return tuple(roles)


def _preference(database_type: str, role: str) -> tuple[int, int]:
    """Sort key among databases of one role in one folder: lower is better.

    A database made for the role beats a combined one (its test data and updates are complete),
    and MaxMind's paid GeoIP2 beats the free GeoLite2, which beats other vendors.
    """
    t = database_type.lower()
    specific = 0 if role in t else 1
    vendor = 0 if t.startswith("geoip2") else 1 if t.startswith("geolite2") else 2
    return specific, vendor


def _open(path: Path) -> maxminddb.Reader:
    try:
        return maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
    except OSError as err:
        raise ConfigError(f"GeoIP database {path} cannot be read: {err.strerror}") from None
    except (maxminddb.InvalidDatabaseError, ValueError):
        # maxminddb's own message repeats the path and adds nothing a user can act on.
        raise ConfigError(f"GeoIP database {path} is not a valid MaxMind DB (.mmdb) file") from None


def _mmdb_files(folder: Path) -> Iterator[Path]:
    try:
        found = sorted(p for p in folder.glob("*.mmdb") if p.is_file())
    except OSError:  # an unreadable system folder is as good as an absent one
        return
    yield from found


@dataclass(frozen=True)
class GeoDatabases:
    """The databases found: the best of each kind, or None."""

    city: Path | None = None
    country: Path | None = None
    asn: Path | None = None
    isp: Path | None = None

    @classmethod
    def discover(
        cls, geoip_dir: Path | None = None, env: Mapping[str, str] = os.environ
    ) -> GeoDatabases:
        """Search geoip_dir, $LOGAUDIT_GEOIP_DIR, then SYSTEM_DIRS for *.mmdb files.

        For each kind, the first folder that has one wins, so an explicit folder overrides the
        system ones kind by kind (a City database given with --geoip-dir still combines with a
        system-wide ASN database). A folder named explicitly (argument or environment) must exist;
        a file that is not a valid database is a ConfigError naming it.
        """
        folders: list[Path] = []
        if geoip_dir is not None:
            folder = Path(geoip_dir).expanduser()
            if not folder.is_dir():
                raise ConfigError(f"GeoIP folder {folder} does not exist or is not a folder")
            folders.append(folder)
        from_env = env.get(ENV_VAR, "").strip()
        if from_env:
            folder = Path(from_env).expanduser()
            if not folder.is_dir():
                raise ConfigError(f"${ENV_VAR}={from_env}: no such folder")
            folders.append(folder)
        folders.extend(Path(d).expanduser() for d in SYSTEM_DIRS)

        best: dict[str, tuple[tuple[int, int, int, str], Path]] = {}
        seen: set[Path] = set()
        for rank, folder in enumerate(folders):
            for path in _mmdb_files(folder):
                if path.resolve() in seen:  # the same folder reached twice, or a symlink
                    continue
                seen.add(path.resolve())
                reader = _open(path)
                try:
                    database_type = str(reader.metadata().database_type)
                finally:
                    reader.close()
                for role in database_roles(database_type):
                    key = (rank, *_preference(database_type, role), path.name)
                    if role not in best or key < best[role][0]:
                        best[role] = (key, path)
        return cls(**{role: path for role, (_, path) in best.items()})

    def missing_hint(self, fields: set[str] | None = None) -> str | None:
        """One line telling how to add what is missing; None when nothing is. ``fields``:
        only the kinds these record fields need (``records --fields country``)."""
        what, editions, dbip = [], [], []
        places = fields is None or bool(fields & {"country_code", "country", "city"})
        networks = fields is None or bool(fields & {"network", "asn"})
        if places and self.city is None and self.country is None:
            what.append("city/country")
            editions.append("GeoLite2-City")
            dbip.append("dbip-city-lite")
        if networks and self.isp is None and self.asn is None:
            what.append("ASN/ISP")
            editions.append("GeoLite2-ASN")
            dbip.append("dbip-asn-lite")
        if not what:
            return None
        where = f"a folder given with --geoip-dir or ${ENV_VAR}"
        if SYSTEM_DIRS:
            where = f"one of {', '.join(SYSTEM_DIRS)} or {where}"
        return (
            f"No GeoIP {' or '.join(what)} database found, so those columns say 'unknown'. "
            f"To add one, run geoipupdate with EditionIDs {' '.join(editions)} (free MaxMind "
            f"account), or put DB-IP lite .mmdb files ({', '.join(dbip)} from db-ip.com) "
            f"in {where}."
        )


class _Database:
    """An open reader and the file it came from, for error messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader = _open(path)
        self.ipv6 = self.reader.metadata().ip_version == 6

    def _lookup(self, ip: IPAddress | str) -> tuple[Mapping[str, Any] | None, int]:
        """The record (None when absent or not a map) and its network's prefix length."""
        try:
            record, prefix = self.reader.get_with_prefix_len(ip)
        except maxminddb.InvalidDatabaseError as err:
            reason = " ".join(str(err).split())
            raise ConfigError(f"GeoIP database {self.path} is corrupt: {reason}") from None
        return (record if isinstance(record, dict) else None), prefix

    def get(self, ip: IPAddress | str) -> Mapping[str, Any] | None:
        """The record for an address object, or for the text of a plain IPv4 address."""
        # The reader raises ValueError for an IPv6 address in an IPv4 database.
        if not isinstance(ip, str) and ip.version == 6 and not self.ipv6:
            return None
        return self._lookup(ip)[0]

    def get_v4_network(self, text: str, value: int) -> tuple[Mapping[str, Any] | None, int, int]:
        """The record for a plain IPv4 address (its text and integer value) and the first and
        last address of the database network holding it, which all share that record."""
        record, prefix = self._lookup(text)
        if not 0 <= prefix <= 32:  # not an IPv4 prefix: share nothing
            return record, value, value
        size = 1 << (32 - prefix)
        first = value & ~(size - 1)
        return record, first, first + size - 1


def _text(value: object) -> str:
    # Database contents are third-party data: accept only what has the documented type.
    return value if isinstance(value, str) else ""


def _english(entity: object) -> str:
    """names.en of a GeoIP2-layout entity (country, city), '' when absent."""
    if isinstance(entity, dict):
        names = entity.get("names")
        if isinstance(names, dict):
            return _text(names.get("en"))
    return ""


def location_of(record: Mapping[str, Any]) -> tuple[str, str, str]:
    """(country_code, country name, city) from a City or Country record."""
    country = record.get("country")
    if isinstance(country, str):
        # ipinfo's flat layout: 'country' is the code beside 'country_name' (country, location
        # databases) or the name beside 'country_code' (lite).
        code = _text(record.get("country_code")) or (country if len(country) == 2 else "")
        name = _text(record.get("country_name")) or (country if len(country) != 2 else "")
        return code, name or code or UNKNOWN, _text(record.get("city"))
    code = _text(country.get("iso_code")) if isinstance(country, dict) else ""
    name = _english(country) or code or UNKNOWN
    return code, name, _english(record.get("city"))


_AS_NUMBER = re.compile(r"AS(\d+)", re.IGNORECASE)


def network_of(record: Mapping[str, Any]) -> tuple[str, int | None]:
    """(network label, AS number) from an ISP, ASN or Enterprise record.

    The label is the ISP's name when the record has one, else 'AS<number> <organisation>'.
    """
    traits = record.get("traits")
    if isinstance(traits, dict):  # GeoIP2-Enterprise keeps the ISP fields under traits
        record = traits
    asn = record.get("autonomous_system_number")
    org = _text(record.get("autonomous_system_organization"))
    if not isinstance(asn, int) and isinstance(record.get("asn"), str):  # ipinfo: "AS15169"
        match = _AS_NUMBER.fullmatch(record["asn"])
        asn = int(match.group(1)) if match else None
        org = _text(record.get("as_name")) or _text(record.get("name"))
    if not isinstance(asn, int) or isinstance(asn, bool):
        asn = None
    isp = _text(record.get("isp"))
    if isp:
        return isp, asn
    if asn is not None:
        return (f"AS{asn} {org}" if org else f"AS{asn}"), asn
    return org or UNKNOWN, None


class GeoLookup:
    """Country, city and network for client addresses, each looked up once per run."""

    def __init__(self, dbs: GeoDatabases) -> None:
        self.databases = dbs
        self._opened: dict[Path, _Database] = {}
        try:
            # A combined database (Enterprise, ipinfo country_asn) serves both roles: open once.
            self._location = self._database(dbs.city or dbs.country)
            self._network = self._database(dbs.isp or dbs.asn)
        except ConfigError:
            self.close()
            raise
        self._cache: dict[str, Row] = {}
        # Equal rows are shared, so the cache costs one key per address, not one row.
        self._rows: dict[Row, Row] = {}
        # Distinct addresses resolved so far (cache misses): the pipeline's statistics.
        self.resolved = 0

    def _database(self, path: Path | None) -> _Database | None:
        if path is None:
            return None
        if path not in self._opened:
            self._opened[path] = _Database(path)
        return self._opened[path]

    def __enter__(self) -> GeoLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for db in self._opened.values():
            db.reader.close()
        self._opened.clear()

    def resolve(self, client: object) -> Row:
        """The row for one client, from the databases (no cache)."""
        ip: IPAddress | str | None
        if isinstance(client, str) and ":" not in client:
            # Plain IPv4, by far the most common: an integer for the kind and the text itself
            # for the reader, without building an ipaddress object.
            value = ipv4_value(client)
            ip, kind = (None, "invalid") if value is None else (client, _v4_kind(value))
        else:
            parsed = parse_address(client)
            ip, kind = parsed, "invalid" if parsed is None else address_kind(parsed)
        code, country, city, network, asn = "", UNKNOWN, "", UNKNOWN, None
        if ip is not None and kind == "public":
            if self._location is not None and (record := self._location.get(ip)) is not None:
                code, country, city = location_of(record)
            if self._network is not None and (record := self._network.get(ip)) is not None:
                network, asn = network_of(record)
        row: Row = (code, country, city, network, asn, kind)
        return self._rows.setdefault(row, row)

    def _resolve_v4(self, clients: list[str]) -> dict[str, Row]:
        """Rows for many plain IPv4 clients at once. In address order, neighbours fall in the
        database network just looked up and share its record: one lookup and one decoded
        record per network, not per address (23,000 clients of the benchmark fall in fewer
        than 50 networks of MaxMind's test databases; decoding a City record is the costly
        part of a lookup)."""
        out: dict[str, Row] = {}
        values, plain = ipv4_values(pd.Index(clients, dtype="str"))
        for i in np.flatnonzero(~plain).tolist():
            out[clients[i]] = self.resolve(clients[i])
        rows = np.flatnonzero(plain)
        rows = rows[np.argsort(values[rows], kind="stable")]
        loc_last, net_last = -1, -1
        loc: tuple[str, str, str] = ("", UNKNOWN, "")
        net: tuple[str, int | None] = (UNKNOWN, None)
        for i, value, kind in zip(
            rows.tolist(), values[rows].tolist(), v4_kinds(values[rows]).tolist(), strict=True
        ):
            client = clients[i]
            if kind != "public":
                row: Row = ("", UNKNOWN, "", UNKNOWN, None, kind)
                out[client] = self._rows.setdefault(row, row)
                continue
            if self._location is not None and value > loc_last:
                record, _, loc_last = self._location.get_v4_network(client, value)
                loc = location_of(record) if record is not None else ("", UNKNOWN, "")
            if self._network is not None and value > net_last:
                record, _, net_last = self._network.get_v4_network(client, value)
                net = network_of(record) if record is not None else (UNKNOWN, None)
            row = (*loc, *net, kind)
            out[client] = self._rows.setdefault(row, row)
        return out

    def lookup(self, clients: pd.Index, coded: bool = False) -> pd.DataFrame:
        """One row per client, indexed by ``clients`` in the same order.

        Columns: country_code ('' unknown), country (English name, 'unknown' when no data),
        city ('' when none), network (ISP name, 'AS<n> <org>', or 'unknown'), asn (Int64, <NA>
        unknown), address_kind (one of KINDS). Never raises for odd client values; a database
        that turns out corrupt mid-run raises ConfigError.

        ``coded``: the text columns as categoricals (each column's distinct values, maybe some
        unused, and a code per client) rather than a string per client: the same values, in
        a few bytes a client (5M distinct clients: six text columns of 5M values were the
        audience join's peak, issue #18).
        """
        if self._location is None and self._network is None:
            return self._kinds_only(clients, coded)
        cache = self._cache
        listed = clients.tolist()
        v4 = self._resolve_v4(
            [c for c in listed if isinstance(c, str) and ":" not in c and c not in cache]
        )
        # Rows repeat (one per country and network, not per client): number the distinct
        # ones and build the columns by taking from them.
        numbered: dict[Row, int] = {}
        codes = np.empty(len(clients), np.intp)
        for i, client in enumerate(listed):
            row = cache.get(client) if isinstance(client, str) else None
            if row is None:
                row = v4.get(client) or self.resolve(client)
                self.resolved += 1
                if isinstance(client, str):
                    if len(cache) >= CACHE_LIMIT:
                        cache.clear()
                        self._rows.clear()
                    cache[client] = row
            codes[i] = numbered.setdefault(row, len(numbered))
        columns = list(zip(*numbered, strict=True)) if numbered else [()] * len(COLUMNS)
        data = {
            name: (_coded_column(values, codes) if coded and name != "asn" else
                   pd.array(list(values), dtype="Int64" if name == "asn" else "str").take(codes))
            for name, values in zip(COLUMNS, columns, strict=True)
        }
        return pd.DataFrame(data, index=clients)

    def _kinds_only(self, clients: pd.Index, coded: bool = False) -> pd.DataFrame:
        """Without a database only the address kind varies: plain IPv4 addresses are parsed
        and classified with array operations, the rest (IPv6, host names) one by one. Each
        column is taken from its few distinct values with Arrow, not built from a Python
        string per client (64,000 clients: 62 -> 35 ms)."""
        n = len(clients)
        value, plain = ipv4_values(clients)
        codes = np.empty(n, np.int8)
        codes[plain] = v4_kind_codes(value[plain])
        other = np.flatnonzero(~plain)
        for i, client in zip(other.tolist(), clients[other].tolist(), strict=True):
            codes[i] = KINDS.index(client_kind(client))

        def repeated(values: tuple[str, ...], at: np.ndarray) -> pd.api.extensions.ExtensionArray:
            if coded:
                return categorical(at, pd.Index(values, dtype="str"))
            return pd.array(pa.array(values, pa.string()).take(pa.array(at)), dtype="str")

        zeros = np.zeros(n, np.int8)
        text = {"country_code": "", "country": UNKNOWN, "city": "", "network": UNKNOWN}
        data: dict[str, object] = {c: repeated((v,), zeros) for c, v in text.items()}
        data["asn"] = pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, dtype=bool))
        data["address_kind"] = repeated(KINDS, codes)
        return pd.DataFrame(data, index=clients, copy=False)  # made in COLUMNS' order


def _coded_column(values: tuple[str, ...], rows: np.ndarray) -> pd.Categorical:
    """The categorical of ``values[rows]``: the distinct rows' values (a value repeats across
    rows that differ in another column) made distinct, and a narrow code per client."""
    codes, uniques = pd.factorize(pd.Index(list(values), dtype="str"))
    width = np.int8 if len(uniques) < 127 else np.int16 if len(uniques) < 32767 else np.int32
    return categorical(codes.astype(width)[rows], pd.Index(uniques, dtype="str"))


def lookup_coded(geo: Callable[[pd.Index], pd.DataFrame], clients: pd.Index) -> pd.DataFrame:
    """``geo(clients)`` with its text columns as categoricals when ``geo`` is a GeoLookup's
    ``lookup`` (``coded=True``); any other lookup (the history store's places) as it is."""
    owner = getattr(geo, "__self__", None)
    if isinstance(owner, GeoLookup) and getattr(geo, "__func__", None) is GeoLookup.lookup:
        return owner.lookup(clients, coded=True)
    return geo(clients)
