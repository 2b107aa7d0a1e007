"""The last merge of a small run stays on this thread (``base.POOL_MIN_ROWS``), and the
group tables keyed by one integer or text index fold as the group-by did (``_by_text`` with
``ints``)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logaudit.analyze import base
from logaudit.analyze.base import Accumulator, Table


class _CountingPool(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(2)
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def _accumulator(rows: int) -> Accumulator:
    tables = {
        "hits": Table("hits", lambda c, s: c),
        "seen": Table("seen", lambda c, s: c, kind="distinct"),
    }
    acc = Accumulator(tables)
    for i in range(2):
        acc.add(
            {
                "hits": pd.DataFrame(
                    {"n": np.ones(rows, np.int64)}, index=pd.Index(np.arange(rows) + i, name="k")
                ),
                "seen": pd.DataFrame({"x": [i]}, index=pd.Index([i], dtype="uint64")),
            }
        )
    return acc


@pytest.mark.parametrize("least, used", [(10**9, False), (0, True)])
def test_the_pool_only_for_a_big_last_merge(
    monkeypatch: pytest.MonkeyPatch, least: int, used: bool
) -> None:
    monkeypatch.setattr(base, "POOL_MIN_ROWS", least)
    with _CountingPool() as pool:
        got = _accumulator(50).result(pool)
    assert (pool.submitted > 0) is used
    serial = _accumulator(50).result()
    for name in serial:
        pd.testing.assert_frame_equal(got[name], serial[name])


def _groupby(table: Table, frames: list[pd.DataFrame]) -> pd.DataFrame:
    both = pd.concat(frames)
    rules = {c: table.agg.get(c, "sum") for c in both.columns}
    g = both.groupby(level=0, sort=False)
    return g.sum() if all(r == "sum" for r in rules.values()) else g.agg(rules)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 9), st.integers(-5, 50), st.booleans()), max_size=12),
        min_size=2,
        max_size=4,
    ),
    st.sampled_from(["int64", "uint64", "str"]),
)
def test_one_key_group_tables_fold_as_the_group_by(
    parts: list[list[tuple[int, int, bool]]], key: str
) -> None:
    table = Table("t", lambda c, s: c, {"flag": "max", "low": "min"})
    frames = []
    for rows in parts:
        # A block's table holds each key once (what combine is given).
        rows = list({r[0]: r for r in rows}.values())
        keys = [r[0] for r in rows]
        index = (
            pd.Index([f"/k{k}" for k in keys], dtype="str", name="p")
            if key == "str"
            else pd.Index(np.array(keys, dtype=key), name="p")
        )
        frames.append(
            pd.DataFrame(
                {
                    "n": np.array([r[1] for r in rows], np.int64),
                    "low": np.array([r[1] for r in rows], np.int64),
                    "flag": np.array([r[2] for r in rows], bool),
                },
                index=index,
            )
        )
    if sum(len(f) for f in frames) == 0:
        return
    if sum(len(f) > 0 for f in frames) < 2:
        return  # one frame comes back as it is
    want = _groupby(table, [f for f in frames if len(f)])
    got = table.combine(frames)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("least, trims", [(10**9, False), (0, True)])
def test_a_small_last_merge_hands_no_pages_back(
    monkeypatch: pytest.MonkeyPatch, sample_logs: Path, least: int, trims: bool
) -> None:
    """Below POOL_MIN_ROWS the last merge and the run's end call no ``_release`` (glibc's
    malloc_trim on the system pool, 8-12 ms at 150,000 lines); above it, as before. The
    tables are the same either way."""
    from logaudit.analyze import SUMMARY_SECTIONS, tables_for
    from logaudit.config import load
    from logaudit.engine import local
    from logaudit.sources import Input

    monkeypatch.setattr(base, "POOL_MIN_ROWS", least)
    released: list[tuple[str, int]] = []
    monkeypatch.setattr(local, "_release", lambda name, rows: released.append((name, rows)))
    inputs = [Input(str(p), p) for p in sorted(sample_logs.glob("access.log*"))]
    tables = tables_for(SUMMARY_SECTIONS)
    got = local.run(inputs, load(), tables).partial
    assert bool(released) is trims
    monkeypatch.setattr(base, "POOL_MIN_ROWS", 10**9 - least)
    other = local.run(inputs, load(), tables).partial
    assert set(got) == set(other)
    for name in got:
        pd.testing.assert_frame_equal(got[name], other[name])
