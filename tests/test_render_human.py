"""Reports for people: words and units, decoded paths, narrow terminals, plain ASCII, the
output-format choice from -o, CSV files, --top on status codes, and a period without requests.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import CHROME, FIREFOX, isolate, line, write
from rich.console import Console

from logaudit import api
from logaudit.cli import cli
from logaudit.config import load
from logaudit.render import EXTENSIONS, RENDERERS, terminal, view

HUMAN = ("terminal", "text", "markdown", "html")
PERSIAN = "/محصولات/کفش"
PERSIAN_RAW = "/%D9%85%D8%AD%D8%B5%D9%88%D9%84%D8%A7%D8%AA/%DA%A9%D9%81%D8%B4"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def two_weeks(tmp_path: Path) -> Path:
    """14 days; the last day has more traffic, bigger responses and some 404s."""
    lines = []
    for day in range(1, 15):
        n = {13: 20, 14: 45}.get(day, 30)
        for i in range(n):
            path = PERSIAN_RAW if i % 5 == 0 else f"/page/{i % 7}?q=a%20b"
            status = 404 if day == 14 and i % 9 == 0 else 200
            lines.append(
                line(
                    client=f"203.0.113.{i % 40 + 1}",
                    when=f"{day:02d}/Mar/2024:{8 + i % 12:02d}:{i % 60:02d}:00 +0000",
                    request=f"GET {path} HTTP/1.1",
                    status=status,
                    size=50_000 * (3 if day == 14 else 1),
                    agent=FIREFOX if i % 2 else CHROME,
                    referrer="https://www.example.org/x" if i % 3 == 0 else "-",
                )
            )
    return write(tmp_path / "access.log", lines)


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, args, env=env)
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("fmt", HUMAN)
def test_change_table_in_words_and_units(two_weeks: Path, fmt: str) -> None:
    code, out, err = run(["trends", str(two_weeks), "--every", "day", "--format", fmt])
    assert code == 0, err
    # Section and column texts: words, not JSON keys.
    for key in ("page_views", "rate_4xx", "status_4xx", "clicks_per_visit", "change_pct"):
        assert key not in out, key
    assert "Page views" in out and "4xx rate" in out and "Bandwidth" in out
    data = json.loads(run(["trends", str(two_weeks), "--every", "day", "--format", "json"])[1])
    change = {s["name"]: s for s in data["sections"]}["change"]["rows"]
    # Bandwidth as bytes for people (KiB/MiB), never the raw byte count.
    bw = next(r for r in change if r["metric"] == "bandwidth")
    assert view.human_bytes(bw["last"]) in out and f"{bw['last']:,}" not in out
    assert str(bw["last"]) not in out
    # Rates as percentages.
    rate = next(r for r in change if r["metric"] == "rate_4xx")
    assert f"{100 * rate['last']:.1f}%" in out
    # Each change once: the change text, not also its bare number.
    hits = next(r for r in change if r["metric"] == "hits")
    assert hits["change"] and str(hits["change_pct"]) in hits["change"]
    pct = hits["change"].split()[-1]  # "+125.0%"
    same = [r for r in change for k in ("change", "week_change") if r[k].endswith(pct)]
    assert pct != "+0.0%" and out.count(pct) == len(same)
    assert not re.search(rf"(?<![\d.+-]){re.escape(str(abs(hits['change_pct'])))}(?![\d%])", out)


def test_json_keeps_keys_and_raw_values(two_weeks: Path) -> None:
    code, out, _ = run(["trends", str(two_weeks), "--every", "day", "--format", "json"])
    data = json.loads(out)
    change = {s["name"]: s for s in data["sections"]}["change"]["rows"]
    assert {r["metric"] for r in change} >= {"page_views", "rate_4xx", "bandwidth"}
    assert isinstance(next(r for r in change if r["metric"] == "bandwidth")["last"], int)
    assert all("change_pct" in r for r in change)


@pytest.mark.parametrize("fmt", HUMAN)
def test_percent_encoded_paths_decoded_for_people(two_weeks: Path, fmt: str) -> None:
    code, out, err = run(["summary", str(two_weeks), "--format", fmt, "--section", "pages"])
    assert code == 0, err
    assert PERSIAN in out and PERSIAN_RAW not in out
    assert "/page/1" in out


def test_percent_encoded_paths_raw_in_json(two_weeks: Path) -> None:
    out = run(["summary", str(two_weeks), "--format", "json", "--section", "pages"])[1]
    paths = [r["path"] for r in json.loads(out)["sections"][0]["rows"]]
    assert PERSIAN_RAW in paths and PERSIAN not in out


def test_decode_path_rules() -> None:
    assert view.decode_path(PERSIAN_RAW) == PERSIAN
    # ASCII escapes stay as logged (a shown path is never ambiguous); invalid UTF-8 too.
    assert view.decode_path("/a%20b%2F%3Cscript%3E") == "/a%20b%2F%3Cscript%3E"
    assert view.decode_path("/x%FF%FEy") == "/x%FF%FEy"
    # Decoded bidi or control characters are still shown as escapes.
    assert view.cell("path", "/p%E2%80%AEx") == "/p\\u202ex"


def test_units() -> None:
    assert view.cell("bandwidth", 21_189_623_882) == "19.7 GiB"
    assert view.cell("rate_4xx", 0.0213) == "2.1%"
    assert view.cell("hits", 1234567) == "1,234,567"
    assert view.cell("last", 0.25, unit_of="rate_5xx") == "25.0%"
    assert view.cell("median_visit_seconds", 125.0) == "2 min 05 s"


def _report(log: Path, command: str, top: int = 10) -> object:
    settings = load({"top": top})
    outcome = api.report(command, [str(log)], settings, ())
    assert outcome.report is not None
    return outcome.report


@pytest.mark.parametrize("width", [60, 70, 80])
@pytest.mark.parametrize("command", ["summary", "visitors", "trends", "visits"])
def test_narrow_terminals_cut_nothing(two_weeks: Path, width: int, command: str) -> None:
    report = _report(two_weeks, command)
    buf = io.StringIO()
    terminal.render(report, console=Console(file=buf, width=width, color_system=None))  # type: ignore[arg-type]
    out = buf.getvalue()
    assert max(len(x) for x in out.splitlines()) <= width
    for sec in report.sections:  # type: ignore[attr-defined]
        if sec.rows.empty:
            continue
        tv, _ = terminal.fit(view.table_view(sec), sec.narrow_drop, width)
        shown = view.table_view(sec)
        for c in shown.columns:
            if c.key not in {x.key for x in tv.columns}:
                assert c.label in tv.caption(), (sec.name, c.label)
        for i, c in enumerate(tv.columns):
            for row in tv.cells:
                if c.numeric:  # a figure is never cut or wrapped
                    assert re.search(rf"(?<![\w.,]){re.escape(row[i])}(?![\w.,])", out), (
                        sec.name,
                        row[i],
                    )
            for word in re.findall(r"\w+", c.label):  # no header cut mid-word ("page vi")
                assert re.search(rf"\b{re.escape(word)}\b", out), (sec.name, word)


def test_dumb_terminal_is_ascii(two_weeks: Path) -> None:
    code, out, err = run(
        ["summary", str(two_weeks)], env={"TERM": "dumb", "LC_ALL": "C", "COLUMNS": "100"}
    )
    assert code == 0, err
    assert out.isascii()
    assert "\\u0645" in out  # the Persian path, as escapes
    assert "#" in out  # bars


def test_style_for() -> None:
    assert terminal.style_for({"TERM": "dumb", "LANG": "en_US.UTF-8"}) == "ascii"
    assert terminal.style_for({"TERM": "xterm", "LC_ALL": "C"}) == "ascii"
    assert terminal.style_for({"TERM": "xterm", "LANG": "en_GB.ISO-8859-1"}) == "ascii"
    assert terminal.style_for({"TERM": "xterm", "LANG": "C.UTF-8"}) == "unicode"
    assert terminal.style_for({"TERM": "xterm", "LC_ALL": "C", "LANG": "x.UTF-8"}) == "ascii"


def test_text_has_no_box_drawing(two_weeks: Path) -> None:
    code, out, _ = run(["trends", str(two_weeks), "--format", "text"])
    assert code == 0
    assert not re.search(r"[\u2500-\u259f]", out)  # box drawing, blocks
    assert "\x1b" not in out


@pytest.mark.parametrize(("ext", "fmt"), sorted(EXTENSIONS.items()))
def test_output_extension_picks_the_renderer(
    two_weeks: Path, tmp_path: Path, ext: str, fmt: str
) -> None:
    target = tmp_path / f"report{ext}"
    code, _, err = run(["summary", str(two_weeks), "-o", str(target)])
    assert code == 0, err
    body = target.read_text(encoding="utf-8")
    first = {
        "html": "<!DOCTYPE html>",
        "markdown": "# logaudit summary",
        "text": "logaudit summary",
        "json": "{",
        "csv": "section,",
    }[fmt]
    assert body.startswith(first)
    assert fmt in RENDERERS


def test_unknown_extension_is_a_usage_error(two_weeks: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    code, _, err = run(["summary", str(two_weeks), "-o", str(target)])
    assert code == 2 and ".pdf" in err and "--format" in err
    assert not target.exists()
    # --format names the renderer whatever the extension.
    code, _, err = run(["summary", str(two_weeks), "-o", str(target), "--format", "html"])
    assert code == 0 and target.read_text().startswith("<!DOCTYPE html>")


def test_no_extension_writes_text(two_weeks: Path, tmp_path: Path) -> None:
    target = tmp_path / "report"
    assert run(["summary", str(two_weeks), "-o", str(target)])[0] == 0
    body = target.read_text()
    assert body.startswith("logaudit summary") and "\x1b" not in body


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_dir_one_file_per_section(two_weeks: Path, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    code, out, err = run(["summary", str(two_weeks), "--csv-dir", str(folder)])
    assert code == 0, err and out == ""
    names = sorted(p.name for p in folder.iterdir())
    assert "overview.csv" in names and "status.csv" in names and "pages.csv" in names
    assert (folder.stat().st_mode & 0o777) == 0o700
    status = _csv((folder / "status.csv").read_text())
    assert status[0] == ["status", "meaning", "hits", "share"]
    assert status[1][0] == "200" and float(status[1][3]) > 0
    overview = dict(_csv((folder / "overview.csv").read_text())[1:])
    assert overview["requests"] == str(12 * 30 + 20 + 45)
    # With --format as well, the usual output follows.
    code, out, _ = run(["summary", str(two_weeks), "--csv-dir", str(folder), "--format", "json"])
    assert code == 0 and json.loads(out)["command"] == "summary"


def test_csv_neutralises_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    log = write(
        tmp_path / "f.log",
        [
            line(request='GET /=HYPERLINK("http://evil.example","x") HTTP/1.1'),
            line(request="GET /+cmd HTTP/1.1", client="203.0.113.2"),
            line(request="GET /ok HTTP/1.1", client="203.0.113.3", status=404),
        ],
    )
    code, out, _ = run(["summary", str(log), "--format", "csv", "--section", "pages"])
    rows = _csv(out)
    cells = [c for r in rows for c in r]
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    # a path from the log starts with "/": check a client name that starts with "="
    log2 = write(
        tmp_path / "g.log",
        [line(client=c) for c in ("=1+2", "-3", "@x", "-", "-1+2", "-cmd", "--")],
    )
    out2 = run(["summary", str(log2), "--format", "csv", "--section", "hosts"])[1]
    clients = [r[0] for r in _csv(out2)[1:]]
    # A lone "-" (the logs' placeholder) is no formula: kept as logged (QA22 #17); any "-" with
    # more after it that is not a number still gets its "'".
    assert sorted(clients) == sorted(["'=1+2", "-3", "'@x", "-", "'-1+2", "'-cmd", "'--"])
    hits = [r[1] for r in _csv(out2)[1:]]
    assert all(h.isdigit() for h in hits)  # numbers as numbers, unquoted


def test_top_applies_to_status_codes(tmp_path: Path) -> None:
    lines = [
        line(client=f"203.0.113.{i}", status=s)
        for i, s in enumerate([200] * 5 + [404] * 3 + [500, 301, 302])
    ]
    log = write(tmp_path / "s.log", lines)
    out = run(["summary", str(log), "--format", "json", "--section", "status", "--top", "2"])[1]
    sec = json.loads(out)["sections"][0]
    assert [r["status"] for r in sec["rows"]] == [200, 404]
    assert sec["total_rows"] == 5


def test_no_request_in_the_period(two_weeks: Path) -> None:
    args = ["summary", str(two_weeks), "--since", "2020-01-01", "--until", "2020-01-02"]
    code, out, err = run(args)
    assert code == 8
    assert "2020-01-01" in out and out.count("nothing to show") == 0
    assert out.count("No request in this period") == 1
    # ... and where the logs' requests are, once.
    assert out.count("the logs' requests run from 2024-03-01 08:00:00 to 2024-03-14") == 1
    full = json.loads(run(["summary", str(two_weeks), "--format", "json"])[1])["overview"]
    empty = json.loads(run([*args, "--format", "json"])[1])["overview"]
    assert set(empty) == set(full)
    assert empty["requests"] == 0 and empty["bandwidth"] == 0 and empty["first"] is None
    for fmt in ("markdown", "html", "text"):
        body = run([*args, "--format", fmt])[1]
        assert "No request in this period" in body and "2020-01-01" in body


@pytest.mark.shared
@pytest.mark.parametrize("width", [60, 70, 80])
def test_visitors_with_places_at_narrow_widths(shared_data: Path, width: int) -> None:
    """Issue #13: at 70 columns `visitors` cut "page vi" and "London (" mid-word."""
    sample = Path(__file__).resolve().parent.parent / "sample_logs"
    code, out, err = run(
        [
            "visitors",
            str(sample),
            "--geoip-dir",
            str(shared_data / "geoip" / "test-data"),
            "--top",
            "5",
        ],
        env={"COLUMNS": str(width)},
    )
    assert code == 0, err
    assert max(len(x) for x in out.splitlines()) <= width
    # No table cell is cut; the bad-line example is, to the width (how much of it fits
    # depends on the length of the sample logs' path).
    # The examples (`FILE:LINE: why: text`) come after every table; a long checkout path
    # makes them wrap onto lines of their own, so stop at the first one.
    lines = out.splitlines()
    first_example = next(
        (i for i, x in enumerate(lines) if re.search(r"access\.log[.\d]*:\d+: ", x)), len(lines)
    )
    assert "…" not in "\n".join(x for x in lines[:first_example] if not x.startswith("logaudit: "))
    # The cities column is shown whole, or left out and said so.
    assert "London" in out or "left out for width: top" in " ".join(out.split())
    for cut in ("page vi\n", "London (\n", "visito\n"):
        assert cut not in out


