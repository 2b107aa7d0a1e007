"""``logaudit records``: the matching requests, in every format; parquet keeps the types; the
count of a filter equals the filtered summary's requests; --limit and --sort."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from loglines import CHROME, CURL, GOOGLEBOT, isolate, line, utc, write

from logaudit.cli import cli


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    out = []
    for i in range(400):
        status = [200, 404, 500, 301][i % 4]
        agent = [CHROME, GOOGLEBOT, CURL][i % 3]
        out.append(
            line(
                client=f"203.0.113.{i % 50}",
                when=utc(2024, 3, 1, 10 + i // 60, i % 60, 0),
                request=f"GET /p/{i % 7}?x={i} HTTP/1.1",
                status=status,
                size=i,
                agent=agent,
                referrer="=1+2" if i == 5 else "-",
            )
        )
    return write(tmp_path / "access.log", out)


def run(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_count_equals_filtered_summary(log: Path) -> None:
    for flt in (
        ["--status", "404"],
        ["--status", "5xx", "--client", "203.0.113.0/28"],
        ["--path", "^/p/[13]$", "--bots", "exclude"],
    ):
        r = run("records", log, *flt, "--format", "jsonl", "--fields", "line")
        assert r.exit_code == 0, r.stderr
        s = run("summary", log, *flt, "--format", "json", "--section", "status")
        assert r.stdout.count("\n") == json.loads(s.stdout)["overview"]["requests"] > 0


def test_parquet_round_trip_keeps_types(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    fields = "time,local,client,path,status,bytes,response_time,agent_class,browser,device,line"
    r = run("records", log, "--fields", fields, "-o", out)
    assert r.exit_code == 0, r.stderr
    schema = pq.read_schema(out)
    assert str(schema.field("time").type) == "timestamp[ms, tz=UTC]"
    assert str(schema.field("status").type) == "int16"
    assert str(schema.field("bytes").type) == "int64"
    assert str(schema.field("client").type).startswith("dictionary<values=string")
    back = pd.read_parquet(out)
    assert list(back.columns) == fields.split(",")
    assert str(back["time"].dtype) == "datetime64[ms, UTC]"
    assert back["client"].dtype == "category" and back["browser"].dtype == "category"
    assert back["status"].dtype == "int16" and back["line"].dtype == "int64"
    assert len(back) == 400 and back["line"].tolist() == list(range(1, 401))
    # What was written is what is read: through Arrow, the same schema exactly.
    assert pq.read_table(out).schema.remove_metadata() == schema.remove_metadata()
    lines = run("records", log, "--fields", "time,status", "--format", "jsonl").stdout
    first = json.loads(lines.splitlines()[0])
    assert pd.Timestamp(first["time"]) == back["time"].iloc[0]


def test_parquet_holds_only_the_selected_rows_values(log: Path, tmp_path: Path) -> None:
    # Unused categories were written too: a filtered export held every client, path and
    # query string of the log in its dictionaries (QA16 finding 2, privacy).
    out = tmp_path / "one.parquet"
    fields = "client,path,query,referrer,agent"
    r = run("records", log, "--client", "203.0.113.7", "--fields", fields, "-o", out)
    assert r.exit_code == 0, r.stderr
    back = pq.read_table(out)
    assert back.num_rows == 8
    for col in back.columns:
        values = set(col.unique().to_pylist())
        for chunk in col.chunks:
            assert set(chunk.dictionary.to_pylist()) <= values, col
    assert b"203.0.113.8" not in out.read_bytes() and b"x=8" not in out.read_bytes()


def test_records_keep_log_order_when_the_fast_reader_rejects_a_line(tmp_path: Path) -> None:
    # Line 1 has one trailing field more (an X-Forwarded-For added later): the exact path
    # reads it, and it came out after lines 2-4, so --limit 1 gave line 2 (QA16 #8).
    lines = [line(request=f"GET /{i} HTTP/1.1") for i in range(1, 5)]
    lines[0] += ' "1.2.3.4"'
    log = write(tmp_path / "ord.log", lines)
    r = run("records", log, "--fields", "line,path", "--format", "jsonl")
    assert r.exit_code == 0, r.stderr
    assert [json.loads(x)["line"] for x in r.stdout.splitlines()] == [1, 2, 3, 4]
    r = run("records", log, "--fields", "path", "--format", "jsonl", "--limit", "1")
    assert r.stdout.strip() == '{"path": "/1"}'


def test_records_say_bad_lines_as_the_reports_do_and_strict_fails(tmp_path: Path) -> None:
    # Bad lines were dropped in silence, exit 0, and there was no --strict (QA16 #9).
    log = write(tmp_path / "b.log", [line(), "garbage here", line()])
    r = run("records", log, "--fields", "line", "--format", "jsonl")
    assert r.exit_code == 0 and r.stdout.count("\n") == 2
    assert "1 bad line; the first: " in r.stderr and "b.log:2: 2 fields" in r.stderr
    s = run("summary", log, "--format", "json")
    assert r.stderr.splitlines()[-1] in s.stderr
    r = run("records", log, "--fields", "line", "--format", "jsonl", "--strict")
    assert r.exit_code == 6 and "--strict: 1 bad line" in r.stderr
    r = run("records", write(tmp_path / "g.log", ["garbage"] * 3), "--log-format", "combined")
    assert r.exit_code == 4 and "g.log:1: 1 fields" in r.stderr


def test_records_take_the_reports_config_and_proxy_options(tmp_path: Path) -> None:
    # records had no --config, --client-from or --trusted-proxy (exit 2): behind a proxy
    # its count could not equal the filtered summary's from the command line (QA16 #12).
    log = write(
        tmp_path / "x.log",
        [
            line(client="10.0.0.5", extra=['"203.0.113.7, 10.1.1.1"']),
            line(client="10.0.0.5", extra=['"198.51.100.9"']),
        ],
    )
    conf = tmp_path / "p.toml"
    conf.write_text('client_from = "xff"\ntrusted_proxies = ["10.0.0.0/8"]\n')
    proxy = ("--client-from", "xff", "--trusted-proxy", "10.0.0.0/8")
    for opts in (proxy, ("--config", conf)):
        r = run("records", log, *opts, "--client", "203.0.113.7", "--format", "jsonl")
        assert r.exit_code == 0, r.output
        s = run("summary", log, *opts, "--client", "203.0.113.7", "--format", "json")
        assert r.stdout.count("\n") == json.loads(s.stdout)["overview"]["requests"] == 1
        r = run("records", log, *opts, "--fields", "client", "--format", "csv")
        assert r.stdout.split() == ["client", "203.0.113.7", "198.51.100.9"]


def test_records_read_the_config_and_sites_logs(tmp_path: Path) -> None:
    # The reports read `logs` of the config (or of --site's table) when none is named;
    # records said "no input given" (exit 2).
    shop = write(tmp_path / "shop.log", [line(request="GET /shop HTTP/1.1")])
    main = write(tmp_path / "main.log", [line(request="GET /main HTTP/1.1")])
    conf = tmp_path / "l.toml"
    conf.write_text(f'logs = ["{main}"]\n[sites.shop]\nlogs = ["{shop}"]\n')
    for more, path in (((), "/main"), (("--site", "shop"), "/shop")):
        r = run("records", "--config", conf, *more, "--fields", "path", "--format", "jsonl")
        assert r.exit_code == 0, r.output
        assert [json.loads(x)["path"] for x in r.stdout.splitlines()] == [path]


@pytest.mark.parametrize(
    ("spec", "written", "value"), [("%{ms}T", "102", "0.102"), ("%D", "7000", "0.007")]
)
def test_response_times_in_ms_or_us_are_the_decimal_read(
    tmp_path: Path, spec: str, written: str, value: str
) -> None:
    # 102 * 1e-3 is 0.10200000000000001, which JSONL wrote (QA16 #14); 102 / 1e3 is 0.102.
    log = write(tmp_path / "t.log", [line(referrer=None, agent=None) + " " + written])
    fmt = f'apache:%h %l %u %t "%r" %>s %b {spec}'
    r = run("records", log, "--log-format", fmt, "--fields", "response_time", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    assert r.stdout == f'{{"response_time": {value}}}\n'


def test_parquet_of_nothing_still_has_columns(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.parquet"
    r = run("records", log, "--status", "418", "--fields", "time,client,status", "-o", out)
    assert r.exit_code == 8
    assert pq.read_schema(out).names == ["time", "client", "status"]


def test_limit_and_sort(log: Path) -> None:
    r = run("records", log, "--limit", "5", "--format", "jsonl", "--fields", "line")
    assert [json.loads(x)["line"] for x in r.stdout.splitlines()] == [1, 2, 3, 4, 5]
    r = run(
        "records",
        log,
        "--sort",
        "-bytes",
        "--limit",
        "3",
        "--format",
        "jsonl",
        "--fields",
        "bytes,status",
    )
    assert [json.loads(x)["bytes"] for x in r.stdout.splitlines()] == [399, 398, 397]
    r = run(
        "records",
        log,
        "--status",
        "500",
        "--sort",
        "bytes",
        "--format",
        "jsonl",
        "--fields",
        "status",
    )
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 100 and set(rows[0]) == {"status"}


def test_csv_is_spreadsheet_safe_and_table_escapes(log: Path) -> None:
    r = run("records", log, "--format", "csv", "--fields", "line,referrer", "--limit", "10")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[5]["referrer"].startswith("'=")
    # A lone "-" agent is the log's placeholder, no formula: as logged, not "'-" (QA22 #17).
    dash = write(log.parent / "dash.log", [line(agent="-"), line(agent="-cmd")])
    r = run("records", dash, "--format", "csv", "--fields", "agent")
    assert [row["agent"] for row in csv.DictReader(io.StringIO(r.stdout))] == ["-", "'-cmd"]
    esc = write(log.parent / "esc.log", [line(agent="evil\x1b[2J", request="GET /a\x07 HTTP/1.1")])
    r = run("records", esc, "--fields", "path,agent")
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout


def test_jsonl_escapes_what_a_terminal_would_act_on(log: Path) -> None:
    """JSON Lines go to a terminal as often as the table (README: ``records ... --format
    jsonl``): C1 CSI, bidi overrides and U+2028 are written as \\uXXXX, as in the JSON
    report, and read back as the same strings."""
    agent, path = "evil\u009b2J\u202egnp.exe", "/a\u2028b"
    esc = write(log.parent / "esc.log", [line(agent=agent, request=f"GET {path} HTTP/1.1")])
    r = run("records", esc, "--fields", "path,agent", "--format", "jsonl")
    assert r.exit_code == 0
    for ch in ("\u009b", "\u202e", "\u2028"):
        assert ch not in r.stdout
    assert json.loads(r.stdout) == {"path": path, "agent": agent}


def test_bad_records_options(log: Path) -> None:
    for args, word in ((["--fields", "nope"], "--fields"), (["--sort", "zzz"], "--sort")):
        r = run("records", log, *args)
        assert r.exit_code == 2 and word in r.stderr and r.stderr.count("\n") == 1


def test_visit_ids_are_the_visits_of_the_visits_command(sample_logs: Path) -> None:
    r = run("records", sample_logs, "--fields", "visit,is_page", "--format", "jsonl")
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    ids = {x["visit"] for x in rows if x["visit"] is not None}
    assert all(x["is_page"] for x in rows if x["visit"] is not None)
    v = run("visits", sample_logs, "--format", "json", "--section", "visits")
    assert len(ids) == json.loads(v.stdout)["overview"]["visits"] > 0


def test_records_stream_block_by_block(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first rows are out before the second block is read: nothing waits for the end."""
    from logaudit import records
    from logaudit.config import Settings
    from logaudit.sources import expand

    real = records.read_blocks
    read = []

    def small_blocks(inp, state):  # type: ignore[no-untyped-def]
        for b in real(inp, state, block_bytes=2048):
            read.append(b)
            yield b

    monkeypatch.setattr(records, "read_blocks", small_blocks)
    frames = records.select(expand([str(log)]), Settings(), records.Query(("line",)))
    first = next(frames)
    assert isinstance(first, pd.DataFrame) and len(first) > 0
    assert len(read) == 1
    rest = [f for f in frames if isinstance(f, pd.DataFrame)]
    assert len(read) > 10 and sum(map(len, [first, *rest])) == 400


