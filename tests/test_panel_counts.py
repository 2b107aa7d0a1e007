"""The audience panels' counts by numpy (``audience._panel_counts``) against the group-by they
replace: the same groups, the same sums, whatever the codes (missing, unused categories)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logaudit.analyze import audience
from logaudit.analyze.base import Context
from logaudit.config import Settings
from logaudit.schema import categorical


def _groupby(people: pd.DataFrame, by: str) -> pd.DataFrame:
    return audience._text_keys(audience._panel_grouped(people, by))


def _people(codes: list[int], ncats: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(codes)
    cats = pd.Index([f"v{i:03d}" for i in range(ncats)], dtype="str")
    return pd.DataFrame(
        {
            "browser": categorical(np.array(codes, np.int8), cats),
            "people_hits": rng.integers(1, 50, n).astype(np.int64),
            "visitor_hits": rng.integers(0, 3, n).astype(np.int64),
            "page_views": rng.integers(0, 20, n).astype(np.int64),
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda k: st.tuples(st.just(k), st.lists(st.integers(-1, k - 1), min_size=1, max_size=60))
    ),
    st.integers(0, 1000),
)
def test_counts_are_the_groupbys(case: tuple[int, list[int]], seed: int) -> None:
    ncats, codes = case
    people = _people(codes, ncats, seed)
    got = audience._panel_counts(people, "browser")
    want = _groupby(people, "browser")
    if all(c < 0 for c in codes):
        assert got is None  # nothing to count: the group-by's own empty frame
        return
    assert got is not None
    # The group-by orders groups by first appearance, the counts by category: ranked() sorts
    # them by hits and key, so only the rows (and their dtypes) have to be the same.
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index())


def test_not_categorical_falls_back() -> None:
    people = _people([0, 1, 1], 2, 0).astype({"browser": "str"})
    assert audience._panel_counts(people, "browser") is None


@pytest.mark.parametrize("top", [0, 2])
def test_panel_rows_same_as_groupby(monkeypatch: pytest.MonkeyPatch, top: int) -> None:
    people = _people([2, 0, 2, 1, -1, 0, 3, 3, 3, 1], 5, 7)
    v = people.assign(os=people["browser"])
    ctx = Context(Settings(top=top))
    fast = audience._panel(v, ctx, "browser", "browsers", "Browsers", "os")
    monkeypatch.setattr(audience, "_panel_counts", lambda people, by: None)
    ctx = Context(Settings(top=top))
    slow = audience._panel(v, ctx, "browser", "browsers", "Browsers", "os")
    pd.testing.assert_frame_equal(fast.rows, slow.rows)
    assert fast.total_rows == slow.total_rows


def _crawler_rows(g: pd.DataFrame) -> pd.DataFrame:
    g = g.reset_index(level="agent_class").rename(columns={"agent_class": "kind"})
    return audience._text_keys(g).astype({"kind": "str"})


def _bots(rows: list[tuple[int, int, int]], hits: np.ndarray, size: np.ndarray) -> pd.DataFrame:
    """Robots' rows as the crawlers panel reads them: (crawler code, kind code, client) each."""
    crawlers = pd.Index(["", "Googlebot", "bingbot", "curl", "Zzz"], dtype="str")
    kinds = pd.Index(["crawler", "tool", "feed"], dtype="str")
    return pd.DataFrame(
        {
            "client": pd.array([f"10.0.0.{c}" for *_, c in rows], dtype="str"),
            "crawler": categorical(np.array([r[0] for r in rows], np.int8), crawlers),
            "agent_class": categorical(np.array([r[1] for r in rows], np.int8), kinds),
            "hits": hits,
            "bytes": size,
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 2), st.integers(0, 5)), min_size=1, max_size=50
    ),
    st.integers(0, 1000),
)
def test_crawler_counts_are_the_groupbys(rows: list[tuple[int, int, int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    bots = _bots(
        rows,
        rng.integers(1, 100, len(rows)).astype(np.int64),
        rng.integers(0, 10**12, len(rows)).astype(np.int64),
    )
    got = audience._crawler_counts(bots)
    assert got is not None
    want = bots.groupby(["crawler", "agent_class"], sort=False, observed=True).agg(
        hits=("hits", "sum"), bandwidth=("bytes", "sum"), clients=("client", "nunique")
    )
    # Rows, their order (ties in ranked() keep it) and dtypes as the panel reads them.
    pd.testing.assert_frame_equal(_crawler_rows(got), _crawler_rows(want))


def test_crawler_counts_exact_past_float() -> None:
    big = np.array([2**62, 3, 2**61], np.int64)
    bots = pd.DataFrame(
        {
            "client": pd.array(["a", "b", "a"], dtype="str"),
            "crawler": categorical(np.zeros(3, np.int8), pd.Index(["x"], dtype="str")),
            "agent_class": categorical(np.zeros(3, np.int8), pd.Index(["tool"], dtype="str")),
            "hits": np.ones(3, np.int64),
            "bytes": big,
        }
    )
    got = audience._crawler_counts(bots)
    assert got is not None
    assert int(got["bandwidth"].iloc[0]) == 2**62 + 3 + 2**61
    assert int(got["clients"].iloc[0]) == 2


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 2), st.integers(0, 5)), min_size=1, max_size=50
    ),
    st.integers(1, 10**6),
)
def test_crawler_table_is_the_old_chain(rows: list[tuple[int, int, int]], extra: int) -> None:
    """``_crawler_table`` against the share's Series arithmetic and the reset_index, rename
    and conversions it replaces: the same frame, column order, dtypes and index."""
    bots = _bots(
        rows, np.arange(1, len(rows) + 1, dtype=np.int64) * 7, np.arange(len(rows), dtype=np.int64)
    )
    got = audience._crawler_counts(bots)
    assert got is not None
    total = int(bots["hits"].sum()) + extra
    want = got.copy()
    want["share"] = (want["hits"] / np.int64(total)).round(4)
    pd.testing.assert_frame_equal(audience._crawler_table(got, total), _crawler_rows(want))


