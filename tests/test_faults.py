"""Faults and hostile inputs (issue #19): absurd times, damaged archives, NUL prefixes, output
files, exit codes for internal errors, signals and processes.

Each test states the fault it injects and checks the promise: nothing a user asked for is lost,
nothing is injected, nothing blows up, and every failure is one line with its documented code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loglines import isolate, line, write

from logaudit import plausible
from logaudit.cli import cli
from logaudit.errors import ExitCode


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("COLUMNS", "100")


def run(*args: str | Path, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True)


def summary_json(*args: str | Path, code: int = 0, command: str = "summary") -> dict:
    r = run(command, *args, "--format", "json")
    assert r.exit_code == code, (r.exit_code, r.stderr, r.exception)
    return json.loads(r.stdout)


def section(report: dict, name: str) -> dict:
    return next(s for s in report["sections"] if s["name"] == name)


# ---- implausible times and offsets are bad lines with their own reasons --------------------


ABSURD = {
    "01/Jan/0001:00:00:00 +0000": "implausible timestamp: before 1990-01-01",
    "31/Dec/9999:23:59:59 +0000": "implausible timestamp: more than 1 day in the future",
    "31/Dec/1989:23:59:59 +0000": "implausible timestamp: before 1990-01-01",
    "01/Jan/2024:00:00:00 +9959": plausible.OFFSET_RANGE_REASON,
    "01/Jan/2024:00:00:00 -1401": plausible.OFFSET_RANGE_REASON,
    "01/Jan/2024:00:00:00 +0160": plausible.OFFSET_MINUTES_REASON,
}


@pytest.mark.parametrize("command", ["summary", "trends", "visits"])
def test_absurd_times_are_bad_lines_with_reasons(tmp_path: Path, command: str) -> None:
    good = [line(when="01/Jan/2024:10:00:00 +1400"), line(when="02/Jan/2024:10:00:00 -1200")]
    log = write(tmp_path / "a.log", [line(when=w) for w in ABSURD] + good)
    rep = summary_json(log, command=command)
    assert rep["overview"]["requests"] == 2
    bad = rep["bad_lines"]
    assert bad["total"] == len(ABSURD)
    got = {e["line"]: e["reason"] for e in bad["examples"]}
    # Examples keep the first five; each names its own reason.
    for n, reason in enumerate(ABSURD.values(), start=1):
        if n in got:
            assert got[n] == reason


def test_window_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = write(tmp_path / "a.log", [line(when="01/Jan/1985:00:00:00 +0000"), line()])
    assert summary_json(log)["overview"]["requests"] == 1
    monkeypatch.setenv("LOGAUDIT_EARLIEST", "1980-01-01")
    assert summary_json(log)["overview"]["requests"] == 2
    monkeypatch.setenv("LOGAUDIT_EARLIEST", "not a date")
    r = run("summary", log)
    assert r.exit_code == ExitCode.CONFIG, r.stderr


def test_window_ahead_days(tmp_path: Path) -> None:
    win = plausible.window("1990-01-01", 0)
    later = plausible.window("1990-01-01", 3)
    assert later.hi - win.hi >= 3 * 86400 - 5
    with pytest.raises(ValueError):
        plausible.window("1990-01-01", -1)


def test_lines_only_too_far_ahead_are_said_as_such(tmp_path: Path) -> None:
    # QA18 #13: a log dated more than a day ahead said "100% of lines did not parse as
    # combined ... is --log-format right?": the format is right, ahead_days is the reason.
    ahead = [line(when=f"31/Dec/9999:10:00:0{k} +0000") for k in range(3)]
    log = write(tmp_path / "a.log", [*ahead, line()])
    r = run("summary", log, "-o", tmp_path / "out.txt")
    said = [w for w in r.stderr.splitlines() if "a.log: 75%" in w]
    assert said == [
        f"logaudit: {log}: 75% of lines were not counted (3 bad lines): its bad lines are dated "
        "more than 1 day in the future, not another format; if its clock is right, raise "
        "ahead_days (LOGAUDIT_AHEAD_DAYS)"
    ], r.stderr
    # Another reason among the examples: the format may be wrong, and the hint stays.
    log = write(tmp_path / "b.log", [*ahead, "junk", line()])
    r = run("summary", log, "-o", tmp_path / "out.txt")
    assert "b.log: 80% of lines did not parse as combined" in r.stderr, r.stderr
    assert "is --log-format right?" in r.stderr
    # Review of qafix18b #2: more bad lines than examples, the first ones dated ahead and the
    # rest another format: not "not another format" from the first five examples alone.
    log = write(tmp_path / "c.log", [*ahead * 2, *["{}"] * 20, line()])
    r = run("summary", log, "--log-format", "combined", "-o", tmp_path / "out.txt")
    said = [w for w in r.stderr.splitlines() if "c.log: " in w]
    assert said == [
        f"logaudit: {log}: 96% of lines did not parse as combined (26 bad lines; the first 5 "
        "are dated more than 1 day in the future); is --log-format right?"
    ], r.stderr


def test_far_apart_hits_do_not_blow_up(tmp_path: Path) -> None:
    # The 3-line log with first and last hit 35 years apart: each per-period table is
    # capped at PERIOD_ROWS rows, with a note, and its total says how many periods there were.
    from logaudit.analyze.periods import PERIOD_ROWS, PERIOD_ROWS_MAX

    log = write(
        tmp_path / "far.log",
        [line(when="01/Jan/1991:00:00:00 +0000"), line(when="01/Jan/2026:00:00:00 +0000")],
    )
    daily = section(summary_json(log), "daily")
    assert len(daily["rows"]) == PERIOD_ROWS
    assert "only the last 1,000 days" in daily["note"]
    assert daily["rows"][-1]["date"] == "2026-01-01"
    for every in ("hour", "day", "week"):
        rep = summary_json(log, "--every", every, command="trends")
        periods = section(rep, "periods")
        assert len(periods["rows"]) == PERIOD_ROWS, every
        assert "only the last 1,000" in periods["note"]
        # The most recent hit is in the series; the old one is still in the totals.
        assert sum(r["hits"] for r in periods["rows"]) == 1
        assert rep["overview"]["requests"] == 2
    # --top raises the cap; --top 0 shows all, up to PERIOD_ROWS_MAX.
    rows = section(summary_json(log, "--top", "2000"), "daily")["rows"]
    assert len(rows) == 2000
    rows = section(summary_json(log, "--top", "0"), "daily")["rows"]
    assert len(rows) == 35 * 365 + 9 + 1  # 9 leap days in 1992..2024
    periods = section(summary_json(log, "--top", "0", "--every", "hour", command="trends"),
                      "periods")
    assert len(periods["rows"]) == PERIOD_ROWS_MAX


def test_near_hits_are_not_capped(tmp_path: Path) -> None:
    log = write(
        tmp_path / "near.log",
        [line(when="01/Jan/2024:00:00:00 +0000"), line(when="31/Mar/2024:00:00:00 +0000")],
    )
    daily = section(summary_json(log), "daily")
    assert len(daily["rows"]) == 91
    assert "only the last" not in daily["note"]


# ---- damaged archives: every line before the damage, as the system's tools recover ---------


def _numbered(n: int, seed: int = 0) -> bytes:
    """``n`` distinct combined lines whose content does not compress to nothing."""
    import random

    rnd = random.Random(seed)
    return b"".join(
        line(
            client=f"10.{seed}.{i % 250}.{i % 199}",
            request=f"GET /p{i}?q={rnd.getrandbits(64):x} HTTP/1.1",
            size=rnd.randrange(10**6),
        ).encode()
        + b"\n"
        for i in range(n)
    )


def _same_lines(got: bytes, raw: bytes) -> int:
    """How many lines ``got`` shares with ``raw`` from the start."""
    n = 0
    for a, b in zip(got.split(b"\n"), raw.split(b"\n"), strict=False):
        if a != b:
            break
        n += 1
    return n


def _read(path: Path) -> tuple[bytes, list]:
    from logaudit.sources import Input, ReadState, read_blocks

    state = ReadState()
    data = b"".join(bytes(b.data) for b in read_blocks(Input(str(path), path), state))
    return data, state.problems


ARCHIVES = {
    "gz": ("gzip", "zcat"),
    "xz": ("lzma", "xzcat"),
    "bz2": ("bz2", "bzcat"),
}


def _compress(ext: str, raw: bytes) -> bytes:
    import bz2
    import gzip
    import lzma

    return {"gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress}[ext](raw)


@pytest.mark.parametrize("where", [0.05, 0.3, 0.5, 0.8, 0.97])
@pytest.mark.parametrize("ext", list(ARCHIVES))
def test_damaged_archive_keeps_what_the_tool_recovers(
    tmp_path: Path, ext: str, where: float
) -> None:
    import shutil
    import subprocess

    tool = ARCHIVES[ext][1]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    raw = _numbered(20000)
    packed = bytearray(_compress(ext, raw))
    at = int(len(packed) * where)
    packed[at : at + 6] = b"\x55\xaa\x00\xff\x13\x37"
    p = tmp_path / f"access.log.{ext}"
    p.write_bytes(bytes(packed))
    ref = subprocess.run([tool], input=bytes(packed), capture_output=True, check=False).stdout
    got, problems = _read(p)
    assert _same_lines(got, raw) >= _same_lines(ref, raw)
    [problem] = problems
    assert problem.exit_code == ExitCode.INPUT_TRUNCATED
    assert "every line before it was read" in problem.message
    assert "compressed bytes were skipped" in problem.message


@pytest.mark.parametrize("ext", ["gz", "xz", "bz2"])
def test_reading_resumes_at_the_next_member(tmp_path: Path, ext: str) -> None:
    first, second = _numbered(3000, seed=1), _numbered(3000, seed=2)
    a = bytearray(_compress(ext, first))
    a[len(a) // 2 : len(a) // 2 + 8] = b"\xff" * 8
    p = tmp_path / f"access.log.{ext}"
    p.write_bytes(bytes(a) + _compress(ext, second))
    got, problems = _read(p)
    # The intact second member is read whole, after whatever the damaged one gave.
    assert got.endswith(second)
    if ext != "bz2":  # bzip2 checks whole 900 kB blocks: this member is one block
        assert _same_lines(got, first) > 100
    [problem] = problems
    assert "reading resumed at the next compressed stream" in problem.message


def test_damaged_archive_from_the_cli(tmp_path: Path) -> None:
    raw = _numbered(4000)
    packed = bytearray(_compress("gz", raw))
    packed[len(packed) // 2 : len(packed) // 2 + 16] = b"\x00" * 16
    p = tmp_path / "access.log.gz"
    p.write_bytes(bytes(packed))
    r = run("summary", p, "--format", "json")
    assert r.exit_code == ExitCode.INPUT_TRUNCATED, r.stderr
    assert json.loads(r.stdout)["overview"]["requests"] > 1000
    assert "damaged at byte" in r.stderr


def test_damaged_stdin_loses_at_most_a_step(tmp_path: Path) -> None:
    # stdin cannot be re-read: xz's decoder is rebuilt from nothing, so at most one step of
    # compressed input (16 KB) is lost before the damage.
    raw = _numbered(20000)
    packed = bytearray(_compress("xz", raw))
    at = len(packed) // 2
    packed[at : at + 4] = b"\xff" * 4
    r = run("summary", "-", "--format", "json", input=bytes(packed))
    assert r.exit_code == ExitCode.INPUT_TRUNCATED, r.stderr
    assert json.loads(r.stdout)["overview"]["requests"] > 8000


# ---- NUL runs (copytruncate) are one stretch each, not lines; "binary" is a share ----------


@pytest.mark.parametrize("size", [1, 7, 4096, 8192, 65536])
def test_nul_prefix_is_skipped_and_counted_once(tmp_path: Path, size: int) -> None:
    lines = [line(when=f"0{d}/Mar/2024:10:00:00 +0000") for d in range(1, 6)]
    p = tmp_path / "access.log"
    p.write_bytes(b"\x00" * size + "\n".join(lines).encode() + b"\n")
    rep = summary_json(p)
    assert rep["overview"]["requests"] == 5
    assert rep["bad_lines"]["total"] == 0 and rep["inputs"][0]["nul_runs"] == 1
    [example] = rep["bad_lines"]["examples"]
    assert example["line"] == 1
    assert f"bytes 0-{size - 1:,}: {size:,} NUL bytes skipped" in example["reason"]


def test_nul_runs_mid_file_and_across_blocks(tmp_path: Path) -> None:
    from logaudit.sources import Input, ReadState, read_blocks

    good = (line() + "\n").encode()
    raw = good * 3 + b"\x00" * 5000 + good * 2 + b"\x00" * 3 + good
    p = tmp_path / "access.log"
    p.write_bytes(raw)
    blocks = list(read_blocks(Input(str(p), p), ReadState(), block_bytes=1024))
    stretches = [s for b in blocks for s in b.stretches]
    assert [s[0] for s in stretches] == [4, 6]
    start = 3 * len(good)
    assert f"bytes {start:,}-{start + 4999:,}: 5,000 NUL bytes" in stretches[0][1]
    assert b"".join(bytes(b.data) for b in blocks) == raw.replace(b"\x00", b"")
    rep = summary_json(p)
    assert rep["overview"]["requests"] == 6
    assert rep["bad_lines"]["total"] == 0 and rep["inputs"][0]["nul_runs"] == 2


def _nine(k: int, path: str = "/") -> bytes:
    return "".join(
        line(request=f"GET {path if i == k else '/'} HTTP/1.1") + "\n" for i in range(9)
    ).encode()


@pytest.mark.parametrize(
    ("raw", "lines", "parsed", "bad", "skipped", "runs"),
    [
        # copytruncate's hole before the first line: that line is read, the hole is no line.
        (b"\x00" * 5000 + _nine(-1), 9, 9, 0, 0, 1),
        # NULs written into a request's path: the request counts, without them.
        (_nine(4, "/b\x00\x00\x00c"), 9, 9, 0, 0, 1),
        # A line of nothing but NULs: a blank line, skipped.
        (_nine(-1) + b"\x00" * 3 + b"\n", 10, 9, 0, 1, 1),
        # A NUL tail without a final newline: a last line without its newline, blank.
        (_nine(-1) + b"\x00" * 4000, 10, 9, 0, 1, 1),
        # A hostile log: a NUL in each of nine lines, eighteen good ones, a garbage line.
        (_nine(-1).replace(b"GET /", b"GET /\x00") + _nine(-1) * 2 + b"garbage\n", 28, 27, 1, 0, 9),
    ],
    ids=["copytruncate", "in-a-path", "a-line-of-nuls", "a-nul-tail", "hostile"],
)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_nul_run_is_no_line_and_the_counts_add_up(
    tmp_path: Path,
    raw: bytes,
    lines: int,
    parsed: int,
    bad: int,
    skipped: int,
    runs: int,
    jobs: str,
) -> None:
    """lines are physical lines (``wc -l``, one more for a last line without its newline),
    each parsed, bad or skipped once: lines = parsed + bad + skipped. A NUL run is a mark,
    counted in ``nul_runs`` and said in one warning of its own, not a bad line: the share of
    lines that did not parse counts parse failures only, and the examples show those first,
    then the first run (one slot). On 9f685ae each run was one more line and one more bad
    line: the hostile log (28 lines, 1 garbage) read as lines 37, bad 10, and a warning that
    27 % of its lines did not parse."""
    p = tmp_path / "access.log"
    p.write_bytes(raw)
    assert lines == raw.count(b"\n") + (not raw.endswith(b"\n"))
    r = run("summary", p, "--jobs", jobs, "--top", "0", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    [got] = rep["inputs"]
    assert (got["lines"], got["parsed"], got["bad_lines"]) == (lines, parsed, bad)
    assert (got["skipped_lines"], got["nul_runs"]) == (skipped, runs)
    assert got["lines"] == got["parsed"] + got["bad_lines"] + got["skipped_lines"]
    assert rep["bad_lines"]["total"] == bad
    reasons = [e["reason"] for e in rep["bad_lines"]["examples"]]
    assert ["NUL bytes skipped" in x for x in reasons] == [False] * bad + [True]
    plural = "s" if runs > 1 else ""
    said = f"{p}: {runs} run{plural} of NUL bytes skipped (logrotate's copytruncate or a crash"
    assert [w for w in rep["warnings"] if "NUL" in w] == [said + " while writing)"]
    assert not [w for w in rep["warnings"] if "did not parse" in w]
    assert said in r.stderr
    if b"/b" in raw:
        pages = next(s["rows"] for s in rep["sections"] if s["name"] == "pages")
        assert "/bc" in [r["path"] for r in pages]


@pytest.mark.parametrize("jobs", ["2", "3"])
def test_a_job_range_of_nul_lines_keeps_its_lines_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """--jobs cuts a big file into byte ranges; one holding lines of NULs only (shorter than
    a block) lost its lines and runs (read as "nothing but NUL bytes"): the run counted
    fewer lines and runs than one process."""
    from logaudit.engine import local

    monkeypatch.setattr(local, "SPAN_MIN_BYTES", 1)  # forked workers inherit it
    p = tmp_path / "access.log"
    p.write_bytes(_nine(1) + (b"\x00" * 2000 + b"\n") * 60)
    one = summary_json(p, "--top", "0")
    many = summary_json(p, "--top", "0", "--jobs", jobs)
    one.pop("generated"), many.pop("generated")
    [got] = many["inputs"]
    assert (got["lines"], got["nul_runs"], got["skipped_lines"]) == (69, 60, 60)
    assert many == one


def test_a_nul_run_is_one_example_slot_after_the_parse_failures(tmp_path: Path) -> None:
    """Six garbage lines after a copytruncate hole: the examples are the first four
    garbage lines, then the hole (line 1), not the hole first."""
    p = tmp_path / "access.log"
    p.write_bytes(b"\x00" * 100 + _nine(-1) + b"garbage\n" * 6)
    rep = summary_json(p)
    lines = [e["line"] for e in rep["bad_lines"]["examples"]]
    assert lines == [10, 11, 12, 13, 1]
    assert rep["bad_lines"]["total"] == 6


@pytest.mark.parametrize(
    ("tail", "said"),
    [(b"", "1 run of NUL bytes"), (b"garbage\n", "1 bad line and 1 run of NUL bytes")],
)
def test_strict_exits_6_on_a_nul_run_and_says_which(
    tmp_path: Path, tail: bytes, said: str
) -> None:
    p = tmp_path / "access.log"
    p.write_bytes(b"\x00" * 100 + _nine(-1) + tail)
    r = run("summary", p, "--strict", "--format", "json")
    assert r.exit_code == ExitCode.BAD_LINES, r.stderr
    assert f"--strict: {said}\n" in r.stderr


def test_a_nul_tail_longer_than_a_block_is_still_a_line(tmp_path: Path) -> None:
    """A last line of nothing but NULs, without its newline and longer than a block: its
    bytes were all taken out of the carry, and the line was lost from the count."""
    from logaudit.sources import Input, ReadState, read_blocks

    p = tmp_path / "access.log"
    p.write_bytes(_nine(-1) + b"\x00" * 20000)
    state = ReadState()
    blocks = list(read_blocks(Input(str(p), p), state, block_bytes=4096))
    assert state.lines_read[str(p)] == 10
    assert [s[0] for b in blocks for s in b.stretches] == [10]


def test_nothing_but_nuls(tmp_path: Path) -> None:
    p = tmp_path / "access.log"
    p.write_bytes(b"\x00" * 10000)
    r = run("summary", p)
    assert r.exit_code == ExitCode.INPUT_INVALID
    assert "nothing but NUL bytes" in r.stderr


def test_binary_is_a_share(tmp_path: Path) -> None:
    import random

    rnd = random.Random(3)
    p = tmp_path / "core.log"
    p.write_bytes(bytes(rnd.randrange(256) for _ in range(20000)))
    r = run("summary", p)
    assert r.exit_code == ExitCode.INPUT_INVALID
    assert "binary" in r.stderr
    # A few stray control bytes in a text log do not make it binary.
    p.write_bytes(((line() + "\n").encode() + b"\x01\x02") * 50)
    assert summary_json(p)["overview"]["requests"] >= 1


# ---- the command line as a separate process, without root's powers over files -------------

REPO = Path(__file__).resolve().parent.parent
TEST_USER = "logaudit-faults"


def _env(tmp: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGAUDIT_")}
    env.update(
        PYTHONPATH=str(REPO),
        LOGAUDIT_CONFIG=os.devnull,  # no config file
        NO_COLOR="1",
        TMPDIR=str(tmp),
    )
    return env


@pytest.fixture(scope="session")
def unprivileged(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A command prefix that runs a program without root's power to read any file.

    Not root: nothing. Root: a system user made with useradd (runuser), if that user can run
    this Python; else root with every capability dropped (setpriv: uid 0, but file permission
    checks apply, CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH gone). Skips, saying why, when
    neither works."""
    import os
    import pwd
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0:
        return []
    probe_dir = tmp_path_factory.mktemp("probe")
    secret = probe_dir / "secret"
    secret.write_text("x")
    secret.chmod(0)
    probe = [sys.executable, "-c", f"open({str(secret)!r}).read()"]
    tried = []
    if shutil.which("useradd") and shutil.which("runuser"):
        try:
            pwd.getpwnam(TEST_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/bin/false", TEST_USER],
                capture_output=True,
                check=False,
            )
        try:
            pwd.getpwnam(TEST_USER)
            prefix = ["runuser", "-u", TEST_USER, "--"]
            ok = subprocess.run(prefix + [sys.executable, "-c", "import logaudit"],
                                capture_output=True, env=_env(probe_dir), check=False)
            if ok.returncode == 0:
                probe_dir.chmod(0o755)
                if subprocess.run(prefix + probe, capture_output=True, check=False).returncode:
                    return prefix
            tried.append(f"user {TEST_USER} cannot run {sys.executable}")
        except KeyError:
            tried.append("useradd failed")
    if shutil.which("setpriv"):
        prefix = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all", "--"]
        done = subprocess.run(prefix + probe, capture_output=True, check=False)
        if done.returncode != 0 and b"PermissionError" in done.stderr:
            return prefix
        tried.append("setpriv could not drop capabilities")
    pytest.skip("no unprivileged way to run the CLI: " + "; ".join(tried))


