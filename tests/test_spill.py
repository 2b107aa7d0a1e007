"""Tables that grow with the lines spill to disk in partitions by key, and read back whole."""

from __future__ import annotations

import copy
import errno
import json
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from logaudit.analyze import (
    SUMMARY_SECTIONS,
    TRENDS_SECTIONS,
    VISITS_SECTIONS,
    build_report,
    tables_for,
)
from logaudit.analyze.base import Accumulator, Table
from logaudit.analyze.spill import PARTS, Spill, part_of, partitions, whole
from logaudit.api import finish_context
from logaudit.cli import cli
from logaudit.config import load
from logaudit.engine.local import Run, run
from logaudit.errors import ExitCode
from logaudit.render.tabular import as_dict
from logaudit.sources import Input


def events(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "visitor": rng.integers(0, 50, n).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15),
            "utc": rng.integers(0, 10**6, n),
            "path_h": rng.integers(0, 2**63, n).astype(np.uint64),
        }
    )


def test_a_keys_rows_share_one_partition_and_nothing_is_lost() -> None:
    first, second = events(500, 1), events(300, 2)
    spill = Spill(first, "visitor", distinct=False)
    spill.write(first)
    spill.write(second)
    memory = events(40, 3)
    parts = list(spill.partitions(memory))
    assert 1 < len(parts) <= PARTS
    seen: set[int] = set()
    for part in parts:
        keys = set(part["visitor"].tolist())
        assert not keys & seen  # no visitor in two partitions
        seen |= keys
    got = pd.concat(parts).sort_values(["visitor", "utc", "path_h"], ignore_index=True)
    want = pd.concat([first, second, memory]).sort_values(["visitor", "utc", "path_h"])
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True))


def test_reading_leaves_the_files_offsets_alone() -> None:
    """A forked child (analyze.forked) shares the files' offsets with its parent: reading
    must neither use nor move them."""
    rows = events(500, 4)
    spill = Spill(rows, "visitor", distinct=False)
    spill.write(rows)
    for f in spill.files:
        f.seek(3)
    got = pd.concat(list(spill.partitions(rows.iloc[:0])))
    assert len(got) == len(rows)
    assert [f.tell() for f in spill.files] == [3] * PARTS


def test_a_distinct_tables_copies_across_batches_are_dropped_when_read() -> None:
    idx = pd.Index(np.arange(10, dtype=np.uint64) * np.uint64(2**40), name="key")
    batch = pd.DataFrame({"path_h": np.arange(10, dtype=np.uint64)}, index=idx)
    spill = Spill(batch, "key", distinct=True)
    spill.write(batch)
    spill.write(batch.iloc[3:])  # the same triples again, in a later batch
    frame = batch.iloc[:0]
    frame.attrs["spill"] = spill
    got = whole(frame).sort_index()
    assert got.index.tolist() == idx.tolist()
    assert got["path_h"].tolist() == list(range(10))
    assert "spill" not in got.attrs


def test_part_of_spreads_keys_and_is_stable() -> None:
    keys = np.arange(100_000, dtype=np.uint64)  # sequential: no help from the low bits
    parts = part_of(keys)
    counts = np.bincount(parts, minlength=PARTS)
    assert counts.min() > 0.8 * counts.mean()
    assert part_of(keys[:10]).tolist() == parts[:10].tolist()


def test_a_spill_stays_in_its_process() -> None:
    frame = events(10, 4)
    spill = Spill(frame, "visitor", distinct=False)
    assert copy.deepcopy(spill) is spill  # pandas deep-copies attrs
    with pytest.raises(TypeError, match="cannot leave its process"):
        pickle.dumps(spill)
    with pytest.raises(TypeError, match="not fixed-width numeric"):
        Spill(pd.DataFrame({"visitor": [1], "text": ["a"]}), "visitor", distinct=False)


