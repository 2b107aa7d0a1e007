"""Charts as small, self-contained SVG documents (strings): no script, no external reference,
explicit colours (they read on light and dark backgrounds, and when a mail client shows them as
images, without the page's CSS).

Every label is passed through ``view.text`` (the one escaping function) and then XML-escaped here;
figures are formatted by the caller. Each function returns ``""`` when there is nothing to draw.
"""

from __future__ import annotations

from html import escape as _xml
from math import ceil, isfinite

from logaudit.render import view

ACCENT = "#3b82f6"
MUTED = "#8a94a6"
GRID = "#8a94a6"
UP = "#16a34a"
DOWN = "#dc2626"
STATUS_COLOURS = {
    "1xx": "#a3a3a3",
    "2xx": "#22c55e",
    "3xx": "#3b82f6",
    "4xx": "#f59e0b",
    "5xx": "#ef4444",
}
FONT = "font-family=\"system-ui,-apple-system,'Segoe UI',Roboto,sans-serif\""


def _t(s: object) -> str:
    return _xml(view.text(s), quote=True)


def _open(width: int, height: int, title: str, cls: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FONT} '
        f'font-size="11"><title>{_t(title)}</title>'
    )


# How wide a text at font-size 11 can be drawn, in px, per character: an estimate meant to be
# too wide, never too narrow (Chromium with DejaVu Sans / system-ui: digits 6.4, lower case
# 5.4-6.6 on average; the upper case up to 9.5; M, W, m, w, @ and % 10.4-11.0; a character
# outside Latin, such as CJK or an emoji, up to the font size). The drawing is made as wide
# as its caption and its labels need with it (QA23 F2: "requests, at most 1" for 1,000, cut by
# a one-bar SVG).
_NARROW = 7.0
_WIDE = 11.5
_FULL = 11.5
_WIDE_CHARS = frozenset("MWmw@%")
LABEL_GAP = 8.0  # px at least between two x-axis labels


def text_width(s: str) -> float:
    """The width, in px, that ``s`` (as drawn: ``view.text``) can take at font-size 11."""
    return sum(
        _FULL if ord(c) > 0x24F else _WIDE if c in _WIDE_CHARS or c.isupper() else _NARROW
        for c in s
    )


def _clean(values: list[float]) -> list[float]:
    return [float(v) if isfinite(float(v)) else 0.0 for v in values]


def columns(
    values: list[float],
    labels: list[str],
    title: str,
    figure: str = "",
    width: int = 640,
    height: int = 170,
) -> str:
    """Vertical bars, one per label (traffic per period, hour of day). ``figure``: the
    biggest value as people read it, drawn at the top of the scale."""
    vals = _clean(values)
    if not vals or max(vals) <= 0:
        return ""
    shown = [view.text(x) for x in labels]
    label_w = max((text_width(x) for x in shown), default=0.0)
    left, right, up, bottom = 8, 8, 16, 22
    # A few periods make narrow bars, not a few slabs across the page, but wide enough for
    # each period's label under its bar (up to ``width``), and always for the caption and
    # one label whole, past ``width`` if it must: a cut caption misread 1,000 as 1 (QA23 F2).
    n = len(vals)
    width = min(width, max(40 + 72 * n, round(n * (label_w + LABEL_GAP)) + left + right))
    width = max(width, ceil(max(text_width(view.text(figure)), label_w)) + left + right)
    top = max(vals)
    plot_w, plot_h = width - left - right, height - up - bottom
    step = plot_w / len(vals)
    gap = min(4.0, step * 0.2)
    parts = [_open(width, height, title, "columns")]
    parts.append(
        f'<line x1="{left}" y1="{up}" x2="{width - right}" y2="{up}" stroke="{GRID}" '
        'stroke-opacity="0.35" stroke-dasharray="3 3"/>'
    )
    if figure:
        parts.append(f'<text x="{left}" y="{up - 4}" fill="{MUTED}">{_t(figure)}</text>')
    placed = _labels(shown, label_w, left, step, width - right)
    for i, (v, label) in enumerate(zip(vals, shown, strict=True)):
        h = plot_h * v / top
        x = left + i * step
        safe = _xml(label, quote=True)  # view.text'd above: _t's escaping, done once
        parts.append(
            f'<rect x="{x + gap / 2:.1f}" y="{up + plot_h - h:.1f}" width="{step - gap:.1f}" '
            f'height="{h:.1f}" rx="1.5" fill="{ACCENT}"><title>{safe}: '
            f"{v:,.0f}</title></rect>"
        )
        if i in placed:
            at, anchor = placed[i]
            parts.append(
                f'<text x="{at:.1f}" y="{height - 6}" fill="{MUTED}" '
                f'text-anchor="{anchor}">{safe}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{up + plot_h}" x2="{width - right}" y2="{up + plot_h}" '
        f'stroke="{GRID}" stroke-opacity="0.6"/></svg>'
    )
    return "".join(parts)




