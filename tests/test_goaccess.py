"""logaudit agrees with GoAccess (1.7) on the same logs, with every hit counted as a person.

``logaudit summary LOG --bots include --top 0 --format json`` and
``goaccess LOG --log-format=COMBINED -q --no-ip-validation -o out.json`` must give the same
requests, visitor-days, bandwidth, not-found URLs, hits per URL and per-day hits, visitors and
bandwidth (METRICS.md: with ``--bots include`` visitor-days equal GoAccess's unique visitors).

GoAccess options, and why:

* ``--no-global-config``: the Debian ``/etc/goaccess/goaccess.conf`` must not change results.
* ``-q`` (``--no-query-string``): logaudit's paths have the query string removed.
* ``--no-ip-validation``: GoAccess rejects a line whose client is not an IP address (Apache
  writes host names with ``HostnameLookups On``; netdata's sample has ``localhost`` and
  ``2001:db8:2ce:1``). logaudit takes the client as written, so GoAccess is told to as well.
* ``--num-tests=0``: GoAccess gives up on a file whose first 10 lines are all bad.
* ``--max-items``: its JSON output keeps 366 rows per panel by default.
* Not ``--ignore-crawlers`` (everyone is a person here) and not ``--4xx-to-unique-count``
  (METRICS: a 4xx hit does not make a visitor; GoAccess's default is the same rule).

GoAccess quirks the comparison normalises (logaudit is right per METRICS.md / STYLE.md):

* Paths: GoAccess percent-decodes the request (``%2F`` -> ``/``, ``%3F`` -> ``?``, which ``-q``
  then cuts), trims whitespace the decoding exposed, and keeps a query string that starts the
  target (``GET ?a=1``). logaudit keeps paths as logged. Both sides are mapped to the same
  bytes by ``logaudit_key`` / ``goaccess_key``, hits summed over paths that merge.
* Escapes: nginx writes ``\\x22``, Apache ``\\"``; logaudit normalises both to ``\\x22`` and shows
  non-UTF-8 bytes as ``\\xHH``; GoAccess keeps what it read. Both sides are unescaped to bytes.
* GoAccess keys a URL by (path, method, protocol): rows are summed by path.
* A method outside GoAccess's fixed list (``SEARCH``, junk) makes the whole request line the
  key: the target is taken out of it the way logaudit does.
* Static files: the two extension lists differ, so pages and static files are compared as one
  set (every hit of a path, whatever its status); the not-found panel (404 only) on its own.
* Days: GoAccess lists days that have hits, logaudit every day between the first and the last.
* Bad lines: a line holding only ``\\r`` (a CRLF blank line) is a failed request for GoAccess
  and a blank line for logaudit.
* Lines of another layout, which logaudit rightly reports as bad lines, are read by GoAccess:
  ``%^`` before ``[`` skips anything, so with a leading virtual host (``vhost client - - [...``,
  a stray vcombined line) the vhost becomes the client; and a common (CLF) line in a combined
  log is a hit with agent ``-``. Such lines are left out of GoAccess's copy of the input.

Differences kept: absent from the logs used here, and neither side's JSON holds what it would
take to normalise them (the first would hide in the visitor counts, so a test checks that no
agent triggers it; the others would show as failures of the tests below):

* GoAccess percent-decodes and trims user agents and reads ``""`` as ``-``, so it merges
  visitor keys logaudit keeps apart (``%41x`` / ``Ax``, `` a `` / ``a``, ``""`` / ``-``).
* A request with a known method but no protocol, or one other than HTTP/1.0, 1.1, 2 and 3
  (``GET /x``, ``GET /x HTTP/0.9``), is keyed ``-`` by GoAccess; logaudit keeps its path.
* A size that is not a number counts as 0 for GoAccess; logaudit calls the line bad.

Known logaudit bugs are marked ``xfail(strict=True)`` with the bug: the assertion is the correct
behaviour, and the mark must go when the bug is fixed (strict makes the pass fail loudly).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from click.testing import CliRunner

from logaudit.cli import cli

GOACCESS = shutil.which("goaccess")

pytestmark = [
    pytest.mark.goaccess,
    pytest.mark.skipif(GOACCESS is None, reason="goaccess is not installed"),
]

# ---- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    where: str  # "shared" (../shared/data/logs), "sample" (sample_logs/) or "synthetic"
    files: tuple[str, ...] = ()
    goaccess_format: str = "COMBINED"
    # Extra arguments: logaudit's (--log-format) and GoAccess's (--date-format...).
    la_args: tuple[str, ...] = ()
    ga_args: tuple[str, ...] = ()
    # property -> the logaudit bug that makes it fail there (the BUG_* texts below)
    bugs: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


CASES = (
    # combined with nginx's "$http_x_forwarded_for" after the agent
    Case("shop", "shared", ("lnav/logfile_shop_access_log.0",)),
    # two lines whose remote user (%u) holds a space: "80.8.55.7 - John Begood [...]"
    Case("awstats-testglobal", "shared", ("awstats/testglobal.log",)),
    Case("awstats-testsmall", "shared", ("awstats/testsmall.log",)),
    Case("netdata-common", "shared", ("netdata/weblog_common.log",), "COMMON"),
    # ends with a vcombined line (a leading virtual host): left out of GoAccess's input
    Case("fail2ban-apache-badbots", "shared", ("fail2ban/apache-badbots.log",)),
    Case("fail2ban-nginx-bad-request", "shared", ("fail2ban/nginx-bad-request.log",)),
    # nginx error-log lines among the access lines: bad lines for both tools
    Case("fail2ban-nginx-botsearch", "shared", ("fail2ban/nginx-botsearch.log",)),
    Case("fail2ban-php-url-fopen", "shared", ("fail2ban/php-url-fopen.log",)),
    # Traefik's combined plus 3-4 fields, CRLF line ends and CR-only blank lines
    Case("fail2ban-traefik-auth", "shared", ("fail2ban/traefik-auth.log",)),
    # likewise ends with a vcombined line
    Case("beats-nginx", "shared", ("beats/nginx_access_access.log",)),
    Case("lnav-access", "shared", ("lnav/logfile_access_log.0",)),
    Case("sample_logs", "sample"),
    Case("edge-cases", "synthetic"),
    Case("apache-escapes", "synthetic"),
    # one CLF line among combined ones: still combined, that line bad
    Case("combined-with-a-common-line", "synthetic"),
    # W3C (IIS 8.5, 17 fields; IIS 10 with the default 15): detected from #Fields: by logaudit,
    # given to GoAccess as the equivalent specifier string.
    Case(
        "w3c-iis85",
        "shared",
        ("lnav/logfile_w3c_big.0",),
        "%d %t %^ %m %U %q %^ %^ %h %u %R %s %^ %^ %b %^ %L",
        ga_args=("--date-format=%Y-%m-%d", "--time-format=%T"),
    ),
    Case("w3c-iis10", "shared", ("netdata/weblog_u_ex221107.log",), "W3C"),
    # CloudFront: tab-separated W3C with its header; GoAccess's CLOUDFRONT name.
    Case("cloudfront", "shared", ("matomo/amazon_cloudfront_web.log",), "CLOUDFRONT"),
    # A custom nginx format with response times, and junk lines bad for both.
    Case(
        "nginx-custom-netdata-full",
        "shared",
        ("netdata/weblog_full.log",),
        '%v:%^ %h %^[%d:%t %^] "%r" %s %b %^ %T %^ %^ %^ %^ %^ %^ %^',
        la_args=(
            "--log-format",
            'nginx:$host:$server_port $remote_addr - - [$time_local] "$request" $status '
            "$body_bytes_sent $request_length $request_time $upstream_response_time $scheme "
            "$ssl_protocol $ssl_cipher $side $drink $random_time_field",
        ),
        ga_args=("--date-format=%d/%b/%Y", "--time-format=%T"),
    ),
)

# Lines written for the synthetic cases: each exercises a normalisation above.
_T = "[10/Oct/2020:13:55:36 +0000]"
_UA = '"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"'
SYNTHETIC: dict[str, list[str]] = {
    "edge-cases": [
        f'10.0.0.1 - - {_T} "GET /a%2Fb HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /a/b HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /a/b HTTP/1.1" 200 10 "-" {_UA}',  # a duplicate line
        f'10.0.0.1 - - {_T} "GET /x%3Fy=1 HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /trail%20 HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /caf%C3%A9?x=%20 HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET ?only=query HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "SEARCH /dav/ HTTP/1.1" 207 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GETX /getx HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "get /lower HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /h2 HTTP/2.0" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "CONNECT example.com:443 HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /img/Logo.PNG HTTP/1.1" 304 - "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /sp ace HTTP/1.1" 200 10 "-" {_UA}',
        '10.0.0.2 - - [10/Oct/2020:13:55:36 +0000] "GET /missing HTTP/1.1" 404 10 "-" "scan"',
        '10.0.0.3 - - [10/Oct/2020:13:55:36 +0000] "GET /gone HTTP/1.1" 444 0 "-" "a"',
        '10.0.0.3 - - [10/Oct/2020:13:55:36 +0000] "GET /gone HTTP/1.1" 499 0 "-" "a"',
        '10.0.0.4 - - [10/Oct/2020:13:55:36 +0000] "-" 400 0 "-" "-"',
        '10.0.0.4 - - [10/Oct/2020:13:55:36 +0000] "" 400 0 "-" "-"',
        '10.0.0.4 - - [10/Oct/2020:13:55:36 +0000] "\\x16\\x03\\x01\\x02" 400 0 "-" "-"',
        '10.0.0.5 - - [10/Oct/2020:13:55:36 +0000] "GET /boom HTTP/1.1" 500 10 "-" "b"',
        "crawl-66-249-66-1.googlebot.com - - [10/Oct/2020:13:55:36 +0000] "
        '"GET /robots.txt HTTP/1.1" 200 10 "-" "Googlebot/2.1"',
        f'2001:db8::7 - alice {_T} "POST /cart HTTP/1.1" 302 - "https://x.example/" {_UA}',
        # Days are the wall-clock dates as written: two days, whatever the offsets.
        f'10.0.0.6 - - [10/Oct/2020:23:55:36 -1000] "GET /tz HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.6 - - [11/Oct/2020:00:05:36 +1400] "GET /tz HTTP/1.1" 200 10 "-" {_UA}',
        "\r",  # a CRLF blank line
        # bad lines for both
        f'10.0.0.7 - - {_T} "GET /s600 HTTP/1.1" 600 10 "-" {_UA}',
        f'10.0.0.8 - - [10/Oct/2020:13:55:36] "GET /notz HTTP/1.1" 200 10 "-" {_UA}',
    ],
    # Apache escapes a quote in a header as \" (nginx as \x22).
    "apache-escapes": [
        f'10.0.0.1 - - {_T} "GET / HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /q HTTP/1.1" 200 10 "http://x.example/\\"y\\"" "UA \\"two\\""',
        f'10.0.0.2 - - {_T} "GET /q\\"x HTTP/1.1" 200 10 "-" "UA \\x22two\\x22"',
        f'10.0.0.2 - - {_T} "GET /q\\x22x HTTP/1.1" 200 10 "-" {_UA}',
    ],
    # A log whose format changed from common to combined: one client, two agents.
    "combined-with-a-common-line": [
        '10.0.0.1 - - [10/Oct/2020:13:55:35 +0000] "GET /old HTTP/1.1" 200 10',
        f'10.0.0.1 - - {_T} "GET / HTTP/1.1" 200 10 "-" {_UA}',
        f'10.0.0.1 - - {_T} "GET /a HTTP/1.1" 200 10 "https://x.example/" "curl/8.4.0"',
    ],
}


def params(prop: str) -> list[Any]:
    """The cases, each marked with the logaudit bug that breaks ``prop`` there, if any."""
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=c.bugs[prop])] if prop in c.bugs else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


# ---- running the two tools ---------------------------------------------------------------


def run_logaudit(paths: Iterable[Path], extra: Iterable[str] = ()) -> dict[str, Any]:
    """``logaudit summary PATH... --bots include --top 0 --format json``, in process."""
    args = ["summary", *map(str, paths), "--bots", "include", "--top", "0", "--format", "json"]
    args += list(extra)
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def run_goaccess(
    paths: Iterable[Path], log_format: str, out: Path, extra: Iterable[str] = ()
) -> dict[str, Any]:
    """GoAccess's JSON report of ``paths`` (plain files)."""
    args = [
        str(GOACCESS), *map(str, paths), "--no-global-config", f"--log-format={log_format}",
        "--no-query-string", "--no-ip-validation", "--num-tests=0", "--max-items=10000000",
        "--no-progress", "--no-parsing-spinner", "-o", str(out), *extra,
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Paths are raw bytes once GoAccess has percent-decoded them: not always UTF-8.
    data: dict[str, Any] = json.loads(out.read_bytes().decode("utf-8", "surrogateescape"))
    return data


# Lines GoAccess reads although they are not lines of the log's layout (logaudit rightly calls
# them bad): left out of GoAccess's copy of the input.
# A leading virtual host, "vhost client - - [": "%h %^[" takes the vhost as the client.
_IP = rb"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)"
_VHOST_FIRST = re.compile(rb"^\S+ " + _IP + rb" \S+ \S+ \[")
# A common (CLF) line in a combined log: GoAccess stops at the line's end, agent "-".
_COMMON_ONLY = re.compile(rb'^\S+ \S+ .*? \[[^\]]*\] "(?:[^"\\]|\\.)*" \S+ \S+\s*$')


def other_layout(line: bytes, log_format: str) -> bool:
    if log_format not in ("COMBINED", "COMMON"):
        return False  # a format string with a leading %v reads these lines as they are
    if _VHOST_FIRST.match(line):
        return True
    return log_format == "COMBINED" and bool(_COMMON_ONLY.match(line))


@dataclass
class Prepared:
    """What GoAccess reads (plain, quirk-triggering lines left out) and what was left out."""

    files: list[Path]
    dropped: int
    cr_only: int
    lines: list[bytes]


def prepare(sources: list[Path], log_format: str, tmp: Path) -> Prepared:
    files, dropped, cr_only, lines = [], 0, 0, []
    for i, src in enumerate(sources):
        raw = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
        keep = []
        for line in raw.splitlines(keepends=True):
            if other_layout(line, log_format):
                dropped += 1
                continue
            if line.strip(b"\n") == b"\r":
                cr_only += 1
            keep.append(line)
        dst = tmp / f"{i}-{src.name.removesuffix('.gz')}"
        dst.write_bytes(b"".join(keep))
        files.append(dst)
        lines.extend(keep)
    return Prepared(files, dropped, cr_only, lines)


@dataclass
class Pair:
    la: dict[str, Any]
    ga: dict[str, Any]
    prepared: Prepared

    def section(self, name: str) -> list[dict[str, Any]]:
        for s in self.la["sections"]:
            if s["name"] == name:
                rows: list[dict[str, Any]] = s["rows"]
                return rows
        raise AssertionError(f"no {name!r} section in logaudit's report")


@pytest.fixture(scope="module")
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Case], Pair]:
    """Both tools' reports for a case, each made once per module."""
    cache: dict[str, Pair] = {}

    def get(case: Case) -> Pair:
        if case.id not in cache:
            tmp = tmp_path_factory.mktemp(case.id)
            if case.where == "shared":
                root = request.getfixturevalue("shared_data") / "logs"
                sources = [root / f for f in case.files]
                for s in sources:
                    if not s.is_file():
                        pytest.skip(f"{s} is absent")
                la_inputs = sources
            elif case.where == "sample":
                root = request.getfixturevalue("sample_logs")
                sources = sorted(p for p in root.glob("access.log*") if p.is_file())
                if not sources:
                    pytest.skip("sample_logs/ is empty (python -m logaudit.samplegen)")
                la_inputs = [root]
            else:
                src = tmp / f"{case.id}.log"
                src.write_bytes(("\n".join(SYNTHETIC[case.id]) + "\n").encode())
                sources = la_inputs = [src]
            prepared = prepare(sources, case.goaccess_format, tmp)
            la = run_logaudit(la_inputs, case.la_args)
            ga = run_goaccess(
                prepared.files, case.goaccess_format, tmp / "goaccess.json", case.ga_args
            )
            cache[case.id] = Pair(la, ga, prepared)
        return cache[case.id]

    return get


