"""The per-block counting helpers against plain pandas group-bys: few keys taking most rows
(counted in lanes), many keys, masks, empty blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.base import LANES, count_by, count_small


def _block(rng: np.random.Generator, rows: int, keys: int, skew: bool) -> pd.DataFrame:
    p = None
    if skew:
        p = np.full(keys, 0.1 / max(keys - 1, 1))
        p[0] = 0.9 if keys > 1 else 1.0
        p /= p.sum()
    names = [f"/k{i}" for i in range(keys)]
    codes = rng.choice(keys, size=rows, p=p)
    cat = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(names, dtype="str")))
    return pd.DataFrame(
        {
            "key": cat,
            "bytes": rng.integers(0, 2_000_000, rows),
            "page": rng.random(rows) < 0.3,
        }
    )


def _expected(block: pd.DataFrame, mask: np.ndarray | None) -> pd.DataFrame:
    b = block if mask is None else block[mask]
    g = b.groupby("key", observed=True, sort=False)
    out = pd.DataFrame(
        {"hits": g.size(), "page_views": g["page"].sum(), "bytes": g["bytes"].sum()}
    ).astype(np.int64)
    out.index = out.index.astype("str")
    return out.sort_index()


@pytest.mark.parametrize(
    ("rows", "keys", "skew"),
    [
        (50_000, 4, True),
        (50_000, 1, True),
        (50_000, 900, True),
        (50_000, 5000, False),
        (30, 3, True),
    ],
)
@pytest.mark.parametrize("masked", [False, True])
def test_count_by_matches_a_group_by(rows: int, keys: int, skew: bool, masked: bool) -> None:
    rng = np.random.default_rng(rows + keys)
    block = _block(rng, rows, keys, skew)
    mask = rng.random(rows) < 0.5 if masked else None
    values = {
        "hits": None,
        "page_views": block["page"].to_numpy(),
        "bytes": block["bytes"].to_numpy(),
    }
    got = count_by(block, "key", values, mask)
    assert list(got.columns) == ["hits", "page_views", "bytes"]
    assert all(t == np.int64 for t in got.dtypes)
    assert got.index.name == "key"
    assert got.index.dtype == block["key"].cat.categories.dtype
    # Only keys seen, in category order.
    assert list(got.index) == sorted(got.index, key=list(block["key"].cat.categories).index)
    pd.testing.assert_frame_equal(got.sort_index(), _expected(block, mask), check_names=False)


@pytest.mark.parametrize("lo", [0, 100, 20_000])
def test_count_small_matches_a_group_by(lo: int) -> None:
    rng = np.random.default_rng(lo)
    rows = 40_000
    keys = lo + rng.choice([0, 4, 100, 103], size=rows, p=[0.7, 0.2, 0.05, 0.05])
    by = rng.integers(0, 10**6, rows)
    flag = rng.random(rows) < 0.4
    got = count_small(keys, {"hits": None, "page_views": flag, "bytes": by}, "day")
    frame = pd.DataFrame({"k": keys, "page_views": flag, "bytes": by})
    g = frame.groupby("k")
    want = pd.DataFrame(
        {"hits": g.size(), "page_views": g["page_views"].sum(), "bytes": g["bytes"].sum()}
    ).astype(np.int64)
    want.index = want.index.astype(np.int64).rename("day")
    pd.testing.assert_frame_equal(got, want)


def test_count_small_of_nothing_and_one_key() -> None:
    empty = count_small(np.array([], np.int64), {"hits": None}, "status")
    assert empty.empty and list(empty.columns) == ["hits"]
    one = count_small(np.full(LANES * 100, 7, np.int64), {"hits": None}, "hour")
    assert one.index.tolist() == [7] and one["hits"].tolist() == [LANES * 100]


def _agents_chunk(agents: list[str], classes: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agent": pd.Categorical(agents, categories=pd.Index(sorted(set(agents)), dtype="str")),
            "agent_class": pd.Categorical(
                classes, categories=pd.Index(["person", "crawler", "tool"], dtype="str")
            ),
        }
    )


BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def test_agents_table_keeps_the_class_the_hits_were_given() -> None:
    """A format that logs no agent gives every hit the person class: the agents table says so
    for the empty agent (a tool to the classifier); where the classes agree nothing changes."""
    from logaudit.analyze.audience import t_agents
    from logaudit.config import Settings

    s = Settings()
    none = t_agents(_agents_chunk(["", "", FIREFOX], ["person"] * 3), s)
    assert none.loc["", "agent_class"] == "person" and none.loc["", "device"] == "other"
    assert none.loc[FIREFOX, "agent_class"] == "person"
    agree = t_agents(_agents_chunk([BOT, FIREFOX, BOT], ["crawler", "person", "crawler"]), s)
    assert agree.loc[BOT, "agent_class"] == "crawler" and agree.loc[BOT, "crawler"] != ""
    assert isinstance(agree["browser"].dtype, pd.CategoricalDtype)
    assert list(agree.index) == [BOT, FIREFOX] or list(agree.index) == [FIREFOX, BOT]


def test_enricher_adds_its_columns_in_order_and_keeps_attrs(tmp_path: object) -> None:
    """The enriched columns follow the parsed ones in their documented order, with the
    dtypes the tables read, and the chunk's attrs (the span before --since/--until) stay."""
    import datetime as dt

    from logaudit.config import Settings
    from logaudit.enrich.classify import Enricher

    n = 6
    when = pd.Series(pd.to_datetime(["2026-01-01 10:00:00"] * n)).astype("datetime64[s]")
    strs = pd.CategoricalDtype(pd.Index(["/", "/a.css", "/api/x"], dtype="str"))
    chunk = pd.DataFrame(
        {
            "time": when.dt.tz_localize("UTC"),
            "local": when,
            "client": pd.Categorical(
                ["1.2.3.4"] * n, categories=pd.Index(["1.2.3.4"], dtype="str")
            ),
            "path": pd.Categorical.from_codes([0, 1, 2, 0, 1, 2], dtype=strs),
            "status": np.array([200, 200, 200, 304, 404, 203], np.int16),
            "agent": pd.Categorical([FIREFOX, FIREFOX, BOT, BOT, FIREFOX, FIREFOX]),
        }
    )
    s = Settings(since=dt.datetime(2025, 1, 1))
    out = Enricher(s).apply(chunk.copy())
    added = ["is_static", "is_page", "agent_class", "person", "visitor", "day", "hour"]
    assert list(out.columns) == [*chunk.columns, *added]
    assert [str(out[c].dtype) for c in added] == [
        "bool",
        "bool",
        "category",
        "bool",
        "uint64",
        "int32",
        "int8",
    ]
    assert out["is_page"].tolist() == [True, False, False, True, False, False]
    assert out["is_static"].tolist() == [False, True, False, False, True, False]
    assert out["agent_class"].tolist()[2:4] == ["crawler", "crawler"]
    assert "span_local" in out.attrs


def test_count_by_index_is_one_arrow_array_when_categories_are_chunked() -> None:
    """A block whose categories come in several Arrow chunks (an empty one first, from the
    exact path) still gives an index that reads as one Arrow array (referrers.site_of needs
    it): a take of every category kept the chunks."""
    import pyarrow as pa

    from logaudit.analyze.referrers import site_of

    urls = ["https://a.example/x", "-", "https://www.b.example/y"]
    cats = pd.Index(pd.array(pa.chunked_array([[], urls], type=pa.large_string()), dtype="str"))
    assert cats.array._pa_array.num_chunks == 2
    codes = [2, 2, 0, 1]
    block = pd.DataFrame(
        {"referrer": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(cats))}
    )
    got = count_by(block, "referrer", {"hits": None})
    assert isinstance(pa.array(got.index.array), pa.Array)
    assert got["hits"].tolist() == [1, 1, 2] and list(got.index) == urls
    assert site_of(got.index)["site"].tolist() == ["a.example", "", "b.example"]
