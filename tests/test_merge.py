"""Partials merge: the property the architecture rests on (cores now, Dask later).

Two halves of a log, each reduced to its own partial, merged with ``analyze.base.merge`` in
either order, give exactly the report of the whole log.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from merge_helpers import assert_as_the_group_by

from logaudit.analyze import (
    SUMMARY_SECTIONS,
    TABLES,
    TRENDS_SECTIONS,
    VISITS_SECTIONS,
    build_report,
    tables_for,
)
from logaudit.analyze.base import Accumulator, Table, merge
from logaudit.api import finish_context
from logaudit.config import load
from logaudit.engine.local import Run, run
from logaudit.render.tabular import as_dict
from logaudit.sources import Input

# The visitors table's index (``_visitor_frame``).
KEYS = ["client", "agent"]

SETTINGS = {"extra": {"every": "auto", "metrics": ()}}


def _report(r: Run, sections: tuple[str, ...]) -> dict:
    settings = load(SETTINGS)
    ctx = finish_context(settings, sections)
    d = as_dict(build_report(r, settings, sections, "report", ctx))
    d.pop("generated")
    d.pop("inputs")
    d.pop("bad_lines")
    d["overview"].pop("bad_lines")
    return json.loads(json.dumps(d, sort_keys=True))


@pytest.mark.parametrize("sections", [SUMMARY_SECTIONS, VISITS_SECTIONS, TRENDS_SECTIONS])
def test_merged_halves_equal_the_whole(
    sample_logs: Path, tmp_path: Path, sections: tuple[str, ...]
) -> None:
    data = (sample_logs / "access.log").read_bytes()
    lines = data.splitlines(keepends=True)
    half = len(lines) // 2
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"".join(lines[:half]))
    b.write_bytes(b"".join(lines[half:]))
    settings = load(SETTINGS)
    tables = tables_for(sections)

    def partial(p: Path) -> Run:
        return run([Input(str(p), p)], settings, tables)

    whole = partial(sample_logs / "access.log")
    ra, rb = partial(a), partial(b)
    for first, second in ((ra, rb), (rb, ra)):
        merged = Run(
            merge(first.partial, second.partial, TABLES),
            whole.bad,
            [],
            whole.inputs,
            whole.formats,
            whole.lines,
            whole.tables,
        )
        assert _report(merged, sections) == _report(whole, sections)


def test_accumulator_compacts_by_each_tables_rule_and_says_so() -> None:
    """Partials added one by one come out as merge() of them all, and on_compact hears of
    every compaction with the rows left (the pipeline returns freed memory on big ones)."""
    tables = {
        "hits": Table("hits", lambda c, s: c),
        "seen": Table("seen", lambda c, s: c, kind="distinct"),
    }
    heard: list[tuple[str, int]] = []
    acc = Accumulator(tables, on_compact=lambda name, rows: heard.append((name, rows)))
    for i in range(3):
        acc.add(
            {
                "hits": pd.DataFrame({"n": [1, 2]}, index=pd.Index(["a", f"p{i}"], name="k")),
                "seen": pd.DataFrame({"x": [i, i]}, index=pd.Index([7, 100 + i], dtype="uint64")),
            }
        )
    got = acc.result()
    assert got["hits"].sort_index()["n"].to_dict() == {"a": 3, "p0": 2, "p1": 2, "p2": 2}
    assert sorted(got["seen"].index.tolist()) == [7, 100, 101, 102]
    assert got["seen"].loc[7, "x"] == 0  # a distinct table keeps the first row of each key
    assert sorted(heard) == [("hits", 4), ("seen", 4)]


def test_accumulator_last_merge_on_threads_equals_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logaudit.analyze import base

    monkeypatch.setattr(base, "POOL_MIN_ROWS", 0)  # on the pool however small
    tables = {
        "hits": Table("hits", lambda c, s: c),
        "seen": Table("seen", lambda c, s: c, kind="distinct"),
        "ev": Table("ev", lambda c, s: c, kind="concat"),
    }
    accs = [Accumulator(tables), Accumulator(tables)]
    for i in range(5):
        partial = {
            "hits": pd.DataFrame({"n": [i, 1]}, index=pd.Index(["a", f"p{i % 3}"], name="k")),
            "seen": pd.DataFrame({"x": [i]}, index=pd.Index([i % 2], dtype="uint64")),
            "ev": pd.DataFrame({"t": [i, i + 10]}),
        }
        for acc in accs:
            acc.add(partial)
    one = accs[0].result()
    with ThreadPoolExecutor(2) as pool:
        two = accs[1].result(pool)
    assert set(one) == set(two)
    for name in one:
        pd.testing.assert_frame_equal(one[name], two[name])


def test_agents_merge_keeps_each_agents_first_row_as_grouping_did() -> None:
    """The agents table merges as a union keeping each agent's first row: the same rows, in
    the same order and dtypes, as the group-by taking each column's first value it replaced
    (no classification value is missing)."""
    from logaudit.enrich.agents import COLUMNS

    def frame(agents: list[str], cls: str) -> pd.DataFrame:
        data = {c: pd.array([f"{c}-{a}" for a in agents], dtype="str") for c in COLUMNS}
        data["agent_class"] = pd.array([cls] * len(agents), dtype="str")
        return pd.DataFrame(data, index=pd.Index(agents, dtype="str", name="agent"))

    frames = [
        frame(["b", "a", "c"], "person"),
        frame(["c", "d", "a"], "crawler"),
        frame(["e"], "tool"),
    ]
    merged = TABLES["agents"].combine(frames)
    both = pd.concat(frames)
    grouped = both.groupby(level=0, sort=False).agg(dict.fromkeys(COLUMNS, "first"))
    pd.testing.assert_frame_equal(merged, grouped)
    assert list(merged.index) == ["b", "a", "c", "d", "e"]
    assert list(merged["agent_class"]) == ["person", "person", "person", "crawler", "tool"]


def test_agents_classification_merges_as_categoricals_with_the_same_values() -> None:
    """A block's agents table holds its classification as categoricals (``audience._coded``);
    their merge keeps them categorical whatever each frame's categories, with the values the
    text table's merge has, and the join (``_attached``) reads them as it read the text."""
    from logaudit.analyze.audience import _coded
    from logaudit.enrich.agents import COLUMNS

    def frame(agents: list[str], browsers: list[str]) -> pd.DataFrame:
        data = {c: pd.array([f"{c}-{a}" for a in agents], dtype="str") for c in COLUMNS}
        data["browser"] = pd.array(browsers, dtype="str")
        return pd.DataFrame(data, index=pd.Index(agents, dtype="str", name="agent"))

    text = [
        frame(["b", "a", "c"], ["Chrome", "Firefox", "Chrome"]),
        frame(["c", "d", "a", "f"], ["Safari", "Edge", "Opera", "Chrome"]),
        frame(["e"], ["Edge"]),
    ]
    coded = [_coded(f) for f in text]
    assert all(f[c].dtype == "category" for f in coded for c in COLUMNS)
    merged = TABLES["agents"].combine(coded)
    want = TABLES["agents"].combine(text)
    assert all(merged[c].dtype == "category" for c in COLUMNS)
    assert list(merged.columns) == list(want.columns)
    pd.testing.assert_frame_equal(merged.astype("str"), want)
    v = pd.DataFrame({"hits": [1, 2, 3, 4]})
    pos = np.array([4, 0, -1, 2])
    pd.testing.assert_frame_equal(_joined(v, merged, pos), _joined(v, want, pos))


