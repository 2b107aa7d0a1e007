"""Reading a stored day's tables ahead, on threads, while this process does something else:
the open last day while a re-run parses its few new lines (``open_day``), and each table of a
day while the ones read before are merged (``tables``). Parquet's decoding releases the GIL;
every read is one ``Layout.read_table`` would make, and its frames are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pandas as pd

from logaudit import procs
from logaudit.errors import ConfigError
from logaudit.sources import Input
from logaudit.store.layout import Layout, State

# New bytes up to this much (all inputs) are read while the store's open last day is read
# ahead (``open_day``): a re-run's few new lines mostly fall in that day, and their
# parse leaves a core free; a bigger read would hold that day's frames for longer for less.
AHEAD_BYTES = 64 * 1024 * 1024


class Ahead:
    """The store's last day as stored when the run began, read on a thread: ``frames()``
    waits for its tables (None when one is damaged: ``store._add_days`` then reads those it
    needs)."""

    def __init__(self, layout: Layout, name: str, info: dict[str, Any], wanted: list[str]):
        from concurrent.futures import ThreadPoolExecutor

        self.name, self.info = name, info
        pool = ThreadPoolExecutor(1, thread_name_prefix="logaudit-store")
        self._got: Future[dict[str, pd.DataFrame | None]] | None = pool.submit(
            lambda: dict(tables(layout, name, info, wanted))
        )
        pool.shutdown(wait=False)

    def frames(self, name: str, info: dict[str, Any]) -> dict[str, pd.DataFrame | None] | None:
        """Its tables if ``info`` is still the day read (the same entry: no piece of this
        run has rewritten it since), else None. Given once: memory does not keep them."""
        if name != self.name or info is not self.info or self._got is None:
            return None
        got, self._got = self._got, None
        try:
            return got.result()
        except ConfigError:
            # A damaged file of a table this run may not need: ``store._add_days`` reads the
            # tables it needs itself, and fails only if one of those is damaged.
            return None

    def close(self) -> None:
        """Wait for the read to end, its frames unused: no thread of it is left running
        when the run forks later (store/apart.py: a fork copies no other thread, and a lock
        one holds in Arrow would be held in the child for ever)."""
        got, self._got = self._got, None
        if got is not None:
            got.exception()  # waits; a damaged file is _add_days' to say, when it needs it


def open_day(
    layout: Layout, state: State, written: list[str], reads: list[Input | None]
) -> Ahead | None:
    """Start reading the store's last day when it is open and the new bytes are few (a
    re-run's: ``AHEAD_BYTES``); ``store._add_days`` merges them with that day's new tables.
    ``written``: the tables the store writes."""
    given = [r for r in reads if r is not None]
    spans = [r.span for r in given if r.span is not None]
    if not spans or len(spans) != len(given) or not state.days:
        return None  # nothing to read, or a compressed file's tail (its size unknown here)
    if sum(end - start for start, end in spans) > AHEAD_BYTES:
        return None
    name = max(state.days)
    info = state.days[name]
    if info.get("closed"):
        return None
    wanted = [t for t in written if t in info["files"]]
    return Ahead(layout, name, info, wanted)


# Threads reading a day's stored tables for ``store._add_days`` while the ones read are merged:
# Parquet's decoding releases the GIL (0.15 -> 0.12 s for the open day of the 1M-line
# benchmark, whose 34 files are read in order). One a core, at most four.
READERS = min(4, procs.usable_cores())


def tables(
    layout: Layout, day: str, info: dict[str, Any], tables: list[str]
) -> Iterator[tuple[str, pd.DataFrame | None]]:
    """(table, its stored frame or None) for each of ``tables`` of the stored ``day``, in
    order, read ahead on ``READERS`` threads (at most as many tables ahead: memory holds a
    few of the day's stored frames beside the merged ones, not all of them)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    todo = iter(tables)
    with ThreadPoolExecutor(READERS, thread_name_prefix="logaudit-store") as pool:
        ahead: deque[tuple[str, Future[pd.DataFrame | None]]] = deque()

        def more() -> None:
            t = next(todo, None)
            if t is not None:
                ahead.append((t, pool.submit(layout.read_table, day, info, t)))

        for _ in range(READERS):
            more()
        while ahead:
            t, got = ahead.popleft()
            more()
            yield t, got.result()
