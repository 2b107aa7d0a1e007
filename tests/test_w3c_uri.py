"""W3C ``cs-uri`` (QA20 finding 2): beside a ``cs-uri-query`` the query is that field's (its
campaign parameters count), and a ``cs-uri`` written as ``host/path`` (Incapsula's
``www.example.com/page.php``) gives the virtual host and the path, as Matomo's
IncapsulaW3CFormat reads it. A ``cs-uri`` that starts with "/" is read as before."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.cli import cli
from logaudit.formats import detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

AGENT = "Mozilla/5.0+(X11;+Linux+x86_64;+rv:120.0)+Gecko/20100101+Firefox/120.0"
FIELDS = "date time c-ip cs-method cs-uri cs-uri-query sc-status sc-bytes cs(User-Agent)"
WITH_QUERY = f"""#Fields: {FIELDS}
2026-03-10 10:00:00 203.0.113.5 GET /landing utm_source=news&utm_campaign=spring 200 100 {AGENT}
2026-03-10 10:00:01 203.0.113.5 GET /b - 200 100 {AGENT}
2026-03-10 10:00:02 203.0.113.6 GET www.example.com/page.php variable=test 200 100 {AGENT}
2026-03-10 10:00:03 203.0.113.6 GET shop.example.com:8080/ - 200 100 {AGENT}
2026-03-10 10:00:04 203.0.113.7 GET http://www.example.com/abs - 200 100 {AGENT}
"""
# cs-uri alone (lnav's W3C fixtures): its own query, no host.
URI_ONLY = f"""#Fields: date time c-ip cs-method cs-uri sc-status sc-bytes cs(User-Agent)
2026-03-10 10:00:00 203.0.113.5 GET /landing?utm_source=news 200 100 {AGENT}
2026-03-10 10:00:01 203.0.113.5 GET /b 200 100 {AGENT}
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _records(text: str) -> pd.DataFrame:
    raw = text.encode()
    det = detect(raw, "u_ex.log")
    assert det.format.family == "w3c"
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("u_ex.log", None), raw.count(b"\n")), det, bad)
    assert bad.total == 0, bad.samples
    return frame.sort_values("line")[["vhost", "path", "query"]].astype(str)


def test_the_query_is_cs_uri_query_and_a_host_path_uri_gives_the_host() -> None:
    got = _records(WITH_QUERY).values.tolist()
    assert got == [
        ["", "/landing", "utm_source=news&utm_campaign=spring"],
        ["", "/b", ""],
        ["www.example.com", "/page.php", "variable=test"],
        ["shop.example.com:8080", "/", ""],
        ["www.example.com", "/abs", ""],  # an absolute URL: its host and path
    ]


# What is a host in a cs-uri that does not start with "/" (review rev20-d #5): a host name
# (with a dot, its last label alphabetic and not a file extension), or an absolute URL's.
HOSTS = f"""#Fields: {FIELDS}
2026-03-10 10:00:00 203.0.113.5 GET index.html/x - 200 100 {AGENT}
2026-03-10 10:00:01 203.0.113.5 GET www.example.com/page.php - 200 100 {AGENT}
2026-03-10 10:00:02 203.0.113.5 GET http://h/p?utm_source=ads - 200 100 {AGENT}
2026-03-10 10:00:03 203.0.113.5 GET logo.png/x - 200 100 {AGENT}
2026-03-10 10:00:04 203.0.113.5 GET app.v2/x - 200 100 {AGENT}
2026-03-10 10:00:05 203.0.113.5 GET https://shop.example.com - 200 100 {AGENT}
"""


def test_only_a_host_name_or_an_absolute_url_gives_a_host() -> None:
    assert _records(HOSTS).values.tolist() == [
        ["", "index.html/x", ""],
        ["www.example.com", "/page.php", ""],
        ["h", "/p", "utm_source=ads"],
        ["", "logo.png/x", ""],
        ["", "app.v2/x", ""],
        ["shop.example.com", "/", ""],
    ]


# cs-uri-query "-" (or empty) beside a cs-uri that holds its own query (review rev20-d #1): the
# query is cs-uri's on that row; a logged cs-uri-query wins where both hold one.
QUERY_IN_URI = f"""#Fields: {FIELDS}
2026-03-10 10:00:00 203.0.113.5 GET /landing?utm_source=news&utm_campaign=spring - 200 100 {AGENT}
2026-03-10 10:00:01 203.0.113.5 GET /both?a=1 b=2 200 100 {AGENT}
2026-03-10 10:00:02 203.0.113.5 GET /plain - 200 100 {AGENT}
"""