@pytest.mark.parametrize("parts", [(40, 1, 70), (5,)])
def test_numeric_multiindex_tables_combine_as_the_group_by_did(parts: tuple[int, ...]) -> None:
    """visitor_days (day, visitor) merges through its levels' codes: the rows, their order
    and dtypes are the group-by's over the concatenated MultiIndexes."""
    rng = np.random.default_rng(3)

    def frame(rows: int) -> pd.DataFrame:
        day = rng.integers(19000, 19004, rows)
        visitor = rng.integers(0, 1 << 63, 12, dtype=np.uint64)[rng.integers(0, 12, rows)]
        index = pd.MultiIndex.from_arrays([day, visitor], names=["day", "visitor"])
        keep = ~index.duplicated()
        return pd.DataFrame({"hits": rng.integers(1, 9, int(keep.sum()))}, index=index[keep])

    frames = [frame(n) for n in parts] + [frame(30)]
    got = TABLES["visitor_days"].combine(frames)
    want = pd.concat(frames).groupby(level=[0, 1], sort=False).sum()
    pd.testing.assert_frame_equal(got, want)
    assert list(got.index) == list(want.index)


@pytest.mark.parametrize("distinct", [0.0, 0.9, 1.0])
def test_integer_columns_fold_by_group_as_the_group_by_did(distinct: float) -> None:
    """``base._by_group`` (first row of each group, the others folded in) gives the group-by's
    frame: the same rows, values and dtypes, with rows alone in their group or not."""
    from logaudit.analyze.base import _by_group

    rng = np.random.default_rng(11)
    n = 500
    keys = np.where(rng.random(n) < distinct, np.arange(n) + 1000, rng.integers(0, 40, n))
    ids, uniq = pd.factorize(keys, sort=False)
    data = pd.DataFrame(
        {
            "hits": rng.integers(1, 9, n),
            "bytes": rng.integers(0, 1 << 40, n).astype(np.uint64),
            "first": rng.integers(-(1 << 50), 1 << 50, n),
            "last": rng.integers(0, 1 << 50, n),
            "visitor": rng.integers(0, 1 << 62, n),
        }
    )
    rules = {"hits": "sum", "bytes": "sum", "first": "min", "last": "max", "visitor": "first"}
    got = _by_group(data, ids, len(uniq), rules)
    want = data.groupby(ids, sort=False).agg(rules)
    assert got is not None
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True))
    floats = data.assign(hits=data["hits"].astype(float))
    assert _by_group(floats, ids, len(uniq), rules) is None


