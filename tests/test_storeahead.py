"""trends --state reads the store's files ahead while it imports (storeahead.py): the same
report, only the very file read is handed over, the store's lock held throughout, and an
unreadable file fails as it did."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from logaudit import storeahead
from logaudit.cli import cli
from logaudit.samplegen import generate_lines
from logaudit.store.lock import locked

# Six days from 29 January: January closes and is rolled up, February's days stay days.
DATA = b"".join(generate_lines(3000, start=date(2026, 1, 29), days=6))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ahead")
    (tmp / "access.log").write_bytes(DATA)
    state = tmp / "state"
    for _ in range(2):  # the second run rolls January up
        r = CliRunner().invoke(cli, ["summary", str(tmp / "access.log"), "--state", str(state)])
        assert r.exit_code == 0, r.output
    assert json.loads((state / "store.json").read_text())["months"]
    return state


@pytest.fixture
def store(built: Path, tmp_path: Path) -> Iterator[Path]:
    shutil.copytree(built, tmp_path / "state")
    yield tmp_path / "state"
    storeahead.forget()


def _trends(state: Path, monkeypatch: pytest.MonkeyPatch, ahead: bool) -> tuple[int, Any]:
    monkeypatch.setenv("LOGAUDIT_STORE_AHEAD", "1" if ahead else "0")
    r = CliRunner().invoke(
        cli, ["trends", "--state", str(state), "--every", "day", "--format", "json"]
    )
    if r.exit_code:
        return r.exit_code, r.output
    out = json.loads(r.stdout)
    out.pop("generated", None)
    out.get("meta", {}).pop("generated", None)
    return 0, out


def _listed(state: Path) -> list[str]:
    return storeahead._paths(state, json.loads((state / "store.json").read_text()), "")


def test_the_report_is_the_same_and_read_ahead(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _trends(store, monkeypatch, ahead=False)
    handed: list[str] = []
    take = storeahead.take

    def counted(path: Path | str) -> Any:
        got = take(path)
        if got is not None:
            handed.append(str(path))
        return got

    monkeypatch.setattr(storeahead, "take", counted)
    assert _trends(store, monkeypatch, ahead=True) == plain
    assert plain[0] == 0
    assert any("month=2026-01" in p for p in handed) and any("day=2026-02" in p for p in handed)
    # The lock went with the run.
    fd = os.open(store / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def _read_all(state: Path) -> None:
    storeahead.start(state)
    assert storeahead._thread is not None
    storeahead._thread.join()


def test_a_file_replaced_since_is_not_handed_over(store: Path) -> None:
    _read_all(store)
    first, second = _listed(store)[:2]
    shutil.copyfile(first, first + ".tmp")
    os.replace(first + ".tmp", first)  # the same bytes, another file
    assert storeahead.take(first) is None
    assert storeahead.take(second) is not None
    assert storeahead.take(second) is None  # handed over once


def test_the_lock_is_held_from_the_start_and_adopted(store: Path) -> None:
    storeahead.start(store)
    other = os.open(store / "lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with locked(store):  # the run's own lock: adopted, not refused as busy
            pass
        assert storeahead._thread is None  # stopped before the lock went
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)


def test_a_busy_store_is_not_read_ahead(store: Path) -> None:
    other = os.open(store / "lock", os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        storeahead.start(store)
        assert storeahead._thread is None and storeahead._lock is None
        assert storeahead.take(_listed(store)[0]) is None
    finally:
        os.close(other)


def test_an_unreadable_file_fails_as_before(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = Path(next(p for p in _listed(store) if "month=" in p and "totals" in p))
    bad.write_bytes(b"not parquet" * 10)
    code, out = _trends(store, monkeypatch, ahead=True)
    assert code == 7 and "totals" in out and "unreadable" in out
    assert (code, out) == _trends(store, monkeypatch, ahead=False)