NGINX_COOKIE = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" "$cookie_ref"'
)


def test_records_and_scrub_take_a_format_string_and_cookie_fields(tmp_path: Path) -> None:
    """An admin drilling down reads the server's own format, cookies included."""
    log = tmp_path / "a.log"
    log.write_text(
        '203.0.113.5 - - [01/Mar/2024:10:00:00 +0000] "GET /a?x=1 HTTP/1.1" 200 5 "-" "curl/8" '
        '"partner1"\n'
        '203.0.113.6 - - [01/Mar/2024:10:00:01 +0000] "GET /b HTTP/1.1" 404 0 "-" "curl/8" "-"\n'
    )
    r = CliRunner().invoke(
        cli,
        ["records", str(log), "--log-format", NGINX_COOKIE, "--format", "jsonl",
         "--fields", "client,path,status,cookie_ref,cookie_other"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(x["path"], x["status"], x["cookie_ref"], x["cookie_other"]) for x in rows] == [
        ("/a", 200, "partner1", None),
        ("/b", 404, "-", None),  # as logged; a cookie the format lacks is null
    ]
    r = CliRunner().invoke(cli, ["records", str(log), "--fields", "cookie_", "--format", "jsonl"])
    assert r.exit_code == 2 and "cookie_NAME" in r.output
    r = CliRunner().invoke(cli, ["records", str(log), "--log-format", "nginx:$status"])
    assert r.exit_code == 2 and "no time" in r.output
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "--log-format", NGINX_COOKIE, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text().splitlines()[0].startswith("203.0.113.0 - - [01/Mar/2024:10:00:00")
    assert out.read_text().count("\n") == 2


def test_the_table_shows_times_and_visitor_keys_whole(log: Path) -> None:
    """local (a time, 19 characters, 26 to the millisecond) and visitor (a 64-bit key, up to
    20 digits) fit their columns: they were cut at 16 with an ellipsis."""
    fields = "time,local,visitor"
    table = run("records", log, "--fields", fields, "--limit", "50").stdout
    rows = run("records", log, "--fields", fields, "--limit", "50", "--format", "jsonl").stdout
    assert "…" not in table
    body = [row.split() for row in table.splitlines()[1:]]
    want = [json.loads(r) for r in rows.splitlines()]
    assert [[r["time"], r["local"], str(r["visitor"])] for r in want] == body


@pytest.mark.parametrize("anonymize", [[], ["--anonymize"]])
def test_bad_lines_and_nul_runs_are_said_as_the_reports_say_them(
    tmp_path: Path, anonymize: list[str]
) -> None:
    """records said nothing on stderr of the lines its rows lack: a NUL run (not even
    counted) and the bad lines were dropped silently. It says them as summary does: one
    line per input with NUL runs, then "N bad lines; the first: ..." (anonymised with the
    rows)."""
    good = (line() + "\n").encode()
    p = tmp_path / "access.log"
    p.write_bytes(good * 10 + b"203.0.113.9 garbage\n" + b"\x00" * 3000 + good * 10)
    r = run("records", p, "--format", "jsonl", *anonymize)
    s = run("summary", p, "--format", "json", *anonymize)
    assert r.exit_code == 0 and s.exit_code == 0, (r.stderr, s.stderr)  # type: ignore[attr-defined]
    assert len(r.stdout.splitlines()) == 20  # type: ignore[attr-defined]
    said = r.stderr.splitlines()  # type: ignore[attr-defined]
    assert said == [
        f"logaudit: {p}: 1 run of NUL bytes skipped (logrotate's copytruncate or a crash "
        "while writing)",
        f"logaudit: 1 bad line; the first: {p}:11: 2 fields, combined has 10: "
        f"203.0.113.{'0' if anonymize else '9'} garbage",
    ]
    assert said == [m for m in s.stderr.splitlines() if "GeoIP" not in m]  # type: ignore[attr-defined]


# A comment line, then one line of an unknown layout (awstats' testnginx.log, QA20 #3): its
# last line has no newline, so the first block read holds the comment line alone.
_VHOST_FIRST = (
    "# %virtualname %host\n"
    'example.com 109.72.95.200 [09/May/2011:06:54:44 +0100] "-" 400 0 "-" "-"'
)


@pytest.mark.parametrize("fmt", ["table", "csv", "jsonl", "parquet"])
def test_records_detect_past_a_first_block_of_comments_as_summary(
    tmp_path: Path, fmt: str
) -> None:
    """records detected on a first block of only comment lines: "no log lines to detect a
    format from", where summary says "not recognised" and the --log-format to try; and the
    table, CSV and Parquet had written their header to stdout before failing."""
    log = tmp_path / "testnginx.log"
    log.write_text(_VHOST_FIRST)
    r = run("records", log, "--format", fmt)
    s = run("summary", log)
    assert s.exit_code == 4 and "log format not recognised" in s.stderr
    assert "try --log-format 'nginx:$host $remote_addr" in s.stderr
    assert (r.exit_code, r.stderr, r.stdout) == (4, s.stderr, "")


@pytest.mark.parametrize("name", ["x.csv", "x.parquet"])
def test_failed_records_leave_an_existing_output_file_untouched(tmp_path: Path, name: str) -> None:
    """A records -o FILE that parsed no line replaced FILE with an empty file (for .parquet,
    not Parquet at all); summary -o keeps the old file when it fails (review rev20-f F1)."""
    log = tmp_path / "testnginx.log"
    log.write_text(_VHOST_FIRST)
    out = tmp_path / name
    out.write_bytes(b"keep")
    r = run("records", log, "-o", out)
    assert r.exit_code == 4 and "log format not recognised" in r.stderr
    assert out.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "testnginx.log"])


