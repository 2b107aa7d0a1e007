"""What a report reads of the store (branch year2): only the columns it needs, the movers' query
texts from the compared periods' days, and the distinct visitors per period by flags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.campaigns import query_names
from logaudit.analyze.referrers import own_hosts, site_of
from logaudit.analyze.trends.series import _FLAG_PERIODS, _distinct_pairs
from logaudit.config import Settings
from logaudit.config import load as load_settings
from logaudit.store import in_period, load, months, movers, sites, store_tables, visitdays
from logaudit.store.layout import SCHEMA, STATE_FILE, Layout
from tests.store_helpers import figures, log_bytes, report, trends


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("reads")
    log = tmp / "access.log"
    log.write_bytes(log_bytes(9000, days=4))
    state = tmp / "state"
    assert report([str(log)], state).report is not None
    return state


def _pairs(key: np.ndarray, codes: np.ndarray, width: int) -> np.ndarray:
    """What ``_distinct_pairs`` replaced: the distinct pairs hashed."""
    lo = int(key.min())
    return pd.unique((key - lo) * width + codes) // width + lo


@pytest.mark.parametrize("periods", [1, 3, 13, _FLAG_PERIODS, _FLAG_PERIODS + 1, 400])
def test_distinct_visitors_per_period_by_flags_equal_hashing_the_pairs(periods: int) -> None:
    rng = np.random.default_rng(periods)
    for n, width in ((0, 1), (1, 1), (5000, 40), (20000, 3000)):
        key = rng.integers(-periods // 2, periods - periods // 2, n).astype(np.int64)
        codes = rng.integers(0, width, n).astype(np.int64)
        if not n:
            continue
        got = np.sort(_distinct_pairs(key, codes, width))
        want = np.sort(_pairs(key, codes, width))
        assert np.array_equal(got, want)


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        # end and start_local are stored as differences from start, which is not asked for
        (visitdays.ROWS.name, ("end", "start_local", "clicks", "edge")),
        (visitdays.ROWS.name, (*visitdays.COLUMNS, "edge")),
        # ref_h and visitor are stored as row numbers into the day's referrers and visitors
        ("touch_events", ("ref_h", "visitor")),
        ("paths", ("page_views",)),
        ("queries", ("query",)),  # the index alone
    ],
)
def test_columns_read_alone_equal_the_whole_table(
    store: Path, table: str, columns: tuple[str, ...]
) -> None:
    layout = Layout(store)
    state = layout.read_state()
    days = in_period(state, None, None)
    whole = layout.read_tables(days, table)
    assert whole is not None and len(whole)
    part = layout.read_tables(days, table, columns=columns)
    assert part is not None
    # What was asked for (and the columns differences are stored against), not the rest.
    got = set(part.columns) | {part.index.name}
    assert set(columns) <= got < set(whole.columns) | {whole.index.name}
    assert part.index.equals(whole.index)
    wanted = [c for c in columns if c in whole.columns]
    pd.testing.assert_frame_equal(part[wanted], whole[wanted])
    for day, info in days:
        one = layout.read_tables([(day, info)], table, columns=columns)
        full = layout.read_table(day, info, table)
        if full is None:
            assert one is None
            continue
        assert one is not None
        pd.testing.assert_frame_equal(one[wanted], full[wanted])


def test_query_texts_of_some_days_name_their_keys_as_the_whole_period(store: Path) -> None:
    layout = Layout(store)
    state = layout.read_state()
    days = in_period(state, None, None)
    assert len(days) >= 3
    merged = load(layout, state, store_tables(), None, None)
    period = query_names(merged)
    for some in (days[-1:], days[-2:], days):
        names = movers.names(layout, state, some)["queries"]
        # The keys those days' touch events hold: each named as the period's table names it.
        touch = load(
            layout, state, {"touch_events": store_tables()["touch_events"]},
            *(int(pd.Timestamp(d).timestamp()) // 86400 for d in (some[0][0], some[-1][0])),
        )["touch_events"]
        keys = pd.unique(touch["query_h"].to_numpy())
        assert len(keys) > 1
        want = period.reindex(keys)
        got = names.of(keys)
        pd.testing.assert_series_equal(got, want, check_names=False, check_dtype=False)
        # And no more than those days' texts.
        assert len(names) <= len(period)
    assert len(movers.names(layout, state, days)["queries"]) == len(period)


def _merged_own(layout: Layout, settings: Settings) -> tuple[set[str], str]:
    state = layout.read_state()
    merged = load(layout, state, store_tables(), None, None)
    return own_hosts(merged, settings)


def _own_from_sites(layout: Layout, settings: Settings) -> set[str]:
    state = layout.read_state()
    entries, _ = months.covering(state, in_period(state, None, None))
    if sites.backfill(layout, state, entries):
        layout.commit(state)
    assert sites.usable(entries)
    merged = load(layout, state, {t: store_tables()[t] for t in ("paths", "vhosts")}, None, None)
    return sites.own(layout, entries, merged, settings)


def test_own_hosts_from_the_referring_sites_equal_those_of_the_merged_referrers(
    store: Path,
) -> None:
    layout = Layout(store)
    settings = load_settings({}, env={})
    want, how = _merged_own(layout, settings)
    assert how == "inferred" and want  # the sample site's own host is found: the test can fail
    assert _own_from_sites(layout, settings) == want
    # Each entry's rows are its referrers' hosted rows summed per (site, path).
    state = layout.read_state()
    for name, info in in_period(state, None, None):
        refs = layout.read_table(name, info, "referrers")
        rows = layout.read_table(name, info, sites.TABLE)
        assert rows is not None and refs is not None
        assert int(rows["hits"].sum()) == int(
            refs["hits"][site_of(refs.index)["site"].to_numpy() != ""].sum()
        )
        assert not rows.duplicated(["site", "ref_path"]).any()
        assert info["files"][sites.TABLE]["of"] == info["files"]["referrers"]["sha256"]
    # Configured hosts win, as in own_hosts.
    configured = load_settings({"site_hosts": ["www.Example.org"]}, env={})
    assert _own_from_sites(layout, configured) == {"example.org"}


def test_own_hosts_tell_a_wrong_table(store: Path, tmp_path: Path) -> None:
    """The rows decide: with one host's rows dropped from every entry it is no longer own."""
    layout = Layout(store)
    settings = load_settings({}, env={})
    want, _ = _merged_own(layout, settings)
    assert want and _own_from_sites(layout, settings) == want
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    other = Layout(copy)
    state = other.read_state()
    for name, info in in_period(state, None, None):
        rows = other.read_table(name, info, sites.TABLE)
        assert rows is not None
        kept = rows[~rows["site"].isin(want)].reset_index(drop=True)
        meta = other.write_file(name, sites.TABLE, kept, state.gen + 1)
        info["files"][sites.TABLE] = {**meta, "of": info["files"]["referrers"]["sha256"]}
    state.gen += 1
    other.commit(state)
    assert _own_from_sites(other, settings) == set()


