"""W3C extended logs (IIS, CloudFront, NetScaler...): the #Fields: header is the layout, it may
change mid-file and mid-block, and every real W3C access log in ../shared/data is read with its
right fields and no spurious bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.cli import cli
from logaudit.formats import Detected, after, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def parse_bytes(raw: bytes, det: Detected | None = None) -> tuple[pd.DataFrame, BadLines]:
    det = det or detect(raw, "u_ex.log")
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("u_ex.log", None), raw.count(b"\n")), det, bad)
    return frame.sort_values("line").reset_index(drop=True), bad


TWO_HEADERS = b"""#Software: Microsoft Internet Information Services 10.0
#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status time-taken
2024-03-01 10:00:00 203.0.113.1 GET /a x=1 200 15
2024-03-01 10:00:01 203.0.113.2 GET /b - 404 3

#Fields: time date sc-status c-ip cs-method cs-uri-stem sc-bytes cs(User-Agent) cs(Referer)
10:05:00 2024-03-01 301 198.51.100.7 POST /c 512 Mozilla/5.0+(X11) https://ref.example/
10:05:01.250 2024-03-01 200 "198.51.100.8" GET /d 9 "quoted agent" -
"""


def test_fields_change_mid_block() -> None:
    frame, bad = parse_bytes(TWO_HEADERS)
    assert bad.total == 0, bad.samples
    assert list(frame["line"]) == [3, 4, 7, 8]
    assert list(frame["path"]) == ["/a", "/b", "/c", "/d"]
    assert list(frame["status"]) == [200, 404, 301, 200]
    assert list(frame["query"]) == ["x=1", "", "", ""]
    assert list(frame["client"]) == ["203.0.113.1", "203.0.113.2", "198.51.100.7", "198.51.100.8"]
    assert frame["bytes"].tolist() == [0, 0, 512, 9]
    assert frame["agent"].tolist()[2:] == ["Mozilla/5.0+(X11)", "quoted agent"]
    assert frame["referrer"].tolist()[2] == "https://ref.example/"
    # time-taken is milliseconds; W3C times are UTC.
    assert frame["response_time"].tolist()[:2] == pytest.approx([0.015, 0.003])
    assert frame["time"].iloc[2] == pd.Timestamp("2024-03-01T10:05:00Z")
    assert frame["offset"].tolist() == [0, 0, 0, 0]


def test_headers_found_among_other_hashes() -> None:
    """Headers are found by their "#" at a line's start: a "#" inside a line, a comment line,
    or "#Fields:" not at a line's start is no header."""
    from logaudit.formats import w3c

    data = (
        b"#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
        b"2024-03-01 10:00:00 203.0.113.1 GET /a#top 200\n"
        b"#Remark: x #Fields: date\n"
        b"2024-03-01 10:00:01 203.0.113.1 GET /#Fields: 200\n"
        b"#Fields: time date sc-status c-ip cs-method cs-uri-stem\n"
        b"10:00:02 2024-03-01 404 203.0.113.2 GET /b#\n"
    )
    found = w3c.headers(data)
    assert [at for at, _ in found] == [0, data.index(b"#Fields: time")]
    frame, bad = parse_bytes(data)
    assert bad.total == 0 and frame["path"].tolist() == ["/a#top", "/#Fields:", "/b#"]
    assert frame["status"].tolist() == [200, 200, 404]


def test_the_header_in_force_carries_to_the_next_block() -> None:
    first, second = TWO_HEADERS.split(b"\n\n")
    det = detect(first, "u_ex.log")
    nxt = after(det, first + b"\n")
    assert nxt.format is det.format
    later = after(det, second)
    assert later.format is not det.format
    # A block that starts without a header uses the one in force.
    body = b"10:06:00 2024-03-01 200 192.0.2.1 GET /e 1 curl/8 -\n"
    frame, bad = parse_bytes(body, later)
    assert bad.total == 0 and frame["path"].tolist() == ["/e"]
    frame, bad = parse_bytes(body, det)
    assert bad.total == 1  # read with the first header, it does not fit


