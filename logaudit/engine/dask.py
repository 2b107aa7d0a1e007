"""The Dask engine: inputs become tasks on a cluster, partials merge in a tree on the workers.

map: each input (or byte range of a big plain one, cut at line starts as ``--jobs`` cuts them)
is one task; a worker reads it (local path or URL: the worker opens it itself), parses,
enriches and combines its blocks into one partial with the very functions the ``--jobs``
workers run (``engine.local._process``). reduce: partials merge FAN_IN at a time, neighbours with
neighbours in input order, on the workers, while a merge covers at most MERGE_BYTES of input;
the partials left come to the client one at a time for the root's merge (so a worker's memory
is bounded whatever the run's size), with each task's small accounting (bad lines, line
counts, problems, the detected format). Partials cross the network pickled and compressed
(``Shipped``). The client then builds the sections as for a local run, so every figure and
every tie's order is the same.

Settings and tables travel once per worker, in a worker plugin (with the GeoIP databases when a
--country/--network filter needs them on the workers); tasks name them by the run's token.
Only ``distributed`` is imported here: the module is loaded when ``--engine dask`` is chosen.
"""

from __future__ import annotations

import logging
import math
import operator
import os
import pickle
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
from dask.sizeof import sizeof
from distributed import Client, Future, KilledWorker, LocalCluster, as_completed
from distributed.comm.core import CommClosedError
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.protocol import dask_deserialize, dask_serialize

from logaudit import remote, sources
from logaudit.analyze.base import Accumulator, Partial, Table, agent_work
from logaudit.config import Settings
from logaudit.engine.local import _detect, _memory_pool, _process, _release, format_at
from logaudit.enrich.classify import Enricher
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import Detected, after
from logaudit.parse import BadLines
from logaudit.result import Run
from logaudit.sources import Block, Input, InputProblem, ReadState, is_plain_file
from logaudit.sources import read_blocks as _read_blocks

# A plain (uncompressed) input bigger than one block is cut into byte ranges that are exactly
# the local engine's blocks (each ends after the last newline before a multiple of the block
# size), one task each: every block's partial and bad-line examples are then the ones a
# single process makes, so the merged report is the same to the last example. A 16 MiB block
# is ~60,000 lines and about half a second of work: scheduling (~1 ms a task) vanishes, and a
# lost worker costs little to redo. The client's size travels with the tasks.
BLOCK_BYTES = sources.BLOCK_BYTES
# Partials merged per reduce task: the tree over n tasks is ceil(log_8 n) deep.
FAN_IN = 8
# A merge on a worker covers at most this many input bytes (8 blocks): above it the partials
# go to the client, which merges them one at a time (``_root``). A worker's memory is then
# bounded by this, not by the run: a partial grows with the lines behind it (visitor-days,
# page-view events), and a worker merging 8 partials of ~0.5M lines each into one of ~4M held
# 600-622 MB at 10M lines (the level below: ~350 MB).
MERGE_BYTES = 8 * BLOCK_BYTES
# Partials cross the network pickled and compressed (``Shipped``): zstd at level 1 makes a
# block task's partial (mostly int64 counts and repeated text) about a third of its pickle
# (2,983 -> 934 KiB) for ~5 ms, against ~0.3 s of parsing.
CODEC = "zstd"
# A task whose worker died is run again elsewhere (the scheduler's allowed-failures applies
# too); a task that raised is retried this many times (a flaky object store read).
RETRIES = 2
# How long to wait for a scheduler before "unreachable".
CONNECT_TIMEOUT = "10s"

# Per worker process: run token -> (settings, tables, enricher), set by the plugin.
_state: dict[str, tuple[Settings, Mapping[str, Table], Enricher]] = {}


@dataclass
class Meta:
    """What a read task found besides its partial: small, gathered to the client."""

    bad: BadLines
    lines: int
    problems: list[InputProblem] = field(default_factory=list)
    det: Detected | None = None


