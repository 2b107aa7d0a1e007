"""What parts of a run cost, in-process (best of --repeat), on the benchmark log.

* visits: a summary with the visit figures (per-chunk page-view events, sessionization and
  the entry/exit sections) against the same summary without them;
* trends against summary (the issue's target: within 1.2x);
* sessionization alone, on the merged events.

    python bench/bench_parts.py                       # bench/out/generated-1000000.log
    python bench/bench_parts.py --log other.log --repeat 5

Builds the log with bench_summary.py's generator first if it is missing. Not a test: timings
depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from logaudit import api
from logaudit.analyze import SUMMARY_SECTIONS, TRENDS_SECTIONS, build_report, tables_for
from logaudit.analyze.visits import sessionize
from logaudit.config import load
from logaudit.engine.local import run
from logaudit.enrich.classify import Enricher
from logaudit.sources import expand

HERE = Path(__file__).resolve().parent
DEFAULT_LOG = HERE / "out" / "generated-1000000.log"


def best(f: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def summary_without_visits(log: Path) -> None:
    settings = load({})
    sections = tuple(s for s in SUMMARY_SECTIONS if s not in ("entry-pages", "exit-pages"))
    r = run(expand([str(log)]), settings, tables_for(sections, visits_overview=False))
    build_report(r, settings, sections, "summary")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=Path, default=DEFAULT_LOG)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if not a.log.exists():
        subprocess.run(
            [sys.executable, "-m", "logaudit.samplegen", "--lines", "1000000", "--output",
             str(a.log)], check=True,
        )
    log = str(a.log)
    settings = load({})
    with_visits = best(lambda: api.report("summary", [log], settings), a.repeat)
    without = best(lambda: summary_without_visits(a.log), a.repeat)
    trends = best(
        lambda: api.report("trends", [log], load({"extra": {"every": "auto", "metrics": ()}})),
        a.repeat,
    )
    r = run(expand([log]), settings, tables_for(TRENDS_SECTIONS), enricher=Enricher(settings))
    events = r.partial["pv_events"]
    sess = best(lambda: sessionize(events, settings.visit_timeout), a.repeat)
    print(f"log: {log}")
    print(f"summary with visits     {with_visits:6.2f} s")
    print(f"summary without visits  {without:6.2f} s   visits add {with_visits - without:+.2f} s")
    print(f"sessionize {len(events):,} page-view events: {sess:.3f} s")
    print(f"trends (auto)           {trends:6.2f} s   {trends / with_visits:.2f} x summary")
    return 0


if __name__ == "__main__":
    sys.exit(main())
