"""Trends from closed days' visits (store/visitdays.py): the same figures as one pass."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.visits import sessionize
from logaudit.store import visitdays
from logaudit.store.layout import STATE_FILE
from tests.store_helpers import TRENDS, figures, grown_store, log_bytes, report, trends

DATA = log_bytes(6000, days=6, bad=0)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("trendstore")
    return grown_store(tmp, DATA, (0.3, 0.55, 0.8), report)


def test_closed_days_keep_their_visits(store: tuple[Path, Path]) -> None:
    state, _ = store
    days = json.loads((state / STATE_FILE).read_text())["days"]
    closed = [n for n, info in days.items() if info.get("closed")]
    assert len(closed) >= 3
    for n in closed:
        assert visitdays.ROWS.name in days[n]["files"], n
        assert days[n]["visit_timeout"] == 30 * 60
    assert not any(visitdays.ROWS.name in i["files"] for i in days.values() if not i.get("closed"))


@pytest.mark.parametrize(
    "every,sections",
    [
        ("day", TRENDS),
        ("week", TRENDS),
        ("hour", TRENDS),
        ("month", TRENDS),
        ("day", (*TRENDS, "movers")),
        ("auto", ("movers", "periods")),
    ],
)
def test_trends_from_closed_days_equal_one_pass(
    store: tuple[Path, Path], every: str, sections: tuple[str, ...]
) -> None:
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": sections}
    stored = trends([], state, **more)
    assert figures(stored) == figures(trends([str(whole)], **more))
    # A period starting inside the stored days: visits crossing its first midnight start there.
    since = {"since": datetime(2026, 1, 24), **more}
    assert figures(trends([], state, **since)) == figures(trends([str(whole)], **since))


def test_the_rows_are_used_and_another_timeout_reads_the_events(
    store: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, whole = store
    calls: list[int] = []
    real = visitdays.visits

    def spy(rows: Any, events: Any, timeout: int) -> Any:
        calls.append(0 if rows is None else len(rows))
        return real(rows, events, timeout)

    monkeypatch.setattr(visitdays, "visits", spy)
    trends([], state)
    assert calls and calls[0] > 0
    calls.clear()
    trends([], state, sections=(*TRENDS, "movers"))
    assert calls and calls[0] > 0
    calls.clear()
    trends([], state, sections=("periods", "visits"))  # visits sections read the events
    assert calls == []
    calls.clear()
    other = {"visit_timeout": 10 * 60}
    assert figures(trends([], state, **other)) == figures(trends([str(whole)], **other))
    assert calls == [0]  # no day closed with 10 minutes: every day's events were read


def _events(rng: np.random.Generator, n: int, offsets: list[int]) -> pd.DataFrame:
    utc = np.sort(rng.integers(0, 5 * 86_400, n))
    off = rng.choice(offsets, n)
    return pd.DataFrame(
        {
            "visitor": rng.integers(1, 30, n).astype(np.uint64),
            "utc": utc,
            "local": utc + off,
            "path_h": np.zeros(n, np.uint64),
            "ref_h": np.zeros(n, np.uint64),
        }
    )


@pytest.mark.parametrize("seed", range(6))
def test_day_rows_chained_equal_sessionizing_all_events(seed: int) -> None:
    rng = np.random.default_rng(seed)
    offsets = [3600, 3600] if seed % 2 else [-5 * 3600, 2 * 3600, 3600]
    ev = _events(rng, 3000, offsets)
    timeout = int(rng.choice([600, 1800, 7200]))
    day = ev["local"].to_numpy() // 86_400
    lo, hi = min(offsets), max(offsets)
    closed = [d for d in np.unique(day) if rng.random() < 0.7]
    rows = [visitdays.day_rows(ev[day == d], int(d), timeout, lo, hi) for d in closed]
    open_ev = ev[~np.isin(day, closed)]
    got = visitdays.visits(
        pd.concat(rows, ignore_index=True), [open_ev] if len(open_ev) else [], timeout
    ).table
    want = sessionize(ev, timeout).table
    cols = ["start", "end", "start_local", "clicks", "duration", "day"]
    key = ["start", "clicks", "end"]
    a = got[cols].sort_values(key).reset_index(drop=True)
    b = want[cols].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    # Interior visits need no visitor key: most of a day's visits are interior.
    assert sum(int((~r["edge"]).sum()) for r in rows) > 0


def test_late_lines_reopen_a_day_without_its_visits(tmp_path: Path) -> None:
    # A second server's log, given after the first server's days were closed.
    lines = DATA.splitlines(keepends=True)
    day = next(ln for ln in lines if b"/Jan/2026:" in ln).split(b"[", 1)[1][:11]
    late = [ln for ln in lines if day in ln][::5]
    rest = [ln for ln in lines if ln not in set(late)]
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"".join(rest))
    state = tmp_path / "state"
    report([str(a)], state)
    days = json.loads((state / STATE_FILE).read_text())["days"]
    first = min(days)
    assert days[first].get("closed") and visitdays.ROWS.name in days[first]["files"]
    b.write_bytes(b"".join(late))
    report([str(a), str(b)], state)
    days = json.loads((state / STATE_FILE).read_text())["days"]
    assert visitdays.ROWS.name not in days[first]["files"]
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(rest) + b"".join(late))
    for every in ("day", "week"):
        more = {"extra": {"every": every}}
        assert figures(trends([], state, **more)) == figures(trends([str(whole)], **more))


def test_trends_with_relative_bounds_read_the_store(store: tuple[Path, Path]) -> None:
    """--since 365d (days) and 12h (an instant, review of qafix18a #4) are answered from the
    store alone: 12h was "cannot answer ... give the logs too" (exit 2)."""
    from click.testing import CliRunner

    from logaudit.cli import cli

    state, _ = store

    def run(*args: str) -> Any:
        env = {"LOGAUDIT_GOALS": "/order/complete", "LOGAUDIT_TOP": "0"}  # the store's
        given = ["trends", "--state", str(state), *args, "--format", "json"]
        return CliRunner().invoke(cli, given, env=env)

    year, whole = run("--since", "365d"), run()
    assert year.exit_code == 0 and whole.exit_code == 0, year.output
    assert json.loads(year.stdout)["overview"] == json.loads(whole.stdout)["overview"]
    recent = run("--since", "12h")  # the store's days are long before: none in the period
    assert recent.exit_code == 8 and "cannot answer" not in recent.output, recent.output
