"""A part of a stored report read in a forked child while this process reads the rest.

A year of ``trends --state`` read its movers' part (``store._movers_part``: the last periods'
counts, visits and names) and then the period's tables (``store.load``) one after the other,
on one core of two. The two read different files and neither needs the other's result until
both are read, so a child forked from this process (``analyze.forked.Child``: its failure
handling) reads the movers' part from the same state, inherited copy-on-write, and sends it
back pickled while this process reads the period (docs/performance.md, seventeenth round).
When the report finds the site's own hosts (every trends run with movers), the child also
reads the period's paths and virtual hosts and finds them (``store._own_part``: ~0.35 s of a
year's 0.6 s in this process), and this process names the movers' texts
(``store._names_of``, not sent back: 62 of the part's 77 MB) while the child reads
(nineteenth round). Once the texts were named from the months' edge texts
(``store/texthash.py``), this process's share was the shorter by ~0.2 s for monthly periods:
for those the child now finds the own hosts only (``store._own_only``), and this process
reads the movers' part (a few months' roll-ups) after the period and the texts (twenty-first
round). Weeks' and days' parts (a few weeks of days) stay in the child, as does a part
without the own hosts to find. The eighteenth round's child also counted, for ``--every month``, the
closed months' distinct visitors when it did not find the own hosts; as it finds them in
every real run that forks (the movers' sections read referrers, paths and virtual hosts),
that path is gone, and this process counts them (``store._with_visits``).

What keeps it exact:

- The child writes nothing: its layout (``ReadOnly``) raises at any write, so a part that
  would make a missing derived file (a store's first report after an upgrade) fails in the
  child and is read here, where the write is made under the lock as before.
- Its part is taken only when this process committed nothing meanwhile (the state's
  generation is unchanged: every write takes a new one), so both read the same store; its
  paths, virtual hosts and own hosts with the part (else read here, ``store._own_part``).
- Whatever goes wrong (no fork, a failed, killed or stuck child, a result that does not
  load), ``result`` reads the part here: a failure costs time, never a figure.

It forks only when another core is idle (``analyze.forked``'s rule): on a busy host the
child would queue for the core it was meant to use. Without a fork the part is read at once,
before the period's tables as the store always read it; the closed months' visitors are then
counted by this process, after the period's visits (``add_sets``), not during ``load``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

from logaudit.analyze.base import Partial
from logaudit.store.layout import Layout, State

# The smallest period (stored days) worth a fork. The part's cost follows its periods, not the
# period's length: on the year store (load ~5) `--every day --since 30d` read it in 0.25 s of
# CPU against the load's 0.47, `--every week --since 60d` in 0.62 against 0.54; a 4-day store
# in 0.05-0.08 s, about what forking and writing the part back cost.
MIN_DAYS = 28


class Unwritable(Exception):
    """A write tried in the child (which then fails, and the part is read in the parent)."""


class ReadOnly(Layout):
    """A store folder read, never written: the child's view of the parent's store."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise Unwritable(f"{self.root}: read-only in a forked reader")

    create = commit = clean = write_day = write_file = key = _refuse


class Apart:
    """``build(layout)``: a part read in a forked child when ``fork``, else at once."""

    def __init__(
        self,
        layout: Layout,
        state: State,
        build: Callable[[Layout], Partial],
        fork: bool,
    ) -> None:
        self.layout, self.state, self.build = layout, state, build
        self.gen = state.gen
        self.child: Any = None
        self.value: Partial | None = None
        if fork:
            from logaudit.analyze.forked import Child

            reading = ReadOnly.of(layout)
            try:
                self.child = Child(lambda: [build(reading)], spill=True)
            except OSError:  # no process or pipe to spare: read here
                self.child = None
        if self.child is None:
            self.value = build(layout)
        self.started = time.monotonic()

    def result(self) -> Partial:
        """The part: the child's, or read here."""
        if self.value is not None:
            return self.value
        child, self.child = self.child, None
        got = child.result(time.monotonic() - self.started)
        if (
            got is not None
            and len(got) == 1
            and isinstance(got[0], dict)
            and self.state.gen == self.gen
        ):
            self.value = got[0]
        else:
            self.value = self.build(self.layout)
        return self.value

    def cancel(self) -> None:
        """Kill the child, if any (this process failed)."""
        if self.child is not None:
            self.child.cancel()
            self.child = None


def worth(days: int) -> bool:
    """Whether to read a part of a period of ``days`` stored days in a child."""
    from logaudit.analyze.forked import _core_idle, can_fork

    return days >= MIN_DAYS and can_fork() and _core_idle()


__all__ = ["Apart", "ReadOnly", "Unwritable", "worth"]
