"""The stored places a report from the store looks its clients up in (``days.place_lookup``):
found by Arrow's hashing, the same rows, dtypes and fallbacks as pandas' ``isin``/``reindex``
gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.store.days import PLACES, _rows_of, place_lookup
from logaudit.store.layout import Layout
from tests.store_helpers import log_bytes, report


@pytest.fixture(scope="module")
def stored_places(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Every stored day's places, merged as ``load`` hands them to ``stored_context``."""
    tmp = tmp_path_factory.mktemp("places")
    log = tmp / "access.log"
    log.write_bytes(log_bytes(3000, days=2, bad=0))
    report([str(log)], tmp / "state")
    layout = Layout(tmp / "state")
    state = layout.read_state()
    frames = [layout.read_table(d, i, PLACES.name) for d, i in sorted(state.days.items())]
    found = [f for f in frames if f is not None]
    merged = pd.concat(found)
    return merged[~merged.index.duplicated()]


def _as_before(stored: pd.DataFrame, fallback, clients: pd.Index) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """What ``place_lookup`` answered through pandas' ``isin`` and ``reindex``."""
    known = clients.isin(stored.index)
    if known.all():
        out = stored.reindex(clients)
    else:
        out = fallback(clients)
        if known.any():
            got = stored.reindex(clients[known])
            out = out.copy()
            for c in got.columns:
                col = out[c].astype(object)
                col[known] = got[c].astype(object).to_numpy()
                out[c] = col
    out.index = clients
    return out


def _nowhere(clients: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({"country": ["??"] * len(clients)}, index=clients)


def test_stored_places_are_found_as_isin_and_reindex_found_them(
    stored_places: pd.DataFrame,
) -> None:
    assert len(stored_places) > 20
    assert stored_places.index.dtype == "str"
    tokens = stored_places.index
    rng = np.random.default_rng(3)
    some = pd.Index(tokens[rng.permutation(len(tokens))[: len(tokens) // 2]], dtype="str")
    repeated = some.append(some[:5])
    lookup = place_lookup(stored_places, _nowhere)
    for clients in (tokens, some, repeated):
        pd.testing.assert_frame_equal(
            lookup(clients), _as_before(stored_places, _nowhere, clients), check_exact=True
        )
        assert lookup(clients).dtypes.equals(stored_places.dtypes)


def test_tokens_the_store_lacks_get_the_fallbacks_places(stored_places: pd.DataFrame) -> None:
    cols = list(stored_places.columns)
    fallback = lambda c: pd.DataFrame({k: ["elsewhere"] * len(c) for k in cols}, index=c)  # noqa: E731
    clients = pd.Index(["h:0000000000000000", *stored_places.index[:3]], dtype="str")
    got = place_lookup(stored_places, fallback)(clients)
    pd.testing.assert_frame_equal(got, _as_before(stored_places, fallback, clients))
    assert (got.iloc[0] == "elsewhere").all()
    none = pd.Index(["h:0000000000000001"], dtype="str")
    pd.testing.assert_frame_equal(
        place_lookup(stored_places, fallback)(none), _as_before(stored_places, fallback, none)
    )


def test_rows_of_other_kinds_of_index_go_through_pandas() -> None:
    index = pd.Index(["b", "a", "c"], dtype="str")
    assert _rows_of(index, pd.Index(["c", "x", "b"], dtype="str")).tolist() == [2, -1, 0]
    assert _rows_of(index, pd.Index(["c", "x"], dtype=object)).tolist() == [2, -1]
    assert _rows_of(pd.Index([3, 1]), pd.Index([1, 2])).tolist() == [1, -1]
    assert _rows_of(pd.Index([], dtype="str"), pd.Index(["a"], dtype="str")).tolist() == [-1]
