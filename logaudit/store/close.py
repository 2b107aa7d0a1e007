"""Closing days: a day no later line can reach keeps counts where it kept key sets.

Per-page "visitors" are visitor-days (METRICS.md): per path, the distinct (path, day, visitor)
triples, summed over the days. While a day may still get lines (its last lines may come in the
next run) the store keeps its triples (``path_visitors``, 16 bytes each, a third of a stored
day), so that a visitor seen on a page before and after a run boundary counts once. Once the
day is *closed*, its triples become one count per path (``path_visitor_counts``), and the
report adds the counts of closed days to the triples of open ones: the same number.

**When a day is closed.** Each input's record remembers the UTC times of the ``LATEST`` latest
lines read from it (``latest``) and the westernmost offset (local minus UTC) of its lines
(``west``); its *time* is the earliest of those latest lines, told on the wall clock of that
offset. The latest lines, not the last one: a few lines with a clock ahead (fewer than
``LATEST``) cannot move it, wherever they stand; in UTC and the westernmost offset: lines that
interleave offsets (two servers, +0000 and +0900, in one log) cannot move it by the
difference. After a run, the *horizon* is the earliest of those times among the plain inputs
that had new lines in this run (they are the ones being written: a file that did not grow,
such as ``access.log.1`` after a rotation, has stopped); if only compressed inputs (rotated,
so complete) had new lines, the latest of them. A day is closed when the horizon is past its
end by at least the visit timeout of the run that reads (30 minutes by default): every log
still being written has been read past it. A run that reads nothing closes nothing.

A line that still comes for a day once closed (a log given for the first time, from a server
whose clock or rotation lags the others) is counted in every figure but that day's per-page
visitors: its (page, visitor) pair could be one the closed day's counts already hold, which
no longer say, so it is refused there rather than counted twice. The run says how many lines
came so, in one line naming `state rebuild`, which reads every input before it closes
anything and counts them exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from logaudit.analyze.base import Partial, Table
from logaudit.store import visitdays
from logaudit.store.layout import Layout, State, day_number

DAY_S = 86_400
TRIPLES = "path_visitors"
# Per path hash, the visitor-days of the closed day (summed across days like any count).
COUNTS = Table("path_visitor_counts", lambda c, s: pd.DataFrame())


# How many of an input's latest lines its time is read from (``when``): more lines than this
# with a clock ahead move it, fewer cannot.
LATEST = 10


def t_latest(c: pd.DataFrame, s: Any) -> pd.DataFrame:
    """A chunk's ``LATEST`` latest UTC times (seconds), each row with the chunk's westernmost
    offset (local minus UTC, seconds). Read by the store's ingest only, never stored."""
    if not len(c):
        return pd.DataFrame()
    utc = c["time"].array.asi8
    top = np.partition(utc, len(utc) - LATEST)[-LATEST:] if len(utc) > LATEST else utc
    west = int((c["local"].array.asi8 - utc).min())
    return pd.DataFrame({"utc": top.astype(np.int64), "west": np.full(len(top), west, np.int64)})


LATEST_LINES = Table("latest_lines", t_latest, kind="concat")


def last_local(partial: Partial) -> int | None:
    """The local time (seconds) of the latest line of a run's partial (its by-day ``span``
    table): shown by `state info`, no longer what closes days."""
    span = partial.get("span")
    if span is None or span.empty or "last_local" not in span.columns:
        return None
    return int(span["last_local"].max())


def note_latest(record: dict[str, Any], latest: pd.DataFrame | None) -> None:
    """Merge a run's ``latest_lines`` into an input's record (``latest``, ``west``). A record
    of an older logaudit (``last_local``, no ``latest``) is seeded with its last line, in UTC
    by the westernmost offset: one new line is then not the earliest of its latest lines
    (the first run on the new code closed days by that line alone). Call it before the run
    moves ``last_local``."""
    if latest is None or not len(latest):
        return
    west = min(int(latest["west"].min()), int(record.get("west", latest["west"].min())))
    had = record.get("latest")
    if not had and record.get("last_local") is not None:
        had = [int(record["last_local"]) - west]
    utc = np.concatenate([np.asarray(had or [], np.int64), latest["utc"]])
    record["latest"] = [int(t) for t in np.sort(utc)[-LATEST:]]
    record["west"] = west


def when(record: dict[str, Any]) -> int | None:
    """An input's time (local seconds) for the horizon: its earliest latest line, on the wall
    clock of its westernmost offset; a record of an older logaudit: its ``last_local``."""
    if record.get("latest"):
        return int(min(record["latest"])) + int(record.get("west", 0))
    t = record.get("last_local")
    return None if t is None else int(t)


def offset(records: Sequence[dict[str, Any]]) -> int | None:
    """The offset (local minus UTC, seconds) the inputs' lines were written in, when their
    records agree on one (``west``, ``note_latest``); None when none has it (a new store, one
    of an older logaudit) or they were written in several."""
    offsets = {int(r["west"]) for r in records if isinstance(r.get("west"), int)}
    return offsets.pop() if len(offsets) == 1 else None


def horizon(grown: Sequence[dict[str, Any]]) -> int | None:
    """The local time (seconds) that the records of the inputs with new lines in a run have all
    been read past (None: nothing was read)."""
    had = [(r, t) for r in grown if (t := when(r)) is not None]
    plain = [t for r, t in had if not r.get("compressed")]
    if plain:
        return min(plain)
    done = [t for r, t in had]
    return max(done) if done else None


def holds_counts(info: dict[str, Any]) -> bool:
    """Whether a stored day holds closed counts (closed, or reopened by late lines since): new
    (page, visitor) pairs for it cannot be told from the ones counted. A day closed without
    any pair (no visitor hit) has none, and takes new pairs exactly."""
    return COUNTS.name in info.get("files", {})


def counts_of(triples: pd.DataFrame) -> pd.DataFrame:
    """Visitor-days per path hash of one day's triples."""
    n = triples.groupby("path_h", sort=False).size()
    return pd.DataFrame({"visitors": n.to_numpy()}, index=n.index.rename("path_h"))


def close_days(layout: Layout, state: State, until: int | None, timeout_s: int) -> list[str]:
    """Close the open stored days that end at least ``timeout_s`` before ``until`` (local seconds):
    each one's triples become counts (a new file of the next generation, not yet committed).
    The days closed."""
    if until is None:
        return []
    closed = []
    gen = None
    for name, info in sorted(state.days.items()):
        if info.get("closed"):
            continue
        if (day_number(name) + 1) * DAY_S + timeout_s > until:
            break  # days are sorted: the later ones are not closed either
        triples = layout.read_table(name, info, TRIPLES)
        if triples is not None and len(triples):
            if gen is None:
                state.gen += 1
                gen = state.gen
            frames = [counts_of(triples)]
            old = layout.read_table(name, info, COUNTS.name)
            if old is not None:
                frames.insert(0, old)
            files = dict(info["files"])
            files.pop(TRIPLES, None)
            # Its path hashes as row numbers of the day's paths (store/layout.py, REFS).
            counts = COUNTS.combine(frames)
            files[COUNTS.name] = layout.write_file(name, COUNTS.name, counts, gen, info)
            info = {**info, "files": files}
        if gen is None:
            state.gen += 1
            gen = state.gen
        # The day's visits, once, for the trends (store/visitdays.py).
        info = visitdays.close_day(layout, state, name, info, timeout_s, gen)
        state.days[name] = {**info, "closed": True}
        closed.append(name)
    return closed
