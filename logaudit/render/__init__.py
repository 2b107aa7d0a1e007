"""The renderer registry: output format name -> function(report, stream).

``--format`` choices come from this table. Renderers read a finished ``Report`` and never
aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from logaudit.render import tabular, terminal
from logaudit.report import Report

Renderer = Callable[[Report, TextIO], None]

RENDERERS: dict[str, Renderer] = {
    "terminal": terminal.render,
    "json": tabular.render_json,
    "csv": tabular.render_csv,
}
