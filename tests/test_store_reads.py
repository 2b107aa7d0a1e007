"""What a report reads of the store (branch year2): only the columns it needs, the movers' query
texts from the compared periods' days, and the distinct visitors per period by flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.campaigns import query_names
from logaudit.analyze.trends.series import _FLAG_PERIODS, _distinct_pairs
from logaudit.store import in_period, load, movers, store_tables, visitdays
from logaudit.store.layout import Layout
from tests.store_helpers import log_bytes, report


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
        assert names.index.is_unique
        # The keys those days' touch events hold: each named as the period's table names it.
        touch = load(
            layout, state, {"touch_events": store_tables()["touch_events"]},
            *(int(pd.Timestamp(d).timestamp()) // 86400 for d in (some[0][0], some[-1][0])),
        )["touch_events"]
        keys = pd.unique(touch["query_h"].to_numpy())
        assert len(keys) > 1
        want = period.reindex(keys)
        got = names.reindex(keys)
        pd.testing.assert_series_equal(got, want, check_names=False)
        # And no more than those days' texts.
        assert len(names) <= len(period)
    assert len(movers.names(layout, state, days)["queries"]) == len(period)
