"""Personal data in log fields: the rule registry (``pii_rules.tsv`` plus the config's
``[privacy_rules.NAME]`` tables), and matching over an Arrow array of *distinct* values.

A rule is (name, kind, fields, validator, pattern). The pattern is RE2 (Arrow compute) and
valid Python ``re`` too; its named group ``value`` is the personal datum. Matching a field's
distinct values is one ``match_substring_regex`` per rule over the Arrow array, then
``extract_regex`` on the candidates only, then the validator (Luhn, IBAN mod 97, a JWT's
header...) in Python on those few candidates: never a Python loop per line.

``redact`` masks what the rules find in a few strings (the report's paths, examples), and
``masker`` gives the block-wise, vectorised replacement ``logaudit scrub`` uses.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.errors import ConfigError

HERE = Path(__file__).parent
FIELDS: tuple[str, ...] = ("path", "query", "referrer", "agent", "user")


def luhn(value: str) -> bool:
    """A payment card number: 14-19 digits, Luhn checksum, not one digit repeated."""
    digits = [int(c) for c in value if c.isdigit()]
    if not 14 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# IBAN length per country (ISO 13616): a checksum that fits the wrong length is refused.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28,
    "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23,
    "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}


def iban(value: str) -> bool:
    text = value.replace("%20", "").replace(" ", "").upper()
    if _IBAN_LENGTHS.get(text[:2]) != len(text):
        return False
    moved = text[4:] + text[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def phone(value: str) -> bool:
    """A phone number: 8 to 15 digits once separators are gone, nothing else but them."""
    text = value.replace("%20", "").replace("%2B", "+").replace("%2b", "+")
    if re.fullmatch(r"\+?[0-9 .()\-]+", text) is None:
        return False
    return 8 <= sum(c.isdigit() for c in text) <= 15


def jwt(value: str) -> bool:
    """A JSON web token: its header decodes to a JSON object naming an algorithm."""
    head = value.split(".", 1)[0]
    try:
        doc = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and "alg" in doc


_PLACEHOLDERS = frozenset(
    "null none undefined nil true false 0 1 - x xxx test redacted hidden ******** *** %2A%2A%2A"
    .split()
)


def secret(value: str) -> bool:
    """A secret parameter's value: not empty and not a placeholder (``null``, ``***``)."""
    return len(value) >= 4 and value.lower() not in _PLACEHOLDERS and set(value) != {"*"}


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_dni(value: str) -> bool:
    text = value.replace("-", "").upper()
    return len(text) == 9 and text[:8].isdigit() and _DNI_LETTERS[int(text[:8]) % 23] == text[8]


