"""The merges of per-visitor tables without hash tables or whole-table copies (issue #18, mem13):
each shortcut gives exactly what the pandas way it replaces gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from merge_helpers import assert_as_the_group_by

from logaudit.analyze import spill
from logaudit.analyze.base import (
    Accumulator,
    Table,
    _by_group_columns,
    _combine_by_level_codes,
)
from logaudit.analyze.spill import distinct_ints

RULES = {"hits": "sum", "first": "min", "last": "max"}


def _days(rng: np.random.Generator, rows: int, visitors: np.ndarray, days: int) -> pd.DataFrame:
    """A ``visitor_days``-like frame: (day, visitor hash) keys, each level sorted, rows in
    their own order."""
    day = rng.integers(20_000, 20_000 + days, rows).astype(np.int32)
    visitor = rng.choice(visitors, rows, replace=days > 1)
    index = pd.MultiIndex.from_arrays([day, visitor], names=["day", "visitor"])
    index = index[~index.duplicated()]
    index = pd.MultiIndex.from_arrays(
        [index.get_level_values(0), index.get_level_values(1)], names=["day", "visitor"]
    )
    n = len(index)
    return pd.DataFrame(
        {
            "hits": rng.integers(1, 9, n),
            "first": rng.integers(0, 1 << 50, n),
            "last": rng.integers(0, 1 << 50, n),
        },
        index=index,
    )


@pytest.mark.parametrize("check", [10, 1 << 40])
@pytest.mark.parametrize("repeats", [False, True])
def test_integer_levels_merge_as_the_group_by_did(
    monkeypatch: pytest.MonkeyPatch, check: int, repeats: bool
) -> None:
    """Numeric levels (visitor_days): visitor hashes all distinct across frames (every client
    new) or repeating, with the distinct check and lookup-table renumbering on (``check`` 10)
    or off: the group-by's values, levels, level order and codes."""
    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", check)
    monkeypatch.setattr(spill, "DISTINCT_SAMPLE", 7)
    rng = np.random.default_rng(11)
    pool = rng.integers(0, 1 << 63, 400, dtype=np.uint64) | np.uint64(1 << 63)
    frames = []
    for k, rows in enumerate((60, 1, 90, 35)):
        if repeats:
            frames.append(_days(rng, rows, pool, 3))
        else:  # one day: each visitor in one frame only
            frames.append(_days(rng, rows, pool[k * 100 : (k + 1) * 100], 1))
    assert_as_the_group_by(frames, RULES, ["day", "visitor"])


def test_distinct_ints_says_distinct_only_when_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    monkeypatch.setattr(spill, "DISTINCT_SAMPLE", 5)
    values = np.arange(100, dtype=np.uint64) * np.uint64(7919)
    assert distinct_ints(pd.Index(values))
    assert distinct_ints(pd.Index(values.astype(np.int64)[::-1]))
    for at in (0, 1, 50, 98):  # a repeat the evenly spaced sample misses, or not
        twice = values.copy()
        twice[at] = values[at + 1]
        assert not distinct_ints(pd.Index(twice))
    assert not distinct_ints(pd.Index(values[:9]))  # too few to check: as before
    assert not distinct_ints(pd.Index(values.astype(np.int32)))
    assert not distinct_ints(pd.Index([f"v{i}" for i in range(100)], dtype="str"))


def _visitors(rng: np.random.Generator, start: int, rows: int) -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays(
        [
            pd.Index([f"10.{i // 250}.{i % 250}" for i in range(start, start + rows)], dtype="str"),
            pd.Index([f"agent/{i}" for i in rng.integers(0, 5, rows)], dtype="str"),
        ],
        names=["client", "agent"],
    )
    cols = {
        "hits": rng.integers(1, 9, rows),
        "first": rng.integers(0, 1 << 50, rows),
        "last": rng.integers(0, 1 << 50, rows),
    }
    return pd.DataFrame(cols, index=index, copy=False)  # one block per column


@pytest.mark.parametrize("overlap", [0, 20])
def test_a_consumed_frame_gives_the_same_merge_and_loses_its_columns(overlap: int) -> None:
    rng = np.random.default_rng(5)
    frames = [_visitors(rng, 0, 80), _visitors(rng, 80 - overlap, 50)]
    want = _combine_by_level_codes(frames, RULES)
    copies = [f.copy() for f in frames]
    got = _combine_by_level_codes(copies, RULES, consume=copies[0])
    assert want is not None and got is not None
    pd.testing.assert_frame_equal(got, want)
    assert list(copies[0].columns) == [] and len(copies[0]) == 80
    pd.testing.assert_frame_equal(copies[1], frames[1])  # only the consumed one
    n = len(frames[0]) + len(frames[1])
    ids = np.arange(n)
    again = [f.copy() for f in frames]
    plain = _by_group_columns(again, ids, n, RULES)
    consumed = _by_group_columns(again, ids, n, RULES, consume=again[1])
    assert plain is not None and consumed is not None
    pd.testing.assert_frame_equal(consumed, plain)


def test_the_accumulator_consumes_only_its_own_merged_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A table given to ``put`` or handed out by ``result`` is never changed by a later
    compaction; one the accumulator merged itself is, and every result is the same."""
    from logaudit.analyze import base

    monkeypatch.setattr(base, "COMPACT_ROWS", 10)
    tables = {"visitors": Table("visitors", lambda c, s: c, dict(RULES))}
    rng = np.random.default_rng(9)
    parts = [_visitors(rng, 40 * k, 40) for k in range(6)]
    want = _combine_by_level_codes([p.copy() for p in parts], RULES)
    assert want is not None

    given = parts[0].copy()
    acc = Accumulator(tables)
    acc.put("visitors", given)
    for p in parts[1:3]:
        acc.add({"visitors": p.copy()})
    first = acc.result()["visitors"]
    held = first.copy()
    for p in parts[3:]:
        acc.add({"visitors": p.copy()})
    got = acc.result()["visitors"]
    pd.testing.assert_frame_equal(given, parts[0])  # put's frame as it was given
    pd.testing.assert_frame_equal(first, held)  # the first result as it was handed out
    pd.testing.assert_frame_equal(got, want)

    # Merged by the accumulator and not handed out: its columns go as the next merge builds.
    acc = Accumulator(tables)
    seen: list[pd.DataFrame] = []
    for p in parts:
        acc.add({"visitors": p.copy()})
        seen.append(acc.done["visitors"])
    got = acc.result()["visitors"]
    pd.testing.assert_frame_equal(got, want)
    assert any(len(f) and not len(f.columns) for f in seen)

    # One frame added past COMPACT_ROWS is handed back by combine as it is and kept as the
    # merged table: it is still the caller's, and the next compaction must not empty it.
    acc = Accumulator(tables)
    caller = parts[0].copy()
    acc.add({"visitors": caller})
    for p in parts[1:]:
        acc.add({"visitors": p.copy()})
    pd.testing.assert_frame_equal(acc.result()["visitors"], want)
    pd.testing.assert_frame_equal(caller, parts[0])
