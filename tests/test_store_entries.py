"""Closed months' visit entries counted once (schema 8, store/entries.py): the source movers
read a month's interior visits as counts per (local start day, entry pair) and its edge rows,
not its visit rows, and give the one-pass figures."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from logaudit.samplegen import generate_lines
from logaudit.store import close, entries, movers, visitdays
from logaudit.store.layout import SCHEMA, STATE_FILE, Layout, State
from tests.store_helpers import figures, grown_store, report, trends
from tests.store_helpers import state_json as _state

# From 20 December over 75 days: December, January and February close and roll up, March is
# still being written.
DATA = b"".join(generate_lines(15000, start=date(2025, 12, 20), days=75))
MOVERS = ("movers", "periods")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("entrystore")
    return grown_store(tmp, DATA, (0.3, 0.7, 0.999), report)


def _spy(monkeypatch: Any) -> tuple[list[tuple[str, str]], list[pd.DataFrame]]:
    """(entry, table) read as a whole table, and the counts handed to the movers."""
    from logaudit.analyze.trends import movers as trend_movers

    read: list[tuple[str, str]] = []
    handed: list[pd.DataFrame] = []
    real_many, real_counted = Layout.read_tables, trend_movers._counted_sources

    def many(self: Layout, days: Any, table: str, **kw: Any) -> Any:
        read.extend((d, table) for d, _ in days)
        return real_many(self, days, table, **kw)

    def counted(p: Any, ctx: Any, v: Any, c: pd.DataFrame | None, *rest: Any) -> Any:
        # The pairs' counts, or the same visits already named (store/entrysources.py).
        handed.append(c if c is not None else rest[-1])
        return real_counted(p, ctx, v, c, *rest)

    monkeypatch.setattr(Layout, "read_tables", many)
    monkeypatch.setattr(trend_movers, "_counted_sources", counted)
    return read, handed


def test_each_rolled_month_counts_its_interior_visits(store: tuple[Path, Path]) -> None:
    state, _ = store
    raw = _state(state)
    assert raw["schema"] == SCHEMA == 14
    layout = Layout(state)
    st = layout.read_state()
    assert {"2025-12", "2026-01"} <= set(st.months)
    for month, entry in st.months.items():
        files = entry["files"]
        assert entries.ready(entry), month
        assert files[entries.COUNTS]["of"] == files[visitdays.ROWS.name]["sha256"]
        rows = layout.read_table(month, entry, visitdays.ROWS.name)
        counts = layout.read_table(month, entry, entries.COUNTS)
        edges = layout.read_table(month, entry, entries.EDGES)
        assert rows is not None and counts is not None and edges is not None
        inner = rows[~rows["edge"]]
        # Counted independently: one row per distinct (day, pair), n visits each.
        want = (
            pd.DataFrame(
                {
                    "day": inner["start_local"].to_numpy(np.int64) // 86_400,
                    "ref_h": inner["ref_h"].to_numpy(np.uint64),
                    "query_h": inner["query_h"].to_numpy(np.uint64),
                }
            )
            .value_counts()
            .sort_index()
        )
        got = counts.set_index(["day", "ref_h", "query_h"])["n"].sort_index()
        assert got.to_dict() == want.to_dict()
        assert int(counts["n"].sum()) + len(edges) == len(rows)
        # The interior visits' clicks and lengths per local start day, as value counts.
        day = inner["start_local"].to_numpy(np.int64) // 86_400
        for table, values in (
            (entries.CLICKS, inner["clicks"].to_numpy(np.int64)),
            (entries.LENGTHS, (inner["end"] - inner["start"]).to_numpy(np.int64)),
        ):
            f = layout.read_table(month, entry, table)
            assert f is not None
            col = "clicks" if table == entries.CLICKS else "duration"
            want_v = pd.DataFrame({"day": day, col: values}).value_counts().sort_index()
            assert f.set_index(["day", col])["n"].sort_index().to_dict() == want_v.to_dict()
        assert len(counts) < len(inner)  # fewer rows than visits: the point of it
        assert edges["edge"].all() and len(edges) == int(rows["edge"].sum())
        pd.testing.assert_frame_equal(
            edges.reset_index(drop=True),
            rows[rows["edge"]].loc[:, list(edges.columns)].reset_index(drop=True),
            check_dtype=False,
        )


@pytest.mark.parametrize("every", ["month", "week", "day"])
def test_source_movers_from_counts_equal_one_pass(
    store: tuple[Path, Path], every: str, monkeypatch: Any
) -> None:
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": MOVERS}
    read, handed = _spy(monkeypatch)
    stored = figures(trends([], state, **more))
    monkeypatch.undo()
    one = figures(trends([str(whole)], **more))
    assert stored == one
    sources = [r for r in stored["movers"]["rows"] if json.loads(r)["kind"] == "source"]
    assert sources or "sources: under" in stored["movers"]["note"]
    if every == "day":
        # The last 5 days lie in the open month: nothing to count.
        assert not handed
        return
    # The counts were used, and the counted months' visit rows were not read at all (the
    # series reads their visit counts too).
    assert handed and int(handed[0]["n"].sum()) > 300
    # (Their counts, or the same visits named: store/entrysources.py.)
    counted = {m for m, t in read if t in (entries.COUNTS, "entry_sources")}
    assert counted
    assert not {m for m, t in read if t == visitdays.ROWS.name} & counted


def test_a_count_that_is_wrong_changes_the_movers(
    tmp_path: Path, store: tuple[Path, Path], monkeypatch: Any
) -> None:
    """The counts are what the source movers read: a month's counts doubled give other
    visits per source than one pass (so the equality above can fail)."""
    from logaudit.analyze.trends import movers as trend_movers

    state, whole = store
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": ("movers",)}
    seen: list[np.ndarray] = []
    real = trend_movers._counted_sources

    def doubled(p: Any, ctx: Any, v: Any, c: pd.DataFrame | None, *rest: Any) -> Any:
        # The counts as pairs, or as sources (store/entrysources.py): doubled either way.
        rest = (*rest[:-1], rest[-1].assign(n=rest[-1]["n"] * 2)) if c is None else rest
        got = real(p, ctx, v, c if c is None else c.assign(n=c["n"] * 2), *rest)
        seen.append(got[2])
        return got

    def plain(p: Any, ctx: Any, v: Any, c: pd.DataFrame, *rest: Any) -> Any:
        got = real(p, ctx, v, c, *rest)
        seen.append(got[2])
        return got

    monkeypatch.setattr(trend_movers, "_counted_sources", plain)
    trends([], state, **more)
    monkeypatch.setattr(trend_movers, "_counted_sources", doubled)
    trends([], state, **more)
    monkeypatch.undo()
    assert int(seen[1].sum()) > int(seen[0].sum())


def test_an_older_roll_up_gets_its_counts_from_its_first_report(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A store rolled up by schema 7 (no counts): its first trends report with movers makes
    them (and says schema 8), with the one-pass figures before and after; a count file whose
    rows changed under it (another ``"of"``) is not used but made again."""
    data = b"".join(generate_lines(9000, start=date(2026, 1, 10), days=45))
    state, whole = grown_store(tmp_path, data, (0.5, 0.999), report)
    path = state / STATE_FILE
    raw = _state(state)
    assert raw["months"]
    for entry in raw["months"].values():
        for t in entries.TABLES:
            entry["files"].pop(t, None)
    raw["schema"] = 7
    path.write_text(json.dumps(raw))
    # By month: the compared periods hold all of January (by week they start inside it,
    # and its days are read).
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    one = figures(trends([str(whole)], **more))
    assert figures(trends([], state, **more)) == one
    raw = _state(state)
    assert raw["schema"] == SCHEMA
    months = [e for e in raw["months"].values() if visitdays.ROWS.name in e["files"]]
    assert months and all(entries.ready(e) for e in months)
    # Stale: the counts made from other rows.
    for entry in raw["months"].values():
        entry["files"][entries.COUNTS]["of"] = "0" * 64
    path.write_text(json.dumps(raw))
    assert not any(entries.ready(e) for e in _state(state)["months"].values())
    read, handed = _spy(monkeypatch)
    assert figures(trends([], state, **more)) == one
    monkeypatch.undo()
    # Made again, then read: as counts, or as the visits they count named again from them
    # (store/entrysources.py: made from the new counts file).
    assert {("2026-01", entries.COUNTS), ("2026-01", "entry_sources")} & set(read)
    jan = _state(state)["months"]["2026-01"]["files"]
    assert jan.get("entry_sources", {"of": jan[entries.COUNTS]["sha256"]})["of"] == (
        jan[entries.COUNTS]["sha256"]
    )
    assert all(entries.ready(e) for e in _state(state)["months"].values())


