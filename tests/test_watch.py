"""logaudit watch: the figures of the last 5 minutes and hour, line mode, and a real terminal."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from logaudit.config import load
from logaudit.samplegen import generate_lines
from logaudit.watch import Watcher, lines

REPO = Path(__file__).resolve().parent.parent
LINES = list(generate_lines(2000, days=1))


def _burst(line: bytes, n: int) -> bytes:
    """n copies of ``line`` answered 503, at its time."""
    text = re.sub(rb'" \d{3} ', b'" 503 ', line, count=1)
    return text * n


def test_line_mode_shows_a_burst_and_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(LINES))
    w = Watcher([log], load({}, env={}))
    out = io.StringIO()
    steps = iter(range(4))

    def step(_: float) -> None:
        k = next(steps, None)
        if k == 0:
            with open(log, "ab") as f:
                f.write(_burst(LINES[-1], 200))
        elif k == 1:
            os.replace(log, tmp_path / "access.log.1")
            log.write_bytes(_burst(LINES[-1], 100))

    polls = iter(range(4))
    lines(w, out, 0, lambda: next(polls, None) is None, step)
    got = out.getvalue().splitlines()
    rates = [
        float(m)
        for m in re.findall(r"last 5 minutes: [\d,]+ req [\d.]+/s 5xx ([\d.]+)%", out.getvalue())
    ]
    assert rates[0] < 5 and rates[1] > 50 and rates[-1] > rates[1]
    assert any("rotated" in line for line in got)
    five = w.window.figures()[0]
    assert five.top["status"][0][0] == "503"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux")
def test_in_a_real_terminal(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(LINES))
    session = f"logaudit-watch-{os.getpid()}"
    cmd = f"cd {REPO} && PYTHONPATH={REPO} python -m logaudit watch {log} --interval 0.5"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd], check=True
    )

    def pane() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout

    try:
        deadline = time.time() + 30
        while "requests" not in pane() and time.time() < deadline:
            time.sleep(0.3)
        assert "last 5 minutes" in pane()
        with open(log, "ab") as f:
            f.write(_burst(LINES[-1], 300))
        time.sleep(1.5)  # two refreshes
        shown = re.findall(r"5xx ([\d.]+)%", pane())
        assert shown and float(shown[0]) > 50
        os.replace(log, tmp_path / "access.log.1")
        log.write_bytes(_burst(LINES[-1], 10))
        time.sleep(1.5)
        assert "rotated" in pane()
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        time.sleep(1.5)
        alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True)
        assert alive.returncode != 0  # q quit the view, which ended the session
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_a_folders_error_log_is_skipped_in_one_line(tmp_path: Path) -> None:
    """watch DIR, the folder holding nginx's error.log beside access.log: error.log is said
    in one line and not followed (as summary DIR skips it), the access log watched; watch
    ended with exit 4 before any figure."""
    import sys

    (tmp_path / "access.log").write_bytes(b"".join(LINES))
    (tmp_path / "error.log").write_bytes(
        b"2024/03/01 10:50:01 [error] 123#0: *1 connect() failed (111: Connection refused)\n"
    )
    cmd = [sys.executable, "-m", "logaudit", "watch", str(tmp_path), "--interval", "0.2"]
    env = {**os.environ, "LOGAUDIT_CONFIG": os.devnull}
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    guard = threading.Timer(60, proc.kill)  # a hang fails the test, not the suite
    guard.start()
    try:
        assert proc.stdout is not None
        got = [proc.stdout.readline().decode() for _ in range(3)]
    finally:
        guard.cancel()
        proc.kill()
        proc.communicate()
    said = [line for line in got if "error.log" in line]
    assert len(said) == 1 and f"skipped, found in {tmp_path}" in said[0], got
    assert re.search(r"last 5 minutes: [1-9][\d,]* req", got[-1]), got


def test_a_folder_whose_every_file_is_skipped_ends_the_watch(tmp_path: Path) -> None:
    """watch DIR with only nginx's error.log in it: said, skipped, and then nothing is left to
    watch: exit 4 as summary DIR, not "0 req" at every refresh for ever."""
    from logaudit.errors import LogauditError

    err = tmp_path / "error.log"
    err.write_bytes(b"2024/03/01 10:50:01 [error] 123#0: *1 connect() failed (111)\n")
    with pytest.raises(LogauditError) as e:
        Watcher([err], load({}, env={}), {err: str(tmp_path)})
    assert e.value.exit_code == 4 and "no log left to follow" in str(e.value)
    assert "skipped, found in" in str(e.value)  # why, in the one line the user sees


def test_a_w3c_log_longer_than_the_backlog_is_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """watch starts from the log's last 32 MB: a W3C log's #Fields header, at its top, was
    cut off and the format not recognised (exit 4)."""
    import logaudit.watch as watch

    monkeypatch.setattr(watch, "BACKLOG_BYTES", 600)
    log = tmp_path / "u_ex.log"
    rows = b"".join(
        b"2024-03-01 00:%02d:05 10.0.0.1 GET /p%d 200 7\n" % (i % 60, i) for i in range(200)
    )
    log.write_bytes(b"#Version: 1.0\n#Fields: date time c-ip cs-method cs-uri-stem sc-status "
                    b"time-taken\n" + rows)
    w = Watcher([log], load({}, env={}))
    w.poll()
    assert 0 < len(w.window.rows) < 200


def test_a_log_longer_than_the_backlog_is_not_read_again_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """watch reads a long log's last BACKLOG_BYTES but kept its offset at 0: the next poll
    checked the wrong byte, said "truncated" and read the whole file again, figures inflated
    (rev21-e #1). Polls read on from the backlog's end."""
    import logaudit.watch as watch

    monkeypatch.setattr(watch, "BACKLOG_BYTES", 2000)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(LINES))
    w = Watcher([log], load({}, env={}))
    w.poll()
    first = len(w.window.rows)
    assert 0 < first < 40
    w.poll()
    w.poll()
    assert w.notes == []
    assert len(w.window.rows) == first
