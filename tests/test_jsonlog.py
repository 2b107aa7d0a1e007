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


def _fresh_and_hinted(
    before: bytes, after: bytes, det: Detected
) -> tuple[pd.DataFrame, BadLines, pd.DataFrame, BadLines, str]:
    """``after`` read with no hint, then after ``before`` left its hint (and that hint's
    behaviour towards other keys)."""
    jsonlog._HINTS.clear()
    fresh, fresh_bad = parse_bytes(after, det)
    jsonlog._HINTS.clear()
    parse_bytes(before, det)
    behaviour = jsonlog._HINTS[det.format][1]
    hinted, hinted_bad = parse_bytes(after, det)
    return fresh, fresh_bad, hinted, hinted_bad, behaviour


def _block(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_a_hint_with_every_key_path_ignores_the_other_keys() -> None:
    """A block with every key path of the layout declares them with their types; the next
    block is read with the other keys ignored (more headers, new keys, null values) and
    gives the frame a fresh read gives."""
    det = Detected(FORMATS["caddy"], 0, 1, 1)
    before = _block([caddy(i) for i in range(5)])
    after = []
    for i in range(8):
        line = json.loads(caddy(i, resp_headers={"Server": ["Caddy"]}, bytes_read=i))
        line["request"]["headers"]["Accept"] = ["*/*"]
        line["request"]["tls"] = {"resumed": False, "version": 772}
        if i == 3:
            line["request"]["headers"] = {}
        if i == 4:
            line["size"] = None
        after.append(json.dumps(line))
    fresh, fresh_bad, hinted, hinted_bad, behaviour = _fresh_and_hinted(before, _block(after), det)
    assert behaviour == "ignore"
    declared = jsonlog._HINTS[det.format][0]
    assert set(declared.names) == {"ts", "request", "user_id", "status", "size", "duration"}
    assert "headers" in declared.field("request").type.names
    pd.testing.assert_frame_equal(hinted, fresh)
    assert hinted_bad.total == fresh_bad.total == 1  # line 5: a null size is no number
    assert hinted_bad.samples == fresh_bad.samples
    assert hinted["agent"].tolist()[3] == "" and len(hinted) == 7


def test_a_key_path_the_last_block_lacked_is_still_read() -> None:
    """No Referer in one block: the next is read with every key kept (inferred), so a
    Referer first seen there is not skipped."""
    det = Detected(FORMATS["caddy"], 0, 1, 1)
    plain = [json.loads(caddy(i)) for i in range(5)]
    for rec in plain:
        del rec["request"]["headers"]["Referer"]
    before = _block([json.dumps(r) for r in plain])
    after = _block([caddy(i) for i in range(5)])
    fresh, _, hinted, _, behaviour = _fresh_and_hinted(before, after, det)
    assert behaviour == "infer"
    pd.testing.assert_frame_equal(hinted, fresh)
    assert hinted["referrer"].tolist() == ["https://r.example/"] * 5


@pytest.mark.parametrize(
    "over",
    [
        {"size": 1.5},  # declared int64: a fraction does not fit
        {"ts": "2023-12-23T23:17:54Z"},  # declared double: text
        {"request": "GET /"},  # declared an object
        {"duration": 7},  # an int where a double was declared: converted, same text
    ],
)
def test_a_declared_type_that_does_not_fit_reads_as_without_it(over: dict[str, object]) -> None:
    det = Detected(FORMATS["caddy"], 0, 1, 1)
    before = _block([caddy(i) for i in range(5)])
    after = _block([caddy(i, **over) for i in range(5)])
    fresh, fresh_bad, hinted, hinted_bad, _ = _fresh_and_hinted(before, after, det)
    pd.testing.assert_frame_equal(hinted, fresh)
    assert hinted_bad.total == fresh_bad.total
    assert sorted(hinted_bad.samples.get("access.json", [])) == sorted(
        fresh_bad.samples.get("access.json", [])
    )


def test_numbers_leave_as_text_codes() -> None:
    """Integers and floats: text once per distinct value with row codes; nulls become ""."""
    ints = jsonlog._text(pa.array([200, 404, None, 200], pa.int64()))
    assert pa.types.is_dictionary(ints.type) and len(ints.dictionary) == 2
    assert jsonlog._filled(ints).to_pylist() == ["200", "404", "", "200"]
    floats = jsonlog._filled(jsonlog._text(pa.array([0.5, None, 1e-7], pa.float64())))
    assert floats.to_pylist() == ["0.5", "", "0.0000001"]
    assert jsonlog._filled(pa.array(["a", None])).to_pylist() == ["a", ""]


def test_pieces_around_a_bad_line_with_numbers_and_text() -> None:
    """A bad line splits a block into pieces read apart: a key that is a number in one piece
    and text in another is put together as text."""
    det = Detected(FORMATS["caddy"], 0, 1, 1)
    lines = [caddy(i) for i in range(6)] + ["not json"] + [caddy(i, status="503") for i in range(6)]
    frame, bad = parse_bytes(_block(lines), det)
    assert bad.total == 1 and frame["status"].tolist() == [200] * 6 + [503] * 6
    assert frame["line"].tolist() == [*range(1, 7), *range(8, 14)]


def test_floats_near_the_exponent_bounds_as_numpy_writes_them() -> None:
    """Arrow's cast switches to an exponent by the digits, not the size alone
    (17698947619.26362 -> 1.769894761926362e+10): every value, on both sides of both
    bounds and at every size, reads as numpy's positional text."""
    rng = np.random.default_rng(11)
    values = [0.0, -0.0, 1e-6, 9.99e-7, 1.0000001e-6, 1e-5, 9.9e-6, 1e20, 9.99e20, 1e21]
    values += [5e21, 123456789012345678901.0, 1769036406.0, 0.041]
    values += list(10.0 ** rng.uniform(-9, 23, 300)) + list(rng.random(100))
    values += [-v for v in values]
    got = jsonlog._text(pa.array(values, pa.float64())).to_pylist()
    assert got == [np.format_float_positional(v, trim="-") for v in values]


def test_first_items_when_each_list_holds_one() -> None:
    """Lists of one item each (a header sent once) give their items, sliced or not."""
    lists = [["a"], ["b"], [None], ["d"], ["e"]]
    arr = pa.array(lists, pa.list_(pa.string()))
    assert jsonlog._first_items(arr).to_pylist() == ["a", "b", None, "d", "e"]
    assert jsonlog._first_items(arr.slice(1, 3)).to_pylist() == ["b", None, "d"]
    mixed = pa.array([["a"], ["b", "c"], ["d"]], pa.list_(pa.string())).slice(1, 2)
    assert jsonlog._first_items(mixed).to_pylist() == ["b", "d"]


@pytest.mark.parametrize(
    ("stamp", "key", "said"),
    [
        ("2026-05-01T10:00:00+02:00", "naive_times", "times without an offset in"),
        ("01/May/2026:10:00:00 +0200", None, None),
    ],
)
def test_inputs_say_the_zone_only_of_times_without_an_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamp: str, key: str | None, said: str | None
) -> None:
    """QA16 finding 13: a $time_iso8601 template's times carry their offset, yet the Inputs
    table said "custom, times in Etc/UTC" (JSON ``times_read_in``). An ISO time's offset is
    optional, so the zone is said of the times written without one. JSON keeps
    ``times_read_in`` as it was (a key renamed breaks readers: docs/json.md) and adds
    ``naive_times: true``."""
    from click.testing import CliRunner

    from logaudit.cli import cli

    monkeypatch.setenv("TZ", "Etc/UTC")
    var = "$time_iso8601" if "T" in stamp else "$time_local"
    fmt = f'nginx:{{"t":"{var}","ip":"$remote_addr","req":"$request","st":$status}}'
    log = tmp_path / "a.json"
    log.write_text(f'{{"t":"{stamp}","ip":"10.0.0.1","req":"GET / HTTP/1.1","st":200}}\n')
    r = CliRunner().invoke(cli, ["summary", str(log), "--log-format", fmt, "--format", "json"])
    assert r.exit_code == 0, r.output
    (inp,) = json.loads(r.stdout)["inputs"]
    assert inp.get("times_read_in") == ("Etc/UTC" if key else None)
    assert inp.get("naive_times") is (True if key else None)
    assert "naive_times_read_in" not in inp
    args = ["summary", str(log), "--log-format", fmt, "--section", "status"]
    md = CliRunner().invoke(cli, [*args, "--format", "markdown"])
    inputs = md.stdout.split("Inputs")[-1]
    assert (f"{said} Etc/UTC" in inputs) if said else ("times" not in inputs)


