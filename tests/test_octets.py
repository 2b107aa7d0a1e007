"""logaudit.octets: one byte value counted, found and located a slice at a time, the same
answers as numpy over the whole array, at and across slice boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from logaudit import octets


@pytest.mark.parametrize(
    "size", [0, 1, octets.STEP - 1, octets.STEP, octets.STEP + 1, 3 * octets.STEP + 17]
)
def test_same_answers_as_whole_array(size: int) -> None:
    rng = np.random.default_rng(size)
    data = rng.integers(0, 256, size, dtype=np.uint8)
    for value in (10, 92, 13):
        assert octets.count(data, value) == np.count_nonzero(data == value)
        assert octets.present(data, value) == bool((data == value).any())
        got = octets.where(data, value)
        assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero(data == value))
    each = octets.where_each(data, (10, 92, 13))
    for value, got in zip((10, 92, 13), each, strict=True):
        assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero(data == value))


def test_value_only_at_slice_edges() -> None:
    data = np.zeros(2 * octets.STEP + 5, np.uint8)
    edges = [octets.STEP - 1, octets.STEP, 2 * octets.STEP + 4]
    data[edges] = 13
    assert octets.count(data, 13) == 3 and octets.present(data, 13)
    assert octets.where(data, 13).tolist() == edges
    assert not octets.present(data, 10) and octets.where(data, 10).tolist() == []
    assert [w.tolist() for w in octets.where_each(data, (13, 10))] == [edges, []]


@pytest.mark.parametrize("at", [None, 0, octets.STEP - 1, octets.STEP, 2 * octets.STEP + 5])
def test_where_each_reports_non_ascii_in_any_slice(at: int | None) -> None:
    data = np.full(2 * octets.STEP + 6, 65, np.uint8)
    data[[3, octets.STEP + 1]] = 92
    if at is not None:
        data[at] = 200
    found, ascii_only = octets.where_each(data, (92, 13), ascii=True)
    assert ascii_only == (at is None)
    assert [f.tolist() for f in found] == [[3, octets.STEP + 1], []]
    assert [f.tolist() for f in octets.where_each(data, (92, 13))] == [f.tolist() for f in found]
