"""Writing output files: whole or not at all, owner-only, never over an input, never through
someone else's symlink.

``atomic_output(path, mode, inputs)`` is the one way logaudit writes a file (``-o``; the mail
engineer's .eml and on-disk reports use it or its binary twin ``atomic_output_binary``):

- ``None``: standard output (closed -> OUTPUT, exit 9).
- ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``: that descriptor,
  written in place, so ``-o /dev/stdout >> f`` appends to ``f`` and a pipe works.
- an existing device, FIFO or socket (``/dev/null``, ``/dev/full``): written in place.
- a regular file or a new name: written to a temporary file in the same folder (created
  ``O_EXCL | O_NOFOLLOW`` with ``mode``, 0600 unless asked), flushed to disk, then renamed
  over the name. An error or a signal removes the temporary file and leaves the old file.
- a symlink: never resolved here. Following it is refused where the kernel's
  ``protected_symlinks`` would refuse it (a link in a sticky world-writable folder owned by
  neither us nor the folder's owner), for the file and for each folder on its path;
  otherwise the complete output is written through it in one go, the kernel following the
  link (the link stays a link).

Any of these naming the same file as an input (same device and inode: hard links and
symlinks included) is refused with USAGE (exit 2) before anything is written.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from logaudit.errors import ExitCode, LogauditError
from logaudit.procs import terminal_gone

DEFAULT_MODE = 0o600

# Temporary files being written, so a signal handler can remove them (see procs.py).
PENDING: set[str] = set()

_STD_FD = re.compile(r"^/(?:dev/fd|proc/self/fd)/(\d+)$")
_STD_NAMES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


class OutputError(LogauditError):
    exit_code = ExitCode.OUTPUT


def _reason(e: OSError) -> str:
    return (e.strerror or str(e)).lower() if isinstance(e, OSError) else str(e)


def std_descriptor(path: Path) -> int | None:
    """The descriptor a ``/dev/std*`` or ``/dev/fd/N`` name stands for, else None."""
    text = os.path.normpath(str(path))
    if text in _STD_NAMES:
        return _STD_NAMES[text]
    m = _STD_FD.match(text)
    return int(m.group(1)) if m else None


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def refuse_inputs(path: Path, inputs: Iterable[Path]) -> None:
    """USAGE error when ``path`` (followed by the kernel) is the same file as an input."""
    try:
        target = os.stat(path)
    except OSError:
        return  # nothing there yet (or unreachable: the write will say so)
    if not stat.S_ISREG(target.st_mode):
        return  # /dev/null given twice is no harm
    for inp in inputs:
        try:
            if _identity(os.stat(inp)) == _identity(target):
                raise LogauditError(
                    f"{path}: is an input of this run ({inp}); refusing to write over it",
                    ExitCode.USAGE,
                )
        except OSError:
            continue


def symlink_allowed(link: Path, euid: int | None = None) -> bool:
    """Whether the kernel's protected_symlinks rule lets ``euid`` follow ``link``: always,
    unless the link is in a sticky world-writable folder and is owned by neither the
    follower nor the folder's owner."""
    euid = os.geteuid() if euid is None else euid
    lst = os.lstat(link)
    parent = os.stat(link.parent if str(link.parent) else Path("."))
    sticky_world = bool(parent.st_mode & stat.S_ISVTX) and bool(parent.st_mode & stat.S_IWOTH)
    return not sticky_world or lst.st_uid in (euid, parent.st_uid)


def _check_folder_links(path: Path) -> None:
    """The protected_symlinks rule for the folders on the way too (``-o /tmp/planted/x``
    where ``planted`` is another user's link to /etc), checked, never resolved, here."""
    parts = Path(os.path.abspath(path)).parts
    for k in range(2, len(parts)):
        folder = Path(*parts[:k])
        try:
            if os.path.islink(folder) and not symlink_allowed(folder):
                raise OutputError(
                    f"{path}: {folder} is a symlink owned by another user in a shared sticky "
                    "folder; refusing to follow it (as the kernel's protected_symlinks does)"
                )
        except OSError:
            return  # unreachable: writing will say why


@contextmanager
def atomic_output_binary(
    path: Path | None, mode: int = DEFAULT_MODE, inputs: Iterable[Path] = ()
) -> Iterator[BinaryIO]:
    """A binary stream for ``path`` with the rules in the module docstring."""
    if path is None:
        if sys.stdout is None:
            raise OutputError("standard output is closed; give -o FILE")
        with _reporting(None):
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        return
    path = Path(path)
    refuse_inputs(path, inputs)
    _check_folder_links(path)
    fd = std_descriptor(path)
    if fd is not None:
        yield from _in_place_fd(path, fd)
        return
    try:
        lst: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        lst = None
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({_reason(e)})") from None
    if lst is not None and stat.S_ISLNK(lst.st_mode):
        yield from _through_link(path)
        return
    if lst is not None and stat.S_ISDIR(lst.st_mode):
        raise OutputError(f"{path}: is a folder; give a file name")
    if lst is not None and not stat.S_ISREG(lst.st_mode):
        yield from _in_place(path)
        return
    yield from _replace(path, mode)


