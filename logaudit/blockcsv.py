"""A block's bytes -> Arrow's CSV reading of its tokens, without pandas.

The part of parsing that needs neither pandas nor the record schema: making a block valid
UTF-8 with nginx-style escapes (``normalise``), and tokenising it with Arrow's CSV reader
(``read_csv``). Kept apart from ``logaudit.parse`` so that ``logaudit.prefetch`` can read the
first blocks while the CLI is still importing pandas (see there); ``parse`` uses these.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from logaudit import octets as _octets
from logaudit.formats import Detected
from logaudit.formats.spec import Layout, Token


def normalise(
    data: bytes | bytearray | memoryview,
    escapes: bool = True,
    backslash: np.ndarray | None = None,
    ascii_only: bool = False,
) -> bytes | bytearray | memoryview:
    """Valid UTF-8 with nginx-style escapes; see the module docstring. Copies only when it
    has to change something. ``escapes=False``: UTF-8 only (JSON keeps its own escapes).
    ``backslash``: the positions of ``data``'s backslashes, when the caller has them;
    ``ascii_only``: the caller knows every byte is ASCII (so valid UTF-8)."""
    return normalised(data, escapes, backslash, ascii_only)[0]


Positions = list[np.ndarray | None]


def normalised(
    data: bytes | bytearray | memoryview,
    escapes: bool = True,
    backslash: np.ndarray | None = None,
    ascii_only: bool = False,
    carry: Positions | tuple[()] = (),
) -> tuple[bytes | bytearray | memoryview, Positions]:
    """``normalise``, and the positions of ``carry`` (each the increasing positions of a byte
    value that is neither a backslash, a quote nor non-ASCII: CRs, "#"s) in the bytes it
    gives: the same when nothing changed, moved past the escapes written before them when
    escapes were spliced (``_spliced``), None (to be searched for again) when the bytes
    were rewritten otherwise. A spliced block's CRs were searched for again over the whole
    block (2-4 ms a 19.5 MB block)."""
    carried: Positions = list(carry)
    if not ascii_only:
        buf = pa.py_buffer(data)
        probe = pa.Array.from_buffers(
            pa.large_string(), 1, [None, pa.py_buffer(np.array([0, len(data)], np.int64)), buf]
        )
        try:
            probe.validate(full=True)  # SIMD UTF-8 check, no copy
        except pa.ArrowInvalid:
            # Non-UTF-8 bytes (Latin-1 paths, binary junk) are kept visibly as \xHH.
            data = bytes(data).decode("utf-8", "backslashreplace").encode("utf-8")
            backslash = None  # the bytes moved
            carried = [None] * len(carried)
    n = len(data)
    octets = np.frombuffer(data, np.uint8, count=n)
    # Each replacement only where its escape occurs: most blocks have neither, and a block
    # whose only backslashes are nginx's \xHH needs no copy at all. The bytes are compared
    # with numpy, without the GIL (a two-byte bytes.find held it for 15 ms per 16 MB block).
    if not escapes:
        backslash = np.zeros(0, np.int64)
    elif backslash is None:
        backslash = _octets.where(octets, 92)
    if len(backslash):
        inner = backslash[backslash < n - 1]
        after = octets[inner + 1]
        pairs = inner[(after == 92) | (after == 34)]
        if len(pairs) > SPLICE_MAX:
            if (after == 92).any():
                data = bytes(data).replace(b"\\\\", b"\\x5C")
            if (after == 34).any():
                data = bytes(data).replace(b'\\"', b"\\x22")
            carried = [None] * len(carried)
        elif len(pairs):
            written = _written(octets, pairs)
            data = _spliced(data, octets, written)
            # Each escape written before a position moved it by two bytes (two for four).
            carried = [
                None if at is None else at + 2 * np.searchsorted(written, at) for at in carried
            ]
    return data, carried


# Up to this many escaped backslashes and quotes in a block, ``normalise`` writes each where
# it is (``_spliced``); more, and two ``bytes.replace`` passes do it.
SPLICE_MAX = 4096


def _written(octets: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The escapes ``_spliced`` writes, of ``pairs`` (the positions of the backslashes
    followed by a backslash or a quote): as the replaces read left to right, a backslash that
    a ``\\\\`` before it took is not the start of a pair, and what follows it stays as it is."""
    out: list[int] = []
    taken = -1
    for p in pairs.tolist():
        if p != taken:
            out.append(p)
            taken = p + 1
    return np.array(out, np.int64)


