"""W3C extended log files (IIS, CloudFront, Oracle web cache...): the layout is in the file.

Every ``#Fields:`` line names the fields of the lines after it, and a file may change them
mid-way (IIS does when its logging settings change). A block is cut at its ``#Fields:`` lines and
each part is read with the layout its header names, by the same Arrow CSV reader as the other
families (space-separated, or tab-separated for CloudFront). Lines before a block's first header
use the header in force where the block starts (``Detected.format``; the pipeline carries it from
block to block in reading order).

Times: W3C ``date`` and ``time`` are UTC by the specification (IIS writes them so);
``date-local``/``time-local`` (IIS Advanced Logging) are wall time in ``--tz``, else the machine's
zone. ``time-taken`` is in milliseconds as IIS writes it (CloudFront: seconds).

``cs-uri`` is the path with its query; a ``cs-uri-query`` beside it is the query, and a
``cs-uri`` written as ``host/path`` (Incapsula) gives the virtual host (parse._uri_parts).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from logaudit.errors import ConfigError
from logaudit.formats.spec import Layout, Piece, layout_from_pieces, strftime_pieces

if TYPE_CHECKING:  # numpy is not loaded with the registry (issue #18)
    import numpy as np

# W3C field name (lower-cased) -> (role, kind).
_FIELDS: dict[str, tuple[str, str]] = {
    "c-ip": ("client", ""),
    "cs-username": ("user", ""),
    "c-auth-id": ("user", ""),
    "cs-method": ("method", ""),
    "cs-uri-stem": ("path", ""),
    "cs-uri-query": ("query", ""),
    "cs-uri": ("request_uri", ""),
    "cs-version": ("protocol", ""),
    "cs-protocol-version": ("protocol", ""),
    "sc-status": ("status", ""),
    "sc-bytes": ("bytes", ""),
    "bytes": ("bytes", ""),
    "cs(user-agent)": ("agent", ""),
    "cs(referer)": ("referrer", ""),
    "cs(referrer)": ("referrer", ""),
    "cs-host": ("vhost", ""),
    "cs(host)": ("vhost", ""),
    "x-host-header": ("vhost", ""),
    "s-port": ("port", ""),
    "time-taken": ("response_time", "ms"),
    "timetakenms": ("response_time", "ms"),
    "x-forwarded-for": ("xff", ""),
    "s-xff": ("xff", ""),  # Incapsula's X-Forwarded-For
}
_DATES = {"date": "%Y-%m-%d", "date-local": "%Y-%m-%d"}
_TIMES = {"time": "%H:%M:%S", "time-local": "%H:%M:%S"}

_FIELDS_LINE = re.compile(rb"#Fields:[ \t]*([^\r\n]*)")

IIS_DEFAULT = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)

SAMPLES = (
    f"#Fields: {IIS_DEFAULT}",
    "2022-11-07 14:29:06 127.0.0.1 GET /us - 80 - 127.0.0.1 Go-http-client/1.1 - 404 0 2 130",
    "2022-11-07 14:29:07 10.0.0.5 GET /index.html a=1 443 bob 203.0.113.9 "
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) https://www.example.com/ 200 0 0 15",
)


@lru_cache(maxsize=64)
def fields_layout(header: str, delimiter: str = " ") -> Layout:
    """The layout of the lines under ``#Fields: header``."""
    names = header.split()
    if not names:
        raise ConfigError("#Fields: names no field")
    pieces: list[Piece] = []
    local = False
    cloudfront = any(n.lower().startswith("x-edge-") for n in names)
    for i, name in enumerate(names):
        if i:
            pieces.append(Piece("literal", delimiter))
        low = name.lower()
        if low in _DATES:
            pieces.extend(strftime_pieces(_DATES[low], "date"))
            local = local or low.endswith("-local")
        elif low in _TIMES:
            pieces.extend(strftime_pieces(_TIMES[low], "date"))
            pieces[-1] = Piece("time", "date", "Sf")
            local = local or low.endswith("-local")
        elif low in _FIELDS:
            role, kind = _FIELDS[low]
            if role == "response_time" and cloudfront:
                kind = "s"
            pieces.append(Piece(role, name, kind))
        else:
            pieces.append(Piece("extra", name))
    layout = layout_from_pieces(
        pieces,
        "#Fields: " + header,
        "w3c",
        "W3C extended (IIS, CloudFront...): the #Fields: header names the fields",
        samples=SAMPLES,
        naive_zone=None if local else "UTC",
        family="w3c",
        # CloudFront's files always start with their #Fields: header.
        aliases=("W3C", "CLOUDFRONT"),
        loose=True,
    )
    if layout.delimiter != delimiter:
        raise ConfigError(f"#Fields: {header}: these fields cannot be read apart")
    return layout


def header_delimiter(data: bytes | bytearray | memoryview, at: int) -> str:
    """Tab when the first line after the header at ``at`` is tab-separated (CloudFront)."""
    raw = bytes(data[at : at + 65536])
    lines = raw.split(b"\n")
    for line in lines[1:]:
        if line.strip() and not line.startswith(b"#"):
            return "\t" if b"\t" in line else " "
    return "\t" if b"\t" in lines[0] else " "


def headers(
    data: bytes | bytearray | memoryview, hashes: np.ndarray | None = None
) -> list[tuple[int, Layout | None]]:
    """(byte offset of the line, layout or None if unreadable) per #Fields: line.
    ``hashes``: the positions of the "#"s in ``data``, when the caller has them (the block
    is then not copied to be searched)."""
    out: list[tuple[int, Layout | None]] = []
    if hashes is not None:
        for at in (int(a) for a in hashes):
            if (at == 0 or data[at - 1] == 10) and bytes(data[at : at + 8]) == b"#Fields:":
                line = bytes(data[at : at + 65536])
                if b"\n" not in line and b"\r" not in line:
                    line = bytes(data[at:])  # a header over 64 KiB: read to its end
                out.append((at, _header_at(data, at, line, 0)))
        return out
    raw = bytes(data) if not isinstance(data, bytes) else data
    # bytes.find, not a multi-line regex: "^" made re try every byte of a 16 MB block (a third
    # of a W3C block's parse time, and the header is searched for several times per block).
    # And a search for the one byte "#" (memchr: 0.6 ms a 16 MB block), not for "#Fields:",
    # whose last byte ':' is in every line's time (11 ms a block, 2 searches per block).
    at = raw.find(b"#")
    while at >= 0:
        if (at == 0 or raw[at - 1] == 10) and raw.startswith(b"#Fields:", at):
            out.append((at, _header_at(raw, at, raw, at)))
        at = raw.find(b"#", at + 1)
    return out


def _header_at(
    data: bytes | bytearray | memoryview, at: int, line: bytes, pos: int
) -> Layout | None:
    """The layout of the #Fields: line at ``at`` of ``data``; ``line``: bytes holding that
    line at ``pos``."""
    m = _FIELDS_LINE.match(line, pos)
    assert m is not None
    header = m.group(1).decode("utf-8", "replace").replace("\t", " ")
    try:
        return fields_layout(header, header_delimiter(data, at))
    except ConfigError:
        return None


DEFAULT = fields_layout(IIS_DEFAULT)
