"""Closing days: a day no later line can reach keeps counts where it kept key sets.

Per-page "visitors" are visitor-days (METRICS.md): per path, the distinct (path, day, visitor)
triples, summed over the days. While a day may still get lines (its last lines may come in the
next run) the store keeps its triples (``path_visitors``, 16 bytes each, a third of a stored
day), so that a visitor seen on a page before and after a run boundary counts once. Once the
day is *closed*, its triples become one count per path (``path_visitor_counts``), and the
report adds the counts of closed days to the triples of open ones: the same number.

**When a day is closed.** Each input's record remembers the local time of the last line read
from it (``last_local``). After a run, the *horizon* is the earliest of those times among the
plain inputs that had new lines in this run (they are the ones being written: a file that did
not grow, such as ``access.log.1`` after a rotation, has stopped); if only compressed inputs
(rotated, so complete) had new lines, the latest of them. A day is closed when the horizon is
past its end by at least the visit timeout of the run that reads (30 minutes by default): every
log still being written has been read past it. A run that reads nothing closes nothing.

A line that still comes for a closed day (a log given for the first time, from a server whose
clock or rotation lags the others) is added as triples beside the day's counts, and the run
says so in one line: a visitor seen on a page of that day both before and after the day was
closed counts twice for it (`state rebuild` with the logs recounts it exactly). The next run
that closes the day again folds the triples into its counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from logaudit.analyze.base import Partial, Table
from logaudit.store import visitdays
from logaudit.store.layout import Layout, State, day_number

DAY_S = 86_400
TRIPLES = "path_visitors"
# Per path hash, the visitor-days of the closed day (summed across days like any count).
COUNTS = Table("path_visitor_counts", lambda c, s: pd.DataFrame())


def last_local(partial: Partial) -> int | None:
    """The local time (seconds) of the last line of a run's partial (its by-day ``span`` table)."""
    span = partial.get("span")
    if span is None or span.empty or "last_local" not in span.columns:
        return None
    return int(span["last_local"].max())


def horizon(grown: Sequence[dict[str, Any]]) -> int | None:
    """The local time (seconds) that the records of the inputs with new lines in a run have all
    been read past (None: nothing was read)."""
    had = [r for r in grown if r.get("last_local") is not None]
    plain = [int(r["last_local"]) for r in had if not r.get("compressed")]
    if plain:
        return min(plain)
    done = [int(r["last_local"]) for r in had]
    return max(done) if done else None


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
