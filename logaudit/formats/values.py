"""Decoding field values, once per distinct value, with Arrow compute and numpy.

Times come in pieces (a token may hold a whole ISO time, a date, a clock, a zone, or seconds since
1970); each piece is decoded here and the parser adds them up per row. Durations come in the
server's unit and leave in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NO_OFFSET = np.iinfo(np.int16).min

_MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_ISO = (
    r"^(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[T ](?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
    r"(?:[.,](?P<f>\d{1,9}))?(?P<z>Z|[+-]\d{2}:?\d{2})?$"
)


def _ints(values: pa.Array | np.ndarray) -> np.ndarray:
    """Digits (with optional leading space) -> int64; null or empty -> -1. An int64 array
    (``fixed_digits``' output) is already that."""
    if isinstance(values, np.ndarray):
        return values
    v = pc.utf8_trim_whitespace(values.cast(pa.string())).fill_null("")
    # A fraction (seconds written "07.128") is dropped here: ``fraction_usec`` reads it.
    whole = pc.extract_regex(v, r"^(?P<i>\d{1,18})(?:\.\d*)?$")
    ok = whole.is_valid()
    out = pc.if_else(ok, whole.field("i"), "-1").cast(pa.int64())
    return np.asarray(out, dtype=np.int64)


def fraction_usec(digits: pa.Array) -> np.ndarray:
    """Microseconds per fraction written as the digits after the point ("128" -> 128000,
    "5241024" -> 524102: cut to microseconds, not rounded, so a time never moves into the next
    second); null, empty or not digits -> 0."""
    v = digits.cast(pa.string()).fill_null("")
    ok = pc.match_substring_regex(v, r"^\d{1,18}$")
    six = pc.utf8_rpad(pc.utf8_slice_codeunits(v, 0, 6), 6, "0")
    out = pc.if_else(ok, six, "0").cast(pa.int64())
    return np.asarray(out, dtype=np.int64)


def _after_point(values: pa.Array) -> pa.Array:
    """The digits after the point of "07.128" or "1646861401.5241024" (null when none)."""
    text = values.cast(pa.string()).fill_null("")
    return pc.extract_regex(text, r"^\d*[.,](?P<f>\d+)$").field("f")


def _months(values: pa.Array) -> np.ndarray:
    v = pc.utf8_lower(values.cast(pa.string()).fill_null(""))
    out = np.full(len(v), -1, np.int64)
    idx = np.asarray(pc.index_in(v, pa.array(_MONTH_NAMES)).fill_null(-1), dtype=np.int64)
    out[:] = idx
    return out + np.where(idx >= 0, 1, 0)


def zone_offsets(values: pa.Array) -> np.ndarray:
    """Minutes east of UTC per "+0330", "+03:30" or "Z" (a trailing "]" is allowed);
    NO_OFFSET where unreadable or missing."""
    v = values.cast(pa.string()).fill_null("")
    parts = pc.extract_regex(v, r"^(?P<z>Z|(?P<s>[+-])(?P<h>\d{2}):?(?P<m>\d{2}))\]?$")
    ok = np.asarray(parts.is_valid())
    out = np.full(len(v), NO_OFFSET, np.int16)
    if not ok.any():
        return out
    hh = _ints(parts.field("h"))
    mm = _ints(parts.field("m"))
    sign = np.where(np.asarray(pc.equal(parts.field("s").fill_null("+"), "-")), -1, 1)
    mins = np.where(hh >= 0, sign * (hh * 60 + mm), 0)
    good = ok & (np.abs(mins) <= 18 * 60) & (mm < 60)
    out[good] = mins[good]
    return out


def civil_seconds(
    year: np.ndarray, month: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from 1970-01-01 to the start of each day, and whether the date exists."""
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    months = (year - 1970) * 12 + np.where(valid, month - 1, 0)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    nxt = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    valid &= day <= (nxt - first)
    return np.where(valid, (first + day - 1) * 86400, 0), valid


class TimePart:
    """One token's contribution to a line's time, per distinct value of the token."""

    def __init__(self, n: int) -> None:
        self.wall = np.zeros(n, np.int64)  # date and clock seconds, naive
        self.offset: np.ndarray | None = None  # minutes, NO_OFFSET where missing
        self.utc: np.ndarray | None = None  # seconds since 1970, for epoch forms
        self.usec = np.zeros(n, np.int64)  # microseconds past the second, 0 when not written
        self.ok = np.ones(n, bool)


def decode_time(groups: dict[str, pa.Array | np.ndarray], n: int) -> TimePart:
    """``groups``: time-piece kind -> that piece's text per distinct token value (null where
    the token did not split), or its digits already read (``fixed_digits``)."""
    part = TimePart(n)
    if "iso" in groups:
        written: pa.Array = groups["iso"]  # text: fixed_digits reads no "iso", "E" or "z"
        iso = pc.extract_regex(written.cast(pa.string()).fill_null(""), _ISO)
        part.ok &= np.asarray(iso.is_valid())
        groups = {k: iso.field(k) for k in ("Y", "m", "d", "H", "M", "S", "z", "f")}
    if "Y" in groups:
        year = _ints(groups["Y"])
        month = _months(groups["b"]) if "b" in groups else _ints(groups.get("m", groups["Y"]))
        day = _ints(groups["d"] if "d" in groups else groups["e"])
        secs, valid = civil_seconds(year, month, day)
        part.wall += secs
        part.ok &= valid
    if "Sf" in groups:
        if not isinstance(groups["Sf"], np.ndarray):  # digits read whole had no fraction
            part.usec += fraction_usec(_after_point(groups["Sf"]))
        groups = {**groups, "S": groups["Sf"]}
    if "f" in groups:  # the digits after the point (%{msec_frac}t, %{usec_frac}t, %f)
        part.usec += fraction_usec(groups["f"])
    if "H" in groups:
        hh = _ints(groups["H"])
        mm = _ints(groups["M"]) if "M" in groups else np.zeros(n, np.int64)
        ss = _ints(groups["S"]) if "S" in groups else np.zeros(n, np.int64)
        part.ok &= (hh >= 0) & (hh < 24) & (mm >= 0) & (mm < 60) & (ss >= 0) & (ss < 61)
        part.wall += np.where(part.ok, hh * 3600 + mm * 60 + ss, 0)
    if "z" in groups:
        part.offset = zone_offsets(groups["z"])
    for kind, scale in (("E", 1), ("Ems", 1000), ("Eus", 1_000_000)):
        if kind in groups:
            epoch: pa.Array = groups[kind]
            text = epoch.cast(pa.string()).fill_null("")
            whole = pc.extract_regex(text, r"^(?P<s>\d{1,18})(?:\.\d+)?$")
            secs = _ints(whole.field("s"))
            part.ok &= secs >= 0
            part.utc = np.where(secs >= 0, secs // scale, 0)
            if scale == 1:
                part.usec += fraction_usec(_after_point(text))
            else:
                part.usec += np.where(secs >= 0, secs % scale * (1_000_000 // scale), 0)
    return part


def _fixed_matrix(values: pa.Array, width: int) -> np.ndarray | None:
    """The distinct values' bytes as an (n, ``width``) uint8 matrix, one row per value, no
    copy; None when there are none, one is null or one has another width."""
    n = len(values)
    if n == 0 or values.null_count:
        return None
    text = values.cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], np.int64)[text.offset : text.offset + n + 1]
    if not (np.diff(offsets) == width).all():
        return None
    data = np.frombuffer(text.buffers()[2], np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(n, width)


# "2026-01-22T00:00:06+01:00", nginx's $time_iso8601: where the digits are in that form.
_ISO_WIDTH = 25
_ISO_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 23, 24])


def iso_fixed(values: pa.Array) -> TimePart | None:
    """``decode_time({"iso": values})`` for distinct values that are all written
    "YYYY-MM-DDTHH:MM:SS+HH:MM" (or with a space for the T), decoded with array arithmetic
    over their bytes instead of two RE2 matches each; None when any value is written
    otherwise (another width, "Z", a fraction, a null): the caller then takes that path."""
    m = _fixed_matrix(values, _ISO_WIDTH)
    if m is None:
        return None
    n = len(m)
    d = m[:, _ISO_DIGITS].astype(np.int64) - 48
    shape = (
        (m[:, 4] == 45)
        & (m[:, 7] == 45)
        & ((m[:, 10] == 84) | (m[:, 10] == 32))
        & (m[:, 13] == 58)
        & (m[:, 16] == 58)
        & ((m[:, 19] == 43) | (m[:, 19] == 45))
        & (m[:, 22] == 58)
        & ((d >= 0) & (d <= 9)).all(axis=1)
    )
    if not shape.all():
        return None
    part = TimePart(n)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    secs, valid = civil_seconds(year, d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7])
    part.wall += secs
    part.ok &= valid
    hh = d[:, 8] * 10 + d[:, 9]
    mm = d[:, 10] * 10 + d[:, 11]
    ss = d[:, 12] * 10 + d[:, 13]
    part.ok &= (hh < 24) & (mm < 60) & (ss < 61)
    part.wall += np.where(part.ok, hh * 3600 + mm * 60 + ss, 0)
    # As zone_offsets reads "+01:00".
    zh = d[:, 14] * 10 + d[:, 15]
    zm = d[:, 16] * 10 + d[:, 17]
    mins = np.where(m[:, 19] == 45, -1, 1) * (zh * 60 + zm)
    good = (np.abs(mins) <= 18 * 60) & (zm < 60)
    part.offset = np.where(good, mins, NO_OFFSET).astype(np.int16)
    return part


# Time pieces written with this many digits ("Sf": seconds without their optional fraction).
_FIXED_WIDTH = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2, "Sf": 2}


def fixed_digits(values: pa.Array, pieces: list[tuple[str, str]]) -> dict[str, np.ndarray] | None:
    """A token of fixed-width time pieces and one-byte literals (W3C's "2026-01-22" and
    "00:00:06"), split and read from the distinct values' bytes with array arithmetic: time
    piece kind -> int64 per value, as ``_ints`` reads that piece's digits. ``pieces``: (kind,
    "") for a time piece, ("", text) for a literal. None when the token has another piece, or
    a value is not written exactly so (the RE2 split and ``_ints`` then read the block)."""
    n = len(values)
    layout: list[tuple[str, int, int]] = []  # (kind or "", start, width or literal byte)
    at = 0
    for kind, text in pieces:
        if kind:
            if kind not in _FIXED_WIDTH:
                return None
            layout.append((kind, at, _FIXED_WIDTH[kind]))
            at += _FIXED_WIDTH[kind]
        elif len(text.encode()) == 1 and not text.isdigit():
            layout.append(("", at, text.encode()[0]))
            at += 1
        else:
            return None
    if not any(k for k, _, _ in layout):
        return None
    m = _fixed_matrix(values, at)
    if m is None:
        return None
    out: dict[str, np.ndarray] = {}
    for kind, start, width in layout:
        if not kind:
            if not (m[:, start] == width).all():
                return None
            continue
        d = m[:, start : start + width].astype(np.int64) - 48
        if not ((d >= 0) & (d <= 9)).all():
            return None
        value = np.zeros(n, np.int64)
        for j in range(width):
            value = value * 10 + d[:, j]
        out[kind] = value
    return out


def localise(wall: np.ndarray, zone: str) -> np.ndarray:
    """Minutes east of UTC of each naive wall time in ``zone`` (an ambiguous hour is read as
    standard time, a skipped one moved forward)."""
    if zone in ("UTC", "Etc/UTC", "GMT"):
        return np.zeros(len(wall), np.int16)
    uniq, inv = np.unique(wall, return_inverse=True)
    idx = pd.DatetimeIndex(uniq.astype("datetime64[s]"))
    loc = idx.tz_localize(zone, ambiguous=np.zeros(len(uniq), bool), nonexistent="shift_forward")
    utc = loc.tz_convert("UTC").tz_localize(None).as_unit("s").asi8
    return ((uniq - utc) // 60).astype(np.int16)[inv]


def offsets_at(utc: np.ndarray, zone: str) -> np.ndarray:
    """Minutes east of UTC in ``zone`` at each instant."""
    if zone in ("UTC", "Etc/UTC", "GMT"):
        return np.zeros(len(utc), np.int16)
    uniq, inv = np.unique(utc // 60, return_inverse=True)
    idx = pd.DatetimeIndex((uniq * 60).astype("datetime64[s]")).tz_localize("UTC")
    local = idx.tz_convert(zone).tz_localize(None).as_unit("s").asi8
    return ((local - uniq * 60) // 60).astype(np.int16)[inv]


def durations(values: pa.Array, unit: str) -> np.ndarray:
    """Seconds per distinct duration text; NaN for "-", empty or unreadable. ``unit``: us, ms,
    s, or list (nginx's "0.010, 0.002 : 0.001": the upstreams' times, summed)."""
    text = values.cast(pa.string()).fill_null("")
    n = len(text)
    if unit == "list":
        items = pc.split_pattern_regex(text, r"\s*[,:]\s*")
        flat = pc.list_flatten(items)
        parent = np.asarray(pc.list_parent_indices(items), dtype=np.int64)
        each = durations(flat, "s")
        have = ~np.isnan(each)
        sums = np.bincount(parent[have], weights=each[have], minlength=n)
        counts = np.bincount(parent[have], minlength=n)
        return np.where(counts > 0, sums, np.nan)
    # Any non-negative decimal, with any number of digits and an optional exponent: a JSON
    # number as Python or Go writes a double (0.12300000000000001, 1.2345678901234567e-05,
    # which the JSON reader leaves as 0.000012345678901234567). A sign, "-", "" or "1." is
    # missing. Arrow's cast rounds a decimal of any length correctly.
    ok = pc.match_substring_regex(text, _NUMBER)
    if unit == "s":
        seconds = np.asarray(pc.if_else(ok, text, "NaN").cast(pa.float64()), dtype=np.float64)
    else:
        seconds = _over(pc.if_else(ok, text, ""), _DIGITS[unit])
    # 10**15 or more of the log's own unit (1e400 is inf; a 40-digit number 1e39 s) is no
    # time a server measured: missing, as when only 15 integer digits were read, where it
    # was Infinity in JSON output or dominated the p95 and the maximum.
    return np.where(seconds < _LIMIT / 10.0 ** _DIGITS[unit], seconds, np.nan)  # NaN: NaN


# A non-negative JSON number, leading zeros allowed (Apache writes "%D" as digits only). The
# exponent has at most 3 digits (a double's reach): a longer one was a Python int of any length
# (past 4,300 digits, a ValueError that ended the run).
_NUMBER = r"^\d+(\.\d+)?([eE][+-]?\d{1,3})?$"
# The first duration too large to be one, in the log's own unit (15 integer digits).
_LIMIT = 1e15


def _over(text: pa.Array, k: int) -> np.ndarray:
    """The decimals ``text`` (``_NUMBER``, or "" for missing: NaN) over 10**k, correctly
    rounded: the decimal with its exponent lowered by k, read by Arrow's cast (one rounding,
    as ``fixed_durations`` computes it; 9.999 / 1e3 was two: 0.009999000000000001). A value
    written with an exponent (rare) has it rewritten in Python, once per distinct value."""
    scaled = pc.if_else(pc.equal(text, ""), "NaN", pc.binary_join_element_wise(text, f"e-{k}", ""))
    marked = np.flatnonzero(np.asarray(pc.match_substring(text, "e", ignore_case=True)))
    if len(marked):
        written = scaled.to_pylist()
        for i in marked.tolist():
            mantissa, _, power = str(text[i]).lower().partition("e")
            written[i] = f"{mantissa}e{int(power) - k}"
        scaled = pa.array(written, pa.string())
    return np.asarray(scaled.cast(pa.float64()), dtype=np.float64)


def sizes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, valid) per row of a plain string column of response sizes: valid is exactly
    ``^([0-9]{1,18}|-)$`` (the parser's rule when sizes come as distinct values), and "-"
    or anything invalid reads as 0. The column's bytes are checked with numpy (one compare
    over a few hundred kB a block) and the valid numbers cast by Arrow: cheaper than the CSV
    reader's dictionary of a block's ~20,000 distinct sizes and a regex over them."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    n = len(values)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    wide = pa.types.is_large_string(values.type)
    offsets = np.frombuffer(values.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[values.offset : values.offset + n + 1].astype(np.int64)
    starts = offsets[:-1] - offsets[0]
    lengths = np.diff(offsets)
    data = values.buffers()[2]
    octets = (
        np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]
        if data is not None
        else np.zeros(0, np.uint8)
    )
    # Bytes that are not digits ("0" - 48 .. "9" - 48; below "0" wraps past 9): usually none.
    odd = np.flatnonzero((octets - np.uint8(48)) > 9)
    ok = (lengths >= 1) & (lengths <= 18)
    dash = np.zeros(n, bool)
    if len(odd):
        rows = np.searchsorted(starts, odd, side="right") - 1
        dash[rows] = (lengths[rows] == 1) & (octets[odd] == 45)
        ok[rows] = dash[rows]
    number = np.zeros(n, np.int64)
    if ok.all():
        if len(odd):  # only "-" (Apache's %b for no body): cast with each written as "0"
            text = octets.copy()
            text[odd] = 48
            values = pa.Array.from_buffers(
                pa.large_string(),
                n,
                [None, pa.py_buffer(offsets - offsets[0]), pa.py_buffer(text)],
            )
        number[:] = np.asarray(values.cast(pa.int64()), dtype=np.int64)
    else:
        digits = np.flatnonzero(ok & ~dash)
        if len(digits):
            number[digits] = np.asarray(
                values.take(pa.array(digits)).cast(pa.int64()), dtype=np.int64
            )
    return number, ok


def statuses(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(status, valid) per row of a plain string column of HTTP statuses: valid is exactly
    ``^[1-5][0-9][0-9]$`` (the parser's rule when statuses come as distinct values), and an
    invalid one reads as 0. Three bytes a row, read with numpy: the CSV reader's dictionary
    of a block's few distinct statuses hashed every row (~1 ms a 16 MB block)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    n = len(values)
    status = np.zeros(n, np.int16)
    if n == 0:
        return status, np.zeros(0, bool)
    wide = pa.types.is_large_string(values.type)
    offsets = np.frombuffer(values.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[values.offset : values.offset + n + 1].astype(np.int64)
    ok = np.diff(offsets) == 3
    data = values.buffers()[2]
    if data is None or not ok.any():
        return status, np.zeros(n, bool)
    octets = np.frombuffer(data, np.uint8)
    if ok.all():  # back to back: a (n, 3) view
        m = octets[offsets[0] : offsets[-1]].reshape(n, 3)
        rows = None
    else:
        rows = np.flatnonzero(ok)
        starts: np.ndarray = offsets[:-1][rows]
        m = octets[starts[:, None] + np.arange(3)]
    # Each byte's column on its own (uint8: a byte below "1" or "0" wraps past the bound).
    first, second, third = m[:, 0] - np.uint8(49), m[:, 1] - np.uint8(48), m[:, 2] - np.uint8(48)
    fits = (first <= 4) & (second <= 9) & (third <= 9)
    value = first.astype(np.int16) * 100 + second * np.int16(10) + third + np.int16(100)
    value[~fits] = 0
    if rows is None:
        return value, fits
    status[rows] = value
    ok[rows] = fits
    return status, ok


def fixed_durations(values: pa.Array | pa.ChunkedArray, unit: str) -> np.ndarray | None:
    """Seconds per row of a plain string column of durations written with three decimals
    in one width ("0.123" every row: nginx's ``$request_time`` below 10 s), as ``durations``
    gives them: the row's digits as one integer over 1000 is the correctly rounded double of
    the decimal, as Arrow's cast of the text is. None when a row is written otherwise (then
    ``durations`` reads the distinct values). The CSV reader's dictionary of a block's
    ~1,000 distinct times hashed every row (~17 million instructions a 16 MB block)."""
    if unit not in _PER_SECOND:
        return None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    n = len(values)
    if n == 0 or values.null_count or not pa.types.is_string(values.type):
        return None
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset : values.offset + 2]
    width = int(offsets[1] - offsets[0])
    rows = _fixed_matrix(values, width) if 5 <= width <= 16 else None
    if rows is None:
        return None
    if (rows[:, width - 4] != 46).any():  # the decimal point
        return None
    number = np.zeros(n, np.int64)
    for at in range(width):
        if at == width - 4:
            continue
        digit = rows[:, at] - np.uint8(48)  # below "0" wraps past 9
        if (digit > 9).any():
            return None
        number = number * 10 + digit
    return number / (1000.0 * _PER_SECOND[unit])


# Units per second, divided by: a whole number over an exact power of ten is the correctly
# rounded double of the decimal (102 ms: 0.102); multiplied by 1e-3 it was not
# (0.10200000000000001 in records' JSONL).
_PER_SECOND = {"ns": 1e9, "us": 1e6, "ms": 1e3, "s": 1.0}
_DIGITS = {"ns": 9, "us": 6, "ms": 3, "s": 0}