def test_late_lines_in_a_closed_month_make_its_counts_again(tmp_path: Path) -> None:
    """A day of a rolled-up month that gets lines again loses the month's roll-up (its
    counts with it); the month is rolled again with counts of the new rows: one-pass
    figures, and the month's count total is its new interior visits."""
    data = b"".join(generate_lines(9000, start=date(2026, 1, 10), days=45))
    state, whole = grown_store(tmp_path, data, (0.5, 0.999), report)
    layout = Layout(state)
    before = layout.read_state().months["2026-01"]
    late = tmp_path / "late.log"
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    lines = [
        f'192.0.2.{k} - - [20/Jan/2026:1{k % 10}:00:00 +0100] "GET /late{k} HTTP/1.1" 200 500 '
        f'"https://late.example/" "{ua}"\n'
        for k in range(1, 40)
    ]
    late.write_text("".join(lines))
    report([str(late)], state)
    assert "2026-01" not in layout.read_state().months  # the day reopened: no roll-up
    # Later lines close the day again (more than a few: store/close.py LATEST), and the
    # month rolls up again.
    with open(late, "a") as f:
        f.write(lines[0].replace("20/Jan/2026:11", "23/Feb/2026:23") * close.LATEST)
    report([str(late)], state)
    after = layout.read_state().months["2026-01"]
    assert after["of"] != before["of"] and entries.ready(after)
    counts = layout.read_table("2026-01", after, entries.COUNTS)
    assert counts is not None
    rows = layout.read_table("2026-01", after, visitdays.ROWS.name)
    assert rows is not None
    assert int(counts["n"].sum()) == int((~rows["edge"]).sum())
    both = tmp_path / "both.log"
    both.write_bytes(whole.read_bytes() + late.read_bytes())
    more: dict[str, Any] = {"extra": {"every": "week"}, "sections": MOVERS}
    assert figures(trends([], state, **more)) == figures(trends([str(both)], **more))


