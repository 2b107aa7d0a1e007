"""Statuses and the bracketed time read as plain text by the CSV reader
(``blockcsv.plain_tokens``): statuses per row (``values.statuses``), times by runs of equal
values (``parse._runs``). The same rows, values and bad lines as when the reader gave them as
dictionaries, which is how every other reading (prefetch, the exact path) still gives them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loglines import line

from logaudit import blockcsv, parse
from logaudit.formats import FORMATS, Detected, detect
from logaudit.formats.values import statuses
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

COMBINED = Detected(FORMATS["combined"], 0, 1, 1)
ODD = ["200", "404", "100", "599", "600", "099", "000", "20", "2000", "-", "", "2 0", "20x"]
ODD += ["+20", " 20", "\u0663\u0660\u0660", "é00", "3\x7f0", "1/0", "1:0", "500"]


def _rule(text: str) -> tuple[int, bool]:
    ok = re.fullmatch(r"[1-5][0-9][0-9]", text, flags=re.ASCII) is not None
    return (int(text) if ok else 0), ok


def _pairs(status: np.ndarray, ok: np.ndarray) -> list[tuple[int, bool]]:
    return [(int(a), bool(b)) for a, b in zip(status, ok, strict=True)]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_statuses_follow_the_rule_value_by_value(kind: pa.DataType) -> None:
    assert _pairs(*statuses(pa.array(ODD, kind))) == [_rule(t) for t in ODD]
    # All three bytes wide (the (n, 3) view) and mixed widths (gathered) alike.
    three = [t for t in ODD if len(t.encode()) == 3]
    assert _pairs(*statuses(pa.array(three, kind))) == [_rule(t) for t in three]


def test_statuses_of_a_slice_chunks_and_nothing() -> None:
    arr = pa.array(ODD)
    assert _pairs(*statuses(arr.slice(4, 7))) == [_rule(t) for t in ODD[4:11]]
    chunked = pa.chunked_array([arr.slice(0, 3), arr.slice(3)])
    assert _pairs(*statuses(chunked)) == [_rule(t) for t in ODD]
    assert statuses(pa.array([], pa.string()))[0].shape == (0,)
    assert _pairs(*statuses(pa.array(["", "-"]))) == [(0, False), (0, False)]


@given(st.lists(st.text(alphabet="0123456789/:- é", max_size=5), min_size=1, max_size=40))
def test_statuses_property(texts: list[str]) -> None:
    assert _pairs(*statuses(pa.array(texts))) == [_rule(t) for t in texts]


def _check_runs(texts: list[str], most: int = 1 << 30) -> tuple[np.ndarray, pa.Array]:
    arr = pa.array(texts, pa.string())
    codes, values = parse._runs(arr, most)
    assert codes.dtype == np.int32
    assert values.take(pa.array(codes)).to_pylist() == texts
    return codes, values


@pytest.mark.parametrize("width", [1, 6, 8, 13, 16, 21])
def test_runs_give_each_row_its_value(width: int) -> None:
    rng = np.random.default_rng(width)
    pool = ["".join(rng.choice(list("ab[/:+0"), width)) for _ in range(5)]
    # Runs, a value coming back after another, neighbours differing in one byte only.
    texts = [pool[i] for i in rng.integers(0, 5, 300).repeat(rng.integers(1, 9, 300))]
    codes, values = _check_runs(texts)
    changes = 1 + sum(a != b for a, b in zip(texts, texts[1:], strict=False))
    assert len(values) == changes
    for at in range(width):  # every byte position tells rows apart
        one = ["x" * width, "x" * at + "y" + "x" * (width - at - 1)]
        _check_runs(one * 3)


def test_runs_fall_back_to_the_dictionary() -> None:
    # Widths differ, nulls, too many runs, a sliced array: each still right.
    _check_runs(["[1", "[10", "[10", "[1"])
    codes, values = _check_runs(["a", "b", "a", "b", "a"], most=2)
    assert len(values) == 2  # distinct values, not runs
    arr = pa.array(["x", None, "x"], pa.string())
    codes, values = parse._runs(arr, 10)
    assert len(codes) == 3
    sliced = pa.array(["aa", "bb", "bb", "cc", "cc", "dd"]).slice(1, 4)
    codes, values = parse._runs(sliced, 10)
    assert values.take(pa.array(codes)).to_pylist() == ["bb", "bb", "cc", "cc"]
    codes, values = parse._runs(pa.chunked_array([sliced]), 10)
    assert values.take(pa.array(codes)).to_pylist() == ["bb", "bb", "cc", "cc"]
    assert len(parse._runs(pa.array([], pa.string()), 10)[0]) == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["[01/Mar", "[01/Apr", "-", "", "[1/Mar/", "é/Mar"]), max_size=30))
def test_runs_property(texts: list[str]) -> None:
    _check_runs(texts)


def test_which_tokens_are_plain() -> None:
    assert blockcsv.plain_tokens(COMBINED) == ("bytes", "status", "t1", "t2")
    nginx = detect(b"", "t.log", 'nginx:$remote_addr [$time_local] "$request" $status $bytes_sent')
    assert set(blockcsv.plain_tokens(nginx)) >= {"t1", "t2"}
    # A status inside a token of several pieces is split per distinct value, as before.
    apache = detect(b"", "t.log", 'apache:%h %t "%r" s=%>s %b')
    assert "status" not in blockcsv.plain_tokens(apache)
    assert blockcsv.plain_tokens(Detected(FORMATS["caddy"], 0, 1, 1)) == ()


def _block(rows: list[str]) -> Block:
    return Block("".join(r + "\n" for r in rows).encode(), 1, Input("t.log", None))


def _size_only(det: Detected) -> tuple[str, ...]:
    """What the reader read as plain text before: the size only."""
    size = blockcsv.size_token(det)
    return (size,) if size is not None else ()


def _both(rows: list[str], det: Detected = COMBINED) -> tuple[pd.DataFrame, BadLines]:
    """parse_block with the plain tokens, checked against the dictionaries' reading."""
    bad = BadLines()
    frame = parse_block(_block(rows), det, bad)
    old_bad = BadLines()
    old = pytest.MonkeyPatch()
    try:
        old.setattr(parse, "_plain_tokens", _size_only)
        before = parse_block(_block(rows), det, old_bad)
    finally:
        old.undo()
    pd.testing.assert_frame_equal(frame, before)
    assert bad.samples == old_bad.samples and bad.total == old_bad.total
    return frame, bad


