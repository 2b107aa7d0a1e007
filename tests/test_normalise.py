"""A block's escaped backslashes and quotes (``blockcsv.normalise``): written in place of
each (``_spliced``) exactly as the two ``bytes.replace`` passes write them."""

from __future__ import annotations

import random

import numpy as np
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