def cli_proc(
    prefix: list[str], tmp: Path, *args: str | Path, shell: str = "", timeout: float = 120
):
    """Run ``logaudit ARGS`` (with ``shell`` redirections appended, through bash)."""
    import shlex
    import subprocess
    import sys

    cmd = " ".join(shlex.quote(c) for c in [*prefix, sys.executable, "-m", "logaudit"])
    cmd += " " + " ".join(shlex.quote(str(a)) for a in args) + " " + shell
    return subprocess.run(
        ["bash", "-c", cmd], capture_output=True, env=_env(tmp), timeout=timeout, cwd=tmp,
        check=False,
    )


def one_line(done, code: int, *mentions: str) -> None:
    err = done.stderr.decode()
    assert done.returncode == code, (done.returncode, err)
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.strip(), "nothing said on stderr"
    for m in mentions:
        assert m in err, err


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    """A folder every user can reach (pytest's own tmp root is root-only)."""
    import os
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="logaudit-faults-", dir="/tmp"))
    d.chmod(0o777)
    yield d
    for root, dirs, _files in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o777)
    import shutil

    shutil.rmtree(d, ignore_errors=True)


def _good_log(folder: Path, name: str = "access.log") -> Path:
    p = write(folder / name, [line(), line(client="198.51.100.7")])
    p.chmod(0o644)
    return p


