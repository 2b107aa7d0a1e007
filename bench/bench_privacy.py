"""Time ``privacy`` and ``scrub`` against ``summary`` on the same generated log (issue #15's
speed target: each within 1.5 x summary).

    python bench/bench_privacy.py [--lines 1000000] [--repeat 3] [--gzip]

Builds (once) the generated N-line combined log bench_summary.py uses
(``bench/out/generated-N.log``, the synthetic shop), then a copy with personal data planted
(``bench/out/pii-N.log``: tests/pii_log.py's planted data and look-alikes, about one line in a
thousand, spread through the log). Runs each command as a fresh child process ``--repeat``
times, taking turns so a drift in the host's speed falls on all, and prints each one's best
wall-clock time and its ratio to summary's best. ``--gzip`` also times scrub on a gzipped
copy (gzip in, gzip out).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
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


def once(args: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "logaudit", *args], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - t
    if proc.returncode not in (0, 12):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gzip", action="store_true")
    a = ap.parse_args()
    log = build(a.lines)
    runs = dict(RUNS)
    if a.gzip:
        gz = log.with_suffix(".log.gz")
        if not gz.exists():
            with open(log, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst)
        runs["summary (gz)"] = ["summary", str(gz), "--format", "json", "-o", "{out}/s.json"]
        runs["scrub -o (gz)"] = ["scrub", str(gz), "-o", "{out}/scrubbed.log.gz"]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "logaudit")], check=True)
    best: dict[str, float] = {}
    for _ in range(a.repeat):
        for name, template in runs.items():
            args = [x.format(log=log, out=OUT) for x in template]
            best[name] = min(best.get(name, float("inf")), once(args))
    base = best["summary"]
    print(f"{a.lines:,} lines (+ planted), best of {a.repeat}")
    for name, t in best.items():
        ref = best.get("summary (gz)", base) if "(gz)" in name else base
        print(f"  {name:24} {t:7.2f} s  {t / ref:5.2f} x summary  {a.lines / t:12,.0f} lines/s")


if __name__ == "__main__":
    main()
