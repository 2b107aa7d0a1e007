"""Charts as small, self-contained SVG documents (strings): no script, no external reference,
explicit colours (they read on light and dark backgrounds, and when a mail client shows them as
images, without the page's CSS).

Every label is passed through ``view.text`` (the one escaping function) and then XML-escaped here;
figures are formatted by the caller. Each function returns ``""`` when there is nothing to draw.
"""

from __future__ import annotations

from html import escape as _xml
from math import isfinite

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
    # A few periods make narrow bars, not a few slabs across the page.
    width = min(width, 40 + 72 * len(vals))
    top = max(vals)
    left, right, up, bottom = 8, 8, 16, 22
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
    longest = max((len(view.text(x)) for x in labels), default=1)
    every = max(1, -(-int(longest * 6.6 + 8) // max(1, int(step))))  # labels never overlap
    for i, (v, label) in enumerate(zip(vals, labels, strict=True)):
        h = plot_h * v / top
        x = left + i * step
        parts.append(
            f'<rect x="{x + gap / 2:.1f}" y="{up + plot_h - h:.1f}" width="{step - gap:.1f}" '
            f'height="{h:.1f}" rx="1.5" fill="{ACCENT}"><title>{_t(label)}: '
            f"{v:,.0f}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 6}" fill="{MUTED}" '
                f'text-anchor="middle">{_t(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{up + plot_h}" x2="{width - right}" y2="{up + plot_h}" '
        f'stroke="{GRID}" stroke-opacity="0.6"/></svg>'
    )
    return "".join(parts)


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