def test_unreadable_folder_and_file_inside_it(unprivileged: list[str], shared_tmp: Path) -> None:
    good = _good_log(shared_tmp)
    locked = shared_tmp / "locked"
    locked.mkdir()
    _good_log(locked, "inside.log")
    locked.chmod(0)
    for arg in (locked, locked / "inside.log"):
        done = cli_proc(unprivileged, shared_tmp, "summary", good, arg, "--format", "json")
        one_line(done, ExitCode.INPUT_MISSING, "permission denied", str(arg))
        # The readable input is still reported.
        assert json.loads(done.stdout)["overview"]["requests"] == 2


def test_unreadable_file(unprivileged: list[str], shared_tmp: Path) -> None:
    bad = _good_log(shared_tmp, "secret.log")
    bad.chmod(0)
    done = cli_proc(unprivileged, shared_tmp, "summary", bad)
    one_line(done, ExitCode.INPUT_MISSING, "permission denied")


def test_output_folder_not_writable(unprivileged: list[str], shared_tmp: Path) -> None:
    good = _good_log(shared_tmp)
    ro = shared_tmp / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    done = cli_proc(unprivileged, shared_tmp, "summary", good, "-o", ro / "r.txt")
    one_line(done, ExitCode.OUTPUT, "r.txt")
    assert not list(ro.iterdir())


