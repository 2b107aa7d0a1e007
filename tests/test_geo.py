"""GeoIP enrichment: discovery by metadata, lookups, labels, cache and clean errors.

Most tests build tiny databases with mmdb-writer (tests/geo_helpers.py) and run anywhere; the
``shared`` ones read MaxMind's own test databases in place from ../shared/data/geoip.
"""

from __future__ import annotations

import csv
import ipaddress
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from geo_helpers import (
    BERLIN,
    LONDON,
    NOWHERE,
    THIMPHU,
    TOKYO6,
    write_asn,
    write_city,
    write_db,
    write_isp,
)

from logaudit.enrich import geo
from logaudit.enrich.geo import GeoDatabases, GeoLookup
from logaudit.errors import ConfigError, ExitCode

NO_ENV: dict[str, str] = {}


@pytest.fixture(autouse=True)
def no_system_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Databases installed on the test machine must not leak into the results.
    monkeypatch.setattr(geo, "SYSTEM_DIRS", ())


def lookup(dbs: GeoDatabases, *clients: str) -> pd.DataFrame:
    with GeoLookup(dbs) as g:
        return g.lookup(pd.Index(list(clients), dtype="str"))


# Discovery


def test_discovery_goes_by_metadata_not_file_name(tmp_path: Path) -> None:
    city = write_city(tmp_path / "zz.mmdb")
    asn = write_asn(tmp_path / "GeoLite2-City.mmdb")  # a misleading name
    write_db(tmp_path / "a.mmdb", "GeoIP2-Anonymous-IP", {"1.2.0.0/16": {"is_anonymous": True}})
    write_db(tmp_path / "b.mmdb", "GeoIP2-Domain", {"1.2.0.0/16": {"domain": "maxmind.com"}})
    (tmp_path / "notes.txt").write_text("not a database")
    dbs = GeoDatabases.discover(tmp_path, env=NO_ENV)
    assert dbs == GeoDatabases(city=city, country=None, asn=asn, isp=None)


def test_discovery_from_environment(tmp_path: Path) -> None:
    city = write_city(tmp_path / "one.mmdb", "DBIP-City-Lite")
    asn = write_asn(tmp_path / "two.mmdb", "DBIP-ASN-Lite")
    dbs = GeoDatabases.discover(env={geo.ENV_VAR: str(tmp_path)})
    assert (dbs.city, dbs.asn) == (city, asn)


def test_explicit_folder_wins_kind_by_kind(tmp_path: Path) -> None:
    explicit, from_env = tmp_path / "explicit", tmp_path / "env"
    explicit.mkdir()
    from_env.mkdir()
    city = write_city(explicit / "c.mmdb")
    write_city(from_env / "c.mmdb", "GeoIP2-City")
    asn = write_asn(from_env / "n.mmdb")  # only the second folder has network data
    dbs = GeoDatabases.discover(explicit, env={geo.ENV_VAR: str(from_env)})
    assert (dbs.city, dbs.asn) == (city, asn)


def test_city_beats_country_and_isp_beats_asn(tmp_path: Path) -> None:
    write_db(tmp_path / "1.mmdb", "GeoLite2-Country", {"81.2.69.0/24": {"country": {}}})
    write_city(tmp_path / "2.mmdb")
    write_asn(tmp_path / "3.mmdb")
    write_isp(tmp_path / "4.mmdb")
    dbs = GeoDatabases.discover(tmp_path, env=NO_ENV)
    assert dbs.country is not None and dbs.asn is not None
    row = lookup(dbs, LONDON).iloc[0]
    assert (row.city, row.network, row.asn) == ("London", "Andrews & Arnold", 20712)


def test_empty_folder_finds_nothing(tmp_path: Path) -> None:
    assert GeoDatabases.discover(tmp_path, env=NO_ENV) == GeoDatabases()


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope") as err:
        GeoDatabases.discover(tmp_path / "nope", env=NO_ENV)
    assert err.value.exit_code == ExitCode.CONFIG
    with pytest.raises(ConfigError, match=geo.ENV_VAR):
        GeoDatabases.discover(env={geo.ENV_VAR: str(tmp_path / "gone")})


