"""The terminal report (rich): tables, small bar charts, colour only where the console has it.

The console is injected, so tests render to ``Console(file=StringIO(), width=100,
color_system=None)`` and compare whole outputs. Log-derived text is passed as ``Text`` built
from ``escape.safe`` output: rich never parses it as markup and control characters never reach
the terminal. rich itself honours ``NO_COLOR`` and disables colour when output is not a TTY.
"""

from __future__ import annotations

from typing import Any, TextIO

import pandas as pd
from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from logaudit.render.escape import safe
from logaudit.report import Report, Section

BAR_WIDTH = 24
_BLOCKS = " ▏▎▍▌▋▊▉█"

# Columns formatted as byte sizes, as shares, or as whole numbers.
_BYTES = {"bandwidth", "bytes"}
_SHARES = {"share", "bounce_rate"}

_OVERVIEW: tuple[tuple[str, str], ...] = (
    ("requests", "Requests (hits)"),
    ("page_views", "Page views"),
    ("visitor_days", "Visitor-days"),
    ("unique_visitors", "Unique visitors"),
    ("visits", "Visits"),
    ("clicks_per_visit", "Clicks per visit"),
    ("bounce_rate", "Bounce rate"),
    ("median_visit_seconds", "Median visit (s)"),
    ("bandwidth", "Bandwidth"),
    ("bad_lines", "Bad lines"),
    ("not_found_urls", "Not-found URLs"),
    ("crawler_hits", "Crawler hits"),
    ("tool_hits", "Tool hits"),
    ("share_3xx", "3xx"),
    ("share_4xx", "4xx"),
    ("share_5xx", "5xx"),
)


def human_bytes(n: float) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def cell(col: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "-"
    if col in _BYTES and isinstance(v, (int, float)) and not isinstance(v, bool):
        return human_bytes(v)
    is_share = col in _SHARES or col.startswith(("share_", "rate_")) or col.endswith("_rate")
    if is_share and isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{100 * float(v):.1f}%"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) or getattr(getattr(v, "dtype", None), "kind", "") in ("i", "u"):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return safe(v)


def bar(value: float, top: float, width: int = BAR_WIDTH) -> str:
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, round(width * 8 * value / top))
    full, part = divmod(eighths, 8)
    return "█" * full + (_BLOCKS[part] if part else "")