def se_pnr(value: str) -> bool:
    """A Swedish personnummer: Luhn over YYMMDDNNNN (a 12-digit form drops the century)."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) == 12:
        digits = digits[2:]
    if len(digits) != 10:
        return False
    total = 0
    for i, c in enumerate(digits):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def fr_nir(value: str) -> bool:
    """A French social security number (NIR): 13 digits and a key, 97 - (number mod 97)."""
    digits = value.replace(" ", "")
    if len(digits) != 15 or not digits.isdigit():
        return False
    return 97 - int(digits[:13]) % 97 == int(digits[13:])


# Retina images (logo@2x.png) and other file names look like addresses: not a top-level domain.
_FILE_TLDS = frozenset(
    "png jpg jpeg gif svg webp avif ico bmp tif tiff html htm php asp aspx jsp js mjs css map "
    "json xml txt pdf woff woff2 ttf eot otf mp3 mp4 webm zip gz".split()
)


def email(value: str) -> bool:
    """An e-mail address whose top-level domain is not a file extension."""
    domain = value.replace("%40", "@").rpartition("@")[2]
    return domain.rpartition(".")[2].lower() not in _FILE_TLDS


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "email": email,
    "luhn": luhn,
    "iban": iban,
    "phone": phone,
    "jwt": jwt,
    "secret": secret,
    "es_dni": es_dni,
    "se_pnr": se_pnr,
    "fr_nir": fr_nir,
}


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    fields: tuple[str, ...]
    validator: str | None
    pattern: str

    def check(self, value: str) -> bool:
        return self.validator is None or VALIDATORS[self.validator](value)


def _rule(name: str, kind: str, fields: Any, validator: Any, pattern: Any, where: str) -> Rule:
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    bad = [f for f in fields or () if f not in FIELDS]
    if not fields or bad:
        raise ConfigError(f"{where}: fields must be some of {', '.join(FIELDS)}")
    v = None if validator in (None, "", "-") else str(validator)
    if v is not None and v not in VALIDATORS:
        raise ConfigError(f"{where}: validator {v!r} is not one of {', '.join(VALIDATORS)}")
    if not isinstance(pattern, str) or "(?P<value>" not in pattern:
        raise ConfigError(f"{where}: the pattern needs a named group (?P<value>...)")
    try:
        pc.match_substring_regex(pa.array([""]), pattern)
        re.compile(pattern)
    except (pa.ArrowInvalid, re.error) as e:
        raise ConfigError(f"{where}: pattern is not a valid regular expression ({e})") from None
    return Rule(name, str(kind or name), tuple(fields), v, pattern)


@cache
def builtin_rules() -> tuple[Rule, ...]:
    rows = []
    with open(HERE / "pii_rules.tsv", encoding="utf-8", newline="") as f:
        lines = [ln for ln in f if ln.strip() and not ln.startswith("#")]
    for row in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        rows.append(
            _rule(row["name"], row["kind"], row["fields"], row["validator"], row["pattern"],
                  f"pii_rules.tsv: {row['name']}")
        )
    return tuple(rows)


def check_config(table: Mapping[str, Any]) -> dict[str, Any]:
    """``[privacy_rules.NAME]`` tables: a new rule (kind, fields, pattern, validator), or a
    built-in one switched off (``enabled = false``). Checked when the config is read."""
    if not isinstance(table, Mapping):
        raise TypeError(table)
    out: dict[str, Any] = {}
    known = {r.name for r in builtin_rules()}
    for name, spec in table.items():
        where = f"privacy_rules.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: expected a table")
        extra = set(spec) - {"kind", "fields", "validator", "pattern", "enabled"}
        if extra:
            raise ConfigError(f"{where}: unknown key {sorted(extra)[0]!r}")
        if not isinstance(spec.get("enabled", True), bool):
            raise ConfigError(f"{where}: enabled = {spec['enabled']!r}: give true or false")
        if "pattern" not in spec:
            if name in known and spec.get("enabled", True):
                raise ConfigError(
                    f"{where}: a built-in rule is switched off with enabled = false, or "
                    "replaced with a pattern"
                )
            if name not in known:
                raise ConfigError(f"{where}: a new rule needs a pattern (or enabled = false)")
        else:
            _rule(name, spec.get("kind", name), spec.get("fields", ()), spec.get("validator"),
                  spec["pattern"], where)
        out[str(name)] = dict(spec)
    return out


def rules_for(config: Mapping[str, Any] | None) -> tuple[Rule, ...]:
    """The built-in rules with the config's tables laid over (same name: replaced)."""
    return _rules_for(json.dumps(dict(config or {}), sort_keys=True))


@cache
def _rules_for(key: str) -> tuple[Rule, ...]:
    config = json.loads(key)
    rules = {r.name: r for r in builtin_rules()}
    for name, spec in config.items():
        if not spec.get("enabled", True):
            rules.pop(name, None)
        elif "pattern" in spec:
            rules[name] = _rule(name, spec.get("kind", name), spec.get("fields", ()),
                                spec.get("validator"), spec["pattern"], f"privacy_rules.{name}")
    return tuple(rules.values())