class Setup(WorkerPlugin):
    """Carries the run's settings and tables (and GeoIP files when needed) to each worker once.

    ``name`` includes the run's token, so runs sharing a cluster do not replace each other's."""

    def __init__(
        self, token: str, settings: Settings, tables: Mapping[str, Table], geo: dict[str, bytes]
    ) -> None:
        self.token = token
        self.name = f"logaudit-{token}"
        self.settings = settings
        self.tables = dict(tables)
        self.geo = geo

    def setup(self, worker: Any = None) -> None:
        # As in a local run: Arrow on the C library's malloc, whose freed pages _release
        # hands back after big merges (mimalloc kept them: a worker's peak was ~40 MB
        # higher). Process-wide in the worker, like local.run's.
        _memory_pool()
        settings = self.settings
        here = settings.geoip_dir is not None and Path(settings.geoip_dir).is_dir()
        if self.geo and not here:
            folder = Path(tempfile.mkdtemp(prefix="logaudit-geo-"))
            for name, data in self.geo.items():
                (folder / name).write_bytes(data)
            settings = replace(settings, geoip_dir=folder)
        enricher = Enricher(settings).needing(agent_work(self.tables, settings.bots))
        _state[self.token] = (settings, self.tables, enricher)

    def teardown(self, worker: Any = None) -> None:
        _state.pop(self.token, None)


class Shipped:
    """A task's partial. On its worker it stays as it is (a merge there uses it directly);
    only when it crosses the network (to another worker's merge, to the client, or to disk
    when a worker spills) is it pickled and compressed, by the serializer registered below in
    Dask's own family (the workers import this module with the tasks' functions).
    No malloc_trim after each task: handing a block's pages back only to fault them in
    again for the next one cost ~8 % of a read task's CPU, in system time, for no lower
    peak; big merges trim, as in a local run: ``_release``."""

    __slots__ = ("partial",)

    def __init__(self, partial: Partial) -> None:
        self.partial = partial


def pack(partial: Partial) -> tuple[dict[str, int], list[bytes]]:
    """What a partial is on the wire: (header, frames), zstd-compressed when pyarrow has it."""
    raw = pickle.dumps(partial, protocol=pickle.HIGHEST_PROTOCOL)
    if not pa.Codec.is_available(CODEC):
        return {"raw": 0}, [raw]
    return {"raw": len(raw)}, [pa.Codec(CODEC, 1).compress(raw, asbytes=True)]


def unpack(header: Mapping[str, int], frames: list[Any]) -> Partial:
    data = frames[0]
    if header["raw"]:
        data = pa.Codec(CODEC).decompress(data, header["raw"], asbytes=True)
    partial: Partial = pickle.loads(data)
    return partial


@dask_serialize.register(Shipped)
def _serialize(shipped: Shipped) -> tuple[dict[str, int], list[bytes]]:
    return pack(shipped.partial)


@dask_deserialize.register(Shipped)
def _deserialize(header: dict[str, int], frames: list[Any]) -> Shipped:
    return Shipped(unpack(header, frames))


@sizeof.register(Shipped)
def _sizeof(shipped: Shipped) -> int:
    # The partial's own memory, so that the worker's memory manager counts it.
    return int(sizeof(shipped.partial))


def _geo_files(settings: Settings) -> dict[str, bytes]:
    """The GeoIP databases, when the workers' filters need them (--country/--network)."""
    from logaudit.filters import of_settings

    f = of_settings(settings.extra)
    if settings.geoip_dir is None or not {"country", "network"} & (set(f.keep) | set(f.drop)):
        return {}
    folder = Path(settings.geoip_dir)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.mmdb")) if p.is_file()}


