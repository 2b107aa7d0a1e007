"""The visitors table's last merge and finish without whole-table copies (issue #18, fin9):
each shortcut gives exactly what the pandas way it replaces gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from logaudit.analyze import spill, traffic
from logaudit.analyze.base import _by_group, _by_group_columns, _combine_by_level_codes
from logaudit.config import load

RULES = {"hits": "sum", "bytes": "sum", "first": "min", "last": "max"}


def _frame(rng: np.random.Generator, rows: int, clients: int, agents: int) -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays(
        [
            pd.Index([f"10.0.{i}" for i in rng.integers(0, clients, rows)], dtype="str"),
            pd.Index([f"agent/{i}" for i in rng.integers(0, agents, rows)], dtype="str"),
        ],
        names=["client", "agent"],
    )
    index = index[~index.duplicated()]
    n = len(index)
    return pd.DataFrame(
        {
            "hits": rng.integers(1, 9, n),
            "bytes": rng.integers(0, 1 << 40, n),
            "first": rng.integers(0, 1 << 50, n),
            "last": rng.integers(0, 1 << 50, n),
        },
        index=index,
    )


@pytest.mark.parametrize("groups", ["repeated", "distinct"])
def test_column_at_a_time_folds_as_the_concatenated_frame_did(groups: str) -> None:
    rng = np.random.default_rng(3)
    frames = [_frame(rng, rows, 30, 20) for rows in (50, 1, 70)]
    n = sum(len(f) for f in frames)
    if groups == "distinct":
        ids, count = np.arange(n), n
    else:
        ids, uniq = pd.factorize(rng.integers(0, 25, n), sort=False)
        count = len(uniq)
    got = _by_group_columns(frames, ids, count, RULES)
    want = _by_group(pd.concat([f.reset_index(drop=True) for f in frames]), ids, count, RULES)
    assert got is not None and want is not None
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True))


def test_frames_whose_columns_differ_merge_as_the_group_by_did() -> None:
    """A column of another dtype or missing in one frame: the concatenation's way (it aligns
    and casts), never the column-at-a-time one."""
    rng = np.random.default_rng(5)
    frames = [_frame(rng, rows, 30, 20) for rows in (40, 60)]
    frames[1] = frames[1].astype({"hits": np.int32})
    assert _by_group_columns(frames, np.arange(100), 100, RULES) is None
    got = _combine_by_level_codes(frames, RULES)
    both = pd.concat([f.reset_index() for f in frames], ignore_index=True)
    pd.testing.assert_frame_equal(got, both.groupby(["client", "agent"], sort=False).agg(RULES))


def _distinct(values: list[str | None], chunks: int = 1) -> bool:
    step = -(-len(values) // chunks)
    parts = [
        pd.Index(pd.array(values[i : i + step], dtype="str"))
        for i in range(0, len(values), step)
    ]
    index = parts[0].append(parts[1:]) if len(parts) > 1 else parts[0]
    return spill.distinct_text(index)


@pytest.mark.parametrize("chunks", [1, 3])
@pytest.mark.parametrize("collide", [False, True])
def test_distinct_text_by_hashes_is_exact_even_when_hashes_collide(
    monkeypatch: pytest.MonkeyPatch, chunks: int, collide: bool
) -> None:
    """Distinct hashes prove distinct text; equal hashes (forced: every value one hash) send
    the check to the text itself, so a collision never calls distinct text repeated."""
    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    monkeypatch.setattr(spill, "DISTINCT_SAMPLE", 10)
    if collide:
        monkeypatch.setattr(
            pd.util, "hash_array", lambda values, **_: np.zeros(len(values), np.uint64)
        )
    keys = [f"Mozilla/5.0 build {i}" for i in range(1000)]
    assert _distinct(keys, chunks)
    missed = keys.copy()
    missed[501] = keys[1]  # not in the sample: found by the whole check
    assert not _distinct(missed, chunks)
    assert not _distinct([*keys[:-1], None], chunks)


def _visitors(rng: np.random.Generator, unused: bool) -> pd.DataFrame:
    f = _frame(rng, 400, 120, 6)
    first = rng.integers(1_700_000_000, 1_800_000_000, len(f))
    f = f.assign(
        first=first,
        last=first + rng.integers(0, 86_400, len(f)),
        hits=rng.integers(1, 4, len(f)),  # many ties at the cut
        page_views=rng.integers(0, 3, len(f)),
        people_hits=0,
        visitor_hits=0,
    )
    if unused:  # a sliced table: its client level holds values no row uses
        f = f.iloc[::3]
    return f


@pytest.mark.parametrize("top", [0, 1, 5, 10])
@pytest.mark.parametrize("unused", [False, True])
def test_hosts_by_client_codes_equal_the_group_by(
    monkeypatch: pytest.MonkeyPatch, top: int, unused: bool
) -> None:
    rng = np.random.default_rng(11)
    v = _visitors(rng, unused)
    s = load({"top": top})
    got = traffic.sec_hosts({"visitors": v}, s)
    assert traffic._per_client(v) is not None
    monkeypatch.setattr(traffic, "_per_client", lambda v: None)
    want = traffic.sec_hosts({"visitors": v}, s)
    pd.testing.assert_frame_equal(got.rows, want.rows)
    assert got.total_rows == want.total_rows
    assert got.total_rows == v.index.get_level_values("client").nunique()


def test_hosts_of_other_tables_take_the_group_by() -> None:
    """A missing client or a column that is not a 64-bit integer: the group-by's way."""
    rng = np.random.default_rng(2)
    v = _visitors(rng, False)
    assert traffic._per_client(v.astype({"bytes": float})) is None
    index = v.index.set_codes(np.where(np.arange(len(v)) == 3, -1, v.index.codes[0]), level=0)
    assert traffic._per_client(v.set_axis(index)) is None


