"""The Dask engine against the single process, and what crosses the network per task.

    python bench/bench_dask.py                               # 10M lines in 20 files, 2 workers
    python bench/bench_dask.py --lines 400000 --files 4      # a quick check
    python bench/bench_dask.py --files 20 --lines 10000000   # the issue's set (the default)

Writes the log set into bench/out/dask-<lines>-<files>/ (once), then:
* times ``summary`` on the local engine (one process, its threads) and on a LocalCluster of
  --workers processes (cluster start-up timed apart: a real cluster is already running), with
  the CPU seconds of each (workers' and client's for Dask: steadier than wall time on a
  shared host);
* the peak resident memory of each worker and of this process (the client) in each run;
* the partial of one block task (16 MiB) and of a whole file, pickled and as shipped (packed),
  against the input bytes, and the merge tree this set makes (merges on the workers, partials
  left for the client's root merge).
Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import time
from pathlib import Path

from logaudit import api, samplegen
from logaudit.analyze import SUMMARY_SECTIONS, tables_for
from logaudit.config import load
from logaudit.engine import dask as engine
from logaudit.sources import BLOCK_BYTES, Input

HERE = Path(__file__).resolve().parent


def make_logs(lines: int, files: int) -> list[Path]:
    folder = HERE / "out" / f"dask-{lines}-{files}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        p = folder / f"web{i:02d}.log"
        if not p.exists():
            with open(p, "wb") as f:
                samplegen.write_lines(f, lines // files, seed=1000 + i)
        paths.append(p)
    return paths


def timed(settings_overrides: dict[str, object], args: list[str]) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds, all its threads) of one summary."""
    settings = load(settings_overrides)
    t, c = time.perf_counter(), time.process_time()
    outcome = api.report("summary", args, settings)
    assert outcome.report is not None, outcome.messages
    return time.perf_counter() - t, time.process_time() - c


def _reset_peak() -> None:
    """Start this process's VmHWM anew (Linux: 5 to clear_refs), so each run's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts anew at exec (ru_maxrss
    would carry the parent's peak into a spawned worker)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def partial_sizes(path: Path) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """(input bytes of one block, (pickled, packed) partial of that block, the same of the
    whole file)."""
    settings = load({})
    tables = tables_for(SUMMARY_SECTIONS)
    plugin = engine.Setup("bench", settings, tables, {})
    plugin.setup()
    size = path.stat().st_size
    with open(path, "rb") as f:
        spans = engine.block_spans(f, size, BLOCK_BYTES)
    first = Input(str(path), path, spans[0])
    one = engine._read_task("bench", first, None, BLOCK_BYTES)[0]
    whole = engine._read_task("bench", Input(str(path), path), None, BLOCK_BYTES)[0]

    def sizes(result: engine.Shipped) -> tuple[int, int]:
        frames = engine.pack(result.partial)[1]
        return len(pickle.dumps(result.partial)), sum(len(f) for f in frames)

    return spans[0][1] - spans[0][0], sizes(one), sizes(whole)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    paths = make_logs(a.lines, a.files)
    args = [str(p) for p in paths]
    total = sum(p.stat().st_size for p in paths)
    print(f"{a.lines:,} lines in {a.files} files, {total / 2**20:,.0f} MiB")

    _reset_peak()
    local, local_cpu = timed({}, args)
    print(
        f"local engine: {local:.2f} s ({local_cpu:.1f} CPU s), "
        f"peak RSS {_peak_rss_mb():,.0f} MB (this process)"
    )

    from distributed import Client, LocalCluster

    t = time.perf_counter()
    with (
        LocalCluster(n_workers=a.workers, threads_per_worker=1, dashboard_address=":0") as c,
        Client(c) as client,
    ):
        start = time.perf_counter() - t
        before = client.run(_cpu_seconds)
        _reset_peak()
        took, client_cpu = timed({"engine": "dask", "dask_scheduler": c.scheduler_address}, args)
        client_peak = _peak_rss_mb()
        after = client.run(_cpu_seconds)
        rss = client.run(_peak_rss_mb)
    workers_cpu = sum(after[w] - before[w] for w in after)
    print(
        f"dask, {a.workers} workers: {took:.2f} s (+ {start:.2f} s cluster start-up); "
        f"CPU s: workers {workers_cpu:.1f}, client {client_cpu:.1f}"
    )
    print(
        f"dask against local: {took - local:+.2f} s ({(took - local) / local:+.0%}), "
        f"CPU {workers_cpu + client_cpu - local_cpu:+.1f} s, cluster start-up apart"
    )
    print(
        "worker peak RSS: "
        + ", ".join(f"{v:,.0f} MB" for v in rss.values())
        + f"; client {client_peak:,.0f} MB"
    )

    block, one, whole = partial_sizes(paths[0])
    file_bytes = paths[0].stat().st_size
    lines = a.lines // a.files
    print(
        f"one block task: {block / 2**20:.1f} MiB in, partial {one[0] / 2**10:,.0f} KiB pickled "
        f"({100 * one[0] / block:.2f} %), {one[1] / 2**10:,.0f} KiB shipped "
        f"({100 * one[1] / block:.2f} %)"
    )
    print(
        f"one file ({lines:,} lines, {file_bytes / 2**20:,.0f} MiB): partial "
        f"{whole[0] / 2**10:,.0f} KiB pickled ({100 * whole[0] / file_bytes:.2f} %), "
        f"{whole[1] / 2**10:,.0f} KiB shipped ({100 * whole[1] / file_bytes:.2f} %)"
    )
    task_sizes = []
    for p in paths:
        with open(p, "rb") as f:
            task_sizes += [e - s for s, e in engine.block_spans(f, p.stat().st_size, BLOCK_BYTES)]
    tasks = len(task_sizes)
    print(
        f"shipped per block task: {one[1] / 2**10:,.0f} KiB; for this set about "
        f"{tasks * one[1] / 2**20:,.1f} MiB from {tasks} tasks into the merge tree"
    )
    shape = [tasks] + [len(cut) for cut in engine.levels(task_sizes)]
    print(
        f"merge tree: {' -> '.join(map(str, shape))} (fan-in {engine.FAN_IN}, at most "
        f"{engine.MERGE_BYTES / 2**20:,.0f} MiB of input per merge on a worker); the last "
        f"{shape[-1]} partials are merged on the client, one at a time"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
