"""Closed months' visitor keys as sorted sets (schema 9, store/visitorsets.py): a report's
``visitor_days`` built from them is the one read from the rows, and the figures are one pass's."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from logaudit.samplegen import generate_lines
from logaudit.store import close, manage, months, visitorsets
from logaudit.store.layout import SCHEMA, STATE_FILE, Layout
from tests.store_helpers import figures, grown_store, report, trends
from tests.store_helpers import state_json as _state

# From 20 December over 75 days: December, January and February close and roll up, March is
# still being written.
DATA = b"".join(generate_lines(15000, start=date(2025, 12, 20), days=75))
SECTIONS = ("periods", "change", "unusual")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("visitorsets")
    return grown_store(tmp, DATA, (0.3, 0.7, 0.999), report)


def _entries(layout: Layout) -> list[tuple[str, dict[str, Any]]]:
    st = layout.read_state()
    entries, _ = months.covering(st, sorted(st.days.items()))
    return entries


def _same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal rows in the same order, and the same levels and codes (what the sections read)."""
    pd.testing.assert_frame_equal(got, want)
    assert isinstance(got.index, pd.MultiIndex) and isinstance(want.index, pd.MultiIndex)
    for a, b in zip(got.index.levels, want.index.levels, strict=True):
        pd.testing.assert_index_equal(a, b)
    for a, b in zip(got.index.codes, want.index.codes, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_each_rolled_month_keeps_its_visitor_set(store: tuple[Path, Path]) -> None:
    """Each rolled-up month's sets are its ``visitor_days`` re-coded: keys sorted and
    distinct, every row's visitor is ``keys[code]``, days and hits as stored."""
    state, _ = store
    assert _state(state)["schema"] == SCHEMA == 14
    layout = Layout(state)
    st = layout.read_state()
    assert {"2025-12", "2026-01", "2026-02"} <= set(st.months)
    for month, entry in st.months.items():
        files = entry["files"]
        assert visitorsets.ready(entry), month
        assert files[visitorsets.KEYS]["of"] == files[visitorsets.SOURCE]["sha256"]
        vd = layout.read_table(month, entry, visitorsets.SOURCE)
        keys = layout.read_table(month, entry, visitorsets.KEYS)
        codes = layout.read_table(month, entry, visitorsets.CODES)
        assert vd is not None and keys is not None and codes is not None
        k = keys["visitor"].to_numpy(np.uint64)
        visitors = vd.index.get_level_values("visitor").to_numpy(np.uint64)
        # Made independently: the month's distinct visitors, in order.
        np.testing.assert_array_equal(k, np.array(sorted(set(visitors.tolist())), np.uint64))
        np.testing.assert_array_equal(k[codes["code"].to_numpy(np.int64)], visitors)
        np.testing.assert_array_equal(
            codes["day"].to_numpy(np.int64), vd.index.get_level_values("day").to_numpy(np.int64)
        )
        np.testing.assert_array_equal(codes["hits"].to_numpy(), vd["hits"].to_numpy())


def test_visitor_days_from_sets_equal_the_rows(store: tuple[Path, Path]) -> None:
    """Months through their sets and open days through their rows: the frame the rows
    give, in order, with the same levels and codes; and over the months alone."""
    state, _ = store
    layout = Layout(state)
    entries = _entries(layout)
    assert any(len(n) == 7 for n, _ in entries) and any(len(n) == 10 for n, _ in entries)
    for part in (entries, [e for e in entries if len(e[0]) == 7], entries[1:]):
        got = visitorsets.read(layout, part)
        want = layout.read_tables(part, visitorsets.SOURCE)
        assert got is not None and want is not None
        _same_frame(got, want)


def test_a_wrong_set_is_seen(store: tuple[Path, Path], monkeypatch: Any) -> None:
    """A month's codes off by one position give other visitors: the frame differs."""
    state, _ = store
    layout = Layout(state)
    entries = _entries(layout)
    real = Layout.read_arrow

    def shifted(self: Layout, days: Any, table: str, columns: Any = None) -> Any:
        got = real(self, days, table, columns)
        if table == visitorsets.CODES and days[0][0] == "2026-01":
            import pyarrow as pa

            code = got.column("code").to_numpy()
            wrong = np.where(code > 0, code - 1, code).astype(np.uint32)
            got = got.set_column(got.schema.get_field_index("code"), "code", pa.array(wrong))
        return got

    monkeypatch.setattr(Layout, "read_arrow", shifted)
    got = visitorsets.read(layout, entries)
    monkeypatch.undo()
    want = layout.read_tables(entries, visitorsets.SOURCE)
    assert got is not None and want is not None
    assert not got.index.equals(want.index)


@pytest.mark.parametrize("every", ["day", "week", "month"])
def test_trends_from_sets_equal_one_pass(store: tuple[Path, Path], every: str) -> None:
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}}
    one = figures(trends([str(whole)], sections=SECTIONS, **more))
    assert figures(trends([], state, sections=SECTIONS, **more)) == one


