"""Charts as HTML tables, for mail: the drawings of ``svg.py``, with the same functions, made of
what mail clients keep.

Gmail (web and app) and Outlook (desktop and outlook.com) show no SVG, neither inline nor as an
image part, so a mailed chart was a hole for most readers. Every client draws a table cell of
a given width, height and colour: a bar here is a cell with ``bgcolor`` and ``height``
attributes, which every client reads (Outlook's Word engine too; a short one also says it holds
no text, see ``_height``), inside nested tables (no ``colspan``), with no class, no
``<style>``, no flex and no script; style attributes only for text and spacing. Nothing sets
a background but the bars, so a client's dark mode keeps its own; the colours are ``svg.py``'s,
which read on light and dark.

Labels go through ``view.text`` (the one escaping function) and then are HTML-escaped here, as
in ``svg.py``; a label's whole text (cut at ``view.CELL_MAX``, as the table cells are) is the
cell's ``title``. Figures are formatted by the caller. Each function returns ``""`` when there
is nothing to draw. A column chart of a year of days is 365 cells of ~160 bytes (each day's
figure in its title): ~60 kB, as its SVG was, beside its table's hundreds. The markup is
spare: a mail's HTML is in quoted-printable, where each attribute's ``=`` is three bytes, and
Gmail clips a message's HTML past ~102 kB.
"""

from __future__ import annotations

from html import escape as _html
from math import isfinite

from logaudit.render import escape, view
from logaudit.render.svg import ACCENT, DOWN, MUTED, UP

__all__ = ["arrow", "columns", "hbars", "sparkline", "stacked"]

_TABLE = 'cellpadding="0" cellspacing="0" border="0" role="presentation"'
_TEXT = f"font-size:11px;color:{MUTED}"  # labels and figures
# An empty cell keeps the height it is given only without a line box of text in it: Outlook's
# Word engine gives an empty cell a line of its font (~15 px) unless the cell itself says so
# (it does not take font sizes from a table to its cells), so every bar and spacer says it.
_NO_TEXT = "font-size:0;line-height:0"
_LINE_PX = 24  # a cell at least this tall holds Outlook's empty line: no need to say it


def _height(px: int) -> str:
    """A bar's or spacer's ``height`` attribute, with ``_NO_TEXT`` when Outlook would make it
    taller (said on the short ones only: a year of days is 365 bars, most of them tall)."""
    return f'height="{px}"' + (f' style="{_NO_TEXT}"' if px < _LINE_PX else "")


_LABEL_W, _FIGURE_W = 150, 56  # hbars: the bars' cells are the frame's width less these


def _t(s: object) -> str:
    return _html(view.text(s), quote=True)


def _title(s: object) -> str:
    return _html(escape.cut(view.text(s), view.CELL_MAX), quote=True)


def _clean(values: list[float]) -> list[float]:
    return [float(v) if isfinite(float(v)) else 0.0 for v in values]


def _bar(height: int, colour: str = ACCENT) -> str:
    """A filled cell ``height`` pixels tall, as wide as what holds it: attributes, which every
    client reads (a year of days is 365 of these)."""
    return (
        '<table cellpadding="0" cellspacing="0" width="100%"><tr>'
        f'<td bgcolor="{colour}" {_height(height)}></td></tr></table>'
    )


def _open(title: str, kind: str, width: int) -> str:
    """The chart's frame: a table (one cell per row below) named by its title for readers of
    the markup and screen readers."""
    return (
        f'<table {_TABLE} data-chart="{kind}" aria-label="{_t(title)}" width="{width}" '
        f'style="border-collapse:collapse;margin:4px 0 8px;max-width:100%">'
    )


def _columns_row(vals: list[float], labels: list[str], plot_h: int) -> str:
    top = max(vals)
    cells = []
    for v, label in zip(vals, labels, strict=True):
        bar = _bar(max(1, round(plot_h * v / top))) if v > 0 else ""
        cells.append(f'<td valign="bottom" title="{_title(label)}: {v:,.0f}">{bar}</td>')
    # cellspacing: the gap between columns; no text in the row, so no line box adds height
    return (
        f'<table cellpadding="0" cellspacing="{1 if len(vals) > 60 else 2}" width="100%" '
        f'height="{plot_h}" style="{_NO_TEXT};border-bottom:1px solid {MUTED}">'
        f"<tr>{''.join(cells)}</tr></table>"
    )


def columns(
    values: list[float],
    labels: list[str],
    title: str,
    figure: str = "",
    width: int = 640,
    height: int = 170,
) -> str:
    """Vertical bars, one per label (traffic per period, hour of day), the first and last
    label under them; ``figure``: the biggest value as people read it, above the scale."""
    vals = _clean(values)
    if not vals or max(vals) <= 0:
        return ""
    width = min(width, 40 + 72 * len(vals))
    plot_h = height - 38
    ends = (
        f'<table {_TABLE} width="100%"><tr><td align="left" style="{_TEXT}">'
        f"{_t(labels[0])}</td>"
        + (f'<td align="right" style="{_TEXT}">{_t(labels[-1])}</td>' if len(vals) > 1 else "")
        + "</tr></table>"
    )
    head = f'<tr><td style="{_TEXT};padding-bottom:2px">{_t(figure)}</td></tr>' if figure else ""
    return (
        _open(title, "columns", width)
        + head
        + f"<tr><td>{_columns_row(vals, labels, plot_h)}</td></tr>"
        + f'<tr><td style="padding-top:2px">{ends}</td></tr></table>'
    )