@pytest.mark.parametrize(
    "shell, code, mention",
    [
        ("<&-", ExitCode.INPUT_MISSING, "standard input is closed"),
        ("> /dev/full", ExitCode.OUTPUT, "no space left"),
        (">&-", ExitCode.OUTPUT, "standard output is closed"),
    ],
    ids=["stdin-closed", "stdout-full", "stdout-closed"],
)
def test_closed_and_full_standard_streams(
    shared_tmp: Path, shell: str, code: int, mention: str
) -> None:
    good = _good_log(shared_tmp)
    args = ("summary", "-") if shell == "<&-" else ("summary", good)
    one_line(cli_proc([], shared_tmp, *args, shell=shell), code, mention)


def test_output_to_dev_full(shared_tmp: Path) -> None:
    done = cli_proc([], shared_tmp, "summary", _good_log(shared_tmp), "-o", "/dev/full")
    one_line(done, ExitCode.OUTPUT, "/dev/full", "no space left")


def test_dev_stdout_on_a_pipe_and_appending(shared_tmp: Path) -> None:
    good = _good_log(shared_tmp)
    done = cli_proc(
        [], shared_tmp, "summary", good, "--format", "json", "-o", "/dev/stdout", shell="| cat"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["overview"]["requests"] == 2
    f = shared_tmp / "f.txt"
    f.write_text("earlier\n")
    done = cli_proc(
        [], shared_tmp, "summary", good, "--format", "json", "-o", "/dev/stdout", shell=f">> {f}"
    )
    assert done.returncode == 0, done.stderr
    text = f.read_text()
    assert text.startswith("earlier\n")
    assert json.loads(text[len("earlier\n") :])["overview"]["requests"] == 2


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative"])
def test_refuses_to_write_over_an_input(tmp_path: Path, how: str) -> None:
    import os

    log = _good_log(tmp_path)
    before = log.read_bytes()
    target = {"same": log, "relative": Path(os.path.relpath(log))}.get(how, tmp_path / "out.txt")
    if how == "symlink":
        target.symlink_to(log)
    elif how == "hardlink":
        os.link(log, target)
    r = run("summary", log, "-o", target)
    assert r.exit_code == ExitCode.USAGE, r.stderr
    assert "is an input of this run" in r.stderr
    assert log.read_bytes() == before


def test_missing_name_with_bracket_and_symlink_loop(tmp_path: Path) -> None:
    r = run("summary", tmp_path / "access[1].log")
    assert r.exit_code == ExitCode.INPUT_MISSING
    assert "no such file, and no file matches it as a pattern" in r.stderr
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    r = run("summary", tmp_path / "a")
    assert r.exit_code == ExitCode.INPUT_MISSING
    assert "symlink loop" in r.stderr


def test_output_mode_default_option_and_config(tmp_path: Path, monkeypatch) -> None:
    log = _good_log(tmp_path)
    out = tmp_path / "r.txt"
    assert run("summary", log, "-o", out).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert run("summary", log, "-o", out, "--mode", "0644").exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o644
    cfg = tmp_path / "c.toml"
    cfg.write_text('mode = "0640"\n')
    monkeypatch.setenv("LOGAUDIT_CONFIG", str(cfg))
    assert run("summary", log, "-o", out).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o640
    r = run("summary", log, "-o", out, "--mode", "u+rw")
    assert r.exit_code == ExitCode.USAGE
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".logaudit-")]


