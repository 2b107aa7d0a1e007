"""CSV output carries the report's notes (render.tabular.notes_table): bad lines, warnings,
notes and section notes, as the section ``notes`` of the stacked table, every cell escaped as
the others are. A single section's CSV keeps its own columns whatever the data, its notes on
stderr (render.tabular.one_table)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import isolate, line, write

from logaudit.cli import cli
from logaudit.enrich import geo
from logaudit.render import RENDERERS
from logaudit.render.tabular import csv_tables
from logaudit.report import Report, Section


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    # No GeoIP database, whatever the host has: the missing-GeoIP note is always there.
    monkeypatch.setattr(geo, "SYSTEM_DIRS", ())
    monkeypatch.delenv(geo.ENV_VAR, raising=False)


def _log(tmp_path: Path) -> Path:
    lines = [line(client=f"203.0.113.{i}") for i in range(5)]
    return write(tmp_path / "access.log", [*lines[:2], "%%%% junk \x1b[2J", *lines[2:]])


def _invoke(*args: object) -> tuple[str, list[str]]:
    """stdout and stderr's lines of a run."""
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.stdout, r.stderr.splitlines()


def _run(*args: object) -> str:
    return _invoke(*args)[0]


def _notes(text: str) -> pd.DataFrame:
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return table[table["section"] == "notes"][["level", "about", "note"]]


def test_summary_csv_counts_the_bad_lines_and_says_the_notes(tmp_path: Path) -> None:
    log = _log(tmp_path)
    notes = _notes(_run("summary", log, "--format", "csv"))
    by = notes.groupby("level")
    assert by.get_group("bad_lines").values.tolist() == [["bad_lines", str(log), "1 (16.7%)"]]
    example = by.get_group("bad_line")
    assert example["about"].tolist() == [f"{log}:3"]
    assert "\x1b" not in example["note"].iloc[0] and "\\x1b[2J" in example["note"].iloc[0]
    assert any("GeoIP" in n for n in by.get_group("note")["note"])  # SYSTEM_DIRS: none
    assert "daily" in by.get_group("section")["about"].tolist()


