"""Per-chunk keys shared between tables (analyze/blockkeys.py) are what each table computed
on its own, and are made again when the chunk's columns change."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze import blockkeys
from logaudit.analyze.base import hash_rows
from logaudit.analyze.traffic import distinct_rows
from logaudit.enrich.classify import hash_categories, visitor_key


def _cat(rng: np.random.Generator, rows: int, n: int, prefix: str) -> pd.Categorical:
    names = pd.Index([f"{prefix}{i}" for i in range(n)], dtype="str")
    return pd.Categorical.from_codes(rng.integers(0, n, rows), dtype=pd.CategoricalDtype(names))


def _chunk(rows: int = 20_000, days: int = 2, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = pd.DataFrame(
        {
            "client": _cat(rng, rows, 300, "10.0.0."),
            "agent": _cat(rng, rows, 40, "agent/"),
            "path": _cat(rng, rows, 2000, "/p"),
            "day": (20_000 + rng.integers(0, days, rows)).astype(np.int32),
        }
    )
    client, agent = hash_categories(c["client"].array), hash_categories(c["agent"].array)
    c["visitor"] = visitor_key(client, agent)
    return c


def test_row_hashes_are_hash_rows_and_fill_in() -> None:
    c = _chunk()
    rows = np.flatnonzero(np.arange(len(c)) % 3 == 0)
    first = blockkeys.row_hashes(c, "path", rows)
    assert (first == hash_rows(c["path"].array, rows)).all()
    more = np.arange(len(c))
    assert (blockkeys.row_hashes(c, "path", more) == hash_rows(c["path"].array, more)).all()
    assert len(blockkeys.row_hashes(c, "path", more[:0])) == 0


def test_a_replaced_column_is_derived_again() -> None:
    c = _chunk()
    rows = np.arange(len(c))
    before = blockkeys.row_hashes(c, "path", rows)
    c["path"] = pd.Categorical(["/other"] * len(c), categories=pd.Index(["/other"], dtype="str"))
    after = blockkeys.row_hashes(c, "path", rows)
    assert (after == hash_rows(c["path"].array, rows)).all() and (after != before).any()
    inv, uniq, _ = blockkeys.visitor_codes(c)
    c["agent"] = pd.Categorical(["one"] * len(c), categories=pd.Index(["one"], dtype="str"))
    inv2, uniq2, na2 = blockkeys.visitor_codes(c)
    assert na2 == 1 and len(uniq2) == len(c["client"].cat.categories.unique()) < len(uniq)


def test_memo_is_dropped_with_its_chunk() -> None:
    c = _chunk(rows=100)
    blockkeys.visitor_codes(c)
    key = id(c)
    assert key in blockkeys._memo
    del c
    gc.collect()
    assert key not in blockkeys._memo


@pytest.mark.parametrize("days", [1, 3])
def test_distinct_day_visitors_is_distinct_rows(days: int) -> None:
    c = _chunk(days=days)
    m = np.flatnonzero(np.arange(len(c)) % 5 != 0)
    day, visitor = c["day"].to_numpy()[m], c["visitor"].to_numpy()[m]
    got = blockkeys.distinct_day_visitors(c, m, day)
    assert got is not None
    first, counts = distinct_rows(day, visitor)
    assert (got[0] == first).all() and (got[1] == counts).all()
    empty = blockkeys.distinct_day_visitors(c, m[:0], day[:0])
    assert empty is not None and len(empty[0]) == len(empty[1]) == 0


def test_distinct_day_visitors_gives_up_past_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    c = _chunk(days=3)
    m = np.arange(len(c))
    monkeypatch.setattr(blockkeys, "DENSE_PAIRS", 10)
    assert blockkeys.distinct_day_visitors(c, m, c["day"].to_numpy()) is None
