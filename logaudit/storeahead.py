"""A head start for ``trends --state``: the store's Parquet files are read while pandas imports.

A year of trends over the store spends its first ~0.35 s importing pandas and the section
modules (holding the GIL) and ~0.35 s more reading a few hundred Parquet files, one after the
other, while the host's second core has nothing to do. Arrow reads a Parquet file without
Python's lock, so the two can overlap: ``start`` (called by the CLI as soon as it knows its
arguments, before anything imports pandas) takes the store's lock, reads ``store.json`` and
reads on a thread of its own the whole-file tables a trends report reads of the months and
open days in its window (``MONTHS``, ``DAYS``). ``store/layout.py``'s ``_read`` asks ``take``
first; anything not read ahead is read as always. This module imports neither pandas nor the
store package (whose ``__init__`` imports pandas).

**Exact.** A table is handed over only for the very path read whole, and only if the file is
still the one read (device, inode, size and change time unchanged before the read, after it,
and when taken): a store never rewrites a named file in place (a new generation is a new
name), and the store's lock is held from before ``store.json`` is read until the reading ahead
has stopped (``store/lock.py`` adopts the lock taken here and calls ``forget`` before letting
it go). So no other run writes the store meanwhile.

**Errors.** Any error on the thread only means that file is not handed over: the run reads it
itself and fails (or not) as it always did, in the main thread. A store another run holds
(its lock busy) or a ``store.json`` that cannot be read: no reading ahead at all.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The tables a trends report reads whole, in about the order it reads them (so that the main
# thread seldom asks for one the thread has not reached: it then reads it itself). Measured
# on a year's store (docs/performance.md, "Thirteenth round, second turn"). A table missing
# here is read as always; one listed and not read costs a read on the other core.
# Not the months' movers' tables (mover_*, *_hashes, referrer_hosts, edge_rows): the movers
# read those of the last few periods only (5 of 12 months by month, fewer by week).
MONTHS = (
    "trend_hours", "visitor_keys", "totals", "paths", "vhosts", "files", "span",
    "entry_sources", "visit_clicks", "visit_lengths",
)  # fmt: skip
DAYS = (
    "trend_hours", "visit_rows", "mover_counts", "mover_people", "visitor_days", "totals",
    "paths", "vhosts", "files", "span",
)  # fmt: skip
# Bytes of tables read ahead and not yet taken, at most: the thread waits for the run to take
# some before reading more. Unbounded, it ran 150 MB ahead of a year's report and the run's
# peak memory grew by as much; the import window reads about this much.
AHEAD_BYTES = 48 << 20

_cond = threading.Condition()
_ready: dict[str, tuple[Any, tuple[int, ...]]] = {}  # path -> (table, file identity)
_taken: set[str] = set()  # asked for before the thread reached them: it skips them
_busy: str | None = None  # the path being read now
_held = 0  # bytes in _ready
_stop = False
_thread: threading.Thread | None = None
_lock: tuple[Path, int] | None = None  # (store root, the lock's descriptor), not yet adopted


def start(root: str | Path | None, since: str | None = None, tz: str | None = None) -> None:
    """Read ahead the files a trends report over the store ``root`` will read, if the store's
    lock is free (else the run waits or fails on it as always, with nothing read ahead)."""
    global _thread, _stop, _lock
    if root is None or _thread is not None or _lock is not None:
        return
    if os.environ.get("LOGAUDIT_STORE_AHEAD") == "0":
        return
    path = Path(root)
    try:
        raw = json.loads((path / "store.json").read_bytes()) if _take_lock(path) else None
    except (OSError, ValueError):
        raw = None
    if not isinstance(raw, dict):
        forget()  # the lock, if taken
        return
    paths = _paths(path, raw, _first_day(since, tz))
    _stop = False
    _thread = threading.Thread(target=_run, args=(paths,), daemon=True)
    _thread.name = "logaudit-store-ahead"
    _thread.start()


def _take_lock(root: Path) -> bool:
    """The store's lock, as ``store/lock.py`` takes it, if it is free now."""
    global _lock
    if not (root / "store.json").is_file():
        return False
    fd = os.open(root / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _lock = (root, fd)
    return True


def adopt(root: Path) -> int | None:
    """The lock's descriptor taken by ``start`` for ``root`` (the caller now holds the lock,
    and calls ``forget`` before closing it), or None."""
    global _lock
    if _lock is None:
        return None
    held, fd = _lock
    try:
        same = os.path.samefile(held, root)
    except OSError:
        same = False
    if not same:
        return None
    _lock = None
    return fd


def _first_day(since: str | None, tz: str | None) -> str:
    """The first day of the window, as the store names days ("" for all of it; a --since
    that cannot be read here is left to the run to refuse)."""
    if not since:
        return ""
    from logaudit.timespec import parse_when  # pandas-free

    try:
        return parse_when(since, tz).date().isoformat()
    except Exception:  # noqa: BLE001 - the run reports a bad --since
        return ""


def _paths(root: Path, raw: dict[str, Any], first: str) -> list[str]:
    """The files of ``MONTHS`` and ``DAYS`` in the window, as ``Layout.path`` names them:
    the rolled-up months whose stored days are all from ``first`` on, the days from ``first``
    on of the other months (as ``store/months.py``'s ``covering`` chooses, roughly: a guess
    that misses only costs a read)."""
    months = raw.get("months") or {}
    days = raw.get("days") or {}
    early = {d[:7] for d in days if d < first}
    whole = {m: info for m, info in months.items() if m not in early}
    picked = [(f"month={m}", info, MONTHS) for m, info in sorted(whole.items())]
    picked += [
        (f"day={d}", info, DAYS)
        for d, info in sorted(days.items())
        if d >= first and d[:7] not in whole
    ]
    out: list[str] = []
    for table in dict.fromkeys((*MONTHS, *DAYS)):
        for folder, info, tables in picked:
            files = info.get("files", {})
            if table in tables and table in files:
                gen = int(files[table].get("gen", info.get("gen", 0)))
                out.append(str(root / folder / f"{table}.g{gen}.parquet"))
    return out


def _identity(path: str) -> tuple[int, ...]:
    s = os.stat(path)
    return (s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns)


def _run(paths: Iterable[str]) -> None:
    global _busy, _held
    try:
        import pyarrow.parquet as pq

        for path in paths:
            with _cond:
                while _held > AHEAD_BYTES and not _stop:
                    _cond.wait()
                if _stop:
                    return
                if path in _taken:
                    continue
                _busy = path
            try:
                before = _identity(path)
                with pq.ParquetFile(path) as f:  # as layout._read reads it
                    table = f.read()
                same = _identity(path) == before
            except Exception:  # noqa: BLE001 - the run reads it itself, and says what is wrong
                same = False
            with _cond:
                if same:
                    _ready[path] = (table, before)
                    _held += table.nbytes
                _busy = None
                _cond.notify_all()
    finally:
        with _cond:
            _busy = None
            _cond.notify_all()


def take(path: Path | str) -> Any:
    """The whole table of ``path`` read ahead (a ``pyarrow.Table``), or None: read it then.
    Waits if it is the file being read now."""
    global _held
    if _thread is None:
        return None
    key = str(path)
    with _cond:
        while _busy == key:
            _cond.wait()
        got = _ready.pop(key, None)
        if got is None:
            _taken.add(key)
            return None
        _held -= got[0].nbytes
        _cond.notify_all()
    table, identity = got
    try:
        return table if _identity(key) == identity else None
    except OSError:
        return None


def forget() -> None:
    """Stop reading ahead, drop what was not taken, and let go of a lock not adopted."""
    global _stop, _thread, _lock, _held
    with _cond:
        _stop = True
        _cond.notify_all()
        thread, _thread = _thread, None
    if thread is not None:
        thread.join()  # at most the file it is reading
    with _cond:
        _ready.clear()
        _taken.clear()
        _held = 0
    if _lock is not None:
        os.close(_lock[1])  # closing releases the lock
        _lock = None
