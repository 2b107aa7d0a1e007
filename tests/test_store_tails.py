"""A closed month's tails (branch trends16, store/tails.py TAILED): the tables a trends report
reads at once, rolled up again from the 8th, 15th and 22nd on, so that a period starting inside
the month reads at most 6 of its days and one file; the figures are one pass's."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from logaudit.analyze.base import merged_rows
from logaudit.cli import cli
from logaudit.samplegen import generate_lines
from logaudit.store import _written, manage, months, store_tables, tails
from logaudit.store.layout import STATE_FILE, Layout
from tests.store_helpers import TRENDS, figures, grown_store, report, trends

# From 28 December to 5 February: January closes and rolls up with its tails; December's
# stored days (28-31) all lie past the last start, so it has none.
DATA = b"".join(generate_lines(6000, start=date(2025, 12, 28), days=40))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("tailstore")
    return grown_store(tmp, DATA, (0.4, 0.999), report)


def _tail(layout: Layout, month: str, entry: dict[str, Any], table: str, start: int) -> Any:
    return layout.read_tables([(month, tails.tail_entry(entry, table, start))], table)


def test_each_rolled_month_keeps_its_tails(store: tuple[Path, Path]) -> None:
    state, _ = store
    layout = Layout(state)
    st = layout.read_state()
    assert {"2025-12", "2026-01"} <= set(st.months)
    assert not any("@" in t for t in st.months["2025-12"]["files"])
    jan = st.months["2026-01"]
    tables = _written(store_tables())
    assert tails.TAILED <= set(jan["files"])
    for t in sorted(tails.TAILED):
        for start in tails.TAIL_STARTS:
            mine = months.days_of(st, "2026-01")
            days = [(d, st.days[d]) for d in mine if int(d[8:]) >= start]
            # Made independently: the days' rows merged by the table's rules.
            want = merged_rows(tables[t], layout.read_tables(days, t))
            got = _tail(layout, "2026-01", jan, t, start)
            assert got is not None and len(got) > 0
            assert got.equals(want), (t, start)
            assert list(got.index) == list(want.index) and got.dtypes.equals(want.dtypes)
    # A tail's rows are fewer than its days': it is merged (paths repeat from day to day).
    paths = _tail(layout, "2026-01", jan, "paths", 8)
    assert paths is not None
    stored = [int(st.days[d]["files"]["paths"]["rows"]) for d in months.days_of(st, "2026-01")]
    assert len(paths) < sum(stored[7:])
    assert tails.tails_ready(jan, [(d, st.days[d]) for d in months.days_of(st, "2026-01")])


@pytest.mark.parametrize("day", [3, 8, 10, 21, 22, 30])
def test_a_since_inside_a_month_reads_its_tail_and_equals_one_pass(
    store: tuple[Path, Path], monkeypatch: Any, day: int
) -> None:
    state, whole = store
    read: list[tuple[str, str | None]] = []
    real = Layout.read_arrow

    def spy(self: Layout, days: Any, table: str, *a: Any, **kw: Any) -> Any:
        if table == "paths":
            read.extend((n, i["files"].get(table, {}).get("as")) for n, i in days)
        return real(self, days, table, *a, **kw)

    monkeypatch.setattr(Layout, "read_arrow", spy)
    since = datetime(2026, 1, day)
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": TRENDS, "since": since}
    assert figures(trends([], state, **more)) == figures(trends([str(whole)], **more))
    start = next((s for s in tails.TAIL_STARTS if s >= day), None)
    january = [n for n, _ in read if n.startswith("2026-01-")]
    if start is None:  # past the last start: the days are read
        assert january == [f"2026-01-{d:02d}" for d in range(day, 32)]
        return
    assert ("2026-01", tails.tail_name("paths", start)) in read
    assert january == [f"2026-01-{d:02d}" for d in range(day, start)]
    # Every section (the overview's paths, totals, span...) too.
    monkeypatch.setattr(Layout, "read_arrow", real)
    summary = {"since": since}
    assert figures(report([], state, **summary)) == figures(report([str(whole)], **summary))


def test_a_roll_up_without_tails_gets_them_and_reads_the_same(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    """A month rolled up by an older logaudit (no tails): the first report starting inside it
    makes them (one commit), with the same figures; the next report writes nothing."""
    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    raw = json.loads((copy / STATE_FILE).read_text())
    for entry in raw["months"].values():
        entry["files"] = {t: f for t, f in entry["files"].items() if "@" not in t}
    (copy / STATE_FILE).write_text(json.dumps(raw))
    more: dict[str, Any] = {
        "extra": {"every": "month"},
        "sections": TRENDS,
        "since": datetime(2026, 1, 10),
    }
    one = figures(trends([str(store[1])], **more))
    assert figures(trends([], copy, **more)) == one
    st = Layout(copy).read_state()
    jan = [(d, st.days[d]) for d in months.days_of(st, "2026-01")]
    assert tails.tails_ready(st.months["2026-01"], jan)
    before = (copy / STATE_FILE).read_text()
    assert figures(trends([], copy, **more)) == one
    assert (copy / STATE_FILE).read_text() == before


def test_tails_go_with_their_month(store: tuple[Path, Path], tmp_path: Path) -> None:
    """A day of the month changed (late lines, prune): the roll-up is dropped with its tails,
    their files deleted by the commit."""
    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    layout = Layout(copy)
    st = layout.read_state()
    jan = st.months["2026-01"]
    made = [layout.path("2026-01", jan, t) for t in jan["files"] if "@" in t]
    assert made and all(p.is_file() for p in made)
    del st.days["2026-01-20"]
    layout.commit(st)
    assert "2026-01" not in layout.read_state().months
    assert not any(p.exists() for p in made)


def test_state_verify_reports_a_damaged_tail(store: tuple[Path, Path], tmp_path: Path) -> None:
    """A tail is checked as the month's other files: one line naming it, exit 7."""
    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    assert manage.verify(copy) == []
    layout = Layout(copy)
    jan = layout.read_state().months["2026-01"]
    name = tails.tail_name("paths", 15)
    path = layout.path("2026-01", jan, name)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    got = manage.verify(copy)
    # One line: its checksum (and whether it still reads: a flipped byte may break a page).
    assert len(got) == 1, got
    assert got[0].startswith(f"month 2026-01: {path.name} does not match its checksum"), got
    res = CliRunner().invoke(cli, ["state", "verify", "--state", str(copy)])
    assert res.exit_code == 7 and name in res.output