def _read_task(
    token: str, inp: Input, det: Detected | None, block_bytes: int
) -> tuple[Shipped, Meta]:
    """Map one input or byte range: its blocks' partials combined into one."""
    settings, tables, enricher = _state[token]
    if inp.span is not None:
        # A range is one of the local reader's blocks, which can be longer than block_bytes
        # by the partial line it carried: read as one block, not as a full one and a scrap
        # (4 of 16 ranges were two blocks, each paying a block's fixed costs).
        block_bytes = max(block_bytes, inp.span[1] - inp.span[0])
    acc = Accumulator(tables, on_compact=_release)
    bad = BadLines()
    state = ReadState()
    now = det  # the layout in force: a W3C #Fields: header changes the next blocks'
    for block in _read_blocks(inp, state, block_bytes):
        if det is None:
            det = now = _detect(block.data, inp, settings, state)
            if det is None:
                break
        assert now is not None
        partial, block_bad = _process(block, now, enricher, tables, settings)
        now = after(now, block.data)
        bad = bad.merge(block_bad)
        if partial:
            acc.add(partial)
        del partial
    return Shipped(acc.result()), Meta(bad, state.lines_read.get(inp.name, 0), state.problems, det)


def _block_task(
    token: str,
    data: bytes,
    first_line: int,
    lines: int,
    inp: Input,
    det: Detected,
    stretches: list[tuple[int, str]] | None = None,
) -> tuple[Shipped, Meta]:
    """Map one block the client read (stdin: no worker can open it), with the NUL runs the
    client took out of it (``Block.stretches``), counted as the local engine counts them."""
    settings, tables, enricher = _state[token]
    block = Block(data, first_line, inp, lines, stretches or [])
    partial, bad = _process(block, det, enricher, tables, settings)
    return Shipped(partial), Meta(bad, 0)


def _partial_of(result: Shipped | tuple[Shipped, Meta]) -> Partial:
    """The partial of a merge's or a read task's result (a read's carries its accounting)."""
    return (result[0] if isinstance(result, tuple) else result).partial


def _merge_task(token: str, *parts: Shipped | tuple[Shipped, Meta]) -> Shipped:
    """Reduce: neighbouring partials (or read results) merged in their order."""
    tables = _state[token][1]
    acc = Accumulator(tables, on_compact=_release)
    for p in parts:
        partial = _partial_of(p)
        if partial:
            acc.add(partial)
        del partial
    return Shipped(acc.result())


@dataclass
class _Task:
    inp: Input
    future: Future | None
    size: int
    span: bool = False


def _splits(inp: Input, block: int) -> list[tuple[int, int]] | None:
    """The local engine's block boundaries in a big plain input, or None to read it whole."""
    if inp.size <= block:
        return None
    try:
        if inp.url is not None:
            if sources._decompressor(remote.head(inp.url, 6)) is not None:
                return None
            with remote.open_url(inp.url) as f:
                return block_spans(f, inp.size, block)
        if inp.path is None or not is_plain_file(inp):
            return None
        with open(inp.path, "rb") as f:
            return block_spans(f, inp.size, block)
    except OSError:
        return None  # read whole: the task reports the problem, with the input's name


def block_spans(f: Any, size: int, block: int) -> list[tuple[int, int]]:
    """Where ``sources.read_blocks`` cuts a plain stream of ``size`` bytes read ``block``
    bytes at a time: after the last newline before each multiple of ``block`` (a window with
    no newline makes no cut, as the reader then carries it on)."""
    cuts = [0]
    for k in range(1, math.ceil(size / block)):
        target = k * block
        lo = target
        while lo > cuts[-1]:
            lo = max(cuts[-1], lo - (1 << 16))
            f.seek(lo)
            nl = f.read(target - lo).rfind(b"\n")
            if nl >= 0:
                cuts.append(lo + nl + 1)
                break
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _head(inp: Input) -> bytes:
    if inp.url is not None:
        return remote.head(inp.url, 1 << 20)
    assert inp.path is not None
    with open(inp.path, "rb") as f:
        return sources.file_head(f)