def test_a_dash_cs_uri_query_keeps_the_query_of_cs_uri(tmp_path: Path) -> None:
    assert _records(QUERY_IN_URI).values.tolist() == [
        ["", "/landing", "utm_source=news&utm_campaign=spring"],
        ["", "/both", "b=2"],
        ["", "/plain", ""],
    ]
    log = tmp_path / "u_ex.log"
    log.write_text(QUERY_IN_URI)
    got = CliRunner().invoke(cli, ["sources", str(log), "--format", "json"])
    assert got.exit_code == 0, got.output
    sections = {s["name"]: s for s in json.loads(got.stdout)["sections"]}
    assert [(r["utm_source"], r["utm_campaign"]) for r in sections["campaigns"]["rows"]] == [
        ("news", "spring")
    ]


def test_a_uri_alone_keeps_its_own_query() -> None:
    assert _records(URI_ONLY).values.tolist() == [
        ["", "/landing", "utm_source=news"],
        ["", "/b", ""],
    ]


def test_an_absolute_url_with_a_query_and_no_path_is_the_root() -> None:
    # "http://host?x=1" gave the path "" (a page of its own beside "/"); a browser requests
    # "/?x=1". The ALB's absolute request target was read the same way.
    text = f"""#Fields: date time c-ip cs-method cs-uri sc-status sc-bytes cs(User-Agent)
2026-03-10 10:00:00 203.0.113.5 GET http://www.example.com?x=1 200 100 {AGENT}
2026-03-10 10:00:01 203.0.113.5 GET https://www.example.com:8443 200 100 {AGENT}
2026-03-10 10:00:02 203.0.113.5 GET http://www.example.com#top 200 100 {AGENT}
2026-03-10 10:00:03 203.0.113.5 GET http://www.example.com/p?y=1 200 100 {AGENT}
"""
    assert _records(text).values.tolist() == [
        ["www.example.com", "/", "x=1"],
        ["www.example.com:8443", "/", ""],
        ["www.example.com", "/#top", ""],
        ["www.example.com", "/p", "y=1"],
    ]
    from logaudit.formats import FORMATS

    sample = FORMATS["alb"].samples[0]
    raw = (
        sample.replace("https://www.example.com:443/path/index.html", "https://h.example:443?x=1")
        + "\n"
    ).encode()
    det = detect(raw, "alb.log")
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("alb.log", None), 1), det, bad)
    assert frame[["vhost", "path", "query"]].astype(str).values.tolist() == [
        ["h.example:443", "/", "x=1"]
    ]


def test_a_goaccess_q_beside_u_is_the_query_as_cs_uri_query_is() -> None:
    # GoAccess's %U is the path "including any query string" and %q "the query string": a
    # log-format with both (as W3C's cs-uri and cs-uri-query) lost %q's query.
    fmt = "goaccess:%h [%d:%t %^] %m %U %q %s %b"
    raw = (
        b"203.0.113.5 [10/Mar/2026:10:00:00 +0000] GET /landing utm_source=news 200 5\n"
        b"203.0.113.5 [10/Mar/2026:10:00:01 +0000] GET /both?a=1 b=2 200 5\n"
        b"203.0.113.5 [10/Mar/2026:10:00:02 +0000] GET /own?c=3 - 200 5\n"
        b"203.0.113.5 [10/Mar/2026:10:00:03 +0000] GET /plain - 200 5\n"
    )
    det = detect(raw, "a.log", fmt)
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("a.log", None), raw.count(b"\n")), det, bad)
    assert bad.total == 0, bad.samples
    got = frame.sort_values("line")[["path", "query"]].astype(str).values.tolist()
    assert got == [
        ["/landing", "utm_source=news"],
        ["/both", "b=2"],
        ["/own", "c=3"],
        ["/plain", ""],
    ]


def test_sources_reports_the_campaign_of_cs_uri_query(tmp_path: Path) -> None:
    log = tmp_path / "u_ex.log"
    log.write_text(WITH_QUERY)
    got = CliRunner().invoke(cli, ["sources", str(log), "--format", "json"])
    assert got.exit_code == 0, got.output
    sections = {s["name"]: s for s in json.loads(got.stdout)["sections"]}
    assert [(r["utm_source"], r["utm_campaign"]) for r in sections["campaigns"]["rows"]] == [
        ("news", "spring")
    ]


@pytest.mark.shared
def test_incapsula_real_log(shared_data: Path) -> None:
    path = shared_data / "logs/matomo/incapsula_w3c.log"
    if not path.is_file():
        pytest.skip("incapsula_w3c.log is absent")
    raw = path.read_bytes()
    det = detect(raw, path.name)
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input(path.name, None), raw.count(b"\n")), det, bad)
    # Line 6 logs no status: a bad line, as before.
    assert (len(frame), bad.total) == (1, 1)
    row = frame.iloc[0]
    assert (row["vhost"], row["path"], row["query"]) == (
        "www.example.com",
        "/page.php",
        "variable=test",
    )
