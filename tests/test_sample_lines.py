"""sample_lines looks at a smaller start of the block first; the lines must be the ones the
first megabyte gives."""

from __future__ import annotations

import random

import pytest

from logaudit.formats import _SAMPLE_START, DETECT_LINES, _sample, sample_lines


def _reference(data: bytes, limit: int) -> list[str]:
    return _sample(bytes(data[: 1 << 20]), limit, len(data) > 1 << 20)


@pytest.mark.parametrize("seed", range(6))
def test_same_lines_as_the_first_megabyte(seed: int) -> None:
    rng = random.Random(seed)
    pieces = [b"a", b"\\", b'"', b" ", b"\n", b"#", b"\r", b"\xc3\xa9", b"\\\\", b'\\"']
    weights = [40, 6, 4, 8, 3 if seed % 2 else 0.05, 1, 1, 1, 2, 2]
    size = rng.choice([_SAMPLE_START - 3, _SAMPLE_START + 5, 600_000, (1 << 20) + 7])
    data = b"".join(rng.choices(pieces, weights, k=size))[:size]
    for limit in (1, 5, DETECT_LINES, 5000):
        assert sample_lines(data, limit) == _reference(data, limit)
        assert sample_lines(memoryview(data), limit) == _reference(data, limit)


def test_lines_cut_at_the_smaller_start_are_read_whole() -> None:
    line = b'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET /\\"x\\\\ HTTP/1.1" 200 5\n'
    data = line * (2 * _SAMPLE_START // len(line))
    got = sample_lines(data, DETECT_LINES)
    assert got == _reference(data, DETECT_LINES)
    assert len(got) == DETECT_LINES and all(g == got[0] for g in got)


def test_a_line_cut_by_the_smaller_start_is_not_sampled() -> None:
    # 262 whole lines in the start and part of the next: 263 lines come from the megabyte.
    line = b"x" * 999 + b"\n"
    data = line * 600
    whole = _SAMPLE_START // len(line)
    got = sample_lines(data, whole + 1)
    assert got == _reference(data, whole + 1)
    assert got[-1] == "x" * 999


def test_a_first_line_longer_than_the_sample_is_skipped_not_judged() -> None:
    # A valid 2 MB combined line (a huge query string), then valid lines: the first megabyte
    # holds no whole line, and judged on its cut part the file was "format not recognised".
    from logaudit.formats import detect

    good = b'10.0.0.2 - - [01/Dec/2026:10:00:01 +0000] "GET /b HTTP/1.1" 200 5 "-" "curl/8"\n'
    long = (
        b'10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /?q='
        + b"a" * (2 << 20)
        + b' HTTP/1.1" 200 5 "-" "curl/8"\n'
    )
    data = long + good * 40
    got = sample_lines(data, DETECT_LINES)
    assert got == [good.decode().rstrip("\n")] * 40
    assert sample_lines(memoryview(data), 1) == got[:1]
    assert detect(data, "long.log").format.name == "combined"
    # Nothing after the long line (or no newline at all): no line to judge, not a cut one.
    assert sample_lines(long, DETECT_LINES) == []
    assert sample_lines(long[:-1] + long, DETECT_LINES) == []


GOOD = b'10.0.0.2 - - [01/Dec/2026:10:00:01 +0000] "GET /b HTTP/1.1" 200 5 "-" "curl/8"\n'


def test_a_files_head_skips_a_long_first_line_without_holding_it() -> None:
    """sources.file_head (the --jobs span path's and Dask's detection input): the first MiB,
    then from the long line's end the next; the line's middle is never held (a 300 MB
    one-line file took 741 MB), and what follows is sampled as read blocks sample it."""
    import io

    from logaudit.sources import HEAD_BYTES, file_head

    assert file_head(io.BytesIO(GOOD * 3)) == GOOD * 3
    long = b"x" * (5 * HEAD_BYTES) + b"\n"
    head = file_head(io.BytesIO(long + GOOD * 40))
    assert len(head) == HEAD_BYTES + 1 + len(GOOD * 40)
    assert sample_lines(head, DETECT_LINES) == [GOOD.decode().rstrip("\n")] * 40
    assert file_head(io.BytesIO(long[:-1])) == long[:HEAD_BYTES]  # no line ends at all


def test_a_long_token_that_is_no_log_fails_in_linear_time() -> None:
    """The vhost pattern was X*YX* (X holding Y): a long token that matched no format cost
    the square of its length to refuse (80 kB: 93 s; a minified blob stalled a cron run).
    Written (X-Y)*YX*, the same strings match, and a 400 kB line is refused at once; the
    test would not end on the old pattern."""
    import re

    from logaudit.errors import InputInvalidError
    from logaudit.formats import detect
    from logaudit.formats.spec import STRICT

    old = re.compile(r"[A-Za-z0-9_.\-\[\]:]*[A-Za-z_\-\[\]][A-Za-z0-9_.\-\[\]:]*\Z")
    new = re.compile(STRICT["vhost"] + r"\Z")
    rng = random.Random(5)
    for _ in range(3000):
        s = "".join(rng.choice("a0.:-_[]Z9 /") for _ in range(rng.randrange(0, 12)))
        assert bool(old.match(s)) == bool(new.match(s)), s
    with pytest.raises(InputInvalidError):
        detect(b"x" * 400_000 + b"\n", "blob.log")