def test_every_json_number_is_a_duration_read_exactly() -> None:
    # A double written with 17 significant digits (0.12300000000000001) or an exponent
    # (1.2345678901234567e-05: left as 0.000012345678901234567) read as missing.
    durations: list[object] = [0.12300000000000001, 1.2345678901234567e-05, 12.345678901234567]
    durations += [0.5, 3, "1.5e-3", "0.25"]
    lines = [caddy(i, duration=d) for i, d in enumerate(durations)]
    lines += [caddy(7, duration=-0.5), caddy(8, duration="-"), caddy(9, status=200.0, size=1e3)]
    frame, bad = parse_bytes(("\n".join(lines) + "\n").encode())
    assert bad.total == 0
    times = frame["response_time"].tolist()
    assert times[: len(durations)] == [float(d) for d in durations]  # bit for bit
    assert np.isnan(times[7]) and np.isnan(times[8])  # a negative time or "-" is none
    assert frame["status"].tolist() == [200] * 10 and frame["bytes"].iloc[9] == 1000


def test_a_json_duration_too_large_to_be_one_is_missing() -> None:
    # 1e308 s was read (problems' JSON wrote "seconds": Infinity, numpy overflowed); 40
    # digits were 1e40 s, which led the p95 and the maximum.
    lines = [caddy(0, duration=0.25), caddy(1, duration=1e308), caddy(2, duration=10**40)]
    frame, bad = parse_bytes(("\n".join(lines) + "\n").encode())
    times = frame["response_time"].tolist()
    assert bad.total == 0 and times[0] == 0.25 and np.isnan(times[1:]).all()


