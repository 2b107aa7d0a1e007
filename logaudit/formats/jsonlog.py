"""JSON access logs with their own keys (Caddy, Traefik), read with Arrow's JSON reader.

A family here names, per record field, the key path that holds it (``request.headers.User-Agent``;
a list gives its first item; ``a|b``: the first of two paths present). A block is read by
``pyarrow.json`` in one call; a block it refuses (a line that is not JSON, a key whose type
changes between lines) is halved until the bad lines are alone, so one bad line costs a few
more reads of ever smaller pieces, and is reported with its line number. A whole block is read
with the key paths the last one had declared and every other key skipped (``_hint``). Values
leave as the text columns every other family produces (numbers in plain decimals, as text
codes), and go through the same assembly (``parse._assemble``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

from logaudit.formats.later import Later
from logaudit.formats.spec import Layout, Piece, Token

# numpy and pyarrow are imported when a block is read, not with the registry (FAMILIES):
# `logaudit formats` and --help must not load the data stack (issue #18).
if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj
else:
    np = Later("numpy")
    pa = Later("pyarrow")
    pc = Later("pyarrow.compute")
    pj = Later("pyarrow.json")

_CADDY_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0"
)


def json_layout(
    name: str, title: str, fields: dict[str, Piece], samples: tuple[str, ...], aliases=()
) -> Layout:
    """``fields``: key path -> the piece it fills."""
    tokens = tuple(Token(f"k{i}", (piece,)) for i, piece in enumerate(fields.values()))
    return Layout(
        name,
        title,
        "JSON keys: " + ", ".join(fields),
        tokens,
        ("",) * (len(tokens) + 1),
        None,
        samples=samples,
        family="jsonkeys",
        aliases=tuple(aliases),
        keys=tuple(fields),
    )


CADDY = json_layout(
    "caddy",
    "Caddy's JSON access log",
    {
        "ts": Piece("time", "ts", "E"),
        "request.client_ip|request.remote_ip": Piece("client", "client_ip"),
        "user_id": Piece("user", "user_id"),
        "request.method": Piece("method", "method"),
        "request.uri": Piece("request_uri", "uri"),
        "request.proto": Piece("protocol", "proto"),
        "request.host": Piece("vhost", "host"),
        "status": Piece("status", "status"),
        "size": Piece("bytes", "size"),
        "request.headers.Referer": Piece("referrer", "Referer"),
        "request.headers.User-Agent": Piece("agent", "User-Agent"),
        "duration": Piece("response_time", "duration", "s"),
    },
    (
        '{"level":"info","ts":1703373474.8155608,"logger":"http.log.access","msg":"handled '
        'request","request":{"remote_ip":"1.2.3.4","remote_port":"64985","client_ip":"1.2.3.4",'
        '"proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/beta/?x=1","headers":'
        '{"Te":["trailers"],"User-Agent":["' + _CADDY_AGENT + '"]}},"bytes_read":0,'
        '"user_id":"","duration":0.001335486,"size":3609,"status":200,"resp_headers":'
        '{"Content-Type":["text/html"]}}',
    ),
    aliases=("CADDY",),
)

TRAEFIK_JSON = json_layout(
    "traefik-json",
    "Traefik's JSON access log",
    {
        "StartUTC": Piece("time", "StartUTC", "iso"),
        "ClientHost": Piece("client", "ClientHost"),
        "ClientUsername": Piece("user", "ClientUsername"),
        "RequestMethod": Piece("method", "RequestMethod"),
        "RequestPath": Piece("request_uri", "RequestPath"),
        "RequestProtocol": Piece("protocol", "RequestProtocol"),
        "RequestHost": Piece("vhost", "RequestHost"),
        "DownstreamStatus": Piece("status", "DownstreamStatus"),
        "DownstreamContentSize": Piece("bytes", "DownstreamContentSize"),
        "request_Referer": Piece("referrer", "request_Referer"),
        "request_User-Agent": Piece("agent", "request_User-Agent"),
        "Duration": Piece("response_time", "Duration", "ns"),
    },
    (
        '{"ClientAddr":"172.20.0.1:52458","ClientHost":"1.2.3.4","ClientPort":"52458",'
        '"ClientUsername":"-","request_User-Agent":"Prometheus/2.40.5","DownstreamContentSize":'
        '15,"DownstreamStatus":200,"Duration":10002425284,"RequestHost":"localhost",'
        '"RequestMethod":"GET","RequestPath":"/my/app/auth?id=1234","RequestProtocol":"HTTP/1.1",'
        '"StartUTC":"2023-08-11T11:39:21.773360139Z","level":"info","msg":""}',
    ),
)

# The nginx log_format Matomo's log importer documents ("generation_time_milli" holds
# $request_time, in seconds, whatever its name says).
MATOMO_NGINX = json_layout(
    "nginx-json",
    "nginx JSON as Matomo's log importer documents it",
    {
        "date": Piece("time", "date", "iso"),
        "ip": Piece("client", "ip"),
        "host": Piece("vhost", "host"),
        "path": Piece("request_uri", "path"),
        "status": Piece("status", "status"),
        "length": Piece("bytes", "length"),
        "referrer": Piece("referrer", "referrer"),
        "user_agent": Piece("agent", "user_agent"),
        "generation_time_milli": Piece("response_time", "generation_time_milli", "s"),
    },
    (
        '{"idsite":1,"ip": "1.2.3.4","host": "www.piwik.org","path": "/piwik.php?idsite=1&rec=1",'
        '"status": "200","referrer": "http://clearcode.cc/","user_agent": "Mozilla/5.0 '
        "(Windows NT 6.1; WOW64) AppleWebKit/537.17 (KHTML, like Gecko) Chrome/24.0.1312.57 "
        'Safari/537.17","length": 192,"generation_time_milli": 0.008,'
        '"date": "2013-10-10T16:52:00+02:00"}',
    ),
)

FAMILIES = (CADDY, TRAEFIK_JSON, MATOMO_NGINX)


# nginx JSON templates (family "json"): a flat object whose every value is one variable, quoted,
# or bare when nginx always writes it as a number. Such a template is read with Arrow's JSON
# reader by its keys (three times faster than one RE2 match per line); others by the pattern.
_KEY_SEP = re.compile(r'^(?:\{|"?,)"(?P<key>[A-Za-z0-9_@.-]+)":(?P<q>"?)$')
_BARE_NUMBERS = {("status", ""), ("bytes", ""), ("response_time", "s"), ("time", "E")}


@lru_cache(maxsize=32)
def keyed(layout: Layout) -> Layout | None:
    """The template ``layout`` as a layout read by its keys, or None when it is not a flat
    object of one variable per key (literal text around a value, an unquoted value nginx may
    write as "-", a key used twice)."""
    if layout.family != "json" or not layout.tokens:
        return None
    keys: list[str] = []
    for i, tok in enumerate(layout.tokens):
        m = _KEY_SEP.match(layout.separators[i])
        piece = tok.single
        if m is None or piece is None or len(tok.pieces) != 1 or m["key"] in keys:
            return None
        quoted = m["q"] == '"'
        closing = layout.separators[i + 1][:1]
        if quoted != (closing == '"'):
            return None
        if not quoted and (piece.role, piece.kind) not in _BARE_NUMBERS:
            return None
        if piece.role == "time" and piece.kind != "iso" and quoted:
            return None  # a quoted epoch or clock: Arrow would keep it text, fine, but rare
        keys.append(m["key"])
    if layout.separators[-1] not in ('"}', "}"):
        return None
    return replace(layout, family="jsonkeys", keys=tuple(keys))


def nginx_escapes(table: pa.Table) -> pa.Table:
    """Text as the pattern path leaves it: a quote and a backslash written as nginx writes them
    outside JSON (\\x22, \\x5C), so a template read by its keys gives the same values."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            cols[name] = col  # a number's text: neither quote nor backslash
            continue
        if (
            pc.any(pc.match_substring(col, "\\")).as_py()
            or pc.any(pc.match_substring(col, '"')).as_py()
        ):
            col = pc.replace_substring(col, "\\", "\\x5C")
            col = pc.replace_substring(col, '"', "\\x22")
        cols[name] = col
    return pa.table(cols)


