"""The merges of per-visitor tables without hash tables or whole-table copies (issue #18, mem13):
each shortcut gives exactly what the pandas way it replaces gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze import spill
from logaudit.analyze.base import _combine_by_level_codes, _distinct_ints

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
    got = _combine_by_level_codes(frames, RULES)
    both = pd.concat([f.reset_index() for f in frames], ignore_index=True)
    want = both.groupby(["day", "visitor"], sort=False).agg(RULES)
    assert got is not None
    pd.testing.assert_frame_equal(got, want)
    for k in range(2):
        assert got.index.levels[k].equals(want.index.levels[k])
        assert got.index.levels[k].dtype == want.index.levels[k].dtype
        assert (got.index.codes[k] == want.index.codes[k]).all()


def test_distinct_ints_says_distinct_only_when_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    monkeypatch.setattr(spill, "DISTINCT_SAMPLE", 5)
    values = np.arange(100, dtype=np.uint64) * np.uint64(7919)
    assert _distinct_ints(pd.Index(values))
    assert _distinct_ints(pd.Index(values.astype(np.int64)[::-1]))
    for at in (0, 1, 50, 98):  # a repeat the evenly spaced sample misses, or not
        twice = values.copy()
        twice[at] = values[at + 1]
        assert not _distinct_ints(pd.Index(twice))
    assert not _distinct_ints(pd.Index(values[:9]))  # too few to check: as before
    assert not _distinct_ints(pd.Index(values.astype(np.int32)))
    assert not _distinct_ints(pd.Index([f"v{i}" for i in range(100)], dtype="str"))