def test_response_times_read_as_milliseconds_and_seconds() -> None:
    """Overview percentiles and slow-endpoint columns are seconds in JSON, ms / s for people."""
    from logaudit.render import view

    assert view.cell("response_time_p95", 0.1234) == "123 ms"
    assert view.cell("p99", 2.5) == "2.50 s"
    assert view.cell("seconds", 0.0004) == "0 ms"
    labels = dict(view._OVERVIEW)
    assert labels["response_time_p50"] == "Response p50"


@pytest.fixture
def ipv6_visitors(tmp_path: Path) -> Path:
    """Visitors from full-length IPv6 addresses (a 39-character word no name column wraps)."""
    lines = [
        line(
            client=f"2001:0db8:85a3:0000:0000:8a2e:{i % 12:04x}:{i % 7 + 1:04x}",
            when=f"{day:02d}/Mar/2024:{8 + i % 12:02d}:{i % 60:02d}:00 +0000",
            request=f"GET /page/{i % 9} HTTP/1.1",
            size=1_000 * (i + day),
            agent=FIREFOX if i % 2 else CHROME,
        )
        for day in range(1, 4)
        for i in range(40)
    ]
    return write(tmp_path / "access.log", lines)


@pytest.mark.parametrize("width", range(60, 141))
def test_ipv6_visitors_keep_every_header_and_figure_at_every_width(
    ipv6_visitors: Path, width: int
) -> None:
    """QA 17 #4: from ~98 to ~115 columns (100: --format text, mail bodies) the top visitors'
    last columns were cut ("r" for requests) and the caption named columns not the cut ones:
    fit() counted the address column 30 wide where the table gives it 39."""
    report = _report(ipv6_visitors, "visitors")
    buf = io.StringIO()
    terminal.render(report, console=Console(file=buf, width=width, color_system=None))  # type: ignore[arg-type]
    out = buf.getvalue()
    flat = " ".join(out.split())
    assert max(len(x) for x in out.splitlines()) <= width
    assert "…" not in out
    for sec in report.sections:  # type: ignore[attr-defined]
        if sec.rows.empty:
            continue
        tv, _ = terminal.fit(view.table_view(sec), sec.narrow_drop, width)
        for c in view.table_view(sec).columns:
            if c.key not in {x.key for x in tv.columns}:
                assert c.label in flat, (sec.name, c.label)
        for i, c in enumerate(tv.columns):
            for word in re.findall(r"\w+", c.label):
                assert re.search(rf"\b{re.escape(word)}\b", out), (sec.name, word)
            if c.numeric:
                for row in tv.cells:
                    assert re.search(rf"(?<![\w.,]){re.escape(row[i])}(?![\w.,])", out), (
                        sec.name,
                        c.label,
                        row[i],
                    )
