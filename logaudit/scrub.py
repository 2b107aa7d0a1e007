"""``logaudit scrub``: the same log, byte for byte, with the personal data masked.

What is masked: every datum the ``privacy`` rules find (``enrich.pii``; validated the same
way) becomes ``REDACTED`` inside its field, and the client address (and user name) is
masked, hashed or kept (``--ip``, ``anonymize.Anonymizer``). Nothing else changes: lines the
layout does not match (bad lines) pass through unchanged and are counted, line endings and
trailing fields are kept.

How, fast: a block of whole lines is one Arrow binary array (zero-copy); the family's layout
(``LAYOUTS``) cuts every line into captured pieces with one ``extract_regex``; each scanned
field is dictionary-encoded and the rules run over its *distinct* values (RE2 match, then
``replace_substring_regex`` on the valid candidates; Python only for a candidate whose first
match fails its validator); the pieces are joined back with ``binary_join_element_wise``.

Families. A format family declares how to locate its fields with a ``LineLayout``: the line as a
sequence of literal text and named captures (the captures and literals, joined, are the line
again). The Apache/nginx CLF family is here (client the first field, or the second after a
virtual host); the other families (#11: W3C, JSON, cloud, proxies) add theirs to ``LAYOUTS``.

Output: the input's compression (gzip, bzip2, xz or none) again; ``-o FILE`` or
``--in-place``, both through a 0600 temporary file in the target's folder that is fsynced and
then renamed over the target, so the original stays intact until the new file is complete
(``--in-place`` keeps the original's mode and owner).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.anonymize import Anonymizer
from logaudit.enrich import pii
from logaudit.errors import ExitCode, InputInvalidError, LogauditError

MASK = "REDACTED"
BLOCK = 16 << 20
IP_MODES: dict[str, str] = {
    "mask": "client address masked as --anonymize does (last byte; IPv6 last 80 bits)",
    "hash": "client address replaced by a keyed hash (the --anonymize=hash secret)",
    "keep": "client address and user name kept as logged",
}
_BIN = pa.large_binary()

# ---- layouts --------------------------------------------------------------------------


@dataclass(frozen=True)
class LineLayout:
    """A line as pieces: ("lit", text) or ("cap", group name). ``pattern`` captures each
    named group; ``fields`` maps logaudit field names (client, user, path, query, referrer,
    agent) to the group holding them.

    Fast path (optional): ``client_token``, the client's position as a space-separated token
    of every line the pattern matches, lets lines with nothing else to mask have only that
    token replaced, without cutting them into pieces; ``user_set``, a regex matching the
    lines whose user name is not empty ('-'), sends those through the full cut."""

    pattern: str
    pieces: tuple[tuple[str, str], ...]
    fields: dict[str, str]
    client_token: int | None = None
    user_set: str | None = None


# One quoted CLF field, with Apache's \" and \\ escapes, captured without its quotes.
_QUOTED = r'(?:[^"\\\n]|\\.)*'
_CLF_PIECES: dict[str, list[tuple[str, str]]] = {
    "vhost": [("cap", r"vhost:\S+")],
    "client": [("cap", r"client:\S+")],
    "ident": [("cap", r"ident:\S+")],
    "user": [("cap", r"user:\S+(?: [^ \[\-0-9]\S*)*?")],
    "time": [("cap", r"time:\[[^\]\n]*\]")],
    "request": [
        ("lit", '"'),
        ("cap", r"method:(?:[A-Za-z][A-Za-z0-9_-]* )?"),
        ("cap", r"path:(?:[^ ?\"\\\n]|\\.)*"),
        ("cap", r"qmark:\??"),
        ("cap", r"query:(?:[^ \"\\\n]|\\.)*"),
        ("cap", "reqtail:" + _QUOTED),
        ("lit", '"'),
    ],
    "status": [("cap", r"status:\S+")],
    "bytes": [("cap", r"bytes:\S+")],
    "referrer": [("lit", '"'), ("cap", "referrer:" + _QUOTED), ("lit", '"')],
    "agent": [("lit", '"'), ("cap", "agent:" + _QUOTED), ("lit", '"')],
}


def clf_layout(fields: tuple[str, ...]) -> LineLayout:
    """The CLF family's layout for a format's ordered fields, trailing fields kept as one
    captured tail (line end included)."""
    pieces: list[tuple[str, str]] = []
    regex = ["^"]
    for i, f in enumerate(fields):
        if i:
            pieces.append(("lit", " "))
            regex.append(" ")
        for kind, spec in _CLF_PIECES[f]:
            if kind == "lit":
                pieces.append(("lit", spec))
                regex.append(re.escape(spec))
            else:
                name, _, rx = spec.partition(":")
                pieces.append(("cap", name))
                regex.append(f"(?P<{name}>{rx})")
    pieces.append(("cap", "tail"))
    regex.append(r"(?P<tail>(?s:.*))$")
    names = {"client", "user", "path", "query", "referrer", "agent"}
    mapped = {n: n for _, n in pieces if n in names}
    client = fields.index("client") if "client" in fields else None
    user = fields.index("user") if "user" in fields else None
    # The user token is not exactly '-': it starts with another byte, or '-' and more.
    user_set = None if user is None else r"^(?:\S+ ){" + str(user) + r"}(?:[^-]|-\S)"
    return LineLayout("".join(regex), tuple(pieces), mapped, client, user_set)


# The Apache/nginx formats by name, with their fields in order (as formats/clf.py names them).
# Spelled out here rather than read from the format registry, whose layout objects #11 is
# reworking: the names are the stable interface.
_CLF_FIELDS: dict[str, tuple[str, ...]] = {
    "vcombined": ("vhost", "client", "ident", "user", "time", "request", "status", "bytes",
                  "referrer", "agent"),
    "combined": ("client", "ident", "user", "time", "request", "status", "bytes", "referrer",
                 "agent"),
    "vcommon": ("vhost", "client", "ident", "user", "time", "request", "status", "bytes"),
    "common": ("client", "ident", "user", "time", "request", "status", "bytes"),
}

# Format name -> its line layout. Other families (#11) register theirs here.
LAYOUTS: dict[str, LineLayout] = {name: clf_layout(f) for name, f in _CLF_FIELDS.items()}


# ---- masking one field's values -------------------------------------------------------


@dataclass
class Counts:
    lines: int = 0
    bad: int = 0
    changed: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


@cache
def _replacer(pattern: str) -> tuple[str, str]:
    """The rule's pattern with what surrounds the value group captured, and the RE2
    replacement that puts the surroundings back around MASK."""
    start = pattern.index("(?P<value>")
    depth, j = 0, start
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
        j += 1
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
        idx = np.arange(len(out))
        idx[where] = len(out) + np.arange(len(where))
        out = pa.concat_arrays([out, pa.array(merged, _BIN)]).take(pa.array(idx))
    return out, changed


# ---- blocks ---------------------------------------------------------------------------


def _lines(data: bytes) -> pa.Array:
    """The block's lines as a binary array, each with its newline, zero-copy."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    return pa.Array.from_buffers(_BIN, len(ends), [None, pa.py_buffer(offsets),
                                                   pa.py_buffer(data)])