@pytest.mark.parametrize("repeat", [False, True])
def test_tables_of_all_distinct_text_keys_merge_as_before(
    monkeypatch: pytest.MonkeyPatch, repeat: bool
) -> None:
    """Keys found all distinct by Arrow (``spill.distinct_text``) skip the factorization and
    group-by: paths, agents and visitors merge to the same frames, their text in one Arrow
    array, as when every table was grouped; a key in two frames takes the usual way."""
    from logaudit.analyze import spill
    from logaudit.enrich.agents import COLUMNS

    def merged(name: str, frames: list[pd.DataFrame], check: int) -> pd.DataFrame:
        monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", check)
        return TABLES[name].combine(frames)

    rng = np.random.default_rng(5)
    names = [[f"/p/{k}-{i}" for i in range(n)] for k, n in enumerate((30, 1, 20))]
    if repeat:
        names[2][3] = names[0][7]
    paths = [
        pd.DataFrame(
            {
                "hits": rng.integers(1, 5, len(n)),
                "bytes": rng.integers(0, 1 << 40, len(n)),
                "page_views": rng.integers(0, 3, len(n)),
                "not_found": rng.integers(0, 2, len(n)),
                "static": rng.random(len(n)) < 0.5,
            },
            index=pd.Index(n, dtype="str", name="path"),
        )
        for n in names
    ]
    agents = [
        pd.DataFrame(
            {c: pd.array([f"{c}{i % 3}" for i in range(len(n))], dtype="str") for c in COLUMNS},
            index=pd.Index(n, dtype="str", name="agent"),
        )
        for n in names
    ]
    visitors = []
    for n in names:
        index = pd.MultiIndex.from_arrays(
            [pd.Index([f"10.{i}" for i in range(len(n))], dtype="str"), pd.Index(n, dtype="str")],
            names=["client", "agent"],
        )
        visitors.append(pd.DataFrame({"hits": rng.integers(1, 5, len(n))}, index=index))
    for name, frames in (("paths", paths), ("agents", agents), ("visitors", visitors)):
        want = merged(name, frames, 1 << 40)
        got = merged(name, frames, 0)
        pd.testing.assert_frame_equal(got, want)
        for index in [got.index, *getattr(got.index, "levels", [])]:
            if index.dtype == "str":
                assert isinstance(pa.array(index.array), pa.Array)  # one chunk


def _visitor_frame(rng: np.random.Generator, rows: int, unused: bool) -> pd.DataFrame:
    clients = [f"10.0.0.{i}" for i in rng.integers(0, 40, rows)]
    agents = [f"agent/{i}" for i in rng.integers(0, 25, rows)]
    index = pd.MultiIndex.from_arrays(
        [pd.Index(clients, dtype="str"), pd.Index(agents, dtype="str")], names=["client", "agent"]
    )
    index = index[~index.duplicated()]
    if unused:  # levels holding values no row uses, in another order (a sliced table)
        index = index[::2]
        index = index.set_levels(index.levels[0][::-1], level=0, verify_integrity=False)
        index = pd.MultiIndex.from_arrays(
            [index.get_level_values(0), index.get_level_values(1)], names=index.names
        )
        index = index.set_levels(index.levels[1].append(pd.Index(["never"], dtype="str")), level=1)
    n = len(index)
    return pd.DataFrame(
        {
            "hits": rng.integers(1, 9, n),
            "bytes": rng.integers(0, 1 << 40, n),
            "first": rng.integers(0, 1 << 50, n),
            "last": rng.integers(0, 1 << 50, n),
        },
        index=index,
    )