def test_every_section_of_a_mid_month_period_equals_one_pass(store: tuple[Path, Path]) -> None:
    state, whole = store
    since = {"since": datetime(2026, 1, 12)}
    assert figures(report([], state, **since)) == figures(report([str(whole)], **since))


@pytest.mark.parametrize("day", [2, 15, 31])
def test_a_months_first_days_visitors_from_its_sets_equal_its_days_rows(
    store: tuple[Path, Path], day: int, monkeypatch: Any
) -> None:
    """The period's first days' ``visitor_days`` rows (``visitorsets.counted``'s other rows)
    taken from their month's sets and codes: the same rows (order, index levels and dtypes)
    as reading those days."""
    from logaudit.store import in_period, visitorsets
    from logaudit.store.layout import day_number

    state, _ = store
    layout = Layout(state)
    st = layout.read_state()
    days = in_period(st, day_number(f"2026-01-{day:02d}"), None)
    entries, _ = months.covering(st, days)
    assert tails.partial_months(st, days) == ["2026-01"]
    held = [d for d, _ in days if d.startswith("2026-01")]
    rest = [(n, e) for n, e in entries if visitorsets.SOURCE in e["files"]]
    want = layout.read_tables(rest, visitorsets.SOURCE)
    read: list[str] = []
    real = Layout.read_arrow

    def spy(self: Layout, entries: Any, table: str, *a: Any, **kw: Any) -> Any:
        read.extend(n for n, _ in entries if table == visitorsets.SOURCE)
        return real(self, entries, table, *a, **kw)

    monkeypatch.setattr(Layout, "read_arrow", spy)
    got = visitorsets._rows(layout, rest, ("2026-01", st.months["2026-01"], held))
    assert held and not set(read) & set(held)  # not one of January's days read
    assert want is not None and got is not None and len(got) > 10
    assert got.equals(want)
    for a, b in zip(got.index.levels, want.index.levels, strict=True):
        assert a.dtype == b.dtype and a.equals(b)
    assert got.index.names == want.index.names
    assert list(got.index) == list(want.index)


