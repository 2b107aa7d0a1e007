"""Bad-line examples are each file's first BAD_SAMPLES bad lines by line number, in line
order, whatever kind they are and wherever blocks, --jobs byte ranges or Dask cut the file
(issues #11, #18). A block's checks find bad lines kind by kind (tokenizer rejects before bad
times and statuses), so keeping them in the order found made the examples depend on the cut.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from loglines import line

from logaudit import api, sources
from logaudit.config import load
from logaudit.engine import local as pipeline
from logaudit.formats import FORMATS, Detected
from logaudit.parse import BAD_SAMPLES, BadLines, parse_block
from logaudit.render.tabular import render_json
from logaudit.sources import Block, Input

COMBINED = Detected(FORMATS["combined"], 0, 1, 1)


def _good(i: int) -> str:
    return line(client=f"198.51.100.{i % 200}", request=f"GET /p/{i} HTTP/1.1")


# Line number -> a bad line of one kind. The lowest five mix the fast path's value checks
# (status, size, time) with tokenizer rejects found after them in a block's checks.
BAD = {
    40: line(status=999),
    90: line(when="30/Feb/2024:12:00:00 +0000"),
    170: line(size="12kB"),
    900: "junk that is no log line",
    1700: '10.0.0.9 - - [01/Mar/2024:00:00:02 +0000] "GET /broken HTTP/1.1 200 5 "-" "x"',
    2600: "more junk",
    3100: line(status=600),
    3900: "junk again",
}
LINES = 4000


def _log(path: Path) -> Path:
    with open(path, "w") as f:
        for n in range(1, LINES + 1):
            f.write(BAD.get(n, _good(n)) + "\n")
    return path


def _examples(args: list[str], **overrides: Any) -> dict[str, Any]:
    settings = load({"top": 0, **overrides}, env={"LOGAUDIT_CONFIG": os.devnull})
    outcome = api.report("summary", args, settings)
    assert outcome.report is not None, outcome.messages
    buf = io.StringIO()
    render_json(outcome.report, buf)
    info: dict[str, Any] = json.loads(buf.getvalue())["bad_lines"]
    return info


def test_a_block_keeps_its_lowest_bad_lines_of_every_kind_in_line_order() -> None:
    lines = [BAD.get(n, _good(n)) for n in range(1, LINES + 1)]
    raw = "".join(x + "\n" for x in lines).encode()
    bad = BadLines()
    parse_block(Block(raw, 1, Input("a.log", None)), COMBINED, bad)
    assert bad.counts == {"a.log": len(BAD)}
    assert [n for n, _ in bad.samples["a.log"]] == sorted(BAD)[:BAD_SAMPLES]
    reasons = [why for _, why in bad.samples["a.log"]]
    assert "status" in reasons[0] and "size" in reasons[2] and "fields" in reasons[3]


def test_merging_keeps_the_lowest_lines_whatever_the_order() -> None:
    parts = [BadLines() for _ in range(3)]
    for k, n in enumerate([70, 12, 3, 55, 8, 90, 1, 40, 33]):
        parts[k % 3].add("f", n, f"r{n}")
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        total = BadLines()
        for k in order:
            total.absorb(parts[k])
        assert total.counts == {"f": 9}
        assert total.samples["f"] == [(n, f"r{n}") for n in (1, 3, 8, 12, 33)]
    assert parts[0].merge(parts[1]).samples["f"] == [(n, f"r{n}") for n in (1, 8, 12, 40, 55)]


@pytest.mark.parametrize("block_bytes", [4096, 50_000, 16 << 20])
@pytest.mark.parametrize("jobs", [1, 2])
def test_examples_are_the_same_for_every_block_cut_and_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int, jobs: int
) -> None:
    log = _log(tmp_path / "access.log")
    real = pipeline.read_blocks
    monkeypatch.setattr(
        pipeline, "read_blocks", lambda i, s, **kw: real(i, s, block_bytes, **kw)
    )
    # --jobs 2 cuts a file this big into byte ranges, one per job (forked: they inherit this).
    monkeypatch.setattr(pipeline, "SPAN_MIN_BYTES", 64 * 1024)
    # One job's threads share it in equal blocks, a multiple of THREADS in number.
    monkeypatch.setattr(sources, "SHARE_MIN_BYTES", 64 * 1024)
    assert log.stat().st_size > 2 * 64 * 1024
    info = _examples([str(log)], jobs=jobs)
    assert info["total"] == len(BAD)
    got = [(e["line"], e["reason"]) for e in info["examples"]]
    assert [n for n, _ in got] == sorted(BAD)[:BAD_SAMPLES]
    # The same reasons as one block read in one job.
    whole = BadLines()
    parse_block(Block(log.read_bytes(), 1, Input(str(log), None)), COMBINED, whole)
    assert got == whole.samples[str(log)]


@pytest.mark.parametrize("junk", [2, 10])
def test_json_lines_that_are_not_json_are_each_counted_once(junk: int) -> None:
    """Every rejected line of a JSON block counts once, however long the examples' texts
    (the count once subtracted the length of the last example's text)."""
    from logaudit.formats import detect

    good = '{"ts": 1769036406.5, "request": {"remote_ip": "10.0.0.%d", "method": "GET", '
    good += '"uri": "/p/%d", "proto": "HTTP/1.1"}, "status": 200, "size": 5, "duration": 0.01}\n'
    rows = [good % (i % 200, i) for i in range(200)]
    for k in range(junk):
        rows.insert(10 + k * 15, f"{'x' * (3 + k)} not a JSON line number {k}\n")
    raw = "".join(rows).encode()
    det = detect(raw, "access.log", "caddy", None, {})
    bad = BadLines()
    parse_block(Block(raw, 1, Input("access.log", None)), det, bad)
    assert bad.counts == {"access.log": junk}
    assert len(bad.samples["access.log"]) == min(junk, BAD_SAMPLES)
