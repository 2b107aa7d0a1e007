"""One run at a time on a store: an exclusive ``flock`` on ``STATE/lock``.

The kernel drops the lock when its holder exits, however it exits (SIGKILL included), so a
crashed run never leaves the store locked. A second run fails at once with a clear line, or
with ``--wait`` waits for the first (``wait`` seconds at most; None: without limit).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logaudit.errors import ExitCode, LogauditError


class StoreBusy(LogauditError):
    exit_code = ExitCode.STORE_BUSY


@contextmanager
def locked(root: Path, wait: float | None = 0.0) -> Iterator[None]:
    """Hold the store's lock. ``wait``: 0 fails at once if another run holds it; a number
    waits that many seconds; None waits as long as it takes."""
    fd = os.open(root / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                    raise StoreBusy(
                        f"--state {root}: another logaudit run is using this store"
                        + (f" (pid {holder})" if holder else "")
                        + "; give --wait to wait for it"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
