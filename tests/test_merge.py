"""Partials merge: the property the architecture rests on (cores now, Dask later).

Two halves of a log, each reduced to its own partial, merged with ``analyze.base.merge`` in
either order, give exactly the report of the whole log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logaudit.analyze import (
    SUMMARY_SECTIONS,
    TABLES,
    TRENDS_SECTIONS,
    VISITS_SECTIONS,
    build_report,
    tables_for,
)
from logaudit.analyze.base import merge
from logaudit.api import finish_context
from logaudit.config import load
from logaudit.pipeline import Run, run
from logaudit.render.tabular import as_dict
from logaudit.sources import Input

SETTINGS = {"extra": {"every": "auto", "metrics": ()}}


def _report(r: Run, sections: tuple[str, ...]) -> dict:
    settings = load(SETTINGS)
    ctx = finish_context(settings, sections)
    d = as_dict(build_report(r, settings, sections, "report", ctx))
    d.pop("generated")
    d.pop("inputs")
    d.pop("bad_lines")
    d["overview"].pop("bad_lines")
    return json.loads(json.dumps(d, sort_keys=True))


@pytest.mark.parametrize("sections", [SUMMARY_SECTIONS, VISITS_SECTIONS, TRENDS_SECTIONS])
def test_merged_halves_equal_the_whole(
    sample_logs: Path, tmp_path: Path, sections: tuple[str, ...]
) -> None:
    data = (sample_logs / "access.log").read_bytes()
    lines = data.splitlines(keepends=True)
    half = len(lines) // 2
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"".join(lines[:half]))
    b.write_bytes(b"".join(lines[half:]))
    settings = load(SETTINGS)
    tables = tables_for(sections)

    def partial(p: Path) -> Run:
        return run([Input(str(p), p)], settings, tables)

    whole = partial(sample_logs / "access.log")
    ra, rb = partial(a), partial(b)
    for first, second in ((ra, rb), (rb, ra)):
        merged = Run(
            merge(first.partial, second.partial, TABLES),
            whole.bad,
            [],
            whole.inputs,
            whole.formats,
            whole.lines,
            whole.tables,
        )
        assert _report(merged, sections) == _report(whole, sections)
