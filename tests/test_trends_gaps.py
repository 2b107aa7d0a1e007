"""logaudit trends: gaps (periods no input covers), baselines of zeros, and which periods are
complete (docs/metrics.md "Complete periods", "Gaps", "Unusual periods").

QA round 23, F3 and F4: a rotated set missing members showed its missing days as zero traffic
and scored the days after them against those zeros (z = bandwidth / 1e-9); a week whose log
stopped 8 hours early (under 5 % of it) was compared as whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from logaudit.cli import cli
from logaudit.store.layout import STATE_FILE
from tests.test_trends import clf, run, section, write


def lines(start: datetime, hours: int, per_hour: int, **kw: Any) -> list[str]:
    """``per_hour`` lines an hour, evenly spread, each from its own client, for ``hours``."""
    step = 3600 // per_hour
    return [
        clf(start + timedelta(seconds=h * 3600 + k * step), f"10.0.{h % 250}.{k + 1}", **kw)
        for h in range(hours)
        for k in range(per_hour)
    ]


def _gap_files(folder: Path) -> tuple[list[str], list[str]]:
    """Ten whole days (5-14 Jan 2026), then none for four, then ten (19-28 Jan)."""
    a = lines(datetime(2026, 1, 5, tzinfo=UTC), 240, 10)
    b = lines(datetime(2026, 1, 19, tzinfo=UTC), 240, 10)
    return a, b


def test_days_no_input_covers_are_a_gap_not_zero_traffic(tmp_path: Path) -> None:
    a, b = _gap_files(tmp_path)
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    write(rotated / "access.log.1", a)
    write(rotated / "access.log", b)
    got = run(str(rotated), "--every", "day")
    periods = section(got, "periods")
    rows = {r["period"]: r for r in periods["rows"]}
    gap = [f"2026-01-{d}" for d in range(15, 19)]
    assert all(rows[d]["hits"] == 0 and rows[d]["complete"] is False for d in gap)
    # Said once, by its days; the days around it are whole (00:00 to 23:54).
    assert "no line from 2026-01-15 to 2026-01-18 (4.0 d)" in periods["note"]
    assert periods["note"].count("no line") == 1
    assert "partial" not in periods["note"]
    assert rows["2026-01-14"]["complete"] and rows["2026-01-19"]["complete"]
    # No day is scored against the gap's zeros: the first day after it with 7 whole days
    # before it is 26 Jan, and nothing is unusual in this even traffic.
    unusual = section(got, "unusual")
    assert unusual["rows"] == []
    assert unusual["headline"]["periods_checked"] == 3 + 3  # 12-14 Jan and 26-28 Jan


def test_the_same_silence_inside_one_log_is_quiet_traffic(tmp_path: Path) -> None:
    """One log with lines on both sides of the four days covers them: they are zeros, an
    outage the unusual periods flag, as before."""
    a, b = _gap_files(tmp_path)
    got = run(str(write(tmp_path / "access.log", a + b)), "--every", "day")
    periods = section(got, "periods")
    assert "no line" not in periods["note"]
    assert all(r["complete"] for r in periods["rows"])
    flagged = {(r["period"], r["metric"]) for r in section(got, "unusual")["rows"]}
    assert ("2026-01-15", "hits") in flagged


def _store(tmp_path: Path, *logs: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    store = tmp_path / "store"
    done = CliRunner().invoke(cli, ["summary", *map(str, logs), "--state", str(store)])
    assert done.exit_code == 0, done.output
    return store


def test_a_store_tells_gaps_as_one_pass_does(tmp_path: Path) -> None:
    """The store keeps each day's inputs' first and last line: the same gaps as one pass."""
    a, b = _gap_files(tmp_path)
    rotated = _store(tmp_path / "r", write(tmp_path / "a.log", a), write(tmp_path / "b.log", b))
    got = run("--state", str(rotated), "--every", "day")
    assert "no line from 2026-01-15 to 2026-01-18 (4.0 d)" in section(got, "periods")["note"]
    assert section(got, "unusual")["rows"] == []
    one = _store(tmp_path / "o", write(tmp_path / "one.log", a + b))
    got = run("--state", str(one), "--every", "day")
    assert "no line" not in section(got, "periods")["note"]
    assert ("2026-01-15", "hits") in {
        (r["period"], r["metric"]) for r in section(got, "unusual")["rows"]
    }


def test_a_store_without_the_inputs_calls_no_silence_a_gap(tmp_path: Path) -> None:
    """Days stored before the inputs' first and last lines were kept: four days without a
    line may be a gap or an outage; they stay zeros (the outage flagged as one pass flags it)
    and the note says both (rev23-qafix23b 1: they were called a gap, the outage hidden)."""
    a, b = _gap_files(tmp_path)
    store = _store(tmp_path, write(tmp_path / "one.log", a + b))
    path = store / STATE_FILE
    st = json.loads(path.read_text())
    for entry in [*st["days"].values(), *st.get("months", {}).values()]:
        entry["files"].pop("trend_inputs", None)
    path.write_text(json.dumps(st))
    got = run("--state", str(store), "--every", "day")
    note = section(got, "periods")["note"]
    assert "no line from 2026-01-15 to 2026-01-18 (4.0 d): counted as zero traffic" in note
    assert "a gap in the inputs or an outage" in note and "(a gap)" not in note
    assert "2026-01-15" in {r["period"] for r in section(got, "unusual")["rows"]}


def test_a_baseline_of_zeros_gives_no_z(tmp_path: Path) -> None:
    """Eight days without a byte or a 5xx, then a day of 1.2 MB and 30 errors: flagged on the
    floors alone, z none (it was 1.2e15 for the bytes, 30 for the errors)."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    quiet = lines(start, 8 * 24, 10, size=0)
    loud = lines(start + timedelta(days=8), 24, 10, size=5000)
    errors = lines(start + timedelta(days=8, hours=12), 1, 30, status=500, size=0)
    after = lines(start + timedelta(days=9), 24, 10, size=0)
    got = run(str(write(tmp_path / "a.log", quiet + loud + errors + after)), "--every", "day")
    unusual = section(got, "unusual")
    rows = {(r["period"], r["metric"]): r for r in unusual["rows"]}
    assert rows[("2026-01-13", "bandwidth")] | {"start": ""} == {
        "period": "2026-01-13",
        "start": "",
        "metric": "bandwidth",
        "value": 1_200_000,
        "baseline_median": 0,
        "z": None,
    }
    assert rows[("2026-01-13", "status_5xx")]["z"] is None
    assert "z -: the baseline is all zeros" in unusual["note"]