def _share_panel(hits: list[int]) -> tuple[pd.Series, pd.Series]:
    """A people panel's shares by key, and ``(hits / hits.sum()).round(4)`` for the same."""
    cats = pd.Index([f"v{i:03d}" for i in range(len(hits))], dtype="str")
    v = pd.DataFrame(
        {
            "browser": categorical(np.arange(len(hits), dtype=np.int16), cats),
            "people_hits": np.array(hits, np.int64),
            "visitor_hits": np.ones(len(hits), np.int64),
            "page_views": np.zeros(len(hits), np.int64),
        }
    )
    rows = audience._panel(v, Context(Settings(top=0)), "browser", "browsers", "Browsers").rows
    got = pd.Series(rows["share"].to_numpy(), index=rows["browser"].astype(str).to_numpy())
    want = pd.Series(np.array(hits, np.int64), index=list(cats))
    want = (want / want.sum()).round(4)
    return got.sort_index(), want.sort_index()


@pytest.mark.parametrize(
    "hits",
    [
        [12345, 87655],  # 0.12345 and 0.87655: ties at the fifth decimal
        [1, 2, 3, 4, 5, 6, 7],
        [1, 99999],
        [33335, 66665],
        [1] * 3,
        [125, 375, 500, 250_000_000],
    ],
)
def test_people_panel_share_rounds_as_the_series_did(hits: list[int]) -> None:
    got, want = _share_panel(hits)
    pd.testing.assert_series_equal(got, want, check_exact=True, check_names=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=40))
def test_people_panel_share_is_the_series_round(hits: list[int]) -> None:
    got, want = _share_panel(hits)
    pd.testing.assert_series_equal(got, want, check_exact=True, check_names=False)


@pytest.mark.parametrize(("by", "detail"), [("language", None), ("browser", "engine")])
def test_panel_key_not_in_panel_columns_raises(by: str, detail: str | None) -> None:
    """A panel's key or detail missing from PANEL_COLUMNS would be cut by ``_people`` and the
    panel would say "nothing to show": it raises instead."""
    people = _people([0, 1, 1], 2, 0)
    v = people.assign(language=people["browser"], engine=people["browser"])
    with pytest.raises(ValueError, match="PANEL_COLUMNS"):
        audience._panel(v, Context(Settings()), by, "x", "X", detail)
