"""The library call behind every report command: inputs -> partial tables.

sources -> formats/parse -> enrich -> analyze (per-chunk tables, merged as they come).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from logaudit.analyze.base import Accumulator, Partial, Table
from logaudit.config import Settings
from logaudit.enrich.classify import Enricher
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import Detected, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input, InputProblem, ReadState, read_blocks


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


def workers() -> int:
    """Blocks processed at once (``LOGAUDIT_WORKERS``). One by default: measured on 2 cores,
    a second worker thread made a 1M-line run slower (GIL contention with the CSV reader's own
    threads), though results are identical either way."""
    env = os.environ.get("LOGAUDIT_WORKERS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return 1


def _process(
    block: Block, det: Detected, enricher: Enricher, tables: Mapping[str, Table],
    settings: Settings,
) -> tuple[Partial, BadLines]:
    """One block -> its partial tables and bad-line accounting. Runs in a worker thread:
    Arrow, NumPy and pandas release the GIL for their heavy loops, so blocks overlap."""
    bad = BadLines()
    chunk = enricher.apply(parse_block(block, det, bad))
    if not len(chunk):
        return {}, bad
    return {name: t.compute(chunk, settings) for name, t in tables.items()}, bad


def run(
    inputs: list[Input],
    settings: Settings,
    tables: Mapping[str, Table],
    on_progress: Callable[[int], None] | None = None,
    enricher: Enricher | None = None,
) -> Run:
    """Read every input, parse and enrich its blocks, and merge their partial tables.

    Blocks are read in order by this thread and processed by a small pool; results are merged
    in block order, so bad-line examples and every figure are the same as a one-thread run.
    """
    enricher = enricher or Enricher(settings)
    acc = Accumulator(tables)
    bad = BadLines()
    state = ReadState()
    formats: dict[str, Detected] = {}
    n = workers()
    pending: deque[Future[tuple[Partial, BadLines]]] = deque()

    def drain(limit: int) -> None:
        nonlocal bad
        while len(pending) > limit:
            partial, block_bad = pending.popleft().result()
            bad = bad.merge(block_bad)
            if partial:
                acc.add(partial)

    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="logaudit") as pool:
        for inp in inputs:
            det: Detected | None = None
            for block in read_blocks(inp, state, on_progress=on_progress):
                if det is None:
                    try:
                        det = detect(block.data, inp.name, settings.log_format)
                    except LogauditError as e:
                        state.problems.append(
                            InputProblem(inp.name, str(e).split(": ", 1)[-1], e.exit_code)
                        )
                        break
                    formats[inp.name] = det
                pending.append(pool.submit(_process, block, det, enricher, tables, settings))
                # At most one block waiting per worker: memory stays a few blocks deep.
                drain(n)
        drain(0)
    return Run(
        acc.result(), bad, state.problems, inputs, formats, dict(state.lines_read), tuple(tables)
    )


def exit_code(problems: list[InputProblem]) -> ExitCode:
    """The exit code of the first input problem that has one (documented in the README)."""
    codes = [p.exit_code for p in problems if p.exit_code != ExitCode.OK]
    return codes[0] if codes else ExitCode.OK
