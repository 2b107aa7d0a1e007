"""The store on disk: one state file, one folder per day, Parquet files with checksums.

    STATE/
      store.json                 schema version, settings fingerprint, days, inputs' offsets
      key                        the keyed-hash key for client addresses (owner-only)
      lock                       held while a run reads or writes (store/lock.py)
      day=2026-01-22/
        paths.g3.parquet         one table of that day's partial, generation 3
        ...

``store.json`` is the commit point. A run writes each changed day's tables as new files (the
next generation: nothing is overwritten), then replaces ``store.json`` atomically; only then
are the older generations deleted. A run killed at any point leaves either the old state (its
new files are orphans, deleted by the next run) or the new one, never a mix: no day is counted
twice and no offset runs ahead of the days it read. Every file is owner-only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logaudit import procs
from logaudit.analyze.base import int_levels
from logaudit.deliver.files import sync_folder
from logaudit.errors import ConfigError, ExitCode, LogauditError
from logaudit.schema import hash_strings, hash_utf8
from logaudit.store import walls

# The layout and table contents this logaudit writes. A store with another number is refused
# (exit 7), never misread. Schema 2 added closed days (``store/close.py``: per-page visitor
# counts in place of key sets, files of their own generation); a schema-1 store is read as a
# store of open days and written on as schema 2.
# Schema 3 writes each file without pandas' and Arrow's schema copies in its footer (the index
# columns and extension dtypes as two small keys instead, ``_frame``): a stored day of small
# tables is about half the size. Schema-2 files (with those copies) are read as before.
# Schema 4 stores a day's repeated keys once (``REFS``): a column of hashes or tokens that all
# appear in another table of the same day is stored as row numbers into that table, whose
# checksum the file names. Files without references (schema 3 and before) are read as before.
# Schema 5 adds each day's and month's ``mover_people`` (page views per country and browser,
# ``store/movers.py``): an older logaudit, not knowing it, would show no country or browser
# movers, so it must refuse such a store. Days of schema 1-4 have no such table and are read
# as before (their visitor keys mapped at report time).
# Schema 6 keeps each closed day's visits' entry (referrer, query) hashes on its
# ``visit_rows`` (``visit_sources`` in the day's entry; ``store/visitdays.py``): the source
# movers read no touch event of such a day. An older logaudit re-closing a day would write
# rows without them under the flag it keeps, so it must refuse such a store. Days of schema
# 1-5 have no flag and their source movers read their touch events as before.
# Schema 7 adds ``referrer_sites`` to the entries a report reads (``store/sites.py``): the
# own hosts are inferred from them. An older logaudit would drop them when rewriting a day (a
# table it does not know), which the entry's ``"of"`` checksum would catch; it refuses the
# store all the same, as every earlier addition. Schema-1 to -6 stores are read and written
# on as schema 7, their entries given the table by their next report.
# Schema 8 adds each rolled-up month's ``entry_counts`` and ``edge_rows`` (its interior
# visits counted per local start day and entry pair, and its edge visit rows;
# ``store/entries.py``): the series, the overview's visits and the source movers read them
# instead of the month's visit rows; and its ``referrer_hashes``/``query_hashes``
# (``store/texthash.py``). Each records the checksum of the file it was made from; a month
# without them (an older roll-up) is given them by its next report. Schema-1 to -7 stores
# are read and written on as schema 8; an older logaudit refuses a schema-8 store, as for
# every earlier addition.
# Schema 9 adds each rolled-up month's ``visitor_keys`` (its distinct visitor keys, sorted)
# and ``visitor_codes`` (its ``visitor_days`` rows with the visitor as a position in them;
# ``store/visitorsets.py``): a report builds the period's ``visitor_days`` from them without
# hashing the year's keys. Each records the checksum of the ``visitor_days`` file it was made
# from; an older roll-up gets them from its next report. Schema-1 to -8 stores are read and
# written on as schema 9; an older logaudit refuses a schema-9 store.
# Schema 10 adds a rolled-up month's ``entry_sources`` (its counted interior visits per local
# start day and source, named under the classification rules and own hosts its entry records;
# ``store/entrysources.py``): the source movers do not classify the month's entry pairs again.
# A month without it (or with other rules or own hosts) is given it by its next report.
# Schema-1 to -9 stores are read and written on as schema 10; an older logaudit refuses a
# schema-10 store.
# Schema 11 adds a rolled-up month's ``referrer_hosts`` (the referring site of each of its
# ``referrers``, row for row; ``store/texthash.py``): the movers map the compared referrers'
# hashes to their sites instead of running ``site_of`` on each text. Made at roll-up, or by
# the first report whose movers name from the month; stamped with the ``referrers``
# checksum. Schema-1 to -10 stores are read and written on as schema 11; an older logaudit
# refuses a schema-11 store.
# Schema 12 adds ``pb_response_max``'s ``min_ms``/``min_up_ms`` (merged by min) and
# ``timed``/``up_timed`` (the count the min is over): an older logaudit merges columns it does
# not know by sum, so its roll-up of a month summed the minimums and the percentiles were
# clamped up to that sum (p50 2.82 s against a max of 1.41). Paths' ``bytes`` leave the 404s'
# bytes out from 12 on. Schema-1 to -11 stores are read and written on as schema 12 (their
# days without the columns clamp at the max only; their paths' bytes keep 404s until
# ``state rebuild``); an older logaudit refuses a schema-12 store.
# Schema 13 (branch store22) may store an integer column byte-stream split (``_best_ints``),
# which pyarrow before 16 cannot read: an older logaudit on such a pyarrow would call the file
# unreadable and advise ``state rebuild``, which loses the days whose logs are gone. The
# tables are those of 12. Schema-1 to -12 stores are read as they are and written on as
# schema 13 (their old files read beside the new); an older logaudit refuses a schema-13
# store (exit 7), never calls it damaged.
# Schema 14 (branch dst23) keys ``problems``' minutes (and its clients' first and last) on
# instants, UTC, where they were the report zone's wall clock: an older logaudit would read
# such a day as wall minutes (a timeline shifted by the offset, a phantom gap beside its own
# days), so it refuses a schema-14 store. Schema-1 to -13 stores are read and written on as
# schema 14: their problems' files (no ``walls.MARK`` in their entry) are read converted to
# instants (``store/walls.py``) and rewritten so when their day is.
SCHEMA = 14
READS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
STATE_FILE = "store.json"
# What damage() says of a file whose checksum was never written (not proof of damage).
NO_CHECKSUM = "has no checksum"
KEY_FILE = "key"
# Present from a run's first written file until its commit has deleted what the state does not
# name: a run starts with the (slow, every file listed) clean-up only when it is there.
WRITING = ".writing"
# Written by the first clean-up of a logaudit that keeps WRITING (older stores are cleaned once).
TIDY = ".tidy"
EPOCH = date(1970, 1, 1)


def day_name(day: int) -> str:
    return (EPOCH + timedelta(days=day)).isoformat()


def day_number(name: str) -> int:
    return (date.fromisoformat(name) - EPOCH).days


def _write_private(path: Path, data: bytes, sync: bool = True) -> None:
    """``data`` to ``path`` atomically: a temporary owner-only file, synced, renamed.
    ``sync`` False: the folder is left for the caller to sync (once for many files)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        sync_folder(path.parent)