def test_verify_covers_the_counts(store: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from logaudit.store import manage

    state, _ = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    assert manage.verify(copy) == []
    victim = next(copy.rglob(f"{entries.COUNTS}.*.parquet"))
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    assert any(entries.COUNTS in p and "checksum" in p for p in manage.verify(copy))


def test_source_days_are_the_ones_counted(store: tuple[Path, Path]) -> None:
    """Every closed day of a counted month keeps its entry pairs (the condition to count)."""
    state, _ = store
    st = Layout(state).read_state()
    for month in st.months:
        days = [(n, i) for n, i in st.days.items() if n.startswith(month)]
        assert movers.source_days(days, 1800) == [
            (n, i) for n, i in days if visitdays.ROWS.name in i["files"]
        ]


# The series and the overview from counted visits (analyze/visitcounts.py).


@pytest.mark.parametrize("seed", range(6))
def test_counted_headline_equals_the_listed_one(seed: int) -> None:
    """Any split of a visits table into listed rows and value counts per (day, value) gives
    ``visits.headline``'s figures over all the rows, medians of odd and even counts too."""
    from logaudit.analyze import visitcounts
    from logaudit.analyze.base import Context
    from logaudit.analyze.visits import Visits, headline
    from logaudit.config import load

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400)) + seed % 2
    vt = pd.DataFrame(
        {
            "clicks": rng.integers(1, 9, n).astype(np.int64),
            "duration": rng.choice([0, 0, 5, 17, 60, 61, 3600], n).astype(np.int64),
            "day": rng.integers(20000, 20004, n).astype(np.int64),
        }
    )

    def one_pass(table: pd.DataFrame, counts: dict[str, pd.DataFrame]) -> dict[str, object]:
        ctx = Context(load({}, env={}))
        ctx.cache["visits"] = Visits(table, pd.DataFrame())
        if counts:
            ctx.cache[visitcounts.KEY] = counts
        return headline({}, ctx)

    def counted(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return {
            col: rows.groupby(["day", col]).size().rename("n").reset_index()
            for col in ("clicks", "duration")
        }

    want = one_pass(vt, {})
    assert want["visits"] == n and want["clicks"] == int(vt["clicks"].sum())
    cut = rng.random(n) < rng.random()
    assert one_pass(vt[~cut].reset_index(drop=True), counted(vt[cut])) == want
    assert one_pass(vt.iloc[:0], counted(vt)) == want
    # A wrong count is seen.
    wrong = counted(vt)
    wrong["duration"].loc[0, "n"] += 1
    wrong["clicks"].loc[0, "n"] += 1
    assert one_pass(vt.iloc[:0], wrong) != want


def test_values_counted_equal_a_groupby() -> None:
    """``visitcounts._counted`` (branch trends23) counts narrow integers by ``bincount``:
    the same Series (values, index and its dtype, names) as the groupby it stands for, for
    clicks, lengths, negative and wide values (the groupby itself), one value or none."""
    from logaudit.analyze import visitcounts

    rng = np.random.default_rng(7)
    for rows in (
        rng.integers(1, 40, 3000),
        rng.integers(0, 90_000, 50),  # wider than 2**16 and a quarter of the rows
        rng.integers(-5, 3, 100),
        np.array([7]),
        rng.integers(0, 2**40, 1000),
        np.zeros(0, np.int64),
        rng.integers(0, 2**40, 10).astype(np.uint64),
        rng.integers(0, 100, 10).astype(np.int32),
        np.array([-128, 127, 0], np.int8),  # a narrow type's difference wrapped
        np.array([-32768, 32767, 5, 5], np.int16),
        np.array([2**64 - 1, 2**64 - 2, 2**64 - 1], np.uint64),  # above int64: the groupby
        np.array([2**63 - 1, 2**63 - 3], np.int64),
        np.array([-(2**63), -(2**63) + 2], np.int64),
    ):
        want = pd.Series(np.ones(len(rows), np.int64)).groupby(rows).sum()
        got = visitcounts._counted(rows)
        assert got.equals(want) and got.dtype == want.dtype
        assert got.index.dtype == want.index.dtype and got.index.name == want.index.name
        assert got.name == want.name


@pytest.mark.parametrize("every", ["month", "week", "day", "hour"])
def test_series_and_overview_from_counted_visits_equal_one_pass(
    store: tuple[Path, Path], every: str, monkeypatch: Any
) -> None:
    """periods/change/unusual and the overview's visit figures over counted closed months
    equal one pass; the counted months' visit rows are not read (hourly periods: no
    counts are handed, the rows are read)."""
    from logaudit.analyze import visitcounts

    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}}
    if every == "hour":
        more["since"] = datetime(2026, 2, 25)
    read, _ = _spy(monkeypatch)
    handed: list[dict[str, pd.DataFrame]] = []
    real = visitcounts.headline

    def spy(vt: pd.DataFrame, counts: dict[str, pd.DataFrame]) -> dict[str, object]:
        handed.append(counts)
        return real(vt, counts)

    monkeypatch.setattr(visitcounts, "headline", spy)
    stored = figures(trends([], state, **more))
    monkeypatch.undo()
    one = figures(trends([str(whole)], **more))
    assert stored == one
    assert stored["overview"]["visits"] > (50 if every == "hour" else 500)
    if every == "hour":
        assert not handed
        return
    assert handed and int(handed[0]["clicks"]["n"].sum()) > 300
    counted = {m for m, t in read if t == entries.CLICKS}
    assert {"2025-12", "2026-01"} <= counted
    assert not {m for m, t in read if t == visitdays.ROWS.name} & counted


