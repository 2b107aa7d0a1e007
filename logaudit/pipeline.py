"""The library call behind every report command: inputs -> partial tables.

sources -> formats/parse -> enrich -> analyze (per-chunk tables, merged as they come).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa

from logaudit.analyze.base import Accumulator, Partial, Table
from logaudit.config import Settings
from logaudit.enrich.classify import Enricher
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import Detected, detect
from logaudit.parse import BadLines, parse_block
from logaudit.sources import (
    Block,
    Input,
    InputProblem,
    ReadState,
    is_plain_file,
    line_spans,
    read_blocks,
)


@dataclass
class Run:
    partial: Partial
    bad: BadLines
    problems: list[InputProblem]
    inputs: list[Input]
    formats: dict[str, Detected] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    tables: tuple[str, ...] = ()


def jobs_for(inputs: list[Input], settings: Settings) -> int:
    """Processes to use: ``--jobs``/``jobs`` in the config, or ``LOGAUDIT_JOBS``; 1 by default.

    One by default because it was measured (docs/performance.md): on 2 cores and a 1M-line log,
    two worker processes were about 15 % faster (start-up and the finish are serial) but took
    about 170 MB more, past the memory target; more cores make more jobs worth it."""
    if settings.jobs:
        return settings.jobs
    env = os.environ.get("LOGAUDIT_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return 1


# Per worker process: the run's settings, tables and enricher, set once by the initializer.
_worker: dict[str, object] = {}


def _init_worker(settings: Settings, tables: Mapping[str, Table], threads: int) -> None:
    # Each worker is one of the cores: Arrow's own thread pool would oversubscribe them.
    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    _worker.update(settings=settings, tables=tables, enricher=Enricher(settings))


def _process(
    block: Block,
    det: Detected,
    enricher: Enricher,
    tables: Mapping[str, Table],
    settings: Settings,
) -> tuple[Partial, BadLines]:
    """One block -> its partial tables and bad-line accounting (the map step)."""
    bad = BadLines()
    chunk = enricher.apply(parse_block(block, det, bad), has_agent="agent" in det.format.fields)
    if not len(chunk):
        return {}, bad
    return {name: t.compute(chunk, settings) for name, t in tables.items()}, bad


# Plain files at least this big are split into byte ranges, one per job: each worker reads its
# own range and reduces its blocks to one partial, so nothing but partials crosses processes.
SPAN_MIN_BYTES = 32 * 1024 * 1024


def _span_task(inp: Input, det: Detected) -> tuple[Partial, BadLines, int]:
    """Map and combine one byte range in a worker: its blocks' partials merged into one."""
    settings: Settings = _worker["settings"]  # type: ignore[assignment]
    tables: Mapping[str, Table] = _worker["tables"]  # type: ignore[assignment]
    enricher: Enricher = _worker["enricher"]  # type: ignore[assignment]
    acc = Accumulator(tables)
    bad = BadLines()
    state = ReadState()
    for block in read_blocks(inp, state):
        partial, block_bad = _process(block, det, enricher, tables, settings)
        bad = bad.merge(block_bad)
        if partial:
            acc.add(partial)
    return acc.result(), bad, state.lines_read.get(inp.name, 0)


def _detect_file(inp: Input, settings: Settings) -> Detected:
    with open(inp.path, "rb") as f:  # type: ignore[arg-type]
        head = f.read(1 << 20)
    return detect(head, inp.name, settings.log_format)


def _process_in_worker(
    data: bytes, first_line: int, lines: int, inp: Input, det: Detected
) -> tuple[Partial, BadLines]:
    block = Block(data, first_line, inp, lines)
    return _process(block, det, _worker["enricher"], _worker["tables"], _worker["settings"])  # type: ignore[arg-type]


def run(
    inputs: list[Input],
    settings: Settings,
    tables: Mapping[str, Table],
    on_progress: Callable[[int], None] | None = None,
    enricher: Enricher | None = None,
) -> Run:
    """Read every input, parse and enrich its blocks, and merge their partial tables.

    This process reads (and decompresses) blocks in order; with several jobs, forked worker
    processes parse, enrich and tabulate them (the map step), and partials are merged here in
    block order (the reduce step), so every figure and bad-line example is the same whatever
    the number of jobs. A thread overlaps reading with processing in the one-job case.
    """
    enricher = enricher or Enricher(settings)
    acc = Accumulator(tables)
    bad = BadLines()
    state = ReadState()
    formats: dict[str, Detected] = {}
    jobs = jobs_for(inputs, settings)
    pending: deque[Future[tuple[Partial, BadLines]]] = deque()

    def drain(limit: int) -> None:
        nonlocal bad
        while len(pending) > limit:
            partial, block_bad = pending.popleft().result()
            bad = bad.merge(block_bad)
            if partial:
                acc.add(partial)

    pool: Executor
    if jobs > 1:
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(settings, tables, max(1, (os.cpu_count() or 1) // jobs)),
        )
    else:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logaudit")
    spans: deque[tuple[str, int, Future[tuple[Partial, BadLines, int]]]] = deque()
    lines: dict[str, int] = {}

    def drain_spans() -> None:
        nonlocal bad
        while spans:
            name, size, fut = spans.popleft()
            partial, span_bad, n = fut.result()
            # Ranges are merged in file order; their line numbers start where the last ended.
            bad = bad.merge(span_bad.shifted(lines.get(name, 0)))
            lines[name] = lines.get(name, 0) + n
            if partial:
                acc.add(partial)
            if on_progress is not None:
                on_progress(size)

    with pool:
        for inp in inputs:
            if jobs > 1 and inp.size >= SPAN_MIN_BYTES and is_plain_file(inp):
                drain(0)
                try:
                    whole = _detect_file(inp, settings)
                except LogauditError as e:
                    state.problems.append(
                        InputProblem(inp.name, str(e).split(": ", 1)[-1], e.exit_code)
                    )
                    continue
                formats[inp.name] = whole
                assert inp.path is not None
                for start, end in line_spans(inp.path, jobs):
                    part = Input(inp.name, inp.path, (start, end))
                    spans.append((inp.name, end - start, pool.submit(_span_task, part, whole)))
                drain_spans()
                continue
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
                if jobs > 1:
                    fut = pool.submit(
                        _process_in_worker,
                        bytes(block.data),
                        block.first_line,
                        block.lines,
                        inp,
                        det,
                    )
                else:
                    fut = pool.submit(_process, block, det, enricher, tables, settings)
                pending.append(fut)
                # At most one block waiting per worker: memory stays a few blocks deep.
                drain(jobs)
        drain(0)
    lines.update(state.lines_read)
    return Run(acc.result(), bad, state.problems, inputs, formats, lines, tuple(tables))


def exit_code(problems: list[InputProblem]) -> ExitCode:
    """The exit code of the first input problem that has one (documented in the README)."""
    codes = [p.exit_code for p in problems if p.exit_code != ExitCode.OK]
    return codes[0] if codes else ExitCode.OK
