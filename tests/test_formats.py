"""The format registry: every format parses its own samples, detection picks the right format on
tricky lines, and ``--log-format`` forces one."""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest
from loglines import FIREFOX, line

from logaudit.errors import ExitCode, InputInvalidError
from logaudit.formats import FORMATS, Detected, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

# An independent reading of the Apache/nginx family, written for the tests: an optional virtual
# host, client, ident, user, [time], "request", status, size, then optional quoted referrer and
# agent (quoted fields may hold backslash escapes).
_Q = r'"((?:[^"\\]|\\.)*)"'
FAMILY = re.compile(
    r"^(?:(?P<vhost>\S+) )?(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    + _Q.replace("(", "(?P<request>", 1)
    + r" (?P<status>\d{3}) (?P<bytes>\d+|-)"
    + r"(?: "
    + _Q.replace("(", "(?P<referrer>", 1)
    + " "
    + _Q.replace("(", "(?P<agent>", 1)
    + ")?"
    + r"(?P<tail>.*)$"
)


def nginx_escapes(text: str) -> str:
    """Apache's \\" and \\\\ written as nginx writes them (how logaudit keeps them)."""
    return re.sub(
        r"\\(.)", lambda m: {'"': r"\x22", "\\": r"\x5C"}.get(m.group(1), m.group(0)), text
    )


def parse(
    lines: list[str] | list[bytes], det: Detected, first_line: int = 1
) -> tuple[pd.DataFrame, BadLines]:
    raw = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    bad = BadLines()
    return parse_block(Block(raw, first_line, Input("t.log", None)), det, bad), bad


def data(lines: list[str] | list[bytes]) -> bytes:
    return b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_parses_its_own_samples(name: str) -> None:
    """Every family: its samples detect as itself and parse without a bad line."""
    fmt = FORMATS[name]
    det = detect(data(list(fmt.samples)), name)
    assert det.format.name == name
    frame, bad = parse(list(fmt.samples), det)
    assert bad.total == 0, bad.samples
    assert len(frame) == sum(1 for x in fmt.samples if x.strip() and not x.startswith("#"))


CLF = [name for name, f in FORMATS.items() if f.family == "clf"]


@pytest.mark.parametrize("name", CLF)
def test_every_clf_format_reads_its_samples_as_an_independent_pattern_does(name: str) -> None:
    fmt = FORMATS[name]
    assert fmt.samples, f"{name} carries no sample lines"
    det = detect(data(list(fmt.samples)), name, forced=name)
    assert det.format is fmt
    frame, bad = parse(list(fmt.samples), det)
    assert bad.total == 0, bad.samples
    assert len(frame) == len(fmt.samples)
    for sample, (_, row) in zip(fmt.samples, frame.iterrows(), strict=True):
        m = FAMILY.match(sample)
        assert m is not None, sample
        want = m.groupdict()
        has_vhost = "vhost" in fmt.fields
        if not has_vhost:
            # The independent pattern's optional vhost may have eaten the client: re-read.
            m = re.match(FAMILY.pattern.replace(r"(?:(?P<vhost>\S+) )?", ""), sample)
            assert m is not None
            want = {**m.groupdict(), "vhost": None}
        assert row["client"] == want["client"]
        assert row["user"] == want["user"]
        assert row["status"] == int(want["status"])
        assert row["bytes"] == (0 if want["bytes"] == "-" else int(want["bytes"]))
        when = datetime.strptime(want["time"], "%d/%b/%Y:%H:%M:%S %z")
        assert row["time"] == pd.Timestamp(when)
        assert row["offset"] == int(when.utcoffset().total_seconds() // 60)
        assert row["local"] == pd.Timestamp(when.replace(tzinfo=None))
        request = nginx_escapes(want["request"])
        method, _, rest = request.partition(" ")
        if want["request"] in ("-", ""):
            assert row["method"] == ""
        else:
            assert row["method"] == method
            target = rest.rsplit(" ", 1)[0] if rest.count(" ") else rest
            assert row["path"] == target.split("?", 1)[0]
        assert row["vhost"] == (want["vhost"] or "")
        if "agent" in fmt.fields:
            assert row["referrer"] == nginx_escapes(want["referrer"])
            assert row["agent"] == nginx_escapes(want["agent"])


@pytest.mark.parametrize("name", CLF)
def test_detection_picks_each_format_on_its_own_samples(name: str) -> None:
    det = detect(data(list(FORMATS[name].samples)), "t.log")
    assert det.format.name == name


def test_detection_prefers_the_wider_format_on_a_tie() -> None:
    # A combined line also fits "common + 2 trailing fields": combined must win.
    det = detect(data([line(), line(client="198.51.100.2")]), "t.log")
    assert (det.format.name, det.extras) == ("combined", 0)


def test_one_cut_short_agent_does_not_make_a_combined_log_common() -> None:
    # `common` + 2 extras also takes the line whose agent lost its closing quote: it fitted
    # one line more than combined, and the whole log was read as common (QA16 finding 1).
    lines = [line(client=f"198.51.100.{i}") for i in range(20)]
    lines[5] = lines[5][:-1]
    det = detect(data(lines), "t.log")
    assert (det.format.name, det.extras) == ("combined", 0)


def test_a_cut_short_last_line_keeps_no_newline_in_its_agent() -> None:
    # Arrow read the open quote to the block's end: "ua\n", one visitor counted as two.
    lines = [line(agent="ua"), line(agent="ua")[:-1]]
    df, bad = parse(lines, detect(data(lines), "t.log", "combined"))
    assert list(df["agent"].astype(str)) == ["ua", "ua"]
    assert bad.total == 0, bad.samples


def test_too_few_fitting_lines_are_named_not_called_no_format() -> None:
    # One combined line and three of junk: "no format fits" was said while quoting the
    # combined line (QA16 #14); the message names the format and how many lines fit it.
    with pytest.raises(InputInvalidError) as e:
        detect(data([line(), "junk here", "junk here", "junk here"]), "one.log")
    assert "only 1 of 4 sampled lines fit combined" in str(e.value)
    assert "try --log-format combined" in str(e.value) and "no format" not in str(e.value)


def _every_candidate(blob: bytes) -> tuple[str, int, int]:
    """Detection's choice made the long way: every format tried; among those fitting half the
    lines the fewest trailing extras, then the most lines matched, then the earlier format."""
    from logaudit.formats import _best, _rank, sample_lines

    lines = sample_lines(blob)
    found = [_best(blob, lines, [fmt], None) for fmt in FORMATS.values()]
    best = max(
        (d for d in found if d is not None),
        key=lambda d: (
            _rank(d.matched, d.extras, len(lines)),
            -list(FORMATS).index(d.format.name),
        ),
    )
    return best.format.name, best.extras, best.matched


@pytest.mark.parametrize("name", CLF)
def test_detection_stopping_at_a_perfect_fit_chooses_as_trying_every_format(name: str) -> None:
    blob = data(list(FORMATS[name].samples))
    det = detect(blob, "t.log")
    assert (det.format.name, det.extras, det.matched) == _every_candidate(blob)


def test_detection_stops_at_the_first_format_that_fits_every_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A combined log: the formats after `combined` are not compiled (~10 ms a run); a log
    that combined fits with extras still tries them all."""
    layout = type(FORMATS["combined"])
    tried: list[str] = []
    real = layout.detect_regex

    def counted(self: object) -> str:
        tried.append(self.name)  # type: ignore[attr-defined]
        return real(self)  # type: ignore[arg-type]

    monkeypatch.setattr(layout, "detect_regex", counted)
    det = detect(data([line(), line(client="198.51.100.2")]), "t.log")
    assert (det.format.name, det.extras) == ("combined", 0)
    assert tried[-1] == "combined" and len(tried) < len(FORMATS) // 2
    tried.clear()
    blob = data([line() + ' "extra"', line(client="198.51.100.2") + ' "extra"'])
    det = detect(blob, "t.log")
    assert (det.format.name, det.extras, det.matched) == _every_candidate(blob)
    assert det.extras > 0 and len(tried) > len(FORMATS) // 2


# ---- detection on tricky lines --------------------------------------------------------------

T = "01/Mar/2024:00:00:02 +0000"

TRICKY = {
    # id: (lines, format, extras, expected values of the first row)
    "ipv6-client": (
        [line(client="2001:db8::1"), line(client="::1"), line(client="fe80::1%eth0")],
        "combined",
        0,
        {"client": "2001:db8::1"},
    ),
    "hostname-client": (
        [line(client="crawl-66-249-66-1.googlebot.com"), line(client="localhost")],
        "combined",
        0,
        {"client": "crawl-66-249-66-1.googlebot.com"},
    ),
    "nginx-x22-in-agent": (
        [line(agent=r"Mozilla/5.0 \x22quoted\x22 (X11)")] * 2,
        "combined",
        0,
        {"agent": r"Mozilla/5.0 \x22quoted\x22 (X11)"},
    ),
    "dash-request": (
        [line(request="-", status=400, size=0, agent="-")] * 2,
        "combined",
        0,
        {"method": "", "status": 400, "agent": "-"},
    ),
    "empty-request": (
        [line(request="", status=400, size=0, referrer="", agent="")] * 2,
        "combined",
        0,
        {"method": "", "path": "", "referrer": "", "agent": ""},
    ),
    "nginx-xff": (
        [line(extra=['"10.0.0.1, 10.0.0.2"']), line(extra=['"-"'])],
        "combined",
        1,
        {"client": "203.0.113.1", "agent": FIREFOX},
    ),
    "xff-and-request-time": (
        [line(extra=['"-"', "0.003"])] * 3,
        "combined",
        2,
        {"agent": FIREFOX},
    ),
    "vhost-with-port": (
        [line(vhost="shop.example.com:443"), line(vhost="www.example.com")],
        "vcombined",
        0,
        {"vhost": "shop.example.com:443", "client": "203.0.113.1"},
    ),
    "vhost-ipv6-client": (
        [line(vhost="example.com", client="2001:db8::7")] * 2,
        "vcombined",
        0,
        {"vhost": "example.com", "client": "2001:db8::7"},
    ),
    "common": ([line(referrer=None, agent=None)] * 2, "common", 0, {"referrer": "", "agent": ""}),
    "vcommon": (
        [line(vhost="example.com", referrer=None, agent=None)] * 2,
        "vcommon",
        0,
        {"vhost": "example.com"},
    ),
    "size-dash": ([line(size="-")] * 2, "combined", 0, {"bytes": 0}),
}


@pytest.mark.parametrize("lines, fmt, extras, values", TRICKY.values(), ids=list(TRICKY))
def test_detection_on_tricky_lines(lines: list[str], fmt: str, extras: int, values: dict) -> None:
    det = detect(data(lines), "t.log")
    assert (det.format.name, det.extras) == (fmt, extras)
    frame, bad = parse(lines, det)
    assert bad.total == 0, bad.samples
    assert len(frame) == len(lines)
    row = frame.iloc[0]
    for k, v in values.items():
        assert row[k] == v, k


# Found broken (combined lost to common + 2 extras) and fixed in 9af5202: a regression test.
def test_detect_apache_escaped_quote() -> None:
    lines = [line(agent=r"Mozilla/5.0 \"quoted\" (X11)")] * 3
    det = detect(data(lines), "t.log")
    assert (det.format.name, det.extras) == ("combined", 0)


def test_apache_escaped_quote_parses_when_forced() -> None:
    lines = [line(agent=r"Mozilla/5.0 \"quoted\" (X11)", referrer=r"http://x/\"a\\b")]
    det = detect(data(lines), "t.log", forced="combined")
    frame, bad = parse(lines, det)
    assert bad.total == 0
    # Kept visibly, in nginx's escape form.
    assert frame["agent"][0] == r"Mozilla/5.0 \x22quoted\x22 (X11)"
    assert frame["referrer"][0] == r"http://x/\x22a\x5Cb"


def test_one_escaped_quote_line_does_not_change_the_format_of_the_rest() -> None:
    lines = [line(client=f"198.51.100.{i}") for i in range(9)] + [line(agent=r"UA \"q\"")]
    det = detect(data(lines), "t.log")
    assert det.format.name == "combined"


def test_non_utf8_bytes_in_the_path_are_kept_visibly() -> None:
    raw = line(request="GET /caf\udce9/x HTTP/1.1").encode("utf-8", "surrogateescape")
    assert b"\xe9" in raw
    det = detect(data([raw, raw]), "t.log")
    assert det.format.name == "combined"
    frame, bad = parse([raw], det)
    assert bad.total == 0
    assert frame["path"][0] == r"/caf\xe9/x"


def test_big5_bytes_in_the_path_are_kept_visibly() -> None:
    raw = line(request="GET /", vhost="www.example.com").encode()
    raw = raw.replace(b"GET /", b"GET /\xac\xb0\xa8\xe4 HTTP/1.0", 1).replace(
        b' HTTP/1.0"', b'"', 1
    )
    det = detect(data([raw]), "t.log")
    frame, bad = parse([raw], det)
    assert bad.total == 0
    assert frame["path"][0] == r"/\xac\xb0\xa8\xe4"


def test_forcing_a_format() -> None:
    lines = [line(), line()]
    det = detect(data(lines), "t.log", forced="common")
    assert det.format.name == "common"
    frame, bad = parse(lines, det)
    assert bad.total == 0 and len(frame) == 2
    assert set(frame["agent"]) == {""}  # common has no agent column


def test_forcing_a_format_that_does_not_fit_gives_bad_lines_not_an_error() -> None:
    lines = [line(referrer=None, agent=None)] * 3
    det = detect(data(lines), "t.log", forced="vcombined")
    assert det.format.name == "vcombined" and det.matched == 0
    frame, bad = parse(lines, det)
    assert len(frame) == 0 and bad.total == 3


def test_unknown_format_is_an_input_invalid_error() -> None:
    with pytest.raises(InputInvalidError) as e:
        detect(b"Jan  1 00:00:00 host sshd[1]: Accepted publickey\n" * 5, "auth.log")
    assert e.value.exit_code == ExitCode.INPUT_INVALID
    assert "auth.log" in str(e.value) and "--log-format" in str(e.value)


def test_only_comments_and_blank_lines() -> None:
    with pytest.raises(InputInvalidError):
        detect(b"# a comment\n\n   \n#Fields: x\n", "t.log")


def test_a_minority_of_matching_lines_is_not_a_format() -> None:
    lines = [line()] + ["this is not a log line"] * 5
    with pytest.raises(InputInvalidError):
        detect(data(lines), "t.log")


def test_a_majority_of_matching_lines_is() -> None:
    lines = [line()] * 3 + ["this is not a log line"] * 2
    assert detect(data(lines), "t.log").format.name == "combined"


def test_every_registry_name_and_alias_is_accepted_and_listed() -> None:
    from click.testing import CliRunner

    from logaudit.cli import cli
    from logaudit.formats import ALIASES, resolve

    listed = CliRunner().invoke(cli, ["formats"]).output
    for name, fmt in FORMATS.items():
        assert resolve(name) is fmt
        assert name in listed
    for alias, name in ALIASES.items():
        assert resolve(alias.upper()) is FORMATS[name]
        assert alias.upper() in listed


def test_detection_looks_past_junk_at_the_start() -> None:
    junk = [f"2026/01/01 00:00:{i % 60:02d} [error] 12#12: *{i} open() failed" for i in range(1000)]
    lines = junk + [line(client=f"198.51.100.{i % 200}") for i in range(3000)]
    det = detect(data(lines), "t.log")
    assert det.format.name == "combined"
    frame, bad = parse(lines, det)
    assert len(frame) == 3000 and bad.total == 1000


def test_a_short_input_is_judged_on_all_its_lines() -> None:
    lines = ["junk line"] * 3 + [line()]
    with pytest.raises(InputInvalidError):
        detect(data(lines), "t.log")


def test_when_nothing_fits_the_message_shows_a_line_and_a_format_that_reads_it() -> None:
    lines = [
        'example.com 109.72.95.200 [09/May/2011:06:54:44 +0100] "GET /a HTTP/1.1" 200 12 "-" "x"'
    ] * 3
    with pytest.raises(InputInvalidError) as e:
        detect(data(lines), "t.log")
    msg = str(e.value)
    assert "example.com 109.72.95.200" in msg
    hint = msg.split("--log-format '", 1)[1].rstrip("'")
    det = detect(data(lines), "t.log", forced=hint)
    frame, bad = parse(lines, det)
    assert bad.total == 0 and frame["vhost"].iloc[0] == "example.com"
    with pytest.raises(InputInvalidError) as e:
        detect(data(['{"a": 1, "b": "x"}'] * 3), "t.log")
    assert "JSON lines" in str(e.value)


def test_auto_plus_reads_each_line_with_its_own_format() -> None:
    lines = []
    for i in range(60):
        if i % 3 == 0:
            lines.append(line(client=f"198.51.100.{i}", request=f"GET /c{i} HTTP/1.1"))
        elif i % 3 == 1:
            lines.append(
                line(
                    client=f"198.51.100.{i}",
                    request=f"GET /n{i} HTTP/1.1",
                    referrer=None,
                    agent=None,
                )
            )
        else:
            lines.append(line(vhost="shop.example.com", request=f"GET /v{i} HTTP/1.1"))
    lines.append("garbage")
    det = detect(data(lines), "t.log", forced="auto+")
    assert {det.format.name, *(f.name for f, _ in det.others)} == {
        "combined",
        "common",
        "vcombined",
    }
    frame, bad = parse(lines, det)
    assert bad.total == 1 and bad.samples["t.log"][0][0] == 61
    frame = frame.sort_values("line")
    assert len(frame) == 60 and frame["line"].tolist() == list(range(1, 61))
    assert frame["path"].tolist()[:3] == ["/c0", "/n1", "/v2"]
    assert frame["vhost"].tolist()[:3] == ["", "", "shop.example.com"]
    assert frame["agent"].tolist()[1] == ""
    # Without auto+, no one format reads most lines: the message says what would.
    with pytest.raises(InputInvalidError) as e:
        detect(data(lines), "t.log")
    assert "several formats" in str(e.value) and "auto+" in str(e.value)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=80),
            st.sampled_from([line(), '{"ts": 1, "status": 200}', "#Fields: date time", '"', "["]),
        ),
        max_size=8,
    )
)
def test_detection_either_finds_a_format_or_says_why(lines: list[str]) -> None:
    """Whatever the lines, detection (and its dead-end advice) never fails otherwise."""
    raw = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
    try:
        det = detect(raw, "t.log")
    except InputInvalidError:
        return
    assert det.format.name in FORMATS


@pytest.mark.parametrize("first", ["combined", "common"])
def test_auto_plus_rows_of_a_format_without_an_agent_are_people(
    tmp_path: pytest.TempPathFactory, first: str
) -> None:
    """QA 17 #9: auto+ over combined and common lines counted the common lines (no agent
    field: every hit a person, docs/metrics.md) as tools, and, with common the main format,
    combined crawlers as people. A combined line sent with an empty agent stays a tool."""
    from pathlib import Path

    from logaudit import api
    from logaudit.config import load

    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    common = [
        line(client=f"198.51.100.{i}", request=f"GET /n{i} HTTP/1.1", referrer=None, agent=None)
        for i in range(30 if first == "common" else 10)
    ]
    combined = [line(client="203.0.113.1", request=f"GET /c{i} HTTP/1.1") for i in range(5)]
    combined += [line(client="203.0.113.2", request=f"GET /b{i} HTTP/1.1", agent=bot)
                 for i in range(4)]
    combined += [line(client="203.0.113.3", request="GET /e HTTP/1.1", agent="")] * 3
    combined *= 1 if first == "common" else 3
    log = Path(str(tmp_path)) / "mixed.log"
    log.write_bytes(data([*combined, *common] if first == "combined" else [*common, *combined]))
    s = load({"log_format": "auto+"}, env={})
    out = api.report("summary", [str(log)], s, ("crawlers",))
    assert out.report is not None, out.messages
    ov = out.report.overview
    k = 1 if first == "common" else 3
    assert ov["requests"] == len(common) + 12 * k
    assert ov["crawler_hits"] == 4 * k
    assert ov["tool_hits"] == 3 * k


def test_detect_or_problem_is_the_one_failure_of_every_whole_input_reader() -> None:
    """records and the reports' engine each caught detect_for's error and made the input's
    problem themselves, in copied lines (review rev20-f F5): one helper, next to Lead."""
    from logaudit.config import Settings
    from logaudit.formats import detect_or_problem
    from logaudit.sources import ReadState

    state = ReadState()
    inp = Input("a.log", None)
    det = detect_or_problem(line().encode() + b"\n", inp, Settings(), state)
    assert det is not None and det.format.name == "combined" and state.problems == []
    assert detect_or_problem(b"#only\n", inp, Settings(), state) is None
    (p,) = state.problems
    said = "a.log: no log lines to detect a format from"
    assert (p.exit_code, str(p)) == (ExitCode.INPUT_INVALID, said)
    walked = Input("b.log", None, found_in="logs/")  # found in a folder: skipped, said
    assert detect_or_problem(b"#only\n", walked, Settings(), state) is None
    assert state.problems[-1].exit_code == ExitCode.OK