def _spliced(
    data: bytes | bytearray | memoryview, octets: np.ndarray, written: np.ndarray
) -> memoryview:
    """``data`` with its ``\\\\`` written ``\\x5C`` and its ``\\"`` written ``\\x22``, as
    ``data.replace(b"\\\\", b"\\x5C").replace(b'\\"', b"\\x22")`` gives it, from
    ``written``: the positions of the escapes to write (``_written``). One copy of the block
    into a buffer of its final size, where the two replaces made two (and a copy of the
    block first): 43 ms for a 19.5 MB block with two escaped quotes, 5-7 ms so. The copy is
    numpy's, which lets the GIL go: ``bytes.join`` held it for the whole copy and the page
    faults of its new buffer (11-15 ms of the other thread's wait at 150,000 lines)."""
    out = np.empty(len(octets) + 2 * len(written), np.uint8)
    done = at = 0
    for p in written.tolist():
        out[at : at + p - done] = octets[done:p]
        at += p - done
        out[at : at + 4] = _X5C if octets[p + 1] == 92 else _X22
        at += 4
        done = p + 2
    out[at:] = octets[done:]
    return out.data  # a memoryview of its bytes


_X5C = np.frombuffer(b"\\x5C", np.uint8)
_X22 = np.frombuffer(b"\\x22", np.uint8)


def has_bare_cr(data: bytes | bytearray | memoryview, cr: np.ndarray | None = None) -> bool:
    """Whether a CR is not followed by LF (numpy: no GIL held over the block). ``cr``: the
    positions of ``data``'s CRs, when the caller has them."""
    octets = np.frombuffer(data, np.uint8)
    cr = _octets.where(octets, 13) if cr is None else cr
    if not len(cr):
        return False
    nxt = cr + 1
    return bool(nxt[-1] >= len(octets) or (octets[nxt[nxt < len(octets)]] != 10).any())


# Arrow tokenises a block in pieces of this many bytes, one after another on the calling
# thread, and the pieces' dictionaries are unified after (``parse._fast``). Read as one piece,
# a 19.5 MB block (a 150,000-line log is two) ran each column's conversion over parsed values
# that no longer fit the core's cache: 61-73 ms a block of CPU (best-median of 30) against
# 52-57 ms in 2 MiB pieces, the unifying included (issue #18; docs/performance.md, sixteenth
# round). The unified columns are the one-piece reading's: same dictionaries in the same
# first-appearance order, same indices, same rejected rows and row numbers; a block where a
# quoted value is cut short across a piece's start is read as one piece (``_open_quote_at_cut``).
PIECE_BYTES = 2 << 20


def read_csv(
    data: bytes | bytearray | memoryview,
    columns: list[str],
    invalid: list[tuple[int | None, str]],
    delimiter: str = " ",
    include: list[str] | None = None,
    plain: tuple[str, ...] = (),
) -> pa.Table:
    """The block's tokens, one dictionary column per name of ``columns`` read (``include``),
    but plain strings for the names in ``plain`` (``size_token``); rows Arrow rejects go to
    ``invalid`` as (row number, text). ``data`` must come from ``normalise``: values are not
    checked as UTF-8 again. Columns may come in several chunks (``PIECE_BYTES``)."""
    whole = min(max(1 << 20, len(data) + 1), (1 << 31) - 1)
    if len(data) < 2 * PIECE_BYTES:
        return _read_csv(data, columns, invalid, delimiter, include, plain, whole)
    if _open_quote_at_cut(data, PIECE_BYTES):
        return _read_csv(data, columns, invalid, delimiter, include, plain, whole)
    before = len(invalid)
    try:
        return _read_csv(data, columns, invalid, delimiter, include, plain, PIECE_BYTES)
    except pa.ArrowInvalid:
        # A line longer than a piece ("straddling"), or a piece ending inside a quoted value
        # (a line cut short: "out of sync with chunker"): the block as one piece, as rows it
        # rejected are reported again.
        del invalid[before:]
        return _read_csv(data, columns, invalid, delimiter, include, plain, whole)


# How far around a piece's start the line crossing it is looked for (a longer line: whole).
_CUT_WINDOW = 1 << 16


