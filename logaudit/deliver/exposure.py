"""Whether a written report sits where others can read it: one line of warning, never an
error (the report was asked for; the admin decides). docs/privacy.md."""

from __future__ import annotations

import stat
from pathlib import Path


def warning(path: Path) -> str | None:
    """A one-line warning when ``path`` (a file just written, or a folder of them) may be
    read by others: its own mode lets group or others read it, or its folder lets anyone
    list it (a web root, /tmp, a shared home). None otherwise, or when it cannot be told.

    A folder is listable by anyone only if anyone may also pass each folder above it: a
    0755 folder inside a 0700 one is not (a file's own mode is said whatever its folders:
    a copy or a move keeps it)."""
    try:
        target = path.resolve()
        mode = target.stat().st_mode
        folder = target if stat.S_ISDIR(mode) else target.parent
        fmode = folder.stat().st_mode
        above = [f.stat().st_mode for f in folder.parents]
    except OSError:
        return None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return None  # a device or a pipe: nothing stays behind
    if stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH):
        return (
            f"warning: {path} can be read by others (mode {stat.S_IMODE(mode):o}); reports "
            "hold personal data: chmod 600 it, or use --anonymize"
        )
    if fmode & stat.S_IROTH and all(m & stat.S_IXOTH for m in above):
        return (
            f"warning: {path} is in a folder anyone on this machine can list ({folder}); "
            "keep reports where only administrators can read them"
        )
    return None