@pytest.mark.parametrize("unused", [False, True])
def test_text_keyed_tables_combine_through_level_codes_as_the_group_by_did(unused: bool) -> None:
    rng = np.random.default_rng(7)
    frames = [_visitor_frame(rng, rows, unused) for rows in (60, 1, 90, 35)]
    assert_as_the_group_by(
        frames, {"hits": "sum", "bytes": "sum", "first": "min", "last": "max"}, KEYS
    )


def test_tables_with_the_same_text_keys_hold_them_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    from logaudit.analyze import base

    monkeypatch.setattr(base, "SHARE_ROWS", 1)
    agents = [f"agent/{i}" for i in range(50)]
    clients = [f"10.0.0.{i}" for i in range(50)]
    visitors = pd.DataFrame(
        {"hits": range(50)},
        index=pd.MultiIndex.from_arrays(
            [pd.Index(clients, dtype="str"), pd.Index(agents, dtype="str")],
            names=["client", "agent"],
        ),
    )
    visitors.index = visitors.index.set_levels(
        pd.Index(agents, dtype="str"), level=1, verify_integrity=False
    )
    by_agent = pd.DataFrame({"os": ["x"] * 50}, index=pd.Index(agents, dtype="str", name="agent"))
    reordered = pd.DataFrame({"n": range(50)}, index=pd.Index(agents[::-1], dtype="str", name="p"))
    before = {k: f.copy(deep=True) for k, f in (("v", visitors), ("a", by_agent))}
    tables = {"visitors": visitors, "agents": by_agent, "paths": reordered}
    base.share_text(tables)

    def buffer(index: pd.Index) -> int:
        arr = pa.array(index.array)
        arr = arr.chunk(0) if isinstance(arr, pa.ChunkedArray) else arr
        return arr.buffers()[2].address

    assert buffer(tables["agents"].index) == buffer(tables["visitors"].index.levels[1])
    assert buffer(tables["paths"].index) != buffer(tables["visitors"].index.levels[1])
    pd.testing.assert_frame_equal(tables["visitors"], before["v"])
    pd.testing.assert_frame_equal(tables["agents"], before["a"])
    assert tables["agents"].index.name == "agent"
    assert list(tables["paths"].index) == agents[::-1]


def test_distinct_text_is_the_full_check_whether_or_not_the_sample_finds_the_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The evenly spaced sample only settles a repeat early: a repeat it misses, an index
    without one and a missing value still get the answer of the check over every key."""
    from logaudit.analyze import spill

    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    monkeypatch.setattr(spill, "DISTINCT_SAMPLE", 10)
    keys = [f"/p/{i}" for i in range(1000)]

    def check(values: list[str | None]) -> bool:
        return spill.distinct_text(pd.Index(pd.array(values, dtype="str")))

    assert check(keys)
    sampled = keys.copy()
    sampled[500] = keys[0]  # rows 0 and 500 are both in the sample (every 100th)
    assert not check(sampled)
    missed = keys.copy()
    missed[501] = keys[1]  # neither row is sampled: found by the whole check
    assert not check(missed)
    assert not check([*keys[:-1], None])


def test_text_equal_to_a_known_distinct_array_is_distinct_and_other_text_is_still_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``spill.KnownDistinct``: text equal to an array found distinct is distinct without
    Arrow's hashing; text that differs anywhere (a repeat between equal ends) is hashed."""
    from logaudit.analyze import spill

    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    keys = [f"agent/{i}" for i in range(1000)]
    known = spill.KnownDistinct()
    first = pd.Index(pd.array(keys, dtype="str"))
    assert spill.distinct_text(first, known)
    # The same values in other chunks (another table's frames): no hashing.
    halves = pd.Index(pd.array(keys[:300], dtype="str")).append(
        pd.Index(pd.array(keys[300:], dtype="str"))
    )
    assert spill.distinct_text(halves, known)
    assert len(known._arrays) == 1  # found equal to the first, not hashed and added
    repeat = keys.copy()
    repeat[501] = keys[1]  # same length, same ends, not in the sample
    assert not spill.distinct_text(pd.Index(pd.array(repeat, dtype="str")), known)
    assert not spill.distinct_text(pd.Index(pd.array([*keys[:-1], None], dtype="str")), known)
    assert len(known._arrays) == 1
    known.clear()
    assert spill.distinct_text(halves, known)
    assert len(known._arrays) == 1  # forgotten: hashed again, and known again


