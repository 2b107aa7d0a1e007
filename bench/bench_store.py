"""Time the history store: an incremental run after 1 % more lines, and a year of trends.

    python bench/bench_store.py [--lines 1000000] [--days 365] [--per-day 40000 | --visitors N]
                                [--repeat 3] [--out store] [--reuse]

1. **Incremental**: writes an N-line log (``samplegen --lines N``) under ``bench/out/``, runs
   ``logaudit summary LOG`` (the full run), then ``summary LOG --state DIR`` once to fill the
   store, appends the next 1 % of lines, and times ``summary LOG --state DIR`` again: it
   reads only the new 1 % (and merges the days they fall in). Target (issue #16): under 5 %
   of the full run plus start-up (start-up: ``logaudit --version``).
2. **A year of trends**: fills a store with ``--days`` days of ``--per-day`` lines each
   (``samplegen``'s shop; one run per 30 days, as a cron job would over a month), then times
   ``trends --state DIR --every month --since 365d`` (no log read) and reports the store's size.
   Targets: under 1 s, the store under 100 MB (for a site of 10,000 visitors a day). Timed
   twice: all the trends sections, and periods/change/unusual alone (no movers).
   ``--visitors 10000`` asks for the issue's site (207,000 lines a day, 75 M a year: about 16
   CPU minutes to fill); ``--reuse`` times a year built by an earlier run with the same sizes
   and ``--out`` again instead of rebuilding it (``--since`` counts from today, so a store
   built days ago loses its first days).

Every timing is the best of ``--repeat`` runs of a fresh process. Small sizes prove the
script works (``--lines 20000 --days 10 --per-day 2000``); the targets are for the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out" / "store"


def logaudit(*args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "logaudit", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - t


def best(repeat: int, *args: str) -> float:
    return min(logaudit(*args) for _ in range(repeat))


def lines_of(n: int, start: date, days: int) -> list[bytes]:
    sys.path.insert(0, str(REPO))
    from logaudit.samplegen import generate_lines

    return list(generate_lines(n, start=start, days=days))


def incremental(n: int, repeat: int) -> None:
    lines = lines_of(n + repeat * (n // 100), date(2026, 1, 22), 4)
    log, state = OUT / "incr.log", OUT / "incr-state"
    shutil.rmtree(state, ignore_errors=True)
    log.write_bytes(b"".join(lines[:n]))
    startup = best(repeat, "--version")
    full = best(repeat, "summary", str(log), "--format", "json", "-o", os.devnull)
    logaudit("summary", str(log), "--state", str(state), "--format", "json", "-o", os.devnull)
    times = []
    for k in range(repeat):
        # Each repeat appends 1 % more lines (of the first n) and runs once on them.
        part = lines[n + k * (n // 100) : n + (k + 1) * (n // 100)]
        with open(log, "ab") as f:
            f.write(b"".join(part))
        args = ("summary", str(log), "--state", str(state), "--format", "json", "-o", os.devnull)
        times.append(logaudit(*args))
    inc = min(times)
    print(f"lines {n:,}; start-up {startup:.2f} s; full run {full:.2f} s")
    print(
        f"incremental (+1 %): {inc:.2f} s (runs {', '.join(f'{t:.2f}' for t in times)} s); "
        f"beyond start-up {inc - startup:.2f} s = {(inc - startup) / full:.1%} of the full run "
        "(target < 5 %)"
    )


# samplegen's shop writes about this many lines per distinct visitor a day (145 visitors at
# 3,000 lines, 2,903 at 60,000, 10,008 at 207,000): --visitors N asks for N x this a day.
LINES_PER_VISITOR = 20.7


def write_log(path: Path, n: int, start: date, days: int, seed: int) -> None:
    """``n`` shop lines over ``days`` days, streamed to ``path`` a day at a time (a month of a
    10,000-visitor site is 6 M lines: no list of them in memory)."""
    sys.path.insert(0, str(REPO))
    from logaudit.samplegen import write_lines

    with open(path, "wb") as f:
        write_lines(f, n, seed=seed, start=start, days=days)


def year(days: int, per_day: int, repeat: int, reuse: bool = False) -> None:
    state, log = OUT / "year-state", OUT / "year.log"
    built = OUT / "year-built.json"  # how the reusable store was made
    made = json.loads(built.read_text()) if reuse and built.exists() else None
    if made is not None and (made["days"], made["per_day"]) != (days, per_day):
        sys.exit(f"{state} holds {made['days']} days x {made['per_day']} lines: rebuild it")
    if made is None:
        fill = make_year(state, log, days, per_day)
        built.write_text(
            json.dumps(
                {"days": days, "per_day": per_day, "start": str(date.today()), "fill": fill}
            )
        )
    else:
        # --since counts back from today: the store's days must still be the last ones.
        print(f"reusing {state} (built {made['start']}, {made.get('fill', 0):.0f} s)")
    measure_year(state, days, per_day, repeat)


def make_year(state: Path, log: Path, days: int, per_day: int) -> float:
    start = date.today() - timedelta(days=days)
    shutil.rmtree(state, ignore_errors=True)
    step = 30
    t0 = time.perf_counter()
    for first in range(0, days, step):
        n = min(step, days - first)
        # Each month its own seed: the same seed would bring back the same visitors.
        write_log(log, per_day * n, start + timedelta(days=first), n, seed=1000 + first)
        # A new file each month, as after a rotation: the store tells it from the last.
        logaudit(
            "summary",
            str(log),
            "--state",
            str(state),
            "--section",
            "daily",
            "--format",
            "json",
            "-o",
            os.devnull,
        )
    fill = time.perf_counter() - t0
    log.unlink()
    print(f"{days} days x {per_day:,} lines: store filled in {fill:.0f} s")
    return fill


def measure_year(state: Path, days: int, per_day: int, repeat: int) -> None:
    size = sum(f.stat().st_size for f in state.rglob("*") if f.is_file())
    trends = ("trends", "--state", str(state), "--every", "month", "--since", f"{days}d")
    out = ("--format", "json", "-o", os.devnull)
    t = best(repeat, *trends, *out)
    # Without movers (they read the page-view events of their periods): the series alone,
    # read from the closed days' stored visits (store/visitdays.py).
    series = ("--section", "periods", "--section", "change", "--section", "unusual")
    t_series = best(repeat, *trends, *series, *out)
    stored = json.loads((state / "store.json").read_text())["days"]
    visitors = sum(d["files"]["visitor_days"]["rows"] for d in stored.values()) / len(stored)
    closed = sum(1 for d in stored.values() if d.get("closed"))
    day_bytes = size / len(stored)
    # Per-day tables grow with visitors (and their lines): scaled to the site.
    year_mb = day_bytes / visitors * 10_000 * 365 / 1e6
    print(f"{days} days x {per_day:,} lines: store {size / 1e6:.1f} MB (target < 100 MB)")
    print(
        f"{len(stored)} days stored ({closed} closed), {visitors:,.0f} visitors a day: "
        f"{day_bytes / 1e3:.0f} kB a day; a year of 10,000 visitors a day ~ {year_mb:,.0f} MB"
    )
    print(f"trends --state --every month --since {days}d: {t:.2f} s (target < 1 s)")
    print(f"  the same, periods/change/unusual only: {t_series:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--per-day", type=int, default=40_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--only", choices=("incremental", "year"), help="run one of the two measurements"
    )
    ap.add_argument(
        "--out", default="store", help="folder under bench/out for the logs and stores (store)"
    )
    ap.add_argument(
        "--visitors",
        type=int,
        help=f"visitors a day instead of --per-day (x {LINES_PER_VISITOR} lines; 10000: the "
        "issue's site, 75 M lines a year)",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="time the year's store built by an earlier run with the same sizes (and --out)",
    )
    a = ap.parse_args()
    if a.visitors:
        a.per_day = round(a.visitors * LINES_PER_VISITOR)
    global OUT
    OUT = OUT.parent / a.out
    OUT.mkdir(parents=True, exist_ok=True)
    if a.only != "year":
        incremental(a.lines, a.repeat)
    if a.only != "incremental":
        year(a.days, a.per_day, a.repeat, a.reuse)


if __name__ == "__main__":
    main()
