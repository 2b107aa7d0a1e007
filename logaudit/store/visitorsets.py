"""Closed months' visitor keys as sorted sets (schema 9, branch ``year4``).

A year of trends read the year's ``visitor_days`` (3.5M (day, visitor) rows at 10,000
visitors a day) from the months' rolled-up files: each month's visitor column resolved
through its ``visitors`` table (``layout.REFS``), then the 3.5M visitor keys hashed and
sorted again to build the (day, visitor) MultiIndex (``analyze.base.int_levels``): about a
third of the trends' time, for figures that need only which visitors each day saw.

A closed month's keys never change, so each rolled-up month keeps:

- ``visitor_keys``: its distinct visitor keys, sorted (one ``uint64`` column, ``visitor``);
- ``visitor_codes``: its ``visitor_days`` rows in their stored order, the visitor as its
  position in ``visitor_keys`` (``day``, ``code``, ``hits``).

A report's ``visitor_days`` is then built without hashing: the year's visitor level is the
merge of the months' sorted sets (and the open days' keys), each month's codes mapped into it
by one ``searchsorted`` of its set, the day level counted (``int_levels``' way). Same rows,
order, levels and codes as reading the rows (``tests/test_store_visitorsets.py``).

**Valid while the month's rows are.** Both files record the checksum of the month's
``visitor_days`` file they were made from (``"of"``); a month whose days change loses its
roll-up (``months.drop_stale``) and gets new sets with its next roll-up. Written by
``months.roll`` and, for months rolled up by an older logaudit, by the first report that
reads them (under the store's lock, committed once). ``state verify`` checks them as every
file.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from logaudit.analyze import visitcounts
from logaudit.analyze.base import Accumulator, Partial, Table, int_level
from logaudit.store import madeof
from logaudit.store.layout import (
    INDEX_KEY,
    TYPES_KEY,
    Layout,
    State,
    _frame,
    _shape,
    day_number,
)

SOURCE = "visitor_days"
KEYS = "visitor_keys"
CODES = "visitor_codes"
TABLES = (KEYS, CODES)


def _of_columns(
    day: np.ndarray, visitor: np.ndarray, hits: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    keys = _union([visitor])
    codes = np.searchsorted(keys, visitor).astype(np.uint32)
    return (
        pd.DataFrame({"visitor": keys}),
        pd.DataFrame({"day": day.astype(np.int32), "code": codes, "hits": hits}),
    )


def of_frame(vd: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``visitor_keys``, ``visitor_codes``) of a month's ``visitor_days`` frame."""
    return _of_columns(
        vd.index.get_level_values("day").to_numpy(),
        vd.index.get_level_values("visitor").to_numpy(np.uint64),
        vd["hits"].to_numpy(np.int64),
    )


def _columns(
    layout: Layout, name: str, entry: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(day, visitor, hits) of an entry's stored ``visitor_days``, as columns: no (day,
    visitor) index is built only to take its values back."""
    t = layout.read_arrow([(name, entry)], SOURCE, ("day", "visitor", "hits"))
    if t is None:
        return None
    return (
        t.column("day").to_numpy(),
        t.column("visitor").to_numpy().astype(np.uint64, copy=False),
        t.column("hits").to_numpy().astype(np.int64, copy=False),
    )


def ready(entry: dict[str, Any]) -> bool:
    """Whether a month entry's sets stand for its ``visitor_days``."""
    return madeof.all_stand(entry["files"], TABLES, SOURCE)


def any_ready(entries: list[tuple[str, dict[str, Any]]]) -> bool:
    """Whether ``counted`` counts any of ``entries`` (else it gives None)."""
    return any(len(m) == 7 and ready(e) for m, e in entries)


def write(layout: Layout, month: str, files: dict[str, Any], vd: pd.DataFrame, gen: int) -> None:
    """Add the month's sets made from ``vd`` (its stored ``visitor_days``) to ``files``."""
    _stamp(layout, month, files, of_frame(vd), gen)


