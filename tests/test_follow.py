"""records --follow: new lines as they are written, filtered, across a rotation."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from logaudit import filters
from logaudit.config import load
from logaudit.follow import follow
from logaudit.records import Query, parse_fields
from logaudit.samplegen import generate_lines

LINES = list(generate_lines(3000, days=2))


def _status(line: bytes) -> int:
    return int(line.split(b'" ', 1)[1].split(b" ", 1)[0])


def _follow_cli(args: list[str], *writes: tuple[Path, bytes]) -> tuple[int, bytes, bytes]:
    """``logaudit records ARGS`` (a --follow run that ends by --limit) in a process of its
    own: each (file, bytes) appended once the follow waits for its next poll (the first: its
    start done, whatever the load; the next ones 1.5 s after the last, a poll between them),
    then its exit code, stdout, stderr."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "logaudit", "records", *args]
    env = {**os.environ, "LOGAUDIT_CONFIG": os.devnull}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        for n, (path, data) in enumerate(writes):
            if n:
                time.sleep(1.5)
            _until(lambda: proc.poll() is not None or _waiting(proc.pid))
            with open(path, "ab") as f:
                f.write(data)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, out, err


def test_follow_streams_new_matching_lines_across_rotation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    old = LINES[:500]
    log.write_bytes(b"".join(old))  # already there: not shown (followed from the end)
    new = LINES[500:]
    chosen = filters.parse({**{k: () for k in filters.option_names()}, "status": ("5xx",)})
    settings = load({"extra": {"filters": chosen}}, env={})
    query = Query(parse_fields("time,path,status,browser"))
    out = io.StringIO()
    done = threading.Event()
    notes: list[str] = []

    def server() -> None:
        time.sleep(0.3)
        half = len(new) // 2
        with open(log, "ab") as f:
            for i in range(0, half, 100):
                f.write(b"".join(new[i : min(i + 100, half)]))
                f.flush()
                time.sleep(0.05)
            # A line cut in two writes: shown once, whole.
            cut = new[half]
            f.write(cut[:20])
            f.flush()
            time.sleep(0.2)
            f.write(cut[20:])
        time.sleep(0.2)
        os.replace(log, tmp_path / "access.log.1")  # logrotate: rename, then create
        with open(log, "ab") as f:
            f.write(b"".join(new[half + 1 :]))
        time.sleep(0.5)
        done.set()

    t = threading.Thread(target=server)
    t.start()
    result = follow(
        [log], settings, query, "jsonl", out, stop=done.is_set, interval=0.05, on_note=notes.append
    )
    t.join()
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    want = [line for line in new if 500 <= _status(line) < 600]
    assert want and len(rows) == len(want) == result.rows
    assert all(500 <= r["status"] < 600 and "browser" in r for r in rows)
    assert any("rotated" in n for n in notes)


def test_a_missing_file_is_said_and_followed_when_it_appears(tmp_path: Path) -> None:
    """records --follow a.log b.log with b.log not there yet: one line says so (it was
    followed without a word), and its lines are streamed once it is created."""
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"")
    args = [str(a), str(b), "--follow", "--limit", "1", "--fields", "path", "--format", "jsonl"]
    code, out, err = _follow_cli(args, (b, LINES[0]))
    assert code == 0, err
    assert b"b.log" in err and b"followed when it appears" in err
    assert len(out.splitlines()) == 1 and json.loads(out)["path"]


ERROR_LINE = (
    b"2024/03/01 10:50:01 [error] 123#0: *1 connect() failed (111: Connection refused) while "
    b"connecting to upstream, client: 81.2.69.1, server: localhost\n"
)


def test_a_folders_error_log_is_skipped_in_one_line(tmp_path: Path) -> None:
    """records --follow DIR, the folder holding nginx's error.log beside access.log: a line
    written to error.log is said once and skipped (as summary DIR skips it), the access log's
    lines still streamed; it ended the follow with exit 4."""
    (tmp_path / "access.log").write_bytes(b"")
    (tmp_path / "error.log").write_bytes(b"")
    args = [str(tmp_path), "--follow", "--limit", "1", "--fields", "path", "--format", "jsonl"]
    code, out, err = _follow_cli(
        args, (tmp_path / "error.log", ERROR_LINE), (tmp_path / "access.log", LINES[0])
    )
    assert code == 0, err
    said = [line for line in err.decode().splitlines() if "error.log" in line]
    assert len(said) == 1 and f"skipped, found in {tmp_path}" in said[0]
    assert len(out.splitlines()) == 1 and json.loads(out)["path"]


