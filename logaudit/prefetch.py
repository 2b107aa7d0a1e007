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


Bytes = bytes | bytearray | memoryview


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
_child: _Child | None = None  # the forked reader (see "In a child process" below)


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
    if _child is not None:
        _child.close()  # likewise, a child a run that ended before reading left
    mode = _mode()
    if _thread is not None or mode is None or len(logs) != 1:
        return
    if not alone.by_options(overrides):
        return  # not read by this process alone (--jobs forks: no thread to inherit)
    try:
        if not os.path.isfile(logs[0]) or os.stat(logs[0]).st_size < MIN_BYTES:
            return
    except (OSError, ValueError):
        return
    if mode == "fork":
        _fork(logs[0], dict(overrides), config_file, site)
        return
    _stop = False
    _thread = threading.Thread(
        target=_run, args=(logs[0], dict(overrides), config_file, site), daemon=True
    )
    _thread.name = "logaudit-prefetch"
    _thread.start()


def _mode() -> str | None:
    """How to read ahead: "fork" (the default where it can: the ``logaudit`` program itself,
    ``os.fork`` and ``os.memfd_create``, no agents helper forked, a core idle), "thread"
    (``LOGAUDIT_PREFETCH=1``), or not at all (``LOGAUDIT_PREFETCH=0``, or the default
    where a child cannot be forked). ``LOGAUDIT_PREFETCH=fork`` forks whatever the load and
    the caller (for measuring, and for the tests)."""
    choice = os.environ.get("LOGAUDIT_PREFETCH", "").strip()
    if choice in ("1", "fork"):
        return "thread" if choice == "1" else ("fork" if hasattr(os, "memfd_create") else None)
    if choice == "0" or not hasattr(os, "fork") or not hasattr(os, "memfd_create"):
        return None
    from logaudit.enrich import agentproc

    if not agentproc.forks_allowed() or agentproc.running() or not agentproc.core_idle():
        return None
    return "fork"


def _run(
    log: str, overrides: dict[str, Any], config_file: str | Path | None, site: str | None
) -> None:
    global _busy
    try:
        _read(log, overrides, config_file, site, _Thread())
    except Exception:  # noqa: BLE001, S110 - only a head start: the pipeline reads every block
        pass
    finally:
        with _cond:
            _busy = None
            _cond.notify_all()


class _Thread:
    """Where the thread puts what it reads: ``_ready``, for ``take``."""

    json = True  # it reads nginx JSON templates too

    def stopped(self) -> bool:
        return _stop

    def busy(self, data: bytes | bytearray | memoryview) -> bool:
        global _busy
        with _cond:
            if _stop:
                return False
            _busy = data
        return True

    def put(self, data: Bytes, key: tuple[object, ...], result: Any) -> None:
        global _busy
        with _cond:
            _ready.append(_Read(data, key, result))
            _busy = None
            _cond.notify_all()


def _read(
    log: str,
    overrides: dict[str, Any],
    config_file: str | Path | None,
    site: str | None,
    to: Any,
) -> None:
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
            if to.stopped() or n >= MAX_BLOCKS:
                return
            if n == 0:
                if not sample_lines(block.data, 1):
                    return
                det = detect_for(block.data, inp.name, settings)  # as the pipeline detects
                layout = det.format
                if layout.family == "json" and not det.others:
                    keyed = jsonlog.keyed(layout)  # an nginx JSON template, read by its keys
                    if keyed is None or not to.json:
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
            if not to.busy(data):
                return
            if layout.family == "jsonkeys":
                key: tuple[object, ...] = ("json", layout, block.first_line)
                result: Any = jsonlog.read(data, layout, block.first_line)
            else:
                key = ("csv", tuple(columns), delim, tuple(used))
                invalid: list[tuple[int | None, str]] = []
                plain = blockcsv.plain_tokens(det)  # as parse._fast reads them
                table = blockcsv.read_csv(data, columns, invalid, delim, used, plain)
                result = (table, invalid)
            to.put(data, key, result)
    finally:
        getattr(blocks, "close", lambda: None)()  # the file, at once


def take(data: bytes | bytearray | memoryview, key: tuple[object, ...]) -> Any:
    """What was read ahead from exactly these bytes in exactly this way, or None. ``key``:
    ("csv", columns, delimiter, columns kept) for ``blockcsv.read_csv``, whose result is
    (table, rejected rows); ("json", layout, first line) for ``jsonlog.read``. Waits for the
    block being read ahead when it is this one; stops the reading ahead."""
    global _stop
    if _child is not None:
        return _child.take(data, key)
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
    global _stop, _thread, _child
    child, _child = _child, None
    if child is not None:
        child.close()
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


# In a child process. The thread above competes with the imports for the GIL (every return
# from Arrow's reader, every numpy call of ``normalise``, waits for the importing thread to
# let go, and makes it wait in turn): importing ``logaudit.api`` took 0.41 s alone and
# 1.1-1.4 s beside it. A child forked once numpy and pyarrow are imported reads the same
# blocks the same way on the other core, with a GIL of its own. It hands each over through
# two memory files (``os.memfd_create``) made before the fork: the block's bytes as it read
# them, for ``take``'s comparison, and its table in Arrow's IPC stream format, which this
# process maps and reads in place (no copy). A pipe carries one message per step:
# ("busy", n, bytes) once block n's bytes are written, ("done", n, key, size, rejected rows)
# once its table is. Anything unexpected (a failed child, a short message) is only a block
# this process tokenises itself, as it always did.


