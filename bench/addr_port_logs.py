"""The logs and the regex cost of docs/performance.md's twentieth round (branch qafix20a): an
``addr:port`` client (ALB, HAProxy) read up to its last colon.

    python bench/addr_port_logs.py [--lines 200000] [--out DIR]
    valgrind --tool=callgrind python bench/addr_port_logs.py --regex DIR/haproxy.log 20000

The first form writes, from one synthetic combined log (``python -m logaudit.samplegen``, seed
42), ``haproxy.log`` and ``alb.log`` under ``DIR`` (default ``bench/out/qafix20a-addr-port``):
the same requests, times, statuses, sizes and agents, each IPv4 client with a port. The second
runs one ``pc.extract_regex`` of the detected format's line pattern (the parse's first step) on
the file's first N lines: run it under callgrind in the base and in the branch's tree (its
instruction count is steady under load). It imports ``logaudit`` from the current folder.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r'^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<bytes>\S+) "[^"]*" "(?P<agent>[^"]*)"'
)
HAPROXY = (
    "{mon} {day:02d} {hms} hostname haproxy[6801]: {client}:{port} [{clf}.584] ft_https~ "
    'bk_https/abc 0/0/0/72/72 {status} {bytes} - - ---- 5/4/0/1/0 0/0 "{request}"'
)
ALB = (
    "h2 {iso}.361692Z app/my-alb/abc {client}:{port} 10.0.0.1:80 0.000 0.003 0.000 "
    '{status} {status} 29 {bytes} "{request}" "{agent}" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2'
)


def write_logs(lines: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    combined = out / "combined.log"
    subprocess.run(
        [sys.executable, "-m", "logaudit.samplegen", "--lines", str(lines), "--output",
         str(combined)],
        check=True,
    )
    with (
        combined.open() as src,
        (out / "haproxy.log").open("w") as hap,
        (out / "alb.log").open("w") as alb,
    ):
        for i, line in enumerate(src):
            m = LINE.match(line)
            if m is None:
                continue
            t = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
            size = "0" if m["bytes"] == "-" else m["bytes"]
            common = {"client": m["client"], "port": 1024 + i % 60000, "status": m["status"],
                      "bytes": size, "request": m["request"]}
            hap.write(HAPROXY.format(mon=t.strftime("%b"), day=t.day, hms=t.strftime("%H:%M:%S"),
                                     clf=m["time"].split()[0], **common) + "\n")
            alb.write(ALB.format(iso=t.strftime("%Y-%m-%dT%H:%M:%S"), agent=m["agent"],
                                 **common) + "\n")


def regex_once(path: Path, n: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from logaudit.formats import detect
    from logaudit.parse import _line_regex

    with path.open("rb") as f:
        raw = b"".join(f.readline() for _ in range(n))
    det = detect(raw, path.name)
    lines = pa.array(raw.decode().splitlines())
    matched = pc.extract_regex(lines, _line_regex(det))
    print(det.format.name, len(lines), "lines,", matched.null_count, "not matched")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "qafix20a-addr-port")
    ap.add_argument("--regex", nargs=2, metavar=("LOG", "N"))
    args = ap.parse_args()
    if args.regex:
        regex_once(Path(args.regex[0]), int(args.regex[1]))
    else:
        write_logs(args.lines, args.out)


if __name__ == "__main__":
    main()
