"""The command line, in process with Click's CliRunner: every command, every input error with its
documented exit code and one clean line on stderr, options, output formats and hostile text.

Click >= 8.2 keeps stdout and stderr apart on the result (``result.stdout``, ``result.stderr``;
the ``mix_stderr`` argument is gone), which these tests rely on.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from loglines import CHROME, CURL, FIREFOX, GOOGLEBOT, isolate, line, utc, write

import logaudit
from logaudit.analyze import SECTIONS
from logaudit.cli import cli
from logaudit.config import BOTS_MODES
from logaudit.errors import ExitCode
from logaudit.formats import FORMATS


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    for k in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def run(*args: str | Path, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True)


def report(*args: str | Path, input: bytes | None = None, code: int = 0) -> dict:
    r = run("summary", *args, "--format", "json", input=input)
    assert r.exit_code == code, (r.exit_code, r.stderr, r.exception)
    return json.loads(r.stdout)


def clean_failure(r: Result, code: int, *mentions: str, lines: int | None = 1) -> None:
    """The documented exit code, no traceback, each stderr line a 'logaudit:' message."""
    assert r.exit_code == code, (r.exit_code, r.stderr, r.exception)
    assert isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.stderr + r.stdout
    err = r.stderr.splitlines()
    assert err, "nothing said on stderr"
    assert all(e.startswith("logaudit: ") for e in err), err
    assert "internal error" not in r.stderr
    if lines is not None:
        assert len(err) == lines, err
    for m in mentions:
        assert m in r.stderr


# A small site over three days: two people (three visitor keys), one crawler, one 404 prober.
SITE = [
    line(client="203.0.113.10", when=utc(2024, 3, 1, 9, 0, 0), request="GET / HTTP/1.1"),
    line(client="203.0.113.10", when=utc(2024, 3, 1, 9, 0, 5), request="GET /style.css HTTP/1.1"),
    line(
        client="203.0.113.11",
        when=utc(2024, 3, 1, 10, 0, 0),
        request="GET /about HTTP/1.1",
        agent=CHROME,
    ),
    line(
        client="66.249.66.1",
        when=utc(2024, 3, 1, 11, 0, 0),
        request="GET /about HTTP/1.1",
        agent=GOOGLEBOT,
    ),
    line(
        client="66.249.66.1",
        when=utc(2024, 3, 2, 11, 0, 0),
        request="GET /robots.txt HTTP/1.1",
        agent=GOOGLEBOT,
    ),
    line(
        client="203.0.113.12",
        when=utc(2024, 3, 2, 12, 0, 0),
        request="GET /missing HTTP/1.1",
        status=404,
    ),
    line(client="203.0.113.10", when=utc(2024, 3, 3, 8, 0, 0), request="GET /contact?x=1 HTTP/1.1"),
    line(
        client="203.0.113.11",
        when=utc(2024, 3, 3, 23, 30, 0),
        request="GET / HTTP/1.1",
        agent=CHROME,
    ),
]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write(tmp_path / "access.log", SITE)


# ---- commands -------------------------------------------------------------------------------


def test_version() -> None:
    r = run("--version")
    assert r.exit_code == 0
    assert logaudit.__version__ in r.stdout and "logaudit" in r.stdout


def test_help_lists_every_command() -> None:
    r = run("--help")
    assert r.exit_code == 0
    for name in cli.commands:
        assert name in r.stdout
    assert run("-h").stdout == r.stdout


@pytest.mark.parametrize("command", list(cli.commands))
def test_every_command_has_help(command: str) -> None:
    r = run(command, "--help")
    assert r.exit_code == 0 and "Usage:" in r.stdout


def test_summary_help_choices_come_from_the_registries() -> None:
    text = " ".join(run("summary", "--help").stdout.split())
    for name in FORMATS:
        assert name in text
    for name in SECTIONS:
        assert name in text
    for mode in BOTS_MODES:
        assert mode in text


def test_formats_command_lists_every_format_with_a_sample() -> None:
    r = run("formats")
    assert r.exit_code == 0
    for name, fmt in FORMATS.items():
        assert name in r.stdout
        assert fmt.samples[0] in r.stdout


def test_sections_command_lists_every_section() -> None:
    r = run("sections")
    assert r.exit_code == 0
    names = [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]
    assert names == list(SECTIONS)


def test_summary_terminal_output(site: Path) -> None:
    r = run("summary", site)
    assert r.exit_code == 0, r.stderr
    assert "Overview" in r.stdout and "Requests" in r.stdout
    assert "\x1b" not in r.stdout  # not a terminal: no colour
    assert r.stderr == ""


# ---- JSON shape -----------------------------------------------------------------------------


def test_json_schema(site: Path) -> None:
    d = report(site)
    ov = d["overview"]
    for key in (
        "requests",
        "bad_lines",
        "page_views",
        "visitor_days",
        "unique_visitors",
        "bandwidth",
        "first",
        "last",
    ):
        assert key in ov, key
    assert isinstance(ov["requests"], int) and isinstance(ov["bandwidth"], int)
    assert datetime.fromisoformat(ov["first"]) <= datetime.fromisoformat(ov["last"])
    assert isinstance(d["sections"], list) and d["sections"]
    for s in d["sections"]:
        assert {"name", "title", "rows"} <= set(s)
        assert s["name"] in SECTIONS
        assert isinstance(s["title"], str) and s["title"]
        assert isinstance(s["rows"], list)
        assert all(isinstance(row, dict) for row in s["rows"])
    assert d["overview"]["requests"] == len(SITE)
    assert d["overview"]["bad_lines"] == 0
    assert d["overview"]["bandwidth"] == 100 * len(SITE)
    assert d["overview"]["first"] == "2024-03-01T09:00:00+00:00"
    assert d["overview"]["last"] == "2024-03-03T23:30:00+00:00"


def test_output_file_format_from_extension(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    r = run("summary", site, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    assert json.loads(out.read_text())["overview"]["requests"] == len(SITE)


def test_output_csv_from_extension(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "status.csv"
    r = run("summary", site, "--section", "status", "-o", out)
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {row["status"]: int(row["hits"]) for row in rows} == {"200": 7, "404": 1}


def test_output_text_file_has_no_escape_codes(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.txt"
    r = run("summary", site, "-o", out)
    assert r.exit_code == 0, r.stderr
    text = out.read_text()
    assert "Overview" in text and "\x1b" not in text


def test_explicit_format_wins_over_the_extension(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert run("summary", site, "--format", "json", "-o", out).exit_code == 0
    json.loads(out.read_text())


def test_output_into_a_missing_directory_is_a_clean_error(site: Path, tmp_path: Path) -> None:
    r = run("summary", site, "-o", tmp_path / "no" / "such" / "dir" / "x.json")
    assert r.exit_code not in (0, ExitCode.ERROR)
    clean_failure(r, r.exit_code, "x.json")


def test_section_and_top(site: Path) -> None:
    d = report(site, "--section", "status", "--section", "pages", "--top", "2")
    assert {s["name"] for s in d["sections"]} == {"status", "pages"}
    pages = next(s for s in d["sections"] if s["name"] == "pages")
    assert len(pages["rows"]) == 2
    assert pages["total_rows"] == 3  # /, /about, /contact
    assert pages["rows"][0]["path"] == "/"  # ranked by hits: / has 2


def test_top_zero_shows_every_row(site: Path) -> None:
    d = report(site, "--section", "hosts", "--top", "0")
    [hosts] = d["sections"]
    assert len(hosts["rows"]) == hosts["total_rows"] == 4


# ---- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, requests",
    [
        (("--since", "2024-03-02"), 4),
        (("--until", "2024-03-02"), 4),
        (("--since", "2024-03-02", "--until", "2024-03-03"), 2),
        (("--since", "2024-03-01 10:00", "--until", "2024-03-01T11:00:01"), 2),
        (("--since", "2024-03-03T23:30:00"), 1),
    ],
)
def test_since_until_absolute(site: Path, args: tuple[str, ...], requests: int) -> None:
    assert report(site, *args)["overview"]["requests"] == requests


def test_since_until_with_tz(site: Path) -> None:
    # 2024-03-03 23:30 UTC is 2024-03-04 03:00 in Tehran (+03:30).
    d = report(site, "--tz", "Asia/Tehran", "--since", "2024-03-04", "--section", "daily")
    assert d["overview"]["requests"] == 1
    assert [r["date"] for r in d["sections"][0]["rows"]] == ["2024-03-04"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("summary", "--since", "99999999d"), "more than 36500d"),  # OverflowError before
        (("summary", "--since", "999999999999d"), "more than 36500d"),  # int too large
        (("summary", "--until", "9999999999999m"), "more than 36500d"),
        (("problems", "--last", "999999999999m"), "more than 36500d"),  # OutOfBoundsDatetime
        (("campaigns", "--goal", "/a", "--window", "999999999w"), "more than 36500d"),
        (("watch", "--interval", "1e308"), "--interval"),  # slept past time_t
        (("watch", "--interval", "inf"), "--interval"),
        (("watch", "--interval", "nan"), "--interval"),
    ],
)
def test_a_duration_out_of_range_is_one_line_exit_2(
    site: Path, args: tuple[str, ...], said: str
) -> None:
    """QA18 #2: each crashed (exit 1, "internal error")."""
    clean_failure(run(args[0], site, *args[1:]), ExitCode.USAGE, said)


