"""Building a report's sections on two cores: groups of sections shared with a forked child.

After the last block a run's work is the finish: each section is built from the merged tables,
one after another, while the machine's other cores sit idle. On a big run a child forked from
this process builds some of them from the same tables, inherited copy-on-write, and sends them
back pickled while this process builds the rest. On the 1M-line benchmark the finish took
0.36-0.38 s in one process and 0.23-0.25 s this way, the fork itself 0.02 s
(docs/performance.md).

Which process builds what: ``analyze.FORK_GROUPS`` names groups of sections that share nothing
with the others (a group's own sections may share ``Context.once`` results: it is built whole
by one process), and the two processes take them in that order, each the next one left when
it is free, so neither waits long for the other whatever the log makes expensive (an
all-distinct log's referring sites took 2.4 s of a 4.6 s finish while the child, which built
the audience panels alone, was done after 0.7 s). Sections in no group (the visits sections
share the headline's visits) are built here. Without groups the sections marked ``apart``
(the audience panels) are the child's alone, as before.

The child never returns into the caller's code: whatever happens it leaves with ``os._exit``,
so no ``finally`` or ``atexit`` of the parent runs twice and no output buffer is flushed twice.
When the child fails (an exception, a signal, a result that does not unpickle) or is stuck,
this process builds those sections itself, so a failure costs time, never a section, and an
error the child hit is raised here, where the caller handles it.
"""

from __future__ import annotations

import mmap
import os
import pickle
import selectors
import signal
import struct
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from logaudit import procs
from logaudit.analyze.base import Context, Partial, SectionSpec, drop_engines
from logaudit.report import Section

# Below this many requests the finish is quick and a fork would cost more than it saves.
FORK_MIN_REQUESTS = 200_000
# From this many it forks too when another core is idle at that moment (``_core_idle``): on a
# quiet host a 150,000-line summary's finish took 0.085 s forked against 0.125 s (10,000
# lines: 0.079 against 0.089 s, for 0.03 s more CPU, so not below this); on a busy one the
# child would only queue behind the other processes for the core it was meant to use.
FORK_IDLE_MIN_REQUESTS = 100_000

# A child is taken to be stuck, killed, and its sections built here, when its CPU time has not
# moved for this long (a deadlocked child sleeps; a busy one, however slow, is left alone).
# Where a process's CPU time cannot be read (no /proc), when it has not answered this long
# after this process's own part, or WAIT_FACTOR times that part's time if longer.
STALL_SECONDS = 30.0
WAIT_MIN_SECONDS = 300.0
WAIT_FACTOR = 10.0
# How often the CPU time is looked at while waiting.
POLL_SECONDS = 0.5


# Signals held back from the moment of the fork until each side is ready for them.


def can_fork() -> bool:
    return hasattr(os, "fork") and hasattr(signal, "pthread_sigmask")


def _worth_forking(requests: int) -> bool:
    if requests >= FORK_MIN_REQUESTS:
        return True
    return requests >= FORK_IDLE_MIN_REQUESTS and _core_idle()


def _core_idle() -> bool:
    from logaudit.enrich.agentproc import core_idle  # the agents helper's test, /proc/loadavg

    return core_idle()