def test_a_planted_symlink_in_a_sticky_folder_is_not_followed(shared_tmp: Path) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("planting another user's link needs root (lchown)")
    sticky = shared_tmp / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    victim = shared_tmp / "victim.conf"
    victim.write_text("precious\n")
    link = sticky / "report.txt"
    link.symlink_to(victim)
    os.lchown(link, 65534, 65534)
    r = run("summary", _good_log(shared_tmp), "-o", link)
    assert r.exit_code == ExitCode.OUTPUT, r.stderr
    assert "refusing to follow" in r.stderr
    assert victim.read_text() == "precious\n"
    # A planted link to a folder, on the way to the file, is refused the same way.
    secret_dir = shared_tmp / "etc"
    secret_dir.mkdir()
    (secret_dir / "passwd").write_text("root:x:0:0\n")
    dir_link = sticky / "d"
    dir_link.symlink_to(secret_dir)
    os.lchown(dir_link, 65534, 65534)
    r = run("summary", _good_log(shared_tmp), "-o", dir_link / "passwd")
    assert r.exit_code == ExitCode.OUTPUT, r.stderr
    assert (secret_dir / "passwd").read_text() == "root:x:0:0\n"
    assert list(secret_dir.iterdir()) == [secret_dir / "passwd"]
    # A link of our own is followed by the kernel, and stays a link.
    os.lchown(link, 0, 0)
    assert run("summary", _good_log(shared_tmp), "-o", link).exit_code == 0
    assert link.is_symlink()
    assert victim.read_text() != "precious\n"


