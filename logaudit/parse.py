"""Bytes -> record-table chunks, with bad-line accounting.

The hot path never makes a Python object or a regex call per line:

* a block of whole lines goes through Arrow's multithreaded CSV reader (space-separated,
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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from logaudit.formats import Detected
from logaudit.sources import Block

# How many bad lines per input are kept as examples.
BAD_SAMPLES = 5
_SAMPLE_TEXT = 120

_MONTH_TIME = "[%d/%b/%Y:%H:%M:%S"
_REQUEST = r"^(?P<method>[A-Za-z][A-Za-z0-9_-]*) (?P<target>.*?)(?: (?P<protocol>[A-Za-z]+/[0-9.]+))?$"
_TARGET = r"^(?P<path>[^?]*)(?:\?(?P<query>.*))?$"


@dataclass
class BadLines:
    """Bad-line accounting for one or more blocks; merges by addition."""

    counts: dict[str, int] = field(default_factory=dict)
    parsed: dict[str, int] = field(default_factory=dict)  # good lines per input
    samples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def add(self, name: str, line: int, reason: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        s = self.samples.setdefault(name, [])
        if len(s) < BAD_SAMPLES:
            s.append((line, reason))

    def merge(self, other: BadLines) -> BadLines:
        out = BadLines(dict(self.counts), dict(self.parsed), {k: list(v) for k, v in self.samples.items()})
        for k, v in other.counts.items():
            out.counts[k] = out.counts.get(k, 0) + v
        for k, v in other.parsed.items():
            out.parsed[k] = out.parsed.get(k, 0) + v
        for k, v in other.samples.items():
            s = out.samples.setdefault(k, [])
            s.extend(v[: BAD_SAMPLES - len(s)])
        return out

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _normalise(data: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """Valid UTF-8 with nginx-style escapes; see the module docstring. Copies only when it
    has to change something."""
    buf = pa.py_buffer(data)
    probe = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(data)], np.int64)), buf]
    )
    try:
        probe.cast(pa.large_string())
    except pa.ArrowInvalid:
        # Non-UTF-8 bytes (Latin-1 paths, binary junk) are kept visibly as \xHH.
        data = bytes(data).decode("utf-8", "backslashreplace").encode("utf-8")
    raw = data.obj if isinstance(data, memoryview) else data
    if raw.find(b"\\", 0, len(data)) >= 0:
        data = bytes(data).replace(b"\\\\", b"\\x5C").replace(b'\\"', b"\\x22")
    return data


def _read_csv(data: bytes | bytearray | memoryview, columns: list[str], invalid: list[str]) -> pa.Table:
    def on_invalid(row: pcsv.InvalidRow) -> str:
        invalid.append(row.text)
        return "skip"

    return pcsv.read_csv(
        pa.BufferReader(pa.py_buffer(data)),
        read_options=pcsv.ReadOptions(
            column_names=columns, use_threads=True, block_size=max(1 << 20, len(data) // 2 + 1)
        ),
        parse_options=pcsv.ParseOptions(
            delimiter=" ",
            quote_char='"',
            double_quote=False,
            newlines_in_values=False,
            ignore_empty_lines=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pcsv.ConvertOptions(
            # Dictionary columns straight from the reader: each distinct token is stored
            # once, and everything downstream works per distinct value.
            column_types={c: pa.dictionary(pa.int32(), pa.string()) for c in columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            include_columns=[c for c in columns if not c.startswith("extra") and c != "ident"],
        ),
    )


def _split_lines(data: bytes | bytearray | memoryview) -> pa.Array:
    """The block's lines as a string array, zero-copy (each value keeps its newline)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _exact(data: bytes | bytearray | memoryview, det: Detected, block: Block, bad: BadLines) -> tuple[pa.Table, np.ndarray]:
    """The exact path: match every line with the format's pattern."""
    lines = _split_lines(data)
    columns = det.format.columns(0)
    matched = pc.extract_regex(lines, det.format.line_regex(det.extras))
    ok = np.asarray(matched.is_valid())
    if not ok.all():
        stripped = pc.utf8_trim_whitespace(lines)
        blank = np.asarray(pc.equal(stripped, ""))
        comment = np.asarray(pc.starts_with(stripped, "#"))
        bad_idx = np.flatnonzero(~ok & ~blank & ~comment)
        name = block.source.name
        for n, i in enumerate(bad_idx):
            if n >= BAD_SAMPLES - len(bad.samples.get(name, [])):
                break
            text = lines[int(i)].as_py().rstrip("\r\n")
            bad.add(name, block.first_line + int(i), _why(det, text))
        # Count the rest without building messages.
        extra = len(bad_idx) - min(len(bad_idx), BAD_SAMPLES)
        if extra > 0:
            bad.counts[name] = bad.counts.get(name, 0) + extra
    keep = np.flatnonzero(ok)
    rows = matched.filter(pa.array(ok))
    table = pa.table(
        {c: rows.field(i) for i, c in enumerate(columns)}
    )
    return table, block.first_line + keep


