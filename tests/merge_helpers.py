"""One check shared by the merge tests: a level-code merge equals pandas' own group-by."""

from __future__ import annotations

import pandas as pd

from logaudit.analyze.base import _combine_by_level_codes


def assert_as_the_group_by(
    frames: list[pd.DataFrame], rules: dict[str, str], keys: list[str]
) -> None:
    """``_combine_by_level_codes`` of ``frames`` equals pandas' group-by of their rows on
    ``keys``: values, and each index level's values, dtype and codes; with every column
    summed too."""
    got = _combine_by_level_codes(frames, rules)
    both = pd.concat([f.reset_index() for f in frames], ignore_index=True)
    want = both.groupby(keys, sort=False).agg(rules)
    assert got is not None
    pd.testing.assert_frame_equal(got, want)
    for k in range(len(keys)):
        assert got.index.levels[k].equals(want.index.levels[k])
        assert got.index.levels[k].dtype == want.index.levels[k].dtype
        assert (got.index.codes[k] == want.index.codes[k]).all()
    sums = {c: "sum" for c in rules}
    pd.testing.assert_frame_equal(
        _combine_by_level_codes(frames, sums), both.groupby(keys, sort=False).sum()
    )
