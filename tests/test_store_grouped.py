"""``store.grouped.merged``: a text-keyed table's stored rows merged in Arrow are the frame
``merged_rows`` makes of them (the same groups, order, columns and dtypes), and None wherever
that is not plainly so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from logaudit.analyze import TABLES
from logaudit.analyze.base import Table, merged_rows
from logaudit.store.grouped import merged
from logaudit.store.layout import _frame, _parquet, _shape


def _table(agg: dict[str, str] | None = None, kind: str = "group") -> Table:
    # Named as a table merged here (grouped.ARROW_TABLES), with the rules given.
    return Table("paths", lambda c, s: pd.DataFrame(), agg or {}, kind=kind)


def _stored(frames: list[pd.DataFrame]) -> pa.Table:
    """The frames as the store writes them and ``Layout.read_arrow`` reads them back: one
    Parquet file each, concatenated, with the first file's footer keys."""
    parts = [pq.read_table(pa.BufferReader(_parquet(f)[0])) for f in frames]
    both = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in parts], promote_options="permissive"
    )
    return both.replace_schema_metadata(parts[0].schema.metadata)


def _paths(rng: np.random.Generator, n: int, distinct: int) -> pd.DataFrame:
    index = pd.Index([f"/p{k}" for k in rng.integers(0, distinct, n)], dtype="str", name="path")
    index = index.drop_duplicates()  # one row per path in each entry, as stored
    m = len(index)
    return pd.DataFrame(
        {
            "hits": rng.integers(0, 1000, m),
            "bytes": rng.integers(0, 10**9, m),
            "page_views": rng.integers(0, 50, m),
            "not_found": rng.integers(0, 3, m),
            "static": rng.integers(0, 2, m).astype(bool),
        },
        index=index,
    )


def _as_before(table: Table, rows: pa.Table) -> pd.DataFrame:
    return merged_rows(table, _frame(rows, _shape(rows)))


@pytest.mark.parametrize("seed", range(4))
def test_paths_of_many_entries_merge_as_merged_rows_does(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Enough rows and repeats that Arrow's own group order is not the first appearance.
    entries = [_paths(rng, int(rng.integers(1, 60_000)), 80_000) for _ in range(5)]
    rows = _stored(entries)
    got = merged(TABLES["paths"], rows)
    assert got is not None
    assert_frame_equal(got, _as_before(TABLES["paths"], rows), check_exact=True)
    assert got.index.dtype == "str" and list(got.dtypes) == [np.int64] * 4 + [np.bool_]


def test_min_max_rules_and_all_distinct_keys_merge_as_merged_rows_does() -> None:
    rng = np.random.default_rng(7)
    table = _table({"lo": "min", "hi": "max", "any": "max", "all": "min"})
    for distinct in (3, 10**9):  # many repeats; every key once
        frames = []
        for _ in range(3):
            index = pd.Index([f"k{k}" for k in rng.integers(0, distinct, 500)], name="key")
            index = index.drop_duplicates()
            m = len(index)
            frames.append(
                pd.DataFrame(
                    {
                        "n": rng.integers(-5, 5, m),
                        "lo": rng.integers(-100, 100, m),
                        "hi": rng.integers(-100, 100, m),
                        "any": rng.integers(0, 2, m).astype(bool),
                        "all": rng.integers(0, 2, m).astype(bool),
                    },
                    index=index,
                )
            )
        rows = _stored(frames)
        got = merged(table, rows)
        assert got is not None
        assert_frame_equal(got, _as_before(table, rows), check_exact=True)


def test_none_where_the_rules_are_not_plainly_the_same() -> None:
    rng = np.random.default_rng(3)
    index = pd.Index([f"/p{k}" for k in range(40)], dtype="str", name="path")

    def frame(**cols: object) -> pd.DataFrame:
        return pd.DataFrame(cols, index=index)

    ints = rng.integers(0, 9, 40)
    cases = [
        (_table(), [frame(x=ints.astype(np.uint32))] * 2),  # not 64-bit integers
        (_table(), [frame(x=ints.astype(np.int32))] * 2),  # Arrow would sum to int64
        (_table(), [frame(x=rng.normal(size=40))] * 2),  # a float sum
        (_table(), [frame(x=ints.astype(bool))] * 2),  # flags summed
        (_table({"x": "first"}), [frame(x=ints)] * 2),
        (_table(kind="distinct"), [frame(x=ints)] * 2),
        (_table(), [frame(x=pd.array(ints, dtype="Int64"))] * 2),  # an extension dtype
        (_table(), [frame(x=pd.array([None, *ints[1:]], dtype="Int64"))] * 2),
        (_table(), [pd.DataFrame({"x": ints}, index=pd.Index(ints, name="n"))] * 2),  # not text
        (_table(), [frame(x=ints).iloc[:1]]),  # one row: nothing to merge
    ]
    with_null = pd.Index([None, *index[1:]], dtype="str", name="path")
    cases.append((_table(), [pd.DataFrame({"x": ints}, index=with_null)] * 2))
    two = pd.MultiIndex.from_arrays([index, ints], names=["path", "n"])
    cases.append((_table(), [pd.DataFrame({"x": ints}, index=two)] * 2))
    for table, frames in cases:
        assert merged(table, _stored(frames)) is None, (table, frames[0].dtypes)


def test_an_entry_without_a_column_is_merged_as_before() -> None:
    """An older entry lacking a column (``not_found`` before it was stored) reads back with
    nulls in it: merged_rows folds those to float; the Arrow path must not give int64."""
    rng = np.random.default_rng(7)
    new = _paths(rng, 500, 300)
    old = _paths(rng, 500, 300).drop(columns=["not_found"])
    rows = _stored([old, new])
    assert rows.column("not_found").null_count  # the case: nulls from the missing column
    got = merged(TABLES["paths"], rows)
    want = _as_before(TABLES["paths"], rows)
    if got is not None:
        assert_frame_equal(got, want, check_exact=True)


def test_a_key_named_like_an_aggregate_falls_back() -> None:
    """Arrow names an aggregate ``COLUMN_RULE``: a text key of that name would collide."""
    frame = pd.DataFrame(
        {"hits": [1, 2, 3]}, index=pd.Index(["a", "b", "a"], dtype="str", name="hits_sum")
    )
    rows = _stored([frame.iloc[:2], frame.iloc[2:]])
    assert merged(_table(), rows) is None  # no KeyError: the caller merges as before
    named = frame.rename_axis("first_row_min")  # the row numbers' own aggregate
    assert merged(_table(), _stored([named.iloc[:2], named.iloc[2:]])) is None


def test_only_the_tables_where_it_wins_are_merged_here() -> None:
    """referrers (most keys distinct) is merged as a DataFrame: Arrow's fold then ordering was
    3x slower there; the frame is the same either way."""
    rng = np.random.default_rng(11)
    frame = _paths(rng, 400, 300).rename_axis("referrer")[["hits"]]
    rows = _stored([frame, frame])
    assert merged(TABLES["referrers"], rows) is None
    assert merged(_table(), rows) is not None
