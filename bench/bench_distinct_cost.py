"""Cost per distinct value: what one more distinct client, path, referrer or user agent costs
``logaudit summary`` in time and memory (issue #18, docs/performance.md "Cost per distinct value").

    python bench/bench_distinct_cost.py [--sizes 100000,1000000,5000000]
                                        [--kinds client,path,referrer,agent] [--repeat 1]
                                        [-- extra logaudit arguments]

For each size N and each kind, a combined log of N lines in which only that field is new on
every line while the others repeat from a small realistic pool (``POOL``), plus a baseline
where nothing is distinct, is written once to ``bench/out/cost-KIND-N.log`` (reused when
present). The new values take ``bench_summary.build_distinct``'s shapes: a client counted up
from 1.0.0.0, a ~200-byte ``/search/...?f0=...`` path, a ``https://refHASH.example.net/p/N``
referrer, and an agent of the botnet rotation (5 real shapes, each line its own major, build and
patch number: these share lookups, see docs/performance.md). ``agent-token`` (not run by default)
also gives every agent a unique token, so that every one is parsed.

Each log is summarised by ``/usr/bin/time -f '%e %U %S %M' logaudit summary FILE --format json``
(output discarded; the agent cache off, so each run classifies as a first run does), and the
script prints lines/s, wall, CPU (user + system), peak RSS, and the marginal cost of one distinct
value: (CPU of the kind - CPU of the baseline) / N in microseconds, and (peak RSS of the kind -
peak RSS of the baseline) / N in bytes. With ``--repeat`` > 1 the median run (by CPU) is kept.

The 5M logs are about 2 GB each (path) and the runs take minutes: run the full set on a quiet
host, and never in a unit test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_summary import _AGENTS, OUT, REPO, _h  # noqa: E402

KINDS: tuple[str, ...] = ("client", "path", "referrer", "agent")
EXTRA_KINDS: tuple[str, ...] = ("agent-token",)
BASELINE = "baseline"
SIZES: tuple[int, ...] = (100_000, 1_000_000, 5_000_000)

# The repeating values: a small site's regular visitors, pages, referrers and browsers.
POOL = 200
_PAGES = (
    b"/",
    b"/about",
    b"/contact",
    b"/search?q=shoes",
    b"/static/css/main.4f1c2a.css",
    b"/static/js/app.9b8e1d.js",
    b"/images/logo.png",
    b"/favicon.ico",
)
_SITES = (
    b"-",
    b"https://www.google.com/",
    b"https://www.bing.com/",
    b"https://duckduckgo.com/",
    b"https://news.ycombinator.com/",
    b"https://t.co/abc123",
)


def pool_client(k: int) -> bytes:
    return b"192.0.2.%d" % (k % POOL % 254 + 1) if k % 2 else b"198.51.100.%d" % (k % 97 + 1)


def pool_path(k: int) -> bytes:
    j = k % POOL
    if j < len(_PAGES):
        return _PAGES[j]
    return b"/products/%d-item" % j if j % 3 else b"/category/c%d" % (j % 40)


def pool_referrer(k: int) -> bytes:
    j = k % 50
    return _SITES[j] if j < len(_SITES) else b"https://shop.example.com/category/c%d" % j


def pool_agent(k: int) -> bytes:
    j = k % 20
    return _AGENTS[j % len(_AGENTS)] % (110 + j, 0, 0)


def new_client(i: int, h: int) -> bytes:
    return b"%d.%d.%d.%d" % (1 + (i >> 24) % 223, i >> 16 & 255, i >> 8 & 255, i & 255)


def new_path(i: int, h: int) -> bytes:
    path = b"/search/%016x?" % h + b"&".join(
        b"f%d=%x" % (k, (h >> (4 * k)) ^ (i * (k + 1))) for k in range(14)
    )
    return path[:200]


def new_referrer(i: int, h: int) -> bytes:
    return b"https://ref%x.example.net/p/%x" % (h >> 20, i)


def new_agent(i: int, h: int) -> bytes:
    return _AGENTS[h % len(_AGENTS)] % (80 + (h >> 8) % 45, i // 1000, i % 1000)


def new_agent_token(i: int, h: int) -> bytes:
    return (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        b"Gecko) Chrome/%d.0.%d.%d Safari/537.36 Ext/%x" % (90 + h % 40, i % 7000, h % 200, i)
    )


Field = Callable[[int, int], bytes]
NEW: dict[str, tuple[str, Field]] = {
    "client": ("client", new_client),
    "path": ("path", new_path),
    "referrer": ("referrer", new_referrer),
    "agent": ("agent", new_agent),
    "agent-token": ("agent", new_agent_token),
}


def build(kind: str, n: int, dest: Path) -> None:
    """N combined lines over one day; only ``kind``'s field new on every line (none for the
    baseline). Deterministic."""
    field, make = NEW.get(kind, ("", new_client))
    t0 = datetime(2026, 3, 1)
    with open(dest, "wb") as out:
        buf: list[bytes] = []
        for i in range(n):
            h = _h(b"c", i)
            k = h >> 11
            ip = make(i, h) if field == "client" else pool_client(k)
            path = make(i, h) if field == "path" else pool_path(k >> 3)
            ref = make(i, h) if field == "referrer" else pool_referrer(k >> 5)
            ua = make(i, h) if field == "agent" else pool_agent(ip[-1] + (k >> 7))
            ts = (t0 + timedelta(seconds=i * 86_400 // n)).strftime("%d/%b/%Y:%H:%M:%S").encode()
            status = (200, 200, 200, 200, 304, 404, 301, 500)[h % 8]
            buf.append(
                b'%s - - [%s +0000] "GET %s HTTP/1.1" %d %d "%s" "%s"\n'
                % (ip, ts, path, status, 500 + h % 20_000, ref, ua)
            )
            if len(buf) >= 50_000:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))


def ensure(kind: str, n: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    dest = OUT / f"cost-{kind}-{n}.log"
    if dest.exists():
        return dest
    tmp = dest.with_suffix(".part")
    t0 = time.perf_counter()
    build(kind, n, tmp)
    tmp.replace(dest)
    size = dest.stat().st_size / 1e6
    took = time.perf_counter() - t0
    print(f"built {dest.name} ({n:,} lines, {size:,.0f} MB) in {took:.1f} s", file=sys.stderr)
    return dest


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float


def measure(log: Path, extra: list[str]) -> Run:
    """One ``logaudit summary`` under /usr/bin/time, output discarded."""
    cmd = [
        "/usr/bin/time", "-f", "%e %U %S %M",
        sys.executable, "-m", "logaudit", "summary", str(log), "--format", "json", "--no-cache",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines = p.stderr.strip().splitlines()
    if p.returncode != 0 or not lines:
        sys.stderr.write(p.stderr[-3000:])
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}")
    wall, user, system, rss_kb = lines[-1].split()
    return Run(float(wall), float(user) + float(system), int(rss_kb) / 1024)


def median_run(log: Path, extra: list[str], repeat: int) -> Run:
    runs = sorted((measure(log, extra) for _ in range(repeat)), key=lambda r: r.cpu)
    return runs[len(runs) // 2]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="lines per log, a,b,c")
    ap.add_argument("--kinds", default=",".join(KINDS), help=", ".join(KINDS + EXTRA_KINDS))
    ap.add_argument("--repeat", type=int, default=1, help="runs per log; the median is kept")
    ap.add_argument("extra", nargs="*", help="extra logaudit arguments (after --)")
    a = ap.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in a.sizes.split(",") if s]
    except ValueError:
        sys.exit(f"--sizes: not a list of line counts: {a.sizes!r}")
    kinds = [k for k in a.kinds.split(",") if k]
    unknown = [k for k in kinds if k not in NEW]
    if unknown or not sizes or a.repeat < 1:
        sys.exit(f"--kinds: one or more of {', '.join(NEW)}; --sizes and --repeat positive")

    print(f"# logaudit summary --format json --no-cache {' '.join(a.extra)}".rstrip())
    print(f"# host: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    head = (
        f"{'kind':<12} {'lines':>10} {'lines/s':>10} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7}"
        f" {'us/value':>9} {'B/value':>8}"
    )
    rows: list[str] = []
    for n in sizes:
        base = median_run(ensure(BASELINE, n), a.extra, a.repeat)
        rows.append(
            f"{BASELINE:<12} {n:>10,} {n / base.wall:>10,.0f} {base.wall:>7.2f} {base.cpu:>7.2f}"
            f" {base.rss_mb:>7.0f} {'-':>9} {'-':>8}"
        )
        print(rows[-1] if len(rows) > 1 else head + "\n" + rows[-1], flush=True)
        for kind in kinds:
            r = median_run(ensure(kind, n), a.extra, a.repeat)
            us = (r.cpu - base.cpu) / n * 1e6
            per_byte = (r.rss_mb - base.rss_mb) * 1024 * 1024 / n
            rows.append(
                f"{kind:<12} {n:>10,} {n / r.wall:>10,.0f} {r.wall:>7.2f} {r.cpu:>7.2f}"
                f" {r.rss_mb:>7.0f} {us:>9.2f} {per_byte:>8.0f}"
            )
            print(rows[-1], flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at end; median CPU of {a.repeat} run(s)")
    if len(sizes) > 1:
        print("# a B/value that holds across sizes is memory per distinct value; one that falls")
        print("# with N was a fixed cost spread over more values")


if __name__ == "__main__":
    main()
