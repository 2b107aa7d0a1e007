"""Closed months' texts keep their hashes (schema 8, branch ``year3``).

Movers name the referrer and query keys they compare (64-bit ``hash_strings`` of the text)
from the compared periods' ``referrers`` and ``queries`` tables (``store/movers.py``
``names``): each report hashed every distinct text of those periods again, ~0.4M texts over
the last 5 months at 10,000 visitors a day. A rolled-up month never changes, so its roll-up
keeps each text table's hashes in a file of their own (``referrer_hashes``,
``query_hashes``: one ``h`` column, row for row the text table's), made when the month is
rolled up or by the first report that names from it; a report reads them beside the texts.

Each records the checksum of the text file it was made from (``"of"``): a hash file that does
not belong to the month's text file is not used (the texts are hashed, as before) and is made
again.

**Referring sites** (schema 11, branch ``year6``): the movers' referring-site movers named the
site of each compared referrer with ``site_of`` (a regex per distinct referrer text, ~11 % of
a year's trends). A rolled-up month's ``referrers`` also keep ``referrer_hosts``: one
``site`` column, row for row the text table's (``site_of``'s host: lower-case, ``www.``
removed, '' when not a URL), stamped with the ``referrers`` checksum as the hashes are; the
movers map the compared referrers' hashes to them (``sites``), and run ``site_of`` only on
referrers of days not rolled up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from logaudit.schema import hash_strings
from logaudit.store import madeof
from logaudit.store.layout import Layout, State

# text table -> (its hash table, its text column)
HASHED = {"referrers": ("referrer_hashes", "referrer"), "queries": ("query_hashes", "query")}
# The referring site of each referrer of a month (schema 11), made from its ``referrers``.
HOSTS = "referrer_hosts"


def ready(entry: dict[str, Any], table: str) -> bool:
    """Whether ``entry``'s hashes of ``table`` stand for its texts (or it has no texts)."""
    return table not in entry["files"] or madeof.stands(entry["files"], HASHED[table][0], table)


def write(
    layout: Layout, month: str, files: dict[str, Any], table: str, texts: pd.Index, gen: int
) -> None:
    """Add the hashes of ``texts`` (the index of the month's ``table`` file, in its order)."""
    frame = pd.DataFrame({"h": hash_strings(texts)})
    madeof.stamp(layout, month, files, HASHED[table][0], frame, gen, table)


def hosts_ready(entry: dict[str, Any]) -> bool:
    """Whether ``entry``'s referring sites stand for its referrers (or it has none)."""
    return "referrers" not in entry["files"] or madeof.stands(entry["files"], HOSTS, "referrers")


def write_hosts(
    layout: Layout, month: str, files: dict[str, Any], texts: pd.Index, gen: int
) -> None:
    """Add the referring site of each of ``texts`` (the month's ``referrers``, in order)."""
    from logaudit.analyze.referrers import site_of

    site = site_of(pd.Index(np.asarray(texts, dtype=object), dtype=object))["site"]
    frame = pd.DataFrame({"site": site.to_numpy(dtype=object)})
    madeof.stamp(layout, month, files, HOSTS, frame, gen, "referrers")


def backfill(layout: Layout, state: State, entries: list[tuple[str, dict[str, Any]]]) -> bool:
    """Make the missing hashes and referring sites of the month ``entries`` (not yet
    committed); whether any."""
    todo = [
        (m, e, t)
        for m, e in entries
        if len(m) == 7
        for t in HASHED
        if not ready(e, t)
    ]
    hosts = [(m, e) for m, e in entries if len(m) == 7 and not hosts_ready(e)]
    if not todo and not hosts:
        return False
    state.gen += 1
    for month, entry, table in todo:
        f = layout.read_tables([(month, entry)], table, columns=[HASHED[table][1]])
        texts = f.index if f is not None else pd.Index([], dtype=object)
        write(layout, month, entry["files"], table, texts, state.gen)
    for month, entry in hosts:
        f = layout.read_tables([(month, entry)], "referrers", columns=["referrer"])
        texts = f.index if f is not None else pd.Index([], dtype=object)
        write_hosts(layout, month, entry["files"], texts, state.gen)
    return True


def sites(layout: Layout, entries: list[tuple[str, dict[str, Any]]]) -> pd.Series:
    """hash -> referring site of the referrers of the month ``entries`` whose hashes and
    sites stand for their referrers (empty: none). Read as one table each; the sites (a few
    dozen distinct) through their dictionary, not a Python string made per referrer."""
    name = HASHED["referrers"][0]
    held = [
        (n, e)
        for n, e in entries
        if len(n) == 7
        and HOSTS in e["files"]
        and ready(e, "referrers")
        and hosts_ready(e)
        and e["files"][HOSTS]["rows"] == e["files"][name]["rows"]
    ]
    h = layout.read_arrow(held, name) if held else None
    s = layout.read_arrow(held, HOSTS) if held else None
    if h is None or s is None or h.num_rows != s.num_rows:
        return pd.Series([], index=pd.Index([], dtype=np.uint64), dtype=object)
    keys = h.column("h").to_numpy().astype(np.uint64, copy=False)
    enc = pc.dictionary_encode(s.column("site").combine_chunks())
    names = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    site = names[np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.intp)]
    once = ~pd.Series(keys, copy=False).duplicated().to_numpy()
    return pd.Series(site[once], index=keys[once], dtype=object, copy=False)


def texts_and_hashes(
    layout: Layout, entries: list[tuple[str, dict[str, Any]]], table: str
) -> tuple[np.ndarray, np.ndarray]:
    """The texts of ``table`` in ``entries`` (in order) and their hashes: read where stored
    and standing for the texts, else made."""
    name, column = HASHED[table]
    texts: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    stored = [(n, e) for n, e in entries if len(n) == 7 and name in e["files"] and ready(e, table)]
    done = {n for n, _ in stored}
    rest = [(n, e) for n, e in entries if n not in done]
    for group, hashed in ((stored, True), (rest, False)):
        f = layout.read_tables(group, table, columns=[column]) if group else None
        if f is None:
            continue
        texts.append(np.asarray(f.index, dtype=object))
        h = layout.read_tables(group, name) if hashed else None
        if h is not None and len(h) == len(f):
            keys.append(h["h"].to_numpy(np.uint64))
        else:
            keys.append(hash_strings(f.index))
    if not texts:
        return np.array([], dtype=object), np.zeros(0, np.uint64)
    return np.concatenate(texts), np.concatenate(keys)


__all__ = [
    "HASHED",
    "HOSTS",
    "backfill",
    "hosts_ready",
    "ready",
    "sites",
    "texts_and_hashes",
    "write",
    "write_hosts",
]