def find(rule: Rule, values: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Positions in ``values`` (distinct strings) where ``rule`` finds a valid datum, and that
    datum (the first of each value). RE2 over all of them; Python only on the candidates."""
    if isinstance(values, pa.ChunkedArray):  # W3C/CloudFront categories arrive chunked
        values = values.combine_chunks()
    hit = pc.match_substring_regex(values, rule.pattern)
    where = np.flatnonzero(np.asarray(hit.fill_null(False), dtype=bool))
    if not len(where):
        return where, []
    cand = values.take(pa.array(where))
    found = pc.extract_regex(cand, rule.pattern).field("value").to_pylist()
    if rule.validator is None:
        keep = [v is not None and v != "" for v in found]
    else:
        keep = [bool(v) and _all_valid(rule, str(v), str(c))
                for v, c in zip(found, cand.to_pylist(), strict=True)]
    mask = np.array(keep, dtype=bool)
    return where[mask], [str(v) for v, k in zip(found, keep, strict=True) if k]


def _all_valid(rule: Rule, first: str, whole: str) -> bool:
    """The first datum RE2 extracted is valid, or another occurrence in the value is."""
    if rule.check(first):
        return True
    return any(rule.check(m.group("value")) for m in _compiled(rule.pattern).finditer(whole))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# ---- the pre-pass: which values may hold anything a rule finds -------------------------


def _unanchored(pattern: str) -> str:
    """``pattern`` without its anchors (``^``, ``$``, ``\\A``, ``\\z`` outside character
    classes) and with its named groups unnamed: it matches wherever the pattern matches in a
    field, and a field is a substring of its line, so over whole lines it finds a superset of
    the lines the rule can change. A leading ``(?:^|...)`` or trailing ``(?:...|$)`` context
    group (no group inside) is dropped too: context only narrows where a value matches, and
    without it the DFA is several times smaller."""
    m0 = re.match(r"^\(\?[a-zA-Z]+\)", pattern)
    flags = m0.group(0) if m0 else ""
    body = pattern[len(flags):]
    for context in (r"^\(\?:\^\|[^()]*\)", r"\(\?:[^()]*\|\$\)$"):
        m1 = re.search(context, body)
        if m1 and _whole_group(m1.group(0)):
            body = body[: m1.start()] + body[m1.end():]
    pattern = flags + body
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            pair = pattern[i: i + 2]
            if not (not in_class and pair in ("\\A", "\\z")):
                out.append(pair)
            i += 2
            continue
        if in_class:
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            if pattern[i + 1: i + 2] == "^":
                out.append("[^")
                i += 2
                if pattern[i: i + 1] == "]":
                    out.append("]")
                    i += 1
                continue
            out.append(c)
        elif c not in "^$":
            out.append(c)
        i += 1
    text = "".join(out).replace("(?P<value>", "(?:")
    m = re.match(r"^\(\?([a-zA-Z]+)\)", text)
    return f"(?{m.group(1)}:{text[m.end():]})" if m else f"(?:{text})"


# Above about this many characters an alternation's DFA outgrows RE2's cache (pyarrow gives
# RE2 its default 8 MB) and the pass slows (bench/out/pii-1000000.log, one 16 MB block: the 16
# built-in rules in one pass 0.29 s; in passes of at most 400 / 600 / 800 characters, best of
# three on a loaded host, 0.21 / 0.16 / 0.15 s; each rule alone, 16 passes, 0.42 s).
PREFILTER_CHARS = 800


def _whole_group(text: str) -> bool:
    """Whether ``text`` is one group by itself (its ``)`` not escaped nor in a class)."""
    if text.endswith("\\)"):
        return False
    try:
        re.compile(text)
    except re.error:
        return False
    return True


_OPEN = re.compile(r"\((?!\?)|\(\?[a-zA-Z]*:")
# One atom: a character class (no ']' first), an escape, a plain character.
_ATOM = re.compile(r"\[\^?(?:\\.|[^\]\\])+\]|\\.|[A-Za-z0-9_%@=&/:-]")
_LOOP = re.compile(r"(?:\+|\*|\{(?P<n>[0-9]+),[0-9]*\})\??")


def group_end(p: str, i: int) -> int | None:
    """Where the group opened at ``p[i]`` closes (escapes and character classes skipped)."""
    depth, j = 0, i
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j += 1
            if p[j: j + 1] == "^":
                j += 1
            if p[j: j + 1] == "]":
                j += 1
            while j < len(p) and p[j] != "]":
                j += 2 if p[j] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


def _lead_trimmed(p: str) -> str:
    """``p`` (an unanchored pre-pass pattern) with its leading loop cut to one pass: in a
    search for *whether* a pattern occurs, ``C+X`` occurs wherever ``CX`` does (``C*X`` and
    ``(?:O)?X`` wherever ``X`` does, ``C{2,}X`` wherever ``C{2}X``). Same lines, a smaller
    DFA: the e-mail rules' leading ``[A-Za-z0-9._%+-]+`` alone made the first alternation of
    the built-in rules 1.5 times slower. Entered groups must occur exactly once; anything
    not understood is left as it is."""
    i = 0
    while True:
        m = _OPEN.match(p, i)
        if m is None:
            break
        end = group_end(p, i)
        if end is None:
            return p
        after = _LOOP.match(p, end + 1) or re.compile(r"\?\??").match(p, end + 1)
        quant = after.group(0) if after else ""
        empty_first = p.startswith("|", m.end())
        if quant[:1] in ("?", "*") or (empty_first and not quant):
            p = p[:i] + p[end + 1 + len(quant):]  # optional: gone
            continue
        if quant or p[end + 1: end + 2] == "{":
            return p  # a repeated group: not one pass through it
        i = m.end()
    atom = _ATOM.match(p, i)
    if atom is None:
        return p
    loop = _LOOP.match(p, atom.end())
    if loop is None:
        return p
    n = loop.group("n")
    if loop.group(0)[:1] == "*" or n == "0":
        return p[:i] + p[loop.end():]
    return p[: atom.end()] + (f"{{{n}}}" if n and n != "1" else "") + p[loop.end():]


@cache
def prefilter(rules: tuple[Rule, ...]) -> tuple[str, ...]:
    """RE2 alternations, each of a few rules: a line none matches holds nothing any rule
    would mask."""
    groups: list[list[str]] = []
    size = 0
    for r in rules:
        p = _lead_trimmed(_unanchored(r.pattern))
        if not groups or size + len(p) > PREFILTER_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(p)
        size += len(p) + 1
    return tuple("|".join(g) for g in groups)


@cache
def field_prefilter(rules: tuple[Rule, ...], field: str) -> tuple[str, ...]:
    """``prefilter`` of the rules that scan ``field``."""
    return prefilter(tuple(r for r in rules if field in r.fields))


def candidates(values: pa.Array, patterns: tuple[str, ...]) -> np.ndarray:
    """Positions in ``values`` that one of ``patterns`` (a ``prefilter``) matches: the only
    values a rule can find anything in. A pass per alternation, each over the values the
    previous ones left."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    left = np.arange(len(values))
    hit = np.zeros(len(values), dtype=bool)
    for pattern in patterns:
        if not len(left):
            break
        part = values if len(left) == len(values) else values.take(pa.array(left))
        m = np.asarray(pc.match_substring_regex(part, pattern).fill_null(False), bool)
        hit[left[m]] = True
        left = left[~m]
    return np.flatnonzero(hit)


def mask_value(value: str) -> str:
    """A found datum as shown in a report: a hint of its shape, never enough to use it."""
    if len(value) >= 12:
        return value[:2] + "***" + value[-2:]
    return value[:1] + "***"


def redact(text: str, rules: tuple[Rule, ...], field: str = "path") -> str:
    """``text`` with every valid datum the rules for ``field`` find masked (few strings)."""
    for rule in rules:
        if field not in rule.fields:
            continue

        def sub(m: re.Match[str], rule: Rule = rule) -> str:
            v = m.group("value")
            if not v or not rule.check(v):
                return m.group(0)
            a, b = m.span("value")
            s = m.start(0)
            whole = m.group(0)
            return whole[: a - s] + mask_value(v) + whole[b - s :]

        text = _compiled(rule.pattern).sub(sub, text)
    return text
