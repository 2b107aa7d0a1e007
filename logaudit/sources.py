"""Inputs: paths, globs, directories of rotated sets, compressed files and stdin.

A source yields *blocks*: large byte strings that end on a line boundary, each tagged with the
number of its first line, so parsing is columnar over a block and never touches lines one by one.
Compression is recognised by magic bytes, not by file name: a rotated ``access.log.2`` that
happens to be gzip is read correctly, and ``zcat | logaudit summary -`` works too.
"""

from __future__ import annotations

import bz2
import errno
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

from logaudit import magic, remote
from logaudit import octets as _octets
from logaudit.config import tuning_bytes
from logaudit.errors import ExitCode, InputMissingError
from logaudit.wording import counted

# Bytes per block: large enough that per-block costs vanish, small enough to stay in cache-
# friendly sizes and keep memory flat. LOGAUDIT_BLOCK_MB overrides (tuning and tests).
BLOCK_BYTES = tuning_bytes("LOGAUDIT_BLOCK_MB", 16, most_mb=1024)

# A plain file at least this big is cut into a number of blocks that is a multiple of the
# threads processing them (``read_blocks``'s ``share``), all of one size: a 150,000-line file
# (39 MB) was three 16 MB blocks, so one thread processed two while the other waited, and
# a 10 MB file one block, one thread. Below it a block's fixed costs (about 20 tables of
# pandas calls, ~15 ms) outweigh sharing it.
SHARE_MIN_BYTES = 4 * 1024 * 1024
# Up to this many rounds' worth of blocks (``share`` blocks of at most ``block_bytes``), a
# plain file is cut into one round of larger blocks instead: one block per thread. A
# 150,000-line file (39 MB) was four 9.75 MB blocks, two per thread, each paying a block's
# fixed costs (its ~20 tables' pandas calls, a merge into the running tables, a question to
# the agents helper); as two 19.5 MB blocks its summary took 0.700 s against 0.726 s
# (docs/performance.md, "Twelfth round"). Blocks stay under 2 x ``block_bytes``.
ONE_ROUND_UP_TO = 2


