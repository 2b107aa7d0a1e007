"""``sessionize(..., per_event=False)``: the same visits, without the page views' table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from logaudit.analyze.visits import sessionize


def test_visits_alone_are_the_same_visits() -> None:
    rng = np.random.default_rng(3)
    n = 500
    events = pd.DataFrame(
        {
            "visitor": rng.integers(0, 20, n).astype(np.uint64),
            "utc": rng.integers(0, 20_000, n),
            "local": rng.integers(0, 20_000, n),
            "path_h": rng.integers(0, 50, n).astype(np.uint64),
            "ref_h": rng.integers(0, 5, n).astype(np.uint64),
        }
    )
    whole = sessionize(events, 1800)
    alone = sessionize(events, 1800, per_event=False)
    pd.testing.assert_frame_equal(alone.table, whole.table)
    assert len(whole.events) == n and alone.events.empty
    assert 20 <= len(alone.table) < n
