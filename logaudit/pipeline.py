"""The library call behind every report command: inputs -> partial tables.

sources -> formats/parse -> enrich -> analyze (per-chunk tables, merged as they come).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import pyarrow as pa

from logaudit import plausible, procs
from logaudit.analyze.base import Accumulator, Partial, Table
from logaudit.analyze.spill import SPILL_BYTES
from logaudit.config import Settings
from logaudit.enrich.classify import (
    Enricher,
    prepare_classifier,
    save_agent_cache,
    shared_classifier,
)
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import Detected, after, detect, sample_lines
from logaudit.parse import BadLines, parse_block
from logaudit.result import Run  # re-exported: the run's result type lives below analyze
from logaudit.sources import (
    Block,
    Input,
    InputProblem,
    ReadState,
    is_plain_file,
    line_spans,
    read_blocks,
)

# Per worker process: the run's settings, tables and enricher, set once by the initializer.
_worker: dict[str, object] = {}


def _init_worker(
    settings: Settings, tables: Mapping[str, Table], threads: int, parent: int = 0
) -> None:
    if parent:
        procs.die_with_parent(parent)  # no signal to the parent leaves a worker behind
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
    for line, why in block.stretches:
        bad.add(block.source.name, line, why)
    if not block.lines:
        return {}, bad
    win = plausible.window(settings.earliest, settings.ahead_days)
    chunk = enricher.apply(
        parse_block(block, det, bad, win), has_agent="agent" in det.format.fields
    )
    if not len(chunk):
        # Every row fell outside --since/--until: only where they were is worth keeping.
        span = tables.get("span")
        if span is not None and "span_local" in chunk.attrs:
            return {"span": span.compute(chunk, settings)}, bad
        return {}, bad
    return {name: t.compute(chunk, settings) for name, t in tables.items()}, bad


# One job processes this many blocks at once, in threads. Much of a block's work runs with the
# GIL released (Arrow's CSV reader and compute kernels, numpy, pandas' hash tables), so two
# blocks in flight keep two cores busy: on the 1M-line benchmark, 2.72 s against 3.16 s with
# one, for about 60 MB more (docs/performance.md); a third gained nothing on 2 cores.
THREADS = 2

# Plain files at least this big are split into byte ranges, one per job: each worker reads its
# own range and reduces its blocks to one partial, so nothing but partials crosses processes.
SPAN_MIN_BYTES = 32 * 1024 * 1024


def _span_task(inp: Input, det: Detected) -> tuple[Partial, BadLines, int]:
    """Map and combine one byte range in a worker: its blocks' partials merged into one."""
    settings: Settings = _worker["settings"]  # type: ignore[assignment]
    tables: Mapping[str, Table] = _worker["tables"]  # type: ignore[assignment]
    enricher: Enricher = _worker["enricher"]  # type: ignore[assignment]
    acc = Accumulator(tables, on_compact=_release)
    bad = BadLines()
    state = ReadState()
    for block in read_blocks(inp, state):
        partial, block_bad = _process(block, det, enricher, tables, settings)
        # A W3C #Fields: header holds until the next one (a range starts with the file's first).
        det = after(det, block.data)
        bad = bad.merge(block_bad)
        if partial:
            acc.add(partial)
    return acc.result(), bad, state.lines_read.get(inp.name, 0)


def _detect(
    head: bytes | bytearray | memoryview, inp: Input, settings: Settings, state: ReadState
) -> Detected | None:
    """The input's format from its first bytes, or None with a one-line problem recorded."""
    try:
        det = detect(head, inp.name, settings.log_format, settings.tz, settings.formats)
        return replace(det, client_from=settings.client_from, trusted=settings.trusted_proxies)
    except LogauditError as e:
        # The message starts with the input's name, which InputProblem adds back.
        state.problems.append(InputProblem(inp.name, str(e).split(": ", 1)[-1], e.exit_code))
        return None


def _refused(state: ReadState, inp: Input) -> bool:
    return any(p.name == inp.name for p in state.problems)


def _process_in_worker(
    data: bytes,
    first_line: int,
    lines: int,
    inp: Input,
    det: Detected,
    stretches: list[tuple[int, str]] | None = None,
) -> tuple[Partial, BadLines]:
    block = Block(data, first_line, inp, lines, stretches or [])
    return _process(block, det, _worker["enricher"], _worker["tables"], _worker["settings"])  # type: ignore[arg-type]


