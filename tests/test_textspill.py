"""Text-keyed group tables (paths, referrers) spill to disk past their budget, text and counts
in partitions by the text's hash, and come back as the very table they would have been."""

from __future__ import annotations

import errno
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from logaudit.analyze import SUMMARY_SECTIONS, VISITS_SECTIONS, build_report, tables_for
from logaudit.analyze import spill as spill_mod
from logaudit.analyze.base import Accumulator, Table
from logaudit.analyze.spill import PARTS, SEQ, TextSpill
from logaudit.api import finish_context
from logaudit.cli import cli
from logaudit.config import load
from logaudit.engine.local import Run, run
from logaudit.errors import ExitCode
from logaudit.render.tabular import as_dict
from logaudit.sources import Input

PATHS = Table("paths", lambda c, s: c, {"static": "max"}, spill_text=True)


def batch(n: int, seed: int, pool: int) -> pd.DataFrame:
    """Counts per path text, as ``t_paths`` makes them: keys repeat across batches."""
    rng = np.random.default_rng(seed)
    keys = pd.unique(rng.integers(0, pool, n))
    text = pd.Index([f"/p/{k:06d}/é" if k % 7 == 0 else f"/p/{k}" for k in keys], dtype="str")
    m = len(text)
    return pd.DataFrame(
        {
            "hits": rng.integers(1, 4, m).astype(np.int64),
            "bytes": rng.integers(0, 10**6, m).astype(np.int64),
            "static": rng.random(m) < 0.3,
        },
        index=text.rename("path"),
    )


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    real = TextSpill.__init__

    def init(self: TextSpill, frame: pd.DataFrame) -> None:
        made.append(str(frame.index.name))
        real(self, frame)

    monkeypatch.setattr(TextSpill, "__init__", init)
    return made


def test_a_spilled_text_table_comes_back_the_same_in_the_same_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = _spied(monkeypatch)
    monkeypatch.setattr("logaudit.analyze.base.COMPACT_ROWS", 500)
    tables = {"paths": PATHS}
    spilling, memory = Accumulator(tables, spill_bytes=100), Accumulator(tables)
    for i in range(12):
        b = batch(400, i, 3_000)
        for acc in (spilling, memory):
            acc.add({"paths": b})
    got, want = spilling.result(), memory.result()
    assert made == ["path"]
    assert not spilling.text_spills
    pd.testing.assert_frame_equal(got["paths"], want["paths"])
    assert SEQ not in got["paths"].columns


def test_a_keys_rows_share_one_partition() -> None:
    first = batch(2_000, 1, 50_000)
    spill = TextSpill(first)
    spill.write(first)
    spill.write(batch(2_000, 2, 50_000))
    seen: set[str] = set()
    total = 0
    for i in range(PARTS):
        part = spill.read(i)
        keys = set(part.index)
        assert not keys & seen
        seen |= keys
        total += len(part)
    assert total == len(first) + len(batch(2_000, 2, 50_000))  # as written: keys may repeat
    assert seen == set(first.index) | set(batch(2_000, 2, 50_000).index)
    spill.close()


def test_a_table_under_the_text_budget_does_not_spill(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _spied(monkeypatch)
    acc = Accumulator({"paths": PATHS}, spill_bytes=1 << 20)  # 8 MB of text: far more
    acc.add({"paths": batch(300, 1, 1_000)})
    acc.result()
    assert made == []


def _report(r: Run, sections: tuple[str, ...], settings: Any) -> dict:
    d = as_dict(build_report(r, settings, sections, "report", finish_context(settings, sections)))
    d.pop("generated")
    return json.loads(json.dumps(d, sort_keys=True))


def _same_when_spilled(
    inputs: list[Input], sections: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, **opts: Any
) -> list[str]:
    settings = load({"extra": {"every": "auto", "metrics": ()}, **opts})
    tables = tables_for(sections)
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", None)
    kept = run(inputs, settings, tables)
    made = _spied(monkeypatch)
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 100)
    spilled = run(inputs, settings, tables)
    assert _report(spilled, sections, settings) == _report(kept, sections, settings)
    for name in ("paths", "referrers"):
        if name in kept.partial:
            pd.testing.assert_frame_equal(spilled.partial[name], kept.partial[name])
    return made


