"""A client logged with its port (``addr:port``): the port is what follows the LAST colon.

AWS ALB and ELB and HAProxy write an IPv6 client without brackets
(``2a02:a33c:4538:1:bcf4:5264:e01c:f215:50718``, goaccess issue #2557); cut at the first colon,
every client of a /16 became one host ``2a02`` (QA20 finding 1). ``[addr]:port`` gives the
address, IPv4 ``a.b.c.d:port`` is unchanged. The same holds for a format string's
``%h:%{remote}p``, ``$remote_addr:$remote_port`` and GoAccess's ``%h:%^``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.cli import cli
from logaudit.formats import FORMATS, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

V6 = "2a02:a33c:4538:1:bcf4:5264:e01c:f215"
CLIENTS = [
    (f"{V6}:50718", V6),
    ("[2001:db8::5]:4000", "2001:db8::5"),
    ("2001:db8::7:55008", "2001:db8::7"),
    ("203.0.113.5:2817", "203.0.113.5"),
]

FAMILIES = ("alb", "elb", "haproxy")
_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
# One line per family, {c} the client with its port.
LINES = {
    "alb": (
        "h2 2023-09-10T23:55:00.361692Z app/my-alb/abc {c} 10.0.0.1:80 0.000 0.003 0.000 "
        '200 200 29 805 "GET https://api.example.nl:443/x HTTP/2.0" "' + _AGENT + '" '
        "ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2"
    ),
    "elb": (
        "2015-05-13T23:39:43.945958Z my-loadbalancer {c} 10.0.0.1:80 0.000086 0.001048 "
        '0.001337 200 200 0 57 "GET https://www.example.com:443/x HTTP/1.1" "' + _AGENT + '" '
        "DHE-RSA-AES128-SHA TLSv1.2"
    ),
    "haproxy": (
        "Sep 25 06:05:27 hostname haproxy[6801]: {c} [25/Sep/2018:06:05:27.584] ft_https~ "
        'bk_https/abc 0/0/0/72/72 200 7456 - - ---- 5/4/0/1/0 0/0 "GET /x HTTP/1.1"'
    ),
    'apache:%h:%{remote}p %l %u %t "%r" %>s %b': (
        '{c} - - [10/Mar/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5'
    ),
    'nginx:$remote_addr:$remote_port - $remote_user [$time_local] "$request" $status '
    "$body_bytes_sent": '{c} - - [10/Mar/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5',
    'goaccess:%h:%^ %^[%d:%t %^] "%r" %s %b': (
        '{c} - - [10/Mar/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5'
    ),
    # Space-delimited (the CSV reader's tokens, each split by Token.split_regex).
    'goaccess:%h:%^ - - [%d:%t %^] "%r" %s %b': (
        '{c} - - [10/Mar/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5'
    ),
}


def _clients(fmt: str, lines: list[str]) -> tuple[list[str], BadLines]:
    """The client of each line, read as ``fmt`` (a family: detected, as a user's run does)."""
    raw = "".join(line + "\n" for line in lines).encode()
    det = detect(raw, "a.log", None if fmt in FAMILIES else fmt)
    assert det.format.name == (fmt if fmt in FAMILIES else "custom")
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("a.log", None), raw.count(b"\n")), det, bad)
    return frame.sort_values("line")["client"].astype(str).tolist(), bad


@pytest.mark.parametrize("fmt", list(LINES))
def test_the_port_is_what_follows_the_last_colon(fmt: str) -> None:
    lines = [LINES[fmt].format(c=logged) for logged, _ in CLIENTS]
    got, bad = _clients(fmt, lines)
    assert bad.total == 0, bad.samples
    assert got == [want for _, want in CLIENTS]


def _alb_log(tmp_path: Path) -> Path:
    log = tmp_path / "alb.log"
    log.write_text("".join(LINES["alb"].format(c=logged) + "\n" for logged, _ in CLIENTS))
    return log


def test_a_client_range_and_the_hosts_see_whole_ipv6_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    log = str(_alb_log(tmp_path))
    got = CliRunner().invoke(
        cli,
        ["records", log, "--client", "2a02:a33c::/32", "--fields", "client", "--format", "jsonl"],
    )
    assert got.exit_code == 0, got.output
    assert [json.loads(r)["client"] for r in got.stdout.splitlines()] == [V6]
    got = CliRunner().invoke(cli, ["summary", log, "--format", "json"])
    assert got.exit_code == 0, got.output
    report = json.loads(got.stdout)
    assert report["overview"]["unique_visitors"] == len(CLIENTS)


