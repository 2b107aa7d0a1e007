"""The record table: the one data contract between the pipeline's stages.

A chunk of parsed log lines is a ``pandas.DataFrame`` whose columns are named and typed here.
Strings are Arrow-backed; low-cardinality and repeated text (client, path, referrer, agent, ...)
is held as ``category`` whose categories are Arrow strings, so that every per-value computation
(parsing a request, classifying a path, looking up a user agent or an IP) runs once per distinct
value of the chunk, and counting is ``numpy.bincount`` over the codes.

Times: ``time`` is the instant, UTC, in seconds. ``offset`` is the UTC offset written in the log
line, in minutes, so the log's own wall-clock time is always recoverable. ``local`` is the wall
clock in the report's zone (the line's own offset unless ``--tz`` names a zone), naive, and is
what days, hours, weeks and months are cut from. ``usec`` holds the sub-second fraction a log
writes (Apache ``%{msec_frac}t``, nginx ``$msec``, ISO and W3C fractions, epoch floats), to the
microsecond: ``time`` + ``usec`` is the exact instant. Reports work in whole seconds (visits,
first/last, trends); ``logaudit records`` shows and sorts the exact instant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    meaning: str


# Columns every parser produces. ``category`` columns hold their values as categories.
COLUMNS: tuple[Column, ...] = (
    Column("time", "datetime64[s, UTC]", "instant of the request, UTC"),
    Column("offset", "int16", "UTC offset written in the log line, minutes"),
    Column("local", "datetime64[s]", "wall-clock time in the report zone (naive)"),
    Column(
        "usec",
        "int32",
        "microseconds past the second of time and local, 0..999999; 0 when the log writes "
        "whole seconds",
    ),
    Column("client", "category", "client address or host name as logged"),
    Column("user", "category", "authenticated user, '-' when none"),
    Column("method", "category", "HTTP method; '' when the request line was empty or '-'"),
    Column("path", "category", "request path, query string removed, not decoded"),
    Column("query", "category", "query string without '?', '' when none"),
    Column("protocol", "category", "HTTP protocol, e.g. HTTP/1.1; '' when absent"),
    Column("status", "int16", "HTTP status code"),
    Column("bytes", "int64", "response size in bytes, below SIZE_LIMIT; '-' counts as 0"),
    Column("referrer", "category", "Referer header as logged; '-' or '' means direct"),
    Column("agent", "category", "User-Agent header as logged"),
    Column("vhost", "category", "virtual host (host[:port]); '' when the format has none"),
    Column("response_time", "float64", "server's response time in seconds; NaN when not logged"),
    Column(
        "upstream_time",
        "float64",
        "upstream (backend) response time in seconds, summed over upstreams; NaN when not logged",
    ),
    Column("file", "category", "the input the line came from"),
    Column("line", "int64", "1-based line number within that input"),
)

# Columns added by enrichment (enrich/), each computed once per distinct value.
ENRICHED: tuple[Column, ...] = (
    Column(
        "is_page",
        "bool",
        "a page view candidate: status 200/203/304, path neither static nor a non-page",
    ),
    Column("is_static", "bool", "path ends in a static extension"),
    Column("agent_class", "category", "'person', 'crawler' or 'tool'"),
    Column("visitor", "uint64", "hash of (client, agent): the visitor key"),
    Column("day", "int32", "local calendar day, days since 1970-01-01"),
)

NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

# A response size must be below this (1 TiB): a larger one is a bad line (SIZE_REASON,
# parse._assemble). A DVD image or a backup of 4-50 GB is a real download and stays a hit.
# Any sum of up to 2**23 (8,388,608) lines' sizes fits an int64; past it a sum may not, and
# the report says so (traffic.BANDWIDTH_OVERFLOW): twelve lines of 999999999999999999 bytes
# once summed past 2**63 and printed a negative bandwidth.
SIZE_LIMIT = 1 << 40
SIZE_REASON = f"size of {SIZE_LIMIT >> 40} TiB or more"

# --log-format auto+ over formats of which some log no user agent (combined and common): a
# bool column, True on the rows read by such a format (their agent is "" as never logged),
# from the parser (``parse._mixed``) to ``Enricher.apply``, which takes it out: those rows
# are people (docs/metrics.md), the others are classified by their agent.
AGENT_UNLOGGED = "_agent_unlogged"

# A client as the history store keeps it: this prefix and 16 hex digits of a keyed hash of
# the address (``store/days.token``), never the address itself.
CLIENT_TOKEN_PREFIX = "h:"


def is_client_token(text: str) -> bool:
    """Whether ``text`` has the exact shape of a stored client token (a logged host name or an
    X-Forwarded-For value that merely starts with "h:" is still an address)."""
    return (
        len(text) == 18
        and text.startswith(CLIENT_TOKEN_PREFIX)
        and all(c in "0123456789abcdef" for c in text[2:])
    )

# Columns a parser adds only when the log format names them, after the fixed ones: one per
# cookie the format logs (Apache ``%{NAME}C``, nginx ``$cookie_NAME``), the name as written in
# the format. A format without cookies adds none, so the fixed columns cost nothing more.
# ``<NAME>`` stands for the cookie's name.
COOKIE_PREFIX = "cookie_"
DYNAMIC: tuple[Column, ...] = (
    Column(
        COOKIE_PREFIX + "<NAME>",
        "category",
        "the NAME cookie's value as logged; '-' when the request sent none",
    ),
)


def cookie_column(name: str) -> str:
    """The column holding the cookie ``name`` (``--affiliate-cookie`` reads it)."""
    return COOKIE_PREFIX + name


def cookie_columns(frame: pd.DataFrame) -> list[str]:
    """The cookie columns of a record table, in order."""
    return [c for c in frame.columns if str(c).startswith(COOKIE_PREFIX)]


def empty_chunk() -> pd.DataFrame:
    """A zero-row record table with the right columns and dtypes."""
    data: dict[str, object] = {}
    for col in COLUMNS:
        if col.dtype == "category":
            data[col.name] = pd.Categorical([], categories=pd.Index([], dtype="str"))
        elif col.dtype.startswith("datetime64[s, UTC]"):
            data[col.name] = pd.Series([], dtype="datetime64[s, UTC]")
        elif col.dtype.startswith("datetime64"):
            data[col.name] = pd.Series([], dtype="datetime64[s]")
        else:
            data[col.name] = np.array([], dtype=col.dtype)
    return pd.DataFrame(data)


def categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """A categorical from codes and categories that are distinct by construction (an Arrow
    dictionary, a factorization). ``from_codes`` would check that they are, with a hash table
    over every category, for each column of every chunk: 0.06 s per 1M lines of GIL-held
    work, on the pipeline's threads. The codes must be valid (-1 or a category's position)."""
    try:
        dtype = pd.CategoricalDtype._from_fastpath(categories, ordered=False)  # type: ignore[attr-defined]
    except AttributeError:  # a pandas without the fast path: checked, as from_codes does
        dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def hash_strings(values: pd.Index | np.ndarray) -> np.ndarray:
    """A stable 64-bit hash per string, the same in every process and partial: visitor keys
    and the path and referrer hashes in partial tables are made of these.

    ``categorize=False``: the values are distinct already (categories, an index), and
    factorizing them first, the default, made hashing seven times slower. The hashes of
    strings are the same either way (a missing value would hash differently, as its text;
    categories and table indexes hold none).

    Hashed HASH_CHUNK values at a time: the hash goes through Python string objects, and
    making all of a merged table's at once (1M distinct 130-byte agents: ~190 MB) raised the
    finish's peak memory for nothing; each value's hash is its own, so chunks change none."""
    n = len(values)
    arrow = _arrow_text(values)
    if arrow is not None:
        # As UTF-8 bytes objects straight from Arrow's buffers: pandas hashes a bytes object
        # as it is and a str by encoding it to those same bytes first, so the hashes are
        # the same, without a Python str (and its encoded copy) made per value: 2-3 x faster
        # (a block's 20,000 client addresses: 2.5 -> 0.85 ms).
        return hash_utf8(arrow)
    if n <= HASH_CHUNK:
        return pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)
    # Slices of the array, not of an Index: slicing an Index whose engine exists builds one.
    array = values.array if isinstance(values, pd.Index) else values
    out = np.empty(n, np.uint64)
    for lo in range(0, n, HASH_CHUNK):
        part = np.asarray(array[lo : lo + HASH_CHUNK], dtype=object)
        out[lo : lo + HASH_CHUNK] = pd.util.hash_array(part, categorize=False)
    return out


# Values hashed at once by hash_strings (bounds its temporary Python strings).
HASH_CHUNK = 1 << 16


def hash_utf8(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``hash_strings`` of Arrow text or binary without missing values, from each chunk's
    UTF-8 bytes as they are (no joined copy of the text), HASH_CHUNK values at a time."""
    out = np.empty(len(arr), np.uint64)
    done = 0
    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        if pa.types.is_string(chunk.type):  # the same buffers: same offsets width
            chunk = chunk.cast(pa.binary())
        elif pa.types.is_large_string(chunk.type):
            chunk = chunk.cast(pa.large_binary())
        for lo in range(0, len(chunk), HASH_CHUNK):
            part = chunk.slice(lo, HASH_CHUNK).to_numpy(zero_copy_only=False)
            out[done : done + len(part)] = pd.util.hash_array(part, categorize=False)
            done += len(part)
    return out


