"""The hosts section's per-client sums by numpy (``traffic._per_client``) are pandas'
group-by's (``_per_client_grouped``): the same rows (index dtype and name), columns and values.
The rows come in the client level's order, not first appearance: ``ranked`` orders them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze import traffic
from logaudit.api import open_inputs, run
from logaudit.config import load


def _visitors(log: Path) -> pd.DataFrame:
    settings = load({})
    from logaudit.analyze import tables_for

    r = run(open_inputs([str(log)]), settings, tables_for(("hosts",)))
    return r.partial["visitors"]


def _same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want) and set(got.index) == set(want.index)
    pd.testing.assert_frame_equal(got.reindex(want.index), want)


@pytest.mark.parametrize("name", ["access.log", "access.log.1"])
def test_per_client_is_the_group_by(sample_logs: Path, name: str) -> None:
    log = sample_logs / name
    if not log.exists():
        pytest.skip(f"no {name}")
    v = _visitors(log)
    got = traffic._per_client(v)
    assert got is not None
    _same_rows(got, traffic._per_client_grouped(v))


def test_per_client_on_a_built_table_and_its_fallbacks() -> None:
    rng = np.random.default_rng(4)
    n = 500
    clients = pd.Index([f"10.0.0.{i}" for i in range(40)], dtype="str")
    agents = pd.Index([f"agent {i}" for i in range(7)], dtype="str")
    index = pd.MultiIndex(
        levels=[clients, agents],
        codes=[rng.integers(0, 30, n), rng.integers(0, 7, n)],  # ten clients unused
        names=["client", "agent"],
        verify_integrity=False,
    )
    v = pd.DataFrame(
        {
            "hits": rng.integers(1, 9, n),
            "page_views": rng.integers(0, 3, n),
            "bytes": rng.integers(0, 1 << 40, n),
            "first": rng.integers(1_700_000_000, 1_800_000_000, n),
            "last": rng.integers(1_800_000_000, 1_900_000_000, n),
        },
        index=index,
    )
    got = traffic._per_client(v)
    assert got is not None and len(got) == 30
    _same_rows(got, traffic._per_client_grouped(v))
    # Not the usual table: the group-by answers.
    assert traffic._per_client(v.astype({"hits": "float64"})) is None
    assert traffic._per_client(v.droplevel("agent")) is None