def test_a_log_not_there_yet_is_waited_for_as_tail_F(tmp_path: Path) -> None:
    """records late.log --follow, late.log alone and not there yet: said in one line, waited
    for, its appearance said, and read from its start (README; it exited 3 at once)."""
    late = tmp_path / "late.log"
    args = [str(late), "--follow", "--limit", "2", "--fields", "path", "--format", "jsonl"]
    code, out, err = _follow_cli(args, (late, b"".join(LINES[:2])))
    assert code == 0, err
    said = err.decode().splitlines()
    assert len(said) == 2, said
    assert "no such file; followed when it appears" in said[0]
    assert "appeared, reading from its start" in said[1]
    assert len(out.splitlines()) == 2


def test_a_pattern_or_folder_naming_nothing_is_not_waited_for(tmp_path: Path) -> None:
    """A pattern matching nothing or a folder name (ending in /) is no file that can appear:
    exit 3 at once when it is all there is, and beside a missing file it is said without
    'followed when it appears' (it said so, and then followed nothing)."""
    import subprocess
    import sys

    env = {**os.environ, "LOGAUDIT_CONFIG": os.devnull}
    for args in (["watch", str(tmp_path / "*.log")], ["records", "--follow", f"{tmp_path}/x/"]):
        done = subprocess.run([sys.executable, "-m", "logaudit", *args], capture_output=True,
                              env=env, timeout=60)
        assert done.returncode == 3, done.stderr
    args = ["--follow", str(tmp_path / "*.log"), str(tmp_path / "late.log"), "--limit", "1",
            "--format", "jsonl"]
    code, out, err = _follow_cli(args, (tmp_path / "late.log", LINES[0]))
    assert code == 0, err
    said = err.decode().splitlines()
    assert "matches it as a pattern" in said[0] and "followed" not in said[0], said
    assert "late.log: no such file; followed when it appears" in said[1], said


@pytest.mark.parametrize("command", [["watch"], ["records", "--follow"], ["summary"]])
def test_a_missing_folder_is_no_such_folder(tmp_path: Path, command: list[str]) -> None:
    """watch nodir/ said "nodir/: no such file": a name ending with / names a folder. Exit 3
    in one line, as for a missing file."""
    from click.testing import CliRunner

    from logaudit.cli import cli

    r = CliRunner().invoke(cli, [*command, f"{tmp_path}/nodir/"])
    assert r.exit_code == 3, r.output
    assert r.stderr == f"logaudit: error: {tmp_path}/nodir/: no such folder\n"


def test_a_compressed_file_cannot_be_followed_said_in_one_line(tmp_path: Path) -> None:
    """watch x.log.gz exited 4 "log format not recognised" quoting binary bytes, and
    records --follow x.log.gz waited in silence: one line, exit 2 (wrong usage). Found in a
    folder beside the live log, the archives are said in one line and the live log followed."""
    import gzip
    import subprocess
    import sys

    packed = tmp_path / "access.log.2.gz"
    packed.write_bytes(gzip.compress(b"".join(LINES[:50])))
    env = {**os.environ, "LOGAUDIT_CONFIG": os.devnull}
    for args in (["watch", str(packed)], ["records", "--follow", str(packed)]):
        done = subprocess.run([sys.executable, "-m", "logaudit", *args], capture_output=True,
                              env=env, timeout=60, stdin=subprocess.DEVNULL)
        said = done.stderr.decode().splitlines()
        assert done.returncode == 2, said
        assert len(said) == 1 and "gzip-compressed: a compressed file cannot be followed" in said[0]
    (tmp_path / "access.log").write_bytes(b"")
    args = [str(tmp_path), "--follow", "--limit", "1", "--fields", "path", "--format", "jsonl"]
    code, out, err = _follow_cli(args, (tmp_path / "access.log", LINES[0]))
    assert code == 0, err
    assert err.decode().splitlines() == [
        f"logaudit: {tmp_path}: 1 compressed file in it not followed (access.log.2.gz)"
    ]
    assert len(out.splitlines()) == 1


def _polls(n: int):  # noqa: ANN202 - a stop() that says stop after n polls
    calls = iter(range(n))
    return lambda: next(calls, None) is None


def test_a_folder_whose_every_file_is_skipped_ends_the_follow(tmp_path: Path) -> None:
    """records --follow DIR with only nginx's error.log in it: the file is said and skipped,
    and then nothing is left to follow; exit 4 as summary DIR, not a silent wait for ever."""
    import pytest

    from logaudit.errors import LogauditError

    err = tmp_path / "error.log"
    err.write_bytes(ERROR_LINE)
    notes: list[str] = []
    with pytest.raises(LogauditError) as e:
        follow([err], load({}, env={}), Query(parse_fields("path")), "jsonl", io.StringIO(),
               stop=_polls(20), interval=0.01, from_start=True, on_note=notes.append,
               found_in={err: str(tmp_path)})
    assert e.value.exit_code == 4 and "no log left to follow" in str(e.value)
    assert "skipped, found in" in str(e.value) and not notes  # why, in the one line