def test_a_duration_with_leading_zeros_is_its_value() -> None:
    from logaudit.timespec import duration_seconds, relative_seconds

    # The limit counted digits: 0000000000001d (one day) was "more than 36500d".
    assert relative_seconds("0000000000001", "d") == 86400
    assert duration_seconds("0000000000001d") == 86400
    assert duration_seconds("00000000000090") == 90
    with pytest.raises(ValueError, match="more than"):
        duration_seconds("0" * 20 + "9" * 13)


def test_last_takes_weeks_like_since() -> None:
    from logaudit.analyze.problems import limits, when

    assert limits.duration("1w") == 7 * 86400  # refused before, while --since 2w worked
    assert when(400 * 365 * 1440) == "2369-09-26 00:00"  # past pandas' 2262 (OutOfBounds)


@pytest.mark.parametrize("hours", [9, -8])
def test_since_in_minutes_or_hours_is_the_last_minutes_whatever_the_logs_offset(
    tmp_path: Path, hours: int
) -> None:
    """QA18 #3: --since 90m took the machine's wall clock minus 90 min for the log's wall
    clock: a log 9 h ahead of the machine counted 9 h more, one 8 h behind none (exit 8)."""
    from datetime import timezone

    machine = datetime.now().astimezone().utcoffset() or timedelta(0)
    zone = timezone(machine + timedelta(hours=hours))
    now = datetime.now(UTC)
    # One line every 10 min for two days, the newest 5 min ago: 9 in the last 90 minutes.
    times = [(now - timedelta(minutes=5 + 10 * k)).astimezone(zone) for k in range(288)]
    lines = [line(when=t.strftime("%d/%b/%Y:%H:%M:%S %z")) for t in times[::-1]]
    log = write(tmp_path / "a.log", lines)
    assert report(log, "--since", "90m")["overview"]["requests"] == 9
    assert report(log, "--since", "3h", "--until", "90m")["overview"]["requests"] == 9
    assert report(log, "--since", "90m", "--tz", "UTC")["overview"]["requests"] == 9


