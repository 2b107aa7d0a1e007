"""The audience panels' finish on codes (issue #18, branch fin10): ``_top_details`` by a
bincount of the two categoricals' codes, and the GeoIP lookup's places as categoricals, each
exactly what the text and group-by ways gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from geo_helpers import write_asn, write_city, write_isp

from logaudit.analyze import audience
from logaudit.enrich import geo
from logaudit.enrich.geo import GeoDatabases, GeoLookup
from logaudit.schema import categorical


def _grouped(people: pd.DataFrame, by: str, detail: str, k: int) -> pd.Series:
    """``_top_details`` the group-by way (what it was before the codes)."""
    return audience._top_details(people.astype({by: object, detail: object}), by, detail, k)


def _people(rng: np.random.Generator, n: int, nb: int, nd: int, missing: bool) -> pd.DataFrame:
    groups = pd.Index([f"g{i}" for i in range(nb)], dtype="str")
    details = pd.Index(["" if i == 0 else f"v{i}" for i in range(nd)], dtype="str")
    low = -1 if missing else 0
    return pd.DataFrame(
        {
            "browser": categorical(rng.integers(low, nb, n).astype(np.int8), groups),
            "version": categorical(rng.integers(low, nd, n).astype(np.int16), details),
            # Few distinct sums: many ties at the top-k cut.
            "people_hits": rng.integers(1, 4, n).astype(np.int64),
        }
    )


@pytest.mark.parametrize("way", ["dense", "dense, slices of 7 rows", "factorized"])
@pytest.mark.parametrize("seed", range(40))
def test_top_details_on_codes_equal_the_group_by(
    seed: int, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if way == "factorized":  # the factorized pairs' branch
        monkeypatch.setattr(audience, "DENSE_PAIRS", 0)
    if "slices" in way:
        monkeypatch.setattr(audience, "TOP_SLICE", 7)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    people = _people(rng, n, int(rng.integers(1, 7)), int(rng.integers(1, 9)), seed % 2 == 0)
    k = int(rng.integers(1, 5))
    got = audience._top_details(people, "browser", "version", k)
    want = _grouped(people, "browser", "version", k)
    # The panel aligns the series by key: the order of its keys is not read.
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index())


def test_top_details_ties_keep_the_order_of_first_appearance() -> None:
    # v2 and v1 tie on hits within g0: v2's first row comes first, so it is listed first.
    people = pd.DataFrame(
        {
            "browser": categorical(np.array([0, 0, 0, 0, 1], np.int8), pd.Index(["g0", "g1"])),
            "version": categorical(
                np.array([2, 1, 3, 0, 1], np.int8), pd.Index(["", "v1", "v2", "v3"])
            ),
            "people_hits": np.array([5, 5, 1, 9, 2], np.int64),
        }
    )
    got = audience._top_details(people, "browser", "version", k=2)
    assert got.to_dict() == {"g0": "v2 (25%), v1 (25%)", "g1": "v1 (100%)"}
    assert got.to_dict() == _grouped(people, "browser", "version", 2).to_dict()


def test_top_details_text_columns_take_the_group_by() -> None:
    people = pd.DataFrame(
        {"browser": ["a", "a", "b"], "version": ["1", "2", "1"], "people_hits": [3, 1, 2]}
    )
    assert audience._top_coded(people, "browser", "version", 3) is None
    got = audience._top_details(people, "browser", "version")
    assert got.to_dict() == {"a": "1 (75%), 2 (25%)", "b": "1 (100%)"}


# The places as categoricals (enrich.geo ``lookup(coded=True)``)

CLIENTS = [
    "81.2.69.142", "5.5.5.5", "67.43.156.1", "2001:218::1", "8.8.8.8", "10.0.0.1",
    "127.0.0.1", "169.254.1.1", "::1", "bogus", "81.2.69.143", "5.5.5.6", "192.0.2.1",
]


def _geo_lookup(tmp_path: Path, which: str) -> GeoLookup:
    dbs = GeoDatabases()
    if which == "city+asn":
        dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"), asn=write_asn(tmp_path / "a.mmdb"))
    elif which == "city+isp":
        dbs = GeoDatabases(city=write_city(tmp_path / "c.mmdb"), isp=write_isp(tmp_path / "i.mmdb"))
    return GeoLookup(dbs)


@pytest.mark.parametrize("which", ["none", "city+asn", "city+isp"])
def test_coded_lookup_holds_the_text_lookups_values(tmp_path: Path, which: str) -> None:
    rng = np.random.default_rng(3)
    clients = pd.Index(list(np.asarray(CLIENTS, dtype=object)[rng.integers(0, 13, 200)]),
                       dtype="str")
    with _geo_lookup(tmp_path, which) as g:
        text = g.lookup(clients)
        coded = geo.lookup_coded(g.lookup, clients)
    assert list(coded.columns) == list(text.columns)
    for col in text.columns:
        if col == "asn":
            pd.testing.assert_series_equal(coded[col], text[col])
            continue
        assert isinstance(coded[col].dtype, pd.CategoricalDtype), col
        assert coded[col].cat.categories.is_unique
        pd.testing.assert_series_equal(coded[col].astype("str"), text[col])


def test_lookup_coded_leaves_other_lookups_as_they_are() -> None:
    frame = pd.DataFrame({"country": ["x"]}, index=pd.Index(["1.2.3.4"], dtype="str"))
    assert geo.lookup_coded(lambda clients: frame, frame.index) is frame


@pytest.mark.parametrize("which", ["none", "city+asn", "city+isp"])
def test_coded_places_attach_as_the_text_did(tmp_path: Path, which: str) -> None:
    from logaudit.analyze.audience import _coded_places, named_places, one_name_per_asn

    rng = np.random.default_rng(5)
    clients = pd.Index(
        list(np.asarray(CLIENTS, dtype=object)[rng.integers(0, 13, 300)]), dtype="str"
    ).unique()
    v = pd.DataFrame({"hits": rng.integers(1, 9, 500)})
    pos = rng.integers(-1, len(clients), len(v))
    with _geo_lookup(tmp_path, which) as g:
        want = _joined(v, named_places(one_name_per_asn(g.lookup(clients)),
                                       ("country", "network")), pos)
        coded = one_name_per_asn(geo.lookup_coded(g.lookup, clients))
        got = _joined(v, _coded_places(coded, ("country", "network")), pos)
    pd.testing.assert_frame_equal(got, want)
    for col in ("country", "network", "city", "address_kind"):
        assert list(got[col].cat.categories) == list(want[col].cat.categories)


def test_coded_places_whose_values_look_like_labels_take_the_text_way() -> None:
    from logaudit.analyze.audience import _coded_places, named_places

    kinds = pd.Index(["public", "private"], dtype="str")
    places = pd.DataFrame(
        {
            "country": categorical(np.array([0, 1, 0], np.int8),
                                   pd.Index(["Sweden", "(private address)"], dtype="str")),
            "address_kind": categorical(np.array([0, 0, 1], np.int8), kinds),
        }
    )
    want = named_places(places.astype("str"), ("country",))
    pd.testing.assert_frame_equal(_coded_places(places.copy(), ("country",)), want)


@pytest.mark.parametrize("size", [1, 3, 7, 1 << 18])
def test_ipv4_values_by_slices_equal_one_at_a_time(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geo, "V4_SLICE", size)
    rng = np.random.default_rng(size)
    pool = ["1.2.3.4", "255.255.255.255", "0.0.0.0", "01.2.3.4", "bogus", "::1", "10.0.0.1",
            "1.2.3", "192.168.1.256", "81.2.69.142", ""]
    for n in (0, 1, 2, 50):
        clients = pd.Index(list(np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]),
                           dtype="str")
        value, ok = geo.ipv4_values(clients)
        want = [geo.ipv4_value(c) for c in clients]
        assert ok.tolist() == [w is not None for w in want]
        assert value.tolist() == [w or 0 for w in want]


def _joined(v: pd.DataFrame, table: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """``v`` with ``table`` joined as ``audience._joined`` joins each table: ``_attached``
    on the frame's columns, one frame made of them."""
    from logaudit.analyze.audience import _attached

    return pd.DataFrame(_attached({c: v[c].array for c in v.columns}, table, pos), copy=False)
