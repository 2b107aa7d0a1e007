"""Time ``privacy`` and ``scrub`` against ``summary`` on the same generated log (issue #15's
speed target: each within 1.5 x summary).

    python bench/bench_privacy.py [--lines 1000000] [--repeat 3] [--gzip]

Builds (once) the generated N-line combined log bench_summary.py uses
(``bench/out/generated-N.log``, the synthetic shop), then a copy with personal data planted
(``bench/out/pii-N.log``: tests/pii_log.py's planted data and look-alikes, about one line in a
thousand, spread through the log). Runs each command as a fresh child process ``--repeat``
times, taking turns so a drift in the host's speed falls on all, and prints each one's best
wall-clock time and its ratio to summary's best, and the median CPU time (user + system, of
the child) with its ratio to summary's. ``--gzip`` also times scrub on a gzipped copy (gzip
in, gzip out).

    python bench/bench_privacy.py --against /work/main --repeat 3

``--against TREE`` runs every command with TREE's code too (from TREE's root, so its
``logaudit`` package is imported), alternating with this tree's in every round (which goes
first swaps each round), and prints both, side by side: the way to compare before and after
on a shared host, where CPU medians say more than single wall times.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_summary import ensure_log  # noqa: E402 - the sibling script, found through sys.path

RUNS: dict[str, list[str]] = {
    "summary": ["summary", "{log}", "--format", "json", "-o", "{out}/summary.json"],
    "privacy": ["privacy", "{log}", "--format", "json", "-o", "{out}/privacy.json"],
    "scrub -o": ["scrub", "{log}", "-o", "{out}/scrubbed.log"],
    "summary --anonymize": [
        "summary", "{log}", "--anonymize", "--format", "json", "-o", "{out}/summary-anon.json",
    ],
}  # fmt: skip


def build(lines: int) -> Path:
    base = ensure_log("generated", lines, rebuild=False)
    log = OUT / f"pii-{lines}.log"
    if not log.exists():
        from pii_log import lines as planted

        extra = planted(repeat=max(1, lines // 40_000), ordinary=0)
        every = max(1, lines // max(1, len(extra)))
        with open(base, "rb") as src, open(log, "wb") as dst:
            it = iter(extra)
            for i, line in enumerate(src):
                dst.write(line)
                if i % every == every - 1:
                    nxt = next(it, None)
                    if nxt is not None:
                        dst.write(nxt.encode() + b"\n")
    return log


def once(args: list[str], tree: Path = REPO) -> tuple[float, float]:
    """One fresh ``python -m logaudit ARGS`` from ``tree``: (wall, CPU user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "logaudit", *args], cwd=tree,
                          capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 12):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--against", type=Path, default=None,
                    help="another tree (e.g. main's) to time the same commands with, in turns")
    a = ap.parse_args()
    log = build(a.lines).resolve()
    runs = dict(RUNS)
    if a.gzip:
        gz = log.with_suffix(".log.gz")
        if not gz.exists():
            with open(log, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst)
        runs["summary (gz)"] = ["summary", str(gz), "--format", "json", "-o", "{out}/s.json"]
        runs["scrub -o (gz)"] = ["scrub", str(gz), "-o", "{out}/scrubbed.log.gz"]
    trees = {"this": REPO}
    if a.against is not None:
        trees["against"] = a.against.resolve()
    for tree in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "logaudit")],
                       check=True)
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as tmp:
        for r in range(a.repeat):
            order = list(trees.items()) if r % 2 == 0 else list(trees.items())[::-1]
            for name, template in runs.items():
                for label, tree in order:
                    out = Path(tmp) / label
                    out.mkdir(mode=0o700, exist_ok=True)
                    args = [x.format(log=log, out=out) for x in template]
                    wall, cpu = once(args, tree)
                    walls.setdefault((label, name), []).append(wall)
                    cpus.setdefault((label, name), []).append(cpu)
    print(f"{a.lines:,} lines (+ planted), {a.repeat} turns; wall: best, CPU: median")
    for label, tree in trees.items():
        if len(trees) > 1:
            print(f"{label}: {tree}")
        best = {name: min(walls[label, name]) for name in runs}
        cpu = {name: statistics.median(cpus[label, name]) for name in runs}
        for name in runs:
            ref = "summary (gz)" if "(gz)" in name else "summary"
            print(f"  {name:24} {best[name]:7.2f} s  {best[name] / best[ref]:5.2f} x summary"
                  f"  {a.lines / best[name]:12,.0f} lines/s   CPU {cpu[name]:6.2f} s"
                  f"  {cpu[name] / cpu[ref]:5.2f} x")


if __name__ == "__main__":
    main()