def test_odd_statuses_and_times_in_a_block_read_as_with_dictionaries() -> None:
    rows = []
    for i in range(60):
        second = i // 7  # runs of equal times, then a zone change and back
        zone = "+0200" if 20 <= i < 30 else "+0000"
        when = f"01/Mar/2024:10:00:{second:02d} {zone}"
        status: int | str = [200, 404, 304, 500][i % 4]
        rows.append(line(when=when, request=f"GET /p/{i} HTTP/1.1", status=status))
    rows[3] = line(status="-")
    rows[8] = line(status="600")
    rows[9] = line(status="2000")
    # A time of another width (a one-digit day): %t always writes two digits, so a bad line
    # in either path (rest22: Arrow's strptime read such widths before).
    rows[12] = line(when="1/Mar/2024:10:00:00 +0000")
    rows[15] = line(when="31/Feb/2024:10:00:00 +0000")  # no such day
    rows[18] = line(when="01/Mar/2024:10:00:00 +99")  # no such zone
    rows[21] = line(status="099")
    frame, bad = _both(rows)
    assert bad.total == 7
    assert sorted(set(range(1, 61)) - set(frame["line"])) == [4, 9, 10, 13, 16, 19, 22]
    kept = frame.set_index("line")
    assert kept.loc[1, "status"] == 200 and kept.loc[2, "status"] == 404
    assert str(kept.loc[22 + 1, "time"]) == "2024-03-01 08:00:03+00:00"  # line 23: +0200
    assert int(kept.loc[23, "offset"]) == 120


def test_a_rescued_line_keeps_its_status_and_time() -> None:
    # A line the CSV reader rejects (an agent cut short) is rescued by the exact path and
    # joins the reader's plain columns.
    rows = [line(when=f"01/Mar/2024:10:00:{i:02d} +0000", status=200 + i) for i in range(20)]
    rows[5] = rows[5][:-8]
    frame, bad = _both(rows)
    assert bad.total == 0
    got = dict(zip(frame["line"], frame["status"], strict=True))
    assert got == {i + 1: 200 + i for i in range(20)}


