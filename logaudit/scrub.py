"""``logaudit scrub``: the same log, byte for byte, with the personal data masked.

What is masked: every datum the ``privacy`` rules find (``enrich.pii``; validated the same
way) becomes ``REDACTED`` inside its field, and the client address (and user name) is
masked, hashed or kept (``--ip``, ``anonymize.Anonymizer``). Nothing else changes: lines the
layout does not match and JSON lines the readers call bad for their nesting (bad lines) pass
through unchanged and are counted, line endings and trailing fields are kept.

How, fast: a block of whole lines is one Arrow binary array (zero-copy); the format's layout
(``line_layout``) cuts every line into captured pieces with one ``extract_regex``; each scanned
field is dictionary-encoded and the rules run over its *distinct* values (RE2 match, then
``replace_substring_regex`` on the valid candidates; Python only for a candidate whose first
match fails its validator); the pieces are joined back with ``binary_join_element_wise``.

Formats. scrub keeps no table of its own: ``line_layout`` turns the detected format's layout
(``formats/spec.py``: tokens, separators, quoting) into one RE2 pattern with a group per token,
and the roles of each token's pieces say what to rewrite, so every registered format and any
``--log-format`` string is scrubbed. W3C blocks are cut at their ``#Fields:`` headers; JSON logs
with their own keys (Caddy, Traefik) are rewritten key by key inside their string values.

Output: the input's compression (gzip, bzip2, xz or none) again; ``-o FILE`` or
``--in-place``, both through a 0600 temporary file in the target's folder that is fsynced and
then renamed over the target, so the original stays intact until the new file is complete
(``--in-place`` keeps the original's mode and owner).
"""

from __future__ import annotations

import bz2
import copy
import gzip
import lzma
import os
import re
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.anonymize import AGENT_LITERAL_HINT, LITERAL_HINT, V4_HINT, Anonymizer
from logaudit.deliver.files import sync_folder
from logaudit.enrich import pii
from logaudit.enrich.pii import PREFILTER_CHARS, _unanchored, _whole_group, prefilter  # noqa: F401
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats.spec import BRACKETED, Layout, Token
from logaudit.magic import decompressor
from logaudit.wording import counted

MASK = "REDACTED"
BLOCK = 16 << 20
IP_MODES: dict[str, str] = {
    "mask": "client address masked as --anonymize does (last byte; IPv6 last 80 bits)",
    "hash": "client address replaced by a keyed hash (the --anonymize=hash secret)",
    "keep": "client address and user name kept as logged",
}
_BIN = pa.large_binary()
# A block of lines, in or out: bytes, or a view of a buffer (no copy of 16 MB per block).
Chunk = bytes | memoryview

# ---- layouts --------------------------------------------------------------------------


@dataclass(frozen=True)
class LineLayout:
    """A line as pieces: ("lit", text) or ("cap", group name). ``pattern`` captures each
    named group; ``fields`` maps a group to what it holds: a role (client, user, path,
    query, referrer, agent, request, request_uri, xff) or, for a token of several pieces
    (``%h:%^``, ``rt=$request_time``), the format's ``Token``, split per distinct value.

    Fast path (optional): ``client_token``, the client's position as a space-separated token
    of every line the pattern matches, lets lines with nothing else to mask have only that
    token replaced, without cutting them into pieces; ``user_set``, a regex matching the
    lines that need the full cut anyway (a user name that is not '-', a list of clients)."""

    pattern: str
    pieces: tuple[tuple[str, str], ...]
    fields: dict[str, Any]
    client_token: int | None = None
    user_set: str | None = None
    loose: bool = False  # W3C: a field may be written quoted ("..."), rewritten inside


# One quoted field, with Apache's \" and \\ escapes, captured without its quotes.
_QUOTED = r'(?:[^"\\\n]|\\.)*'
# Roles scrub rewrites; a token holding none of them is kept as it is.
ROLES = ("client", "xff", "user", "path", "query", "referrer", "agent", "request",
         "request_uri", "xff_extra")
# Free text whose IP literals are anonymised as --anonymize does (xff_extra: the trailing
# field --client-from xff reads, which may be a request time rather than addresses).
LITERAL_ROLES = ("path", "query", "referrer", "agent", "xff_extra")


def _simple(t: Token, fmt: Layout) -> bool:
    """Whether every value of this bare token is one space-free word."""
    if t.quoted or fmt.loose or any(p.literal and " " in p.text for p in t.pieces):
        return False
    return not any(p.role in ("user", "client", "upstream_time") or p.kind == "spaces"
                   for p in t.fields)