def test_a_week_cut_8_hours_short_is_partial(tmp_path: Path) -> None:
    """Three weeks from Monday 5 January; the log stops on Sunday 25 January at 16:00."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    got = run(str(write(tmp_path / "a.log", lines(start, 20 * 24 + 16, 10))), "--every", "week")
    periods = section(got, "periods")
    assert [r["complete"] for r in periods["rows"]] == [True, True, False]
    assert "partial: 2026-W04 ends 8 h before the ISO week does" in periods["note"]
    assert section(got, "change")["headline"]["period"] == "2026-W03"


def test_an_hour_cut_2_minutes_short_is_partial_but_a_quiet_log_is_not(tmp_path: Path) -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    # One line each 6 s from 09:00:00 to 11:58:00: the last hour ends 2 minutes early, past
    # the tolerance (1 minute; three times 6 s is less). Within 5 % of it, it was complete.
    busy = [clf(start + timedelta(seconds=6 * k), f"10.1.0.{k % 200}") for k in range(1781)]
    rows = section(run(str(write(tmp_path / "b.log", busy)), "--every", "hour"), "periods")
    assert [r["complete"] for r in rows["rows"]] == [True, True, False]
    assert "11:00 ends 2 min before the hour does" in rows["note"]
    # One line an hour at :30 for a week, the last on Sunday at 22:30: the days are whole
    # (1 h 30 min from the end is within three times the hour between lines).
    quiet = lines(datetime(2026, 1, 5, 0, 30, tzinfo=UTC), 7 * 24 - 1, 1)
    days = section(run(str(write(tmp_path / "q.log", quiet)), "--every", "day"), "periods")
    assert all(r["complete"] for r in days["rows"])
    assert "partial" not in days["note"]
