"""Partial results that merge.

Every analysis starts as *tables*: a function from one record-table chunk to a small DataFrame
indexed by its keys, whose columns combine across chunks by a fixed rule (sum, min or max). A
run's partial is a dict of such tables; two partials merge by concatenating each table and
grouping by its index. The merge is associative and commutative, so chunks can be processed in
any order, on one machine's cores now or as Dask partitions later (map: chunk -> partial,
reduce: merge).

Counting uses the chunk's categorical codes with ``numpy.bincount``: one pass in C per column,
whatever the number of distinct values.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import union_categoricals

from logaudit.analyze import spill as _spill  # DISTINCT_CHECK_ROWS read at each call
from logaudit.analyze.spill import (
    SEQ,
    TEXT_FACTOR,
    KnownDistinct,
    Spill,
    TextSpill,
    _chunked,
    _equal,
    distinct_ints,
    distinct_text,
    duplicated_keys,
    one_chunk,
    whole,
)
from logaudit.config import Settings
from logaudit.report import Section
from logaudit.schema import hash_strings

Partial = dict[str, pd.DataFrame]
T = TypeVar("T")


@dataclass(frozen=True)
class Table:
    name: str
    compute: Callable[[pd.DataFrame, Settings], pd.DataFrame]
    # Column -> "sum" | "min" | "max" | "first"; columns not named are summed.
    agg: Mapping[str, str] = field(default_factory=dict)
    # "group": rows with the same index combine by ``agg``. "concat": rows are events, kept
    # as they are (sessionization sorts them at the end). "distinct": rows are set members
    # keyed by their index; the merge is a union (the first row of each key is kept).
    kind: str = "group"
    # Tables that grow with the lines (concat and distinct kinds only): the column (or index
    # name) whose value picks the partition their rows spill to past the accumulator's budget,
    # so that one key's rows stay together (see analyze.spill). None: always in memory.
    spill_key: str | None = None
    # A group table keyed by one text index (``paths``, ``referrers``): past TEXT_FACTOR times
    # the budget its combined rows go to disk, text and counts, in partitions by the text's
    # hash (``spill.TextSpill``), and the last merge reads them back one partition at a time
    # (``Accumulator.result``). Not a spill_key: the store reads such tables as any other.
    spill_text: bool = False
    # What ``compute`` reads of the user agents' classification (``AGENT_WORK``): "none",
    # "classes" (the chunk's agent_class column) or "rows" (the classifier's full rows). A run
    # classifies each block's agents only as far as its tables and --bots need (``agent_work``).
    agents: str = "none"

    def combine(
        self,
        frames: list[pd.DataFrame],
        join: bool = True,
        known: KnownDistinct | None = None,
        consume: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The frames' rows combined by ``kind`` and ``agg``.

        ``join=False``: text keys that every frame holds apart (all distinct) stay in the
        frames' Arrow chunks rather than being copied into one array (``join_text`` joins them
        once, at the end of a run); ``known``: text arrays already found distinct
        (``spill.distinct_text``); ``consume``: one of the frames that nothing reads after
        this call (the accumulator's own), whose columns may be dropped from it as the
        result's are built (``_by_group_columns``)."""
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame()
        if len(frames) == 1:
            return frames[0]
        index = frames[0].index
        rules = {c: self.agg.get(c, "sum") for c in frames[0].columns}
        if self.kind == "group" and isinstance(index, pd.MultiIndex):
            # Numeric levels too (visitor_days: day, visitor): concatenating MultiIndexes
            # made a Python tuple per row (874,000 distinct pairs: 1.1 s and +200 MB).
            by_codes = _combine_by_level_codes(frames, rules, join, known, consume)
            if by_codes is not None:
                return by_codes
        if self.kind == "group" and _text_levels(index):
            # Grouped by its text levels as columns: concatenating MultiIndexes unions their
            # levels frame by frame, which made the visitors table's merge three times slower.
            both = pd.concat([f.reset_index() for f in frames], ignore_index=True)
            g = both.groupby(list(index.names), sort=False)
        else:
            both = _concat(frames) if self.kind == "distinct" else pd.concat(frames)
            if self.kind == "concat":
                return both.reset_index(drop=True)
            if self.kind == "distinct":
                dup = duplicated_keys(both.index, known)
                if not dup.any():  # every key new: no row to drop, only the text to join
                    return _joined(both, join)
                return both[~dup]
            if _as_is(both, rules) and distinct_text(both.index, known):
                # Every key once (1M distinct paths): each row is its own group already.
                return _joined(both, join)
            # One key, text or integer (paths, referrers, status, hours, the totals):
            # factorized once and each column folded by its rule, where the group-by's named
            # aggregation cost ~0.5-1 ms of set-up per table and merge whatever the rows (two
            # 75,000-line blocks' ~15 group tables: ~13 ms after the last block; issue #18).
            folded = _by_text(self, both, ints=True) if len(both) < FOLD_ROWS else None
            if folded is not None:
                return folded
            g = both.groupby(level=list(range(index.nlevels)), sort=False)
        if all(r == "sum" for r in rules.values()):
            return g.sum()
        return g.agg(rules)


# Chunks a text key may keep while reading (``Table.combine(join=False)``): past them it is
# joined anyway, so that a glob of thousands of small inputs, each bringing new keys, does not
# leave an Arrow array of thousands of tiny chunks (a per-chunk cost in every kernel).
MAX_CHUNKS = 1024


def _joined_text(index: pd.Index, join: bool) -> pd.Index:
    if not join and index.dtype == "str":
        arr = pa.array(index.array)
        join = isinstance(arr, pa.ChunkedArray) and arr.num_chunks > MAX_CHUNKS
    return one_chunk(index) if join else index


def _joined(frame: pd.DataFrame, join: bool) -> pd.DataFrame:
    index = _joined_text(frame.index, join)
    return frame if index is frame.index else frame.set_axis(index)