def _arrow_text(values: pd.Index | np.ndarray) -> pa.Array | None:
    """``values`` as an Arrow binary array of their UTF-8 bytes, when they are Arrow-backed
    text without missing values (categories, table indexes); None otherwise (a missing value
    hashes as its text "nan" through ``np.asarray``, and Arrow would give None)."""
    array = values.array if isinstance(values, pd.Index) else values
    arr = getattr(array, "_pa_array", None)  # any Arrow-backed pandas array (str, ArrowDtype)
    if arr is None:
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()  # no copy of one
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    # Same offsets width: the cast reuses the buffers.
    return arr.cast(pa.binary() if pa.types.is_string(arr.type) else pa.large_binary())


def arrow_strings(values: pd.Index | pd.Series) -> pa.Array:
    """Text values as an Arrow string array for Arrow's compute functions: without a copy
    when they are Arrow-backed already (categories, indexes of the record table), through
    Python objects otherwise. Typed either way, so that an empty or all-missing input is a
    string array, not Arrow's null type. Always one array: categories read from a W3C log
    with several ``#`` header lines are backed by a chunked array, which callers' ``.indices``
    and friends do not have (one chunk is taken as it is, several are joined)."""
    if values.dtype == "str":
        arr = pa.array(values.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
        return arr
    return pa.array(np.asarray(values, dtype=object), pa.string())


def host_names(hosts: pa.Array) -> pa.Array:
    """Virtual hosts (``host[:port]``) as one name each, the one rule the parser reads them by
    and ``--vhost`` compares by: lower case (DNS names ignore case, RFC 4343; Arrow's simple
    case mapping, so ``İ`` is ``i``), the dots ending the host dropped (``shop.example.com.``
    is the same name) unless the host is nothing but dots (``.`` is not the empty, unlogged
    host). The port stays as written."""
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(hosts)
    return pc.replace_substring_regex(lowered, r"^(.*[^.])\.+((?::[0-9]*)?)$", r"\1\2")
