"""The live view of ``logaudit watch`` (rich, full screen): two windows side by side, each with
its headline figures and top tables; every log string passes through ``escape.safe`` and is
drawn as ``Text`` (never parsed as markup). ``q`` quits."""

from __future__ import annotations

import errno
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable

from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from logaudit.procs import Stopped
from logaudit.render.escape import safe
from logaudit.watch import Figures, Watcher
from logaudit.wording import counted


def _panel(f: Figures) -> Panel:
    head = Text(
        f"{counted(f.requests, 'request')}  {f.per_second:.2f}/s  5xx {f.rate_5xx:.1%}"
        + (f"  p95 {f.p95:.3f} s" if f.p95 is not None else "")
    )
    if f.rate_5xx >= 0.05:
        head.stylize("bold red")
    parts: list[RenderableType] = [head]
    for name, rows in f.top.items():
        t = Table(title=name, title_justify="left", show_header=False, box=None, expand=True)
        t.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
        t.add_column(justify="right")
        for key, n in rows:
            t.add_row(Text(safe(key)), Text(f"{n:,}"))
        parts.append(t)
    return Panel(Group(*parts), title=Text(f.title))


def view(watcher: Watcher, paths: str) -> RenderableType:
    figs = watcher.window.figures()
    title = Text(f"logaudit watch  {safe(paths)}  {time.strftime('%H:%M:%S')}   q quits")
    notes = [Text(safe(n), style="yellow") for n in watcher.notes[-3:]]
    return Group(title, *notes, Columns([_panel(f) for f in figs], expand=True))


def run(watcher: Watcher, paths: str, interval: float, console: Console | None = None) -> None:
    """Refresh every ``interval`` seconds until ``q`` (or Ctrl-C)."""
    console = console or Console()
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd) if os.isatty(fd) else None
    try:
        if old is not None:
            tty.setcbreak(fd)
        with Live(console=console, screen=True, auto_refresh=False) as live:
            while True:
                watcher.poll()
                live.update(view(watcher, paths), refresh=True)
                if _quit(fd if old is not None else None, interval):
                    return
    except Stopped:
        raise  # SIGTERM/SIGHUP: exit 143/129, not 0 (the terminal is restored below)
    except KeyboardInterrupt:
        return
    finally:
        if old is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _quit(fd: int | None, wait: float, sleep: Callable[[float], None] = time.sleep) -> bool:
    if fd is None:
        sleep(wait)
        return False
    ready, _, _ = select.select([fd], [], [], wait)
    if not ready:
        return False
    key = os.read(fd, 1)
    if not key:  # end of input on a terminal in cbreak mode: it hung up (window closed)
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    return key in (b"q", b"Q")