def _unanchored(pattern: str) -> str:
    """``pattern`` without its anchors (``^``, ``$``, ``\\A``, ``\\z`` outside character
    classes) and with its named groups unnamed: it matches wherever the pattern matches in a
    field, and a field is a substring of its line, so over whole lines it finds a superset of
    the lines the rule can change."""
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


@cache
def prefilter(rules: tuple[pii.Rule, ...]) -> str | None:
    """One RE2 alternation: a line it does not match holds nothing any rule would mask."""
    if not rules:
        return None
    return "|".join(_unanchored(r.pattern) for r in rules)


class Scrubber:
    def __init__(self, layout: LineLayout, rules: tuple[pii.Rule, ...],
                 anon: Anonymizer | None) -> None:
        self.layout = layout
        self.rules = rules
        self.anon = anon
        self.counts = Counts()
        self.prefilter = prefilter(rules)

    def _match(self, lines: pa.Array, pattern: str) -> np.ndarray:
        return np.asarray(pc.match_substring_regex(lines, pattern).fill_null(False), bool)

    def block(self, data: bytes) -> bytes:
        """One block of whole lines, rewritten. A DFA pass each says which lines fit the
        layout and which may hold personal data (or a user name); only those are cut into
        pieces; the others have at most their client token replaced; bad lines none."""
        if not data:
            return data
        lines = _lines(data)
        n = len(lines)
        self.counts.lines += n
        ok = self._match(lines, self.layout.pattern)
        if not ok.all():
            blank = self._match(lines, r"^\s*$")
            self.counts.bad += int((~ok & ~blank).sum())
        if not ok.any():
            return data
        lay = self.layout
        if lay.client_token is None:
            full = ok
        else:
            hit = self._match(lines, self.prefilter) if self.prefilter else np.zeros(n, bool)
            if self.anon is not None and lay.user_set is not None:
                hit |= self._match(lines, lay.user_set)
            full = ok & hit
        out = lines
        if self.anon is not None and lay.client_token is not None and (ok & ~full).any():
            out = self._clients(data, lines, ok & ~full, lay.client_token)
        if full.any():
            rebuilt = self._full(lines.filter(pa.array(full)))
            idx = np.arange(n)
            idx[full] = n + np.arange(int(full.sum()))
            out = pa.concat_arrays([out, rebuilt]).take(pa.array(idx))
        return _to_bytes(out) if out is not lines else data

    def _clients(self, data: bytes, lines: pa.Array, which: np.ndarray, k: int) -> pa.Array:
        """``lines`` with the client token (the k-th, space-separated) of the ``which`` lines
        replaced: the block cut at three offsets per line (before, client, after) into one
        contiguous array, the distinct clients anonymised once each, and joined again."""
        buf = np.frombuffer(data, dtype=np.uint8)
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[: len(lines) + 1]
        starts = offsets[:-1]
        spaces = np.flatnonzero(buf == 32)
        first = np.searchsorted(spaces, starts)
        sel = np.flatnonzero(which)
        a = starts.copy()
        b = starts.copy()
        if k:
            a[sel] = spaces[first[sel] + k - 1] + 1
        b[sel] = spaces[first[sel] + k]
        cuts = np.empty(3 * len(starts) + 1, dtype=np.int64)
        cuts[0:-1:3], cuts[1:-1:3], cuts[2:-1:3] = starts, a, b
        cuts[-1] = offsets[-1]
        pieces = pa.Array.from_buffers(_BIN, 3 * len(starts),
                                       [None, pa.py_buffer(cuts), pa.py_buffer(data)])
        before = pieces.take(pa.array(np.arange(0, 3 * len(starts), 3)))
        client = pieces.take(pa.array(np.arange(1, 3 * len(starts), 3)))
        after = pieces.take(pa.array(np.arange(2, 3 * len(starts), 3)))
        enc = pc.dictionary_encode(client)
        new, touched = self._anon_values(enc.dictionary, "client")
        codes = np.asarray(enc.indices)
        self.counts.changed += int(touched[codes].sum())
        client = new.take(enc.indices)
        return pc.binary_join_element_wise(before, client, after, pa.scalar(b"", _BIN))

    def _anon_values(self, dist: pa.Array, fname: str) -> tuple[pa.Array, np.ndarray]:
        assert self.anon is not None
        fn = self.anon.address if fname == "client" else self.anon.user
        old = dist.to_pylist()
        new = [
            fn(v.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
            if v else v
            for v in old
        ]
        touched = np.array([x != y for x, y in zip(old, new, strict=True)], dtype=bool)
        return pa.array(new, _BIN), touched

    def _full(self, lines: pa.Array) -> pa.Array:
        """Lines that fit the layout, cut into their pieces, every field masked, joined."""
        good = pc.extract_regex(lines, self.layout.pattern)
        columns = {name: good.field(name) for kind, name in self.layout.pieces if kind == "cap"}
        changed = np.zeros(len(good), dtype=bool)
        for fname, group in self.layout.fields.items():
            col = columns[group]
            enc = pc.dictionary_encode(col)
            dist = enc.dictionary
            codes = np.asarray(enc.indices)
            touched = np.zeros(len(dist), dtype=bool)
            if fname in pii.FIELDS:
                dist, touched = mask_values(dist, fname, self.rules, self.counts.by_kind)
            if self.anon is not None and fname in ("client", "user"):
                dist, more = self._anon_values(dist, fname)
                touched |= more
            if touched.any():
                columns[group] = dist.take(pa.array(codes))
                changed |= touched[codes]
        self.counts.changed += int(changed.sum())
        args: list[Any] = [
            columns[name] if kind == "cap" else pa.scalar(name.encode(), _BIN)
            for kind, name in self.layout.pieces
        ]
        return pc.binary_join_element_wise(*args, pa.scalar(b"", _BIN))


def _to_bytes(arr: pa.Array) -> bytes:
    """A binary array's values, concatenated (its data buffer between its first and last
    offsets: no Python object per line)."""
    if not len(arr):
        return b""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr)
                                                               + 1]
    data = arr.buffers()[2]
    if data is None:
        return b""
    return data[int(offsets[0]): int(offsets[-1])].to_pybytes()