def _labels(
    shown: list[str], label_w: float, left: float, step: float, right: float
) -> dict[int, tuple[float, str]]:
    """Which bars get a label under them, and where (x, text-anchor): every k-th bar, k the
    fewest bars as wide as the longest label and a gap (a fraction of a pixel each under a
    long period: QA23 F9, whose int() made it 0, and 1,000 days' labels ran into each other).
    A label is centred under its bar when every bar is as wide as the longest label, else it
    starts where its bar starts (it centred a date on the first of a hundred bars, cut at the
    left: F2); one that would cross the right edge ends there, or is left out if that put it
    over the one before (it cut 2025-12 to "2025-1": F9)."""
    every = max(1, ceil((label_w + LABEL_GAP) / step))
    centred = label_w <= step
    placed: dict[int, tuple[float, str]] = {}
    end = -LABEL_GAP  # the right edge of the label placed last
    for i in range(0, len(shown), every):
        w = text_width(shown[i])
        x0, at, anchor = left + i * step, left + i * step, "start"
        if centred:
            at, anchor = left + (i + 0.5) * step, "middle"
            x0 = at - w / 2
        if x0 + w > right:
            x0, at, anchor = right - w, right, "end"
        if x0 >= end + LABEL_GAP:
            placed[i] = (at, anchor)
            end = x0 + w
    return placed


def stacked(parts: list[tuple[str, float, str]], title: str, width: int = 640) -> str:
    """One bar split by share, with a legend: (label, share 0..1, colour)."""
    shown = [(label, s, c) for label, s, c in parts if s > 0]
    if not shown:
        return ""
    height = 46
    out = [_open(width, height, title, "stacked")]
    x = 0.0
    total = sum(s for _, s, _ in shown)
    for label, s, colour in shown:
        w = width * s / total
        out.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{colour}">'
            f"<title>{_t(label)}: {100 * s:.1f}%</title></rect>"
        )
        x += w
    lx = 0
    for label, s, colour in shown:
        out.append(f'<rect x="{lx}" y="28" width="10" height="10" rx="2" fill="{colour}"/>')
        caption = f"{label} {100 * s:.1f}%"
        out.append(f'<text x="{lx + 14}" y="37" fill="{MUTED}">{_t(caption)}</text>')
        lx += 24 + 7 * len(caption)
    out.append("</svg>")
    return "".join(out)


def hbars(items: list[tuple[str, float, str]], title: str, width: int = 420) -> str:
    """Horizontal bars, one per item: (label, value, value as people read it)."""
    items = [(label, v, shown) for label, v, shown in items if v > 0]
    if not items:
        return ""
    row = 20
    label_w = 150
    figure_w = 56
    height = row * len(items) + 4
    top = max(v for _, v, _ in items)
    out = [_open(width, height, title, "hbars")]
    for i, (label, v, shown) in enumerate(items):
        y = i * row + 2
        w = max(1.0, (width - label_w - figure_w) * v / top)
        name = view.text(label)
        if len(name) > 22:
            name = name[:21] + "…"
        out.append(
            f'<text x="{label_w - 6}" y="{y + 13}" fill="{MUTED}" text-anchor="end">'
            f"{_xml(name)}<title>{_t(label)}</title></text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="13" rx="2" '
            f'fill="{ACCENT}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" fill="{MUTED}">{_t(shown)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def sparkline(
    values: list[float], title: str, label: str = "", span_text: str = "", width: int = 220
) -> str:
    """A line over the values, labelled above with what it shows and its range."""
    vals = _clean(values)
    if len(vals) < 2:
        return ""
    top, line_h = (16 if label else 2), 34
    height = top + line_h
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    step = (width - 6) / (len(vals) - 1)

    def y(v: float) -> float:
        return top + line_h - 3 - (line_h - 6) * (v - lo) / span

    pts = " ".join(f"{3 + i * step:.1f},{y(v):.1f}" for i, v in enumerate(vals))
    head = ""
    if label:
        head = (
            f'<text x="0" y="11" fill="{MUTED}">{_t(label)}</text>'
            f'<text x="{width}" y="11" fill="{MUTED}" text-anchor="end">{_t(span_text)}</text>'
        )
    return (
        _open(width, height, title, "spark")
        + head
        + f'<polyline points="{pts}" fill="none" stroke="{ACCENT}" stroke-width="1.8" '
        'stroke-linejoin="round" stroke-linecap="round"/>'
        + f'<circle cx="{3 + (len(vals) - 1) * step:.1f}" cy="{y(vals[-1]):.1f}" r="2.6" '
        f'fill="{ACCENT}"/></svg>'
    )


def arrow(up: bool, good: bool | None = None) -> str:
    """A small triangle for a change: up or down; green when good, red when bad, grey when
    neither is known."""
    colour = MUTED if good is None else (UP if good else DOWN)
    pts = "5,1 9,9 1,9" if up else "1,1 9,1 5,9"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="arrow" role="img" width="10" '
        f'height="10" viewBox="0 0 10 10"><title>{"up" if up else "down"}</title>'
        f'<polygon points="{pts}" fill="{colour}"/></svg>'
    )