@pytest.mark.parametrize(
    "args",
    [
        ("summary", "--section", "hosts"),
        ("summary", "--section", "countries"),  # the missing-GeoIP note
        ("trends",),  # the series of periods
        ("problems", "--section", "error-timeline"),
    ],
)
def test_a_single_section_keeps_its_columns_and_types_whatever_the_data(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Its shape is the command's: a bad line or a note never stacks it; the notes and bad
    lines go to stderr, one line each."""
    clean = write(tmp_path / "clean.log", [line(client=f"203.0.113.{i}") for i in range(5)])
    out, err = _invoke(args[0], clean, *args[1:], "--format", "csv")
    bad, bad_err = _invoke(args[0], _log(tmp_path), *args[1:], "--format", "csv")
    base, noted = pd.read_csv(io.StringIO(out)), pd.read_csv(io.StringIO(bad))
    assert "section" not in base.columns and "level" not in noted.columns
    assert list(noted.columns) == list(base.columns)
    assert noted.dtypes.to_dict() == base.dtypes.to_dict()
    assert len(noted) == len(base)
    assert any("bad line" in e for e in bad_err) and all(e.startswith("logaudit: ") for e in err)
    if args[-1] == "countries":
        assert any("GeoIP" in e for e in err) and any("GeoIP" in e for e in bad_err)


def test_a_single_sections_note_goes_to_stderr(tmp_path: Path) -> None:
    log = write(tmp_path / "clean.log", [line(client=f"203.0.113.{i}") for i in range(3)])
    out, err = _invoke("summary", log, "--section", "daily", "--format", "csv")
    assert out.startswith("date,") and "daily" not in out
    assert any(e.startswith("logaudit: daily: ") for e in err)


def test_two_sections_asked_stay_stacked_when_one_is_left_out(tmp_path: Path) -> None:
    # An empty vhosts is left out of the report: the CSV took the one-table shape of pages
    # alone (no section column, no notes), by which sections had rows, not which were asked.
    log = write(tmp_path / "clean.log", [line(client=f"203.0.113.{i}") for i in range(3)])
    out = _run("summary", log, "--section", "vhosts", "--section", "pages", "--format", "csv")
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert list(table.columns[:2]) == ["section", "path"]
    assert set(table["section"]) == {"pages", "notes"}


def test_a_single_section_asked_and_left_out_still_writes_the_notes(tmp_path: Path) -> None:
    # --section vhosts on a log without virtual hosts: one section asked, none kept; the CSV
    # was the bare header "section", without the notes table's columns or rows.
    out = _run("summary", _log(tmp_path), "--section", "vhosts", "--format", "csv")
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert list(table.columns) == ["section", "level", "about", "note"]
    assert set(table["section"]) == {"notes"}
    assert {"bad_lines", "bad_line"} <= set(table["level"])


WEEKS = Path(__file__).parents[1] / "sample_logs" / "weeks"  # weeks of a shop's log


@pytest.mark.parametrize(
    ("args", "sections"),
    [
        (("--section", "unusual"), {"digest", "unusual", "notes"}),
        (("--site-host", "shop.example", "--section", "pages"), {"digest", "pages", "notes"}),
    ],
)
def test_a_digest_csv_keeps_the_sections_asked(args: tuple[str, ...], sections: set[str]) -> None:
    # The digest's period run asks for its own sections (no unusual, no movers; vhosts only
    # to name the site): with one or none of those the CSV was the headline's rows alone.
    out = _run("digest", WEEKS, "--since", "2026-01-25", *args, "--format", "csv")
    table = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert set(table["section"]) == sections


def _two_sections() -> list[Section]:
    """Two small sections: a stacked CSV."""
    return [
        Section("hosts", "Hosts", pd.DataFrame({"client": ["a"], "hits": [1]})),
        Section("status", "Status", pd.DataFrame({"status": [200], "hits": [1]})),
    ]


def test_the_stacked_csv_always_has_the_notes_columns() -> None:
    """Several sections: the notes section's columns are there even with nothing to note, so
    the columns never depend on the data; --csv-dir's notes.csv is the header alone."""
    report = Report(
        command="summary",
        overview={"requests": 1},
        sections=_two_sections(),
    )
    out = io.StringIO()
    RENDERERS["csv"](report, out)
    assert out.getvalue().splitlines()[0] == "section,client,hits,status,level,about,note"
    folder = csv_tables(report)
    assert list(folder["notes"].columns) == ["level", "about", "note"]
    assert folder["notes"].empty


def test_a_nul_run_is_no_bad_line_in_the_notes(tmp_path: Path) -> None:
    """A NUL run is labelled as one, not as a bad line (bad_lines.total is 0 here), and the
    per-file counts the text report's inputs table shows (blank/#, NUL runs) are rows too."""
    lines = [line(client=f"203.0.113.{i}").encode() for i in range(4)]
    log = write(tmp_path / "nul.log", [*lines[:2], b"\0" * 64 + lines[2], b"", lines[3]])
    notes = _notes(_run("summary", log, "--section", "hosts", "--section", "status",
                        "--format", "csv"))  # fmt: skip
    assert "bad_line" not in set(notes["level"]) and "bad_lines" not in set(notes["level"])
    nul = notes[notes["level"] == "nul_run"]
    assert nul["about"].tolist() == [f"{log}:3"] and "64 NUL bytes" in nul["note"].iloc[0]
    counts = notes[notes["level"].isin(["nul_runs", "blank_lines"])]
    assert counts.values.tolist() == [["blank_lines", str(log), "1"], ["nul_runs", str(log), "1"]]


def test_problems_csv_says_what_cannot_be_checked(tmp_path: Path) -> None:
    text = _run("problems", _log(tmp_path), "--max-p95", "800ms", "--format", "csv")
    notes = _notes(text)
    assert any(
        n.startswith("'--max-p95") and "cannot be checked" in n  # "-": the formula guard
        for n in notes[notes["level"] == "note"]["note"]
    )


def test_csv_dir_writes_the_notes_table(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    _run("summary", _log(tmp_path), "--csv-dir", folder, "-o", tmp_path / "r.json")
    notes = pd.read_csv(folder / "notes.csv", dtype=str, keep_default_na=False)
    assert list(notes.columns) == ["level", "about", "note"]
    assert "bad_lines" in set(notes["level"])


def test_notes_cells_are_escaped_as_the_other_cells() -> None:
    hostile = '=HYPERLINK("http://evil.example","x")'
    report = Report(
        command="summary",
        overview={"requests": 1},
        sections=_two_sections(),
        inputs=[
            {
                "file": "@evil.log",
                "format": "combined",
                "lines": 2,
                "parsed": 1,
                "bad_lines": 1,
                "bad_share": 0.5,
            }
        ],  # fmt: skip
        bad_lines={"total": 1, "examples": [{"file": "+x", "line": 2, "reason": "-1+cmd\x1b[2J"}]},
        warnings=[hostile],
        notes=["\u202enote\x07"],
    )
    out = io.StringIO()
    RENDERERS["csv"](report, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    cells = [c for r in rows for c in r]
    assert "'" + hostile in cells and "'@evil.log" in cells and "'+x:2" in cells
    assert "'-1+cmd\\x1b[2J" in cells and "\\u202enote\\x07" in cells
    assert all(len(r) == len(rows[0]) for r in rows)
