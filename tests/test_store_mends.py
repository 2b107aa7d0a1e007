"""Mends after review of the store's schema 7 (branch tidy10): a missing or damaged referring
sites file is the store's one-line error; a projection keeps only its columns' dtypes; stored
visits of another dtype than the chained ones are promoted, as pd.concat did."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli
from logaudit.store import sites
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
