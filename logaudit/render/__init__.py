"""The renderer registry: output format name -> function(report, stream).

``--format`` choices come from this table. Renderers read a finished ``Report`` and never
aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from logaudit.render import tabular
from logaudit.report import Report

Renderer = Callable[[Report, TextIO], None]


def _terminal(report: Report, out: TextIO) -> None:
    # rich is imported only for terminal output (20 ms of start-up JSON and CSV never need).
    from logaudit.render import terminal

    terminal.render(report, out)


RENDERERS: dict[str, Renderer] = {
    "terminal": _terminal,
    "json": tabular.render_json,
    "csv": tabular.render_csv,
}
