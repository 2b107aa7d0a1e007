"""Mends after review of the store's schema 7 (branch tidy10): a missing or damaged referring
sites file is the store's one-line error; a projection keeps only its columns' dtypes; stored
visits of another dtype than the chained ones are promoted, as pd.concat did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from logaudit.cli import cli
from logaudit.store import sites
from logaudit.store.layout import Layout
from tests.store_helpers import log_bytes

DATA = log_bytes(3000, days=3, bad=2)


def _trends(state: Path) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["trends", "--state", str(state), "--section", "movers"])
    return res.exit_code, res.output


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_a_missing_or_damaged_referring_sites_file_is_the_stores_error(
    tmp_path: Path, damage: str
) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    state = tmp_path / "state"
    res = CliRunner().invoke(cli, ["summary", "--state", str(state), str(log)])
    assert res.exit_code == 0, res.output
    code, _ = _trends(state)  # makes the days' referring sites
    assert code == 0
    victims = sorted(state.glob(f"day=*/{sites.TABLE}.g*.parquet"))
    assert len(victims) == 3
    victim = victims[1]
    if damage == "delete":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[:40])
    code, out = _trends(state)
    assert code == 7, out
    lines = [ln for ln in out.splitlines() if "unreadable" in ln]
    assert len(lines) == 1, out
    assert "internal error" not in out and "Traceback" not in out
    assert sites.TABLE in lines[0] and "state verify" in lines[0] and "state rebuild" in lines[0]


def test_a_projection_leaves_out_the_dtypes_of_the_columns_not_read(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "state")
    layout.create()
    frame = pd.DataFrame(
        {
            "hits": np.array([3, 1, 2], np.int64),
            "bytes": pd.array([10, None, 30], dtype="Int64"),
            "share": pd.array([0.5, 0.25, None], dtype="Float64"),
        },
        index=pd.Index(["/a", "/b", "/c"], name="path"),
    )
    days = []
    for n, day in enumerate(("2026-01-22", "2026-01-23"), 1):
        meta = layout.write_file(day, "sizes", frame, n)
        days.append((day, {"gen": n, "files": {"sizes": meta}}))
    whole = layout.read_tables(days, "sizes")
    assert whole is not None
    pd.testing.assert_frame_equal(whole, pd.concat([frame, frame]))
    for columns in (("hits",), ("hits", "share"), ("bytes",), ()):
        part = layout.read_tables(days, "sizes", columns=columns)
        assert part is not None
        assert list(part.columns) == [c for c in frame.columns if c in columns]
        pd.testing.assert_frame_equal(part, whole.loc[:, list(part.columns)])
