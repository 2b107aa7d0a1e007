"""Time ``logaudit campaigns`` with two goals against ``logaudit summary`` on the same log.

    python bench/bench_campaigns.py [--lines 1000000] [--source generated|shop] [--repeat 3]

Issue #14's target: on the 1M-line benchmark log, ``campaigns`` with two goals stays within
1.3 x the wall time of ``summary``. The log is built (once) by ``bench_summary``'s builders
under ``bench/out/``; the two commands take turns, who goes first alternating, so a drift in
the machine's speed falls on both; the best run of each counts, and the ratio of the bests
and the median of the run-by-run ratios are printed.

The goals are the sample shop's: a page view of ``/order/complete`` and a ``POST /checkout``
answered 2xx/3xx (a goal hit that is not a page view), with a commission for its affiliate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_summary import (  # noqa: E402 - the sibling script, found through sys.path
    OUT,
    byte_compile,
    ensure_log,
    logaudit_cmd,
    measure,
)

GOALS = [
    "--goal",
    "/order/complete",
    "--goal",
    "checkout=POST /checkout",
    "--commission",
    "partner42=10%",
]
TARGET = 1.3


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines in the log [1000000]")
    ap.add_argument("--source", choices=("generated", "shop"), default="generated")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command [3]")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the log under bench/out")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    args = ap.parse_args(argv)

    log = ensure_log(args.source, args.lines, args.rebuild)
    byte_compile()
    commands = {
        "summary": logaudit_cmd("summary", log, []),
        "campaigns": logaudit_cmd("campaigns", log, GOALS),
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(args.repeat):
        order = list(commands) if i % 2 == 0 else list(reversed(commands))
        for name in order:
            run = measure(commands[name])
            walls[name].append(run.wall)
            cpus[name].append(run.cpu)
    ratios = [c / s for c, s in zip(walls["campaigns"], walls["summary"], strict=True)]
    best = {name: min(w) for name, w in walls.items()}
    result = {
        "lines": args.lines,
        "source": args.source,
        "runs": args.repeat,
        "best_seconds": best,
        "cpu_seconds_of_best": {n: cpus[n][walls[n].index(best[n])] for n in commands},
        "ratio_of_bests": round(best["campaigns"] / best["summary"], 3),
        "median_ratio": round(statistics.median(ratios), 3),
        "target": TARGET,
    }
    report = json.loads((OUT / "campaigns.json").read_text(encoding="utf-8"))
    conv = next(s for s in report["sections"] if s["name"] == "conversions")
    result["conversions"] = conv.get("headline", {}).get("conversions")
    for name in commands:
        print(
            f"{name:10} best {best[name]:.2f} s   runs " + " ".join(f"{w:.2f}" for w in walls[name])
        )
    print(
        f"campaigns / summary: {result['ratio_of_bests']:.2f} (bests), "
        f"{result['median_ratio']:.2f} (median of run pairs); target <= {TARGET}; "
        f"{result['conversions']} conversions"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
