"""Golden files of the human renderers: the sample logs' summary and trends as text, Markdown
and HTML, in ``tests/golden/sample_logs.<command>.{txt,md,html}``.

Refresh on purpose, as for tests/test_golden.py (then review ``git diff tests/golden``):

    LOGAUDIT_REFRESH_GOLDEN=1 python -m pytest tests/test_golden_render.py

Volatile: the HTML footer's generation time. No GeoIP database is used (an empty folder), so
places read "unknown" on every machine.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from loglines import isolate

from logaudit import api
from logaudit.config import load
from logaudit.render import RENDERERS

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
REFRESH = __import__("os").environ.get("LOGAUDIT_REFRESH_GOLDEN") == "1"
SUFFIX = {"text": "txt", "markdown": "md", "html": "html"}
_GENERATED = re.compile(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("golden-render")
    isolate(mp, tmp)
    mp.chdir(REPO)
    try:
        out = {}
        for command in ("summary", "trends"):
            settings = load({"top": 10, "geoip_dir": tmp})
            outcome = api.report(command, ["sample_logs"], settings, ())
            assert outcome.report is not None, outcome.messages
            out[command] = outcome.report
        return out
    finally:
        mp.undo()


def rendered(report: Any, fmt: str) -> str:
    buf = io.StringIO()
    RENDERERS[fmt](report, buf)
    return _GENERATED.sub("on (time)", buf.getvalue())


@pytest.mark.parametrize("fmt", list(SUFFIX))
@pytest.mark.parametrize("command", ["summary", "trends"])
def test_human_renderers_match_golden(reports: dict[str, Any], command: str, fmt: str) -> None:
    current = rendered(reports[command], fmt)
    path = GOLDEN / f"sample_logs.{command}.{SUFFIX[fmt]}"
    if REFRESH:
        path.write_text(current, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path.name} is missing: run LOGAUDIT_REFRESH_GOLDEN=1 pytest {__file__}")
    assert current == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if intended, refresh with LOGAUDIT_REFRESH_GOLDEN=1 python -m "
        "pytest tests/test_golden_render.py and review the diff"
    )


@pytest.mark.parametrize("command", ["summary", "trends"])
def test_html_golden_is_well_formed(command: str) -> None:
    html5lib = pytest.importorskip("html5lib")
    page = (GOLDEN / f"sample_logs.{command}.html").read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True).parse(page)


def test_same_figures_in_every_human_renderer(reports: dict[str, Any]) -> None:
    """The overview's figures, as people read them, appear in each human output."""
    from logaudit.render import view

    report = reports["summary"]
    for fmt in SUFFIX:
        out = rendered(report, fmt)
        for label, value in view.overview_items(report):
            assert value.replace("%", "") in out.replace("\\%", "%").replace("%", ""), (
                fmt,
                label,
            )


@pytest.mark.parametrize("command", ["summary", "trends"])
def test_every_section_cell_in_html_and_markdown(reports: dict[str, Any], command: str) -> None:
    """Every section the terminal has, with the same cells, in HTML and Markdown."""
    from html import escape

    from logaudit.render import view
    from logaudit.render.markdown import code, md

    report = reports[command]
    page = rendered(report, "html")
    text = rendered(report, "markdown")
    for sec in report.sections:
        if sec.rows.empty:
            assert escape(view.empty_line(sec), quote=True) in page
            continue
        tv = view.table_view(sec)
        assert escape(tv.title) in page and f"## {md(tv.title)}" in text
        for row in tv.cells:
            for c, shown in zip(tv.columns, row, strict=True):
                if c.key in ("change", "week_change") and shown[:1] in "▲▼" and shown:
                    shown = shown[1:].strip()  # HTML draws the arrow as SVG
                assert escape(shown, quote=True) in page, (sec.name, shown)
                if shown:
                    assert (md(shown) if c.numeric else code(row[tv.columns.index(c)])) in text


def test_html_charts_can_be_drawn_as_tables(reports: dict[str, Any]) -> None:
    """For mail (Gmail and Outlook show no SVG): each chart a table of coloured cells."""
    from logaudit.render import html, tablechart

    buf = io.StringIO()
    html.render(reports["summary"], buf, charts=tablechart)
    page = buf.getvalue()
    assert "<svg" not in page and "<img" not in page
    kinds = re.findall(r'data-chart="(\w+)"', page)
    assert kinds.count("columns") >= 2 and "stacked" in kinds and kinds.count("hbars") >= 2
    svg_page = io.StringIO()
    html.render(reports["summary"], svg_page)
    assert svg_page.getvalue().count('<svg xmlns="http://www.w3.org/2000/svg" class="chart') == (
        len(kinds)
    )
