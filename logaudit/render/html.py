"""The HTML report: one self-contained page (inline CSS, charts as inline SVG, no script, nothing
fetched), light and dark, printable on A4, readable in a mail client. The only module that
imports jinja2.

Escaping, twice and in this order: every string goes through ``view.text`` (the one escaping
function: control and bidi characters as visible escapes), then Jinja2's autoescape (markup).
The only markup not autoescaped is what ``svg.py`` or ``tablechart.py`` draws, each escaping its
own labels. A link
is made only from an http(s) referrer, with ``rel="noopener noreferrer nofollow"``; the page's
Content-Security-Policy forbids scripts and every fetch, as a second fence.

``render(report, out, charts=tablechart)`` draws the charts with another module of the same
functions as ``svg.py``: mail draws them as tables (``tablechart.py``: Gmail and Outlook show
no SVG), the file report as inline SVG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TextIO

import jinja2
from markupsafe import Markup

from logaudit import __version__
from logaudit.render import escape, svg, view
from logaudit.report import Report, Section

TEMPLATES = Path(__file__).parent / "templates"


class Charts(Protocol):
    """What draws the charts: ``svg.py`` (the file report) or ``tablechart.py`` (mail), modules
    of these functions; mypy checks each module against it where it is passed."""

    def columns(
        self,
        values: list[float],
        labels: list[str],
        title: str,
        figure: str = "",
        width: int = 640,
        height: int = 170,
    ) -> str: ...

    def stacked(self, parts: list[tuple[str, float, str]], title: str, width: int = 640) -> str: ...

    def hbars(self, items: list[tuple[str, float, str]], title: str, width: int = 420) -> str: ...

    def sparkline(
        self,
        values: list[float],
        title: str,
        label: str = "",
        span_text: str = "",
        width: int = 220,
    ) -> str: ...

    def arrow(self, up: bool, good: bool | None = None) -> str: ...


# Sections drawn as a column chart above their table: name -> label column.
COLUMN_CHARTS = {"daily": "date", "periods": "period", "hours": "hour"}
# Sections drawn as horizontal bars of their share: name -> label column.
SHARE_BARS = {"browsers": "browser", "os": "os", "devices": "device"}
# Up is bad for these metrics (error counts and rates).
UP_IS_BAD = ("status_4xx", "status_5xx", "rate_4xx", "rate_5xx", "bad_lines")
_LINKABLE = re.compile(r"https?://[^\s\"'<>\\`]+\Z", re.IGNORECASE)


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# Columns whose cell is a list of "item (count)" (problems' failing URLs: the clients and
# referrers seen). Lines break between items; a client item (an address, a host name) never
# breaks inside, a referrer item only after a "/", "?" or "&" of its URL (or anywhere when a
# piece is still too long). The column is between ``LIST_WIDTH``'s two widths: the narrower
# fits an IPv4 address and its count, the wider an IPv6 one. Beside them the times break at
# their space, not inside, and the bar is a short gauge: the row stays a few lines tall.
LIST_COLUMNS = ("clients", "referrers")
_LIST_ITEM = re.compile(r"(?<=\)), ")
_URL_BREAK = re.compile(r"(?:(?<=[^/]/)|(?<=[?&]))(?!/)")  # not inside "://"
_NBSP_COUNT = re.compile(r" \((?=\d[\d,]*\)$)")
LIST_WIDTH = ("13em", "24em")


@dataclass
class Cell:
    text: str
    numeric: bool = False
    nowrap: bool = False  # short text (dates, names): never broken across lines
    href: str = ""
    arrow: Markup | None = None
    title: str = ""  # the whole text of a cell cut at view.CELL_MAX (shown on hover)
    words: bool = False  # items are words kept whole, broken between (a time beside lists)
    # a list cell (LIST_COLUMNS): its items, each as the pieces a line may break between
    # (one piece: kept whole); empty for other cells
    items: list[list[str]] = field(default_factory=list)


@dataclass
class SectionHtml:
    name: str
    title: str
    caption: str
    headers: list[tuple[str, bool]]
    rows: list[list[Cell]]
    charts: list[Markup] = field(default_factory=list)
    empty_line: str = ""
    # Per row, 0..100: a bar drawn in a last column (sections with a chart column but no
    # chart of their own above the table); empty for none.
    bars: list[float] = field(default_factory=list)
    bar_width: str = "28%"


def link(raw: object) -> str:
    """The href for a referrer, or "" when it must not be live."""
    s = str(raw)
    return s if _LINKABLE.match(s) and s.isascii() and s.isprintable() else ""


def _chart(drawing: str) -> Markup | None:
    # svg.py and tablechart.py escape every label they draw
    return Markup(drawing) if drawing else None  # noqa: S704


def _charts(sec: Section, tv: view.TableView, report: Report, charts: Charts) -> list[Markup]:
    out: list[Markup | None] = []
    label_col = COLUMN_CHARTS.get(sec.name)
    if label_col and tv.chart and label_col in sec.rows:
        labels = [str(x) for x in sec.rows[label_col]]
        most = max(tv.chart_values, default=0.0)
        what = view.words(tv.chart)
        figure = f"{what}, at most {view.cell(tv.chart, _whole(most))}"
        title = f"{what} per {label_col}"
        out.append(_chart(charts.columns(tv.chart_values, labels, title, figure)))
    for key, values in sec.sparklines.items():
        vals = [float(v) for v in values if v == v]
        rng = f"{view.cell(key, _whole(min(vals)))} to {view.cell(key, _whole(max(vals)))}"
        drawing = charts.sparkline(values, f"{view.words(key)}, {tv.title}", view.words(key), rng)
        out.append(_chart(drawing))
    if sec.name == "status":
        ov = report.overview
        parts = [(k, float(ov.get(f"share_{k}", 0) or 0), c) for k, c in svg.STATUS_COLOURS.items()]
        out.append(_chart(charts.stacked(parts, "Status mix")))
    label_col = SHARE_BARS.get(sec.name)
    if label_col and label_col in sec.rows and "share" in sec.rows:
        items = [
            (str(n), float(s), view.cell("share", s))
            for n, s in zip(sec.rows[label_col], sec.rows["share"], strict=True)
        ]
        out.append(_chart(charts.hbars(items, tv.title)))
    return [m for m in out if m is not None]


def _whole(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def _change_arrow(metric: str, shown: str, charts: Charts) -> tuple[str, Markup | None]:
    if shown[:1] not in ("▲", "▼"):
        return shown, None
    up = shown[0] == "▲"
    good = (not up) if metric in UP_IS_BAD else up
    return shown[1:].strip(), Markup(charts.arrow(up, good))  # noqa: S704 - fixed drawing


def section_html(sec: Section, report: Report, charts: Charts = svg) -> SectionHtml:
    if sec.rows.empty:
        return SectionHtml(
            sec.name, view.text(sec.title), "", [], [], empty_line=view.empty_line(sec)
        )
    tv = view.table_view(sec)
    keys = [c.key for c in tv.columns]
    top = max(tv.chart_values, default=0.0)
    big_chart = sec.name in COLUMN_CHARTS or sec.name in SHARE_BARS
    lists = any(c.key in LIST_COLUMNS and not c.numeric for c in tv.columns)  # not counts
    short = [
        not c.numeric and max(len(r[i]) for r in tv.cells) <= 24 for i, c in enumerate(tv.columns)
    ]
    if lists:
        short = [
            s and c.key not in ("first", "last") for s, c in zip(short, tv.columns, strict=True)
        ]
    rows = []
    for cells, raw in zip(tv.cells, tv.raw, strict=True):
        row = []
        metric = str(raw[keys.index("metric")]) if "metric" in keys else ""
        for i, (c, shown, value) in enumerate(zip(tv.columns, cells, raw, strict=True)):
            cell = Cell(shown, c.numeric, short[i])
            if not c.numeric and len(shown) > view.CELL_MAX:
                # Cut as the text report does (a 5,000-character path was a screen a row);
                # the whole value is the cell's title. A link still goes to the whole URL.
                cell.title, shown = shown, escape.cut(shown, view.CELL_MAX)
                cell.text = shown
            if c.key == "referrer":
                cell.href = link(value)
            if c.key in ("change", "week_change") and metric:
                cell.text, cell.arrow = _change_arrow(metric, shown, charts)
            if c.key in LIST_COLUMNS and not c.numeric:
                split = _URL_BREAK.split if c.key == "referrers" else (lambda t: [t])
                # the count stays with its item: "(2)" never alone on a line
                cell.items = [split(_NBSP_COUNT.sub("\u00a0(", t)) for t in _LIST_ITEM.split(shown)]
            elif lists and c.key in ("first", "last"):
                cell.words = True
                cell.items = [[part] for part in shown.split(" ")]
            row.append(cell)
        rows.append(row)
    bars = [] if big_chart or top <= 0 else [round(100 * v / top, 1) for v in tv.chart_values]
    return SectionHtml(
        sec.name,
        tv.title,
        tv.caption(),
        [(c.label, c.numeric) for c in tv.columns],
        rows,
        _charts(sec, tv, report, charts),
        bars=bars,
        # beside list columns the bar is a short gauge: the width goes to the lists
        bar_width="10%" if lists else "28%",
    )


def render(report: Report, out: TextIO, charts: Charts = svg) -> None:
    page = (
        _env()
        .get_template("report.html.j2")
        .render(
            command=view.text(report.command),
            period=view.period_line(report),
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=__version__,
            warnings=[view.text(w) for w in report.warnings],
            no_request=view.no_request(report),
            no_request_message=view.no_request_message(report),
            overview=view.overview_items(report),
            sections=[section_html(s, report, charts) for s in report.sections],
            list_width=LIST_WIDTH,
            input_columns=view.input_columns(report),
            inputs=view.inputs_rows(report),
            no_inputs=view.NO_INPUTS,
            bad_examples=view.bad_examples(report),
            bad_examples_title=view.bad_examples_title(report),
            notes=[view.text(n) for n in report.notes],
        )
    )
    out.write(page)
    if not page.endswith("\n"):
        out.write("\n")


def context_for_tests(report: Report) -> dict[str, Any]:
    """The sections as the template sees them (tests check links and bars)."""
    return {"sections": [section_html(s, report) for s in report.sections]}