# Closed months' texts keep their hashes (store/texthash.py).


def test_each_rolled_month_keeps_its_texts_hashes(store: tuple[Path, Path]) -> None:
    from logaudit.schema import hash_strings
    from logaudit.store import texthash

    state, _ = store
    layout = Layout(state)
    st = layout.read_state()
    for month, entry in st.months.items():
        for table, (name, column) in texthash.HASHED.items():
            assert texthash.ready(entry, table), (month, table)
            texts = layout.read_tables([(month, entry)], table, columns=[column])
            hashes = layout.read_table(month, entry, name)
            assert texts is not None and hashes is not None and len(texts) > 0
            assert (hashes["h"].to_numpy(np.uint64) == hash_strings(texts.index)).all()


def _copied(store: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Layout, State]:
    """The module's store copied (a test may change it), with its log, layout and state."""
    import shutil

    state, whole = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    layout = Layout(copy)
    return whole, copy, layout, layout.read_state()


def test_names_from_stored_hashes_equal_hashing(
    store: tuple[Path, Path], tmp_path: Path, monkeypatch: Any
) -> None:
    """``movers.names`` reads the months' hashes (no text of theirs hashed) and gives what
    hashing every text gives; a hash file made from other texts is not used, and the next
    report makes it again."""

    from logaudit import schema
    from logaudit.store import texthash

    whole, copy, layout, st = _copied(store, tmp_path)
    days = sorted(st.days.items())
    hashed: list[int] = []
    real = texthash.hash_strings

    def spy(values: Any) -> Any:
        hashed.append(len(values))
        return real(values)

    monkeypatch.setattr(texthash, "hash_strings", spy)
    got = movers.names(layout, st, days)
    stored_hashed = sum(hashed)
    for entry in st.months.values():
        for table in texthash.HASHED:
            entry["files"][texthash.HASHED[table][0]]["of"] = "0" * 64
    hashed.clear()
    again = movers.names(layout, st, days)
    monkeypatch.undo()
    for table, column in movers.NAMED.items():
        texts = layout.read_tables(days, table, columns=[column])
        assert texts is not None
        keys = schema.hash_strings(texts.index)
        want = pd.Series(np.asarray(texts.index, dtype=object), index=keys)
        want = want[~want.index.duplicated()]
        for g in (got, again):
            assert g[table].series().sort_index().to_dict() == want.sort_index().to_dict()
    # Stored: only the open days' texts were hashed; stale: the months' too.
    months_texts = sum(
        len(layout.read_tables([(m, e)], t, columns=[c]))  # type: ignore[arg-type]
        for m, e in st.months.items()
        for t, c in movers.NAMED.items()
    )
    assert sum(hashed) >= stored_hashed + months_texts
    # A report remakes the stale ones.
    (copy / STATE_FILE).write_text(json.dumps(st.to_json()))
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    assert figures(trends([], copy, **more)) == figures(trends([str(whole)], **more))
    st = Layout(copy).read_state()
    assert all(texthash.ready(e, t) for e in st.months.values() for t in texthash.HASHED)


