"""Referring sites per stored day and month, for the site's own hosts (branch ``year2``,
schema 7).

Movers leave out referrers from the site's own hosts, and the source movers call such a visit
internal. Unless ``site_hosts`` is set or the log names virtual hosts, those hosts are
inferred over the report's period (``referrers.own_hosts``): a host is the site's own when
most of its referrals name paths the site served, from enough distinct paths. Over a year at
10,000 visitors a day that read a year's referrers (1M rows in 12 month roll-ups), merged
them by their text (500,000 URLs), and cut every URL into host and path with a regular
expression: about 2.5 s of the 6 s the trends took.

The inference needs only, per (host, path of the referring URL), the hits: sums and distinct
pairs, which add up over any split of the lines. So each stored day or month entry read by a
report keeps ``referrer_sites`` ((site, ref_path, hits), one row per pair with a host), made
from its own ``referrers`` table, and the report infers the own hosts from those rows and the
period's paths, as ``own_hosts`` does from the merged referrers: the same set. The file's
entry records the checksum of the ``referrers`` file it was made from (``"of"``): a day
rewritten with new lines (or by an older logaudit) has no valid one, and is made again.

When: a report that reads them makes the missing ones (the entries it reads: the months'
roll-ups and the other days, under the store's lock, committed once), so a store written
before has them after its first report. A day inside a rolled-up month gets one too when a
report reads it (a ``--since`` inside the month): the file is no part of what the month's
roll-up is made of (``months.DERIVED``), so the roll-up stands (branch ``trends16``; before,
such a report read and merged the period's referrers and cut every URL again).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from logaudit.analyze.base import Partial
from logaudit.analyze.referrers import inferred, own_hosts, site_of
from logaudit.config import Settings
from logaudit.schema import arrow_strings
from logaudit.store import madeof
from logaudit.store.layout import Layout, State
from logaudit.store.texthash import coded

TABLE = "referrer_sites"
REFERRERS = "referrers"


def of_referrers(refs: pd.DataFrame | None) -> pd.DataFrame:
    """(site, ref_path, hits) of a ``referrers`` table: its rows with a host, summed per pair
    (``own_hosts``' ``sites`` rows)."""
    if refs is None or not len(refs):
        empty = pd.Series([], dtype=object)
        return pd.DataFrame({"site": empty, "ref_path": empty, "hits": np.zeros(0, np.int64)})
    s = site_of(refs.index)
    f = pd.DataFrame(
        {
            "site": s["site"].to_numpy(dtype=object),
            "ref_path": s["ref_path"].to_numpy(dtype=object),
            "hits": refs["hits"].to_numpy(np.int64),
        }
    )
    f = f[f["site"] != ""]
    out = f.groupby(["site", "ref_path"], sort=False)["hits"].sum().reset_index()
    out["hits"] = out["hits"].astype(np.int64)
    return out


def ready(info: dict[str, Any]) -> bool:
    """Whether a stored entry's ``referrer_sites`` stand for its referrers (or it has none)."""
    return REFERRERS not in info["files"] or madeof.stands(info["files"], TABLE, REFERRERS)


def backfill(layout: Layout, state: State, entries: list[tuple[str, dict[str, Any]]]) -> bool:
    """Make the missing ``referrer_sites`` of ``entries`` (not yet committed); whether any.
    A day of a rolled-up month gets one too: it is no part of the month's digest
    (``months.DERIVED``)."""
    todo = [(n, i) for n, i in entries if not ready(i)]
    if not todo:
        return False
    state.gen += 1
    for name, info in todo:
        frame = of_referrers(layout.read_table(name, info, REFERRERS))
        with madeof.unless_full(info["files"]):
            madeof.stamp(layout, name, info["files"], TABLE, frame, state.gen, REFERRERS)
    return True


def usable(entries: list[tuple[str, dict[str, Any]]]) -> bool:
    """Whether the own hosts of the period ``entries`` can come from their sites."""
    return all(ready(i) for _, i in entries)


def own(
    layout: Layout,
    entries: list[tuple[str, dict[str, Any]]],
    p: Partial,
    settings: Settings,
) -> set[str]:
    """``referrers.own_hosts`` over the period: configured or virtual hosts as it finds them,
    else inferred from the entries' ``referrer_sites`` and the period's ``paths`` (``p``) by
    its rule."""
    found, how = own_hosts({"vhosts": p.get("vhosts", pd.DataFrame())}, settings)
    if how != "none":
        return found
    paths = p.get("paths", pd.DataFrame())
    held = [(n, i) for n, i in entries if TABLE in i["files"]]
    if paths.empty or not held:
        return set()
    # Read as the store reads every table: a missing or damaged file is its one-line error.
    rows = layout.read_arrow(held, TABLE, ("site", "ref_path", "hits"), coded=["site"])
    if rows is None or not rows.num_rows:
        return set()
    names, code = coded(rows.column("site"))
    hits = rows.column("hits").to_numpy().astype(np.float64)
    ref_path = rows.column("ref_path").combine_chunks()
    # One hashing of the year's referring paths: each served one's position among the
    # period's paths is both whether it is served and a numbering of the served paths.
    at = pc.index_in(ref_path, value_set=arrow_strings(paths.index))
    on = np.asarray(at.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    path_code = np.asarray(at.drop_null().to_numpy(zero_copy_only=False), dtype=np.int64)
    return inferred(code, names, hits, on, path_code)


__all__ = ["TABLE", "backfill", "of_referrers", "own", "ready", "usable"]
