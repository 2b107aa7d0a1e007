"""Progress: counted in compressed bytes read, shown on a terminal, silent under cron."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli
from logaudit.sources import Input, ReadState, read_blocks

LINE = '1.2.3.4 - - [10/Mar/2026:12:00:00 +0000] "GET /p{} HTTP/1.1" 200 5 "-" "curl/8"\n'


def _log(tmp_path: Path, n: int = 5000, gz: bool = False) -> Path:
    data = "".join(LINE.format(i) for i in range(n)).encode()
    p = tmp_path / ("a.log.gz" if gz else "a.log")
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


def test_progress_adds_up_to_the_file_size(tmp_path: Path) -> None:
    for gz in (False, True):
        p = _log(tmp_path, gz=gz)
        seen: list[int] = []
        blocks = list(read_blocks(Input(str(p), p), ReadState(), 64 * 1024, seen.append))
        assert len(blocks) > 1 or not gz
        assert sum(seen) == p.stat().st_size  # compressed bytes, so a bar over sizes is true


def test_forced_progress_keeps_stdout_clean(tmp_path: Path) -> None:
    p = _log(tmp_path)
    result = CliRunner().invoke(cli, ["summary", str(p), "--progress", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["overview"]["requests"] == 5000


def test_no_progress_when_not_a_terminal(tmp_path: Path) -> None:
    """Under cron stderr is not a terminal: nothing but real problems may be printed."""
    p = _log(tmp_path, n=200_000)  # over the 4 MB threshold
    assert p.stat().st_size > 4 * 1024 * 1024
    result = CliRunner().invoke(cli, ["summary", str(p), "--format", "json", "--section", "status"])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_worker_processes_give_the_same_report(sample_logs: Path) -> None:
    """The map step in forked workers, the reduce here: every figure, row and bad-line example
    is the same as in one process (partials merge in block order)."""

    def report(*extra: str) -> dict:
        result = CliRunner().invoke(
            cli, ["summary", str(sample_logs), "--format", "json", "--top", "0", *extra]
        )
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        out.pop("generated")
        return out

    assert report("--jobs", "2") == report("--jobs", "1")


def test_byte_ranges_give_the_same_report(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain file split into one byte range per worker: each worker reduces its range to
    one partial; figures and bad-line examples (line numbers included) equal one process's."""
    import logaudit.engine.local as pipeline

    monkeypatch.setattr(pipeline, "SPAN_MIN_BYTES", 1)
    log = sample_logs / "access.log"  # holds planted bad lines, in both halves

    def report(jobs: str) -> dict:
        result = CliRunner().invoke(
            cli, ["summary", str(log), "--format", "json", "--top", "0", "--jobs", jobs]
        )
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        out.pop("generated")
        return out

    one, three = report("1"), report("3")
    assert three == one
    assert [e["line"] for e in one["bad_lines"]["examples"]] == [57, 888, 1717, 2401]