def test_named_gives_each_key_its_first_rows_text() -> None:
    """``texthash.Named.of`` is the rows with repeated keys dropped, reindexed: the first
    row's value of each asked key, in the asked order, NaN for a key no row has; from Arrow
    texts across chunks and from an object array alike."""
    import pyarrow as pa

    from logaudit.store.texthash import Named

    keys = np.array([5, 3, 5, 7, 3], np.uint64)
    texts = ["a", "b", "c", "d", "e"]
    for values in (pa.chunked_array([texts[:2], texts[2:]]), np.array(texts, dtype=object)):
        named = Named(keys, values)
        got = named.of(np.array([3, 9, 5, 7, 3], np.uint64))
        assert got.index.tolist() == [3, 9, 5, 7, 3]
        assert got.iloc[[0, 2, 3, 4]].tolist() == ["b", "a", "d", "b"]
        assert pd.isna(got.iloc[1])
        assert named.series().to_dict() == {5: "a", 3: "b", 7: "d"}
        assert len(named) == 3
        assert named.of(np.zeros(0, np.uint64)).empty
    # Few keys asked of many rows (``texthash.FEW``): the rows holding them found first, the
    # same first rows given (here in the second chunk, a repeated key's later row not).
    many = np.concatenate([np.arange(100, 300), np.arange(100, 300)]).astype(np.uint64)
    words = [f"t{i}" for i in range(len(many))]
    for values in (pa.chunked_array([words[:150], words[150:]]), np.array(words, dtype=object)):
        got = Named(many, values).of(np.array([260, 7, 160, 260], np.uint64))
        assert got.index.tolist() == [260, 7, 160, 260]
        assert got.iloc[[0, 2, 3]].tolist() == ["t160", "t60", "t160"]
        assert pd.isna(got.iloc[1])


