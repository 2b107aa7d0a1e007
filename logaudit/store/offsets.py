"""Which bytes of each input are new: offsets remembered per input.

Per input the store remembers its device, inode and size, a hash of its first line (of a log
that starts with ``#`` headers, as W3C/IIS logs do: of its head up to its first request), and
the byte offset and line count just past the last complete line read. An input is recognised by
that hash ("its first line" below), whatever its name now, so ``access.log`` that became
``access.log.1`` and then ``access.log.2.gz`` is read on from where it was left and never
twice:

- same first line, plain file at least as long as the offset: read from the offset to its last
  newline (a partial last line is left for the next run);
- same first line, compressed (rotated, so complete): the bytes past the offset are
  decompressed to a private temporary file and read from there; once read, its device, inode
  and size mark it as done, so it is never decompressed again;
- a file of a known name or inode whose first line changed, or that is shorter than the
  offset: truncated or replaced, read from the start, said in one line;
- anything else is new and read whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from logaudit.errors import ExitCode, LogauditError
from logaudit.sources import FIELDS_LINE, HEAD_BYTES, Input, InputProblem, _open_raw, _stream
from logaudit.wording import counted

FIRST_LINE_MAX = 1 << 16


@dataclass
class Plan:
    """One input's read: ``read`` (None: nothing new) and the record to keep afterwards."""

    source: Input
    read: Input | None
    start_line: int  # lines before the first one read
    record: dict[str, Any]
    note: InputProblem | None = None
    temp: Path | None = None
    # Indices of the old records this input's record replaces once it is read.
    replaces: list[int] = field(default_factory=list)


@dataclass
class Planned:
    plans: list[Plan] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)  # records of inputs not given


def _first_line(inp: Input) -> tuple[str | None, bool, str | None]:
    """The input's identity: the sha256 of its head up to and including its first line that
    is not a ``#`` comment (None: no complete such line yet), whether it is compressed, and
    the sha256 of its first line alone (what a store before this kept: ``_identity``).

    For a log that starts with a request the two are the same hash. A W3C/IIS log starts
    with ``#Software: Microsoft Internet Information Services 10.0``, the same first line in
    every day's file: by it alone the next day's file was taken for the last one grown and
    read from its offset, mid-line (lines lost); its ``#Date:`` header and first request tell
    the files apart."""
    raw = _open_raw(inp)
    try:
        stream, kind = _stream(inp, raw)
        head = b""
        while len(head) < FIRST_LINE_MAX:
            more = stream.read(1 << 12)
            if not more:
                break
            head += more
            if _identity_end(head) is not None:
                break
    finally:
        raw.close()
    nl = head.find(b"\n")
    first = None if nl < 0 else hashlib.sha256(head[: nl + 1]).hexdigest()
    end = _identity_end(head)
    if end is None and len(head) >= FIRST_LINE_MAX and head.rfind(b"\n") >= 0:
        end = head.rfind(b"\n") + 1  # a header longer than what is read: its complete lines
    if end is None:
        # A compressed file is complete: what it holds counts even without a newline.
        if kind is not None and head:
            whole = hashlib.sha256(head).hexdigest()
            return whole, True, first or whole
        return None, kind is not None, first
    return hashlib.sha256(head[:end]).hexdigest(), kind is not None, first


def _identity_end(head: bytes) -> int | None:
    """The offset just past the first complete line of ``head`` not starting with ``#``."""
    at = 0
    while True:
        nl = head.find(b"\n", at)
        if nl < 0:
            return None
        if not head.startswith(b"#", at):
            return nl + 1
        at = nl + 1


def _identity(record: dict[str, Any], head: str | None, line: str | None) -> str | None:
    """What ``record`` knows its file by: the head's identity, or for a record of a store
    before it (no ``"head"``) the first line's hash, matched as that store matched it (one
    run: the record is then rewritten). For a log that starts with a request both are the
    same; a W3C log of an older store rotated and gzipped is thus read on, not again."""
    return head if record.get("head") else line


def _binary(path: Path) -> bool:
    with open(path, "rb") as f:
        return b"\x00" in f.read(8192)