def _deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("layout", jsonlog.FAMILIES, ids=lambda f: f.name)
def test_a_line_nested_past_the_decoder_is_a_bad_line_in_detection(layout) -> None:
    # QA19 #1: json.loads raised RecursionError (not a ValueError) and every command ended on
    # "internal error". Huge numbers are the decoder's ValueError, bad lines too.
    sample = layout.samples[0]
    raw = _block([sample] * 3 + [_deep(3000), '{"n":' + "9" * 5000 + "}"])
    assert detect(raw, "access.json").format.name == layout.name
    assert not jsonlog.fits(layout, _deep(3000))


def test_a_line_nested_past_the_decoder_is_a_bad_line_in_reading() -> None:
    # In a block without a Referer anywhere (so the next block's hint is its text fields),
    # the deep object made _text_fields recurse past Python's limit; in a request object at
    # 500 levels it is read.
    det = detect(_block([caddy(i) for i in range(5)]), "access.json")
    deep_request = caddy(3, request={"uri": "/deep", "x": json.loads(_deep(500))})
    plain = [json.loads(caddy(i)) for i in range(5)]
    for rec in plain:
        del rec["request"]["headers"]["Referer"]
    for at in (0, 4):
        jsonlog._HINTS.clear()
        lines = [json.dumps(rec) for rec in plain]
        lines.insert(at, _deep(2000))
        lines.append(deep_request)
        frame, bad = parse_bytes(_block(lines), det)
        assert bad.total == 1 and [n for n, _ in bad.samples["access.json"]] == [at + 1]
        assert len(frame) == 6 and frame["path"].iloc[-1] == "/deep"