@pytest.mark.parametrize("machine", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_since_with_an_offset_is_an_instant_and_plain_dates_the_logs_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, machine: str
) -> None:
    # A log written at +01:00: 23:30 and 00:30 local are 22:30 and 23:30 UTC of 2 March.
    whens = [
        "02/Mar/2024:23:30:00 +0100",
        "03/Mar/2024:00:30:00 +0100",
        "03/Mar/2024:01:30:00 +0100",
    ]
    log = write(tmp_path / "p.log", [line(when=w) for w in whens])
    monkeypatch.setenv("TZ", machine)
    # An explicit offset names an instant (QA16 #3: it was converted to the machine's zone,
    # then compared with the log's wall clock, off by the log's offset).
    utc = ("--since", "2024-03-02T23:00:00+00:00", "--until", "2024-03-03T00:00:00Z")
    assert report(log, *utc)["overview"]["requests"] == 1
    assert report(log, "--since", "2024-03-03T00:00:00+01:00")["overview"]["requests"] == 2
    # A plain date is the report's day: the log's own wall clock, as its daily table.
    assert report(log, "--since", "2024-03-03")["overview"]["requests"] == 2


def test_an_instant_since_is_shown_as_the_instant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was shown on the machine's clock (2024-03-02T18:00:00 in New York) labelled "log
    # offset", the log's clock, which it is not.
    log = write(tmp_path / "p.log", [line(when="03/Mar/2024:00:30:00 +0100")])
    monkeypatch.setenv("TZ", "America/New_York")
    d = report(log, "--since", "2024-03-02T23:00:00+00:00", "--until", "2024-03-03T00:00:00Z")
    assert d["settings"]["since"] == "2024-03-02T23:00:00+00:00"
    assert d["settings"]["until"] == "2024-03-03T00:00:00+00:00"
    r = run("summary", log, "--since", "2024-03-03T00:00:00+00:00")
    assert "no request from 2024-03-03 00:00:00+00:00 to the end" in r.stdout
    assert "(log offset)" not in r.stdout
    assert report(log, "--since", "2024-03-02")["settings"]["since"] == "2024-03-02T00:00:00"


@pytest.fixture
def recent(tmp_path: Path) -> Path:
    now = datetime.now(UTC).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0)
    whens = [
        midnight - timedelta(days=10),  # outside 7d
        midnight - timedelta(days=3, hours=-12),  # inside 7d
        midnight - timedelta(hours=12),  # yesterday noon
        now - timedelta(seconds=1) if now - timedelta(seconds=1) >= midnight else midnight,  # today
    ]
    return write(
        tmp_path / "recent.log",
        [line(when=w, request=f"GET /{i} HTTP/1.1") for i, w in enumerate(whens)],
    )


@pytest.mark.parametrize(
    "args, requests",
    [
        (("--since", "7d"), 3),
        (("--since", "yesterday", "--until", "today"), 1),
        (("--since", "today"), 1),
        (("--until", "yesterday"), 2),
        (("--since", "2w"), 4),
        (("--since", "48h"), 2),
    ],
)
def test_since_until_relative(recent: Path, args: tuple[str, ...], requests: int) -> None:
    assert report(recent, "--tz", "UTC", *args)["overview"]["requests"] == requests


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2d", datetime(2026, 12, 6)),  # was 2026-12-06 01:05:30 (QA23 F6)
        ("1d", datetime(2026, 12, 7)),  # yesterday
        ("0d", datetime(2026, 12, 8)),  # today
        ("1w", datetime(2026, 12, 1)),
        ("yesterday", datetime(2026, 12, 7)),
        ("90m", datetime(2026, 12, 7, 23, 35, 30)),  # minutes and hours stay instants
        ("2h", datetime(2026, 12, 7, 23, 5, 30)),
    ],
)
def test_days_back_are_midnights_as_yesterday_is(text: str, want: datetime) -> None:
    from logaudit.timespec import parse_when

    assert parse_when(text, now=datetime(2026, 12, 8, 1, 5, 30)) == want