def shared_block_bytes(size: int, block_bytes: int, share: int) -> int:
    """The block size that cuts ``size`` bytes into whole rounds of ``share`` equal blocks
    of at most ``block_bytes`` (``block_bytes`` itself for small, unknown or huge sizes); up
    to ``ONE_ROUND_UP_TO`` such rounds, one round of ``share`` larger blocks."""
    if share <= 1 or size < SHARE_MIN_BYTES or size >= 1 << 50:
        return block_bytes
    if size <= ONE_ROUND_UP_TO * share * block_bytes:
        return max(1 << 16, -(-size // share))
    blocks = -(-size // block_bytes)
    blocks += -blocks % share
    return max(1 << 16, -(-size // blocks))


# Magic numbers -> opener. xz's magic is six bytes, bzip2's three, gzip's two.
_MAGIC = magic.MAGIC

# A rotated file's suffix: ".1", ".2.gz", "-20240101", "-20240101.gz", ".bz2", ".xz".
_ROTATION = re.compile(
    r"^(?P<base>.+?)(?:\.(?P<num>\d+)|-(?P<date>\d{8,10}))?(?:\.(?:gz|bz2|xz))?\Z",
    re.DOTALL,  # a name is any bytes, a newline too (\Z: not before a final newline)
)
# Names in a folder left out silently: hidden files and the folder's own notes.
_NOT_A_LOG_NAME = re.compile(r"^\.|^README|\.md$", re.I)
# Names of a folder's files left out that a note shows (then "...").
NAMES_SHOWN = 3
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
    # Why an input named on the command line cannot be found ("no such file", ...): it is
    # reported when read, like an unreadable one, and the other inputs are still read.
    missing: str | None = None
    # Not an input but a note about a folder given as one (files in it left out by name): said
    # when read (exit code unchanged), and listed among no inputs.
    note: str | None = None
    # The folder (as given) this file was found in by walking it; None for a file named
    # explicitly. A file found so that is not a log (format not recognised, binary) is
    # skipped with a note instead of failing the run (``not_a_log``).
    found_in: str | None = None
    # W3C ``#`` header lines in force before the input's first byte, for detection only: a
    # store's tail of a rotated W3C log, its headers left in the part read before (another
    # log's tail: the lines of its head read before, which tell its format).
    header: bytes = b""

    @property
    def size(self) -> int:
        if self.url is not None:
            return self.url_size
        if self.path is None or self.missing is not None or self.note is not None:
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


# Why a named file is missing that ``records --follow`` and ``watch`` wait for (as ``tail -F``):
# it may be created later. A pattern matching nothing, a folder (with no logs, or a name ending
# in "/") or a symlink loop is no file that can appear: still exit 3.
NO_SUCH_FILE = "no such file"
# An argument ending with a slash names a folder: "no such file" read as if a file was meant.
NO_SUCH_FOLDER = "no such folder"
DANGLING = "a symlink to a file that does not exist"


def appears_later(inp: Input) -> bool:
    """A missing input that a follow waits for: a file (or dangling symlink) not there yet."""
    return inp.missing in (NO_SUCH_FILE, DANGLING) and not inp.name.endswith(("/", os.sep))


def compressed(path: Path) -> str | None:
    """The compression of the file at ``path`` ("gzip", ...); None when plain or unreadable."""
    try:
        with open(path, "rb") as f:
            return magic.decompressor(f.read(6))
    except OSError:
        return None


def said(inp: Input) -> InputProblem | None:
    """What an input that ``expand`` found nothing to read in says instead (a missing file,
    exit 3; a folder's note of files left out, exit 0); None for an input to read."""
    if inp.missing is not None:
        return InputProblem(inp.name, inp.missing, ExitCode.INPUT_MISSING)
    if inp.note is not None:
        return InputProblem(inp.name, inp.note, ExitCode.OK)
    return None


def not_a_log(inp: Input, message: str, code: ExitCode) -> InputProblem:
    """The problem of an input that is not a log (``message``, exit ``code``): a file named
    explicitly fails the run as documented (exit 4); one found by walking a folder (nginx's
    error.log next to its access.log) is skipped, said in one line, exit code unchanged."""
    if inp.found_in is not None and code == ExitCode.INPUT_INVALID:
        return InputProblem(inp.name, f"skipped, found in {inp.found_in}: {message}", ExitCode.OK)
    return InputProblem(inp.name, message, code)


# Problems of the same kind said per input, at most this many times; then one line says how
# many more inputs had it (a glob of 1,000 unreadable files printed 1,000 lines).
PROBLEMS_SHOWN = 5


def _kind(problem: InputProblem) -> tuple[int, str]:
    """What makes two inputs' problems "the same": the exit code and the reason's wording up to
    its first detail (byte offsets and counts aside)."""
    head = re.split(r"[:;(]", problem.message, maxsplit=1)[0]
    return int(problem.exit_code), re.sub(r"[0-9][0-9,.]*", "#", head).strip()


def capped(problems: Iterable[InputProblem], shown: int = PROBLEMS_SHOWN) -> list[str]:
    """One line per problem, but at most ``shown`` of each kind, followed by "... and N more
    inputs like this (reason)" after the last one shown. Every problem still counts towards
    the exit code; this is what a terminal or a report shows."""
    seen: dict[tuple[int, str], int] = {}
    out: list[str] = []
    where: dict[tuple[int, str], int] = {}
    for p in problems:
        k = _kind(p)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] <= shown:
            out.append(str(p))
            where[k] = len(out)
    # Inserted from the last position back, so earlier positions stay right.
    for k, at in sorted(where.items(), key=lambda kv: -kv[1]):
        more = seen[k] - shown
        if more > 0:
            out.insert(at, f"... and {counted(more, 'more input')} like this ({k[1]})")
    return out


@dataclass
class Block:
    """Whole lines: ``data`` ends with a newline and holds ``lines`` of them."""

    data: bytes | bytearray | memoryview
    first_line: int
    source: Input
    lines: int = -1
    # Stretches of the input that are not lines (NUL runs): (line number, reason) each, to be
    # counted apart (``BadLines``' NUL runs, not lines) by whoever parses the block.
    stretches: list[tuple[int, str]] = field(default_factory=list)
    # Found by the reading thread (``octets.rare``): the positions of ``data``'s backslashes
    # and CRs, and whether all of it is ASCII; None when not known (parsing finds them).
    rare: tuple[np.ndarray, np.ndarray] | None = None
    ascii: bool = False

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


def expand(args: Iterable[str], follow: bool = False) -> list[Input]:
    """Turn command-line arguments into inputs, rotated sets ordered oldest first.

    An argument that names nothing (no such file, no match, a dangling symlink or a loop, a
    directory without logs; a URL naming no object, or whose server or credentials fail)
    becomes an input whose ``missing`` says why: reading it reports that in one line (exit 3),
    as for an unreadable file, while the others are read. Raises
    InputMissingError, naming the first such argument, when no argument names anything; with
    ``follow``, a file that may appear later (``appears_later``) counts as named.
    """
    inputs: list[Input] = []

    def missing(arg: str, why: str) -> None:
        inputs.append(Input(arg, Path(arg).expanduser(), missing=why))

    # The file (device, inode; a symlink's target, a hard link's other name) -> the name it
    # was first read by.
    seen: dict[object, str] = {}
    seen_urls: set[str] = set()
    for arg in args:
        if arg == "-":
            inputs.append(Input("<stdin>", None))
            continue
        if remote.is_url(arg):
            try:
                objects = remote.expand(arg)
            except remote.Unreadable as e:
                # As a missing path: said in one line when read (exit 3), the others read.
                inputs.append(Input(arg, None, url=arg, missing=e.why))
                continue
            for url, size in objects:
                if url not in seen_urls:
                    seen_urls.add(url)
                    inputs.append(Input(url, None, url=url, url_size=size))
                else:  # read once, and said, as a file named twice
                    inputs.append(Input(url, None, url=url, note="named twice: read once"))
            continue
        p = Path(arg).expanduser()
        walked: str | None = None
        why = _stat_problem(p)
        if why == "permission":
            # A folder or file we may not read: an input of its own, reported as unreadable
            # like any other (exit 3), while the other inputs are still read.
            inputs.append(Input(str(p), p))
            continue
        if p.is_dir():
            try:
                children = list(p.iterdir())
            except PermissionError:
                inputs.append(Input(str(p), p))
                continue
            files = [c for c in children if _is_file(c)]
            found = [c for c in files if _LOGLIKE.search(c.name)]
            if not found:
                missing(arg, "a directory with no log files in it")
                continue
            # Files whose names are not a log's (a script, lnav's logfile_w3c.0) are left out,
            # but said: a file silently not read is a figure silently wrong. Hidden files and
            # a folder's own notes (README, *.md: sample_logs/ has one) are not logs anyone
            # missed, and are left out silently.
            left = sorted(
                c.name for c in files if c not in found and not _NOT_A_LOG_NAME.search(c.name)
            )
            if left:
                them = "them" if len(left) > 1 else "it"
                shown = ", ".join(left[:NAMES_SHOWN]) + (", ..." if len(left) > NAMES_SHOWN else "")
                inputs.append(
                    Input(
                        arg,
                        p,
                        note=f"{counted(len(left), 'file')} in it not read, not named like a log "
                        f"({shown}); name {them} to read {them}",
                    )
                )
            paths = sorted(found, key=rotation_key)
            walked = arg
        elif why is None:
            paths = [p]
        elif why == "loop":
            missing(arg, "a symlink loop (too many levels of symbolic links)")
            continue
        elif glob.has_magic(arg):
            paths = sorted((Path(g) for g in glob.glob(os.path.expanduser(arg))), key=rotation_key)
            paths = [g for g in paths if _is_file(g)]
            if not paths:
                missing(arg, "no such file, and no file matches it as a pattern")
                continue
        elif why == "dangling":
            missing(arg, DANGLING)
            continue
        else:
            missing(arg, NO_SUCH_FOLDER if arg.endswith(("/", os.sep)) else NO_SUCH_FILE)
            continue
        for path in paths:
            real: object
            try:
                st = os.stat(path)
                real = (st.st_dev, st.st_ino)
            except OSError:
                real = path.absolute()
            if real not in seen:
                seen[real] = str(path)
                inputs.append(Input(str(path), path, found_in=walked))
            else:  # named twice, through a symlink or a hard link: read once, and said
                first = seen[real]
                same = "named twice" if first == str(path) else f"the same file as {first}"
                inputs.append(Input(str(path), path, note=f"{same}: read once"))
    gone = [i for i in inputs if i.missing and not (follow and appears_later(i))]
    if gone and all(i in gone or i.note for i in inputs):
        # Nothing named exists: one line about the first argument, no run (exit 3).
        raise InputMissingError(f"{gone[0].name}: {gone[0].missing}")
    # Arguments that are one rotated set given separately (access.log access.log.1 ...) are
    # read oldest first too; inputs from different sets keep the order they were given in.
    return _order_rotated(inputs)


def _stat_problem(p: Path) -> str | None:
    """None when ``p`` can be looked at; else "permission", "loop", "dangling" or
    "missing"."""
    try:
        os.stat(p)
        return None
    except PermissionError:
        return "permission"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "loop"
        if os.path.islink(p):
            return "dangling"
        return "missing"


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


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
        if sys.stdin is None:  # started with stdin closed (``<&-``)
            raise OSError(errno.EBADF, "standard input is closed")
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


HEAD_BYTES = 1 << 20


def file_head(f: BinaryIO) -> bytes:
    """What format detection reads of an open file: its first MiB; when no line ends there
    (a first line longer than that), also from that line's end the next MiB
    (``formats.sample_lines`` drops the cut line and samples what follows). The long line's
    middle is skipped a MiB at a time, never held (a 300 MB one-line file took 741 MB)."""
    head = f.read(HEAD_BYTES)
    if b"\n" in head or len(head) < HEAD_BYTES:
        return head
    while chunk := f.read(HEAD_BYTES):
        at = chunk.find(b"\n")
        if at >= 0:
            return head + chunk[at:] + f.read(HEAD_BYTES)
    return head


FIELDS_LINE = b"\n#Fields:"


def last_fields(f: BinaryIO, lo: int, hi: int) -> tuple[int, bytes]:
    """The last W3C ``#Fields:`` line that starts in ``[lo, hi)`` of the open file ``f`` (at a
    line start, ``lo`` > 0) and its offset; (-1, b"") when there is none. However far back it
    is: the file is read backwards a MiB at a time with ``os.pread`` and searched in C
    (``bytes.rfind``; the blocks overlap by the pattern's length), never split into lines (a
    header changed 30 MB before the offset was missed when only the last MiB was looked at,
    and the lines after it were read in the head's layout: wrong figures). Not mapped: a file
    cut short while mapped (copytruncate) killed Python with SIGBUS; cut short while read,
    it just reads short."""
    if hi <= lo:
        return -1, b""
    try:
        fd = f.fileno()
        hi = min(hi, os.fstat(fd).st_size)
        start = max(0, lo - 1)
        pos = hi
        nl = -1
        while pos > start and nl < 0:
            at = max(start, pos - HEAD_BYTES)
            block = os.pread(fd, min(hi, pos + len(FIELDS_LINE) - 1) - at, at)
            found = block.rfind(FIELDS_LINE)
            if found >= 0:
                nl = at + found
            pos = at
        if nl < 0:
            return -1, b""
        line = b""
        at = nl + 1
        while at < hi:
            chunk = os.pread(fd, min(HEAD_BYTES, hi - at), at)
            if not chunk:
                break
            end = chunk.find(b"\n")
            if end >= 0:
                return nl + 1, line + chunk[:end]
            line += chunk
            at += len(chunk)
        return nl + 1, line
    except (OSError, ValueError):  # not a file (a pipe, a special file): none found
        return -1, b""


def head_and_lead(f: BinaryIO, upto: int | None = None) -> tuple[bytes, bytes, int]:
    """What detection reads of a file read from ``upto`` on (None: its end, as --follow
    reads): its head (``file_head``), the bytes of the last MiB before ``upto`` that the head
    does not hold, and ``upto`` (the end when None). Detected from the head, the format takes
    the W3C ``#Fields:`` header in force where the reading starts (``formats.in_force``): for
    a file that starts with ``#`` (W3C/IIS), the lead then starts with the last ``#Fields:``
    line between the head and ``upto`` when the last MiB does not hold it (``last_fields``)."""
    head = file_head(f)
    read = f.tell()
    end = f.seek(0, os.SEEK_END) if upto is None else upto
    at = max(read, end - HEAD_BYTES)
    f.seek(at)
    lead = f.read(max(0, end - at))
    if head.startswith(b"#") and at > read:
        # From the start of the head's last line: it may be cut at the head's end, and a
        # ``#Fields:`` line starting there is then wholly in neither (QA17's big34.log). The
        # head ends at ``read`` (a long first line's middle skipped is before its last "\n").
        where, line = last_fields(f, read - len(head) + head.rfind(b"\n") + 1, end)
        if 0 <= where < at:
            # Not (wholly) in the lead, so the lead holds no later one: it is the one in force.
            lead = line + b"\n"
    return head, lead, end


def _size_now(inp: Input) -> int:
    """The size of ``inp``'s file now (-1: none, or gone)."""
    try:
        return inp.path.stat().st_size if inp.path is not None else -1
    except OSError:
        return -1


def is_plain_file(inp: Input) -> bool:
    """A regular, uncompressed file: one that can be read in independent byte ranges."""
    return inp.path is not None and magic.plain_file(inp.path)


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


_decompressor = magic.decompressor


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


@dataclass
class Damage:
    """A damaged stretch of a compressed input: where decoding failed (compressed byte
    offset), how many compressed bytes were skipped, and whether reading resumed after it."""

    offset: int
    skipped: int
    resumed: bool
    why: str


class _Decompressing:
    """A readable stream over a zlib/bz2/lzma decompressor object that loses nothing readable.

    The standard library's GzipFile/BZ2File/LZMAFile raise on a damaged or cut-short file and
    discard what they had decoded in that call. Here compressed data is fed in STEP-byte steps,
    so an error loses at most one step's output; gzip (whose decoder state can be copied)
    then replays the failing step byte by byte, which recovers as much as ``zcat``. After
    damage, reading resumes at the next gzip member, xz stream or bzip2 stream when there is
    one (``cat a.gz b.gz`` and rotated files appended to each other); the skipped bytes are
    recorded in ``damage``. A stream cut short sets ``cut_short``. Neither raises: the caller
    reports them after the lines that were read.
    """

    READ = 1 << 20
    STEP = 1 << 14

    def __init__(self, raw: _Peekable, kind: str) -> None:
        self.raw = raw
        self.kind = kind
        self.make = _DECOMPRESSORS[kind]
        self.magic = next(m for m, k in _MAGIC if k == kind)
        self.dec = self.make()
        self.out = bytearray()
        self.done = False
        self.consumed = 0  # compressed bytes taken from ``raw``
        self.damage: list[Damage] = []
        self.cut_short = False
        self._fed = False  # the current decoder has been given data
        self.member_start = 0  # compressed offset where the current decoder started
        self._out_at_damage = -1  # bytes output when the last damage was recorded
        self._produced = 0

    def _read(self) -> bytes:
        data = self.raw.read(self.READ)
        self.consumed += len(data)
        return data

    def _emit(self, data: bytes) -> None:
        self.out += data
        self._produced += len(data)

    def _more(self) -> None:
        buf = self._read()
        if not buf:
            self.done = True
            if self._fed and not self.dec.eof:
                self.cut_short = True
            return
        i = 0
        while i < len(buf) or (self.dec.eof and self.dec.unused_data):
            if self.dec.eof:
                # A member/stream ended: what follows is another one, padding, or junk.
                rest = self.dec.unused_data + buf[i:]
                if not rest.strip(b"\0"):
                    self._fed = False
                    self.dec = self.make()
                    return
                buf, i = rest, 0
                self.dec = self.make()
                self._fed = False
                if not buf.startswith(self.magic):
                    buf, i = self._resync(buf, 0, "data after the end of the compressed stream")
                    continue
            step = buf[i : i + self.STEP]
            saved = self.dec.copy() if self.kind == "gzip" else None
            try:
                if not self._fed:
                    self.member_start = self.consumed - len(buf) + i
                self._emit(self.dec.decompress(step))
                self._fed = True
                i += len(step)
            except (EOFError, zlib.error, OSError, lzma.LZMAError) as e:
                if saved is None:
                    saved = self._decoder_before(self.consumed - len(buf) + i)
                at = self._replay(saved, step) if saved is not None else 0
                buf, i = self._resync(buf, i + 1, str(e), at)

    def _decoder_before(self, offset: int) -> Any:
        """A decoder in the state it had before compressed byte ``offset``, rebuilt by decoding
        the member again from its start (xz and bzip2 decoders cannot be copied); None when the
        input cannot seek (stdin), where at most one step's output is lost."""
        f = self.raw.raw
        try:
            if not f.seekable():
                return None
            here = f.tell()
            dec = self.make()
            f.seek(self.member_start)
            left = offset - self.member_start
            while left > 0:
                data = f.read(min(left, self.READ))
                if not data:
                    break
                left -= len(data)
                dec.decompress(data)
            f.seek(here)
            return dec
        except (OSError, ValueError, EOFError, lzma.LZMAError, AttributeError):
            return None

    def _replay(self, dec: Any, step: bytes) -> int:
        """Feed the failing step one byte at a time from a copy of the decoder's state, to
        keep every byte decoded before the error; returns the failing byte's index."""
        for k in range(len(step)):
            try:
                self._emit(dec.decompress(step[k : k + 1]))
            except (EOFError, zlib.error, OSError, lzma.LZMAError):
                return k
        return len(step)

    def _resync(self, buf: bytes, i: int, why: str, within: int = 0) -> tuple[bytes, int]:
        """Skip to the next stream start (its magic bytes) from ``buf[i]``, reading on as
        needed; record the damage, found ``within`` bytes after ``buf[i - 1]``. Returns the
        buffer and index to go on from."""
        failed_at = self.consumed - len(buf) + max(0, i - 1) + within
        if self._out_at_damage == self._produced and self.damage:
            # Nothing decoded since the last damage (a false start): one longer stretch.
            failed_at = self.damage.pop().offset
        if self.out and not self.out.endswith(b"\n"):
            # The partial line before the damage stays a (bad) line of its own.
            self._emit(b"\n")
        self._out_at_damage = self._produced
        while True:
            j = buf.find(self.magic, i)
            if j >= 0:
                start = self.consumed - len(buf) + j
                self.damage.append(Damage(failed_at, start - failed_at, True, why))
                self.dec = self.make()
                self._fed = False
                return buf, j
            keep = buf[max(i, len(buf) - len(self.magic) + 1) :]
            more = self._read()
            if not more:
                self.damage.append(Damage(failed_at, self.consumed - failed_at, False, why))
                self.done = True
                self._fed = False
                return b"", 0
            buf, i = keep + more, 0

    def readinto(self, view: memoryview) -> int:
        while len(self.out) < len(view) and not self.done:
            self._more()
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
        return _Decompressing(peek, kind), kind  # type: ignore[return-value]
    return peek, None  # type: ignore[return-value]


# "Binary" is decided on the share of control bytes (other than tab, newline, CR, form feed,
# vertical tab and ESC) in the first SAMPLE_BYTES, NUL runs of NUL_RUN bytes or more left
# out: logrotate's copytruncate and a crash while writing leave such runs at the start of a
# real text log, and one stray NUL must not reject a file either.
SAMPLE_BYTES = 64 * 1024
BINARY_SHARE = 0.05
NUL_RUN = 16
_TEXT_CONTROLS = np.zeros(256, bool)
_TEXT_CONTROLS[[9, 10, 11, 12, 13, 27]] = True
_BINARY = np.zeros(256, bool)
_BINARY[:32] = True
_BINARY[127] = True
_BINARY &= ~_TEXT_CONTROLS
# NUL and whitespace: what an input that holds no text at all is made of.
_SPACE = np.zeros(256, bool)
_SPACE[[0, 9, 10, 13, 32]] = True


def _nul_runs(octets: np.ndarray) -> np.ndarray:
    """(start, end) pairs of the runs of NUL bytes in ``octets``, shape (k, 2)."""
    nul = np.concatenate(([False], octets == 0, [False]))
    edges = np.flatnonzero(nul[1:] != nul[:-1])
    return edges.reshape(-1, 2)


def _looks_binary(data: bytes | np.ndarray) -> bool:
    """Not a text log: over BINARY_SHARE of the sample are binary bytes (see SAMPLE_BYTES)."""
    octets = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data
    keep = np.ones(len(octets), bool)
    for a, b in _nul_runs(octets):
        if b - a >= NUL_RUN:
            keep[a:b] = False
    sample = octets[keep][:SAMPLE_BYTES]
    if not len(sample):
        return False  # nothing but NUL runs: reported as such, not as binary
    return bool(_BINARY[sample].sum() > BINARY_SHARE * len(sample))


def _nul_message(start: int, end: int, kind: str | None) -> str:
    where = "decompressed bytes" if kind else "bytes"
    return (
        f"{where} {start:,}-{end - 1:,}: {end - start:,} NUL bytes skipped "
        "(left by logrotate's copytruncate or a crash while writing)"
    )


class _NulStretches:
    """NUL runs across an input's blocks, merged where one block's run goes on in the next;
    each is one run (``Block.stretches``, counted apart, not a line) at the line it starts on."""

    def __init__(self, kind: str | None, offset: int = 0) -> None:
        self.kind = kind
        self.offset = offset  # input offset of the next block's first byte (after its carry)
        self.open: list[int] | None = None  # [start, end, line] of a run touching the end

    def strip(
        self, buf: np.ndarray, end: int, first_line: int, has_nul: bool | None = None
    ) -> tuple[Any, list[Any]]:
        """The block's bytes without NULs, and finished stretches (line, reason). ``has_nul``:
        whether ``buf[:end]`` holds a NUL, if already known (``octets.scan``)."""
        octets = buf[:end]
        base = self.offset
        self.offset += end
        # The common case, no NUL at all, in one pass without a temporary array (a 16 MB
        # block: under 1 ms; finding runs costs about 25 ms).
        if has_nul is None:
            has_nul = bool(end) and int(octets.min()) == 0
        runs = _nul_runs(octets) if has_nul else np.zeros((0, 2), np.int64)
        done: list[tuple[int, str]] = []
        if not len(runs):
            if self.open is not None:
                done.append(self._close())
            return buf.data[:end], done
        lines_before = np.cumsum(octets == 10)
        for a, b in runs:
            a, b = int(a), int(b)
            line = first_line + (int(lines_before[a - 1]) if a else 0)
            if self.open is not None and self.open[1] == base + a:
                self.open[1] = base + b
            else:
                if self.open is not None:
                    done.append(self._close())
                self.open = [base + a, base + b, line]
            if b < end:
                done.append(self._close())
        return octets[octets != 0].tobytes(), done

    def _close(self) -> tuple[int, str]:
        assert self.open is not None
        start, end, line = self.open
        self.open = None
        return line, _nul_message(start, end, self.kind)

    def finish(self) -> list[tuple[int, str]]:
        return [self._close()] if self.open is not None else []


def without_nuls(
    data: bytes, first_line: int, offset: int = 0
) -> tuple[bytes, list[tuple[int, str]]]:
    """``data`` (whole lines of a plain file, its first byte at ``offset``) without its NUL
    runs, and those runs as ``Block.stretches``: what ``read_blocks`` does to a block, for
    a reader that makes its blocks itself (``records --follow``)."""
    if b"\0" not in data:
        return data, []
    nuls = _NulStretches(None, offset)
    kept, runs = nuls.strip(np.frombuffer(data, np.uint8), len(data), first_line, True)
    return bytes(kept), runs + nuls.finish()


def read_blocks(
    inp: Input,
    state: ReadState,
    block_bytes: int = BLOCK_BYTES,
    on_progress: Callable[[int], None] | None = None,
    share: int = 1,
) -> Iterator[Block]:
    """Yield blocks of whole lines from one input; problems go into ``state``, never raise.

    ``share``: how many threads process the blocks; a plain file's blocks are made the same
    size and a multiple of it in number (``shared_block_bytes``) so that they finish together.

    ``on_progress`` receives the number of *compressed* bytes consumed since the last call, so
    a progress bar over file sizes stays truthful for .gz inputs. Runs of NUL bytes are taken
    out of the blocks and reported as one run each (``Block.stretches``); damaged and
    cut-short compressed data are reported in ``state.problems`` after every readable line.
    """
    instead = said(inp)
    if instead is not None:
        state.problems.append(instead)
        return
    try:
        raw = _open_raw(inp)
    except FileNotFoundError:  # gone since ``expand`` found it
        gone = "no such object" if inp.url is not None else "no such file"
        state.problems.append(InputProblem(inp.name, gone, ExitCode.INPUT_MISSING))
        return
    except IsADirectoryError:
        why = "is a directory"
        if inp.path is not None and not os.access(inp.path, os.R_OK | os.X_OK):
            why = "permission denied (a folder that cannot be read)"
        state.problems.append(InputProblem(inp.name, why, ExitCode.INPUT_MISSING))
        return
    except PermissionError:
        denied = "access denied" if inp.url is not None else "permission denied"
        state.problems.append(InputProblem(inp.name, denied, ExitCode.INPUT_MISSING))
        return
    except OSError as e:
        why = "standard input is closed" if e.errno == errno.EBADF else _os_reason(e)
        if e.errno == errno.ELOOP:
            why = "a symlink loop"
        state.problems.append(InputProblem(inp.name, f"cannot open: {why}", ExitCode.INPUT_MISSING))
        return
    line_no = 1
    total = 0
    carry = b""
    last_pos = 0
    stream: Any = None
    nuls: _NulStretches | None = None
    # NUL stretches finished while no line had ended yet: they go with the next block.
    pending: list[tuple[int, str]] = []
    # Whether bytes were read since the last newline (NULs taken out of the carry included):
    # a last line of nothing but NULs, without its newline, is still a line.
    open_line = False

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

    def block(buf: np.ndarray, end: int) -> Block:
        nonlocal line_no
        assert nuls is not None
        # The newlines, the NUL check and what parsing looks for, in one pass over the
        # block (three passes before: each read its 16 MB again from memory).
        n, has_nul, rare, ascii_only = _octets.scan(np.frombuffer(buf, np.uint8, count=end))
        data, stretches = nuls.strip(buf, end, line_no, has_nul)
        b = Block(data, line_no, inp, n, pending + stretches)
        if isinstance(data, memoryview):  # no NUL taken out: the bytes are ``buf``'s
            # The reading thread mostly waits for the processing threads: what parsing
            # would look for in the block is found here (3-4 ms of their time a block).
            b.rare, b.ascii = rare, ascii_only
        pending.clear()
        line_no += n
        return b

    try:
        stream, kind = _stream(inp, raw)
        nuls = _NulStretches(kind, inp.span[0] if inp.span else 0)
        first = True
        # A small plain file is read into a buffer of its size: a 16 MB one per file made a
        # glob of thousands of small files map and unmap 16 MB each (0.5 ms a file).
        size = _plain_size(inp, raw, kind)
        block_bytes = shared_block_bytes(size, block_bytes, share)
        first_bytes = min(block_bytes, max(size + 1, 1 << 16))
        while True:
            want = first_bytes if first else block_bytes
            # Read straight into a fresh buffer after the carried partial line: no copy of the
            # block is ever made, and parsing gets a zero-copy view of it.
            # One spare byte: a closing newline can be added without resizing a buffer that
            # a memoryview still exports.
            buf = _block_buffer(len(carry) + want + 1)
            buf[: len(carry)] = np.frombuffer(carry, np.uint8)
            got, error = _fill(stream, buf.data[len(carry) : -1])
            end = len(carry) + got
            total += got
            if error is not None:
                state.problems.append(
                    InputProblem(
                        inp.name,
                        f"read failed ({_os_reason(error)}); the lines before that point were read",
                        ExitCode.INPUT_TRUNCATED,
                    )
                )
                got = 0  # what was read is handed over as the last block below
            if first:
                first = False
                damaged = isinstance(stream, _Decompressing) and (stream.damage or stream.cut_short)
                if damaged and stream.cut_short and got < want and _last_newline(buf, end) < 0:
                    # Cut short before its first full line (a bz2 delaycompress is writing):
                    # only "cut short" is said (exit 5), not "nothing but NUL bytes" of an
                    # empty buffer nor "format not recognised" of a partial line.
                    return
                if end == 0 and error is None and not damaged:
                    state.problems.append(
                        InputProblem(inp.name, "empty, nothing to read", ExitCode.OK)
                    )
                    return
                # (text in the first 64 KiB settles it: a Dask range task is read as a
                # small input, and the whole-block scan cost 0.14 s per 16 MiB block)
                head = buf[: min(end, 1 << 16)]
                # A byte range (--jobs, Dask) is no input of its own; one from the start to
                # the file's end (a store's first read of it) is. Nor is a store's tail of a
                # rotated, compressed log (``inp.header``: its start was read by an earlier run).
                a_tail = bool(inp.header)
                whole = not a_tail and (
                    inp.span is None or (inp.span[0] == 0 and inp.span[1] >= _size_now(inp))
                )
                if (
                    got < want
                    and whole
                    and _SPACE[head].all()
                    and not buf[:end][~_SPACE[buf[:end]]].any()
                ):
                    # The whole input is NULs and blank lines: a crash left nothing else. A
                    # range of them is read as any: its lines and NUL runs are counted (they
                    # were lost, and Dask said the input was nothing but NUL bytes).
                    state.problems.append(
                        not_a_log(inp, "nothing but NUL bytes", ExitCode.INPUT_INVALID)
                    )
                    return
                # A range from an offset (--jobs, Dask, a store reading on) or a tail is not
                # judged: the file's start was (one pass reads a binary line mid-file as a bad
                # line).
                if (
                    not a_tail
                    and (inp.span is None or inp.span[0] == 0)
                    and _looks_binary(buf[: min(end, 4 * SAMPLE_BYTES)])
                ):
                    state.problems.append(
                        not_a_log(
                            inp,
                            "binary data, not a text log (give the file itself, or zcat it)",
                            ExitCode.INPUT_INVALID,
                        )
                    )
                    return
            if got == 0:
                if not end and open_line:
                    line_no += 1  # the carry was all NULs: its line is empty, not gone
                if end:
                    if buf[end - 1] != 10:
                        # The last partial line of a cut-short input is a bad line, not lost.
                        buf[end] = 10
                        end += 1
                    yield block(buf, end)
                break
            cut = _last_newline(buf, end)
            if cut < 0:
                # No line ends here. NULs are taken out at once: copytruncate can leave a hole
                # as big as the old log, and carrying it whole would hold it all in memory.
                data, done = nuls.strip(buf, end, line_no)
                pending.extend(done)
                carry = bytes(data)
                open_line = open_line or end > 0
                nuls.offset -= len(carry)  # the carried bytes are counted again next block
                continue
            carry = buf[cut + 1 : end].tobytes()
            open_line = False
            yield block(buf, cut + 1)
            progress()
        progress()
        tail = pending + nuls.finish()
        if tail:
            # A NUL run at the very end: one more (empty) block carries its stretch.
            yield Block(b"", line_no, inp, 0, tail)
    finally:
        if inp.path is not None or inp.url is not None:
            raw.close()
        state.bytes_read[inp.name] = total
        state.lines_read[inp.name] = line_no - 1
        if isinstance(stream, _Decompressing):
            state.problems.extend(_damage_problems(inp.name, stream))


def _plain_size(inp: Input, raw: Any, kind: str | None) -> int:
    """The bytes an uncompressed local input holds, as far as known now (a live log may
    grow: reading goes on in whole blocks after the first); a big number otherwise."""
    unknown = 1 << 62
    if kind is not None or inp.path is None:
        return unknown
    if inp.span is not None:
        return inp.span[1] - inp.span[0]
    try:
        return int(os.fstat(raw.fileno()).st_size)
    except (OSError, ValueError, AttributeError):
        return unknown


def _os_reason(e: BaseException) -> str:
    return (getattr(e, "strerror", None) or str(e) or type(e).__name__).lower()


def _damage_problems(name: str, stream: _Decompressing) -> list[InputProblem]:
    out = []
    for d in stream.damage:
        then = (
            "reading resumed at the next compressed stream"
            if d.resumed
            else "the rest of the file could not be read"
        )
        out.append(
            InputProblem(
                name,
                f"compressed data damaged at byte {d.offset:,} ({d.why}); every line before it "
                f"was read, {d.skipped:,} compressed bytes were skipped and {then}",
                ExitCode.INPUT_TRUNCATED,
            )
        )
    if stream.cut_short:
        out.append(
            InputProblem(
                name,
                "compressed data cut short; the lines before that point were read",
                ExitCode.INPUT_TRUNCATED,
            )
        )
    return out


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
