"""Response sizes read per row from the CSV reader's plain text column (``values.sizes``):
the same sizes and the same bad lines as the rule the parser applies to every other reading,
``^([0-9]{1,18}|-)$`` with "-" as 0."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from loglines import line

from logaudit import api
from logaudit.analyze import traffic
from logaudit.analyze.audience import t_visitors
from logaudit.analyze.base import _sums
from logaudit.analyze.trends.series import _count, t_hours
from logaudit.blockcsv import size_token
from logaudit.config import Settings
from logaudit.enrich.classify import Enricher
from logaudit.formats import FORMATS, Detected, detect
from logaudit.formats.values import sizes
from logaudit.parse import BadLines, parse_block
from logaudit.schema import SIZE_LIMIT, SIZE_REASON
from logaudit.sources import Block, Input

COMBINED = Detected(FORMATS["combined"], 0, 1, 1)
ODD = ["0", "7", "-", "--", "", "0123", "+5", "-5", "1e3", "0x10", " 5", "5 ", "\u0663", "12a"]
ODD += ["999999999999999999", "1000000000000000000", "9223372036854775807", "9" * 20, "-0"]


def _rule(text: str) -> tuple[int, bool]:
    ok = re.fullmatch(r"[0-9]{1,18}|-", text, flags=re.ASCII) is not None
    return (int(text) if ok and text != "-" else 0), ok


def _line_rule(text: str) -> tuple[int, bool]:
    """What a parsed line keeps: ``_rule``, and a size of 1 TiB or more is a bad line."""
    number, ok = _rule(text)
    return number, ok and number < SIZE_LIMIT


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_sizes_follow_the_rule_value_by_value(kind: pa.DataType) -> None:
    number, ok = sizes(pa.array(ODD, kind))
    assert [(int(a), bool(b)) for a, b in zip(number, ok, strict=True)] == [_rule(t) for t in ODD]


def test_sizes_of_a_slice_and_of_chunks() -> None:
    arr = pa.array(ODD)
    number, ok = sizes(arr.slice(5, 6))
    assert [(int(a), bool(b)) for a, b in zip(number, ok, strict=True)] == [
        _rule(t) for t in ODD[5:11]
    ]
    number, ok = sizes(pa.chunked_array([arr.slice(0, 3), arr.slice(3)]))
    assert list(ok) == [_rule(t)[1] for t in ODD]
    assert sizes(pa.array([], pa.string()))[0].shape == (0,)


@given(st.lists(st.text(alphabet="0123456789-+x ", max_size=21), min_size=1, max_size=40))
def test_sizes_property(texts: list[str]) -> None:
    number, ok = sizes(pa.array(texts))
    assert [(int(a), bool(b)) for a, b in zip(number, ok, strict=True)] == [_rule(t) for t in texts]


def _lines(sizes_written: list[str]) -> bytes:
    out = []
    for i, size in enumerate(sizes_written):
        text = line(request=f"GET /s/{i} HTTP/1.1", status=200, size=size)
        out.append(text.encode() + b"\n")
    return b"".join(out)


def test_combined_reads_its_size_column_as_plain_text() -> None:
    assert size_token(COMBINED) == "bytes"
    nginx = detect(b"", "t.log", 'nginx:$remote_addr [$time_local] "$request" $status $bytes_sent')
    assert size_token(nginx) is not None
    # A size inside a token of several pieces is split per distinct value, as before.
    apache = detect(b"", "t.log", 'apache:%h %t "%r" %>s size=%b')
    assert size_token(apache) is None
    assert size_token(Detected(FORMATS["caddy"], 0, 1, 1)) is None


def test_odd_sizes_in_a_block_are_the_bad_lines_and_the_rest_are_read() -> None:
    written = [str(i * 1000 + 3) for i in range(30)]
    written[3] = "-"
    written[7] = "+5"
    written[11] = "0x10"
    written[13] = "1" * 19
    written[17] = "-5"
    written[19] = "0042"
    written[23] = "1099511627775"
    bad = BadLines()
    frame = parse_block(Block(_lines(written), 1, Input("t.log", None)), COMBINED, bad)
    expected = [(i + 1, *_line_rule(t)) for i, t in enumerate(written)]
    kept = [(n, v) for n, v, ok in expected if ok]
    assert list(zip(frame["line"], frame["bytes"], strict=True)) == kept
    assert bad.total == sum(1 for _, _, ok in expected if not ok) == 4
    assert [n for n, _ in bad.samples["t.log"]] == [8, 12, 14, 18]
    assert all(why == "size is not a number" for _, why in bad.samples["t.log"])


def test_a_rescued_line_keeps_its_size() -> None:
    # A line the CSV reader rejects (a user agent cut short: no closing quote) goes to the
    # exact path, which keeps it; its size joins the reader's plain size column.
    lines = _lines([str(100 + i) for i in range(20)]).split(b"\n")
    lines[5] = lines[5][:-8]
    lines[9] = lines[9].replace(b" 109 ", b" - ")
    bad = BadLines()
    frame = parse_block(Block(b"\n".join(lines), 1, Input("t.log", None)), COMBINED, bad)
    assert bad.total == 0
    got = dict(zip(frame["line"], frame["bytes"], strict=True))
    assert got == {i + 1: (0 if i == 9 else 100 + i) for i in range(20)}


def test_sizes_inside_a_token_of_several_pieces_follow_the_rule() -> None:
    # No plain size column: the size is split out per distinct value, then read by the same
    # rule (values.sizes over the distinct values), repeated values and all.
    det = detect(b"", "t.log", 'apache:%h %t "%r" %>s size=%b')
    written = ["5", "-", "+5", "0x10", "1" * 19, "5", "-5", "0042", "999999999999999999", "-"]
    raw = b"".join(
        f'10.0.0.1 [10/Oct/2026:13:55:36 +0000] "GET /s/{i} HTTP/1.1" 200 size={s}\n'.encode()
        for i, s in enumerate(written)
    )
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("t.log", None)), det, bad)
    expected = [(i + 1, *_line_rule(t)) for i, t in enumerate(written)]
    assert list(zip(frame["line"], frame["bytes"], strict=True)) == [
        (n, v) for n, v, ok in expected if ok
    ]
    assert [n for n, _ in bad.samples["t.log"]] == [n for n, _, ok in expected if not ok]
    assert [why for _, why in bad.samples["t.log"]] == ["size is not a number"] * 4 + [
        SIZE_REASON
    ]


@pytest.mark.parametrize("plain", [True, False])
def test_sizes_of_1_tib_or_more_are_bad_lines_and_a_dvd_image_is_a_hit(
    tmp_path: Path, plain: bool
) -> None:
    # Twelve sizes of 999999999999999999 (18 digits, a number) summed past 2**63: the
    # bandwidth of summary, hosts and paths printed negative. Each is now a bad line with its
    # reason, and the largest size kept (2**40 - 1) is summed exactly; a DVD image or a backup
    # (4-50 GB, past the 4 GiB cap the branch had first) is a hit.
    fmt = (
        "combined"
        if plain
        else 'apache:%h %l %u %t "%r" %>s size=%b "%{Referer}i" "%{User-agent}i"'
    )
    rows = []
    for i in range(16):
        size = "999999999999999999" if i < 12 else str(SIZE_LIMIT - 1 + 13 - i)
        size = size if i < 14 else ("4700000000", "50000000000")[i - 14]
        text = line(client=f"10.0.0.{i % 2}", request=f"GET /big/{i % 3} HTTP/1.1", size=size)
        rows.append(text if plain else text.replace(f" 200 {size} ", f" 200 size={size} "))
    p = tmp_path / "access.log"
    p.write_text("\n".join(rows) + "\n")
    outcome = api.summary([str(p)], Settings(log_format=fmt), ["hosts", "pages"])
    report = outcome.report
    assert report is not None
    assert report.overview["bad_lines"] == 13
    assert report.overview["bandwidth"] == SIZE_LIMIT - 1 + 54_700_000_000
    assert outcome.bad_line_note is not None and SIZE_REASON in outcome.bad_line_note
    hosts = report.sections[0].rows.set_index("client")
    assert hosts["bandwidth"].to_dict() == {
        "10.0.0.0": 4_700_000_000,
        "10.0.0.1": SIZE_LIMIT + 49_999_999_999,
    }
    assert traffic.BANDWIDTH_OVERFLOW not in report.notes


def test_the_reason_and_the_docs_say_the_size_limit() -> None:
    assert SIZE_REASON == "size of 1 TiB or more"
    assert f"`{SIZE_REASON}`" in (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()


def test_bandwidth_past_2_63_is_said_not_silently_wrapped() -> None:
    # 2**23 lines of sizes just below 2**40 fit an int64; a few more wrap the int64 sums to a
    # negative bandwidth. The totals' bytes_mib (exact) tells, and the report says so.
    sizes_ = np.full(5, SIZE_LIMIT - 1, np.int64)
    frame = pd.DataFrame({"bytes": sizes_, "status": np.full(5, 200, np.int16)})
    frame = frame.assign(
        time=pd.to_datetime(np.zeros(5, np.int64), utc=True),
        local=pd.to_datetime(np.zeros(5, np.int64)),
        person=np.ones(5, bool),
        is_page=np.ones(5, bool),
    )
    block = traffic.t_totals(frame, Settings())
    assert int(block["bytes_mib"].iloc[0]) == (5 * (SIZE_LIMIT - 1)) >> 20
    small = {"totals": block}
    assert not traffic.bandwidth_may_overflow(small)
    big = block.copy()
    big["hits"] = 1 << 23
    big["bytes"] = (1 << 23) * (SIZE_LIMIT - 1)
    big["bytes_mib"] = (1 << 23) * ((1 << 20) - 1)
    assert not traffic.bandwidth_may_overflow({"totals": big})
    merged = traffic.TABLES["totals"].combine([big, block, block])
    assert int(merged["bytes"].iloc[0]) < 0  # the int64 sum wrapped: what the note is for
    assert traffic.bandwidth_may_overflow({"totals": merged})
    # A store's days from before the column: not known, no note (and no error).
    assert not traffic.bandwidth_may_overflow({"totals": block.drop(columns="bytes_mib")})


def test_sums_per_key_are_exact_past_2_53() -> None:
    # The per-key sums (hosts' bandwidth through the visitors table, paths, days) were float64
    # bincounts: 2**53 + 1 + 1 came back as 2**53.
    codes = np.array([0, 0, 0, 1], np.int64)
    w = np.array([1 << 53, 1, 1, 5], np.int64)
    assert _sums(codes, 2, {"bytes": w})["bytes"].tolist() == [(1 << 53) + 2, 5]
    assert _count(codes, 2, w).tolist() == [(1 << 53) + 2, 5]


def test_per_visitor_and_per_hour_sums_are_exact_past_2_53() -> None:
    # audience.t_visitors (the hosts' bandwidth) and trends' t_hours sum bytes per key with
    # base.int_bincount; float64 bincounts gave 2**53 for 2**53 + 1 + 1. (A store's merged
    # days reach such totals; one line's size stays below 2**40.)
    raw = "".join(line(client="10.0.0.1", size=5) + "\n" for _ in range(3)).encode()
    frame = parse_block(Block(raw, 1, Input("t.log", None)), COMBINED, BadLines())
    chunk = Enricher(Settings()).apply(frame)
    chunk["bytes"] = np.array([1 << 53, 1, 1], np.int64)
    assert t_visitors(chunk, Settings())["bytes"].tolist() == [(1 << 53) + 2]
    assert t_hours(chunk, Settings())["bytes"].tolist() == [(1 << 53) + 2]


def test_the_report_carries_the_overflow_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # build_report asks bandwidth_may_overflow of the merged partial (no log reaches 2**63 here).
    p = tmp_path / "access.log"
    p.write_text(line(size=5) + "\n")
    seen: list[int] = []

    def may(part: dict[str, pd.DataFrame]) -> bool:
        seen.append(int(part["totals"]["bytes"].iloc[0]))
        return True

    monkeypatch.setattr(traffic, "bandwidth_may_overflow", may)
    report = api.summary([str(p)], Settings(), ["hosts"]).report
    assert report is not None and seen == [5]
    assert traffic.BANDWIDTH_OVERFLOW in report.notes