# ---- normalising keys --------------------------------------------------------------------

_ESCAPE = re.compile(rb'\\x([0-9A-Fa-f]{2})|\\(["\\])')
# logaudit's own split of a request line (parse._REQUEST), for GoAccess's whole-line keys.
_REQUEST = re.compile(rb"^[A-Za-z][A-Za-z0-9_-]* (.*?)(?: [A-Za-z]+/[0-9.]+| -)?$", re.S)


def _unescape(b: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]) if m[1] else m[2], b)


def logaudit_key(path: str) -> bytes:
    """A logaudit path as GoAccess would key it: percent-decoded, trimmed, cut at ``?``."""
    b = unquote_to_bytes(path).strip(b" \t\n\r\v\f")
    return _unescape(b.split(b"?", 1)[0])


def goaccess_key(row: dict[str, Any]) -> bytes:
    """A GoAccess URL row's key as a path: the target of a whole-line key, cut at ``?``."""
    b = str(row["data"]).encode("utf-8", "surrogateescape")
    if row.get("method") == "---" and (m := _REQUEST.match(b)):
        b = m[1]  # a method GoAccess does not know: it keyed the whole request line
    return _unescape(b.split(b"?", 1)[0])


def la_hits(p: Pair, sections: Iterable[str]) -> Counter[bytes]:
    c: Counter[bytes] = Counter()
    for s in sections:
        for row in p.section(s):
            c[logaudit_key(row["path"])] += row["hits"]
    return c