def fits(layout: Layout, line: str) -> bool:
    """Whether one sampled line is a JSON object with this family's time, request and status
    keys (Python's json, on a few sampled lines only)."""
    import json  # here: not with the registry (`logaudit formats`)

    # Detection's samples carry Apache's escapes rewritten (\x22, \x5C): JSON's, back.
    line = line.replace("\\x22", '\\"').replace("\\x5C", "\\\\")
    if too_deep(line.encode("utf-8", "surrogatepass")):
        return False  # a bad line, as ``read`` counts it
    try:
        obj = json.loads(line)
    except ValueError:
        # Not one the decoder takes (bad syntax, a number of thousands of digits): a bad
        # line, as Arrow's reader counts it.
        return False
    if not isinstance(obj, dict):
        return False
    needed = [k for k, t in zip(layout.keys, layout.tokens, strict=True) if _required(t)]
    return all(_lookup(obj, k) is not None for k in needed)


def _required(t: Token) -> bool:
    return t.pieces[0].role in ("time", "status", "request_uri")


def lacks_request(obj: dict, layout: Layout) -> bool:
    """Whether a decoded line has no request path (the request_uri key), as ``read`` finds
    it absent or null (``_columns``)."""
    return any(
        _lookup(obj, k) is None
        for k, t in zip(layout.keys, layout.tokens, strict=True)
        if t.pieces[0].role == "request_uri"
    )


