"""How many visits and page views a log loses to robots once they are matched as issue 18 asks.

    python bench/robots_people.py LOG [LOG...] [--top 15]

Runs ``logaudit summary`` on the logs twice in fresh child processes: *before*, with robots found
as they were before issue 18 (the crawler list matched case-sensitively, no feed kind, no
``enrich/data/robots.json``: ``RobotMatcher(fold=False, feeds=False, extra=())``), and *after*,
with today's classifier. Prints people hits, page views, visits and unique visitors both ways with
the share each loses, then the agents that were people before and are robots now, by hits.

Issue 18's log is the 10,000-line 2015 Apache log of elastic/examples
(``Common Data Formats/apache_logs/apache_logs``); any log works.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FIGURES = ("people_hits", "page_views", "visits", "unique_visitors")


def _child(mode: str, logs: list[str]) -> None:
    """Runs in the child: install the classifier of ``mode``, summarise, print JSON."""
    import pandas as pd

    from logaudit import api
    from logaudit.config import Settings
    from logaudit.enrich import classify
    from logaudit.enrich.agents import AgentClassifier
    from logaudit.enrich.crawlers import RobotMatcher
    from logaudit.errors import LogauditError

    classifier = AgentClassifier()
    if mode == "before":
        classifier._robots = RobotMatcher(fold=False, feeds=False, extra=())
    classify._classifier = classifier
    # Count the hits of every distinct agent as the enricher meets them.
    hits: dict[str, int] = {}
    lock = threading.Lock()
    original = classify.Enricher._agent_class

    def counting(self: Any, agent: pd.Categorical) -> np.ndarray:
        n = np.bincount(
            np.asarray(agent.codes)[np.asarray(agent.codes) >= 0], minlength=len(agent.categories)
        )
        with lock:
            for name, k in zip(agent.categories.tolist(), n.tolist(), strict=True):
                if k:
                    hits[str(name)] = hits.get(str(name), 0) + k
        return original(self, agent)

    classify.Enricher._agent_class = counting  # type: ignore[method-assign]
    # jobs=1: every block is classified in this process, by the classifier installed above
    try:
        outcome = api.summary(logs, Settings(jobs=1), sections=("crawlers",))
    except LogauditError as e:
        sys.exit(f"robots_people: {e}")
    if outcome.report is None:
        sys.exit("\n".join(outcome.messages) or "no report")
    overview = outcome.report.overview
    out = {k: int(overview.get(k, 0)) for k in ("page_views", "visits", "unique_visitors")}
    out["people_hits"] = (
        int(overview["requests"]) - int(overview["crawler_hits"]) - int(overview["tool_hits"])
    )
    table = classifier.classify(pd.Index(list(hits), dtype=object))
    agents = {
        str(agent): f"{row['agent_class']}:{row['crawler']}" for agent, row in table.iterrows()
    }
    print(json.dumps({"figures": out, "agents": agents, "hits": hits}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--child", choices=("before", "after"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a.child, a.logs)
        return
    runs = {}
    for mode in ("before", "after"):
        done = subprocess.run(
            [sys.executable, __file__, "--child", mode, *a.logs],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            sys.exit(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = runs["before"]["figures"], runs["after"]["figures"]
    print(f"{'':16}{'before':>10}{'after':>10}{'lost':>8}")
    for k in FIGURES:
        lost = 1 - after[k] / before[k] if before[k] else 0.0
        print(f"{k:16}{before[k]:>10,}{after[k]:>10,}{lost:>8.1%}")
    hits = runs["after"]["hits"]
    was, now = runs["before"]["agents"], runs["after"]["agents"]
    changed = [
        (hits.get(agent, 0), agent, now[agent])
        for agent in now
        if was.get(agent, "").startswith("person:") and not now[agent].startswith("person:")
    ]
    changed.sort(reverse=True)
    print(
        f"\npeople before, robots now: {len(changed)} agents, {sum(h for h, *_ in changed):,} hits"
    )
    for n, agent, cls in changed[: a.top]:
        print(f"{n:>7,}  {cls:32.32}  {agent[:90]}")


if __name__ == "__main__":
    main()
