"""Files logaudit writes are owner-only, and a report written where others can read it gets
one line of warning (never an error)."""

from __future__ import annotations

import os
import stat
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
def test_world_listable_folder_warns(log: Path, tmp_path: Path, cmd: list[str]) -> None:
    d = tmp_path / "public"
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


def test_csv_dir_in_public_folder_warns(log: Path, tmp_path: Path) -> None:
    d = tmp_path / "csv"
    d.mkdir()
    os.chmod(d, 0o755)
    code, err = _run("summary", str(log), "--csv-dir", str(d))
    assert code == 0 and "anyone on this machine can list" in err
