"""Process lifetime: signals that end a run cleanly, and helper processes that end with it.

SIGTERM and SIGHUP end a run the way Ctrl-C does: as an exception (``Stopped``, a
KeyboardInterrupt) raised in the main thread, so every ``finally`` runs (temporary output files
are removed, workers are killed) and the CLI exits 128 + the signal's number with one line.

Helper processes (``--jobs`` workers, the finish's forked child) ask the kernel to kill them
when their parent ends (Linux ``PR_SET_PDEATHSIG``, through ctypes), so no signal, not even
SIGKILL to the parent, leaves one behind blocked on a queue nobody reads. Where prctl does not
exist they watch their parent instead (``watch_parent``).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS: tuple[int, ...] = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s
)
# The signal a closed terminal sends (and its exit status, 128 + 1, without one).
SIGHUP = int(getattr(signal, "SIGHUP", 1))
_PR_SET_PDEATHSIG = 1
# Held back around a fork (``pthread_sigmask``): a signal handled in the parent's at-fork hooks
# (logging's lock release) is "ignored" with a traceback and the run goes on; in the child,
# before its handlers are its own, it would send it back into the caller's code.
DEFERRED: set[int] = (
    {signal.SIGINT, *STOP_SIGNALS} if hasattr(signal, "pthread_sigmask") else set()
)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextmanager
def held_back() -> Iterator[Callable[[], None]]:
    """``DEFERRED`` held back for the ``with`` block (around a fork); the caller's mask comes
    back when the block ends. Yields ``let_in``: a forked child, which never leaves the block
    (it ends in ``os._exit``), calls it once its own handlers are set."""
    if not DEFERRED:
        yield lambda: None
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED)

    def let_in() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

    try:
        yield let_in
    finally:
        let_in()


class Stopped(KeyboardInterrupt):
    """A run ended by a signal; ``code`` is the exit status a shell would show (128 + n)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.code = 128 + signum


def _stop(signum: int, _frame: object) -> None:
    # Ignore repeats while the first one unwinds: a second SIGTERM must not interrupt the
    # cleanup that removes temporary files.
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    raise Stopped(signum)


def install() -> None:
    """SIGTERM and SIGHUP raise ``Stopped`` in the main thread (call from it)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s in STOP_SIGNALS:
        if signal.getsignal(s) is signal.SIG_DFL:
            signal.signal(s, _stop)


def _termios() -> Any:
    """The ``termios`` module, imported when first asked for (None off POSIX)."""
    try:
        import termios
    except ImportError:
        return None
    return termios


def closed_terminal(e: BaseException) -> bool:
    """Whether ``e`` is a terminal's answer once its window was closed (tmux kill-session, an
    xterm closed): EIO on a write, a read or a mode change."""
    if isinstance(e, OSError):
        return e.errno == errno.EIO
    termios = _termios()
    return (termios is not None and isinstance(e, termios.error) and bool(e.args)
            and e.args[0] == errno.EIO)


def terminal_gone(fd: int) -> bool:
    """Whether ``fd`` is a terminal that hung up: it answers EIO (a file or pipe: ENOTTY)."""
    termios = _termios()
    if termios is None:
        return False
    try:
        termios.tcgetattr(fd)
    except termios.error as e:
        return bool(e.args) and e.args[0] == errno.EIO
    return False


def ignore_stops() -> None:
    """SIGTERM and SIGHUP ignored from now on: the run is ending (as after the first one)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def hung_up() -> bool:
    """Whether a standard stream is a terminal that hung up. Each such stream is pointed at
    /dev/null: nothing more can reach that terminal, and what the run still writes (the last
    line, the final flush) must not fail on it."""
    gone = False
    for fd in (0, 1, 2):
        if terminal_gone(fd):
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, fd)
            os.close(null)
            gone = True
    return gone


def _prctl_pdeathsig(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes  # only in a helper process: ~1.5 ms of --help, config, formats (no numpy)

        # The running program's own symbols, libc's among them: no library search (which
        # would run ldconfig in a freshly forked worker).
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (ImportError, OSError, AttributeError):  # a Python without _ctypes: watch_parent
        return False


def die_with_parent(parent: int) -> None:
    """In a helper process: be killed when ``parent`` ends; exit now if it already has.
    Ctrl-C to the process group is the parent's to handle (one line, exit 130): ignored
    here. SIGTERM and SIGHUP end the helper at once, without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_DFL)
    if not _prctl_pdeathsig(signal.SIGKILL):
        watch_parent(parent)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def watch_parent(parent: int, every: float = 0.5) -> None:
    """Where prctl is missing: a daemon thread that ends the process once it is orphaned."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="logaudit-parent-watch", daemon=True).start()
