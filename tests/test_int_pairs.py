"""``base.int_levels`` is ``pd.MultiIndex.from_arrays`` of the visitor-days' integer pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.base import int_levels


@pytest.mark.parametrize("n", [0, 1, 7, 3000])
def test_int_pairs_is_from_arrays(n: int) -> None:
    rng = np.random.default_rng(n)
    day = rng.integers(19_000, 19_000 + max(1, n // 500), n).astype(np.int32)
    visitor = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    visitor[: n // 3] = visitor[n // 3 : 2 * (n // 3)]  # repeated visitors
    want = pd.MultiIndex.from_arrays([day, visitor], names=["day", "visitor"])
    got = int_levels([day, visitor], ["day", "visitor"])
    assert got.equals(want) and got.names == want.names
    for a, b in zip(got.levels, want.levels, strict=True):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()
    for a, b in zip(got.codes, want.codes, strict=True):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()
    pd.testing.assert_frame_equal(
        pd.DataFrame({"hits": np.arange(n)}, index=got),
        pd.DataFrame({"hits": np.arange(n)}, index=want),
    )
