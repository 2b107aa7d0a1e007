"""Sub-second fractions: every family that writes one keeps it (schema ``usec``), ``logaudit
records`` shows it in ``time`` and ``--sort time`` orders two requests of the same second by
it; a log of whole seconds keeps its records as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.cli import cli


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


_REQ = '"GET /a HTTP/1.1"'
_ALB = (
    "https {t} app/my-alb/abcdef 1.2.3.4:2817 10.0.0.1:80 0.001 0.102 0.000 200 200 225 24950 "
    '"GET https://www.example.com:443/a HTTP/1.1" "curl/8.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2'
)
_ELB = (
    "{t} my-loadbalancer 1.2.3.4:2817 10.0.0.1:80 0.000086 0.001048 0.001337 200 200 0 57 "
    '"GET https://www.example.com:443/a HTTP/1.1" "curl/8.0" DHE-RSA-AES128-SHA TLSv1.2'
)
_CADDY = (
    '{{"level":"info","ts":{t},"logger":"http.log.access","msg":"handled request",'
    '"request":{{"remote_ip":"1.2.3.4","proto":"HTTP/1.1","method":"GET","host":"example.com",'
    '"uri":"/a","headers":{{"User-Agent":["curl/8.0"]}}}},"duration":0.001,"size":36,'
    '"status":200}}'
)
_TRAEFIK = (
    '{{"ClientHost":"1.2.3.4","DownstreamContentSize":15,"DownstreamStatus":200,'
    '"Duration":1000,"RequestHost":"localhost","RequestMethod":"GET","RequestPath":"/a",'
    '"RequestProtocol":"HTTP/1.1","StartUTC":"{t}","level":"info","msg":""}}'
)
_NGINX_JSON = '{{"t":"{t}","ip":"1.2.3.4","req":"GET /a HTTP/1.1","st":200}}'
_W3C_HEAD = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes\n"

# family -> (--log-format or None for detection, line template, the two times written in the
# same second (the later one first), and their microseconds)
CASES: dict[str, tuple[str | None, str, tuple[str, str], tuple[int, int]]] = {
    "apache msec_frac": (
        'apache:%h %l %u [%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t %{%z}t] "%r" %>s %b',
        "1.2.3.4 - - [{t} +0000] " + _REQ + " 200 5",
        ("10/Oct/2023:13:55:36.900", "10/Oct/2023:13:55:36.007"),
        (900_000, 7_000),
    ),
    "apache usec_frac": (
        'apache:%h %t %{usec_frac}t "%r" %>s %b',
        "1.2.3.4 [10/Oct/2023:13:55:36 +0000] {t} " + _REQ + " 200 5",
        ("900001", "000100"),
        (900_001, 100),
    ),
    "apache usec": (
        'apache:%h %{usec}t "%r" %>s %b',
        "1.2.3.4 {t} " + _REQ + " 200 5",
        ("1696946136900001", "1696946136000100"),
        (900_001, 100),
    ),
    "nginx msec": (
        'nginx:$remote_addr $msec "$request" $status $body_bytes_sent',
        "1.2.3.4 {t} " + _REQ + " 200 5",
        ("1696946136.900", "1696946136.007"),
        (900_000, 7_000),
    ),
    "nginx time_iso8601": (
        'nginx:$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent',
        "1.2.3.4 [{t}] " + _REQ + " 200 5",
        ("2023-10-10T15:55:36.9+02:00", "2023-10-10T15:55:36.125+02:00"),
        (900_000, 125_000),
    ),
    "nginx json": (
        'nginx:{"t":"$time_iso8601","ip":"$remote_addr","req":"$request","st":$status}',
        _NGINX_JSON,
        ("2023-10-10T13:55:36.900Z", "2023-10-10T13:55:36.100Z"),
        (900_000, 100_000),
    ),
    "w3c": (
        None,
        "2023-10-10 {t} 1.2.3.4 GET /a 200 5",
        ("13:55:36.900", "13:55:36.1"),
        (900_000, 100_000),
    ),
    "alb": (
        None,
        _ALB,
        ("2023-10-10T13:55:36.900001Z", "2023-10-10T13:55:36.000100Z"),
        (900_001, 100),
    ),
    "elb": (
        None,
        _ELB,
        ("2023-10-10T13:55:36.900001Z", "2023-10-10T13:55:36.000100Z"),
        (900_001, 100),
    ),
    "caddy": (None, _CADDY, ("1696946136.9000015", "1696946136.0001"), (900_001, 100)),
    "traefik json": (
        None,
        _TRAEFIK,
        ("2023-10-10T13:55:36.900001123Z", "2023-10-10T13:55:36.000100Z"),
        (900_001, 100),
    ),
}


def _records(path: Path, fmt: str | None, *extra: str) -> list[dict[str, object]]:
    args = ["records", str(path), "--format", "jsonl", *extra]
    if fmt:
        args += ["--log-format", fmt]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


@pytest.mark.parametrize("case", list(CASES))
def test_fraction_survives_into_records_and_orders_the_second(tmp_path: Path, case: str) -> None:
    fmt, template, times, usecs = CASES[case]
    lines = [template.format(t=t) for t in times]
    head = _W3C_HEAD if case == "w3c" else ""
    path = tmp_path / "access.log"
    path.write_text(head + "\n".join(lines) + "\n")
    rows = _records(path, fmt, "--fields", "line,time,usec")
    assert [r["usec"] for r in rows] == list(usecs)
    # One second for both, to the microsecond in usec, to the millisecond in time.
    assert {str(r["time"])[:19] for r in rows} == {"2023-10-10T13:55:36"}
    # isoformat: a fraction of .000 is not written.
    ms = [f".{u // 1000:03d}000" if u >= 1000 else "" for u in usecs]
    assert [str(r["time"])[19:-6] for r in rows] == ms
    first = 2 if head else 1
    ordered = _records(path, fmt, "--fields", "line,time", "--sort", "time")
    assert [r["line"] for r in ordered] == [first + 1, first]
    newest = _records(path, fmt, "--fields", "line", "--sort", "-time", "--limit", "1")
    assert newest == [{"line": first}]


def test_whole_seconds_records_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("1.2.3.4 - - [10/Oct/2023:13:55:36 +0200] " + _REQ + ' 200 5 "-" "curl/8.0"\n')
    rows = _records(path, None, "--fields", "time,local,usec")
    assert rows == [
        {"time": "2023-10-10T11:55:36+00:00", "local": "2023-10-10T13:55:36", "usec": 0}
    ]