@pytest.mark.parametrize("collide", [False, True])
def test_new_keys_after_a_known_prefix_are_checked_exactly_whatever_their_hashes(
    monkeypatch: pytest.MonkeyPatch, collide: bool
) -> None:
    """With a known distinct prefix (``KnownDistinct.prefix``): distinct hashes settle it;
    equal hashes (forced) fall back to the text of the new keys, checked against the old."""
    monkeypatch.setattr(spill, "DISTINCT_CHECK_ROWS", 10)
    if collide:
        monkeypatch.setattr(
            pd.util, "hash_array", lambda values, **_: np.zeros(len(values), np.uint64)
        )

    def index(values: list[str | None]) -> pd.Index:
        return pd.Index(pd.array(values, dtype="str"))

    old = index([f"a/{i}" for i in range(300)]).append(index([f"b/{i}" for i in range(200)]))
    known = spill.KnownDistinct()
    assert spill.distinct_text(old, known)
    new = [f"c/{i}" for i in range(100)]
    cases = {
        "new": (new, True),
        "repeats an old key": ([*new[:50], "b/7", *new[51:]], False),
        "repeats a new key": ([*new[:50], "c/3", *new[51:]], False),
    }
    for name, (values, want) in cases.items():
        joined = old.append(index(values))
        assert known.prefix(pa.array(joined.array)) == 500, name
        assert spill.distinct_text(joined, known) is want, name


def _places(rng: np.random.Generator, n: int, kinds: list[str]) -> pd.DataFrame:
    def pick(values: list[str]) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=object)[rng.integers(0, len(values), n)],
                         dtype="str")

    asn = pd.array(rng.integers(1, 5, n), dtype="Int64")
    asn[rng.random(n) < 0.3] = pd.NA
    return pd.DataFrame(
        {
            "country_code": pick(["", "SE", "US"]),
            "country": pick(["unknown", "Sweden", "United States"]),
            "city": pick(["", "Boxholm", "Linköping"]),
            "network": pick(["unknown", "AS29518 Bredband2 AB", "Bredband2 AB"]),
            "asn": asn,
            "address_kind": pick(kinds),
        },
        index=pd.Index([f"10.0.{i}" for i in range(n)], dtype="str", name="client"),
    )


@pytest.mark.parametrize(
    "kinds", [["public"], ["public", "private", "loopback"], ["private"]]
)
def test_places_coded_attach_as_the_named_text_did(kinds: list[str]) -> None:
    from logaudit.analyze.audience import _coded_places, named_places

    rng = np.random.default_rng(len(kinds))
    places = _places(rng, 500, kinds)
    v = pd.DataFrame({"hits": rng.integers(1, 9, 800)})
    pos = rng.integers(-1, len(places), len(v))  # -1: a row without a place
    want = _joined(v, named_places(places, ("country", "network")), pos)
    got = _joined(v, _coded_places(places.copy(), ("country", "network")), pos)
    pd.testing.assert_frame_equal(got, want)
    for col in ("country", "network", "city"):
        assert list(got[col].cat.categories) == list(want[col].cat.categories)


def test_places_whose_values_look_like_labels_or_are_missing_take_the_text_way() -> None:
    from logaudit.analyze.audience import _coded_places, named_places

    rng = np.random.default_rng(4)
    places = _places(rng, 50, ["public", "private"])
    places.loc[places.index[0], "country"] = "(private address)"
    pd.testing.assert_frame_equal(
        _coded_places(places.copy(), ("country",)), named_places(places, ("country",))
    )
    places = _places(rng, 50, ["public", "private"])
    places["city"] = places["city"].where(np.arange(50) != 3)
    pd.testing.assert_frame_equal(
        _coded_places(places.copy(), ("country",)), named_places(places, ("country",))
    )


@pytest.mark.parametrize("n", [1, 5, 64, 65, 300])
def test_codes_renumbered_in_order_of_first_appearance_as_factorize_does(n: int) -> None:
    from logaudit.analyze.audience import _first_appearance

    rng = np.random.default_rng(n)
    codes = rng.integers(0, n, 1000).astype(np.int16)
    codes[codes == n // 2] = 0  # a code no row uses
    at, used = _first_appearance(codes, n)
    want_at, want_used = pd.factorize(codes, sort=False)
    assert at.dtype == codes.dtype
    assert (at == want_at).all()
    assert (used == want_used).all()
    empty = _first_appearance(codes[:0], n)
    assert len(empty[0]) == 0 and len(empty[1]) == 0


def _joined(v: pd.DataFrame, table: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """``v`` with ``table`` joined as ``audience._joined`` joins each table: ``_attached``
    on the frame's columns, one frame made of them."""
    from logaudit.analyze.audience import _attached

    return pd.DataFrame(_attached({c: v[c].array for c in v.columns}, table, pos), copy=False)
