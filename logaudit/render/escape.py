"""Making attacker-controlled text safe to show.

Paths, referrers and user agents are written by whoever sends the request. Before any of it
reaches a terminal, CSV cell, HTML page or email, invisible and control characters are shown
as escapes: C0/C1 controls (ESC starts terminal sequences), DEL, Unicode format characters (bidi
overrides such as U+202E, zero-width characters), line/paragraph separators, Unicode's default
ignorable code points (fillers such as U+3164, variation selectors), whitespace other than the
space (U+00A0, U+3000), U+2800 (braille blank) and U+FFFC. Markup is never
interpreted: the terminal renderer passes text as ``rich.text.Text`` (no markup parsing), HTML
goes through Jinja2's autoescaping, and CSV cells that a spreadsheet would run as a formula get
a leading apostrophe.
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, unchanged since 2016):
# drawn as nothing, so ``/login`` and ``/login\u3164`` looked the same. Most are Cf or Cn
# (escaped by category already); the fillers (Lo), variation selectors and Khmer inherent
# vowels (Mn) are not.
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
# Blank-looking characters that are neither: U+2800 BRAILLE PATTERN BLANK and U+FFFC OBJECT
# REPLACEMENT CHARACTER (whitespace other than U+0020, category Zs, is escaped too).
_BLANK = {"\u2800", "\ufffc"}
_cache: dict[str, bool] = {}


def _unsafe(ch: str) -> bool:
    """Invisible or blank-looking: shown as an escape. Decided once per character."""
    hit = _cache.get(ch)
    if hit is None:
        cat = unicodedata.category(ch)
        o = ord(ch)
        hit = (
            cat in _UNSAFE_CATEGORIES
            or (cat == "Zs" and ch != " ")
            or ch in _BLANK
            or any(lo <= o <= hi for lo, hi in _IGNORABLE)
        )
        _cache[ch] = hit
    return hit


_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape_char(ch: str) -> str:
    o = ord(ch)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def safe(text: object, limit: int = 0) -> str:
    """Printable text: every unsafe character replaced by a visible escape.

    ``limit`` > 0 cuts the result to that many characters, marking the cut with an ellipsis.
    """
    s = "" if text is None else str(text)
    if s.isascii():
        if _ASCII_CONTROL.search(s):
            s = _ASCII_CONTROL.sub(lambda m: _escape_char(m.group()), s)
    elif any(_unsafe(ch) for ch in s):
        s = "".join(_escape_char(ch) if _unsafe(ch) else ch for ch in s)
    return cut(s, limit) if limit else s


def cut(text: str, limit: int, dots: str = "…") -> str:
    """``text`` at most ``limit`` characters, a cut one ending in ``dots`` (the one way every
    output shortens a long text: ``safe``'s limit, the terminal's long cells)."""
    return text if len(text) <= limit else text[: limit - len(dots)] + dots


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection). A lone "-",
    the logs' placeholder for a missing field, is no formula and stays as logged."""
    s = safe(text)
    if s.startswith(_FORMULA) and s != "-" and not _is_number(s):
        return "'" + s
    return s


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _json_escape_char(ch: str) -> str:
    o = ord(ch)
    if o < 0x10000:
        return f"\\u{o:04x}"
    o -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}"


def json_text(dumped: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every unsafe non-ASCII
    character (C1 controls, bidi overrides such as U+202E, U+2028/U+2029, zero-width and
    private-use characters) written as ``\\uXXXX``: still valid JSON, the same strings to a
    parser, and nothing a terminal or a JavaScript ``eval`` of the text would act on. Such
    characters only occur inside JSON strings, where the escape is legal."""
    if dumped.isascii():
        return dumped

    def run(m: re.Match[str]) -> str:
        s = m.group()
        if not any(_unsafe(ch) for ch in s):
            return s
        return "".join(_json_escape_char(ch) if _unsafe(ch) else ch for ch in s)

    return _NON_ASCII.sub(run, dumped)
