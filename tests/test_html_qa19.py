"""QA19 #10: the HTML report's failing-URLs table (problems -o x.html, the digest's HTML and
mail) keeps its clients and referrers readable: an address never breaks inside, lines break
between items, the column has a width, the times break at their space and the bar is a short
gauge; and numeric headers may wrap between words, so the trends table fits a page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate, line, utc, write

from logaudit.cli import cli

V6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"
CLIENTS = ["183.60.244.30", V6, "::ffff:198.51.100.99"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _failing_urls(tmp_path: Path, command: str, *args: str) -> str:
    rows = [
        line(
            client=CLIENTS[i % 3],
            when=utc(2026, 12, 5, 10, i, 0),
            request="GET /api/pay HTTP/1.1",
            status=500,
            referrer=f"https://shop.example.com/cart/checkout?step={i % 2}&x=1",
        )
        for i in range(40)
    ]
    log = write(tmp_path / "access.log", rows)
    out = tmp_path / "out.html"
    got = CliRunner().invoke(cli, [command, str(log), "-o", str(out), *args])
    assert got.exit_code in (0, 10), got.output
    page = out.read_text("utf-8")
    m = re.search(r'<section id="failing-urls">.*?</section>', page, re.S)
    assert m, "a failing-urls section"
    return m.group(0)


@pytest.mark.parametrize(
    ("command", "args"), [("problems", ()), ("digest", ("--since", "2026-12-05"))]
)
def test_failing_urls_lists_keep_addresses_whole(tmp_path: Path, command: str, args) -> None:
    section = _failing_urls(tmp_path, command, *args)
    cells = re.findall(
        r'<td class="list" style="([^"]*)"><div style="([^"]*)">(.*?)</div></td>', section
    )
    assert len(cells) == 2  # clients and referrers of the one failing URL
    (c_style, c_box, clients), (_, _, referrers) = cells
    assert "min-width:13em" in c_style and "max-width:24em" in c_box
    items = re.findall(r'<span style="white-space:nowrap">([^<]*)</span>', clients)
    assert sorted(i.rstrip(",").split("\u00a0")[0] for i in items) == sorted(CLIENTS)
    # a referrer breaks after a "/", "?" or "&" of its URL, never inside "://", and its count
    # stays with it
    assert "https://<wbr>" not in referrers and "shop.example.com/<wbr>cart/<wbr>" in referrers
    assert re.search(r"\u00a0\(\d+\)", referrers)
    # the times break at their space only; the bar is a short gauge
    assert re.search(r'<span style="white-space:nowrap">2026-12-05</span> <span', section)
    assert 'class="barcell" style="padding:4px 8px;width:10%"' in section


def test_numeric_headers_may_wrap_between_words(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parent.parent / "sample_logs"
    out = tmp_path / "trends.html"
    got = CliRunner().invoke(cli, ["trends", str(sample), "--format", "html", "-o", str(out)])
    assert got.exit_code == 0, got.output
    page = out.read_text("utf-8")
    assert "<th" in page
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)  # type: ignore[union-attr]
    # a rule whose selector names the th element itself (th, th.num, thead th), not thead
    header = re.compile(r"(^|[\s>+~])th(?![\w-])")
    th_rules = [
        body
        for sel, body in re.findall(r"([^{}]*)\{([^}]*)\}", css)
        if any(header.search(part.strip()) for part in sel.split(","))
    ]
    assert th_rules and not any("nowrap" in body for body in th_rules)