def ga_hits(p: Pair, panels: Iterable[str]) -> Counter[bytes]:
    c: Counter[bytes] = Counter()
    for panel in panels:
        for row in p.ga[panel]["data"]:
            c[goaccess_key(row)] += row["hits"]["count"]
    return c


def mismatches(a: Counter[bytes], b: Counter[bytes]) -> list[tuple[bytes, int, int]]:
    return sorted((k, a[k], b[k]) for k in a.keys() | b.keys() if a[k] != b[k])


# ---- the properties ----------------------------------------------------------------------


@pytest.mark.parametrize("case", params("requests"))
def test_requests(pair: Callable[[Case], Pair], case: Case) -> None:
    p = pair(case)
    assert p.la["overview"]["requests"] == p.ga["general"]["valid_requests"]


@pytest.mark.parametrize("case", params("bad_lines"))
def test_bad_lines(pair: Callable[[Case], Pair], case: Case) -> None:
    p = pair(case)
    # Lines left out of GoAccess's input are bad for logaudit; CR-only lines are blank to it.
    expected = p.ga["general"]["failed_requests"] - p.prepared.cr_only + p.prepared.dropped
    assert p.la["bad_lines"]["total"] == expected


@pytest.mark.parametrize("case", params("visitor_days"))
def test_visitor_days(pair: Callable[[Case], Pair], case: Case) -> None:
    p = pair(case)
    assert p.la["overview"]["visitor_days"] == p.ga["general"]["unique_visitors"]


