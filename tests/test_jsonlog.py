"""JSON access logs with their own keys (Caddy, Traefik, Matomo's nginx JSON): Arrow's JSON
reader, bad lines isolated with their line numbers, and the real files in ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from logaudit.formats import FORMATS, Detected, detect, jsonlog
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input


def parse_bytes(raw: bytes, det: Detected | None = None) -> tuple[pd.DataFrame, BadLines]:
    det = det or detect(raw, "access.json")
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("access.json", None), raw.count(b"\n")), det, bad)
    return frame.sort_values("line").reset_index(drop=True), bad


def caddy(i: int, **over: object) -> str:
    rec: dict[str, object] = {
        "level": "info",
        "ts": 1703373474.5 + i,
        "logger": "http.log.access",
        "request": {
            "remote_ip": "10.0.0.1",
            "client_ip": f"198.51.100.{i % 250}",
            "proto": "HTTP/2.0",
            "method": "GET",
            "host": "example.com",
            "uri": f"/p/{i}?q={i}",
            "headers": {"User-Agent": [f"agent {i % 3}"], "Referer": ["https://r.example/"]},
        },
        "user_id": "",
        "duration": 0.0000001 * (i + 1),
        "size": 100 + i,
        "status": 200,
    }
    rec.update(over)
    return json.dumps(rec)


def test_caddy_lines_and_bad_lines_among_them() -> None:
    lines = [caddy(i) for i in range(200)]
    lines[10] = "caddy  | not json"
    lines[150] = caddy(150)[:-20]  # cut short
    lines.insert(50, "")
    raw = ("\n".join(lines) + "\n").encode()
    det = detect(raw, "access.json")
    assert det.format.name == "caddy"
    frame, bad = parse_bytes(raw, det)
    assert bad.total == 2
    assert sorted(n for n, _ in bad.samples["access.json"]) == [11, 152]
    assert len(frame) == 198
    row = frame.iloc[0]
    assert row["client"] == "198.51.100.0" and row["path"] == "/p/0" and row["query"] == "q=0"
    assert row["agent"] == "agent 0" and row["referrer"] == "https://r.example/"
    assert row["vhost"] == "example.com" and row["bytes"] == 100 and row["status"] == 200
    assert row["user"] == "-"  # Caddy's "user_id": "" is no user
    assert row["time"] == pd.Timestamp(1703373474, unit="s", tz="UTC")
    assert row["response_time"] == pytest.approx(1e-7)  # written 1e-07 by Arrow: read right


def test_a_key_whose_type_changes_between_lines() -> None:
    lines = [caddy(0), caddy(1, status="404"), caddy(2)]
    frame, bad = parse_bytes(
        ("\n".join(lines) + "\n").encode(), Detected(FORMATS["caddy"], 0, 1, 1)
    )
    assert bad.total == 0 and frame["status"].tolist() == [200, 404, 200]


def test_a_block_the_last_blocks_text_fields_do_not_fit() -> None:
    """A block is read with the text fields of the last whole block declared (jsonlog._HINTS);
    one where they hold numbers, objects or nothing is read exactly as without them."""
    det = Detected(FORMATS["caddy"], 0, 1, 1)

    def block(over: dict[str, object]) -> bytes:
        return ("\n".join(caddy(i, **over) for i in range(5)) + "\n").encode()

    first, _ = parse_bytes(block({}), det)
    assert first["agent"].tolist()[0] == "agent 0"
    odd = {"user_id": 7, "request": {"uri": "/n", "headers": {"User-Agent": "plain"}}}
    for over in (odd, {"request": {"uri": "/m"}}, {"user_id": {"name": "x"}}):
        jsonlog._HINTS.clear()
        fresh, fresh_bad = parse_bytes(block(over), det)
        parse_bytes(block({}), det)  # the hint: the usual text fields
        assert jsonlog._HINTS
        hinted, hinted_bad = parse_bytes(block(over), det)
        pd.testing.assert_frame_equal(hinted, fresh)
        assert hinted_bad.total == fresh_bad.total == 0
        if over is odd:
            assert hinted["agent"].tolist() == ["plain"] * 5 and hinted["user"].tolist()[0] == "7"


def test_floats_as_text_match_numpy_positional() -> None:
    """Floats are written by Arrow's cast, by numpy where Arrow would use an exponent."""
    values = [0.0, -0.0, 1.0, 0.041, 1e-7, 123.456, 1769036406.0, 1e21, 2.5e-12, 1e300]
    got = jsonlog._text(pa.array([*values, None], pa.float64())).to_pylist()
    assert got == [np.format_float_positional(v, trim="-") for v in values] + [None]
    assert got[4] == "0.0000001" and got[7] == "1000000000000000000000"