def test_nginx_timed_block_reads_as_with_dictionaries() -> None:
    det = detect(
        b"",
        "t.log",
        'nginx:$remote_addr - $remote_user [$time_local] "$request" $status '
        '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time',
    )
    rows = [
        line(when=f"01/Mar/2024:10:{i // 60:02d}:{i % 60:02d} +0100", extra=[f"0.{i:03d}"])
        for i in range(0, 400, 3)
    ]
    frame, bad = _both(rows, det)
    assert bad.total == 0 and len(frame) == len(rows)


DURATIONS = ["0.123", "9.999", "0.000", "1.100", "0.001", "5.005"]


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_fixed_durations_equal_the_distinct_values_reading(unit: str) -> None:
    from logaudit.formats.values import durations, fixed_durations

    for texts in (
        DURATIONS,
        ["123456789012.999", "000000000000.001"],  # the widest: 12 digits before the point
        [f"{i // 1000}.{i % 1000:03d}" for i in range(10000)],  # every three-decimal value
        [f"{i // 1000:02d}.{i % 1000:03d}" for i in range(0, 99999, 7)],
    ):
        got = fixed_durations(pa.array(texts), unit)
        assert got is not None
        assert got.tolist() == durations(pa.array(texts), unit).tolist()  # bit for bit


def test_fixed_durations_leave_other_writings_to_the_distinct_values() -> None:
    from logaudit.formats.values import fixed_durations

    for texts in (
        ["0.123", "12.345"],  # two widths
        ["0.123", "-"],
        ["0.12", "0.13"],  # not three decimals
        ["0,123"],
        ["0.1a3"],
        ["a.123"],
        ["1234"],
        ["1234567890123.123"],  # 13 digits before the point
        ["0.123", "0.1\u0663"],
    ):
        assert fixed_durations(pa.array(texts), "s") is None, texts
    assert fixed_durations(pa.array(["0.123"]), "list") is None
    assert fixed_durations(pa.array([], pa.string()), "s") is None
    assert fixed_durations(pa.array(["0.123", None]), "s") is None
    sliced = pa.array(["12.345", "0.123", "0.456"]).slice(1)
    assert fixed_durations(sliced, "s").tolist() == [0.123, 0.456]  # type: ignore[union-attr]


def test_response_times_of_several_widths_in_a_block_read_as_with_dictionaries() -> None:
    det = detect(
        b"",
        "t.log",
        'nginx:$remote_addr - $remote_user [$time_local] "$request" $status '
        '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time',
    )
    rows = [line(extra=[f"0.{i:03d}"]) for i in range(30)]
    frame, _ = _both(rows, det)
    assert frame["response_time"].tolist() == [i / 1000 for i in range(30)]
    rows[4] = line(extra=["12.5"])
    rows[6] = line(extra=["-"])
    frame, bad = _both(rows, det)
    assert frame["response_time"].iloc[4] == 12.5 and np.isnan(frame["response_time"].iloc[6])