def _cpu_ticks(pid: int) -> int | None:
    """A process's user + system CPU time in clock ticks, from /proc (Linux); None where
    that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


class Child:
    """A forked child computing a part of a run (some sections here; a year's movers for
    ``store/apart.py``); ``result()`` collects it, or None."""

    def __init__(self, build: Callable[[], list[Any]], spill: bool = False) -> None:
        """Fork; raises OSError (and leaves nothing open) when that is not possible.

        ``spill``: the child writes its result to an unlinked temporary file (``_spill``),
        and the pipe only tells when it is done (it closes once the file is whole; the child
        is still waited for, ``_reap``). For a large
        result that this process collects once its own part is done (``store/apart.py``: a
        year of movers, 77 MB pickled): through the pipe the child waited on each 64 KiB this
        process read, the two took turns for a third of a second, and the bytes were copied
        four times (read, joined, unpickled); the file is written at once and its arrays are
        mapped, not copied (``_unspilt``)."""
        self.file = tempfile.TemporaryFile() if spill else None
        try:
            read_end, write_end = os.pipe()
        except BaseException:
            self._close_file()
            raise
        parent = os.getpid()
        try:
            self._fork(build, parent, read_end, write_end)
        except BaseException:
            # A signal held back during the fork is let in as the block ends, in the parent,
            # with the child running: it is killed and reaped, not left a zombie holding the
            # store's lock and the spill file.
            if hasattr(self, "pid"):
                self.cancel()
            raise

    def _fork(
        self, build: Callable[[], list[Any]], parent: int, read_end: int, write_end: int
    ) -> None:
        # Signals wait until the child is inside its try (a KeyboardInterrupt between fork
        # and try would send the child back into the caller's code) and the parent has its pid.
        with procs.held_back() as let_in:
            try:
                with warnings.catch_warnings():
                    # Python 3.12+ warns of fork in a process with threads. The pipeline's
                    # threads have ended; what may remain (a progress bar's refresh thread,
                    # Arrow's pool) holds nothing the child uses, and Arrow re-creates its
                    # pool after a fork.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
            except BaseException as e:
                os.close(read_end)
                os.close(write_end)
                self._close_file()
                if isinstance(e, RuntimeError):  # a subinterpreter (Python 3.12+) cannot fork
                    raise OSError(str(e)) from e
                raise
            if pid == 0:  # the child: never returns
                code = 1
                try:
                    os.close(read_end)
                    procs.die_with_parent(parent)  # killed with its parent, whatever the signal
                    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly
                    let_in()
                    if self.file is not None:
                        _spill(build(), self.file.fileno())
                    else:
                        data = pickle.dumps(build(), protocol=pickle.HIGHEST_PROTOCOL)
                        view = memoryview(data)
                        while view:
                            view = view[os.write(write_end, view) :]
                    code = 0
                    # The result is whole: the parent may take it now. Closed at the exit,
                    # the pipe ended only once the kernel had torn down this copy of the
                    # parent's memory (5-10 ms of a 150,000-line summary's finish, its last).
                    # A spilling child is still waited for (``_reap``).
                    os.close(write_end)
                finally:
                    os._exit(code)
            os.close(write_end)
            self.pid = pid
            self.fd = read_end
            self.started = time.monotonic()
            self.reaped = False

    def result(self, took: float) -> list[Any] | None:
        """The child's sections (by group: ``build_sections``), or None when it failed or is
        stuck (it is killed then). ``took``: how long this process's own part took (see
        STALL_SECONDS)."""
        try:
            data = self._read(took)
            if data is None:
                self.cancel()
                return None
            status = self._reap(data)
            if self.file is not None and status in (0, None):
                return _unspilt(self.file.fileno())
        except BaseException:
            self.cancel()
            raise
        finally:
            if self.reaped:
                self._close_file()
        # A cut-short pickle does not load, so the data decides even when the status is
        # unknown (another part of the program reaped the child, or SIGCHLD is ignored, or
        # it is still leaving after a whole result and a thread reaps it: ``_reap``).
        if status not in (0, None):
            return None
        try:
            sections = pickle.loads(data)
        except Exception:
            return None
        return sections if isinstance(sections, list) else None

    def _read(self, took: float) -> bytes | None:
        """Everything the child writes, until it closes the pipe; None if it is stuck."""
        chunks: list[bytes] = []
        deadline = time.monotonic() + max(WAIT_MIN_SECONDS, WAIT_FACTOR * took)
        cpu, moved = _cpu_ticks(self.pid), time.monotonic()
        # selectors, not select.select: the pipe's descriptor may be past FD_SETSIZE in a
        # program with many files open.
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while True:
                if sel.select(POLL_SECONDS):
                    chunk = os.read(self.fd, 1 << 20)
                    if not chunk:
                        self._close()
                        return b"".join(chunks)
                    chunks.append(chunk)
                    continue
                now = time.monotonic()
                if cpu is not None:
                    ticks = _cpu_ticks(self.pid)
                    if ticks != cpu:
                        cpu, moved = ticks, now
                    elif now - moved > STALL_SECONDS:
                        return None
                elif now > deadline:
                    return None

    def _reap(self, data: bytes) -> int | None:
        """The child's wait status, or None if it was reaped elsewhere, or is a finish's
        child still leaving after a whole result (it closes the pipe before its exit:
        ``_fork``): then a thread reaps it while this process goes on (``_reap_later``).
        A spilling child is waited for here: it holds what this process held at the fork
        (the store's lock: the next run must not find it taken by a finished child). So is
        a child that ended the pipe by leaving early: what it sent is no result anyway."""
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if not pid:
                if self.file is None and self._whole(data):
                    _reap_later(self.pid)
                    self.reaped = True
                    return None
                _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = None
        self.reaped = True
        return status

    @staticmethod
    def _whole(data: bytes) -> bool:
        """Whether the child seems to have sent all of its pickled result: a pickle ends with
        its STOP opcode. This decides only whether to wait for the child here; what it sent
        is checked as before (a pickle cut short does not load)."""
        return data.endswith(_PICKLE_END)

    def cancel(self) -> None:
        """Kill the child and reap it (this process failed, or the child is stuck)."""
        self._close()
        self._close_file()
        if self.reaped:
            return
        self.reaped = True
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _close_file(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _reap_later(pid: int) -> None:
    """Reap ``pid`` on a thread, waiting without the GIL until it is gone (no zombie left)."""
    try:
        threading.Thread(target=_wait_for, args=(pid,), name="logaudit-reap", daemon=True).start()
    except RuntimeError:  # no thread to spare: wait here
        _wait_for(pid)


def _wait_for(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored)
        pass


_PICKLE_END = pickle.STOP  # a pickle's last byte


# A spilt result's file: its parts (the pickle, then each out-of-band buffer: numpy's and
# Arrow's arrays) at ALIGN-byte offsets, then the table of their (offset, length) and last
# the header (MAGIC, the table's offset, the number of parts), written after everything else
# so that a file cut short has none.
MAGIC = b"LAspill1"
ALIGN = 64
_HEADER = struct.Struct("<8sQQ")


def _spill(result: Any, fd: int) -> None:
    """Write ``result`` to the empty file ``fd`` (``_unspilt`` reads it)."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    parts = [memoryview(head), *(b.raw() for b in buffers)]
    table: list[int] = []
    at = _HEADER.size
    for part in parts:
        at = -(-at // ALIGN) * ALIGN
        table += [at, part.nbytes]
        _write_at(fd, part, at)
        at += part.nbytes
    _write_at(fd, memoryview(struct.pack(f"<{len(table)}Q", *table)), at)
    _write_at(fd, memoryview(_HEADER.pack(MAGIC, at, len(parts))), 0)


def _write_at(fd: int, view: memoryview, at: int) -> None:
    view = view.cast("B")
    while view:
        n = os.pwrite(fd, view, at)
        view, at = view[n:], at + n


def _unspilt(fd: int) -> list[Any] | None:
    """The result ``_spill`` wrote to ``fd``, its buffers mapped copy-on-write (the arrays
    stay writable; the file's pages are copied only where written); None when the file is
    not whole, or cannot be mapped (a temporary folder on a file system without mmap: the
    part is then made here, as for any failure of the child)."""
    try:
        size = os.fstat(fd).st_size
        if size < _HEADER.size:
            return None
        with mmap.mmap(fd, size, access=mmap.ACCESS_COPY) as whole:
            magic, at, n = _HEADER.unpack_from(whole, 0)
            if magic != MAGIC or not 0 < n <= size or at + 16 * n > size:
                return None
            table = struct.unpack_from(f"<{2 * n}Q", whole, at)
            if any(o + k > at for o, k in zip(table[::2], table[1::2], strict=True)):
                return None
        mapped = memoryview(mmap.mmap(fd, size, access=mmap.ACCESS_COPY))
    except (OSError, ValueError):
        return None
    parts = [mapped[o : o + k] for o, k in zip(table[::2], table[1::2], strict=True)]
    try:
        result = pickle.loads(parts[0], buffers=parts[1:])
    except Exception:
        return None
    return result if isinstance(result, list) else None


def _built(spec: SectionSpec, p: Partial, ctx: Context) -> Section:
    """One section, then the lookup tables it left on the merged tables dropped
    (``base.drop_engines``: on 1M distinct values, hundreds of MB held to the end)."""
    section = spec.build(p, ctx)
    drop_engines(p)
    return section


def build_sections(
    specs: Sequence[SectionSpec],
    p: Partial,
    ctx: Context,
    requests: int,
    first: Callable[[], None] = lambda: None,
    groups: Sequence[Sequence[int]] | None = None,
) -> list[Section]:
    """Every spec's section, in the specs' order. ``first()`` (the overview's own work) runs
    here before this process's sections, while the child, if any, is already at work.

    ``groups``: indexes into ``specs``, a group's sections built whole by one process (they
    share ``Context.once`` results), the groups handed out in this order to whichever of the
    two processes is free (``_Claims``); the specs in no group are built here, first. None:
    the specs marked ``apart``, one group that the child alone builds."""
    shared = groups is not None
    if groups is None:
        apart = [i for i, s in enumerate(specs) if s.apart]
        groups = [apart]
    groups = [list(g) for g in groups if g][: _Claims.MAX]
    grouped = {i for g in groups for i in g}
    here = [i for i in range(len(specs)) if i not in grouped]
    child = claims = None
    if (
        groups
        and (here or (shared and len(groups) > 1))
        and can_fork()
        and _worth_forking(requests)
    ):
        try:
            claims = _Claims(len(groups))
            taking = claims
            child = Child(lambda: _taken(taking, groups, specs, p, ctx))
        except OSError:  # no process or pipe to spare (EAGAIN, ENOMEM, EMFILE): one process
            if claims is not None:
                claims.close()
            child = claims = None
    if child is None or claims is None:
        first()
        return [_built(s, p, ctx) for s in specs]
    mine: set[int] = set()
    try:
        first()
        built = {i: _built(specs[i], p, ctx) for i in here}
        while shared:
            g = claims.take()
            if g is None:
                break
            mine.add(g)
            built.update((i, _built(specs[i], p, ctx)) for i in groups[g])
    except BaseException:
        child.cancel()
        raise
    finally:
        claims.close()
    away = _checked(child.result(time.monotonic() - child.started), groups, mine)
    for g, members in enumerate(groups):
        if g in mine:
            continue
        # The child's, or built here when the child failed (whatever it had taken).
        sections = away.get(g) or [_built(specs[i], p, ctx) for i in members]
        built.update(zip(members, sections, strict=True))
    return [built[i] for i in range(len(specs))]


class _Claims:
    """The groups still to build: a pipe holding one byte per group, its writing end closed.
    Parent and child each read one byte at a time, and a pipe's reads are atomic, so each
    group is taken by exactly one of them; an empty pipe reads as its end (None)."""

    MAX = 255  # one byte per group

    def __init__(self, groups: int) -> None:
        self.fd, write_end = os.pipe()
        try:
            os.write(write_end, bytes(range(groups)))  # far below a pipe's buffer
        except BaseException:
            os.close(self.fd)
            raise
        finally:
            os.close(write_end)

    def take(self) -> int | None:
        if self.fd < 0:
            return None
        byte = os.read(self.fd, 1)
        return byte[0] if byte else None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _taken(
    claims: _Claims,
    groups: list[list[int]],
    specs: Sequence[SectionSpec],
    p: Partial,
    ctx: Context,
) -> list[tuple[int, list[Section]]]:
    """In the child: the groups it takes, each built, until none is left."""
    out = []
    while (g := claims.take()) is not None:
        out.append((g, [_built(specs[i], p, ctx) for i in groups[g]]))
    return out


def _checked(away: object, groups: list[list[int]], mine: set[int]) -> dict[int, list[Section]]:
    """The child's groups by number, or nothing when its answer does not fit (a group this
    process took, one given twice, a section missing): then this process builds them all."""
    if not isinstance(away, list):
        return {}
    out: dict[int, list[Section]] = {}
    for item in away:
        if not (isinstance(item, tuple) and len(item) == 2):
            return {}
        g, sections = item
        if (
            not isinstance(g, int)
            or not 0 <= g < len(groups)
            or g in mine
            or g in out
            or not isinstance(sections, list)
            or len(sections) != len(groups[g])
            or not all(isinstance(s, Section) for s in sections)
        ):
            return {}
        out[g] = sections
    return out