# ---- files ----------------------------------------------------------------------------

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bzip2"), (b"\x1f\x8b", "gzip"),
)
_OPEN: dict[str, Callable[..., Any]] = {
    "gzip": lambda f, mode: gzip.GzipFile(fileobj=f, mode=mode, compresslevel=6),
    "bzip2": lambda f, mode: bz2.BZ2File(f, mode),
    "xz": lambda f, mode: lzma.LZMAFile(f, mode),
}


def compression_of(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _blocks(stream: Any, size: int) -> Iterator[bytes]:
    """Blocks of whole lines (the last one may lack its newline)."""
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
        yield data[:cut]


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
            f"{self.path} -> {self.target}: {c.lines:,} lines, {c.changed:,} changed"
            + (f" (distinct values masked: {kinds})" if kinds else "")
        )
        if c.bad:
            text += f"; {c.bad:,} bad lines passed through unchanged"
        if self.note:
            text += f"; warning: {self.note}"
        return text


def _format_of(head: bytes, name: str, forced: str | None) -> LineLayout:
    from logaudit.formats import detect

    det = detect(head, name, forced)
    layout = LAYOUTS.get(det.format.name)
    if layout is None:
        raise InputInvalidError(
            f"{name}: scrub does not rewrite {det.format.name} logs yet (the Apache/nginx "
            "family only)"
        )
    return layout


def scrub_stream(src: Any, dst: IO[bytes], scrubber: Scrubber,
                 block_size: int = BLOCK) -> None:
    for data in _blocks(src, block_size):
        dst.write(scrubber.block(data))


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
        kind = compression_of(raw.read(6))
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
                _fsync_dir(self.dest.parent if str(self.dest.parent) else Path("."))
        except OSError as e:
            raise LogauditError(f"{self.dest}: cannot write ({e.strerror})",
                                ExitCode.OUTPUT) from None
        finally:
            if self.tmp is not None:
                Path(self.tmp).unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