def stacked(parts: list[tuple[str, float, str]], title: str, width: int = 640) -> str:
    """One bar split by share, with a legend: (label, share 0..1, colour)."""
    shown = [(label, s, c) for label, s, c in parts if s > 0]
    if not shown:
        return ""
    total = sum(s for _, s, _ in shown)
    pieces = "".join(
        f'<td bgcolor="{c}" width="{100 * s / total:.1f}%" height="18" title="{_t(label)}: '
        f'{100 * s:.1f}%" style="{_NO_TEXT}"></td>'
        for label, s, c in shown
    )
    legend = "".join(
        f'<td style="padding-right:4px"><table {_TABLE}><tr><td bgcolor="{c}" width="10" '
        f'height="10" style="{_NO_TEXT}"></td></tr></table></td>'
        f'<td nowrap style="{_TEXT};padding-right:14px">'
        f"{_t(f'{label} {100 * s:.1f}%')}</td>"
        for label, s, c in shown
    )
    return (
        _open(title, "stacked", width)
        + f'<tr><td><table {_TABLE} width="100%"><tr>{pieces}</tr></table></td></tr>'
        + f'<tr><td style="padding-top:8px"><table {_TABLE}><tr>{legend}</tr></table></td></tr>'
        + "</table>"
    )


def hbars(items: list[tuple[str, float, str]], title: str, width: int = 420) -> str:
    """Horizontal bars, one per item: (label, value, value as people read it). The label and
    the figure have cells of their own widths, so the bars' cells are one width and a bar's
    width (a table of ``value / top`` of it, one coloured cell) is to scale; the frame's
    ``cellspacing`` spaces the rows (no style per cell but the text's)."""
    items = [(label, v, shown) for label, v, shown in items if v > 0]
    if not items:
        return ""
    top = max(v for _, v, _ in items)
    rows = []
    for label, v, shown in items:
        name = view.text(label)
        whole = ""  # the whole label (cut at CELL_MAX) when the bar's is cut
        if len(name) > 22:
            name, whole = name[:21] + "…", f' title="{_title(label)}"'
        pct = max(1.0, 100 * v / top)
        rows.append(
            f'<tr><td align="right" width="{_LABEL_W}"{whole} '
            f'style="{_TEXT}">{_html(name)}</td>'
            f'<td><table cellpadding="0" cellspacing="0" width="{pct:.1f}%"><tr>'
            f'<td bgcolor="{ACCENT}" {_height(13)}></td></tr></table></td>'
            f'<td width="{_FIGURE_W}" nowrap style="{_TEXT}">{_t(shown)}</td></tr>'
        )
    # cellspacing, not padding: a client's CSS of box-sizing:border-box does not move it
    frame = _open(title, "hbars", width).replace('cellspacing="0"', 'cellspacing="4"', 1)
    frame = frame.replace("border-collapse:collapse;", "", 1)
    return frame + "".join(rows) + "</table>"


SPARK_CELLS = 110  # a sparkline 220 pixels wide: 2 pixels a cell
SPARK_PX = 6  # at most 6 pixels a cell: a few values are a short line, not wide slabs


def sparkline(
    values: list[float], title: str, label: str = "", span_text: str = "", width: int = 220
) -> str:
    """The line over the values, drawn as a row of cells (a table has no line): each cell a
    short vertical stroke from the previous value to its own, so the strokes join as a line
    does, labelled above with what it shows and its range. More values than ``SPARK_CELLS``
    share cells, each stroke spanning its values' lowest to highest (no peak or trough lost);
    a year of days is then 110 cells, not 365. Fewer values draw a narrower line
    (``SPARK_PX`` a value), under the full-width label."""
    vals = _clean(values)
    if len(vals) < 2:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    line_h = 34
    n = min(len(vals), SPARK_CELLS)

    def y(v: float) -> int:
        return round((line_h - 2) * (v - lo) / span)

    cells = []
    for i in range(n):
        a, b = i * len(vals) // n, (i + 1) * len(vals) // n
        seen = vals[max(0, a - 1) : b]  # from the value before: the strokes join
        low, high = y(min(seen)), y(max(seen))
        under = f"<tr><td {_height(low)}></td></tr>" if low else ""
        cells.append(
            '<td valign="bottom"><table cellpadding="0" cellspacing="0" width="100%"><tr>'
            f'<td bgcolor="{ACCENT}" {_height(high - low + 2)}></td></tr>'
            f"{under}</table></td>"
        )
    head = ""
    if label:
        head = (
            f'<tr><td><table {_TABLE} width="100%"><tr><td align="left" style="{_TEXT}">'
            f'{_t(label)}</td><td align="right" style="{_TEXT}">{_t(span_text)}</td>'
            "</tr></table></td></tr>"
        )
    return (
        _open(title, "spark", width)
        + head
        + f'<tr><td><table {_TABLE} width="{min(width, SPARK_PX * n)}" height="{line_h}" '
        + f'style="{_NO_TEXT}">'
        + f"<tr>{''.join(cells)}</tr></table></td></tr></table>"
    )


def arrow(up: bool, good: bool | None = None) -> str:
    """A coloured triangle for a change: up or down; green when good, red when bad, grey
    when neither is known (text: every client shows it)."""
    colour = MUTED if good is None else (UP if good else DOWN)
    return (
        f'<span title="{"up" if up else "down"}" style="color:{colour}">'
        f"{'▲' if up else '▼'}</span> "
    )
