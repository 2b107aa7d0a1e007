"""Time ``AgentClassifier.classify`` on 50,000 distinct, realistic user agents.

    python bench/bench_agents.py [--count 50000] [--seed 1]

The agents are real ones from ../shared/data/useragents (uap-core's test agents and the
crawler-user-agents instances), each varied in its version numbers and build ids until there are
``--count`` distinct strings: about 70 % browsers and apps, 30 % robots. Without the shared folder
(or PyYAML) the agents are synthetic, built from a few browser and robot templates. Target: under
5 s for 50,000 distinct agents.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from logaudit.enrich.agents import RESOLVER, AgentClassifier  # noqa: E402

# uap-core families counted as browsers when choosing the 70 % share.
BROWSERS = frozenset(
    {
        "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium",
        "Firefox", "Firefox Mobile", "Firefox iOS", "Safari", "Mobile Safari",
        "Mobile Safari UI/WKWebView", "Edge", "Edge Mobile", "Opera", "Opera Mobile",
        "Opera Mini", "Samsung Internet", "IE", "IE Mobile", "UC Browser", "Yandex Browser",
        "Facebook", "Instagram", "Android", "Brave", "Vivaldi",
    }
)  # fmt: skip

SYNTHETIC_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Safari/537.36 Edg/{a}.0.{d}.{c}",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_{e}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{f}.{e} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{a}.0) Gecko/20100101 Firefox/{a}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS {f}_{e} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{f}.{e} Mobile/15E{b} Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS {f}_{e} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{f}.{e} Mobile/15E{b} Safari/604.1",
    "Mozilla/5.0 (Linux; Android {g}; SM-S{b}B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android {g}; Pixel {e}) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/{g}.0 Chrome/{a}.0.{b}.{c} Mobile Safari/537.36",
)
SYNTHETIC_ROBOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.{e}; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.{e}; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.{e}; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html) {b}",
    "curl/{g}.{a}.{e}",
    "python-requests/2.{a}.{e}",
    "Go-http-client/1.{e}",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.{e}; http://mj12bot.com/{b})",
)

_NUMBER = re.compile(r"\d+")


def shared_dir() -> Path | None:
    env = os.environ.get("LOGAUDIT_SHARED_DATA")
    for d in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (d / "useragents").is_dir():
            return d / "useragents"
    return None


def corpus_pools() -> tuple[list[str], list[str]] | None:
    """(browsers and apps, robots) from the shared corpora, or None."""
    d = shared_dir()
    if d is None:
        return None
    try:
        import yaml
    except ImportError:
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    people: list[str] = []
    robots: list[str] = []
    for case in yaml.load((d / "uap-core_test_ua.yaml").read_text("utf-8"), loader)["test_cases"]:
        (people if case["family"] in BROWSERS else robots).append(case["user_agent_string"])
    for case in yaml.load((d / "uap-core_test_os.yaml").read_text("utf-8"), loader)["test_cases"]:
        people.append(case["user_agent_string"])
    for entry in json.loads((d / "crawler-user-agents.json").read_text("utf-8")):
        robots.extend(entry.get("instances", []))
    return sorted(set(people)), sorted(set(robots))


def vary(agent: str, rng: random.Random) -> str:
    """The agent with some of its numbers (versions, builds) replaced by others of equal width."""

    def repl(m: re.Match[str]) -> str:
        if rng.random() < 0.5:
            return m.group(0)
        width = len(m.group(0))
        return str(rng.randrange(10 ** (width - 1) if width > 1 else 0, 10**width))

    varied = _NUMBER.sub(repl, agent)
    if varied == agent:  # no number, or none changed: add a build id as many apps do
        varied = f"{agent} build/{rng.randrange(1, 10**6)}"
    return varied


def synthetic(rng: random.Random) -> str:
    robot = rng.random() < 0.3
    template = rng.choice(SYNTHETIC_ROBOTS if robot else SYNTHETIC_BROWSERS)
    return template.format(
        a=rng.randrange(60, 135),
        b=rng.randrange(1000, 9999),
        c=rng.randrange(1, 250),
        d=rng.randrange(1000, 3000),
        e=rng.randrange(0, 9),
        f=rng.randrange(12, 18),
        g=rng.randrange(8, 15),
    )


def build_agents(count: int, seed: int) -> tuple[list[str], str]:
    rng = random.Random(seed)
    pools = corpus_pools()
    out: dict[str, None] = {}
    if pools is None:
        while len(out) < count:
            out[synthetic(rng)] = None
        return list(out), "synthetic templates"
    people, robots = pools
    while len(out) < count:
        pool = people if rng.random() < 0.7 else robots
        base = rng.choice(pool)
        out[base if base not in out else vary(base, rng)] = None
    return list(out), f"shared corpora ({len(people)} people, {len(robots)} robot base agents)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    agents, source = build_agents(args.count, args.seed)
    index = pd.Index(agents, dtype="str")
    print(f"{len(index):,} distinct agents from {source}; resolver {RESOLVER}")

    t0 = time.perf_counter()
    classifier = AgentClassifier()
    t1, c1 = time.perf_counter(), time.process_time()
    table = classifier.classify(index)
    t2, c2 = time.perf_counter(), time.process_time()
    classifier.classify(index)  # all cached now
    t3 = time.perf_counter()

    seconds = t2 - t1
    print(f"set-up            {t1 - t0:7.3f} s")
    print(f"classify (cold)   {seconds:7.3f} s   {len(index) / seconds:10,.0f} agents/s")
    # CPU seconds: the figure to compare across runs on a machine shared with other work.
    print(f"  of which CPU    {c2 - c1:7.3f} s   {len(index) / (c2 - c1):10,.0f} agents/CPU-s")
    print(f"classify (cached) {t3 - t2:7.3f} s   {len(index) / (t3 - t2):10,.0f} agents/s")
    print(f"total             {t3 - t0:7.3f} s")
    shares = table["agent_class"].value_counts(normalize=True).round(3).to_dict()
    print(f"agent classes     {shares}")
    print(f"target <5 s for 50,000: {'met' if seconds < 5 * len(index) / 50_000 else 'MISSED'}")


if __name__ == "__main__":
    main()
