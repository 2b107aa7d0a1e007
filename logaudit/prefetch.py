"""A head start: the first blocks of a log are tokenised while the CLI is still importing.

A report command spends its first ~0.3 s importing pandas and the section modules, holding
the GIL, while the host's other core has nothing to do: the pipeline cannot read a block
before ``engine.local.run`` starts. ``start`` (called by the CLI once numpy and pyarrow are
imported, ``heap.data_stack``) reads the first blocks of a single plain-file log on a thread
of its own, detects its format and runs Arrow's CSV reader over them (``blockcsv``; no
pandas, and Arrow's reader releases the GIL). The pipeline takes the reading over
(``blocks``: the blocks read ahead, then the rest of the same reading, never read twice);
when it tokenises a block, ``parse`` asks ``take`` first.

Figures cannot change: a prefetched table is handed over only for the very same bytes read
with the very same columns, delimiter and columns kept (compared in full), and Arrow's reader
is deterministic; the blocks are ``read_blocks``'s own. Anything else (a format given in the
config file, ``--jobs``, a W3C or JSON log, an error of any kind) only means the pipeline
tokenises the block itself, as it always did. **Off unless ``LOGAUDIT_PREFETCH=1``.**
Measured on the 2-core benchmark host in turns (docs/performance.md, "Eighth round" and
"Eighteenth round"), it did not win: the thread takes the GIL back some 40 times a 150,000-
line log (each numpy slice of a block's scan, each piece Arrow reads, the normalising), each
time after the imports' thread has held it for the switch interval, and the imports then
wait for it; they took ~100 ms longer, about what the blocks' reading saved after them. It
is kept, opt-in, for hosts with a core to spare during start-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logaudit import alone

# Blocks read ahead at most: the import window (~0.3 s) holds about this many on one core,
# and each kept block holds its bytes and its table until the pipeline takes it.
MAX_BLOCKS = 3
# Smaller logs gain too little to be worth a thread.
MIN_BYTES = 4 << 20
# The number of pipeline threads (engine.local.THREADS, which imports pandas): blocks are cut
# to share them out evenly, and read here the same way (tests/test_prefetch.py checks it).
SHARE = 2


@dataclass
class _Read:
    data: bytes | bytearray | memoryview
    key: tuple[object, ...]  # how it was read (see take)
    result: Any


class _Progress:
    """The reading's progress callback: bytes counted until the pipeline takes the reading
    over (``blocks``), then passed on to the pipeline's own callback, if any."""

    def __init__(self) -> None:
        self.done = 0
        self.to: Callable[[int], None] | None = None

    def __call__(self, n: int) -> None:
        if self.to is None:
            self.done += n
        else:
            self.to(n)


@dataclass
class _Source:
    """The input read ahead: its ``read_blocks`` (which the thread advances until the
    pipeline takes it over), what it records, and the blocks read ahead, each with the
    number of problems reading had recorded once it was read."""

    input: Any  # sources.Input
    blocks: Iterator[Any]  # of sources.Block
    state: Any  # sources.ReadState
    progress: _Progress
    read: list[Any] = field(default_factory=list)


_cond = threading.Condition()
_ready: list[_Read] = []
_busy: bytes | bytearray | memoryview | None = None  # the block being tokenised now
_stop = False
_thread: threading.Thread | None = None
_source: _Source | None = None
_reading = False  # the thread is in ``read_blocks`` now


def start(
    logs: tuple[str, ...] | list[str],
    overrides: Mapping[str, Any],
    config_file: str | Path | None = None,
    site: str | None = None,
) -> None:
    """Start reading ahead for a report on ``logs``, if the run is one that can use it: one
    plain file, read by this process (one job, the local engine, no history store).
    ``overrides``, ``config_file`` and ``site`` are what the CLI gives ``config.load``."""
    global _thread, _stop
    if _thread is not None and not _thread.is_alive():
        forget()  # a run that ended before reading (a usage error): what it left goes
    if _thread is not None or os.environ.get("LOGAUDIT_PREFETCH") != "1" or len(logs) != 1:
        return
    if not alone.by_options(overrides):
        return  # not read by this process alone (--jobs forks: no thread to inherit)
    try:
        if not os.path.isfile(logs[0]) or os.stat(logs[0]).st_size < MIN_BYTES:
            return
    except (OSError, ValueError):
        return
    _stop = False
    _thread = threading.Thread(
        target=_run, args=(logs[0], dict(overrides), config_file, site), daemon=True
    )
    _thread.name = "logaudit-prefetch"
    _thread.start()


def _run(
    log: str, overrides: dict[str, Any], config_file: str | Path | None, site: str | None
) -> None:
    global _busy
    try:
        _read(log, overrides, config_file, site)
    except Exception:  # noqa: BLE001, S110 - only a head start: the pipeline reads every block
        pass
    finally:
        with _cond:
            _busy = None
            _cond.notify_all()


