"""``logaudit records``: the matching requests themselves, streamed chunk by chunk.

Each block of each input is parsed, enriched and filtered exactly as for the reports (the same
``Enricher``, so ``--since``, ``--bots`` and the record filters agree with ``summary``), its
chosen fields are added (browser, OS... once per distinct agent; country, network once per
distinct client) and it is written out before the next block is read: memory stays a few blocks
deep whatever the input's size.

Sorting. Without ``--limit`` every matching row must be seen before the first is written, so
``--sort`` then holds the chosen fields of the matching rows in memory (a filter keeps that
small; the README says so). With ``--limit N`` only the best N rows so far are kept, block by
block, so memory stays flat. Ties keep input order.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa

from logaudit.analyze.timing import rounded
from logaudit.config import Settings
from logaudit.enrich.classify import Enricher, classify_agents
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import Detected, Lead, after, agent_logged, detect_or_problem
from logaudit.formats.spec import Layout
from logaudit.parse import BadLines, in_line_order, parse_block
from logaudit.render.escape import csv_cell, json_text, safe
from logaudit.schema import COOKIE_PREFIX, NAMES
from logaudit.sources import Input, InputProblem, ReadState, read_blocks

# Fields from the record table itself (schema.COLUMNS) plus enrichment, by where they come from.
AGENT_FIELDS = ("browser", "browser_version", "os", "os_version", "device", "crawler")
GEO_FIELDS = ("country_code", "country", "city", "network", "asn")
ENRICHED_FIELDS = ("agent_class", "is_page", "is_static", "visitor", "visit")
FIELDS: tuple[str, ...] = (*NAMES, *ENRICHED_FIELDS, *AGENT_FIELDS, *GEO_FIELDS)
DEFAULT_FIELDS: tuple[str, ...] = (
    "time",
    "client",
    "method",
    "path",
    "query",
    "status",
    "bytes",
    "response_time",
    "referrer",
    "agent",
)
RECORD_FORMATS: dict[str, str] = {
    "table": "aligned columns for reading (log text escaped)",
    "jsonl": "one JSON object per line",
    "csv": "CSV with a header (cells safe for spreadsheets)",
    "parquet": "Parquet, types kept (UTC time, integers, categoricals); needs -o or a pipe",
}


class RecordsError(LogauditError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...] = DEFAULT_FIELDS
    limit: int | None = None
    sort: str | None = None  # a field; '-' in front: descending

    @property
    def sort_field(self) -> str | None:
        return self.sort.lstrip("-") if self.sort else None


def parse_fields(text: str | None) -> tuple[str, ...]:
    if not text:
        return DEFAULT_FIELDS
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if not _known(f)]
    if unknown or not chosen:
        raise RecordsError(
            f"--fields: unknown field {', '.join(map(repr, unknown)) or '(none)'}; "
            f"choose from {', '.join(FIELDS)}, or {COOKIE_PREFIX}NAME for a logged cookie"
        )
    return tuple(dict.fromkeys(chosen))


def _known(field: str) -> bool:
    """A fixed field, or ``cookie_NAME``: a cookie the log format writes (``%{NAME}C``,
    ``$cookie_NAME``); empty where a log does not carry it."""
    return field in FIELDS or (
        field.startswith(COOKIE_PREFIX) and len(field) > len(COOKIE_PREFIX)
    )


def _with_cookies(chunk: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    """``chunk`` with a null column for each asked-for cookie its log does not carry."""
    for f in fields:
        if f.startswith(COOKIE_PREFIX) and f not in chunk.columns:
            chunk[f] = pd.Categorical([None] * len(chunk), categories=pd.Index([], dtype="str"))
    return chunk


def check_sort(sort: str | None) -> str | None:
    if sort and not _known(sort.lstrip("-")):
        raise RecordsError(f"--sort: unknown field {sort.lstrip('-')!r} (prefix - to reverse)")
    return sort


@dataclass
class Result:
    rows: int
    problems: list[InputProblem]
    bad: BadLines
    layouts: list[Layout] = field(default_factory=list)  # the inputs' detected formats
    notes: list[str] = field(default_factory=list)  # said once on stderr (no GeoIP database)
    # records --follow ended by SIGTERM/SIGHUP (a procs.Stopped): raised again once the
    # output is written and the summary said, for exit 143/129.
    stopped: KeyboardInterrupt | None = None


class Visits:
    """The ``visit`` field: '<visitor key in hex>-<n>', the visitor's n-th visit, on people's
    page views (METRICS.md: a visit is a run of one visitor's page views with no gap over the
    timeout); other rows have none. Streaming, it keeps each visitor's last page view and
    visit number, and assumes the lines come in time order, as logs and rotated sets do."""

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout
        self.state: dict[int, tuple[int, int]] = {}  # visitor -> (last page view, visit no.)

    def __call__(self, chunk: pd.DataFrame) -> pd.Categorical:
        rows = np.flatnonzero(chunk["is_page"].to_numpy() & chunk["person"].to_numpy())
        out = np.full(len(chunk), -1, np.int64)
        labels: list[str] = []
        if len(rows):
            v = chunk["visitor"].to_numpy()[rows]
            t = chunk["time"].array.asi8[rows]
            order = np.lexsort((t, v))
            v, t, rows = v[order], t[order], rows[order]
            first = np.r_[True, v[1:] != v[:-1]]
            start = np.zeros(len(v), bool)
            start[1:] = (t[1:] - t[:-1]) > self.timeout
            heads = np.flatnonzero(first)
            base = np.zeros(len(heads), np.int64)
            for k, i in enumerate(heads.tolist()):
                last = self.state.get(int(v[i]))
                if last is None or t[i] - last[0] > self.timeout:
                    start[i] = True
                    base[k] = 0 if last is None else last[1]
                else:
                    start[i] = False
                    base[k] = last[1]
            sizes = np.diff(np.r_[heads, len(v)])
            cs = np.cumsum(start)
            before = np.repeat(cs[heads] - start[heads], sizes)
            number = np.repeat(base, sizes) + cs - before
            tails = np.r_[heads[1:], len(v)] - 1
            for i in tails.tolist():
                self.state[int(v[i])] = (int(t[i]), int(number[i]))
            text = [f"{int(a):016x}-{int(n)}" for a, n in zip(v, number, strict=True)]
            codes, uniq = pd.factorize(np.asarray(text, dtype=object), sort=False)
            out[rows] = codes
            labels = list(uniq)
        return pd.Categorical.from_codes(out, categories=pd.Index(labels, dtype="str"))


class _Enrich:
    """Adds the agent and GeoIP fields a query asks for, once per distinct value."""

    def __init__(self, settings: Settings, fields: tuple[str, ...]) -> None:
        self.visits = Visits(settings.visit_timeout) if "visit" in fields else None
        self.agent = [f for f in fields if f in AGENT_FIELDS]
        self.feeds = "agent_class" in fields
        self.geo_cols = [f for f in fields if f in GEO_FIELDS]
        self.geo: Callable[[pd.Index], pd.DataFrame] | None = None
        self.hint: str | None = None  # no GeoIP database for a field asked: said once
        if self.geo_cols:
            from logaudit.enrich.geo import GeoDatabases, GeoLookup

            dbs = GeoDatabases.discover(settings.geoip_dir)
            self.geo = GeoLookup(dbs).lookup
            self.hint = dbs.missing_hint(set(self.geo_cols))

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        if self.visits is not None:
            chunk["visit"] = self.visits(chunk)
        if self.agent:
            cat = chunk["agent"].array
            table = classify_agents(pd.Index(cat.categories))
            codes = np.asarray(cat.codes)
            for f in self.agent:
                chunk[f] = _spread(table[f], codes)
        if self.feeds and "agent_class" in chunk:
            chunk["agent_class"] = _with_feeds(chunk["agent"].array, chunk["agent_class"].array)
        if self.geo is not None:
            cat = chunk["client"].array
            table = self.geo(pd.Index(cat.categories))
            codes = np.asarray(cat.codes)
            for f in self.geo_cols:
                if f == "asn":
                    chunk[f] = pd.array(table[f].to_numpy(), dtype="Int64")[codes]
                else:
                    chunk[f] = _spread(table[f], codes)
        return chunk


def _with_feeds(agent: pd.Categorical, classes: pd.Categorical) -> pd.Categorical:
    """The agent_class column with 'feed' where the agents table (and so the crawlers panel)
    says so: the record table's column counts a feed reader as a crawler (code 1, a robot).
    Only the crawlers' agents are looked up (robots are few among distinct agents), and only
    crawler rows change: a row without a logged agent stays a person."""
    crawler = np.asarray(classes.codes) == 1
    if not crawler.any():
        return classes
    codes = np.asarray(agent.codes)
    robots = np.unique(codes[crawler & (codes >= 0)])
    kinds = classify_agents(pd.Index(agent.categories.take(robots)))["agent_class"]
    feeds = robots[np.asarray(kinds.astype("str")) == "feed"]
    feed = crawler & np.isin(codes, feeds)
    if not feed.any():
        return classes
    out = np.asarray(classes.astype("str"), object)
    out[feed] = "feed"
    return pd.Categorical(out, categories=pd.Index(["person", "crawler", "tool", "feed"]))


def _spread(values: pd.Series, codes: np.ndarray) -> pd.Categorical:
    """One value per category -> a categorical column over the rows (values repeat: the few
    browsers or countries become the categories)."""
    vcodes, uniq = pd.factorize(values.astype("str"), sort=False)
    return pd.Categorical.from_codes(
        np.asarray(vcodes)[codes], categories=pd.Index(uniq, dtype="str")
    )


def chunks(
    inputs: list[Input],
    settings: Settings,
    fields: tuple[str, ...],
    state: ReadState,
    bad: BadLines,
    seen: Result | None = None,
) -> Iterator[pd.DataFrame]:
    """The matching rows of every block, in input order, with only ``fields``; input problems
    and bad lines are recorded in ``state`` and ``bad``, each input's format and the notes
    to say in ``seen``."""
    from logaudit import anonymize

    enricher = Enricher(settings)
    extra = _Enrich(settings, fields)
    if seen is not None and extra.hint:
        seen.notes.append(extra.hint)
    anon = anonymize.of_settings(settings)
    for inp in inputs:
        det = None
        head = Lead(inp.header)  # detected from as the reports detect (engine/local.py)
        since = len(state.problems)
        for block in read_blocks(inp, state):
            if det is None:
                first = head.first(block.data)
                if first is None:  # nothing to parse: detect on what follows
                    continue
                det = _detect(first, inp, settings, state, seen)
                if det is None:
                    break
            bad.runs_of(block)  # NUL runs: counted apart, as the reports do
            chunk = in_line_order(parse_block(block, det, bad))
            det = after(det, block.data)  # a W3C #Fields: header changes the next blocks
            chunk = enricher.apply(chunk, has_agent=agent_logged(det))
            if len(chunk):
                chunk = _with_cookies(extra(chunk), fields)
                chunk = _exact_times(chunk, fields)
                chunk = _spelled_durations(chunk, fields)
                if anon is not None:  # after GeoIP and visits, before anything is written
                    chunk = anonymize.frame(chunk[list(fields)], anon)
                yield chunk[list(fields)]
        if det is None and len(state.problems) == since:
            # No log line at all: said as the reports say it (or, with --log-format, empty).
            _detect(head.data, inp, settings, state, seen)


def _detect(
    data: bytes | bytearray | memoryview,
    inp: Input,
    settings: Settings,
    state: ReadState,
    seen: Result | None,
) -> Detected | None:
    """The input's format (noted in ``seen``), or None with its problem in ``state``."""
    det = detect_or_problem(data, inp, settings, state)  # as the reports do
    if det is not None and seen is not None:
        seen.layouts.append(det.format)
    return det