def test_records_read_a_log_whose_first_block_is_comments(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_text("#c\n" + line(request="GET /x HTTP/1.1"))  # no newline after the line
    r = run("records", log, "--fields", "line,path", "--format", "jsonl")
    assert (r.exit_code, r.stdout) == (0, '{"line": 2, "path": "/x"}\n'), r.stderr
    log.write_text("#c\n#d\n")  # no log line at all: said as summary says it
    r = run("records", log, "--format", "csv")
    s = run("summary", log)
    assert (r.exit_code, r.stderr, r.stdout) == (4, s.stderr, "")
    assert "no log lines to detect a format from" in r.stderr


def test_upstream_sums_are_spelled_as_the_reports_spell_a_time(tmp_path: Path) -> None:
    """nginx's upstream times "0.004, 0.005 : 0.001" sum to 0.010000000000000002 in floats,
    which JSONL, CSV and the table wrote (QA20 #7); problems says 0.01 (timing.rounded)."""
    log = write(tmp_path / "up.log", [line() + " 0.010 0.004, 0.005 : 0.001", line() + " 0.020 -"])
    fmt = (
        'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" $request_time $upstream_response_time'
    )
    fields = ("--fields", "response_time,upstream_time", "--log-format", fmt)
    r = run("records", log, *fields, "--format", "jsonl")
    assert r.stdout.splitlines() == [
        '{"response_time": 0.01, "upstream_time": 0.01}',
        '{"response_time": 0.02, "upstream_time": null}',
    ], r.stderr
    r = run("records", log, *fields, "--format", "csv")
    assert r.stdout == "response_time,upstream_time\n0.01,0.01\n0.02,\n", r.stderr
    r = run("records", log, *fields)
    assert r.stdout.split() == "response_time upstream_time 0.01 0.01 0.02 -".split(), r.stderr
    out = tmp_path / "up.parquet"
    assert run("records", log, *fields, "-o", out).exit_code == 0
    assert pd.read_parquet(out)["upstream_time"].tolist()[0] == 0.01
