"""nginx with X-Forwarded-For first (Filebeat's nginx fixtures): the quoted and the bare list
layouts are registry families, and the beats file that mixes them with combined lines is read
line by line with ``--log-format auto+``, every line a hit, in line order."""

from __future__ import annotations

from pathlib import Path

import pytest

from logaudit.formats import FORMATS, Detected, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

MIXED = "beats/nginx_access_test.log"

# line -> (client, client with --client-from xff, status, path, bytes)
LINES: dict[int, tuple[str, str, int, str, int]] = {
    1: ("10.0.0.2", "10.0.0.2", 200, "/ocelot", 571),  # combined, a leading address list
    2: ("172.17.0.1", "172.17.0.1", 404, "/stringpatch", 612),  # combined + "$http_x_f_f"
    3: ("10.0.0.2", "10.0.0.2", 200, "/ocelot", 571),
    4: ("85.181.35.98", "85.181.35.98", 200, "/ocelot", 571),
    5: ("10.2.1.185", "10.5.102.222", 200, "/assets/xxxx", 25507),  # "xff" remote_addr
    6: ("10.2.2.121", "2a03:0000:10ff:f00f:0000:0000:0:8000", 404, "/test.html", 8571),  # bare
    7: ("127.0.0.1", "127.0.0.1", 400, "", 0),  # an empty request: a hit, status 400
}


def _read(raw: bytes, det: Detected) -> tuple[object, BadLines]:
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input(MIXED, None), raw.count(b"\n")), det, bad)
    return frame, bad


@pytest.mark.shared
@pytest.mark.parametrize("client_from", ["remote", "xff"])
def test_beats_mixed_file_reads_every_line_with_its_format(
    shared_data: Path, client_from: str
) -> None:
    from dataclasses import replace

    path = shared_data / "logs" / MIXED
    if not path.is_file():
        pytest.skip(f"{MIXED} is absent")
    raw = path.read_bytes()
    det = replace(detect(raw, MIXED, "auto+"), client_from=client_from)
    names = {det.format.name, *(f.name for f, _ in det.others)}
    assert {"nginx-xff", "nginx-xff-bare"} <= names
    frame, bad = _read(raw, det)
    assert bad.total == 0, bad.samples
    assert frame["line"].tolist() == sorted(LINES)  # type: ignore[attr-defined]
    for row in frame.to_dict("records"):  # type: ignore[attr-defined]
        remote, xff, status, path_, size = LINES[row["line"]]
        want = xff if client_from == "xff" else remote
        assert (row["client"], row["status"], row["path"], row["bytes"]) == (
            want,
            status,
            path_,
            size,
        ), row["line"]


@pytest.mark.parametrize(
    ("line", "family", "client", "xff"),
    [
        (
            '"203.0.113.5, 198.51.100.2" 10.0.0.9 - bob [01/Mar/2024:10:00:00 +0100] '
            '"GET /a?b=1 HTTP/1.1" 200 12 "https://ref.example/" "curl/8.0"',
            "nginx-xff",
            "10.0.0.9",
            "203.0.113.5",
        ),
        (
            "203.0.113.5, 198.51.100.2 10.0.0.9 - bob [01/Mar/2024:10:00:00 +0100] "
            '"GET /a?b=1 HTTP/1.1" 200 12 "https://ref.example/" "curl/8.0"',
            "nginx-xff-bare",
            "10.0.0.9",
            "203.0.113.5",
        ),
        (
            "203.0.113.5 10.0.0.9 - bob [01/Mar/2024:10:00:00 +0100] "
            '"GET /a?b=1 HTTP/1.1" 200 12 "https://ref.example/" "curl/8.0"',
            "nginx-xff-bare",
            "10.0.0.9",
            "203.0.113.5",
        ),
        # A virtual host that is a name is vcombined, not an X-Forwarded-For field.
        (
            "shop.example 10.0.0.9 - bob [01/Mar/2024:10:00:00 +0100] "
            '"GET /a?b=1 HTTP/1.1" 200 12 "https://ref.example/" "curl/8.0"',
            "vcombined",
            "10.0.0.9",
            "10.0.0.9",
        ),
    ],
)
def test_xff_first_families_are_detected_and_read(
    line: str, family: str, client: str, xff: str
) -> None:
    from dataclasses import replace

    raw = (line + "\n") * 3
    det = detect(raw.encode(), "t.log")
    assert det.format.name == family
    for mode, want in (("remote", client), ("xff", xff)):
        frame, bad = _read(raw.encode(), replace(det, client_from=mode))
        assert bad.total == 0, bad.samples
        row = frame.to_dict("records")[0]  # type: ignore[attr-defined]
        assert row["client"] == want
        assert (row["user"], row["path"], row["query"], row["referrer"], row["agent"]) == (
            "bob",
            "/a",
            "b=1",
            "https://ref.example/",
            "curl/8.0",
        )
        assert row["offset"] == 60


def test_a_combined_line_with_a_leading_list_stays_combined() -> None:
    """The bare layout must not take a combined line whose client is a list."""
    line = (
        '10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /x HTTP/1.1" '
        '200 5 "-" "curl/8.0"'
    )
    det = detect(((line + "\n") * 3).encode(), "t.log")
    assert det.format.name == "combined"
    assert FORMATS["nginx-xff-bare"].samples