@pytest.mark.parametrize("day", [2, 15, 31])
def test_a_tails_visitor_level_is_made_from_its_codes_not_hashed(
    store: tuple[Path, Path], day: int, monkeypatch: Any
) -> None:
    """``visitorsets._coded`` (branch trends23): the tail's rows framed from the month's
    codes, no row's key hashed (``int_level``'s factorize, and ``_frame``, fail here), are
    the rows as read, levels and codes included; their distinct keys (``_keys_of``) the
    union of every row's key."""
    import numpy as np
    import pandas as pd

    from logaudit.store import in_period, visitorsets
    from logaudit.store.layout import day_number

    state, _ = store
    layout = Layout(state)
    st = layout.read_state()
    days = in_period(st, day_number(f"2026-01-{day:02d}"), None)
    entries, _ = months.covering(st, days)
    held = [d for d, _ in days if d.startswith("2026-01")]
    rest = [(n, e) for n, e in entries if visitorsets.SOURCE in e["files"]]
    want = layout.read_tables(rest, visitorsets.SOURCE)
    assert want is not None and len(want) > 10

    def hashed(*a: Any, **kw: Any) -> Any:
        raise AssertionError("hashed or framed the rows")

    monkeypatch.setattr(visitorsets, "_frame", hashed)
    monkeypatch.setattr(pd, "factorize", hashed)
    got = visitorsets._rows(layout, rest, ("2026-01", st.months["2026-01"], held))
    assert got is not None and got.equals(want)
    assert got.index.names == want.index.names
    for a, b, ca, cb in zip(
        got.index.levels, want.index.levels, got.index.codes, want.index.codes, strict=True
    ):
        assert a.dtype == b.dtype and a.equals(b) and np.array_equal(ca, cb)
    every = np.unique(want.index.get_level_values("visitor").to_numpy(np.uint64))
    assert np.array_equal(visitorsets._keys_of(got), every)
    # A level holding a key no row uses still gives the keys used only.
    assert np.array_equal(
        visitorsets._keys_of(got.iloc[1:]),
        np.unique(got.iloc[1:].index.get_level_values("visitor").to_numpy(np.uint64)),
    )


def test_a_tail_of_no_rows_is_not_wanted() -> None:
    """A tailed table the month's later days do not hold (``vhosts`` of its first days only)
    has no tail to make: the month is ready without it, or every report would make it again."""
    f = {"rows": 1, "sha256": "0" * 64}
    days = [
        (f"2026-01-{d:02d}", {"files": {"paths": f, **({"vhosts": f} if d <= 3 else {})}})
        for d in range(1, 11)
    ]
    entry = {"files": {"paths": f, "vhosts": f, tails.tail_name("paths", 8): f}}
    assert tails.tails_ready(entry, days)
    del entry["files"][tails.tail_name("paths", 8)]
    assert not tails.tails_ready(entry, days)
    # Days from the 8th on holding vhosts want its tail too.
    days[8][1]["files"]["vhosts"] = f
    entry["files"][tails.tail_name("paths", 8)] = f
    assert not tails.tails_ready(entry, days)


# February with a gap (the 11th to the 24th not stored): the tails from the 15th and the 22nd
# would hold the same days (the 25th on).
GAP = b"".join(
    [
        *generate_lines(1500, start=date(2026, 2, 1), days=10),
        *generate_lines(1500, start=date(2026, 2, 25), days=9),
    ]
)


def test_a_gap_makes_a_tail_once_and_reads_the_same(tmp_path: Path) -> None:
    """A start whose first stored day is the previous start's gets no tail of its own (it was
    written twice), and the month is ready without it (or every report would make it)."""
    state, whole = grown_store(tmp_path, GAP, (0.999,), report)
    st = Layout(state).read_state()
    feb = st.months["2026-02"]
    days = [(d, st.days[d]) for d in months.days_of(st, "2026-02")]
    assert [d for d, _ in days if "2026-02-10" < d < "2026-02-25"] == []
    made = sorted(t for t in feb["files"] if t.startswith("paths@"))
    assert made == [tails.tail_name("paths", 8), tails.tail_name("paths", 15)]
    assert tails.tails_ready(feb, days)
    for day in (12, 22, 26):
        more: dict[str, Any] = {
            "extra": {"every": "month"},
            "sections": TRENDS,
            "since": datetime(2026, 2, day),
        }
        assert figures(trends([], state, **more)) == figures(trends([str(whole)], **more))
    # A tail of the same days as the previous start's is not wanted either.
    f = {"rows": 1, "sha256": "0" * 64}
    some = [(f"2026-02-{d:02d}", {"files": {"paths": f}}) for d in (1, 2, 25, 26)]
    entry = {"files": {"paths": f, tails.tail_name("paths", 8): f}}
    assert tails.tails_ready(entry, some)
