"""Closed months' visit sources, classified once (schema 10, branch ``year5``).

The source movers (``trends.movers``: sources by their share of visits) name each visit's
entry (referrer, query) pair as the ``sources`` section does (``enrich/sources.classify``). A
closed month keeps its interior visits counted per local start day and entry pair
(``entry_counts``, ``store/entries.py``), but every report still classified the distinct pairs
of the compared months: ~190,000 pairs over the last 5 months of a year at 10,000 visitors a
day, Python per referring site and per query naming a campaign parameter, ~15 % of the trends.

What a pair is called depends on the pair, on the classification rules (the data tables,
the ``sources`` and ``affiliate_params`` settings, the code: ``sources.rules_digest``) and on
the site's own hosts (a referrer from one of them is ``(internal)``), which a report infers
over its own period (``store/sites.py``). So each rolled-up month may keep

- ``entry_sources``: (``day``, ``source``, ``n``): its interior visits counted per local start
  day and source, as the pairs of its ``entry_counts`` are named under the rules and own hosts
  its file entry records (``"rules"``, ``"own"``: sorted).

The movers then add each row's ``n`` to its source and period: the same sums as classifying
the month's pairs and weighing each by its count.

**Valid while its counts, rules and own hosts are.** The file's entry records the checksum of
the ``entry_counts`` file it was made from (``"of"``), the rules' digest and the own hosts; a
report uses it only when all three match its own (the own hosts as the store infers them for
the report's period), and otherwise classifies the month's pairs and writes the file again
with its own hosts (under the store's lock, one commit with the others): a site whose own
hosts do not change pays once per month. Made by the first report whose source movers read the
month (a month just rolled up: that report; an older roll-up: the same), never at roll-up:
the own hosts are the report's, not the month's. ``state verify`` checks it as every file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from logaudit.store import entries, madeof, texthash
from logaudit.store.layout import Layout, State

TABLE = "entry_sources"


def ready(entry: dict[str, Any], own: Iterable[str], rules: str) -> bool:
    """Whether a month entry's sources stand for its counted visits under ``rules`` and
    ``own`` hosts."""
    files = entry["files"]
    meta = files.get(TABLE)
    return (
        madeof.stands(files, TABLE, entries.COUNTS)
        and meta.get("rules") == rules
        and meta.get("own") == sorted(own)
    )


def of_counts(
    counts: pd.DataFrame,
    ref_names: pd.Series,
    query_names: pd.Series,
    own: set[str],
    tables: Any,
) -> pd.DataFrame:
    """(``day``, ``source``, ``n``) of a month's ``entry_counts``: each distinct pair named as
    the movers name a visit's (``campaigns.visit_sources`` with the referrer and query texts
    by hash), the counts summed per day and source."""
    from logaudit.analyze.campaigns import pair_sources

    f = pd.DataFrame(
        {
            "day": counts["day"].to_numpy(np.int64),
            "source": pair_sources(counts, ref_names, query_names, own, tables),
            "n": counts["n"].to_numpy(np.int64),
        }
    )
    out = f.groupby(["day", "source"], sort=True)["n"].sum().reset_index()
    out["n"] = out["n"].astype(np.int64)
    return out


def _names(layout: Layout, month: str, entry: dict[str, Any], table: str) -> pd.Series:
    """hash -> text of the month's ``table`` (its stored hashes: ``store/texthash.py``)."""
    return texthash.named(layout, [(month, entry)], table, every=True).series()


def backfill(
    layout: Layout,
    state: State,
    counted: list[tuple[str, dict[str, Any]]],
    own: set[str],
    rules: str,
    tables: Any,
) -> bool:
    """Make (or make again) the sources of the ``counted`` months (``entries.ready``) that do
    not stand for ``own`` and ``rules`` (not yet committed); whether any were made."""
    todo = [(m, e) for m, e in counted if not ready(e, own, rules)]
    if not todo:
        return False
    state.gen += 1
    for month, entry in todo:
        files = entry["files"]
        counts = layout.read_table(month, entry, entries.COUNTS)
        if counts is None:
            continue
        frame = of_counts(
            counts,
            _names(layout, month, entry, "referrers"),
            _names(layout, month, entry, "queries"),
            own,
            tables,
        )
        with madeof.unless_full(files):
            meta = madeof.stamp(layout, month, files, TABLE, frame, state.gen, entries.COUNTS)
            meta.update(rules=rules, own=sorted(own))
    return True


def read(layout: Layout, counted: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame | None:
    """The ``counted`` months' sources (``day``, ``source``, ``n``), concatenated."""
    return layout.read_tables(counted, TABLE) if counted else None


__all__ = ["TABLE", "backfill", "of_counts", "read", "ready"]