def test_first_items_of_lists_from_their_offsets() -> None:
    """A header list's first item: null for an empty, missing or null list, on a slice too
    (a struct's child list starts at the struct's offset)."""
    lists = [["a", "b"], [], None, [None, "c"], ["d"], ["e", "f"], []]
    arr = pa.array(lists, pa.list_(pa.string()))
    want = [v[0] if v else None for v in lists]
    assert jsonlog._first_items(arr).to_pylist() == want
    assert jsonlog._first_items(arr.slice(2, 4)).to_pylist() == want[2:6]
    full = pa.array([["x"], ["y", "z"]], pa.list_(pa.string()))
    assert jsonlog._first_items(full).to_pylist() == ["x", "y"]
    assert jsonlog._first_items(pa.array([[], None], pa.list_(pa.string()))).to_pylist() == [
        None,
        None,
    ]


def test_repeated_floats_and_a_block_without_its_last_newline() -> None:
    """Floats are written once per distinct value and spread back in row order; a block whose
    last line has no newline reads as one that has it."""
    values = [0.5, None, 1e-7, 0.5, 1e-7, 3.0]
    got = jsonlog._text(pa.array(values, pa.float64())).to_pylist()
    assert got == ["0.5", None, "0.0000001", "0.5", "0.0000001", "3"]
    raw = ("\n".join(caddy(i, duration=0.25 * (i % 2)) for i in range(6)) + "\n").encode()
    det = Detected(FORMATS["caddy"], 0, 1, 1)
    whole, _ = parse_bytes(raw, det)
    cut, _ = parse_bytes(raw[:-1], det)
    pd.testing.assert_frame_equal(whole, cut)
    assert whole["response_time"].tolist() == [0.0, 0.25] * 3

# file -> (family, hits, bad lines, {line: {column: value}})
REAL = {
    "matomo/caddy_json.log": ("caddy", 3, 0, {1: {"client": "1.2.3.4", "path": "/beta/"}}),
    "lnav/logfile_caddy_log.1": ("caddy", 4, 0, {1: {"client": "10.10.10.117", "status": 200}}),
    "matomo/traefik_json.log": (
        "traefik-json",
        1,
        0,
        {1: {"client": "1.2.3.4", "agent": "Prometheus/2.40.5", "response_time": 10.002425284}},
    ),
    "matomo/nginx_json.log": ("nginx-json", 2, 0, {1: {"client": "1.2.3.4", "offset": 120}}),
}


@pytest.mark.shared
@pytest.mark.parametrize("rel", list(REAL))
def test_real_json_logs(shared_data: Path, rel: str) -> None:
    path = shared_data / "logs" / rel
    if not path.is_file():
        pytest.skip(f"{rel} is absent")
    raw = path.read_bytes()
    family, hits, bad_lines, rows = REAL[rel]
    det = detect(raw, rel)
    assert det.format.name == family
    frame, bad = parse_bytes(raw if raw.endswith(b"\n") else raw + b"\n", det)
    assert (len(frame), bad.total) == (hits, bad_lines), bad.samples
    by_line = frame.set_index("line")
    for number, values in rows.items():
        for col, want in values.items():
            got = by_line.loc[number, col]
            assert got == pytest.approx(want) if isinstance(want, float) else got == want, col
