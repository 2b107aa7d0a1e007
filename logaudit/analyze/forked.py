"""Building a report's sections on two cores: the sections marked ``apart`` in a forked child.

After the last block a run's work is the finish: each section is built from the merged tables,
one after another, while the machine's other cores sit idle. Sections marked ``apart`` (the
audience panels: a GeoIP lookup per distinct client, joins per visitor) share nothing with the
others, so on a big run a child forked from this process builds them from the same tables,
inherited copy-on-write, and sends them back pickled while this process builds the rest. On the
1M-line benchmark the finish took 0.36-0.38 s in one process and 0.23-0.25 s this way, the fork
itself 0.02 s (docs/performance.md).

The child never returns into the caller's code: whatever happens it leaves with ``os._exit``,
so no ``finally`` or ``atexit`` of the parent runs twice and no output buffer is flushed twice.
When the child fails (an exception, a signal, a result that does not unpickle) or is too slow,
this process builds those sections itself, so a failure costs time, never a section, and an
error the child hit is raised here, where the caller handles it.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import warnings
from collections.abc import Callable, Sequence

from logaudit.analyze.base import Context, Partial, SectionSpec
from logaudit.report import Section

# Below this many requests the finish is quick and a fork would cost more than it saves.
FORK_MIN_REQUESTS = 200_000

# How long this process waits for the child once its own part is done, beyond the time that
# part took (the child's part is the smaller: 0.12-0.17 s against 0.21-0.23 s at 1M lines).
# A child still busy after that is taken to be stuck: it is killed and its sections are built
# here.
WAIT_MIN_SECONDS = 30.0
WAIT_FACTOR = 10.0


def can_fork() -> bool:
    return hasattr(os, "fork")


class Child:
    """A forked child building some sections; ``result()`` collects them, or None."""

    def __init__(self, build: Callable[[], list[Section]]) -> None:
        """Fork; raises OSError (and leaves nothing open) when that is not possible."""
        read_end, write_end = os.pipe()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns of fork in a process with threads. The pipeline's
                # threads have ended; what may remain (a progress bar's refresh thread,
                # Arrow's pool) holds nothing the child uses, and Arrow re-creates its pool
                # after a fork.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(read_end)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                data = pickle.dumps(build(), protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write_end, view) :]
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        self.pid = pid
        self.fd = read_end
        self.started = time.monotonic()

    def result(self, timeout: float) -> list[Section] | None:
        """The child's sections, or None when it failed or did not finish within
        ``timeout`` seconds (it is killed then)."""
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    self.cancel()
                    return None
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            self._close()
        _, status = os.waitpid(self.pid, 0)
        if status != 0:
            return None
        try:
            sections = pickle.loads(b"".join(chunks))
        except Exception:
            return None
        return sections if isinstance(sections, list) else None

    def cancel(self) -> None:
        """Kill the child and reap it (this process failed, or the child is stuck)."""
        self._close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def _close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def build_sections(
    specs: Sequence[SectionSpec],
    p: Partial,
    ctx: Context,
    requests: int,
    first: Callable[[], None] = lambda: None,
) -> list[Section]:
    """Every spec's section, in the specs' order. ``first()`` (the overview's own work) runs
    here before this process's sections, while the child, if any, is already at work."""
    apart = [i for i, s in enumerate(specs) if s.apart]
    here = [i for i, s in enumerate(specs) if not s.apart]
    if not apart or not here or requests < FORK_MIN_REQUESTS or not can_fork():
        first()
        return [s.build(p, ctx) for s in specs]
    try:
        child = Child(lambda: [specs[i].build(p, ctx) for i in apart])
    except OSError:  # no process or pipe to spare (EAGAIN, ENOMEM, EMFILE): one process
        first()
        return [s.build(p, ctx) for s in specs]
    try:
        first()
        built = {i: specs[i].build(p, ctx) for i in here}
    except BaseException:
        child.cancel()
        raise
    took = time.monotonic() - child.started
    away = child.result(max(WAIT_MIN_SECONDS, WAIT_FACTOR * took))
    if away is None or len(away) != len(apart):
        away = [specs[i].build(p, ctx) for i in apart]
    built.update(zip(apart, away, strict=True))
    return [built[i] for i in range(len(specs))]