# Threads that encode, write and sync a day's files (``Layout.write_day``) while the next
# table is made ready: pyarrow's encoder and zstd, sha256 and fsync release the GIL, and a
# file's fsync mostly waits on the disk (70 of them, one after the other, took 0.2-0.4 s of a
# re-run's wall clock on a busy host). One a core, at most four: each holds a table's
# encoded form, so more threads than cores cost memory for no speed.
WRITERS = min(4, procs.usable_cores())


def _put(path: Path, stored: pa.Table, keys: dict[bytes, str], plain_ints: frozenset[str]) -> str:
    """Encode ``stored`` (``_encoded``) to ``path`` (synced, its folder not); its checksum."""
    data = _encoded(stored, keys, plain_ints)
    _write_private(path, data, sync=False)
    return hashlib.sha256(data).hexdigest()


# zstd's level for every stored file (Arrow's default is 1). Decoding costs the same at any
# level and every logaudit reads any level, so a store holds files of several levels freely.
# Measured on a closed day of 207,000 lines (branch store22): level 6 is 3.6 % smaller than 1
# for ~35 ms more CPU per day written; 9 saves 1.3 % more for another 25 ms, 12 1.6 % more for
# 60 ms (level 3 is larger than 1 on these tables).
ZSTD_LEVEL = 6
# How every stored file is written, and each integer column's trial (``_best_ints``) too, so
# that a trial measures what the file will hold (the store reads whole files: no statistics).
WRITER: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": ZSTD_LEVEL,
    "store_schema": False,
    "write_statistics": False,
}


