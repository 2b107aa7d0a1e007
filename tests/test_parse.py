"""parse: bytes -> record-table chunks, and bad-line accounting.

Includes property tests (hypothesis): ``parse_block`` never raises, whatever the bytes, and the
valid lines among arbitrary junk are all recovered with their true line numbers.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loglines import FIREFOX, line

from logaudit import schema
from logaudit.formats import FORMATS, Detected
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

COMBINED = Detected(FORMATS["combined"], 0, 1, 1)
NAME = "t.log"


def block(lines: list[str] | list[bytes], first_line: int = 1) -> Block:
    raw = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    return Block(raw, first_line, Input(NAME, None))


def parse(
    lines: list[str] | list[bytes], det: Detected = COMBINED, first_line: int = 1
) -> tuple[pd.DataFrame, BadLines]:
    bad = BadLines()
    return parse_block(block(lines, first_line), det, bad), bad


def good(i: int) -> str:
    return line(
        client=f"198.51.100.{i % 200}",
        when=f"0{1 + i % 9}/Mar/2024:{i % 24:02d}:{i % 60:02d}:{(7 * i) % 60:02d} +0100",
        request=f"GET /p/{i}?n={i} HTTP/1.1",
        status=(200, 304, 404, 500)[i % 4],
        size="-" if i % 5 == 0 else i,
        referrer=f"https://ref.example/{i % 3}",
        agent=f"{FIREFOX} #{i % 7}",
    )


# ---- the record table -----------------------------------------------------------------------


def test_columns_and_dtypes_match_the_schema() -> None:
    frame, _ = parse([good(i) for i in range(10)])
    assert tuple(frame.columns) == schema.NAMES
    for col in schema.COLUMNS:
        assert str(frame[col.name].dtype) == col.dtype, col.name
    for col in schema.COLUMNS:
        if col.dtype == "category":
            assert frame[col.name].cat.categories.dtype == "str", col.name


def test_exact_path_has_the_same_columns_and_dtypes() -> None:
    frame, _ = parse([good(1), "garbage"])
    assert tuple(frame.columns) == schema.NAMES
    for col in schema.COLUMNS:
        assert str(frame[col.name].dtype) == col.dtype, col.name


def test_empty_chunk_matches_the_schema() -> None:
    frame = schema.empty_chunk()
    assert tuple(frame.columns) == schema.NAMES and len(frame) == 0
    for col in schema.COLUMNS:
        assert str(frame[col.name].dtype) == col.dtype, col.name


def test_a_block_of_only_bad_lines_gives_an_empty_chunk_with_the_schema() -> None:
    frame, bad = parse(["garbage", "more garbage"])
    assert len(frame) == 0 and bad.total == 2
    assert tuple(frame.columns) == schema.NAMES


@pytest.mark.parametrize(
    "written, offset, utc_iso",
    [
        ("22/Jan/2019:03:56:14 +0330", 210, "2019-01-22T00:26:14+00:00"),
        ("10/Oct/2000:13:55:36 -0700", -420, "2000-10-10T20:55:36+00:00"),
        ("01/Mar/2024:00:30:00 +0000", 0, "2024-03-01T00:30:00+00:00"),
        ("01/Mar/2024:00:30:00 -0930", -570, "2024-03-01T10:00:00+00:00"),
        ("31/Dec/2023:23:59:59 +1400", 840, "2023-12-31T09:59:59+00:00"),
    ],
)
def test_time_is_utc_with_the_written_offset_kept(written: str, offset: int, utc_iso: str) -> None:
    frame, bad = parse([line(when=written)])
    assert bad.total == 0
    row = frame.iloc[0]
    assert row["time"] == pd.Timestamp(utc_iso)
    assert str(row["time"].tz) == "UTC"
    assert row["offset"] == offset
    # The wall clock as written in the line.
    wall = pd.Timestamp(pd.to_datetime(written, format="%d/%b/%Y:%H:%M:%S %z")).tz_localize(None)
    assert row["local"] == wall


def test_month_names_and_leap_day() -> None:
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    lines = [line(when=f"15/{m}/2024:12:00:00 +0000") for m in months]
    lines.append(line(when="29/Feb/2024:12:00:00 +0000"))
    frame, bad = parse(lines)
    assert bad.total == 0
    assert list(frame["local"].dt.month) == list(range(1, 13)) + [2]


@pytest.mark.parametrize(
    "when",
    [
        "30/Feb/2024:12:00:00 +0000",
        "31/Apr/2024:12:00:00 +0000",
        "29/Feb/2023:12:00:00 +0000",
        "32/Jan/2024:12:00:00 +0000",
        "01/Foo/2024:12:00:00 +0000",
        "01/Mar/2024:25:00:00 +0000",
        "01/Mar/2024:12:00:00 0000",
        "01/Mar/2024:12:00:00 +00:00",
        # %t is "%d/%b/%Y:%H:%M:%S %z", every piece two digits: one digit is no such time,
        # though Arrow's strptime read "11:00:0" as 11:00:00 (QA22 #16).
        "05/Dec/2024:11:00:0 +0000",
        "05/Dec/2024:11:0:00 +0000",
        "5/Dec/2024:11:00:00 +0000",
        "05/Dec/2024:11:00:000 +0000",
    ],
)
def test_impossible_timestamps_are_bad_lines(when: str) -> None:
    # Regression: Arrow's strptime rolled 30/Feb into March (fixed in 040288f).
    frame, bad = parse([line(), line(when=when)])
    assert len(frame) == 1
    assert bad.total == 1
    [(lineno, reason)] = bad.samples[NAME]
    assert lineno == 2


def test_bytes_dash_counts_as_zero() -> None:
    frame, bad = parse([line(size="-"), line(size=0), line(size=123456789012)])
    assert bad.total == 0
    assert list(frame["bytes"]) == [0, 0, 123456789012]


@pytest.mark.parametrize(
    "req, method, path, query, protocol",
    [
        ("GET /a/b?x=1&y=2 HTTP/1.1", "GET", "/a/b", "x=1&y=2", "HTTP/1.1"),
        ("POST /cart HTTP/2.0", "POST", "/cart", "", "HTTP/2.0"),
        ("GET / HTTP/2", "GET", "/", "", "HTTP/2"),
        ("GET /old", "GET", "/old", "", ""),  # HTTP/0.9: no protocol
        ("SEARCH / -", "SEARCH", "/", "", "-"),  # a worm's, logged: the protocol's place, "-"
        ("GET /a b -", "GET", "/a b", "", "-"),
        ("GET /? HTTP/1.1", "GET", "/", "", "HTTP/1.1"),
        ("GET /a?b?c HTTP/1.1", "GET", "/a", "b?c", "HTTP/1.1"),
        ("OPTIONS * HTTP/1.1", "OPTIONS", "*", "", "HTTP/1.1"),
        ("CONNECT example.com:443 HTTP/1.1", "CONNECT", "example.com:443", "", "HTTP/1.1"),
        ("GET http://proxy.example/x?q HTTP/1.1", "GET", "http://proxy.example/x", "q", "HTTP/1.1"),
        ("GET /with space HTTP/1.1", "GET", "/with space", "", "HTTP/1.1"),
        ("GET /%E2%82%AC HTTP/1.1", "GET", "/%E2%82%AC", "", "HTTP/1.1"),  # not decoded
        ("-", "", "-", "", ""),
        ("", "", "", "", ""),
    ],
)
def test_request_split(req: str, method: str, path: str, query: str, protocol: str) -> None:
    frame, bad = parse([line(request=req)])
    assert bad.total == 0
    row = frame.iloc[0]
    assert (row["method"], row["path"], row["query"], row["protocol"]) == (
        method,
        path,
        query,
        protocol,
    )


def test_junk_request_line_is_kept_whole_as_the_path() -> None:
    frame, bad = parse([line(request="\\x16\\x03\\x01\\x00")])
    assert bad.total == 0
    assert frame["method"][0] == "" and frame["path"][0] == "\\x16\\x03\\x01\\x00"


def test_text_fields_are_kept_as_logged() -> None:
    frame, _ = parse([line(user="alice", referrer="https://www.example.com/a?b=c", agent=FIREFOX)])
    row = frame.iloc[0]
    assert (row["user"], row["referrer"], row["agent"]) == (
        "alice",
        "https://www.example.com/a?b=c",
        FIREFOX,
    )
    assert row["vhost"] == "" and pd.isna(row["response_time"]) and row["file"] == NAME


def test_vhost_column() -> None:
    det = Detected(FORMATS["vcombined"], 0, 1, 1)
    frame, bad = parse([line(vhost="shop.example.com:443")], det)
    assert bad.total == 0 and frame["vhost"][0] == "shop.example.com:443"


# ---- bad lines ------------------------------------------------------------------------------


def test_bad_lines_are_counted_with_line_numbers_and_reasons() -> None:
    lines = [
        good(1),  # 100
        good(2),  # 101
        '10.0.0.9 - - [01/Mar/2024:00:00:02 +0000] "GET /broken HTTP/1.1 200 5 "-" "x"',  # 102
        good(4),  # 103
        "",  # 104 blank
        good(6),  # 105
        "# a comment",  # 106
        good(8),  # 107
        "   \t ",  # 108 blank
        line(status="abc"),  # 109
        good(10),  # 110
    ]
    frame, bad = parse(lines, first_line=100)
    # The good lines after the unbalanced quote are not lost.
    assert list(frame["line"]) == [100, 101, 103, 105, 107, 110]
    assert list(frame["path"]) == ["/p/1", "/p/2", "/p/4", "/p/6", "/p/8", "/p/10"]
    assert bad.counts == {NAME: 2}
    assert bad.parsed == {NAME: 6}
    [(l1, r1), (l2, r2)] = sorted(bad.samples[NAME])
    assert l1 == 102 and "unbalanced quote" in r1
    assert l2 == 109 and "status" in r2


@pytest.mark.parametrize(
    "bad_line, reason",
    [
        ("junk", "fields"),
        (line(client="a b"), "fields"),
        (
            # A quote left open before the last field is bad (the last one is tolerated).
            '1.2.3.4 - - [01/Mar/2024:00:00:02 +0000] "GET / HTTP/1.1" 200 5 "unterminated',
            "quote",
        ),
        (line(when="01/Mar/2024:00:00:02"), ""),
        (line(status=99), "status"),
        (line(status=600), "status"),
        (line(size="12kB"), "size"),
        (line(size=-1), "size"),
    ],
)
def test_each_kind_of_bad_line(bad_line: str, reason: str) -> None:
    frame, bad = parse([good(1), bad_line, good(3)], first_line=1)
    assert list(frame["line"]) == [1, 3]
    assert bad.total == 1
    [(lineno, why)] = bad.samples[NAME]
    assert lineno == 2 and reason in why


def test_blank_and_comment_lines_are_not_bad() -> None:
    lines = ["#Version: 1.0", good(1), "", "  ", "\t", "# x y z", good(2), "\r"]
    frame, bad = parse(lines)
    assert bad.total == 0
    assert list(frame["line"]) == [2, 7]


def test_crlf_line_endings() -> None:
    lines = [good(1) + "\r", good(2) + "\r"]
    frame, bad = parse(lines)
    assert bad.total == 0
    assert list(frame["agent"]) == [f"{FIREFOX} #1", f"{FIREFOX} #2"]


# Regression: _exact once counted n-2 of n >= 4 bad lines, and none in later blocks once five
# examples were kept (fixed in 040288f).
@pytest.mark.parametrize("n_bad", [4, 5, 10])
def test_many_bad_lines_in_one_block_are_all_counted(n_bad: int) -> None:
    lines: list[str] = []
    for i in range(n_bad):
        lines += [good(i), f"junk {i}"]
    frame, bad = parse(lines)
    assert len(frame) == n_bad
    assert bad.total == n_bad
    assert bad.parsed[NAME] == n_bad


def test_bad_lines_in_many_blocks_are_all_counted() -> None:
    bad = BadLines()
    for k in range(4):
        parse_block(block([good(k), "junk", "more junk"], first_line=1 + 3 * k), COMBINED, bad)
    assert bad.total == 8
    assert [ln for ln, _ in bad.samples[NAME]] == [2, 3, 5, 6, 8]


def test_bad_values_in_many_blocks_are_all_counted() -> None:
    # Lines with the right shape but a bad value take the fast path's accounting.
    bad = BadLines()
    for k in range(4):
        parse_block(
            block([good(k), line(status=999), line(size="x")], first_line=1 + 3 * k), COMBINED, bad
        )
    assert bad.total == 8
    assert len(bad.samples[NAME]) == 5


def test_bad_lines_merge() -> None:
    a, b = BadLines(), BadLines()
    parse_block(block([good(1), "junk"]), COMBINED, a)
    parse_block(
        Block(b"junk\n" + good(2).encode() + b"\n", 1, Input("other.log", None)), COMBINED, b
    )
    m = a.merge(b)
    assert m.counts == {NAME: 1, "other.log": 1}
    assert m.parsed == {NAME: 1, "other.log": 1}
    assert m.total == 2


# ---- the fast path and the exact path agree -------------------------------------------------


def _same(lines: list[str] | list[bytes], det: Detected = COMBINED) -> None:
    fast, bad_fast = parse(lines, det)
    assert bad_fast.total == 0
    # One garbage line forces the exact (per-line regex) path for the whole block.
    exact, bad_exact = parse([*lines, "garbage line"], det)
    assert bad_exact.total == 1
    pd.testing.assert_frame_equal(fast, exact)


def test_fast_and_exact_paths_give_identical_tables() -> None:
    _same([good(i) for i in range(200)])


@pytest.mark.parametrize(
    "lines, fmt, extras",
    [
        ([line(vhost="a.example:80"), line(vhost="b.example")], "vcombined", 0),
        ([line(referrer=None, agent=None, size="-")] * 3, "common", 0),
        ([line(vhost="a.example", referrer=None, agent=None)] * 2, "vcommon", 0),
        ([line(extra=['"10.0.0.1"']), line(extra=['"-"'])], "combined", 1),
        ([line(agent=r"a \"q\" \\ b"), line(agent=r"\x22x\x22")], "combined", 0),
        ([line(request="-"), line(request=""), line(client="2001:db8::1")], "combined", 0),
        (
            [line(request="GET /caf\udce9 HTTP/1.1").encode("utf-8", "surrogateescape")],
            "combined",
            0,
        ),
        ([good(1) + "\r", good(2) + "\r", "", "# c"], "combined", 0),
    ],
    ids=[
        "vcombined",
        "common",
        "vcommon",
        "xff",
        "escapes",
        "odd-requests",
        "latin1",
        "crlf-blank",
    ],
)
def test_fast_and_exact_paths_agree_on_every_layout(lines: list, fmt: str, extras: int) -> None:
    _same(lines, Detected(FORMATS[fmt], extras, 1, 1))


def test_a_last_quoted_field_cut_short_is_a_hit_as_goaccess_reads_it() -> None:
    cut = '1.2.3.4 - - [01/Mar/2024:00:00:02 +0000] "GET /x HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X'
    frame, bad = parse([good(1), cut, good(3), cut + "\r", good(5)])
    assert bad.total == 0, bad.samples
    assert sorted(frame["line"]) == [1, 2, 3, 4, 5]
    rows = frame.set_index("line")
    assert rows.loc[2, "agent"] == "Mozilla/5.0 (X"
    assert rows.loc[4, "agent"] == "Mozilla/5.0 (X"
    assert rows.loc[2, "path"] == "/x" and rows.loc[3, "path"] == "/p/3"


def test_only_the_rejected_lines_take_the_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import logaudit.parse as parse_mod

    seen: list[int] = []
    real = parse_mod._exact

    def spy(*args: object, **kw: object) -> object:
        only = kw.get("only")
        seen.append(-1 if only is None else len(only))  # type: ignore[arg-type]
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(parse_mod, "_exact", spy)
    lines = [good(i) for i in range(1, 200)]
    lines[50] = "garbage line"
    lines[120] = '1.2.3.4 - - [01/Mar/2024:00:00:02 +0000] "GET / HTTP/1.1" 200 5 "-" "cut'
    frame, bad = parse(lines)
    assert seen and seen[0] >= 2 and -1 not in seen  # a few lines, never the whole block
    assert bad.total == 1 and bad.samples[NAME][0][0] == 51
    assert sorted(frame["line"]) == [i for i in range(1, 200) if i != 51]


def test_bare_carriage_return_inside_a_line() -> None:
    lines = [good(1) + "\r" + good(2), "", good(3)]
    frame, bad = parse(lines)
    exact, bad_exact = parse([*lines, "garbage"])
    assert list(frame["line"]) == list(exact["line"])
    assert bad.total + 1 == bad_exact.total


# ---- properties -----------------------------------------------------------------------------

DETECTED = [Detected(f, extras, 1, 1) for f in FORMATS.values() for extras in (0, 1)]
# A few seconds per run by default; FUZZ_EXAMPLES=5000 for a long hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Bytes that matter to the tokenizer, mixed with anything.
_TRICKY = st.sampled_from(
    [
        b" ",
        b'"',
        b"\\",
        b"[",
        b"]",
        b"-",
        b"#",
        b"\t",
        b"\x00",
        b"\xff",
        b"\xe9",
        b"\xc3",
        b"+0000]",
        b"[01/Mar/2024:00:00:02",
        b"200",
        b"GET / HTTP/1.1",
        b"\\x22",
        b'\\"',
    ]
)
JUNK_LINE = st.lists(_TRICKY | st.binary(max_size=8), max_size=14).map(
    lambda parts: b"".join(parts).replace(b"\n", b"")
)


@FUZZ
@given(raw=st.binary(max_size=400), det=st.sampled_from(DETECTED))
def test_parse_block_never_raises_on_arbitrary_bytes(raw: bytes, det: Detected) -> None:
    data = raw if raw.endswith(b"\n") else raw + b"\n"
    bad = BadLines()
    frame = parse_block(Block(data, 1, Input(NAME, None)), det, bad)
    assert tuple(frame.columns) == schema.NAMES
    assert bad.total >= 0


@FUZZ
@given(
    junk=st.lists(JUNK_LINE, max_size=12),
    positions=st.lists(st.integers(0, 12), max_size=12),
)
def test_valid_lines_among_junk_are_all_recovered(junk: list[bytes], positions: list[int]) -> None:
    # A bare CR inside a junk line is left out: see test_bare_carriage_return_inside_a_line.
    junk = [j.replace(b"\r", b"") for j in junk]
    goods = [good(i).encode() for i in range(12)]
    lines: list[bytes] = list(goods)
    for j, pos in zip(junk, positions, strict=False):
        lines.insert(min(pos, len(lines)), j)
    frame, bad = parse(lines, first_line=50)
    where = {lines.index(g): g for g in goods}  # position -> good line (all distinct)
    got = dict(zip(frame["line"], frame["path"], strict=True))
    for pos, g in where.items():
        assert got.get(50 + pos) == f"/p/{goods.index(g)}"
    # Bad lines are numbered within the block and never point at a good line.
    for ln, _ in bad.samples.get(NAME, []):
        assert 50 <= ln < 50 + len(lines)
        assert ln - 50 not in where


@FUZZ
@example(junk=[b"j1", b"j2", b"j3", b"j4"], positions=[0, 1, 2, 3])  # the old undercount
@given(junk=st.lists(JUNK_LINE, max_size=12), positions=st.lists(st.integers(0, 12), max_size=12))
def test_every_line_is_a_hit_a_bad_line_or_skipped(junk: list[bytes], positions: list[int]) -> None:
    junk = [j.replace(b"\r", b"") for j in junk]
    lines = [good(i).encode() for i in range(12)]
    for j, pos in zip(junk, positions, strict=False):
        lines.insert(min(pos, len(lines)), j)
    frame, bad = parse(lines)
    text = [ln.decode("utf-8", "replace").strip() for ln in lines]
    countable = sum(1 for t in text if t and not t.startswith("#"))
    assert len(frame) + bad.total == countable


def test_more_trailing_fields_than_usual_is_still_a_hit() -> None:
    lines = [good(1), good(2) + ' "10.0.0.1, 10.0.0.2"', good(3) + ' "-" 0.003']
    frame, bad = parse(lines)
    assert bad.total == 0 and sorted(frame["line"]) == [1, 2, 3]


def _xff(client_from: str, trusted: tuple[str, ...] = (), extras: int = 1) -> Detected:
    from dataclasses import replace

    det = Detected(FORMATS["combined"], extras, 1, 1)
    return replace(det, client_from=client_from, trusted=trusted)


@pytest.mark.parametrize(
    "client_from, trusted, want",
    [
        ("remote", (), ["10.9.9.9", "10.9.9.9", "10.9.9.9", "10.9.9.9"]),
        ("xff", (), ["203.0.113.7", "198.51.100.2", "10.9.9.9", "10.9.9.9"]),
        ("xff", ("10.0.0.0/8",), ["192.0.2.1", "198.51.100.2", "10.9.9.9", "10.9.9.9"]),
    ],
)
def test_client_from_x_forwarded_for(client_from: str, trusted: tuple, want: list[str]) -> None:
    lines = [
        line(client="10.9.9.9", extra=['"203.0.113.7, 192.0.2.1, 10.0.0.5"']),
        line(client="10.9.9.9", extra=['"198.51.100.2"']),
        line(client="10.9.9.9", extra=['"-"']),
        line(client="10.9.9.9", extra=["-"]),
    ]
    frame, bad = parse(lines, _xff(client_from, trusted))
    assert bad.total == 0
    assert frame.sort_values("line")["client"].tolist() == want


def test_a_leading_forwarded_list_is_a_chain() -> None:
    lines = [
        line(client="10.0.0.2, 10.0.0.1, 85.181.35.98"),
        line(client="85.181.35.98"),
    ]
    frame, bad = parse(lines)
    assert bad.total == 0
    assert frame.sort_values("line")["client"].tolist() == ["10.0.0.2", "85.181.35.98"]
    frame, _ = parse(lines, _xff("xff", ("10.0.0.0/8",), extras=0))
    assert frame.sort_values("line")["client"].tolist() == ["85.181.35.98", "85.181.35.98"]


@pytest.mark.parametrize("empty", [[], [b"\r"]])
def test_a_rescued_crlf_combined_line_keeps_no_cr(empty: list[bytes]) -> None:
    # A CRLF line with a trailing field goes to the exact path, its text from the CSV reader
    # (no CR) or, with an empty line in the block, from the raw bytes: no CR either way.
    crlf = [good(i).encode() + b"\r" for i in range(20)]
    odd = good(20).encode() + b" extra\r"
    frame, bad = parse([*crlf[:10], *empty, odd, *crlf[10:]])
    assert bad.total == 0 and len(frame) == 21
    assert not frame["agent"].astype(str).str.contains("\r").any()
    alone, _ = parse([good(20)])
    assert frame[frame["path"] == "/p/20"]["agent"].tolist() == alone["agent"].tolist()


@pytest.mark.parametrize("usual", [0, 1, 3])
def test_requests_split_as_the_general_pattern_does(usual: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from logaudit.parse import _REQUEST, _split_requests

    odd = ["-", "", "GET /a b HTTP/1.0", "POST /x", "GET  /z HTTP/1.1", "junk", "M /t FOO/1.0",
           "SEARCH / -"]
    plain = ["GET /a HTTP/1.1", "PUT /é?x=1 HTTP/2.0", "get http://h/p HTTP/1.1"][:usual]
    mixed = [v for pair in zip(odd, plain * 3, strict=False) for v in pair]
    values = pa.array(mixed + odd[len(plain) :])
    got = _split_requests(values)
    want = pc.extract_regex(values, _REQUEST)
    assert got.is_valid().to_pylist() == want.is_valid().to_pylist()
    valid = want.is_valid().to_pylist()
    for name in ("method", "target", "protocol"):
        seen = [v or "" for v, ok in zip(got.field(name).to_pylist(), valid, strict=True) if ok]
        meant = [v or "" for v, ok in zip(want.field(name).to_pylist(), valid, strict=True) if ok]
        assert seen == meant
