"""Files logaudit writes are owner-only, and a report written where others can read it gets
one line of warning (never an error)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate, line, write

from logaudit.cli import cli


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write(tmp_path / "access.log", [line(), line(client="198.51.100.7")])


@pytest.fixture
def public() -> Iterator[Path]:
    """A folder anyone may reach: pytest's own tmp_path lies under a 0700 folder, where
    nothing is listable by others (and so is not warned about)."""
    d = Path(tempfile.mkdtemp(prefix="logaudit-test-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d)


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stderr


def test_private_folder_no_warning_and_file_is_0600(log: Path, tmp_path: Path) -> None:
    d = tmp_path / "private"
    d.mkdir(mode=0o700)
    code, err = _run("summary", str(log), "-o", str(d / "r.json"))
    assert code == 0 and "warning" not in err
    assert stat.S_IMODE((d / "r.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("cmd", [["summary"], ["records"], ["scrub"]])
def test_world_listable_folder_warns(log: Path, public: Path, cmd: list[str]) -> None:
    d = public / "public"
    d.mkdir()
    os.chmod(d, 0o755)
    out = d / ("r.json" if cmd[0] == "summary" else "r.csv" if cmd[0] == "records" else "c.log")
    code, err = _run(*cmd, str(log), "-o", str(out))
    assert code == 0
    assert err.count("warning:") == 1 and "anyone on this machine can list" in err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_readable_existing_target_warns(log: Path, tmp_path: Path) -> None:
    """A report replacing a readable file is written owner-only (deliver/files.py), so nothing
    is left to warn about; asked for with --mode 0644, it is readable, and said so."""
    d = tmp_path / "private"
    d.mkdir(mode=0o700)
    target = d / "r.json"
    target.write_text("{}")
    os.chmod(target, 0o644)
    code, err = _run("summary", str(log), "-o", str(target))
    assert code == 0 and "warning:" not in err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    code, err = _run("summary", str(log), "-o", str(target), "--mode", "0644")
    assert code == 0 and "can be read by others (mode 644)" in err


def test_csv_dir_in_public_folder_warns(log: Path, public: Path) -> None:
    d = public / "csv"
    d.mkdir()
    os.chmod(d, 0o755)
    code, err = _run("summary", str(log), "--csv-dir", str(d))
    assert code == 0 and "anyone on this machine can list" in err


@pytest.mark.parametrize("closed", [0o700, 0o754])
def test_a_listable_folder_inside_a_closed_one_is_private(
    log: Path, public: Path, closed: int
) -> None:
    # priv/reports (0755) under priv (0700, or without x for others): nobody else can get
    # in to list it. The warning fired on every cron run.
    os.chmod(public, closed)
    d = public / "reports"
    d.mkdir()
    os.chmod(d, 0o755)
    code, err = _run("summary", str(log), "-o", str(d / "r.json"))
    assert code == 0 and "warning" not in err
    code, err = _run("summary", str(log), "--csv-dir", str(d / "csv"))
    assert code == 0 and "warning" not in err
    os.chmod(public, 0o711)  # others may pass (not list) it: reports/ is listable
    code, err = _run("summary", str(log), "-o", str(d / "r.json"))
    assert "anyone on this machine can list" in err