def test_an_older_roll_up_gets_its_sets_and_stale_ones_are_not_used(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A store rolled up by schema 8 (no sets): its first report makes them (and says schema
    9), one-pass figures before and after; sets made from other rows (another ``"of"``) are
    not read but made again."""
    data = b"".join(generate_lines(9000, start=date(2026, 1, 10), days=45))
    state, whole = grown_store(tmp_path, data, (0.5, 0.999), report)
    path = state / STATE_FILE
    raw = _state(state)
    assert raw["months"]
    for entry in raw["months"].values():
        for t in visitorsets.TABLES:
            entry["files"].pop(t, None)
    raw["schema"] = 8
    path.write_text(json.dumps(raw))
    # A run whose period holds no rolled-up month (here its last days) reads no set: it makes
    # none (made by the first report that reads them).
    report([], state, since=datetime(2026, 2, 20))
    assert not any(visitorsets.ready(e) for e in _state(state)["months"].values())
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": SECTIONS}
    one = figures(trends([str(whole)], **more))
    assert figures(trends([], state, **more)) == one
    raw = _state(state)
    assert raw["schema"] == SCHEMA
    assert all(visitorsets.ready(e) for e in raw["months"].values())
    # Stale: made from another visitor_days file.
    for entry in raw["months"].values():
        entry["files"][visitorsets.CODES]["of"] = "0" * 64
    path.write_text(json.dumps(raw))
    assert not any(visitorsets.ready(e) for e in _state(state)["months"].values())
    layout = Layout(state)
    read: list[str] = []
    real = Layout.read_arrow

    def spy(self: Layout, days: Any, table: str, columns: Any = None) -> Any:
        read.append(table)
        return real(self, days, table, columns)

    monkeypatch.setattr(Layout, "read_arrow", spy)
    # Never read while stale: the rows are read instead.
    got = visitorsets.read(layout, _entries(layout))
    assert read == [visitorsets.SOURCE]
    want = layout.read_tables(_entries(layout), visitorsets.SOURCE)
    assert got is not None and want is not None
    pd.testing.assert_frame_equal(got, want)
    read.clear()
    assert figures(trends([], state, **more)) == one
    monkeypatch.undo()
    # Made again, then read (by month only the keys are: visitorsets.counted).
    assert visitorsets.KEYS in read
    assert all(visitorsets.ready(e) for e in _state(state)["months"].values())


def test_late_lines_make_the_sets_again(tmp_path: Path) -> None:
    """A day of a rolled-up month that gets lines again drops the roll-up; the month's next
    roll-up has sets of its new visitors, and the figures are one pass's."""
    data = b"".join(generate_lines(9000, start=date(2026, 1, 10), days=45))
    state, whole = grown_store(tmp_path, data, (0.5, 0.999), report)
    layout = Layout(state)
    before = layout.read_state().months["2026-01"]
    late = tmp_path / "late.log"
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    lines = [
        f'198.51.100.{k} - - [20/Jan/2026:1{k % 10}:00:00 +0100] "GET /late{k} HTTP/1.1" 200 '
        f'500 "-" "{ua}"\n'
        for k in range(1, 30)
    ]
    later = lines[0].replace("20/Jan/2026:11", "23/Feb/2026:23") * close.LATEST  # close.py
    late.write_text("".join(lines) + later)
    report([str(late)], state)
    entry = layout.read_state().months["2026-01"]
    assert visitorsets.ready(entry)
    # Rolled again, with sets of the new rows (29 more visitors), not the old ones.
    assert entry["of"] != before["of"]
    assert entry["files"][visitorsets.KEYS]["rows"] > before["files"][visitorsets.KEYS]["rows"]
    keys = layout.read_table("2026-01", entry, visitorsets.KEYS)
    vd = layout.read_table("2026-01", entry, visitorsets.SOURCE)
    assert keys is not None and vd is not None
    assert len(keys) == vd.index.get_level_values("visitor").nunique()
    both = tmp_path / "both.log"
    both.write_bytes(whole.read_bytes() + late.read_bytes())
    more: dict[str, Any] = {"extra": {"every": "week"}, "sections": SECTIONS}
    assert figures(trends([], state, **more)) == figures(trends([str(both)], **more))


def test_verify_covers_the_sets(store: tuple[Path, Path], tmp_path: Path) -> None:
    state, _ = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    assert manage.verify(copy) == []
    victim = next(copy.rglob(f"{visitorsets.KEYS}.*.parquet"))
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    assert any(visitorsets.KEYS in p and "checksum" in p for p in manage.verify(copy))


# Monthly periods: closed months' distinct visitors counted from their sets (branch year5).


def test_counted_sets_are_the_rows_counted(store: tuple[Path, Path]) -> None:
    """Each month with sets: its distinct visitors and visitor-days as its rows give them;
    the other entries' rows as read; the union's size that of every row's visitor."""
    state, _ = store
    layout = Layout(state)
    entries = _entries(layout)
    for part in (entries, [e for e in entries if len(e[0]) == 7], entries[1:]):
        got = visitorsets.counted(layout, part)
        assert got is not None
        sets, rows = got
        months_ = [(m, e) for m, e in part if len(m) == 7]
        assert len(sets) == len(months_)
        for (month, entry), row in zip(months_, sets.itertuples(), strict=True):
            vd = layout.read_table(month, entry, visitorsets.SOURCE)
            assert vd is not None
            visitors = vd.index.get_level_values("visitor")
            assert row.visitors == visitors.nunique() and row.rows == len(vd)
            assert pd.Timestamp(row.day, unit="D").strftime("%Y-%m") == month
        others = [(n, e) for n, e in part if len(n) != 7]
        want = layout.read_tables(others, visitorsets.SOURCE) if others else None
        if want is None:
            assert rows is None
        else:
            assert rows is not None
            _same_frame(rows, want)
        every_row = layout.read_tables(part, visitorsets.SOURCE)
        assert every_row is not None
        assert set(sets["unique"]) == {every_row.index.get_level_values("visitor").nunique()}


@pytest.mark.parametrize("since", [None, datetime(2026, 1, 15)])
def test_monthly_trends_read_no_codes_and_equal_one_pass(
    store: tuple[Path, Path], since: datetime | None, monkeypatch: Any
) -> None:
    """By month, the figures and the overview's visitor-days and unique visitors are one
    pass's; no whole month's codes are read. A --since inside January (branch trends16): the
    period's January days' rows come from January's codes, none of its days' visitor_days."""
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": "month"}, "since": since}
    one = figures(trends([str(whole)], sections=SECTIONS, **more))
    read: list[tuple[str, str]] = []
    real = Layout.read_arrow

    def spy(self: Layout, days: Any, table: str, columns: Any = None) -> Any:
        read.extend((table, n) for n, _ in days)
        return real(self, days, table, columns)

    monkeypatch.setattr(Layout, "read_arrow", spy)
    assert figures(trends([], state, sections=SECTIONS, **more)) == one
    tables = {t for t, _ in read}
    assert visitorsets.KEYS in tables
    coded = {n for t, n in read if t == visitorsets.CODES}
    assert coded == (set() if since is None else {"2026-01"})
    if since is not None:
        days = {n for t, n in read if t == visitorsets.SOURCE}
        assert not any(n.startswith("2026-01-") for n in days)


@pytest.mark.parametrize("column", ["visitors", "rows"])
def test_a_wrong_count_is_seen(store: tuple[Path, Path], monkeypatch: Any, column: str) -> None:
    """A month's distinct visitors or visitor-days off by one: the figures differ."""
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": "month"}}
    one = figures(trends([str(whole)], sections=SECTIONS, **more))
    real = visitorsets.counted

    def wrong(layout: Layout, entries: Any, *tail: Any) -> Any:
        got = real(layout, entries, *tail)
        assert got is not None
        sets, rows = got
        sets = sets.copy()
        sets.loc[0, column] += 1
        return sets, rows

    monkeypatch.setattr(visitorsets, "counted", wrong)
    assert figures(trends([], state, sections=SECTIONS, **more)) != one


def test_a_code_past_its_keys_is_the_stores_error(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    """A month's ``visitor_codes`` that passes its checksum but points past its
    ``visitor_keys`` (written wrong): the store's one-line error, exit 7, not an internal
    error."""
    from logaudit.errors import ConfigError
    from logaudit.store import madeof

    state = tmp_path / "state"
    shutil.copytree(store[0], state)
    layout = Layout(state)
    st = layout.read_state()
    entry = st.months["2026-01"]
    keys = layout.read_table("2026-01", entry, visitorsets.KEYS)
    codes = layout.read_table("2026-01", entry, visitorsets.CODES)
    assert keys is not None and codes is not None
    code = codes["code"].to_numpy().copy()
    code[len(code) // 2] = len(keys)
    codes["code"] = code
    st.gen += 1
    files = entry["files"]
    madeof.stamp(layout, "2026-01", files, visitorsets.CODES, codes, st.gen, visitorsets.SOURCE)
    layout.commit(st)
    assert visitorsets.ready(layout.read_state().months["2026-01"])
    now = layout.read_state()
    assert not [t for _, d, i, t in layout.stored_files(now) if layout.damage(d, i, t)]  # sound
    with pytest.raises(ConfigError) as e:
        visitorsets.read(layout, _entries(layout))
    assert e.value.exit_code == 7 and "visitor_codes is unreadable" in str(e.value)
    for every in ("day", "week"):  # (by month only the keys are read: visitorsets.counted)
        with pytest.raises(ConfigError) as e:
            figures(trends([], state, sections=SECTIONS, extra={"every": every}))
        assert e.value.exit_code == 7 and "visitor_codes is unreadable" in str(e.value)


@pytest.mark.parametrize("seed", range(4))
def test_distinct_keys_counted_by_bucket_equal_the_union(seed: int) -> None:
    """``_distinct`` sorts the keys bucket by bucket (their top bits): the count of the union,
    with keys on the buckets' bounds, in one bucket only, repeated in many sets, or none."""
    rng = np.random.default_rng(seed)
    top = np.uint64(64 - visitorsets.BUCKET_BITS)
    bounds = np.arange(1 << visitorsets.BUCKET_BITS, dtype=np.uint64) << top
    pool = np.concatenate(
        [
            rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64, endpoint=True),
            bounds,
            bounds - np.uint64(1),  # the last key of each bucket (0 - 1: the largest)
            rng.integers(0, 50, 300, dtype=np.uint64) + (np.uint64(5) << top),  # one bucket
        ]
    )
    sets = [np.unique(rng.choice(pool, int(rng.integers(0, 15_000)))) for _ in range(6)]
    sets.append(np.zeros(0, np.uint64))
    want = len(np.unique(np.concatenate(sets)))
    assert visitorsets._distinct(sets) == want == len(visitorsets._union(sets))
    assert visitorsets._distinct(sets[:1]) == len(sets[0])
    assert visitorsets._distinct([]) == 0
    signed = [s.astype(np.int64) for s in sets]  # not 64-bit unsigned: one sort, as before
    assert visitorsets._distinct(signed) == want
