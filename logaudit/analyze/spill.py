"""Rows that grow with the input, kept on disk past a budget, in partitions by key.

Two tables grow with the number of lines rather than with distinct values: the page-view events
that visits are cut from (``pv_events``, 40 bytes per people page view) and the distinct (page,
day, visitor) triples behind per-page visitor counts (``path_visitors``, 16 bytes each). Held in
memory, they made the 5M-line benchmark's peak 270 MB higher than the 1M-line one's.

Past ``SPILL_BYTES`` per table, the accumulator writes such a table's rows to ``PARTS``
anonymous temporary files (``tempfile.TemporaryFile``: already unlinked, so nothing is left
behind whatever way the process ends), each row to the file its key hashes to. All rows of one
key are then in one partition: a visitor's page views for sessionization, a triple's copies for
de-duplication. The finish reads one partition at a time (``partitions``), so its memory is a
partition's, not the whole table's; a run that never passes the budget reads its rows from
memory as one partition, exactly as before.

Only fixed-width numeric columns are written (numpy's raw record layout): these tables hold
hashes, keys and times, never text.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.config import tuning_bytes
from logaudit.errors import ExitCode, LogauditError

# Bytes of rows a table keeps in memory before it spills (the benchmark's 1M-line log stays
# under it: 8.8 MB of events, 10.7 MB of triples). LOGAUDIT_SPILL_MB overrides (tests, tuning).
SPILL_BYTES = tuning_bytes("LOGAUDIT_SPILL_MB", 16, zero_ok=True)

# Partitions per spilled table: at 5M lines, 1.5 MB of events each.
PARTS = 32

_MIX = np.uint64(0x9E3779B97F4A7C15)


@contextmanager
def _temp_space() -> Iterator[None]:
    """A failure to create or fill the temporary files (no space, no permission) is one line
    and exit code 9, like an output file that cannot be written."""
    try:
        yield
    except OSError as e:
        # Not ``tempfile.gettempdir()``: with no usable folder at all it raises this again.
        where = tempfile.tempdir or os.environ.get("TMPDIR") or "the temporary folder"
        raise LogauditError(
            f"cannot write temporary files in {where} ({e.strerror}); free "
            "space there, point TMPDIR at another folder, or raise LOGAUDIT_SPILL_MB",
            ExitCode.OUTPUT,
        ) from None


# Text keys at least this many are checked for repeats before they are factorized or grouped
# (``distinct_text``): below it a copy of them costs little.
DISTINCT_CHECK_ROWS = 100_000
# The evenly spaced rows checked first: any repeat among them settles it.
DISTINCT_SAMPLE = 20_000


class KnownDistinct:
    """Text arrays found distinct lately (``distinct_text``), so that a text index equal to one
    of them is known distinct without hashing it again: equal values in the same order as a
    distinct array's are distinct. An accumulator keeps one: the agents table's keys are, row
    for row, the visitors table's agent level (each agent in order of first appearance), and
    each of their compactions proved the same text distinct twice (1M agents: ~0.3 s of CPU
    a time, in the last merge on the critical path). The arrays are referenced, not copied:
    while reading they are the tables' own chunks (``Table.combine(join=False)``).

    And a compaction's keys are the last one's (its first chunks, the same buffers) followed by
    the new rows' (``prefix``): where two of their 64-bit hashes are equal, only the new rows'
    text is hashed by Arrow, and the old ones looked up among them, where hashing all of them
    copied every key into Arrow's hash table (5M distinct agents: ~700 MB on top of the
    merge, its peak). Distinct hashes, the rule, settle it without any copy of the text."""

    def __init__(self, size: int = 8) -> None:
        self._arrays: deque[pa.ChunkedArray] = deque(maxlen=size)
        self._lock = threading.Lock()  # the last merge compacts tables on threads

    def holds(self, arr: pa.ChunkedArray) -> bool:
        with self._lock:
            arrays = list(self._arrays)
        return any(other is arr or _equal(other, arr) for other in arrays)

    def prefix(self, arr: pa.ChunkedArray) -> int:
        """The length of the longest known array whose chunks are ``arr``'s first chunks
        (the same buffers, offsets and lengths: the same values, which the known array keeps
        alive), or 0."""
        with self._lock:
            arrays = list(self._arrays)
        ids: list[tuple[int, ...]] | None = None
        best = 0
        for other in arrays:
            k = other.num_chunks
            if not k or k >= arr.num_chunks or len(other) <= best or other.type != arr.type:
                continue
            ids = ids if ids is not None else [_chunk_id(c) for c in arr.chunks]
            if [_chunk_id(c) for c in other.chunks] == ids[:k]:
                best = len(other)
        return best

    def add(self, arr: pa.ChunkedArray) -> None:
        with self._lock:
            self._arrays.append(arr)

    def clear(self) -> None:
        with self._lock:
            self._arrays.clear()


def _equal(a: pa.ChunkedArray, b: pa.ChunkedArray) -> bool:
    """Same values in the same order; the ends first (tables of equal length that differ)."""
    if len(a) != len(b) or a.type != b.type:
        return False
    if len(a) and (a[0] != b[0] or a[len(a) - 1] != b[len(b) - 1]):
        return False
    return a.equals(b)


def _chunk_id(chunk: pa.Array) -> tuple[int, ...]:
    """Where a chunk's values are: its buffers' addresses, offset and length."""
    return (*(b.address if b is not None else 0 for b in chunk.buffers()), chunk.offset, len(chunk))


def _chunked(index: pd.Index) -> pa.ChunkedArray:
    arr = pa.array(index.array)
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def distinct_text(index: pd.Index, known: KnownDistinct | None = None) -> bool:
    """Whether a big text index holds every value once and no missing value, keeping nothing:
    factorizing or grouping keeps a copy of every distinct value; with every key distinct
    that copy is all of them (1M paths: 200 MB on top of the merge's inputs). Each value's
    64-bit hash is made (8 bytes a value, ``_distinct_hashes``): all different, the values
    are; two equal (a repeat, or rarely a collision), Arrow's hashing of the text decides. Only
    indexes of DISTINCT_CHECK_ROWS or more are checked, and an evenly spaced sample first (a
    repeat there is a repeat of the whole: the store's merge of a year's paths, where every
    month repeats the last, then pays a fraction of it).

    ``known``: arrays already found distinct; an index equal to one of them is not hashed, and
    one found distinct here is added to them."""
    if isinstance(index, pd.MultiIndex) or index.dtype != "str" or len(index) < DISTINCT_CHECK_ROWS:
        return False
    arr = _chunked(index)
    if arr.null_count:
        return False
    if known is not None and known.holds(arr):
        return True
    head = known.prefix(arr) if known is not None else 0
    if not head:
        step = max(1, len(arr) // DISTINCT_SAMPLE)
        sample = arr.take(pa.array(np.arange(0, len(arr), step)))
        if len(sample.unique()) < len(sample):
            return False
        del sample
    if _distinct_hashes(arr):
        pass  # every value its own hash: distinct, without a copy of the text
    elif head:
        # Two values share a hash (a repeat, or a collision): the text decides. The first
        # ``head`` values are distinct: the others must be, and none among them.
        rest = arr.slice(head)
        values = rest.unique()
        if len(values) != len(rest):
            return False
        del rest
        if pc.any(pc.is_in(arr.slice(0, head), value_set=values)).as_py():
            return False
        del values
    elif len(arr.unique()) != len(arr):
        return False
    if known is not None:
        known.add(arr)
    return True


def _distinct_hashes(arr: pa.ChunkedArray) -> bool:
    """Whether every value of a text array (no nulls) has its own 64-bit hash (pandas'
    ``hash_array`` of its UTF-8 bytes, as ``schema.hash_strings``): then every value is
    distinct, exactly (equal values hash equally). Where two hashes are equal the values may
    still differ, and the caller checks the text itself. Arrow's ``unique``, the check before,
    copied every distinct value into its hash table (5M distinct agents: ~650 MB on top of
    the last merge, its peak; with ``KnownDistinct.prefix``, the new rows' ``unique`` and an
    ``is_in`` of the old ones held two copies of the new rows' text, the reading's peak). The
    hashes are made a slice at a time from each chunk as it is (no joined copy of the text),
    and cost less CPU than those hash tables (1M agents: 0.13 s, against 0.37 s for a warm
    ``unique`` and 0.58 s for an ``is_in``)."""
    from logaudit.schema import hash_utf8

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return False
    return _all_differ(hash_utf8(arr))


def distinct_ints(index: pd.Index) -> bool:
    """Whether a big 64-bit integer index (``visitor_days``' visitor hashes) holds every value
    once: a sorted copy's neighbours compared (8 bytes a value, where factorizing built a hash
    table of all of them and a copy), an evenly spaced sample first (a repeat there settles
    it, as in ``distinct_text``)."""
    dtype = index.dtype
    if not isinstance(dtype, np.dtype) or dtype.kind not in "iu" or dtype.itemsize != 8:
        return False
    if isinstance(index, pd.MultiIndex) or len(index) < DISTINCT_CHECK_ROWS:
        return False
    values = index.to_numpy()
    step = max(1, len(values) // DISTINCT_SAMPLE)
    return _all_differ(values[::step].copy()) and _all_differ(values.copy())


def _all_differ(values: np.ndarray) -> bool:
    """Whether no two of ``values`` are equal (sorted in place: pass a copy to keep them)."""
    values.sort()
    return not bool((values[1:] == values[:-1]).any())


def one_chunk(index: pd.Index) -> pd.Index:
    """A text index joined from several (``Index.append`` keeps each one's Arrow buffers, in
    chunks) as one Arrow array: the finish hands a table's text to Arrow kernels that expect
    one array. A copy, made once the index is known to be wanted whole."""
    if index.dtype != "str":
        return index
    arr = pa.array(index.array)
    if not isinstance(arr, pa.ChunkedArray) or arr.num_chunks < 2:
        return index
    text = type(index.array)(arr.combine_chunks(), dtype=index.dtype)
    return pd.Index(text, name=index.name, copy=False)


def duplicated_keys(index: pd.Index, known: KnownDistinct | None = None) -> np.ndarray:
    """Index.duplicated, without the index engine a flat numeric index would build and keep:
    on 3.3M 64-bit keys that took twice the time and 100 MB more. ``known``: as in
    ``distinct_text``."""
    if isinstance(index, pd.MultiIndex):
        return index.duplicated()
    if index.dtype.kind in "iu":
        return pd.Series(index.to_numpy(), copy=False).duplicated().to_numpy()
    # Text (the agents table): the index's engine would hold every value as a Python string
    # (1M distinct agents: ~190 MB, kept with the index); Arrow's hashing gives codes instead,
    # or only says that every value is new (no copy of them kept: distinct_text).
    if distinct_text(index, known):
        return np.zeros(len(index), bool)
    codes, _ = pd.factorize(index.array, use_na_sentinel=False)
    return pd.Series(codes, copy=False).duplicated().to_numpy()


def part_of(keys: np.ndarray, parts: int = PARTS) -> np.ndarray:
    """The partition of each 64-bit key (visitor keys and triple keys are hashes already; the
    multiply spreads any structure left in their low bits)."""
    mixed = keys.astype(np.uint64, copy=False) * _MIX
    return ((mixed >> np.uint64(40)) % np.uint64(parts)).astype(np.intp)


def _read_all(f: IO[bytes]) -> bytes:
    """A spill file's bytes from its start. On POSIX a positional read: the file offset is
    shared with a forked child (``analyze.forked``), so neither may move it under the other."""
    return _read_span(f, 0, os.fstat(f.fileno()).st_size)


def _fixed_width(cols: list[tuple[Any, Any]]) -> None:
    """Spilled columns are written as fixed-width records: anything else is refused."""
    for name, dtype in cols:
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iufb":
            raise TypeError(f"spill: column {name} is {dtype}, not fixed-width numeric")


class Spill:
    """One table's spilled rows: PARTS files of fixed-width records."""

    def __init__(self, frame: pd.DataFrame, key: str, distinct: bool) -> None:
        # The index is stored as a column of its own name (distinct tables are keyed by it).
        self.index: str | None = str(frame.index.name) if distinct else None
        cols = [(self.index, frame.index.dtype)] if self.index is not None else []
        cols += [(str(c), frame[c].dtype) for c in frame.columns]
        _fixed_width(cols)
        self.dtype = np.dtype(cols)
        self.key = key
        self.distinct = distinct
        self.files: list[IO[bytes]] = []
        with _temp_space():
            self.files = [tempfile.TemporaryFile() for _ in range(PARTS)]

    def _records(self, frame: pd.DataFrame) -> np.ndarray:
        rec = np.empty(len(frame), self.dtype)
        for name in self.dtype.names or ():
            rec[name] = frame.index.to_numpy() if name == self.index else frame[name].to_numpy()
        return rec

    def _keys(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.index.to_numpy() if self.key == self.index else frame[self.key].to_numpy()

    def write(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        rec = self._records(frame)
        part = part_of(self._keys(frame))
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(PARTS + 1))
        rec = rec[order]
        with _temp_space():
            for i in range(PARTS):
                lo, hi = bounds[i], bounds[i + 1]
                if hi > lo:
                    f = self.files[i]
                    f.seek(0, os.SEEK_END)
                    f.write(rec[lo:hi].tobytes())
                    f.flush()

    def _read(self, i: int) -> pd.DataFrame:
        rec = np.frombuffer(_read_all(self.files[i]), self.dtype)
        data = {name: rec[name] for name in self.dtype.names or () if name != self.index}
        if self.index is None:
            return pd.DataFrame(data)
        return pd.DataFrame(data, index=pd.Index(rec[self.index], name=self.index))

    def partitions(self, memory: pd.DataFrame) -> Iterator[pd.DataFrame]:
        """Each partition's rows: those on disk and those of ``memory`` (the rows not spilled)
        that hash to it; a distinct table's copies of one key are dropped (the first kept)."""
        part = part_of(self._keys(memory)) if len(memory) else np.zeros(0, np.intp)
        for i in range(PARTS):
            disk = self._read(i)
            here = memory[part == i] if len(memory) else memory
            frame = pd.concat([disk, here]) if len(here) else disk
            if self.distinct and len(frame):
                frame = frame[~duplicated_keys(frame.index)]
            if len(frame):
                yield frame

    # A partial holding a Spill lives in this process only: its files are anonymous.
    def __deepcopy__(self, memo: dict[int, Any]) -> Spill:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a spilled table cannot leave its process")


def partitions(frame: pd.DataFrame | None) -> Iterator[pd.DataFrame]:
    """A merged table's rows, one partition at a time: rows of one key together. A table that
    never spilled is one partition, itself (nothing is copied)."""
    if frame is None:
        return
    spill = frame.attrs.get("spill")
    if isinstance(spill, Spill):
        yield from spill.partitions(frame)
    elif len(frame):
        yield frame


def whole(frame: pd.DataFrame) -> pd.DataFrame:
    """All of a table's rows in one frame, read back from disk if it spilled (to merge a
    spilled partial into another: merging needs its rows, and is for partials that fit)."""
    if not isinstance(frame.attrs.get("spill"), Spill):
        return frame
    parts = list(partitions(frame))
    out = pd.concat(parts) if parts else frame.iloc[:0]
    out.attrs = {}
    return out


# A text-keyed table spills past TEXT_FACTOR times the budget of the fixed-width ones: at the
# default 16 MB, 128 MB, which the 1M-line benchmark logs stay under (1M distinct paths: a
# 62 MB table), so that runs of ordinary size never pay for the temporary files.
TEXT_FACTOR = 8

# Where a spilled text table's first-appearance order is kept while it is on disk.
SEQ = "_seq"


class TextSpill:
    """A group table keyed by one text index (``paths``, ``referrers``), spilled: each batch of
    combined rows is written, the text with its counts, as an Arrow IPC stream into the file
    its key's hash picks (``PARTS`` anonymous temporary files, as ``Spill``'s). One key's rows
    are then in one partition, so a partition's rows combine among themselves (keys are
    disjoint across partitions) and the table's totals are sums of the partitions'.

    Each row carries ``SEQ``: its batch number and its position in the batch. A key's smallest
    is where it first appeared, so ordering the combined rows by it gives back the order the
    table has in memory (groups in order of first appearance): whatever reads the table sees
    the same rows in the same order whether it spilled or not."""

    def __init__(self, frame: pd.DataFrame) -> None:
        index = frame.index
        if isinstance(index, pd.MultiIndex) or index.dtype != "str":
            raise TypeError("spill: a text table is keyed by one text index")
        _fixed_width([(str(c), frame[c].dtype) for c in frame.columns])
        self.name = index.name
        self.index_dtype = index.dtype
        self.text_type = type(index.array)
        self.key_type = _chunked(index).type
        self.columns: dict[str, np.dtype] = {
            str(c): cast(np.dtype, frame[c].dtype) for c in frame.columns
        }
        self.batches = 0
        # Per partition, the (offset, length) of each stream written to its file.
        self.segments: list[list[tuple[int, int]]] = [[] for _ in range(PARTS)]
        self.files: list[IO[bytes]] = []
        with _temp_space():
            self.files = [tempfile.TemporaryFile() for _ in range(PARTS)]

    def write(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        from logaudit.schema import hash_strings  # schema imports pandas' hashing: kept lazy

        n = len(frame)
        part = part_of(hash_strings(frame.index))
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(PARTS + 1))
        seq = (np.int64(self.batches) << np.int64(32)) + np.arange(n, dtype=np.int64)
        self.batches += 1
        take = pa.array(order)
        data = {"": _chunked(frame.index).cast(self.key_type).take(take).combine_chunks()}
        for c in self.columns:
            data[c] = pa.array(frame[c].to_numpy()).take(take)
        data[SEQ] = pa.array(seq).take(take)
        rows = pa.table(data)
        del data, take
        for i in range(PARTS):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            if hi > lo:
                self.segments[i].append(_append(self.files[i], rows.slice(lo, hi - lo)))

    def read(self, i: int) -> pd.DataFrame:
        """Partition ``i``'s rows as written (batches in order; a key may repeat), with SEQ."""
        segs = self.segments[i]
        if not segs:
            return pd.DataFrame()
        data = _read_all(self.files[i])
        got = pa.concat_tables(
            pa.ipc.open_stream(pa.py_buffer(memoryview(data)[at : at + size])).read_all()
            for at, size in segs
        )
        del data
        cols = {c: got.column(c).to_numpy() for c in (*self.columns, SEQ)}
        for c, dtype in self.columns.items():
            cols[c] = cols[c].astype(dtype, copy=False)
        text = self.text_type(got.column("").combine_chunks(), dtype=self.index_dtype)
        return pd.DataFrame(cols, index=pd.Index(text, name=self.name, copy=False), copy=False)

    def rebuild(self, combine: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
        """The whole table, each partition's rows combined by ``combine`` (keys are in one
        partition only), in SEQ order (the order the table has in memory), without SEQ, and
        the files closed. Memory: the table once plus one partition's. A first pass combines
        each partition and writes it back (its rows' SEQ and text lengths kept: 16 bytes a
        row); the second puts each row's counts and text straight where they go in the
        table's arrays, so the table's text is never held twice (ordering combined partitions
        with a ``take`` held it twice: at 5M distinct paths the last merge's peak)."""
        seqs: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        spans: list[tuple[int, int]] = []
        with _temp_space():
            store = tempfile.TemporaryFile()
        try:
            for i in range(PARTS):
                rows = self.read(i)
                if not len(rows):
                    continue
                part = combine(rows) if len(rows) > 1 else rows
                del rows
                text = _chunked(part.index).cast(self.key_type).combine_chunks()
                seqs.append(part[SEQ].to_numpy().copy())
                lengths.append(pc.binary_length(text).to_numpy(zero_copy_only=False))
                cols = {c: pa.array(part[c].to_numpy()) for c in self.columns}
                spans.append(_append(store, pa.table({"": text, **cols})))
                del part, text, cols
            self.close()
            if not spans:
                return pd.DataFrame()
            seq = np.concatenate(seqs)
            del seqs
            n = len(seq)
            order = np.argsort(seq, kind="stable")
            del seq
            at = np.empty(n, np.intp)  # each row's place in the table, in partition order
            at[order] = np.arange(n)
            offsets = np.zeros(n + 1, np.int64)
            np.cumsum(np.concatenate(lengths)[order], out=offsets[1:])
            del order, lengths
            data = np.empty(int(offsets[-1]), np.uint8)
            out = {c: np.empty(n, dtype) for c, dtype in self.columns.items()}
            done = 0
            for pos, size in spans:
                got = pa.ipc.open_stream(pa.py_buffer(_read_span(store, pos, size)))
                t = got.read_all()
                m = t.num_rows
                where = at[done : done + m]
                done += m
                for c in self.columns:
                    out[c][where] = t.column(c).to_numpy()
                _place(t.column("").combine_chunks(), offsets[where], data)
                del t, got
            del at
        finally:
            store.close()
        # Offsets as wide as the key type's (or as the text needs): no narrowing to 32 bits
        # only to cast back to a large string, a copy of the offsets at the last merge's peak.
        large = offsets[-1] >= 2**31 or pa.types.is_large_string(self.key_type)
        offs = offsets if large else offsets.astype(np.int32)
        del offsets
        keys = pa.Array.from_buffers(
            pa.large_string() if large else pa.string(),
            n,
            [None, pa.py_buffer(offs), pa.py_buffer(data)],
        )
        if keys.type != self.key_type and not large:
            keys = keys.cast(self.key_type)
        text_ = self.text_type(keys, dtype=self.index_dtype)
        index = pd.Index(text_, name=self.name, copy=False)
        return pd.DataFrame(out, index=index, copy=False)

    def close(self) -> None:
        for f in self.files:
            f.close()
        self.files = []

    def __deepcopy__(self, memo: dict[int, Any]) -> TextSpill:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a spilled table cannot leave its process")


def _read_span(f: IO[bytes], at: int, size: int) -> bytes:
    """``size`` bytes of ``f`` from ``at`` (one partition's stream, not the whole file)."""
    if hasattr(os, "pread"):
        chunks: list[bytes] = []
        done = 0
        while done < size:
            chunk = os.pread(f.fileno(), size - done, at + done)
            if not chunk:
                break
            chunks.append(chunk)
            done += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    f.seek(at)
    return f.read(size)


def _append(f: IO[bytes], table: pa.Table) -> tuple[int, int]:
    """``table`` written at the end of ``f`` as one Arrow IPC stream: its (offset, length)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    buf = sink.getvalue()
    with _temp_space():
        at = f.seek(0, os.SEEK_END)
        f.write(memoryview(buf))
        f.flush()
    return at, buf.size


def _place(text: pa.Array, starts: np.ndarray, data: np.ndarray) -> None:
    """Each value of ``text`` (a string array without nulls) copied into ``data`` at its
    row's start (``starts``): the rows' bytes are contiguous in the source, and each byte's
    destination is its row's start plus its place within the row."""
    m = len(text)
    if not m:
        return
    wide = pa.types.is_large_string(text.type)
    offsets = np.frombuffer(text.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[text.offset : text.offset + m + 1].astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    if hi == lo:
        return
    values = np.frombuffer(text.buffers()[2], np.uint8)[lo:hi]
    shift = starts - (offsets[:-1] - lo)
    data[np.repeat(shift, np.diff(offsets)) + np.arange(hi - lo)] = values