def _stamp(
    layout: Layout,
    month: str,
    files: dict[str, Any],
    made: tuple[pd.DataFrame, pd.DataFrame],
    gen: int,
) -> bool:
    for table, frame in zip(TABLES, made, strict=True):
        madeof.stamp(layout, month, files, table, frame, gen, SOURCE)
    return True


def backfill(layout: Layout, state: State, entries: list[tuple[str, dict[str, Any]]]) -> bool:
    """Make the missing or stale sets of the month ``entries`` (not yet committed); whether
    any were made."""
    return madeof.backfill_months(
        layout,
        state,
        entries,
        SOURCE,
        ready,
        lambda lay, month, files, cols, gen: _stamp(lay, month, files, _of_columns(*cols), gen),
        read=lambda month, entry: _columns(layout, month, entry),
    )[0]


def _month_codes(
    layout: Layout, name: str, entry: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A month's rows as its sets give them: each row's day and hits, the month's sorted
    visitor keys and each row's code into them (checked: a code past the keys is refused)."""
    keys = layout.read_arrow([(name, entry)], KEYS)
    codes = layout.read_arrow([(name, entry)], CODES)
    assert keys is not None and codes is not None
    k = keys.column("visitor").to_numpy()
    c = codes.column("code").to_numpy()
    if len(c) and int(c.max()) >= len(k):
        raise layout.unreadable(CODES, f"{name}: a code past its {len(k)} {KEYS}")
    return codes.column("day").to_numpy(), codes.column("hits").to_numpy(), k, c


def read(layout: Layout, entries: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame | None:
    """The ``visitor_days`` rows of ``entries`` (months and days, in their order), as
    ``layout.read_tables`` gives them; months with sets are read through them (when none has,
    the rows are read as they are)."""
    if not any(len(m) == 7 and ready(e) for m, e in entries):
        return layout.read_tables(entries, SOURCE)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
    sets: list[np.ndarray] = []
    for name, entry in entries:
        if SOURCE not in entry["files"]:
            continue
        if len(name) == 7 and ready(entry):
            day, hits, k, c = _month_codes(layout, name, entry)
            sets.append(k)
            parts.append((day, hits, k, c))
        else:
            cols = _columns(layout, name, entry)
            if cols is None or not len(cols[0]):
                continue
            day, v, hits = cols
            sets.append(_union([v]))
            parts.append((day.astype(np.int32), hits, v, None))
    if not parts:
        return None
    level = _union(sets)
    visitor_codes = np.concatenate(
        [
            np.searchsorted(level, k)[c] if c is not None else np.searchsorted(level, k)
            for _, _, k, c in parts
        ]
    ).astype(np.int64)
    index = _day_visitor(np.concatenate([d for d, _, _, _ in parts]), level, visitor_codes)
    hits = np.concatenate([h for _, h, _, _ in parts]).astype(np.int64)
    return pd.DataFrame({"hits": hits}, index=index)


def _sorted(sets: list[np.ndarray]) -> np.ndarray:
    """The key arrays joined and sorted. One array (a day's keys, in row order): numpy's
    default (SIMD) sort. Several (each sorted: months' sets, ``_union``s): the stable sort,
    numpy's timsort, which finds the sorted runs and merges them; a year's 12 month sets
    (2.4M keys) 160 -> 38 ms of CPU on the project's VM (branch ``trends23``), where the
    default sort re-sorts them from scratch (branch ``trends14`` had measured the default
    as the faster on another host, 33 against 55 ms with the union's mask). Equal integers
    are alike: either sort gives the same array."""
    merged = np.concatenate(sets) if sets else np.empty(0, np.uint64)
    merged.sort(kind="stable" if len(sets) > 1 else None)
    return merged


def _union(sets: list[np.ndarray]) -> np.ndarray:
    """The union of key arrays, sorted: ``np.unique`` of them joined. Not ``np.unique``
    itself: since numpy 2.3 it finds the distinct values of an array with a hash table, then
    sorts them; on 64-bit keys that took 10-15 times as long as one sort and a mask (300,000
    keys: 35 ms of CPU against 3.5; the open days' keys of a year's trends, branch
    ``trends17``)."""
    merged = _sorted(sets)
    keep = np.ones(len(merged), bool)
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


# Buckets ``_distinct`` sorts apart: a year's 2.4M keys in pieces of ~40,000 (~300 KiB).
BUCKET_BITS = 6


def _distinct(sets: list[np.ndarray]) -> int:
    """``len(_union(sets))``, counted: each key repeated in another set is one neighbour equal
    to the one before it once sorted (no mask, no copy of the union).

    64-bit keys are cut into buckets by their top bits (each set is sorted: a ``searchsorted``
    of the bucket bounds cuts it) and each bucket's keys are sorted apart, in cache (branch
    ``trends15``). A key is in one bucket only, so the counts add up. Each bucket is copied
    into one scratch array (not a new one per bucket: on this project's VM each new array's
    pages cost a fault) and sorted with the stable sort, numpy's timsort, which merges the
    sets' already sorted runs rather than sorting anew: a year's 12 month sets (2.4M keys)
    ~32 ms, against ~100 for the default sort of new arrays (branch ``trends23``,
    docs/performance.md)."""
    if not sets or any(s.dtype != np.uint64 for s in sets):
        merged = _sorted(sets)
        return len(merged) - int(np.count_nonzero(merged[1:] == merged[:-1]))
    buckets = 1 << BUCKET_BITS
    bounds = np.arange(1, buckets, dtype=np.uint64) << np.uint64(64 - BUCKET_BITS)
    cuts = [np.concatenate(([0], np.searchsorted(s, bounds), [len(s)])) for s in sets]
    widest = int(np.max(np.sum([np.diff(c) for c in cuts], axis=0)))
    scratch = np.empty(widest, np.uint64)
    same = np.empty(widest, bool)
    count = 0
    for b in range(buckets):
        n = 0
        for s, c in zip(sets, cuts, strict=True):
            part = s[c[b] : c[b + 1]]
            scratch[n : n + len(part)] = part
            n += len(part)
        merged = scratch[:n]
        merged.sort(kind="stable")
        repeats = np.equal(merged[1:], merged[:-1], out=same[: max(n - 1, 0)])
        count += n - int(np.count_nonzero(repeats))
    return count


def _month_rows(
    layout: Layout, month: str, entry: dict[str, Any], first: int
) -> tuple[pa.Table, np.ndarray, np.ndarray] | None:
    """A month's ``visitor_days`` rows of its days from day number ``first`` on, from its
    sorted set and codes (the rows in their stored order: its days' rows one after the other),
    as ``layout.read_arrow`` gives those days' rows; with the month's sorted keys and the
    rows' codes into them (``_rows`` makes the visitor level from them); None when the month
    has no sets."""
    if not ready(entry):
        return None
    day, hits, k, c = _month_codes(layout, month, entry)
    keep = day >= first
    kept = c[keep]
    meta = {INDEX_KEY: json.dumps(["day", "visitor"]), TYPES_KEY: json.dumps({})}
    rows = pa.table(
        {
            "hits": pa.array(hits[keep].astype(np.int64)),
            "day": pa.array(day[keep].astype(np.int32)),
            "visitor": pa.array(k[kept].astype(np.uint64)),
        }
    ).replace_schema_metadata(meta)
    return rows, k.astype(np.uint64, copy=False), kept


def _rows(
    layout: Layout,
    rest: list[tuple[str, dict[str, Any]]],
    tail: tuple[str, dict[str, Any], list[str]] | None,
) -> pd.DataFrame | None:
    """``layout.read_tables(rest, SOURCE)``, but for the days ``tail`` names (the first days
    of the period, a month's last stored days: ``tails.partial_months``), read from that
    month's sets and codes: one month's three small files, not a file per day."""
    if tail is not None:
        month, entry, days = tail
        held = [n for n, _ in rest[: len(days)]]
        first = min((day_number(d) for d in days), default=None)
        got = _month_rows(layout, month, entry, first) if first is not None else None
        if got is not None and held == days:
            head, keys, codes = got
            others = layout.read_arrow(rest[len(days) :], SOURCE)
            parts = [head] if others is None else [head, others]
            both = pa.concat_tables(
                [t.replace_schema_metadata(None) for t in parts], promote_options="permissive"
            )
            both = both.replace_schema_metadata(head.schema.metadata)
            coded = _coded(both, keys, codes)
            return coded if coded is not None else _frame(both, _shape(both))
    return layout.read_tables(rest, SOURCE) if rest else None


def _day_visitor(day: np.ndarray, level: np.ndarray, visitor_codes: np.ndarray) -> pd.MultiIndex:
    """The (day, visitor) index of rows whose visitors are ``visitor_codes`` into the sorted
    ``level``, their days coded here: made from its levels and codes, not by hashing."""
    days, day_codes = int_level(day)
    levels: list[Any] = [days, pd.Index(level)]
    by_level: list[Any] = [day_codes, visitor_codes]
    return pd.MultiIndex(
        levels=levels, codes=by_level, names=["day", "visitor"], verify_integrity=False
    )


def _coded(both: pa.Table, keys: np.ndarray, codes: np.ndarray) -> pd.DataFrame | None:
    """``_frame(both)`` for ``_rows``' rows (the month's tail first: its rows' ``codes`` into
    its sorted ``keys``, then the other entries' rows), its visitor level made from the keys
    the codes use and the others' keys, sorted together, not by hashing every row's key
    (``int_level``'s factorize: a year's first 24 days and last 6, 295,000 rows, branch
    ``trends23``). The same frame: rows, columns, levels and codes. None (``_frame`` then)
    unless the rows are plainly ``hits`` by (day, visitor), the visitors 64-bit unsigned."""
    if sorted(both.column_names) != ["day", "hits", "visitor"] or _shape(both) != (
        ["day", "visitor"],
        {},
    ):
        return None
    visitor = both.column("visitor")
    if visitor.type != pa.uint64() or visitor.null_count or both.column("day").null_count:
        return None
    n = len(codes)
    other = visitor.slice(n).to_numpy()
    used = keys[np.bincount(codes, minlength=len(keys)) > 0] if n else keys[:0]
    merged = np.concatenate([used, other])
    merged.sort(kind="stable")  # ``used`` is one sorted run: timsort merges it in
    keep = np.ones(len(merged), bool)
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    level = merged[keep]
    visitor_codes = np.empty(both.num_rows, np.int64)
    visitor_codes[:n] = np.searchsorted(level, keys)[codes]
    visitor_codes[n:] = np.searchsorted(level, other)
    index = _day_visitor(both.column("day").to_numpy(), level, visitor_codes)
    frame = both.drop_columns(["day", "visitor"]).replace_schema_metadata(None).to_pandas()
    return frame.set_axis(index)


def _keys_of(rows: pd.DataFrame) -> np.ndarray:
    """The distinct visitor keys of ``visitor_days`` rows, sorted: their index's visitor level
    when it holds exactly those, in order (as ``_frame`` and ``_coded`` make it), not every
    row's key sorted again."""
    index = rows.index
    assert isinstance(index, pd.MultiIndex)
    at = index.names.index("visitor")
    level = index.levels[at]
    if level.dtype == np.uint64:
        used = np.bincount(index.codes[at], minlength=len(level)) > 0
        keys = level.to_numpy()[used] if not used.all() else level.to_numpy()
        if len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1])):
            return keys
    return _union([index.get_level_values("visitor").to_numpy(np.uint64)])


