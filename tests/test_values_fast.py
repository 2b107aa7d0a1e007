"""The fast paths of parsing give what the general ones give (issue #11's speed round): fixed-
width ISO times, dates and clocks decoded from their bytes against the RE2 path, value for
value."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from logaudit.formats import detect
from logaudit.formats.spec import Piece, Token
from logaudit.formats.values import decode_time, fixed_digits, iso_fixed
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

T = partial(Piece, "time", "")


def L(text: str) -> Piece:  # noqa: N802 - a literal piece, beside T
    return Piece("literal", text)


ISO = [
    "2026-01-22T00:00:06+01:00",
    "2026-01-22 23:59:59-05:30",
    "2024-02-29T12:00:00+00:00",  # a leap day
    "2023-02-29T12:00:00+00:00",  # no such day
    "2026-13-01T00:00:00+00:00",  # no such month
    "2026-01-00T00:00:00+00:00",
    "2026-01-22T24:00:00+00:00",  # no such hour
    "2026-01-22T10:60:00+00:00",
    "2026-01-22T10:00:60+00:00",  # a leap second is read
    "2026-01-22T10:00:00+19:00",  # no such offset
    "2026-01-22T10:00:00+01:60",
    "2026-01-22T10:00:00-18:00",
    "0000-01-01T00:00:00+00:00",
]


def _same(values: list[str] | pa.Array) -> None:
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    fast = iso_fixed(arr)
    assert fast is not None
    slow = decode_time({"iso": arr}, len(arr))
    for name in ("wall", "usec", "ok", "offset"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    assert fast.utc is None and slow.utc is None


def test_fixed_width_iso_times_decode_as_the_regex_path_does() -> None:
    _same(ISO)
    _same(ISO[:1])
    _same(pa.array(ISO, pa.string()).slice(2, 6))  # offsets not starting at 0


def test_other_iso_forms_are_left_to_the_regex_path() -> None:
    for odd in (
        "2026-01-22T00:00:06Z",
        "2026-01-22T00:00:06.5+01:00",
        "2026-01-22T00:00:06+0100",
        "2026-01-22X00:00:06+01:00",
        "2026-01-2a T00:00:06+01:0",
        "2026-01-22T00:00:06+01.00",
    ):
        assert iso_fixed(pa.array([ISO[0], odd])) is None, odd
    assert iso_fixed(pa.array([ISO[0], None])) is None
    assert iso_fixed(pa.array([], pa.string())) is None


def _split(values: pa.Array, tok: Token) -> dict[str, pa.Array]:
    split = pc.extract_regex(values, tok.split_regex())
    return {p.kind: split.field(f"p{i}") for i, p in enumerate(tok.fields)}


DATE = Token("date", (T("Y"), L("-"), T("m"), L("-"), T("d")))
CLOCK = Token("time", (T("H"), L(":"), T("M"), L(":"), T("Sf")))


def _pieces(tok: Token) -> list[tuple[str, str]]:
    return [(p.kind, "") if p.role == "time" else ("", p.text) for p in tok.pieces]


def test_fixed_width_dates_and_clocks_read_as_the_regex_path_does() -> None:
    """W3C's date and time tokens: digits read from the bytes give the same parts (invalid
    days, hours and leap seconds included) as the RE2 split and _ints."""
    for tok, values in (
        (
            DATE,
            ["2026-01-22", "2024-02-29", "2023-02-29", "2026-13-01", "2026-00-10", "0000-01-01"],
        ),
        (CLOCK, ["00:00:06", "23:59:59", "24:00:00", "10:60:00", "10:00:60", "09:07:03"]),
    ):
        arr = pa.array(values, pa.string())
        digits = fixed_digits(arr, _pieces(tok))
        assert digits is not None
        fast = decode_time(dict(digits), len(arr))
        slow = decode_time(_split(arr, tok), len(arr))
        for name in ("wall", "usec", "ok"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


def test_other_dates_and_clocks_are_left_to_the_regex_path() -> None:
    assert fixed_digits(pa.array(["00:00:06", "00:00:06.250"]), _pieces(CLOCK)) is None
    assert fixed_digits(pa.array(["00:00:06", "00-00:06"]), _pieces(CLOCK)) is None
    assert fixed_digits(pa.array(["2026-01-22", "2026-01-2x"]), _pieces(DATE)) is None
    assert fixed_digits(pa.array(["2026-01-22", None]), _pieces(DATE)) is None
    assert fixed_digits(pa.array(["Jan"]), [("b", "")]) is None  # a month name: not digits


def test_a_w3c_log_with_and_without_fractions_of_seconds() -> None:
    """End to end: whole seconds take the fast path, a block with a fraction the RE2 one; the
    same line gives the same time either way, and the fraction is kept."""
    head = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes\n"
    lines = [f"2026-01-22 10:00:{s:02d} 192.0.2.{s} GET /p{s} 200 {s}\n" for s in range(5)]
    whole = (head + "".join(lines)).encode()
    cut = (head + "".join(lines) + "2026-01-22 10:00:09.250 192.0.2.9 GET /q 200 1\n").encode()
    a, bad_a = _parse(whole)
    b, bad_b = _parse(cut)
    assert bad_a.total == bad_b.total == 0
    assert a["time"].tolist() == b["time"].tolist()[:5]
    assert b["usec"].tolist() == [0] * 5 + [250000]
    assert str(a["time"].iloc[3]) == "2026-01-22 10:00:03+00:00"


def _parse(raw: bytes) -> tuple[pd.DataFrame, BadLines]:
    det = detect(raw, "u_ex.log", tz="UTC")
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("u_ex.log", None), raw.count(b"\n")), det, bad)
    return frame, bad


def test_requests_and_targets_split_as_their_patterns_do() -> None:
    """The usual request split at its spaces and a target at its first "?" give the RE2
    patterns' groups (the query "" where there is none); unusual requests take the patterns."""
    from logaudit.parse import _REQUEST_USUAL, _TARGET, _split_requests, _target_parts

    usual = ["GET / HTTP/1.1", "POST /a?b=1?c HTTP/2.0", "GET /x? HTTP/1.0", "M-1 ?q HTTP/1.1"]
    got = _split_requests(pa.array(usual))
    want = pc.extract_regex(pa.array(usual), _REQUEST_USUAL)
    for name in ("method", "target", "protocol"):
        assert got.field(name).to_pylist() == want.field(name).to_pylist()
    odd = [*usual, "GET /a b HTTP/1.1", "-", "", "GET /only"]
    parts = _split_requests(pa.array(odd))
    assert parts.field("target").to_pylist()[4] == "/a b"
    assert not parts.is_valid().to_pylist()[5]
    targets = ["/", "/a?b=1?c", "/x?", "?q", "", "/p", "/a b?c d"]
    path, query = _target_parts(pa.array(targets))
    regex = pc.extract_regex(pa.array(targets), _TARGET)
    assert path.to_pylist() == regex.field("path").to_pylist()
    assert query.to_pylist() == regex.field("query").fill_null("").to_pylist()
    assert query.to_pylist() == ["", "b=1?c", "", "q", "", "", "c d"]
    with_null = pa.array(["/a?b", None], pa.string())
    path, query = _target_parts(with_null)
    regex = pc.extract_regex(with_null, _TARGET)
    assert path.to_pylist() == regex.field("path").to_pylist()
    assert query.to_pylist() == regex.field("query").fill_null("").to_pylist()
    assert path.to_pylist()[0] == "/a" and query.to_pylist() == ["b", ""]


