"""Inputs: paths, globs, directories of rotated sets, compressed files and stdin.

A source yields *blocks*: large byte strings that end on a line boundary, each tagged with the
number of its first line, so parsing is columnar over a block and never touches lines one by one.
Compression is recognised by magic bytes, not by file name: a rotated ``access.log.2`` that
happens to be gzip is read correctly, and ``zcat | logaudit summary -`` works too.
"""

from __future__ import annotations

import bz2
import glob
import lzma
import os
import re
import stat
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, BinaryIO

import numpy as np

from logaudit import remote
from logaudit.errors import ExitCode, InputMissingError

# Bytes per block: large enough that per-block costs vanish, small enough to stay in cache-
# friendly sizes and keep memory flat. LOGAUDIT_BLOCK_MB overrides (tuning and tests).
BLOCK_BYTES = int(os.environ.get("LOGAUDIT_BLOCK_MB", "16")) * 1024 * 1024

# Magic numbers -> opener. xz's magic is six bytes, bzip2's three, gzip's two.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)

# A rotated file's suffix: ".1", ".2.gz", "-20240101", "-20240101.gz", ".bz2", ".xz".
_ROTATION = re.compile(
    r"^(?P<base>.+?)(?:\.(?P<num>\d+)|-(?P<date>\d{8,10}))?(?:\.(?:gz|bz2|xz))?$"
)
# Names that look like logs when a directory is given.
_LOGLIKE = re.compile(r"(?:\.log|access|_log)(?:[.-]\d+)*(?:\.(?:gz|bz2|xz))?$|\.log\b", re.I)


@dataclass(frozen=True)
class Input:
    """One input to read: a path, or stdin when ``path`` is None."""

    name: str
    path: Path | None
    # A byte range [start, end) of a plain file, aligned to whole lines by ``line_span``;
    # line numbers then count from the range's first line.
    span: tuple[int, int] | None = None
    # A remote object (``logaudit.remote``): its URL and size; ``path`` is then None.
    url: str | None = None
    url_size: int = 0

    @property
    def size(self) -> int:
        if self.url is not None:
            return self.url_size
        if self.path is None:
            return 0
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


@dataclass
class InputProblem:
    """Something wrong with one input; reported in one line, mapped to an exit code."""

    name: str
    message: str
    exit_code: ExitCode

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


@dataclass
class Block:
    """Whole lines: ``data`` ends with a newline and holds ``lines`` of them."""

    data: bytes | bytearray | memoryview
    first_line: int
    source: Input
    lines: int = -1

    def __post_init__(self) -> None:
        if self.lines < 0:
            self.lines = bytes(self.data).count(b"\n")


@dataclass
class ReadState:
    """What reading an input found, beyond its lines."""

    problems: list[InputProblem] = field(default_factory=list)
    bytes_read: dict[str, int] = field(default_factory=dict)
    lines_read: dict[str, int] = field(default_factory=dict)


def rotation_key(path: PurePath) -> tuple[str, int, str]:
    """Sort key putting a rotated set oldest first: highest number first, dated ascending,
    the live file (no suffix) last."""
    m = _ROTATION.match(path.name)
    assert m is not None  # the pattern matches any name
    base = str(path.parent / m.group("base"))
    if m.group("num") is not None:
        return (base, -int(m.group("num")), "")
    if m.group("date") is not None:
        return (base, 0, m.group("date"))
    return (base, 1, "")


