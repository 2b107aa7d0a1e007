"""Keys several tables derive from the same columns of one chunk, derived once per chunk.

A block's tables are computed one after the other from the same chunk (``engine.local``):
the visitors, visitor-days and path-visitors tables each grouped the rows by visitor, and the
path-visitors and page-view tables each hashed the block's paths. Each derivation is kept
with the chunk (by identity, for as long as the chunk lives) together with the column arrays
it was made from, and is made again if a column was replaced since. Values are exactly what
each table computed on its own: only who computes them first changes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from logaudit.analyze.base import used_categories
from logaudit.schema import hash_strings

T = TypeVar("T")

# id(chunk) -> (a weak reference to it, {name: (source arrays, value)})
_memo: dict[int, tuple[weakref.ref[pd.DataFrame], dict[str, tuple[tuple[Any, ...], Any]]]] = {}


def _forget(key: int) -> Callable[[object], None]:
    def forget(_ref: object) -> None:
        _memo.pop(key, None)

    return forget


def derived(c: pd.DataFrame, name: str, sources: tuple[Any, ...], make: Callable[[], T]) -> T:
    """``make()``, once per chunk ``c`` and ``name`` while ``sources`` (the column arrays it
    reads) are the same objects. A chunk is processed by one thread: no lock is needed."""
    key = id(c)
    entry = _memo.get(key)
    if entry is None or entry[0]() is not c:
        entry = (weakref.ref(c, _forget(key)), {})
        _memo[key] = entry
    values = entry[1]
    got = values.get(name)
    if got is not None and len(got[0]) == len(sources):
        if all(a is b for a, b in zip(got[0], sources, strict=True)):
            return got[1]
    value = make()
    values[name] = (sources, value)
    return value


def row_hashes(c: pd.DataFrame, col: str, rows: np.ndarray) -> np.ndarray:
    """``schema.hash_strings`` of column ``col``'s value at each of ``rows``: each category
    hashed once per chunk, when a table first needs it (the page views' paths are among the
    visitor hits' paths, hashed already)."""
    cat = c[col].array
    n = len(cat.categories)

    def fresh() -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(n, np.uint64), np.zeros(n, bool)

    by_code, done = derived(c, f"hash:{col}", (cat,), fresh)
    codes = np.asarray(cat.codes)[rows]
    used = used_categories(codes, n)
    new = used[~done[used]]
    if len(new):
        by_code[new] = hash_strings(cat.categories.take(new))
        done[new] = True
    return by_code[codes]


def visitor_codes(c: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """Each row's visitor (client, agent) as a code ``0 .. k-1`` in order of first appearance,
    the codes' keys (client code * ``na`` + agent code), and ``na``."""
    client, agent = c["client"].array, c["agent"].array

    def make() -> tuple[np.ndarray, np.ndarray, int]:
        na = max(1, len(agent.categories))
        key = np.asarray(client.codes, dtype=np.int64) * na + np.asarray(
            agent.codes, dtype=np.int64
        )
        inv, uniq = pd.factorize(key, sort=False)
        return inv, uniq, na

    return derived(c, "visitors", (client, agent), make)


# Distinct (day, visitor) pairs are counted in a table of days x visitors up to this size (8 MB
# a thread for its counts); past it (a block spanning many days), by hashing the pairs.
DENSE_PAIRS = 1 << 20


def distinct_day_visitors(
    c: pd.DataFrame, rows: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(first of ``rows`` of each distinct (day, visitor) pair in order of first appearance,
    rows per pair), or None where the table would be too big. ``day``: the rows' days."""
    inv, uniq, _ = visitor_codes(c)
    if not len(rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo = int(day.min())
    span = int(day.max()) - lo + 1
    v = len(uniq)
    if span * v > DENSE_PAIRS:
        return None
    pair = (day.astype(np.int64) - lo) * v + inv[rows]
    counts = np.bincount(pair, minlength=span * v)
    # Each pair's first position among the rows (the least; as traffic.distinct_rows does:
    # NumPy does not promise which of repeated indices a fancy assignment writes last).
    first = np.full(span * v, len(pair), np.int64)
    np.minimum.at(first, pair, np.arange(len(pair), dtype=np.int64))
    seen = np.flatnonzero(counts)
    order = np.argsort(first[seen], kind="stable")
    return first[seen][order], counts[seen][order]