def test_a_format_named_in_the_config_is_followed(tmp_path: Path) -> None:
    """--follow detects as the reports do: a [formats] name of the config file (and --tz,
    the client behind proxies); it failed as an unknown format (exit 7)."""
    cfg = tmp_path / "logaudit.toml"
    cfg.write_text(
        "[formats]\ntimed = 'nginx:$remote_addr - $remote_user [$time_local] \"$request\" "
        "$status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time'\n"
    )
    log = tmp_path / "timed.log"
    log.write_bytes(
        b'203.0.113.5 - - [22/Jan/2026:13:18:29 +0000] "GET /a HTTP/1.1" 200 25507 "-" '
        b'"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0" 0.123\n'
    )
    settings = load({"log_format": "timed"}, env={}, config_file=cfg)
    out = io.StringIO()
    follow([log], settings, Query(parse_fields("path,response_time")), "jsonl", out,
           stop=_polls(3), interval=0.01, from_start=True, on_note=lambda m: None)
    row = json.loads(out.getvalue())
    assert row["path"] == "/a" and row["response_time"] == 0.123


IIS_HEAD = (
    b"#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
    b"#Date: 2024-03-01 00:00:00\n"
)
IIS_A = b"#Fields: date time s-ip cs-method cs-uri-stem sc-status\n"
IIS_B = b"#Fields: date time c-ip cs-method cs-uri-stem sc-status time-taken\n"


def _followed(log: Path, write: bytes) -> list[dict[str, object]]:
    """records LOG --follow while ``write`` is appended: the rows streamed."""
    out = io.StringIO()
    polls = iter(range(40))

    def stop() -> bool:
        n = next(polls, None)
        if n == 2:
            with open(log, "ab") as f:
                f.write(write)
        return n is None

    follow([log], load({}, env={}), Query(parse_fields("path,status")), "jsonl", out,
           stop=stop, interval=0.01, on_note=lambda m: None)
    return [json.loads(x) for x in out.getvalue().splitlines()]


def test_a_new_iis_file_of_headers_only_is_followed(tmp_path: Path) -> None:
    """IIS starts each day's file with its header lines before any request: following it
    just after midnight waits for the first request (it failed: no log lines, exit 4)."""
    log = tmp_path / "u_ex240301.log"
    log.write_bytes(IIS_HEAD + IIS_A)
    rows = _followed(log, b"2024-03-01 00:00:05 10.0.0.1 GET /x 200\n")
    assert rows == [{"path": "/x", "status": 200}]


def test_headers_read_before_the_first_request_wait_for_it(tmp_path: Path) -> None:
    """A file that gets its header lines after the follow began (empty at the start, or a
    new IIS file of the day): the poll that reads only them is no format yet; detected with
    the first request, as records and the reports detect (formats.Lead). It failed: no log
    lines to detect a format from, exit 4."""
    log = tmp_path / "u_ex240301.log"
    log.write_bytes(b"")
    out = io.StringIO()
    writes = {2: IIS_HEAD + IIS_A, 5: b"2024-03-01 00:00:05 10.0.0.1 GET /x 200\n"}
    polls = iter(range(40))

    def stop() -> bool:
        n = next(polls, None)
        if n in writes:
            with open(log, "ab") as f:
                f.write(writes[n])
        return n is None

    follow([log], load({}, env={}), Query(parse_fields("path,status")), "jsonl", out,
           stop=stop, interval=0.01, on_note=lambda m: None)
    assert [json.loads(x) for x in out.getvalue().splitlines()] == [{"path": "/x", "status": 200}]


def test_a_w3c_log_is_read_with_the_header_in_force_at_its_end(tmp_path: Path) -> None:
    """IIS changed its fields mid-file: lines written from now on are read with the last
    #Fields header, not the first one."""
    log = tmp_path / "u_ex.log"
    log.write_bytes(
        IIS_HEAD + IIS_A + b"2024-03-01 00:00:05 10.0.0.1 GET /a 200\n"
        + IIS_B + b"2024-03-01 00:10:05 203.0.113.5 GET /b 200 15\n"
    )
    rows = _followed(log, b"2024-03-01 00:20:05 203.0.113.5 GET /e 404 12\n")
    assert rows == [{"path": "/e", "status": 404}]