def counted(
    layout: Layout,
    entries: list[tuple[str, dict[str, Any]]],
    tail: tuple[str, dict[str, Any], list[str]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
    """For monthly periods (branch ``year5``): the months with sets as one row each
    (``analyze/visitcounts.py`` ``SETS``: ``day``, ``visitors``, ``rows``, ``unique``) and the
    other entries' ``visitor_days`` rows as read (None: none). A calendar month's distinct
    visitors are its set's length and its visitor-days its rows (``store.json``'s checksummed
    count of its ``visitor_days`` file); the period's distinct visitors the length of the
    union of the sets and the other rows' keys. Only the keys are read, not the 3.5M codes of
    a year, and no (day, visitor) frame is built. None when no month has sets."""
    if not any_ready(entries):
        return None
    ready_months = [(m, e) for m, e in entries if len(m) == 7 and ready(e)]
    done = {m for m, _ in ready_months}
    rest = [(n, e) for n, e in entries if n not in done and SOURCE in e["files"]]
    rows = _rows(layout, rest, tail)
    sets: list[np.ndarray] = []
    for name, entry in ready_months:
        keys = layout.read_arrow([(name, entry)], KEYS)
        assert keys is not None
        sets.append(keys.column("visitor").to_numpy())
    if rows is not None and len(rows):
        sets.append(_keys_of(rows))
    unique = _distinct(sets)
    if rows is not None and len(rows):
        sets.pop()  # the open days' keys: not a month's
    frame = pd.DataFrame(
        {
            "day": np.array([day_number(f"{m}-01") for m, _ in ready_months], np.int64),
            "visitors": np.array([len(k) for k in sets], np.int64),
            "rows": np.array([int(e["files"][SOURCE]["rows"]) for _, e in ready_months], np.int64),
            "unique": np.full(len(ready_months), unique, np.int64),
        }
    )
    return frame, rows


# Where ``store.load(sets_later=True)`` names the closed months' sets left to count
# (``add_sets``): (entries, tail), ``counted``'s arguments.
SETS_LATER = "_sets_later"

Counted = tuple[pd.DataFrame, pd.DataFrame | None]


def tail_of(
    state: State, days: list[tuple[str, dict[str, Any]]], partial: list[str]
) -> tuple[str, dict[str, Any], list[str]] | None:
    """The period's first days in a rolled-up month (``partial``: at most one, the month the
    period starts in), counted from that month's sets (one month's files, not a file per
    day): (month, its entry, the days held)."""
    from logaudit.store.months import month_of  # months imports this module

    if not partial:
        return None
    m = partial[0]
    held = [d for d, i in days if month_of(d) == m and SOURCE in i["files"]]
    return (m, state.months[m], held)


def add_sets(layout: Layout, partial: Partial, table: Table) -> None:
    """Complete a partial of ``store.load`` that names its closed months under
    ``SETS_LATER``: their counts (``analyze/visitcounts.py`` ``SETS``) and the other entries'
    rows."""
    later: Any = partial.pop(SETS_LATER, None)
    if later is None:
        return
    entries, tail = later
    sets = counted(layout, entries, tail)
    assert sets is not None  # any_ready: a month has sets
    from logaudit.analyze.spill import SPILL_BYTES

    acc = Accumulator({SOURCE: table}, spill_bytes=SPILL_BYTES)
    if sets[1] is not None:
        acc.put(SOURCE, sets[1])  # merged already, as read
    partial.update(acc.result())
    partial[visitcounts.SETS] = sets[0]


__all__ = [
    "CODES",
    "any_ready",
    "KEYS",
    "SETS_LATER",
    "SOURCE",
    "TABLES",
    "add_sets",
    "backfill",
    "counted",
    "of_frame",
    "read",
    "ready",
    "tail_of",
    "write",
]
