"""Time ``logaudit summary`` on the other log families and on a log with bad lines, against
GoAccess reading the same file with its equivalent format.

    python bench/bench_formats.py [--lines 1000000] [--repeat 3] [--only NAME ...]

Builds, under ``bench/out/`` (git-ignored), from one synthetic combined log
(``python -m logaudit.samplegen``):

* ``combined-bad``: the combined log with, every 10,000 lines, one line whose user agent is cut
  short (no closing quote) and one line of garbage; ``combined-repaired`` is the same log with
  the agent's quote closed and the garbage left out. Target: logaudit's time on the first within
  1.1x of the second, and >= 5x GoAccess (``--log-format=COMBINED``).
* ``nginx-timed``: the custom nginx format ``... "$http_user_agent" $request_time``, read with
  ``--log-format 'nginx:...'``; GoAccess with the equivalent specifier string. Target >= 5x.
* ``w3c``: IIS's default W3C fields under a ``#Fields:`` header (detected); GoAccess
  ``--log-format=W3C``. Target >= 4x.
* ``nginx-json``: an nginx ``escape=json`` template; GoAccess with its JSON specifier string.
  Target >= 4x.
* ``caddy``: Caddy's JSON access log (detected; Arrow's JSON reader); GoAccess ``CADDY``.

Each run is a fresh process under ``/usr/bin/time``: best wall-clock time of ``--repeat`` runs,
and the peak resident memory of the run (target < 600 MB at 1M lines). The two tools take turns.
Timings on a shared machine vary: compare runs made at the same time, and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_summary import ensure_log  # noqa: E402 - the sibling script, found through sys.path

LINE = re.compile(
    r'^(?P<client>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<bytes>\S+) "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)"'
)
NGINX_TIMED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'
)
GOACCESS_TIMED = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T'
# Every value quoted, as nginx's documentation writes escape=json templates (GoAccess 1.7's
# JSON reader does not take an unquoted number for %s or %b).
NGINX_JSON = (
    '{"t":"$time_iso8601","ip":"$remote_addr","req":"$request","st":"$status",'
    '"b":"$body_bytes_sent","ref":"$http_referer","ua":"$http_user_agent","rt":"$request_time"}'
)
GOACCESS_JSON = '{"t":"%x","ip":"%h","req":"%r","st":"%s","b":"%b","ref":"%R","ua":"%u","rt":"%T"}'
W3C_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)


@dataclass
class Case:
    name: str
    file: Path
    logaudit_args: list[str]
    goaccess_args: list[str]


def derive(lines: int) -> list[Case]:
    """The benchmark logs, written once per line count (a slow Python loop, outside timing)."""
    src = ensure_log("generated", lines, rebuild=False)
    names = {
        n: OUT / f"{n}-{lines}.log"
        for n in ("combined-bad", "combined-repaired", "nginx-timed", "w3c", "nginx-json", "caddy")
    }
    if not all(p.exists() for p in names.values()):
        rng = random.Random(11)
        outs = {n: open(p, "w", encoding="utf-8") for n, p in names.items()}  # noqa: SIM115
        outs["w3c"].write(f"#Software: bench\n#Version: 1.0\n#Fields: {W3C_FIELDS}\n")
        with open(src, encoding="utf-8", errors="surrogateescape") as f:
            for i, line in enumerate(f):
                line = line.rstrip("\n")
                m = LINE.match(line)
                if m is None:
                    continue
                rt = f"{rng.lognormvariate(-3, 1.1):.3f}"
                if i % 10_000 == 5_000:
                    cut = line[: line.rindex('"')]
                    outs["combined-bad"].write(cut + "\n")
                    outs["combined-repaired"].write(cut + '"\n')
                    outs["combined-bad"].write("2026/01/01 00:00:00 [error] 12#12: stray line\n")
                else:
                    outs["combined-bad"].write(line + "\n")
                    outs["combined-repaired"].write(line + "\n")
                outs["nginx-timed"].write(f"{line} {rt}\n")
                when = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
                utc = when.astimezone().utctimetuple()
                method, _, rest = m["request"].partition(" ")
                target = rest.rsplit(" ", 1)[0]
                path, _, query = target.partition("?")
                agent = m["agent"].replace(" ", "+") or "-"
                outs["w3c"].write(
                    f"{utc.tm_year:04d}-{utc.tm_mon:02d}-{utc.tm_mday:02d} "
                    f"{utc.tm_hour:02d}:{utc.tm_min:02d}:{utc.tm_sec:02d} 10.0.0.1 "
                    f"{method or '-'} {path.replace(' ', '+') or '/'} {query or '-'} 443 "
                    f"{m['user']} {m['client']} {agent} {m['referrer'] or '-'} {m['status']} 0 0 "
                    f"{int(float(rt) * 1000)}\n"
                )
                size = "0" if m["bytes"] == "-" else m["bytes"]
                esc = {k: m[k].replace("\\", "\\\\").replace('"', '\\"') for k in LINE.groupindex}
                outs["nginx-json"].write(
                    f'{{"t":"{when.isoformat()}","ip":"{esc["client"]}","req":"{esc["request"]}",'
                    f'"st":"{m["status"]}","b":"{size}","ref":"{esc["referrer"]}",'
                    f'"ua":"{esc["agent"]}","rt":"{rt}"}}\n'
                )
                outs["caddy"].write(
                    json.dumps(
                        {
                            "level": "info",
                            "ts": when.timestamp(),
                            "logger": "http.log.access",
                            "msg": "handled request",
                            "request": {
                                "remote_ip": m["client"],
                                "client_ip": m["client"],
                                "proto": m["request"].rsplit(" ", 1)[-1],
                                "method": method or "GET",
                                "host": "shop.example.com",
                                "uri": target or "/",
                                "headers": {"User-Agent": [m["agent"]], "Referer": [m["referrer"]]},
                            },
                            "user_id": "",
                            "duration": float(rt),
                            "size": int(size),
                            "status": int(m["status"]),
                        }
                    )
                    + "\n"
                )
        for o in outs.values():
            o.close()
    dates = ["--date-format=%d/%b/%Y", "--time-format=%T"]
    return [
        Case("combined-repaired", names["combined-repaired"], [], ["--log-format=COMBINED"]),
        Case("combined-bad", names["combined-bad"], [], ["--log-format=COMBINED"]),
        Case(
            "nginx-timed",
            names["nginx-timed"],
            ["--log-format", "nginx:" + NGINX_TIMED],
            [f"--log-format={GOACCESS_TIMED}", *dates],
        ),
        Case("w3c", names["w3c"], [], ["--log-format=W3C"]),
        Case(
            "nginx-json",
            names["nginx-json"],
            ["--log-format", "nginx:" + NGINX_JSON],
            [f"--log-format={GOACCESS_JSON}", "--datetime-format=%Y-%m-%dT%H:%M:%S%z"],
        ),
        Case("caddy", names["caddy"], [], ["--log-format=CADDY"]),
    ]


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stderr tail) of one fresh process; logaudit's CPU seconds
    (user + system, less sensitive to other processes than wall time) go to CPU[its log]."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M %U %S", *cmd],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    last = proc.stderr.strip().splitlines()[-1]
    wall, rss, user, system = last.split()
    if "logaudit" in cmd[:3]:
        CPU.setdefault(cmd[4], []).append(float(user) + float(system))
    if proc.returncode != 0:
        return float("nan"), int(rss) // 1024, proc.stderr[-500:]
    return float(wall), int(rss) // 1024, ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    goaccess = shutil.which("goaccess")
    cases = [c for c in derive(args.lines) if not args.only or c.name in args.only]
    print(f"{args.lines:,} lines; best of {args.repeat}; a shared machine: timings are noisy")
    print(f"{'case':20} {'logaudit s':>10} {'MB':>5} {'goaccess s':>10} {'MB':>5} {'ratio':>6}")
    best: dict[str, float] = {}
    for case in cases:
        la_cmd = [sys.executable, "-m", "logaudit", "summary", str(case.file), "--format", "json"]
        la_cmd += [*case.logaudit_args, "-o", str(OUT / f"{case.name}.json")]
        ga_cmd = [
            goaccess or "goaccess", str(case.file), "--no-global-config", "--no-query-string",
            "--no-ip-validation", "--num-tests=0", "--no-progress", "--no-parsing-spinner",
            *case.goaccess_args, "-o", str(OUT / f"{case.name}.goaccess.json"),
        ]  # fmt: skip
        la_runs, ga_runs = [], []
        for r in range(args.repeat):
            order = [("la", la_cmd), ("ga", ga_cmd)]
            if r % 2:
                order.reverse()
            for who, cmd in order:
                if who == "ga" and goaccess is None:
                    continue
                result = timed(cmd)
                if result[2]:
                    print(f"  {case.name} {who} failed: {result[2]}")
                (la_runs if who == "la" else ga_runs).append(result)
        la_t = min(t for t, _, _ in la_runs)
        la_m = max(m for _, m, _ in la_runs)
        ga_t = min((t for t, _, _ in ga_runs), default=float("nan"))
        ga_m = max((m for _, m, _ in ga_runs), default=0)
        best[case.name] = la_t
        print(f"{case.name:20} {la_t:10.2f} {la_m:5d} {ga_t:10.2f} {ga_m:5d} {ga_t / la_t:6.2f}x")
    if "combined-bad" in best and "combined-repaired" in best:
        ratio = best["combined-bad"] / best["combined-repaired"]
        print(f"bad lines cost: {ratio:.2f}x the repaired log's time (target <= 1.1x)")
        cpu = {
            name: min(min(v) for k, v in CPU.items() if f"/{name}-" in k)
            for name in ("combined-bad", "combined-repaired")
        }
        print(
            f"  in CPU time: {cpu['combined-bad']:.2f} s against {cpu['combined-repaired']:.2f} s"
            f" ({cpu['combined-bad'] / cpu['combined-repaired']:.2f}x)"
        )


if __name__ == "__main__":
    main()