def test_a_store_of_schema_6_gets_its_referring_sites_and_reports_the_same(
    tmp_path: Path,
) -> None:
    log = tmp_path / "access.log"
    data = log_bytes(9000, days=4)
    cut = data.index(b"\n", len(data) * 2 // 3) + 1
    log.write_bytes(data[:cut])
    state = tmp_path / "state"
    assert report([str(log)], state).report is not None
    raw = json.loads((state / STATE_FILE).read_text())
    for entry in [*raw["days"].values(), *raw["months"].values()]:
        entry["files"].pop(sites.TABLE, None)
    raw["schema"] = 6
    (state / STATE_FILE).write_text(json.dumps(raw))
    # Grown: a day's referrers are rewritten, its sites (if any) made again from them.
    with open(log, "ab") as f:
        f.write(data[cut:])
    more = {"sections": ("movers", "periods"), "extra": {"every": "day"}}
    stored = figures(trends([str(log)], state, **more))
    assert stored == figures(trends([str(log)], **more))
    raw = json.loads((state / STATE_FILE).read_text())
    assert raw["schema"] == SCHEMA == 14
    entries = [*raw["days"].values(), *raw["months"].values()]
    assert all(sites.ready(e) for e in entries if "referrers" in e["files"])
    assert any(sites.TABLE in e["files"] for e in entries)
    # A day rewritten after its sites were made has none that stand for it.
    day = max(raw["days"])
    info = raw["days"][day]
    info["files"]["referrers"]["sha256"] = "0" * 64
    assert not sites.ready(info)


def test_text_keyed_tables_merge_as_the_tables_rules_merge_them(store: Path) -> None:
    from logaudit.analyze.base import _by_text

    layout = Layout(store)
    state = layout.read_state()
    days = in_period(state, None, None)
    tables = store_tables()
    tried = 0
    for name in ("paths", "referrers", "queries", "vhosts", "agents", "files"):
        f = layout.read_tables(days, name)
        if f is None or len(f) < 2:
            continue
        got = _by_text(tables[name], f)
        if got is None:
            continue
        tried += 1
        assert len(got) < len(f)  # some keys were in several days
        want = tables[name].combine([f.iloc[:1], f.iloc[1:]])
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert tried >= 3
    # Flags and maxima, keys in any order, a key once.
    rng = np.random.default_rng(7)
    keys = pd.Index(rng.choice(["/a", "/b", "/c", "/d", "/é"], 500), dtype="str", name="path")
    f = pd.DataFrame(
        {
            "hits": rng.integers(0, 9, 500),
            "bytes": rng.integers(-5, 2**40, 500),
            "page_views": rng.integers(0, 3, 500),
            "not_found": rng.integers(0, 2, 500),
            "static": rng.random(500) < 0.1,
        },
        index=keys,
    )
    f = pd.concat([f, f.iloc[:0].reindex(pd.Index(["/once"], dtype="str", name="path"))
                   .fillna(1).astype(f.dtypes.to_dict())])
    got = _by_text(tables["paths"], f)
    assert got is not None
    pd.testing.assert_frame_equal(
        got, tables["paths"].combine([f.iloc[:1], f.iloc[1:]]), check_exact=True
    )
    # Not the rule's kind: merged as before.
    assert _by_text(tables["paths"], f.astype({"hits": "Int64"})) is None


def test_the_overview_counts_the_distinct_visitors_in_use() -> None:
    from logaudit.analyze.traffic import _distinct_visitors

    rng = np.random.default_rng(3)
    day = rng.integers(0, 30, 4000)
    visitor = rng.integers(0, 900, 4000).astype(np.uint64)
    index = pd.MultiIndex.from_arrays([day, visitor], names=["day", "visitor"])
    want = len(np.unique(visitor))
    assert _distinct_visitors(index) == want
    # A slice keeps every level value: only those in use count.
    part = index[index.get_level_values("day") < 10]
    assert len(part.levels[1]) == want
    assert _distinct_visitors(part) == len(np.unique(visitor[day < 10])) < want


def test_integer_levels_are_those_from_arrays_makes(store: Path) -> None:
    from logaudit.analyze.base import int_levels

    layout = Layout(store)
    state = layout.read_state()
    days = in_period(state, None, None)
    tried = set()
    for name in store_tables():
        f = layout.read_tables(days, name) if name != "pv_events" else None
        if f is None or not isinstance(f.index, pd.MultiIndex):
            continue
        index = f.index
        if not all(lv.dtype.kind in "iu" for lv in index.levels):
            continue
        tried.add(name)
        values = [index.get_level_values(i).to_numpy() for i in range(index.nlevels)]
        want = pd.MultiIndex.from_arrays(values, names=index.names)
        got = int_levels(values, list(index.names))
        assert index.equals(want) and got.equals(want)
        for a, b, c in zip(got.levels, want.levels, index.levels, strict=True):
            assert a.dtype == b.dtype == c.dtype and a.equals(b) and b.equals(c)
        for a, b in zip(got.codes, want.codes, strict=True):
            assert np.array_equal(np.asarray(a), np.asarray(b))
    assert {"visitor_days", "trend_hours", "mover_counts"} <= tried
    # Narrow and wide, signed and unsigned, negative, empty.
    rng = np.random.default_rng(11)
    for v in (
        rng.integers(-50, 50, 1000),
        np.array([13193461687675409302], dtype=np.uint64),  # a lone 64-bit key: narrow
        np.array([2**64 - 3, 2**64 - 1, 2**64 - 3], dtype=np.uint64),
        np.array([-(2**63), -(2**63) + 2], dtype=np.int64),
        rng.integers(0, 2**63, 1000, dtype=np.uint64),
        rng.integers(0, 4, 1000).astype(np.int8),
        np.zeros(0, np.int64),
    ):
        w = rng.integers(0, 3, len(v))
        want = pd.MultiIndex.from_arrays([v, w], names=["a", "b"])
        got = int_levels([v, w], ["a", "b"])
        assert got.equals(want)
        assert [lv.dtype for lv in got.levels] == [lv.dtype for lv in want.levels]
        assert all(np.array_equal(a, b) for a, b in zip(got.codes, want.codes, strict=True))


def test_an_entry_without_referring_sites_counts_as_none(store: Path, tmp_path: Path) -> None:
    """An entry whose referrers have no host (all direct) keeps an empty table: read beside the
    others, the own hosts are theirs."""
    layout = Layout(store)
    settings = load_settings({}, env={})
    want = _own_from_sites(layout, settings)
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    other = Layout(copy)
    state = other.read_state()
    name, info = in_period(state, None, None)[0]
    rows = other.read_table(name, info, sites.TABLE)
    assert rows is not None and len(rows)
    meta = other.write_file(name, sites.TABLE, sites.of_referrers(None), state.gen + 1)
    info["files"][sites.TABLE] = {**meta, "of": info["files"]["referrers"]["sha256"]}
    state.gen += 1
    other.commit(state)
    entries, _ = months.covering(state, in_period(state, None, None))
    tables = {t: store_tables()[t] for t in ("paths", "vhosts")}
    merged = load(other, state, tables, None, None)
    left = sites.own(other, entries, merged, settings)
    assert left <= want
    # Every entry empty: none.
    for n, i in entries:
        meta = other.write_file(n, sites.TABLE, sites.of_referrers(None), state.gen + 1)
        i["files"][sites.TABLE] = {**meta, "of": i["files"]["referrers"]["sha256"]}
    state.gen += 1
    other.commit(state)
    assert sites.own(other, entries, merged, settings) == set()


def test_tables_read_at_once_are_not_spilt_to_be_rebuilt(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merged ``paths``/``referrers`` read at once go to the result as they are: past the
    text spill budget no TextSpill is started for one frame (it hashed, wrote 32 files and
    rebuilt a copy to combine nothing), and the partial is the one read under the budget."""
    from logaudit.analyze.base import Accumulator
    from logaudit.analyze.spill import TextSpill

    layout = Layout(store)
    state = layout.read_state()
    tables = store_tables()
    want = load(layout, state, tables)
    made: list[str] = []
    real = TextSpill.__init__

    def init(self: TextSpill, frame: pd.DataFrame) -> None:
        made.append(str(frame.index.name))
        real(self, frame)

    monkeypatch.setattr(TextSpill, "__init__", init)
    monkeypatch.setattr("logaudit.analyze.spill.SPILL_BYTES", 1)
    got = load(layout, state, tables)
    assert made == []
    assert set(got) == set(want)
    for name in ("paths", "referrers"):
        assert len(got[name]) > 1
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True)
    # Added as frames (two of them, to combine), the same table does spill: the budget is real.
    acc = Accumulator({"paths": tables["paths"]}, spill_bytes=1)
    paths = want["paths"]
    acc.add({"paths": paths.iloc[: len(paths) // 2]})
    acc.add({"paths": paths.iloc[len(paths) // 2 :]})
    acc.result()
    assert made == ["path"]
    # put: as it is, without a spill; an empty frame or a table with rows is added as usual.
    acc = Accumulator({"paths": tables["paths"]}, spill_bytes=1)
    acc.put("paths", paths)
    assert acc.result()["paths"] is paths and made == ["path"]