def test_temp_file_is_never_opened_through_a_link(tmp_path: Path) -> None:
    from logaudit.deliver import files

    out = tmp_path / "r.txt"
    with files.atomic_output(out) as f:
        [tmp] = [p for p in tmp_path.iterdir() if p.name.startswith(".logaudit-")]
        assert not tmp.is_symlink()
        f.write("x")
    assert out.read_text() == "x"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".logaudit-")]
    # An error while writing keeps the old file and removes the temporary one.
    with pytest.raises(RuntimeError), files.atomic_output(out) as f:
        f.write("partial")
        raise RuntimeError
    assert out.read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


# ---- signals at random points of a big run: nothing left behind ---------------------------

# Over analyze.forked.FORK_MIN_REQUESTS, so the finish's forked child is part of the run too.
BIG_LINES = 210_000


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~210k lines (about 45 MB: over the --jobs byte-range threshold)."""
    import random

    rnd = random.Random(19)
    p = tmp_path_factory.mktemp("big") / "access.log"
    with open(p, "w", encoding="utf-8") as f:
        for i in range(BIG_LINES):
            day, sec = 1 + i * 28 // BIG_LINES, rnd.randrange(86400)
            f.write(
                line(
                    client=f"10.{rnd.randrange(40)}.{rnd.randrange(256)}.{rnd.randrange(256)}",
                    when=f"{day:02d}/Feb/2024:{sec // 3600:02d}:{sec // 60 % 60:02d}:"
                    f"{sec % 60:02d} +0100",
                    request=f"GET /p/{rnd.randrange(5000)}?s={rnd.getrandbits(40):x} HTTP/1.1",
                    status=rnd.choice([200, 200, 200, 304, 404, 500]),
                    size=rnd.randrange(10**5),
                    referrer=rnd.choice(["-", "https://www.google.com/", "https://ex.org/a"]),
                )
                + "\n"
            )
    return p


def _group_alive(pgid: int) -> list[int]:
    """Processes of the process group ``pgid`` still alive (zombies are dead)."""
    import os

    alive = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            alive.append(int(pid))
    return alive


def _stable(report: dict) -> dict:
    report.pop("generated", None)
    return report


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_signals_leave_nothing_behind(big_log: Path, tmp_path: Path, jobs: str) -> None:
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    out_dir = tmp_path / "out"
    tmpdir = tmp_path / "tmpdir"
    out_dir.mkdir()
    tmpdir.mkdir()
    out = out_dir / "report.json"
    env = _env(tmpdir)
    cmd = [sys.executable, "-m", "logaudit", "summary", str(big_log), "--jobs", jobs,
           "--format", "json", "-o", str(out)]
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    full = time.monotonic() - t0
    complete = _stable(json.loads(out.read_text()))
    old = '{"old": true}\n'
    rnd = random.Random(int(jobs))
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        for _ in range(2):
            out.write_text(old)
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True,
            )
            time.sleep(rnd.uniform(0.2, full * 1.1))
            os.killpg(proc.pid, sig)  # the whole group, as a terminal or a service manager does
            _, err = proc.communicate(timeout=120)
            deadline = time.monotonic() + 10
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _group_alive(proc.pid) == [], (sig, "processes left behind")
            assert proc.returncode in (0, 128 + sig), (sig, proc.returncode, err)
            text = err.decode()
            assert "Traceback" not in text, text
            if proc.returncode:
                assert len(text.strip().splitlines()) == 1, text
            assert [p.name for p in out_dir.iterdir()] == ["report.json"]
            assert list(tmpdir.iterdir()) == []
            body = out.read_text()
            assert body == old or _stable(json.loads(body)) == complete
    # SIGKILL to the parent alone: nothing can clean up after it, but its workers and forked
    # child must not live on (they would block on a queue nobody reads, holding our pipes).
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(min(full * 0.6, 2.0))
    proc.kill()
    proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_alive(proc.pid) == [], "helpers outlived a SIGKILLed parent"


def test_ctrl_c_while_modules_load(shared_tmp: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    good = _good_log(shared_tmp)
    # Ctrl-C as on a terminal, however the tests were started: a suite run in the background
    # of a non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and so would the
    # child, which rightly keeps it ignored (procs.py).
    proc = subprocess.Popen(
        [sys.executable, "-m", "logaudit", "summary", str(good)],
        env=_env(shared_tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    # Wait until the heavy imports have begun (numpy's library is mapped: logaudit.cli is
    # loading), then interrupt while pandas and pyarrow are still loading. Earlier, Python
    # itself may still be starting up (site, runpy): not logaudit's code yet.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
        except OSError:
            break
        if "numpy" in maps:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert err.decode().strip() == "logaudit: interrupted", err


# ---- property fuzz: the CLI and the API over hostile logs, every format family -------------


DOCUMENTED = {int(c) for c in ExitCode} - {int(ExitCode.ERROR)}
_HOSTILE = st.sampled_from(
    [
        b"\x00" * 37,
        b"\x1b[8m",
        b"\x1b]8;;http://evil/\x07x\x1b]8;;\x07",
        "\u202e\u2028".encode(),
        b"\xc2\x9b",
        b"\xff\xfe",
        b'"',
        b"[01/Jan/0001:00:00:00 +0000]",
        b"[31/Dec/9999:23:59:59 +9959]",
        b"\r",
        b"\n",
    ]
)


@st.composite
def hostile_logs(draw: st.DrawFn) -> bytes:
    """Valid lines with hostile pieces spliced in, damaged compression now and then."""
    import gzip

    lines = [line(client=f"10.0.0.{i}").encode() for i in range(draw(st.integers(0, 6)))]
    for _ in range(draw(st.integers(0, 6))):
        piece = draw(_HOSTILE | st.binary(max_size=12))
        at = draw(st.integers(0, max(0, len(lines))))
        if lines and draw(st.booleans()):
            k = min(at, len(lines) - 1)
            cut = draw(st.integers(0, len(lines[k])))
            lines[k] = lines[k][:cut] + piece + lines[k][cut:]
        else:
            lines.insert(at, piece)
    raw = b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b"")
    how = draw(st.sampled_from(["plain", "plain", "gzip", "damaged-gzip"]))
    if how != "plain":
        raw = gzip.compress(raw)
        if how == "damaged-gzip" and len(raw) > 20:
            at = draw(st.integers(10, len(raw) - 1))
            raw = raw[:at] + b"\xff\x00" + raw[at + 2 :]
    return raw


def _formats() -> list[str | None]:
    from logaudit.formats import FORMATS

    return [None, *FORMATS]


FUZZ = settings(
    max_examples=int(os.environ.get("FAULTS_FUZZ", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(raw=hostile_logs(), fmt=st.sampled_from(_formats()),
       command=st.sampled_from(["summary", "trends", "visits"]))
def test_cli_fuzz_documented_codes_and_inert_output(
    tmp_path: Path, raw: bytes, fmt: str | None, command: str
) -> None:
    p = tmp_path / "fuzz.log"
    p.write_bytes(raw)
    args = [command, str(p), "--format", "json"] + (["--log-format", fmt] if fmt else [])
    r = run(*args)
    assert r.exit_code in DOCUMENTED, (r.exit_code, r.stderr, r.exception)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    if r.stdout:
        json.loads(r.stdout)
        assert "\x1b" not in r.stdout
    assert "\x1b" not in r.stderr and "\x00" not in r.stderr


@FUZZ
@given(raw=hostile_logs(), fmt=st.sampled_from(_formats()))
def test_api_fuzz_raises_only_domain_errors(tmp_path: Path, raw: bytes, fmt: str | None) -> None:
    from logaudit import api
    from logaudit.config import Settings
    from logaudit.errors import LogauditError

    p = tmp_path / "fuzz.log"
    p.write_bytes(raw)
    try:
        outcome = api.summary([str(p)], Settings(log_format=fmt))
    except LogauditError as e:
        assert int(e.exit_code) in DOCUMENTED
        return
    assert int(outcome.exit_code) in DOCUMENTED
    if outcome.report is not None:
        assert outcome.report.overview.get("requests", 0) >= 0


def test_a_nul_hole_bigger_than_a_block_is_one_stretch_and_not_carried(tmp_path: Path) -> None:
    from logaudit.sources import Input, ReadState, read_blocks

    good = (line() + "\n").encode()
    hole = 100 * 1024
    raw = b"\x00" * hole + good * 3 + b"\x00" * 5 + b"tail without newline"
    p = tmp_path / "access.log"
    p.write_bytes(raw)
    blocks = list(read_blocks(Input(str(p), p), ReadState(), block_bytes=4096))
    # Every block stays about a block long: the hole is dropped as it is read.
    assert max(len(bytes(b.data)) for b in blocks) <= 2 * 4096 + len(good)
    stretches = [s for b in blocks for s in b.stretches]
    assert len(stretches) == 2
    assert stretches[0][0] == 1 and f"bytes 0-{hole - 1:,}: {hole:,} NUL bytes" in stretches[0][1]
    start = hole + 3 * len(good)
    assert stretches[1][0] == 4 and f"bytes {start:,}-{start + 4:,}: 5 NUL bytes" in stretches[1][1]
    assert b"".join(bytes(b.data) for b in blocks) == raw.replace(b"\x00", b"") + b"\n"


@pytest.mark.skipif(not hasattr(__import__("signal"), "pthread_sigmask"), reason="no masks here")
def test_jobs_workers_are_forked_with_stop_signals_held_back(
    sample_logs: Path, fork_masks: list[set[int]]
) -> None:
    """A stop signal that came while the --jobs pool forked its workers was handled in the
    parent's at-fork hooks ("Exception ignored ... Stopped"), the workers died of it and the
    run ended in BrokenProcessPool, exit 1, instead of 128 + the signal (seen under load in
    test_signals_leave_nothing_behind[2]). Every fork of a --jobs run holds them back, and the
    parent's mask is given back."""
    import signal

    before = set(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    two = summary_json(sample_logs / "access.log", "--jobs", "2")
    assert len(fork_masks) >= 2  # the two workers, at least
    for held in fork_masks:
        assert {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= held
    assert set(signal.pthread_sigmask(signal.SIG_BLOCK, [])) == before
    one = summary_json(sample_logs / "access.log", "--jobs", "1")
    two.pop("generated"), one.pop("generated")
    assert two == one  # the workers, let in after their handlers, did the work


@pytest.mark.skipif(not hasattr(__import__("signal"), "pthread_sigmask"), reason="no masks here")
def test_held_back_gives_the_mask_back_however_the_block_ends() -> None:
    """The one helper behind the three forks (--jobs workers, the agents helper, the finish's
    child): the stop signals are blocked inside, ``let_in`` (the child's call) and the block's
    end, even by an error such as a failed fork, give the caller's mask back."""
    import signal

    from logaudit import procs

    def mask() -> set[int]:
        return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))

    before = mask()
    assert not procs.DEFERRED <= before
    with procs.held_back() as let_in:
        assert procs.DEFERRED <= mask()
        let_in()
        assert mask() == before
    assert mask() == before
    with pytest.raises(OSError), procs.held_back():
        assert procs.DEFERRED <= mask()
        raise OSError("fork failed")
    assert mask() == before


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_nul_runs_listed_under_a_heading_that_names_them(tmp_path: Path, fmt: str) -> None:
    """A NUL run is no bad line (the bad-lines column may read 0) but is listed among the
    first examples: the heading says so; without runs it stays as it was."""
    good = (line() + "\n").encode() * 3
    for name, data, heading in [
        ("hole.log", b"\0" * 40 + good, "Bad lines and NUL runs, first examples:"),
        ("bad.log", good + b"not a log line\n", "Bad lines, first examples:"),
    ]:
        log = tmp_path / name
        log.write_bytes(data)
        res = CliRunner().invoke(cli, ["summary", str(log), "--format", fmt])
        assert res.exit_code == 0, res.output
        assert heading in res.stdout
        assert "NUL runs, first" not in res.stdout or name == "hole.log"