@contextmanager
def connect(settings: Settings) -> Iterator[Client]:
    """A client of the scheduler the settings name, or of a LocalCluster started for the run.
    An unreachable scheduler is one line and exit 3 (the input cannot be read from there)."""
    quiet = logging.CRITICAL
    for name in ("distributed", "distributed.worker", "distributed.scheduler", "bokeh"):
        logging.getLogger(name).setLevel(quiet)
    if settings.dask_scheduler:
        try:
            client = Client(settings.dask_scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            raise LogauditError(
                f"dask scheduler {settings.dask_scheduler}: unreachable ({_first_line(e)})",
                ExitCode.INPUT_MISSING,
            ) from None
        with client:
            yield client
        return
    n = settings.dask_workers or os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        silence_logs=quiet,
        dashboard_address=":0" if sys.stderr.isatty() else None,
    )
    with cluster, Client(cluster) as client:
        yield client


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _dashboard(client: Client) -> None:
    if not sys.stderr.isatty():
        return
    try:
        link = client.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard (bokeh absent): nothing to show
        return
    if link:
        print(f"logaudit: dask dashboard {link}", file=sys.stderr)


def _submit_reads(
    client: Client, token: str, inputs: list[Input], settings: Settings, state: ReadState
) -> tuple[list[_Task], dict[str, Detected]]:
    tasks: list[_Task] = []
    formats: dict[str, Detected] = {}
    for inp in inputs:
        if inp.path is None and inp.url is None:  # stdin: read here, blocks shipped
            det: Detected | None = None
            for block in _read_blocks(inp, state, BLOCK_BYTES):
                if det is None:
                    det = _detect(block.data, inp, settings, state)
                    if det is None:
                        break
                    formats[inp.name] = det
                fut = client.submit(
                    _block_task, token, bytes(block.data), block.first_line, block.lines,
                    inp, det, block.stretches, pure=False, retries=RETRIES,
                )  # fmt: skip
                tasks.append(_Task(inp, fut, 0))
                det = after(det, block.data)  # a W3C #Fields: header changes the next blocks
            continue
        spans = _splits(inp, BLOCK_BYTES)
        if spans is None:
            fut = client.submit(
                _read_task, token, inp, None, BLOCK_BYTES, pure=False, retries=RETRIES
            )
            tasks.append(_Task(inp, fut, inp.size))
            continue
        whole = _detect(_head(inp), inp, settings, state)
        if whole is None:
            continue
        formats[inp.name] = whole
        for start, end in spans:
            part = replace(inp, span=(start, end))
            fut = client.submit(
                _read_task,
                token,
                part,
                format_at(whole, inp, start),
                BLOCK_BYTES,
                pure=False,
                retries=RETRIES,
            )
            tasks.append(_Task(inp, fut, end - start, span=True))
    return tasks, formats


def groups(sizes: list[int], fan_in: int, most: int) -> list[list[int]]:
    """Neighbours in order, up to ``fan_in`` together while they cover at most ``most``
    input bytes: one merge task per group of two or more (a bigger item stands alone)."""
    out: list[list[int]] = []
    total = 0
    for i, size in enumerate(sizes):
        if out and len(out[-1]) < fan_in and total + size <= most:
            out[-1].append(i)
            total += size
        else:
            out.append([i])
            total = size
    return out


def levels(sizes: list[int]) -> list[list[list[int]]]:
    """The merge tree over tasks of these input sizes, level by level: each level's groups
    (``groups``) of the level below's items. It stops where no two neighbours fit in one
    merge; the items left are the client's."""
    out: list[list[list[int]]] = []
    while True:
        cut = groups(sizes, FAN_IN, MERGE_BYTES)
        if len(cut) == len(sizes):
            return out
        out.append(cut)
        sizes = [sum(sizes[i] for i in g) for g in cut]


