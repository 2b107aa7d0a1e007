"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``, which .ci/run
installs) with the network blocked, driven over the DevTools pipe (tests/chromium.py).

Asserted for the sample logs' summary and trends and for a hostile log's summary: no script was
parsed, no request left the page (not even one that would have failed), the console is empty
(no Content-Security-Policy violation), every chart has a non-zero size, dark mode changes the
colours, the page prints to an A4 PDF and screenshots. A control page with a script and a remote
image proves the detectors can see both.

Without Chromium the test skips, unless LOGAUDIT_REQUIRE_CHROMIUM=1 (as .ci/run sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

import chromium
import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.cli import cli

REPO = Path(__file__).resolve().parent.parent

if chromium.find() is None:
    if os.environ.get("LOGAUDIT_REQUIRE_CHROMIUM") == "1":
        raise RuntimeError("LOGAUDIT_REQUIRE_CHROMIUM=1 but no chromium binary was found")
    pytest.skip("chromium is not installed", allow_module_level=True)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def test_the_detectors_see_a_script_and_a_request(tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><head><title>c</title></head><body><script>1</script>"
        '<img src="http://example.com/x.png"><svg class="chart" width="10" height="10"></svg>'
        "</body></html>"
    )
    v = chromium.visit(control, screenshot=False)
    assert v.scripts and v.requests == ["http://example.com/x.png"]
    assert v.boxes == [(10.0, 10.0)]


def _report(tmp_path: Path, command: str, log: str) -> Path:
    out = tmp_path / f"{command}.html"
    r = CliRunner().invoke(cli, [command, log, "-o", str(out), "--geoip-dir", str(tmp_path)])
    assert r.exit_code == 0, r.stderr
    return out


@pytest.mark.parametrize(("command", "charts"), [("summary", 6), ("trends", 3)])
def test_report_in_chromium(tmp_path: Path, command: str, charts: int) -> None:
    page = _report(tmp_path, command, str(REPO / "sample_logs"))
    v = chromium.visit(page)
    assert v.scripts == [], "a script ran"
    assert v.requests == [], "the page tried to fetch something"
    assert v.console == []
    assert len(v.boxes) >= charts
    assert all(w > 0 and h > 0 for w, h in v.boxes), v.boxes
    assert v.background == "rgb(255, 255, 255)" and v.background_dark != v.background
    assert v.pdf.startswith(b"%PDF") and v.screenshot.startswith(b"\x89PNG")


def test_hostile_report_in_chromium(tmp_path: Path) -> None:
    from test_render_hostile import _hostile_log

    log = _hostile_log(tmp_path)
    page = _report(tmp_path, "summary", str(log))
    body = page.read_text()
    assert "&lt;script&gt;" in body  # the payloads are there, as text
    v = chromium.visit(page, screenshot=False)
    assert v.scripts == [] and v.requests == [] and v.console == []


def test_a_5000_character_value_is_cut_in_the_page(tmp_path: Path) -> None:
    # QA22 #12: a 5,000-character path and referrer were shown whole, a screen-tall row each
    # at 1280 px and a 5,000-character link. Now cut at 300 characters with "…", as the text
    # report; the whole value is the cell's title (escaped), and the link goes to it whole.
    from html.parser import HTMLParser

    from loglines import line, write

    path = "/" + "A" * 5000 + "<b>"
    ref = "http://r.example/" + "B" * 5000
    log = write(tmp_path / "a.log", [line(request=f"GET {path} HTTP/1.1", referrer=ref)] * 3)
    page = _report(tmp_path, "summary", str(log))
    cells: list[tuple[str, dict[str, str | None]]] = []
    inside = [False]

    class Cells(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "td":
                cells.append(("", dict(attrs)))
                inside[0] = True

        def handle_endtag(self, tag: str) -> None:
            inside[0] = inside[0] and tag != "td"

        def handle_data(self, data: str) -> None:
            if inside[0]:
                cells[-1] = (cells[-1][0] + data, cells[-1][1])

    Cells().feed(page.read_text())
    long = [(text, attrs) for text, attrs in cells if attrs.get("title")]
    assert {a["title"] for _, a in long} == {path, ref}  # whole, and parsed back unescaped
    assert all(len(text) == 300 and text.endswith("\u2026") for text, _ in long), long
    assert "<b>" not in page.read_text() and f'href="{ref}"' in page.read_text()
    v = chromium.visit(page, width=1280, screenshot=False)
    assert v.scripts == [] and v.requests == [] and v.console == []
    assert v.rows and max(v.rows) < 150, max(v.rows)  # a few lines, not a screen (~1,000 px)


def test_mailed_charts_drawn_as_tables_in_chromium(tmp_path: Path) -> None:
    # QA22 #13: the mailed charts were image/svg+xml parts, which Gmail and Outlook do not
    # show. Drawn as tables of coloured cells, they have their size with the page's <style>
    # and without it (Gmail and Outlook drop or rewrite much of a mail's CSS), bars included.
    import email
    import re
    from email import policy

    eml = tmp_path / "m.eml"
    r = CliRunner().invoke(cli, [
        "summary", str(REPO / "sample_logs"), "--geoip-dir", str(tmp_path),
        "--mail-to", "a@x.example", "--dry-run", "-o", str(eml),
    ])
    assert r.exit_code == 0, r.stderr
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    part = msg.get_body(("html",))
    assert part is not None
    page = part.get_content()
    assert "<svg" not in page and "<img" not in page
    seen = []
    bare = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    for name, text in (("styled", page), ("bare", bare)):
        f = tmp_path / f"{name}.html"
        f.write_text(text)
        v = chromium.visit(f, screenshot=False)
        assert v.scripts == [] and v.requests == [] and v.console == []
        assert len(v.boxes) == 6 and all(w > 0 and h > 0 for w, h in v.boxes), v.boxes
        assert v.bars and all(w > 0 and h >= 1 for w, h in v.bars), v.bars
        # the tallest column is the plot's height: the hours' and the days' charts
        assert max(h for _, h in v.bars) == 132
        # each bar is drawn in its own colour: no stripe or background of the page's CSS
        # (a td's background beats its bgcolor) covers it, light or dark
        assert all(drawn == _rgb(given) for given, drawn in v.bar_colours), v.bar_colours
        seen.append(v.bars)
    assert seen[0] == seen[1]  # the bars do not depend on the <style> a client may drop


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_mailed_horizontal_bars_are_to_scale_in_chromium(tmp_path: Path) -> None:
    # rev23 #1: a bar's cell shared its row with the figure, so 0.6/0.3/0.1 drew 232/132/44 px
    # (1.0 vs 0.5: 226 vs 132). The bars' cells are one width now: a bar is its share of it.
    from logaudit.render import tablechart

    page = tmp_path / "bars.html"
    items = [("chrome", 0.6, "60.0%"), ("firefox", 0.3, "30.0%"), ("safari", 0.1, "10.0%")]
    long = [("a" * 40, 1.0, "1,234,567"), ("b", 0.5, "1")]  # a long label, a wide figure
    page.write_text(
        "<!doctype html><html><body>"
        + tablechart.hbars(items, "browsers")
        + tablechart.hbars(long, "others")
        + "</body></html>"
    )
    v = chromium.visit(page, screenshot=False)
    widths = [w for w, _ in v.bars]
    assert len(widths) == 5 and all(h == 13 for _, h in v.bars), v.bars
    for got, want in zip(widths[1:3], (0.5, 1 / 6), strict=True):
        assert abs(got - want * widths[0]) <= 1, widths
    assert abs(widths[4] - widths[3] / 2) <= 1 and abs(widths[3] - widths[0]) <= 1, widths
def _dates(n: int) -> list[str]:
    from datetime import date, timedelta

    return [(date(2023, 1, 1) + timedelta(days=i)).isoformat() for i in range(n)]


def _hours(n: int) -> list[str]:
    return [f"2001-01-{1 + i // 24:02d} {i % 24:02d}:00" for i in range(n)]


def test_chart_captions_and_labels_are_whole_and_apart(tmp_path: Path) -> None:
    """QA23 F2, F9, measured as drawn: a one-bar chart cut its caption ("requests, at most 1"
    for 1,000; the one-day summary's "visitors, at most 16" for 166), the first label was cut
    at the left, the last at the right ("2025-1"), and past ~600 periods the labels ran into
    each other. Every text of a column chart must lie inside the drawing, and the x-axis labels
    apart, at 1, 2, 24, 112, 365 and 1,000 periods and in a real one-day summary."""
    from logaudit.render import svg

    drawn = [
        svg.columns([1000.0], _hours(1), "t", "requests, at most 1,000"),
        svg.columns([166.0], _dates(1), "t", "visitors, at most 166"),
        svg.columns([3.0, 12345678.0], _dates(2), "t", "requests, at most 12,345,678"),
        svg.columns([float(i % 7 + 1) for i in range(24)], _hours(24), "t", "requests, at most 7"),
        svg.columns([1.0] * 112, [f"{2016 + i // 12}-{i % 12 + 1:02d}" for i in range(112)],
                    "t", "requests, at most 1"),
        svg.columns([float(i % 5 + 1) for i in range(365)], _dates(365), "t", "hits, at most 5"),
        svg.columns([float(i % 9 + 1) for i in range(1000)], _dates(1000), "t",
                    "bandwidth, at most 1.2 GB"),
    ]
    page = tmp_path / "charts.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>c</title></head><body>'
        + "".join(drawn) + "</body></html>"
    )
    day = _report(tmp_path, "summary", str(REPO / "sample_logs" / "access.log"))
    charts = [*chromium.visit(page, screenshot=False).texts]
    charts += chromium.visit(day, screenshot=False).texts
    assert len(charts) >= len(drawn) + 1
    for (left, top, right, bottom), texts in charts:
        assert texts, "a chart without its caption"
        for text, (x0, y0, x1, y1) in texts:  # half a pixel for rounding
            assert left - 0.5 <= x0 and x1 <= right + 0.5, (text, x0, x1, left, right)
            assert top - 0.5 <= y0 and y1 <= bottom + 0.5, (text, y0, y1, top, bottom)
        caption_bottom = texts[0][1][3]
        labels = sorted(box for _, box in texts[1:] if box[1] > caption_bottom)
        assert labels, "no x-axis label"
        for a, b in zip(labels, labels[1:], strict=False):
            assert b[0] >= a[2] + 2, (a, b)  # labels apart
    first = {texts[1][0] for _, texts in charts[: len(drawn)]}
    assert {"2001-01-01 00:00", "2023-01-01", "2016-01"} == first  # the first is shown, whole
