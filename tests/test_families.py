"""The families made from GoAccess's predefined formats (ELB, ALB, S3, Squid, Traefik CLF) and
HAProxy: each real file in ../shared/data is detected as its family and read with the right
values; the lines counted bad are the ones the fixture made odd on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from logaudit.formats import detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

pytestmark = pytest.mark.shared

# file -> (family, hits, bad lines, {line: {column: value}})
REAL: dict[str, tuple[str, int, int, dict[int, dict[str, object]]]] = {
    # The third line is a TCP listener's entry (no HTTP request: status "-"): the fixture says
    # to ignore it; logaudit counts it as a bad line, with its reason.
    "matomo/elb.log": (
        "elb",
        1,
        1,
        {1: {"client": "1.2.3.4", "status": 200, "bytes": 57, "response_time": 0.001048}},
    ),
    "matomo/alb.log": ("alb", 1, 0, {1: {"client": "1.2.3.4", "bytes": 24950}}),
    "matomo/s3.log": ("s3", 1, 0, {1: {"vhost": "www.example.com", "path": "/index"}}),
    # netdata's generated Squid log: 16 junk lines, and 99 with the statuses 000 and 603,
    # which are not HTTP statuses (bad lines by METRICS).
    "netdata/squidlog_access.log": (
        "squid",
        385,
        115,
        {3: {"client": "2001:db8:2ce:1", "status": 401, "bytes": 10309, "response_time": 1.241}},
    ),
    "fail2ban/traefik-auth.log": ("traefik", 6, 0, {4: {"client": "10.0.0.2", "status": 401}}),
    "matomo/haproxy.log": ("haproxy", 1, 0, {1: {"client": "4.3.2.1", "path": "/user/"}}),
    # Three "Proxy ... started." notices and an SSL handshake failure are not requests.
    "lnav/logfile_haproxy.0": ("haproxy", 13, 4, {}),
}


@pytest.mark.parametrize("rel", list(REAL))
def test_real_family_logs(shared_data: Path, rel: str) -> None:
    path = shared_data / "logs" / rel
    if not path.is_file():
        pytest.skip(f"{rel} is absent")
    raw = path.read_bytes()
    raw = raw if raw.endswith(b"\n") else raw + b"\n"
    family, hits, bad_lines, rows = REAL[rel]
    det = detect(raw, rel)
    assert det.format.name == family
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input(rel, None), raw.count(b"\n")), det, bad)
    assert (len(frame), bad.total) == (hits, bad_lines), bad.samples
    by_line = frame.set_index("line")
    for number, values in rows.items():
        for col, want in values.items():
            got = by_line.loc[number, col]
            assert got == pytest.approx(want) if isinstance(want, float) else got == want, col
