"""Bytes -> record-table chunks, with bad-line accounting.

The hot path never makes a Python object or a regex call per line:

* a block of whole lines goes through Arrow's CSV reader (space-separated,
  double-quoted tokens), giving one string column per token;
* every column is dictionary-encoded, and each derived value (timestamp, status, request split
  into method/path/query/protocol) is computed once per *distinct* value with Arrow compute;
* rows are assembled as pandas categoricals over those dictionaries.

Blocks that hold anything unusual (a line with the wrong number of fields, an unbalanced quote,
a blank line) take the exact path instead: the block is cut into lines (zero-copy) and matched
with the format's RE2 pattern in one vectorised call, so every bad line is counted with its true
line number and no good line around it is lost.

Escapes: Apache writes ``\\"`` and ``\\\\`` inside quoted fields, nginx writes ``\\x22`` and
``\\x5C``. Both are normalised to nginx's form before tokenising, so quoted fields never contain a
bare quote and text is kept exactly as logged (control characters stay escaped as ``\\xHH``).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit import octets as _octets
from logaudit import plausible, prefetch
from logaudit.blockcsv import has_bare_cr as _has_bare_cr
from logaudit.blockcsv import normalise as _normalise
from logaudit.blockcsv import normalised as _normalised
from logaudit.blockcsv import plain_tokens as _plain_tokens
from logaudit.blockcsv import read_csv as _read_csv
from logaudit.blockcsv import used_tokens as _used_tokens
from logaudit.blockcsv import xff_extra as _xff_extra
from logaudit.config import STATIC_EXTENSIONS
from logaudit.formats import FORMATS, Detected
from logaudit.formats.spec import Layout, Piece, field_key
from logaudit.formats.values import (
    NO_OFFSET,
    TimePart,
    decode_time,
    durations,
    fixed_digits,
    fixed_durations,
    iso_fixed,
    localise,
    offsets_at,
    sizes,
    statuses,
)
from logaudit.schema import (
    AGENT_UNLOGGED,
    COOKIE_PREFIX,
    SIZE_LIMIT,
    SIZE_REASON,
    categorical,
    cookie_columns,
    host_names,
)
from logaudit.sources import Block

# How many bad lines per input are kept as examples.
BAD_SAMPLES = 5
_SAMPLE_TEXT = 120

# The usual request line's method and protocol, checked per distinct value once the line is
# split at its spaces (``_usual``); the general form (spaces inside the target, no protocol)
# is tried only on what they miss.
_METHOD = r"^[A-Za-z][A-Za-z0-9_-]*$"
_PROTOCOL = r"^HTTP/[0-9.]+$"
# The usual request line whole, from the same two forms: what ``_usual`` must agree with
# (the tests match it with RE2).
_REQUEST_USUAL = (
    rf"^(?P<method>{_METHOD[1:-1]}) (?P<target>[^ ]*) "
    rf"(?P<protocol>{_PROTOCOL[1:-1]})$"
)
# The general form: a protocol logged as "-" (a worm's "SEARCH / -") is the protocol's place,
# not part of the target ("/ -" would be a page of its own; AWStats and GoAccess read "/").
_REQUEST = (
    r"^(?P<method>[A-Za-z][A-Za-z0-9_-]*) (?P<target>.*?)(?: (?P<protocol>[A-Za-z]+/[0-9.]+|-))?$"
)
_TARGET = r"^(?P<path>[^?]*)(?:\?(?P<query>.*))?$"


@dataclass
class BadLines:
    """Bad-line accounting for one or more blocks; merges by addition.

    ``samples`` keeps, per input, the BAD_SAMPLES lowest line numbers of every kind of bad
    line, in line order: a file's first bad lines, whatever order the checks found them in
    (a block's tokenizer rejects come before its bad times) and wherever blocks, jobs or
    Dask's byte ranges were cut (issues #11, #18)."""

    counts: dict[str, int] = field(default_factory=dict)
    parsed: dict[str, int] = field(default_factory=dict)  # good lines per input
    samples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    # NUL runs per input (sources' stretches): a mark in the input, not a line and not a bad
    # line (the rest of the line a run is in is read as any line); with the first run's
    # (line, reason) per input, the lowest line, for the examples.
    nul_runs: dict[str, int] = field(default_factory=dict)
    nul_first: dict[str, tuple[int, str]] = field(default_factory=dict)

    def nul(self, name: str, line: int, reason: str) -> None:
        """Count one run of NUL bytes of ``name`` starting on ``line``."""
        self.nul_runs[name] = self.nul_runs.get(name, 0) + 1
        kept = self.nul_first.get(name)
        if kept is None or line < kept[0]:
            self.nul_first[name] = (line, reason)

    def runs_of(self, block: Block) -> None:
        """Count the NUL runs the reader took out of ``block`` (``Block.stretches``)."""
        for line, why in block.stretches:
            self.nul(block.source.name, line, why)

    def add(self, name: str, line: int, reason: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        s = self.samples.setdefault(name, [])
        if len(s) < BAD_SAMPLES:
            if not s or line > s[-1][0]:
                s.append((line, reason))  # the usual case: lines come in order
            else:
                bisect.insort(s, (line, reason))
        elif line < s[-1][0]:
            s.pop()
            bisect.insort(s, (line, reason))

    def wanted(self, name: str, lines: np.ndarray) -> np.ndarray:
        """Positions in ``lines`` (bad lines of ``name`` found by one check) whose examples
        could still be kept, lowest lines first: at most BAD_SAMPLES, and when the input's
        examples are full only lines before its last one. The caller ``add``s those and
        ``count``s the rest, so it builds no message that would be dropped."""
        s = self.samples.get(name, [])
        pos = np.arange(len(lines))
        if len(s) >= BAD_SAMPLES:
            pos = pos[lines < s[-1][0]]
        if len(pos) > 1 and (np.diff(lines[pos]) < 0).any():
            pos = pos[np.argsort(lines[pos], kind="stable")]
        return pos[:BAD_SAMPLES]

    def note(self, name: str, lines: np.ndarray, reason: str | Callable[[int], str]) -> None:
        """Count the bad lines ``lines`` of ``name`` (line numbers, found by one check), with
        an example for those ``wanted``: ``reason``, or ``reason(i)`` for why ``lines[i]`` is
        bad, asked only for them (no message built that would be dropped)."""
        shown = self.wanted(name, lines)
        for i in shown:
            self.add(name, int(lines[i]), reason if isinstance(reason, str) else reason(int(i)))
        self.count(name, len(lines) - len(shown))

    def shifted(self, by: int) -> BadLines:
        """The same accounting with example line numbers moved by ``by`` (a byte range's
        lines are numbered from its start; ``by`` is the count of lines before it)."""
        return BadLines(
            counts=dict(self.counts),
            parsed=dict(self.parsed),
            samples={k: [(n + by, why) for n, why in v] for k, v in self.samples.items()},
            nul_runs=dict(self.nul_runs),
            nul_first={k: (n + by, why) for k, (n, why) in self.nul_first.items()},
        )

    def count(self, name: str, n: int) -> None:
        """Count ``n`` more bad lines without examples."""
        if n > 0:
            self.counts[name] = self.counts.get(name, 0) + n

    def merge(self, other: BadLines) -> BadLines:
        out = BadLines(
            counts=dict(self.counts),
            parsed=dict(self.parsed),
            samples={k: list(v) for k, v in self.samples.items()},
            nul_runs=dict(self.nul_runs),
            nul_first=dict(self.nul_first),
        )
        out.absorb(other)
        return out

    def absorb(self, other: BadLines) -> None:
        """``merge`` in place: for a run's running total, where a new copy per block would
        copy every input's counts each time (quadratic in the number of inputs)."""
        for k, n in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + n
        for k, n in other.parsed.items():
            self.parsed[k] = self.parsed.get(k, 0) + n
        for k, n in other.nul_runs.items():
            self.nul_runs[k] = self.nul_runs.get(k, 0) + n
        for k, first in other.nul_first.items():
            was = self.nul_first.get(k)
            if was is None or first[0] < was[0]:
                self.nul_first[k] = first
        for k, examples in other.samples.items():
            kept = self.samples.get(k)
            if not kept:
                self.samples[k] = sorted(examples)[:BAD_SAMPLES]
            elif examples:
                # Each list is in line order: the lowest of both, by line number.
                self.samples[k] = list(heapq.merge(kept, examples))[:BAD_SAMPLES]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _split_lines(
    data: bytes | bytearray | memoryview, newlines: np.ndarray | None = None
) -> pa.Array:
    """The block's lines as a string array, zero-copy (each value keeps its newline).
    ``newlines``: the positions of the block's LFs, when the caller has them."""
    if newlines is None:
        newlines = _octets.where(np.frombuffer(data, dtype=np.uint8), 10)
    ends = newlines + 1
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _exact(
    data: bytes | bytearray | memoryview,
    det: Detected,
    block: Block,
    bad: BadLines,
    only: np.ndarray | None = None,
    reason: str | None = None,
    newlines: np.ndarray | None = None,
    report: bool = True,
    lines: pa.Array | None = None,
) -> tuple[pa.Table, np.ndarray]:
    """The exact path: match every line (or the lines at indexes ``only``) with the format's
    pattern; bad lines are counted with their line numbers. ``lines``: the texts of the
    lines at ``only`` (each with its newline), when the caller has them."""
    if lines is None:
        lines = _split_lines(data, newlines)
        if only is not None:
            lines = lines.take(pa.array(only))
    index = np.arange(len(lines), dtype=np.int64) if only is None else only
    columns = [t.name for t in det.format.tokens]
    if reason is None:
        matched = pc.extract_regex(lines, _line_regex(det))
        ok = np.asarray(matched.is_valid())
    else:
        ok = np.zeros(len(lines), bool)
    if not ok.all() and report:
        stripped = pc.utf8_trim_whitespace(lines)
        blank = np.asarray(pc.equal(stripped, ""))
        comment = np.asarray(pc.starts_with(stripped, "#"))
        if det.format.header:  # a CSV header line (GCS usage logs): no request, not bad
            comment |= np.asarray(pc.starts_with(stripped, det.format.header))
        bad_idx = np.flatnonzero(~ok & ~blank & ~comment)
        name = block.source.name

        def said(j: int) -> str:
            text = lines[int(bad_idx[j])].as_py().rstrip("\r\n")
            return _why(det, text) if reason is None else f"{reason}: {text[:_SAMPLE_TEXT]}"

        bad.note(name, block.first_line + np.asarray(index)[bad_idx], said)
    if reason is not None:
        return pa.table({}), np.zeros(0, np.int64)
    keep = np.flatnonzero(ok)
    rows = matched.filter(pa.array(ok))
    table = pa.table({c: rows.field(c) for c in columns})
    if "client_" in matched.type.names:  # "[addr]" with no port (Layout.line_regex)
        client, bare = rows.field("client"), rows.field("client_")  # one of the two is ""
        joined = pc.binary_join_element_wise(client, bare, pa.scalar("", client.type))
        table = table.set_column(columns.index("client"), "client", joined)
    if _xff_extra(det):
        # The field was quoted or bare: one of its two groups holds it.
        value = pc.binary_join_element_wise(
            rows.field("extra0").cast(pa.string()), rows.field("extra0_").cast(pa.string()), ""
        )
        table = table.append_column("extra0", value)
    return table, block.first_line + index[keep]


def _line_regex(det: Detected) -> str:
    """The exact path's pattern, with two tolerances GoAccess has. A last quoted field that
    runs to the end of the line without its closing quote (a user agent cut short by the
    server's buffer) is read as written. And a line is read up to the format's last field,
    whatever follows (formats that allow trailing fields): a line with more trailing fields than
    the input's usual (an X-Forwarded-For added later) is a hit."""
    layout = det.format
    pattern = layout.line_regex(det.extras, capture=1 if _xff_extra(det) else 0)
    end = r"\r?\n?$"
    more = r'(?: (?:"[^"\n]*"|[^ "\n]\S*))*' if layout.allow_extras else ""
    last = layout.tokens[-1] if layout.tokens else None
    if det.extras == 0 and last is not None and last.quoted and layout.separators[-1] == "":
        whole = f'"(?P<{last.name}>[^"\\n]*)"' + end
        if pattern.endswith(whole):
            cut = f'"(?P<{last.name}>[^"\\n]*?)(?:"{more})?' + end
            return pattern[: -len(whole)] + cut
    return pattern[: -len(end)] + more + end


def _why(det: Detected, text: str) -> str:
    from logaudit.formats import tokenize

    shown = text if len(text) <= _SAMPLE_TEXT else text[:_SAMPLE_TEXT] + "..."
    tokens = tokenize(text)
    want = det.format.width + det.extras
    if det.format.delimiter is None:
        why = f"does not fit the {det.format.name} layout ({det.format.source})"
        why = why if len(why) < 160 else f"does not fit the {det.format.name} layout"
    elif text.count('"') % 2:
        why = "unbalanced quote"
    elif len(tokens) != want:
        why = f"{len(tokens)} fields, {det.format.name} has {want}"
    else:
        why = f"does not fit the {det.format.name} layout"
    return f"{why}: {shown}"


def _dict(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values) of a column; the column may already be dictionary-encoded
    (the CSV reader's, after ``unify_dictionaries().combine_chunks()``) or plain strings."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 0:
            return np.zeros(0, np.int32), pa.array([], pa.string())
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    enc = arr if isinstance(arr.type, pa.DictionaryType) else pc.dictionary_encode(arr)
    indices = enc.indices if enc.indices.null_count == 0 else enc.indices.fill_null(0)
    idx = np.asarray(indices, dtype=np.int32)
    return idx, enc.dictionary


def _runs(arr: pa.ChunkedArray | pa.Array, most: int) -> tuple[np.ndarray, pa.Array]:
    """(codes, values) of a plain text column by runs of equal consecutive values: a
    value per run, so one may come back in a later run (fine for times, which are only
    decoded, not counted by their codes). A log's times come in runs (a block's 65,000
    lines: ~11,000 runs of their time, one of their zone), found with one compare of each
    row's bytes with the row before (~0.2 ms), where the CSV reader's dictionary hashed
    every row (~2 ms). ``_dict`` when the values differ in width, have nulls, or make more
    than ``most`` runs."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            return _dict(arr)
        arr = arr.chunk(0)
    n = len(arr)
    if n < 2 or arr.null_count or not pa.types.is_string(arr.type):
        return _dict(arr)
    offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset : arr.offset + n + 1]
    width = int(offsets[1] - offsets[0])
    if width == 0 or (np.diff(offsets) != width).any():
        return _dict(arr)
    data = arr.buffers()[2]
    start = int(offsets[0])
    new = np.zeros(n, bool)
    new[0] = True
    if width >= 8:
        # Each row's bytes as 8-byte words at 0, 8, ... and the last 8 (unaligned views of
        # the buffer, no copy), each compared with the row before.
        for at in [*range(0, width - 7, 8), width - 8]:
            words = np.ndarray((n,), "<u8", buffer=data, offset=start + at, strides=(width,))
            new[1:] |= words[1:] != words[:-1]
    else:
        rows = np.frombuffer(data, np.uint8)[start : start + width * n].reshape(n, width)
        for at in range(width):  # a column of bytes at a time (any(axis=1): 1 ms a block)
            new[1:] |= rows[1:, at] != rows[:-1, at]
    firsts = np.flatnonzero(new)
    if len(firsts) > most or (len(firsts) > n // 4 and _heads_repeat(data, start, width, firsts)):
        return _dict(arr)
    codes = (np.cumsum(new, dtype=np.int32) - 1).astype(np.int32, copy=False)
    return codes, arr.take(pa.array(firsts))


RUN_SAMPLE = 256


def _heads_repeat(data: pa.Buffer, start: int, width: int, firsts: np.ndarray) -> bool:
    """Whether many runs' values come back: ~RUN_SAMPLE evenly spaced run heads' bytes
    (~0.1 ms) in a set. In time order the runs are the distinct times, each decoded once; out
    of order (times alternating within a minute), every run would be decoded where the
    dictionary decodes the distinct values only (1.2 against 11 ms a block)."""
    raw = memoryview(data)
    heads = firsts[:: max(1, len(firsts) // RUN_SAMPLE)]
    seen = {bytes(raw[start + int(i) * width : start + (int(i) + 1) * width]) for i in heads}
    return len(seen) < len(heads)


def _categorical(codes: np.ndarray, dictionary: pa.Array) -> pd.Categorical:
    # Straight from Arrow: through to_pandas it took twice as long (0.12 ms for 18,000).
    text = pd.arrays.ArrowStringArray(dictionary.cast(pa.large_string()))
    return categorical(codes, pd.Index(text, dtype="str", copy=False))


def _recode(values: pa.Array, codes: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """``values`` holds one derived string per distinct parent value; re-encode them so equal
    strings share a code, and map the parent's row codes through."""
    sub_idx, sub_dict = _dict(values.fill_null(""))
    return sub_idx[codes], sub_dict


_MONTHS = {
    m.encode(): i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
}
_DIGITS = np.array(
    [1, 2, 8, 9, 10, 11, 13, 14, 16, 17, 19, 20]
)  # positions in "[dd/Mon/yyyy:hh:mm:ss"


def _usual(lists: pa.ListArray, parts: pa.StructArray | None = None) -> np.ndarray:
    """Which requests, split at their spaces (``lists``), match ``_REQUEST_USUAL``: three
    parts (two spaces), a method and a protocol of its form. Methods and protocols are
    checked once per distinct one: an RE2 pass over every request line cost 1.4 ms a block
    (18,000 distinct requests), this 0.3. ``parts``: ``_three(lists)``, when every request
    has three parts and the caller has split them."""
    ok = np.asarray(pc.list_value_length(lists).fill_null(0)) == 3
    rows = np.flatnonzero(ok)
    if not len(rows):
        return ok
    if parts is not None and len(rows) == len(ok):
        items = [parts.field("method"), parts.field("protocol")]
    else:
        flat = lists.flatten()
        start = np.asarray(lists.offsets, dtype=np.int64)[:-1][rows]
        items = [flat.take(pa.array(start)), flat.take(pa.array(start + 2))]
    for values, pattern in zip(items, (_METHOD, _PROTOCOL), strict=True):
        enc = pc.dictionary_encode(values)
        fits = np.asarray(pc.match_substring_regex(enc.dictionary, pattern))
        ok[rows] &= fits[np.asarray(enc.indices, dtype=np.int64)]
    return ok


def _split_requests(requests: pa.Array) -> pa.StructArray:
    names = ["method", "target", "protocol"]
    lists = pc.split_pattern(requests, " ")
    three = None
    if pc.all(pc.equal(pc.list_value_length(lists), 3)).as_py() is not False:
        # Every request has its three parts between its two spaces, split without RE2's
        # captures (4.2 -> 3.1 ms for a block's 18,000 requests): the usual one if its
        # method and protocol are (once per distinct one).
        three = _three(lists, names)
    mask = _usual(lists, three)
    if three is not None and mask.all():
        return three
    # Some are not: the usual ones are split as above, only the rest by the general
    # pattern (one RE2 pass over the rest, not two more over every request).
    plain = np.flatnonzero(mask)
    rest = np.flatnonzero(~mask)
    split = _three(lists.take(pa.array(plain)), names)
    general = pc.extract_regex(requests.take(pa.array(rest)), _REQUEST)
    string = pa.string()
    split = pa.StructArray.from_arrays([split.field(c).cast(string) for c in names], names=names)
    general = pa.StructArray.from_arrays(
        [general.field(c).cast(string) for c in names],
        names=names,
        mask=pa.array(~np.asarray(general.is_valid())),
    )
    order = np.empty(len(requests), np.int64)
    order[plain] = np.arange(len(plain))
    order[rest] = len(plain) + np.arange(len(rest))
    return pa.concat_arrays([split, general]).take(pa.array(order))


def _three(lists: pa.ListArray, names: list[str]) -> pa.StructArray:
    """Lists of exactly len(names) items as a struct of their items."""
    flat = lists.flatten()
    start = np.asarray(lists.offsets, dtype=np.int64)[:-1]
    return pa.StructArray.from_arrays(
        [flat.take(pa.array(start + i)) for i in range(len(names))], names=names
    )


def _target_parts(target: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(path, query) of each request target: up to its first "?", and after it ("" when
    none); _TARGET's groups, by a split on "?" (2.8 -> 1.2 ms a block's targets)."""
    lists = pc.split_pattern(target, "?", max_splits=1)
    flat = lists.flatten()
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    start = offsets[:-1]
    if lists.null_count:  # no target at all: the pattern says what that reads as
        parts = pc.extract_regex(target, _TARGET)
        return parts.field("path"), parts.field("query").fill_null("")
    has = np.diff(offsets) == 2
    path = flat.take(pa.array(start))
    if has.all():
        return path, flat.take(pa.array(start + 1))
    query = flat.take(pa.array(np.where(has, start + 1, 0), mask=~has)).fill_null("")
    return path, query


def wall_seconds(tokens: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since 1970 (naive wall time) and validity, per "[10/Oct/2000:13:55:36" token.

    Decoded with array arithmetic over the tokens' bytes, day/month ranges checked. Apache's
    %t and nginx's $time_local are always written this wide (``%d/%b/%Y:%H:%M:%S``, every
    piece two digits, the year four), as the format's own pattern (``spec.TIME_PARTS``)
    reads them: a token of another width ("...:11:00:0", one-digit seconds) is an unreadable
    timestamp (Arrow's strptime, which read other widths before, took it as 11:00:00)."""
    n = len(tokens)
    secs = np.zeros(n, np.int64)
    ok = np.zeros(n, bool)
    if n == 0:
        return secs, ok
    tokens = tokens.cast(pa.large_string())
    offsets = np.frombuffer(tokens.buffers()[1], np.int64)[tokens.offset : tokens.offset + n + 1]
    data = np.frombuffer(tokens.buffers()[2], np.uint8)
    fixed = np.diff(offsets) == 21
    if fixed.all():
        # Tokens lie back to back in the buffer: a (n, 21) view, no copy.
        m = data[offsets[0] : offsets[-1]].reshape(n, 21)
    elif fixed.any():
        starts = offsets[:-1][fixed]
        m = data[starts[:, None] + np.arange(21)]
    if fixed.any():
        digits = m[:, _DIGITS].astype(np.int16) - 48
        shape_ok = (
            (m[:, 0] == 91)
            & (m[:, 3] == 47)
            & (m[:, 7] == 47)
            & (m[:, 12] == 58)
            & (m[:, 15] == 58)
            & (m[:, 18] == 58)
            & ((digits >= 0) & (digits <= 9)).all(axis=1)
        )
        codes = m[:, 4:7].astype(np.int32)
        packed = (codes[:, 0] << 16) | (codes[:, 1] << 8) | codes[:, 2]
        month = np.full(len(m), -1, np.int64)
        for name, i in _MONTHS.items():
            month[packed == ((name[0] << 16) | (name[1] << 8) | name[2])] = i
        d = digits.astype(np.int64)
        day = d[:, 0] * 10 + d[:, 1]
        year = d[:, 2] * 1000 + d[:, 3] * 100 + d[:, 4] * 10 + d[:, 5]
        hh = d[:, 6] * 10 + d[:, 7]
        mm = d[:, 8] * 10 + d[:, 9]
        ss = d[:, 10] * 10 + d[:, 11]
        valid = shape_ok & (month >= 0) & (day >= 1) & (hh < 24) & (mm < 60) & (ss < 61)
        months = (year - 1970) * 12 + np.where(valid, month, 0)
        first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        nxt = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        valid &= day <= (nxt - first)
        sec = (first + day - 1) * 86400 + hh * 3600 + mm * 60 + ss
        secs[fixed] = np.where(valid, sec, 0)
        ok[fixed] = valid
    return secs, ok


def _offsets(tz: pa.Array) -> np.ndarray:
    """Minutes east of UTC per distinct "+0330]" token; a very small set, done in Python."""
    out = np.full(len(tz), np.iinfo(np.int16).min, dtype=np.int16)
    for i, v in enumerate(tz.to_pylist()):
        v = v or ""
        if len(v) == 6 and v[0] in "+-" and v[1:5].isdigit() and v[5] == "]":
            mins = int(v[1:3]) * 60 + int(v[3:5])
            out[i] = mins if v[0] == "+" else -mins
            if int(v[3:5]) > 59:
                out[i] = plausible.BAD_MINUTES
    return out


def parse_block(
    block: Block, det: Detected, bad: BadLines, window: plausible.Window | None = None
) -> pd.DataFrame:
    """One block of whole lines -> one record-table chunk (see ``logaudit.schema``); rows
    with implausible times (``plausible.check``, outside ``window``) become bad lines, for
    every family alike."""
    return plausible.drop(_parse(block, det, bad), block.source.name, bad, window)


def _parse(block: Block, det: Detected, bad: BadLines) -> pd.DataFrame:
    layout = det.format
    if layout.family == "json" and not det.others:
        from dataclasses import replace

        from logaudit.formats import jsonlog

        keyed = jsonlog.keyed(layout)
        if keyed is not None:  # an nginx JSON template: Arrow's JSON reader, by its keys
            data = _normalise(block.data, escapes=False, ascii_only=block.ascii)
            return _json(data, replace(det, format=keyed), block, bad, escapes=True)
    if layout.family == "jsonkeys":
        data = _normalise(block.data, escapes=False, ascii_only=block.ascii)
        return _json(data, det, block, bad)
    # The rare bytes every block is searched for, found in one pass: backslashes
    # (normalise), CRs (_fast), and "#" (W3C's headers).
    w3c = layout.family == "w3c"
    csv = layout.delimiter is not None and not det.others
    wanted = (92, 13, 35) if w3c else (92, 13) if csv else (92,)
    rare: list[np.ndarray | None]
    if block.rare is not None:  # found by the reading thread (sources.read_blocks)
        rare = [*block.rare, None]
        if w3c:
            rare[2] = _octets.where(np.frombuffer(block.data, np.uint8), 35)
    else:
        rare = list(_octets.where_each(np.frombuffer(block.data, np.uint8), wanted))
        rare += [None] * (3 - len(wanted))
    # Where escapes were spliced, the CRs and "#"s found are moved with the bytes after them;
    # where the bytes were rewritten otherwise, they are searched for again (None).
    data, moved = _normalised(block.data, backslash=rare[0], ascii_only=block.ascii, carry=rare[1:])
    rare = [None, *moved]
    if w3c:
        return _w3c(data, det, block, bad, rare[1], rare[2])
    if det.others:
        return _mixed(data, det, block, bad)
    if layout.delimiter is None:
        table, line_no = _exact(data, det, block, bad)
    else:
        table, line_no = _fast(data, det, block, bad, rare[1])

    def text_of(number: int) -> str:
        """One line's text by its number (for a few bad-line examples only)."""
        lines = _split_lines(data)
        return str(lines[number - block.first_line].as_py()).rstrip("\r\n")

    chunk = _assemble(table, line_no, block.source.name, bad, det, text_of)
    return chunk


def _w3c(
    data: bytes | bytearray | memoryview,
    det: Detected,
    block: Block,
    bad: BadLines,
    cr: np.ndarray | None = None,
    hashes: np.ndarray | None = None,
) -> pd.DataFrame:
    """A W3C block: each part under its own #Fields: header, read with that header's layout.
    ``cr``, ``hashes``: the positions of the block's CRs and "#"s, when known."""
    from logaudit.formats import w3c

    view = memoryview(data)
    octets = np.frombuffer(data, np.uint8)
    heads = w3c.headers(data, hashes)
    parts: list[tuple[int, Layout | None]] = []
    if not heads or heads[0][0] > 0:
        parts.append((0, det.format))
    parts += heads
    chunks = []
    name = block.source.name
    for i, (start, layout) in enumerate(parts):
        end = parts[i + 1][0] if i + 1 < len(parts) else len(data)
        if end <= start:
            continue
        sub = view[start:end]
        first = block.first_line + _octets.count(octets[:start], 10)
        if start == 0 and end == len(data) and data[-1:] == b"\n" and block.lines >= 0:
            lines = block.lines  # the whole block, whose newlines the reader counted
        else:
            lines = _octets.count(octets[start:end], 10)
        if end == len(data) and data[-1:] != b"\n":
            lines += 1
        part = Block(sub, first, block.source, lines)
        if layout is None:
            # A header logaudit cannot read (no date, no status...): its lines are bad.
            never = Detected(w3c.DEFAULT, 0, 0, 0, det.zone)
            _exact(sub, never, part, bad, reason="its #Fields: header is not readable")
            continue
        sub_det = Detected(layout, 0, 0, 0, det.zone)
        part_cr = None if cr is None else cr[(cr >= start) & (cr < end)] - start
        table, line_no = _fast(sub, sub_det, part, bad, part_cr)
        chunk = _assemble(table, line_no, name, bad, sub_det)
        if "agent" not in layout.fields:
            # No cs(User-Agent) under this header: the agent is missing (NaN), not the ""
            # of a line that logged an empty one (Enricher.apply tells them apart, then
            # writes "" as for every format without an agent).
            none = np.full(len(chunk), -1, np.int8)
            chunk["agent"] = categorical(none, chunk["agent"].array.categories)
        chunks.append(chunk)
    if not chunks:
        return _assemble(pa.table({}), np.zeros(0, np.int64), name, bad, det)
    return _concat(chunks)


def _json(
    data: bytes | bytearray | memoryview,
    det: Detected,
    block: Block,
    bad: BadLines,
    escapes: bool = False,
) -> pd.DataFrame:
    """A JSON family's block: Arrow's JSON reader, bad lines isolated (formats/jsonlog.py).
    ``escapes``: quotes and backslashes written as nginx's other formats write them."""
    from logaudit.formats import jsonlog

    ahead = prefetch.take(data, ("json", det.format, block.first_line))  # prefetch.py
    if ahead is not None:
        table, line_no, rejected = ahead
    else:
        table, line_no, rejected = jsonlog.read(data, det.format, block.first_line)
    # In JSON a quote or backslash is always escaped: a block without a backslash has none.
    if escapes and _octets.present(np.frombuffer(data, np.uint8), 92):
        table = jsonlog.nginx_escapes(table)
    name = block.source.name
    if len(rejected):
        lines = _split_lines(data)
        numbers = np.asarray(rejected, np.int64)

        def said(j: int) -> str:
            text = str(lines[int(numbers[j]) - block.first_line].as_py()).rstrip("\r\n")
            cut = text if len(text) <= _SAMPLE_TEXT else text[:_SAMPLE_TEXT] + "..."
            return f"{_json_fault(text, det.format)}: {cut}"

        bad.note(name, numbers, said)
    return _assemble(table, line_no, name, bad, det)


def _json_fault(text: str, layout: Layout) -> str:
    """What is wrong with a JSON family's bad line (said for the sampled few only)."""
    import json

    from logaudit.formats import jsonlog

    if jsonlog.too_deep(text.encode("utf-8", "surrogatepass")):
        return "nested too deep"
    try:
        obj = json.loads(text)
    except ValueError:
        return "not a JSON object"
    if isinstance(obj, dict) and jsonlog.lacks_request(obj, layout):
        return "no request in this JSON object"
    # Python's json reads it, Arrow's reader did not (a key twice, 1e999, a lone surrogate).
    return "not a JSON object"


def _mixed(
    data: bytes | bytearray | memoryview, det: Detected, block: Block, bad: BadLines
) -> pd.DataFrame:
    """--log-format auto+: each line read with the first of the input's formats it fits, most
    specific first (one vectorised RE2 call per format over the lines still unread); the rest
    are bad lines."""
    from dataclasses import replace

    newlines = _octets.where(np.frombuffer(data, np.uint8), 10)
    left = np.arange(len(newlines), dtype=np.int64)
    # Tried most specific first, as detection counted them (formats.FORMATS' order): a
    # common-log pattern also reads a combined line, its referrer and agent lost.
    rank = {name: i for i, name in enumerate(FORMATS)}
    formats = sorted(
        [(det.format, det.extras), *det.others], key=lambda f: rank.get(f[0].name, len(rank))
    )
    # Formats that differ in logging the agent: each row says whether its format logs none.
    logs = ["agent" in layout.fields for layout, _ in formats]
    chunks = []
    for i, (layout, extras) in enumerate(formats):
        last = i == len(formats) - 1
        one = replace(det, format=layout, extras=extras, others=())
        table, line_no = _exact(data, one, block, bad, only=left, newlines=newlines, report=last)
        chunk = _assemble(table, line_no, block.source.name, bad, one)
        if len(set(logs)) > 1:
            chunk[AGENT_UNLOGGED] = np.full(len(chunk), not logs[i])
        chunks.append(chunk)
        left = np.setdiff1d(left, line_no - block.first_line, assume_unique=True)
    frame = _concat(chunks)
    # back in line order (records, visits' streaming state expect it)
    return in_line_order(frame) if len(chunks) > 1 else frame


def in_line_order(chunk: pd.DataFrame) -> pd.DataFrame:
    """A chunk's rows in line order, sorted only when they are not: the exact path's rows
    come after the fast reader's in their block (a report counts them alike; records and
    --follow show them, and --limit takes the first: QA16 #8), and --log-format auto+ reads
    each format's lines apart (``_mixed``)."""
    line = chunk["line"].to_numpy()
    if len(line) < 2 or not (line[1:] < line[:-1]).any():
        return chunk
    return chunk.take(np.argsort(line, kind="stable")).reset_index(drop=True)


def _concat(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """Record-table chunks as one, categoricals kept (their categories unioned)."""
    if len(chunks) == 1:
        return chunks[0]
    out: dict[str, object] = {}
    # Formats of one input may differ in the cookies they log: a cookie column is "-" (no
    # cookie) on the rows of a format without it.
    cookies = sorted({c for ch in chunks for c in cookie_columns(ch)})
    chunks = [_with_columns(ch, cookies) for ch in chunks]
    for col in chunks[0].columns:
        if col == "time":
            continue  # tz-aware: to_numpy() would make a Timestamp object per row; see below
        if isinstance(chunks[0][col].dtype, pd.CategoricalDtype):
            out[col] = pd.api.types.union_categoricals([c[col] for c in chunks])
        else:
            out[col] = np.concatenate([c[col].to_numpy() for c in chunks])
    out["time"] = pd.concat([c["time"] for c in chunks], ignore_index=True).array
    frame = pd.DataFrame(out, copy=False)
    return frame[list(chunks[0].columns)]


def _with_columns(chunk: pd.DataFrame, cookies: list[str]) -> pd.DataFrame:
    missing = [c for c in cookies if c not in chunk.columns]
    if not missing:
        return chunk
    chunk = chunk.copy(deep=False)
    none = pa.array(["-"], pa.string())
    for c in missing:
        chunk[c] = _categorical(np.zeros(len(chunk), np.int32), none)
    return chunk[[*[c for c in chunk.columns if not c.startswith(COOKIE_PREFIX)], *cookies]]


def _fast(
    data: bytes | bytearray | memoryview,
    det: Detected,
    block: Block,
    bad: BadLines,
    cr: np.ndarray | None = None,
) -> tuple[pa.Table, np.ndarray]:
    """Arrow's CSV reader over the block; only the lines it rejects go to the exact path.
    ``cr``: the positions of the block's CRs, when known."""
    columns = det.format.columns(det.extras)
    used = _used_tokens(det)
    invalid: list[tuple[int | None, str]] = []
    delim = det.format.delimiter or " "
    # Read during start-up (prefetch.py), or now.
    ahead = prefetch.take(data, ("csv", tuple(columns), delim, tuple(used)))
    if ahead is not None:
        table = ahead[0]
        invalid.extend(ahead[1])
    else:
        table = _read_csv(data, columns, invalid, delim, used, _plain_tokens(det))
    table = _cut_last(table, invalid, data)
    if any(col.num_chunks > 1 for col in table.columns):
        # Read in pieces (blockcsv.PIECE_BYTES): one chunk per column, with the dictionaries
        # and indices one piece would have given (both calls release the GIL).
        table = table.unify_dictionaries().combine_chunks()
    bare_cr = _has_bare_cr(data, cr)
    if not invalid and table.num_rows == block.lines and not bare_cr:
        return table, block.first_line + np.arange(table.num_rows, dtype=np.int64)
    # Arrow's CSV reader also ends a row at a bare CR; only the exact path splits on LF alone.
    counted = None if bare_cr else _counted(invalid, table.num_rows, block.lines, data)
    if counted is not None:
        good_lines, rejected, texts = counted
        rescued, rescued_no = _exact(data, det, block, bad, only=rejected, lines=texts)
        line_no = block.first_line + good_lines
        if rescued.num_rows == 0:
            return table, line_no
        return _append(table, rescued, used), np.concatenate([line_no, rescued_no])
    octets = np.frombuffer(data, np.uint8)
    # A slice at a time: a 16 MB comparison made at once faulted in fresh pages each block.
    newlines = _octets.where(octets, 10)
    placed = None if bare_cr else _place(data, invalid, table.num_rows, newlines)
    if placed is None:
        table, line_no = _exact(data, det, block, bad)
        return table.select(used), line_no
    good_lines, rejected = placed
    rescued, rescued_no = _exact(data, det, block, bad, only=rejected, newlines=newlines)
    line_no = block.first_line + good_lines
    if rescued.num_rows == 0:
        return table, line_no
    return _append(table, rescued, used), np.concatenate([line_no, rescued_no])


def _cut_last(
    table: pa.Table, invalid: list[tuple[int | None, str]], data: bytes | bytearray | memoryview
) -> pa.Table:
    """The block's last line cut short in a quoted field (its quote left open) is read by
    Arrow to the block's end, its newline in the value ("ua\\n": one visitor counted as two);
    that row goes to the exact path, which reads the field as written, as mid-block."""
    n = table.num_rows
    if not n or not any(
        isinstance(v, str) and v.endswith("\n")
        for v in (c.slice(n - 1).to_pylist()[0] for c in table.columns)
    ):
        return table
    end = len(data) - (data[-1:] == b"\n")
    start = end
    while start > 0:  # the line's start, looked for 64 KiB at a time (no copy of the block)
        at = max(0, start - (1 << 16))
        i = bytes(data[at:start]).rfind(b"\n")
        start = at + i + 1 if i >= 0 else at
        if i >= 0:
            break
    text = bytes(data[start:end]).decode("utf-8", "backslashreplace").rstrip("\r")
    invalid.append((n + len(invalid), text))
    return table.slice(0, n - 1)


def _append(table: pa.Table, rescued: pa.Table, used: list[str]) -> pa.Table:
    """The CSV reader's rows, then the rows the exact path rescued, with the dictionaries
    unified as ``unify_dictionaries`` does (the reader's dictionary first, the rescued rows'
    new values after it in their order), but by looking the few rescued values up in each
    dictionary (``_extended``) rather than hashing every dictionary into a new one: 2.7 ms
    a combined block with 6 bad lines, ~0.8 with this."""
    if any(table.column(c).num_chunks != 1 for c in used) or set(table.column_names) != set(used):
        return _append_unified(table, rescued, used)
    out: dict[str, pa.Array] = {}
    for c in table.column_names:
        mine = table.column(c).chunk(0)
        extra = rescued.column(c)
        extra = extra.combine_chunks() if isinstance(extra, pa.ChunkedArray) else extra
        if not isinstance(mine.type, pa.DictionaryType):  # a column read as plain text
            out[c] = pa.concat_arrays([mine, extra.cast(mine.type)])
            continue
        joined = _extended(mine, extra.cast(mine.type.value_type))
        if joined is None:
            return _append_unified(table, rescued, used)
        out[c] = joined
    return pa.table(out, schema=table.schema)


def _extended(mine: pa.DictionaryArray, extra: pa.Array) -> pa.DictionaryArray | None:
    """``mine`` followed by the values ``extra``, in ``mine``'s dictionary extended by the
    values of ``extra`` it lacks (in their order of first appearance); None for nulls."""
    if extra.null_count or mine.null_count:
        return None
    enc = pc.dictionary_encode(extra)
    values = enc.dictionary
    # Where each of the dictionary's values is among the few new ones (one probe a value).
    found = pc.index_in(mine.dictionary, value_set=values)
    hit = np.flatnonzero(np.asarray(found.is_valid()))
    at = np.full(len(values), -1, np.int64)
    at[np.asarray(found.filter(found.is_valid()), dtype=np.int64)] = hit
    new = np.flatnonzero(at < 0)
    at[new] = len(mine.dictionary) + np.arange(len(new))
    dictionary = (
        pa.concat_arrays([mine.dictionary, values.take(pa.array(new))])
        if len(new)
        else mine.dictionary
    )
    codes = np.concatenate(
        [
            np.asarray(mine.indices, dtype=np.int32),
            at[np.asarray(enc.indices, dtype=np.int64)].astype(np.int32),
        ]
    )
    return pa.DictionaryArray.from_arrays(pa.array(codes), dictionary)


def _append_unified(table: pa.Table, rescued: pa.Table, used: list[str]) -> pa.Table:
    """``_append`` by Arrow's own unification (chunked columns, nulls)."""

    def like(c: str) -> pa.ChunkedArray:
        want = table.schema.field(c).type
        if not isinstance(want, pa.DictionaryType):  # a column read as plain text
            return rescued.column(c).cast(want)
        return pc.dictionary_encode(rescued.column(c)).cast(want)

    extra = pa.table({c: like(c) for c in used})
    return pa.concat_tables([table, extra]).unify_dictionaries().combine_chunks()


def _counted(
    invalid: list[tuple[int | None, str]],
    rows: int,
    lines: int,
    data: bytes | bytearray | memoryview,
) -> tuple[np.ndarray, np.ndarray, pa.Array] | None:
    """``_place`` without the block's newlines, when counting settles it: the reader's rows
    and the lines of the rejected rows' texts add up to the block's ``lines``, so no line
    was empty and every row the reader kept is one line. The rejected lines are then where
    the reader's row numbers say, and their texts are the lines (each given its newline
    back) for the exact path: no 16 MB newline search, no search for the texts. None when
    the counts do not add up (``_place`` then finds them in the block)."""
    if not invalid or data[-1:] != b"\n":
        return None
    rejected: list[int] = []
    texts: list[str] = []
    shift = 0  # rows that spanned several lines so far, less one each
    for number, text in invalid:
        if number is None:
            return None
        parts = text.split("\n")
        k = number - 1 + shift
        if k < (rejected[-1] + 1 if rejected else 0):
            return None
        rejected.extend(range(k, k + len(parts)))
        texts.extend(parts)
        shift += len(parts) - 1
    if rows + len(rejected) != lines or rejected[-1] >= lines:
        return None
    bad = np.asarray(rejected, np.int64)
    keep = np.ones(lines, bool)
    keep[bad] = False
    good = np.flatnonzero(keep).astype(np.int64)
    return good, bad, pa.array([t + "\n" for t in texts], pa.large_string())


def _place(
    data: bytes | bytearray | memoryview,
    invalid: list[tuple[int | None, str]],
    rows: int,
    ends: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(indexes of the lines the CSV reader's rows came from, indexes of the lines it
    rejected), found by placing each rejected row's text in the block: first where the
    reader's row number points (checked byte for byte), else by searching for it (one search
    per rejected row, not per line). None when the rows cannot be placed exactly."""
    octets = np.frombuffer(data, np.uint8)
    whole = len(data) > 0 and data[-1] == 10
    starts = np.concatenate([[0], ends + 1])[: len(ends) + (0 if whole else 1)]
    n = len(starts)
    line_ends = np.concatenate([ends, [len(data)]])[:n]
    length = line_ends - starts
    # Empty lines (and a lone CR) are skipped by the reader, as by the exact path.
    cr_only = np.zeros(n, bool)
    one = np.flatnonzero(length == 1)
    cr_only[one] = octets[starts[one]] == 13
    empty = (length == 0) | cr_only
    nonempty = np.flatnonzero(~empty)
    rejected = np.zeros(n, bool)
    raw: bytes | None = None
    pos = 0
    shift = 0  # rows that spanned several lines so far, less one each
    for number, text in invalid:
        piece = text.encode("utf-8")
        at = -1
        k = (number - 1 + shift) if number is not None else -1
        if 0 <= k < len(nonempty):
            s0 = int(starts[nonempty[k]])
            if s0 >= pos and _line_at(octets, s0, piece):
                at = s0
        if at < 0:
            raw = raw if raw is not None else bytes(data)
            at = _find_line(raw, piece, pos)
        if at < 0:
            return None
        first = int(np.searchsorted(starts, at, side="right")) - 1
        last = int(np.searchsorted(starts, at + max(len(piece) - 1, 0), side="right")) - 1
        rejected[first : last + 1] = True
        shift += int((~empty[first : last + 1]).sum()) - 1
        pos = at + len(piece)
    good = np.flatnonzero(~rejected & ~empty)
    if len(good) != rows:
        return None
    return good.astype(np.int64), np.flatnonzero(rejected & ~empty).astype(np.int64)


def _line_at(octets: np.ndarray, at: int, piece: bytes) -> bool:
    """Whether ``piece`` is written at ``at`` and runs to the end of a line."""
    end = at + len(piece)
    if end > len(octets) or not np.array_equal(octets[at:end], np.frombuffer(piece, np.uint8)):
        return False
    return end == len(octets) or octets[end] == 10 or (octets[end] == 13)


def _find_line(raw: bytes, piece: bytes, pos: int) -> int:
    """Where ``piece`` starts a line of ``raw`` at or after ``pos`` and runs to that line's
    end (or a later line's: a row may span lines); -1 if nowhere."""
    while True:
        at = raw.find(piece, pos)
        if at < 0:
            return -1
        end = at + len(piece)
        starts_line = at == 0 or raw[at - 1] == 10
        ends_line = end == len(raw) or raw[end] == 10 or raw[end : end + 2] == b"\r\n"
        if starts_line and ends_line:
            return at
        pos = at + 1


def _token_fields(
    table: pa.Table,
    det: Detected,
    good: np.ndarray,
    reasons: list[tuple[np.ndarray, str]],
    sized: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[dict[str, tuple[np.ndarray, pa.Array, Piece]], list[TimePart], list[np.ndarray]]:
    """Each role's (row codes, distinct values, piece), and each time token's decoded parts
    with their row codes. Tokens of several pieces are split once per distinct value.
    ``sized``: gets the size per row and its validity (``values.sizes``) when the size token
    was read as plain text (``blockcsv.plain_tokens``) rather than as a dictionary."""
    fields: dict[str, tuple[np.ndarray, pa.Array, Piece]] = {}
    times: list[TimePart] = []
    time_codes: list[np.ndarray] = []
    # (time pieces -> text per distinct value, or already digits read; row codes; which
    # values fit; the token decoded whole, when a fast path did it)
    pieces_of: list[
        tuple[dict[str, pa.Array | np.ndarray], np.ndarray, np.ndarray, TimePart | None]
    ] = []
    names = set(table.column_names)
    for tok in det.format.tokens:
        if tok.name not in names:
            continue
        column = table.column(tok.name)
        if (
            sized is not None
            and column.type == pa.string()
            and column.null_count == 0
            and tok.single is not None
            and tok.single.role == "bytes"
        ):
            if "bytes" not in sized and "bytes" not in fields:
                sized["bytes"] = sizes(column)
            continue
        if (
            sized is not None
            and column.type == pa.string()
            and column.null_count == 0
            and tok.single is not None
            and tok.single.role == "status"
        ):
            if "status" not in sized and "status" not in fields:
                sized["status"] = statuses(column)  # per row (blockcsv.plain_tokens)
            continue
        if (
            sized is not None
            and column.type == pa.string()
            and tok.single is not None
            and tok.single.role == "response_time"
            and "response_time" not in sized
            and "response_time" not in fields
        ):
            seconds = fixed_durations(column, tok.single.kind or "s")
            if seconds is not None:  # per row (blockcsv.plain_tokens)
                sized["response_time"] = (seconds, np.ones(len(seconds), bool))
                continue
        if tok.name in ("t1", "t2") and column.type == pa.string():
            # Read as plain text (blockcsv.plain_tokens): coded by runs of equal values. The
            # time's runs however many: in a log written in time order they are its distinct
            # times, which the dictionary found by hashing every row (the 150,000-line log's
            # blocks: 43 % of the rows, past the n // 4 that sent them there; 0.8 ms against
            # 2.5 ms, the same ~34,000 values decoded after). Out of order, with run heads
            # that repeat, the dictionary still (``_heads_repeat``).
            codes, values = _runs(column, len(column) if tok.name == "t1" else 64)
        else:
            codes, values = _dict(column)
        if det.format.loose and pc.any(pc.starts_with(values, '"')).as_py():
            # W3C: a quoted value ("a b", with "" for a quote) as written inside its quotes.
            # (Only where one starts with a quote: unquoted, values and codes are unchanged.)
            values = values.cast(pa.string())
            quoted = pc.extract_regex(values, r'^"(?P<v>.*)"$')
            inner = pc.replace_substring(quoted.field("v"), '""', '"')
            values = pc.if_else(quoted.is_valid(), inner, values)
            codes, values = _recode(values, codes)
        if det.format.family == "json":
            codes, values = _recode(_json_unescape(values.cast(pa.string())), codes)
        if tok.name == "t1":
            part = TimePart(len(values))
            part.wall, part.ok = wall_seconds(values)
            times.append(part)
            time_codes.append(codes)
            continue
        if tok.name == "t2":
            part = TimePart(len(values))
            part.offset = _offsets(values)
            part.ok = part.offset != NO_OFFSET
            times.append(part)
            time_codes.append(codes)
            continue
        single = tok.single
        if single is not None and single.role != "time":
            if field_key(single) not in fields:
                fields[field_key(single)] = (codes, values, single)
            continue
        if single is not None and single.kind == "iso":
            fixed = iso_fixed(values)
            if fixed is not None:  # every value fits: decoded, not split (values.py)
                pieces_of.append(({"iso": values}, codes, np.ones(len(values), bool), fixed))
                continue
        if all(p.role in ("time", "literal") for p in tok.pieces):
            digits = fixed_digits(
                values, [(p.kind, "") if p.role == "time" else ("", p.text) for p in tok.pieces]
            )
            if digits is not None:  # every value fits: read from its bytes (values.py)
                pieces_of.append((dict(digits), codes, np.ones(len(values), bool), None))
                continue
        split = pc.extract_regex(values.cast(pa.string()), tok.split_regex())
        fits = np.asarray(split.is_valid())
        if not fits.all():
            reasons.append((~fits[codes], f"{tok.name} does not fit {tok.split_regex()}"))
        groups: dict[str, pa.Array] = {}
        for i, p in enumerate(tok.fields):
            sub = split.field(f"p{i}")
            if i == 0 and "p0_" in split.type.names:  # "[addr]" with no port (split_regex)
                sub = pc.binary_join_element_wise(sub, split.field("p0_"), "")
            if p.role == "time":
                groups[p.kind] = sub
            elif field_key(p) not in fields and p.role not in ("extra", "ident"):
                sub_codes, sub_dict = _recode(sub, codes)
                fields[field_key(p)] = (sub_codes, sub_dict, p)
        if groups:
            pieces_of.append((groups, codes, fits, None))
    if _whole_parts([set(g) for g, _, _, _ in pieces_of]):
        for groups, codes, fits, ready in pieces_of:
            part = ready if ready is not None else decode_time(groups, len(fits))
            part.ok &= fits
            times.append(part)
            time_codes.append(codes)
    else:
        # A date cut across tokens (%{%d %b %Y}t): its pieces are put together per row.
        n = table.num_rows
        rows: dict[str, pa.Array] = {}
        ok = np.ones(n, bool)
        for groups, codes, fits, _ in pieces_of:
            take = pa.array(codes)
            rows.update(
                {
                    k: v[codes] if isinstance(v, np.ndarray) else v.take(take)
                    for k, v in groups.items()
                }
            )
            ok &= fits[codes]
        part = decode_time(rows, n)
        part.ok &= ok
        times.append(part)
        time_codes.append(np.arange(n))
    return fields, times, time_codes


def _json_unescape(values: pa.Array) -> pa.Array:
    """JSON string escapes decoded, once per distinct value that has one."""
    has = np.asarray(pc.match_substring(values, "\\").fill_null(False))
    if not has.any():
        return values
    import json

    out = values.to_pylist()
    for i in np.flatnonzero(has):
        try:
            out[i] = json.loads('"' + out[i] + '"')
        except ValueError:
            pass  # not valid JSON escapes: kept as written
    return pa.array(out, pa.string())


def _whole_parts(kinds: list[set[str]]) -> bool:
    """Whether each token's time pieces make whole parts (a whole date, a whole clock) that
    can be decoded per token and added up."""
    for k in kinds:
        if k & {"Y", "m", "b", "d", "e"} and not ("Y" in k and k & {"m", "b"} and k & {"d", "e"}):
            return False
        if k & {"M", "S"} and "H" not in k:
            return False
    return True


def _assemble(
    table: pa.Table,
    line_no: np.ndarray,
    name: str,
    bad: BadLines,
    det: Detected,
    text_of: Callable[[int], str] | None = None,
) -> pd.DataFrame:
    n = table.num_rows
    reasons: list[tuple[np.ndarray, str]] = []
    good0 = np.ones(n, bool)
    sized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    cols, times, time_codes = _token_fields(table, det, good0, reasons, sized)

    # Timestamps: each time token decoded once per distinct value, then added up per row.
    wall = np.zeros(n, np.int64)
    usec = np.zeros(n, np.int64)
    time_ok = np.ones(n, bool)
    offset: np.ndarray | None = None
    utc: np.ndarray | None = None
    for part, codes in zip(times, time_codes, strict=True):
        wall += part.wall[codes]
        usec += part.usec[codes]
        time_ok &= part.ok[codes]
        if part.offset is not None:
            offset = part.offset[codes]
        if part.utc is not None:
            utc = part.utc[codes]
    if not times:
        time_ok[:] = False
    zone = det.format.naive_zone or det.zone or "UTC"
    if utc is not None:
        if offset is None or (offset == NO_OFFSET).any():
            offset = offsets_at(utc, zone) if offset is None else offset
            missing = offset == NO_OFFSET
            offset = np.where(missing, offsets_at(utc, zone), offset).astype(np.int16)
        wall = utc + offset.astype(np.int64) * 60
    elif offset is None:
        offset = localise(wall, zone) if n else np.zeros(0, np.int16)
    elif (offset == NO_OFFSET).any():
        # ISO times written without a zone in a log that has some with one.
        missing = offset == NO_OFFSET
        offset = np.where(missing, localise(wall, zone), offset).astype(np.int16)
    time_ok &= offset != NO_OFFSET
    reasons.insert(0, (~time_ok, "unreadable timestamp"))

    def role(r: str, default: str) -> tuple[np.ndarray, pa.Array]:
        if r in cols:
            return cols[r][0], cols[r][1]
        return np.zeros(n, np.int32), pa.array([default], pa.string())

    if "status" in sized:  # read per row from the plain text column (values.statuses)
        st_rows, st_ok = sized["status"]
    else:
        st_idx, st_dict = role("status", "0")
        st_valid = np.asarray(pc.match_substring_regex(st_dict, r"^[1-5][0-9][0-9]$"))
        st_val = np.asarray(
            pc.if_else(pa.array(st_valid), st_dict, "0").cast(pa.int16()), dtype=np.int16
        )
        st_rows, st_ok = st_val[st_idx], st_valid[st_idx]
    reasons.append((~st_ok, "status is not an HTTP status code"))

    if "bytes" in sized:  # read per row from the plain text column (values.sizes)
        by_rows, by_ok = sized["bytes"]
    else:
        by_idx, by_dict = role("bytes", "-")
        by_num, by_valid = sizes(by_dict)  # once per distinct size (no nulls in a dictionary)
        by_rows, by_ok = by_num[by_idx], by_valid[by_idx]
    reasons.append((~by_ok, "size is not a number"))
    huge = by_rows >= SIZE_LIMIT  # read as 0 where not a number
    if huge.any():
        reasons.append((huge, SIZE_REASON))

    # A comment line (W3C's #Fields, a pasted note) that happened to fit is no request.
    first = det.format.tokens[0].name if det.format.tokens else ""
    column = table.column(first) if first in table.column_names else None
    if column is not None and column.type in (pa.string(), pa.large_string()):
        # Read as plain text (blockcsv.plain_tokens: "[$time_local]" first): tested per row.
        comment = np.asarray(pc.starts_with(column, "#").fill_null(False))
    elif column is not None:
        f_idx, f_dict = _dict(column)
        comment = np.asarray(pc.starts_with(f_dict.cast(pa.string()), "#"))[f_idx]
    else:
        comment = np.zeros(n, bool)

    good = np.ones(n, dtype=bool)
    # A row failing two checks or more is not this layout at all: say so, with its text.
    failures = np.zeros(n, np.int8)
    for mask, _ in reasons:
        failures += mask
    for mask, why in reasons:
        mask = mask & ~comment
        if mask.any():
            rows = np.flatnonzero(mask & good)

            def said(j: int, rows: np.ndarray = rows, why: str = why) -> str:
                i = rows[j]
                if failures[i] > 1 and text_of is not None:
                    return _why(det, text_of(int(line_no[i])))
                return why

            bad.note(name, np.asarray(line_no, np.int64)[rows], said)
            good &= ~mask
    good &= ~comment
    bad.parsed[name] = bad.parsed.get(name, 0) + int(good.sum())
    sel = np.flatnonzero(good) if not good.all() else None

    def take(a: np.ndarray) -> np.ndarray:
        return a if sel is None else a[sel]

    wall_rows = take(wall)
    off_rows = take(offset).astype(np.int16)
    utc_rows = wall_rows - off_rows.astype(np.int64) * 60

    out: dict[str, object] = {
        # (to_datetime(unit="s", utc=True) then astype: 0.65 ms a block; this 0.08 ms)
        "time": pd.DatetimeIndex(utc_rows.astype("datetime64[s]")).tz_localize("UTC"),
        "offset": off_rows,
        "local": wall_rows.astype("datetime64[s]"),
        "usec": take(usec).astype(np.int32),
    }

    def cat(r: str, default: str) -> pd.Categorical:
        idx, d = role(r, default)
        return _categorical(take(idx), d)

    cl_idx, cl_dict = _clients(cols, table, det, n)
    out["client"] = _categorical(take(cl_idx), cl_dict)
    out["user"] = cat("user", "-")
    hosts: list[Coded] = []
    method, path, query, protocol = _request_parts(cols, n, det.format.absolute_urls, hosts)
    if hosts and "vhost" not in cols:
        cols["vhost"] = (*hosts[0], Piece("vhost", "request"))
    for col, (idx, d) in (
        ("method", method),
        ("path", path),
        ("query", query),
        ("protocol", protocol),
    ):
        out[col] = _categorical(take(idx), d)
    out["status"] = take(st_rows)
    out["bytes"] = take(by_rows)
    m = len(wall_rows)
    for col in ("referrer", "agent"):
        out[col] = cat(col, "")
    vh_idx, vh_dict = _host_names(*role("vhost", ""))
    out["vhost"] = _categorical(take(vh_idx), vh_dict)
    for col in ("response_time", "upstream_time"):
        if col in sized:  # read per row (values.fixed_durations)
            out[col] = take(sized[col][0])
        elif col in cols:
            idx, d, piece = cols[col]
            out[col] = take(durations(d, piece.kind or "s")[idx])
        else:
            out[col] = np.full(m, np.nan)
    out["file"] = _categorical(np.zeros(m, np.int32), pa.array([name], pa.string()))
    out["line"] = take(line_no).astype(np.int64)
    # Cookies the format names (schema.cookie_columns): after the fixed columns, none when the
    # format logs no cookie. nginx and Apache write "-" for a cookie the request did not send.
    for col in sorted(k for k in cols if k.startswith(COOKIE_PREFIX)):
        out[col] = cat(col, "-")
    return pd.DataFrame(out, copy=False)


Coded = tuple[np.ndarray, pa.Array]


def _clients(
    cols: dict[str, tuple[np.ndarray, pa.Array, Piece]], table: pa.Table, det: Detected, n: int
) -> Coded:
    """The client per row: the address field; a leading list ("10.0.0.2, 10.0.0.1, 127.0.0.1",
    nginx's $proxy_add_x_forwarded_for) is a chain; with --client-from xff, the chain is the
    X-Forwarded-For field followed by the address. From a chain: its first address, or with
    --trusted-proxy the last one outside the trusted networks. Once per distinct pair."""
    if "client" in cols:
        r_idx, r_dict = _unbracketed(cols["client"][0], cols["client"][1].cast(pa.string()))
    else:
        r_idx, r_dict = np.zeros(n, np.int32), pa.array(["-"], pa.string())
    x_idx: np.ndarray | None = None
    x_dict: pa.Array | None = None
    if det.client_from == "xff":
        if "xff" in cols:
            x_idx, x_dict = cols["xff"][0], cols["xff"][1].cast(pa.string())
        elif "extra0" in table.column_names:
            x_idx, x_dict = _dict(table.column("extra0"))
            x_dict = x_dict.cast(pa.string())
    has_list = bool(np.asarray(pc.match_substring(r_dict, ",")).any())
    if x_idx is None and not has_list:
        return r_idx, r_dict
    if x_idx is None or x_dict is None:
        x_idx, x_dict = np.zeros(n, np.int32), pa.array(["-"], pa.string())
    pair = x_idx.astype(np.int64) * max(len(r_dict), 1) + r_idx
    uniq, inverse = np.unique(pair, return_inverse=True)
    xs = x_dict.to_pylist()
    rs = r_dict.to_pylist()
    nets = _networks(det.trusted)
    chosen = [
        _pick(xs[int(u) // max(len(rs), 1)], rs[int(u) % max(len(rs), 1)], nets) for u in uniq
    ]
    codes, values = _dict(pa.array(chosen, pa.string()))
    return codes[inverse].astype(np.int32), values


def _unbracketed(codes: np.ndarray, clients: pa.Array) -> Coded:
    """Clients logged as ``[addr]:port`` (spec._ADDRESS keeps the brackets) -> the address, as
    every other format writes it (--client ranges, GeoIP and the hosts look it up so)."""
    if not pc.any(pc.starts_with(clients, "[")).as_py():
        return codes, clients
    return _recode(pc.replace_substring_regex(clients, r"^\[([^\[\]]*)\]$", r"\1"), codes)


def _host_names(codes: np.ndarray, hosts: pa.Array) -> Coded:
    """Virtual hosts as one name each (``schema.host_names``, the rule ``--vhost`` compares
    by): ``SHOP.Example.com.:443`` is ``shop.example.com:443`` (as GoAccess and AWStats show
    them); once per distinct value."""
    hosts = hosts.cast(pa.string())
    if not len(hosts):
        return codes, hosts
    named = host_names(hosts)
    if pc.all(pc.equal(named, hosts)).as_py():
        return codes, hosts
    return _recode(named, codes)


def _networks(cidrs: tuple[str, ...]) -> list[object]:
    import ipaddress

    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def _pick(xff: str | None, remote: str | None, nets: list[object]) -> str:
    import ipaddress

    chain = [a.strip() for a in (xff or "").split(",") if a.strip() not in ("", "-", "unknown")]
    chain += [a.strip() for a in (remote or "-").split(",") if a.strip()]
    if not chain:
        return remote or "-"
    if not nets:
        return chain[0]
    for address in reversed(chain):
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            return address  # not an address: nothing to trust it by
        if not any(ip in net for net in nets):  # type: ignore[operator]
            return address
    return chain[0]


_ABSOLUTE = r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<host>[^/?#]*)(?P<rest>.*)$"


def _request_parts(
    cols: dict[str, tuple[np.ndarray, pa.Array, Piece]],
    n: int,
    absolute: bool = False,
    hosts: list[Coded] | None = None,
) -> tuple[Coded, Coded, Coded, Coded]:
    """(method, path, query, protocol) per row, each split once per distinct value: from the
    request line when the format has one, else from its parts ($request_method, $uri, $args,
    $request_uri, %m %U %q %H)."""
    empty: Coded = (np.zeros(n, np.int32), pa.array([""], pa.string()))
    hosts = hosts if hosts is not None else []
    if "request" in cols:
        rq_idx, rq_dict, _ = cols["request"]
        rq_dict = rq_dict.cast(pa.string())
        parts = _split_requests(rq_dict)
        has = np.asarray(parts.is_valid())
        method = pc.if_else(pa.array(has), parts.field("method"), "")
        # A request that is not "METHOD target [PROTOCOL]" ("-", "", junk) is kept whole as
        # its path.
        target = pc.if_else(pa.array(has), parts.field("target"), rq_dict)
        protocol = pc.if_else(pa.array(has), parts.field("protocol").fill_null(""), "")
        if absolute:
            # A load balancer logs the absolute URL ("GET https://host:443/p?q HTTP/1.1"):
            # the path is what follows the host, and the host is the virtual host.
            url = pc.extract_regex(target, _ABSOLUTE)
            target = pc.if_else(url.is_valid(), _rooted(url.field("rest")), target)
            hosts.append(_recode(pc.if_else(url.is_valid(), url.field("host"), ""), rq_idx))
        t_path, t_query = _target_parts(target)
        return (
            _recode(method, rq_idx),
            _recode(t_path, rq_idx),
            _recode(t_query, rq_idx),
            _recode(protocol, rq_idx),
        )

    def plain(r: str) -> Coded:
        if r not in cols:
            return empty
        idx, d, _ = cols[r]
        return idx, d.cast(pa.string())

    method = plain("method")
    protocol = plain("protocol")
    if "path" in cols:
        path = plain("path")
        query = _logged_query(cols) if "query" in cols else empty
    elif "request_uri" in cols:
        path, query = _uri_parts(cols, hosts)
    else:
        path = query = empty
    return method, path, query, protocol


def _logged_query(cols: dict[str, tuple[np.ndarray, pa.Array, Piece]]) -> Coded:
    """The query field's values: Apache's %q is "?x=1" or ""; nginx's $args is "x=1", or "-"
    when empty (as W3C's cs-uri-query)."""
    q_idx, q_dict, _ = cols["query"]
    q_dict = pc.replace_substring_regex(q_dict.cast(pa.string()), r"^(\?|-$)", "")
    return _recode(q_dict, q_idx)


# A W3C cs-uri written as host/path (Incapsula's "www.example.com/page.php"): a host name
# has a dot and its last label is alphabetic and not a file extension (not "index.html/x").
_HOST_PATH = (
    r"^(?P<host>(?:[A-Za-z0-9-]+\.)+(?P<last>[A-Za-z]{2,})(?::\d{1,5})?)(?P<rest>/.*)$"
)
_FILE_EXTENSIONS = pa.array(
    sorted(set(STATIC_EXTENSIONS) | set("html htm shtml php asp aspx jsp cgi pdf".split()))
)


# A query field beside a request URI (which may hold one too): W3C's cs-uri-query beside
# cs-uri, GoAccess's %q beside %U (its docs: %U "including any query string", %q "the query
# string"). The field's query wins where it holds one.
_QUERY_BESIDE_URI = ("cs-uri-query", "%q")


def _uri_parts(
    cols: dict[str, tuple[np.ndarray, pa.Array, Piece]], hosts: list[Coded]
) -> tuple[Coded, Coded]:
    """(path, query) from a request URI ($request_uri, %U, W3C's cs-uri), split once per
    distinct value. A query field beside it holds the query (``_QUERY_BESIDE_URI``); a cs-uri
    written as host/path gives its host as the virtual host (into ``hosts``) and the rest as
    the path."""
    u_idx, u_dict, piece = cols["request_uri"]
    u_dict = u_dict.cast(pa.string())
    w3c = piece.text.lower() == "cs-uri"
    if w3c:
        u_dict = _w3c_host(u_dict, u_idx, hosts)
    u_path, u_query = _target_parts(u_dict)
    path, query = _recode(u_path, u_idx), _recode(u_query, u_idx)
    if "query" in cols and cols["query"][2].text.lower() in _QUERY_BESIDE_URI:
        # Per row: the query field's when it holds one, else the query inside the URI.
        l_idx, l_dict = _logged_query(cols)
        logged = np.asarray(pc.not_equal(l_dict, "").fill_null(False))[l_idx]
        both = pa.concat_arrays([query[1], l_dict])
        query = _recode(both, np.where(logged, l_idx + len(query[1]), query[0]))
    return path, query


def _rooted(rest: pa.Array) -> pa.Array:
    """What follows an absolute URL's host, as a path from the root: "" is "/", and
    "?x=1" (no path before the query) is "/?x=1", as a browser requests it."""
    return pc.if_else(
        pc.starts_with(rest, "/").fill_null(True),
        rest,
        pc.binary_join_element_wise(pa.scalar("/", rest.type), rest, pa.scalar("", rest.type)),
    )


def _w3c_host(u_dict: pa.Array, u_idx: np.ndarray, hosts: list[Coded]) -> pa.Array:
    """The distinct cs-uri values with an absolute URL's or a host/path's host taken off (into
    ``hosts``, when any row has one): "http://h/p" and "www.example.com/p" -> "/p"."""
    url = pc.extract_regex(u_dict, _ABSOLUTE)
    named = pc.extract_regex(u_dict, _HOST_PATH)
    is_url = url.is_valid()
    a_file = pc.is_in(pc.utf8_lower(named.field("last")), value_set=_FILE_EXTENSIONS)
    is_named = pc.and_(named.is_valid(), pc.invert(a_file.fill_null(True)))
    if not pc.any(pc.or_(is_url, is_named)).as_py():
        return u_dict
    url_rest = _rooted(url.field("rest"))
    host = pc.if_else(is_url, url.field("host"), pc.if_else(is_named, named.field("host"), ""))
    hosts.append(_recode(host, u_idx))
    return pc.if_else(is_url, url_rest, pc.if_else(is_named, named.field("rest"), u_dict))
