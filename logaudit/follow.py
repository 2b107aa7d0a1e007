"""``records --follow``: new requests as they are written, parsed, enriched and filtered.

Each log is followed like ``tail -F``: from its end (only requests written from now on), a
partial last line waits for its newline, and a rotation (the name now points at another file)
or a truncation is noticed at the next poll: the rest of the old file is read, then the new
one from its start. Rows go through the same ``Enricher`` (filters, ``--bots``, ``--since``)
and the same writers as ``records``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from logaudit.config import Settings
from logaudit.enrich.classify import Enricher
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import (
    Detected,
    Lead,
    after,
    agent_logged,
    detect_for,
    in_force,
    sample_lines,
)
from logaudit.parse import BadLines, in_line_order, parse_block
from logaudit.procs import Stopped
from logaudit.records import Query, Result, _Enrich, _spelled_durations, writer_for
from logaudit.sources import Block, Input, InputProblem, head_and_lead, not_a_log, without_nuls

if TYPE_CHECKING:
    import pandas as pd

# Seconds between polls.
INTERVAL = 1.0
# At most this many bytes are read from one file per poll (a burst is taken in turns).
READ_MAX = 16 * 1024 * 1024
# The first bytes of a followed file kept to tell a copytruncate that grew back within a poll.
HEAD_BYTES = 64


@dataclass
class Tail:
    """One followed path."""

    path: Path
    from_start: bool = False
    f: BinaryIO | None = None
    ino: tuple[int, int] = (0, 0)
    carry: bytes = b""
    # The file's line number of the next line poll returns, and of the first line it last
    # returned (what rows number from): counted from the file's start, so that a row's line is
    # the one ``sed -n Np`` shows; 1 again in a new file (rotated, truncated, appeared).
    line: int = 1
    data_line: int = 1
    # Whether the lines before the starting point are counted (``start_at``): watch shows no
    # line numbers and skips that read of the file up to its backlog.
    numbered: bool = True
    det: Detected | None = None
    notes: list[str] = field(default_factory=list)
    # The folder this file was found in (``Input.found_in``), None when named explicitly.
    found_in: str | None = None
    # Not there at the last poll: its appearance is said (as tail -F says it).
    waiting: bool = False
    # The header lines a file held or got before its first log line (detect_now, rows):
    # detected from with it, as the reports and records detect (formats.Lead).
    lead: Lead = field(default_factory=Lead)
    # The file offset of the next byte poll returns, and of the first byte it last returned
    # (where a NUL run is said to be, as the reports say it).
    at: int = 0
    data_at: int = 0
    # The file's first bytes (up to HEAD_BYTES, none past ``at``) as read: a copytruncate that
    # grew back past ``at`` within one poll is told by them or by ``before``: the byte that
    # really preceded ``at`` when it was set (a newline once read; any byte when started at
    # the end of a last line without one, or at watch's backlog start).
    head: bytes = b""
    before: bytes = b""

    def detect(self, data: bytes, settings: Settings) -> InputProblem | None:
        """Find the format from the first lines read, as the reports do (``detect_for``: format
        strings and config names, --tz, the client behind proxies). A file found in a folder
        whose lines are no log's (nginx's error.log beside access.log) is to be skipped: the
        one line that says so is returned, as summary says it; a file named explicitly fails
        (exit 4)."""
        inp = Input(str(self.path), self.path, found_in=self.found_in)
        try:
            self.det = detect_for(data, inp.name, settings)
        except LogauditError as e:
            problem = not_a_log(inp, str(e).split(": ", 1)[-1], e.exit_code)
            if problem.exit_code != ExitCode.OK:
                raise LogauditError(str(e), e.exit_code) from None
            return problem
        return None

    def rows(
        self, data: bytes, settings: Settings, enricher: Enricher, bad: BadLines
    ) -> pd.DataFrame | InputProblem:
        """New complete lines -> their enriched, filtered rows; or the one line saying this
        file is skipped (found in a folder, no log: see ``detect``), after which it is closed
        and must not be polled again. NUL runs (copytruncate's hole) are taken out and
        counted apart in ``bad``, as ``read_blocks`` and the reports do."""
        data, runs = without_nuls(data, self.data_line, self.data_at)
        if self.det is None:
            first = self.lead.first(data)
            if first is None:  # header lines only so far (IIS's file of the day): kept
                bad.runs_of(Block(data, self.data_line, Input(str(self.path), self.path), 0, runs))
                import pandas as pd

                return pd.DataFrame()
            skipped = self.detect(bytes(first), settings)
            self.lead = Lead()
            if skipped is not None:
                if self.f is not None:
                    self.f.close()
                    self.f = None
                return skipped
        assert self.det is not None  # found by detect
        n = data.count(b"\n")
        block = Block(data, self.data_line, Input(str(self.path), self.path), n, runs)
        bad.runs_of(block)
        chunk = in_line_order(parse_block(block, self.det, bad))  # as records shows them
        self.det = after(self.det, data)  # a W3C #Fields: header changes the next lines
        return enricher.apply(chunk, has_agent=agent_logged(self.det))

    def detect_now(self, settings: Settings, upto: int | None = None) -> InputProblem | None:
        """Detect from the lines already in the file, when it has some: a file that is no log
        is said at once, not at its first new line (which may never come). ``upto``: where
        reading starts (None: the file's end, as --follow reads; watch's backlog start): a
        W3C ``#Fields:`` header written last before it, however far back, is the one in force
        there (``sources.head_and_lead``). A file of nothing but header lines (IIS's new file
        of the day) is detected with its first log line, its headers kept for it."""
        try:
            with open(self.path, "rb") as f:
                head, lead, end = head_and_lead(f, upto)  # what the reports detect from
        except OSError:
            return None  # not there yet: detected from its first lines when it appears
        head = head[: head.rfind(b"\n") + 1]
        if not sample_lines(head, 1):
            self.lead = Lead(head)
            return None
        skipped = self.detect(head, settings)
        if skipped is None and self.det is not None:
            self.det = in_force(self.det, head, lead, end)
        return skipped

    def _open(self, at_end: bool) -> bool:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - kept open while followed
        except OSError:
            return False
        st = os.fstat(f.fileno())
        if self.f is not None:
            self.f.close()
        self.f, self.ino, self.carry = f, (st.st_dev, st.st_ino), b""
        self.start_at(f.seek(0, os.SEEK_END) if at_end else 0)
        return True

    def start_at(self, at: int) -> None:
        """Read on from ``at`` of the open file (its end, watch's backlog start): the byte
        before it and the file's first bytes kept as they are, for ``_truncated``; the lines
        before it counted (``numbered``), so that the next line has its number in the file."""
        assert self.f is not None
        fd = self.f.fileno()
        self.f.seek(at)
        self.at = self.data_at = at
        self.line = self.data_line = 1 + (newlines_before(fd, at) if self.numbered else 0)
        self.before = os.pread(fd, 1, at - 1) if at else b""
        self.head = os.pread(fd, min(HEAD_BYTES, at), 0)

    def _truncated(self) -> bool:
        """Cut since the last poll (copytruncate): shorter than what was read, or grown back
        past it within one poll (a busy server), told by the byte before ``at`` no longer being
        ``before`` (a line's newline once read) or the file's first bytes no longer being those
        read. Two preads."""
        assert self.f is not None
        fd = self.f.fileno()
        if os.fstat(fd).st_size < self.f.tell():
            return True
        if self.at == 0:
            return False
        if os.pread(fd, 1, self.at - 1) != self.before:
            return True
        return os.pread(fd, len(self.head), 0) != self.head

    def poll(self) -> bytes:
        """The new complete lines (b"" when none)."""
        if self.f is None:
            if not self._open(at_end=not self.from_start):
                self.from_start = True  # not there yet: once it appears, all of it is new
                self.waiting = True
                return b""
            if self.waiting:
                self.waiting = False
                self.notes.append(f"{self.path}: appeared, reading from its start")
        assert self.f is not None
        if self._truncated():
            self.notes.append(f"{self.path}: truncated, reading from its start")
            self.f.seek(0)
            self.carry, self.at, self.head, self.line = b"", 0, b"", 1
        data = self.f.read(READ_MAX)
        if not data:
            try:
                st = os.stat(self.path)
            except OSError:
                return b""  # between the rename and the create: the next poll finds it
            if (st.st_dev, st.st_ino) != self.ino:
                self.notes.append(f"{self.path}: rotated, following the new file")
                tail, at, line = self.carry, self.at, self.line
                self._open(at_end=False)  # its lines from 1 (start_at resets data_*)
                self.data_at, self.data_line = at, line  # the old file's last line's
                # A rotated file's last line is complete even without its newline.
                return tail + b"\n" if tail else b""
            return b""  # a truncation is told at the next poll (``_truncated``)
        data = self.carry + data
        cut = data.rfind(b"\n") + 1
        self.carry = data[cut:]
        self.data_at, self.at = self.at, self.at + cut
        self.data_line = self.line
        self.line += data.count(b"\n", 0, cut)
        if cut:
            self.before = b"\n"
        if len(self.head) < HEAD_BYTES and len(self.head) < self.at:
            self.head = os.pread(self.f.fileno(), min(HEAD_BYTES, self.at), 0)
        return data[:cut]


def newlines_before(fd: int, at: int, piece: int = 1 << 20) -> int:
    """The newlines in the first ``at`` bytes of ``fd``, read a piece at a time (a follow
    starts at the end of a log of any size)."""
    buf = bytearray(piece)
    view = memoryview(buf)
    n = done = 0
    while done < at:
        got = os.preadv(fd, [view[: min(piece, at - done)]], done)
        if not got:
            break  # cut meanwhile: what is left is counted by the truncation's 1
        n += buf.count(b"\n", 0, got)
        done += got
    return n


def follow(
    paths: list[Path],
    settings: Settings,
    query: Query,
    fmt: str,
    out: TextIO,
    stop: Callable[[], bool] | None = None,
    interval: float = INTERVAL,
    from_start: bool = False,
    on_note: Callable[[str], None] | None = None,
    found_in: Mapping[Path, str] | None = None,
) -> Result:
    """Write the matching new requests of ``paths`` to ``out`` until ``stop()`` says so (or
    Ctrl-C), flushing after each poll that wrote rows."""
    if query.sort is not None:
        raise LogauditError("--follow streams rows as they come: it cannot --sort", ExitCode.USAGE)
    tails = [Tail(p, from_start, found_in=(found_in or {}).get(p)) for p in paths]
    enricher = Enricher(settings)
    extra = _Enrich(settings, query.fields)
    bad = BadLines()
    problems: list[InputProblem] = []

    def skip(t: Tail, problem: InputProblem) -> None:
        """A folder's error.log: said once, not followed (exit 4 when nothing is left)."""
        drop(tails, t, problem)
        if on_note is not None:
            on_note(str(problem))
        else:
            problems.append(problem)

    for t in list(tails):
        skipped = t.detect_now(settings, upto=0 if from_start else None)
        if skipped is not None:  # said at once, not at its first new line
            skip(t, skipped)
    w = writer_for(fmt, out)
    written = 0
    stopped: Stopped | None = None
    try:
        while stop is None or not stop():
            for t in list(tails):
                data = t.poll()
                for note in t.notes:
                    # Said when it happens: a follow may run for days.
                    if on_note is not None:
                        on_note(note)
                    else:
                        problems.append(
                            InputProblem(str(t.path), note.split(": ", 1)[1], ExitCode.OK)
                        )
                t.notes.clear()
                if not data:
                    continue
                chunk = t.rows(data, settings, enricher, bad)
                if isinstance(chunk, InputProblem):
                    skip(t, chunk)
                    continue
                if not len(chunk):
                    continue
                rows = _spelled_durations(extra(chunk), query.fields)[list(query.fields)]
                if query.limit is not None:
                    rows = rows.head(query.limit - written)
                w.write(rows)
                out.flush()
                written += len(rows)
                if query.limit is not None and written >= query.limit:
                    return Result(written, problems, bad)
            time.sleep(interval)
    except Stopped as e:
        # SIGTERM/SIGHUP: the rows written are kept (-o FILE committed, the summary said),
        # then the caller raises it again: exit 143/129, not success.
        stopped = e
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a follow: exit 0 (README)
    finally:
        w.close()
        for t in tails:
            if t.f is not None:
                t.f.close()
    return Result(written, problems, bad, stopped=stopped)


def drop(tails: list[Tail], t: Tail, skipped: InputProblem) -> None:
    """Stop following ``t``, a file that is no log (``skipped`` says why). When every file
    found was skipped (a folder holding only nginx's error.log) there is nothing to follow,
    and waiting would wait for ever: summary fails alike (exit 4), the message saying why."""
    tails.remove(t)
    if not tails:
        raise LogauditError(f"no log left to follow: {skipped}", ExitCode.INPUT_INVALID)
