"""What people read: a section turned into display strings, shared by every human renderer.

The terminal, text, Markdown and HTML renderers all show a section through ``table_view``, so
they show the same figures, in the same words and units:

- metric names in words (``page_views`` -> "page views", ``rate_4xx`` -> "4xx rate");
- bytes as B/KiB/MiB/GiB, shares and rates as percentages, counts with thousands separators;
- each change once (the ``change`` text; its number alone, ``change_pct``, is JSON's);
- percent-encoded UTF-8 in paths and referrers decoded (``%D8%B3`` -> the letter), ASCII escapes
  such as ``%20`` or ``%3C`` kept as logged, so the shown path is never ambiguous;
- every string that came from the log, and every title and note, through ``text()``, the one
  escaping function (``escape.safe``: control, bidi and invisible characters as visible
  escapes). A renderer adds only its own markup escaping on top (HTML autoescape, Markdown).

JSON and CSV do not use this module: they keep keys, raw values and raw paths.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from logaudit.render.escape import safe
from logaudit.report import Report, Section
from logaudit.timespec import say_duration

# Metric and column names in words (lower case; a row label takes a capital).
WORDS: dict[str, str] = {
    "hits": "requests",
    "requests": "requests",
    "page_views": "page views",
    "visitors": "visitors",
    "visitor_days": "visitor-days",
    "unique_visitors": "unique visitors",
    "visits": "visits",
    "clicks": "clicks",
    "clicks_per_visit": "clicks per visit",
    "median_clicks": "median clicks",
    "bounce_rate": "bounce rate",
    "median_visit_seconds": "median visit",
    "duration_s": "duration",
    "bandwidth": "bandwidth",
    "bytes": "bytes",
    "status_4xx": "4xx responses",
    "status_5xx": "5xx responses",
    "rate_4xx": "4xx rate",
    "rate_5xx": "5xx rate",
    "share_3xx": "3xx share",
    "share_4xx": "4xx share",
    "share_5xx": "5xx share",
    "response_p50_ms": "median response (ms)",
    "response_p95_ms": "95th pct response (ms)",
    "crawler_hits": "crawler requests",
    "tool_hits": "tool requests",
    "not_found_urls": "not-found URLs",
    "bad_lines": "bad lines",
    "share_before": "share before",
    "share_last": "share last",
    "count_last": "count last",
    "count_before": "count before",
    "week_before": "week before",
    "week_change": "week change",
    "user_agent": "user agent",
    "os": "operating system",
}

# The most characters of a text cell shown (terminal, text and HTML, where the whole value is
# the cell's title): a few lines of a wide table, not a screen a row.
CELL_MAX = 300
BYTES = frozenset({"bandwidth", "bytes"})
# Human renderers leave these out: the same change is in the ``change``/``week_change`` text,
# and a period's ``start`` repeats its label.
HIDDEN = frozenset({"change_pct", "week_change_pct"})
# Columns holding paths or URLs from the log (decoded for display, never made live links
# except an http(s) referrer in HTML).
PATHLIKE = frozenset({"path", "page", "entry", "exit", "referrer", "entry -> exit"})
# Columns of a table with one row per metric (trends' change, the digest, problems' Now) whose
# values take the row's metric unit: a rate as a percentage, seconds as a response time.
PER_METRIC = frozenset({"last", "previous", "week_before", "now", "before"})

_OVERVIEW: tuple[tuple[str, str], ...] = (
    ("requests", "Requests (hits)"),
    ("page_views", "Page views"),
    ("visitor_days", "Visitor-days"),
    ("unique_visitors", "Unique visitors"),
    ("visits", "Visits"),
    ("clicks_per_visit", "Clicks per visit"),
    ("bounce_rate", "Bounce rate"),
    ("median_visit_seconds", "Median visit"),
    ("bandwidth", "Bandwidth"),
    ("bad_lines", "Bad lines"),
    ("not_found_urls", "Not-found URLs"),
    ("crawler_hits", "Crawler hits"),
    ("tool_hits", "Tool hits"),
    ("share_3xx", "3xx"),
    ("share_4xx", "4xx"),
    ("share_5xx", "5xx"),
    ("response_time_p50", "Response p50"),
    ("response_time_p95", "Response p95"),
    ("response_time_p99", "Response p99"),
    ("response_time_max", "Slowest response"),
)

# Columns in seconds of server time (overview percentiles, problems' slow endpoints and
# requests): shown as ms under a second.
SECONDS = frozenset(
    {
        "response_time_p50",
        "response_time_p95",
        "response_time_p99",
        "response_time_max",
        "p50",
        "p95",
        "p99",
        "max",
        "upstream_p95",
        "seconds",
        "upstream",
    }
)


# Columns and figures that are a visit's length in seconds: said as 20 min 00 s (JSON and
# CSV keep the number).
DURATIONS = frozenset({"median_visit_seconds", "duration_s"})


def text(value: object, limit: int = 0) -> str:
    """The one escaping function every human renderer prints log text, titles and notes
    through."""
    return safe(value, limit)


def words(key: str) -> str:
    return WORDS.get(key, key.replace("_", " "))


def human_bytes(n: float) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def latency(seconds: float) -> str:
    """A response time for people: 850 ms, 1.25 s."""
    s = float(seconds)
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:,.2f} s"


_UTF8_RUN = re.compile(r"(?:%[89A-Fa-f][0-9A-Fa-f])+")


def decode_path(s: str) -> str:
    """Percent-encoded UTF-8 (non-ASCII) decoded; ASCII escapes and invalid runs kept."""
    if "%" not in s:
        return s

    def one(m: re.Match[str]) -> str:
        raw = bytes.fromhex(m.group().replace("%", ""))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return m.group()

    return _UTF8_RUN.sub(one, s)


def _is_share(col: str) -> bool:
    # Ratios in [0, 1]: shares, bounce and conversion rates, problems' "5xx_rate"/"4xx_rate".
    return (
        col in {"share", "bounce_rate", "conversion_rate"}
        or col.startswith(("share_", "rate_"))
        or col.endswith("xx_rate")
    )


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def cell(col: str, v: Any, unit_of: str | None = None) -> str:
    """One value for people. ``unit_of``: the metric whose unit applies (a change table's
    row), else the column's own name."""
    v = _py(v)
    unit = unit_of or col
    if _missing(v):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if unit in BYTES:
            return human_bytes(v)
        if _is_share(unit):
            return f"{100 * float(v):.1f}%"
        if unit in DURATIONS:
            return say_duration(v)
        if unit in SECONDS:
            return latency(v)
        if isinstance(v, int):
            return f"{v:,}"
        return f"{v:,.2f}"
    s = str(v)
    if col in PATHLIKE or unit == "page":
        s = decode_path(s)
    return text(s)