def _line_end(path: Path, size: int) -> int:
    """The offset just past the last newline within the first ``size`` bytes (0: none)."""
    with open(path, "rb") as f:
        hi = size
        while hi > 0:
            lo = max(0, hi - (1 << 16))
            f.seek(lo)
            chunk = f.read(hi - lo)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return lo + nl + 1
            hi = lo
    return 0


def _last_fields(seen: bytes) -> bytes:
    """The last ``#Fields:`` line of ``seen`` with its newline; b"" when none, or when it is
    not complete yet (the next read's ``seen`` holds it whole)."""
    nl = seen.rfind(FIELDS_LINE)
    end = seen.find(b"\n", nl + 1) if nl >= 0 else -1
    return seen[nl + 1 : end + 1] if end >= 0 else b""


def _tail(inp: Input, offset: int, folder: Path) -> tuple[Path, int, bytes]:
    """The decompressed bytes of ``inp`` past ``offset``, in a private temporary file; their
    total; and the W3C ``#`` header lines in force at ``offset`` (other logs: the head's
    lines before it, which tell the format the new lines were written in): those
    of the head and of the last MiB before it, after the last ``#Fields:`` line before it
    however far back (``Input.header``: the tail has none). A compressed stream cannot seek:
    it is decompressed from its start anyway, and each skipped MiB is searched for the
    header in C as it passes (``bytes.rfind``), with the MiB before it for a line cut
    between two reads."""
    fd, name = tempfile.mkstemp(prefix=".tail-", dir=folder)
    raw = _open_raw(inp)
    total = 0
    head = lead = fields = b""
    try:
        stream, _ = _stream(inp, raw)
        with os.fdopen(fd, "wb") as out:
            skip = offset
            while True:
                data = stream.read(1 << 20)
                if not data:
                    break
                if total < HEAD_BYTES:
                    head += data[: HEAD_BYTES - total]
                total += len(data)
                if skip:
                    seen = lead + data[:skip]
                    if head.startswith(b"#"):  # W3C/IIS: other logs have no header
                        fields = _last_fields(seen) or fields
                    lead = seen[-HEAD_BYTES:]
                if skip >= len(data):
                    skip -= len(data)
                    continue
                out.write(data[skip:])
                skip = 0
    except (EOFError, OSError) as e:
        raise LogauditError(f"{inp.name}: cannot decompress ({e})", ExitCode.INPUT_TRUNCATED) from e
    finally:
        raw.close()
    if not head.startswith(b"#"):
        # Another log: its head's lines before the offset, detected from with the new lines
        # (read before, they tell its format when the new ones are junk: QA17 #3).
        known = head[:offset]
        return Path(name), total, known[: known.rfind(b"\n") + 1]
    # The head's lines before the offset, then the lead's past the head (no line twice).
    gap = offset - len(head) - len(lead)  # bytes between the head and the lead
    # With a gap, the last #Fields: line before the offset goes between them, on its own line.
    between = b"\n" + fields if gap > 0 and fields else b""
    before = head[:offset] + between + lead[max(0, len(lead) - max(0, offset - len(head))) :]
    lines = before.splitlines(keepends=True)
    header = b"".join(x if x.endswith(b"\n") else x + b"\n" for x in lines if x.startswith(b"#"))
    return Path(name), total, header