def line_layout(fmt: Layout) -> LineLayout:
    """A format's scrub layout, derived from its own tokens and separators: every token one
    captured group (quoted ones without their quotes), every separator a literal (captured
    when a W3C run of blanks), the trailing text (extras, line end) one captured tail."""
    pieces: list[tuple[str, str]] = []
    regex = ["^"]
    fields: dict[str, Any] = {}

    def sep(i: int) -> None:
        text = fmt.separators[i]
        if fmt.loose and text in (" ", "\t"):
            pieces.append(("cap", f"s{i}"))
            regex.append(f"(?P<s{i}>[ \\t]+)")
        elif text:
            pieces.append(("lit", text))
            regex.append(re.escape(text))

    sep(0)
    port = fmt.bare_port()
    for i, t in enumerate(fmt.tokens):
        g = f"g{i}"
        if port is not None and i == port + 1:
            continue  # with the client (below)
        if i == port:
            # addr:port (ALB/ELB, HAProxy), or "[addr]" alone (Layout.line_regex): the colon
            # captured too, so that a line of the bracketed branch writes its address alone.
            nxt = f"g{i + 1}"
            regex.append(
                fmt.client_alternation(i, False, bracket=f"{g}b", addr=g, colon=f"{g}c", port=nxt)
            )
            pieces += [("cap", f"{g}b"), ("cap", g), ("cap", f"{g}c"), ("cap", nxt)]
            fields[f"{g}b"] = fields[g] = "client"
            for piece in fmt.tokens[i + 1].fields:
                if piece.role in ROLES:
                    fields[nxt] = piece.role
            sep(i + 2)
            continue
        if t.quoted and not fmt.loose:
            rx = f'"(?P<{g}>{_QUOTED})"'
            pieces += [("lit", '"'), ("cap", g), ("lit", '"')]
        else:
            rx = fmt.token_regex(t, False, group=g)
            pieces.append(("cap", g))
        regex.append(rx)
        roles = [p.role for p in t.fields if p.role in ROLES]
        if roles:
            single = t.single
            fields[g] = single.role if single is not None else t
        sep(i + 1)
    tail = r"(?:[ \t][^\n]*)?" if fmt.allow_extras else ""
    regex.append(f"(?P<tail>{tail}\\r?\\n?)$")
    if fmt.allow_extras:
        # Every trailing field (the first is what --client-from xff reads as X-Forwarded-For,
        # nginx's main format; a second one, or a list, may hold more addresses): the IP
        # literals of the whole tail masked as --anonymize masks free text.
        fields["tail"] = "xff_extra"
    pieces.append(("cap", "tail"))
    client = user = None
    plain = fmt.delimiter == " " and not fmt.separators[0] and not fmt.loose
    for i, t in enumerate(fmt.tokens):
        if not plain:
            break
        role = t.single.role if t.single is not None and not t.quoted else None
        if role == "client" and client is None:
            client = i
        elif role == "user" and user is None:
            user = i
        elif not _simple(t, fmt):
            break
    needs_user = any(p.role == "user" for t in fmt.tokens for p in t.fields)
    # An X-Forwarded-For token named in the format is masked on every line (it is what
    # --client-from xff reads, and may be a host name): no fast path that rewrites the client
    # token alone. Trailing fields (above) need none: a line whose tail holds an IP literal
    # goes the full cut through the literal hint below.
    xff = any(p.role == "xff" for t in fmt.tokens for p in t.fields)
    if client is None or (needs_user and user is None) or xff:
        return LineLayout("".join(regex), tuple(pieces), fields, None, None, fmt.loose)
    full = [r"^(?:\S+ ){" + str(client) + r"}\S+, "]
    if user is not None:
        # The user token is not exactly '-': it starts with another byte, or '-' and more.
        full.append(r"^(?:\S+ ){" + str(user) + r"}(?:[^-]|-\S)")
    # An IP literal after the client (in the path, query, referrer, agent): masked as
    # --anonymize masks it. Every line that may hold one: the agent's hint, or dotted numbers
    # after "word/" (/ip/192.0.2.1) but, when the agent is the last token, not inside it
    # (Chrome/131.0.0.0: no address, and half of a real log's lines): inside one of the
    # quoted fields before it, or in the trailing fields after it (nginx's main format).
    last = fmt.tokens[-1]
    full.append(r"^(?:\S+ ){" + str(client) + r"}\S+ .*(?:" + AGENT_LITERAL_HINT + ")")
    slashed = r"\w/" + V4_HINT
    if last.quoted and last.single is not None and last.single.role == "agent":
        q = sum(t.quoted for t in fmt.tokens[:-1])
        field = f'"{_QUOTED}"[^"]*'
        if q:
            full.append(f'^[^"]*(?:{field}){{0,{q - 1}}}"{_QUOTED}{slashed}')
        full.append(f'^[^"]*(?:{field}){{{q + 1}}}.*{slashed}')
    else:
        full.append(slashed)
    return LineLayout("".join(regex), tuple(pieces), fields, client, "|".join(full),
                      fmt.loose)


@cache
def layout_for(fmt: Layout) -> LineLayout:
    return line_layout(fmt)


# ---- masking one field's values -------------------------------------------------------


@dataclass
class Counts:
    lines: int = 0
    bad: int = 0
    changed: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        self.lines += other.lines
        self.bad += other.bad
        self.changed += other.changed
        self.by_kind.update(other.by_kind)


@cache
def _replacer(pattern: str) -> tuple[str, str]:
    """The rule's pattern with what surrounds the value group captured, and the RE2
    replacement that puts the surroundings back around MASK."""
    start = pattern.index("(?P<value>")
    end = pii.group_end(pattern, start)
    j = len(pattern) if end is None else end
    flags = ""
    pre = pattern[:start]
    m = re.match(r"^\(\?[a-zA-Z]+\)", pre)
    if m:
        flags, pre = m.group(0), pre[m.end():]
    value = "(" + pattern[start + len("(?P<value>"): j] + ")"
    post = pattern[j + 1:]
    before = re.compile(f"({pre})").groups  # groups in pre, and its wrapper
    inside = re.compile(value).groups
    last = before + inside + 1
    if last > 9:
        raise LogauditError(f"scrub: a rule's pattern has too many groups: {pattern}")
    rewritten = f"{flags}({pre}){value}({post})"
    return rewritten, f"\\1{MASK}\\{last}"


@cache
def _bytes_rx(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode("utf-8"))


def _valid(rule: pii.Rule, datums: pa.Array) -> np.ndarray:
    """Whether each extracted datum passes the rule's validator: once per distinct datum."""
    if rule.validator is None:
        return np.asarray(pc.greater(pc.binary_length(datums.fill_null(b"")), 0), dtype=bool)
    enc = pc.dictionary_encode(datums.fill_null(b""))
    ok = [
        bool(v) and rule.check(v.decode("utf-8", "surrogateescape"))
        for v in enc.dictionary.to_pylist()
    ]
    return np.asarray(ok, dtype=bool)[np.asarray(enc.indices)]