@pytest.mark.parametrize("repeat", [False, True])
def test_accumulator_keeps_text_in_chunks_while_reading_and_joins_it_once_at_the_end(
    monkeypatch: pytest.MonkeyPatch, repeat: bool
) -> None:
    """While reading, a compaction of all-distinct text keys keeps the frames' Arrow chunks
    (no copy of every key per compaction); the last merge joins each text once, the agents
    index and the visitors agent level still sharing it, and every table equals the merge of
    all the frames at once."""
    from logaudit.analyze import base, spill
    from logaudit.enrich.agents import COLUMNS

    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    monkeypatch.setattr(base, "SHARE_ROWS", 10)
    monkeypatch.setattr(base, "COMPACT_ROWS", 40)
    rng = np.random.default_rng(11)
    sizes = (30, 25, 50, 45, 60, 20, 70)
    names = [[f"Agent/{k}.{i}" for i in range(n)] for k, n in enumerate(sizes)]
    if repeat:
        names[5][3] = names[1][2]
    tables = {n: TABLES[n] for n in ("visitors", "agents", "paths")}
    partials = []
    for agents in names:
        n = len(agents)
        index = pd.MultiIndex.from_arrays(
            [pd.Index([f"10.{i}" for i in range(n)], dtype="str"), pd.Index(agents, dtype="str")],
            names=["client", "agent"],
        )
        visitors = pd.DataFrame(
            {
                "hits": rng.integers(1, 5, n),
                "first": rng.integers(0, 1 << 40, n),
                "last": rng.integers(1 << 40, 1 << 41, n),
            },
            index=index,
        )
        classes = pd.DataFrame(
            {c: pd.Categorical([f"{c}{i % 3}" for i in range(n)]) for c in COLUMNS},
            index=pd.Index(agents, dtype="str", name="agent"),
        )
        paths = pd.DataFrame(
            {
                "hits": rng.integers(1, 5, n),
                "bytes": rng.integers(0, 1 << 40, n),
                "page_views": rng.integers(0, 3, n),
                "not_found": rng.integers(0, 2, n),
                "static": rng.random(n) < 0.5,
            },
            index=pd.Index([f"/p/{a}" for a in agents], dtype="str", name="path"),
        )
        partials.append({"visitors": visitors, "agents": classes, "paths": paths})

    chunks: list[int] = []

    def after(name: str, rows: int) -> None:
        for index in [acc.done[name].index, *getattr(acc.done[name].index, "levels", [])]:
            if index.dtype == "str":
                arr = pa.array(index.array)
                chunks.append(arr.num_chunks if isinstance(arr, pa.ChunkedArray) else 1)

    acc = Accumulator(tables, on_compact=after)
    for p in partials:
        acc.add(p)
    got = acc.result()
    assert max(chunks) > 1  # kept apart while reading
    for name, table in tables.items():
        want = table.combine([p[name] for p in partials])
        pd.testing.assert_frame_equal(got[name], want)
        for index in [got[name].index, *getattr(got[name].index, "levels", [])]:
            if index.dtype == "str":
                assert isinstance(pa.array(index.array), pa.Array)  # one chunk
    if not repeat:
        a = pa.array(got["agents"].index.array)
        v = pa.array(got["visitors"].index.levels[1].array)
        assert a.buffers()[2].address == v.buffers()[2].address
    assert not acc.known._arrays  # nothing held past the run