@pytest.mark.parametrize("jobs", ["2", "3"])
def test_jobs_ranges_of_a_w3c_log_take_the_fields_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """--jobs cuts a W3C log into byte ranges, each read under the head's #Fields: one after
    a changed header read its lines under the old fields (bad lines, figures lost)."""
    from logaudit.engine import local

    monkeypatch.setattr(local, "SPAN_MIN_BYTES", 1)  # forked workers inherit it

    def header(fields: str) -> str:
        return f"#Software: Microsoft Internet Information Services 10.0\n#Fields: {fields}\n"

    a = "date time c-ip cs-method cs-uri-stem sc-status time-taken cs(User-Agent)"
    b = "date time cs-method cs-uri-stem c-ip sc-status sc-bytes time-taken cs(User-Agent)"
    text = header(a) + "".join(
        f"2026-12-01 00:{i // 60 % 60:02d}:{i % 60:02d} 192.0.2.{i % 50} GET /a{i % 7} 200 {i}"
        " curl/8\n"
        for i in range(300)
    )
    text += header(b) + "".join(
        f"2026-12-01 01:{i // 60 % 60:02d}:{i % 60:02d} POST /b{i % 5} 198.51.100.{i % 9} 404"
        f" {i} {i % 90} curl/8\n"
        for i in range(3000)
    )
    p = tmp_path / "u_ex261201.log"
    p.write_text(text)
    one = summary_json(p, "--top", "0")
    many = summary_json(p, "--top", "0", "--jobs", jobs)
    one.pop("generated"), many.pop("generated")
    assert one["overview"]["requests"] == 3300
    assert many == one


def test_a_jobs_range_takes_a_w3c_header_changed_over_a_mib_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA17 #1: a range's #Fields: header was looked for in the head and the last MiB before
    the range only; one changed further back (the same number of fields, sc-bytes and
    cs-bytes swapped) was missed and the range read silently in the head's layout."""
    from logaudit.engine import local
    from tests.w3c_helpers import w3c_swapped

    monkeypatch.setattr(local, "SPAN_MIN_BYTES", 1)  # forked workers inherit it
    data, at = w3c_swapped(1.1, 3.5)
    assert len(data) // 2 - at > 1 << 20  # the second range starts over a MiB past it
    p = tmp_path / "u_ex261201.log"
    p.write_bytes(data)
    one = summary_json(p, "--top", "0")
    many = summary_json(p, "--top", "0", "--jobs", "2")
    one.pop("generated"), many.pop("generated")
    assert many == one