def test_tz_moves_days_and_hours(site: Path) -> None:
    own = report(site, "--section", "daily", "--section", "hours")
    teh = report(site, "--tz", "Asia/Tehran", "--section", "daily", "--section", "hours")
    days = {s["name"]: s for s in own["sections"]}["daily"]["rows"]
    assert [r["date"] for r in days] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    tdays = {s["name"]: s for s in teh["sections"]}["daily"]["rows"]
    assert [r["date"] for r in tdays] == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    hours = {r["hour"]: r["hits"] for r in {s["name"]: s for s in teh["sections"]}["hours"]["rows"]}
    assert hours["03"] == 1 and hours["23"] == 0  # 23:30 UTC -> 03:00 in Tehran
    assert teh["overview"]["last_local"] == "2024-03-04T03:00:00"
    assert teh["overview"]["last"] == own["overview"]["last"]  # the instant does not move


def test_tz_is_validated() -> None:
    clean_failure(run("summary", "--tz", "Mars/Olympus", "x.log"), ExitCode.CONFIG, "Mars/Olympus")
    # --since reads the time in that zone: it was an internal ZoneInfoNotFoundError.
    r = run("summary", "--since", "2019-01-01", "--tz", "Mars/Olympus", "x.log")
    clean_failure(r, ExitCode.CONFIG, "Mars/Olympus")


@pytest.mark.parametrize(
    "mode, requests, page_views, crawler_hits",
    [
        ("auto", 8, 4, 2),  # crawlers in hits, not in people metrics
        ("include", 8, 5, 2),  # Googlebot's /about counts as a page view
        ("exclude", 6, 4, 0),
        ("only", 2, 1, 2),
    ],
)
def test_bots_modes(
    site: Path, mode: str, requests: int, page_views: int, crawler_hits: int
) -> None:
    ov = report(site, "--bots", mode)["overview"]
    assert (ov["requests"], ov["page_views"], ov["crawler_hits"]) == (
        requests,
        page_views,
        crawler_hits,
    )


def test_bots_default_is_auto(site: Path) -> None:
    assert report(site)["overview"] == report(site, "--bots", "auto")["overview"]


# ---- inputs ---------------------------------------------------------------------------------


def test_stdin() -> None:
    raw = ("\n".join(SITE) + "\n").encode()
    assert report("-", input=raw)["overview"]["requests"] == len(SITE)


def test_gzip_on_stdin() -> None:
    raw = gzip.compress(("\n".join(SITE) + "\n").encode())
    assert report("-", input=raw)["overview"]["requests"] == len(SITE)