def _encodings(
    schema: pa.Schema,
    plain_ints: frozenset[str] = frozenset(),
    distinct: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """How each column of a stored table is encoded (then zstd-compressed): signed integers
    (counts, times, day numbers: near their neighbours) as deltas, unsigned ones (64-bit
    hashes and keys: random) plain, the rest (text, flags) with a dictionary. On a stored day
    of 40,000 lines this is a fifth smaller than dictionaries everywhere; event times, in log
    order, shrink to a few bits each. ``distinct``: text columns whose every value is distinct
    (a table's key: paths, referrers, client tokens), stored plain, since a dictionary of
    values that never repeat only adds an index to each (branch store22: 6 % of a day)."""
    delta = [
        f.name for f in schema if pa.types.is_signed_integer(f.type) and f.name not in plain_ints
    ]
    plain = [
        f.name
        for f in schema
        if pa.types.is_unsigned_integer(f.type) or f.name in plain_ints or f.name in distinct
    ]
    rest = [f.name for f in schema if f.name not in delta and f.name not in plain]
    encoding = {**dict.fromkeys(delta, "DELTA_BINARY_PACKED"), **dict.fromkeys(plain, "PLAIN")}
    return {"use_dictionary": rest, "column_encoding": encoding}


def _distinct_texts(table: pa.Table) -> frozenset[str]:
    """The text columns of ``table`` (two rows or more) whose every value is distinct."""
    if table.num_rows < 2:
        return frozenset()
    return frozenset(
        f.name
        for f in table.schema
        if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        and pc.count_distinct(table.column(f.name), mode="all").as_py() == table.num_rows
    )


# Integer columns of a table this long are each stored in the encoding of ``INT_ENCODINGS``
# that stores their first rows in the fewest bytes (ties: the first): which wins depends on
# the values, not only their kind. Byte-stream split lays out each value's bytes in 8
# streams, so zstd finds the mostly-zero high bytes of counts, sizes and row numbers; on a
# closed day of 207,000 lines the integer columns were 1,005 kB in the kinds' encodings, 849
# in the best (branch store22), for 40-60 ms more CPU per day written (docs/performance.md).
# Byte-stream split of integers is read by pyarrow 16 on (pyproject.toml asks for it), so a
# store that may hold it is schema 13 (``SCHEMA``): an older logaudit refuses it. Unsigned
# 64-bit hashes are tried too, not left plain: sorted ones (a month's ``visitor_keys``, its
# ``edge_rows`` visitors, ``mover_counts`` keys in the year store) store smallest as deltas.
INT_ENCODINGS = ("DELTA_BINARY_PACKED", "PLAIN", "BYTE_STREAM_SPLIT")
TRIAL_ROWS = 256
TRIAL_SAMPLE = 4096  # the rows tried: a day's 30,000-row tables choose from their first 4,096


def _best_ints(table: pa.Table, rule: dict[str, Any]) -> dict[str, Any]:
    """``rule`` (``_encodings``) with each integer column of ``table`` (``TRIAL_ROWS`` rows
    or more) in the ``INT_ENCODINGS`` that stores its first ``TRIAL_SAMPLE`` rows in the
    fewest bytes (one trial file per encoding, each column's chunk measured in its footer)."""
    ints = [
        f.name
        for f in table.schema
        if pa.types.is_integer(f.type) and f.name in rule["column_encoding"]
    ]
    if table.num_rows < TRIAL_ROWS or not ints:
        return rule
    sample = table.select(ints).slice(0, TRIAL_SAMPLE)
    sizes: dict[str, list[int]] = {name: [] for name in ints}
    for encoding in INT_ENCODINGS:
        sink = io.BytesIO()
        pq.write_table(
            sample,
            sink,
            **WRITER,
            use_dictionary=False,
            column_encoding=dict.fromkeys(ints, encoding),
        )
        group = pq.read_metadata(pa.BufferReader(sink.getvalue())).row_group(0)
        for c in range(group.num_columns):
            chunk = group.column(c)
            sizes[chunk.path_in_schema].append(chunk.total_compressed_size)
    chosen = {name: INT_ENCODINGS[b.index(min(b))] for name, b in sizes.items()}
    return {**rule, "column_encoding": {**rule["column_encoding"], **chosen}}


# The page-view events (``analyze/visits.py``) are the page-view rows of the touch events
# (``analyze/campaigns.py``), in the same order, plus the path: when a day's tables show it,
# the page-view events are stored as their path hashes only and rebuilt from the touch events
# when read (a tenth of a stored day).
PV, TOUCH, PV_OWN = "pv_events", "touch_events", "path_h"
PV_SHARED = ("visitor", "utc", "local", "ref_h")


def _packed(partial: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    pv, touch = partial.get(PV), partial.get(TOUCH)
    if pv is None or touch is None or not len(pv) or "pv" not in touch.columns:
        return partial
    if list(pv.columns) != [*PV_SHARED[:3], PV_OWN, PV_SHARED[3]]:
        return partial
    rows = touch[touch["pv"].to_numpy(dtype=bool)]
    if len(rows) != len(pv) or not all(
        np.array_equal(rows[c].to_numpy(), pv[c].to_numpy()) for c in PV_SHARED
    ):
        return partial
    return {**partial, PV: pd.DataFrame({PV_OWN: pv[PV_OWN].to_numpy()})}


def _unpacked(own: pd.DataFrame, touch: pd.DataFrame | None) -> pd.DataFrame:
    if touch is None or int(touch["pv"].sum()) != len(own):
        raise pa.ArrowInvalid("its page views do not match the day's touch events")
    rows = touch[touch["pv"].to_numpy(dtype=bool)]
    cols = {c: rows[c].to_numpy() for c in PV_SHARED[:3]}
    return pd.DataFrame({**cols, PV_OWN: own[PV_OWN].to_numpy(), "ref_h": rows["ref_h"].to_numpy()})


# A day's keys, stored once (schema 4). Visitor keys, client tokens and path and referrer
# hashes recur in several tables of a day, and each is random: 8 to 18 bytes that no
# compression shrinks, over half of a stored day. A column listed here is stored, when every
# value of it is found in its reference (a column of another table of the same day, or the
# hashes of one) and nowhere twice there, as the row numbers of its values in that table
# (int32: one to three bytes each once compressed); the file's footer names the reference
# table and that file's checksum, so a file is never read against rows it was not written
# with. (table, column) -> (reference table, its column, whether the column holds the
# ``hash_strings`` of it). No reference column is itself stored as references.
REFS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("path_visitor_counts", "path_h"): ("paths", "path", True),
    (PV, "path_h"): ("paths", "path", True),
    (TOUCH, "ref_h"): ("referrers", "referrer", True),
    (TOUCH, "query_h"): ("queries", "query", True),
    (TOUCH, "visitor"): ("visitors", "visitor", False),
    ("visitor_days", "visitor"): ("visitors", "visitor", False),
    ("trend_visitor_hours", "visitor"): ("visitors", "visitor", False),
    ("visitors", "client"): ("places", "client", False),
    ("pb_clients", "client"): ("places", "client", False),
    ("pb_client_404", "client"): ("places", "client", False),
    ("pb_fail_clients", "client"): ("places", "client", False),
    ("visitors", "agent"): ("agents", "agent", False),
    ("pb_client_404", "path"): ("paths", "path", False),
}
REF_TABLES = frozenset(r[0] for r in REFS.values())
REFS_KEY = b"logaudit_refs"


# Times stored as their difference from another time of the same row (schema 4): a visit's
# end and local start from its start, an event's local time from its UTC time. Visits are in
# visitor order, not time order, so their times delta-encode poorly (three columns were 5 %
# of a stored day); the differences are durations and zone offsets, a few bits each. (A
# client's last hit less its first was tried: as random as the time itself, no smaller.)
# (table, column) -> the column it is stored against (never itself stored as a difference).
DIFFS: dict[tuple[str, str], str] = {
    ("visit_rows", "end"): "start",
    ("visit_rows", "start_local"): "start",
    (TOUCH, "local"): "utc",
    # A client's people and visitor hits are its hits but for its robots' (85 % equal).
    ("visitors", "people_hits"): "hits",
    ("visitors", "visitor_hits"): "hits",
}
DIFFS_KEY = b"logaudit_diffs"


def _to_diffs(name: str, table: pa.Table) -> tuple[pa.Table, dict[str, str]]:
    """``table`` with its ``DIFFS`` columns as differences (int64 columns without nulls, far
    from overflowing, only); {column: the column it is stored against}."""
    done = {}
    limit = 2**62
    for (t, column), base in DIFFS.items():
        if t != name or column not in table.column_names or base not in table.column_names:
            continue
        col, ref = table.column(column), table.column(base)
        if not (pa.types.is_int64(col.type) and pa.types.is_int64(ref.type)):
            continue
        if col.null_count or ref.null_count:
            continue
        a, b = col.to_numpy(), ref.to_numpy()
        if len(a) and (np.abs(a).max() >= limit or np.abs(b).max() >= limit):
            continue
        i = table.schema.get_field_index(column)
        table = table.set_column(i, table.schema.field(column), pa.array(a - b, pa.int64()))
        done[column] = base
    return table, done


def _from_diffs(table: pa.Table) -> pa.Table:
    """A stored table with its difference columns back as the times they were."""
    meta = table.schema.metadata or {}
    if DIFFS_KEY not in meta:
        return table
    for column, base in json.loads(meta[DIFFS_KEY]).items():
        if column not in table.column_names:  # not read (``columns``)
            continue
        d, b = table.column(column).to_numpy(), table.column(base).to_numpy()
        i = table.schema.get_field_index(column)
        table = table.set_column(i, table.schema.field(column), pa.array(d + b, pa.int64()))
    return table


def _rank(table: str) -> int:
    """Write order within a day: references before the tables that point into them."""
    if table not in REF_TABLES:
        return 2
    return 1 if any(t == table for t, _ in REFS) else 0


def write_order(tables: Iterable[str]) -> list[str]:
    """``tables`` in the order a day's (or a month's) files are written: references first."""
    return sorted(tables, key=lambda t: (_rank(t), t))


def pointing_into(tables: set[str] | frozenset[str]) -> set[str]:
    """The tables whose stored ``REFS`` may point into any of ``tables``, directly or through
    another: a day that rewrites ``tables`` rewrites those too (a file kept as it was would
    point into rows that are gone)."""
    out: set[str] = set()
    todo = set(tables)
    while todo:
        ref = todo.pop()
        for (t, _), (r, _, _) in REFS.items():
            if r == ref and t not in out:
                out.add(t)
                todo.add(t)
    return out


def _keys(ref: pa.Table, column: str, hashed: bool) -> np.ndarray | None:
    """The values a reference column gives row numbers to (None: it cannot)."""
    if column not in ref.column_names or ref.column(column).null_count:
        return None
    col = ref.column(column)
    if hashed and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        # From the text's UTF-8 bytes as Arrow holds them (the same hashes, ``hash_utf8``):
        # no Python string per value (a day's paths and referrers, on every write and read).
        return hash_utf8(col)
    values = col.to_numpy()
    return hash_strings(np.asarray(values, dtype=object)) if hashed else values


# A reference's values as ``_to_refs`` looks them up (an Arrow array), or None when it cannot
# be pointed into (values repeated). By (reference, its column, hashed): the day's visitor
# keys serve three tables, its paths' hashes two.
RefKeys = dict[tuple[str, str, bool], pa.Array | None]


def _ref_keys(ref: pa.Table, column: str, hashed: bool) -> pa.Array | None:
    if column not in ref.column_names or ref.column(column).null_count:
        return None
    if hashed:
        keys = _keys(ref, column, hashed)
        arr = pa.array(keys, pa.uint64()) if keys is not None else None
    else:
        arr = ref.column(column).combine_chunks()  # no Python string per value
    if arr is None or len(arr) >= 2**31 or pa.types.is_dictionary(arr.type):
        return None
    if pc.count_distinct(arr, mode="all").as_py() != len(arr):
        return None
    return arr


def _to_refs(
    name: str,
    table: pa.Table,
    refs: Callable[[str], tuple[pa.Table, str] | None],
    memo: RefKeys | None = None,
) -> tuple[pa.Table, dict[str, list[Any]], frozenset[str]]:
    """``table`` with its ``REFS`` columns as row numbers where they can be; the footer entry
    ({column: [reference, its column, hashed, its checksum]}) and the columns stored plain.
    The row numbers are found by Arrow's hashing (``index_in``), not through a pandas index
    of the reference's values made from Python strings (a day's visitor keys and agents);
    ``memo``: references' values kept across the day's tables."""
    meta: dict[str, list[Any]] = {}
    memo = {} if memo is None else memo
    plain = set()
    for (t, column), (ref_name, ref_column, hashed) in REFS.items():
        if t != name or column not in table.column_names:
            continue
        col = table.column(column)
        got = refs(ref_name)
        if got is None or col.null_count:
            continue
        ref, sha = got
        if ref_column not in ref.column_names:
            continue
        if hashed and not pa.types.is_uint64(col.type):
            continue
        if not hashed and ref.schema.field(ref_column).type != col.type:
            continue
        mkey = (ref_name, ref_column, hashed)
        if mkey not in memo:
            memo[mkey] = _ref_keys(ref, ref_column, hashed)
        keys = memo[mkey]
        if keys is None:
            continue
        found = pc.index_in(col, value_set=keys)
        if found.null_count:  # a value its reference does not hold
            continue
        pos = found.to_numpy()
        # Row numbers that mostly rise (a table in its reference's order) delta-encode to a
        # few bits; scattered ones are smaller stored plain (then compressed).
        if len(pos) > 1 and np.mean(np.diff(pos) > 0) < 0.5:
            plain.add(column)
        i = table.schema.get_field_index(column)
        table = table.set_column(i, pa.field(column, pa.int32()), pa.array(pos, pa.int32()))
        meta[column] = [ref_name, ref_column, hashed, sha]
    return table, meta, frozenset(plain)


# A reference as read: its column, and the values its row numbers stand for (the column's,
# or their hashes).
Ref = tuple[pa.ChunkedArray, np.ndarray]


def _from_refs(table: pa.Table, refs: Callable[[str, str, str, bool], Ref]) -> pa.Table:
    """A stored table with its row-number columns back as the values they point to;
    ``refs(table, checksum, column, hashed)`` reads a reference (raising if the day's file
    differs)."""
    meta = table.schema.metadata or {}
    if REFS_KEY not in meta:
        return table
    for column, (ref_name, ref_column, hashed, sha) in json.loads(meta[REFS_KEY]).items():
        if column not in table.column_names:  # not read (``columns``)
            continue
        values, keys = refs(ref_name, sha, ref_column, bool(hashed))
        pos = table.column(column).to_numpy()
        if len(pos) and (pos.min() < 0 or pos.max() >= len(keys)):
            raise pa.ArrowInvalid(f"its {column} does not fit the day's {ref_name}")
        got = pa.array(keys[pos], pa.uint64()) if hashed else values.take(pa.array(pos))
        i = table.schema.get_field_index(column)
        table = table.set_column(i, pa.field(column, got.type), got)
    return table


def make_root(root: Path) -> None:
    """Make the store's folder (0700), but not the folders above it: its parent must exist.
    ``LOGAUDIT_STATE=/nonexistent/x`` (a typo in a crontab) built the whole path from ``/``
    as root (QA22 #11); now it is one line and exit 9, as any output whose folder is missing.
    Under the user's state folder (``$XDG_STATE_HOME``, ``~/.local/state``) the folders on the
    way are made (0700, as the XDG spec asks): ``--state ~/.local/state/logaudit/shop`` on a
    fresh machine, README's example."""
    from logaudit.deliver.files import private_folder
    from logaudit.state import state_dir

    parent = Path(os.path.abspath(root)).parent
    ours = Path(os.path.abspath(root)).is_relative_to(os.path.abspath(state_dir().parent))
    if not root.is_dir() and not parent.is_dir() and not ours:
        raise LogauditError(
            f"--state {root}: cannot create: no folder {parent} (the store's own folder is "
            "made, not the ones above it)",
            ExitCode.OUTPUT,
        )
    try:
        private_folder(root)  # 0700, and so is each folder made above it (ours only)
    except OSError as e:
        said = f"--state {root}: cannot create: {e.strerror}"
        raise LogauditError(said, ExitCode.OUTPUT) from None


@dataclass
class State:
    """What ``store.json`` holds."""

    settings: dict[str, Any] = field(default_factory=dict)
    # "YYYY-MM-DD" -> {"gen": int, "files": {table: {"sha256": hex, "rows": int[, "gen": int]}},
    #                  "closed": bool}  (a file's own "gen" overrides the day's)
    days: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    gen: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)
    # "YYYY-MM" -> {"gen", "files", "of": digest of its days[, "visit_timeout", "offsets"]}:
    # closed months' tables rolled up (store/months.py: "of" leaves the days' DERIVED files
    # out); "files" holds TABLE@DD entries too, the month's tails (store/tails.py). A file
    # entry's "as" (never stored: tails.tail_entry) names another file read as the table.
    months: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Month digests and days by month, valid for one generation (store/months.py ``digest``);
    # never written. Cleared by ``Layout.commit`` too (a prune deletes days in place).
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        from logaudit import __version__

        return {
            "schema": SCHEMA,
            "written_by": f"logaudit {__version__}",
            "settings": self.settings,
            "gen": self.gen,
            "days": self.days,
            "inputs": self.inputs,
            "runs": self.runs[-100:],
            "months": self.months,
        }


