"""The renderer registry: output format name -> function(report, stream).

``--format`` choices and ``-o`` extensions come from these tables. Renderers read a finished
``Report`` and never aggregate. Adding one is a function ``(report, out) -> None`` and a line
in ``RENDERERS`` (and in ``EXTENSIONS`` if a file extension implies it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

# Each renderer imports its module when it renders: --help and --format's choices need only
# these tables, not pandas (tabular) or rich (issue #18).
if TYPE_CHECKING:
    from logaudit.report import Report

Renderer = Callable[["Report", TextIO], None]


def _terminal(report: Report, out: TextIO) -> None:
    # rich is imported only for the human outputs (20 ms of start-up JSON and CSV never need).
    from logaudit.render import terminal

    terminal.render(report, out, style=terminal.style_for())


def _text(report: Report, out: TextIO) -> None:
    from logaudit.render import terminal

    terminal.render_text(report, out)


def _markdown(report: Report, out: TextIO) -> None:
    from logaudit.render import markdown

    markdown.render(report, out)


def _html(report: Report, out: TextIO) -> None:
    # jinja2 is imported only here, through the one module that wraps it.
    from logaudit.render import html

    html.render(report, out)


def _json(report: Report, out: TextIO) -> None:
    from logaudit.render import tabular

    tabular.render_json(report, out)


def _csv(report: Report, out: TextIO) -> None:
    from logaudit.render import tabular

    tabular.render_csv(report, out)


RENDERERS: dict[str, Renderer] = {
    "terminal": _terminal,
    "text": _text,
    "markdown": _markdown,
    "html": _html,
    "json": _json,
    "csv": _csv,
}

# -o FILE's extension -> renderer; an extension not listed here is a usage error.
EXTENSIONS: dict[str, str] = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".csv": "csv",
}
