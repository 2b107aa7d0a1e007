"""A day of the history store written by a logaudit that kept ``pii_values`` in clear (before
the store keyed them), grown by this one: the merged day holds no value in clear, and counts
each value once, as one pass does (review rev19-f, 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from loglines import isolate

import logaudit.store as store
from logaudit.store import days

A = (
    '203.0.113.9 - - [05/Dec/2026:10:00:00 +0100] "GET /login?password=Hunter2secret'
    '&email=bob@example.com HTTP/1.1" 200 10 "-" "Mozilla/5.0 Firefox/1"\n'
    '203.0.113.9 - - [05/Dec/2026:10:01:00 +0100] "GET /login?password=OtherSecret99 '
    'HTTP/1.1" 200 10 "-" "Mozilla/5.0 Firefox/1"\n'
)
B = (
    '203.0.113.9 - - [05/Dec/2026:11:00:00 +0100] "GET /login?password=Hunter2secret'
    '&email=bob@example.com HTTP/1.1" 200 10 "-" "Mozilla/5.0 Firefox/1"\n'
)
CLEAR = ("Hunter2secret", "bob@example.com", "OtherSecret99")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _older_keyed(frame: pd.DataFrame, key: bytes, name: str = "") -> pd.DataFrame:
    """``keyed`` as logaudit before the nineteenth round: ``pii_values`` stored as found."""
    return frame if name == "pii_values" else days.keyed(frame, key, name)


def _found(*args: str, out: Path) -> list[tuple[str, str, int, int]]:
    from logaudit.cli import cli

    r = CliRunner().invoke(cli, ["privacy", *args, "--format", "json", "-o", str(out)])
    assert r.exit_code == 12, r.output
    doc = json.loads(out.read_text())
    (sec,) = [s for s in doc["sections"] if s["name"] == "personal-data"]
    return [(r["kind"], r["field"], r["lines"], r["distinct"]) for r in sec["rows"]]


def test_an_older_day_grown_keeps_no_value_and_counts_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text(A)
    b.write_text(B)
    st = tmp_path / "st"
    with monkeypatch.context() as m:
        m.setattr(store, "keyed", _older_keyed)
        _found(str(a), "--state", str(st), out=tmp_path / "old.json")
    (older,) = st.glob("day=*/pii_values.*.parquet")
    assert "Hunter2secret" in pq.read_table(older).to_pandas().to_csv()  # the older store's day

    one = _found(str(a), str(b), out=tmp_path / "one.json")
    assert _found(str(a), str(b), "--state", str(st), out=tmp_path / "grown.json") == one
    assert _found("--state", str(st), out=tmp_path / "read.json") == one
    (grown,) = [f for f in st.glob("day=*/pii_values.*.parquet") if f != older]
    held = pq.read_table(grown).to_pandas().to_csv()
    for value in CLEAR:
        assert value not in held, value
