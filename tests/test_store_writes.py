"""A day's files written by ``Layout.write_day`` (store/layout.py): the files one table at a
time would be (``write_file``), byte for byte, written on threads and synced before it
returns, the day's folder synced once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from logaudit.store import layout as layout_module
from logaudit.store.layout import Layout, write_order
from tests.store_helpers import log_bytes, report


@pytest.fixture(scope="module")
def stored_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """A stored day's tables, as a run merges them before writing."""
    tmp = tmp_path_factory.mktemp("writes")
    log = tmp / "access.log"
    log.write_bytes(log_bytes(3000, days=2, bad=0))
    report([str(log)], tmp / "state")
    layout = Layout(tmp / "state")
    state = layout.read_state()
    day, info = max(state.days.items())
    part = {t: layout.read_table(day, info, t) for t in info["files"]}
    return day, {t: f for t, f in part.items() if f is not None}


def _digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.iterdir()}


def test_a_day_is_written_as_one_table_at_a_time(
    stored_day: tuple[str, dict], tmp_path: Path
) -> None:
    day, part = stored_day
    assert {"visitors", "touch_events", "paths"} <= set(part)  # tables that point, and into
    threads = Layout(tmp_path / "threads")
    one = Layout(tmp_path / "one")
    threads.create()
    one.create()
    got = threads.write_day(day, part, 7)
    files: dict[str, dict] = {}
    info = {"gen": 7, "files": files}
    written: dict = {}
    for name in write_order(layout_module._packed(part)):
        meta = one.write_file(day, name, layout_module._packed(part)[name], 7, info, written)
        del meta["gen"]
        files[name] = meta
    assert got == {"gen": 7, "files": dict(sorted(files.items()))}
    assert _digests(threads.folder(day)) == _digests(one.folder(day))
    assert any(m for t, m in got["files"].items() if t == "visitors")
    # Each file as recorded, and read back as the frames written.
    for name, meta in got["files"].items():
        data = threads.file(day, name, 7).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
    for name in part:  # every table, those pointing into others and those pointed into
        back = threads.read_table(day, got, name)
        assert back is not None and back.equals(part[name]), name