def test_a_w3c_header_changed_over_a_mib_before_the_end_is_followed(tmp_path: Path) -> None:
    """QA17 #1: the #Fields: header in force at the end was looked for in the head and the
    last MiB only; one changed further back (sc-bytes and cs-bytes swapped, the same number
    of fields) was missed and the new lines read with the two swapped, without a word."""
    from tests.w3c_helpers import w3c_swapped

    data, at = w3c_swapped(1.1, 1.5)
    assert len(data) - at > 1 << 20
    log = tmp_path / "u_ex.log"
    log.write_bytes(data)
    polls = iter(range(6))
    out = io.StringIO()

    def stop() -> bool:
        if next(polls, None) == 2:
            with open(log, "ab") as f:
                f.write(b"2026-12-01 03:00:00 192.0.2.9 GET /e 200 777 1405\n")
        return next(polls, None) is None

    follow([log], load({}, env={}), Query(parse_fields("path,bytes")), "jsonl", out,
           stop=stop, interval=0.01, on_note=lambda m: None)
    assert [json.loads(x) for x in out.getvalue().splitlines()] == [{"path": "/e", "bytes": 1405}]


def test_followed_rows_keep_log_order_when_the_fast_reader_rejects_a_line(
    tmp_path: Path,
) -> None:
    # Line 1 has one trailing field more: the exact path reads it, and follow streamed it
    # after lines 2-4 (records sorted its rows, follow did not; QA16 #8).
    ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    lines = [
        f'203.0.113.5 - - [22/Jan/2026:13:18:2{i} +0000] "GET /{i} HTTP/1.1" 200 10 "-" "{ua}"'
        for i in range(1, 5)
    ]
    lines[0] += ' "1.2.3.4"'
    log = tmp_path / "ord.log"
    log.write_text("".join(x + "\n" for x in lines))
    out = io.StringIO()
    follow([log], load({}, env={}), Query(parse_fields("line,path")), "jsonl", out,
           stop=_polls(3), interval=0.01, from_start=True, on_note=lambda m: None)
    assert [json.loads(x)["line"] for x in out.getvalue().splitlines()] == [1, 2, 3, 4]


def test_follow_with_strict_is_refused_in_one_line(tmp_path: Path) -> None:
    """--strict fails a finished read (exit 6); a follow never finishes: refused, exit 2 (it
    was ignored, the follow running on). A process, so the old code's follow times out."""
    import subprocess
    import sys

    log = tmp_path / "a.log"
    log.write_bytes(b"".join(LINES[:5]))
    cmd = [sys.executable, "-m", "logaudit", "records", str(log), "--follow", "--strict"]
    env = {**os.environ, "LOGAUDIT_CONFIG": os.devnull}
    r = subprocess.run(cmd, capture_output=True, env=env, timeout=30, check=False)
    assert r.returncode == 2
    said = r.stderr.decode().strip().splitlines()
    assert len(said) == 1 and "--strict checks a finished read" in said[0]


def test_follow_says_its_bad_lines_when_it_ends(tmp_path: Path) -> None:
    """records --follow dropped the lines it could not read in silence (records says them)."""
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    args = [str(log), "--follow", "--log-format", "combined", "--limit", "2", "--fields", "path",
            "--format", "jsonl"]
    code, out, err = _follow_cli(args, (log, b"garbage here, no log line\n" + LINES[0] + LINES[1]))
    assert code == 0, err
    assert len(out.splitlines()) == 2
    assert b"1 bad line; the first: " in err and b"a.log:" in err, err


def test_follow_counts_nul_runs_as_records_does(tmp_path: Path) -> None:
    """A NUL run written into a followed file (copytruncate's hole) went into the parser with
    the lines: not counted, its next line read with the NULs. It is counted apart, said as
    records says it, at the file offset where it lies."""
    log = tmp_path / "access.log"
    before = b"".join(LINES[:2])
    log.write_bytes(before)  # followed from its end
    hole = b"\x00" * 3000
    new = b"".join(LINES[2:12]) + hole + b"".join(LINES[12:22])
    args = [str(log), "--follow", "--limit", "20", "--fields", "path", "--format", "jsonl"]
    code, out, err = _follow_cli(args, (log, new))
    assert code == 0, err
    assert len(out.splitlines()) == 20
    said = [m for m in err.decode().splitlines() if "GeoIP" not in m]
    assert said == [
        f"logaudit: {log}: 1 run of NUL bytes skipped (logrotate's copytruncate or a crash "
        "while writing)"
    ], said
    # Where: the file's bytes, not the poll's.
    out_io = io.StringIO()
    result = follow([log], load({}, env={}), Query(parse_fields("path")), "jsonl", out_io,
                    stop=_polls(3), interval=0.01, from_start=True, on_note=lambda m: None)
    start = len(before) + len(b"".join(LINES[2:12]))
    assert result.bad.nul_runs == {str(log): 1}
    assert f"bytes {start:,}-{start + len(hole) - 1:,}: 3,000 NUL bytes" in str(
        result.bad.nul_first[str(log)]
    )
    assert len(out_io.getvalue().splitlines()) == 22 and not result.bad.total


