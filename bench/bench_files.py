"""Time ``logaudit summary`` on a glob of many small files, against GoAccess (issue #18).

    python bench/bench_files.py [--files 1000,5000,20000] [--lines 3] [--repeat 1]
                                [--jobs 1] [--no-goaccess] [-- extra logaudit arguments]

1. Builds, once per (files, lines), a folder ``bench/out/files-N-L/`` (git-ignored) of N files
   of L lines each: consecutive lines of the project's generator (``logaudit.samplegen``,
   combined format), so every file is its own stretch of the synthetic shop's traffic (what a
   load balancer writes: one small object per node every few minutes).
2. Runs ``logaudit summary 'DIR/*.log' --format json -o ...`` as a fresh child, ``--repeat``
   times: best wall time, files/s, lines/s, CPU time and the child's peak memory (wait4's
   ``ru_maxrss``; the glob is expanded by logaudit, not a shell).
3. Runs logaudit once more on the same lines as one file (``DIR.log``, their concatenation):
   the difference is what the number of files costs, in time and in memory (the figures
   themselves are the same: tests/test_many_files.py).
4. Where ``goaccess`` is on PATH, runs it on the same files, taking turns with logaudit:
   ``goaccess F1 F2 ... --log-format=COMBINED -o out.json`` when the file names fit in the
   argument list (``ARGV_BYTES``), else ``cat DIR/*.log | goaccess - ...`` through a shell
   (said in the output: GoAccess then reads one stream and its time includes cat's).

Targets (docs/performance.md, "Many files"): 20,000 files of 3 lines in under 10 s, cost
linear in the number of files (files/s about the same at 1k, 5k and 20k), peak memory flat.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_summary import OUT, REPO, Run, byte_compile, measure  # noqa: E402 - the sibling

# File names passed to GoAccess as arguments up to this many bytes (Linux allows 2 MB for
# arguments and environment together, 128 KB per argument); past it, through cat.
ARGV_BYTES = 1 << 20


def build(files: int, lines: int) -> Path:
    """The folder of ``files`` files of ``lines`` generated lines each (built once)."""
    folder = OUT / f"files-{files}-{lines}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    sys.path.insert(0, str(REPO))
    from logaudit.samplegen import generate_lines

    folder.mkdir(parents=True, exist_ok=True)
    gen = generate_lines(files * lines)
    with open(folder.with_suffix(".log"), "wb") as whole:
        for i in range(files):
            data = b"".join(next(gen) for _ in range(lines))
            (folder / f"node-{i:06d}.log").write_bytes(data)
            whole.write(data)
    done.write_text("")
    return folder


def goaccess_cmd(goaccess: str, folder: Path) -> tuple[list[str], str]:
    """GoAccess's command on every file of ``folder``, and how the files reach it."""
    paths = sorted(str(p) for p in folder.glob("*.log"))
    out = str(OUT / "goaccess-files.json")
    if sum(len(p) + 1 for p in paths) <= ARGV_BYTES:
        return [goaccess, *paths, "--log-format=COMBINED", "-o", out], "files as arguments"
    script = f"cat {folder}/*.log | {goaccess} - --log-format=COMBINED -o {out}"
    return ["sh", "-c", script], "through cat (argument list too long)"


def show(who: str, run: Run, files: int, lines: int) -> None:
    print(
        f"  {who:9} {run.wall:7.2f} s  {files / run.wall:9,.0f} files/s  "
        f"{files * lines / run.wall:10,.0f} lines/s  cpu {run.cpu:6.2f} s  "
        f"peak {run.max_rss_mb:6.0f} MiB"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", default="1000,5000,20000", help="comma-separated file counts")
    ap.add_argument("--lines", type=int, default=3, help="lines per file")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="logaudit --jobs")
    ap.add_argument("--no-goaccess", action="store_true")
    ap.add_argument("extra", nargs="*", help="more logaudit arguments (after --)")
    args = ap.parse_args(argv)
    byte_compile()
    goaccess = None if args.no_goaccess else shutil.which("goaccess")
    for n in (int(x) for x in args.files.split(",")):
        folder = build(n, args.lines)
        la_cmd = [sys.executable, "-m", "logaudit", "summary", str(folder / "*.log"),
                  "--format", "json", "-o", str(OUT / "files.json"), *args.extra]
        if args.jobs > 1:
            la_cmd += ["--jobs", str(args.jobs)]
        ga_cmd, how = goaccess_cmd(goaccess, folder) if goaccess else ([], "")
        one_cmd = [*la_cmd[:4], str(folder.with_suffix(".log")), *la_cmd[5:]]
        one_runs: list[Run] = []
        la_runs: list[Run] = []
        ga_runs: list[Run] = []
        for k in range(args.repeat):
            # Taking turns, who goes first alternating: a drift in the host falls on both.
            order = [(la_cmd, la_runs), (one_cmd, one_runs), (ga_cmd, ga_runs)]
            for cmd, runs in order if k % 2 == 0 else order[::-1]:
                if cmd:
                    runs.append(measure(cmd))
        print(f"{n:,} files of {args.lines} lines ({folder}):")
        show("logaudit", min(la_runs, key=lambda r: r.wall), n, args.lines)
        show("one file", min(one_runs, key=lambda r: r.wall), n, args.lines)
        if ga_runs:
            show("goaccess", min(ga_runs, key=lambda r: r.wall), n, args.lines)
            print(f"  (goaccess: {how}; ratio logaudit/goaccess time "
                  f"{min(r.wall for r in la_runs) / min(r.wall for r in ga_runs):.2f})")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