def expand(args: Iterable[str]) -> list[Input]:
    """Turn command-line arguments into inputs, rotated sets ordered oldest first.

    Raises InputMissingError for an argument that names nothing readable; the message is one
    line naming the argument.
    """
    inputs: list[Input] = []
    seen: set[Path] = set()
    seen_urls: set[str] = set()
    for arg in args:
        if arg == "-":
            inputs.append(Input("<stdin>", None))
            continue
        if remote.is_url(arg):
            for url, size in remote.expand(arg):
                if url not in seen_urls:
                    seen_urls.add(url)
                    inputs.append(Input(url, None, url=url, url_size=size))
            continue
        p = Path(arg).expanduser()
        if p.is_dir():
            found = [c for c in p.iterdir() if c.is_file() and _LOGLIKE.search(c.name)]
            if not found:
                raise InputMissingError(f"{arg}: a directory with no log files in it")
            paths = sorted(found, key=rotation_key)
        elif p.exists():
            paths = [p]
        elif glob.has_magic(arg):
            paths = sorted((Path(g) for g in glob.glob(os.path.expanduser(arg))), key=rotation_key)
            paths = [g for g in paths if g.is_file()]
            if not paths:
                raise InputMissingError(f"{arg}: no file matches")
        else:
            raise InputMissingError(f"{arg}: no such file")
        for path in paths:
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                inputs.append(Input(str(path), path))
    # Arguments that are one rotated set given separately (access.log access.log.1 ...) are
    # read oldest first too; inputs from different sets keep the order they were given in.
    return _order_rotated(inputs)


def _order_rotated(inputs: list[Input]) -> list[Input]:
    groups: dict[str, list[Input]] = {}
    order: list[str] = []
    for inp in inputs:
        key = rotation_key(_where(inp))[0] if inp.path or inp.url else "\0stdin"
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(inp)
    out: list[Input] = []
    for key in order:
        members = groups[key]
        if key != "\0stdin":
            members.sort(key=lambda i: rotation_key(_where(i)))
        out.extend(members)
    return out


def _where(inp: Input) -> PurePath:
    return inp.path if inp.path is not None else remote.rotation_path(inp.url or "")


def _open_raw(inp: Input) -> BinaryIO:
    if inp.url is not None:
        raw = remote.open_url(inp.url, inp.span)
        return raw if inp.span is None else _Limited(raw, inp.span[1] - inp.span[0])  # type: ignore[return-value]
    if inp.path is None:
        return sys.stdin.buffer
    st = inp.path.stat()
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(str(inp.path))
    f = open(inp.path, "rb")  # noqa: SIM115 - closed by read_blocks
    if inp.span is None:
        return f
    start, end = inp.span
    f.seek(start)
    return _Limited(f, end - start)  # type: ignore[return-value]