def test_accumulator_spills_past_its_budget_and_reads_back_the_same_rows() -> None:
    tables = {
        "ev": Table("ev", lambda c, s: c, kind="concat", spill_key="visitor"),
        "seen": Table("seen", lambda c, s: c, kind="distinct", spill_key="key"),
    }
    heard: list[tuple[str, int]] = []
    spilling = Accumulator(tables, lambda n, r: heard.append((n, r)), spill_bytes=2_000)
    memory = Accumulator(tables)
    for i in range(6):
        ev = events(120, 10 + i)
        seen = pd.DataFrame(
            {"path_h": ev["path_h"].to_numpy()},
            index=pd.Index(ev["visitor"].to_numpy() ^ np.uint64(i % 2), name="key"),
        )
        for acc in (spilling, memory):
            acc.add({"ev": ev, "seen": seen})
    got, want = spilling.result(), memory.result()
    assert isinstance(got["ev"].attrs.get("spill"), Spill)
    assert len(got["ev"]) < len(want["ev"])  # most rows are on disk
    sort = ["visitor", "utc", "path_h"]
    pd.testing.assert_frame_equal(
        whole(got["ev"]).sort_values(sort, ignore_index=True),
        want["ev"].sort_values(sort, ignore_index=True),
    )
    # The distinct table: same keys; each key's row from the first batch that had it.
    pd.testing.assert_frame_equal(whole(got["seen"]).sort_index(), want["seen"].sort_index())
    assert sum(len(p) for p in partitions(got["seen"])) == len(want["seen"])
    assert {name for name, _ in heard} == {"ev", "seen"}


def _report(r: Run, sections: tuple[str, ...]) -> dict:
    settings = load({"extra": {"every": "auto", "metrics": ()}})
    d = as_dict(build_report(r, settings, sections, "report", finish_context(settings, sections)))
    d.pop("generated")
    return json.loads(json.dumps(d, sort_keys=True))


@pytest.mark.parametrize("sections", [SUMMARY_SECTIONS, VISITS_SECTIONS, TRENDS_SECTIONS])
def test_reports_are_the_same_when_everything_spills(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch, sections: tuple[str, ...]
) -> None:
    settings = load({"extra": {"every": "auto", "metrics": ()}})
    inputs = [Input(str(p), p) for p in sorted(sample_logs.glob("access.log*"))]
    tables = tables_for(sections)
    # None: whatever LOGAUDIT_SPILL_MB says
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", None)
    kept = run(inputs, settings, tables)
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 1_000)
    spilled = run(inputs, settings, tables)
    assert isinstance(spilled.partial["pv_events"].attrs.get("spill"), Spill)
    assert "spill" not in kept.partial["pv_events"].attrs
    assert _report(spilled, sections) == _report(kept, sections)