def test_follow_counts_a_nul_run_that_straddles_two_reads_once(tmp_path: Path) -> None:
    """A NUL run whose first half is in the file at one poll and its second half written
    before the next is one run, at the file offsets where it lies, and the lines after it
    are read whole."""
    log = tmp_path / "access.log"
    first = b"".join(LINES[:10])
    log.write_bytes(first + b"\x00" * 1500)
    calls = iter(range(4))

    def stop() -> bool:
        n = next(calls, None)
        if n == 2:  # after the first poll: the run's second half, then lines
            with open(log, "ab") as f:
                f.write(b"\x00" * 1500 + b"".join(LINES[10:20]))
        return n is None

    out_io = io.StringIO()
    result = follow([log], load({}, env={}), Query(parse_fields("path")), "jsonl", out_io,
                    stop=stop, interval=0.01, from_start=True, on_note=lambda m: None)
    assert result.bad.nul_runs == {str(log): 1}
    start = len(first)
    assert f"bytes {start:,}-{start + 2999:,}: 3,000 NUL bytes" in str(
        result.bad.nul_first[str(log)]
    )
    paths = [json.loads(r)["path"] for r in out_io.getvalue().splitlines()]
    want = [ln.split(b'"', 2)[1].split(b" ")[1].split(b"?")[0].decode() for ln in LINES[:20]]
    assert len(paths) == 20 and paths == want and not result.bad.total


def test_followed_upstream_sums_are_spelled_as_records_spells_them(tmp_path: Path) -> None:
    # 0.004 + 0.005 + 0.001 is 0.010000000000000002 in floats, which was written (QA20 #7).
    log = tmp_path / "up.log"
    log.write_text(
        '203.0.113.5 - - [22/Jan/2026:13:18:21 +0000] "GET /a HTTP/1.1" 200 10 "-" "curl/8" '
        "0.010 0.004, 0.005 : 0.001\n"
    )
    fmt = (
        'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" $request_time $upstream_response_time'
    )
    out = io.StringIO()
    follow([log], load({"log_format": fmt}, env={}), Query(parse_fields("upstream_time")),
           "jsonl", out, stop=_polls(3), interval=0.01, from_start=True, on_note=lambda m: None)
    assert out.getvalue() == '{"upstream_time": 0.01}\n'


def _until(cond: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for ``cond`` (a readiness state of another process), not a fixed sleep."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "not ready in time"
        time.sleep(0.05)


def _open_files(pid: int) -> list[tuple[str, int]]:
    """The regular files process ``pid`` holds open, with their sizes (/proc/PID/fd)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")
            found.append((os.readlink(f"/proc/{pid}/fd/{fd}"), st.st_size))
        except OSError:
            continue
    return found


def _waiting(pid: int) -> bool:
    """The main thread of ``pid`` waits for its next poll or refresh (``time.sleep``'s
    nanosleep, or ``select``'s poll on a terminal), so its start (imports, signals, detection,
    the seek to each log's end) is done; a wait for the GIL (a futex) or a disk read is no such
    wait. From /proc/PID/wchan (the leader's: the main thread's)."""
    if not _wchan_names():
        return True  # a kernel that does not name waits: the callers' fixed pauses alone
    try:
        with open(f"/proc/{pid}/wchan") as f:
            where = f.read()
    except OSError:
        return False
    return any(w in where for w in ("nanosleep", "poll", "select"))


@functools.cache
def _wchan_names() -> bool:
    """Whether this kernel names a sleeping process's wait in /proc/PID/wchan (a `sleep`
    child's reads "hrtimer_nanosleep" here; a kernel built without it, or a sandbox, reads
    "0" or refuses): without names, ``_waiting`` would never see a poll and each test would
    time out instead of running on its fixed pauses as before."""
    import subprocess

    child = subprocess.Popen(["sleep", "5"])
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{child.pid}/wchan") as f:
                    if "sleep" in f.read():
                        return True
            except OSError:
                return False
            time.sleep(0.02)
        return False
    finally:
        child.kill()
        child.wait()


def _follows(pid: int, log: Path) -> bool:
    """``log`` held open and the run waiting for its next poll: the follow has started (imports
    and signals done, the log's end sought). The log held open alone was also true while the
    format was detected from it, before the seek to its end (a line written then was lost)."""
    return any(name == str(log) for name, _ in _open_files(pid)) and _waiting(pid)


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    """``python -m logaudit ARGS`` with no config file, its output piped, and Ctrl-C, SIGHUP
    and SIGTERM at their defaults (``_default_signals``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "logaudit", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "LOGAUDIT_CONFIG": os.devnull},
        preexec_fn=_default_signals,  # noqa: PLW1509
    )  # fmt: skip


def _default_signals() -> None:
    """In the child before exec: Ctrl-C, SIGHUP and SIGTERM as on a terminal, however the tests
    were started. A suite run in the background of a non-interactive shell (`cmd &`) inherits
    SIGINT ignored, and under nohup SIGHUP too; logaudit rightly keeps an ignored signal ignored
    (procs.install), so the process would never see the signal the test sends."""
    import signal

    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)