def _read(
    log: str, overrides: dict[str, Any], config_file: str | Path | None, site: str | None
) -> None:
    global _busy, _source
    import pyarrow as pa  # here, not at import: the CLI imports this module on every summary

    from logaudit import blockcsv
    from logaudit.config import load
    from logaudit.formats import detect_for, jsonlog, sample_lines
    from logaudit.sources import ReadState, expand, is_plain_file, read_blocks

    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        # The pool engine.local.run sets: tables made here from Arrow's default (mimalloc)
        # kept their pages once freed, 50-60 MB more at the end of a 1M-line run.
        pa.set_memory_pool(pa.system_memory_pool())
    # The settings the run will have, as far as reading goes (config.py is pandas-free).
    settings = load(overrides, config_file=config_file, site=site)
    if not alone.by_settings(settings):
        return
    inputs = expand([log])
    if len(inputs) != 1 or not is_plain_file(inputs[0]) or settings.log_format == "auto+":
        return
    src = _Source(inputs[0], iter(()), ReadState(), _Progress())
    src.blocks = read_blocks(src.input, src.state, on_progress=src.progress, share=SHARE)
    with _cond:
        if _stop:
            return
        _source = src
    for n in range(MAX_BLOCKS):
        block = _next_block(src)
        if block is None:
            return
        if n == 0:
            if not sample_lines(block.data, 1):
                return
            det = detect_for(block.data, src.input.name, settings)  # as the pipeline detects
            layout = det.format
            if layout.family == "json" and not det.others:
                keyed = jsonlog.keyed(layout)  # an nginx JSON template, read by its keys
                if keyed is None:
                    return
                layout = keyed
            if det.others or layout.family == "w3c":
                return
            if layout.family != "jsonkeys":
                if layout.delimiter is None:
                    return
                columns = layout.columns(det.extras)
                used = blockcsv.used_tokens(det)
                delim = layout.delimiter or " "
        data = blockcsv.normalise(block.data, escapes=layout.family != "jsonkeys")
        with _cond:
            if _stop:
                return
            _busy = data
        if layout.family == "jsonkeys":
            key: tuple[object, ...] = ("json", layout, block.first_line)
            result: Any = jsonlog.read(data, layout, block.first_line)
        else:
            key = ("csv", tuple(columns), delim, tuple(used))
            invalid: list[tuple[int | None, str]] = []
            plain = blockcsv.plain_tokens(det)  # as parse._fast reads them
            table = blockcsv.read_csv(data, columns, invalid, delim, used, plain)
            result = (table, invalid)
        with _cond:
            _ready.append(_Read(data, key, result))
            _busy = None
            _cond.notify_all()


def _next_block(src: _Source) -> Any:
    """The next block of the input read ahead (kept for the pipeline, ``blocks``), or None:
    at its end, or when the pipeline has taken the reading over."""
    global _reading, _source
    with _cond:
        if _stop:
            return None
        _reading = True
    block = None
    try:
        block = next(src.blocks, None)
    except BaseException:
        with _cond:
            _source = None  # the reading failed: the pipeline reads the input itself
        raise
    finally:
        with _cond:
            _reading = False
            if block is not None:
                src.read.append((block, len(src.state.problems)))
            _cond.notify_all()
    return block


def blocks(
    inp: Any, state: Any, share: int, on_progress: Callable[[int], None] | None
) -> Iterator[Any] | None:
    """The blocks of ``inp`` as ``read_blocks(inp, state, on_progress=on_progress,
    share=share)`` yields them, the first ones those read ahead (not read again), or None
    when ``inp`` was not read ahead so. Stops the reading ahead; once only."""
    global _source, _stop
    with _cond:
        src = _source
        if src is None or src.input != inp or share != SHARE:
            return None
        _source = None
        _stop = True
    return _handed(src, state, on_progress)


def _handed(
    src: _Source, state: Any, on_progress: Callable[[int], None] | None
) -> Iterator[Any]:
    try:
        with _cond:
            while _reading:  # a block the thread reads now comes first
                _cond.wait()
            src.progress.to = on_progress
            done, src.progress.done = src.progress.done, 0
        if on_progress is not None and done:
            on_progress(done)
        moved = 0
        for block, upto in src.read:  # with the problems reading had recorded by then
            state.problems.extend(src.state.problems[moved:upto])
            moved = upto
            yield block
        src.read.clear()
        del src.state.problems[:moved]
        for block in src.blocks:  # the thread reads no more (``_stop``): the rest, here
            _moved(src, state)
            yield block
    finally:
        getattr(src.blocks, "close", lambda: None)()
        _moved(src, state)
        state.bytes_read.update(src.state.bytes_read)
        state.lines_read.update(src.state.lines_read)


def _moved(src: _Source, state: Any) -> None:
    """The problems reading recorded so far, into the run's ``state``: in the order they
    would have come among the run's own (read_blocks records them as it goes)."""
    state.problems.extend(src.state.problems)
    src.state.problems.clear()


def take(data: bytes | bytearray | memoryview, key: tuple[object, ...]) -> Any:
    """What was read ahead from exactly these bytes in exactly this way, or None. ``key``:
    ("csv", columns, delimiter, columns kept) for ``blockcsv.read_csv``, whose result is
    (table, rejected rows); ("json", layout, first line) for ``jsonlog.read``. Waits for the
    block being read ahead when it is this one; stops the reading ahead."""
    global _stop
    if _thread is None:
        return None
    with _cond:
        _stop = True
        while True:
            for i, r in enumerate(_ready):
                if r.key == key and _same(r.data, data):
                    del _ready[i]
                    return r.result
            if _busy is None or not _same(_busy, data):
                return None
            _cond.wait()


def forget() -> None:
    """Stop reading ahead and drop what was read and not taken (the run is over)."""
    global _stop, _thread, _source
    with _cond:
        _stop = True
        thread, _thread = _thread, None
    if thread is not None:
        thread.join()  # at most the block it is reading
    with _cond:
        _ready.clear()
        src, _source = _source, None
    if src is not None:
        getattr(src.blocks, "close", lambda: None)()  # the file, at once


def _same(a: bytes | bytearray | memoryview, b: bytes | bytearray | memoryview) -> bool:
    if a is b:  # a block handed over (``blocks``) that normalising left as it was
        return True
    import numpy as np

    from logaudit.octets import STEP  # compared a slice at a time: a small temporary, reused

    x = np.frombuffer(a, np.uint8)
    y = np.frombuffer(b, np.uint8)
    if len(x) != len(y):
        return False
    return all(np.array_equal(x[i : i + STEP], y[i : i + STEP]) for i in range(0, len(x), STEP))
