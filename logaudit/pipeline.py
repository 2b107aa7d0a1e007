"""The library call behind every report command: inputs -> partial tables.

sources -> formats/parse -> enrich -> analyze (per-chunk tables, merged as they come).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from logaudit.analyze.base import Accumulator, Partial, Table
from logaudit.config import Settings
from logaudit.enrich.classify import Enricher
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import Detected, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Input, InputProblem, ReadState, read_blocks


@dataclass
class Run:
    partial: Partial
    bad: BadLines
    problems: list[InputProblem]
    inputs: list[Input]
    formats: dict[str, Detected] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    tables: tuple[str, ...] = ()


def total_size(inputs: list[Input]) -> int:
    return sum(i.size for i in inputs)


def run(
    inputs: list[Input],
    settings: Settings,
    tables: Mapping[str, Table],
    on_progress: Callable[[int], None] | None = None,
    enricher: Enricher | None = None,
) -> Run:
    enricher = enricher or Enricher(settings)
    acc = Accumulator(tables)
    bad = BadLines()
    state = ReadState()
    formats: dict[str, Detected] = {}
    for inp in inputs:
        det: Detected | None = None
        for block in read_blocks(inp, state, on_progress=on_progress):
            if det is None:
                try:
                    det = detect(block.data, inp.name, settings.log_format)
                except LogauditError as e:
                    state.problems.append(InputProblem(inp.name, str(e).split(": ", 1)[-1], e.exit_code))
                    break
                formats[inp.name] = det
            chunk = enricher.apply(parse_block(block, det, bad))
            if len(chunk):
                acc.add({name: t.compute(chunk, settings) for name, t in tables.items()})
    return Run(
        acc.result(), bad, state.problems, inputs, formats, dict(state.lines_read), tuple(tables)
    )


def exit_code(problems: list[InputProblem]) -> ExitCode:
    """The exit code of the first input problem that has one (documented in the README)."""
    codes = [p.exit_code for p in problems if p.exit_code != ExitCode.OK]
    return codes[0] if codes else ExitCode.OK
