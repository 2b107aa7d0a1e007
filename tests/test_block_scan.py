"""What the reading thread finds in a block for parsing (``octets.rare``: backslashes, CRs,
whether all of it is ASCII) is what parsing would find itself, and a block parses the same
with it or without it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from loglines import line

from logaudit import octets
from logaudit.formats import FORMATS, Detected, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input, ReadState, read_blocks

COMBINED = Detected(FORMATS["combined"], 0, 1, 1)


@pytest.mark.parametrize("size", [0, 1, 1000, octets.STEP, octets.STEP + 1, 3 * octets.STEP + 7])
def test_rare_is_where_each_and_ascii(size: int) -> None:
    rng = np.random.default_rng(size)
    data = rng.choice(np.array([10, 13, 32, 65, 92, 200], np.uint8), size=size)
    (slashes, crs), ascii_only = octets.rare(data)
    want = octets.where_each(data, (92, 13))
    assert np.array_equal(slashes, want[0]) and np.array_equal(crs, want[1])
    assert ascii_only == bool((data < 128).all())


@pytest.mark.parametrize("size", [0, 1, 1000, octets.STEP, octets.STEP + 1, 3 * octets.STEP + 7])
@pytest.mark.parametrize("nul", [False, True])
def test_scan_is_count_nul_check_and_rare(size: int, nul: bool) -> None:
    rng = np.random.default_rng(size)
    data = rng.choice(np.array([10, 13, 32, 65, 92, 200], np.uint8), size=size)
    if nul and size:
        data[rng.integers(size)] = 0
    lines, has_nul, (slashes, crs), ascii_only = octets.scan(data)
    assert lines == octets.count(data, 10) == int((data == 10).sum())
    assert has_nul == bool((data == 0).any()) == (nul and size > 0)
    (want_slashes, want_crs), want_ascii = octets.rare(data)
    assert np.array_equal(slashes, want_slashes) and np.array_equal(crs, want_crs)
    assert slashes.dtype == crs.dtype == np.int64
    assert ascii_only == want_ascii


LINES = [
    line(request="GET /a HTTP/1.1"),
    line(request=r"GET /q\"x HTTP/1.1", agent="agent \\ back"),  # Apache's escapes
    line(request="GET /caf\u00e9 HTTP/1.1"),  # UTF-8
    line(agent="cut short").rstrip('"'),  # the CSV reader rejects it
    line(request="GET /cr HTTP/1.1") + "\r",
    "garbage",
]


@pytest.mark.parametrize("kept", [[0], [0, 1], [0, 2], [0, 3, 4, 5], list(range(6))])
def test_a_block_parses_the_same_with_what_reading_found(tmp_path, kept: list[int]) -> None:
    raw = "".join(LINES[i] + "\n" for i in kept).encode()
    path = tmp_path / "a.log"
    path.write_bytes(raw)
    blocks = list(read_blocks(Input("a.log", path), ReadState()))
    assert len(blocks) == 1 and blocks[0].rare is not None
    assert blocks[0].ascii == raw.isascii()
    bad_read, bad_plain = BadLines(), BadLines()
    read = parse_block(blocks[0], COMBINED, bad_read)
    plain = parse_block(Block(raw, 1, Input("a.log", None)), COMBINED, bad_plain)
    assert read.equals(plain)
    assert bad_read == bad_plain
    assert len(read) + bad_read.total == len(kept)


def _caddy(i: int, uri: str) -> bytes:
    rec = {
        "level": "info",
        "ts": 1703373474.5 + i,
        "logger": "http.log.access",
        "request": {
            "client_ip": "198.51.100.7",
            "proto": "HTTP/2.0",
            "method": "GET",
            "host": "example.com",
            "uri": uri,
            "headers": {"User-Agent": ["a"]},
        },
        "size": 100 + i,
        "status": 200,
    }
    return json.dumps(rec, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    "uris",
    [[b"/a"], [b"/a", "/caf\u00e9".encode()], [b"/a", b"/latin\xe9"]],  # ASCII, UTF-8, not UTF-8
)
def test_a_json_block_parses_the_same_with_what_reading_found(tmp_path, uris: list[bytes]) -> None:
    """The JSON path skips its UTF-8 check when the reading thread found only ASCII."""
    raw = b"".join(_caddy(i, "\x00").replace(b"\\u0000", u) + b"\n" for i, u in enumerate(uris))
    path = tmp_path / "a.json"
    path.write_bytes(raw)
    blocks = list(read_blocks(Input("a.json", path), ReadState()))
    assert len(blocks) == 1 and blocks[0].ascii == raw.isascii()
    det = detect(raw, "a.json")
    assert det.format.family in ("json", "jsonkeys")
    bad_read, bad_plain = BadLines(), BadLines()
    read = parse_block(blocks[0], det, bad_read)
    plain = parse_block(Block(raw, 1, Input("a.json", None), len(uris)), det, bad_plain)
    assert read.equals(plain)
    assert bad_read == bad_plain
    assert len(read) + bad_read.total == len(uris)
    assert read["path"].astype(str).iloc[0] == "/a"
    if raw.isascii():
        assert bad_read.total == 0
