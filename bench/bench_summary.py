"""Time ``logaudit summary`` (or another command) on a big combined log, against GoAccess.

    python bench/bench_summary.py [--lines 1000000] [--repeat 3]
                                  [--source generated|shop|distinct|distinct-tokens]
                                  [--cmd summary] [--scaling [LINES]] [--no-goaccess]
                                  [-- extra logaudit arguments]

1. Builds an N-line combined log under ``bench/out/`` (git-ignored), once per (source, lines):
   ``generated`` runs ``python -m logaudit.samplegen --lines N --output FILE`` (the synthetic
   shop: people, crawlers, campaigns, 404 scanners over 4 days); ``shop`` scales up
   ``../shared/data/logs/lnav/logfile_shop_access_log.0`` (1,000 real lines, 3 minutes of an
   Iranian shop, nginx combined with X-Forwarded-For): copy k is shifted by k x 3 minutes,
   about 70 % of its client addresses are replaced by new ones from the same /16 (30 % come
   back), and 20 % of product and image ids are moved into one of 50 id ranges, so distinct
   clients and paths keep growing with the line count as they do in real logs.
   ``distinct`` is issue #18's worst case (``build_distinct``): every line a new client, a
   ~200-byte path, a new referrer and a new user agent (a botnet's rotation: 5 real agent
   shapes, each line its own version and build numbers), one bad line in 997;
   ``distinct-tokens`` is the same with a unique non-numeric token in every agent as well.
2. Byte-compiles the logaudit package it times, as ``pip install`` does: an editable checkout
   run with PYTHONDONTWRITEBYTECODE set compiles every module from source at each start
   (0.15 s no installed copy pays). Then runs
   ``logaudit CMD FILE --format json -o bench/out/CMD.json`` as a fresh child process
   ``--repeat`` times: best wall-clock time, lines/second and CPU time. Then ``MEMORY_RUNS``
   more runs measure peak memory: the sum of the proportional set sizes (PSS) of the child
   and the processes it forks (``--jobs`` workers, the finish's child), sampled every 50 ms;
   ``ru_maxrss``, also shown, is the largest single process only. Timed runs are not
   sampled: sampling costs the measured machine a tenth of a core (see ``measure``).
3. Where ``goaccess`` is on PATH, times ``goaccess FILE --log-format=COMBINED -o out.json`` the
   same way, taking turns with logaudit (who goes first alternates) so that a drift in the
   host's speed falls on both, and
   prints the throughput ratio (logaudit lines/s / GoAccess lines/s), best against best and
   run by run with its median.
4. ``--scaling [LINES]`` (default 5 x --lines) also runs logaudit on a LINES-line log of the same
   source and prints both runs side by side with their distinct values (clients, paths,
   visitor-days), to check memory grows with distinct values, not with lines.
5. ``--cmd trends`` (any logaudit command taking logs) and arguments after ``--`` time other
   commands and options with the same script.

Targets (docs/performance.md): >= 5 x GoAccess's throughput, peak memory < 600 MB, memory
flat from 1M to 5M lines beyond distinct values. Timings on a shared machine vary: take the
best of several runs, and compare runs made on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
SHOP = "logs/lnav/logfile_shop_access_log.0"


def shared_dir() -> Path | None:
    env = os.environ.get("LOGAUDIT_SHARED_DATA")
    for d in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (d / SHOP).is_file():
            return d
    return None


# ---- building the input ------------------------------------------------------------------


def build_generated(n: int, dest: Path) -> None:
    cmd = [sys.executable, "-m", "logaudit.samplegen", "--lines", str(n), "--output", str(dest)]
    subprocess.run(cmd, check=True, cwd=REPO)


# client, up to the time, the time, up to the target, the target, the rest
_LINE = re.compile(
    rb'^(\S+)( .*? \[)(\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d)( [^\]]*\] "\S+ )(\S+)(.*)$', re.S
)
_ID = re.compile(rb"/(\d{3,})")
COPY_SPAN = timedelta(minutes=3)  # the shop sample covers 03:56:14 to 03:59:11


def _h(*parts: bytes | int) -> int:
    m = hashlib.blake2b(digest_size=8)
    for p in parts:
        m.update(p if isinstance(p, bytes) else str(p).encode())
        m.update(b"\0")
    return int.from_bytes(m.digest(), "big")


def _client(ip: bytes, k: int, cache: dict[tuple[bytes, int], bytes]) -> bytes:
    """Copy k's address for ``ip``: the same one for 30 % of (ip, copy) pairs, else a new
    address in the same /16 (IPv4) or /64 (IPv6), stable within the copy."""
    key = (ip, k)
    if key not in cache:
        h = _h(ip, k)
        if k == 0 or h % 10 < 3:
            cache[key] = ip
        elif b":" in ip:
            head = b":".join(ip.split(b":")[:4])
            cache[key] = head + b":%x:%x:%x:%x" % (h >> 48 & 0xFFFF, h >> 32 & 0xFFFF,
                                                   h >> 16 & 0xFFFF, h & 0xFFFF)
        else:
            a = ip.split(b".")
            cache[key] = b"%s.%s.%d.%d" % (a[0], a[1], (h >> 8) % 256, 1 + h % 254)
    return cache[key]


def build_shop(n: int, dest: Path, source: Path) -> None:
    lines = source.read_bytes().splitlines()
    base = [_LINE.match(line) for line in lines]
    times: dict[tuple[bytes, int], bytes] = {}
    clients: dict[tuple[bytes, int], bytes] = {}
    written = 0
    with open(dest, "wb") as out:
        k = 0
        while written < n:
            buf: list[bytes] = []
            for i, m in enumerate(base):
                if written + len(buf) >= n:
                    break
                if m is None:
                    buf.append(lines[i] + b"\n")
                    continue
                client, mid, ts, pre, target, rest = m.groups()
                tkey = (ts, k)
                if tkey not in times:
                    t = datetime.strptime(ts.decode(), "%d/%b/%Y:%H:%M:%S") + k * COPY_SPAN
                    times[tkey] = t.strftime("%d/%b/%Y:%H:%M:%S").encode()
                if k and _h(b"id", k, i) % 5 == 0:
                    shift = (k % 50) * 100_000
                    target = _ID.sub(lambda d, s=shift: b"/%d" % (int(d[1]) + s), target)
                buf.append(b"".join((_client(client, k, clients), mid, times[tkey], pre,
                                     target, rest, b"\n")))
            out.write(b"".join(buf))
            written += len(buf)
            k += 1
            if len(times) > 1_000_000:
                times.clear()
            if len(clients) > 1_000_000:
                clients.clear()


# A bad line now and then (1 in BAD_EVERY): logaudit counts it, GoAccess skips it.
BAD_EVERY = 997


# A botnet's rotation: real agent shapes with a made-up major, build and patch number each.
_AGENTS = (
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/%d.0.%d.%d Safari/537.36",
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/%d.0.%d.%d Safari/537.36",
    b"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/%d.0.%d.%d Mobile Safari/537.36",
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/%d.0.%d.%d",
    b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/%d.0.%d.%d Safari/537.36 Edg/120.0.2210.91",
)


def build_distinct(n: int, dest: Path, tokens: bool = False) -> None:
    """Issue #18's worst case: every line a new client, path (~200 bytes), referrer and user
    agent, over one day, with a bad line now and then. Deterministic (no random state).

    Agents are a botnet's rotation (``_AGENTS``: each line its own major, build and patch
    number); with ``tokens`` each also carries a unique non-numeric token ('Ext/1f3a'), which
    no lookup sharing can collapse: every agent is parsed."""
    t0 = datetime(2026, 3, 1)
    with open(dest, "wb") as out:
        buf: list[bytes] = []
        for i in range(n):
            if i % BAD_EVERY == BAD_EVERY - 1:
                buf.append(b"this is not a log line %d\n" % i)
                continue
            h = _h(b"d", i)
            ip = b"%d.%d.%d.%d" % (1 + (i >> 24) % 223, i >> 16 & 255, i >> 8 & 255, i & 255)
            ts = (t0 + timedelta(seconds=i * 86_400 // n)).strftime("%d/%b/%Y:%H:%M:%S").encode()
            path = b"/search/%016x?" % h + b"&".join(
                b"f%d=%x" % (k, (h >> (4 * k)) ^ (i * (k + 1))) for k in range(14))
            path = path[:200]
            status = (200, 200, 200, 200, 304, 404, 301, 500)[h % 8]
            ref = b"https://ref%x.example.net/p/%x" % (h >> 20, i)
            if tokens:
                ua = (b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                      b"Gecko) Chrome/%d.0.%d.%d Safari/537.36 Ext/%x"
                      % (90 + h % 40, i % 7000, h % 200, i))
            else:
                ua = _AGENTS[h % len(_AGENTS)] % (80 + (h >> 8) % 45, i // 1000, i % 1000)
            buf.append(b'%s - - [%s +0000] "GET %s HTTP/1.1" %d %d "%s" "%s"\n'
                       % (ip, ts, path, status, 500 + h % 20_000, ref, ua))
            if len(buf) >= 50_000:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))


def ensure_log(source: str, n: int, rebuild: bool) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    dest = OUT / f"{source}-{n}.log"
    if dest.exists() and not rebuild:
        return dest
    tmp = dest.with_suffix(".part")
    t0 = time.perf_counter()
    if source == "generated":
        build_generated(n, tmp)
    elif source in ("distinct", "distinct-tokens"):
        build_distinct(n, tmp, tokens=source == "distinct-tokens")
    else:
        d = shared_dir()
        if d is None:
            sys.exit("--source shop needs ../shared/data (or LOGAUDIT_SHARED_DATA)")
        build_shop(n, tmp, d / SHOP)
    tmp.replace(dest)
    print(f"built {dest.relative_to(REPO)} ({n:,} lines, {dest.stat().st_size / 1e6:,.0f} MB) "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return dest


# ---- measuring -----------------------------------------------------------------------------


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds, the child and the workers it reaped
    peak_mb: float  # peak memory of the process tree (sum of PSS, sampled), MiB
    max_rss_mb: float  # peak RSS of the largest single process (wait4's ru_maxrss), MiB


def _tree(root: int) -> list[int]:
    """``root`` and its live descendants, from /proc/*/stat."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier]
        tree.extend(frontier)
    return tree


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (forked workers) split between their sharers."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the memory of a process tree (logaudit's worker processes included, which
    wait4's ru_maxrss misses: it reports the largest single process) every ``every`` s."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in _tree(self.pid)))
            self.done.wait(self.every)


def measure(cmd: list[str], sample: bool = False) -> Run:
    """One run of ``cmd`` as a fresh child: wall time, CPU time and the largest process's
    peak memory; with ``sample``, also the process tree's peak PSS (``TreeSampler``).

    Timed runs are not sampled: a sample reads /proc for the whole tree and walks the page
    tables of a 400 MB process, 3-6 ms of CPU each, about 0.22 s per 2-second logaudit run.
    That is a tenth of a core taken from a program using both (GoAccess, on one core, lost
    nothing to it), so peak memory comes from separate runs (``memory_runs``)."""
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "stdout.txt", "wb") as so, open(OUT / "stderr.txt", "wb") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, cwd=REPO)
        sampler = TreeSampler(proc.pid) if sample else None
        if sampler is not None:
            sampler.start()
        # Reaped by wait4, which returns this child's own resource usage (not the sum over
        # every child this process has had, as getrusage(RUSAGE_CHILDREN) would).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if sampler is not None:
            sampler.done.set()
            sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write((OUT / "stderr.txt").read_text(errors="replace")[-3000:])
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    rss = usage.ru_maxrss / 1024
    peak = max(sampler.peak_kb / 1024, rss) if sampler is not None else rss
    return Run(wall, usage.ru_utime + usage.ru_stime, peak, rss)


# Sampled runs per command for peak memory, after the timed ones (peak memory varies little
# from run to run: 5-20 MiB at 1M lines).
MEMORY_RUNS = 2


def memory_runs(cmd: list[str]) -> list[Run]:
    return [measure(cmd, sample=True) for _ in range(MEMORY_RUNS)]


def best(runs: list[Run], sampled: Sequence[Run] = ()) -> Run:
    """The fastest timed run's times, with the highest memory seen in any run."""
    top = min(runs, key=lambda r: r.wall)
    every = [*runs, *sampled]
    return Run(top.wall, top.cpu, max(r.peak_mb for r in every), max(r.max_rss_mb for r in every))


def best_of(cmd: list[str], repeat: int) -> tuple[Run, list[Run]]:
    runs = [measure(cmd) for _ in range(repeat)]
    return best(runs, memory_runs(cmd)), runs


def byte_compile() -> str:
    """Byte-compile the logaudit package that will be timed, as ``pip install`` does.

    An editable checkout run with PYTHONDONTWRITEBYTECODE set (as on the project's machines)
    compiles every module from source on each start: 0.15 s that no installed copy pays.
    Returns the folder compiled, or '' when the package is not found."""
    where = "import logaudit, os; print(os.path.dirname(logaudit.__file__))"
    try:
        found = subprocess.run([sys.executable, "-c", where], capture_output=True, text=True,
                               cwd=REPO, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    done = subprocess.run([sys.executable, "-m", "compileall", "-q", found], cwd=REPO,
                          check=False)
    return found if done.returncode == 0 else ""


def logaudit_cmd(cmd: str, log: Path, extra: list[str]) -> list[str]:
    out = OUT / f"{cmd}.json"
    return [sys.executable, "-m", "logaudit", cmd, str(log), "--format", "json", "-o", str(out),
            *extra]


def distinct(cmd: str) -> dict[str, int]:
    """Distinct values in the last logaudit run, from its own JSON (total rows per section)."""
    try:
        report = json.loads((OUT / f"{cmd}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    got = {s["name"]: s.get("total_rows") or 0 for s in report.get("sections", [])}
    ov = report.get("overview", {})
    out = {k: int(ov[k]) for k in ("unique_visitors", "visitor_days") if k in ov}
    for name in ("hosts", "pages", "static", "not-found", "browsers", "referrers"):
        if name in got:
            out[name] = int(got[name])
    return out


def lines_in(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": str(os.cpu_count()), "cpu": cpu, "memory": mem,
            "python": platform.python_version()}


# ---- the command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines in the log [1000000]")
    ap.add_argument("--source", default="generated",
                    choices=("generated", "shop", "distinct", "distinct-tokens"))
    ap.add_argument("--repeat", type=int, default=3, help="runs per command; the best counts [3]")
    ap.add_argument("--cmd", default="summary", help="the logaudit command to time [summary]")
    ap.add_argument("--scaling", type=int, nargs="?", const=-1, metavar="LINES",
                    help="also run logaudit on a LINES-line log (default 5 x --lines)")
    ap.add_argument("--no-goaccess", action="store_true", help="skip GoAccess")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the logs under bench/out")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    args = ap.parse_args(argv)

    log = ensure_log(args.source, args.lines, args.rebuild)
    n = lines_in(log)
    results: dict[str, object] = {"machine": machine(), "source": args.source, "lines": n,
                                  "log_mb": round(log.stat().st_size / 1e6, 1),
                                  "repeat": args.repeat, "cmd": args.cmd, "extra": extra}
    print(f"{args.source} log: {log.relative_to(REPO)}, {n:,} lines, "
          f"{log.stat().st_size / 1e6:,.0f} MB; best of {args.repeat}; "
          f"{os.cpu_count()} CPUs ({results['machine']['cpu']})")  # type: ignore[index]

    compiled = byte_compile()
    results["byte_compiled"] = compiled
    print(f"byte-compiled {compiled} (as pip install does; see byte_compile)" if compiled
          else "could not byte-compile logaudit: start-up includes compiling its modules")
    la_cmd = logaudit_cmd(args.cmd, log, extra)
    goaccess = None if args.no_goaccess else shutil.which("goaccess")
    ga_cmd = ([goaccess, str(log), "--log-format=COMBINED", "-o", str(OUT / "goaccess.json")]
              if goaccess else [])
    # The two tools take turns, so a drift in the host's speed (which is large on a shared
    # virtual machine, and hits logaudit's two busy cores harder than GoAccess's one) falls
    # on both alike; each pair's ratio is printed too.
    la_runs: list[Run] = []
    ga_runs: list[Run] = []
    for turn in range(args.repeat):
        # Who goes first alternates too, so neither always follows the other's run.
        if ga_cmd and turn % 2:
            ga_runs.append(measure(ga_cmd))
        la_runs.append(measure(la_cmd))
        if ga_cmd and not turn % 2:
            ga_runs.append(measure(ga_cmd))
    la_mem = memory_runs(la_cmd)
    ga_mem = memory_runs(ga_cmd) if ga_cmd else []
    la = best(la_runs, la_mem)
    la_rate = n / la.wall
    results["logaudit"] = {"command": " ".join(la_cmd[1:]), "best": asdict(la),
                           "runs": [asdict(r) for r in la_runs], "lines_per_s": round(la_rate),
                           "distinct": distinct(args.cmd)}
    print(f"logaudit {args.cmd}: {la.wall:6.2f} s  {la_rate:10,.0f} lines/s  "
          f"peak {la.peak_mb:6.0f} MiB (largest process {la.max_rss_mb:.0f})  cpu {la.cpu:6.2f} s  "
          f"(runs: {', '.join(f'{r.wall:.2f}' for r in la_runs)} s)")

    if ga_runs:
        ga = best(ga_runs, ga_mem)
        ga_rate = n / ga.wall
        pairs = [g.wall / r.wall for r, g in zip(la_runs, ga_runs, strict=True)]
        results["goaccess"] = {"command": " ".join(ga_cmd), "best": asdict(ga),
                               "runs": [asdict(r) for r in ga_runs],
                               "lines_per_s": round(ga_rate)}
        results["ratio"] = round(la_rate / ga_rate, 2)
        results["paired_ratios"] = [round(x, 2) for x in pairs]
        results["median_paired_ratio"] = round(statistics.median(pairs), 2)
        print(f"goaccess:         {ga.wall:6.2f} s  {ga_rate:10,.0f} lines/s  "
              f"peak {ga.peak_mb:6.0f} MiB (largest process {ga.max_rss_mb:.0f})  "
              f"cpu {ga.cpu:6.2f} s  "
              f"(runs: {', '.join(f'{r.wall:.2f}' for r in ga_runs)} s)")
        print(f"throughput ratio logaudit / goaccess: {la_rate / ga_rate:.2f} best vs best; "
              f"run by run {', '.join(f'{x:.2f}' for x in pairs)} "
              f"(median {statistics.median(pairs):.2f}; targets: >= 5 #2, >= 4 #3)")

    if args.scaling is not None:
        n2 = args.scaling if args.scaling > 0 else 5 * args.lines
        log2 = ensure_log(args.source, n2, args.rebuild)
        la2, la2_runs = best_of(logaudit_cmd(args.cmd, log2, extra), args.repeat)
        m2 = lines_in(log2)
        d1 = results["logaudit"]["distinct"]  # type: ignore[index]
        d2 = distinct(args.cmd)
        results["scaling"] = {"lines": m2, "best": asdict(la2),
                              "runs": [asdict(r) for r in la2_runs],
                              "lines_per_s": round(m2 / la2.wall), "distinct": d2}
        print(f"\nscaling ({args.cmd}, {args.source})  {n:>14,} lines  {m2:>14,} lines")
        print(f"  {'wall s':24}{la.wall:>14.2f}  {la2.wall:>14.2f}")
        print(f"  {'lines/s':24}{la_rate:>14,.0f}  {m2 / la2.wall:>14,.0f}")
        print(f"  {'peak MiB (all processes)':24}{la.peak_mb:>14.0f}  {la2.peak_mb:>14.0f}")
        print(f"  {'largest process MiB':24}{la.max_rss_mb:>14.0f}  {la2.max_rss_mb:>14.0f}")
        for k in sorted(set(d1) | set(d2)):
            print(f"  {'distinct ' + k:24}{d1.get(k, 0):>14,}  {d2.get(k, 0):>14,}")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