@pytest.mark.parametrize("check", [10, 1 << 40])
@pytest.mark.parametrize("shuffled", [False, True])
def test_a_level_new_on_every_row_groups_each_row_alone_as_the_group_by_did(
    monkeypatch: pytest.MonkeyPatch, check: int, shuffled: bool
) -> None:
    """Every agent new, clients repeating (a botnet): each row is its own group without a hash
    table of every tuple (``_first_appearance``, the level as long as the rows), and the
    result is the group-by's, levels, codes and order included; a frame whose levels are not
    in order of its rows takes the hash table."""
    from logaudit.analyze import spill
    from logaudit.analyze.base import _first_appearance

    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", check)
    rng = np.random.default_rng(3)
    frames = []
    for k, n in enumerate((40, 1, 70, 25)):
        clients = [f"10.0.0.{i}" for i in rng.integers(0, 9, n)]
        agents = [f"Bot/{k}.{i}" for i in range(n)]
        index = pd.MultiIndex.from_arrays(
            [pd.Index(clients, dtype="str"), pd.Index(agents, dtype="str")],
            names=["client", "agent"],
        )
        if shuffled and n > 1:  # levels in another order than the rows'
            index = index.set_codes(index.codes[1][::-1], level=1).set_levels(
                index.levels[1][::-1], level=1
            )
        frames.append(
            pd.DataFrame(
                {"hits": rng.integers(1, 9, n), "first": rng.integers(0, 1 << 50, n)},
                index=index,
            )
        )
    assert_as_the_group_by(frames, {"hits": "sum", "first": "min"}, KEYS)
    # Past DISTINCT_CHECK_ROWS possible values (``check``: 10 here) by lookup tables.
    for values in ([3, 1, 3, 0], [0, 2, 5, 9], [4], [], [2, 2], [11, 0, 11, 3, 0, 7]):
        a = np.array(values, np.intp)
        for size in (max(values, default=0) + 1, 12):
            codes, uniques = _first_appearance(a, size)
            want_codes, want_uniques = pd.factorize(a, sort=False)
            assert codes.dtype == want_codes.dtype and uniques.dtype == want_uniques.dtype
            assert (codes == want_codes).all() and (uniques == want_uniques).all()


def test_the_last_merge_in_lanes_equals_one_by_one_and_starts_with_the_heaviest_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every table big (SERIAL_ROWS 0): the group table of most bytes is merged first and
    alone, the others two at a time, the union tables last; the tables are the ones merged
    one by one."""
    from logaudit.analyze import base

    monkeypatch.setattr(base, "SERIAL_ROWS", 0)
    monkeypatch.setattr(base, "LAST_LANES", 2)
    monkeypatch.setattr(base, "POOL_MIN_ROWS", 0)
    tables = {
        "small": Table("small", lambda c, s: c),
        "texty": Table("texty", lambda c, s: c),
        "nums": Table("nums", lambda c, s: c),
        "seen": Table("seen", lambda c, s: c, kind="distinct"),
    }
    order: list[str] = []
    accs = [Accumulator(tables), Accumulator(tables, on_compact=lambda n, r: order.append(n))]
    for i in range(6):
        partial = {
            "small": pd.DataFrame({"n": [i]}, index=pd.Index([i % 2], name="k")),
            "texty": pd.DataFrame(
                {"n": [i, 1]},
                index=pd.Index(["a" * 200, f"/p{i % 4}" + "x" * 300], dtype="str", name="p"),
            ),
            "nums": pd.DataFrame({"n": range(5)}, index=pd.Index(range(i, i + 5), name="k")),
            "seen": pd.DataFrame({"x": [i]}, index=pd.Index([i % 3], dtype="uint64")),
        }
        for acc in accs:
            acc.add(partial)
    one = accs[0].result()
    with ThreadPoolExecutor(2) as pool:
        two = accs[1].result(pool)
    assert order[0] == "texty" and order[-1] == "seen"
    assert set(one) == set(two)
    for name in one:
        pd.testing.assert_frame_equal(one[name], two[name])


def test_keys_after_known_distinct_chunks_are_checked_alone_and_against_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A compaction's keys are the last one's chunks (known distinct) and new ones: only the
    new are hashed, the old looked up among them (``KnownDistinct.prefix``); every answer is
    the full check's."""
    from logaudit.analyze import spill

    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)

    def index(values: list[str | None]) -> pd.Index:
        return pd.Index(pd.array(values, dtype="str"))

    old = index([f"a/{i}" for i in range(300)]).append(index([f"b/{i}" for i in range(200)]))
    known = spill.KnownDistinct()
    assert spill.distinct_text(old, known)
    new = [f"c/{i}" for i in range(100)]
    cases = {
        "new": (new, True),
        "repeats an old key": ([*new[:50], "b/7", *new[51:]], False),
        "repeats a new key": ([*new[:50], "c/3", *new[51:]], False),
        "missing": ([*new[:-1], None], False),
    }
    for name, (values, want) in cases.items():
        joined = old.append(index(values))
        arr = pa.array(joined.array)
        assert known.prefix(arr) == 500, name
        assert spill.distinct_text(joined, known) is want, name
        assert spill.distinct_text(joined) is want, name  # the full check agrees
    # The same values in other buffers are not a known prefix (the full check runs).
    copy = index([f"a/{i}" for i in range(300)]).append(index([f"b/{i}" for i in range(200)]))
    assert known.prefix(pa.array(copy.append(index(new)).array)) == 0


