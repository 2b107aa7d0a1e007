"""Nothing from a log acts on a terminal, a page, a Markdown viewer or a spreadsheet.

Two sources of hostile text: a hand-built report whose every section (as registered in
``SECTIONS``), title, note, warning, note line, input name and bad-line example holds hostile
strings, rendered by every renderer; and real hostile logs run through the CLI in every format.
The checks look at what a consumer would act on (escape bytes, HTML elements and attributes as
an HTML5 parser builds them, Markdown links and raw HTML, spreadsheet formulas), not at the
renderer's own spelling of the escapes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import FIREFOX, isolate, line, write

from logaudit.analyze import SECTIONS
from logaudit.cli import cli
from logaudit.render import RENDERERS
from logaudit.report import Report, Section

html5lib = pytest.importorskip("html5lib")

HOSTILE = [
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "\x1b[?1049h",
    "\x1b[8m hidden",
    "\x9b31m c1 csi",
    "\u202egpj.exe",
    "line\u2028separator\u2029para",
    "bell\x07",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tTAB",
    "[bold red]markup[/]",
    "`code` *em* [link](javascript:alert(1)) | pipe ![img](http://evil.example/x.png)",
    "www.evil.example and http://evil.example/",
]
HOSTILE_TEXT = " ".join(HOSTILE)
RAW_FORBIDDEN = ("\x1b", "\x9b", "\x07", "\u202e", "\u2028", "\u2029")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def hostile_report(with_rows: bool = True) -> Report:
    sections = []
    for name in SECTIONS:
        rows = pd.DataFrame(
            {
                "path": HOSTILE,
                "referrer": [f"http://evil.example/{i}{h}" for i, h in enumerate(HOSTILE)],
                "hits": list(range(len(HOSTILE), 0, -1)),
                "share": [0.1] * len(HOSTILE),
            }
        )
        sections.append(
            Section(
                name,
                f"{name} {HOSTILE_TEXT}",
                rows if with_rows else pd.DataFrame(),
                len(HOSTILE) + 5,
                note=f"note {HOSTILE_TEXT}",
                chart="hits",
                sparklines={f"hits {HOSTILE[0]}": [1.0, 3.0, 2.0]},
            )
        )
    # A change table, whose metric names and change texts go through their own path.
    sections.append(
        Section(
            "change",
            f"Change {HOSTILE[1]}",
            pd.DataFrame(
                {
                    "metric": ["hits", HOSTILE[0]],
                    "last": [3, 4],
                    "previous": [2, 1],
                    "change_pct": [50.0, 300.0],
                    "change": ["▲ +50.0%", HOSTILE[2]],
                }
            ),
            2,
            note=HOSTILE[3],
        )
    )
    return Report(
        command="summary",
        overview={"requests": 10, "page_views": 5, "bandwidth": 1234, "share_4xx": 0.1},
        sections=sections,
        inputs=[
            {
                "file": f"access{HOSTILE[0]}.log",
                "format": "combined",
                "lines": 10,
                "parsed": 9,
                "bad_lines": 1,
                "bad_share": 0.1,
            }
        ],
        bad_lines={
            "total": 1,
            "examples": [{"file": HOSTILE[1], "line": 3, "reason": HOSTILE_TEXT}],
        },
        warnings=[f"warning {HOSTILE_TEXT}"],
        notes=[f"note line {HOSTILE_TEXT}"],
        settings={"tz": HOSTILE[0], "since": None, "until": None},
    )


def render(fmt: str, report: Report) -> str:
    buf = io.StringIO()
    RENDERERS[fmt](report, buf)
    return buf.getvalue()


def assert_inert_html(page: str) -> None:
    doc = html5lib.parse(page, namespaceHTMLElements=False)
    html5lib.HTMLParser(strict=True).parse(page)  # well-formed: raises on any parse error
    # no img: the charts are inline SVG, or tables in mail; nothing is fetched
    allowed = {
        "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "p",
        "section", "ul", "li", "span", "div", "table", "thead", "tbody", "tr", "th", "td",
        "a", "strong", "code", "footer", "svg", "rect", "line", "text", "polyline", "circle",
        "polygon",
    }  # fmt: skip
    for el in doc.iter():
        tag = el.tag.split("}")[-1] if isinstance(el.tag, str) else ""
        if not tag:
            continue
        assert tag in allowed, f"unexpected element <{tag}>"
        for attr, value in el.attrib.items():
            assert not attr.lower().startswith("on"), f"event handler {attr}={value!r}"
            assert attr not in ("srcdoc", "formaction"), attr
        if tag == "a":
            assert re.match(r"https?://", el.attrib["href"], re.I), el.attrib["href"]
            assert set(el.attrib["rel"].split()) == {"noopener", "noreferrer", "nofollow"}
    assert "<script" not in page.lower()
    for bad in RAW_FORBIDDEN:
        assert bad not in page


def assert_inert_markdown(text: str) -> None:
    for bad in RAW_FORBIDDEN:
        assert bad not in text
    # Outside code spans: no raw HTML, no link or image syntax, no bare autolink.
    prose = re.sub(r"(`+)(?:(?!\1).)+?\1", "", text)
    assert "<" not in prose
    assert not re.search(r"(?<!\\)\]\(", prose), "a Markdown link"
    assert not re.search(r"(?<!\\)(?:https?|javascript)://", prose.replace("\\:", ""))
    assert not re.search(r"(?i)(?<![\\\w])www\.", prose)


def assert_inert_csv(text: str) -> None:
    for row in csv.reader(io.StringIO(text)):
        for c in row:
            if c[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(c)  # only a number may start so


def assert_inert_terminal(text: str) -> None:
    for bad in RAW_FORBIDDEN:
        assert bad not in text
    assert "[bold red]markup[/]" in text.replace("\n", "")  # shown as written, not as markup


@pytest.mark.parametrize("with_rows", [True, False], ids=["rows", "empty"])
@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_every_title_and_note_is_escaped(fmt: str, with_rows: bool) -> None:
    out = render(fmt, hostile_report(with_rows))
    if fmt == "html":
        assert_inert_html(out)
    elif fmt == "markdown":
        assert_inert_markdown(out)
    elif fmt == "csv":
        assert_inert_csv(out)
    elif fmt == "json":
        for bad in RAW_FORBIDDEN:
            assert bad not in out
        data = json.loads(out)  # still valid, and the same text to a parser
        assert data["warnings"] == [f"warning {HOSTILE_TEXT}"]
        if with_rows:
            assert data["sections"][0]["rows"][0]["path"] == HOSTILE[0]
    else:
        assert_inert_terminal(out)


def test_hostile_titles_reach_every_human_renderer_visibly() -> None:
    """The escapes are visible (a reader sees that something odd was logged)."""
    for fmt in ("terminal", "text", "markdown", "html"):
        out = render(fmt, hostile_report())
        assert "\\x1b" in out and "\\u202e" in out, fmt


def test_html_links_only_http_referrers() -> None:
    from logaudit.render.html import link

    assert link("https://ok.example/a?b=1") == "https://ok.example/a?b=1"
    assert link("HTTP://ok.example/") == "HTTP://ok.example/"
    for bad in (
        "javascript:alert(1)",
        " http://x.example/",
        "http://x.example/\x1b[31m",
        'http://x.example/"><img>',
        "data:text/html,<script>",
        "//evil.example/",
        "http://x.example/\u202e",
        "ftp://x.example/",
    ):
        assert link(bad) == "", bad


def _hostile_log(tmp_path: Path) -> Path:
    """A vcombined log whose Host headers are hostile and whose referrers are all direct, so
    the referring-sites section is empty and its note lists the hosts (issue #19's path)."""
    lines = []
    for i, h in enumerate(HOSTILE):
        token = h.replace(" ", "_").replace('"', "'").replace("\t", "_")
        lines.append(
            line(
                client=f"203.0.113.{i + 1}",
                when=f"05/Apr/2024:08:00:{i:02d} +0000",
                request=f"GET /{token} HTTP/1.1",
                referrer="-",
                agent=FIREFOX,
                vhost=f"{token}.example",
            )
        )
        lines.append(
            line(
                client=f"198.51.100.{i + 1}",
                when=f"05/Apr/2024:09:00:{i:02d} +0000",
                request=f"GET /p%E2%80%AE{i} HTTP/1.1",
                referrer=token,
                agent=token,
                vhost="shop.example",
            )
        )
    return write(tmp_path / "hostile.log", lines)


@pytest.mark.parametrize("fmt", list(RENDERERS))
@pytest.mark.parametrize("command", ["summary", "trends", "visits", "visitors"])
def test_hostile_log_through_the_cli(tmp_path: Path, fmt: str, command: str) -> None:
    log = _hostile_log(tmp_path)
    r = CliRunner().invoke(cli, [command, str(log), "--format", fmt, "--top", "0"])
    assert r.exit_code in (0, 6), (r.stderr, r.exception)
    out = r.stdout
    if fmt == "html":
        assert_inert_html(out)
    elif fmt == "markdown":
        assert_inert_markdown(out)
    elif fmt == "csv":
        assert_inert_csv(out)
    else:
        for bad in RAW_FORBIDDEN:
            assert bad not in out, (fmt, bad)
    if fmt == "json":
        json.loads(out)


def test_empty_referring_sites_note_is_escaped(tmp_path: Path) -> None:
    """Issue #19: the note of an empty "Referring sites" lists the virtual hosts."""
    # Every referrer is one of the (hostile) virtual hosts: internal navigation, so the section
    # is empty and its note names the own hosts.
    lines = []
    for i, h in enumerate(HOSTILE):
        token = h.replace(" ", "_").replace('"', "'").replace("\t", "_")
        lines.append(
            line(
                client=f"203.0.113.{i + 1}",
                when=f"05/Apr/2024:08:00:{i:02d} +0000",
                request=f"GET /{i} HTTP/1.1",
                referrer=f"http://{token}.example/",
                agent=FIREFOX,
                vhost=f"{token}.example",
            )
        )
        lines.append(  # well-formed lines, so that the format is detected
            line(
                client=f"198.51.100.{i + 1}",
                when=f"05/Apr/2024:09:00:{i:02d} +0000",
                request=f"GET /{i} HTTP/1.1",
                referrer="http://shop.example/",
                agent=FIREFOX,
                vhost="shop.example",
            )
        )
    log = write(tmp_path / "internal.log", lines)
    r = CliRunner().invoke(cli, ["summary", str(log), "--section", "referring-sites"])
    assert r.exit_code == 0, r.stderr
    assert "\\x1b[?1049h" in r.stdout.replace("\n", "")
    assert "\x1b" not in r.stdout


def test_json_text_escapes_unsafe_characters_only() -> None:
    from logaudit.render.escape import json_text

    data = {"k": "a\x85b\u202ec\u2028d\u2029e\u200bf\U000e0001 فارسی 😀 é"}
    out = json_text(json.dumps(data, ensure_ascii=False))
    assert json.loads(out) == data
    for raw, shown in [
        ("\x85", "\\u0085"),
        ("\u202e", "\\u202e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
        ("\u200b", "\\u200b"),
        ("\U000e0001", "\\udb40\\udc01"),
    ]:
        assert raw not in out and shown in out
    assert "فارسی 😀 é" in out  # readable text stays as it is


@pytest.mark.parametrize("fmt", ["text", "terminal"])
def test_a_huge_text_cell_is_cut_with_an_ellipsis_never_a_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """QA18 #14: a 1 MB referrer wrapped to ~80,000 lines at 40 columns. Now cut at
    terminal.CELL_MAX characters; figures whole; JSON keeps the value whole."""
    from logaudit.render.terminal import CELL_MAX

    monkeypatch.setenv("COLUMNS", "40")
    ref = "http://x.example/" + "a" * 200_000
    log = write(tmp_path / "a.log", [line(referrer=ref, size=123456789) for _ in range(3)])
    args = ["summary", str(log), "--section", "referrers", "--section", "pages"]
    r = CliRunner().invoke(cli, [*args, "--format", fmt])
    assert r.exit_code == 0, r.stderr
    assert len(r.stdout) < 20 * CELL_MAX and ("..." in r.stdout or "\u2026" in r.stdout)
    assert "117.7 MiB" in r.stdout.replace("\n", " ") or "353.2 MiB" in r.stdout
    r = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert ref in r.stdout


def test_one_cut_for_safe_and_the_terminals_long_cells() -> None:
    """The terminal's long cells and escape.safe's limit cut one way (escape.cut): at most
    the limit, the ellipsis counted in it; text within the limit untouched."""
    from logaudit.render import escape

    assert escape.cut("abcdef", 6) == "abcdef" and escape.cut("abcdefg", 6) == "abcde…"
    assert escape.cut("abcdefg", 6, "...") == "abc..."
    assert escape.safe("abc\x00defg", 6) == escape.cut(escape.safe("abc\x00defg"), 6)


@pytest.mark.parametrize(
    "ch",
    [
        "\u3164", "\u115f", "\u1160", "\uffa0",  # Hangul fillers (Lo)
        "\u180b", "\u180d", "\u180f", "\ufe00", "\ufe0f", "\U000e0100",  # variation selectors
        "\u17b4", "\u034f",  # Khmer inherent vowel, combining grapheme joiner (Mn)
        "\u3000", "\u00a0", "\u2003", "\u202f",  # whitespace other than the space (Zs)
        "\u2800", "\ufffc",  # braille blank, object replacement
    ],
)
def test_invisible_and_blank_looking_characters_are_escaped(ch: str) -> None:
    """QA21 #10: escaped by category only (Cc/Cf/Zl/Zp/Cs/Co/Cn), so '/login' and
    '/login\\u3164' printed the same in text, records and CSV."""
    from logaudit.render.escape import csv_cell, json_text, safe

    shown = safe(f"/login{ch}")
    assert ch not in shown and shown.startswith("/login\\") and shown != "/login"
    assert ch not in csv_cell(f"/login{ch}")
    out = json_text(json.dumps({"p": f"/login{ch}"}, ensure_ascii=False))
    assert ch not in out and json.loads(out) == {"p": f"/login{ch}"}


def test_visible_text_and_the_space_are_not_escaped() -> None:
    from logaudit.render.escape import safe

    text = "a b é 日本語 فارسی 😀 ❤ \u1161 \u17b6 \ufe10x"
    assert safe(text) == text