def _lookup(obj: object, path: str) -> object:
    for alt in path.split("|"):
        cur: object = obj
        for part in alt.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if isinstance(cur, list):
            cur = cur[0] if cur else None
        if cur is not None:
            return cur
    return None


def read(
    data: bytes | bytearray | memoryview, layout: Layout, first_line: int
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """(table of text columns named by the layout's tokens, line numbers of its rows, line
    numbers of the lines that are not JSON objects)."""
    from logaudit import octets as _octets  # numpy: not with the registry

    octets = np.frombuffer(data, np.uint8)
    ends = _octets.where(octets, 10)  # a line is hundreds of bytes: a slice at a time pays
    starts = np.concatenate([[0], ends + 1])
    if len(starts) and starts[-1] >= len(data):
        starts = starts[:-1]
    stops = np.concatenate([ends, [len(data)]])[: len(starts)]
    blank = _blank_lines(data, octets, starts, stops)
    tables: list[pa.Table] = []
    rows: list[np.ndarray] = []
    bad: list[int] = []
    lo = 0
    for i in lines_too_deep(data, octets, starts, stops):
        # Never given to Arrow, whose reader recurses in C and overflows the stack.
        _read_range(data, starts, stops, blank, lo, i, layout, tables, rows, bad)
        bad.append(i)
        lo = i + 1
    _read_range(data, starts, stops, blank, lo, len(starts), layout, tables, rows, bad)
    if len(tables) > 1:
        # Pieces around bad lines: one key may be a number in one and text in another.
        table = pa.concat_tables([_plain(t) for t in tables])
        line_no = first_line + np.concatenate(rows)
    elif tables:
        table = tables[0]
        line_no = first_line + np.concatenate(rows)
    else:
        table = pa.table({t.name: pa.array([], pa.string()) for t in layout.tokens})
        line_no = np.zeros(0, np.int64)
    return table, line_no, first_line + np.asarray(bad, dtype=np.int64)


# Objects and arrays nested deeper than this make a line bad, in detection (``fits``) and
# reading (``read``) alike: Arrow's reader recurses in C until the process dies (near 15,000
# levels on an 8 MB stack, fewer on a thread's), Python's json near 1,000 levels less the
# caller's stack. An access log nests a few levels.
_NESTING = 512
# A JSON string: its brackets do not nest.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def too_deep(line: bytes) -> bool:
    """Whether one line nests objects and arrays deeper than ``_NESTING`` (its brackets counted
    outside strings, whatever the line is otherwise)."""
    if line.count(b"{") + line.count(b"[") <= _NESTING:
        return False  # (detection's few lines: no numpy)
    octets = np.frombuffer(_STRING.sub(b"", line), np.uint8)
    step = (octets == 123).astype(np.int64) + (octets == 91) - (octets == 125) - (octets == 93)
    return int(np.cumsum(step).max(initial=0)) > _NESTING


def lines_too_deep(
    data: bytes | bytearray | memoryview, octets: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> list[int]:
    """The lines (indices) that nest deeper than ``_NESTING``. A line needs more "{" and "["
    than that: they are counted per 4 KB of the block in one numpy pass (~2-4 ms a 16 MB
    block), a line holds at most those of the pieces it touches, and only lines that may
    hold enough (none in an access log: a Caddy line has a dozen) are looked at one by one."""
    from logaudit import octets as _octets  # numpy: not with the registry

    counts = [np.zeros(1, np.int64)]
    # Two buffers reused slice after slice: fresh temporaries would pay their page faults.
    folded = np.empty(_octets.STEP, np.uint8)
    found = np.empty(_octets.STEP, bool)
    for k in range(0, len(octets), _octets.STEP):  # STEP: a multiple of _PIECE
        piece = octets[k : k + _octets.STEP]
        n = len(piece)
        # "[" is "{" with bit 5 clear, and no other byte is either with it set.
        np.bitwise_or(piece, 32, out=folded[:n])
        opening = np.equal(folded[:n], 123, out=found[:n]).view(np.uint8)
        whole = n // _PIECE * _PIECE
        counts.append(opening[:whole].reshape(-1, _PIECE).sum(axis=1, dtype=np.uint16))
        if whole < n:
            counts.append(np.array([np.count_nonzero(opening[whole:])]))
    before = np.cumsum(np.concatenate(counts))  # openings before each piece
    most = before[(stops - 1) // _PIECE + 1] - before[starts // _PIECE]
    return [
        i
        for i in np.flatnonzero(most > _NESTING).tolist()
        if too_deep(bytes(data[int(starts[i]) : int(stops[i])]))
    ]


_PIECE = 4096


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary-encoded columns as plain text."""
    return pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names})


def _blank_lines(
    data: bytes | bytearray | memoryview, octets: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> np.ndarray:
    """Lines holding only blanks: those that are empty or start with a blank are checked one
    by one (a JSON line starts with "{", so they are few)."""
    empty = stops <= starts
    first = np.full(len(starts), 0, np.uint8)
    first[~empty] = octets[starts[~empty]]
    odd = np.flatnonzero(~empty & np.isin(first, np.frombuffer(b" \t\r", np.uint8)))
    blank = empty.copy()
    for i in odd:
        blank[i] = not bytes(data[int(starts[i]) : int(stops[i])]).strip()
    return blank


def _read_range(
    data: bytes | bytearray | memoryview,
    starts: np.ndarray,
    stops: np.ndarray,
    blank: np.ndarray,
    lo: int,
    hi: int,
    layout: Layout,
    tables: list[pa.Table],
    rows: list[np.ndarray],
    bad: list[int],
) -> None:
    if lo >= hi:
        return
    lines = np.arange(lo, hi)
    lines = lines[~blank[lo:hi]]
    if not len(lines):
        return
    whole = lo == 0 and hi == len(starts)
    # Arrow would read an ISO time as a UTC timestamp and drop its offset: the time keys stay
    # text. A whole block is read with what the last whole block declared (``_HINTS``, see
    # ``_hint``): the layout's key paths with the types Arrow inferred there, every other key
    # skipped, when that block had them all; else its text fields, Arrow inferring the rest.
    # When the declaration does not fit, the block is read again without it.
    hint = _HINTS.get(layout) if whole else None
    schema = _text_keys(layout)
    behaviour = "infer"
    if hint is not None:
        declared, behaviour = hint
        schema = pa.schema([*schema, *(f for f in declared if f.name not in schema.names)])
    stop = int(stops[hi - 1])
    if stop < len(data) and data[stop] == 10:
        piece = memoryview(data)[int(starts[lo]) : stop + 1]  # its own newline: no copy
    else:
        piece = memoryview(b"".join((memoryview(data)[int(starts[lo]) : stop], b"\n")))
    try:
        t = pj.read_json(
            pa.BufferReader(pa.py_buffer(piece)),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(piece) + 1),
            parse_options=pj.ParseOptions(
                newlines_in_values=False,
                explicit_schema=schema,
                unexpected_field_behavior=behaviour,
            ),
        )
        ok = t.num_rows == len(lines)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = False
    if hint is not None and not ok:
        _HINTS.pop(layout, None)
        _read_range(data, starts, stops, blank, lo, hi, layout, tables, rows, bad)
        return
    if ok:
        if whole and hint is None:
            _HINTS[layout] = _hint(t.schema, layout)
        lines = lines.astype(np.int64)
        columns, missing = _columns(t, layout)
        if missing is not None:
            # An object without the request (Caddy's "request" absent, or not an object):
            # a bad line, not a hit with an empty client, method and path. (Rare: the rest
            # is read again, so its columns are what a block without that line gives.)
            bad.extend(lines[missing].tolist())
            t, lines = t.filter(pa.array(~missing)), lines[~missing]
            columns = _columns(t, layout)[0]
        tables.append(columns)
        rows.append(lines)
        return
    if hi - lo == 1:
        bad.append(lo)
        return
    mid = (lo + hi) // 2
    _read_range(data, starts, stops, blank, lo, mid, layout, tables, rows, bad)
    _read_range(data, starts, stops, blank, mid, hi, layout, tables, rows, bad)


# Per layout, what the last block read whole declares to the next (see _read_range, _hint).
_HINTS: dict[Layout, tuple[pa.Schema, str]] = {}


def _hint(schema: pa.Schema, layout: Layout) -> tuple[pa.Schema, str]:
    """(schema, unexpected-field behaviour) to read the next whole block with, from the schema
    Arrow inferred for this one. When every key path of the layout (each alternative of
    ``a|b``) is there: those paths alone with their types, other keys ignored, so Arrow
    neither stores nor converts them (Caddy's "level", "logger", "msg", the headers nobody
    reads: 8-10 % of the reader's time on the benchmark's lines, more with real headers). A
    path missing from this block (a header no request sent yet) may appear in the next: then
    only the text fields are declared and Arrow infers the rest, keeping every key."""
    needed: dict[str, dict] = {}
    for path in layout.keys:
        for alt in path.split("|"):
            node = needed
            for part in alt.split("."):
                node = node.setdefault(part, {})

    def pruned(ty: pa.DataType, want: dict[str, dict]) -> pa.DataType | None:
        if not want:
            return ty
        if not pa.types.is_struct(ty):
            return None
        kids = []
        for name, sub in want.items():
            i = ty.get_field_index(name)
            kid = pruned(ty.field(i).type, sub) if i >= 0 else None
            if kid is None:
                return None
            kids.append(pa.field(name, kid))
        return pa.struct(kids)

    fields = []
    for name, sub in needed.items():
        i = schema.get_field_index(name)
        ty = pruned(schema.field(i).type, sub) if i >= 0 else None
        if ty is None:
            return _text_fields(schema), "infer"
        fields.append(pa.field(name, ty))
    return pa.schema(fields), "ignore"


def _text_fields(schema: pa.Schema) -> pa.Schema:
    """The fields of ``schema`` that hold only text: strings, lists of strings, and structs
    of those (their other children left out), down to ``_DEPTH`` levels: a line may nest
    objects thousands deep (past Python's recursion limit), and no family reads so deep;
    what lies deeper is left to Arrow to infer."""

    def text(ty: pa.DataType, depth: int) -> pa.DataType | None:
        if pa.types.is_string(ty) or (pa.types.is_list(ty) and pa.types.is_string(ty.value_type)):
            return ty
        if pa.types.is_struct(ty) and depth < _DEPTH:
            kids = [pa.field(f.name, t) for f in ty if (t := text(f.type, depth + 1)) is not None]
            return pa.struct(kids) if kids else None
        return None

    return pa.schema([pa.field(f.name, t) for f in schema if (t := text(f.type, 1)) is not None])


# Levels of objects the text fields are declared down to (Caddy's deepest key path has three).
_DEPTH = 8


def _text_keys(layout: Layout) -> pa.Schema:
    return pa.schema(
        [
            (key, pa.string())
            for key, tok in zip(layout.keys, layout.tokens, strict=True)
            if tok.pieces[0].kind == "iso" and "." not in key and "|" not in key
        ]
    )


def _columns(t: pa.Table, layout: Layout) -> tuple[pa.Table, np.ndarray | None]:
    """(the layout's key paths out of one read, as text columns with "" where absent; the rows
    whose request path, the request_uri key: Caddy's request.uri, Traefik's RequestPath,
    nginx JSON's path, is absent or null, or None when there is none)."""
    n = t.num_rows
    out = {}
    missing: np.ndarray | None = None
    for tok, path in zip(layout.tokens, layout.keys, strict=True):
        col: pa.Array | None = None
        for alt in path.split("|"):
            col = _path(t, alt)
            if col is not None and col.null_count < len(col):
                break
        role = tok.pieces[0].role
        if role == "request_uri" and (col is None or col.null_count):
            here = np.ones(n, bool) if col is None else np.asarray(col.is_null())
            missing = here if missing is None else missing | here
        text = _filled(_text(col) if col is not None else pa.nulls(n, pa.string()))
        if role == "user":
            text = text.cast(pa.string())
            # No user is "-" in the record table, as the other families write it.
            text = pc.if_else(pc.equal(text, ""), "-", text)
        out[tok.name] = text
    return pa.table(out), (missing if missing is not None and missing.any() else None)


def _filled(text: pa.Array) -> pa.Array:
    """Nulls as "" (a dictionary's: one more value)."""
    if not text.null_count:
        return text
    if not pa.types.is_dictionary(text.type):
        return text.fill_null("")
    values = pa.concat_arrays([text.dictionary, pa.array([""], pa.string())])
    codes = text.indices.fill_null(len(text.dictionary))
    return pa.DictionaryArray.from_arrays(codes, values)


def _path(t: pa.Table, path: str) -> pa.Array | None:
    parts = path.split(".")
    if parts[0] not in t.column_names:
        return None
    col = t.column(parts[0])
    # One chunk (a block read at once) is taken as it is: combine_chunks copied the whole
    # "request" object, headers and all, once per key read from it (12 ms a Caddy block).
    arr: pa.Array = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    for part in parts[1:]:
        if not pa.types.is_struct(arr.type) or arr.type.get_field_index(part) < 0:
            return None
        arr = pc.struct_field(arr, [arr.type.get_field_index(part)])
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        arr = _first_items(arr)
    return arr


def _first_items(arr: pa.Array) -> pa.Array:
    """Each list's first item; null for an empty or missing list. Found from the lists'
    offsets with numpy (a slice, a flatten and an if_else per key cost 3 ms a block)."""
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    has = offsets[1:] > offsets[:-1]
    if arr.null_count:
        has &= np.asarray(arr.is_valid())
    values = arr.values
    if not len(values):
        return pa.nulls(len(arr), values.type)
    where = np.where(has, offsets[:-1], 0)
    if has.all():
        if offsets[-1] - offsets[0] == len(arr):
            # Each list holds one item (a header sent once): the items as they lie, no copy.
            return values.slice(int(offsets[0]), len(arr))
        return values.take(pa.array(where))
    return values.take(pa.array(where, mask=~has))


def _text(arr: pa.Array) -> pa.Array:
    """Values as text: numbers in plain decimals (never 1e-07), once per distinct value.
    Numbers leave dictionary-encoded (their text per distinct value, codes per row): the
    assembly codes every column anyway, and hashing a number is cheaper than its text."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_float64(arr.type):
        # Written once per distinct value (a time or a duration repeats), then spread back.
        enc = pc.dictionary_encode(arr)
        return pa.DictionaryArray.from_arrays(enc.indices, _float_text(enc.dictionary))
    if pa.types.is_floating(arr.type):
        enc = pc.dictionary_encode(arr)
        values = np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=np.float64)
        text = [np.format_float_positional(v, trim="-") for v in values]
        return pa.DictionaryArray.from_arrays(enc.indices, pa.array(text, pa.string()))
    if pa.types.is_integer(arr.type):
        enc = pc.dictionary_encode(arr)
        return pa.DictionaryArray.from_arrays(enc.indices, enc.dictionary.cast(pa.string()))
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    try:
        return arr.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), pa.string())


def _float_text(arr: pa.Array) -> pa.Array:
    """Doubles as text in plain decimals. Arrow's cast writes the same shortest digits as
    numpy's positional format, but switches to an exponent outside [1e-6, 1e21): only those
    values (and nan, inf) go through numpy (a Python call each, 7 % of a Caddy run)."""
    out = arr.cast(pa.string())
    odd = np.flatnonzero(np.asarray(pc.match_substring_regex(out, "[^-.0-9]").fill_null(False)))
    if not len(odd):
        return out
    values = np.asarray(arr.take(pa.array(odd)).to_numpy(zero_copy_only=False), np.float64)
    texts = out.to_pylist()
    for i, v in zip(odd.tolist(), values.tolist(), strict=True):
        texts[i] = np.format_float_positional(v, trim="-")
    return pa.array(texts, pa.string())