class _Limited:
    """A raw stream cut to ``n`` bytes."""

    def __init__(self, raw: BinaryIO, n: int) -> None:
        self.raw = raw
        self.left = n

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.raw.read(n)
        self.left -= len(data)
        return data

    def readinto(self, view: memoryview) -> int:
        got = self.raw.readinto(view[: min(len(view), self.left)]) or 0  # type: ignore[attr-defined]
        self.left -= got
        return got

    def tell(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.raw.close()


def is_plain_file(inp: Input) -> bool:
    """A regular, uncompressed file: one that can be read in independent byte ranges."""
    if inp.path is None or not inp.path.is_file():
        return False
    with open(inp.path, "rb") as f:
        return _decompressor(f.read(6)) is None


def line_spans(path: Path, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous byte ranges covering the file, each starting at a line start:
    a cut falls after the first newline at or past the even split point."""
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            pos = f.seek(max(cuts[-1], size * k // parts))
            nl = -1
            while nl < 0 and (more := f.read(1 << 16)):
                nl = more.find(b"\n")
                pos += len(more) if nl < 0 else nl + 1
            if nl < 0 or pos >= size:
                break
            cuts.append(pos)
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _decompressor(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


class _Peekable:
    """Wraps a raw stream so the first bytes can be sniffed, then read again."""

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw = raw
        self.head = head

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.raw.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.raw.read(n - len(data))
            return data
        return self.raw.read(n)

    def readinto(self, b: memoryview) -> int:
        # Straight into the caller's buffer once the head is used up: reading into a new
        # bytes object first cost a 16 MB allocation and copy per block.
        n = 0
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            if n == len(b):
                return n
        return n + (self.raw.readinto(b[n:]) or 0)  # type: ignore[attr-defined]

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()


class _Decompressing:
    """A readable stream over a zlib/bz2/lzma decompressor object.

    The standard library's GzipFile/BZ2File/LZMAFile raise on a cut-short file and discard
    what they had decoded in that read; this keeps every byte decoded before the cut, then
    raises EOFError, so a truncated rotated log loses nothing that was readable. Concatenated
    members (``cat a.gz b.gz``) are read one after the other.
    """

    READ = 1 << 20

    def __init__(self, raw: _Peekable, make: Callable[[], Any]) -> None:
        self.raw = raw
        self.make = make
        self.dec = make()
        self.out = bytearray()
        self.done = False

    def _more(self) -> None:
        data = self.raw.read(self.READ)
        if not data:
            self.done = True
            if not self.dec.eof:
                raise EOFError("compressed data ended before its end marker")
            return
        while data:
            self.out += self.dec.decompress(data)
            data = b""
            if self.dec.eof:
                data = self.dec.unused_data
                if data.strip(b"\0"):
                    self.dec = self.make()
                else:
                    data = b""

    def readinto(self, view: memoryview) -> int:
        while len(self.out) < len(view) and not self.done:
            try:
                self._more()
            except (EOFError, zlib.error, OSError, lzma.LZMAError):
                if self.out:
                    # Hand over what was decoded first; the error comes on the next read.
                    self.done = True
                    self._pending_error = True
                    break
                raise
        if not self.out and getattr(self, "_pending_error", False):
            self._pending_error = False
            raise EOFError("compressed data ended before its end marker")
        n = min(len(view), len(self.out))
        view[:n] = self.out[:n]
        del self.out[:n]
        return n

    def read(self, n: int = -1) -> bytes:
        buf = bytearray(n if n >= 0 else 1 << 24)
        got = self.readinto(memoryview(buf))
        return bytes(buf[:got])


_DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    # wbits 16+15: a gzip header and trailer, checked.
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}


def _stream(inp: Input, raw: BinaryIO) -> tuple[BinaryIO, str | None]:
    head = raw.read(6)
    kind = _decompressor(head)
    peek = _Peekable(raw, head)
    if kind is not None:
        return _Decompressing(peek, _DECOMPRESSORS[kind]), kind  # type: ignore[return-value]
    return peek, None  # type: ignore[return-value]


def _looks_binary(data: bytes) -> bool:
    """A log is text: NUL bytes in its first kilobytes mean it is not one."""
    return b"\x00" in data[:8192]


def read_blocks(
    inp: Input,
    state: ReadState,
    block_bytes: int = BLOCK_BYTES,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Block]:
    """Yield blocks of whole lines from one input; problems go into ``state``, never raise.

    ``on_progress`` receives the number of *compressed* bytes consumed since the last call, so
    a progress bar over file sizes stays truthful for .gz inputs.
    """
    try:
        raw = _open_raw(inp)
    except FileNotFoundError:
        state.problems.append(InputProblem(inp.name, "no such file", ExitCode.INPUT_MISSING))
        return
    except IsADirectoryError:
        state.problems.append(InputProblem(inp.name, "is a directory", ExitCode.INPUT_MISSING))
        return
    except PermissionError:
        state.problems.append(InputProblem(inp.name, "permission denied", ExitCode.INPUT_MISSING))
        return
    except OSError as e:
        state.problems.append(
            InputProblem(inp.name, f"cannot open: {e.strerror}", ExitCode.INPUT_MISSING)
        )
        return
    line_no = 1
    total = 0
    carry = b""
    last_pos = 0

    def progress() -> None:
        nonlocal last_pos
        if on_progress is None or (inp.path is None and inp.url is None):
            return
        try:
            pos = raw.tell()
        except (OSError, ValueError):
            return
        if pos > last_pos:
            on_progress(pos - last_pos)
            last_pos = pos

    try:
        stream, _ = _stream(inp, raw)
        first = True
        while True:
            # Read straight into a fresh buffer after the carried partial line: no copy of the
            # block is ever made, and parsing gets a zero-copy view of it.
            # One spare byte: a closing newline can be added without resizing a buffer that
            # a memoryview still exports.
            buf = _block_buffer(len(carry) + block_bytes + 1)
            buf[: len(carry)] = np.frombuffer(carry, np.uint8)
            got, error = _fill(stream, buf.data[len(carry) : -1])
            if error is not None:
                why = "cut short" if isinstance(error, EOFError) else f"corrupt ({error})"
                state.problems.append(
                    InputProblem(
                        inp.name,
                        f"compressed data {why}; the lines before that point were read",
                        ExitCode.INPUT_TRUNCATED,
                    )
                )
                end = len(carry) + got
                if end and buf[end - 1] != 10:
                    # The last partial line of a cut-short stream is a bad line, not lost.
                    buf[end] = 10
                    end += 1
                total += got
                if end and not (first and _looks_binary(buf[: min(end, 8192)].tobytes())):
                    n = _newlines(buf, end)
                    yield Block(buf.data[:end], line_no, inp, n)
                    line_no += n
                break
            end = len(carry) + got
            if first:
                first = False
                if end == 0:
                    state.problems.append(
                        InputProblem(inp.name, "empty, nothing to read", ExitCode.OK)
                    )
                    return
                if _looks_binary(buf[: min(end, 8192)].tobytes()):
                    state.problems.append(
                        InputProblem(
                            inp.name,
                            "binary data, not a text log (give the file itself, or zcat it)",
                            ExitCode.INPUT_INVALID,
                        )
                    )
                    return
            if got == 0:
                if carry:
                    buf[end] = 10
                    n = _newlines(buf, end + 1)
                    yield Block(buf.data[: end + 1], line_no, inp, n)
                    line_no += n
                break
            total += got
            cut = _last_newline(buf, end)
            if cut < 0:
                carry = buf[:end].tobytes()
                continue
            carry = buf[cut + 1 : end].tobytes()
            n = _newlines(buf, cut + 1)
            yield Block(buf.data[: cut + 1], line_no, inp, n)
            line_no += n
            progress()
        progress()
    finally:
        if inp.path is not None or inp.url is not None:
            raw.close()
        state.bytes_read[inp.name] = total
        state.lines_read[inp.name] = line_no - 1


def _block_buffer(size: int) -> np.ndarray:
    """An uninitialised buffer for one block: its pages are first touched by the read that
    fills it, which runs without the GIL. ``bytearray(size)`` zero-fills holding the GIL:
    about 10 ms per 16 MB of fresh memory, during which the processing threads waited."""
    return np.empty(size, np.uint8)


def _last_newline(buf: np.ndarray, end: int) -> int:
    """The index of the last newline in ``buf[:end]``, or -1; searched backwards a window at
    a time (a line is a few hundred bytes, so one window nearly always finds it)."""
    hi = end
    while hi > 0:
        lo = max(0, hi - (1 << 16))
        hits = np.flatnonzero(buf[lo:hi] == 10)
        if len(hits):
            return lo + int(hits[-1])
        hi = lo
    return -1


def _newlines(buf: np.ndarray, end: int) -> int:
    """Newlines in ``buf[:end]``. numpy's loops release the GIL, which bytearray.count keeps
    for 7 ms per 16 MB block while the pipeline's threads wait for it."""
    return int(np.count_nonzero(np.frombuffer(buf, np.uint8, count=end) == 10))


def _fill(stream: BinaryIO, view: memoryview) -> tuple[int, BaseException | None]:
    """Read until ``view`` is full or the stream ends (decompressors return short reads).
    A decompression error ends the read; what was decoded before it is kept."""
    got = 0
    while got < len(view):
        try:
            n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        except (EOFError, zlib.error, OSError, lzma.LZMAError) as e:
            return got, e
        if not n:
            break
        got += n
    return got, None