class Layout:
    """One store folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # References read by this run, by file (a generation's file never changes).
        self._ref_cache: dict[tuple[str, str, bool], Ref] = {}
        # Each entry's wall hours' offsets (``walls.hour_offsets``), by its trend_hours file.
        self._hours_cache: dict[Path, walls.Offsets | None] = {}

    @classmethod
    def of(cls, layout: Layout) -> Self:
        """A layout of this kind on ``layout``'s folder, sharing what it has read so far (the
        references): a forked child's ``ReadOnly``, a report's ``Pinned``."""
        out = cls(layout.root)
        out.__dict__.update(layout.__dict__)
        return out

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    def exists(self) -> bool:
        return self.state_path.is_file()

    def create(self) -> None:
        make_root(self.root)
        if not (self.root / KEY_FILE).exists() and not self._holds_days():
            _write_private(self.root / KEY_FILE, secrets.token_bytes(32))

    def key(self) -> bytes:
        """The client tokens' key, read only when new lines are stored. A store that holds no
        day yet gets a new one in place of a missing or empty file; one that holds days is
        refused (its tokens were made with the lost key: a new one would count every returning
        client again). Reports from the stored days alone never need it."""
        try:
            key = (self.root / KEY_FILE).read_bytes()
        except FileNotFoundError:
            key, how = b"", "missing"
        else:
            how = "empty"
        if not key:
            self._no_key(how)
            key = secrets.token_bytes(32)
            _write_private(self.root / KEY_FILE, key)
        return key

    def _holds_days(self) -> bool:
        if not self.exists():
            return False
        state = self.read_state()
        return bool(state.days or state.months)

    def _no_key(self, how: str) -> None:
        """Refuse (exit 7) when the store holds days and its key file is ``how``."""
        if self._holds_days():
            raise ConfigError(
                f"--state {self.root}: the {KEY_FILE} file is {how} but the store holds days "
                "hashed with it, so no new line can be stored; put the key back from a backup, "
                f"or write a new one (`head -c 32 /dev/urandom > {self.root / KEY_FILE}`: the "
                "stored days stay, returning clients are counted again), or `logaudit state "
                "rebuild` from the logs (only the days whose logs are given are kept); reports "
                "from the stored days alone still work"
            )

    def read_state(self) -> State:
        if not self.exists():
            return State()
        try:
            raw = json.loads(self.state_path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"--state {self.root}: {STATE_FILE} is unreadable ({e})") from None
        schema = raw.get("schema") if isinstance(raw, dict) else None
        if schema not in READS:
            who = raw.get("written_by", "an unknown logaudit") if isinstance(raw, dict) else "?"
            raise ConfigError(
                f"--state {self.root}: store schema {schema} (written by {who}); this logaudit "
                f"reads schema {READS[0]} to {READS[-1]} only: use that logaudit, or "
                "`logaudit state rebuild` with the logs into a new folder"
            )
        return State(
            settings=raw.get("settings", {}),
            days=raw.get("days", {}),
            inputs=raw.get("inputs", []),
            gen=int(raw.get("gen", 0)),
            runs=raw.get("runs", []),
            months=raw.get("months", {}),
        )

    def commit(self, state: State) -> None:
        """Make ``state`` the store's state (the one atomic step), then delete what no longer
        belongs to it."""
        from logaudit.store.months import drop_stale

        state.cache.clear()  # the days may have changed in place since the last digest
        drop_stale(state)
        data = json.dumps(state.to_json(), indent=1, sort_keys=True).encode()
        _write_private(self.state_path, data)
        self.clean(state)
        # Nothing of this run is left to clean: the next run need not list every file.
        (self.root / WRITING).unlink(missing_ok=True)

    def untidy(self) -> bool:
        """Whether a run may have left files that no state names (it wrote and was stopped
        before its commit's clean-up), or the store predates that record."""
        return (self.root / WRITING).exists() or not (self.root / TIDY).exists()

    def clean(self, state: State) -> None:
        """Delete day files and folders that ``state`` does not name (older generations,
        a killed run's orphans)."""
        # Whole paths: one day's generation may name a file another day no longer has.
        named = [*state.days.items(), *state.months.items()]
        wanted = {self.path(d, info, t) for d, info in named for t in info["files"]}
        temporary = [*self.root.glob("day=*/.*.tmp"), *self.root.glob("month=*/.*.tmp")]
        for stale in [*self.root.glob(".scratch-*"), *temporary]:
            # A killed run's decompressed tails and half-written files.
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        for folder in [*self.root.glob("day=*"), *self.root.glob("month=*")]:
            name = folder.name.partition("=")[2]
            held = state.days if folder.name.startswith("day=") else state.months
            for f in folder.iterdir():
                if name not in held or f not in wanted:
                    f.unlink(missing_ok=True)
            if name not in held:
                try:
                    folder.rmdir()
                except OSError:
                    pass
        if not (self.root / TIDY).exists():
            _write_private(self.root / TIDY, b"")

    def folder(self, day: str) -> Path:
        """A day's folder, or a month's (``YYYY-MM``: its roll-up, ``store/months.py``)."""
        return self.root / (f"month={day}" if len(day) == 7 else f"day={day}")

    def file(self, day: str, table: str, gen: int) -> Path:
        return self.folder(day) / f"{table}.g{gen}.parquet"

    def path(self, day: str, info: dict[str, Any], table: str) -> Path:
        """The file of ``table`` in the stored day ``info`` (a file entry's ``"as"``: another
        file of the entry read as ``table``, a month's tail: ``store/months.py``)."""
        meta = info["files"][table]
        return self.file(day, meta.get("as", table), int(meta.get("gen", info["gen"])))

    def write_day(self, day: str, partial: dict[str, pd.DataFrame], gen: int) -> dict[str, Any]:
        """Write one day's tables as generation ``gen``; their checksums and row counts.

        The files are those ``write_file`` would write, byte for byte; each is encoded,
        written and synced by one of ``WRITERS`` threads while the next table is made ready
        here, and the day's folder is synced once, after its last file (not after each).
        A table pointing into others (``REFS``) names their checksums: it waits for them.
        Every file is synced, and the folder, before this returns: the commit comes after."""
        from concurrent.futures import Future, ThreadPoolExecutor

        written: dict[str, pa.Table] = {}
        sums: dict[str, Future[str]] = {}
        memo: RefKeys = {}
        packed = _packed(partial)
        folder = self._writable(day)

        def reference(name: str) -> tuple[pa.Table, str] | None:
            if name not in sums:
                return None
            return written[name], sums[name].result()

        rows: dict[str, int] = {}
        pool = ThreadPoolExecutor(WRITERS, thread_name_prefix="logaudit-store")
        try:
            for name in write_order(packed):
                frame = packed[name]
                if not len(frame) or not len(frame.columns):
                    continue
                stored, keys, plain_ints, arrow = _stored_form(frame, name, reference, memo)
                if name in REF_TABLES:
                    written[name] = arrow
                # At most WRITERS tables wait in their stored form (memory: one at a time
                # before), and a write that failed (a full disk) stops the day at once.
                for k, older in enumerate(list(sums.values())):
                    if k < len(sums) - WRITERS or older.done():
                        older.result()
                sums[name] = pool.submit(_put, self.file(day, name, gen), stored, keys, plain_ints)
                rows[name] = len(frame)
            files = {
                t: walls.mark(t, {"sha256": sums[t].result(), "rows": rows[t]})
                for t in sorted(rows)
            }
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        sync_folder(folder)
        return {"gen": gen, "files": files}

    def _writable(self, day: str) -> Path:
        """The day's folder, made, once the run has said it may leave orphans."""
        writing = self.root / WRITING
        if not writing.exists():
            # Until the commit's clean-up, this run's files may be orphans (store/layout.py).
            _write_private(writing, b"")
        folder = self.folder(day)
        folder.mkdir(exist_ok=True, mode=0o700)
        return folder

    def write_file(
        self,
        day: str,
        table: str,
        frame: pd.DataFrame,
        gen: int,
        refs: dict[str, Any] | None = None,
        written: dict[str, pa.Table] | None = None,
    ) -> dict[str, Any]:
        """Write one table of a day as generation ``gen``; its checksum, rows and generation.
        ``refs``: the day's stored files (``{"gen", "files"}``) that its ``REFS`` columns may
        point into (None: stored as they are); ``written``: those of them just written, by
        table (read from disk otherwise), where this one is added if others point into it."""
        self._writable(day)

        def reference(name: str) -> tuple[pa.Table, str] | None:
            if refs is None or name not in refs["files"]:
                return None
            got = written.get(name) if written is not None else None
            if got is None:
                got = _read(self.path(day, refs, name))
            return got, refs["files"][name]["sha256"]

        data, arrow = _parquet(frame, table, reference)
        _write_private(self.file(day, table, gen), data)
        meta = {"sha256": hashlib.sha256(data).hexdigest(), "rows": len(frame), "gen": gen}
        walls.mark(table, meta)
        if written is not None and table in REF_TABLES:
            written[table] = arrow
        return meta

    def _refs(self, day: str, info: dict[str, Any]) -> Callable[[str, str, str, bool], Ref]:
        """The reader of a day's references for ``_from_refs``: only the column pointed into
        is read (a day's visitor keys, not its whole visitors table), and its hashes made
        once per run (a day's paths serve its page-view events and per-page counts)."""

        def read(name: str, sha: str, column: str, hashed: bool) -> Ref:
            meta = info["files"].get(name)
            if meta is None or meta["sha256"] != sha:
                raise pa.ArrowInvalid(f"the day's {name} is not the one it points into")
            path = self.path(day, info, name)
            key = (str(path), column, hashed)
            got = self._ref_cache.get(key)
            if got is None:
                ref = _read(path, [column])
                keys = _keys(ref, column, hashed)
                if keys is None:
                    raise pa.ArrowInvalid(f"the day's {name} has no {column} to point into")
                got = (ref.column(column), keys)
                if len(self._ref_cache) >= 512:
                    self._ref_cache.clear()
                self._ref_cache[key] = got
            return got

        return read

    def _stored(
        self,
        day: str,
        info: dict[str, Any],
        table: str,
        columns: Iterable[str] | None = None,
        coded: Iterable[str] = (),
    ) -> pa.Table:
        """``table`` of a stored day as written before encoding: references and differences
        resolved. ``columns``: only those (and the index), read from the file alone.
        ``coded``: text columns read as Arrow dictionaries (``read_arrow``)."""
        path = self._source(self.path(day, info, table))
        coded = list(coded)
        read = _read(path, None, coded) if columns is None else _projected(path, columns, coded)
        out = _from_refs(_from_diffs(read), self._refs(day, info))
        if table in walls.TABLES and not info["files"][table].get(walls.MARK):
            # problems' wall minutes (before schema 14), as instants
            out = walls.instants(table, out, self._wall_offsets(day, info))
        return out

    def _wall_offsets(self, day: str, info: dict[str, Any]) -> walls.Offsets | None:
        """The offsets of a stored entry's wall hours, from its ``trend_hours`` (once per run)."""
        if walls.HOURS not in info["files"]:
            return None
        path = self.path(day, info, walls.HOURS)
        if path not in self._hours_cache:
            if len(self._hours_cache) >= 4096:
                self._hours_cache.clear()
            hours = self._stored(day, info, walls.HOURS, ["hits"])
            self._hours_cache[path] = walls.hour_offsets(hours)
        return self._hours_cache[path]

    def _source(self, path: Path) -> Path | pa.Buffer:
        """Where a file is read from: the file (``Pinned``: its bytes as pinned)."""
        return path

    def pinned(self, days: list[tuple[str, dict[str, Any]]], tables: Iterable[str]) -> Layout:
        """This layout, reading the files of ``tables`` in ``days`` as they are now
        (``Pinned``); a missing or unreadable one is the store's one-line error, as a read."""
        pins: dict[Path, pa.Buffer] = {}
        for table in tables:
            held = [(d, info) for d, info in days if table in info["files"]]
            try:
                for d, info in held:
                    path = self.path(d, info, table)
                    with pa.memory_map(str(path)) as mapped:
                        pins[path] = mapped.read_buffer()
            except Exception as e:
                raise self._damaged(e, held, table) from None
        out = Pinned.of(self)
        out.pins = pins
        return out

    def read_table(self, day: str, info: dict[str, Any], table: str) -> pd.DataFrame | None:
        if table not in info["files"]:
            return None
        path = self.path(day, info, table)
        try:
            frame = _frame(self._stored(day, info, table))
            if table == PV and list(frame.columns) == [PV_OWN]:
                return _unpacked(frame, self.read_table(day, info, TOUCH))
            return frame
        except LogauditError:
            raise  # the page views' own events (TOUCH): already the one line
        except Exception as e:
            raise self._damaged(e, [(day, info)], table, f"{path.name} of {day}") from None

    def read_tables(
        self,
        days: list[tuple[str, dict[str, Any]]],
        table: str,
        columns: Iterable[str] | None = None,
    ) -> pd.DataFrame | None:
        """The rows of ``table`` in all of ``days``, in their order, read as one (not merged;
        not for the page-view events, which may be stored packed). ``columns``: only those
        columns (and the index) are read: Parquet reads each column apart."""
        assert table != PV
        both = self.read_arrow(days, table, columns)
        if both is None:
            return None
        try:
            return _frame(both, _shape(both))
        except Exception as e:
            raise self._damaged(e, days, table) from None

    def read_arrow(
        self,
        days: list[tuple[str, dict[str, Any]]],
        table: str,
        columns: Iterable[str] | None = None,
        coded: Iterable[str] = (),
    ) -> pa.Table | None:
        """``read_tables`` as Arrow: the days' rows of ``table`` concatenated (types promoted),
        with the first file's footer keys. A missing or damaged file is the store's one-line
        error (exit 7), as for every read. ``coded``: text columns of few distinct values
        read as Arrow dictionaries (each file's own), not a string per row (a year's
        referring sites: ~1M rows of a few dozen sites)."""
        held = [(d, info) for d, info in days if table in info["files"]]
        if not held:
            return None
        try:
            parts = [self._stored(d, info, table, columns, coded) for d, info in held]
            both = pa.concat_tables(
                [t.replace_schema_metadata(None) for t in parts], promote_options="permissive"
            )
            return both.replace_schema_metadata(parts[0].schema.metadata)
        except Exception as e:
            raise self._damaged(e, held, table) from None

    def _damaged(
        self, e: Exception, days: list[tuple[str, dict[str, Any]]], table: str, what: str = ""
    ) -> ConfigError:
        """The store's one-line error for ``e``, a failed read of ``table`` in ``days``: Arrow's
        or the file system's error, or any error once a file's checksum shows it damaged (a
        flipped byte in the pandas metadata fails as a KeyError). Any other is a bug, not
        damage, and is re-raised: it stays a traceback."""
        culprit = self._culprit(days, table)
        if culprit is None and not isinstance(e, (OSError, pa.ArrowException)):
            raise e
        if culprit is None:
            return self.unreadable(what or table, _why(e))
        where, wrong = culprit
        return self.unreadable(where, f"it {wrong}: {_why(e)}")

    def _culprit(
        self, days: list[tuple[str, dict[str, Any]]], table: str
    ) -> tuple[str, str] | None:
        """The first damaged file a read of ``table`` in ``days`` went through, named with its
        day folder, and what is wrong with it, as ``state verify`` says: ``table``'s own, or
        one it points into (``REFS``: a damaged ``visitors`` fails a read of ``visitor_days``).
        Only on the error path: it reads the files' bytes for their checksums. A file without
        a checksum (a hand-edited store.json) is named only when no file is found damaged: it
        may well be healthy."""
        tables = [table, *dict.fromkeys(ref for (t, _), (ref, _, _) in REFS.items() if t == table)]
        unsure: tuple[str, str] | None = None
        for day, info in days:
            for t in (t for t in tables if t in info["files"]):
                wrong = self.damage(day, info, t)
                if wrong:
                    path = self.path(day, info, t)
                    if not wrong.startswith(NO_CHECKSUM):
                        return f"{path.parent.name}/{path.name}", wrong
                    unsure = unsure or (f"{path.parent.name}/{path.name}", wrong)
        return unsure

    def unreadable(self, table: str, why: str) -> ConfigError:
        """The one-line error (exit 7) of a stored ``table`` (or file) that cannot be read as
        written."""
        return ConfigError(
            f"--state {self.root}: {table} is unreadable ({why}); "
            "`logaudit state verify` checks the store, `state rebuild` remakes it"
        )

    def key_damage(self, state: State) -> str | None:
        """What is wrong with the key of a store that holds days: missing or empty."""
        key = self.root / KEY_FILE
        if (state.days or state.months) and not (key.is_file() and key.stat().st_size):
            return f"{KEY_FILE} is {'empty' if key.is_file() else 'missing'}"
        return None

    @staticmethod
    def stored_files(state: State) -> Iterator[tuple[str, str, dict, str]]:
        """(kind "day" or "month", the day or month, its entry, table) per stored file."""
        named = [("day", d, i) for d, i in sorted(state.days.items())] + [
            ("month", m, i) for m, i in sorted(state.months.items())
        ]
        for kind, day, info in named:
            for table in sorted(info["files"]):
                yield kind, day, info, table

    def damage(self, day: str, info: dict, table: str) -> str | None:
        """What is wrong with one stored file ("is missing", "cannot be read (Permission
        denied)", "does not match its checksum", "has no checksum in store.json"), None when
        its bytes are those written."""
        try:
            digest = hashlib.sha256(self.path(day, info, table).read_bytes()).hexdigest()
        except FileNotFoundError:
            return "is missing"
        except OSError as e:  # there but not readable (permissions, I/O): its own reason
            return f"cannot be read ({e.strerror or e})"
        written = info["files"][table].get("sha256")
        if not written:
            return f"{NO_CHECKSUM} in {STATE_FILE}"
        return None if digest == written else "does not match its checksum"

    def size(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())


class Pinned(Layout):
    """A layout whose reads of some files give their bytes as they were when pinned
    (``Layout.pinned``: each memory-mapped then, which outlives the file's deletion). What a
    report reads after the store's lock is let go (``texthash.Named.full``, in the sections)
    reads the files the report's state named, though a run may have replaced them since."""

    pins: dict[Path, pa.Buffer]

    def _source(self, path: Path) -> Path | pa.Buffer:
        return self.pins.get(path, path)


def _read(
    path: Path | pa.Buffer, columns: list[str] | None = None, coded: list[str] | None = None
) -> pa.Table:
    """One file's table (or those of its columns): ParquetFile.read skips read_table's dataset
    set-up, half the cost of a small file (a year of trends reads thousands). ``coded``:
    columns read as dictionaries."""
    with _open(path, coded) as f:
        return f.read(columns=columns)


def _open(path: Path | pa.Buffer, coded: list[str] | None) -> pq.ParquetFile:
    """The Parquet file (or pinned bytes, ``Pinned``), ``coded`` columns to be read as
    dictionaries: a file without one of them is damaged (``pa.ArrowInvalid``, the store's
    one-line error), not a KeyError."""
    try:
        source = pa.BufferReader(path) if isinstance(path, pa.Buffer) else path
        return pq.ParquetFile(source, read_dictionary=coded or None)
    except KeyError as e:
        name = e.args[0].decode() if isinstance(e.args[0], bytes) else e.args[0]
        what = "a pinned file" if isinstance(path, pa.Buffer) else path.name
        raise pa.ArrowInvalid(f"{what} has no column {name}") from None


def _projected(
    path: Path | pa.Buffer, columns: Iterable[str], coded: list[str] | None = None
) -> pa.Table:
    """The file's ``columns`` that it has, its index columns, and the columns its wanted
    difference columns are stored against (its footer names them)."""
    with _open(path, coded) as f:
        have = f.schema_arrow
        meta = have.metadata or {}
        want = set(columns)
        if INDEX_KEY in meta:
            want.update(json.loads(meta[INDEX_KEY]))
        else:  # a file written before schema 3: pandas' metadata names the index
            pandas = have.pandas_metadata or {}
            want.update(c for c in pandas.get("index_columns", []) if isinstance(c, str))
        if DIFFS_KEY in meta:
            diffs = json.loads(meta[DIFFS_KEY])
            want.update(base for column, base in diffs.items() if column in want)
        return f.read(columns=[c for c in have.names if c in want])


# The footer keys a schema-3 file keeps in place of the pandas and Arrow schema copies.
INDEX_KEY, TYPES_KEY = b"logaudit_index", b"logaudit_types"


def _parquet(
    frame: pd.DataFrame,
    table: str = "",
    refs: Callable[[str], tuple[pa.Table, str] | None] | None = None,
) -> tuple[bytes, pa.Table]:
    """``frame`` as a Parquet file: columns encoded by kind (``_encodings``), zstd, no column
    statistics (the store reads whole files), and for the pandas side only the index columns
    and the extension dtypes (``Int64``...) as two small footer keys. pandas' own metadata and
    Arrow's serialized schema, both written by default, were about half of a small file.
    With ``refs`` (the day's references of ``table``), its ``REFS`` columns are stored as row
    numbers where they can be; its ``DIFFS`` columns are stored as differences. Also the
    table written, before that (for references to it)."""
    stored, keys, plain_ints, plain = _stored_form(frame, table, refs)
    return _encoded(stored, keys, plain_ints), plain


def _stored_form(
    frame: pd.DataFrame,
    table: str = "",
    refs: Callable[[str], tuple[pa.Table, str] | None] | None = None,
    memo: RefKeys | None = None,
) -> tuple[pa.Table, dict[bytes, str], frozenset[str], pa.Table]:
    """``_parquet`` up to the encoding: the table as stored (references, differences), its
    footer keys, its integer columns stored plain, and the table before that."""
    # One thread: Arrow's pool of column converters, started for each of a day's 30-odd
    # small tables, cost more than it saved.
    arrow = pa.Table.from_pandas(frame, preserve_index=True, nthreads=1)
    index, types = _shape(arrow)
    plain = arrow.replace_schema_metadata(None)
    stored, pointers, plain_ints = (
        _to_refs(table, plain, refs, memo) if refs is not None else (plain, {}, frozenset())
    )
    stored, diffs = _to_diffs(table, stored)
    keys = {INDEX_KEY: json.dumps(index), TYPES_KEY: json.dumps(types)}
    if pointers:
        keys[REFS_KEY] = json.dumps(pointers)
    if diffs:
        keys[DIFFS_KEY] = json.dumps(diffs)
    return stored, keys, plain_ints, plain


def _encoded(stored: pa.Table, keys: dict[bytes, str], plain_ints: frozenset[str]) -> bytes:
    """The Parquet file of a table made by ``_stored_form`` (GIL released while encoding)."""
    sink = io.BytesIO()
    with pq.ParquetWriter(
        sink,
        stored.schema,
        **WRITER,
        **_best_ints(stored, _encodings(stored.schema, plain_ints, _distinct_texts(stored))),
    ) as w:
        w.add_key_value_metadata(keys)
        w.write_table(stored)
    return sink.getvalue()


def _shape(table: pa.Table) -> tuple[list[str], dict[str, str]]:
    """(index columns, {column: extension dtype}) of a stored table, from either footer: a
    schema-3 file's two keys, or pandas' metadata (files written before)."""
    meta = table.schema.metadata or {}
    if INDEX_KEY in meta:
        return json.loads(meta[INDEX_KEY]), json.loads(meta.get(TYPES_KEY, b"{}"))
    pandas = table.schema.pandas_metadata or {}
    index = [c for c in pandas.get("index_columns", []) if isinstance(c, str)]
    types = {}
    for c in pandas.get("columns", []):
        try:
            dtype = pd.api.types.pandas_dtype(c.get("numpy_type"))
        except (TypeError, ValueError):
            continue
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(
            dtype, pd.StringDtype
        ):
            types[str(c["field_name"])] = str(c["numpy_type"])
    return index, types


def _why(e: Exception) -> str:
    """A failed read's reason, in a line: a damaged footer's pandas metadata fails as a
    KeyError of a column name, which says nothing alone."""
    if isinstance(e, (OSError, pa.ArrowException)):
        return str(e)
    return f"{type(e).__name__}: {e}"


def _frame(table: pa.Table, shape: tuple[list[str], dict[str, str]] | None = None) -> pd.DataFrame:
    """A stored table as the DataFrame that was written (index, dtypes)."""
    meta = table.schema.metadata or {}
    if shape is None and INDEX_KEY not in meta and b"pandas" in meta:
        return table.to_pandas()  # a file written before schema 3
    index, types = shape if shape is not None else _shape(table)
    frame = table.replace_schema_metadata(None).to_pandas()
    # Only the columns read: a projection (``columns=``) keeps the whole file's footer.
    types = {c: t for c, t in types.items() if c in frame.columns}
    if types:
        frame = frame.astype(types)
    names = [None if n.startswith("__index_level_") else n for n in index]
    if len(index) == 1:
        frame.index = pd.Index(frame.pop(index[0]).array, name=names[0])
    elif index:
        levels = [frame[c].to_numpy() for c in index]
        if all(v.dtype.kind in "iu" for v in levels):
            frame = frame.drop(columns=index).set_axis(int_levels(levels, names))
        else:
            frame = frame.set_index(index)
            frame.index = frame.index.set_names(names)
    return frame
