"""``merged_rows`` (one frame's rows merged among themselves) is ``Table.combine`` of the
frame split in two, for every kind of table the store merges that way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from logaudit.analyze.base import Table, _by_text, merged_rows


def _table(kind: str = "group", agg: dict[str, str] | None = None) -> Table:
    return Table("t", lambda c, s: pd.DataFrame(), agg or {}, kind=kind)


def _texts(rng: np.random.Generator, n: int, distinct: int) -> pd.Index:
    return pd.Index([f"/p{k}" for k in rng.integers(0, distinct, n)], dtype="str", name="path")


def _same(table: Table, f: pd.DataFrame) -> None:
    want = table.combine([f.iloc[:1], f.iloc[1:]])
    assert_frame_equal(merged_rows(table, f), want, check_dtype=True, check_index_type=True)


TEXT_CASES = {
    # paths: hits summed, static by max (a flag)
    "paths": ({"static": "max"}, {"hits": np.int64, "bytes": np.int64, "static": bool}),
    "min_max": (
        {"first": "min", "last": "max", "lo": "min", "hi": "max", "all": "min"},
        {"first": np.int64, "last": np.int64, "lo": float, "hi": float, "all": bool},
    ),
    "narrow": ({"m": "max"}, {"n": np.int32, "m": np.int16}),
}


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
@pytest.mark.parametrize("seed", range(6))
def test_text_keyed_equals_combine(case: str, seed: int) -> None:
    agg, cols = TEXT_CASES[case]
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    distinct = int(rng.choice([1, 5, n, 10 * n]))
    index = _texts(rng, n, distinct)
    data = {}
    for c, dt in cols.items():
        if dt is bool:
            data[c] = rng.integers(0, 2, n).astype(bool)
        elif dt is float:
            data[c] = rng.normal(size=n) * 1e6
        else:
            data[c] = rng.integers(-1000, 1000, n).astype(dt)
    f = pd.DataFrame(data, index=index)
    table = _table(agg=agg)
    assert _by_text(table, f) is not None  # the fast path is the one compared
    _same(table, f)


def test_text_keyed_falls_back_where_the_fold_differs() -> None:
    rng = np.random.default_rng(1)
    index = _texts(rng, 50, 7)
    nan = rng.normal(size=50)
    nan[::3] = np.nan
    cases = [
        (_table(agg={"x": "max"}), pd.DataFrame({"x": nan}, index=index)),  # max skips NaN
        (_table(), pd.DataFrame({"x": rng.normal(size=50)}, index=index)),  # float sum
        (_table(), pd.DataFrame({"x": rng.integers(0, 2, 50).astype(bool)}, index=index)),
        (_table(), pd.DataFrame({"x": rng.integers(0, 9, 50).astype(np.uint32)}, index=index)),
        (_table(agg={"x": "first"}), pd.DataFrame({"x": rng.integers(0, 9, 50)}, index=index)),
    ]
    with_missing = pd.Index(list(index[:-1]) + [None], dtype="str", name="path")
    cases.append((_table(), pd.DataFrame({"x": rng.integers(0, 9, 50)}, index=with_missing)))
    for table, f in cases:
        assert _by_text(table, f) is None
        _same(table, f)


@pytest.mark.parametrize("seed", range(4))
def test_other_kinds_equal_combine(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    k = int(rng.choice([3, n, 4 * n]))
    clients = [f"10.0.0.{v}" for v in rng.integers(0, k, n)]
    agents = [f"ua{v}" for v in rng.integers(0, 3, n)]
    visitors = pd.DataFrame(
        {
            "hits": rng.integers(0, 50, n),
            "first": rng.integers(0, 10**6, n),
            "last": rng.integers(0, 10**6, n),
            "visitor": rng.integers(0, 10**9, n),
        },
        index=pd.MultiIndex.from_arrays([clients, agents], names=["client", "agent"]),
    )
    _same(_table(agg={"first": "min", "last": "max", "visitor": "max"}), visitors)
    # visitor_days: keyed by (day, visitor), numeric levels
    days = pd.DataFrame(
        {"hits": rng.integers(0, 50, n)},
        index=pd.MultiIndex.from_arrays(
            [rng.integers(0, 3, n), rng.integers(0, k, n)], names=["day", "visitor"]
        ),
    )
    _same(_table(), days)
    # integer-keyed group tables (hours, status)
    _same(
        _table(),
        pd.DataFrame(
            {"n": rng.integers(0, 9, n)}, index=pd.Index(rng.integers(0, 5, n), name="status")
        ),
    )
    # distinct and concat kinds
    keys = _texts(rng, n, k)
    _same(_table("distinct"), pd.DataFrame({"v": rng.integers(0, 9, n)}, index=keys))
    _same(_table("concat"), pd.DataFrame({"v": rng.integers(0, 9, n)}, index=keys))