# Closed months keep the texts their edge rows' entry pairs name (store/texthash.py EDGE_NAMED).


def test_each_rolled_month_keeps_its_edge_rows_texts(store: tuple[Path, Path]) -> None:
    """A rolled-up month's ``edge_referrers``/``edge_queries`` are exactly its texts whose
    hash an edge row's key names, stamped with the texts' and the edge rows' checksums."""
    from logaudit.schema import hash_strings
    from logaudit.store import texthash

    state, _ = store
    layout = Layout(state)
    st = layout.read_state()
    assert st.months
    for month, entry in st.months.items():
        edges = layout.read_table(month, entry, entries.EDGES)
        for table, (name, key) in texthash.EDGE_NAMED.items():
            assert texthash.edge_ready(entry, table), (month, table)
            column = texthash.HASHED[table][1]
            texts = layout.read_tables([(month, entry)], table, columns=[column])
            assert texts is not None and edges is not None
            keys = hash_strings(texts.index)
            keep = np.isin(keys, edges[key].to_numpy(np.uint64))
            got = layout.read_table(month, entry, name)
            assert 0 < len(got) < len(texts)
            assert got["h"].to_numpy(np.uint64).tolist() == keys[keep].tolist()
            assert got[column].tolist() == list(np.asarray(texts.index, dtype=object)[keep])


