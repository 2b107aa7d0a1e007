"""The rescued rows of a block joined to the CSV reader's (``parse._append``): the same table
as Arrow's ``unify_dictionaries().combine_chunks()`` gives, dictionaries in the same order."""

from __future__ import annotations

import pyarrow as pa
import pytest

from logaudit.parse import _append, _append_unified

DICT = pa.dictionary(pa.int32(), pa.string())


def _table(cols: dict[str, list[str]], plain: tuple[str, ...] = ()) -> pa.Table:
    return pa.table(
        {
            c: pa.array(v, pa.string()) if c in plain else pa.array(v, pa.string()).cast(DICT)
            for c, v in cols.items()
        }
    )


CASES = [
    # (reader's rows, rescued rows)
    (
        {"a": ["x", "y", "x"], "b": ["1", "2", "3"]},
        {"a": ["y", "z", "z", "w"], "b": ["9", "1", "3", "9"]},
    ),
    ({"a": ["x"], "b": ["1"]}, {"a": ["x"], "b": ["1"]}),
    ({"a": ["x", "y"], "b": ["1", "2"]}, {"a": [], "b": []}),
    ({"a": [], "b": []}, {"a": ["q", "q"], "b": ["", "-"]}),
]


@pytest.mark.parametrize(("mine", "rescued"), CASES)
@pytest.mark.parametrize("plain", [(), ("b",)])
def test_append_is_arrow_unification(
    mine: dict[str, list[str]], rescued: dict[str, list[str]], plain: tuple[str, ...]
) -> None:
    table = _table(mine, plain)
    extra = pa.table({c: pa.array(v, pa.large_string()) for c, v in rescued.items()})
    got = _append(table, extra, list(mine))
    want = _append_unified(table, extra, list(mine))
    assert got.schema == want.schema == table.schema
    for c in mine:
        g, w = got.column(c).chunk(0), want.column(c).chunk(0)
        if c in plain:
            assert g.to_pylist() == w.to_pylist()
        else:
            assert g.dictionary.to_pylist() == w.dictionary.to_pylist()
            assert g.indices.to_pylist() == w.indices.to_pylist()
        assert g.to_pylist() == mine[c] + rescued[c]


def test_a_null_in_the_rescued_rows_takes_arrow_unification() -> None:
    table = _table({"a": ["x", "y"]})
    extra = pa.table({"a": pa.array(["y", None], pa.large_string())})
    assert _append(table, extra, ["a"]).column("a").to_pylist() == ["x", "y", "y", None]