def test_end_to_end_through_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "u_ex240301.log"
    body = TWO_HEADERS + b"".join(
        b"10:%02d:00 2024-03-01 200 192.0.2.%d GET /p%d 10 curl/8 -\n" % (i % 60, i % 250, i)
        for i in range(3000)
    )
    log.write_bytes(body)
    r = CliRunner().invoke(cli, ["summary", str(log), "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["overview"]["requests"] == 3004 and d["overview"]["bad_lines"] == 0
    assert d["inputs"][0]["format"] == "w3c"
    assert d["overview"]["response_time_max"] == pytest.approx(0.015)


@pytest.mark.parametrize(
    "args",
    [["problems"], ["summary", "--section", "failing-urls"], ["summary", "--state", "STATE"]],
)
def test_two_header_lines_through_the_path_tables(tmp_path: Path, args: list[str]) -> None:
    # Every IIS log has #Software/#Version before #Fields: its path categories come out
    # backed by a chunked Arrow array, which the endpoint tables once failed on (exit 1).
    log = tmp_path / "u_ex.log"
    log.write_bytes(
        b"#Version: 1.0\n#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
        b"2002-05-02 17:42:15 172.22.255.255 GET /a 500\n"
        b"2002-05-02 17:42:16 172.22.255.254 GET /b 200\n"
    )
    args = [str(tmp_path / "st") if a == "STATE" else a for a in args]
    r = CliRunner().invoke(cli, [*args, str(log), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)


# file -> (hits, bad lines, {line number: {column: value}})
REAL: dict[str, tuple[int, int, dict[int, dict[str, object]]]] = {
    "lnav/logfile_w3c.0": (
        1,
        0,
        {5: {"client": "172.22.255.255", "path": "/images/picture.jpg", "status": 200}},
    ),
    "lnav/logfile_w3c.1": (
        1,
        0,
        {7: {"user": "DMS.user", "bytes": 350, "agent": "Mozilla/4.5 [en] (WinNT; I)"}},
    ),
    "lnav/logfile_w3c.3": (3, 0, {8: {"client": "70.95.0.0", "vhost": "xzy.example.com"}}),
    # The second line has an empty sc-status: a bad line as the source wrote it.
    "lnav/logfile_w3c.4": (1, 1, {5: {"client": "123.123.123.123", "method": "GET"}}),
    "lnav/logfile_w3c_big.0": (
        210,
        0,
        {5: {"client": "157.55.39.146", "path": "/robots.txt", "status": 404, "bytes": 1405}},
    ),
    "netdata/weblog_u_ex221107.log": (
        152,
        0,
        {5: {"client": "127.0.0.1", "path": "/us", "status": 404, "response_time": 0.13}},
    ),
    "matomo/iis.log": (
        1,
        0,
        {5: {"user": "theuser", "query": "topCat1=divinity&submit=Search", "bytes": 27028}},
    ),
    "matomo/iis_custom.log": (3, 0, {8: {"path": "/Products/theProduct", "status": 200}}),
    "matomo/amazon_cloudfront_web.log": (
        1,
        0,
        {3: {"vhost": "d111111abcdef8.cloudfront.net", "bytes": 182, "response_time": 0.001}},
    ),
    "matomo/netscaler.log": (
        1,
        0,
        {5: {"status": 302, "path": "/Citrix/XenApp/Wan/auth/login.jsp"}},
    ),
}


@pytest.mark.shared
@pytest.mark.parametrize("rel", list(REAL))
def test_real_w3c_logs(shared_data: Path, rel: str) -> None:
    path = shared_data / "logs" / rel
    if not path.is_file():
        pytest.skip(f"{rel} is absent")
    raw = path.read_bytes()
    det = detect(raw, rel)
    assert det.format.family == "w3c"
    frame, bad = parse_bytes(raw, det)
    hits, bad_lines, rows = REAL[rel]
    assert (len(frame), bad.total) == (hits, bad_lines), bad.samples
    by_line = frame.set_index("line")
    for number, values in rows.items():
        for col, want in values.items():
            got = by_line.loc[number, col]
            assert got == pytest.approx(want) if isinstance(want, float) else got == want, col


@pytest.mark.parametrize("empty", [b"", b"\r\n"])
def test_a_rescued_crlf_line_keeps_no_cr(empty: bytes) -> None:
    # A line the CSV reader rejects (two spaces between fields) goes to the exact path: with
    # the block's counts adding up its text comes from the reader (CR gone), with an empty
    # line in the block it is cut from the raw bytes (CR kept). Both read the same agent.
    head = (
        b"#Software: IIS\r\n"
        b"#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent)\r\n"
    )
    ok = b"2024-03-01 10:00:00 203.0.113.1 GET /a 200 Mozilla/5.0+ok\r\n" * 3
    odd = b"2024-03-01 10:00:01 203.0.113.2  GET /b 200 Mozilla/5.0+x\r\n"
    frame, bad = parse_bytes(head + ok + empty + odd + ok)
    assert bad.total == 0
    agents = ["Mozilla/5.0+ok"] * 3 + ["Mozilla/5.0+x"] + ["Mozilla/5.0+ok"] * 3
    assert list(frame["agent"]) == agents


def test_a_header_that_drops_the_agent_mid_file_counts_people_wherever_blocks_cut(
    tmp_path: Path,
) -> None:
    """Rows under a #Fields: header without cs(User-Agent) were tools when the header came
    mid-block (their empty agent classified) and people when it started one (the block's
    format logs no agent). An agent not logged is no robot (docs/metrics.md, as common's
    lines): people, whatever the block size; a request logged without one ("-") is a tool."""
    import os
    import subprocess
    import sys

    ua = "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+Chrome/120.0+Safari/537.36"
    with_agent = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes cs(User-Agent)\n"
    without = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes\n"
    a = [
        f"2024-03-01 10:{i // 60:02d}:{i % 60:02d} 10.0.0.{i % 250} GET /p{i % 30}.html 200 "
        f"{100 + i} {ua if i else '-'}\n"
        for i in range(600)
    ]
    b = [
        f"2024-03-01 11:{i // 60:02d}:{i % 60:02d} 10.1.0.{i % 250} GET /q{i % 30}.html 200 "
        f"{100 + i}\n"
        for i in range(600)
    ]
    log = tmp_path / "u.log"
    log.write_text(with_agent + "".join(a) + without + "".join(b))

    def run(command: str, block_mb: str, *more: str) -> str:
        env = {**os.environ, "LOGAUDIT_BLOCK_MB": block_mb, "LOGAUDIT_CONFIG": os.devnull}
        env["LOGAUDIT_NO_CACHE"] = "1"
        cmd = [sys.executable, "-m", "logaudit", command, str(log), *more]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout

    reports = []
    for block_mb in ("16", "0.02"):  # the header mid-block; then starting one of many blocks
        report = json.loads(run("summary", block_mb, "--format", "json"))
        report.pop("generated")
        reports.append(report)
        classes = [
            json.loads(row)["agent_class"]
            for row in run("records", block_mb, "--fields", "agent_class", "--format", "jsonl")
            .splitlines()
        ]
        assert classes == ["tool"] + ["person"] * 1199, block_mb
    assert reports[0] == reports[1]
    assert reports[0]["overview"]["tool_hits"] == 1
    assert reports[0]["overview"]["page_views"] == 1199


def test_an_empty_agent_logged_in_quoted_w3c_is_classified_not_a_person(tmp_path: Path) -> None:
    """Incapsula's quoted W3C with an agent logged as "" (the request sent none): a person,
    as if cs(User-Agent) were not in #Fields: (the empty value decided). Not logged is what
    the header says; a logged empty agent is classified, as in a combined log."""
    real = Path(__file__).resolve().parents[2] / "shared/data/logs/matomo/incapsula_w3c.log"
    if not real.is_file():
        pytest.skip("the shared data is not here")
    lines = real.read_text().splitlines(keepends=True)
    fields = lines[3].split()[1:]
    assert fields[0] == "date" and "cs(User-Agent)" in fields
    values = lines[4].split('" "')
    values[fields.index("cs(User-Agent)")] = ""
    log = tmp_path / "incapsula.log"
    log.write_text("".join(lines) + '" "'.join(values))
    args = [str(log), "--log-format", "w3c"]
    wanted = "line,agent,agent_class"
    got = CliRunner().invoke(cli, ["records", *args, "--fields", wanted, "--format", "jsonl"])
    assert got.exit_code == 0, got.output
    rows = [json.loads(r) for r in got.stdout.splitlines()]
    assert [(r["line"], r["agent"] != "", r["agent_class"]) for r in rows] == [
        (5, True, "person"),
        (7, False, "tool"),  # its empty agent, classified
    ]
    combined = tmp_path / "c.log"
    combined.write_text(
        '203.0.113.1 - - [01/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" ""\n'
    )
    same = CliRunner().invoke(
        cli, ["records", str(combined), "--fields", "agent_class", "--format", "jsonl"]
    )
    assert json.loads(same.stdout)["agent_class"] == "tool"


@pytest.mark.parametrize("block_mb", ["16", "0.005"])
def test_the_agent_coming_back_after_a_header_dropped_it_is_classified_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_mb: str
) -> None:
    """#Fields: with cs(User-Agent), then without it, then with it again: the rows of the
    middle header are people (not logged), those after it classified again (a crawler's
    agent is a crawler, "-" a tool), in one block or many."""
    bot = "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)"
    ua = "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+Chrome/120.0+Safari/537.36"
    with_agent = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes cs(User-Agent)\n"
    without = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes\n"

    def rows(hour: int, agents: list[str] | None) -> str:
        return "".join(
            f"2024-03-01 {hour:02d}:{i // 60:02d}:{i % 60:02d} 10.{hour}.0.{i % 250} GET "
            f"/p{i % 30}.html 200 {100 + i}" + ("" if agents is None else f" {agents[i % 3]}")
            + "\n"
            for i in range(60)
        )

    log = tmp_path / "u.log"
    log.write_text(
        with_agent + rows(10, [ua, ua, ua]) + without + rows(11, None)
        + with_agent + rows(12, [ua, bot, "-"])
    )
    monkeypatch.setenv("LOGAUDIT_BLOCK_MB", block_mb)
    got = CliRunner().invoke(
        cli, ["records", str(log), "--fields", "agent_class", "--format", "jsonl"]
    )
    assert got.exit_code == 0, got.output
    classes = [json.loads(r)["agent_class"] for r in got.stdout.splitlines()]
    assert classes == ["person"] * 120 + ["person", "crawler", "tool"] * 20
