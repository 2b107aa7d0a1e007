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

**Named keys only** (branch ``trends13``): every report made each of the window's ~0.4M
referrer and query texts a Python string and then a hash-indexed text Series again (~20 % of
a year's trends), though the movers read the texts of few of them. ``Named`` keeps the texts
in Arrow beside their hashes and makes strings for the keys asked only; the site movers ask
texts only for referrers without a stored site (open days'), the source movers for the pairs
they classify.

**The edge visits' texts** (branch ``trends21``): the keys the source movers name from a
closed month's texts are those of its ``edge_rows`` (store/entries.py: its interior visits
come named per source, ``entrysources.py``), a few thousand of the window's ~0.7M referrer
and query texts, yet every report read and decoded all of them (~0.1 s of a year's trends).
Each rolled-up month with edge rows also keeps ``edge_referrers`` and ``edge_queries``: the
hash and text of each of its texts that an edge row's entry pair names (``h`` and the text
column), stamped with the text table's checksum, its hashes' (``"hashes"``) and the edge
rows' (``"edges"``). ``named``
reads those for such months; a key asked that none of them holds (another month's, the
interior visits' pairs named here, an older roll-up's) makes the ``Named`` read every text
as before (``Named.full``) and answer from them, so what a key names never depends on which
files were read. Those are read from the files the report's state named (``Layout.pinned``),
though the sections ask after the store's lock is let go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.schema import arrow_strings, hash_strings
from logaudit.store import entries as entry_counts
from logaudit.store import madeof
from logaudit.store.layout import Layout, State

# text table -> (its hash table, its text column)
HASHED = {"referrers": ("referrer_hashes", "referrer"), "queries": ("query_hashes", "query")}
# The referring site of each referrer of a month (schema 11), made from its ``referrers``.
HOSTS = "referrer_hosts"
# text table -> (a month's texts of its edge rows' keys, the edge rows' key column)
EDGE_NAMED = {"referrers": ("edge_referrers", "ref_h"), "queries": ("edge_queries", "query_h")}


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


def edge_ready(entry: dict[str, Any], table: str) -> bool:
    """Whether ``entry``'s edge texts of ``table`` stand for its texts and its edge rows, and
    its hashes (which gave their ``h``) for its texts."""
    files = entry["files"]
    name = EDGE_NAMED[table][0]
    edges = files.get(entry_counts.EDGES)
    return (
        madeof.stands(files, name, table)
        and ready(entry, table)
        and files[name].get("hashes") == files[HASHED[table][0]]["sha256"]
        and edges is not None
        and files[name].get("edges") == edges["sha256"]
    )


def _edge_todo(entry: dict[str, Any], table: str) -> bool:
    """Whether a month ``entry`` can have edge texts of ``table`` and lacks them: it has the
    texts and edge rows standing for its visit rows (its hashes are made first if missing)."""
    return table in entry["files"] and entry_counts.ready(entry) and not edge_ready(entry, table)


def write_edges(layout: Layout, month: str, files: dict[str, Any], table: str, gen: int) -> None:
    """Add the month's edge texts of ``table`` (its texts, their hashes and its edge rows as
    stored in ``files``): the rows of the texts whose hash an edge row's key column holds."""
    name, key = EDGE_NAMED[table]
    entry = {"gen": gen, "files": files}
    column = HASHED[table][1]
    texts = layout.read_arrow([(month, entry)], table, columns=[column])
    hashes = layout.read_arrow([(month, entry)], HASHED[table][0])
    edges = layout.read_arrow([(month, entry)], entry_counts.EDGES, columns=[key])
    if texts is None or hashes is None or edges is None:
        return
    h = hashes.column("h").combine_chunks()
    keep = pc.is_in(h, value_set=pc.unique(edges.column(key).combine_chunks().cast(h.type)))
    frame = pd.DataFrame(
        {
            "h": h.filter(keep).to_numpy().astype(np.uint64, copy=False),
            column: texts.column(column).filter(keep).to_numpy(zero_copy_only=False),
        }
    )
    madeof.stamp(layout, month, files, name, frame, gen, table)
    files[name]["hashes"] = files[HASHED[table][0]]["sha256"]
    files[name]["edges"] = files[entry_counts.EDGES]["sha256"]


def backfill(layout: Layout, state: State, entries: list[tuple[str, dict[str, Any]]]) -> bool:
    """Make the missing hashes, referring sites and edge texts of the month ``entries`` (not
    yet committed); whether any."""
    todo = [
        (m, e, t)
        for m, e in entries
        if len(m) == 7
        for t in HASHED
        if not ready(e, t)
    ]
    hosts = [(m, e) for m, e in entries if len(m) == 7 and not hosts_ready(e)]
    edged = [
        (m, e, t)
        for m, e in entries
        if len(m) == 7
        for t in EDGE_NAMED
        if _edge_todo(e, t)
    ]
    if not todo and not hosts and not edged:
        return False
    state.gen += 1
    for month, entry, table in todo:
        f = layout.read_tables([(month, entry)], table, columns=[HASHED[table][1]])
        texts = f.index if f is not None else pd.Index([], dtype=object)
        with madeof.unless_full(entry["files"]):
            write(layout, month, entry["files"], table, texts, state.gen)
    for month, entry in hosts:
        f = layout.read_tables([(month, entry)], "referrers", columns=["referrer"])
        texts = f.index if f is not None else pd.Index([], dtype=object)
        with madeof.unless_full(entry["files"]):
            write_hosts(layout, month, entry["files"], texts, state.gen)
    for month, entry, table in edged:  # after the hashes they are made from
        if ready(entry, table):
            with madeof.unless_full(entry["files"]):
                write_edges(layout, month, entry["files"], table, state.gen)
    return True


# Hash files read in one report, by (hash table, the entries read): the referrers' hashes
# serve both ``named`` and ``sites`` (one ~2.5M-row read each, a year at 10,000 visitors a day).
Reads = dict[tuple[str, tuple[str, ...]], "pa.Table | None"]


def _hashes(
    layout: Layout, entries: list[tuple[str, dict[str, Any]]], name: str, reads: Reads | None
) -> pa.Table | None:
    """The hash table ``name`` of ``entries`` read as one, once per ``reads``."""
    if reads is None:
        return layout.read_arrow(entries, name)
    key = (name, tuple(n for n, _ in entries))
    if key not in reads:
        reads[key] = layout.read_arrow(entries, name)
    return reads[key]


def sites(
    layout: Layout, entries: list[tuple[str, dict[str, Any]]], reads: Reads | None = None
) -> Named:
    """hash -> referring site of the referrers of the month ``entries`` whose hashes and
    sites stand for their referrers (empty: none). Read as one table each; the sites (a few
    dozen distinct) through their dictionary, not a Python string made per referrer.
    ``reads``: hash files read already (``named``'s, shared: ``_hashes``)."""
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
    h = _hashes(layout, held, name, reads) if held else None
    s = layout.read_arrow(held, HOSTS, coded=["site"]) if held else None
    if h is None or s is None or h.num_rows != s.num_rows:
        return Named(np.zeros(0, np.uint64), np.array([], dtype=object))
    keys = h.column("h").to_numpy().astype(np.uint64, copy=False)
    names, code = coded(s.column("site"))
    return Named(keys, names[code])


def coded(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A text column read as dictionaries (``Layout.read_arrow``'s ``coded``) as its distinct
    texts (Python strings, in no set order) and each row's number among them. A column of
    no text at all (every file empty) is stored as Arrow's null type: encoded here."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    both = column.unify_dictionaries()
    names = (
        both.chunk(0).dictionary if both.num_chunks else pa.array([], column.type.value_type)
    )
    code = [
        np.asarray(c.indices.to_numpy(zero_copy_only=False), dtype=np.intp) for c in both.chunks
    ]
    return (
        np.asarray(names.to_pylist(), dtype=object),
        np.concatenate(code) if code else np.zeros(0, np.intp),
    )


# ``Named.of`` asking for fewer than 1/FEW of the rows' keys looks them up in the rows found
# by a pass over the keys: hashing the few wanted beats hashing every row's key.
FEW = 16


@dataclass(frozen=True)
class Named:
    """hash -> value over rows of texts (or their sites), looked up for the keys asked only.

    Movers read the texts of few of the window's ~0.4M referrer and query texts (a year at
    10,000 visitors a day): the texts stay Arrow until asked, not a Python string each, and
    no hash-indexed Series of them all is built. A key's value is that of its
    first row, as a Series of the rows with repeated keys dropped gives."""

    keys: np.ndarray  # uint64, row for row ``values``
    values: pa.Array | pa.ChunkedArray | np.ndarray
    # Every text, read when a key asked is not in these rows (they are some months' edge
    # texts: ``named``); None: these rows are every text.
    full: Callable[[], Named] | None = field(default=None, compare=False)

    @cached_property
    def _first(self) -> tuple[pd.Index, np.ndarray]:
        """Each key once (in first-row order) and its first row, for ``series``, ``len`` and
        ``of`` when many keys are asked."""
        once = ~pd.Series(self.keys, copy=False).duplicated().to_numpy()
        return pd.Index(self.keys[once]), np.flatnonzero(once)

    def of(self, wanted: Any) -> pd.Series:
        """The value of each of ``wanted`` (keys, in their order; NaN where none has it), as
        ``series().reindex(wanted)`` gives, with object values.

        When few are wanted, one pass over the rows' keys finds the rows holding them (a set
        of the wanted, not of every row) and one ``index_in`` of the wanted in those rows'
        keys gives each its first row. Else each key's first row (``_first``, once per
        object) and pandas' ``get_indexer`` into them: under the program's allocator (Arrow
        on the C library's malloc, ``__main__``) ``index_in`` building a set of every row's
        key took ~1.4 times as long (the referring sites: 190,291 keys of 416,273 rows, a
        year at 10,000 visitors a day; branch ``trends14``). The values of the rows found
        are taken by a mask, chunk by chunk: a ``take`` on the many-chunked texts (which
        joined every chunk first) cost about twice as much (branch ``movers13``).

        With ``full``: answered from these rows when they hold every key asked, else from
        ``full()`` (every text)."""
        got = self._of(wanted)
        if self.full is not None and got.isna().any():
            return self.full().of(wanted)
        return got

    def _of(self, wanted: Any) -> pd.Series:
        """``of`` from these rows only."""
        want = np.asarray(wanted, dtype=np.uint64)
        out = np.full(len(want), np.nan, dtype=object)
        if not len(want):  # (the site movers ask none when every site is stored)
            known, first = np.zeros(0, bool), np.zeros(0, np.intp)
        elif len(want) * FEW < len(self.keys):
            rows = np.flatnonzero(
                pc.is_in(pa.array(self.keys), value_set=pa.array(want)).to_numpy(
                    zero_copy_only=False
                )
            )
            at = pc.index_in(pa.array(want), value_set=pa.array(self.keys[rows]))
            found = at.to_numpy(zero_copy_only=False)
            known = ~np.isnan(found)
            first = rows[found[known].astype(np.intp)]
        else:
            index, rows = self._first
            found = index.get_indexer(pd.Index(want))
            known = found >= 0
            first = rows[found[known]]
        if isinstance(self.values, np.ndarray):
            out[known] = self.values[first]
        elif len(first):
            mask = np.zeros(len(self.keys), dtype=bool)
            mask[first] = True
            got = self.values.filter(pa.array(mask)).to_numpy(zero_copy_only=False)
            # ``got`` is in row order: each found key's place in it.
            out[known] = got[np.unique(first, return_inverse=True)[1]]
        return pd.Series(out, index=pd.Index(want), dtype=object)

    def series(self) -> pd.Series:
        """Every key's value, keys once (in first-row order)."""
        if self.full is not None:
            return self.full().series()
        return self.of(self._first[0])

    def __len__(self) -> int:
        """Distinct keys."""
        if self.full is not None:
            return len(self.full())
        return len(self._first[0])


def named(
    layout: Layout,
    entries: list[tuple[str, dict[str, Any]]],
    table: str,
    reads: Reads | None = None,
    every: bool = False,
) -> Named:
    """The texts of ``table`` in ``entries`` (in order) by their hashes: read where stored and
    standing for the texts, else made. ``reads``: hash files shared with ``sites``. Months
    with edge texts standing (``edge_ready``) give those only, every text read when a key
    asked is not among them (``Named.full``); ``every``: every text at once (a caller that
    names them all)."""
    edged = [(n, e) for n, e in entries if len(n) == 7 and edge_ready(e, table)]
    if not edged or every:
        return _joined(*_texts(layout, entries, table, reads))
    column = HASHED[table][1]
    small = layout.read_arrow(edged, EDGE_NAMED[table][0], columns=["h", column])
    assert small is not None
    done = {n for n, _ in edged}
    texts, keys = _texts(layout, [(n, e) for n, e in entries if n not in done], table, reads)
    texts.insert(0, small.column(column))
    keys.insert(0, small.column("h").to_numpy().astype(np.uint64, copy=False))
    # Every text read later, in the sections, after the store's lock is let go: from the
    # files as they are now (memory-mapped), which a run may replace meanwhile.
    pinned = layout.pinned(entries, (table, HASHED[table][0]))
    return _joined(texts, keys, cache(lambda: _joined(*_texts(pinned, entries, table, reads))))


def _texts(
    layout: Layout,
    entries: list[tuple[str, dict[str, Any]]],
    table: str,
    reads: Reads | None,
) -> tuple[list[pa.ChunkedArray], list[np.ndarray]]:
    """Every text of ``table`` in ``entries`` and its hash, in parts (``named``)."""
    name, column = HASHED[table]
    texts: list[pa.ChunkedArray] = []
    keys: list[np.ndarray] = []
    stored = [(n, e) for n, e in entries if len(n) == 7 and name in e["files"] and ready(e, table)]
    done = {n for n, _ in stored}
    rest = [(n, e) for n, e in entries if n not in done]
    for group, hashed in ((stored, True), (rest, False)):
        f = layout.read_arrow(group, table, columns=[column]) if hashed and group else None
        h = _hashes(layout, group, name, reads) if f is not None else None
        if f is not None and h is not None and h.num_rows == f.num_rows:
            texts.append(f.column(column))
            keys.append(h.column("h").to_numpy().astype(np.uint64, copy=False))
            continue
        # No stored hashes (open days), or not as many as texts: the texts' own.
        t = layout.read_tables(group, table, columns=[column]) if group else None
        if t is not None:
            text = arrow_strings(t.index)
            texts.append(text if isinstance(text, pa.ChunkedArray) else pa.chunked_array([text]))
            keys.append(hash_strings(t.index))
    return texts, keys


def _joined(
    texts: list[pa.ChunkedArray],
    keys: list[np.ndarray],
    full: Callable[[], Named] | None = None,
) -> Named:
    """One ``Named`` of the parts (``_texts``) in order."""
    if not texts:
        return Named(np.zeros(0, np.uint64), np.array([], dtype=object), full)
    # One text type for one array (a string and a large_string part: both large).
    kind = texts[0].type if all(t.type == texts[0].type for t in texts) else pa.large_string()
    both = pa.chunked_array([c.cast(kind) for t in texts for c in t.chunks], type=kind)
    return Named(np.concatenate(keys), both, full)


__all__ = [
    "HASHED",
    "HOSTS",
    "Reads",
    "backfill",
    "coded",
    "hosts_ready",
    "ready",
    "EDGE_NAMED",
    "edge_ready",
    "Named",
    "named",
    "sites",
    "write",
    "write_edges",
    "write_hosts",
]
