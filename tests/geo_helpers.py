"""Small .mmdb files built with mmdb-writer, so GeoIP tests run without MaxMind's test data.

The records follow the layouts the real databases use (GeoIP2 City/Country nested ``names``;
GeoLite2-ASN and GeoIP2-ISP flat fields), on public networks that are looked up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

LONDON = "81.2.69.142"  # in 81.2.69.0/24
BERLIN = "5.5.5.5"  # in 5.5.0.0/16
THIMPHU = "67.43.156.1"  # in 67.43.156.0/24: a country, no city
TOKYO6 = "2001:218::1"  # in 2001:218::/32
NOWHERE = "8.8.8.8"  # in none of the test databases


def _place(code: str, country: str, city: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"country": {"iso_code": code, "names": {"en": country}}}
    if city:
        record["city"] = {"names": {"en": city, "de": city}}
    return record


CITY_RECORDS: dict[str, dict[str, Any]] = {
    "81.2.69.0/24": _place("GB", "United Kingdom", "London"),
    "5.5.0.0/16": _place("DE", "Germany", "Berlin"),
    "67.43.156.0/24": _place("BT", "Bhutan"),
    "2001:218::/32": _place("JP", "Japan"),
}
ASN_RECORDS: dict[str, dict[str, Any]] = {
    "81.2.69.0/24": {
        "autonomous_system_number": 20712,
        "autonomous_system_organization": "Andrews & Arnold Ltd",
    },
    "5.5.0.0/16": {"autonomous_system_number": 3320},
}
ISP_RECORDS: dict[str, dict[str, Any]] = {
    "81.2.69.0/24": {
        "autonomous_system_number": 20712,
        "autonomous_system_organization": "Andrews & Arnold Ltd",
        "isp": "Andrews & Arnold",
        "organization": "Andrews & Arnold",
    },
}


def write_db(
    path: Path,
    database_type: str,
    records: dict[str, dict[str, Any]],
    ip_version: int = 6,
) -> Path:
    """Write ``records`` (network -> record) as a MaxMind DB of the given metadata type."""
    writer = MMDBWriter(
        ip_version=ip_version,
        ipv4_compatible=ip_version == 6,
        database_type=database_type,
        languages=["en"],
        description="logaudit test database",
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def write_city(path: Path, database_type: str = "GeoLite2-City") -> Path:
    return write_db(path, database_type, CITY_RECORDS)


def write_asn(path: Path, database_type: str = "GeoLite2-ASN") -> Path:
    # IPv4-only on purpose: an IPv6 client must not make the reader raise.
    v4 = {net: rec for net, rec in ASN_RECORDS.items() if ":" not in net}
    return write_db(path, database_type, v4, ip_version=4)


def write_isp(path: Path, database_type: str = "GeoIP2-ISP") -> Path:
    return write_db(path, database_type, ISP_RECORDS)
