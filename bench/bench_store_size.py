"""The history store's size on disk: bytes per day, per table and per column, and a year's.

    python bench/bench_store_size.py [--days 8] [--per-day 200000] [--out store-size]

Writes ``--days`` days of samplegen's shop traffic (``--per-day`` lines a day) as one log under
``bench/out/<out>/``, fills a fresh store from it with one ``summary --state`` run (every day
but the last is closed by it, as a daily cron job would close them), then prints:

- the store's bytes per day (closed days only: the open last day is a day's state for one
  night), and the visitors a day (rows of the stored ``visitor_days``);
- per table, the mean bytes per closed day, and per column the compressed bytes of its column
  chunks (Parquet metadata), largest first;
- the year's extrapolation: bytes per closed day scaled to 10,000 visitors a day (linearly in
  visitors: an over-estimate when the measured density is lower, as paths and agents repeat),
  x 365, plus the month roll-ups (``store/months.py``: measured as their share of the days they
  stand for when the store has any, else not counted).

Target (issue #16): the store for a year of a 10,000-visitors-a-day site under 100 MB.
Small sizes prove the script works (``--days 3 --per-day 5000``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def fill(folder: Path, days: int, per_day: int) -> Path:
    sys.path.insert(0, str(REPO))
    from logaudit.samplegen import write_lines

    log, state = folder / "shop.log", folder / "state"
    shutil.rmtree(state, ignore_errors=True)
    if not log.exists():  # the same days and density: the same log
        with open(log, "wb") as f:
            write_lines(f, per_day * days, start=date(2026, 3, 2), days=days)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t = time.perf_counter()
    cmd = ["summary", str(log), "--state", str(state), "--format", "json", "-o", os.devnull]
    subprocess.run([sys.executable, "-m", "logaudit", *cmd], env=env, check=True)
    print(f"store filled in {time.perf_counter() - t:.1f} s ({per_day * days:,} lines)")
    return state


def columns(path: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    out: dict[str, int] = defaultdict(int)
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        for c in range(rg.num_columns):
            col = rg.column(c)
            out[col.path_in_schema] += col.total_compressed_size
    return out


def report(state: Path, top: int) -> None:
    raw = json.loads((state / "store.json").read_text())
    days = raw["days"]
    closed = sorted(d for d, i in days.items() if i.get("closed"))
    if not closed:
        sys.exit("no closed day: give --days 2 or more")
    tables: dict[str, int] = defaultdict(int)
    cols: dict[tuple[str, str], int] = defaultdict(int)
    rows: dict[str, int] = defaultdict(int)
    total = 0
    for d in closed:
        info = days[d]
        for table, meta in info["files"].items():
            path = state / f"day={d}" / f"{table}.g{meta.get('gen', info['gen'])}.parquet"
            size = path.stat().st_size
            total += size
            tables[table] += size
            rows[table] += meta["rows"]
            for c, b in columns(path).items():
                cols[(table, c)] += b
    n = len(closed)
    # Files beside the days (store.json, key, a dictionary if any), spread over every day.
    shared = sum(f.stat().st_size for f in state.iterdir() if f.is_file()) / max(len(days), 1)
    visitors = sum(days[d]["files"].get("visitor_days", {}).get("rows", 0) for d in closed) / n
    per_day = total / n + shared
    print(
        f"{n} closed days; {visitors:,.0f} visitors a day; {per_day / 1e3:,.1f} kB a day "
        f"({total / n / 1e3:,.1f} kB of day files, {shared / 1e3:,.1f} kB of shared files); "
        f"{per_day / visitors:,.1f} bytes per visitor-day"
    )
    print(f"\n{'table':28} {'kB/day':>9} {'rows/day':>10} {'B/row':>7}")
    for t, b in sorted(tables.items(), key=lambda kv: -kv[1]):
        print(f"{t:28} {b / n / 1e3:9.1f} {rows[t] / n:10,.0f} {b / max(rows[t], 1):7.1f}")
    print(f"\n{'table.column (compressed chunks)':44} {'kB/day':>9}")
    for (t, c), b in sorted(cols.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{t + '.' + c:44} {b / n / 1e3:9.1f}")
    # Month roll-ups (store/months.py): their bytes over the bytes of the days they cover.
    rolled, covered = 0, 0
    for m, info in raw.get("months", {}).items():
        for table, meta in info["files"].items():
            f = state / f"month={m}" / f"{table}.g{meta.get('gen', info['gen'])}.parquet"
            rolled += f.stat().st_size
        covered += sum(1 for d in closed if d.startswith(m))
    share = rolled / (covered * total / n) if covered else 0.0
    if covered:
        print(
            f"\nmonth roll-ups: {rolled / 1e3:,.1f} kB for {covered} days "
            f"(+{share:.0%} of those days' files)"
        )
    year = per_day / visitors * 10_000 * 365 * (1 + share)
    counted = ", month roll-ups included)" if covered else "; no month rolled up: not counted)"
    print(
        f"\na year at 10,000 visitors a day ~ {year / 1e6:,.0f} MB (target < 100 MB; scaled "
        "linearly in visitors from this density" + counted
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=8)
    ap.add_argument("--per-day", type=int, default=200_000)
    ap.add_argument("--out", default="store-size", help="folder under bench/out")
    ap.add_argument("--top", type=int, default=25, help="columns listed")
    ap.add_argument("--reuse", action="store_true", help="report on the existing store")
    a = ap.parse_args()
    folder = OUT / f"{a.out}-{a.days}x{a.per_day}"
    folder.mkdir(parents=True, exist_ok=True)
    state = folder / "state" if a.reuse else fill(folder, a.days, a.per_day)
    report(state, a.top)


if __name__ == "__main__":
    main()
