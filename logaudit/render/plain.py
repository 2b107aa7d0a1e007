"""Lines laid out as rich lays them out, for plain ASCII text, without importing rich.

``logaudit formats`` printed through ``rich.console.Console``: wrapped at the console's width,
names in bold, samples dim. Importing rich costs ~20 ms, a fifth of that command's run (issue
#18), for no table and no colour. ``Lines`` writes the same bytes for our own ASCII text (the
formats' names, titles and samples): the width, and whether to style at all, chosen as
``Console()`` chooses them (rich 15), and rich's word wrap (``rich._wrap.divide_line``: a word
keeps its trailing spaces, goes to the next line when it does not fit, is folded when longer
than a line; spaces past the width are dropped). ``tests/test_startup.py`` compares it with rich.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import TextIO

BOLD = "1"
DIM = "2"
_WORD = re.compile(r"\s*\S+\s*")  # rich's word: the spaces after it included


def is_terminal(out: TextIO, env: Mapping[str, str]) -> bool:
    if env.get("TTY_COMPATIBLE") in ("0", "1"):
        return env["TTY_COMPATIBLE"] == "1"
    if env.get("FORCE_COLOR") is not None:
        return env["FORCE_COLOR"] != ""
    try:
        return out.isatty()
    except ValueError:  # closed
        return False


def width(env: Mapping[str, str], dumb: bool) -> int:
    """COLUMNS, else the size of the first of stdin, stdout and stderr that is a terminal,
    else 80; 80 on a dumb terminal unless both COLUMNS and LINES are set."""
    columns = env.get("COLUMNS", "")
    if columns.isascii() and columns.isdigit() and int(columns) > 0:  # not "0", "²"
        if not dumb or env.get("LINES", "").isdigit():
            return int(columns)
    if dumb:
        return 80
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            pass
    return 80


def wrap(text: str, size: int) -> list[tuple[int, str]]:
    """``text`` (one line, ASCII) in lines of at most ``size`` characters: (where each starts
    in ``text``, the line)."""
    breaks: list[int] = []
    offset = 0
    for m in _WORD.finditer(text):
        start, word = m.start(), m.group()
        length = len(word.rstrip())
        if size - offset >= length:
            offset += len(word)
        elif length > size:
            pieces = [word[i : i + size] for i in range(0, len(word), max(size, 1))]
            for piece in pieces[:-1]:
                if start:
                    breaks.append(start)
                start += len(piece)
            if start:
                breaks.append(start)
            offset = len(pieces[-1])
        else:
            breaks.append(start)
            offset = len(word)
    return [(a, text[a:b][:size]) for a, b in zip([0, *breaks], [*breaks, len(text)], strict=True)]


class Lines:
    """Writes lines to ``out`` (stdout) as ``rich.console.Console().print`` would."""

    def __init__(self, out: TextIO | None = None, env: Mapping[str, str] | None = None) -> None:
        # With stdout closed (``>&-``) Python's sys.stdout is None: print nothing, as rich did.
        self.out = out if out is not None else sys.stdout or open(os.devnull, "w")  # noqa: SIM115
        env = os.environ if env is None else env
        terminal = is_terminal(self.out, env)
        dumb = terminal and env.get("TERM", "").lower() in ("dumb", "unknown")
        self.styled = terminal and not dumb
        self.width = width(env, dumb)

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.styled and text else text

    def print(self, text: str, bold: int = 0) -> None:
        """``text`` wrapped, the first ``bold`` characters of its first line in bold."""
        for para in text.split("\n"):
            for start, line in wrap(para, self.width):
                head = max(0, min(bold - start, len(line)))
                self.out.write(self._style(line[:head], BOLD) + line[head:] + "\n")
            bold = 0

    def unwrapped(self, text: str, code: str) -> None:
        """One line as it is (a terminal folds it), in one style."""
        self.out.write(self._style(text, code) + "\n")