def _memory_pool() -> None:
    """Arrow allocates from the C library's malloc, not from its bundled mimalloc, unless
    ARROW_DEFAULT_MEMORY_POOL says otherwise. Blocks' buffers are short-lived and the threads
    allocate them in turn; mimalloc kept what they freed, so peak memory on the 5M-line
    benchmark was 921 MB against 795 MB (1M lines: 560 against 460 MB), at the same speed.
    This is process-wide: a program that calls ``run`` and wants its own Arrow pool sets
    ARROW_DEFAULT_MEMORY_POOL rather than ``pa.set_memory_pool``, which this would replace."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


# A compaction that leaves a table at least this many rows has freed its inputs' copies and
# hash tables: hand the free pages back (see _release).
RELEASE_ROWS = 100_000


def _release(name: str, rows: int) -> None:
    """After a big compaction, return the C heap's free pages to the system. On the system
    pool (_memory_pool) Arrow's release_unused calls glibc's malloc_trim (elsewhere it does
    nothing). Without it, memory the threads had freed stayed mapped: at 5M lines, peak
    686-733 MB against 611-662 MB, and 635 against 381 MB once the blocks were read, for
    about 0.15 s (14 trims)."""
    if rows >= RELEASE_ROWS:
        pa.default_memory_pool().release_unused()


def run(
    inputs: list[Input],
    settings: Settings,
    tables: Mapping[str, Table],
    on_progress: Callable[[int], None] | None = None,
    enricher: Enricher | None = None,
) -> Run:
    """Read every input, parse and enrich its blocks, and merge their partial tables.

    One job (the default): this process reads blocks in order and THREADS threads process them,
    so reading overlaps processing and blocks overlap each other. Several jobs (``--jobs``): a
    plain file over SPAN_MIN_BYTES is split at line starts into one byte range per job, and each
    forked worker reads its range and combines its blocks into one partial; other inputs
    (compressed, stdin) are read here and their blocks shipped to the workers. Partials are
    merged here in input order (the reduce step), so every figure and bad-line example is the
    same whatever the number of jobs or threads.

    One job is the default because it was measured (docs/performance.md): on 2 cores and a
    1M-line log, two workers were no faster than the two threads (2.35-2.49 s against
    2.37-2.71 s) and took a little more memory; more cores make more jobs worth it.
    """
    _memory_pool()
    enricher = enricher or Enricher(settings)
    acc = Accumulator(tables, on_compact=_release, spill_bytes=SPILL_BYTES)
    bad = BadLines()
    state = ReadState()
    formats: dict[str, Detected] = {}
    jobs = settings.jobs or 1
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
        shared_classifier()  # built before forking, so every worker inherits it ready
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(settings, tables, max(1, (os.cpu_count() or 1) // jobs), os.getpid()),
        )
    else:
        pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="logaudit")
    with pool, _abandoned_on_error(pool):
        for inp in inputs:
            if (
                jobs > 1
                and inp.path is not None
                and inp.size >= SPAN_MIN_BYTES
                and is_plain_file(inp)
            ):
                drain(0)
                with open(inp.path, "rb") as f:
                    # NUL runs (copytruncate) are skipped when read: detect without them too.
                    whole = _detect(f.read(1 << 20).replace(b"\0", b""), inp, settings, state)
                if whole is None:
                    continue
                formats[inp.name] = whole
                ranges = [
                    (
                        end - start,
                        pool.submit(_span_task, Input(inp.name, inp.path, (start, end)), whole),
                    )
                    for start, end in line_spans(inp.path, jobs)
                ]
                for size, span in ranges:
                    partial, span_bad, n = span.result()
                    # Ranges merge in file order; their line numbers start where the last ended.
                    done = state.lines_read.get(inp.name, 0)
                    bad = bad.merge(span_bad.shifted(done))
                    state.lines_read[inp.name] = done + n
                    if partial:
                        acc.add(partial)
                    if on_progress is not None:
                        on_progress(size)
                continue
            det: Detected | None = None
            head = b""  # blocks of blank and comment lines only, before the first log line
            for block in read_blocks(inp, state, on_progress=on_progress):
                if det is None:
                    if not sample_lines(block.data, 1):
                        # Nothing to parse (a banner, W3C headers, a last line without its
                        # newline still to come): detect on what follows, headers included.
                        head = (head + bytes(block.data))[-(1 << 20) :]
                        continue
                    first = head + bytes(block.data) if head else block.data
                    det = _detect(first, inp, settings, state)
                    if det is None:
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
                        block.stretches,
                    )
                else:
                    fut = pool.submit(_process, block, det, enricher, tables, settings)
                    if len(pending) + 1 == THREADS:
                        # Every thread is in Arrow's tokenizer now, without the GIL: the
                        # user-agent rules (built holding it) overlap their work.
                        prepare_classifier()
                pending.append(fut)
                det = after(det, block.data)  # a W3C #Fields: header changes the layout
                # At most one block waiting per worker: memory stays a few blocks deep.
                drain(THREADS if jobs == 1 else jobs)
            if det is None and inp.name not in formats and not _refused(state, inp):
                # No log line at all: say so (or, with --log-format, read it as empty).
                det = _detect(head, inp, settings, state)
                if det is not None:
                    formats[inp.name] = det
        drain(0)
        # The last merge, on the threads when there are threads (tables merge independently).
        partial = acc.result(pool if isinstance(pool, ThreadPoolExecutor) else None)
    save_agent_cache()  # the classifications this run added, for the next (agentcache.py)
    return Run(partial, bad, state.problems, inputs, formats, dict(state.lines_read), tuple(tables))


@contextmanager
def _abandoned_on_error(pool: Executor) -> Iterator[None]:
    """On any error or interruption (Ctrl-C, SIGTERM, SIGHUP) drop the queued work and kill
    the worker processes, rather than letting the pool's shutdown wait for every job still
    queued (a --jobs byte range can take seconds)."""
    try:
        yield
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        workers = getattr(pool, "_processes", None) or {}  # ProcessPoolExecutor's own
        for proc in list(workers.values()):
            try:
                proc.kill()
            except (OSError, AttributeError, ValueError):
                pass
        raise


def exit_code(problems: list[InputProblem]) -> ExitCode:
    """The exit code of the first input problem that has one (documented in the README)."""
    codes = [p.exit_code for p in problems if p.exit_code != ExitCode.OK]
    return codes[0] if codes else ExitCode.OK
