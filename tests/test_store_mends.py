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
from logaudit.store import sites, visitdays
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


def _by_concat(
    stored: pd.DataFrame, pieces: list[pd.DataFrame], columns: tuple[str, ...], timeout: int
) -> pd.DataFrame:
    """What ``with_rows`` did before copying column by column: pd.concat, which promotes."""
    edge = stored["edge"].to_numpy(bool)
    chained = [*visitdays.COLUMNS, *(c for c in visitdays.PAIR if c in columns)]
    both = pd.concat([*pieces, stored.loc[edge, chained]], ignore_index=True)
    joined = visitdays.chain(both, timeout)
    return pd.concat(
        [stored.loc[~edge, list(columns)], joined.loc[:, list(columns)]], ignore_index=True
    )


@pytest.mark.parametrize(
    "dtypes",
    [
        {},
        {"start_local": np.float64},
        {"clicks": np.int32},
        {"ref_h": np.int64},  # int64 stored, uint64 chained: float64, as pd.concat gives
        {"end": np.float64, "clicks": np.int32, "ref_h": np.int64},
    ],
)
def test_stored_visits_of_another_dtype_are_promoted_as_concat_did(
    dtypes: dict[str, type]
) -> None:
    timeout = 1800
    stored = pd.DataFrame(
        {
            "visitor": np.array([1, 2, 3, 3], np.uint64),
            "start": np.array([100, 200, 300, 86000], np.int64),
            "end": np.array([150, 260, 900, 86390], np.int64),
            "start_local": np.array([3700, 3800, 3900, 89600], np.int64),
            "clicks": np.array([2, 3, 4, 1], np.int64),
            "ref_h": np.array([7, 8, 9, 10], np.uint64),
            "query_h": np.array([0, 0, 5, 0], np.uint64),
            "edge": np.array([False, False, False, True]),
        }
    )
    piece = pd.DataFrame(
        {
            "visitor": np.array([3, 4], np.uint64),
            "start": np.array([86500, 86600], np.int64),
            "end": np.array([87000, 86700], np.int64),
            "start_local": np.array([90100, 90200], np.int64),
            "clicks": np.array([5, 1], np.int64),
            "ref_h": np.array([11, 12], np.uint64),
            "query_h": np.array([0, 6], np.uint64),
        }
    )
    stored = stored.astype(dtypes)
    columns = (*visitdays.COLUMNS, *visitdays.PAIR)
    got = visitdays.with_rows(stored, [piece], columns, timeout)
    want = _by_concat(stored, [piece], columns, timeout)
    pd.testing.assert_frame_equal(got, want)
    assert len(got) == 5 and got["clicks"].tolist() == [2, 3, 4, 6, 1]
