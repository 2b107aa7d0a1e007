"""Closed months rolled up (store/months.py): the same figures as one pass, across a month's
end, and roll-ups that follow the days (late lines, prune, verify)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from logaudit.samplegen import generate_lines
from logaudit.store import manage
from logaudit.store.layout import STATE_FILE, Layout
from tests.store_helpers import TRENDS, Server, figures, grown_store, report, trends

# Six days from 29 January: January's last three days close, and February is still written.
DATA = b"".join(generate_lines(6000, start=date(2026, 1, 29), days=6))


def _months(state: Path) -> dict[str, Any]:
    return dict(json.loads((state / STATE_FILE).read_text()).get("months", {}))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("monthstore")
    return grown_store(tmp, DATA, (0.3, 0.6, 0.85), report)


def test_a_closed_month_is_rolled_up(store: tuple[Path, Path]) -> None:
    state, _ = store
    months = _months(state)
    assert list(months) == ["2026-01"]
    jan = months["2026-01"]
    assert {"totals", "visitor_days", "trend_hours", "paths", "visit_rows"} <= set(jan["files"])
    assert "pv_events" not in jan["files"] and jan["visit_timeout"] == 30 * 60
    for t in jan["files"]:
        assert Layout(state).path("2026-01", jan, t).is_file()
    assert manage.verify(state) == []
    assert manage.info(state)["months_rolled_up"] == ["2026-01"]


@pytest.mark.parametrize(
    "every,sections",
    [("month", TRENDS), ("week", TRENDS), ("day", (*TRENDS, "movers")), ("hour", TRENDS)],
)
def test_trends_across_the_month_end_equal_one_pass(
    store: tuple[Path, Path], every: str, sections: tuple[str, ...], monkeypatch: Any
) -> None:
    state, whole = store
    read: list[str] = []
    real = Layout.read_tables

    # Movers by day read the last days' counts (per key, and per country and browser), and
    # visitors and places of days stored without the latter (store/movers.py); and the
    # source movers the visit rows of the last days and the margin before them, which here
    # reaches into January (as their touch events were read before schema 6).
    per_day = (
        {"mover_counts", "mover_people", "visitors", "places", "visit_rows", "queries"}
        if "movers" in sections
        else set()
    )

    def spy(self: Layout, days: Any, table: str, **kw: Any) -> Any:
        read.extend(d for d, _ in days if table not in per_day)
        return real(self, days, table, **kw)

    monkeypatch.setattr(Layout, "read_tables", spy)
    more: dict[str, Any] = {"extra": {"every": every}, "sections": sections}
    assert figures(trends([], state, **more)) == figures(trends([str(whole)], **more))
    # The month's one file was read, not its days'.
    assert "2026-01" in read and not any(d.startswith("2026-01-") for d in read)
    # A period that starts inside January reads its days (the roll-up holds the whole month).
    read.clear()
    since = {"since": datetime(2026, 1, 30), **more}
    assert figures(trends([], state, **since)) == figures(trends([str(whole)], **since))
    assert "2026-01" not in read and "2026-01-30" in read


def test_every_section_across_the_month_end_equals_one_pass(store: tuple[Path, Path]) -> None:
    state, whole = store
    assert figures(report([], state)) == figures(report([str(whole)]))


def test_late_lines_drop_the_roll_up_and_prune_its_days(tmp_path: Path) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    end = DATA.index(b"\n", int(len(DATA) * 0.8)) + 1
    server.write_to(end)
    report(server.glob(), state)
    assert "2026-01" in _months(state)
    # A second server's log, given for the first time, has lines for 30 January.
    jan30 = [ln for ln in DATA[:end].splitlines(keepends=True) if b"/Jan/2026" in ln][-40:]
    other = tmp_path / "other.log"
    other.write_bytes(b"".join(jan30))
    report([*server.glob(), str(other)], state)
    both = tmp_path / "both.log"
    both.write_bytes(DATA[:end] + b"".join(jan30))
    # January changed: its roll-up is no longer read (nor kept), the figures are the days'
    # (the trends: per-page visitors of a closed day that gets late lines may count a visitor
    # twice, docs/store.md "Closed days").
    assert "2026-01" not in _months(state)
    assert figures(trends([], state)) == figures(trends([str(both)]))
    # Pruning January's first days leaves no roll-up of them.
    manage.prune(state, 3, today=date(2026, 2, 2))
    assert "2026-01" not in _months(state)
    assert not list(state.glob("month=*/*.parquet"))


def test_verify_checks_the_months_files(tmp_path: Path) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    server.write_to(DATA.index(b"\n", int(len(DATA) * 0.8)) + 1)
    report(server.glob(), state)
    jan = _months(state)["2026-01"]
    path = Layout(state).path("2026-01", jan, "totals")
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)
    problems = manage.verify(state)
    assert any(p.startswith("month 2026-01") and "checksum" in p for p in problems), problems


def test_a_store_without_roll_ups_gets_them_on_its_next_report(tmp_path: Path) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    end = DATA.index(b"\n", int(len(DATA) * 0.8)) + 1
    server.write_to(end)
    report(server.glob(), state)
    raw = json.loads((state / STATE_FILE).read_text())
    before = raw.pop("months")
    (state / STATE_FILE).write_text(json.dumps(raw))  # as an older logaudit leaves it
    whole = tmp_path / "whole.log"
    whole.write_bytes(DATA[:end])
    assert figures(trends([], state)) == figures(trends([str(whole)]))
    after = _months(state)
    assert list(after) == ["2026-01"] and after["2026-01"]["of"] == before["2026-01"]["of"]
    # The older logaudit's files (no longer named) are gone, the new ones are there.
    assert manage.verify(state) == []
    names = {p.name for p in state.glob("month=2026-01/*.parquet")}
    assert names == {f"{t}.g{after['2026-01']['gen']}.parquet" for t in after["2026-01"]["files"]}


def test_a_grown_day_keeps_the_files_its_new_lines_did_not_change(tmp_path: Path) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    half = DATA.index(b"\n", int(len(DATA) * 0.8)) + 1
    server.write_to(half)
    report(server.glob(), state)
    end = half
    for _ in range(3):  # three more lines: the last day grows a little
        end = DATA.index(b"\n", end) + 1
    server.write_to(end)
    stored = report(server.glob(), state)
    days = json.loads((state / STATE_FILE).read_text())["days"]
    grown = days[max(days)]
    kept = [t for t, meta in grown["files"].items() if meta.get("gen", grown["gen"]) < grown["gen"]]
    assert kept and "totals" not in kept  # totals got the three lines
    for t in kept:
        assert Layout(state).path(max(days), grown, t).is_file()
    whole = tmp_path / "whole.log"
    whole.write_bytes(DATA[:end])
    assert figures(stored) == figures(report([str(whole)]))
    assert manage.verify(state) == []


def test_a_schema_2_store_is_read_and_written_on(tmp_path: Path) -> None:
    """Files written before schema 3 (pandas' metadata in the footer) are read beside new
    ones, in one go too, and the store is written on as schema 3."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from logaudit.store.layout import SCHEMA

    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    half = DATA.index(b"\n", int(len(DATA) * 0.7)) + 1
    server.write_to(half)
    report(server.glob(), state)
    raw = json.loads((state / STATE_FILE).read_text())
    raw["schema"] = 2
    layout = Layout(state)
    # Every table read first (schema 4 files may point into others: store/layout.py REFS).
    frames = {
        (group, name, t): layout.read_table(name, info, t)
        for group in ("days", "months")
        for name, info in raw[group].items()
        for t in info["files"]
    }
    for group in ("days", "months"):
        for name, info in raw[group].items():
            for t, meta in info["files"].items():
                path = layout.path(name, info, t)
                frame = frames[(group, name, t)]
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=True), path)
                meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (state / STATE_FILE).write_text(json.dumps(raw))
    assert manage.verify(state) == []
    whole = tmp_path / "whole.log"
    whole.write_bytes(DATA[:half])
    assert figures(report([], state)) == figures(report([str(whole)]))
    server.write_to(len(DATA))
    stored = report(server.glob(), state)
    whole.write_bytes(DATA)
    assert figures(stored) == figures(report([str(whole)]))
    assert json.loads((state / STATE_FILE).read_text())["schema"] == SCHEMA
    assert manage.verify(state) == []