def test_text_kept_in_chunks_is_joined_past_max_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small frames of new keys (a glob of small inputs) do not leave a text key of as
    many chunks: past MAX_CHUNKS it is joined while reading too; the rows are the same."""
    from logaudit.analyze import base, spill

    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    monkeypatch.setattr(base, "MAX_CHUNKS", 4)
    frames = [
        pd.DataFrame(
            {"hits": [1, 2, 3]},
            index=pd.Index([f"/f{k}/{i}" for i in range(3)], dtype="str", name="path"),
        )
        for k in range(6)
    ]
    table = Table("t", lambda c, s: c)
    few = table.combine(frames[:4], join=False)
    assert pa.array(few.index.array).num_chunks == 4  # kept apart
    many = table.combine(frames, join=False)
    assert isinstance(pa.array(many.index.array), pa.Array)  # one chunk
    pd.testing.assert_frame_equal(many, table.combine(frames))


def test_categoricals_of_equal_dtypes_join_as_concatenation_did() -> None:
    """``_concat`` joins unordered categoricals without comparing their dtypes: frames with
    equal categories (separate dtype objects), one with its categories in another order, and
    ordered ones give what ``pd.concat`` (equal dtypes) or the union (the others) gave."""
    from pandas.api.types import union_categoricals

    from logaudit.analyze.base import _concat

    def frame(values: list[str], cats: list[str], ordered: bool = False) -> pd.DataFrame:
        col = pd.Categorical(values, categories=pd.Index(cats, dtype="str"), ordered=ordered)
        return pd.DataFrame({"c": col, "n": range(len(values))})

    equal = [frame(["a", "b"], ["a", "b", "z"]), frame(["z"], ["a", "b", "z"])]
    assert equal[0]["c"].dtype is not equal[1]["c"].dtype
    got = _concat(equal)
    pd.testing.assert_frame_equal(got, pd.concat(equal))
    assert got["c"].dtype == equal[0]["c"].dtype
    moved = [frame(["a", "b"], ["a", "b"]), frame(["b", "c"], ["c", "b"])]
    got = _concat(moved)
    assert list(got["c"].cat.categories) == ["a", "b", "c"]
    assert got["c"].tolist() == ["a", "b", "b", "c"]
    union = union_categoricals([f["c"].array for f in moved])
    assert (got["c"].array == union).all()
    ordered = [frame(["a"], ["a", "b"], True), frame(["b"], ["a", "b"], True)]
    got = _concat(ordered)
    pd.testing.assert_frame_equal(got, pd.concat(ordered))
    assert got["c"].dtype.ordered


def test_first_rows_are_each_values_first_row() -> None:
    """The merges' first-row lookup (written backwards, the last write wins) against
    np.unique's first indices, with repeats, with values no row holds, and at size 0."""
    from logaudit.analyze.base import _first_rows, _heads

    rng = np.random.default_rng(5)
    for n, size in ((0, 0), (1, 1), (50, 7), (5_000, 300), (200_000, 40_000)):
        ids = rng.integers(0, size, n) if size else np.zeros(0, np.int64)
        held, first = np.unique(ids, return_index=True)
        got = _first_rows(ids, size, missing=n)
        want = np.full(size, n, np.intp)
        want[held] = first
        np.testing.assert_array_equal(got, want)
        codes, _ = pd.factorize(ids, sort=False)
        groups = int(codes.max()) + 1 if n else 0
        firsts, rest, at = _heads(codes, groups)
        np.testing.assert_array_equal(np.sort(firsts), np.sort(first))
        assert int(rest.sum()) == n - groups
        np.testing.assert_array_equal(at, codes[rest])


def _joined(v: pd.DataFrame, table: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """``v`` with ``table`` joined as ``audience._joined`` joins each table: ``_attached``
    on the frame's columns, one frame made of them."""
    from logaudit.analyze.audience import _attached

    return pd.DataFrame(_attached({c: v[c].array for c in v.columns}, table, pos), copy=False)