def test_every_file_then_the_folder_is_synced_once(
    stored_day: tuple[str, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day of 30-odd files synced its folder after each (one fsync each, waiting on the
    disk); now once, after every file's own fsync, before the commit can name them."""
    day, part = stored_day
    layout = Layout(tmp_path / "state")
    layout.create()
    layout._writable(day)  # the run's marker, written (and synced) once per run
    events: list[str] = []
    real_fsync = layout_module.os.fsync

    def fsync(fd: int) -> None:
        events.append("file")
        real_fsync(fd)

    monkeypatch.setattr(layout_module.os, "fsync", fsync)
    monkeypatch.setattr(layout_module, "sync_folder", lambda folder: events.append(str(folder)))
    got = layout.write_day(day, part, 3)
    assert events.count("file") == len(got["files"]) > 20
    assert events[-1] == str(layout.folder(day)) and events.count(str(layout.folder(day))) == 1


def test_a_failed_write_fails_the_day(
    stored_day: tuple[str, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error on a writer thread is the caller's (the commit never comes), not lost."""
    day, part = stored_day
    layout = Layout(tmp_path / "state")

    def refuse(path: Path, data: bytes, sync: bool = True) -> None:
        raise OSError(28, "No space left on device")

    layout.create()
    layout._writable(day)
    monkeypatch.setattr(layout_module, "_write_private", refuse)
    with pytest.raises(OSError, match="No space"):
        layout.write_day(day, part, 3)


def test_a_day_read_ahead_is_read_in_order(tmp_path: Path) -> None:
    """``_add_days`` merges the stored frames read ahead on threads: each the frame
    ``read_table`` gives, in the order asked, and a damaged file the store's error."""
    from logaudit.errors import ConfigError
    from logaudit.store.readahead import tables as _read_old

    log = tmp_path / "access.log"
    log.write_bytes(log_bytes(2000, days=1, bad=0))
    report([str(log)], tmp_path / "state")
    layout = Layout(tmp_path / "state")
    day, info = max(layout.read_state().days.items())
    tables = [*sorted(info["files"]), "not_stored"]
    got = list(_read_old(layout, day, info, tables))
    assert [t for t, _ in got] == tables
    for t, frame in got:
        want = layout.read_table(day, info, t)
        assert (frame is None and want is None) or frame.equals(want)
    layout.path(day, info, "paths").write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="unreadable"):
        list(_read_old(Layout(layout.root), day, info, tables))


def test_the_open_last_day_is_read_while_few_new_lines_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-run's new lines mostly fall in the store's open last day: that day is read
    ahead (``readahead.open_day``) when the new bytes are few, and its frames used only for the
    very entry read (a piece of the run that rewrote it reads the new one)."""
    from dataclasses import replace

    from logaudit import store
    from logaudit.sources import Input
    from logaudit.store import readahead

    log = tmp_path / "access.log"
    log.write_bytes(log_bytes(2000, days=2, bad=0))
    report([str(log)], tmp_path / "state")
    layout = Layout(tmp_path / "state")
    state = layout.read_state()
    written = list(store._written(store.store_tables()))
    day = max(state.days)
    few = Input(name=str(log), path=log, span=(0, 1000))
    ahead = readahead.open_day(layout, state, written, [few, None])
    assert ahead is not None and ahead.name == day
    frames = ahead.frames(day, state.days[day])
    assert frames is not None and set(frames) == set(state.days[day]["files"])
    for t, frame in frames.items():
        want = layout.read_table(day, state.days[day], t)
        assert frame is not None and want is not None and frame.equals(want)
    assert ahead.frames(day, state.days[day]) is None  # given once
    again = readahead.open_day(layout, state, written, [few])
    assert again is not None
    assert again.frames(day, dict(state.days[day])) is None  # another entry: read again
    assert again.frames(min(state.days), state.days[min(state.days)]) is None
    many = replace(few, span=(0, readahead.AHEAD_BYTES + 1))
    assert readahead.open_day(layout, state, written, [many]) is None
    assert readahead.open_day(layout, state, written, [replace(few, span=None)]) is None
    state.days[day]["closed"] = True
    assert readahead.open_day(layout, state, written, [few]) is None


def test_a_damaged_file_the_new_lines_do_not_touch_is_kept(tmp_path: Path) -> None:
    """The open day read ahead holds every stored table; one of them damaged, of a table the
    new lines add no rows to, is kept as it is and the new lines are stored (the report that
    needs it then says it is unreadable), not the reading's failure."""
    from logaudit.errors import ConfigError
    from tests.store_helpers import state_json

    lines = log_bytes(3000, days=1, bad=0).splitlines(keepends=True)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines[:2000]))
    state = tmp_path / "state"
    report([str(log)], state)
    layout = Layout(state)
    day, info = max(layout.read_state().days.items())
    untouched = "pb_probes"  # the probes the new lines of this log do not add to
    assert untouched in info["files"]
    layout.path(day, info, untouched).write_bytes(b"not parquet")
    with open(log, "ab") as f:
        f.write(b"".join(lines[2000:]))
    where = f"day={day}/{layout.path(day, info, untouched).name}"
    with pytest.raises(ConfigError, match=f"{where} is unreadable"):  # the report's read
        report([str(log)], state)
    assert state_json(state)["inputs"][0]["lines"] == 3000  # the new lines were stored
    kept = layout.read_state().days[day]
    assert layout.path(day, kept, untouched).read_bytes() == b"not parquet"


def test_a_references_hashes_are_its_texts_hashes() -> None:
    """``_keys`` hashes a text reference from Arrow's bytes: the hashes ``hash_strings`` gives
    its Python strings (the row numbers written and read point by them)."""
    import numpy as np
    import pyarrow as pa

    from logaudit.schema import hash_strings

    texts = ["/", "/é/ü?q=ß", "", "/" + "x" * 300, "/a b"] * 50
    want = hash_strings(np.asarray(texts, dtype=object))
    for kind in (pa.string(), pa.large_string()):
        chunks = pa.chunked_array([pa.array(texts[:101], kind), pa.array(texts[101:], kind)])
        got = layout_module._keys(pa.table({"path": chunks}), "path", True)
        assert got is not None
        assert got.dtype == np.uint64
        assert got.tolist() == want.tolist()