def test_a_line_nested_deeper_than_arrow_reads_does_not_crash(tmp_path: Path) -> None:
    # Arrow's reader recursed in C until the process died (SIGSEGV near 15,000 levels), so
    # this runs in a process of its own.
    import subprocess
    import sys

    log = tmp_path / "access.json"
    good = [caddy(i) for i in range(4)]
    log.write_text("\n".join([*good, "[" * 100_000 + "]" * 100_000, *good, _deep(50_000)]) + "\n")
    run = subprocess.run(
        [sys.executable, "-m", "logaudit", "summary", str(log), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-500:]
    assert json.loads(run.stdout)["overview"]["requests"] == 8
    assert "2 bad lines" in run.stderr


def test_a_caddy_line_without_its_request_is_a_bad_line() -> None:
    # QA19 #11: status and ts present, no "request" object (or a string, or a null uri): each
    # was a hit with an empty client, method and path ('' rows in pages and hosts).
    lines = [caddy(i) for i in range(6)]
    no_request = json.loads(caddy(1))
    del no_request["request"]
    lines[1] = json.dumps(no_request)
    lines[3] = caddy(3, request="string")
    lines[4] = caddy(4, request={"client_ip": "198.51.100.4", "method": "GET", "uri": None})
    for hinted in (False, True):
        if not hinted:
            jsonlog._HINTS.clear()
        frame, bad = parse_bytes(_block(lines))
        assert sorted(n for n, _ in bad.samples["access.json"]) == [2, 4, 5]
        assert all("no request in this JSON object" in why for _, why in bad.samples["access.json"])
        assert frame["line"].tolist() == [1, 3, 6] and "" not in set(frame["client"].astype(str))


def _nested_in(i: int, depth: int, pad: int = 0) -> str:
    """A Caddy line with its request, and an array ``depth`` levels deep under "x"."""
    extra = f', "pad": "{"y" * pad}"' if pad else ""
    return caddy(i)[:-1] + extra + ', "x": ' + "[" * depth + "]" * depth + "}"


def test_nesting_is_counted_outside_strings_against_one_limit() -> None:
    # Review rev19-d #1/#3: a line was too deep when Python's json ran out of stack (which
    # depends on the caller's) and only when 4 KB long. Brackets in strings do not nest.
    limit = jsonlog._NESTING
    assert not jsonlog.too_deep(_deep(limit).encode())
    assert jsonlog.too_deep(_deep(limit + 1).encode())
    assert not jsonlog.too_deep(('{"s":"' + "[{" * 2000 + '\\"' + "[" * 900 + '"}').encode())
    assert jsonlog.too_deep(('{"s":"\\\\"' + "," + '"t":' + "[" * 900 + "]" * 900 + "}").encode())


@pytest.mark.parametrize("pad", [0, 5000], ids=["short", "long"])
def test_a_line_nested_1400_deep_is_bad_whatever_its_length(pad: int) -> None:
    # Review rev19-d #3: at 3.2 KB Arrow read it as a hit, at 4.7 KB it was a bad line.
    lines = [caddy(i) for i in range(5)]
    lines[2] = _nested_in(2, 1400, pad)
    det = detect(_block([caddy(i) for i in range(5)]), "access.json")
    assert not jsonlog.fits(det.format, lines[2])
    jsonlog._HINTS.clear()
    frame, bad = parse_bytes(_block(lines), det)
    assert [n for n, _ in bad.samples["access.json"]] == [3]
    assert all(why.startswith("nested too deep") for _, why in bad.samples["access.json"])
    assert frame["line"].tolist() == [1, 2, 4, 5]


def test_deep_and_huge_number_lines_alike_in_every_command(tmp_path: Path) -> None:
    # Review rev19-d #1/#2/#6: a line nested ~990 levels was a hit or a bad line depending
    # on the command (summary, records, --jobs 2, .gz); a number of 5000 digits before
    # 100,000 levels went past Python's check to Arrow, which died (SIGSEGV). Own processes.
    import gzip
    import subprocess
    import sys

    lines = [caddy(i) for i in range(30)]
    lines[5] = _nested_in(5, 990)
    lines[10] = _nested_in(10, 990, pad=4200)
    lines[20] = '{"n":' + "9" * 5000 + ',"x":' + "[" * 100_000 + "]" * 100_000 + "}"
    log = tmp_path / "access.json"
    log.write_text("\n".join(lines) + "\n")
    packed = tmp_path / "packed.json.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "logaudit", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (args, done.returncode, done.stderr[-500:])
        assert "3 bad lines" in done.stderr and "nested too deep" in done.stderr, done.stderr
        return done

    for source in (log, packed):
        for jobs in ("1", "2"):
            out = run("summary", str(source), "--jobs", jobs, "--format", "json").stdout
            assert json.loads(out)["overview"]["requests"] == 27
        out = run("records", str(source), "--fields", "path", "--format", "csv").stdout
        assert len(out.splitlines()) == 28


def test_a_bad_line_is_said_no_request_only_without_one() -> None:
    # Review rev19-d #4: every line Python decodes to an object was "no request in this JSON
    # object", one Arrow refused for a key written twice too; a deep line "not a JSON object".
    twice = caddy(1)[:-1] + ', "status": 201}'
    no_request = json.loads(caddy(3))
    del no_request["request"]
    lines = [caddy(0), twice, caddy(2), json.dumps(no_request), _nested_in(4, 600), caddy(5)]
    jsonlog._HINTS.clear()
    frame, bad = parse_bytes(_block(lines))
    said = {n: why.split(":")[0] for n, why in bad.samples["access.json"]}
    assert said == {
        2: "not a JSON object",
        4: "no request in this JSON object",
        5: "nested too deep",
    }
    assert frame["line"].tolist() == [1, 3, 6]


@pytest.mark.parametrize("before", [0, 3, 37, 300])
def test_deep_lines_found_wherever_they_fall_in_the_block(before: int) -> None:
    # Openings are counted per 4 KB piece: a line across pieces, or at the block's end.
    inside = caddy(1, s="[" * 3000)  # brackets in a string: not nested
    lines = [caddy(i) for i in range(before)] + [_nested_in(7, 513), inside, _deep(600)]
    raw = _block(lines)
    octets = np.frombuffer(raw, np.uint8)
    ends = np.flatnonzero(octets == 10)
    starts = np.concatenate([[0], ends[:-1] + 1])
    assert jsonlog.lines_too_deep(raw, octets, starts, ends) == [before, before + 2]
    assert jsonlog.lines_too_deep(raw[:-1], octets[:-1], starts, ends) == [before, before + 2]
    assert not jsonlog.too_deep(_nested_in(7, 510).encode())