def test_scrub_masks_the_whole_address_and_keeps_the_rest_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    log = _alb_log(tmp_path)
    kept, masked = tmp_path / "kept.log", tmp_path / "masked.log"
    for out, ip in ((kept, "keep"), (masked, "mask")):
        got = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out), "--ip", ip])
        assert got.exit_code == 0, got.output
    assert kept.read_bytes() == log.read_bytes()  # "[2001:db8::5]:4000" with its brackets
    clients = [line.split()[3] for line in masked.read_text().splitlines()]
    # IPv6 keeps its first 48 bits (the old cut masked "2a02" alone and left the rest).
    assert clients[0] == "2a02:a33c:4538:::50718"
    assert clients[1] == "[2001:db8::]:4000"  # bracketed: the same 48 bits, brackets kept
    assert clients[2] == "2001:db8:::55008"
    assert clients[3] == "203.0.113.0:2817"


def test_scrub_hashes_a_bracketed_client_as_its_bare_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One address, logged [addr]:port and addr:port: one pseudonym (review rev20-d #3).
    isolate(monkeypatch, tmp_path)
    log, out = tmp_path / "alb.log", tmp_path / "hashed.log"
    log.write_text(
        "".join(LINES["alb"].format(c=c) + "\n" for c in ("[2001:db8::5]:4000", "2001:db8::5:4001"))
    )
    got = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out), "--ip", "hash"])
    assert got.exit_code == 0, got.output
    first, second = (line.split()[3] for line in out.read_text().splitlines())
    assert first.startswith("[anon-") and first.endswith("]:4000")
    assert first[1:].removesuffix("]:4000") == second.removesuffix(":4001")


def test_a_bracketed_client_is_the_bare_client_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A combined log's "[2001:db8::1]" and "2001:db8::1" are one host and one visitor (review
    # rev20-d #4: parse._unbracketed reads every format so); scrub masks both alike.
    isolate(monkeypatch, tmp_path)
    log = tmp_path / "access.log"
    line = '{c} - - [10/Mar/2026:10:00:0{s} +0000] "GET /x HTTP/1.1" 200 5 "-" "' + _AGENT + '"\n'
    log.write_text(line.format(c="[2001:db8::1]", s=0) + line.format(c="2001:db8::1", s=1))
    got = CliRunner().invoke(cli, ["summary", str(log), "--format", "json"])
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["overview"]["unique_visitors"] == 1
    got = CliRunner().invoke(
        cli, ["records", str(log), "--fields", "client", "--format", "jsonl"]
    )
    assert got.exit_code == 0, got.output
    assert [json.loads(r)["client"] for r in got.stdout.splitlines()] == ["2001:db8::1"] * 2
    out = tmp_path / "masked.log"
    got = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out), "--ip", "mask"])
    assert got.exit_code == 0, got.output
    assert [r.split()[0] for r in out.read_text().splitlines()] == ["[2001:db8::]", "2001:db8::"]


@pytest.mark.parametrize("fmt", list(LINES))
def test_a_bracketed_client_without_a_port_is_read_whole(fmt: str) -> None:
    # "[2001:db8::1]" with no ":port" was cut at its last colon: client "[2001:db8:", a host
    # of its own. AWS and HAProxy document client:port and write IPv6 bare, so this comes
    # from a rewritten log; the brackets say where the address ends.
    lines = [LINES[fmt].format(c=c) for c in ("[2001:db8::1]", "[2001:db8::1]:4000", "[::1]")]
    got, bad = _clients(fmt, lines)
    assert bad.total == 0, bad.samples
    assert got == ["2001:db8::1", "2001:db8::1", "::1"]


@pytest.mark.parametrize("fmt", FAMILIES)
@pytest.mark.parametrize("client", ["[-]", "[unknown]"])
def test_only_an_address_is_a_bracketed_client(fmt: str, client: str) -> None:
    # The "[addr]" branch took any bracketed text without spaces ("[-]"), in strict detection
    # too (a bracketed date with colons is cut at its last colon by the addr:port branch, as
    # it was before that branch: not this test's).
    pattern = re.compile(FORMATS[fmt].detect_regex())
    assert pattern.match(LINES[fmt].format(c="[2001:db8::1]") + "\n")
    assert not pattern.match(LINES[fmt].format(c=client) + "\n")


@pytest.mark.parametrize(
    "fmt", ["alb", 'goaccess:%h:%^ - - [%d:%t %^] "%r" %s %b', "apache:%h:%{remote}p %l %u %t "
            '"%r" %>s %b']
)
def test_scrub_masks_a_bracketed_client_without_a_port_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # alb's "[2001:db8::1]" was cut at its last colon and written "*:1]"; a delimited layout's
    # "%h:%^" token was cut the same way.
    isolate(monkeypatch, tmp_path)
    log, out = tmp_path / "a.log", tmp_path / "masked.log"
    log.write_text("".join(LINES[fmt].format(c=c) + "\n" for c in ("[2001:db8::1]", "[::1]:443")))
    args = [] if fmt in FAMILIES else ["--log-format", fmt]
    got = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out), "--ip", "mask", *args])
    assert got.exit_code == 0, got.output
    at = 3 if fmt == "alb" else 0
    assert [r.split()[at] for r in out.read_text().splitlines()] == ["[2001:db8::]", "[::]:443"]