@contextmanager
def atomic_output(
    path: Path | None, mode: int = DEFAULT_MODE, inputs: Iterable[Path] = ()
) -> Iterator[TextIO]:
    """A UTF-8 text stream (``\\n`` line ends) for ``path``; see ``atomic_output_binary``."""
    if path is None:
        if sys.stdout is None:
            raise OutputError("standard output is closed; give -o FILE")
        with _reporting(None):
            yield sys.stdout
            sys.stdout.flush()
        return
    with atomic_output_binary(path, mode, inputs) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
        try:
            yield text
            text.flush()
        finally:
            try:
                text.detach()
            except (OSError, ValueError):
                pass  # already failing: the first error is the one to report


@contextmanager
def _reporting(path: Path | None) -> Iterator[None]:
    """OSError while writing -> OUTPUT (exit 9), one line; a reader that left (EPIPE) is not
    an error and propagates for the CLI to end quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        if e.errno == errno.EPIPE:
            raise
        if path is None and e.errno == errno.EIO and terminal_gone(1):
            raise  # the terminal was closed: the CLI ends as its SIGHUP would (exit 129)
        where = str(path) if path is not None else "standard output"
        raise OutputError(f"{where}: cannot write ({_reason(e)})") from None


def _in_place_fd(path: Path, fd: int) -> Iterator[BinaryIO]:
    if fd == 1 and sys.stdout is not None:
        sys.stdout.flush()
    try:
        dup = os.dup(fd)
    except OSError:
        raise OutputError(f"{path}: that descriptor is closed") from None
    with _reporting(path), os.fdopen(dup, "wb") as f:
        yield f
        f.flush()


def _in_place(path: Path) -> Iterator[BinaryIO]:
    try:
        f = open(path, "wb")  # noqa: SIM115 - a device or FIFO, closed below
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({_reason(e)})") from None
    with _reporting(path), f:
        yield f
        f.flush()


def _through_link(path: Path) -> Iterator[BinaryIO]:
    if not symlink_allowed(path):
        raise OutputError(
            f"{path}: a symlink owned by another user in a shared sticky folder; "
            "refusing to follow it (as the kernel's protected_symlinks does)"
        )
    buf = io.BytesIO()
    yield buf
    data = buf.getvalue()
    with _reporting(path):
        # The kernel follows the link (and applies its own checks); the link stays.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                os.fsync(f.fileno())


def _replace(path: Path, mode: int) -> Iterator[BinaryIO]:
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = _temp(folder, path, mode)
    PENDING.add(tmp)
    try:
        with _reporting(path):
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    finally:
        # Anything but a finished rename (an error, Ctrl-C, SIGTERM, SIGHUP) removes it.
        PENDING.discard(tmp)
        try:
            os.unlink(tmp)
        except OSError:
            pass  # renamed into place (or already gone)


def _temp(folder: Path, path: Path, mode: int) -> tuple[int, str]:
    """A new file in ``folder``: O_EXCL | O_NOFOLLOW, so nothing planted there is opened."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        name = str(folder / f".logaudit-{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(name, flags, mode)
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(f"{path}: cannot write here ({_reason(e)})") from None
        try:
            os.fchmod(fd, mode)  # the umask may have taken bits the user asked for
        except OSError:
            pass
        return fd, name
    raise OutputError(f"{path}: cannot make a temporary file in {folder}")


def cleanup_pending() -> None:
    """Remove every temporary file being written (a signal handler's last act)."""
    for tmp in list(PENDING):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        PENDING.discard(tmp)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that a rename into it survives a crash; best effort (a file system
    that cannot sync folders is left as it is)."""
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


def private_folder(folder: Path) -> None:
    """Make ``folder`` and every missing folder above it owner-only (0700), as the XDG base
    directory spec asks of ``$XDG_STATE_HOME``: ``mkdir(parents=True, mode=0o700)`` gives the
    mode to the last folder only, and the parents it makes get 0755 (anyone may list them).
    Folders that exist already are left as they are. OSError as ``mkdir`` raises it."""
    missing = []
    for f in (folder, *folder.parents):
        if f.is_dir():
            break
        missing.append(f)
    for f in reversed(missing):
        f.mkdir(mode=0o700, exist_ok=True)
