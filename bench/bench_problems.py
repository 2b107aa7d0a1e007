"""Time ``problems``, filtered ``summary`` and ``records --format parquet`` against an
unfiltered ``summary`` on the same generated log (issue #12's speed targets).

    python bench/bench_problems.py [--lines 1000000] [--repeat 3]

Builds (once) the generated N-line combined log that bench_summary.py uses
(``bench/out/generated-N.log``, the synthetic shop), then runs each command as a fresh child
process ``--repeat`` times, taking turns so a drift in the host's speed falls on all, and
prints each one's best wall-clock time and its ratio to the unfiltered summary's best.

Targets (docs/performance.md): problems, a filtered summary and records --format parquet each
within 1.2 x an unfiltered summary; a filter that keeps about 1 % of the lines makes the run
cheaper (the filter is applied before any table is computed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_summary import ensure_log  # noqa: E402 - the sibling script, found through sys.path

RUNS: dict[str, list[str]] = {
    "summary": ["summary", "{log}", "--format", "json", "-o", "{out}/summary.json"],
    "problems": ["problems", "{log}", "--format", "json", "-o", "{out}/problems.json"],
    "summary --status 4xx,5xx (1.2 %)": [
        "summary", "{log}", "--status", "4xx,5xx", "--format", "json", "-o", "{out}/f.json",
    ],
    # About 1.2 % of the generated shop's lines are 4xx or 5xx; 0.4 % are checkout pages.
    "summary --path ^/checkout (0.4 %)": [
        "summary", "{log}", "--path", "^/checkout", "--format", "json", "-o", "{out}/f1.json",
    ],
    "records --format parquet": ["records", "{log}", "-o", "{out}/records.parquet"],
}  # fmt: skip


def once(args: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "logaudit", *args], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - t
    if proc.returncode not in (0, 8, 10):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    log = ensure_log("generated", a.lines, rebuild=False)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "logaudit")], check=True)
    best: dict[str, float] = {}
    for _ in range(a.repeat):
        for name, template in RUNS.items():
            args = [x.format(log=log, out=OUT) for x in template]
            best[name] = min(best.get(name, float("inf")), once(args))
    base = best["summary"]
    print(f"{a.lines:,} lines, best of {a.repeat}")
    for name, t in best.items():
        print(f"  {name:36} {t:7.2f} s  {t / base:5.2f} x summary  {a.lines / t:12,.0f} lines/s")


if __name__ == "__main__":
    main()
