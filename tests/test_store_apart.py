"""A part of a stored report read in a forked child (store/apart.py): the child's part when it
read the same store and wrote nothing, else the part read here; never another figure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from logaudit.analyze import forked
from logaudit.store import apart
from logaudit.store.layout import Layout, State

pytestmark = pytest.mark.skipif(not forked.can_fork(), reason="no fork here")


def _where(layout: Layout) -> dict[str, Any]:
    return {"pid": os.getpid(), "read_only": isinstance(layout, apart.ReadOnly)}


def test_a_part_read_apart_is_the_childs(tmp_path: Path) -> None:
    part = apart.Apart(Layout(tmp_path), State(gen=4), _where, fork=True)
    got = part.result()
    assert got["pid"] != os.getpid() and got["read_only"]
    assert part.result() is got  # collected once


def test_without_a_fork_the_part_is_read_at_once(tmp_path: Path) -> None:
    read: list[int] = []

    def build(layout: Layout) -> dict[str, Any]:
        read.append(os.getpid())
        return _where(layout)

    part = apart.Apart(Layout(tmp_path), State(), build, fork=False)
    assert read == [os.getpid()]  # before anything else this process reads
    assert part.result() == {"pid": os.getpid(), "read_only": False}


def test_a_part_that_writes_is_read_here(tmp_path: Path) -> None:
    """The child may not write (its store is the parent's, under the parent's lock): the write
    fails there and the part, write and all, is made here."""
    layout, state = Layout(tmp_path), State()

    def build(layout: Layout) -> dict[str, Any]:
        layout.commit(state)
        return _where(layout)

    part = apart.Apart(layout, state, build, fork=True)
    assert part.result() == {"pid": os.getpid(), "read_only": False}
    assert layout.exists()  # the commit made here


def test_a_part_read_before_this_process_committed_is_read_again(tmp_path: Path) -> None:
    state = State(gen=7)
    part = apart.Apart(Layout(tmp_path), state, _where, fork=True)
    state.gen += 1  # this process wrote meanwhile: the child read another store
    assert part.result() == {"pid": os.getpid(), "read_only": False}


def test_a_failed_child_costs_the_part_read_here(tmp_path: Path) -> None:
    def build(layout: Layout) -> dict[str, Any]:
        if isinstance(layout, apart.ReadOnly):
            os._exit(3)  # as a child killed or dead without an answer
        return _where(layout)

    part = apart.Apart(Layout(tmp_path), State(), build, fork=True)
    assert part.result() == {"pid": os.getpid(), "read_only": False}


def test_the_read_only_layout_refuses_every_write(tmp_path: Path) -> None:
    layout = apart.ReadOnly.of(Layout(tmp_path))
    for write in (
        lambda: layout.create(),
        lambda: layout.commit(State()),
        lambda: layout.clean(State()),
        lambda: layout.write_day("2026-01-01", {}, 1),
        lambda: layout.key(),
    ):
        with pytest.raises(apart.Unwritable):
            write()
    assert not any(tmp_path.iterdir())


def test_only_a_long_period_on_an_idle_core_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "1")
    assert apart.worth(apart.MIN_DAYS) and not apart.worth(apart.MIN_DAYS - 1)
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "0")
    assert not apart.worth(365)


def test_a_childs_counted_months_are_this_process_entries() -> None:
    """The child's part names closed months by copies of their entries; the source movers may
    add files to those entries and commit (store._counted_visits), so they must be the state's
    own, or the commit would leave the new files out (and its clean-up delete them)."""
    import copy

    import logaudit.store as st
    from logaudit.analyze.trends.movers import STORED

    entry = {"gen": 3, "files": {"visit_rows": {"sha256": "x", "gen": 3}}}
    state = State(months={"2026-01": entry})
    extra: dict[str, Any] = {STORED: {st._COUNTED_FROM: [("2026-01", copy.deepcopy(entry))]}}
    got = st._own_entries(state, extra)[STORED][st._COUNTED_FROM]
    assert got == [("2026-01", entry)] and got[0][1] is entry
