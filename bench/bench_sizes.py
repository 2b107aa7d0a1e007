"""Start-up and log size: how fast logaudit feels on small logs, against GoAccess (issue #18).

    python bench/bench_sizes.py [--sizes 10000,150000,1000000] [--with-10m] [--repeat 5]
                                [--source generated|shop] [--no-goaccess] [--json FILE]
                                [--python PY]

1. Start-up: ``logaudit --help``, ``formats``, ``sections`` and ``config`` (with
   ``LOGAUDIT_CONFIG=/dev/null``), each as a fresh process ``--repeat`` times, next to
   ``python -c pass`` (the interpreter's own start, which no change to logaudit can remove).
   Target: each under 0.1 s.
2. Sizes: for each line count (10k, 150k, 1M by default; ``--with-10m`` adds 10M, which takes
   minutes and ~3 GB of disk), the log is built once under ``bench/out/`` like
   ``bench_summary.py``'s (``ensure_log``), then ``logaudit summary LOG --format json -o ...``
   and ``goaccess LOG --log-format=COMBINED -o ...`` take turns ``--repeat`` times (who goes
   first alternates). Printed per size: best wall time and CPU time of each, the throughput
   ratio best against best, and the median of the run-by-run ratios. Target at 150k lines:
   >= 2.5x GoAccess.

The logaudit package timed is byte-compiled first, as ``pip install`` does (see
``bench_summary.byte_compile``). Wall times on a shared machine vary a lot: compare the
medians of runs made at the same time, and the CPU times, which vary less.

``--python PY``: the interpreter that runs logaudit (the checkout's code still: the commands run
in the checkout). An interpreter's start is part of every run, and this project's machines add
to it what no user's installed logaudit pays: the sandbox's ``.pth`` file in the system
interpreter's site-packages imports ``certifi`` at every start (~9 ms of CPU), and the editable
install's finder (~11 ms) serves every logaudit import. A venv with logaudit installed
(``python -m venv V && V/bin/pip install .``: its dependencies, no editable finder, no foreign
``.pth``) times what ``pip install .`` gives a user; both figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_summary import (  # noqa: E402 - the sibling script, found through sys.path
    OUT,
    Run,
    byte_compile,
    ensure_log,
    lines_in,
    machine,
    measure,
)

STARTUP = {
    "python -c pass": ["-c", "pass"],
    "logaudit --help": ["-m", "logaudit", "--help"],
    "logaudit formats": ["-m", "logaudit", "formats"],
    "logaudit sections": ["-m", "logaudit", "sections"],
    "logaudit config": ["-m", "logaudit", "config"],
}
STARTUP_TARGET = 0.1  # seconds, each of the four commands
SIZES = (10_000, 150_000, 1_000_000)
TARGET_150K = 2.5  # throughput ratio to GoAccess at 150,000 lines


def startup(repeat: int, python: str = sys.executable) -> dict[str, dict[str, object]]:
    """Best and median wall time and CPU time of each start-up command, taking turns."""
    os.environ["LOGAUDIT_CONFIG"] = "/dev/null"  # `config` reads no file of the host's
    runs: dict[str, list[Run]] = {name: [] for name in STARTUP}
    for _ in range(repeat):
        for name, args in STARTUP.items():
            runs[name].append(measure([python, *args]))
    out: dict[str, dict[str, object]] = {}
    print(f"\nstart-up, {repeat} runs each (target < {STARTUP_TARGET} s for the four commands)")
    print(f"  {'':20} {'best s':>8} {'median s':>9} {'cpu s':>7} {'MiB':>5}")
    for name, rs in runs.items():
        top = min(rs, key=lambda r: r.wall)
        med = statistics.median(r.wall for r in rs)
        out[name] = {"best": asdict(top), "median_wall": round(med, 4),
                     "walls": [round(r.wall, 4) for r in rs]}
        print(f"  {name:20} {top.wall:8.3f} {med:9.3f} {top.cpu:7.3f} {top.max_rss_mb:5.0f}")
    return out


def size_run(source: str, n: int, repeat: int, goaccess: str | None,
             rebuild: bool, python: str = sys.executable) -> dict[str, object]:
    log = ensure_log(source, n, rebuild)
    lines = lines_in(log)
    la_cmd = [python, "-m", "logaudit", "summary", str(log), "--format", "json",
              "-o", str(OUT / f"sizes-{n}.json")]
    ga_cmd = ([goaccess, str(log), "--log-format=COMBINED", "-o",
               str(OUT / f"sizes-{n}.goaccess.json")] if goaccess else [])
    la_runs: list[Run] = []
    ga_runs: list[Run] = []
    for turn in range(repeat):
        if ga_cmd and turn % 2:
            ga_runs.append(measure(ga_cmd))
        la_runs.append(measure(la_cmd))
        if ga_cmd and not turn % 2:
            ga_runs.append(measure(ga_cmd))
    la = min(la_runs, key=lambda r: r.wall)
    got: dict[str, object] = {
        "lines": lines,
        "log_mb": round(log.stat().st_size / 1e6, 1),
        "logaudit": {"best": asdict(la), "walls": [round(r.wall, 3) for r in la_runs],
                     "lines_per_s": round(lines / la.wall)},
    }
    text = f"  {lines:>11,} {la.wall:9.3f} {la.cpu:8.2f}"
    if ga_runs:
        ga = min(ga_runs, key=lambda r: r.wall)
        pairs = [g.wall / r.wall for r, g in zip(la_runs, ga_runs, strict=True)]
        got["goaccess"] = {"best": asdict(ga), "walls": [round(r.wall, 3) for r in ga_runs],
                           "lines_per_s": round(lines / ga.wall)}
        got["ratio"] = round(ga.wall / la.wall, 2)
        got["median_paired_ratio"] = round(statistics.median(pairs), 2)
        text += (f" {ga.wall:9.3f} {ga.cpu:8.2f} {ga.wall / la.wall:7.2f}"
                 f" {statistics.median(pairs):7.2f}")
    print(text, flush=True)
    return got


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(str(n) for n in SIZES),
                    help="line counts, comma-separated [10000,150000,1000000]")
    ap.add_argument("--with-10m", action="store_true", help="also 10,000,000 lines (slow)")
    ap.add_argument("--source", default="generated", choices=("generated", "shop"))
    ap.add_argument("--repeat", type=int, default=5, help="runs per command [5]")
    ap.add_argument("--no-goaccess", action="store_true", help="skip GoAccess")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up commands")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the logs under bench/out")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter logaudit is timed under (default: this one); see below")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.with_10m and 10_000_000 not in sizes:
        sizes.append(10_000_000)

    m = machine()
    print(f"{m['cpus']} CPUs ({m['cpu']}), Python {m['python']}; best of {args.repeat}")
    compiled = byte_compile()
    print(f"byte-compiled {compiled}" if compiled else "could not byte-compile logaudit")
    results: dict[str, object] = {"machine": m, "source": args.source, "repeat": args.repeat}
    if not args.no_startup:
        results["startup"] = startup(args.repeat, args.python)

    goaccess = None if args.no_goaccess else shutil.which("goaccess")
    print(f"\nsummary of a {args.source} log (--format json -o FILE); ratio = GoAccess's time "
          f"/ logaudit's (target >= {TARGET_150K} at 150k lines)")
    head = f"  {'lines':>11} {'la best s':>9} {'la cpu':>8}"
    if goaccess:
        head += f" {'ga best s':>9} {'ga cpu':>8} {'ratio':>7} {'median':>7}"
    print(head)
    results["sizes"] = [size_run(args.source, n, args.repeat, goaccess, args.rebuild, args.python)
                        for n in sizes]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