def _combined(i: int, agent: str = "Mozilla/5.0 (X11)") -> str:
    return (
        f'192.0.2.{i % 250} - - [22/Jan/2026:13:58:{i % 60:02d} +0100] "GET /p/{i} HTTP/1.1" '
        f'200 {i} "-" "{agent}"'
    )


CUT = [
    "\n".join([_combined(1), _combined(2, "Mozilla/5.0 (cut"), "garbage line", _combined(3)]),
    "\r\n".join([_combined(1), _combined(2, "Mozilla/5.0 (cut"), "garbage", _combined(3)]),
    "\n".join([_combined(1), "", _combined(2, "cut"), "junk", _combined(3), "more junk"]),
    "\n".join([_combined(1), "a line of garbage", _combined(2), "x y z"]),
]


def test_rejected_rows_placed_by_counting_as_by_searching() -> None:
    """A block whose rejected rows (a cut agent running into the next line, garbage) are
    placed by counting lines gives the rows, line numbers and bad lines the search in the
    block gives; with an empty line the counts do not add up and the search is used."""
    import logaudit.parse as parse_mod

    used = []
    counted = parse_mod._counted
    for text in CUT:
        raw = (text + "\n").encode()
        det = detect(raw, "access.log")
        assert det.format.name == "combined"
        block = Block(raw, 10, Input("access.log", None), raw.count(b"\n"))
        fast_bad, slow_bad = BadLines(), BadLines()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(parse_mod, "_counted", lambda *a: used.append(r := counted(*a)) or r)
            fast = parse_block(block, det, fast_bad)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(parse_mod, "_counted", lambda *a: None)
            slow = parse_block(block, det, slow_bad)
        pd.testing.assert_frame_equal(fast, slow)
        assert fast_bad == slow_bad and fast_bad.total >= 1
        assert fast["line"].tolist()[0] == 10
    assert [r is not None for r in used] == [True, True, False, True]
    frame, bad = _parse_combined(CUT[0])
    assert (
        frame["line"].tolist() == [10, 11, 13] and frame["agent"].tolist()[1] == "Mozilla/5.0 (cut"
    )
    assert [n for n, _ in bad.samples["access.log"]] == [12]


def _parse_combined(text: str) -> tuple[pd.DataFrame, BadLines]:
    raw = (text + "\n").encode()
    bad = BadLines()
    block = Block(raw, 10, Input("access.log", None), raw.count(b"\n"))
    return parse_block(block, detect(raw, "access.log"), bad), bad
