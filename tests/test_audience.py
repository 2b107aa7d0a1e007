"""Who the visitors are: browser, OS, device, crawler, country and network panels, the
visitors command, and GeoIP set-up as a user meets it (found, missing, corrupt).

Small databases are built with mmdb-writer (tests/geo_helpers.py), so these tests need no
shared data. The log (all 200s):
  London 81.2.69.142, Firefox on Linux: 3 page views
  Berlin 5.5.5.5, Chrome Mobile on Android: 2
  Thimphu 67.43.156.1, Safari on an iPad: 1
  10.0.0.5 (private), Firefox on Linux: 1
  Googlebot from 66.249.66.1: 2; curl from 8.8.8.8: 1; no user agent from 8.8.8.8: 1
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from geo_helpers import write_asn, write_city

import logaudit.enrich.geo as geo
from logaudit.cli import cli

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

HITS = (
    [("81.2.69.142", FIREFOX)] * 3
    + [("5.5.5.5", ANDROID)] * 2
    + [("67.43.156.1", IPAD), ("10.0.0.5", FIREFOX)]
    + [("66.249.66.1", GOOGLEBOT)] * 2
    + [("8.8.8.8", "curl/8.5.0"), ("8.8.8.8", "-")]
)


@pytest.fixture(autouse=True)
def no_system_geoip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Databases installed on the machine must not change these results."""
    monkeypatch.setattr(geo, "SYSTEM_DIRS", ())
    monkeypatch.delenv("LOGAUDIT_GEOIP_DIR", raising=False)


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    lines = [
        f'{ip} - - [10/Mar/2026:12:{i:02d}:00 +0000] "GET /p{i} HTTP/1.1" 200 100 "-" "{ua}"\n'
        for i, (ip, ua) in enumerate(HITS)
    ]
    p = tmp_path / "a.log"
    p.write_text("".join(lines))
    return p


@pytest.fixture()
def geoip(tmp_path: Path) -> Path:
    d = tmp_path / "geoip"
    d.mkdir()
    write_city(d / "one.mmdb")
    write_asn(d / "two.mmdb")
    return d


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json", "--top", "0"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rows(report: dict, name: str, key: str) -> dict[str, dict]:
    sec = next(s for s in report["sections"] if s["name"] == name)
    return {r[key]: r for r in sec["rows"]}


def test_places_and_networks(log: Path, geoip: Path) -> None:
    r = run_json("visitors", str(log), "--geoip-dir", str(geoip))
    countries = {k: v["hits"] for k, v in rows(r, "countries", "country").items()}
    assert countries == {
        "United Kingdom": 3,
        "Germany": 2,
        "Bhutan": 1,
        "(private address)": 1,
    }
    london = rows(r, "countries", "country")["United Kingdom"]
    assert london["visitors"] == 1 and london["top"] == "London (100%)"
    networks = rows(r, "networks", "network")
    assert networks["AS20712 Andrews & Arnold Ltd"]["hits"] == 3
    assert any(k.startswith("AS3320") for k in networks)
    assert not r["notes"], "with both kinds of database there is nothing to add"


def test_browsers_systems_devices_are_people_only(log: Path) -> None:
    r = run_json(
        "summary", str(log), "--section", "browsers", "--section", "os", "--section", "devices"
    )
    browsers = {k: (v["hits"], v["visitors"]) for k, v in rows(r, "browsers", "browser").items()}
    assert browsers == {"Firefox": (4, 2), "Chrome Mobile": (2, 1), "Mobile Safari": (1, 1)}
    assert {k: v["hits"] for k, v in rows(r, "os", "os").items()} == {
        "Linux": 4,
        "Android": 2,
        "iOS": 1,
    }
    assert {k: v["hits"] for k, v in rows(r, "devices", "device").items()} == {
        "desktop": 4,
        "mobile": 2,
        "tablet": 1,
    }


def test_crawlers_and_tools_panel(log: Path) -> None:
    r = run_json("summary", str(log), "--section", "crawlers")
    crawlers = {k: (v["kind"], v["hits"]) for k, v in rows(r, "crawlers", "name").items()}
    assert crawlers == {
        "Googlebot": ("crawler", 2),
        "curl": ("tool", 1),
        "(no user agent)": ("tool", 1),
    }
    assert r["overview"]["crawler_hits"] == 2 and r["overview"]["tool_hits"] == 2