@pytest.mark.parametrize("sections", [SUMMARY_SECTIONS, VISITS_SECTIONS])
def test_reports_on_the_sample_logs_are_the_same_when_text_tables_spill(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch, sections: tuple[str, ...]
) -> None:
    inputs = [Input(str(p), p) for p in sorted(sample_logs.glob("access.log*"))]
    made = _same_when_spilled(inputs, sections, monkeypatch)
    assert "path" in made


def _distinct_log(path: Path, lines: int) -> None:
    """Many distinct paths, referrers, agents and clients, and counts that tie at the top-N
    cut: paths 0-39 have 3 hits each, the rest one or two."""
    rng = np.random.default_rng(5)
    out = []
    for i in range(lines):
        k = i % 40 if i < 120 else 40 + int(rng.integers(0, lines))
        client = f"10.{i % 7}.{(i // 7) % 250}.{i % 250}"
        ref = f"https://ref{int(rng.integers(0, lines // 2))}.example.net/p/{i % 9}"
        agent = f"Mozilla/5.0 (X11; Linux x86_64) Firefox/{100 + i % 300}.{i}"
        stamp = f"{1 + i % 28:02d}/Mar/2026:{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} +0000"
        out.append(
            f'{client} - - [{stamp}] "GET /item/{k}/x{"?q=1" if k % 3 == 0 else ""} HTTP/1.1" '
            f'{404 if k % 11 == 0 else 200} {100 + k} "{ref}" "{agent}"\n'
        )
    path.write_text("".join(out))


def test_reports_on_a_log_of_distinct_values_with_ties_at_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "distinct.log"
    _distinct_log(log, 6_000)
    monkeypatch.setattr("logaudit.analyze.base.COMPACT_ROWS", 1_000)
    made = _same_when_spilled([Input(str(log), log)], SUMMARY_SECTIONS, monkeypatch, top=10)
    assert {"path", "referrer"} <= set(made)


def test_spilled_text_leaves_nothing_in_the_temporary_folder(
    sample_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _spied(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 100)
    result = CliRunner().invoke(cli, ["summary", str(sample_logs), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["overview"]["requests"] > 0
    assert "path" in made
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_text_spills_is_one_line_and_exit_9(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tempfile.TemporaryFile

    class Full:
        """A temporary file on a disk that is full: made, but nothing can be written."""

        def __init__(self) -> None:
            self.f = real()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.f, name)

        def write(self, data: Any) -> int:
            if bytes(memoryview(data)[:4]) != b"\xff\xff\xff\xff":  # not an Arrow stream
                return int(self.f.write(data))
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spill_mod.tempfile, "TemporaryFile", Full)
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 100)
    result = CliRunner().invoke(cli, ["summary", str(sample_logs)])
    assert result.exit_code == ExitCode.OUTPUT
    message = result.stderr.strip()
    assert "Traceback" not in result.output
    assert "\n" not in message and "temporary files" in message and "No space left" in message


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_place_puts_each_value_at_its_rows_start(kind: pa.DataType) -> None:
    from logaudit.analyze.spill import _place

    values = ["ab", "", "cde", "é", "fg"]
    text = pa.array(["zz", *values], kind).slice(1)  # an offset into the buffers
    order = [2, 0, 4, 1, 3]  # the table row of each value
    lengths = np.zeros(len(values), np.int64)
    for v, row in zip(values, order, strict=True):
        lengths[row] = len(v.encode())
    starts = np.concatenate([[0], np.cumsum(lengths)])
    data = np.zeros(int(starts[-1]), np.uint8)
    _place(text, starts[order], data)
    want = "".join(v for _, v in sorted(zip(order, values, strict=True)))
    assert bytes(data).decode() == want