def _fork(
    log: str, overrides: dict[str, Any], config_file: str | Path | None, site: str | None
) -> None:
    global _child
    from logaudit import procs

    fds: list[int] = []
    try:
        for n in range(2 * MAX_BLOCKS):
            fds.append(os.memfd_create(f"logaudit-prefetch-{n}", os.MFD_CLOEXEC))
        r, w = os.pipe()
    except OSError:
        for fd in fds:
            os.close(fd)
        return
    mems = [(fds[2 * n], fds[2 * n + 1]) for n in range(MAX_BLOCKS)]
    parent = os.getpid()
    # As agentproc.fork_planned: signals wait until the child has its own handlers.
    with procs.held_back() as let_in:
        try:
            pid = os.fork()
        except OSError:
            for fd in (*fds, r, w):
                os.close(fd)
            return
        if pid == 0:  # the reader: never returns into the caller's code
            status = 0
            try:
                os.close(r)
                procs.die_with_parent(parent)
                let_in()
                _read(log, overrides, config_file, site, _Sink(w, mems))
            except BaseException:  # noqa: BLE001 - the parent reads every block itself
                status = 1
            finally:
                os._exit(status)
        os.close(w)
        _child = _Child(pid, r, mems)


def _write(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


class _Sink:
    """The child's side: each block's bytes and table into its memory files."""

    json = False  # nginx JSON templates: read by the pipeline (jsonlog's result is no table)

    def __init__(self, pipe: int, mems: list[tuple[int, int]]) -> None:
        self.pipe = pipe
        self.mems = mems
        self.n = 0

    def stopped(self) -> bool:
        return False  # the parent ends the child when it wants no more

    def _send(self, message: tuple[object, ...]) -> None:
        import pickle

        body = pickle.dumps(message)
        _write(self.pipe, len(body).to_bytes(4, "little") + body)

    def busy(self, data: bytes | bytearray | memoryview) -> bool:
        _write(self.mems[self.n][0], data)
        self._send(("busy", self.n, len(data)))
        return True

    def put(self, data: Bytes, key: tuple[object, ...], result: Any) -> None:
        import pyarrow as pa

        table, invalid = result
        fd = self.mems[self.n][1]
        with pa.OSFile(f"/proc/self/fd/{fd}", "wb") as f:
            with pa.ipc.new_stream(f, table.schema) as writer:
                writer.write_table(table)
        self._send(("done", self.n, key, os.fstat(fd).st_size, invalid))
        self.n += 1


class _Child:
    """This process's side of the forked reader: its messages, blocks mapped, ``take``."""

    def __init__(self, pid: int, pipe: int, mems: list[tuple[int, int]]) -> None:
        self.pid: int | None = pid
        self.pipe: int | None = pipe
        self.mems = mems
        self.lock = threading.Lock()
        self.busy: tuple[int, Any] | None = None  # (block, its bytes mapped)
        self.ready: dict[int, tuple[tuple[object, ...], Any, int, list[Any]]] = {}

    def _map(self, fd: int, size: int) -> Any:
        import mmap

        return mmap.mmap(fd, size, prot=mmap.PROT_READ) if size else b""

    def _receive(self, wait: bool) -> bool:
        """One message into ``busy``/``ready``; False at the child's end (or, without
        ``wait``, when none is there yet)."""
        import pickle
        import select

        if self.pipe is None:
            return False
        if not wait and not select.select([self.pipe], [], [], 0)[0]:
            return False
        head = self._exactly(4)
        body = self._exactly(int.from_bytes(head, "little")) if len(head) == 4 else b""
        if not body:
            self.stop()
            return False
        message = pickle.loads(body)  # noqa: S301 - from our own forked child
        if message[0] == "busy":
            _, n, size = message
            self.busy = (n, self._map(self.mems[n][0], size))
        else:
            _, n, key, size, invalid = message
            data = self.busy[1] if self.busy is not None and self.busy[0] == n else b""
            self.ready[n] = (key, data, size, invalid)
            self.busy = None
        return True

    def _exactly(self, size: int) -> bytes:
        got = b""
        while self.pipe is not None and len(got) < size:
            part = os.read(self.pipe, size - len(got))
            if not part:
                break
            got += part
        return got

    def take(self, data: bytes | bytearray | memoryview, key: tuple[object, ...]) -> Any:
        import pyarrow as pa

        with self.lock:
            try:
                while self._receive(wait=False):
                    pass
                while True:
                    for n, (k, theirs, size, invalid) in list(self.ready.items()):
                        if k == key and _same(theirs, data):
                            del self.ready[n]
                            mapped = self._map(self.mems[n][1], size)
                            table = pa.ipc.open_stream(pa.py_buffer(mapped)).read_all()
                            return table, invalid
                    if self.busy is None or not _same(self.busy[1], data):
                        if not self.ready:
                            self.stop()  # blocks come in order: it reads none we want
                        return None
                    if not self._receive(wait=True):
                        return None
            except Exception:  # noqa: BLE001 - only a head start: the caller reads the block
                self.stop()
                return None

    def wait(self) -> None:
        """Every message until the child ends (for the tests: a real start-up's imports give
        it the time)."""
        with self.lock:
            while self._receive(wait=True):
                pass

    def stop(self) -> None:
        """End the child (at once: it holds nothing but what it read) and reap it."""
        import signal

        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None

    def close(self) -> None:
        """The run is over: the child ended, its memory files closed (a table taken keeps
        its own mapping), what was not taken dropped."""
        with self.lock:
            self.stop()
            self.busy = None
            self.ready.clear()
            for pair in self.mems:
                for fd in pair:
                    os.close(fd)
            self.mems = []
