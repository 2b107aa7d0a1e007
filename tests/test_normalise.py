"""A block's escaped backslashes and quotes (``blockcsv.normalise``): written in place of
each (``_spliced``) exactly as the two ``bytes.replace`` passes write them."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logaudit import blockcsv


def _replaced(data: bytes) -> bytes:
    """What normalise gave before: the two replaces, each only where its escape occurs."""
    if b"\\\\" in data:
        data = data.replace(b"\\\\", b"\\x5C")
    if b'\\"' in data:
        data = data.replace(b'\\"', b"\\x22")
    return data


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"\\", b'"', b"a", b"x", b" ", b"\n", b"\\x41"]), max_size=60))
def test_splicing_writes_what_the_two_replaces_write(parts: list[bytes]) -> None:
    data = b"".join(parts)
    got = blockcsv.normalise(bytearray(data), ascii_only=True)
    assert bytes(got) == _replaced(data)


@pytest.mark.parametrize("many", [False, True])
def test_a_block_of_many_escapes_or_a_few(monkeypatch: pytest.MonkeyPatch, many: bool) -> None:
    """A few: spliced into one copy; past SPLICE_MAX, the replaces (the same bytes)."""
    rng = random.Random(3)
    line = b'1.2.3.4 - - [x] "GET /a HTTP/1.1" 200 5 "-" "agent \\"quoted\\" \\\\ x"\n'
    plain = b'1.2.3.4 - - [x] "GET /b HTTP/1.1" 200 5 "-" "agent"\n'
    data = b"".join(line if rng.random() < 0.01 else plain for _ in range(20_000))
    spliced: list[int] = []
    real = blockcsv._spliced

    def counted(*args: object) -> bytes:
        spliced.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(blockcsv, "_spliced", counted)
    if many:
        monkeypatch.setattr(blockcsv, "SPLICE_MAX", 10)
    got = blockcsv.normalise(memoryview(data), ascii_only=True)
    assert bytes(got) == _replaced(data) and bytes(got) != data
    assert bool(spliced) is not many
    # No escape: the block itself, no copy.
    assert blockcsv.normalise(plain * 3, ascii_only=True) == plain * 3
    # Positions given by the caller (the reading thread's) give the same bytes.
    octets = np.frombuffer(data, np.uint8)
    given_at = np.flatnonzero(octets == 92)
    assert bytes(blockcsv.normalise(data, backslash=given_at, ascii_only=True)) == bytes(got)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"\\", b'"', b"a", b"\r", b"#", b" ", b"\n", b"\\x41", b"\xe9", b"\xc3\xa9"]
        ),
        max_size=60,
    ),
    st.booleans(),
)
def test_carried_positions_are_where_the_bytes_went(parts: list[bytes], few: bool) -> None:
    """The CRs and "#"s found before normalising, carried through it (``normalised``), are
    where a search of its bytes finds them, or None (to be searched for again)."""
    data = b"".join(parts)
    octets = np.frombuffer(data, np.uint8)
    before = [np.flatnonzero(octets == 13), np.flatnonzero(octets == 35)]
    ascii_only = max(data, default=0) < 128
    with pytest.MonkeyPatch.context() as mp:
        if not few:  # past SPLICE_MAX: the replaces
            mp.setattr(blockcsv, "SPLICE_MAX", 0)
        got, carried = blockcsv.normalised(data, ascii_only=ascii_only, carry=before)
        assert bytes(got) == bytes(blockcsv.normalise(data, ascii_only=ascii_only))
    after = np.frombuffer(got, np.uint8)
    for value, at in zip((13, 35), carried, strict=True):
        if at is not None:
            assert at.tolist() == np.flatnonzero(after == value).tolist()
    if few and ascii_only:
        assert all(at is not None for at in carried)  # spliced or unchanged: never searched


def test_a_spliced_block_is_not_searched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse._parse hands _fast the CR positions the reading found, moved past the escapes
    normalise wrote before them, and the parse is the same as with them searched for."""
    from logaudit import octets as _octets
    from logaudit import parse
    from logaudit.formats import detect
    from logaudit.sources import Block, Input

    lines = [
        b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a\\"b HTTP/1.1" 200 5 "-" "x\\\\y"\r\n',
        b'1.2.3.5 - - [10/Oct/2000:13:55:37 -0700] "GET /c HTTP/1.1" 200 7 "-" "agent"\r\n',
        b'1.2.3.6 - - [10/Oct/2000:13:55:38 -0700] "GET /d HTTP/1.1" 404 9 "-" "q\\""\rx\n',
    ]
    data = b"".join(lines * 50)
    octets = np.frombuffer(data, np.uint8)
    det = detect(data, "t.log")
    src = Input("t.log", None)
    rare = (np.flatnonzero(octets == 92), np.flatnonzero(octets == 13))
    searched: list[int] = []
    real = _octets.where

    def where(o: np.ndarray, value: int) -> np.ndarray:
        searched.append(value)
        return real(o, value)

    def parsed(given: tuple[np.ndarray, np.ndarray] | None) -> pd.DataFrame:
        block = Block(data, 1, src, data.count(b"\n"), rare=given, ascii=True)
        return parse._parse(block, det, parse.BadLines())

    plain = parsed(None)
    monkeypatch.setattr(_octets, "where", where)
    carried = parsed(rare)
    assert 13 not in searched
    pd.testing.assert_frame_equal(carried, plain)
