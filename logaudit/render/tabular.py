"""Machine-readable outputs: JSON (the shared report shape) and CSV.

JSON shape, stable across commands (``schema_version`` changes only on a breaking change):
``{"schema_version", "command", "generated", "overview": {...}, "sections": [{"name", "title",
"total_rows", "note", "rows": [{...}, ...]}], "inputs": [...], "bad_lines": {...},
"warnings": [...], "notes": [...], "settings": {...}}``. Text from the log is kept as logged
(JSON escapes C0 control characters itself; C1 controls, bidi and other invisible characters
are written as ``\\uXXXX`` too); consumers that display it must escape it.

CSV: one table (``render_csv``), the report's notes in it as the section ``notes``
(``notes_table``); every cell through ``escape.csv_cell``.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from typing import Any, TextIO

import numpy as np
import pandas as pd

from logaudit.render.escape import csv_cell, json_text
from logaudit.render.view import bad_lines_cell
from logaudit.report import Report

SCHEMA_VERSION = 1


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if v is pd.NA or v is None:
        return None
    return v


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts of plain values. Each column is iterated as ``itertuples`` iterates
    it (the same values), but taken by ``items``: ``itertuples`` takes each by ``iloc``, ~60 us
    of indexing a column, 5 ms of a summary's JSON (~90 columns) on every run."""
    cols = list(frame.columns)
    if not cols:
        return [{} for _ in range(len(frame))]
    columns = [column for _, column in frame.items()]
    return [
        {c: _plain(v) for c, v in zip(cols, row, strict=True)}
        for row in zip(*columns, strict=True)
    ]


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "command": report.command,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "overview": {k: _plain(v) for k, v in report.overview.items()},
        "sections": [
            {
                "name": s.name,
                "title": s.title,
                "total_rows": s.total_rows,
                "note": s.note,
                "rows": records(s.rows),
                **(
                    {"headline": {k: _plain(v) for k, v in s.headline.items()}}
                    if s.headline
                    else {}
                ),
            }
            for s in report.sections
        ],
        "inputs": report.inputs,
        "bad_lines": report.bad_lines,
        "warnings": report.warnings,
        "notes": report.notes,
        "settings": report.settings,
    }


def render_json(report: Report, out: TextIO) -> None:
    """UTF-8 JSON; unsafe characters as ``\\uXXXX`` (``escape.json_text``)."""
    out.write(json_text(json.dumps(as_dict(report), indent=2, ensure_ascii=False)))
    out.write("\n")


# The notes table (``notes_table``): what the other outputs say beside their tables, one row
# each; ``level`` says what the row is.
NOTE_COLUMNS = ("level", "about", "note")


def notes_table(report: Report) -> pd.DataFrame:
    """The report's notes as a table (``NOTE_COLUMNS``), in the order the text report shows
    them: warnings; each input's counts the inputs table shows beside its lines (``about``:
    the file; ``bad_lines`` as that table says them, ``blank_lines`` for blank and comment
    lines, ``nul_runs``: runs of NUL bytes skipped) and the first examples (``about``:
    file:line; ``bad_line``, or ``nul_run`` for a file's NUL run, which is no bad line:
    docs/metrics.md); each section's note (``about``: the section); the notes. Text only,
    escaped by the CSV writers as every other cell."""
    rows: list[tuple[str, str, str]] = [("warning", "", w) for w in report.warnings]
    nul = set()
    for i in report.inputs:
        file = str(i["file"])
        if i.get("bad_lines"):
            rows.append(("bad_lines", file, bad_lines_cell(i)))
        if i.get("skipped_lines"):
            rows.append(("blank_lines", file, f"{i['skipped_lines']:,}"))
        if i.get("nul_runs"):
            rows.append(("nul_runs", file, f"{i['nul_runs']:,}"))
            nul.add(file)
    examples = report.bad_lines.get("examples", [])
    for n, ex in enumerate(examples):
        # A file's first NUL run is its last example (analyze.inputs.bad_lines_info).
        last = n + 1 == len(examples) or examples[n + 1]["file"] != ex["file"]
        level = "nul_run" if last and str(ex["file"]) in nul else "bad_line"
        rows.append((level, f"{ex['file']}:{ex['line']}", str(ex["reason"])))
    rows.extend(("section", s.name, s.note) for s in report.sections if s.note)
    rows.extend(("note", "", n) for n in report.notes)
    return pd.DataFrame(rows, columns=list(NOTE_COLUMNS), dtype=object)


def one_table(report: Report) -> bool:
    """Whether the CSV is one section's own table: decided by the command and its options
    (a single ``--section``, ``trends``' periods series), never by the data, so a script
    reading it sees the same columns every day. It carries no notes: ``stderr_notes``. By
    the sections asked for (``Report.asked``): ``--section vhosts --section pages`` on a log
    without virtual hosts is still the stacked table (its vhosts left out as empty)."""
    return len(report.asked or report.sections) == 1


def stderr_notes(report: Report) -> list[str]:
    """What a one-table CSV cannot carry and stderr does not say already (its warnings and
    bad lines are said there for every format): the sections' notes and the report's notes,
    one line each."""
    return [f"{s.name}: {s.note}" for s in report.sections if s.note] + list(report.notes)


def render_csv(report: Report, out: TextIO) -> None:
    """One section (``one_table``): its rows. Several: stacked, with a leading ``section``
    column, and the notes table (``notes_table``) always last as section ``notes``, its
    columns there even with no rows: one valid table, whatever reads it."""
    w = csv.writer(out, lineterminator="\n")
    secs = [s for s in report.sections if not s.rows.empty]
    if one_table(report) and secs:
        write_section_csv(secs[0].rows, out)
        return
    # Several sections: one table, the union of their columns; each cell keeps its own type
    # (no concat, which would turn integer columns with gaps into floats).
    tables = [(s.name, s.rows) for s in secs]
    if not one_table(report) or not secs:  # the one section asked left out: its notes
        tables.append(("notes", notes_table(report)))
    columns = ["section"]
    for _, rows in tables:
        columns.extend(c for c in rows.columns if c not in columns)
    w.writerow([csv_cell(c) for c in columns])
    for name, rows in tables:
        for rec in records(rows):
            rec["section"] = name
            w.writerow(["" if rec.get(c) is None else csv_cell(rec[c]) for c in columns])


def write_section_csv(rows: pd.DataFrame, out: TextIO) -> None:
    """One table as CSV: its own columns, numbers as numbers, text neutralised."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow([csv_cell(c) for c in rows.columns])
    for rec in records(rows):
        w.writerow(["" if v is None else csv_cell(v) for v in rec.values()])


def csv_tables(report: Report) -> dict[str, pd.DataFrame]:
    """``--csv-dir``: file stem -> table, one per section with rows, ``overview`` (metric,
    value) and ``notes`` (``notes_table``, header only when empty). An anonymised report says so in
    the overview's last row (``anonymised``, the mode) as well as in its notes."""
    overview = {k: _plain(v) for k, v in report.overview.items()}
    if report.settings.get("anonymize"):
        overview["anonymised"] = str(report.settings["anonymize"])
    tables = {
        "overview": pd.DataFrame(
            {
                "metric": list(overview),
                "value": pd.Series(list(overview.values()), dtype=object),
            }
        )
    }
    for s in report.sections:
        if not s.rows.empty:
            tables[s.name] = s.rows
    tables["notes"] = notes_table(report)  # always: header only when empty
    return tables
