"""sample_logs/weeks/: six weeks of the generator's shop, so that weekly trends and the digest's
week-over-week change have something to show. Kept apart from the four-day set (a directory's
logs are read without recursing), whose figures other tests and golden files rely on."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit import samplegen
from logaudit.cli import cli

ARGS = {"start": date(2025, 12, 15), "days": 42, "per_day": 2400}


def test_committed_weeks_match_the_generator(sample_logs: Path, tmp_path: Path) -> None:
    samplegen.write_rotated_set(tmp_path, **ARGS)  # type: ignore[arg-type]
    made = sorted(p.name for p in tmp_path.glob("access.log*"))
    assert len(made) == 42
    assert made == sorted(p.name for p in (sample_logs / "weeks").glob("access.log*"))
    for name in made:
        assert (tmp_path / name).read_bytes() == (sample_logs / "weeks" / name).read_bytes(), name


def test_weekly_trends_and_the_digest_have_something_to_show(sample_logs: Path) -> None:
    weeks = str(sample_logs / "weeks")
    r = CliRunner().invoke(cli, ["trends", weeks, "--every", "week", "--format", "json"])
    assert r.exit_code == 0, r.stderr
    periods = next(s for s in json.loads(r.stdout)["sections"] if s["name"] == "periods")
    assert len(periods["rows"]) >= 6
    r = CliRunner().invoke(
        cli, ["digest", weeks, "--since", "2026-01-24", "--format", "json",
              "--site-host", "shop.example.com"]
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    head = {row["metric"]: row for row in doc["sections"][0]["rows"]}
    assert all(head[m]["previous"] is not None for m in head)
    assert all(head[m]["week_before"] is not None for m in head)
    # The generator's 5xx incident falls on the day before the last: unusual, and flagged.
    unusual = next(s for s in doc["sections"] if s["name"] == "unusual")
    assert any(row["metric"] == "status_5xx" for row in unusual["rows"])
    assert doc["overview"]["verdict"].endswith("(!)")
    assert doc["overview"]["verdict"].startswith("[logaudit] shop.example.com 2026-01-24: ")


def test_the_digest_help_example_runs_on_the_bundled_samples(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sample_logs.parent)
    helptext = CliRunner().invoke(cli, ["digest", "--help"]).stdout
    [example] = [ln.split() for ln in helptext.splitlines() if "sample_logs/" in ln]
    assert example[:2] == ["logaudit", "digest"]
    r = CliRunner().invoke(cli, [*example[1:], "--format", "json"])
    assert r.exit_code == 0, r.stderr