def plan(inputs: list[Input], records: list[dict[str, Any]], folder: Path) -> Planned:
    """What to read of each input, given the store's records."""
    out = Planned()
    used: set[int] = set()
    today = date.today().isoformat()
    for inp in inputs:
        if inp.url is not None:  # QA23 F7: it said "not -" of an s3:// input
            raise LogauditError(
                f"--state reads local files only: {inp.url} is a URL (copy the logs to local "
                "files, or run without --state)",
                ExitCode.USAGE,
            )
        if inp.path is None:
            raise LogauditError(
                "--state reads files it can come back to: name the logs, not - (standard input)",
                ExitCode.USAGE,
            )
        try:
            st = inp.path.stat()
            first, compressed, line = _first_line(inp)
        except OSError:
            continue  # the pipeline says what is wrong with it
        base: dict[str, Any] = {
            "name": inp.name,
            "dev": st.st_dev,
            "ino": st.st_ino,
            "size": st.st_size,
            "first": first,
            "head": True,  # ``first`` is the head's identity (``_identity``)
            "compressed": compressed,
            "seen": today,
        }
        match = None
        mine: list[int] = []
        for i, r in enumerate(records):
            if i in used or first is None or r.get("first") != _identity(r, first, line):
                continue
            if match is None or (r["dev"], r["ino"]) == (st.st_dev, st.st_ino):
                match = i
        if first is None:
            if _binary(inp.path):
                # Not a log: handed to the pipeline, which says so (and nothing is stored).
                out.plans.append(Plan(inp, inp, 0, {**base, "offset": 0, "lines": 0}))
            # Else nothing complete yet: keep whatever record the file had.
            continue
        same = [
            i
            for i, r in enumerate(records)
            if i not in used
            and (r["name"] == inp.name or (r["dev"], r["ino"]) == (st.st_dev, st.st_ino))
        ]
        note = None
        offset = lines = 0
        if match is not None:
            used.add(match)
            mine.append(match)
            r = records[match]
            done = (r["dev"], r["ino"], r["size"], r.get("compressed")) == (
                st.st_dev,
                st.st_ino,
                st.st_size,
                True,
            )
            if compressed and done and r.get("complete"):
                out.plans.append(
                    Plan(inp, None, 0, {**r, "name": inp.name, "seen": today}, replaces=mine)
                )
                continue
            if not compressed and st.st_size < int(r["offset"]):
                note = "shorter than when last read (truncated): read again from the start"
            else:
                offset, lines = int(r["offset"]), int(r["lines"])
                # Its latest lines' times (store/close.py closes days by them).
                base.update({k: r[k] for k in ("last_local", "latest", "west") if k in r})
        elif same:
            # The same inode rewritten loses its record; a name reused by a new file (the
            # old one rotated away, perhaps not given this time) keeps the old record.
            for i in same:
                if (records[i]["dev"], records[i]["ino"]) == (st.st_dev, st.st_ino):
                    used.add(i)
                    mine.append(i)
            note = "replaced since the last run (its first line changed): read from the start"
        if compressed:
            if offset == 0:
                read: Input | None = inp
                rec = {**base, "offset": 0, "lines": 0, "complete": True}
                out.plans.append(Plan(inp, read, 0, rec, _note(inp, note), replaces=mine))
                continue
            tmp, total, header = _tail(inp, offset, folder)
            read = replace(inp, path=tmp, header=header) if total > offset else None
            rec = {**base, "offset": total, "lines": lines, "complete": True}
            out.plans.append(Plan(inp, read, lines, rec, _note(inp, note), temp=tmp, replaces=mine))
            continue
        # A file rotated since the last run (its record under another name, the same inode,
        # and that name no longer this file: not the live log spelt another way, ./a.log
        # for a.log or a symlink, whose last line is still being written) is read to its
        # end: nothing is appended to it now, and a last line without its newline left for
        # the next run waited forever (review #5: "waits for the next run" at every run).
        rotated = match is not None and (
            records[match]["name"] != inp.name
            and (records[match]["dev"], records[match]["ino"]) == (st.st_dev, st.st_ino)
            and not _names(records[match]["name"], st)
        )
        end = st.st_size if rotated else _line_end(inp.path, st.st_size)
        if st.st_size > max(end, offset):
            # One pass reads a last line without its newline; the store leaves it for the
            # next run, whose read of the line whole starts there (QA17 #5: it was unsaid).
            left = st.st_size - max(end, offset)
            waits = f"a partial last line ({counted(left, 'byte')}) waits for the next run"
            note = f"{note}; {waits}" if note else waits
        read = replace(inp, span=(offset, end)) if end > offset else None
        rec = {**base, "offset": end if end > offset else offset, "lines": lines}
        out.plans.append(Plan(inp, read, lines, rec, _note(inp, note), replaces=mine))
    out.kept = [r for i, r in enumerate(records) if i not in used]
    return out


def _note(inp: Input, text: str | None) -> InputProblem | None:
    return InputProblem(inp.name, text, ExitCode.OK) if text else None


@contextmanager
def scratch(root: Path) -> Iterator[Path]:
    """A private folder for decompressed tails, removed afterwards (and by the next run if
    this one is killed: it lives inside the store, named as an orphan)."""
    folder = Path(tempfile.mkdtemp(prefix=".scratch-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _names(name: str, st: os.stat_result) -> bool:
    """Whether ``name`` is (still) the file ``st`` describes."""
    try:
        now = os.stat(name)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)