@pytest.mark.parametrize("case", params("bandwidth"))
def test_bandwidth(pair: Callable[[Case], Pair], case: Case) -> None:
    p = pair(case)
    assert p.la["overview"]["bandwidth"] == p.ga["general"]["bandwidth"]


@pytest.mark.parametrize("case", params("not_found"))
def test_not_found_urls(pair: Callable[[Case], Pair], case: Case) -> None:
    p = pair(case)
    la, ga = la_hits(p, ["not-found"]), ga_hits(p, ["not_found"])
    assert p.la["overview"]["not_found_urls"] == len(p.section("not-found"))
    assert len(la) == len(ga)
    assert mismatches(la, ga) == []


@pytest.mark.parametrize("case", params("hits_per_url"))
def test_hits_per_url(pair: Callable[[Case], Pair], case: Case) -> None:
    p = pair(case)
    la = la_hits(p, ["pages", "static", "not-found"])
    ga = ga_hits(p, ["requests", "static_requests", "not_found"])
    assert mismatches(la, ga) == []


@pytest.mark.parametrize("case", params("daily"))
def test_daily_hits_visitors_bandwidth(pair: Callable[[Case], Pair], case: Case) -> None:
    p = pair(case)
    la = {
        r["date"].replace("-", ""): (r["hits"], r["visitors"], r["bandwidth"])
        for r in p.section("daily")
        if r["hits"]
    }
    ga = {
        # GoAccess has no bytes column when the format has no size (IIS's default fields).
        r["data"]: (r["hits"]["count"], r["visitors"]["count"], r.get("bytes", {}).get("count", 0))
        for r in p.ga["visitors"]["data"]
    }
    assert la == ga


# The user agent of a combined line: the quoted field after status, size and referrer.
_AGENT = re.compile(rb'" [0-9]{3} \S+ "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"')
# What GoAccess reads differently in an agent: empty (as "-"), edge spaces, %XX (decoded).
_AGENT_QUIRK = re.compile(rb"^$|^\s|\s$|%[0-9A-Fa-f]{2}")


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.goaccess_format == "COMBINED"], ids=lambda c: c.id
)
def test_no_agent_goaccess_would_merge(pair: Callable[[Case], Pair], case: Case) -> None:
    """The visitor checks hold only while no user agent triggers GoAccess's agent decoding,
    which merges visitor keys logaudit keeps apart (see the module docstring)."""
    p = pair(case)
    agents = (m[1] for line in p.prepared.lines if (m := _AGENT.search(line)))
    assert [a for a in agents if _AGENT_QUIRK.search(a)] == []
