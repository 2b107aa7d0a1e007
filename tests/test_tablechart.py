"""Charts drawn as HTML tables for mail (render/tablechart.py): nothing to draw, one value,
hostile labels escaped, long ones cut as the table cells are, the markup mail clients keep."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from logaudit.render import svg, tablechart, view

HOSTILE = '<script>alert(1)</script>"onmouseover="x\u202e\x1b[31m'


class Tags(HTMLParser):
    """Every start tag and its attributes, and the text (parsed back unescaped)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def test_nothing_to_draw_is_nothing_as_in_svg() -> None:
    for draw in (tablechart, svg):
        assert draw.columns([], [], "t") == "" and draw.columns([0.0], ["a"], "t") == ""
        assert draw.columns([float("nan")], ["a"], "t") == ""
        assert draw.sparkline([5.0], "t") == ""  # one value is no line
        assert draw.hbars([("a", 0.0, "0%")], "t") == ""
        assert draw.stacked([("2xx", 0.0, "#22c55e")], "t") == ""


def test_one_value_is_one_bar_with_its_label() -> None:
    page = tablechart.columns([7.0], ["2026-12-01"], "requests per date", "at most 7")
    t = Tags(page)
    assert [a["height"] for tag, a in t.tags if tag == "td" and a.get("bgcolor")] == ["132"]
    assert "2026-12-01" in t.text and "at most 7" in t.text
    assert t.text.count("2026-12-01") == 1  # the first label is the last: said once
    two = tablechart.sparkline([1.0, 1.0], "t", "requests", "1 to 1")
    assert two.count('<td valign="bottom">') == 2  # a flat line: two strokes


def test_hostile_labels_are_escaped_and_cut_like_the_cells() -> None:
    long = "/" + "A" * 5000
    pages = [
        tablechart.columns([1.0, 2.0], [HOSTILE, long], HOSTILE, HOSTILE),
        tablechart.hbars([(HOSTILE, 1.0, HOSTILE), (long, 2.0, "2")], HOSTILE),
        tablechart.stacked([(HOSTILE, 0.5, "#22c55e"), ("x", 0.5, "#ef4444")], HOSTILE),
        tablechart.sparkline([1.0, 2.0], HOSTILE, HOSTILE, HOSTILE),
        tablechart.arrow(True, False),
    ]
    shown = view.text(HOSTILE)
    assert "\u202e" not in shown and "\x1b" not in shown  # the one escaping function's work
    for page in pages:
        assert "<script" not in page and "\u202e" not in page and "\x1b" not in page
        t = Tags(page)
        assert {tag for tag, _ in t.tags} <= {"table", "tr", "td", "span"}
        for _, attrs in t.tags:
            assert not any(k.startswith("on") for k in attrs), attrs  # no handler got out
            assert "class" not in attrs  # Gmail renames classes, Outlook ignores most
            title = attrs.get("title") or ""
            assert len(title) <= view.CELL_MAX + 12, len(title)  # "label: 1,234"
    assert all(shown in Tags(page).text for page in pages[:4])  # said, as text
    titles = [a["title"] for _, a in Tags(pages[1]).tags if a.get("title")]
    assert titles[1] == long[: view.CELL_MAX - 1] + "\u2026"  # the whole label, cut at 300
    assert "A" * 22 not in Tags(pages[1]).text  # the bar's label is short, as in svg.py


def test_only_bars_have_a_colour_and_only_the_palette() -> None:
    # A client's dark mode keeps its own background: the charts set none but the bars'.
    page = tablechart.columns([1.0, 3.0], ["a", "b"], "t", "f") + tablechart.hbars(
        [("a", 1.0, "1")], "t"
    )
    assert re.findall(r'bgcolor="([^"]+)"', page) == [svg.ACCENT] * 3
    assert "background" not in page.replace("background-color:", "")


def test_short_bars_say_they_hold_no_text() -> None:
    # rev23 #4: Outlook's Word engine gives an empty cell a line of its font (~15 px) unless the
    # cell itself sets font-size and line-height to 0; a table's style does not reach its cells.
    page = (
        tablechart.columns([1.0, 100.0], ["a", "b"], "t")
        + tablechart.hbars([("a", 1.0, "1")], "t")
        + tablechart.sparkline([1.0, 5.0, 2.0], "t")
    )
    cells = [a for tag, a in Tags(page).tags if tag == "td" and a.get("height")]
    short = [a for a in cells if int(a["height"] or 0) < 24]  # Outlook's line: ~15-19 px
    assert len(short) == 4 and len(cells) > len(short)  # a column, a bar, a stroke, a spacer
    assert all(a.get("style") == "font-size:0;line-height:0" for a in short), short


def test_a_few_values_draw_a_short_line_not_wide_slabs() -> None:
    # rev23 #5: 4 values in 220 px were 55-px slabs; a cell is at most SPARK_PX wide now.
    def line_width(page: str) -> str | None:
        (line,) = [a for tag, a in Tags(page).tags if tag == "table" and a.get("height")]
        return line.get("width")  # the row of strokes: the one table with a height

    assert line_width(tablechart.sparkline([1.0, 3.0, 2.0, 4.0], "t")) == str(
        4 * tablechart.SPARK_PX
    )
    assert line_width(tablechart.sparkline([float(v % 9) for v in range(365)], "t")) == "220"