def _exact_times(chunk: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    """``time`` and ``local`` to the millisecond, with the fraction the log wrote (schema:
    ``usec``), so that records show it and ``--sort time`` orders requests within a second.
    Milliseconds: Parquet's unit for times already; ``usec`` has the microseconds."""
    if "usec" not in chunk.columns:
        return chunk
    ms = (chunk["usec"].to_numpy() // 1000).astype("timedelta64[ms]")
    for col in ("time", "local"):
        if col in fields:
            chunk[col] = chunk[col].dt.as_unit("ms") + ms
    return chunk


def _spelled_durations(chunk: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    """``response_time`` and ``upstream_time`` spelled as the reports spell a time
    (``timing.rounded``: to the microsecond), in every format and for ``--sort``: an upstream
    time is a sum (nginx's "0.004, 0.005 : 0.001") and was written 0.010000000000000002.
    Rounded once per distinct value: a log's durations are few next to its lines."""
    for col in ("response_time", "upstream_time"):
        if col in fields and col in chunk.columns:
            codes, uniq = pd.factorize(chunk[col].to_numpy(), sort=False)
            spelled = np.array([rounded(v) for v in uniq.tolist()] + [np.nan], np.float64)
            chunk[col] = spelled[codes]  # code -1 (no time logged) takes the NaN at the end
    return chunk


def _top(rows: pd.DataFrame, field: str, descending: bool, n: int | None) -> pd.DataFrame:
    ordered = rows.sort_values(field, ascending=not descending, kind="stable", na_position="last")
    return ordered if n is None else ordered.head(n)


def select(
    inputs: list[Input], settings: Settings, query: Query
) -> Iterator[pd.DataFrame | Result]:
    """Frames of matching rows to write, in order, then one Result."""
    fields = query.fields
    need = fields if query.sort_field in (None, *fields) else (*fields, str(query.sort_field))
    held: list[pd.DataFrame] = []
    written = 0
    state, bad = ReadState(), BadLines()
    seen = Result(0, state.problems, bad)
    for chunk in chunks(inputs, settings, tuple(need), state, bad, seen):
        if query.sort_field is None:
            if query.limit is not None:
                chunk = chunk.head(query.limit - written)
            if len(chunk):
                written += len(chunk)
                yield chunk
            if query.limit is not None and written >= query.limit:
                break
        else:
            held.append(chunk)
            if query.limit is not None:
                both = pd.concat(held, ignore_index=True)
                held = [_top(both, query.sort_field, query.sort.startswith("-"), query.limit)]  # type: ignore[union-attr]
    if query.sort_field is not None and held:
        both = pd.concat(held, ignore_index=True) if len(held) > 1 else held[0]
        out = _top(both, query.sort_field, str(query.sort).startswith("-"), query.limit)
        written = len(out)
        yield out[list(fields)]
    seen.rows = written
    yield seen


# ---- writers: one per --format, each taking frames in turn --------------------------------


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


class Writer:
    def write(self, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class JsonlWriter(Writer):
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, frame: pd.DataFrame) -> None:
        cols = list(frame.columns)
        for row in frame.itertuples(index=False, name=None):
            obj = {c: _plain(v) for c, v in zip(cols, row, strict=True)}
            # As the JSON report: C1 controls, bidi overrides, U+2028... as \uXXXX.
            self.out.write(json_text(json.dumps(obj, ensure_ascii=False)) + "\n")


class CsvWriter(Writer):
    def __init__(self, out: TextIO) -> None:
        self.w = csv.writer(out, lineterminator="\n")  # as the report CSV
        self.header = False

    def write(self, frame: pd.DataFrame) -> None:
        if not self.header:
            self.w.writerow(frame.columns)
            self.header = True
        for row in frame.itertuples(index=False, name=None):
            self.w.writerow(
                [
                    "" if (p := _plain(v)) is None else csv_cell(p) if isinstance(p, str) else p
                    for v in row
                ]
            )


# Widths of the table format's columns; longer text is cut with '…' (jsonl keeps it whole).
# Values of a fixed form are never cut: a time to the millisecond (with its offset, 32; local,
# 26) and a 64-bit visitor key (20 digits).
_WIDTH = {
    "time": 32, "local": 26, "visitor": 20, "client": 39, "path": 50, "referrer": 40,
    "agent": 50, "query": 30, "visit": 24,
}  # fmt: skip


# A numeric column is as wide as its widest value in the first block, up to this (a double's
# shortest text is at most 24 characters); a wider number later pushes its row, never is cut.
_NUMBER_WIDTH = 24


def _numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)


class TableWriter(Writer):
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.header = False
        self.widths: list[int] = []

    def _cell(self, col: str, v: Any) -> str:
        p = _plain(v)
        text = "-" if p is None else safe(p)
        if isinstance(p, (int, float)):
            return text  # a number is shown whole (its column widens), never cut: 123456…
        w = _WIDTH.get(col, 16)
        return text if len(text) <= w else text[: w - 1] + "…"

    def write(self, frame: pd.DataFrame) -> None:
        cols = list(frame.columns)
        if not self.widths:
            # As wide as the first block's values need, within each column's cap.
            self.widths = [
                max(
                    len(c),
                    min(
                        max(_WIDTH.get(c, 16), _NUMBER_WIDTH if _numeric(frame[c]) else 0),
                        max((len(self._cell(c, v)) for v in frame[c]), default=0),
                    ),
                )
                for c in cols
            ]
        widths = self.widths
        if not self.header:
            head = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
            self.out.write(head.rstrip() + "\n")
            self.header = True
        for row in frame.itertuples(index=False, name=None):
            cells = [self._cell(c, v).ljust(w) for c, v, w in zip(cols, row, widths, strict=True)]
            self.out.write("  ".join(cells).rstrip() + "\n")


class ParquetWriter(Writer):
    """One row group per frame, its dictionaries only the values its rows hold; the schema
    of the first frame is the file's (later frames are cast to it, so a chunk whose categories
    happen to be empty cannot change it)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.writer: Any = None
        self.schema: pa.Schema | None = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow.parquet as pq

        # A category no row uses is dropped: Parquet stores each column's dictionary, and a
        # filtered export held every client address, query, referrer and agent of the block.
        frame = frame.assign(
            **{
                c: frame[c].cat.remove_unused_categories()
                for c in frame.columns
                if isinstance(frame[c].dtype, pd.CategoricalDtype)
            }
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.schema = file_schema(table.schema)
            self.writer = pq.ParquetWriter(self.out, self.schema, coerce_timestamps=None)
        table = table.cast(self.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def file_schema(schema: pa.Schema) -> pa.Schema:
    """The Parquet file's Arrow schema: dictionaries indexed by int32 (a later block may have
    more distinct values than the first), and times in milliseconds, Parquet's coarsest unit,
    so that what is read back is exactly what was written."""
    out = []
    for f in schema:
        t = f.type
        if pa.types.is_dictionary(t):
            t = pa.dictionary(pa.int32(), t.value_type)
        elif pa.types.is_timestamp(t) and t.unit == "s":
            t = pa.timestamp("ms", tz=t.tz)
        out.append(f.with_type(t))
    return pa.schema(out, metadata=schema.metadata)


def writer_for(fmt: str, out: TextIO) -> Writer:
    if fmt == "parquet":
        out.flush()
        return ParquetWriter(out.buffer)
    return {"jsonl": JsonlWriter, "csv": CsvWriter, "table": TableWriter}[fmt](out)


def empty_frame(settings: Settings, fields: tuple[str, ...]) -> pd.DataFrame:
    """A zero-row frame with the fields' types, so an empty result still has its columns."""
    from logaudit.schema import empty_chunk

    chunk = Enricher(settings).apply(empty_chunk())
    chunk = _Enrich(Settings(), tuple(f for f in fields if f in AGENT_FIELDS))(chunk)
    for f in fields:
        if f not in chunk:
            chunk[f] = (
                pd.array([], dtype="Int64")
                if f == "asn"
                else pd.Categorical([], categories=pd.Index([], dtype="str"))
            )
    return chunk[list(fields)]


def write(inputs: list[Input], settings: Settings, query: Query, fmt: str, out: TextIO) -> Result:
    """Stream the matching rows of ``inputs`` to ``out`` in ``fmt``; the Result counts them."""
    w = writer_for(fmt, out)
    wrote_any = False
    result = Result(0, [], BadLines())
    try:
        for item in select(inputs, settings, query):
            if isinstance(item, Result):
                result = item
            else:
                w.write(item)
                wrote_any = True
        if not wrote_any and fmt in ("parquet", "csv", "table") and any(result.bad.parsed.values()):
            # An empty result still has its columns; a read that parsed no line (a log of
            # no known format, a missing file) fails with nothing on stdout, as summary does.
            w.write(empty_frame(settings, query.fields))
    finally:
        w.close()
    return result
