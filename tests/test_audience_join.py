"""The audience join (``audience._joined``), made as one frame of its columns, against the
``reset_index`` and ``_attach`` per joined table it replaced: the same frame, its columns'
order, dtypes and categories (their order of first appearance), with agents the agents
table lacks and places of every kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from geo_helpers import write_asn, write_city

from logaudit.analyze import audience
from logaudit.analyze.base import Context
from logaudit.config import Settings
from logaudit.enrich.geo import GeoDatabases, GeoLookup, lookup_coded
from logaudit.schema import categorical


def _partial(missing_agent: bool) -> dict[str, pd.DataFrame]:
    clients = pd.Index(
        ["10.0.0.1", "81.2.69.142", "::1", "2001:218::1", "127.0.0.1", "x"], dtype="str"
    )
    agents = pd.Index(["curl/8", "Mozilla/5.0 (X11; Linux) Firefox/120.0", "Googlebot/2.1"],
                      dtype="str")
    ccodes = np.array([0, 1, 2, 3, 4, 5, 1, 0], np.int8)
    acodes = np.array([0, 1, 2, 1, 0, 2, 2, 1], np.int8)
    n = len(ccodes)
    v = pd.DataFrame(
        {
            "hits": np.arange(1, n + 1, dtype=np.int64),
            "people_hits": np.arange(n, dtype=np.int64),
            "visitor_hits": np.arange(n, dtype=np.int64) % 2,
            "page_views": np.arange(n, dtype=np.int64) % 3,
            "bytes": np.arange(n, dtype=np.int64) * 100,
            "first": np.zeros(n, np.int64),
            "last": np.ones(n, np.int64),
        },
        index=pd.MultiIndex(
            levels=[clients, agents],  # type: ignore[list-item]
            codes=[ccodes, acodes],  # type: ignore[list-item]
            names=["client", "agent"],
            verify_integrity=False,
        ),
    )
    # The agents table's rows in another order than the level's (a lookup by text), the
    # classes as categoricals in an order of their own, unused categories kept.
    order = [2, 0, 1][: 2 if missing_agent else 3]
    table = pd.DataFrame(
        {
            "browser": categorical(np.array([2, 0, 1], np.int8)[order],
                                   pd.Index(["curl", "Firefox", "Googlebot", "unused"],
                                            dtype="str")),
            "agent_class": categorical(np.array([1, 0, 2], np.int8)[order],
                                       pd.Index(["person", "crawler", "tool"], dtype="str")),
            "crawler": pd.array(["Googlebot", "curl", ""], dtype="str")[order],
            "score": np.array([3, 1, 2], np.int64)[order],
        },
        index=agents.take(order).rename("agent"),
    )
    return {"visitors": v, "agents": table}


def _old_attach(v: pd.DataFrame, table: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """``_attach`` as it was: each text column factorized, its uniques made text."""
    missing = pos < 0
    cols = {}
    for col in table.columns:
        values = table[col]
        if values.dtype == "str" or values.dtype == object or values.dtype == "category":
            fcodes, uniques = pd.factorize(values)
            rows = fcodes.astype(audience._code_type(len(uniques)), copy=False)[pos]
            rows[missing] = -1
            cols[col] = categorical(rows, pd.Index(uniques, dtype="str"))
        else:
            cols[col] = values.array.take(pos, allow_fill=True)
    return v.assign(**cols)


def _old_join(p: dict[str, pd.DataFrame], ctx: Context) -> pd.DataFrame:
    v = p["visitors"]
    index = v.index
    assert isinstance(index, pd.MultiIndex)
    levels = dict(zip(index.names, index.levels, strict=True))
    codes = dict(zip(index.names, index.codes, strict=True))
    out = v.reset_index(level="agent", drop=True).reset_index()
    agents = p["agents"]
    pos = audience._through(codes["agent"], audience._positions(agents.index, levels["agent"]))
    out = _old_attach(out, agents, pos)
    if ctx.geo is not None:
        places = audience.one_name_per_asn(
            lookup_coded(ctx.geo, pd.Index(levels["client"], dtype="str"))
        )
        coded = audience._coded_places(places, ("country", "network"))
        out = _old_attach(out, coded, np.asarray(codes["client"]))
    return out


@pytest.mark.parametrize("missing_agent", [False, True])
@pytest.mark.parametrize("geo", ["off", "none", "city+asn"])
def test_join_is_the_reset_and_attaches(tmp_path: Path, missing_agent: bool, geo: str) -> None:
    p = _partial(missing_agent)
    dbs = GeoDatabases()
    if geo == "city+asn":
        dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"), asn=write_asn(tmp_path / "a.mmdb"))
    lookup = None if geo == "off" else GeoLookup(dbs).lookup
    got = audience._joined(p, Context(Settings(), geo=lookup))
    want = _old_join(p, Context(Settings(), geo=lookup))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for col in got.columns:
        if isinstance(got[col].dtype, pd.CategoricalDtype):
            assert list(got[col].cat.categories) == list(want[col].cat.categories)
    if missing_agent:
        assert got["browser"].isna().any()
