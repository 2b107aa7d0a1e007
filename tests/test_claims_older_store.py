"""Fake crawlers from the history store: a day written by a logaudit that did not record
whether a claim's client was a host name (no ``named``), reported together with a day this
one wrote, never calls a host name "an address" (review rev19-f, 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import isolate

import logaudit.store as store
from logaudit.store import days

BOT = '"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"'
NAMED = "".join(
    f'host-9.dyn.example.net - - [04/Dec/2026:10:0{i}:00 +0000] "GET / HTTP/1.1" 200 10 "-" {BOT}\n'
    for i in range(1, 4)
)
ADDRESS = "".join(
    f'203.0.113.8 - - [06/Dec/2026:10:0{i}:00 +0000] "GET / HTTP/1.1" 200 10 "-" {BOT}\n'
    for i in range(1, 4)
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _older_before_keying(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``before_keying`` as logaudit before the nineteenth round: no ``named`` column."""
    return days.before_keying(name, frame).drop(columns="named", errors="ignore")


def _fakes(*args: str, out: Path) -> list[str]:
    from logaudit.cli import cli

    r = CliRunner().invoke(cli, ["problems", *args, "--format", "json", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = json.dumps(json.loads(out.read_text()))
    return sorted(
        s.split("claiming Googlebot from ")[1].split('"')[0]
        for s in text.split("requests")[1:]
        if s.startswith(" claiming Googlebot from")
    )


def test_a_host_name_an_older_store_kept_is_not_called_an_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    e1, e2 = tmp_path / "e1.log", tmp_path / "e2.log"
    e1.write_text(NAMED)
    e2.write_text(ADDRESS)
    st = tmp_path / "st"
    with monkeypatch.context() as m:
        m.setattr(store, "before_keying", _older_before_keying)
        older = _fakes(str(e1), "--state", str(st), out=tmp_path / "old.json")
    assert older and all(w == "a client outside its published ranges and domains" for w in older)

    one = _fakes(str(e1), str(e2), out=tmp_path / "one.json")
    assert set(one) == {
        "a host name outside its domains",
        "an address outside its published ranges",
    }
    grown = _fakes(str(e1), str(e2), "--state", str(st), out=tmp_path / "grown.json")
    # The older day's host name: not said (its day did not record it); the new day's address
    # said; never "an address" for the host name.
    assert set(grown) == {
        "a client outside its published ranges and domains",
        "an address outside its published ranges",
    }
    # A store this logaudit wrote alone says both, as one pass does.
    st2 = tmp_path / "st2"
    assert _fakes(str(e1), str(e2), "--state", str(st2), out=tmp_path / "new.json") == one
