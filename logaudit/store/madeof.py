"""Files made from another file of the same entry, stamped with its checksum (``"of"``).

A table derived from a stored one (a month's visit counts from its ``visit_rows``, its visitor
sets from its ``visitor_days``, a text table's hashes, a day's referring sites, a month's
named sources) records in its ``store.json`` entry the checksum of the file it was made from;
it stands for that file only while the checksum still matches, so a stale one is never used.
One place for the stamp and its check (``store/entries.py``, ``visitorsets.py``,
``texthash.py``, ``sites.py``, ``entrysources.py``), and for the backfill of months rolled up
by an older logaudit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from logaudit.store.layout import Layout, State


def stands(files: dict[str, Any], table: str, source: str) -> bool:
    """Whether ``table`` is stored and was made from the ``source`` file now stored."""
    meta = files.get(table)
    made = files.get(source)
    return meta is not None and made is not None and meta.get("of") == made["sha256"]


def all_stand(files: dict[str, Any], tables: Iterable[str], source: str) -> bool:
    """Whether ``source`` is stored and every one of ``tables`` stands for it."""
    return source in files and all(stands(files, t, source) for t in tables)


def stamp(
    layout: Layout,
    name: str,
    files: dict[str, Any],
    table: str,
    frame: pd.DataFrame,
    gen: int,
    source: str,
) -> dict[str, Any]:
    """Write ``frame`` as ``table`` of the entry ``name`` (generation ``gen``), stamped with
    the checksum of its ``source`` file, into ``files``; its file entry."""
    meta = layout.write_file(name, table, frame, gen)
    meta["of"] = files[source]["sha256"]
    files[table] = meta
    return meta


@contextmanager
def unless_full(files: dict[str, Any]) -> Iterator[None]:
    """Makes derived files of an entry's ``files`` on a report's read path; if a write fails
    (a full disk) the entry keeps the files it had, read as before (its texts hashed, every
    text read, ...), and a later run makes them: the report is not stopped. What was
    written stays valid until the next run's clean-up deletes it (``Layout.clean``)."""
    before = dict(files)
    try:
        yield
    except OSError:
        files.clear()
        files.update(before)


def backfill_months(
    layout: Layout,
    state: State,
    entries: list[tuple[str, dict[str, Any]]],
    source: str,
    ready: Callable[[dict[str, Any]], bool],
    write: Callable[[Layout, str, dict[str, Any], Any, int], bool],
    read: Callable[[str, dict[str, Any]], Any] | None = None,
) -> tuple[bool, bool]:
    """Make the derived files of the month ``entries`` holding ``source`` that are not
    ``ready`` (not yet committed): each month's ``source`` read (``layout.read_table``, or
    ``read``) and handed to ``write`` (whether it made them). (whether any month was to do:
    the generation was then taken, whether any ``write`` made its files)."""
    todo = [(m, e) for m, e in entries if len(m) == 7 and source in e["files"] and not ready(e)]
    if not todo:
        return False, False
    state.gen += 1
    made = False
    for month, entry in todo:
        rows = (read or (lambda m, e: layout.read_table(m, e, source)))(month, entry)
        with unless_full(entry["files"]):
            if rows is not None and write(layout, month, entry["files"], rows, state.gen):
                made = True
    return True, made


__all__ = ["all_stand", "backfill_months", "stamp", "stands", "unless_full"]
