"""``logaudit problems`` on generated logs with planted incidents (tests/incidents.py): every
incident is found with its figures, nothing else is flagged; the tables merge like the others;
thresholds exit 10 after the report is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from incidents import Planted, generate, write_log
from loglines import isolate, line, utc, write

from logaudit import api
from logaudit.analyze.base import merge
from logaudit.analyze.problems.tables import TABLES, group_paths
from logaudit.cli import cli
from logaudit.config import Settings
from logaudit.engine import local as pipeline
from logaudit.errors import ExitCode
from logaudit.report import Report


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def with_response_times(monkeypatch: pytest.MonkeyPatch, times: list[float]) -> None:
    """Fill ``response_time`` from the generator, as a format that logs it will."""
    real = pipeline.parse_block
    values = np.asarray(times)

    def parse(*args):  # type: ignore[no-untyped-def]
        chunk = real(*args)
        chunk["response_time"] = values[chunk["line"].to_numpy() - 1]
        return chunk

    monkeypatch.setattr(pipeline, "parse_block", parse)


def problems(
    path: Path, log_format: str | None = None, **extra: object
) -> tuple[Report, api.Outcome]:
    s = Settings(top=0, log_format=log_format, extra={"group": True, **extra})
    out = api.report("problems", [str(path)], s)
    assert out.report is not None, out.messages
    return out.report, out


def section(report: Report, name: str) -> pd.DataFrame:
    return next(s.rows for s in report.sections if s.name == name)


def check_planted(report: Report, p: Planted, timed: bool) -> None:
    sus = section(report, "suspicious-clients")
    found = set(zip(sus["client"], sus["kind"], strict=True))
    assert found == {
        (p.scanner, "404-scanner"),
        (p.prober, "exploit-probes"),
        (p.brute, "brute-force"),
        (p.flood, "flood"),
        (p.fake_bot, "fake-crawler"),
    }
    ev = dict(zip(sus["kind"], sus["evidence"], strict=True))
    assert ev["404-scanner"].startswith(f"{p.scanner_paths} distinct not-found paths")
    assert ev["exploit-probes"].startswith(f"{p.probes} known exploit probes")
    assert ev["brute-force"].startswith(f"{p.brute_attempts} login attempts")
    assert ev["flood"].startswith(f"peak {p.flood_peak} requests in one minute")
    assert ev["fake-crawler"].startswith(f"{p.fake_requests} requests claiming Googlebot")

    failing = section(report, "failing-urls")
    five = failing[failing["status"] == "5xx"]
    assert five["path"].tolist() == [p.burst_path]
    assert int(five["count"].iloc[0]) == p.burst_errors

    timeline = section(report, "error-timeline")
    bursts = timeline[timeline["burst"] == "BURST"]["start"].tolist()
    start = p.burst_start.strftime("%Y-%m-%d %H:%M")
    assert bursts and bursts[0] == start
    assert int(timeline["5xx"].sum()) == p.burst_errors

    head = section(report, "headline")
    kinds = sorted(head["kind"])
    want = ["404-scanner", "5xx", "brute-force", "exploit-probes", "fake-crawler", "flood"]
    want += ["burst"] * len(bursts) + (["slow"] if timed else [])
    assert kinds == sorted(want)
    assert head["finding"].iloc[0].startswith(f"5xx on {p.burst_path}: {p.burst_errors} errors")
    figures = next(s.headline for s in report.sections if s.name == "headline")
    assert figures["not_found_hits"] == p.not_found_hits

    slow = section(report, "slow-endpoints")
    if timed:
        assert slow["endpoint"].iloc[0] == p.slow_endpoint
        assert int(slow["requests"].iloc[0]) == p.slow_requests
        assert 2.0 <= slow["p50"].iloc[0] <= slow["p95"].iloc[0] <= slow["p99"].iloc[0] <= 5.2
        assert slow["max"].iloc[0] <= 5.0
        assert (slow["p95"].iloc[1:] < 1.0).all()
    else:
        assert slow.empty


def test_finds_every_planted_incident(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write_log(tmp_path / "access.log", seed=1)
    with_response_times(monkeypatch, p.response_time)
    report, out = problems(tmp_path / "access.log")
    assert out.exit_code == ExitCode.OK
    check_planted(report, p, timed=True)


def test_without_response_times_says_so(tmp_path: Path) -> None:
    p = write_log(tmp_path / "access.log", seed=2)
    report, _ = problems(tmp_path / "access.log")
    check_planted(report, p, timed=False)
    note = next(s.note for s in report.sections if s.name == "slow-endpoints")
    assert "no response time" in note


@hsettings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=3, max_value=10_000))
def test_any_seed(seed: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp("seed")
    p = write_log(d / "access.log", seed=seed)
    report, _ = problems(d / "access.log")
    check_planted(report, p, timed=False)


def test_tables_merge_in_any_order(tmp_path: Path) -> None:
    """Two halves merged give the same tables as the whole (Table.combine's contract)."""
    lines, p = generate(5)
    whole = write(tmp_path / "a.log", lines)
    a = write(tmp_path / "b1.log", lines[: len(lines) // 2])
    b = write(tmp_path / "b2.log", lines[len(lines) // 2 :])
    s = Settings(extra={"group": True})
    from logaudit.sources import expand

    one = pipeline.run(expand([str(whole)]), s, TABLES).partial
    ra = pipeline.run(expand([str(a)]), s, TABLES).partial
    rb = pipeline.run(expand([str(b)]), s, TABLES).partial
    both = merge(rb, ra, TABLES)
    for name in TABLES:
        if name == "pb_slowest" or name not in one:
            continue
        x, y = one[name], both[name]
        if name in ("pb_rate", "pb_rate_hist"):
            continue  # chunk-local by design: a pair split across chunks counts twice
        pd.testing.assert_frame_equal(
            x.sort_index(), y.sort_index(), check_like=True, check_dtype=False, obj=name
        )


def test_grouping_ids() -> None:
    import pyarrow as pa

    got = group_paths(
        pa.array(
            [
                "/item/123",
                "/item/123/edit",
                "/a/1/2",
                "/u/550e8400-e29b-41d4-a716-446655440000",
                "/f/d41d8cd98f00b204e9800998ecf8427e",
                "/products/178-suede-belt",
                "/v2/items",
                "/static/app.3f9a.js",
                "/t/abc123DEF456ghi789JKL012mno",
            ]
        )
    ).to_pylist()
    assert got == [
        "/item/{id}",
        "/item/{id}/edit",
        "/a/{id}/{id}",
        "/u/{id}",
        "/f/{id}",
        "/products/{id}",
        "/v2/items",
        "/static/app.3f9a.js",
        "/t/{id}",
    ]


def test_no_group_keeps_paths(tmp_path: Path) -> None:
    lines = [
        line(request=f"GET /order/{i} HTTP/1.1", status=500, when=utc(2024, 3, 1, 10, i))
        for i in range(12)
    ]
    log = write(tmp_path / "a.log", lines)
    r, _ = problems(log)
    assert section(r, "failing-urls")["path"].tolist() == ["/order/{id}"]
    r, _ = problems(log, group=False)
    assert len(section(r, "failing-urls")) == 12


def run(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_thresholds_exit_10_after_the_report(tmp_path: Path) -> None:
    write_log(tmp_path / "access.log", seed=3)
    r = run(
        "problems",
        tmp_path / "access.log",
        "--max-5xx-rate",
        "0.1%",
        "--format",
        "json",
        "-o",
        tmp_path / "out.json",
    )
    assert r.exit_code == 10, r.stderr
    assert "threshold breached: 5xx_rate" in r.stderr
    assert json.loads((tmp_path / "out.json").read_text())["command"] == "problems"
    r = run(
        "problems",
        tmp_path / "access.log",
        "--max-5xx-rate",
        "50%",
        "--max-4xx-rate",
        "0.5",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    r = run("problems", tmp_path / "access.log", "--max-p95", "800ms", "--format", "json")
    assert r.exit_code == 0 and "cannot be checked" in r.stderr


def test_p95_threshold_with_response_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write_log(tmp_path / "access.log", seed=4)
    with_response_times(monkeypatch, p.response_time)
    _, out = problems(tmp_path / "access.log", thresholds={"p99": 0.5})
    assert out.exit_code == ExitCode.THRESHOLD
    _, out = problems(tmp_path / "access.log", thresholds={"p99": 60.0})
    assert out.exit_code == ExitCode.OK


@pytest.mark.parametrize(
    "args",
    [
        ["--last", "soon"],
        ["--max-5xx-rate", "lots"],
        ["--max-p95", "fast"],
        ["--max-4xx-rate", "150%"],
    ],
)
def test_bad_problem_options(args: list[str], tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", [line()])
    r = run("problems", log, *args)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1


def test_now_compares_the_last_window(tmp_path: Path) -> None:
    lines = []
    for m in range(75):  # an hour and a quarter; errors only in the last 15 minutes
        for k in range(10):
            status = 500 if m >= 60 and k < 3 else 200
            path = "/api/pay" if status == 500 else "/"
            lines.append(
                line(
                    client=f"81.2.69.{k + 1}",
                    when=utc(2024, 3, 1, 10, 0)
                    + pd.Timedelta(minutes=m, seconds=k).to_pytimedelta(),
                    request=f"GET {path} HTTP/1.1",
                    status=status,
                )
            )
    log = write(tmp_path / "a.log", lines)
    r, _ = problems(log, last=15 * 60)
    now = section(r, "now").set_index("metric")
    assert float(now.loc["5xx_rate", "now"]) == pytest.approx(0.3)
    assert float(now.loc["5xx_rate", "before"]) == 0.0
    assert now.loc["requests_per_minute", "now"] == 10.0
    assert now.loc["new failing URL (5xx)", "path"] == "/api/pay"
    assert now.loc["new failing URL (5xx)", "now"] == 45
    fig = next(s.headline for s in r.sections if s.name == "headline")
    assert fig["scope"] == "last 15 min" and fig["5xx_rate"] == pytest.approx(0.3)
    names = [s.name for s in r.sections]
    assert names[-1] == "now"
    r2, _ = problems(log)
    assert "now" not in [s.name for s in r2.sections]


def test_now_covers_only_what_the_log_covers(tmp_path: Path) -> None:
    """A log of 10 minutes at 6 requests a minute under --last 15m: the rate is over the 10
    minutes the log covers (not the 15 of the window), the hour before holds no request so
    its figures are unknown (not 0), and people see rates as percentages and counts as
    integers in every human format."""
    lines = [
        line(
            client=f"81.2.69.{k + 1}",
            when=utc(2024, 3, 1, 10, 0) + pd.Timedelta(minutes=m, seconds=k).to_pytimedelta(),
            request="GET /api/pay HTTP/1.1" if k == 0 else "GET / HTTP/1.1",
            status=500 if k == 0 else 200,
        )
        for m in range(10)
        for k in range(6)
    ]
    log = write(tmp_path / "a.log", lines)
    r, _ = problems(log, last=15 * 60)
    now = section(r, "now").set_index("metric")
    assert now.loc["requests_per_minute", "now"] == 6.0
    assert now.loc["5xx_rate", "now"] == pytest.approx(1 / 6, abs=1e-4)
    for metric in ("requests_per_minute", "5xx_rate", "4xx_rate"):
        assert now.loc[metric, "before"] is None and now.loc[metric, "change"] == ""
    assert now.loc["failing URL (5xx)", "path"] == "/api/pay"
    assert now.loc["failing URL (5xx)", "now"] == 10
    assert now.loc["failing URL (5xx)", "before"] is None
    assert "of which the log covers 10 min (from 10:00)" in next(
        s.note for s in r.sections if s.name == "now"
    )
    fig = next(s.headline for s in r.sections if s.name == "headline")
    assert fig["requests_per_minute"] == 6.0
    assert fig["scope"] == "last 15 min (the log covers the last 10)"  # what the rate is over
    got = json.loads(run("problems", log, "--last", "15m", "--format", "json").output)
    rows = {x["metric"]: x for x in next(s for s in got["sections"] if s["name"] == "now")["rows"]}
    assert rows["requests_per_minute"]["now"] == 6.0
    assert rows["5xx_rate"]["before"] is None and rows["failing URL (5xx)"]["now"] == 10
    for fmt in ("text", "markdown", "html"):
        out = run("problems", log, "--last", "15m", "--section", "now", "--format", fmt).output
        body = out[out.index("Now") :]
        assert "16.7%" in body and "6.00" in body, fmt
        assert "0.17" not in body and "10.00" not in body, fmt


def _minutely(start: pd.Timestamp, minutes: range, **fields: object) -> list[str]:
    return [
        line(when=(start + pd.Timedelta(minutes=m)).to_pydatetime(), **fields) for m in minutes
    ]


def test_now_under_a_filter_counts_the_whole_window(tmp_path: Path) -> None:
    """With --status 5xx the first request counted is not where the log begins: a log of one
    request a minute from 09:00 to 11:00 and six 500s to /api/pay from 10:55 is 6 in 30
    minutes (0.2 a minute), the hour before a known 0 and the URL new; it was 1.0 a minute
    and before unknown, five times the rate an admin paged at night would read."""
    t0 = pd.Timestamp(utc(2024, 3, 1, 9, 0))
    rows = _minutely(t0, range(121), request="GET / HTTP/1.1", status=200)
    rows += _minutely(t0, range(115, 121), request="GET /api/pay HTTP/1.1", status=500)
    log = write(tmp_path / "a.log", sorted(rows, key=lambda x: x.split("[")[1]))
    got = json.loads(
        run("problems", log, "--last", "30m", "--status", "5xx", "--format", "json").output
    )
    now = {x["metric"]: x for x in next(s for s in got["sections"] if s["name"] == "now")["rows"]}
    assert now["requests_per_minute"]["now"] == pytest.approx(0.2)
    assert now["requests_per_minute"]["before"] == 0.0
    assert now["new failing URL (5xx)"]["path"] == "/api/pay"
    assert now["new failing URL (5xx)"]["change"] == "new"


def _late_log(tmp_path: Path) -> Path:
    """A log that begins at 10:50 (one 200 a minute to 11:00) with a 500 to /api/pay a minute
    from 10:55."""
    t0 = pd.Timestamp(utc(2024, 3, 1, 10, 50))
    rows = _minutely(t0, range(11), request="GET / HTTP/1.1", status=200)
    rows += _minutely(t0, range(5, 11), request="GET /api/pay HTTP/1.1", status=500)
    return write(tmp_path / "late.log", sorted(rows, key=lambda x: x.split("[")[1]))


def _now_rows(*args: object) -> tuple[dict[str, dict[str, object]], str, str]:
    got = json.loads(run("problems", *args, "--format", "json").stdout)  # type: ignore[attr-defined]
    now = next(s for s in got["sections"] if s["name"] == "now")
    head = next(s for s in got["sections"] if s["name"] == "headline")["headline"]
    return {x["metric"]: x for x in now["rows"]}, now["note"], head["scope"]


@pytest.mark.parametrize("only", [["--status", "5xx"], ["--path", "/api/pay"]])
def test_now_under_a_filter_covers_only_what_the_log_covers(
    tmp_path: Path, only: list[str]
) -> None:
    """A filter does not move where the log begins: under --status 5xx (or --path) the log of
    10:50-11:00 read with --last 30m is 6 errors over its 11 minutes, not over 30, and the
    hour before it is unknown (the log had not begun), not a known 0 with the URL new."""
    now, note, scope = _now_rows(_late_log(tmp_path), "--last", "30m", *only)
    assert now["requests_per_minute"]["now"] == pytest.approx(6 / 11, abs=1e-4)
    assert now["requests_per_minute"]["before"] is None
    assert now["failing URL (5xx)"]["before"] is None and "new failing URL (5xx)" not in now
    assert "of which the log covers 11 min (from 10:50)" in note
    assert "(the log had not begun: unknown)" in note
    assert scope == "last 30 min (the log covers the last 11)"


def test_now_under_a_filter_sees_a_log_begin_in_a_chunk_it_filters_out(tmp_path: Path) -> None:
    """A first input whose every line the filter drops (an earlier log of 200s, big enough to
    be read as its own chunk) still says where the logs begin: the hour before the window is
    inside them, a known 0, and the URL is new."""
    t0 = pd.Timestamp(utc(2024, 3, 1, 10, 0))
    early = [
        line(when=(t0 + pd.Timedelta(seconds=k)).to_pydatetime(), request=f"GET /p{k} HTTP/1.1")
        for k in range(0, 600, 1)
        for _ in range(6)
    ]
    first = write(tmp_path / "early.log", early)
    assert first.stat().st_size > 300_000  # past the size small inputs are read together at
    now, note, _ = _now_rows(first, _late_log(tmp_path), "--last", "30m", "--status", "5xx")
    assert now["requests_per_minute"]["now"] == pytest.approx(0.2)
    assert now["requests_per_minute"]["before"] == 0.0
    assert now["new failing URL (5xx)"]["before"] == 0
    assert "of which the log covers 31 min (from 10:00)" in note


def test_now_starts_at_since(tmp_path: Path) -> None:
    """--since cuts the window as a log's start does: the minutes before it are not quiet
    ones, and the hour before is unknown (before --since), not a known 0."""
    log = _late_log(tmp_path)
    now, note, scope = _now_rows(log, "--last", "30m", "--since", "2024-03-01T10:55")
    assert now["requests_per_minute"]["now"] == 2.0  # 12 requests in 10:55-11:00
    assert now["requests_per_minute"]["before"] is None
    assert "of which --since leaves 6 min (from 10:55)" in note
    assert "(before --since: unknown)" in note
    assert scope == "last 30 min (--since leaves the last 6)"


def test_now_from_a_store_with_since_counts_the_whole_day(tmp_path: Path) -> None:
    """A store answers --since by whole days, so its minutes hold the requests before
    --since on that day: the hour before 10:46 of a log of one request a minute from 10:00
    is 1.0 a minute, as a direct read without --since says, not 46 requests over the 16
    minutes from --since (2.875)."""
    t0 = pd.Timestamp(utc(2024, 3, 1, 10, 0))
    log = write(tmp_path / "a.log", _minutely(t0, range(61), request="GET / HTTP/1.1"))
    st = tmp_path / "st"
    assert run("summary", log, "--state", st).exit_code == 0
    direct, _, _ = _now_rows(log, "--last", "15m")
    now, note, _ = _now_rows("--state", st, "--last", "15m", "--since", "2024-03-01T10:30")
    assert direct["requests_per_minute"]["before"] == 1.0
    assert now["requests_per_minute"]["before"] == 1.0
    assert now["requests_per_minute"]["now"] == 1.0
    assert "of which the log covers 46 min (from 10:00)" in note


@pytest.mark.parametrize(
    ("until", "window"), [((), "10:46-11:00"), (("--until", "2024-03-01T10:30"), "10:15-10:29")]
)
def test_now_under_a_filter_ends_at_the_logs_newest_line(
    tmp_path: Path, until: tuple[str, ...], window: str
) -> None:
    """A filter does not move where the log ends either: a log of one 200 a minute from
    10:00 to 11:00 with 500s at 10:05 and 10:10, read with --status 5xx --last 15m, is quiet
    now (10:46-11:00: 0 a minute), the 500s are in the hour before; on 9f685ae the window
    ended at the last 500 (09:56-10:10) and said 5xx were happening now. --until caps it."""
    t0 = pd.Timestamp(utc(2024, 3, 1, 10, 0))
    rows = _minutely(t0, range(61), request="GET / HTTP/1.1", status=200)
    rows += _minutely(t0, range(5, 11, 5), request="GET /api/pay HTTP/1.1", status=500)
    log = write(tmp_path / "a.log", sorted(rows, key=lambda x: x.split("[")[1]))
    now, note, scope = _now_rows(log, "--last", "15m", "--status", "5xx", *until)
    assert f"last 15 min (2024-03-01 {window})" in note
    assert now["requests_per_minute"]["now"] == 0.0
    assert now["requests_per_minute"]["before"] > 0
    assert scope == "last 15 min"


def test_now_a_quiet_hour_inside_the_log_is_a_known_zero(tmp_path: Path) -> None:
    """A log with a gap (09:00-09:10, then 12:00-12:10) under --last 15m: the hour before
    is inside the log, so it is a known 0 and a URL failing now is new; the note does not
    call it unknown."""
    t0 = pd.Timestamp(utc(2024, 3, 1, 9, 0))
    rows = _minutely(t0, range(11), request="GET / HTTP/1.1", status=200)
    rows += _minutely(t0, range(180, 191), request="GET /b HTTP/1.1", status=503)
    log = write(tmp_path / "a.log", rows)
    r, _ = problems(log, last=15 * 60)
    now = section(r, "now").set_index("metric")
    assert now.loc["requests_per_minute", "before"] == 0.0
    assert now.loc["new failing URL (5xx)", "path"] == "/b"
    note = next(s.note for s in r.sections if s.name == "now")
    assert "unknown" not in note


def test_probe_registry_names_each_kind() -> None:
    """Each registry row catches its example, and ordinary requests match none."""
    from logaudit.analyze.problems.tables import probe_codes, probes

    examples = {
        "wordpress-login": ("/wp-login.php", ""),
        "wordpress-admin": ("/blog/xmlrpc.php", ""),
        "env-file": ("/.env", ""),
        "git-metadata": ("/.git/HEAD", ""),
        "phpmyadmin": ("/phpMyAdmin-5.1/index.php", ""),
        "cgi-bin": ("/cgi-bin/luci", ""),
        "php-shell": ("/uploads/shell.php", ""),
        "aws-credentials": ("/.aws/credentials", ""),
        "config-files": ("/wp-config.php", ""),
        "path-traversal": ("/static/..%2f..%2fetc", ""),
        "etc-passwd": ("/view", "file=/etc/passwd"),
        "sql-injection": ("/item", "id=1%27%20OR%20%271%27%3D%271"),
        "shell-injection": ("/ping", "host=1.1.1.1;cat%20/etc/hosts"),
        "log4shell": ("/", "x=${jndi:ldap://a/b}"),
        "remote-file-inclusion": ("/index.php", "n=http://evil.example/x.txt?"),
    }
    assert set(examples) == {p.name for p in probes()}
    ordinary = [
        ("/", ""),
        ("/products/12", "color=red"),
        ("/search", "q=union+station"),
        ("/login", ""),
        ("/blog/environment", ""),
        ("/go", "to=https://example.com/"),
    ]
    rows = [*examples.values(), *ordinary]
    chunk = pd.DataFrame(
        {
            "path": pd.Categorical([r[0] for r in rows]),
            "query": pd.Categorical([r[1] for r in rows]),
        }
    )
    names = [p.name for p in probes()]
    got = [names[i] if i >= 0 else None for i in probe_codes(chunk)]
    assert got == [*examples, *[None] * len(ordinary)]


def test_broken_link_is_a_4xx_finding_one_client_is_not(tmp_path: Path) -> None:
    lines = []
    for i in range(30):  # many people follow a dead link: a finding
        when = utc(2024, 3, 1, 10, i)
        lines.append(
            line(client=f"81.2.69.{i + 1}", when=when, request="GET /old HTTP/1.1", status=404)
        )
        lines.append(line(client=f"81.2.69.{i + 1}", when=when))
    for i in range(30):  # one client asking one missing path again and again: not one
        lines.append(
            line(
                client="5.5.5.5",
                when=utc(2024, 3, 1, 11, i),
                request="GET /gone HTTP/1.1",
                status=404,
            )
        )
    r, _ = problems(write(tmp_path / "a.log", lines))
    head = section(r, "headline")
    assert head["kind"].tolist() == ["4xx"]
    want = "4xx on /old: 30 errors, 100% of its hits, since 10:00"
    assert head["finding"].iloc[0] == want


def test_crawler_genuine_by_range_or_host_name() -> None:
    from logaudit.analyze.problems.clients import genuine

    assert genuine("66.249.66.1", "Googlebot")
    assert genuine("66.249.95.255", "Googlebot") and not genuine("66.249.96.0", "Googlebot")
    assert genuine("2001:4860:4801:10::1", "Googlebot")
    # googlebot.json's newer blocks: 192.178.4.0/22 and small ones in Google Cloud space.
    assert genuine("192.178.5.3", "Googlebot") and not genuine("192.178.8.1", "Googlebot")
    assert genuine("34.22.85.31", "Googlebot") and not genuine("34.22.85.32", "Googlebot")
    assert genuine("crawl-66-249-66-1.googlebot.com", "Googlebot")
    assert not genuine("googlebot.com.evil.example", "Googlebot")
    assert not genuine("203.0.113.50", "Googlebot")
    assert genuine("157.55.39.1", "Bingbot") and not genuine("157.55.39.1", "Googlebot")
    assert genuine("msnbot-157-55-39-1.search.msn.com", "Bingbot")


NGINX_TIMED = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'
)


def test_slow_endpoints_from_a_logged_request_time(tmp_path: Path) -> None:
    """End to end, no stand-in: the planted log with each line's time written as nginx's
    $request_time, read through the format string, finds the slow endpoint and breaches p99."""
    lines, p = generate(5)
    timed = [f"{ln} {t:.3f}" for ln, t in zip(lines, p.response_time, strict=True)]
    log = write(tmp_path / "timed.log", timed)
    report, out = problems(log, log_format=NGINX_TIMED)
    assert out.exit_code == ExitCode.OK
    check_planted(report, p, timed=True)
    r = run("problems", log, "--log-format", NGINX_TIMED, "--max-p99", "0.5", "--format", "json")
    assert r.exit_code == ExitCode.THRESHOLD, r.stderr
    slow = next(s for s in json.loads(r.stdout)["sections"] if s["name"] == "slow-endpoints")
    assert slow["rows"][0]["endpoint"] == p.slow_endpoint


def test_slow_requests_rows_past_20_are_the_next_slowest(tmp_path: Path) -> None:
    # Each chunk kept its 20 slowest requests: with --top 30, rows 21-30 came from other
    # chunks, not the next slowest (here all in the first block).
    import os
    import subprocess
    import sys

    head = (
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(User-Agent) cs(Referer) sc-status time-taken\n"
    )
    rows = [
        f"2026-12-01 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} 10.0.0.1 GET /p{i}.html - 80"
        f" - 192.0.2.{i % 50} curl/8 - 200 {5000 + i if i < 40 else i % 100}\n"
        for i in range(3000)
    ]
    log = tmp_path / "u.log"
    log.write_text(head + "".join(rows))
    env = {**os.environ, "LOGAUDIT_BLOCK_MB": "0.02", "LOGAUDIT_CONFIG": os.devnull}
    run = subprocess.run(
        [sys.executable, "-m", "logaudit", "problems", str(log), "--section", "slow-requests"]
        + ["--top", "30", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    (section,) = [s for s in json.loads(run.stdout)["sections"] if s["name"] == "slow-requests"]
    assert [r["path"] for r in section["rows"]] == [f"/p{i}.html" for i in range(39, 9, -1)]

def test_slow_percentiles_lie_within_the_exact_min_and_max(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A histogram bin's middle is no logged time: one request of 1.50 s read p50/p95/p99
    1.54 s against its max 1.50 s (QA16 finding 11), one of 0.0375 s read 0.0365 s, below the
    only time logged. Percentiles are clamped to the endpoint's exact min and max."""
    times = [1.5, 0.3, 0.1, 0.02, 0.0375, 2.9, 0.25, 0.26]
    paths = ["/a", "/b", "/c", "/d", "/e", "/f", "/g", "/g"]
    log = write(
        tmp_path / "t.log",
        [line(when=f"01/Mar/2024:10:00:{i:02d} +0000", request=f"GET {p} HTTP/1.1")
         for i, p in enumerate(paths)],
    )  # fmt: skip
    with_response_times(monkeypatch, times)
    report, _ = problems(log)
    rows = section(report, "slow-endpoints").set_index("endpoint")
    for p, t in zip(paths[:6], times, strict=False):
        assert list(rows.loc[p, ["p50", "p95", "p99", "max"]]) == [t] * 4, p
    g = rows.loc["/g"]
    assert 0.25 <= g["p50"] <= g["p95"] <= g["p99"] <= g["max"] == 0.26


def test_slow_clamps_at_the_max_only_where_the_min_is_not_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial whose pb_response_max lacks min_ms/min_up_ms/timed/up_timed (a history
    store's day written before they were kept) clamps the percentiles at the exact max only.
    And a min above the max (an older logaudit's month roll-up summed the column it did not
    know: p50 2.82 s against a max of 1.41) is no min: clamped at the max only, as without."""
    from logaudit.analyze.base import Context
    from logaudit.analyze.problems import slow
    from logaudit.sources import expand

    times = [1.5, 0.0375, 1.41, 0.2, 0.9]
    paths = ["/a", "/e", "/s", "/s", "/s"]
    log = write(
        tmp_path / "t.log",
        [line(when=f"01/Mar/2024:10:00:{i:02d} +0000", request=f"GET {p} HTTP/1.1")
         for i, p in enumerate(paths)],
    )  # fmt: skip
    real = pipeline.parse_block

    def parse(*args):  # type: ignore[no-untyped-def]
        chunk = real(*args)
        v = np.asarray(times)[chunk["line"].to_numpy() - 1]
        chunk["response_time"], chunk["upstream_time"] = v, v
        return chunk

    monkeypatch.setattr(pipeline, "parse_block", parse)
    s = Settings(top=0, extra={"group": True})
    part = pipeline.run(expand([str(log)]), s, TABLES).partial
    exact = slow(part, Context(s)).set_index("endpoint")
    assert list(exact.loc["/e", ["p50", "p99", "max", "upstream_p95"]]) == [0.0375] * 4
    mx = part["pb_response_max"]
    old = slow({**part, "pb_response_max": mx[["max_ms", "max_up_ms"]]}, Context(s))
    old = old.set_index("endpoint")
    assert list(old.loc["/a", ["p50", "p95", "p99", "max", "upstream_p95"]]) == [1.5] * 5
    assert old.loc["/e", "p50"] < 0.0375 == old.loc["/e", "max"]  # the bin's middle, unclamped
    assert (old[["p50", "p95", "p99", "upstream_p95"]].max(axis=1) <= old["max"]).all()
    # A day's min plus another's above the max: an older logaudit's sum of two days' mins.
    summed = mx.assign(min_ms=mx["min_ms"] + mx["max_ms"], min_up_ms=mx["min_up_ms"] + 1500)
    rolled = slow({**part, "pb_response_max": summed}, Context(s)).set_index("endpoint")
    pd.testing.assert_frame_equal(rolled, old)

def test_now_label_shows_both_dates_across_midnight(tmp_path: Path) -> None:
    """QA18 #14: "2024-03-01 23:14-00:13" did not say the window ends the next day."""
    rows = [line(when=f"01/Mar/2024:23:{m:02d}:00 +0000") for m in range(60)]
    rows += [line(when=f"02/Mar/2024:00:{m:02d}:00 +0000") for m in range(14)]
    _, note, _ = _now_rows(write(tmp_path / "a.log", rows), "--last", "1h")
    assert note.startswith("last 60 min (2024-03-01 23:14-2024-03-02 00:13)"), note
    _, note, _ = _now_rows(write(tmp_path / "b.log", rows[:40]), "--last", "15m")
    assert note.startswith("last 15 min (2024-03-01 23:25-23:39)"), note


def test_now_ends_at_an_instant_until(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An --until written with an offset cuts the hits by their UTC time: the window ends at
    the newest minute kept, not at --until on the machine's clock (an hour early for a log
    at +01:00, a window of minutes before the log began)."""
    monkeypatch.setenv("TZ", "UTC")
    rows = [line(when=f"01/Mar/2024:{10 + m // 60:02d}:{m % 60:02d}:00 +0100") for m in range(90)]
    log = write(tmp_path / "plus1.log", rows)
    # 10:00Z is 11:00 at +01:00: kept 10:00-10:59 local, the window 10:45-10:59.
    now, note, _ = _now_rows(log, "--last", "15m", "--until", "2024-03-01T10:00:00Z")
    assert now["requests_per_minute"]["now"] == 1.0
    assert note.startswith("last 15 min (2024-03-01 10:45-10:59)")


def test_now_starts_at_an_instant_since(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An --since written with an offset cuts the hits by their UTC time: the minutes before
    it are not quiet ones (the hour before is unknown), though --since on the machine's clock
    (10:00 here) falls an hour before the cut (11:00 at +01:00)."""
    monkeypatch.setenv("TZ", "UTC")
    rows = [line(when=f"01/Mar/2024:{10 + m // 60:02d}:{m % 60:02d}:00 +0100") for m in range(90)]
    log = write(tmp_path / "plus1.log", rows)
    now, note, _ = _now_rows(log, "--last", "30m", "--since", "2024-03-01T10:00:00Z")
    assert now["requests_per_minute"]["now"] == 1.0
    assert now["requests_per_minute"]["before"] is None
    assert "(before --since: unknown)" in note


def test_fake_crawler_wording_from_the_store_says_address_or_name(tmp_path: Path) -> None:
    """With --state the clients are tokens: the evidence still says what one pass says, an
    address (v4, v6, mapped) outside the engine's ranges, a host name outside its domains."""
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    who = ["198.51.100.7", "2001:db8::7", "::ffff:198.51.100.9", "host-9.dyn.example.net"]
    rows = [
        line(client=c, when=utc(2024, 3, 1, 10, i, 0), agent=bot)
        for i in range(8)
        for c in who
    ]
    log = write(tmp_path / "f.log", rows)

    def evidence(*args: object) -> list[str]:
        out = tmp_path / "p.json"
        r = run("problems", *args, "--format", "json", "-o", out)
        assert r.exit_code == 0, r.output
        doc = json.loads(out.read_text())
        sec = next(s for s in doc["sections"] if s["name"] == "suspicious-clients")
        return sorted(x["evidence"] for x in sec["rows"] if x["kind"] == "fake-crawler")

    one = evidence(log)
    assert sum("an address outside" in e for e in one) == 3
    assert sum("a host name outside" in e for e in one) == 1
    st = tmp_path / "st"
    assert evidence(log, "--state", st) == one  # written, then read back
    assert evidence("--state", st) == one