def chart_width(sec: Section, width: int) -> int:
    """Columns the bar chart takes, padding included (0 without a chart)."""
    return max(6, min(BAR_WIDTH, width // 5)) + 3 if sec.chart else 0


def is_numeric(col: pd.Series) -> bool:
    """Numbers, including object columns of mixed int/float/None (exact JSON values)."""
    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return True
    if col.dtype == object:
        numbers = all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in col
        )
        return numbers and bool(col.notna().any())
    return False


def _fit(sec: Section, width: int) -> tuple[pd.DataFrame, bool]:
    """The columns to show and whether to draw the chart: the section's optional columns go
    first, least needed first, then the chart, until the table fits the width."""
    rows = sec.rows

    def need(frame: pd.DataFrame, chart: bool) -> int:
        total = chart_width(sec, width) if chart else 0
        for c in frame.columns:
            w = max([len(cell(c, _py(v))) for v in frame[c]] + [len(c)])
            total += (w if is_numeric(frame[c]) else min(w, 14)) + 3
        return total

    for col in sec.narrow_drop:
        if col in rows and need(rows, bool(sec.chart)) > width:
            rows = rows.drop(columns=[col])
    chart = bool(sec.chart) and sec.chart in rows and need(rows, True) <= width
    return rows, chart


def section_table(sec: Section, width: int = 100) -> Table | Text:
    title = f"{sec.title}"
    if sec.rows.empty:
        return Text(
            f"{title}: nothing to show" + (f" ({sec.note})" if sec.note else ""), style="dim"
        )
    caption = []
    if sec.total_rows > len(sec.rows):
        caption.append(f"top {len(sec.rows)} of {sec.total_rows:,}")
    if sec.note:
        caption.append(safe(sec.note))
    t = Table(
        title=Text(title, style="bold"),
        title_justify="left",
        caption=Text("; ".join(caption)) if caption else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        expand=False,
        pad_edge=False,
    )
    rows, show_chart = _fit(sec, width)
    numeric = {c: is_numeric(rows[c]) for c in rows.columns}
    texts = [
        [cell(c, _py(v)) for c, v in zip(rows.columns, row, strict=True)]
        for row in rows.itertuples(index=False, name=None)
    ]
    widest = [max([len(r[i]) for r in texts] + [len(c)]) for i, c in enumerate(rows.columns)]
    bar_width = chart_width(sec, width) - 3 if show_chart else 0
    # Figures are never cut; text columns share what the figures and the chart leave.
    fixed = (
        sum(w + 3 for w, c in zip(widest, rows.columns, strict=True) if numeric[c]) + bar_width + 3
    )
    text_cols = [i for i, c in enumerate(rows.columns) if not numeric[c]]
    room_total = max(12 * len(text_cols), width - fixed - 3 * len(text_cols))
    rooms = {}
    if text_cols:
        # The key column (first) is served first; the other text columns share the rest.
        key = text_cols[0]
        rooms[key] = min(widest[key], max(room_total // max(1, len(text_cols) - 0) * 2, 15))
        rest = text_cols[1:]
        for i in rest:
            rooms[i] = max(10, (room_total - rooms[key]) // len(rest))
    for i, c in enumerate(rows.columns):
        header_text = Text(c.replace("_", " "))
        if numeric[c]:
            t.add_column(header_text, justify="right", no_wrap=True, min_width=widest[i])
        else:
            t.add_column(
                header_text,
                overflow="ellipsis",
                no_wrap=True,
                max_width=min(widest[i], rooms[i], 80),
            )
    top = float(rows[sec.chart].max()) if show_chart and sec.chart else 0.0
    if show_chart and sec.chart:
        t.add_column("", no_wrap=True, style="cyan")
        chart_at = list(rows.columns).index(sec.chart)
    for row, strings in zip(rows.itertuples(index=False, name=None), texts, strict=True):
        cells = [Text(x) for x in strings]
        if show_chart:
            cells.append(Text(bar(float(row[chart_at]), top, bar_width)))
        t.add_row(*cells)
    return t


def _py(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return v


_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int) -> str:
    """One character per value (averaged down to ``width``); readable without colour."""
    vals = [float(v) for v in values if v == v]  # drop NaN
    if not vals:
        return ""
    if len(vals) > width:
        step = len(vals) / width
        vals = [
            sum(vals[int(i * step) : max(int(i * step) + 1, int((i + 1) * step))])
            / max(1, len(vals[int(i * step) : max(int(i * step) + 1, int((i + 1) * step))]))
            for i in range(width)
        ]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return _SPARKS[0 if hi == 0 else 3] * len(vals)
    return "".join(_SPARKS[round((v - lo) / (hi - lo) * 7)] for v in vals)


def sparklines_block(sec: Section, width: int) -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(no_wrap=True, style="cyan")
    t.add_column(justify="right", no_wrap=True)
    label_w = max(len(k) for k in sec.sparklines)
    for label, values in sec.sparklines.items():
        vals = [float(v) for v in values if v == v]
        rng = f"{min(vals):,.0f}–{max(vals):,.0f}" if vals else ""
        t.add_row(
            Text(label),
            Text(sparkline(values, max(8, width - label_w - len(rng) - 4))),
            Text(rng, style="dim"),
        )
    return t


def overview_table(report: Report) -> Table:
    ov = report.overview
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_column(style="bold")
    t.add_column(justify="right")
    items = [(label, cell(key, _py(ov[key]))) for key, label in _OVERVIEW if key in ov]
    for i in range(0, len(items), 2):
        pair = items[i : i + 2]
        flat: list[str] = []
        for label, value in pair:
            flat.extend([label, value])
        while len(flat) < 4:
            flat.append("")
        t.add_row(*[Text(x) for x in flat])
    return t


def header(report: Report) -> Text:
    ov = report.overview
    zone = report.settings.get("tz", "log offset")
    span = f"{ov.get('first_local', '?')} to {ov.get('last_local', '?')} ({zone})"
    return Text.assemble(("logaudit " + report.command, "bold"), "  ", span)


def _raise_broken_pipe() -> None:
    raise BrokenPipeError


def render(report: Report, out: TextIO | None = None, console: Console | None = None) -> None:
    con = console or Console(file=out, highlight=False, soft_wrap=False)
    # rich ends a broken pipe with SystemExit(1); let it reach the CLI as what it is.
    con.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    con.print(header(report))
    for w in report.warnings:
        con.print(Panel(Text(safe(w)), title="warning", border_style="red", expand=False))
    if report.overview.get("requests", 0):
        con.print(Panel(overview_table(report), title="Overview", expand=False))
    for sec in report.sections:
        if sec.sparklines:
            con.print(sparklines_block(sec, con.width))
        con.print(section_table(sec, con.width))
    con.print(inputs_block(report))
    for n in report.notes:
        con.print(Text(safe(n), style="dim"))


def inputs_block(report: Report) -> Group:
    t = Table(title=Text("Inputs", style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
    # Lines that are neither hits nor bad lines (blank, comments, W3C headers), when any.
    skipped = any(i.get("skipped_lines") for i in report.inputs)
    for c in ("file", "format", "lines", "parsed", "bad lines"):
        t.add_column(c, justify="right" if c in ("lines", "parsed", "bad lines") else "left")
    if skipped:
        t.add_column("blank/#", justify="right")
    for i in report.inputs:
        extra = [f"{i.get('skipped_lines', 0):,}"] if skipped else []
        t.add_row(
            Text(safe(i["file"])),
            Text(
                str(i["format"] or "-")
                + (f", times in {i['times_read_in']}" if i.get("times_read_in") else "")
            ),
            f"{i['lines']:,}",
            f"{i['parsed']:,}",
            f"{i['bad_lines']:,}" + (f" ({i['bad_share']:.1%})" if i["bad_lines"] else ""),
            *extra,
        )
    parts: list[Any] = [t]
    for ex in report.bad_lines.get("examples", []):
        parts.append(
            Text(safe(f"{ex['file']}:{ex['line']}: {ex['reason']}", limit=200), style="yellow")
        )
    return Group(*parts)
