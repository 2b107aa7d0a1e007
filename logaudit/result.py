"""What a run computed, whichever engine ran it: the merged partial tables and the accounting
of its inputs. It sits on the floor of ``schema`` and ``report``: ``analyze`` reads it, the
engines (``engine/local.py``, ``engine/dask.py``) above make it, and nothing here imports them
at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logaudit.analyze.base import Partial
    from logaudit.formats import Detected
    from logaudit.parse import BadLines
    from logaudit.sources import Input, InputProblem


@dataclass
class Run:
    partial: Partial
    bad: BadLines
    problems: list[InputProblem]
    inputs: list[Input]
    formats: dict[str, Detected] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    tables: tuple[str, ...] = ()
    # A store run's inputs: the lines earlier runs read of each (its warnings weigh this
    # run's bad lines against them too: one junk line read on is no wrong --log-format).
    read_before: dict[str, int] = field(default_factory=dict)
    # Read from the history store (``store.stored_run``), not from the logs: the period's bad
    # lines are not known (the store keeps no count by day). False when --state could not
    # answer (filters...) and the logs were read directly.
    stored: bool = False