@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/PID/fd")
def test_records_follow_to_a_file_keeps_its_rows_when_stopped_by_sigterm(tmp_path: Path) -> None:
    """records --follow -o FILE stopped by SIGTERM (a service stop) dropped the file written
    so far and the bad-line summary (rev21-e #4): the file is written, then exit 143."""
    import signal

    log = tmp_path / "a.log"
    log.write_bytes(b"".join(LINES[:5]))
    folder = tmp_path / "out"
    folder.mkdir()
    proc = _spawn("records", str(log), "--follow", "--fields", "path", "-o",
                  str(folder / "rows.csv"))  # fmt: skip
    try:
        _until(lambda: _follows(proc.pid, log))
        with open(log, "ab") as f:
            f.write(b"".join(LINES[5:8]) + b"not a log line\n")
        _until(lambda: any(name.startswith(str(folder)) and size > 0
                           for name, size in _open_files(proc.pid)))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert b"stopped by SIGTERM" in err
    assert b"1 bad line" in err, err  # the summary
    assert len((folder / "rows.csv").read_text().splitlines()) == 1 + 3


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/PID/fd")
@pytest.mark.parametrize(
    ("command", "sig", "code"),
    [
        (["records", "--follow"], "SIGTERM", 143),
        (["records", "--follow"], "SIGHUP", 129),
        (["records", "--follow"], "SIGINT", 0),
        (["watch", "--interval", "0.2"], "SIGTERM", 143),
        (["watch", "--interval", "0.2"], "SIGHUP", 129),
    ],
)
def test_a_signal_ends_follow_and_watch_with_the_exit_tables_code(
    tmp_path: Path, command: list[str], sig: str, code: int
) -> None:
    """SIGTERM and SIGHUP stop records --follow and watch (line mode) with 143 and 129, as the
    README's exit table says (both exited 0: the KeyboardInterrupt that Ctrl-C ends them with
    caught ``procs.Stopped`` too); Ctrl-C still ends a follow with 0."""
    import signal

    log = tmp_path / "a.log"
    log.write_bytes(b"".join(LINES[:5]))
    proc = _spawn(command[0], str(log), *command[1:])
    try:
        # Ready, not a fixed sleep (a signal before the CLI had loaded gave 130 or -15): the
        # log held open, then a line written to it shown (the polling loop running).
        _until(lambda: _follows(proc.pid, log))
        with open(log, "ab") as f:
            f.write(LINES[5])
        assert proc.stdout is not None
        assert select.select([proc.stdout], [], [], 60)[0], "no output"
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    if code:
        assert f"stopped by {sig}".encode() in err


def test_a_truncation_that_grows_back_past_the_offset_within_a_poll_is_seen(
    tmp_path: Path,
) -> None:
    """copytruncate on a busy server: the file cut and written past the old offset before the
    next poll. It was missed (the check ran only when a read returned nothing): the new line
    read from the old offset on, a 504 never shown and a bad line counted (QA21 #7). Said in
    one line, the new lines read from the start."""
    log = tmp_path / "live.log"
    first = LINES[0]
    log.write_bytes(first)
    longer = re.sub(rb'" \d{3} ', b'" 504 ', LINES[1], count=1)
    pad = b"x" * max(0, len(first) - len(longer) + 4)
    longer = re.sub(rb'"([A-Z]+) /', lambda m: m.group(0) + pad, longer, count=1)
    assert len(longer) > len(first)
    calls = iter(range(5))

    def stop() -> bool:
        n = next(calls, None)
        if n == 2:  # after two polls: truncated and written past the old offset at once
            with open(log, "r+b") as f:
                f.truncate(0)
                f.write(longer)
        return n is None

    chosen = filters.parse({**{k: () for k in filters.option_names()}, "status": ("5xx",)})
    settings = load({"extra": {"filters": chosen}}, env={})
    notes: list[str] = []
    out = io.StringIO()
    result = follow([log], settings, Query(parse_fields("path,status")), "jsonl", out,
                    stop=stop, interval=0.01, on_note=notes.append)
    rows = [json.loads(r) for r in out.getvalue().splitlines()]
    assert [r["status"] for r in rows] == [504], (rows, notes)
    assert notes == [f"{log}: truncated, reading from its start"]
    assert not result.bad.total


