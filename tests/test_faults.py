"""Faults and hostile inputs (issue #19): absurd times, damaged archives, NUL prefixes, output
files, exit codes for internal errors, signals and processes.

Each test states the fault it injects and checks the promise: nothing a user asked for is lost,
nothing is injected, nothing blows up, and every failure is one line with its documented code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
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


def test_far_apart_hits_do_not_blow_up(tmp_path: Path) -> None:
    # The 3-line log with first and last hit 35 years apart: each per-period table is
    # capped at PERIOD_ROWS rows, with a note, and its total says how many periods there were.
    from logaudit.analyze.periods import PERIOD_ROWS

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
    # --top raises the cap; --top 0 lifts it.
    rows = section(summary_json(log, "--top", "2000"), "daily")["rows"]
    assert len(rows) == 2000
    rows = section(summary_json(log, "--top", "0"), "daily")["rows"]
    assert len(rows) == 35 * 365 + 9 + 1  # 9 leap days in 1992..2024


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


# ---- NUL runs (copytruncate) are one bad stretch each; "binary" is a share ------------------


@pytest.mark.parametrize("size", [1, 7, 4096, 8192, 65536])
def test_nul_prefix_is_skipped_and_counted_once(tmp_path: Path, size: int) -> None:
    lines = [line(when=f"0{d}/Mar/2024:10:00:00 +0000") for d in range(1, 6)]
    p = tmp_path / "access.log"
    p.write_bytes(b"\x00" * size + "\n".join(lines).encode() + b"\n")
    rep = summary_json(p)
    assert rep["overview"]["requests"] == 5
    assert rep["bad_lines"]["total"] == 1
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
    assert rep["bad_lines"]["total"] == 2


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