def _unions(frames: list[pd.DataFrame], col: object) -> bool:
    """Whether ``_concat`` joins column ``col`` of ``frames`` by ``union_categoricals``:
    categorical in every frame, with dtypes not all one. Unordered ones are joined so
    whenever their dtypes are not the very same object, without comparing them: comparing
    two categorical dtypes compares their categories (an Arrow text conversion and a hash
    lookup each): at 1M lines the agents table's last merge (16 frames, 7 such columns)
    took 24-50 ms, most of it there, and 11 ms without. Joining equal categories gives the
    same categories in the same order, and the same values, as concatenating them."""
    dtypes = [d for f in frames if isinstance(d := f[col].dtype, pd.CategoricalDtype)]
    if len(dtypes) < len(frames):
        return False
    if all(d is dtypes[0] for d in dtypes):
        return False
    if not any(d.ordered for d in dtypes):
        return True
    return any(d != dtypes[0] for d in dtypes)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames)``, where a column categorical in every frame stays categorical:
    concat makes categoricals with different categories Python strings (the agents table's
    classification, 1M distinct agents, seven columns). Its categories are the frames' in
    order (``union_categoricals``); the values are the same."""
    cats = [c for c in frames[0].columns if _unions(frames, c)]
    if not cats:
        return pd.concat(frames)
    both = pd.concat([f.drop(columns=cats) for f in frames])
    unions = {c: union_categoricals([f[c].array for f in frames]) for c in cats}
    return both.assign(**unions)[list(frames[0].columns)]


# How far a run classifies each block's user agents, least first: not at all (the chunk has no
# agent_class column), each agent's class, or its full row (browser, OS, device, crawler).
AGENT_WORK: tuple[str, ...] = ("none", "classes", "rows")


def agent_work(tables: Mapping[str, Table], bots: str) -> str:
    """The user-agent work a run of ``tables`` needs: the most any table declares, and at least
    classes unless ``--bots include`` (the other modes filter or count people by class)."""
    need = max((AGENT_WORK.index(t.agents) for t in tables.values()), default=0)
    if bots != "include":
        need = max(need, AGENT_WORK.index("classes"))
    return AGENT_WORK[need]


def count_by(
    chunk: pd.DataFrame,
    col: str,
    values: Mapping[str, np.ndarray | None],
    mask: np.ndarray | None = None,
) -> pd.DataFrame:
    """Sum each of ``values`` (None means 'count rows') per category of ``col``.

    The result is indexed by the category text and holds only keys seen in ``mask``'s rows.
    """
    cat = chunk[col].array
    codes = np.asarray(cat.codes)
    cats = cat.categories
    if mask is not None:
        codes = codes[mask]
        values = {k: None if v is None else v[mask] for k, v in values.items()}
    out = _sums(codes, len(cats), values)
    seen = np.flatnonzero(out.pop(""))
    # The index by ``take``: an Arrow take, where ``__getitem__``'s generic path cost 20x.
    # Categories in several Arrow chunks (an empty one first, from a block's exact path) can
    # keep them through a take; ``__getitem__`` joins them, as what reads the index as one
    # Arrow array needs (``referrers.site_of``).
    data = getattr(cats.array, "_pa_array", None)
    index = cats.take(seen) if data is None or data.num_chunks <= 1 else cats[seen]
    return pd.DataFrame({k: v[seen] for k, v in out.items()}, index=index.rename(col), copy=False)


# Counting per key with ``np.bincount`` is one pass over the rows, but when a few keys take
# most rows (a block's day, its methods, status codes) each row's increment waits for the one
# before it on the same counter. Rows are spread over LANES counters per key (the row number
# modulo LANES) and the lanes summed: a block's methods counted in about half the time. Only
# for up to LANES_KEYS keys, whose lanes stay in the cache. Sums are of integers (exact:
# ``int_bincount``), so the order of additions changes no figure.
LANES = 8
LANES_KEYS = 1024
_lane_cache: list[np.ndarray] = [np.zeros(0, np.intp)]


def _lanes(n: int) -> np.ndarray:
    """Row number modulo LANES for ``n`` rows (a block's length repeats: kept)."""
    lanes = _lane_cache[0]
    if len(lanes) < n:
        lanes = np.arange(max(n, 1 << 16), dtype=np.intp) & (LANES - 1)
        _lane_cache[0] = lanes
    return lanes[:n]


def int_bincount(key: np.ndarray, w: np.ndarray | None, n: int) -> np.ndarray:
    """``np.bincount(key, weights=w, minlength=n)`` for non-negative integer weights, exactly:
    bincount adds in float64, exact while their total stays below 2**53; above it (sizes near
    schema.SIZE_LIMIT on millions of rows) the sums are int64 (``np.add.at``, slower)."""
    if w is None:
        return np.bincount(key, minlength=n)
    if w.dtype == bool or int(w.sum(dtype=np.float64)) < 1 << 53:
        return np.bincount(key, weights=w, minlength=n)
    out = np.zeros(n, np.int64)
    np.add.at(out, key, w.astype(np.int64, copy=False))
    return out


def _sums(
    codes: np.ndarray, n: int, values: Mapping[str, np.ndarray | None]
) -> dict[str, np.ndarray]:
    """Per key ``0 .. n-1`` of ``codes`` (none missing), each of ``values`` summed as int64
    (None: the rows counted), and under "" the rows counted."""
    key = codes.astype(np.intp, copy=False)
    lanes = LANES if 0 < n <= LANES_KEYS and len(key) >= 4 * LANES * n else 1
    if lanes > 1:
        key = key * lanes + _lanes(len(key))

    def total(w: np.ndarray | None) -> np.ndarray:
        got = int_bincount(key, w, n * lanes)
        return got.reshape(n, lanes).sum(axis=1) if lanes > 1 else got

    hits = total(None)
    out = {"": hits}
    for name, v in values.items():
        out[name] = hits if v is None else total(v).astype(np.int64, copy=False)
    return out


def count_small(
    keys: np.ndarray, values: Mapping[str, np.ndarray | None], name: str
) -> pd.DataFrame:
    """Like count_by, for small non-negative integer keys (status, hour, day numbers)."""
    if len(keys) == 0:
        return pd.DataFrame({k: np.array([], np.int64) for k in values})
    lo = int(keys.min())
    k = keys - lo if lo else keys
    out = _sums(k, int(k.max()) + 1, values)
    seen = np.flatnonzero(out.pop(""))
    index = pd.Index((seen + lo).astype(np.int64, copy=False), name=name)
    return pd.DataFrame({c: v[seen] for c, v in out.items()}, index=index, copy=False)


def used_categories(codes: np.ndarray, n: int) -> np.ndarray:
    """The positions of the categories that ``codes`` (none missing) use, in order: a count
    per category, linear where ``np.unique`` sorts the rows."""
    return np.flatnonzero(np.bincount(codes, minlength=n))


def hash_rows(cat: pd.Categorical, rows: np.ndarray) -> np.ndarray:
    """The hash of the value of each selected row, hashing only the categories used."""
    codes = np.asarray(cat.codes)[rows]
    used = used_categories(codes, len(cat.categories))
    by_code = np.zeros(len(cat.categories), np.uint64)
    by_code[used] = hash_strings(cat.categories[used])
    return by_code[codes]


def merge(a: Partial, b: Partial, tables: Mapping[str, Table]) -> Partial:
    out: Partial = {}
    for name in set(a) | set(b):
        frames = [whole(p[name]) for p in (a, b) if name in p]
        out[name] = tables[name].combine(frames)
    return out


# Pending rows of a table that trigger a compaction at least.
COMPACT_ROWS = 200_000

# The last merge (``Accumulator.result``) merges tables of at least this many rows one at a
# time, the smaller ones on the threads beside them.
SERIAL_ROWS = 500_000

# Group tables keyed by one index are folded (``_by_text``) rather than grouped up to this
# many rows in a merge: the fixed costs it saves are a small merge's; bigger ones keep the
# group-by, whose memory the all-distinct benchmark's peak was measured with.
FOLD_ROWS = 100_000

# The last merge uses the pool's threads only from this many rows in all its tables (merged
# and pending). Below it the merges are mostly pandas' per-call work, holding the GIL: two
# threads only take turns at it, and the handing over cost CPU. A 150,000-line summary's last
# merge (187,000 rows, two blocks) took 42-44 ms of wall and 62-63 ms of CPU on the pool, 35-37
# ms of both on this thread; at 1M lines (1.1M rows) the pool still won on wall (111 against
# 124 ms, for 186 against 126 ms of CPU), so it stays for big runs (issue #18).
POOL_MIN_ROWS = 400_000

# Big tables merged side by side in the last merge, after the one of most bytes (alone): this
# thread and LAST_LANES - 1 of the pool's. The last merge runs while the other core idles, on
# the critical path: on 1M all-distinct lines (the state before the last merge, alone) 1.23-
# 1.33 s one table at a time, 0.89-1.08 s two at a time; but whole runs' max RSS read 993-1,090
# MiB with two lanes against 947-1,039 with one (loaded host, docs/performance.md), and the
# issue wants the peak under GoAccess's 1,068 MiB: one lane until a quiet host says otherwise.
LAST_LANES = 1

# Pending frames of a table combined among themselves (not with what was already combined):
# many small partials (a glob of thousands of tiny files) would otherwise each be held as its
# own frame until COMPACT_ROWS rows came, a few KB of pandas overhead apiece, so memory grew
# with the number of files. Combining them 256 at a time keeps pandas' per-call cost (about
# 1 ms a table) small against the rows combined.
PENDING_FRAMES = 256


def _combine_by_level_codes(
    frames: list[pd.DataFrame],
    rules: dict[str, str],
    join: bool = True,
    known: KnownDistinct | None = None,
    consume: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """Frames keyed by a MultiIndex with text or 64-bit integer levels (visitors: client, agent;
    visitor_days: visitor hash), combined by ``rules`` through their levels' codes: each level's
    distinct values are hashed once (not once per row, as grouping by the levels made into columns
    did; a large level proved distinct by sorting, ``spill.distinct_ints``, or known distinct is not
    hashed at all, and its codes are renumbered by lookup tables), and the rows are grouped by the
    integer tuple of their codes. The result is the group-by's own: groups in order of first
    appearance, each level's values in order of first appearance among the rows, the same
    aggregations. On the all-distinct benchmark the visitors merge no longer copies its 1M agent
    texts per row twice (``reset_index``, then ``concat``).

    None when a row has a missing level value (the group-by drops those rows but keeps their
    other values in its levels) or the tuples would not fit 63 bits: grouped as columns then.
    """
    nlevels = frames[0].index.nlevels
    names = list(frames[0].index.names)
    if any(not isinstance(f.index, pd.MultiIndex) or f.index.nlevels != nlevels for f in frames):
        return None
    levels: list[pd.Index] = []
    codes: list[np.ndarray] = []
    room = 1
    for k in range(nlevels):
        each = [f.index.levels[k] for f in frames]  # type: ignore[attr-defined]
        row_codes = [np.asarray(f.index.codes[k], dtype=np.intp) for f in frames]  # type: ignore[attr-defined]
        if any(len(c) and c.min() < 0 for c in row_codes):
            return None
        joined = each[0].append(each[1:]) if len(each) > 1 else each[0]
        if distinct_text(joined, known) or distinct_ints(joined):
            # No value in two frames (every agent new): the frames' levels, joined without a
            # copy, are the distinct values; factorizing made a copy of all of them (and for
            # 64-bit visitor hashes a hash table of them: 5M distinct clients' visitor_days,
            # the run's peak).
            at, distinct = np.arange(len(joined)), _joined_text(joined, join)
        else:
            at, distinct = pd.factorize(joined, sort=False)
        starts = np.cumsum([0] + [len(lv) for lv in each[:-1]])
        per_row = np.concatenate([at[s + c] for s, c in zip(starts, row_codes, strict=True)])
        # Renumbered in order of first appearance among the rows, as the group-by's levels are.
        level_codes, used = _first_appearance(per_row, len(distinct))
        # Usually already so (each frame's levels in order of its rows): then no copy.
        in_order = len(used) == len(distinct) and bool((used == np.arange(len(used))).all())
        levels.append((distinct if in_order else distinct.take(used)).rename(names[k]))
        del distinct, at, per_row, row_codes
        codes.append(level_codes.astype(np.int64, copy=False))
        room *= max(1, len(used))
        if room >= 1 << 62:
            return None
    key = codes[0]
    for k in range(1, nlevels):
        key = key * len(levels[k]) + codes[k]
    group_codes: list[np.ndarray] = []
    if any(len(lv) == len(key) for lv in levels):
        # A level whose every row has its own value (every agent new): every tuple is new,
        # each row its own group in row order; factorizing made a hash table of all of them.
        # The groups' codes are the rows' own (decoding the tuples made two more copies).
        ids, group_codes = np.arange(len(key)), codes
    else:
        ids, keys = pd.factorize(key, sort=False)
        for k in reversed(range(nlevels)):
            size = len(levels[k])
            group_codes.insert(0, keys % size)
            keys = keys // size
        del keys
    del key
    out = _by_group_columns(frames, ids, len(group_codes[0]), rules, consume)
    if out is None:
        data = pd.concat([f.reset_index(drop=True) for f in frames], ignore_index=True)
        out = _by_group(data, ids, len(group_codes[0]), rules)
        if out is None:
            g = data.groupby(ids, sort=False)
            out = g.sum() if all(r == "sum" for r in rules.values()) else g.agg(rules)
        del data
    out.index = pd.MultiIndex(
        levels=levels,  # type: ignore[arg-type]
        codes=group_codes,  # type: ignore[arg-type]
        names=names,
        verify_integrity=False,
    )
    return out


def _first_appearance(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=False)`` of integers in ``range(size)``: each value's code in
    order of first appearance, and the values in that order. Values that only increase (a
    level whose rows each hold the next distinct value: every agent new) are their own order,
    coded by rank without a hash table of all of them. Past DISTINCT_CHECK_ROWS possible
    values, by lookup tables of ``size`` instead of a hash table: each value's first row, the
    rows that are first, and each value's new code (5M distinct visitor hashes: ~120 MB less
    than factorize's hash table and half its time; the same codes and values)."""
    if len(values) and bool((values[1:] > values[:-1]).all()):
        return np.arange(len(values)), values
    if size < _spill.DISTINCT_CHECK_ROWS:
        return pd.factorize(values, sort=False)
    n = len(values)
    first = _first_rows(values, size, missing=n)
    starts = np.zeros(n, bool)
    starts[first[first < n]] = True
    del first
    used = values[starts]
    del starts
    rank = np.empty(size, np.intp)
    rank[used] = np.arange(len(used))
    return rank[values], used


def _as_is(frame: pd.DataFrame, rules: dict[str, str]) -> bool:
    """Whether grouping ``frame`` by keys that are all distinct gives it back unchanged: 8-byte
    integer columns (a one-row sum, minimum, maximum or first is the row's value, in its
    dtype), and booleans by minimum, maximum or first. Not floats (a one-row sum of NaN is
    0) nor a summed boolean (an integer)."""
    for col in frame.columns:
        dt, rule = frame[col].dtype, rules.get(str(col), "sum")
        if rule not in ("sum", "min", "max", "first"):
            return False
        if isinstance(dt, np.dtype) and dt.kind in "iu" and dt.itemsize == 8:
            continue
        if isinstance(dt, np.dtype) and dt.kind == "b" and rule != "sum":
            continue
        return False
    return True


_AT = {"sum": np.add, "min": np.minimum, "max": np.maximum}


def _by_group(
    data: pd.DataFrame, ids: np.ndarray, groups: int, rules: dict[str, str]
) -> pd.DataFrame | None:
    """``data.groupby(ids, sort=False).agg(rules)`` for integer columns, where ``ids`` number
    the groups in order of first appearance (``pd.factorize``): each group starts as its first
    row and the other rows are folded in (``ufunc.at``), so rows that are alone in their group
    (every visitor new: nearly all of them) cost a copy, not a group-by of seven columns, which
    held a hash table and its temporaries per column (the last merge's peak on 1M distinct
    lines). Integer sums, minima and maxima are exact in any order. None for other columns
    (floats, whose sums depend on the order; booleans, which a sum makes integers)."""
    if any(dt.kind not in "iu" or dt.itemsize != 8 for dt in data.dtypes) or any(
        rules.get(str(c), "sum") not in (*_AT, "first") for c in data.columns
    ):
        return None
    folds = {c: _AT.get(rules.get(str(c), "sum")) for c in data.columns}
    return _fold(data, ids, groups, folds)


def _by_group_columns(
    frames: list[pd.DataFrame],
    ids: np.ndarray,
    groups: int,
    rules: dict[str, str],
    consume: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """``_by_group`` of the frames' rows one after another, built a column at a time: only
    one column of all the rows is held besides the inputs and the result, where concatenating
    the frames first held a copy of every column (5M distinct visitors: seven 64-bit columns,
    ~280 MB on top of the last merge, its peak). None where the frames' columns or dtypes
    differ (a concatenation would align or cast them) or ``_by_group`` would say None.

    ``consume``: a frame among ``frames`` that nobody reads afterwards (the accumulator's
    merged table), each of whose columns is dropped from it once the result's is built: a
    column held alone in its block (as this function makes them) is freed then, so the
    merge holds one column of it beside the result rather than all of them (5M distinct
    agents: the last merge held the merged table and its copy, the run's peak)."""
    columns = list(frames[0].columns)
    dtypes = list(frames[0].dtypes)
    if any(list(f.columns) != columns or list(f.dtypes) != dtypes for f in frames[1:]):
        return None
    wide = all(isinstance(dt, np.dtype) and dt.kind in "iu" and dt.itemsize == 8 for dt in dtypes)
    if not wide or any(rules.get(str(c), "sum") not in (*_AT, "first") for c in columns):
        return None
    n = len(ids)
    if groups < n:
        firsts, rest, at = _heads(ids, groups)
    out: dict[Any, np.ndarray] = {}
    for col in columns:
        values = np.concatenate([f[col].to_numpy() for f in frames])
        if groups < n:
            head = values[firsts]
            ufunc = _AT.get(rules.get(str(col), "sum"))
            if ufunc is not None:
                ufunc.at(head, at, values[rest])
            values = head
        out[col] = values
        del values
        for f in frames:
            if f is consume:
                del f[col]
    return pd.DataFrame(out, columns=columns, copy=False)


def _first_rows(ids: np.ndarray, size: int, missing: int | None = None) -> np.ndarray:
    """The first row holding each of ``range(size)`` in ``ids`` (``missing`` for a value no
    row holds; without it every value must be held). Written backwards, a repeated value's
    last write is its first row: numpy's assignment through a 1-D integer index writes in
    order, which this relies on (tests/test_merge.py checks it against ``np.unique``)."""
    n = len(ids)
    first = np.empty(size, np.intp) if missing is None else np.full(size, missing, np.intp)
    first[ids[::-1]] = np.arange(n - 1, -1, -1)
    return first


def _heads(ids: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows numbered by group (``ids``, every group in ``range(groups)`` held): each
    group's first row, a mask of the other rows, and those rows' groups (where ufunc.at folds
    them in)."""
    firsts = _first_rows(ids, groups)
    rest = np.ones(len(ids), bool)
    rest[firsts] = False
    return firsts, rest, ids[rest]


def _fold(
    data: pd.DataFrame, ids: np.ndarray, groups: int, folds: Mapping[Any, np.ufunc | None]
) -> pd.DataFrame:
    """Each group of ``data``'s rows (``ids``: group numbers in order of first appearance) as
    its first row with the other rows folded in by its column's ufunc (None: the first row's
    value is kept)."""
    n = len(ids)
    if groups == n:
        return data.reset_index(drop=True)  # every row its own group, in order already
    firsts, rest, at = _heads(ids, groups)
    out = {}
    for col in data.columns:
        values = data[col].to_numpy()
        head = values[firsts]
        ufunc = folds[col]
        if ufunc is not None:
            ufunc.at(head, at, values[rest])
        out[col] = head
    return pd.DataFrame(out)


# Merge rules ``_by_text`` folds with, by rule and column kind.
_TEXT_AT = {
    ("sum", "i"): np.add,  # not floats: the group-by sums them with compensation
    ("max", "i"): np.maximum,
    ("max", "f"): np.maximum,
    ("max", "b"): np.logical_or,
    ("min", "i"): np.minimum,
    ("min", "f"): np.minimum,
    ("min", "b"): np.logical_and,
}


def _by_text(table: Table, f: pd.DataFrame, ints: bool = False) -> pd.DataFrame | None:
    """``table.combine`` of ``f``'s rows for a table grouped by one text column (``paths``: a
    year is 1.1M rows of 83,000 paths): the index factorized once (Arrow's hash, in order of
    first appearance, as the group-by orders its groups) and each plain numeric or flag column
    folded by its rule (``_fold``). None where that is not the same (other kinds, levels,
    dtypes or rules; a float NaN, which the group-by's max and min skip). ``ints``: an index
    of 64-bit integers too (status codes, hours, days), factorized in the same order."""
    index = f.index
    if table.kind != "group" or isinstance(index, pd.MultiIndex):
        return None
    numeric = (
        ints
        and isinstance(index.dtype, np.dtype)
        and index.dtype.kind in "iu"
        and index.dtype.itemsize == 8
    )
    if index.dtype != "str" and not numeric:
        return None
    if index.hasnans:
        return None
    folds = {}
    for c in f.columns:
        d = f[c].dtype
        if not isinstance(d, np.dtype) or (table.agg.get(c, "sum"), d.kind) not in _TEXT_AT:
            return None
        if d.kind == "f" and bool(np.isnan(f[c].to_numpy()).any()):
            return None
        folds[c] = _TEXT_AT[(table.agg.get(c, "sum"), d.kind)]
    codes, uniques = pd.factorize(index)
    out = _fold(f, codes, len(uniques), folds)
    return out.set_axis(pd.Index(uniques, name=index.name))


def merged_rows(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``table.combine([frame.iloc[:1], frame.iloc[1:]])``: one frame's rows merged among
    themselves by the same rules (days or months read as one frame), by ``_by_text`` where
    that serves."""
    merged = _by_text(table, frame) if len(frame) > 1 else None
    return merged if merged is not None else table.combine([frame.iloc[:1], frame.iloc[1:]])


def _text_levels(index: pd.Index) -> bool:
    return isinstance(index, pd.MultiIndex) and any(
        lv.dtype.kind not in "iuf" for lv in index.levels
    )


def _row_bytes(frame: pd.DataFrame) -> int:
    """Bytes per row of a frame of fixed-width columns (what spills), index included: what
    ``memory_usage(index=True)`` sums, without building a Series per frame (1 ms a call,
    20 ms per 1M lines on the merging thread)."""
    dtypes = [*frame.dtypes]
    if not isinstance(frame.index, pd.RangeIndex):  # a range is stored as three numbers
        dtypes.append(frame.index.dtype)
    return int(sum(getattr(dt, "itemsize", 8) for dt in dtypes))


def _same_text(a: pd.Index, b: pd.Index) -> bool:
    """Whether two text indexes hold the same values in the same order (compared in Arrow)."""
    if a.dtype != b.dtype or len(a) != len(b) or a.dtype != "str":
        return False
    return _equal(_chunked(a), _chunked(b))


# Text indexes shorter than this are not worth comparing.
SHARE_ROWS = 10_000


def share_text(tables: dict[str, pd.DataFrame]) -> None:
    """Tables whose text keys are the same values in the same order hold them once: the
    agents table's index is, row for row, the visitors table's agent level (each agent in
    order of first appearance), and with every agent distinct that text (1M agents: 130 MB)
    was kept twice through the finish. The later table's index (or level) is replaced by the
    earlier one's, which shares its Arrow buffers; no value changes."""
    seen: list[pd.Index] = []

    def shared(index: pd.Index) -> pd.Index | None:
        if index.dtype != "str" or len(index) < SHARE_ROWS:
            return None
        for other in seen:
            if other is not index and _same_text(other, index):
                return other.rename(index.name)
        seen.append(index)
        return None

    for frame in tables.values():
        index = frame.index
        if isinstance(index, pd.MultiIndex):
            for k, level in enumerate(index.levels):
                same = shared(level)
                if same is not None:
                    index = index.set_levels(
                        [same],  # type: ignore[list-item]
                        level=[k],
                        verify_integrity=False,
                    )
            if index is not frame.index:
                frame.index = index
        else:
            same = shared(index)
            if same is not None:
                frame.index = same


def join_text(tables: dict[str, pd.DataFrame]) -> None:
    """Each table's text index (or level) left in the frames' Arrow chunks while reading
    (``Table.combine(join=False)``) joined into one array (``spill.one_chunk``), as the finish
    expects; a text shared by two tables (``share_text``) is joined once and stays shared. No
    value changes. While reading, every compaction of the all-distinct tables copied all their
    text into one array (1M agents: 115 MB a table), which the next compaction copied again."""
    done: dict[int, tuple[object, pd.Index]] = {}

    def joined(index: pd.Index) -> pd.Index:
        if index.dtype != "str":
            return index
        values = index.array  # shared by the indexes share_text made one
        hit = done.get(id(values))
        if hit is None:
            hit = done[id(values)] = (values, one_chunk(index))  # held: its id stays its own
        return hit[1] if hit[1].name == index.name else hit[1].rename(index.name)

    for frame in tables.values():
        index = frame.index
        if isinstance(index, pd.MultiIndex):
            levels = [joined(level) for level in index.levels]
            if any(new is not old for new, old in zip(levels, index.levels, strict=True)):
                frame.index = index.set_levels(levels, verify_integrity=False)  # type: ignore[arg-type]
        else:
            new = joined(index)
            if new is not index:
                frame.index = new


def drop_engines(p: Partial) -> None:
    """Drop the hash tables pandas built on the merged tables' big indexes (an index's
    ``_engine``, kept with the index for as long as the table lives), and hand the freed pages
    back. A section that looks keys up once (``not-found``'s paths, ``referring-sites``'
    referrers, ``daily``'s visitors) left behind an engine of every key, for text one Python
    string each: on 1M distinct lines the finish's memory grew section after section by
    ~500 MB. Called after each section (``forked.build_sections``); a later lookup builds its
    engine again. Only indexes of at least SHARE_ROWS rows: small runs do nothing here."""
    dropped = False
    for frame in p.values():
        index = frame.index
        if len(index) < SHARE_ROWS:
            continue
        for ix in [index, *getattr(index, "levels", ())]:
            cache = getattr(ix, "_cache", None)
            if isinstance(cache, dict) and cache.pop("_engine", None) is not None:
                dropped = True
    if dropped:
        pa.default_memory_pool().release_unused()


class Accumulator:
    """Merges partials as they come, keeping the work near-linear: a table's pending frames are
    combined only when they outgrow what was already combined (like a log-structured merge)."""

    def __init__(
        self,
        tables: Mapping[str, Table],
        on_compact: Callable[[str, int], None] | None = None,
        spill_bytes: int | None = None,
    ) -> None:
        self.tables = tables
        self.done: dict[str, pd.DataFrame] = {}
        self.pending: dict[str, list[pd.DataFrame]] = {}
        # Rows in each table's pending frames, kept as they are added: summing the lengths of
        # every pending frame on each add made a run of many small partials quadratic (1,000
        # files: 49 of 59 s in len()).
        self.pending_rows: dict[str, int] = {}
        # Told (table name, rows after) each time a table is compacted.
        self.on_compact = on_compact
        # Tables with a spill_key write their compacted rows to disk past this many bytes
        # (None: never; a partial that must cross processes cannot hold a Spill).
        self.spill_bytes = spill_bytes
        self.spills: dict[str, Spill] = {}
        self.text_spills: dict[str, TextSpill] = {}
        # Merged tables this accumulator made and has not handed out (``result`` clears it;
        # a table taken in by ``put``, or an input combine gave back as it is, never enters):
        # their next compaction may drop their columns as it goes (``Table.combine``'s
        # ``consume``).
        self._own: dict[str, pd.DataFrame] = {}
        # Text keys found distinct: a compaction of the agents table does not hash again what
        # the visitors table's just proved (spill.KnownDistinct).
        self.known = KnownDistinct()

    def add(self, partial: Partial) -> None:
        compacted = False
        for name, frame in partial.items():
            frame = whole(frame)
            pend = self.pending.setdefault(name, [])
            pend.append(frame)
            size = self.pending_rows.get(name, 0) + len(frame)
            self.pending_rows[name] = size
            # A table that spills is written out a batch at a time.
            spilt = name in self.spills or name in self.text_spills
            done = 0 if spilt else len(self.done.get(name, ()))
            if size > max(done, COMPACT_ROWS):
                self._compact(name)
                compacted = True
            elif len(pend) >= PENDING_FRAMES:
                # Still few rows: one frame of them, merged with the rest later as usual.
                batch = self.tables[name].combine(pend, join=False, known=self.known)
                self.pending[name] = [batch] if len(batch) else []
                self.pending_rows[name] = len(batch)
        if compacted:
            # The agents index and the visitors agent level are the same text: held once
            # while reading too, not only once merged (1M distinct agents: 65 MB at the end
            # of reading, in the last merge's inputs).
            share_text(self.done)

    def put(self, name: str, frame: pd.DataFrame) -> None:
        """A table's rows read at once and merged already (``store.load``): given to the
        result as they are. Added as one frame, a text table past the spill budget was hashed,
        written to 32 files and rebuilt as a copy, to combine nothing. A table with rows
        already, or an empty frame, is added as usual."""
        if not len(frame) or name in self.done or name in self.pending:
            self.add({name: frame})
            return
        self.done[name] = whole(frame)

    def _compact(self, name: str) -> None:
        table = self.tables[name]
        pending = self.pending.pop(name, [])
        self.pending_rows.pop(name, None)
        done = self.done.get(name)
        mine = self._own.pop(name, None)
        if self._spills_text(name, done, pending):
            # Written out as it is, then each batch of new rows combined among themselves:
            # the table is never combined whole in memory while reading.
            text = self.text_spills.get(name)
            if text is None:
                first = next(f for f in [done, *pending] if f is not None and len(f))
                text = self.text_spills[name] = TextSpill(first)
                self.done[name] = first.iloc[:0].copy()
                del first
            if done is not None and len(done):
                text.write(done)
            batch = table.combine(pending, join=False, known=self.known)
            text.write(batch)
            rows = 0
            del batch
        elif self._spills(name, done, pending):
            # What was combined goes out as it is and the new rows after it, combined among
            # themselves only: a table past the budget is never combined whole in memory.
            # (A distinct table's copies of a key across batches are dropped when read.)
            first = next(f for f in [done, *pending] if f is not None and len(f))
            spill = self.spills.get(name)
            if spill is None:
                spill = Spill(first, str(table.spill_key), distinct=table.kind == "distinct")
                self.spills[name] = spill
            for frame in (done, table.combine(pending)):
                if frame is not None and len(frame):
                    spill.write(frame)
            # A copy: an empty slice would keep the spilled rows' arrays alive.
            self.done[name] = first.iloc[:0].copy()
            rows = 0  # left in memory
            del first, frame
        else:
            frames = ([done] if done is not None else []) + pending
            merged = table.combine(
                frames, join=False, known=self.known, consume=mine
            )
            if all(merged is not f for f in frames):  # not an input given back as it is
                self._own[name] = merged
            self.done[name] = merged
            rows = len(merged)
            del merged
            # The inputs go before on_compact: it hands free pages back (engine.local._release),
            # and held here they were not free yet (1M distinct lines: 160 MB left mapped).
            del frames
        del done, pending, mine
        if self.on_compact is not None:
            self.on_compact(name, rows)

    def _spills_text(
        self, name: str, done: pd.DataFrame | None, pending: list[pd.DataFrame]
    ) -> bool:
        table = self.tables[name]
        if table.kind != "group" or not table.spill_text or self.spill_bytes is None:
            return False
        if name in self.text_spills:
            return True
        frames = [f for f in [done, *pending] if f is not None and len(f)]
        if not frames or any(
            isinstance(f.index, pd.MultiIndex) or f.index.dtype != "str" or f.index.hasnans
            for f in frames
        ):
            return False
        size = sum(_row_bytes(f) * len(f) + _chunked(f.index).nbytes for f in frames)
        return size > self.spill_bytes * TEXT_FACTOR

    def _read_text(self, name: str) -> None:
        """A spilled text table back in memory, as it would be had it not spilled: each
        partition combined alone (its keys are in no other), then put in place in order of
        first appearance (``TextSpill.rebuild``). Its merges never held the table whole."""
        text = self.text_spills.pop(name)
        table = self.tables[name]
        rules = replace(table, agg={**table.agg, SEQ: "min"})
        # The table is about to be built whole: the pages the reading freed go back first
        # (on the system pool, malloc_trim), or it would sit on top of them.
        pa.default_memory_pool().release_unused()
        rebuilt = text.rebuild(lambda rows: merged_rows(rules, rows))
        if len(rebuilt):
            self.done[name] = rebuilt
        if self.on_compact is not None:
            self.on_compact(name, len(rebuilt))

    def _spills(self, name: str, done: pd.DataFrame | None, pending: list[pd.DataFrame]) -> bool:
        if self.tables[name].spill_key is None or self.spill_bytes is None:
            return False
        frames = [f for f in [done, *pending] if f is not None and len(f)]
        if not frames:
            return False
        if name in self.spills:
            return True
        return sum(_row_bytes(f) * len(f) for f in frames) > self.spill_bytes

    def _drain(self, queue: deque[str]) -> None:
        """Compact the tables named in ``queue`` one after another, until none is left (the
        lanes of the last merge share it)."""
        while True:
            try:
                name = queue.popleft()  # atomic: lanes never take the same table
            except IndexError:
                return
            self._compact(name)

    def _bytes(self, name: str) -> int:
        """About the bytes a compaction of ``name`` would merge now: its fixed-width columns
        and its text keys' Arrow buffers (what its merge copies and hashes)."""
        total = 0
        for frame in [self.done.get(name), *self.pending.get(name, [])]:
            if frame is None or not len(frame):
                continue
            total += _row_bytes(frame) * len(frame)
            for index in [frame.index, *getattr(frame.index, "levels", [])]:
                if index.dtype == "str":
                    total += pa.array(index.array).nbytes
        return total

    def _rows(self, name: str) -> int:
        """Rows a compaction of ``name`` would merge now (what it has combined and pending)."""
        return self.pending_rows.get(name, 0) + len(self.done.get(name, ()))

    def small_last_merge(self) -> bool:
        """Whether the last merge (``result``) is small: under POOL_MIN_ROWS rows merged
        and pending in the tables it has left to merge (then it runs on one thread), and no
        table spilled (``result`` reads a spilled table back whole: 300,000 distinct paths,
        whose trims, skipped, left 26-56 MB more at the peak)."""
        if self.spills or self.text_spills:
            return False
        return sum(self._rows(n) for n in self.pending) < POOL_MIN_ROWS

    def result(self, pool: Executor | None = None) -> Partial:
        """The merged tables. A table that spilled holds the rows still in memory, with its
        Spill in ``attrs["spill"]``: read such tables through ``spill.partitions``.

        ``pool`` (threads) compacts the tables' last pending rows side by side, biggest first:
        each table is its own, and much of a merge (Arrow's hashing of text keys, numpy)
        runs without the GIL. On the 1M-line benchmark this last merge, after the last
        block, took 0.19-0.24 s one table after another and 0.10-0.13 s on two threads."""
        names = sorted(self.pending, key=lambda n: -self.pending_rows.get(n, 0))
        if pool is not None and self.small_last_merge():
            pool = None  # a small merge: one thread is quicker and cheaper (POOL_MIN_ROWS)
        big = [n for n in names if self._rows(n) >= SERIAL_ROWS]
        if pool is None:
            for name in names:
                self._compact(name)
        else:
            small = [pool.submit(self._compact, n) for n in names if n not in big]
            # The big table of most bytes alone, here (its merge's copies and hash tables are
            # the biggest: 1M all-distinct visitors, its agents' text); then the others
            # LAST_LANES at a time, here and on the pool's threads, each lane taking the next
            # biggest. Union tables (agents) last: their text is, row for row, a level the
            # visitors table's merge has then found distinct (KnownDistinct), not hashed again.
            groups = sorted(
                (n for n in big if self.tables[n].kind != "distinct"), key=self._bytes, reverse=True
            )
            for names_ in (groups[:1], groups[1:], [n for n in big if n not in groups]):
                queue = deque(names_)
                lanes = [pool.submit(self._drain, queue) for _ in range(LAST_LANES - 1)]
                self._drain(queue)
                for fut in lanes:
                    fut.result()
            for fut in small:
                fut.result()
        for name in list(self.text_spills):
            self._read_text(name)
        share_text(self.done)
        join_text(self.done)
        self.known.clear()
        for name, spill in self.spills.items():
            self.done[name].attrs["spill"] = spill
        self._own.clear()  # handed out
        return dict(self.done)


@dataclass
class Context:
    """What section builders get at the end of a run: the settings, finish-time enrichment
    (once per distinct value of a merged table), and results shared between sections."""

    settings: Settings
    # Distinct user agents -> browser/OS/device/class table (enrich.agents contract).
    agents: Callable[[pd.Index], pd.DataFrame] | None = None
    # Distinct clients -> country/city/network table (enrich.geo contract); None: no database.
    geo: Callable[[pd.Index], pd.DataFrame] | None = None
    # Whether ``geo`` has a city or country database (without one it names address kinds only).
    geo_places: bool = False
    notes: list[str] = field(default_factory=list)
    cache: dict[str, object] = field(default_factory=dict)

    def once(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, computed once per report: every section asking for ``key`` shares it."""
        if key not in self.cache:
            self.cache[key] = make()
        return cast(T, self.cache[key])


@dataclass(frozen=True)
class SectionSpec:
    """A registered report section: its builder and the tables it needs.

    ``apart``: the section may be built in a forked child while this process builds the
    others when the finish is given no groups (``analyze.forked``; a run gives it
    ``analyze.FORK_GROUPS``). Only sections that share no ``Context.once`` result with
    unmarked sections may be marked, or that work would be done twice."""

    name: str
    title: str
    build: Callable[[Partial, Context], Section]
    needs: tuple[str, ...]
    apart: bool = False


def int_levels(values: list[np.ndarray], names: list[str | None]) -> pd.MultiIndex:
    """``MultiIndex.from_arrays(values)`` for integer columns: the same sorted levels and
    codes, a level of few distinct values in a narrow range (days, hours, kinds) by counting
    instead of hashing (a year's ``visitor_days`` is 3.5M rows of 365 days)."""
    levels: list[Any] = []
    codes: list[Any] = []
    for v in values:
        level, code = int_level(v)
        levels.append(level)
        codes.append(code)
    return pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=False)


def int_level(v: np.ndarray) -> tuple[pd.Index, np.ndarray]:
    """One integer column's sorted level and codes, as ``int_levels`` makes them (also
    ``store/visitorsets.py``'s day level)."""
    lo = int(v.min()) if len(v) else 0
    span = int(v.max()) - lo + 1 if len(v) else 0
    if len(v) and span <= max(1 << 16, len(v) // 4):
        offset = (v - v.dtype.type(lo)).astype(np.intp)
        present = np.bincount(offset, minlength=span) > 0
        lookup = np.cumsum(present) - 1
        # In the column's own type: a lone 64-bit hash is a narrow range too.
        found = np.flatnonzero(present).astype(v.dtype) + v.dtype.type(lo)
        return pd.Index(found), lookup[offset].astype(np.int64)
    c, u = pd.factorize(v, sort=True)
    return pd.Index(u), c
