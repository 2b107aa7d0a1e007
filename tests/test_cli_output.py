"""-o never replaces what it points at with something else: a device or FIFO is written in
place (renaming a temp file over /dev/null once turned it into a regular file), a symlink
stays a symlink, and a regular file is replaced whole."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli

LINE = '1.2.3.4 - - [10/Mar/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n'


def _log(tmp_path: Path) -> Path:
    p = tmp_path / "a.log"
    p.write_text(LINE * 3)
    return p


def test_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = CliRunner().invoke(
        cli, ["summary", str(_log(tmp_path)), "-o", str(fifo), "--format", "json"]
    )
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert b'"requests": 3' in got[0]


def test_dev_null_stays_a_device() -> None:
    before = os.stat("/dev/null").st_mode
    assert stat.S_ISCHR(before)
    result = CliRunner().invoke(cli, ["formats"])  # a command that needs no input
    assert result.exit_code == 0
    # The real check: a report to /dev/null leaves it a character device.
    log = Path(__file__).parent / "golden" / "basic.log"
    result = CliRunner().invoke(cli, ["summary", str(log), "-o", "/dev/null", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_symlink_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    result = CliRunner().invoke(cli, ["summary", str(_log(tmp_path)), "-o", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert '"requests": 3' in real.read_text()


def test_a_reader_that_stops_early_is_not_an_error(sample_logs: Path) -> None:
    """`logaudit summary ... | head`: quiet, exit 0, whatever the renderer."""
    import shlex
    import subprocess
    import sys

    for fmt in ("terminal", "json"):
        cmd = (
            f"{shlex.quote(sys.executable)} -m logaudit summary {shlex.quote(str(sample_logs))} "
            f"--format {fmt} | head -2"
        )
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (fmt, done.stderr)
        # Nothing but the sample logs' own bad lines (one line, said on stderr after the report
        # unless the reader left first).
        err = done.stderr.splitlines()
        assert len(err) <= 1 and all(e.startswith("logaudit: 7 bad lines") for e in err), err


def test_the_console_entry_flushes_everything_and_keeps_exit_codes(
    sample_logs: Path, tmp_path: Path
) -> None:
    """main() ends the process with os._exit after flushing: the whole report still reaches a
    pipe, and documented exit codes and messages survive."""
    import json
    import subprocess
    import sys

    from logaudit.errors import ExitCode

    done = subprocess.run(
        [sys.executable, "-m", "logaudit", "summary", str(sample_logs), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["overview"]["requests"] > 0

    missing = subprocess.run(
        [sys.executable, "-m", "logaudit", "summary", str(tmp_path / "nope.log")],
        capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == int(ExitCode.INPUT_MISSING)
    assert "nope.log" in missing.stderr and "Traceback" not in missing.stderr

    usage = subprocess.run(
        [sys.executable, "-m", "logaudit", "summary", "--no-such-option"],
        capture_output=True, text=True, timeout=120,
    )
    assert usage.returncode == 2 and "no such option" in usage.stderr.lower()


def test_a_command_run_with_stdout_closed_still_succeeds(sample_logs: Path, tmp_path: Path) -> None:
    """Cron jobs and daemons may start us with stdout closed (`>&-`): with -o the report is
    written and the command ends with 0, without a traceback."""
    import shlex
    import subprocess
    import sys

    out = tmp_path / "r.json"
    cmd = (
        f"{shlex.quote(sys.executable)} -m logaudit summary {shlex.quote(str(sample_logs))} "
        f"--format json -o {shlex.quote(str(out))} >&-"
    )
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert '"requests"' in out.read_text()


def test_json_records_are_itertuples_values_made_plain() -> None:
    """render.tabular.records iterates columns without ``itertuples`` (5 ms a summary): the
    same plain values, for every kind of column a section holds, and no column at all."""
    import numpy as np
    import pandas as pd

    from logaudit.render.tabular import _plain, records

    frame = pd.DataFrame(
        {
            "text": pd.array(["a", None, "c"], dtype="str"),
            "object": ["x", None, 3],
            "int": np.array([1, 2, 3], np.int64),
            "float": [0.5, np.nan, 2.0],
            "bool": [True, False, True],
            "when": pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "cat": pd.Categorical(["p", "q", "p"]),
        }
    )
    want = [
        {c: _plain(v) for c, v in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
    assert records(frame) == want
    assert [type(v) for r in records(frame) for v in r.values()] == [
        type(v) for r in want for v in r.values()
    ]
    assert records(pd.DataFrame(index=[1, 2])) == [{}, {}]
    assert records(pd.DataFrame()) == []


@pytest.mark.parametrize("args", [("formats",), ("sections",), ("config",), ("--help",)])
def test_listing_commands_with_stdout_closed_end_quietly(args: tuple[str, ...]) -> None:
    """`formats` printed through render/plain.py met sys.stdout = None with `>&-` and ended
    in an internal error (exit 1); as the others, it prints nothing and ends with 0."""
    import shlex
    import subprocess
    import sys

    cmd = f"{shlex.quote(sys.executable)} -m logaudit {' '.join(args)} >&-"
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_formats_cut_short_by_a_reader_ends_with_0() -> None:
    """`logaudit formats | head -1`: a reader that stops early is not an error (README: exit
    0); rich's broken-pipe handling had made it 1."""
    import shlex
    import subprocess
    import sys

    cmd = f"{shlex.quote(sys.executable)} -m logaudit formats | head -1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["summary", "-o", ""],
        ["problems", "--output="],
        ["records", "-o", ""],
        ["scrub", "-o", ""],
    ],
)
def test_an_empty_output_name_is_wrong_usage(tmp_path: Path, args: list[str]) -> None:
    """-o '' (an unset variable in a cron line) is wrong usage, exit 2 in one line; as a path
    it was ".", the current folder, and the run failed as an output it cannot write (exit 9)."""
    log = _log(tmp_path)
    result = CliRunner().invoke(cli, [args[0], str(log), *args[1:]])
    assert result.exit_code == 2, result.output
    assert result.stderr == "logaudit: error: -o: the file name is empty\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args, said",
    [
        (["summary", "--state", ""], "--state: the folder name is empty"),
        (["summary", "--csv-dir="], "--csv-dir: the folder name is empty"),
        (["summary", "--geoip-dir", ""], "--geoip-dir: the name is empty"),
        (["summary", "--config", ""], "--config: the file name is empty"),
        (["state", "info", "--state", ""], "--state: the folder name is empty"),
    ],
)
def test_an_empty_path_is_wrong_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    """--state '' was read as ".": a history store made in the current folder (--csv-dir ''
    wrote its CSV files there, --geoip-dir '' looked there, --config '' said '. is a
    directory', exit 7). As -o '': wrong usage, exit 2 in one line, nothing written."""
    monkeypatch.chdir(tmp_path)
    log = _log(tmp_path)
    before = set(tmp_path.iterdir())
    argv = args if args[0] == "state" else [args[0], str(log), *args[1:], "--format", "json"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"logaudit: error: {said}\n"
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("command", ["summary", "problems", "records", "scrub"])
def test_an_empty_log_name_is_wrong_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """summary '' (an unset variable) read "." as a folder of logs: in a folder holding logs
    it failed with an internal error (exit 1), in one without them said ': a directory with
    no log files in it' (exit 3). As -o '': wrong usage, exit 2 in one line."""
    monkeypatch.chdir(tmp_path)
    _log(tmp_path)
    result = CliRunner().invoke(cli, [command, str(tmp_path / "a.log"), ""])
    assert result.exit_code == 2, result.output
    assert result.stderr == "logaudit: error: LOG: the name is empty\n"
    assert result.stdout == ""


def test_an_empty_path_raises_a_usage_error_for_the_group_to_say() -> None:
    """_Named printed its line and called sys.exit inside Click's convert, which skipped
    Click's own handling (the context's cleanup; a caller of ``main(standalone_mode=False)``
    got SystemExit, not the error): it raises a usage error that the top group says in one
    line (the message and exit 2 above)."""
    import click

    from logaudit.cli import _Named

    opt = click.Option(["-s", "--state"])
    with pytest.raises(click.UsageError) as e:
        _Named(file_okay=False).convert("", opt, None)
    assert e.value.exit_code == 2
    assert e.value.format_message() == "-s: the folder name is empty"


def test_tests_keep_the_state_folder_out_of_the_real_home() -> None:
    """An unsent mail (.eml) and the hash secret go to the state folder: in a test it is a
    temporary one (conftest), so no test can leave them in the user's ~/.local/state."""
    from logaudit.config import load
    from logaudit.state import state_dir

    real = Path.home() / ".local" / "state"
    assert not state_dir().is_relative_to(real)
    assert not load({}, env={}).mail.spool().is_relative_to(real)