def _python_redact(rule: pii.Rule, value: bytes) -> bytes:
    rx = _bytes_rx(rule.pattern)

    def sub(m: re.Match[bytes]) -> bytes:
        v = m.group("value")
        if not v or not rule.check(v.decode("utf-8", "surrogateescape")):
            return m.group(0)
        a, b = m.span("value")
        s = m.start(0)
        return m.group(0)[: a - s] + MASK.encode() + m.group(0)[b - s:]

    return rx.sub(sub, value)


def mask_values(values: pa.Array, field_name: str, rules: tuple[pii.Rule, ...],
                found: Counter[str]) -> tuple[pa.Array, np.ndarray]:
    """Distinct values of one field -> the same with every valid datum masked, and which
    values changed. ``found`` counts the distinct values changed per kind."""
    out = values
    changed = np.zeros(len(values), dtype=bool)
    for rule in rules:
        if field_name not in rule.fields:
            continue
        hit = np.asarray(pc.match_substring_regex(out, rule.pattern).fill_null(False), bool)
        where = np.flatnonzero(hit)
        if not len(where):
            continue
        cand = out.take(pa.array(where))
        datums = pc.extract_regex(cand, rule.pattern).field("value")
        ok = _valid(rule, datums)
        rewritten, repl = _replacer(rule.pattern)
        new = pc.replace_substring_regex(cand.filter(pa.array(ok)), rewritten, repl)
        new_vals = new.to_pylist() if len(new) else []
        # A candidate whose first datum failed its validator may hold a valid one later.
        others = [_python_redact(rule, v) for v in cand.filter(pa.array(~ok)).to_pylist()]
        merged: list[Any] = [None] * len(where)
        it_new, it_other = iter(new_vals), iter(others)
        for i, good in enumerate(ok):
            merged[i] = next(it_new) if good else next(it_other)
        old = cand.to_pylist()
        diff = np.array([a != b for a, b in zip(merged, old, strict=True)], dtype=bool)
        if not diff.any():
            continue
        found[rule.kind] += int(diff.sum())
        changed[where[diff]] = True
        out = _replaced(out, where, merged)
    return out, changed


# ---- blocks ---------------------------------------------------------------------------


def _replaced(values: pa.Array, where: np.ndarray, new: Any) -> pa.Array:
    """``values`` (binary) with the rows at the indices ``where`` replaced by ``new`` (an
    array or a list of bytes, one each, in order): one ``take`` over both, no Python per row."""
    n = len(values)
    idx = np.arange(n)
    idx[where] = n + np.arange(len(where))
    if not isinstance(new, pa.Array):
        new = pa.array(new, _BIN)
    return pa.concat_arrays([values.cast(_BIN), new.cast(_BIN)]).take(pa.array(idx))


