"""The sample-log generator: deterministic, well-formed, and carrying every kind of traffic."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit import samplegen
from logaudit.samplegen import PLANTED, generate_lines, main, write_rotated_set

COMBINED = re.compile(
    r"(?P<client>[0-9a-fA-F.:]+) - (?P<user>\S+) "
    r"\[(?P<time>\d{2}/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}"
    r":\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<method>GET|POST|HEAD|OPTIONS) (?P<target>\S+) (?P<proto>HTTP/(?:1\.[01]|2\.0))" '
    r"(?P<status>[1-5]\d\d) (?P<bytes>\d+|-) "
    r'"(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"\n'
)
Parsed = dict[str, list[re.Match[str] | None]]
FILES = ("access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log")  # oldest first


def parse(raw: bytes) -> re.Match[str] | None:
    """The strict reading of one line; None for a malformed one."""
    try:
        m = COMBINED.fullmatch(raw.decode("utf-8"))
        if m:
            datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
        return m
    except ValueError:
        return None


def read(path: Path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.splitlines(keepends=True)


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rotated")
    assert write_rotated_set(out) == list(PLANTED)
    return out


@pytest.fixture(scope="module")
def parsed(rotated: Path) -> Parsed:
    """Each file of the rotated set, line by line (None for a malformed line)."""
    return {name: [parse(raw) for raw in read(rotated / name)] for name in FILES}


@pytest.fixture(scope="module")
def records(parsed: Parsed) -> list[re.Match[str]]:
    """Every well-formed line of the rotated set, oldest first."""
    return [m for name in FILES for m in parsed[name] if m]


def times(records: Iterable[re.Match[str] | None]) -> list[datetime]:
    return [datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z") for m in records if m]


def test_same_seed_same_bytes() -> None:
    a = list(generate_lines(3000, seed=7))
    assert a == list(generate_lines(3000, seed=7))
    assert a != list(generate_lines(3000, seed=8))


def test_output_does_not_depend_on_string_hashing() -> None:
    cmd = [sys.executable, "-m", "logaudit.samplegen", "--lines", "1500", "--seed", "3"]
    runs = [
        subprocess.run(
            cmd, capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": h}
        ).stdout
        for h in ("1", "2")
    ]
    assert runs[0] == runs[1] and runs[0].count(b"\n") == 1500


def test_rotated_set_files_and_days(rotated: Path, parsed: Parsed) -> None:
    assert sorted(p.name for p in rotated.iterdir()) == sorted([*FILES, "README.md"])
    for age, name in enumerate(reversed(FILES)):
        day = samplegen.DEFAULT_START + timedelta(samplegen.DEFAULT_DAYS - 1 - age)
        assert {t.date() for t in times(parsed[name])} == {day}, name
        assert 2500 <= len(parsed[name]) <= 6000
    assert (rotated / "access.log.2.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert "python -m logaudit.samplegen --out" in (rotated / "README.md").read_text()


def test_rotated_set_is_in_time_order(records: list[re.Match[str]]) -> None:
    stamps = times(records)
    assert stamps == sorted(stamps)


def test_only_the_planted_lines_are_malformed(rotated: Path, parsed: Parsed) -> None:
    bad = {(name, i) for name in FILES for i, m in enumerate(parsed[name], 1) if m is None}
    assert bad == {(p.file, p.line) for p in PLANTED}
    assert b"\xff\xfe" in read(rotated / "access.log.1")[2303 - 1]
    for p in PLANTED:  # the module docstring documents each of them
        assert re.search(rf"{re.escape(p.file)}\s+{p.line}\s+{p.kind}", samplegen.__doc__ or "")


def test_committed_sample_logs_match_the_generator(rotated: Path, sample_logs: Path) -> None:
    for name in FILES:
        assert read(sample_logs / name) == read(rotated / name), f"regenerate {name}"


def test_people_and_their_sources(records: list[re.Match[str]]) -> None:
    targets = [m["target"] for m in records]
    referrers = {m["referrer"] for m in records}
    for needle in (
        "utm_source=",
        "utm_medium=",
        "utm_campaign=",
        "gclid=",
        "fbclid=",
        "ref=partner42",
        "/cart",
        "/checkout",
        "/order/complete?order=",
    ):
        assert any(needle in t for t in targets), needle
    for engine in (
        "google.com/search?q=",
        "bing.com/search?q=",
        "duckduckgo.com/?q=",
        "yandex.ru/search/?text=",
        "baidu.com/s?wd=",
    ):
        assert any(engine in r for r in referrers), engine
    assert any(r.startswith("https://t.co/") for r in referrers)
    assert any(r.startswith(samplegen.SITE + "/") for r in referrers)
    assert "-" in referrers
    assert any(m["status"] == "304" and m["bytes"] == "-" for m in records)
    assert {"GET", "POST", "HEAD", "OPTIONS"} <= {m["method"] for m in records}
    clients = {m["client"] for m in records}
    assert any(":" in c for c in clients) and any(c.startswith("192.168.") for c in clients)


def test_crawlers_and_tools(records: list[re.Match[str]]) -> None:
    agents = {m["agent"] for m in records}
    for bot in (
        "Googlebot/2.1",
        "bingbot/2.0",
        "AhrefsBot",
        "YandexBot",
        "curl/",
        "Wget/",
        "python-requests/",
        "Go-http-client/",
    ):
        assert any(bot in a for a in agents), bot
    googlebot = [m for m in records if "Googlebot/2.1" in m["agent"]]
    assert all(m["client"].startswith("66.249.") for m in googlebot)
    assert any(m["target"] == "/robots.txt" for m in records)
    assert any(m["target"] == "/sitemap.xml" for m in records)


def test_scanner_burst(records: list[re.Match[str]]) -> None:
    scan = [m for m in records if m["client"] == samplegen.SCANNER_IP]
    assert len(scan) >= 40
    assert {m["status"] for m in scan} == {"403", "404"}
    assert {"/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/"} <= {m["target"] for m in scan}
    span = times((scan[0], scan[-1]))
    assert span[1] - span[0] < timedelta(minutes=5)


def test_5xx_burst(records: list[re.Match[str]]) -> None:
    errors = [m for m in records if m["status"] in ("500", "502", "503")]
    assert len(errors) >= 20
    assert all(m["target"].startswith(("/checkout", "/api/")) for m in errors)
    stamps = times(errors)
    assert max(stamps) - min(stamps) <= timedelta(minutes=21)


def test_hostile_text(records: list[re.Match[str]]) -> None:
    assert any("%3Cscript%3Ealert(1)" in m["target"] for m in records)
    assert any(m["target"] == "/<script>alert(1)</script>" for m in records)
    assert any("[bold red]pwn[/]" in m["agent"] for m in records)
    assert any("\\x1B[31m" in m["agent"] for m in records)
    assert any('\\"' in m["referrer"] for m in records)


@pytest.mark.parametrize("n", [0, 1, 7, 2500])
def test_generate_lines_gives_exactly_n(n: int) -> None:
    lines = list(generate_lines(n, days=3, start=date(2026, 3, 1)))
    assert len(lines) == n and all(parse(raw) for raw in lines)
    stamps = times(map(parse, lines))
    assert stamps == sorted(stamps)
    assert all(date(2026, 3, 1) <= t.date() <= date(2026, 3, 3) for t in stamps)


def test_cli_lines_to_file_and_stdout(tmp_path: Path) -> None:
    out = tmp_path / "big.log"
    args = ["--lines", "4000", "--days", "2", "--tz-offset", "-0500"]
    result = CliRunner().invoke(main, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = read(out)
    assert len(lines) == 4000 and all(parse(raw) for raw in lines)
    assert all(b" -0500] " in raw for raw in lines)
    assert CliRunner().invoke(main, [*args, "--output", "-"]).stdout_bytes == out.read_bytes()


def test_cli_bad_lines() -> None:
    result = CliRunner().invoke(main, ["--lines", "3000", "--bad-lines", "6"])
    lines = result.stdout_bytes.splitlines(keepends=True)
    assert len(lines) == 3000
    assert sum(parse(raw) is None for raw in lines) == 6


def test_cli_rejects_a_bad_offset() -> None:
    result = CliRunner().invoke(main, ["--lines", "10", "--tz-offset", "0100"])
    assert result.exit_code == 2 and "UTC offset" in result.output