def _why(det: Detected, text: str) -> str:
    from logaudit.formats import tokenize

    shown = text if len(text) <= _SAMPLE_TEXT else text[:_SAMPLE_TEXT] + "..."
    tokens = tokenize(text)
    want = det.format.width + det.extras
    if text.count('"') % 2:
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
    idx = np.asarray(enc.indices.fill_null(0), dtype=np.int32)
    return idx, enc.dictionary


def _categorical(codes: np.ndarray, dictionary: pa.Array) -> pd.Categorical:
    cats = pd.Index(dictionary.cast(pa.string()).to_pandas(), dtype="str")
    return pd.Categorical.from_codes(codes, categories=cats, validate=False)


def _recode(values: pa.Array, codes: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """``values`` holds one derived string per distinct parent value; re-encode them so equal
    strings share a code, and map the parent's row codes through."""
    sub_idx, sub_dict = _dict(values.fill_null(""))
    return sub_idx[codes], sub_dict


def _offsets(tz: pa.Array) -> np.ndarray:
    """Minutes east of UTC per distinct "+0330]" token; a very small set, done in Python."""
    out = np.full(len(tz), np.iinfo(np.int16).min, dtype=np.int16)
    for i, v in enumerate(tz.to_pylist()):
        v = v or ""
        if len(v) == 6 and v[0] in "+-" and v[1:5].isdigit() and v[5] == "]":
            mins = int(v[1:3]) * 60 + int(v[3:5])
            out[i] = mins if v[0] == "+" else -mins
    return out


def parse_block(block: Block, det: Detected, bad: BadLines) -> pd.DataFrame:
    """One block of whole lines -> one record-table chunk (see ``logaudit.schema``)."""
    data = _normalise(block.data)
    columns = det.format.columns(det.extras)
    invalid: list[str] = []
    table = _read_csv(data, columns, invalid)
    if invalid or table.num_rows != block.lines:
        table, line_no = _exact(data, det, block, bad)
    else:
        table = table.unify_dictionaries().combine_chunks()
        line_no = block.first_line + np.arange(table.num_rows, dtype=np.int64)
    return _assemble(table, line_no, block.source.name, bad)


def _assemble(table: pa.Table, line_no: np.ndarray, name: str, bad: BadLines) -> pd.DataFrame:
    n = table.num_rows
    cols: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for c in table.column_names:
        if c.startswith("extra") or c == "ident":
            continue
        cols[c] = _dict(table.column(c))

    reasons: list[tuple[np.ndarray, str]] = []

    # Timestamps: strptime once per distinct "[10/Oct/2000:13:55:36" token.
    t1_idx, t1_dict = cols["t1"]
    wall = pc.strptime(t1_dict, format=_MONTH_TIME, unit="s", error_is_null=True)
    wall_ok = np.asarray(wall.is_valid())
    wall_s = np.asarray(wall.cast(pa.int64()).fill_null(0))
    t2_idx, t2_dict = cols["t2"]
    offs = _offsets(t2_dict)
    time_ok = wall_ok[t1_idx] & (offs[t2_idx] != np.iinfo(np.int16).min)
    reasons.append((~time_ok, "unreadable timestamp"))

    st_idx, st_dict = cols["status"]
    st_valid = np.asarray(pc.match_substring_regex(st_dict, r"^[1-5][0-9][0-9]$"))
    st_val = np.asarray(
        pc.if_else(pa.array(st_valid), st_dict, "0").cast(pa.int16()), dtype=np.int16
    )
    reasons.append((~st_valid[st_idx], "status is not an HTTP status code"))

    by_idx, by_dict = cols["bytes"]
    by_valid = np.asarray(pc.match_substring_regex(by_dict, r"^([0-9]{1,18}|-)$"))
    by_num = pc.if_else(
        pa.array(by_valid & np.asarray(pc.not_equal(by_dict, "-"))), by_dict, "0"
    ).cast(pa.int64())
    by_val = np.asarray(by_num, dtype=np.int64)
    reasons.append((~by_valid[by_idx], "size is not a number"))

    cl_idx, cl_dict = cols["client"]
    comment = np.asarray(pc.starts_with(cl_dict, "#"))[cl_idx]

    good = np.ones(n, dtype=bool)
    for mask, why in reasons:
        mask = mask & ~comment
        if mask.any():
            for i in np.flatnonzero(mask & good)[:BAD_SAMPLES]:
                bad.add(name, int(line_no[i]), why)
            extra = int((mask & good).sum()) - min(int((mask & good).sum()), BAD_SAMPLES)
            if extra:
                bad.counts[name] = bad.counts.get(name, 0) + extra
            good &= ~mask
    good &= ~comment
    bad.parsed[name] = bad.parsed.get(name, 0) + int(good.sum())
    sel = np.flatnonzero(good) if not good.all() else None

    def take(a: np.ndarray) -> np.ndarray:
        return a if sel is None else a[sel]

    wall_rows = take(wall_s[t1_idx])
    off_rows = take(offs[t2_idx]).astype(np.int16)
    utc = wall_rows - off_rows.astype(np.int64) * 60

    # The request line, split once per distinct request.
    rq_idx, rq_dict = cols["request"]
    parts = pc.extract_regex(rq_dict, _REQUEST)
    has = np.asarray(parts.is_valid())
    method = pc.if_else(pa.array(has), parts.field("method"), "")
    # A request that is not "METHOD target [PROTOCOL]" ("-", "", junk) is kept whole as its path.
    target = pc.if_else(pa.array(has), parts.field("target"), rq_dict)
    protocol = pc.if_else(pa.array(has), parts.field("protocol").fill_null(""), "")
    tparts = pc.extract_regex(target, _TARGET)
    path = tparts.field("path")
    query = tparts.field("query").fill_null("")
    rq_rows = take(rq_idx)

    out: dict[str, object] = {
        "time": pd.to_datetime(utc, unit="s", utc=True).astype("datetime64[s, UTC]"),
        "offset": off_rows,
        "local": wall_rows.astype("datetime64[s]"),
    }

    def cat(col: str) -> pd.Categorical:
        idx, d = cols[col]
        return _categorical(take(idx), d)

    def derived(values: pa.Array) -> pd.Categorical:
        codes, d = _recode(values, rq_rows)
        return _categorical(codes, d)

    out["client"] = cat("client")
    out["user"] = cat("user")
    out["method"] = derived(method)
    out["path"] = derived(path)
    out["query"] = derived(query)
    out["protocol"] = derived(protocol)
    out["status"] = take(st_val[st_idx])
    out["bytes"] = take(by_val[by_idx])
    m = len(wall_rows)
    empty = pa.array([""], pa.string())
    for col in ("referrer", "agent", "vhost"):
        out[col] = cat(col) if col in cols else _categorical(np.zeros(m, np.int32), empty)
    out["response_ms"] = np.full(m, np.nan)
    out["file"] = _categorical(np.zeros(m, np.int32), pa.array([name], pa.string()))
    out["line"] = take(line_no).astype(np.int64)
    return pd.DataFrame(out, copy=False)
