"""A head start: the first blocks of a log are tokenised while the CLI is still importing.

A report command spends its first ~0.3 s importing pandas and the section modules, holding
the GIL, while the host's other core has nothing to do: the pipeline cannot read a block
before ``engine.local.run`` starts. ``start`` (called by the CLI as soon as it knows its
arguments) reads the first blocks of a single plain-file log on a thread of its own, detects
its format and runs Arrow's CSV reader over them (``blockcsv``; no pandas, and Arrow's reader
releases the GIL). When the pipeline later tokenises a block, ``parse`` asks ``take`` first.

Figures cannot change: a prefetched table is handed over only for the very same bytes read
with the very same columns, delimiter and columns kept (compared in full), and Arrow's reader
is deterministic. Anything else (a format given in the config file, ``--jobs``, a W3C or JSON
log, an error of any kind) only means the pipeline reads the block itself, as it always did.
**Off unless ``LOGAUDIT_PREFETCH=1``.** Measured on the 2-core benchmark host in turns
(docs/performance.md, "Eighth round"), it did not win: the thread competes with the imports
for the core it was meant to use, and costs 0.1-0.2 s of CPU more (the blocks are read
twice). It is kept, opt-in, for hosts with a core to spare during start-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
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


_cond = threading.Condition()
_ready: list[_Read] = []
_busy: bytes | bytearray | memoryview | None = None  # the block being read now
_stop = False
_thread: threading.Thread | None = None


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
    global _busy
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
    inp = inputs[0]
    blocks = read_blocks(inp, ReadState(), share=SHARE)
    try:
        for n, block in enumerate(blocks):
            if _stop or n >= MAX_BLOCKS:
                return
            if n == 0:
                if not sample_lines(block.data, 1):
                    return
                det = detect_for(block.data, inp.name, settings)  # as the pipeline detects
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
    finally:
        getattr(blocks, "close", lambda: None)()  # the file, at once


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
    global _stop, _thread
    with _cond:
        _stop = True
        thread, _thread = _thread, None
    if thread is not None:
        thread.join()  # at most the block it is reading
    with _cond:
        _ready.clear()


def _same(a: bytes | bytearray | memoryview, b: bytes | bytearray | memoryview) -> bool:
    import numpy as np

    from logaudit.octets import STEP  # compared a slice at a time: a small temporary, reused

    x = np.frombuffer(a, np.uint8)
    y = np.frombuffer(b, np.uint8)
    if len(x) != len(y):
        return False
    return all(np.array_equal(x[i : i + STEP], y[i : i + STEP]) for i in range(0, len(x), STEP))