def overview_items(report: Report) -> list[tuple[str, str]]:
    ov = report.overview
    return [(label, cell(key, ov[key])) for key, label in _OVERVIEW if key in ov]


def period_line(report: Report) -> str:
    """The period the report covers, in the report's zone."""
    ov = report.overview
    zone = report.settings.get("tz", "log offset")
    if ov.get("requests"):
        first, last = (str(ov.get(k)).replace("T", " ") for k in ("first_local", "last_local"))
        return text(f"{first} to {last} ({zone})")
    asked = [report.settings.get("since"), report.settings.get("until")]
    if any(asked):
        since, until = (str(a).replace("T", " ") if a else None for a in asked)
        # An instant carries its offset (+00:00); a wall time is on the report's clock.
        walls = [a for a in asked if a and "+" not in str(a)[10:]]
        where = f" ({zone})" if walls else ""
        return text(f"no request from {since or 'the start'} to {until or 'the end'}{where}")
    return "no request"


@dataclass
class Column:
    key: str
    label: str
    numeric: bool


@dataclass
class TableView:
    name: str
    title: str
    note: str
    columns: list[Column]
    cells: list[list[str]]
    total_rows: int
    # Raw values of the chart column (bars), and the raw cells of the rows (for HTML links).
    chart: str | None = None
    chart_values: list[float] = field(default_factory=list)
    raw: list[list[Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.cells

    def caption(self) -> str:
        parts = []
        if self.total_rows > len(self.cells):
            parts.append(f"top {len(self.cells)} of {self.total_rows:,}")
        if self.dropped:
            parts.append("left out for width: " + ", ".join(self.dropped))
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)

    def without(self, keys: list[str]) -> TableView:
        """The same table without these columns, saying so in the caption."""
        keep = [i for i, c in enumerate(self.columns) if c.key not in keys]
        gone = [c.label for c in self.columns if c.key in keys]
        return TableView(
            self.name,
            self.title,
            self.note,
            [self.columns[i] for i in keep],
            [[row[i] for i in keep] for row in self.cells],
            self.total_rows,
            self.chart,
            self.chart_values,
            [[row[i] for i in keep] for row in self.raw],
            self.dropped + gone,
        )


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


def _hidden(sec: Section) -> set[str]:
    cols = set(sec.rows.columns)
    hidden = {c for c in HIDDEN if c in cols}
    if "period" in cols:
        hidden.add("start")
    return hidden


def table_view(sec: Section) -> TableView:
    rows = sec.rows
    keys = [c for c in rows.columns if c not in _hidden(sec)]
    numeric = {c: is_numeric(rows[c]) for c in keys}
    per_metric = "metric" in rows.columns
    cells: list[list[str]] = []
    raw: list[list[Any]] = []
    for rec in rows[keys].itertuples(index=False, name=None) if keys else []:
        vals = dict(zip(keys, (_py(v) for v in rec), strict=True))
        unit = str(vals["metric"]) if per_metric else None
        row = []
        for c in keys:
            v = vals[c]
            if per_metric and c == "metric":
                m = str(v)
                row.append(text(words(m).capitalize() if m == m.lower() else m))
            elif sec.name == "movers" and c == "change" and isinstance(v, (int, float)):
                row.append(f"{v:+.2f} pt")
            elif c == "item" and vals.get("kind") == "page":
                row.append(cell(c, v, "page"))
            else:
                u = unit if per_metric and c in PER_METRIC else None
                row.append(cell(c, v, u))
        cells.append(row)
        raw.append([vals[c] for c in keys])
    chart = sec.chart if sec.chart in keys else None
    values = [float(_py(v)) if not _missing(_py(v)) else 0.0 for v in rows[chart]] if chart else []
    return TableView(
        sec.name,
        text(sec.title),
        text(sec.note),
        [Column(c, text(words(c)), numeric[c]) for c in keys],
        cells,
        max(sec.total_rows, len(cells)),
        chart,
        values,
        raw,
    )


def empty_line(sec: Section) -> str:
    return f"{text(sec.title)}: nothing to show" + (f" ({text(sec.note)})" if sec.note else "")


def _skipped(report: Report) -> bool:
    """Whether any input had lines that are neither hits nor bad (blank, comments, W3C
    headers): then the inputs table has a column for them."""
    return any(i.get("skipped_lines") for i in report.inputs)


def _nul(report: Report) -> bool:
    """Whether any input had runs of NUL bytes: then the inputs table has a column for them."""
    return any(i.get("nul_runs") for i in report.inputs)


def input_columns(report: Report) -> tuple[str, ...]:
    return (
        INPUT_COLUMNS
        + (("blank/#",) if _skipped(report) else ())
        + (("NUL runs",) if _nul(report) else ())
    )


def bad_lines_cell(i: dict[str, Any]) -> str:
    """An input's bad lines as the inputs table says them: ``7 (0.2%)``, the share of the
    lines read (parsed + bad); ``0`` alone."""
    return f"{i['bad_lines']:,}" + (f" ({i['bad_share']:.1%})" if i["bad_lines"] else "")


def inputs_rows(report: Report) -> list[list[str]]:
    out = []
    skipped = _skipped(report)
    nul = _nul(report)
    for i in report.inputs:
        bad = bad_lines_cell(i)
        fmt = str(i["format"] or "-")
        if i.get("times_read_in"):
            naive = " without an offset" if i.get("naive_times") else ""
            fmt += f", times{naive} in {i['times_read_in']}"
        row = [text(i["file"]), text(fmt), f"{i['lines']:,}", f"{i['parsed']:,}", bad]
        if skipped:
            row.append(f"{i.get('skipped_lines', 0):,}")
        if nul:
            row.append(f"{i.get('nul_runs', 0):,}")
        out.append(row)
    return out


INPUT_COLUMNS = ("file", "format", "lines", "parsed", "bad lines")
# Said instead of an empty inputs table: a report from the history store alone read no log.
NO_INPUTS = (
    "No log was read this run: the report is from the history store alone "
    "(logaudit state info lists past runs)."
)


def bad_examples_title(report: Report) -> str:
    """The heading of ``bad_examples``: a NUL run is no bad line (docs/metrics.md), so when
    the list may hold one it says so, beside a bad-lines column that may read 0."""
    if _nul(report):
        return "Bad lines and NUL runs, first examples:"
    return "Bad lines, first examples:"


def bad_examples(report: Report) -> list[str]:
    return [
        text(f"{ex['file']}:{ex['line']}: {ex['reason']}", limit=200)
        for ex in report.bad_lines.get("examples", [])
    ]


def no_request(report: Report) -> bool:
    return not report.overview.get("requests")


def no_request_message(report: Report) -> str:
    """One line instead of an empty table per section (the notes say where the logs' requests
    are)."""
    n = len(report.sections)
    return (
        "No request in this period: "
        + ("the section is" if n == 1 else f"all {n} sections are")
        + " empty."
    )