def test_several_files_and_a_rotated_directory(tmp_path: Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    write(d / "access.log", SITE[4:])
    (d / "access.log.1.gz").write_bytes(gzip.compress(("\n".join(SITE[:4]) + "\n").encode()))
    rep = report(d)
    assert rep["overview"]["requests"] == len(SITE)
    assert [Path(i["file"]).name for i in rep["inputs"]] == ["access.log.1.gz", "access.log"]
    other = write(tmp_path / "other.log", SITE[:2])
    assert report(d, other)["overview"]["requests"] == len(SITE) + 2


# ---- errors: one line on stderr, the documented exit code ----------------------------------


def test_missing_file(tmp_path: Path) -> None:
    clean_failure(run("summary", tmp_path / "nope.log"), ExitCode.INPUT_MISSING, "nope.log")


def test_no_input_given() -> None:
    clean_failure(run("summary"), ExitCode.USAGE, "no input given")


NGINX_ERROR = (
    '2024/03/01 10:00:00 [error] 1043#1043: *88112 open() "/var/www/x.png" failed '
    "(2: No such file or directory), client: 203.0.113.9, server: shop"
)


def test_directory_skips_what_is_not_a_log(tmp_path: Path) -> None:
    # /var/log/nginx/: nginx's error.log next to access.log must not fail a daily cron job; a
    # file whose name is not a log's is left out, and both are said, one line each.
    d = tmp_path / "nginx"
    d.mkdir()
    write(d / "access.log", SITE)
    (d / "error.log").write_text(f"{NGINX_ERROR}\n" * 5)
    (d / "logfile_w3c.0").write_text("#Fields: date time\n")
    (d / "run.sh").write_text("hi\n")
    (d / "README").write_text("hi\n")  # the folder's notes: left out silently
    r = run("summary", d, "--format", "json")
    assert r.exit_code == 0, r.stderr
    err = r.stderr.splitlines()
    assert len(err) == 2, err
    assert "error.log: skipped, found in" in err[0] + err[1]
    assert "log format not recognised" in r.stderr
    assert "2 files in it not read, not named like a log (logfile_w3c.0, run.sh)" in r.stderr
    got = json.loads(r.stdout)
    assert got["overview"] == report(d / "access.log")["overview"]
    assert [Path(i["file"]).name for i in got["inputs"]] == ["access.log", "error.log"]
    # The same through the history store, with a missing input besides (said there too).
    r = run("summary", d, tmp_path / "nope.log", "--state", tmp_path / "st", "--format", "json")
    assert r.exit_code == ExitCode.INPUT_MISSING, r.stderr
    assert "nope.log: no such file" in r.stderr and "error.log: skipped, found in" in r.stderr
    assert "2 files in it not read" in r.stderr
    assert json.loads(r.stdout)["overview"]["requests"] == got["overview"]["requests"]
    # Named explicitly, a file that is not a log still fails (exit 4); so does a folder that
    # holds no log at all.
    clean_failure(
        run("summary", d / "access.log", d / "error.log", "--format", "json"),
        ExitCode.INPUT_INVALID,
        "error.log",
        "log format not recognised",
    )
    (d / "access.log").unlink()
    r = run("summary", d)
    assert r.exit_code == ExitCode.INPUT_INVALID, r.stderr


def test_directory_without_logs(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hi\n")
    clean_failure(run("summary", tmp_path), ExitCode.INPUT_MISSING, str(tmp_path))


def test_glob_matching_nothing(tmp_path: Path) -> None:
    clean_failure(run("summary", tmp_path / "*.log"), ExitCode.INPUT_MISSING, "*.log")


# An unreadable file is tested as an unprivileged process, where root would read it anyway:
# tests/test_faults.py::test_unreadable_file (and a folder, with the other inputs reported).


# Inputs that give no hit at all. The report of zero hits is built before the exit code is
# chosen, so every section must cope with empty tables: the default sections are tried, and the
FOUNDATION_ONLY = ("--section", "status", "--section", "hours", "--section", "pages")


def _zero_hit_inputs(
    tmp_path: Path,
) -> dict[str, tuple[list[str], bytes | None, int, tuple[str, ...]]]:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    binary = tmp_path / "core.log"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    auth = write(tmp_path / "auth.log", ["Jan  1 00:00:00 host sshd[1]: Accepted publickey"] * 5)
    junk = write(tmp_path / "junk.log", [line(), line(), "x", "y", "z"])
    junk_all = tmp_path / "all-bad.log"
    # Fits the layout (so the format is detected), but no timestamp can be read.
    junk_all.write_text(
        line(when="01/Xyz/2024:00:00:00 +0000")
        + "\n"
        + line(when="99/Mar/2024:00:00:00 +0000")
        + "\n"
    )
    return {
        "empty-file": ([str(empty)], None, ExitCode.INPUT_INVALID, ("empty.log",)),
        "empty-stdin": (["-"], b"", ExitCode.INPUT_INVALID, ()),
        "binary": ([str(binary)], None, ExitCode.INPUT_INVALID, ("core.log", "binary")),
        "unknown-format": ([str(auth)], None, ExitCode.INPUT_INVALID, ("auth.log", "--log-format")),
        "minority-format": ([str(junk)], None, ExitCode.INPUT_INVALID, ("junk.log",)),
        "every-line-bad": ([str(junk_all)], None, ExitCode.INPUT_INVALID, ("parsed",)),
    }


ZERO_HIT_CASES = [
    "empty-file",
    "empty-stdin",
    "binary",
    "unknown-format",
    "minority-format",
    "every-line-bad",
]


@pytest.mark.parametrize("case", ZERO_HIT_CASES)
def test_inputs_without_hits_foundation_sections(tmp_path: Path, case: str) -> None:
    args, stdin, code, mentions = _zero_hit_inputs(tmp_path)[case]
    r = run("summary", *args, *FOUNDATION_ONLY, input=stdin)
    clean_failure(r, code, *mentions, lines=None)


@pytest.mark.parametrize("case", ZERO_HIT_CASES)
def test_inputs_without_hits_default_sections(tmp_path: Path, case: str) -> None:
    args, stdin, code, mentions = _zero_hit_inputs(tmp_path)[case]
    clean_failure(run("summary", *args, input=stdin), code, *mentions, lines=None)


@pytest.mark.parametrize("case", ZERO_HIT_CASES)
def test_records_of_inputs_without_hits_agree_with_summary(tmp_path: Path, case: str) -> None:
    # An empty log was "no request matched" (8) in records, "not a log" (4) in summary.
    args, stdin, code, mentions = _zero_hit_inputs(tmp_path)[case]
    r = run("records", *args, "--format", "jsonl", input=stdin)
    clean_failure(r, code, *mentions, lines=None)
    assert "no request matched" not in r.stderr


def test_nothing_left_says_whether_period_or_filters(site: Path) -> None:
    # --method FOO was blamed on "the chosen period" though no period was chosen.
    for cmd in ("summary", "records"):
        r = run(cmd, site, "--method", "FOO", "--format", "json" if cmd == "summary" else "csv")
        clean_failure(r, ExitCode.NO_DATA, "no request matching the filters (method FOO)")
        assert "period" not in r.stderr
        r = run(cmd, site, "--since", "2030-01-01", "--method", "FOO")
        clean_failure(
            r, ExitCode.NO_DATA, "no request in the chosen period matching the filters (method FOO)"
        )
        r = run(cmd, site, "--since", "2030-01-01")
        clean_failure(r, ExitCode.NO_DATA, "no request in the chosen period")
        assert "filters" not in r.stderr


def test_a_long_filter_value_is_cut_in_the_no_request_line(site: Path) -> None:
    # QA22 #17: a 15,000-character --path was echoed whole in the exit-8 line.
    path = "/" + "x" * 15_000
    r = run("summary", site, "--path", path, "--format", "json")
    clean_failure(r, ExitCode.NO_DATA, "no request matching the filters (path /xxx")
    assert len(r.stderr) < 400 and "\u2026" in r.stderr


def test_nothing_left_by_bots_exclude_says_so(tmp_path: Path) -> None:
    """A log of robots alone with --bots exclude: 'no request in the input' denied the
    input had any; it is the choice that left nothing."""
    log = write(tmp_path / "bots.log", [line(agent=GOOGLEBOT)])
    r = run("summary", log, "--bots", "exclude", "--format", "json")
    clean_failure(r, ExitCode.NO_DATA, "no request matching the filters (--bots exclude)")


@pytest.mark.parametrize("case", ["binary", "unknown-format", "minority-format"])
def test_inputs_without_hits_say_it_in_one_line(tmp_path: Path, case: str) -> None:
    args, stdin, code, mentions = _zero_hit_inputs(tmp_path)[case]
    clean_failure(run("summary", *args, *FOUNDATION_ONLY, input=stdin), code, *mentions)


def test_empty_file_in_one_line(tmp_path: Path) -> None:
    args, stdin, code, mentions = _zero_hit_inputs(tmp_path)["empty-file"]
    clean_failure(run("summary", *args, *FOUNDATION_ONLY, input=stdin), code, *mentions)


def test_truncated_gzip_reports_what_it_read(tmp_path: Path) -> None:
    lines = [
        line(client=f"198.51.100.{i % 250}", request=f"GET /p{i}?{i * 7919} HTTP/1.1")
        for i in range(4000)
    ]
    packed = gzip.compress(("\n".join(lines) + "\n").encode())
    p = tmp_path / "access.log.1.gz"
    p.write_bytes(packed[: len(packed) // 2])
    r = run("summary", p, "--format", "json")
    # The cut, then the bad lines (the cut-off last line), one line each on stderr.
    clean_failure(r, ExitCode.INPUT_TRUNCATED, "access.log.1.gz", "bad line", lines=2)
    d = json.loads(r.stdout)  # the report is still written
    ov = d["overview"]
    assert 500 < ov["requests"] < 4000
    assert ov["bad_lines"] <= 1  # at most the line cut in half


@pytest.mark.parametrize(
    "gone, why",
    [
        ("nope.log", "no such file"),
        ("nope-*.log", "no file matches it as a pattern"),
        ("dangling.log", "a symlink to a file that does not exist"),
        ("empty-dir", "a directory with no log files in it"),
    ],
)
def test_good_file_and_missing_input_reports_the_good_one(
    site: Path, tmp_path: Path, gone: str, why: str
) -> None:
    # A renamed rotated file must not cancel the report of the others: one line names it, the
    # rest is reported, and the exit code is 3, as for an unreadable file (README).
    (tmp_path / "dangling.log").symlink_to(tmp_path / "gone")
    (tmp_path / "empty-dir").mkdir()
    r = run("summary", site, tmp_path / gone, "--format", "json")
    clean_failure(r, ExitCode.INPUT_MISSING, gone, why)
    alone = report(site)
    got = json.loads(r.stdout)
    assert got["overview"] == alone["overview"]
    assert str(tmp_path / gone) in got["warnings"][0] and why in got["warnings"][0]


def test_only_missing_inputs_fail_before_reading(tmp_path: Path) -> None:
    r = run("summary", tmp_path / "nope.log", tmp_path / "other.log")
    clean_failure(r, ExitCode.INPUT_MISSING, "nope.log")
    assert r.stdout == ""


def test_good_file_and_binary_file(site: Path, tmp_path: Path) -> None:
    b = tmp_path / "core.log"
    b.write_bytes(b"\x00" * 100)
    r = run("summary", site, b, "--format", "json")
    clean_failure(r, ExitCode.INPUT_INVALID, "core.log")
    assert json.loads(r.stdout)["overview"]["requests"] == len(SITE)


@pytest.mark.parametrize(
    "args, code, mention",
    [
        # A bad option value is usage (exit 2, README), not configuration (issue #12).
        (("--since", "next tuesday"), ExitCode.USAGE, "next tuesday"),
        (("--until", "2024-13-45"), ExitCode.USAGE, "2024-13-45"),
        (("--top", "-1"), ExitCode.USAGE, "--top"),
        (("--trusted-proxy", "10.0.0.0/33"), ExitCode.USAGE, "--trusted-proxy"),
        (("--since", "2030-01-01"), ExitCode.NO_DATA, "period"),
    ],
)
def test_option_errors(site: Path, args: tuple[str, ...], code: int, mention: str) -> None:
    clean_failure(run("summary", site, *args, "--section", "status"), code, mention)


def test_a_bad_value_in_a_config_file_is_still_a_configuration_error(
    site: Path, tmp_path: Path
) -> None:
    """The same bad value from a file is exit 7, and names the file."""
    conf = tmp_path / "logaudit.toml"
    conf.write_text('top = -1\ntrusted_proxies = ["10.0.0.0/33"]\n')
    r = run("summary", site, "--config", conf, "--section", "status")
    clean_failure(r, ExitCode.CONFIG, str(conf))


def test_a_bad_commission_rate_is_wrong_usage(site: Path) -> None:
    r = run("campaigns", site, "--commission", "acme=abc")
    assert r.exit_code == ExitCode.USAGE and "acme=abc" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_nothing_in_the_period_with_default_sections(site: Path) -> None:
    clean_failure(run("summary", site, "--since", "2030-01-01"), ExitCode.NO_DATA, "period")


def test_usage_errors_are_clicks() -> None:
    r = run("summary", "--log-format", "nope", "x.log")
    assert r.exit_code == ExitCode.USAGE
    assert "Traceback" not in r.stderr and "nope" in r.stderr
    r = run("summary", "--bots", "sometimes", "x.log")
    assert r.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    "args, mention",
    [
        (("summary", "x.log", "--attach", "bogus"), "--attach: bogus (choose from json, csv)"),
        (("summary", "x.log", "--format", "bogus"), "'bogus' is not one of"),
        (("summary", "x.log", "--no-such-option"), "no such option '--no-such-option'"),
        (("watch",), "missing argument 'LOG...'"),
        (("scrub", "x.log"), "give either -o FILE or --in-place"),  # raised by the command
        (("bogus",), "no such command 'bogus' (try 'logaudit --help')"),
        (("state", "verify", "--bogus"), "(try 'logaudit state verify --help')"),
    ],
)
def test_clicks_usage_errors_are_one_line(args: tuple[str, ...], mention: str) -> None:
    """Click printed its usage, a blank line and 'Error: ...' (four lines) where every other
    bad value is one 'logaudit: error:' line: now one line too, exit 2, with the help hint."""
    r = CliRunner().invoke(cli, list(args), prog_name="logaudit")
    clean_failure(r, ExitCode.USAGE, "logaudit: error: ", mention)
    assert f"(try 'logaudit {args[0]}" in r.stderr or args == ("bogus",)


def test_strict_with_bad_lines_still_writes_the_report(site: Path, tmp_path: Path) -> None:
    p = write(tmp_path / "mixed.log", [*SITE, "garbage line", line(status="xyz")])
    r = run("summary", p, "--strict", "--format", "json")
    # The loud share, the first bad line, then --strict: one line each on stderr.
    clean_failure(
        r, ExitCode.BAD_LINES, "--strict: 2 bad lines", "20% of lines", "the first:", lines=3
    )
    d = json.loads(r.stdout)
    assert d["overview"]["requests"] == len(SITE) and d["overview"]["bad_lines"] == 2
    examples = d["bad_lines"]["examples"]
    assert [(Path(e["file"]).name, e["line"]) for e in examples] == [
        ("mixed.log", 9),
        ("mixed.log", 10),
    ]
    out = tmp_path / "strict.json"
    r = run("summary", p, "--strict", "-o", out)
    assert r.exit_code == ExitCode.BAD_LINES
    assert json.loads(out.read_text())["overview"]["bad_lines"] == 2


def test_without_strict_bad_lines_exit_zero(tmp_path: Path) -> None:
    p = write(tmp_path / "mixed.log", [*SITE, "garbage line"])
    r = run("summary", p, "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["overview"]["bad_lines"] == 1


def test_strict_without_bad_lines(site: Path) -> None:
    assert run("summary", site, "--strict", "--format", "json").exit_code == 0


def test_many_bad_lines_are_said_loudly(tmp_path: Path) -> None:
    p = write(tmp_path / "mostly-bad.log", [*SITE, "x y", "x y z"])
    d = report(p)
    assert any("mostly-bad.log" in w and "%" in w for w in d["warnings"])


def test_log_format_forcing(site: Path) -> None:
    d = report(site, "--log-format", "common")
    assert d["inputs"][0]["format"] == "common"
    assert d["overview"]["requests"] == len(SITE)


# ---- hostile text ---------------------------------------------------------------------------

ESC = "\x1b"
RLO = "\u202e"
MARKUP = "[bold red]x[/]"
HOSTILE = [
    line(
        client="203.0.113.1",
        request=f"GET /{ESC}[31mred{ESC}[0m HTTP/1.1",
        referrer=f"http://evil.example/{ESC}[2J",
        agent=f"{FIREFOX} {ESC}]0;pwned{chr(7)}",
    ),
    line(
        client="203.0.113.2",
        request=f"GET /{MARKUP} HTTP/1.1",
        status=404,
        referrer=f"http://{MARKUP}.example/",
        agent=MARKUP,
    ),
    line(
        client="203.0.113.3",
        request=f"GET /{RLO}gpj.exe HTTP/1.1",
        status=404,
        agent=f"{CHROME} {RLO}",
    ),
    line(
        client="203.0.113.4",
        request="GET /<script>alert(1)</script> HTTP/1.1",
        referrer="http://x.example/<script>",
        agent="<script>alert(1)</script>",
    ),
    line(client="=1+2", request="GET /=cmd|' /C calc'!A0 HTTP/1.1", agent="=HYPERLINK()"),
    line(client="@evil", request="GET /@SUM(1+1) HTTP/1.1", agent=CURL),
    line(client="+evil", request="GET /+x HTTP/1.1"),
    line(client="-evil", request="GET /-x HTTP/1.1"),
    f"{ESC}[31m garbage with an escape {RLO} {MARKUP}",  # a bad line: shown as an example
]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return write(tmp_path / "hostile.log", HOSTILE)


def test_hostile_text_in_the_terminal(hostile: Path) -> None:
    r = run("summary", hostile, "--top", "0")
    assert r.exit_code == 0, r.stderr
    out = r.stdout + r.stderr
    assert ESC not in out
    assert RLO not in out
    assert "\x07" not in out
    assert MARKUP in out  # shown literally, not interpreted
    assert "<script>alert(1)</script>" in out
    assert "\\x1b[31mred" in out  # the escape is visible as text
    assert "\\u202e" in out


def test_hostile_file_name(tmp_path: Path) -> None:
    r = run("summary", tmp_path / f"{ESC}[31mevil{RLO}.log")
    assert r.exit_code == ExitCode.INPUT_MISSING
    assert ESC not in r.stderr and RLO not in r.stderr and "evil" in r.stderr


def test_hostile_text_in_json_is_kept_as_logged(hostile: Path) -> None:
    d = report(hostile, "--section", "pages", "--section", "not-found", "--top", "0")
    paths = {r["path"] for s in d["sections"] for r in s["rows"]}
    assert f"/{ESC}[31mred{ESC}[0m" in paths and f"/{MARKUP}" in paths


CSV_SECTIONS = ("hosts", "pages", "not-found", "referrers")


@pytest.mark.parametrize("sections", [("hosts",), CSV_SECTIONS], ids=["one-section", "stacked"])
def test_csv_neutralises_formulas(hostile: Path, sections: tuple[str, ...]) -> None:
    args = [a for s in sections for a in ("--section", s)]
    r = run("summary", hostile, "--format", "csv", "--top", "0", *args)
    assert r.exit_code == 0, r.stderr
    assert ESC not in r.stdout and RLO not in r.stdout
    cells = [c for row in csv.reader(io.StringIO(r.stdout)) for c in row]
    for c in cells:
        if c[:1] in ("=", "+", "-", "@"):
            float(c)  # only a plain number may start so
    for client in ("=1+2", "@evil", "+evil", "-evil"):
        assert "'" + client in cells


def test_stacked_csv_keeps_integers(site: Path) -> None:
    r = run("summary", site, "--format", "csv", "--section", "hosts", "--section", "status")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    hosts = [row for row in rows if row["section"] == "hosts"]
    assert hosts and all("." not in row["hits"] and "." not in row["bandwidth"] for row in hosts)


def test_common_format_counts_people(tmp_path: Path) -> None:
    p = write(
        tmp_path / "clf.log",
        [line(referrer=None, agent=None, client=f"203.0.113.{i}") for i in range(3)],
    )
    ov = report(p)["overview"]
    assert (ov["page_views"], ov["visitor_days"], ov["unique_visitors"]) == (3, 3, 3)


def test_common_format_with_every_agent_counted(tmp_path: Path) -> None:
    p = write(
        tmp_path / "clf.log",
        [line(referrer=None, agent=None, client=f"203.0.113.{i}") for i in range(3)],
    )
    ov = report(p, "--bots", "include")["overview"]
    assert (ov["page_views"], ov["visitor_days"], ov["unique_visitors"]) == (3, 3, 3)


def test_bad_setting_values_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed value in the environment or the config file is exit 7 and one line naming
    where it came from, not an internal error."""
    log = tmp_path / "a.log"
    log.write_text('1.2.3.4 - - [10/Mar/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n')
    monkeypatch.setenv("LOGAUDIT_TOP", "abc")
    r = CliRunner().invoke(cli, ["summary", str(log)])
    assert r.exit_code == int(ExitCode.CONFIG)
    assert "LOGAUDIT_TOP" in r.stderr and "Traceback" not in r.stderr
    monkeypatch.delenv("LOGAUDIT_TOP")
    conf = tmp_path / "config.toml"
    conf.write_text('visit_timeout = "soon"\n')
    monkeypatch.setenv("LOGAUDIT_CONFIG", str(conf))
    r = CliRunner().invoke(cli, ["summary", str(log)])
    assert r.exit_code == int(ExitCode.CONFIG)
    assert str(conf) in r.stderr


def test_bad_lines_and_warnings_go_to_stderr_one_line_each(tmp_path: Path) -> None:
    """Issue #13: under cron, stdout is the report and stderr the problems; bad lines are said
    there in one line (the report keeps its examples), a clean run says nothing."""
    when = "01/Mar/2024:10:00:{:02d} +0000"
    lines = [line(client=f"203.0.113.{i}", when=when.format(i)) for i in range(8)]
    p = write(tmp_path / "a.log", [*lines, "not a log line at all"])
    r = run("summary", p, "--format", "json")
    assert r.exit_code == 0
    err = r.stderr.splitlines()
    assert len(err) == 2, err  # the loud share (over 10 %), then the first bad line
    assert "11% of lines did not parse" in err[0]
    assert err[1].startswith("logaudit: 1 bad line; the first: ") and "a.log:9" in err[1]
    assert json.loads(r.stdout)["bad_lines"]["total"] == 1
    clean = run("summary", write(tmp_path / "b.log", lines), "--format", "json")
    assert clean.exit_code == 0 and clean.stderr == ""


@pytest.mark.parametrize("value", ["0", "abc", "0.001s"])
def test_a_bad_visit_timeout_option_is_wrong_usage(tmp_path: Path, value: str) -> None:
    """QA16 finding 14: --visit-timeout 0 exited 7 (a configuration error) where every other
    bad option value exits 2; the config file's bad value stays exit 7 (the test above)."""
    log = tmp_path / "a.log"
    log.write_text('1.2.3.4 - - [10/Mar/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n')
    for command in ("visits", "summary"):
        r = CliRunner().invoke(cli, [command, str(log), "--visit-timeout", value])
        assert r.exit_code == int(ExitCode.USAGE), (command, r.output)
        assert "--visit-timeout" in r.stderr and "Traceback" not in r.stderr
