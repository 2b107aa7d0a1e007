"""The library call behind every report command: inputs -> partial tables.

sources -> formats/parse -> enrich -> analyze (per-chunk tables, merged as they come).
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from logaudit import plausible, prefetch, procs
from logaudit.analyze.base import Accumulator, Partial, Table, agent_work, merge
from logaudit.analyze.spill import SPILL_BYTES
from logaudit.config import Settings
from logaudit.enrich.classify import (
    Enricher,
    adopt_agent_rows,
    met_agent_rows,
    prepare_classifier,
    save_agent_cache,
    shared_classifier,
)
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import (
    DETECT_LINES,
    Detected,
    Lead,
    after,
    agent_logged,
    detect,
    detect_for,
    detect_or_problem,
    in_force,
)
from logaudit.parse import BAD_SAMPLES, BadLines, _categorical, parse_block
from logaudit.result import Run  # re-exported: the run's result type lives below analyze
from logaudit.sources import (
    HEAD_BYTES,
    Block,
    Input,
    InputProblem,
    ReadState,
    file_head,
    head_and_lead,
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
    # Forked with the stop signals held back (_fork_workers): this worker's own handlers are
    # set, so they may come now.
    if procs.DEFERRED:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, procs.DEFERRED)
    # Each worker is one of the cores: Arrow's own thread pool would oversubscribe them.
    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    enricher = Enricher(settings).needing(agent_work(tables, settings.bots))
    _worker.update(settings=settings, tables=tables, enricher=enricher)


def _process(
    block: Block,
    det: Detected,
    enricher: Enricher,
    tables: Mapping[str, Table],
    settings: Settings,
) -> tuple[Partial, BadLines]:
    """One block -> its partial tables and bad-line accounting (the map step)."""
    bad = BadLines()
    bad.runs_of(block)
    if not block.lines:
        return {}, bad
    win = plausible.window(settings.earliest, settings.ahead_days)
    return _analyse(parse_block(block, det, bad, win), det, enricher, tables, settings), bad


# Tables that say where the input's lines were before the filters cut them, from the
# Enricher's chunk attribute named here: kept for a chunk whose every row was filtered out.
PRE_FILTER = {"span": "span_local", "pb_start": "first_utc"}


def _analyse(
    chunk: pd.DataFrame,
    det: Detected,
    enricher: Enricher,
    tables: Mapping[str, Table],
    settings: Settings,
) -> Partial:
    """A parsed chunk -> its partial tables: enriched, filtered, then each table computed."""
    chunk = enricher.apply(chunk, has_agent=agent_logged(det))
    if not len(chunk):
        # Every row was filtered out: only where they were is worth keeping.
        return {
            name: tables[name].compute(chunk, settings)
            for name, attr in PRE_FILTER.items()
            if name in tables and attr in chunk.attrs
        }
    return {name: t.compute(chunk, settings) for name, t in tables.items()}


# Many small inputs (a glob of per-node, per-5-minute objects) are parsed together: a block of
# a few lines costs about as much pandas work as one of thousands (about 20 tables computed,
# each a few calls), so 1,000 files of 3 lines took seconds of fixed costs where one file of
# 3,000 lines takes milliseconds. Blocks of inputs read in the same format are joined, up to
# BUNDLE_BYTES or BUNDLE_BLOCKS, parsed as one, and their rows given back their own file and
# line (``_process_bundle``). Only blocks this small are joined: bigger ones gain little.
BUNDLE_BLOCK_BYTES = 256 << 10
# A joined block with more bad lines than examples kept: the inputs that lost their own
# examples are parsed again alone for them, this many per joined block at most (a glob of
# 20,000 cut-short files would otherwise parse every file twice); past it, counts only.
REPARSE_BLOCKS = 64
BUNDLE_BYTES = 8 << 20
BUNDLE_BLOCKS = 4096


def _joinable(block: Block, det: Detected) -> bool:
    """Whether a block may be parsed joined with others of its format: whole small lines,
    no NUL stretches (their runs are counted by the block), and a format whose
    layout does not change inside the data (W3C's #Fields: headers do)."""
    return (
        bool(block.lines)
        and not block.stretches
        and len(block.data) <= BUNDLE_BLOCK_BYTES
        and det.format.family != "w3c"
        and bytes(block.data[-1:]) == b"\n"
    )


def _same_reading(a: Detected, b: Detected) -> bool:
    """Whether two inputs' blocks are parsed alike (how many lines matched aside)."""
    return a is b or replace(a, matched=0, sampled=0) == replace(b, matched=0, sampled=0)


@dataclass
class _Bundle:
    """Consecutive small blocks read in one format, waiting to be parsed as one."""

    det: Detected
    blocks: list[Block] = field(default_factory=list)
    size: int = 0


def _process_bundle(
    blocks: list[Block],
    det: Detected,
    enricher: Enricher,
    tables: Mapping[str, Table],
    settings: Settings,
) -> tuple[Partial, BadLines]:
    """Blocks of several inputs parsed as one block: the same partial and bad-line
    accounting as processing each (``_process``), whose results merge into it."""
    if len(blocks) == 1:
        return _process(blocks[0], det, enricher, tables, settings)
    joined_name = "\0bundle"  # no input's name: its bad lines are given back below
    starts = np.cumsum([0] + [b.lines for b in blocks])
    joined = Block(
        b"".join(bytes(b.data) for b in blocks),
        1,
        Input(joined_name, None),
        int(starts[-1]),
    )
    local = BadLines()
    win = plausible.window(settings.earliest, settings.ahead_days)
    chunk = parse_block(joined, det, local, win)
    examples = local.samples.get(joined_name, [])
    # Each row's block: its line number in the joined data falls in that block's lines.
    lines = chunk["line"].to_numpy(dtype=np.int64)
    member = np.searchsorted(starts, lines - 1, side="right") - 1
    parsed = np.bincount(member, minlength=len(blocks))
    where = np.array([n for n, _ in examples], np.int64)
    owner = np.searchsorted(starts, where - 1, side="right") - 1
    shown = (
        np.bincount(owner, minlength=len(blocks)) if len(examples) else np.zeros(len(blocks), int)
    )
    counts = shown
    if local.total != len(examples):
        # More bad lines than examples kept: each block's count is its lines less the parsed
        # and the blank or comment ones, when that adds up to the parse's count.
        counts = np.diff(starts) - parsed - _skipped(joined.data, starts)
        if counts.sum() != local.total or (counts < shown).any():
            return _one_by_one(blocks, det, enricher, tables, settings)
    # Inputs whose examples the joined parse did not keep: each parsed alone for its own, as
    # without joining (a few ms each), for the first REPARSE_BLOCKS of them.
    own: dict[int, BadLines] = {}
    for k in np.flatnonzero((counts > shown) & (shown < BAD_SAMPLES))[:REPARSE_BLOCKS]:
        alone = BadLines()
        parse_block(blocks[int(k)], det, alone, win)
        if alone.counts.get(blocks[int(k)].source.name, 0) != counts[k]:
            return _one_by_one(blocks, det, enricher, tables, settings)
        own[int(k)] = alone
    firsts = np.array([b.first_line for b in blocks], np.int64)
    names = list(dict.fromkeys(b.source.name for b in blocks))
    code_of = {n: i for i, n in enumerate(names)}
    codes = np.array([code_of[b.source.name] for b in blocks], np.int32)
    chunk["line"] = lines - 1 - starts[member] + firsts[member]
    chunk["file"] = _categorical(codes[member], pa.array(names, pa.string()))
    # Bad lines and parsed counts, block by block in reading order, as _process gives them.
    bad = BadLines()
    for k, b in enumerate(blocks):
        name = b.source.name
        if k in own:
            for n, why in own[k].samples.get(name, []):
                bad.add(name, n, why)
            bad.count(name, int(counts[k]) - len(own[k].samples.get(name, [])))
        else:
            for j in np.flatnonzero(owner == k) if len(examples) else ():
                n, why = examples[int(j)]
                bad.add(name, n - 1 - int(starts[k]) + b.first_line, why)
            bad.count(name, int(counts[k] - shown[k]))
        bad.parsed[name] = bad.parsed.get(name, 0) + int(parsed[k])
    return _analyse(chunk, det, enricher, tables, settings), bad


def _one_by_one(
    blocks: list[Block],
    det: Detected,
    enricher: Enricher,
    tables: Mapping[str, Table],
    settings: Settings,
) -> tuple[Partial, BadLines]:
    """Blocks processed each on its own, their partials merged (exact, and slow)."""
    partial: Partial = {}
    bad = BadLines()
    for b in blocks:
        one, one_bad = _process(b, det, enricher, tables, settings)
        partial = merge(partial, one, tables) if partial else one
        bad.absorb(one_bad)
    return partial, bad


_BLANKS = np.zeros(256, bool)
_BLANKS[[9, 10, 11, 12, 13, 32]] = True


def _skipped(data: bytes | bytearray | memoryview, starts: np.ndarray) -> np.ndarray:
    """Per block of the joined ``data`` (its lines from ``starts[k]`` to ``starts[k + 1]``),
    the lines that are blank or comments ("#" first): what parsing neither reads nor counts
    as bad."""
    octets = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(octets == 10)
    begins = np.concatenate([[0], ends[:-1] + 1])
    text = np.flatnonzero(~_BLANKS[octets])
    if not len(text):
        return np.diff(starts)
    # Each line's first byte that is not blank: blank line when it is past the line's end.
    at = np.searchsorted(text, begins)
    first = np.where(at < len(text), text[np.minimum(at, len(text) - 1)], len(octets))
    empty = first >= ends
    comment = ~empty & (octets[np.minimum(first, len(octets) - 1)] == 35)
    skipped = np.concatenate([[0], np.cumsum(empty | comment)])
    return np.diff(skipped[starts])


# One job processes this many blocks at once, in threads. Much of a block's work runs with the
# GIL released (Arrow's CSV reader and compute kernels, numpy, pandas' hash tables), so two
# blocks in flight keep two cores busy: on the 1M-line benchmark, 2.72 s against 3.16 s with
# one, for about 60 MB more (docs/performance.md); a third gained nothing on 2 cores.
THREADS = 2

# Plain files at least this big are split into byte ranges, one per job: each worker reads its
# own range and reduces its blocks to one partial, so nothing but partials crosses processes.
SPAN_MIN_BYTES = 32 * 1024 * 1024


def _span_task(inp: Input, det: Detected) -> tuple[Partial, BadLines, int, object]:
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
    return acc.result(), bad, state.lines_read.get(inp.name, 0), _met_rows()


def _met_rows() -> object:
    """A worker's classifications since its last result, for the main process's agent cache
    (``classify.met_agent_rows``: one small Arrow table, or None)."""
    enricher: Enricher = _worker["enricher"]  # type: ignore[assignment]
    return met_agent_rows() if enricher.agents != "none" else None


def _detect(
    head: bytes | bytearray | memoryview,
    inp: Input,
    settings: Settings,
    state: ReadState,
    last: Detected | None = None,
) -> Detected | None:
    """The input's format from its first bytes, or None with a one-line problem recorded.

    ``last``: the format the previous input was read in. When every sampled line of this one
    fits it, with the same trailing fields, it is kept without trying the other formats: a
    glob of 20,000 load-balancer objects is one format, and trying every format on each file
    was 2 ms a file. A file that does not fit it wholly is detected as usual."""
    if last is not None and not settings.log_format and last.format.family != "w3c":
        try:
            again = detect(head, inp.name, last.format, settings.tz, settings.formats)
        except LogauditError:
            again = None
        if (
            again is not None
            and again.sampled
            and again.matched == again.sampled
            and again.extras == last.extras
            and not last.others
        ):
            return replace(again, client_from=last.client_from, trusted=last.trusted)
    return detect_or_problem(head, inp, settings, state)


def format_at(det: Detected, inp: Input, start: int) -> Detected:
    """``det`` (detected from the file's head) as in force at byte ``start`` of ``inp``: for a
    W3C log, under the last ``#Fields:`` header before ``start``, however far back (a byte
    range read by a worker: --jobs, Dask); other logs have one layout."""
    if det.format.family != "w3c" or start == 0 or inp.path is None:
        return det
    try:
        with open(inp.path, "rb") as f:
            head, lead, _ = head_and_lead(f, start)
    except OSError:
        return det  # the worker's read says what is wrong with it
    return in_force(det, head, lead, start)


# The lines before a store's offset that are detected together with the new lines: enough
# that a few new lines (one cut short, three CLF lines in a combined log) are read in the
# log's format as one pass reads them, few enough that new lines in another format (a
# server's changed log format, 150 of the 200 lines sampled) are read in theirs.
KNOWN_LINES = DETECT_LINES // 4


def _detect_known(before: bytes, new: bytes, inp: Input, settings: Settings) -> Detected | None:
    """For a store's input read on (past its offset, or a rotated file's tail): the format of
    the last ``KNOWN_LINES`` lines ``before`` the offset (read by an earlier run) and its
    ``new`` lines, detected together, as one pass detects a file's lines together. New bytes
    that are only a blank line, junk or a binary line are read in the known format, as bad
    lines (QA17 #3), not refused on their own; new lines in another format are read in theirs
    (QA17 review #3); a few new lines that alone look like another format (a cut-short
    agent: ``common`` + extras) in the log's (its review #1); new lines no format reads,
    together or alone, in the format of the lines before (QA18 #8: bad lines of the log's
    format, exit 0, as one pass reads the file from its head, not exit 4). None, unsaid,
    when none of these gives a format."""
    # NUL runs (copytruncate) are skipped when read: detect without them too.
    known = before.replace(b"\0", b"").splitlines(keepends=True)
    if known and not known[-1].endswith(b"\n"):
        known.pop()  # a head cut inside a line
    try:
        both = b"".join(known[-KNOWN_LINES:]) + new.replace(b"\0", b"")
        return detect_for(both, inp.name, settings)
    except LogauditError:
        pass
    if not known:
        return None
    try:
        detect_for(new.replace(b"\0", b""), inp.name, settings)
        return None  # the new lines alone are a log: detected as usual (``_detect_from_head``)
    except LogauditError:
        pass
    try:
        return detect_for(b"".join(known), inp.name, settings)
    except LogauditError:
        return None


def _detect_from_head(inp: Input, settings: Settings, state: ReadState) -> Detected | None:
    """The format of a file read from an offset (``inp.span``, a store's grown file), from
    its head, as its first read from the start detected it: a file that starts with W3C
    headers (``#`` lines) under the ``#Fields:`` header in force at the offset (as --follow
    detects, ``follow.Tail.detect_now``); another log from its new lines, or when they give
    none from its lines before the offset (``_detect_known``: new bytes that are only a blank
    line, junk or a binary line are read as one pass reads them, bad lines, not refused on
    their own: QA17 #3). None when the lines at the offset are to be detected as usual."""
    assert inp.path is not None and inp.span is not None
    start = inp.span[0]
    try:
        with open(inp.path, "rb") as f:
            if f.read(1) != b"#":
                f.seek(0)
                before = file_head(f)[:start]
                f.seek(start)
                return _detect_known(before, f.read(HEAD_BYTES), inp, settings)
            f.seek(0)
            head, lead, _ = head_and_lead(f, start)
    except OSError:
        return None  # gone since it was planned: the reader says so in one line
    det = _detect(head, inp, settings, state)
    return None if det is None else in_force(det, head, lead, start)


def _first_bytes(inp: Input) -> bytes:
    """The first MiB of ``inp``'s file (b"": unreadable; the reader says why)."""
    try:
        with open(inp.path, "rb") as f:  # type: ignore[arg-type]
            return f.read(HEAD_BYTES)
    except OSError:
        return b""


def _refused(state: ReadState, inp: Input, since: int = 0) -> bool:
    """Whether a problem was recorded for ``inp`` (among the problems from ``since`` on:
    looking through every earlier input's problems made a run quadratic in its inputs)."""
    return any(p.name == inp.name for p in state.problems[since:])


def _process_in_worker(
    data: bytes,
    first_line: int,
    lines: int,
    inp: Input,
    det: Detected,
    stretches: list[tuple[int, str]] | None = None,
) -> tuple[Partial, BadLines, object]:
    block = Block(data, first_line, inp, lines, stretches or [])
    w = _worker
    partial, bad = _process(block, det, w["enricher"], w["tables"], w["settings"])  # type: ignore[arg-type]
    return partial, bad, _met_rows()


def _bundle_in_worker(
    members: list[tuple[bytes, int, int, Input]], det: Detected
) -> tuple[Partial, BadLines, object]:
    blocks = [Block(data, first, inp, lines) for data, first, lines, inp in members]
    w = _worker
    partial, bad = _process_bundle(blocks, det, w["enricher"], w["tables"], w["settings"])  # type: ignore[arg-type]
    return partial, bad, _met_rows()


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
    # Agents are classified only as far as the tables and --bots need (analyze.base.AGENT_WORK).
    work = agent_work(tables, settings.bots)
    enricher = (enricher or Enricher(settings)).needing(work)
    acc = Accumulator(tables, on_compact=_release, spill_bytes=SPILL_BYTES)
    bad = BadLines()
    state = ReadState()
    formats: dict[str, Detected] = {}
    last: Detected | None = None  # the last input's format, tried first on the next one
    jobs = settings.jobs or 1
    # (partial, bad lines), and from a --jobs worker the agents it classified (_met_rows).
    pending: deque[Future[tuple[Any, ...]]] = deque()

    def drain(limit: int) -> None:
        while len(pending) > limit:
            done = pending.popleft().result()
            partial, block_bad = done[0], done[1]
            if len(done) > 2:
                adopt_agent_rows(done[2])
            bad.absorb(block_bad)
            if partial:
                acc.add(partial)

    bundle: _Bundle | None = None

    def submit(blocks: list[Block], det: Detected) -> None:
        fut: Future[tuple[Any, ...]]
        if jobs > 1 and len(blocks) > 1:
            members = [(bytes(b.data), b.first_line, b.lines, b.source) for b in blocks]
            fut = pool.submit(_bundle_in_worker, members, det)
        elif jobs > 1:
            b = blocks[0]
            data, first, lines = bytes(b.data), b.first_line, b.lines
            fut = pool.submit(_process_in_worker, data, first, lines, b.source, det, b.stretches)
        else:
            fut = pool.submit(_process_bundle, blocks, det, enricher, tables, settings)
            if len(pending) + 1 == THREADS and work != "none":
                # Every thread is in Arrow's tokenizer now, without the GIL: the
                # user-agent rules (built holding it) overlap their work.
                prepare_classifier()
        pending.append(fut)
        # At most one block waiting per worker: memory stays a few blocks deep.
        drain(THREADS if jobs == 1 else jobs)

    def flush() -> None:
        nonlocal bundle
        if bundle is not None:
            submit(bundle.blocks, bundle.det)
            bundle = None

    def add(block: Block, det: Detected) -> None:
        nonlocal bundle
        if not _joinable(block, det):
            flush()
            submit([block], det)
            return
        if bundle is not None and (
            not _same_reading(bundle.det, det)
            or bundle.size + len(block.data) > BUNDLE_BYTES
            or len(bundle.blocks) >= BUNDLE_BLOCKS
        ):
            flush()
        if bundle is None:
            bundle = _Bundle(det)
        # A copy: the block is a view of a buffer sized for a whole block read.
        bundle.blocks.append(Block(bytes(block.data), block.first_line, block.source, block.lines))
        bundle.size += len(block.data)

    pool: Executor
    if jobs > 1:
        if work != "none":
            shared_classifier()  # built before forking, so every worker inherits it ready
        # Here, not at the top: only --jobs forks workers, and multiprocessing with the
        # process pool's modules is ~3 ms of every data command's start (issue #18).
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(settings, tables, max(1, (os.cpu_count() or 1) // jobs), os.getpid()),
        )
    else:
        pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="logaudit")
    with pool, _abandoned_on_error(pool):
        if jobs > 1:
            _fork_workers(pool)
        for inp in inputs:
            if (
                jobs > 1
                and inp.path is not None
                and inp.size >= SPAN_MIN_BYTES
                and is_plain_file(inp)
            ):
                flush()
                drain(0)
                with open(inp.path, "rb") as f:
                    head = file_head(f)
                # NUL runs (copytruncate) are skipped when read: detect without them too.
                whole = _detect(head.replace(b"\0", b""), inp, settings, state)
                if whole is None:
                    continue
                formats[inp.name] = whole
                ranges = [
                    (
                        end - start,
                        pool.submit(
                            _span_task,
                            replace(inp, span=(start, end)),
                            format_at(whole, inp, start),
                        ),
                    )
                    for start, end in line_spans(inp.path, jobs)
                ]
                for size, span in ranges:
                    partial, span_bad, n, met = span.result()
                    adopt_agent_rows(met)
                    # Ranges merge in file order; their line numbers start where the last ended.
                    done = state.lines_read.get(inp.name, 0)
                    bad.absorb(span_bad.shifted(done))
                    state.lines_read[inp.name] = done + n
                    if partial:
                        acc.add(partial)
                    if on_progress is not None:
                        on_progress(size)
                continue
            det: Detected | None = None
            # Blocks of blank and comment lines only, before the first log line (and a
            # store's tail of a W3C log: the headers in force where it starts).
            lead = Lead(inp.header)
            since = len(state.problems)
            if inp.span is not None and inp.span[0] > 0 and inp.path is not None:
                # Read on from an offset (a store's grown file): its format is the head's
                # (a W3C log's lines there carry no header: under the header in force).
                det = _detect_from_head(inp, settings, state)
            elif inp.header and not inp.header.startswith(b"#"):
                # A store's tail of a rotated log, read before up to its offset: the same.
                det = _detect_known(inp.header, _first_bytes(inp), inp, settings)
            if det is not None:
                formats[inp.name] = last = det
            share = THREADS if jobs == 1 else 1
            for block in read_blocks(inp, state, on_progress=on_progress, share=share):
                if det is None:
                    first = lead.first(block.data)
                    if first is None:  # nothing to parse: detect on what follows
                        continue
                    det = _detect(first, inp, settings, state, last)
                    if det is None:
                        break
                    det = after(det, inp.header)  # the last #Fields: of them is in force
                    formats[inp.name] = last = det
                add(block, det)
                det = after(det, block.data)  # a W3C #Fields: header changes the layout
            if det is None and inp.name not in formats and not _refused(state, inp, since):
                # No log line at all: say so (or, with --log-format, read it as empty).
                det = _detect(lead.data, inp, settings, state)
                if det is not None:
                    formats[inp.name] = det
        flush()
        drain(0)
        prefetch.forget()  # blocks read ahead at start-up and not taken (prefetch.py)
        # A small last merge (one thread, under POOL_MIN_ROWS rows) hands no free pages back,
        # neither after each table of RELEASE_ROWS rows nor once after it: at 150,000 lines
        # the path_visitors table's trim (103,000 16-byte keys, ~3 MB freed) took 8-12 ms of
        # wall on the critical path, and the trim after the merge 1-3 ms, for pages that the
        # finish then faulted in again. Such a run holds a few MB more through its finish.
        small = acc.small_last_merge()
        if small:
            acc.on_compact = None
        # The last merge, on the threads when there are threads (tables merge independently).
        partial = acc.result(pool if isinstance(pool, ThreadPoolExecutor) else None)
    if not small:
        # Each table's last merge handed back free pages while the other thread's was still
        # running: now that both are done, what they freed goes back too (1M distinct lines:
        # 160 MB that the finish would otherwise have on top).
        _release("", max((len(f) for f in partial.values()), default=0))
    save_agent_cache()  # the classifications this run added, for the next (agentcache.py)
    return Run(partial, bad, state.problems, inputs, formats, dict(state.lines_read), tuple(tables))


def _fork_workers(pool: Executor) -> None:
    """Fork the --jobs workers now, with SIGINT, SIGTERM and SIGHUP held back (as the agents
    helper and the finish's child are forked, ``procs.DEFERRED``). A fork-context process pool
    forks every worker at its first submit; a stop signal handled in the parent's at-fork hooks
    was "ignored" with a traceback, the workers died of it, and the run ended in
    BrokenProcessPool, exit 1, instead of 128 + the signal. Held back, it is raised here,
    after the fork; each worker lets it in once its own handlers are set (_init_worker)."""
    with procs.held_back():
        pool.submit(int)


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
