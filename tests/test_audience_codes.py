"""The audience panels' finish on codes (issue #18, branch fin10): ``_top_details`` by a
bincount of the two categoricals' codes, and the GeoIP lookup's places as categoricals, each
exactly what the text and group-by ways gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze import audience
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


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("seed", range(40))
def test_top_details_on_codes_equal_the_group_by(
    seed: int, dense: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not dense:  # the factorized pairs' branch
        monkeypatch.setattr(audience, "DENSE_PAIRS", 0)
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