def test_corrupt_database_is_a_one_line_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mmdb"
    bad.write_bytes(os.urandom(4096))
    for attempt in (
        lambda: GeoDatabases.discover(tmp_path, env=NO_ENV),
        lambda: GeoLookup(GeoDatabases(city=bad)),
    ):
        with pytest.raises(ConfigError) as err:
            attempt()
        assert "broken.mmdb" in str(err.value) and "\n" not in str(err.value)


def test_corrupt_data_section_is_a_config_error(tmp_path: Path) -> None:
    # The header and search tree are intact, so the file opens; the first lookup finds garbage.
    path = write_city(tmp_path / "damaged.mmdb")
    with geo.maxminddb.open_database(str(path)) as reader:
        meta = reader.metadata()
        data_start = meta.node_count * meta.record_size // 4 + 16
    raw = bytearray(path.read_bytes())
    end = raw.index(b"\xab\xcd\xefMaxMind.com")
    raw[data_start:end] = b"\xff" * (end - data_start)
    path.write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match="damaged.mmdb"):
        lookup(GeoDatabases(city=path), LONDON)


def test_unreadable_database_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="gone.mmdb"):
        GeoLookup(GeoDatabases(city=tmp_path / "gone.mmdb"))


def test_missing_hint() -> None:
    hint = GeoDatabases().missing_hint()
    assert hint is not None and "\n" not in hint
    assert "geoipupdate" in hint and "DB-IP" in hint and "--geoip-dir" in hint
    network_only = GeoDatabases(city=Path("c.mmdb")).missing_hint()
    assert network_only is not None and "GeoLite2-ASN" in network_only
    assert "GeoLite2-City" not in network_only and "dbip-city-lite" not in network_only
    assert GeoDatabases(country=Path("c.mmdb"), asn=Path("a.mmdb")).missing_hint() is None


# Lookups


def test_lookup_frame(tmp_path: Path) -> None:
    dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"), asn=write_asn(tmp_path / "a.mmdb"))
    mapped = "::ffff:" + LONDON  # IPv4-mapped IPv6, as dual-stack servers log it
    clients = [BERLIN, LONDON, THIMPHU, TOKYO6, NOWHERE, mapped]
    aaisp = ("AS20712 Andrews & Arnold Ltd", 20712)
    df = lookup(dbs, *clients)
    assert list(df.index) == clients and list(df.columns) == list(geo.COLUMNS)
    assert str(df["asn"].dtype) == "Int64" and df["country"].dtype == "str"
    assert df.to_dict("index") == {
        BERLIN: row("DE", "Germany", "Berlin", "AS3320", 3320),
        LONDON: row("GB", "United Kingdom", "London", *aaisp),
        THIMPHU: row("BT", "Bhutan", ""),
        TOKYO6: row("JP", "Japan", ""),  # IPv6 in an IPv4-only ASN db: unknown, no error
        NOWHERE: row(),
        mapped: row("GB", "United Kingdom", "London", *aaisp),
    }


def row(
    code: str = "",
    country: str = "unknown",
    city: str = "",
    network: str = "unknown",
    asn: int | None = None,  # to_dict turns <NA> into None
    kind: str = "public",
) -> dict[str, Any]:
    return dict(zip(geo.COLUMNS, (code, country, city, network, asn, kind), strict=True))


def test_no_databases_means_unknown() -> None:
    df = lookup(GeoDatabases(), LONDON, TOKYO6)
    assert df.to_dict("index") == {LONDON: row(), TOKYO6: row()}


def test_empty_chunk() -> None:
    df = lookup(GeoDatabases())
    assert df.empty and list(df.columns) == list(geo.COLUMNS)