def test_spilling_leaves_nothing_in_the_temporary_folder(
    sample_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 1_000)
    result = CliRunner().invoke(cli, ["visits", str(sample_logs), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["overview"]["visits"] > 0
    assert list(tmp_path.iterdir()) == []  # anonymous files: never named in the folder


def test_no_room_for_temporary_files_is_one_line_and_exit_9(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 1_000)
    result = CliRunner().invoke(cli, ["summary", str(sample_logs)])
    assert result.exit_code == ExitCode.OUTPUT
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert "\n" not in message and "temporary files" in message and "No space left" in message


def test_no_usable_temporary_folder_at_all_is_one_line_and_exit_9(
    sample_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No candidate folder can be written (a read-only root): tempfile's own search fails, and
    # the message must not ask it again.
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(tempfile, "_candidate_tempdir_list", lambda: [str(tmp_path / "absent")])
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 1_000)
    result = CliRunner().invoke(cli, ["summary", str(sample_logs)])
    assert result.exit_code == ExitCode.OUTPUT, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    message = result.stderr.strip()
    assert "\n" not in message and "temporary files" in message


def test_the_budget_ignores_what_is_not_a_number_of_megabytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logaudit.config import tuning_bytes

    def budget(text: str | None, zero_ok: bool = True) -> int:
        if text is None:
            monkeypatch.delenv("LOGAUDIT_X_MB", raising=False)
        else:
            monkeypatch.setenv("LOGAUDIT_X_MB", text)
        return tuning_bytes("LOGAUDIT_X_MB", 16, zero_ok=zero_ok)

    assert budget(None) == 16 * 1024 * 1024
    assert budget("0.5") == 512 * 1024
    assert budget("0") == 0  # spill everything (tests)
    for text in ("16MB", "-3", "inf", "nan", "abc", "1e308"):
        assert budget(text) == 16 * 1024 * 1024, text
    for text in ("0", "1e-9"):  # a block of 0 bytes reads nothing
        assert budget(text, zero_ok=False) == 16 * 1024 * 1024, text


def test_a_bad_block_size_in_the_environment_is_one_line_and_exit_7(tmp_path: Path) -> None:
    """LOGAUDIT_BLOCK_MB=abc was an internal error at import, and 0 read no line at all
    ("empty, nothing to read"); then it was ignored silently (qa15): now it is refused as
    every other bad setting is, in one line."""
    import os
    import subprocess
    import sys

    log = tmp_path / "a.log"
    log.write_text(
        '192.0.2.1 - - [01/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n'
    )
    for value in ("abc", "0", "-1", "1e-9", "1e300"):
        r = subprocess.run(
            [sys.executable, "-m", "logaudit", "summary", str(log), "--format", "json"],
            capture_output=True,
            text=True,
            env={**os.environ, "LOGAUDIT_BLOCK_MB": value, "LOGAUDIT_CONFIG": os.devnull},
        )
        assert r.returncode == 7, (value, r.stderr)
        assert r.stderr.startswith("logaudit: error: env LOGAUDIT_BLOCK_MB: "), value
        assert len(r.stderr.splitlines()) == 1 and r.stdout == "", value


def test_an_empty_remainder_does_not_keep_the_spilled_rows() -> None:
    tables = {"ev": Table("ev", lambda c, s: c, kind="concat", spill_key="visitor")}
    acc = Accumulator(tables, spill_bytes=1_000)
    acc.add({"ev": events(5_000, 7)})
    acc._compact("ev")
    remainder = acc.done["ev"]
    assert len(remainder) == 0

    def root(a: np.ndarray) -> np.ndarray:
        while isinstance(a.base, np.ndarray):
            a = a.base
        return a

    # An empty slice of the spilled frame would still reach its 5,000 rows' arrays.
    assert all(root(remainder[c].to_numpy()).nbytes == 0 for c in remainder.columns)


def test_duplicated_keys_of_text_match_pandas_without_an_index_engine() -> None:
    from logaudit.analyze.spill import duplicated_keys

    index = pd.Index(["a", "b", "a", None, "c", None, "b", "é"], dtype="str")
    found = list(duplicated_keys(index))
    # Arrow's hashing, not the index's engine (which would hold every value as an object).
    assert "_engine" not in index._cache
    assert found == list(index.duplicated())
    numbers = pd.Index(np.array([3, 1, 3, 2], np.uint64))
    assert list(duplicated_keys(numbers)) == [False, False, True, False]


def test_a_last_merge_after_a_spill_is_not_small() -> None:
    """A table that spilled is read back whole by ``result``: its last merge is not a small
    one (whose trims are skipped and which runs on one thread), however few rows are still
    pending (a scan of 300,000 distinct paths held 26-56 MB more at its peak)."""
    tables = {"ev": Table("ev", lambda c, s: c, kind="concat", spill_key="visitor")}
    acc = Accumulator(tables, spill_bytes=1_000)
    acc.add({"ev": events(5_000, 7)})
    acc._compact("ev")
    assert acc.spills and len(acc.done["ev"]) == 0
    assert not acc.small_last_merge()
    acc.add({"ev": events(10, 8)})
    assert not acc.small_last_merge()
