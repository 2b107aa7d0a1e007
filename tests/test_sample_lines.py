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