def test_bots_modes_apply_to_every_figure(log: Path) -> None:
    auto = run_json("summary", str(log), "--section", "browsers")
    include = run_json("summary", str(log), "--bots", "include", "--section", "browsers")
    exclude = run_json("summary", str(log), "--bots", "exclude", "--section", "crawlers")
    only = run_json("summary", str(log), "--bots", "only")
    assert auto["overview"]["requests"] == 11 and auto["overview"]["page_views"] == 7
    assert include["overview"]["page_views"] == 11
    assert "Googlebot" in rows(include, "browsers", "browser")
    assert exclude["overview"]["requests"] == 7
    assert rows(exclude, "crawlers", "name") == {}
    assert only["overview"]["requests"] == 4 and only["overview"]["page_views"] == 4


def test_top_visitors(log: Path, geoip: Path) -> None:
    r = run_json("visitors", str(log), "--geoip-dir", str(geoip))
    sec = next(s for s in r["sections"] if s["name"] == "top-visitors")
    first = sec["rows"][0]
    assert (first["ip"], first["country"], first["browser"], first["os"]) == (
        "81.2.69.142",
        "United Kingdom",
        "Firefox",
        "Linux",
    )
    assert first["network"] == "AS20712 Andrews & Arnold Ltd"
    assert (first["hits"], first["page_views"]) == (3, 3)
    assert first["first"] == "2026-03-10 12:00:00" and first["last"] == "2026-03-10 12:02:00"
    assert {row["ip"] for row in sec["rows"]} == {
        "81.2.69.142",
        "5.5.5.5",
        "67.43.156.1",
        "10.0.0.5",
    }  # people only


@pytest.mark.parametrize("only", [["--agent", "curl"], ["--agent", "Googlebot"]])
def test_top_visitors_with_no_people_visit_says_so(log: Path, only: list[str]) -> None:
    # Only tools or crawlers left: the panel said nothing and exited 1 (NaN to int).
    r = run_json("visitors", str(log), *only)
    sec = next(s for s in r["sections"] if s["name"] == "top-visitors")
    assert sec["rows"] == [] and sec["note"] == "no people visits"


def test_without_a_database_places_read_unknown_and_one_note_says_how(log: Path) -> None:
    r = run_json("visitors", str(log))
    countries = rows(r, "countries", "country")
    assert set(countries) == {"unknown", "(private address)"}
    assert len(r["notes"]) == 1 and "\n" not in r["notes"][0]
    assert "geoipupdate" in r["notes"][0]
    terminal = CliRunner().invoke(cli, ["visitors", str(log)])
    assert terminal.exit_code == 0
    assert terminal.output.count("geoipupdate") == 1


def test_corrupt_database_is_one_line_and_exit_7(log: Path, tmp_path: Path) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "x.mmdb").write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(cli, ["visitors", str(log), "--geoip-dir", str(d)])
    assert result.exit_code == 7
    assert "Traceback" not in result.output
    assert "x.mmdb" in result.output


def test_missing_geoip_dir_is_a_config_error(log: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["visitors", str(log), "--geoip-dir", str(tmp_path / "no")])
    assert result.exit_code == 7


def test_shared_test_databases(log: Path, shared_data: Path, tmp_path: Path) -> None:
    """MaxMind's own test databases, found by metadata in a folder of differently named files."""
    d = tmp_path / "maxmind"
    d.mkdir()
    for i, name in enumerate(("GeoIP2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb")):
        (d / f"{i}.mmdb").symlink_to(shared_data / "geoip" / "test-data" / name)
    r = run_json("visitors", str(log), "--geoip-dir", str(d))
    countries = {k: v["hits"] for k, v in rows(r, "countries", "country").items()}
    assert countries["United Kingdom"] == 3  # 81.2.69.142 -> GB London in MaxMind's test data
    assert countries["Bhutan"] == 1


def test_rows_whose_multiindex_code_is_missing_join_to_nothing() -> None:
    from logaudit.analyze.audience import _through

    assert _through(np.array([0, -1, 2], np.int8), np.array([5, 6, 7])).tolist() == [5, -1, 7]
    assert _through(np.array([0, 1]), np.array([], np.intp)).tolist() == [-1, -1]
