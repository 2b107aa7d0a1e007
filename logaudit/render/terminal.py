"""The terminal report (rich), and its plain form ``text``: tables, bars, colour only where the
console has it.

The console is injected, so tests render to ``Console(file=StringIO(), width=100,
color_system=None)`` and compare whole outputs. Every string comes from ``render.view`` (words,
units, ``view.text`` escaping) and is passed as ``Text``: rich never parses it as markup.

Three character sets (``Style``):
- ``unicode``: box drawing and block bars (a UTF-8 terminal);
- ``plain``: ``text`` output for mail bodies and logs: no colour, no box drawing, no block
  characters; log text keeps its (escaped) Unicode;
- ``ascii``: a terminal that cannot show more (``TERM=dumb``, ``LC_ALL=C``): ``plain``, and every
  other character as a ``\\uXXXX`` escape.

Narrow consoles: a table first leaves out its section's optional columns, then the chart, then
its last figures, and says which in its caption; text columns wrap; no figure is cut, and a
name only past ``CELL_MAX`` characters (an ellipsis says it: a 1 MB referrer wrapped to 80,000
lines at 40 columns, QA18 #14); JSON and CSV keep every value whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from logaudit.render import escape, view
from logaudit.report import Report, Section

Style = Literal["unicode", "plain", "ascii"]

BAR_WIDTH = 24
_BLOCKS = " ▏▎▍▌▋▊▉█"
_SPARKS = "▁▂▃▄▅▆▇█"
_ASCII_SPARKS = "_.-:=+*#"
# SIMPLE_HEAD with a dashed rule: no box-drawing character.
_PLAIN_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
TEXT_WIDTH = 100
CELL_MAX = view.CELL_MAX


def style_for(env: Mapping[str, str] | None = None) -> Style:
    """``ascii`` where the terminal or locale cannot show box drawing, else ``unicode``."""
    env = os.environ if env is None else env
    if env.get("TERM") == "dumb":
        return "ascii"
    locale = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    if locale in ("C", "POSIX") or (locale and "utf" not in locale.lower()):
        return "ascii"
    return "unicode"


def bar(value: float, top: float, width: int = BAR_WIDTH, style: Style = "unicode") -> str:
    if top <= 0 or value <= 0:
        return ""
    if style != "unicode":
        return "#" * max(1, round(width * value / top))
    eighths = max(1, round(width * 8 * value / top))
    full, part = divmod(eighths, 8)
    return "█" * full + (_BLOCKS[part] if part else "")


def sparkline(values: list[float], width: int, style: Style = "unicode") -> str:
    """One character per value (averaged down to ``width``); readable without colour."""
    marks = _SPARKS if style == "unicode" else _ASCII_SPARKS
    vals = [float(v) for v in values if v == v]  # drop NaN
    if not vals:
        return ""
    if len(vals) > width:
        step = len(vals) / width
        groups = [
            vals[int(i * step) : max(int(i * step) + 1, int((i + 1) * step))] for i in range(width)
        ]
        vals = [sum(g) / len(g) for g in groups]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return marks[0 if hi == 0 else 3] * len(vals)
    return "".join(marks[round((v - lo) / (hi - lo) * 7)] for v in vals)


def _t(s: str, charset: Style, **kw: Any) -> Text:
    """The last step before the console: in ``ascii`` style, every non-ASCII character as an
    escape (log text already went through ``view.text``)."""
    if charset == "ascii" and not s.isascii():
        s = s.encode("ascii", "backslashreplace").decode("ascii")
    return Text(s, **kw)


def chart_width(tv: view.TableView, width: int) -> int:
    """Columns the bar chart takes, padding included (0 without a chart)."""
    return max(6, min(BAR_WIDTH, width // 5)) + 3 if tv.chart else 0


def _cut(tv: view.TableView, style: Style) -> view.TableView:
    """``tv`` with every text cell over ``CELL_MAX`` characters cut, an ellipsis at its end;
    figures never."""
    dots = "\u2026" if style == "unicode" else "..."
    text = [i for i, c in enumerate(tv.columns) if not c.numeric]
    if not any(len(r[i]) > CELL_MAX for r in tv.cells for i in text):
        return tv
    cells = [
        [escape.cut(x, CELL_MAX, dots) if i in text else x for i, x in enumerate(r)]
        for r in tv.cells
    ]
    return replace(tv, cells=cells)


def _widest(tv: view.TableView) -> list[int]:
    return [max([len(r[i]) for r in tv.cells] + [len(c.label)]) for i, c in enumerate(tv.columns)]


def _floors(tv: view.TableView, chart: bool, width: int) -> list[int]:
    """The width below which each column is not laid out: a figure's whole width; a text
    column's longest word (an IPv6 address, a path), up to 40, when all such minimums fit
    (then names wrap between words, never inside one), else 0 (it folds)."""
    widest = _widest(tv)
    words = [
        0 if c.numeric else min(40, max(len(w) for r in tv.cells for w in [*r[i].split(), ""]))
        for i, c in enumerate(tv.columns)
    ]
    fixed = sum(w + 3 for w, c in zip(widest, tv.columns, strict=True) if c.numeric)
    chart_cols = chart_width(tv, width) if chart else 0
    use_words = fixed + sum(w + 3 for w in words if w) + chart_cols <= width
    return [
        widest[i] if c.numeric else (words[i] if use_words else 0)
        for i, c in enumerate(tv.columns)
    ]


def _need(tv: view.TableView, chart: bool, width: int, text_room: int) -> int:
    """Columns the table takes with its text columns at most ``text_room`` wide (they wrap
    below that; figures never do), and never below their floors (``_floors``: what
    ``section_table`` lays out)."""
    total = chart_width(tv, width) if chart else 0
    floors = _floors(tv, chart, width)
    for i, (w, c) in enumerate(zip(_widest(tv), tv.columns, strict=True)):
        total += (w if c.numeric else max(min(w, text_room), floors[i])) + 3
    return total


def _text_widths(
    tv: view.TableView, chart: bool, width: int, floors: list[int]
) -> list[int | None]:
    """Widths for the text columns when the table is wider than ``width``: rich narrows the
    widest wrapping columns first but not to their ``min_width`` (it sets that back after, and
    the table's last columns are cut), so narrow them here, widest first, never below their
    floors. None: rich's own width (the table fits, or for a figure)."""
    pairs = zip(_widest(tv), tv.columns, strict=True)
    want = [w if c.numeric else min(w, 80) for w, c in pairs]
    total = sum(w + 3 for w in want) + (chart_width(tv, width) if chart else 0)
    if total <= width:
        return [None] * len(want)
    text = [i for i, c in enumerate(tv.columns) if not c.numeric]
    excess = total - width
    while excess > 0:
        shrinkable = [i for i in text if want[i] > max(floors[i], 1)]
        if not shrinkable:
            break
        i = max(shrinkable, key=lambda j: want[j])
        want[i] -= 1
        excess -= 1
    return [None if c.numeric else want[i] for i, c in enumerate(tv.columns)]


COMFORT = 30  # a text column narrower than this wraps often: optional columns go first
SQUEEZE = 10  # narrower than this, a text column is unreadable: figures go first


def fit(tv: view.TableView, optional: tuple[str, ...], width: int) -> tuple[view.TableView, bool]:
    """What fits ``width``: the section's optional columns go first (least needed first),
    then the chart; text columns wrap; only if the figures alone do not fit, the rightmost
    ones go (never the first two columns). The caption names what was left out."""
    chart = tv.chart is not None
    for key in optional:
        if _need(tv, chart, width, COMFORT) <= width:
            break
        if any(c.key == key for c in tv.columns):
            tv = tv.without([key])
    if chart and _need(tv, True, width, COMFORT) > width:
        chart = False
    while _need(tv, False, width, SQUEEZE) > width and len(tv.columns) > 2:
        tv = tv.without([tv.columns[-1].key])
    return tv, chart


def section_table(sec: Section, width: int = 100, style: Style = "unicode") -> RenderableType:
    if sec.rows.empty:
        return _t(view.empty_line(sec), style, style="dim")
    tv, show_chart = fit(_cut(view.table_view(sec), style), sec.narrow_drop, width)
    caption = tv.caption()
    t = Table(
        title=_t(tv.title, style, style="bold"),
        title_justify="left",
        caption=_t(caption, style) if caption else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD if style == "unicode" else _PLAIN_HEAD,
        expand=False,
        pad_edge=False,
        safe_box=style != "unicode",
    )
    widest = _widest(tv)
    floors = _floors(tv, show_chart, width)
    widths = _text_widths(tv, show_chart, width, floors)
    bar_width = chart_width(tv, width) - 3 if show_chart else 0
    for i, c in enumerate(tv.columns):
        if c.numeric:
            t.add_column(_t(c.label, style), justify="right", no_wrap=True, min_width=widest[i])
        else:
            t.add_column(
                _t(c.label, style),
                overflow="fold",
                width=widths[i],
                max_width=min(widest[i], 80),
                min_width=floors[i] or None,
            )
    top = max(tv.chart_values, default=0.0)
    if show_chart:
        t.add_column("", no_wrap=True, style="cyan")
    for n, strings in enumerate(tv.cells):
        cells = [_t(x, style) for x in strings]
        if show_chart:
            cells.append(Text(bar(tv.chart_values[n], top, bar_width, style)))
        t.add_row(*cells)
    return t


def sparklines_block(sec: Section, width: int, style: Style = "unicode") -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(no_wrap=True, style="cyan")
    t.add_column(justify="right", no_wrap=True)
    labels = {k: view.text(view.words(k)) for k in sec.sparklines}
    label_w = max(len(v) for v in labels.values())
    dash = "–" if style == "unicode" else "-"
    for key, values in sec.sparklines.items():
        vals = [float(v) for v in values if v == v]
        if vals and key in view.BYTES:
            rng = f"{view.human_bytes(min(vals))}{dash}{view.human_bytes(max(vals))}"
        else:
            rng = f"{min(vals):,.0f}{dash}{max(vals):,.0f}" if vals else ""
        t.add_row(
            _t(labels[key], style),
            Text(sparkline(values, max(8, width - label_w - len(rng) - 4), style)),
            _t(rng, style, style="dim"),
        )
    return t


def overview_table(report: Report, style: Style = "unicode", columns: int = 2) -> Table:
    t = Table.grid(padding=(0, 2))
    for _ in range(columns):
        t.add_column(style="bold")
        t.add_column(justify="right")
    items = view.overview_items(report)
    for i in range(0, len(items), columns):
        flat: list[str] = []
        for label, value in items[i : i + columns]:
            flat.extend([label, value])
        flat += [""] * (2 * columns - len(flat))
        t.add_row(*[_t(x, style) for x in flat])
    return t


def header(report: Report, style: Style = "unicode") -> Text:
    return Text.assemble(
        _t("logaudit " + view.text(report.command), style, style="bold"),
        "  ",
        _t(view.period_line(report), style),
    )


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


def render(
    report: Report,
    out: TextIO | None = None,
    console: Console | None = None,
    style: Style = "unicode",
) -> None:
    con = console or Console(file=out, highlight=False, soft_wrap=False)
    # rich ends a broken pipe with SystemExit(1); let it reach the CLI as what it is.
    con.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    boxed = box.ROUNDED if style == "unicode" else box.ASCII
    con.print(header(report, style))
    for w in report.warnings:
        con.print(
            Panel(
                _t(view.text(w), style),
                title="warning",
                border_style="red",
                expand=False,
                box=boxed,
            )
        )
    if view.no_request(report):
        # One line instead of an empty table per section.
        con.print(_t(view.no_request_message(report), style))
    else:
        cols = 2 if con.width >= 60 else 1
        if style == "plain":
            con.print(Text("Overview", style="bold"))
            con.print(overview_table(report, style, cols))
        else:
            con.print(
                Panel(
                    overview_table(report, style, cols), title="Overview", expand=False, box=boxed
                )
            )
        for sec in report.sections:
            if any(len(v) > 1 for v in sec.sparklines.values()):  # one value is no line
                con.print(sparklines_block(sec, con.width, style))
            con.print(section_table(sec, con.width, style))
    con.print(inputs_block(report, style))
    for n in report.notes:
        con.print(_t(view.text(n), style, style="dim"))


def inputs_block(report: Report, style: Style = "unicode") -> Group:
    t = Table(
        title=Text("Inputs", style="bold"),
        title_justify="left",
        box=box.SIMPLE_HEAD if style == "unicode" else _PLAIN_HEAD,
        safe_box=style != "unicode",
    )
    for c in view.input_columns(report):
        t.add_column(c, justify="left" if c in ("file", "format") else "right", overflow="fold")
    for row in view.inputs_rows(report):
        t.add_row(*[_t(x, style) for x in row])
    parts: list[Any] = [t] if report.inputs else [Text("Inputs", style="bold"), view.NO_INPUTS]
    for ex in view.bad_examples(report):
        parts.append(_t(ex, style, style="yellow"))
    return Group(*parts)


def render_text(report: Report, out: TextIO) -> None:
    """``text``: the terminal report without colour, box drawing or block characters, at
    100 columns: for mail bodies and log files."""
    con = Console(
        file=out,
        width=TEXT_WIDTH,
        color_system=None,
        highlight=False,
        soft_wrap=False,
        emoji=False,
        force_terminal=False,
        legacy_windows=False,
    )
    render(report, console=con, style="plain")
