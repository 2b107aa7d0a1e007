"""The format registry: every log format logaudit reads, as data, in one table.

Adding a format is a local change: describe it in a family module (``clf.py`` holds the
Apache/nginx family) and list it in ``FORMATS``. ``detect`` picks, for one input, the format that
parses most of its first lines; ``--log-format NAME`` overrides it. Every format carries real
sample lines; one parametrised test proves each parses its own samples.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass

from logaudit.errors import InputInvalidError
from logaudit.formats.clf import CLF_FORMATS, ClfFormat

# Detection tries formats in this order; on a tie the earlier (more specific) one wins.
FORMATS: dict[str, ClfFormat] = {f.name: f for f in CLF_FORMATS}

DETECT_LINES = 200
# A format must parse at least this share of the sampled lines to be chosen.
DETECT_MIN_SHARE = 0.5


@dataclass(frozen=True)
class Detected:
    format: ClfFormat
    extras: int  # trailing fields beyond the format's own layout (e.g. nginx $http_x_forwarded_for)
    matched: int
    sampled: int


_TIME1 = re.compile(r"^\[\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}$")
_TIME2 = re.compile(r"^[+-]\d{4}\]$")
_VHOST = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def tokenize(line: str) -> list[str]:
    """Split one line the way the fast parser does (space-separated, double quotes, backslash
    escapes). Used on a few sampled lines only, never on the hot path."""
    try:
        return next(
            csv.reader([line], delimiter=" ", quotechar='"', escapechar="\\", doublequote=False)
        )
    except (csv.Error, StopIteration):
        return []


def sample_lines(data: bytes | bytearray | memoryview, limit: int = DETECT_LINES) -> list[str]:
    lines = []
    head = bytes(data[: 1 << 20])
    # Detection must see lines as the parser will: Apache's \\ and \" escapes rewritten to
    # nginx's \x5C and \x22 (see parse.py), so an escaped quote never ends a field.
    head = head.replace(b"\\\\", b"\\x5C").replace(b'\\"', b"\\x22")
    for raw in head.split(b"\n"):
        text = raw.decode("utf-8", "backslashreplace").rstrip("\r")
        if text.strip() and not text.startswith("#"):
            lines.append(text)
            if len(lines) >= limit:
                break
    return lines


def _fits(fmt: ClfFormat, pattern: re.Pattern[str], line: str) -> int | None:
    """The number of trailing extra fields if ``line`` fits ``fmt``'s layout, else None."""
    m = pattern.match(line)
    if m is None:
        return None
    values = dict(zip(fmt.columns(0), m.groups()[:-1], strict=True))
    if not (_TIME1.match(values["t1"]) and _TIME2.match(values["t2"])):
        return None
    if not (values["status"].isdigit() and len(values["status"]) == 3):
        return None
    if not (values["bytes"].isdigit() or values["bytes"] == "-"):
        return None
    vhost = values.get("vhost")
    if vhost is not None and (not _VHOST.match(vhost) or _IPV4.match(vhost)):
        # A client address in first place is not a virtual host.
        return None
    tail = m.groups()[-1]
    extras = len(tokenize(tail.strip())) if tail.strip() else 0
    if extras and not fmt.allow_extras:
        return None
    return extras


def detect(data: bytes | bytearray | memoryview, name: str, forced: str | None = None) -> Detected:
    """Choose the format of one input from its first block."""
    lines = sample_lines(data)
    if not lines:
        raise InputInvalidError(f"{name}: no log lines to detect a format from")
    candidates = [FORMATS[forced]] if forced else list(FORMATS.values())
    best: Detected | None = None
    for fmt in candidates:
        extras: Counter[int] = Counter()
        pattern = re.compile(fmt.detect_regex())
        for line in lines:
            k = _fits(fmt, pattern, line)
            if k is not None:
                extras[k] += 1
        if not extras:
            continue
        # Only lines with the dominant number of trailing fields will parse: a combined log
        # with a few CLF lines is combined (those lines are bad), not common + 2 extras.
        k, matched = extras.most_common(1)[0]
        if best is None or matched > best.matched:
            best = Detected(fmt, k, matched, len(lines))
    if forced:
        fmt = FORMATS[forced]
        return best or Detected(fmt, 0, 0, len(lines))
    if best is None or best.matched < DETECT_MIN_SHARE * len(lines):
        raise InputInvalidError(
            f"{name}: log format not recognised (tried {', '.join(FORMATS)}); "
            "name one with --log-format, see `logaudit formats`"
        )
    return best
