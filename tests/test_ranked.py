"""``ranked`` cuts to the top N from the counts first, then sorts only the rows kept: the rows
and their order must be exactly those of sorting the whole table (by count descending, ties
by key, then by position), whatever the ties, duplicates or missing keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.traffic import ranked, top_positions
from logaudit.config import Settings


def full_sort(frame: pd.DataFrame, top: int, key: str, by: str) -> pd.DataFrame:
    """The old ``ranked``: sort the whole table, then cut."""
    f = frame.sort_index(kind="stable").sort_values([by], ascending=False, kind="stable")
    f = f.head(top)
    rows = f.reset_index(drop=True)
    rows.insert(0, key, [str(x) for x in f.index])
    return rows


def keys(rng: np.random.Generator, n: int, kind: str) -> pd.Index:
    if kind == "int":
        return pd.Index(rng.integers(0, n // 2 + 1, n))
    words = np.array(["/a", "/b", "/é", "/Z", "/a/1", "", "/\u4e2d", "/b?x=1", "/a b"])
    picked = [str(w) + str(i % 7) for w, i in zip(rng.choice(words, n), range(n), strict=True)]
    index = pd.Index(picked, dtype="str")
    if kind == "str-missing":
        index = pd.Index(np.where(rng.random(n) < 0.1, None, picked), dtype="str")
    return index


@pytest.mark.parametrize("kind", ["str", "str-missing", "int"])
@pytest.mark.parametrize("top", [1, 3, 10, 25])
@pytest.mark.parametrize("spread", [1, 2, 5, 1000])
def test_the_top_rows_and_their_order_are_those_of_a_full_sort(
    kind: str, top: int, spread: int
) -> None:
    rng = np.random.default_rng(top * 1000 + spread)
    for n in (top + 1, 40, 300):
        frame = pd.DataFrame(
            {"hits": rng.integers(1, spread + 1, n), "bytes": rng.integers(0, 9, n)},
            index=keys(rng, n, kind),
        )
        rows, total = ranked(frame, Settings(top=top), "path")
        assert total == n
        pd.testing.assert_frame_equal(rows, full_sort(frame, top, "path", "hits"))


def test_every_count_tied_takes_the_first_keys_in_text_order() -> None:
    # The all-distinct log: every path seen once, so the top N is the N first paths.
    frame = pd.DataFrame({"hits": np.ones(6, dtype=np.int64)},
                         index=pd.Index(["/c", "/a", "/é", "/B", "/b", "/a"], dtype="str"))
    assert list(frame.index[top_positions(frame, "hits", 3)]) == ["/a", "/B", "/a"]
    rows, _ = ranked(frame, Settings(top=3), "path")
    assert list(rows["path"]) == ["/B", "/a", "/a"]


def test_missing_counts_fall_back_to_the_full_sort() -> None:
    frame = pd.DataFrame({"hits": [1.0, np.nan, 3.0, 2.0]}, index=pd.Index(list("abcd")))
    assert list(top_positions(frame, "hits", 2)) == [0, 1, 2, 3]
    rows, _ = ranked(frame, Settings(top=2), "k")
    pd.testing.assert_frame_equal(rows, full_sort(frame, 2, "k", "hits"))


def test_a_two_level_key_sorts_its_tied_rows_as_pandas_does() -> None:
    index = pd.MultiIndex.from_tuples([("b", 1), ("a", 2), ("a", 1), ("c", 0), ("a", 1)])
    frame = pd.DataFrame({"hits": [2, 1, 1, 1, 1]}, index=index)
    rows, _ = ranked(frame, Settings(top=3), "k")
    pd.testing.assert_frame_equal(rows, full_sort(frame, 3, "k", "hits"))


@pytest.mark.parametrize("seed", range(6))
def test_least_keys_by_a_heap_match_sorting_every_tied_key(seed: int) -> None:
    """``_least_keys`` (Arrow's select_k) picks what sorting every tied key picks: distinct
    keys, repeated keys (where it steps aside for the stable sort), non-ASCII text."""
    from logaudit.analyze.traffic import _least_keys

    rng = np.random.default_rng(seed)
    n = 400
    pool = 300 if seed % 2 else 10**6
    words = [f"/p/{k}" if k % 5 else f"/é/{k}" for k in rng.integers(0, pool, n)]
    index = pd.Index(words, dtype="str")
    tied = np.sort(rng.choice(n, 250, replace=False)) if seed % 3 else np.arange(n)
    need = int(rng.integers(1, 60))
    got = _least_keys(index, tied, need)
    order = pd.Series(np.arange(len(tied)), index=index[tied]).sort_index(kind="stable")
    want = np.sort(tied[order.to_numpy()[:need]])
    if got is None:
        assert seed % 2  # only where keys repeat
    else:
        assert got.tolist() == want.tolist()