def _tree(client: Client, token: str, leaves: list[Future], sizes: list[int]) -> list[Future]:
    """Merge FAN_IN neighbours at a time on the workers while a merge covers at most
    MERGE_BYTES of input; what is left goes to the client (``_root``), which merges it one
    partial at a time. A worker never holds the partial of more than MERGE_BYTES of input,
    however big the run (it held 1 GB at 10M lines with the root on a worker, and 622 MB
    with a 4M-line merge below it); the client holds the merged partial anyway."""
    level: list[Future] = leaves
    for cut in levels(sizes):
        level = [
            level[g[0]]
            if len(g) == 1
            else client.submit(
                _merge_task, token, *(level[i] for i in g), pure=False, retries=RETRIES
            )
            for g in cut
        ]
    return level


def _root(tops: list[Future], tables: Mapping[str, Table]) -> Partial:
    """The last merge, on the client, one top partial at a time and in input order (while
    the workers still map and merge what comes after)."""
    acc = Accumulator(tables, on_compact=_release)
    while tops:
        part = _partial_of(tops.pop(0).result())
        if part:
            acc.add(part)
        del part
    return acc.result()


def run(
    inputs: list[Input],
    settings: Settings,
    tables: Mapping[str, Table],
    on_progress: Callable[[int], None] | None = None,
) -> Run:
    """``engine.local.run`` on a Dask cluster: the same Run, figure for figure."""
    token = uuid.uuid4().hex
    state = ReadState()
    _memory_pool()  # the client's root merge, as a local run's
    with connect(settings) as client:
        _dashboard(client)
        plugin = Setup(token, settings, tables, _geo_files(settings))
        client.register_plugin(plugin)
        try:
            tasks, formats = _submit_reads(client, token, inputs, settings, state)
            leaves = [t.future for t in tasks if t.future is not None]
            # stdin's blocks have no input size of their own: one block each
            weights = [t.size or BLOCK_BYTES for t in tasks if t.future is not None]
            tops = _tree(client, token, leaves, weights)
            metas = [client.submit(operator.itemgetter(1), f) for f in leaves]
            del leaves
            sizes = {m.key: t.size for m, t in zip(metas, tasks, strict=True)}
            for t in tasks:
                # Only the tree and the accounting hold the leaves now: each partial is freed
                # on its worker once merged, not kept until the run ends.
                t.future = None
            if on_progress is not None:
                for fut in as_completed(metas):
                    on_progress(sizes[fut.key])
            partial: Partial = _root(tops, tables)
            found: list[Meta] = client.gather(metas)
        except KilledWorker as e:
            raise LogauditError(
                f"dask: a task was lost with its worker too often ({_first_line(e)}); "
                "see the workers' logs (memory limit?)",
                ExitCode.ERROR,
            ) from None
        except CommClosedError as e:
            where = settings.dask_scheduler or "local cluster"
            raise LogauditError(
                f"dask scheduler {where}: connection lost ({_first_line(e)})",
                ExitCode.INPUT_MISSING,
            ) from None
        finally:
            try:
                client.unregister_worker_plugin(plugin.name)
            except Exception:  # noqa: BLE001 - a cluster gone away has nothing left to undo
                pass
    bad = BadLines()
    for task, meta in zip(tasks, found, strict=True):
        name = task.inp.name
        done = state.lines_read.get(name, 0)
        # Ranges and blocks merge in input order; their line numbers start where the last
        # ended (a whole input's are already its own).
        bad = bad.merge(meta.bad.shifted(done) if task.span else meta.bad)
        if task.span:
            state.lines_read[name] = done + meta.lines
        elif task.inp.path is not None or task.inp.url is not None:
            state.lines_read[name] = meta.lines
        state.problems.extend(meta.problems)
        if meta.det is not None:
            formats.setdefault(name, meta.det)
    problems = _in_input_order(state.problems, inputs)
    formats = {i.name: formats[i.name] for i in inputs if i.name in formats}
    return Run(partial, bad, problems, inputs, formats, dict(state.lines_read), tuple(tables))


def _in_input_order(problems: list[InputProblem], inputs: list[Input]) -> list[InputProblem]:
    rank = {inp.name: i for i, inp in enumerate(inputs)}
    return sorted(problems, key=lambda p: rank.get(p.name, len(rank)))