def test_a_log_whose_last_line_has_no_newline_at_start_is_not_read_again(
    tmp_path: Path,
) -> None:
    """records --follow on a file cut mid-line (head -c): the byte before the end offset is no
    newline, and the first poll took that for a truncation: the whole log printed again
    (rev21-e #2). Only what is written after the start is read."""
    log = tmp_path / "live.log"
    log.write_bytes(b"".join(LINES[:50]) + LINES[50][:30])
    calls = iter(range(6))

    def stop() -> bool:
        n = next(calls, None)
        if n == 2:
            with open(log, "ab") as f:
                f.write(b"\n" + LINES[51])
        return n is None

    notes: list[str] = []
    out = io.StringIO()
    follow([log], load({}, env={}), Query(parse_fields("path")), "jsonl", out,
           stop=stop, interval=0.01, on_note=notes.append)
    rows = [json.loads(r) for r in out.getvalue().splitlines()]
    assert notes == []
    assert len(rows) == 1, rows


def _on_a_terminal(
    args: list[str], leader: bool, stderr: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``python -m logaudit ARGS`` on a terminal of its own (a pty): as the session it leads
    (``leader``: the window's program, which gets the SIGHUP when it closes), or holding the
    terminal under a shell that got the SIGHUP (not ``leader``: no SIGHUP reaches it, only
    EIO). Signals at their defaults; stderr to the terminal or to ``stderr``. Returns the
    process and the terminal's master end (closing it closes the window)."""
    import fcntl
    import termios

    master, slave = os.openpty()

    def start() -> None:
        _default_signals()
        if leader:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    err = open(stderr, "wb") if stderr is not None else slave  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "logaudit", *args], stdin=slave, stdout=slave, stderr=err,
            env={**os.environ, "LOGAUDIT_CONFIG": os.devnull},
            preexec_fn=start,  # noqa: PLW1509
        )  # fmt: skip
    finally:
        os.close(slave)
        if stderr is not None:
            err.close()  # type: ignore[union-attr]
    return proc, master


def _shown(master: int) -> bool:
    """Something was drawn on the terminal (read off, so that the program never blocks)."""
    if not select.select([master], [], [], 0.1)[0]:
        return False
    return bool(os.read(master, 65536))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/PID/fd")
@pytest.mark.parametrize("leader", [True, False], ids=["sighup", "eio-only"])
@pytest.mark.parametrize(
    "command", [["watch", "--interval", "0.2"], ["records", "--follow"]], ids=["watch", "records"]
)
def test_closing_the_terminal_ends_watch_and_follow_as_sighup_does(
    tmp_path: Path, command: list[str], leader: bool
) -> None:
    """faults22 #2: closing the terminal under watch or records --follow ended with "internal
    error: Input/output error" (exit 1; the terminal's mode restored, or the last line written,
    on a terminal that was gone), and a watch that got no SIGHUP (its shell did) kept
    redrawing into the closed terminal forever at full speed. Now: exit 129, nothing written
    to the closed terminal, no traceback."""
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(LINES[:5]))
    err = tmp_path / "err" if not leader else None  # with the SIGHUP: stderr is the terminal
    proc, master = _on_a_terminal([command[0], str(log), *command[1:]], leader, err)
    try:
        _until(lambda: _follows(proc.pid, log))
        with open(log, "ab") as f:
            f.write(LINES[5])
        _until(lambda: _shown(master))
        os.close(master)  # the window closes
        if not leader and command[0] == "records":
            # Without the SIGHUP, a follow learns it at its next row (as tail -f does).
            with open(log, "ab") as f:
                f.write(LINES[6])
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 129
    if err is not None:
        text = err.read_text()
        assert "internal error" not in text and "Traceback" not in text, text
        assert text.splitlines()[-1] == "logaudit: stopped: the terminal was closed", text


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/PID/fd")
def test_closing_the_terminal_under_follow_to_a_file_keeps_the_file(tmp_path: Path) -> None:
    """records --follow -o FILE on a terminal that closes: the file is written, exit 129 (the
    last line, to the closed terminal, failed: exit 1)."""
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(LINES[:5]))
    out = tmp_path / "rows.csv"
    proc, master = _on_a_terminal(
        ["records", str(log), "--follow", "--fields", "path", "-o", str(out)], leader=True
    )
    try:
        _until(lambda: _follows(proc.pid, log))
        with open(log, "ab") as f:
            f.write(b"".join(LINES[5:8]))
        _until(lambda: any(name.startswith(str(tmp_path)) and name != str(log) and size > 0
                           for name, size in _open_files(proc.pid)))
        os.close(master)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 129
    assert len(out.read_text().splitlines()) == 1 + 3