def _parsed_watching_times(
    rows: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[pd.DataFrame, list[object]]:
    """``rows`` parsed, and the time columns (text starting "[") that went to ``_dict``."""
    hashed: list[object] = []
    real = parse._dict

    def _dict(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
        if not pa.types.is_dictionary(arr.type) and str(arr[0]).startswith("["):
            hashed.append(arr)
        return real(arr)

    monkeypatch.setattr(parse, "_dict", _dict)
    return parse_block(_block(rows), COMBINED, BadLines()), hashed


def test_times_in_order_are_coded_by_runs_however_many(monkeypatch: pytest.MonkeyPatch) -> None:
    """A log in time order, every line its own second (a run per row): its times are coded
    by runs, not hashed into a dictionary (``_dict``), and each row keeps its time."""
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 3, 1, 23, 59, 0, tzinfo=UTC)
    rows = [line(when=start + timedelta(seconds=i)) for i in range(200)]
    frame, hashed = _parsed_watching_times(rows, monkeypatch)
    assert not hashed
    want = pd.DatetimeIndex([start + timedelta(seconds=i) for i in range(200)])
    assert (frame["time"].to_numpy() == want.tz_convert("UTC").to_numpy()).all()


def test_times_out_of_order_that_repeat_go_to_the_dictionary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Times alternating between two seconds (a run per row, two values): decoding each run
    cost ~10x the dictionary's decoding of the distinct values, so repeating run heads send
    the column to ``_dict``; each row keeps its time either way."""
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 3, 1, 23, 59, 0, tzinfo=UTC)
    whens = [start + timedelta(seconds=i % 2) for i in range(200)]
    frame, hashed = _parsed_watching_times([line(when=w) for w in whens], monkeypatch)
    assert hashed
    want = pd.DatetimeIndex(whens)
    assert (frame["time"].to_numpy() == want.tz_convert("UTC").to_numpy()).all()


def test_response_times_of_any_digits_or_with_an_exponent_are_read_exactly() -> None:
    # A duration written with 17 significant digits (a double as Python or Go writes it) or
    # an exponent read as missing, and a row of 18 digits did not fit the line's pattern.
    det = detect(
        b"",
        "t.log",
        'nginx:$remote_addr - $remote_user [$time_local] "$request" $status '
        '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time',
    )
    written = ["0.12300000000000001", "1.2345678901234567e-05", "0.5", "2E3"]
    written += ["0000.0100000000000000001"]
    rows = [line(extra=[w]) for w in written] + [line(extra=["-1"])]
    frame, bad = _both(rows, det)
    assert bad.total == 0
    times = frame["response_time"].tolist()
    assert times[:-1] == [float(w) for w in written]  # bit for bit
    assert np.isnan(times[-1])  # a negative time is none


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_durations_in_a_unit_are_the_decimal_over_its_power_of_ten(unit: str) -> None:
    from decimal import Decimal

    from logaudit.formats.values import durations

    k = {"ms": 3, "us": 6, "ns": 9}[unit]
    texts = ["9.999", "102", "0.12300000000000001", "1.5e-3", "1E2", "123456789012345.67891"]
    got = durations(pa.array(texts + ["-", "", "-2", "1.", ".5", "1e"]), unit).tolist()
    assert got[: len(texts)] == [float(Decimal(t).scaleb(-k)) for t in texts]  # one rounding
    assert all(np.isnan(v) for v in got[len(texts) :])


NGINX_TIMED = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status '
    '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time'
)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns", "list"])
def test_durations_too_large_to_be_one_are_missing(unit: str) -> None:
    from logaudit.formats.values import durations

    # 1e400 and 309 digits were inf (Infinity in JSON output), 40 digits 1.2e39 s (the p95
    # and the maximum); 15 integer digits in the log's own unit were read and still are.
    huge = ["1e400", "9" * 309, "1" + "2" * 39, "1e308", "1000000000000000", "1e15", "1E+999"]
    got = durations(pa.array(["999999999999999", "2.5e3", *huge]), unit)
    k = {"s": 0, "list": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    assert got[:2].tolist() == [999999999999999 / 10**k, 2500 / 10**k]
    assert np.isnan(got[2:]).all()


def test_a_long_exponent_is_no_duration_and_ends_no_run() -> None:
    # int() of the exponent's 5,000 digits: "ValueError: Exceeds the limit (4300 digits)".
    from logaudit.formats.values import durations

    long = "1e" + "9" * 5000
    assert np.isnan(durations(pa.array([long, "1e-" + "9" * 5000]), "ms")).all()
    det = detect(b"", "t.log", NGINX_TIMED)
    frame, bad = _both([line(extra=["0.5"]), line(extra=[long])], det)
    times = frame["response_time"].tolist()
    assert times[0] == 0.5 and np.isnan(times[1:]).all()  # a row without a time, or bad


def test_an_overflowing_time_is_missing_and_the_json_summary_valid(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from logaudit.cli import cli

    log = tmp_path / "access.log"
    times = ["0.100", "0.200", "1e400", "1" + "2" * 39, "9" * 309]
    log.write_text("".join(line(extra=[t]) + "\n" for t in times))
    got = CliRunner().invoke(
        cli, ["summary", str(log), "--log-format", NGINX_TIMED, "--format", "json"]
    )
    assert got.exit_code == 0, got.output

    def refuse(name: str) -> float:
        raise AssertionError(f"{name} is not JSON")

    summary = json.loads(got.stdout, parse_constant=refuse)
    assert summary["overview"]["response_time_max"] == 0.2
    assert summary["overview"]["response_time_requests"] == 2
