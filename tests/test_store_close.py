"""Closed days (store/close.py): counts in place of key sets, the same figures as one pass."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from logaudit.config import load
from logaudit.sources import expand
from logaudit.store import close, manage
from logaudit.store.layout import SCHEMA, STATE_FILE, day_number
from tests.store_helpers import BASE, Server, figures, log_bytes, report

DATA = log_bytes(3000, days=3, bad=2)
DAY = 86_400


def _state(root: Path) -> dict:
    return json.loads((root / STATE_FILE).read_text())


def _one_pass(tmp: Path, data: bytes) -> dict:
    whole = tmp / "whole.log"
    whole.write_bytes(data)
    return figures(report([str(whole)]))


def _line_end(data: bytes, frac: float) -> int:
    return data.index(b"\n", int(len(data) * frac)) + 1


def test_horizon_is_the_earliest_growing_input() -> None:
    grown = [
        {"lines": 5, "compressed": False, "last_local": 10 * DAY},
        {"lines": 5, "compressed": False, "last_local": 7 * DAY},
        {"lines": 5, "compressed": True, "last_local": 20 * DAY},
    ]
    assert close.horizon(grown) == 7 * DAY
    # Compressed inputs are complete: alone, the latest of them.
    assert close.horizon(grown[2:] + [{**grown[2], "last_local": 3 * DAY}]) == 20 * DAY
    # Nothing read: nothing closes.
    assert close.horizon([]) is None


def test_days_close_as_runs_pass_them_and_figures_stay_equal(tmp_path: Path) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    seen_open = False
    for i, end in enumerate([_line_end(DATA, 0.2), _line_end(DATA, 0.6), len(DATA)]):
        server.write_to(end)
        out = report(server.glob(), state)
        days = _state(state)["days"]
        last = max(days)
        # The day being written is open and keeps its (path, visitor) key sets.
        assert not days[last].get("closed") and "path_visitors" in days[last]["files"]
        seen_open |= len(days) > 1
        for name, info in days.items():
            if info.get("closed"):
                assert "path_visitors" not in info["files"], name
                assert "path_visitor_counts" in info["files"], name
        if i == 0:
            server.rotate()
    assert seen_open
    closed = [d for d, info in _state(state)["days"].items() if info.get("closed")]
    assert len(closed) == 2
    about = manage.info(state)
    assert about["closed_days"] == 2
    assert all(i["last_line"] for i in about["inputs"] if i["lines"])
    assert figures(out) == _one_pass(tmp_path, DATA)
    # Nothing new: the input's time is kept, nothing changes, the store stays sound.
    again = report(server.glob(), state)
    assert figures(again) == figures(out)
    assert all(r.get("last_local") for r in _state(state)["inputs"] if r.get("lines"))
    assert manage.verify(state) == []
    # Closed days' files replace only the key sets: no file of another generation is left.
    named = {
        f"{t}.g{m.get('gen', info['gen'])}.parquet"
        for info in _state(state)["days"].values()
        for t, m in info["files"].items()
    }
    on_disk = {f.name for f in state.rglob("*.parquet")}
    assert on_disk == named


def test_a_day_closes_only_the_visit_timeout_after_its_end(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    state = tmp_path / "state"
    report([str(log)], state)
    horizon = close.horizon(_state(state)["inputs"])  # the one input, read in this run
    assert horizon is not None
    for name, info in _state(state)["days"].items():
        end = (day_number(name) + 1) * DAY
        assert bool(info.get("closed")) == (end + 30 * 60 <= horizon), name
    # A longer visit timeout when reading keeps more days open.
    state2 = tmp_path / "state2"
    report([str(log)], state2, visit_timeout=3 * DAY)
    assert not any(info.get("closed") for info in _state(state2)["days"].values())


def test_lines_for_a_closed_day_are_said_and_rebuild_recounts(tmp_path: Path) -> None:
    # A second server's log, given only after the first server's days were closed.
    lines = DATA.splitlines(keepends=True)
    first_day = [ln for ln in lines if b"/Jan/2026:" in ln][:1]
    assert first_day
    day = first_day[0].split(b"[", 1)[1][:11]
    late = [ln for ln in lines if day in ln][::7]
    rest = [ln for ln in lines if ln not in set(late)]
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"".join(rest))
    state = tmp_path / "state"
    report([str(a)], state)
    assert any(info.get("closed") for info in _state(state)["days"].values())
    b.write_bytes(b"".join(late))
    out = report([str(a), str(b)], state)
    said = [m for m in out.messages if "already closed" in m]
    assert len(said) == 1 and "rebuild" in said[0], out.messages
    assert said[0].split("--state")[1].split(": ", 1)[1].startswith(f"{len(late)} line(s)")
    got = figures(out)
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(rest) + b"".join(late))
    want = figures(report([str(whole)]))
    # Every figure but per-page visitors is exact; those never count a visitor twice (the
    # late lines' pairs are refused there, the day's counts kept as they were).
    for name in want:
        if name not in ("pages", "static"):
            assert got[name] == want[name], name
    before = figures(report([str(a)]))
    old = {}
    for name in ("pages", "static"):
        rows = {r["path"]: r for r in map(json.loads, got[name]["rows"])}
        for r in map(json.loads, want[name]["rows"]):
            assert rows[r["path"]]["hits"] == r["hits"]
            assert rows[r["path"]]["visitors"] <= r["visitors"]
        old[name] = {r["path"]: r["visitors"] for r in map(json.loads, before[name]["rows"])}
        assert all(r["visitors"] == old[name].get(p, 0) for p, r in rows.items())
    # Lines for the reopened day in a later run are refused there too.
    b.write_bytes(b"".join(late) * 2)
    again = report([str(a), str(b)], state)
    assert any("already closed" in m for m in again.messages), again.messages
    for name in ("pages", "static"):
        rows = {r["path"]: r for r in map(json.loads, figures(again)[name]["rows"])}
        assert all(r["visitors"] == old[name].get(p, 0) for p, r in rows.items())
    manage.rebuild(state, expand([str(a), str(b)]), load(dict(BASE), env={}))
    assert figures(report([], state)) == figures(report([str(a), str(b)]))


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
LINE = '192.0.2.{k} - - [{when}] "GET /p{p} HTTP/1.1" 200 10 "-" "' + FIREFOX + '"\n'


def _stepwise(tmp: Path, lines: list[str], cut: int) -> tuple[dict, dict, list[str]]:
    """The store's figures after reading ``lines[:cut]`` then the rest, one pass's, and the
    messages of the second run."""
    tmp.mkdir()
    log, state = tmp / "g.log", tmp / "state"
    log.write_text("".join(lines[:cut]))
    report([str(log)], state)
    log.write_text("".join(lines))
    out = report([str(log)], state)
    return figures(out), _one_pass(tmp, "".join(lines).encode()), out.messages


def test_a_few_lines_with_a_clock_ahead_close_no_day(tmp_path: Path) -> None:
    # QA18 #5: one line 19 hours ahead among the first run's lines closed the day, and the
    # next run's lines for it counted each page's visitors twice (6 for 3).
    lines = [
        LINE.format(k=i % 3, p=i % 2, when=f"20/Nov/2026:10:{i:02d}:00 +0100") for i in range(30)
    ]
    for at in (3, 10):
        lines.insert(at, LINE.format(k=9, p=9, when="21/Nov/2026:05:00:00 +0100"))
    # 11: an ahead line is the first run's last.
    for cut in (5, 11, 15, 25):
        got, want, said = _stepwise(tmp_path / str(cut), lines, cut)
        assert got == want, cut
        assert not any("already closed" in m for m in said), said


def test_lines_interleaving_offsets_close_no_day_early(tmp_path: Path) -> None:
    # QA18 #5: +0000 and +0900 lines in one log: the +0900 wall clock is 9 hours ahead.
    lines = []
    for i in range(40):
        minute = 20 * 60 + 10 * i
        hh, mm = minute // 60 % 24, minute % 60
        if i % 2:
            t = f"01/Dec/2026:{(hh + 9) % 24:02d}:{mm:02d}:00 +0900"
        else:
            t = f"{'30/Nov' if minute < 1440 else '01/Dec'}/2026:{hh:02d}:{mm:02d}:00 +0000"
        lines.append(LINE.format(k=i % 4, p=i % 3, when=t))
    got, want, said = _stepwise(tmp_path / "s", lines, 20)
    assert got == want
    assert not any("already closed" in m for m in said), said


def test_an_input_time_is_its_earliest_latest_line_westernmost() -> None:
    record: dict = {}
    close.note_latest(record, pd.DataFrame({"utc": [5 * DAY, 9 * DAY], "west": [3600, 3600]}))
    assert close.when(record) == 5 * DAY + 3600
    many = pd.DataFrame({"utc": [DAY * k for k in range(20, 40)], "west": [0] * 20})
    close.note_latest(record, many)
    assert record["latest"] == [DAY * k for k in range(40 - close.LATEST, 40)]
    assert close.when(record) == (40 - close.LATEST) * DAY  # west: the smaller offset
    # A record written by an older logaudit: its last line's time.
    assert close.when({"last_local": 7}) == 7


def test_a_store_of_the_previous_version_keeps_the_ten_line_protection(tmp_path: Path) -> None:
    # Review of qafix18b #4: a record written before ``latest`` (its ``last_local`` only)
    # took one line ahead as the earliest of its latest lines on its first run: the day
    # closed, and "19 line(s) came for 1 day(s) already closed" where a new store says nothing.
    lines = [
        LINE.format(k=i % 3, p=i % 2, when=f"20/Nov/2026:10:{i:02d}:00 +0100") for i in range(30)
    ]
    lines.insert(10, LINE.format(k=9, p=9, when="21/Nov/2026:05:00:00 +0100"))
    log, state = tmp_path / "g.log", tmp_path / "state"
    log.write_text("".join(lines[:10]))
    report([str(log)], state)
    raw = _state(state)
    for r in raw["inputs"]:  # as the previous version wrote it
        assert r.pop("latest") and r.pop("west", None) is not None
    (state / STATE_FILE).write_text(json.dumps(raw))
    said = []
    for cut in (11, len(lines)):
        log.write_text("".join(lines[:cut]))
        said += report([str(log)], state).messages
    assert not any("already closed" in m for m in said), said
    assert figures(report([str(log)], state)) == _one_pass(tmp_path, "".join(lines).encode())


def test_a_schema_1_store_is_read_and_written_on(tmp_path: Path) -> None:
    cut = _line_end(DATA, 0.5)
    log = tmp_path / "a.log"
    log.write_bytes(DATA[:cut])
    state = tmp_path / "state"
    report([str(log)], state)
    raw = _state(state)
    # As logaudit wrote it before closed days: schema 1, open days, inputs without times.
    raw["schema"] = 1
    for r in raw["inputs"]:
        r.pop("last_local", None)
    (state / STATE_FILE).write_text(json.dumps(raw))
    log.write_bytes(DATA)
    out = report([str(log)], state)
    assert _state(state)["schema"] == SCHEMA
    assert figures(out) == _one_pass(tmp_path, DATA)


def test_page_views_are_stored_as_their_paths_beside_the_touch_events(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from logaudit.store.layout import Layout

    touch = pd.DataFrame(
        {
            "visitor": np.array([5, 5, 9, 9], np.uint64),
            "utc": [10, 20, 30, 40],
            "local": [11, 21, 31, 41],
            "ref_h": np.array([1, 2, 3, 4], np.uint64),
            "query_h": np.array([0, 0, 0, 0], np.uint64),
            "goals": np.array([0, 1, 0, 0], np.uint32),
            "pv": [True, False, True, True],  # a goal hit that is not a page view
        }
    )
    pv = touch[touch["pv"]][["visitor", "utc", "local", "ref_h"]].reset_index(drop=True)
    pv.insert(3, "path_h", np.array([7, 8, 9], np.uint64))
    layout = Layout(tmp_path)
    layout.create()
    info = layout.write_day("2026-01-22", {"pv_events": pv, "touch_events": touch}, 1)
    stored = pq.read_table(layout.path("2026-01-22", info, "pv_events")).column_names
    assert [c for c in stored if not c.startswith("__index_level_")] == ["path_h"]
    back = layout.read_table("2026-01-22", info, "pv_events")
    assert back is not None
    pd.testing.assert_frame_equal(back, pv)
    # Events that are not the touch events' page views are stored whole.
    other = pv.assign(utc=[10, 31, 40])
    info = layout.write_day("2026-01-23", {"pv_events": other, "touch_events": touch}, 2)
    assert len(pq.read_table(layout.path("2026-01-23", info, "pv_events")).column_names) > 1
    assert layout.read_table("2026-01-23", info, "pv_events").equals(other)