def test_a_sigterm_while_a_closed_terminal_is_said_ends_with_143(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rev22 #7: a SIGTERM that came while the closed terminal's EIO was being handled (just
    as its signals were ignored) ended with 129, the terminal's code: it ends as SIGTERM does.
    The race is set up here: the handler's Stopped raised where it can arrive."""
    import errno
    import signal

    from logaudit import cli
    from logaudit.procs import Stopped

    def term() -> None:
        raise Stopped(signal.SIGTERM)

    def eio() -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(cli, "ignore_stops", term)
    monkeypatch.setattr(cli, "hung_up", lambda: True)  # stdout: a terminal that hung up
    with pytest.raises(SystemExit) as e:
        cli.command(eio)()
    assert e.value.code == 143
    assert capsys.readouterr().err == "logaudit: stopped by SIGTERM\n"


def _stepped(steps: dict[int, Callable[[], object]], polls: int) -> Callable[[], bool]:
    """A follow's ``stop``: at poll N it runs ``steps[N]`` (a write, a rotation...), and it
    stops the follow after ``polls`` polls."""
    count = iter(range(polls))

    def stop() -> bool:
        n = next(count, None)
        if n in steps:
            steps[n]()
        return n is None

    return stop


def test_followed_rows_carry_their_line_in_the_file(tmp_path: Path) -> None:
    """faults22 #3: records --follow numbered lines from where it started (the first new line
    was 1, not the file's 301), and went on counting across a rotation and a truncation. Now:
    the file's own line (as ``sed -n Np`` shows it, bad lines said so too), 1 again in the new
    file and after a truncation. The lines before the start are counted from the file."""
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(LINES[:300]))
    out = io.StringIO()
    steps = {
        2: lambda: _append(log, LINES[300] + LINES[301] + b"not a log line\n"),
        5: lambda: (os.replace(log, tmp_path / "access.log.1"), _append(log, LINES[302])),
        8: lambda: _append(log, LINES[303]),
        11: lambda: (log.write_bytes(b""), None),
        14: lambda: _append(log, LINES[304] + LINES[305]),
    }
    stop = _stepped(steps, 20)

    r = follow([log], load({}, env={}), Query(parse_fields("line,path")), "jsonl", out,
               stop=stop, interval=0.01, on_note=lambda m: None)
    target = [LINES[i].split(b'"')[1].split(b" ")[1] for i in range(300, 306)]
    paths = [t.split(b"?")[0].decode() for t in target]
    assert [(x["line"], x["path"]) for x in map(json.loads, out.getvalue().splitlines())] == [
        (301, paths[0]), (302, paths[1]), (1, paths[2]), (2, paths[3]), (1, paths[4]),
        (2, paths[5]),
    ]  # fmt: skip
    assert [line for line, _ in r.bad.samples[str(log)]] == [303]


def test_a_rotated_files_last_line_without_its_newline_keeps_its_line(tmp_path: Path) -> None:
    """rev22 #1: a rotated file's last line written without its newline (read at the rotation)
    was numbered 1, the new file's first line, and a NUL run before it was said at the new
    file's offset 0. Now: its line and its offset in the rotated file."""
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(LINES[:10]))
    hole = b"\x00" * 100
    out = io.StringIO()
    steps = {
        2: lambda: _append(log, LINES[10] + hole + LINES[11][:-1]),  # line 12 unterminated
        4: lambda: (os.replace(log, tmp_path / "access.log.1"), _append(log, LINES[12])),
        7: lambda: _append(log, LINES[13]),
    }
    stop = _stepped(steps, 12)

    r = follow([log], load({}, env={}), Query(parse_fields("line,path")), "jsonl", out,
               stop=stop, interval=0.01, on_note=lambda m: None)
    paths = [LINES[i].split(b'"')[1].split(b" ")[1].split(b"?")[0].decode() for i in range(10, 14)]
    assert [(x["line"], x["path"]) for x in map(json.loads, out.getvalue().splitlines())] == [
        (11, paths[0]), (12, paths[1]), (1, paths[2]), (2, paths[3]),
    ]  # fmt: skip
    start = len(b"".join(LINES[:11]))
    assert r.bad.nul_runs == {str(log): 1}
    assert f"bytes {start:,}-{start + 99:,}: 100 NUL bytes" in str(r.bad.nul_first[str(log)])


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)