@pytest.mark.parametrize(
    ("client", "kind"),
    [
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.5.4", "private"),
        ("100.64.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("192.0.2.1", "reserved"),
        ("0.0.0.0", "reserved"),
        ("224.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("2001:db8::1", "reserved"),
        ("ff02::1", "reserved"),
        ("1.1.1.1", "public"),
        ("2606:4700::1111", "public"),
        ("crawl-66-249-66-1.googlebot.com", "invalid"),
        ("", "invalid"),
        ("-", "invalid"),
        ("<script>", "invalid"),
        ("1.2.3.4:8080", "invalid"),
        ("01.2.3.4", "invalid"),
        ("1.2.3.4\x00", "invalid"),
        ("x" * 10_000, "invalid"),
    ],
)
def test_address_kind(tmp_path: Path, client: str, kind: str) -> None:
    dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"))
    got = lookup(dbs, client).iloc[0]
    assert got.address_kind == kind
    if kind != "public":
        assert (got.country, got.network) == ("unknown", "unknown")


class CountingReader:
    """Wraps a maxminddb reader and counts the lookups that reach it."""

    calls = 0

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def get(self, ip: Any) -> Any:
        CountingReader.calls += 1
        return self.reader.get(ip)

    def get_with_prefix_len(self, ip: Any) -> Any:
        CountingReader.calls += 1
        return self.reader.get_with_prefix_len(ip)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)


def test_each_client_is_looked_up_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"), asn=write_asn(tmp_path / "a.mmdb"))
    real_open = geo.maxminddb.open_database
    monkeypatch.setattr(geo.maxminddb, "open_database", lambda *a: CountingReader(real_open(*a)))
    CountingReader.calls = 0
    with GeoLookup(dbs) as g:
        first = g.lookup(pd.Index([LONDON, BERLIN, "10.0.0.1", "bogus"], dtype="str"))
        assert CountingReader.calls == 4  # two public clients, two databases; others skipped
        second = g.lookup(pd.Index(["bogus", BERLIN, LONDON, "10.0.0.1"], dtype="str"))
        assert CountingReader.calls == 4 and g.resolved == 4
        g.lookup(pd.Index([THIMPHU, LONDON], dtype="str"))
        assert CountingReader.calls == 6 and g.resolved == 5
    assert second.reindex(first.index).equals(first)  # the cache gives the same answers


def test_addresses_in_one_network_share_its_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"), asn=write_asn(tmp_path / "a.mmdb"))
    real_open = geo.maxminddb.open_database
    monkeypatch.setattr(geo.maxminddb, "open_database", lambda *a: CountingReader(real_open(*a)))
    CountingReader.calls = 0
    # Three addresses of 81.2.69.0/24 and two of 5.5.0.0/16: one lookup per network and
    # database, in whatever order the clients come.
    clients = ["5.5.200.1", "81.2.69.255", "5.5.0.0", "81.2.69.0", LONDON]
    got = lookup(dbs, *clients)
    assert CountingReader.calls == 4
    assert list(got["city"]) == ["Berlin", "London", "Berlin", "London", "London"]
    assert list(got["asn"]) == [3320, 20712, 3320, 20712, 20712]


def test_shared_lookups_match_one_lookup_per_address(tmp_path: Path) -> None:
    """Neighbours on both sides of every network boundary, and addresses around them, get
    exactly what a lookup of each address alone gives."""
    dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"), isp=write_isp(tmp_path / "i.mmdb"))
    edges = ["81.2.68.255", "81.2.69.0", "81.2.69.1", "81.2.69.254", "81.2.69.255", "81.2.70.0",
             "5.4.255.255", "5.5.0.0", "5.5.255.255", "5.6.0.0", "67.43.155.255", "67.43.156.0",
             "67.43.156.255", "67.43.157.0", "10.0.0.1", "0.0.0.0", "255.255.255.255", NOWHERE,
             "01.2.3.4", "1.2.3", TOKYO6, "::ffff:81.2.69.142", "bogus"]
    with GeoLookup(dbs) as g:
        expected = [g.resolve(c) for c in edges]
        got = g.lookup(pd.Index(edges, dtype="str"))
    assert [tuple(r) for r in got.astype(object).itertuples(index=False)] == [
        tuple(pd.NA if v is None else v for v in row) for row in expected
    ]


def test_other_layouts() -> None:
    # ipinfo's flat layouts and GeoIP2-Enterprise's traits, which no test database covers.
    assert geo.location_of({"country": "DE", "country_name": "Germany", "city": "Bonn"}) == (
        "DE",
        "Germany",
        "Bonn",
    )
    assert geo.location_of({"country_code": "DE", "country": "Germany"}) == ("DE", "Germany", "")
    assert geo.location_of({"continent": {"code": "EU"}}) == ("", "unknown", "")
    assert geo.network_of({"asn": "AS15169", "as_name": "Google LLC"}) == (
        "AS15169 Google LLC",
        15169,
    )
    assert geo.network_of({"traits": {"isp": "Telstra", "autonomous_system_number": 1221}}) == (
        "Telstra",
        1221,
    )
    assert geo.network_of({"autonomous_system_number": "junk"}) == ("unknown", None)


@pytest.mark.parametrize(
    ("database_type", "roles"),
    [
        ("GeoIP2-City", ("city",)),
        ("GeoLite2-Country", ("country",)),
        ("DBIP-City-Lite", ("city",)),
        ("DBIP-ASN-Lite", ("asn",)),
        ("GeoIP2-ISP", ("isp",)),
        ("GeoIP2-Enterprise", ("city", "isp")),
        ("ipinfo country_asn.mmdb", ("country", "asn")),
        ("GeoIP2-Anonymous-IP", ()),
        ("GeoIP2-Connection-Type", ()),
        ("GeoIP2-Domain", ()),
    ],
)
def test_database_roles(database_type: str, roles: tuple[str, ...]) -> None:
    assert geo.database_roles(database_type) == roles


# MaxMind's test databases (read in place, never copied)


@pytest.fixture
def maxmind_dir(shared_data: Path) -> Path:
    folder = shared_data / "geoip" / "test-data"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


@pytest.fixture
def maxmind_renamed(maxmind_dir: Path, tmp_path: Path) -> Path:
    """All MaxMind test databases symlinked as 0.mmdb, 1.mmdb, ...: names carry no meaning."""
    for i, path in enumerate(sorted(maxmind_dir.glob("*.mmdb"), reverse=True)):
        (tmp_path / f"{i}.mmdb").symlink_to(path)
    return tmp_path


@pytest.mark.shared
def test_maxmind_discovery(maxmind_renamed: Path) -> None:
    dbs = GeoDatabases.discover(maxmind_renamed, env=NO_ENV)
    found = {k: p.resolve().name if p else None for k, p in vars(dbs).items()}
    assert found == {
        "city": "GeoIP2-City-Test.mmdb",
        "country": "GeoIP2-Country-Test.mmdb",
        "asn": "GeoLite2-ASN-Test.mmdb",
        "isp": "GeoIP2-ISP-Test.mmdb",
    }
    assert dbs.missing_hint() is None


VERIFIED = {  # SOURCES.md section 2, checked against the .mmdb files
    "81.2.69.142": ("GB", "London"),
    "2.125.160.216": ("GB", "Boxford"),
    "216.160.83.56": ("US", "Milton"),
    "89.160.20.113": ("SE", "Linköping"),
    "175.16.199.0": ("CN", "Changchun"),
    "2001:218::": ("JP", ""),
    "67.43.156.1": ("BT", ""),
    "8.8.8.8": ("", ""),
}


@pytest.mark.shared
@pytest.mark.parametrize("name", ["GeoIP2-City-Test.mmdb", "GeoLite2-City-Test.mmdb"])
def test_maxmind_city(maxmind_dir: Path, name: str) -> None:
    df = lookup(GeoDatabases(city=maxmind_dir / name), *VERIFIED)
    assert {ip: (r.country_code, r.city) for ip, r in df.iterrows()} == VERIFIED
    assert df.loc["8.8.8.8", "country"] == "unknown"
    assert df.loc["89.160.20.113", "country"] == "Sweden"


@pytest.mark.shared
def test_maxmind_network(maxmind_dir: Path) -> None:
    isp = lookup(GeoDatabases(isp=maxmind_dir / "GeoIP2-ISP-Test.mmdb"), "1.128.0.0", "4.0.0.1")
    assert list(isp["network"]) == ["Telstra Internet", "Level 3 Communications"]
    assert isp["asn"].tolist() == [1221, pd.NA]  # the ISP record for 4.0.0.0/8 has no AS
    asn = lookup(GeoDatabases(asn=maxmind_dir / "GeoLite2-ASN-Test.mmdb"), "1.128.0.0", "1.0.0.1")
    assert list(asn["network"]) == ["AS1221 Telstra Pty Ltd", "AS15169 Google Inc."]


@pytest.mark.shared
def test_maxmind_ip_ranges(maxmind_dir: Path) -> None:
    """Every example address of IP_RANGES.tsv gives its database's country, city or network."""
    with open(maxmind_dir.parent / "IP_RANGES.tsv", newline="", encoding="utf-8") as f:
        ranges = list(csv.DictReader(f, delimiter="\t"))
    checked = 0
    for database, role in [
        ("GeoIP2-City-Test", "city"),
        ("GeoLite2-City-Test", "city"),
        ("GeoLite2-Country-Test", "country"),
        ("GeoIP2-ISP-Test", "isp"),
        ("GeoLite2-ASN-Test", "asn"),
    ]:
        rows = [r for r in ranges if r["database"] == database]
        dbs = GeoDatabases(**{role: maxmind_dir / f"{database}.mmdb"})
        got = lookup(dbs, *(r["example_ip"] for r in rows))
        for r, (ip, res) in zip(rows, got.iterrows(), strict=True):
            facts = dict(kv.split("=", 1) for kv in r["summary"].split("; ") if "=" in kv)
            if role in ("city", "country"):
                expected = (facts.get("country", ""), facts.get("city", ""))
                assert (res.country_code, res.city) == expected, (database, ip)
            else:
                number = facts.get("autonomous_system_number")
                asn = None if pd.isna(res.asn) else int(res.asn)
                assert asn == (int(number) if number else None), (database, ip)
                if "isp" in facts:
                    assert res.network == facts["isp"], (database, ip)
            checked += 1
    assert checked > 3000


def range_edges(
    table: Iterable[tuple[int, int, str]], address: Callable[[int], object], bits: int
) -> set[str]:
    """The addresses on both sides of each (first, last, kind) range's ends, as text."""
    return {
        str(address(v))
        for first, last, _ in table
        for v in (first - 1, first, last, last + 1)
        if 0 <= v < 2**bits
    }


def test_without_databases_array_kinds_match_one_by_one() -> None:
    """No database: plain IPv4 kinds come from array operations; each row must be what
    resolving the client alone gives, at every range edge and for near-miss texts."""
    edges = range_edges(geo._V4_TABLE, ipaddress.IPv4Address, 32)
    odd = {
        "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", " 1.2.3.4", "1.2.3.4 ",
        "1.2.3.4\n", "1.2.3.-4", "1..2.3", "0.0.0.0", "255.255.255.255", "::ffff:10.0.0.1",
        "2606:4700::1111", "fe80::1%eth0", "host.example", "", "-", LONDON, "8.8.8.8",
    }  # fmt: skip
    v6_edges = range_edges(geo._V6_RANGES, ipaddress.IPv6Address, 128)
    more_odd = {
        "::", "::1", "::2", "::ffff:0.0.0.0", "::ffff:8.8.8.8", "::ffff:127.0.0.1",
        "::fffe:8.8.8.8", "64:ff9b::8.8.8.8", "fe80::1%", "[::1]", "2001:db8::1",
        "2a00:1450:4001:80b::200e", "ff02::1", "fc00::1", "2001:0db8:0000::1", ":::1", "1:2",
    }  # fmt: skip
    clients = pd.Index(sorted(edges | odd | v6_edges | more_odd), dtype="str")
    with GeoLookup(GeoDatabases()) as g:
        got = g.lookup(clients)
        for client in clients:
            want = dict(zip(geo.COLUMNS, g.resolve(client), strict=True))
            have = got.loc[client].to_dict()
            have["asn"] = None if pd.isna(have["asn"]) else have["asn"]
            assert have == want, client
    assert list(got.columns) == list(geo.COLUMNS)
    assert str(got["asn"].dtype) == "Int64" and str(got["country"].dtype) == "str"