def test_names_from_edge_texts_read_every_text_for_another_key(
    store: tuple[Path, Path], tmp_path: Path, monkeypatch: Any
) -> None:
    """``movers.names`` reads the months' edge texts, not their texts, and names the edge
    keys as every text does; a key of the months that no edge row names is named all the
    same (every text read then, from the files as they were). An edge-text file that does
    not stand for its texts is not used, and the next report makes it again."""

    from logaudit.schema import hash_strings
    from logaudit.store import texthash

    whole, copy, layout, st = _copied(store, tmp_path)
    days = sorted(st.days.items())
    months = sorted(st.months.items())
    read: list[str] = []
    real = Layout.read_arrow

    def spy(self: Layout, entries_: Any, table: str, *a: Any, **kw: Any) -> Any:
        read.extend(f"{table} {n}" for n, _ in entries_)
        return real(self, entries_, table, *a, **kw)

    monkeypatch.setattr(Layout, "read_arrow", spy)
    got = movers.names(layout, st, days)
    assert not {f"{t} {m}" for t in texthash.EDGE_NAMED for m, _ in months} & set(read)
    for table, (_, key) in texthash.EDGE_NAMED.items():
        column, name = texthash.HASHED[table][1], texthash.HASHED[table][0]
        texts = layout.read_tables(months, table, columns=[column])
        edges = layout.read_tables(months, entries.EDGES, columns=[key])
        assert texts is not None and edges is not None
        all_keys = hash_strings(texts.index)
        edge_keys = np.unique(edges[key].to_numpy(np.uint64))
        edge_keys = edge_keys[np.isin(edge_keys, all_keys)]
        want = pd.Series(np.asarray(texts.index, dtype=object), index=all_keys)
        want = want[~want.index.duplicated()]
        read.clear()
        assert got[table].of(edge_keys).to_dict() == want.reindex(edge_keys).to_dict()
        assert not read  # from the edge texts
        other = all_keys[~np.isin(all_keys, edge_keys)][:3]
        assert len(other) == 3
        asked = np.concatenate([edge_keys[:2], other])
        # Every text is read as the report's state named it, though a run has since
        # replaced the files (the sections ask after the store's lock is let go).
        moved = [layout.path(m, e, t) for m, e in months for t in (table, name)]
        for path in moved:
            path.rename(path.with_suffix(".away"))
        try:
            assert got[table].of(asked).to_dict() == want.reindex(asked).to_dict()
        finally:
            for path in moved:
                path.with_suffix(".away").rename(path)
        assert f"{table} {months[0][0]}" in read  # every text read for the others
    monkeypatch.undo()
    # Edge texts made from other texts: not used (every text read), made again by a report.
    for _, entry in st.months.items():
        for table in texthash.EDGE_NAMED:
            entry["files"][texthash.EDGE_NAMED[table][0]]["of"] = "0" * 64
    edged = [texthash.edge_ready(e, t) for e in st.months.values() for t in texthash.EDGE_NAMED]
    assert not any(edged)
    (copy / STATE_FILE).write_text(json.dumps(st.to_json()))
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    assert figures(trends([], copy, **more)) == figures(trends([str(whole)], **more))
    st = Layout(copy).read_state()
    assert all(texthash.edge_ready(e, t) for e in st.months.values() for t in texthash.EDGE_NAMED)


@pytest.mark.parametrize(
    "failing",
    [
        ("edge_",),  # the edge texts (the first report after an upgrade)
        ("referrer_h", "query_h"),  # the hashes and sites (months rolled up before them)
        ("",),  # every write, the store's state too (with the referrer_sites, ...)
    ],
)
def test_a_full_disk_leaves_the_months_files_unmade_and_the_figures_whole(
    store: tuple[Path, Path], tmp_path: Path, monkeypatch: Any, failing: tuple[str, ...]
) -> None:
    """A report that would make the closed months' hashes, referring sites or edge texts
    (or any file made from another: counts, sets, ...) and cannot write them (ENOSPC) still
    reports the logs' figures, reading the months as without them; the next report with
    room makes them."""
    import errno
    import shutil

    from logaudit.store import layout as layout_module
    from logaudit.store import texthash

    state, whole = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    st = Layout(copy).read_state()
    for entry in [*st.months.values(), *st.days.values()]:
        for meta in entry["files"].values():
            if "of" in meta:  # made from another file (store/madeof.py): made again
                meta["of"] = "0" * 64
    (copy / STATE_FILE).write_text(json.dumps(st.to_json()))
    real = layout_module._write_private

    def full(path: Path, data: bytes, sync: bool = True) -> None:
        if path.name.startswith(failing):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, sync)

    monkeypatch.setattr(layout_module, "_write_private", full)
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    want = figures(trends([str(whole)], **more))
    assert figures(trends([], copy, **more)) == want
    st = Layout(copy).read_state()
    for entry in st.months.values():
        for table in texthash.EDGE_NAMED:
            assert not texthash.edge_ready(entry, table)
            assert texthash.ready(entry, table) == (failing == ("edge_",))
    monkeypatch.undo()
    assert figures(trends([], copy, **more)) == want
    st = Layout(copy).read_state()
    for entry in st.months.values():
        assert texthash.hosts_ready(entry)
        for table in texthash.EDGE_NAMED:
            assert texthash.edge_ready(entry, table)