def _open_quote_at_cut(data: bytes | bytearray | memoryview, piece: int) -> bool:
    """Whether a line crossing a piece's start (Arrow cuts at every multiple of ``piece``)
    holds an odd number of quotes: a quoted value cut short. Read as one piece, its open
    quote runs on into the next line and the row is rejected (the exact path reads it);
    in pieces, Arrow ends it at its own newline and keeps that newline in the value (one
    visitor counted as two), or loses its place ("out of sync"). Such a block is read whole.
    A line longer than the window around the start also is (Arrow refuses it in pieces)."""
    view = memoryview(data)
    size = len(view)
    for cut in range(piece, size, piece):
        lo, hi = max(0, cut - _CUT_WINDOW), min(size, cut + _CUT_WINDOW)
        left, right = bytes(view[lo:cut]), bytes(view[cut:hi])
        start, end = left.rfind(b"\n"), right.find(b"\n")
        if (start < 0 and lo > 0) or (end < 0 and hi < size):
            return True
        line = left[start + 1 :] + (right if end < 0 else right[:end])
        if line.count(b'"') % 2:
            return True
    return False


def _read_csv(
    data: bytes | bytearray | memoryview,
    columns: list[str],
    invalid: list[tuple[int | None, str]],
    delimiter: str,
    include: list[str] | None,
    plain: tuple[str, ...],
    piece: int,
) -> pa.Table:
    def on_invalid(row: pcsv.InvalidRow) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    return pcsv.read_csv(
        pa.BufferReader(pa.py_buffer(data)),
        read_options=pcsv.ReadOptions(
            # Tokenised on the calling thread: the pipeline already runs two blocks at once.
            column_names=columns,
            use_threads=False,
            block_size=piece,
        ),
        parse_options=pcsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"',
            double_quote=False,
            newlines_in_values=False,
            ignore_empty_lines=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pcsv.ConvertOptions(
            # Dictionary columns straight from the reader: each distinct token is stored
            # once, and everything downstream works per distinct value.
            column_types={
                c: pa.string() if c in plain else pa.dictionary(pa.int32(), pa.string())
                for c in columns
            },
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            # ``data`` has been through ``normalise``, which checked the whole block as UTF-8
            # at once: checking every value again cost ~5 % of the reader's time.
            check_utf8=False,
            include_columns=include
            if include is not None
            else [c for c in columns if not c.startswith("extra") and c != "ident"],
        ),
    )


def used_tokens(det: Detected) -> list[str]:
    used = [
        t.name for t in det.format.tokens if any(p.role not in ("extra", "ident") for p in t.fields)
    ]
    return used + ["extra0"] if xff_extra(det) else used


def size_token(det: Detected) -> str | None:
    """The token read as plain text rather than a dictionary: the response size, when a token
    of its own holds it. Its values are nearly all distinct within a block (20,000 of a
    combined block's 65,000 rows), so the reader's dictionary cost more (4 ms a 16 MB block)
    than reading each row's digits (``values.sizes``, 1.3 ms)."""
    layout = det.format
    if layout.loose or layout.delimiter is None or layout.family in ("json", "jsonkeys"):
        return None
    tok = _own_token(layout, "bytes")
    return tok.name if tok is not None else None


def _own_token(layout: Layout, role: str) -> Token | None:
    """The first token with a piece of ``role``, when that piece is all it holds; else None."""
    for tok in layout.tokens:
        if any(p.role == role for p in tok.fields):
            single = tok.single
            return tok if single is not None and single.role == role else None
    return None


def plain_tokens(det: Detected) -> tuple[str, ...]:
    """The tokens read as plain text rather than as dictionaries: the response size
    (``size_token``), the status when a token of its own holds it (three digits read per
    row, ``values.statuses``), the bracketed time's two tokens ``t1`` and ``t2``
    (``parse._runs``: a log's times come in runs of equal values, found with one compare of
    the rows' bytes), and a response time in seconds when a token of its own holds it
    (``values.fixed_durations``). The reader's dictionary of a column cost 11-22 million
    instructions a 16 MB block whatever its number of distinct values (a hash and a probe
    per row), of the reader's ~380 million (callgrind); plain text 0-3 million."""
    layout = det.format
    if layout.loose or layout.delimiter is None or layout.family in ("json", "jsonkeys"):
        return ()
    out: list[str] = []
    size = size_token(det)
    if size is not None:
        out.append(size)
    status = _own_token(layout, "status")
    if status is not None:
        out.append(status.name)
    out += [t.name for t in layout.tokens if t.name in ("t1", "t2")]
    # The response time, per row when every row writes it "0.123" (values.fixed_durations).
    took = _own_token(layout, "response_time")
    if took is not None and took.single is not None and took.single.kind == "s":
        out.append(took.name)
    return tuple(out)


def xff_extra(det: Detected) -> bool:
    """Whether the first trailing field is read as X-Forwarded-For (--client-from xff on a
    combined log with nginx's "$http_x_forwarded_for" after the agent)."""
    return det.client_from == "xff" and det.extras > 0 and "xff" not in det.format.fields
