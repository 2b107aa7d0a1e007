"""Machine-readable outputs: JSON (the shared report shape) and CSV.

JSON shape, stable across commands (``schema_version`` changes only on a breaking change):
``{"schema_version", "command", "generated", "overview": {...}, "sections": [{"name", "title",
"total_rows", "note", "rows": [{...}, ...]}], "inputs": [...], "bad_lines": {...},
"warnings": [...], "notes": [...], "settings": {...}}``. Text from the log is kept as logged
(JSON escapes C0 control characters itself; C1 controls, bidi and other invisible characters
are written as ``\\uXXXX`` too); consumers that display it must escape it.
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


def render_csv(report: Report, out: TextIO) -> None:
    """One section: its rows. Several: stacked, with a leading ``section`` column."""
    w = csv.writer(out, lineterminator="\n")
    secs = [s for s in report.sections if not s.rows.empty]
    if len(secs) == 1:
        w.writerow([csv_cell(c) for c in secs[0].rows.columns])
        for rec in records(secs[0].rows):
            w.writerow(["" if v is None else csv_cell(v) for v in rec.values()])
        return
    # Several sections: one table, the union of their columns; each cell keeps its own type
    # (no concat, which would turn integer columns with gaps into floats).
    columns = ["section"]
    for s in secs:
        columns.extend(c for c in s.rows.columns if c not in columns)
    w.writerow([csv_cell(c) for c in columns])
    for s in secs:
        for rec in records(s.rows):
            rec["section"] = s.name
            w.writerow(["" if rec.get(c) is None else csv_cell(rec[c]) for c in columns])


def write_section_csv(rows: pd.DataFrame, out: TextIO) -> None:
    """One table as CSV: its own columns, numbers as numbers, text neutralised."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow([csv_cell(c) for c in rows.columns])
    for rec in records(rows):
        w.writerow(["" if v is None else csv_cell(v) for v in rec.values()])


def csv_tables(report: Report) -> dict[str, pd.DataFrame]:
    """``--csv-dir``: file stem -> table, one per section with rows, and ``overview``
    (metric, value). An anonymised report says so in the overview's last row (``anonymised``,
    the mode), since a CSV folder handed on carries no notes."""
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
    return tables