def _lines(data: Chunk) -> pa.Array:
    """The block's lines as a binary array, each with its newline, zero-copy."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return pa.Array.from_buffers(_BIN, len(ends), [None, pa.py_buffer(offsets),
                                                   pa.py_buffer(data)])


def _too_deep(data: Chunk, lines: pa.Array) -> np.ndarray:
    """Which lines nest past the JSON readers' limit (``jsonlog.lines_too_deep``, one numpy pass
    over the block): bad lines to them, so bad lines here, passed through and counted."""
    from logaudit.formats import jsonlog

    ends = np.frombuffer(lines.buffers()[1], np.int64)[: len(lines) + 1]
    deep = np.zeros(len(lines), dtype=bool)
    if len(lines):
        octets = np.frombuffer(data, np.uint8)
        deep[jsonlog.lines_too_deep(data, octets, ends[:-1], ends[1:])] = True
    return deep


class Scrubber:
    def __init__(self, fmt: Layout | LineLayout, rules: tuple[pii.Rule, ...],
                 anon: Anonymizer | None) -> None:
        self.format = fmt if isinstance(fmt, Layout) else None
        if isinstance(fmt, LineLayout):
            self.layout = fmt
        elif fmt.family == "jsonkeys":
            self.layout = LineLayout(r"\A\z", (), {})
        else:
            self.layout = layout_for(fmt)
        self.rules = rules
        self.anon = anon
        # Values are JSON string contents (nginx escape=json templates, Caddy, Traefik).
        self.json = self.format is not None and self.format.family in ("json", "jsonkeys")
        self.counts = Counts()
        self.prefilter = prefilter(rules)
        self._seen: dict[str, str] = {}  # client as logged -> anonymised
        # Blocks are independent but under W3C, whose #Fields: headers change the layout of
        # the blocks after them.
        self.parallel = self.format is None or self.format.family != "w3c"

    def part(self) -> Scrubber:
        """A scrubber for one block in a thread: the same layout, rules and caches of
        anonymised clients, its own counts (added to these once its block is written)."""
        other = copy.copy(self)
        other.counts = Counts()
        return other

    def block(self, data: Chunk) -> Chunk:
        """One block of whole lines, rewritten (W3C: each part under its #Fields: header
        with that header's layout; JSON logs with their own keys: key by key)."""
        fmt = self.format
        if fmt is not None and fmt.family == "jsonkeys":
            return self._json(data, fmt)
        if fmt is None or fmt.family != "w3c":
            return self._block(data)
        from logaudit.formats import w3c

        heads = w3c.headers(data)
        if not heads:
            return self._block(data)
        out = [self._block(data[: heads[0][0]])]
        for k, (at, found) in enumerate(heads):
            if found is not None:
                self.layout = layout_for(found)
            end = heads[k + 1][0] if k + 1 < len(heads) else len(data)
            out.append(self._block(data[at:end]))
        return b"".join(out)

    def _prefiltered(self, lines: pa.Array) -> np.ndarray:
        hit = np.zeros(len(lines), dtype=bool)
        for pattern in self.prefilter:
            hit |= self._match(lines, pattern)
        return hit

    def _match(self, lines: pa.Array, pattern: str) -> np.ndarray:
        return np.asarray(pc.match_substring_regex(lines, pattern).fill_null(False), bool)

    def _block(self, data: Chunk) -> Chunk:
        """One block of whole lines, rewritten. A DFA pass each says which lines fit the
        layout and which may hold personal data (or a user name); only those are cut into
        pieces; the others have at most their client token replaced; bad lines none."""
        if not data:
            return data
        lines = _lines(data)
        n = len(lines)
        self.counts.lines += n
        ok = self._match(lines, self.layout.pattern)
        if self.json:  # a JSON template's line may fit it and still nest too deep
            ok &= ~_too_deep(data, lines)
        if not ok.all():
            # Not bad lines, as parse.py counts them: blank lines, comments ('#' first: W3C's
            # headers, a note), a CSV format's header line.
            blank = self._match(lines, r"^\s*(?:$|#)")
            header = self.format.header if self.format is not None else ""
            if header:
                blank |= self._match(lines, r"^\s*" + re.escape(header))
            self.counts.bad += int((~ok & ~blank).sum())
            data, lines = self._comments(data, lines, ~ok)
        if not ok.any():
            return data
        lay = self.layout
        if lay.client_token is None:
            full = ok
        else:
            hit = self._prefiltered(lines)
            if self.anon is not None and lay.user_set is not None:
                hit |= self._match(lines, lay.user_set)
            full = ok & hit
        rebuilt = self._full(lines.filter(pa.array(full))) if full.any() else None
        if self.anon is not None and lay.client_token is not None and (ok & ~full).any():
            return self._clients(data, lines, ok & ~full, lay.client_token, full, rebuilt)
        if rebuilt is None:
            return data
        return _to_bytes(_replaced(lines, np.flatnonzero(full), rebuilt))

    def _comments(self, data: Chunk, lines: pa.Array,
                  other: np.ndarray) -> tuple[Chunk, pa.Array]:
        """The block with the IP literals of its comment lines (of the ``other`` lines, those
        with '#' first: a fixture's note, a W3C #Remark) masked by --anonymize's rule, as free
        text's. Few lines, found by two DFA passes; the block is rebuilt only if one changed."""
        if self.anon is None:
            return data, lines
        which = other & self._match(lines, r"^\s*#") & self._match(lines, LITERAL_HINT)
        if not which.any():
            return data, lines
        at = np.flatnonzero(which)
        old = lines.take(pa.array(at)).to_pylist()
        new = [self.anon.text(v.decode("utf-8", "surrogateescape")).encode("utf-8",
                                                                          "surrogateescape")
               for v in old]
        diff = sum(a != b for a, b in zip(old, new, strict=True))
        if not diff:
            return data, lines
        self.counts.changed += diff
        data = _to_bytes(_replaced(lines, at, new))
        return data, _lines(data)

    def _json(self, data: Chunk, fmt: Layout) -> Chunk:
        """A block of JSON lines: for each key the format reads a role from (its last path
        segment), the string value after it is cut out, rewritten per distinct value and
        put back: the line stays the same JSON, byte for byte, but for what is masked."""
        if not data:
            return data
        lines = _lines(data)
        n = len(lines)
        self.counts.lines += n
        ok = self._match(lines, r"^\s*\{") & ~_too_deep(data, lines)
        if not ok.all():
            blank = self._match(lines, r"^\s*(?:$|#)")  # as _block: blank or a comment
            self.counts.bad += int((~ok & ~blank).sum())
            data, lines = self._comments(data, lines, ~ok)
        out = lines
        changed = np.zeros(n, dtype=bool)
        for name, role in _json_keys(fmt):
            # Header names in any case (Go canonicalises them; a proxy may not).
            key = f"(?i:{re.escape(name)})" if role in ("xff", "more") else re.escape(name)
            if role == "more":
                # The items after a list's first (Caddy's "X-Forwarded-For": ["a", "b"]):
                # their IP literals masked as free text's, the first one as the client (above).
                rx = (r'^(?P<pre>(?s:.*?)"' + key + r'"\s*:\s*\[\s*"' + _QUOTED
                      + r'")(?P<val>(?:\s*,\s*"' + _QUOTED + r'")+)(?P<post>(?s:.*))$')
                role = "xff_extra"
            else:
                rx = (r'^(?P<pre>(?s:.*?)"' + key + r'"\s*:\s*\[?\s*")'
                      r'(?P<val>(?:[^"\\\n]|\\.)*)(?P<post>(?s:.*))$')
            which = ok & self._match(out, rx)
            anon = self.anon is not None and role in ("client", "user", "xff")
            if not anon:
                hint = self._prefiltered(out) if self.prefilter else np.zeros(n, dtype=bool)
                if self.anon is not None and role in LITERAL_ROLES:
                    hint |= self._match(out, LITERAL_HINT)
                which &= hint
            if not which.any():
                continue
            at = np.flatnonzero(which)
            got = pc.extract_regex(out.take(pa.array(at)), rx)
            enc = pc.dictionary_encode(got.field("val").cast(_BIN))
            codes = np.asarray(enc.indices)
            dist, touched = self._values(enc.dictionary, role)
            if not touched.any():
                continue
            joined = pc.binary_join_element_wise(got.field("pre").cast(_BIN),
                                                 dist.take(pa.array(codes)),
                                                 got.field("post").cast(_BIN),
                                                 pa.scalar(b"", _BIN))
            out = _replaced(out, at, joined)
            changed[at[touched[codes]]] = True
        self.counts.changed += int(changed.sum())
        return _to_bytes(out) if out is not lines else data

    def _clients(self, data: Chunk, lines: pa.Array, which: np.ndarray, k: int,
                 full: np.ndarray, rebuilt: pa.Array | None) -> Chunk:
        """The block with the client token (the k-th, space-separated) of the ``which`` lines
        replaced, and the ``full`` lines replaced by ``rebuilt``: the block cut at three
        offsets per line (before, client, after) into one zero-copy array, the distinct
        clients anonymised once each, and one ``take`` lays out the new block's pieces."""
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[: len(lines) + 1]
        starts = offsets[:-1]
        n = len(starts)
        sel = np.flatnonzero(which)
        a = starts.copy()
        b = starts.copy()
        if k == 0:
            # The first space of each line: Arrow stops there, no scan of the whole block.
            first = np.asarray(pc.find_substring(lines.take(pa.array(sel)), b" "))
            b[sel] = starts[sel] + first
        else:
            buf = np.frombuffer(data, dtype=np.uint8)
            spaces = np.flatnonzero(buf == 32)
            at = np.searchsorted(spaces, starts[sel])
            a[sel] = spaces[at + k - 1] + 1
            b[sel] = spaces[at + k]
        cuts = np.empty(3 * n + 1, dtype=np.int64)
        cuts[0:-1:3], cuts[1:-1:3], cuts[2:-1:3] = starts, a, b
        cuts[-1] = offsets[-1]
        pieces = pa.Array.from_buffers(_BIN, 3 * n,
                                       [None, pa.py_buffer(cuts), pa.py_buffer(data)])
        enc = pc.dictionary_encode(pieces.take(pa.array(3 * sel + 1)))
        new, touched = self._anon_values(enc.dictionary, "client")
        codes = np.asarray(enc.indices)
        self.counts.changed += int(touched[codes].sum())
        idx = np.arange(3 * n)
        idx[3 * sel + 1] = 3 * n + codes
        parts = [pieces, new]
        if rebuilt is not None:
            base = 3 * n + len(new)
            rows = np.flatnonzero(full)
            idx[3 * rows] = base + np.arange(len(rows))
            idx[3 * rows + 1] = idx[3 * rows + 2] = base + len(rows)  # an empty piece
            parts += [rebuilt.cast(_BIN), pa.array([b""], _BIN)]
        return _to_bytes(pa.concat_arrays(parts).take(pa.array(idx)))

    def _anon_values(self, dist: pa.Array, fname: str) -> tuple[pa.Array, np.ndarray]:
        assert self.anon is not None
        fn = self._client if fname == "client" else self.anon.user
        old = dist.to_pylist()
        new = [
            fn(v.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
            if v else v
            for v in old
        ]
        touched = np.array([x != y for x, y in zip(old, new, strict=True)], dtype=bool)
        return pa.array(new, _BIN), touched

    def _client(self, text: str) -> str:
        """A client as logged: one address, a list (``a, b``, X-Forwarded-For) or an
        address with its port (``1.2.3.4:5678``, ``[2001:db8::1]:443``): each address
        anonymised, the punctuation kept."""
        assert self.anon is not None
        hit = self._seen.get(text)
        if hit is None:
            hit = self._seen[text] = self._client_uncached(text)
        return hit

    def _client_uncached(self, text: str) -> str:
        assert self.anon is not None
        if "," in text:
            return ",".join(self._client(x) for x in text.split(","))
        lead = text[: len(text) - len(text.lstrip())]
        core = text.strip()
        if core in ("-", "unknown"):  # an X-Forwarded-For placeholder, no address
            return text
        m = _WITH_PORT.match(core)
        if m and pii_ip(m.group("a6") or m.group("a4")):
            a = self.anon.address(m.group("a6") or m.group("a4"))
            return lead + (f"[{a}]" if m.group("a6") else a) + m.group("port")
        return lead + self.anon.address(core) if core else text

    def _full(self, lines: pa.Array) -> pa.Array:
        """Lines that fit the layout, cut into their pieces, every field masked, joined."""
        good = pc.extract_regex(lines, self.layout.pattern)
        columns = {name: good.field(name) for kind, name in self.layout.pieces if kind == "cap"}
        changed = np.zeros(len(good), dtype=bool)
        for group, what in self.layout.fields.items():
            col = columns[group]
            enc = pc.dictionary_encode(col)
            codes = np.asarray(enc.indices)
            if self.layout.loose:
                dist, touched = self._unquoted(enc.dictionary, what)
            else:
                dist, touched = self._values(enc.dictionary, what)
            if touched.any():
                columns[group] = dist.take(pa.array(codes))
                changed |= touched[codes]
        self.counts.changed += int(changed.sum())
        args: list[Any] = [
            columns[name] if kind == "cap" else pa.scalar(name.encode(), _BIN)
            for kind, name in self.layout.pieces
        ]
        return pc.binary_join_element_wise(*args, pa.scalar(b"", _BIN))

    def _unquoted(self, dist: pa.Array, what: Any) -> tuple[pa.Array, np.ndarray]:
        """W3C: a field may be written quoted (``"123.123.123.123"``, IIS advanced logging,
        Incapsula): its contents are rewritten, the quotes put back around them."""
        quoted = np.asarray(pc.match_substring_regex(dist, r'^"(?s:.*)"$').fill_null(False),
                            bool)
        if not quoted.any():
            return self._values(dist, what)
        inner = pc.replace_substring_regex(dist, r'^"((?s:.*))"$', r"\1")
        new, touched = self._values(inner, what)
        new = new.cast(_BIN)
        quote = pa.scalar(b'"', _BIN)
        wrapped = pc.binary_join_element_wise(quote, new, quote, pa.scalar(b"", _BIN))
        return pc.if_else(pa.array(quoted), wrapped, new), touched

    def _values(self, dist: pa.Array, what: Any) -> tuple[pa.Array, np.ndarray]:
        """Distinct values of one token -> rewritten, and which changed. ``what``: the role
        it holds, or a Token of several pieces (split, each piece rewritten, joined)."""
        if isinstance(what, Token):
            rx = what.split_regex()
            parts: list[tuple[str, Any]] = []
            n = 0
            for p in what.pieces:
                if p.literal:
                    parts.append(("lit", p.text))
                else:
                    parts.append((f"p{n}", p.role))
                    n += 1
            if "(?P<p0_>" in rx:  # "[addr]" with no port: the client whole (split_regex)
                alone = np.asarray(
                    pc.match_substring_regex(dist, f"^{BRACKETED}$").fill_null(False), bool
                )
                if alone.any():
                    return self._apart(dist, alone, "client", rx, parts)
            return self._split(dist, rx, parts)
        if what == "request":
            return self._split(dist, _REQUEST, [("m", None), ("p", "path"), ("q", None),
                                                ("query", "query"), ("rest", None)])
        if what == "request_uri":
            return self._split(dist, _URI, [("p", "path"), ("q", None), ("query", "query")])
        touched = np.zeros(len(dist), dtype=bool)
        if what in pii.FIELDS:
            dist, touched = mask_values(dist, what, self.rules, self.counts.by_kind)
            if self.json and touched.any():
                dist = _json_safe(dist)
        if self.anon is not None and what in ("client", "xff", "user"):
            dist, more = self._anon_values(dist, "user" if what == "user" else "client")
            touched |= more
        elif self.anon is not None and what in LITERAL_ROLES:
            dist, more = self._literals(dist, what)
            touched |= more
        return dist, touched

    def _literals(self, dist: pa.Array, what: str) -> tuple[pa.Array, np.ndarray]:
        """The IP literals in free text (a path, query, referrer, agent, the trailing
        X-Forwarded-For field) anonymised by --anonymize's own rule (``Anonymizer.text``,
        ``.agent``): once per distinct value that ``LITERAL_HINT`` says may hold one."""
        assert self.anon is not None
        touched = np.zeros(len(dist), dtype=bool)
        hint = AGENT_LITERAL_HINT if what == "agent" else LITERAL_HINT
        lone = np.zeros(len(dist), dtype=bool)
        if self.anon.mode == "mask" and what != "agent":
            # A value that is one IPv4 address and nothing else (a trailing X-Forwarded-For,
            # ' "198.51.100.7"'): its last bytes zeroed in RE2, as mask_ip does, not in Python
            # (nginx main: one distinct value per client behind the proxy).
            kept = 4 - self.anon.mask_bytes
            rx = (r'^([ \t]?"?' + r"\.".join([f"({_OCTET})"] * kept) + r")"
                  + r"(?:\." + _OCTET + r"){" + str(4 - kept) + r'}("?\r?\n?)$')
            lone = self._match(dist, rx)
            if lone.any():
                dist = dist.cast(_BIN)
                old = dist.filter(pa.array(lone))
                zeroed = pc.replace_substring_regex(
                    old, rx, r"\1" + ".0" * (4 - kept) + f"\\{kept + 2}")
                touched[lone] = np.asarray(pc.not_equal(old, zeroed), bool)
                dist = _replaced(dist, np.flatnonzero(lone), zeroed)
        where = np.flatnonzero(self._match(dist, hint) & ~lone)
        if not len(where):
            return dist, touched
        fn = self.anon.agent if what == "agent" else self.anon.text
        old = dist.take(pa.array(where)).to_pylist()
        new = [fn(v.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
               for v in old]
        diff = np.array([a != b for a, b in zip(old, new, strict=True)], dtype=bool)
        if not diff.any():
            return dist, touched
        touched[where[diff]] = True
        return _replaced(dist, where, new), touched

    def _apart(
        self, dist: pa.Array, alone: np.ndarray, role: str, rx: str, parts: list[tuple[str, Any]]
    ) -> tuple[pa.Array, np.ndarray]:
        """``dist``'s values where ``alone`` rewritten as one ``role``, the others split."""
        one, rest = np.flatnonzero(alone), np.flatnonzero(~alone)
        a, a_touched = self._values(dist.take(pa.array(one)).cast(_BIN), role)
        b, b_touched = self._split(dist.take(pa.array(rest)), rx, parts)
        idx = np.empty(len(dist), np.intp)
        idx[one], idx[rest] = np.arange(len(one)), len(one) + np.arange(len(rest))
        joined = pa.concat_arrays([a.cast(_BIN), b.cast(_BIN)]).take(pa.array(idx))
        return joined, np.concatenate([a_touched, b_touched])[idx]

    def _split(self, dist: pa.Array, rx: str,
               parts: list[tuple[str, Any]]) -> tuple[pa.Array, np.ndarray]:
        fits = np.asarray(pc.match_substring_regex(dist, rx).fill_null(False), bool)
        touched = np.zeros(len(dist), dtype=bool)
        if not fits.any():
            return dist, touched
        where = np.flatnonzero(fits)
        got = pc.extract_regex(dist.take(pa.array(where)), rx)
        cols: list[Any] = []
        sub = np.zeros(len(where), dtype=bool)
        for name, role in parts:
            if name == "lit":
                cols.append(pa.scalar(str(role).encode(), _BIN))
                continue
            col = got.field(name).cast(_BIN)
            if role in ROLES:
                col, t = self._values(col, role)
                sub |= t
            cols.append(col)
        if not sub.any():
            return dist, touched
        joined = pc.binary_join_element_wise(*cols, pa.scalar(b"", _BIN))
        touched[where] = sub
        return _replaced(dist, where, joined), touched


# One byte of an IPv4 address as ``ipaddress`` reads it: 0-255, no leading zero.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)"
_REQUEST = (r"^(?P<m>(?:[A-Za-z][A-Za-z0-9_-]* )?)(?P<p>(?:[^ ?\\]|\\.)*)(?P<q>\??)"
            r"(?P<query>(?:[^ \\]|\\.)*)(?P<rest>(?s:.*))$")
# An address with its port: IPv4 a.b.c.d:port, IPv6 only in brackets ([::1]:port). The port
# may be absent: a bracketed IPv6 alone ([::1], ALB/HAProxy's client before %^) is the same
# address as its bare form (an IPv4 alone is read the same either way).
_WITH_PORT = re.compile(r"^(?:\[(?P<a6>[0-9A-Fa-f:.]+)\]|(?P<a4>\d{1,3}(?:\.\d{1,3}){3}))"
                        r"(?P<port>(?::\d{1,5})?)$")


def pii_ip(text: str) -> bool:
    """Whether ``text`` is an IP address (the part before a port)."""
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _json_keys(fmt: Layout) -> list[tuple[str, str]]:
    """(key, role) for each key of a JSON family that holds a role scrub rewrites: the last
    segment of its path (``request.headers.User-Agent`` -> ``User-Agent``), each of ``a|b``."""
    out = []
    for path, t in zip(fmt.keys, fmt.tokens, strict=False):
        role = t.single.role if t.single is not None else ""
        if role in ROLES:
            out += [(alt.split(".")[-1], role) for alt in path.split("|")]
    # A format that reads request headers (Caddy's request.headers.User-Agent) logs them all:
    # X-Forwarded-For is masked as the client too, though no report reads it.
    if any(".headers." in path for path in fmt.keys) and ("X-Forwarded-For", "xff") not in out:
        out.append(("X-Forwarded-For", "xff"))
    # Traefik logs the client twice: ClientHost (read) and ClientAddr, with its port.
    if "ClientHost" in fmt.keys:
        out.append(("ClientAddr", "client"))
    # Every item of a list of addresses, not only its first (``_json``).
    out += [(key, "more") for key, role in list(out) if role == "xff"]
    return out


def _json_safe(values: pa.Array) -> pa.Array:
    """A masked JSON string value stays valid: a mask that landed after a lone backslash
    (a datum that began inside an escape such as ``\\n``) takes the backslash's place."""
    return pc.replace_substring_regex(values, r"((?:^|[^\\])(?:\\\\)*)\\" + MASK, r"\1" + MASK)


_URI = r"^(?P<p>[^?]*)(?P<q>\??)(?P<query>(?s:.*))$"


def _to_bytes(arr: pa.Array) -> Chunk:
    """A binary array's values, concatenated (its data buffer between its first and last
    offsets: no Python object per line, and no copy: a view of Arrow's buffer)."""
    if not len(arr):
        return b""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr)
                                                               + 1]
    data = arr.buffers()[2]
    if data is None:
        return b""
    return memoryview(data.slice(int(offsets[0]), int(offsets[-1]) - int(offsets[0])))


# ---- files ----------------------------------------------------------------------------

_OPEN: dict[str, Callable[..., Any]] = {
    "gzip": lambda f, mode: gzip.GzipFile(fileobj=f, mode=mode, compresslevel=6),
    "bzip2": lambda f, mode: bz2.BZ2File(f, mode),
    "xz": lambda f, mode: lzma.LZMAFile(f, mode),
}


def _blocks(stream: Any, size: int) -> Iterator[Chunk]:
    """Blocks of whole lines (the last one may lack its newline), views of what was read."""
    rest = b""
    while True:
        chunk = stream.read(size)
        if not chunk:
            if rest:
                yield rest
            return
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        rest = data[cut:]
        yield memoryview(data)[:cut]


@dataclass
class Result:
    path: str
    target: str
    compression: str | None
    counts: Counts
    note: str = ""

    def message(self) -> str:
        c = self.counts
        kinds = ", ".join(f"{k} {n}" for k, n in c.by_kind.most_common())
        text = (
            f"{self.path} -> {self.target}: {counted(c.lines, 'line')}, {c.changed:,} changed"
            + (f" (distinct values masked: {kinds})" if kinds else "")
        )
        if c.bad:
            text += f"; {counted(c.bad, 'bad line')} passed through unchanged"
        if self.note:
            text += f"; warning: {self.note}"
        return text


def _format_of(head: bytes, name: str, forced: str | None) -> Layout:
    """The input's format (as every command detects it, or ``--log-format``): scrub's
    layout is derived from it, so every family and any format string can be scrubbed."""
    from logaudit.formats import detect

    return detect(head, name, forced).format


# Blocks scrubbed at once, in threads, as ``engine.local.THREADS`` does for the reports: the work
# is RE2 passes and Arrow/numpy kernels that release the GIL, so two blocks in flight keep two
# cores busy (one thread left scrub at 2.1 x summary's wall time on the 1M-line benchmark, with
# about the same CPU time). Output stays in input order.
THREADS = 2


def scrub_stream(src: Any, dst: IO[bytes], scrubber: Scrubber,
                 block_size: int = BLOCK, threads: int | None = None) -> None:
    threads = THREADS if threads is None else threads
    if threads < 2 or not scrubber.parallel:
        for data in _blocks(src, block_size):
            dst.write(scrubber.block(data))
        return
    pending: deque[tuple[Scrubber, Future[Chunk]]] = deque()

    def drain(limit: int) -> None:
        while len(pending) > limit:
            part, done = pending.popleft()
            dst.write(done.result())
            scrubber.counts.add(part.counts)

    with ThreadPoolExecutor(threads, thread_name_prefix="logaudit-scrub") as pool:
        try:
            for data in _blocks(src, block_size):
                part = scrubber.part()
                pending.append((part, pool.submit(part.block, data)))
                drain(threads)
            drain(0)
        finally:
            for _, done in pending:
                done.cancel()


def scrub_file(path: Path, target: Path | None, settings: Any, ip: str = "mask",
               block_size: int | None = None) -> Result:
    """Scrub ``path`` into ``target`` (None: in place). The target is replaced only once the
    new content is complete and fsynced; on any failure it is left as it was."""
    from logaudit import anonymize

    size = block_size or BLOCK
    try:
        raw = open(path, "rb")  # noqa: SIM115
    except OSError as e:
        raise LogauditError(f"{path}: cannot open ({e.strerror})", ExitCode.INPUT_MISSING) \
            from None
    with raw:
        if not Path(path).is_file():
            raise LogauditError(f"{path}: not a regular file", ExitCode.INPUT_MISSING)
        kind = decompressor(raw.read(6))
        raw.seek(0)
        src: IO[bytes] = _OPEN[kind](raw, "rb") if kind else raw
        try:
            head = src.read(min(1 << 20, size))
        except (EOFError, OSError, lzma.LZMAError) as e:
            raise LogauditError(f"{path}: cannot decompress ({e})", ExitCode.INPUT_TRUNCATED) \
                from None
        # An empty file (a fresh rotation) has nothing to scrub: it is copied as it is.
        layout = (
            _format_of(head, str(path), getattr(settings, "log_format", None))
            if head.strip() else LineLayout(r"\A\z", (), {})
        )
        rules = pii.rules_for(getattr(settings, "privacy_rules", None))
        anon = None
        if ip != "keep":
            secret = None
            if ip == "hash":
                from logaudit.state import secret as load_secret

                secret = load_secret(getattr(settings, "secret_file", None))
            anon = anonymize.Anonymizer(ip, int(getattr(settings, "mask_bytes", 1) or 1),
                                        secret)
        scrubber = Scrubber(layout, rules, anon)
        # Through a symlink to the file it names: renaming over the link would replace it.
        dest = target if target is not None else Path(path)
        dest = dest.resolve() if dest.is_symlink() else dest
        links = os.fstat(raw.fileno()).st_nlink if target is None else 1
        with _replacing(dest, keep_from=dest if target is None else None) as out:
            sink: IO[bytes] = _OPEN[kind](out, "wb") if kind else out
            try:
                sink.write(scrubber.block(head[: head.rfind(b"\n") + 1]) if b"\n" in head
                           else b"")
                rest = head[head.rfind(b"\n") + 1:] if b"\n" in head else head
                scrub_stream(_Prefixed(rest, src), sink, scrubber, size)
            except (EOFError, lzma.LZMAError, gzip.BadGzipFile) as e:
                raise LogauditError(f"{path}: cannot decompress ({e})",
                                    ExitCode.INPUT_TRUNCATED) from None
            finally:
                if sink is not out:
                    sink.close()
    result = Result(str(path), str(dest), kind, scrubber.counts)
    if links > 1:
        result.note = (f"{path} had {links - 1} other hard link(s): they still name the "
                       "original, unscrubbed content")
    return result


class _Prefixed:
    """A stream that first returns ``head`` (what detection already read)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            return out + self.rest.read(max(0, n - len(out)))
        return self.rest.read(n)


class _replacing:  # noqa: N801 - used as a context manager, like open()
    """A 0600 temporary file beside ``dest``; on success fsynced and renamed over ``dest``
    (and the folder fsynced); on failure removed, ``dest`` untouched. ``keep_from``: copy
    that file's mode and owner (in place)."""

    def __init__(self, dest: Path, keep_from: Path | None) -> None:
        self.dest = dest
        self.keep_from = keep_from
        self.tmp: str | None = None
        self.file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        folder = self.dest.parent if str(self.dest.parent) else Path(".")
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.dest.name}.scrub-", dir=folder)
        except OSError as e:
            raise LogauditError(f"{self.dest}: cannot write here ({e.strerror})",
                                ExitCode.OUTPUT) from None
        self.file = os.fdopen(fd, "wb")
        return self.file

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.file is not None and self.tmp is not None
        try:
            if exc_type is None:
                self.file.flush()
                if self.keep_from is not None:
                    st = os.stat(self.keep_from)
                    os.fchmod(self.file.fileno(), st.st_mode & 0o7777)
                    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                        os.fchown(self.file.fileno(), st.st_uid, st.st_gid)
                os.fsync(self.file.fileno())
            self.file.close()
            if exc_type is None:
                os.replace(self.tmp, self.dest)
                self.tmp = None
                sync_folder(self.dest.parent if str(self.dest.parent) else Path("."))
        except OSError as e:
            raise LogauditError(f"{self.dest}: cannot write ({e.strerror})",
                                ExitCode.OUTPUT) from None
        finally:
            if self.tmp is not None:
                Path(self.tmp).unlink(missing_ok=True)


def scrub_to_stdout(path: Path, settings: Any, ip: str) -> Result:
    """``-o -``: the scrubbed log (in the input's compression) to standard output."""
    import shutil

    with tempfile.TemporaryDirectory(prefix="logaudit-scrub-") as d:
        os.chmod(d, 0o700)
        tmp = Path(d) / "out"
        result = scrub_file(path, tmp, settings, ip)
        with open(tmp, "rb") as f:
            shutil.copyfileobj(f, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    result.target = "-"
    return result
