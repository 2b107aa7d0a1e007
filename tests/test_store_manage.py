"""Looking after the store (state info|verify|prune|rebuild) and surviving SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli
from logaudit.errors import ConfigError, ExitCode, LogauditError
from logaudit.store import manage
from logaudit.store.layout import STATE_FILE
from tests.store_helpers import figures, log_bytes, report

DATA = log_bytes(3000, days=3, bad=2)
REPO = Path(__file__).resolve().parent.parent


def _store(tmp: Path) -> tuple[Path, Path]:
    log = tmp / "a.log"
    log.write_bytes(DATA)
    state = tmp / "state"
    report([str(log)], state)
    return log, state


def test_info_and_verify(tmp_path: Path) -> None:
    _, state = _store(tmp_path)
    got = manage.info(state)
    assert got["days"] == 3 and got["first_day"] == "2026-01-22"
    assert got["inputs"][0]["lines"] == 3000
    assert manage.verify(state) == []
    res = CliRunner().invoke(cli, ["state", "info", "--state", str(state), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["days"] == 3
    # One flipped byte is found, and the command exits 7.
    victim = next(state.rglob("paths.*.parquet"))
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    assert any("checksum" in p for p in manage.verify(state))
    res = CliRunner().invoke(cli, ["state", "verify", "--state", str(state)])
    assert res.exit_code == 7


@pytest.mark.parametrize("how", ["flipped", "cut", "gone", "zeroed"])
def test_verify_says_one_line_per_damaged_file(tmp_path: Path, how: str) -> None:
    """A damaged file was two lines, its checksum's then its failed read's (naming it again
    with `state verify` as the way out): one line per file now, saying what is wrong."""
    _, state = _store(tmp_path)
    victims = sorted(state.rglob("*.parquet"))
    for victim in victims:
        raw = bytearray(victim.read_bytes())
        if how == "flipped":
            raw[len(raw) // 2] ^= 0xFF
        elif how == "cut":
            raw = raw[: len(raw) // 2]
        elif how == "zeroed":
            raw = bytearray(len(raw))
        if how == "gone":
            victim.unlink()
        else:
            victim.write_bytes(bytes(raw))
    got = manage.verify(state)
    assert len(got) == len(victims), got
    said = {line.split(": ", 1)[1].split(" ", 1)[0] for line in got}
    assert said == {v.name for v in victims}, got
    wrong = "is missing" if how == "gone" else "does not match its checksum"
    assert all(wrong in line and "state verify" not in line for line in got), got
    res = CliRunner().invoke(cli, ["state", "verify", "--state", str(state)])
    assert res.exit_code == 7
    assert res.stderr.count("\n") == len(victims) + 1  # and the closing line
    assert f"{len(victims)} problem(s)" in res.stderr


@pytest.mark.parametrize("lost", ["missing", "empty"])
def test_a_store_without_its_key_is_refused_and_verify_says_so(tmp_path: Path, lost: str) -> None:
    # A new key would split every returning client from its stored tokens (wrong figures,
    # silently); an empty one was used as a key.
    log, state = _store(tmp_path)
    key = state / "key"
    if lost == "missing":
        key.unlink()
    else:
        key.write_bytes(b"")
    more = tmp_path / "b.log"
    more.write_bytes(log_bytes(50, days=1))
    with pytest.raises(ConfigError, match=f"the key file is {lost} but the store holds days"):
        report([str(more)], state)
    assert key.exists() == (lost == "empty")  # left as it was
    # A report from the stored days alone needs no key: history stays readable.
    alone = report([], state)
    assert alone.report is not None and alone.exit_code == 0
    assert key.exists() == (lost == "empty")
    assert manage.verify(state) == [f"key is {lost}"]
    assert CliRunner().invoke(cli, ["state", "verify", "--state", str(state)]).exit_code == 7
    # rebuild is the way out: a new key, and the store is sound again.
    from logaudit.config import load
    from logaudit.sources import expand

    manage.rebuild(state, expand([str(log)]), load({}, env={}))
    assert len(key.read_bytes()) == 32 and manage.verify(state) == []


def test_a_new_store_gets_its_key(tmp_path: Path) -> None:
    # No day stored yet: an empty key file is replaced, not refused.
    state = tmp_path / "state"
    state.mkdir()
    (state / "key").write_bytes(b"")
    log = tmp_path / "a.log"
    log.write_bytes(log_bytes(50, days=1))
    assert report([str(log)], state).report is not None
    assert len((state / "key").read_bytes()) == 32 and manage.verify(state) == []


def test_folders_made_for_a_new_store_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--state ~/.local/state/logaudit/shop on a fresh machine: every folder made on the way is
    0700, not only the store's own (mkdir(parents=True, mode=0o700) left the others 0755);
    state rebuild makes them alike. Only under the state folder are folders made on the way
    (elsewhere the parent must exist: test_config_trust)."""
    import stat

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))  # not made yet
    log = tmp_path / "a.log"
    log.write_bytes(log_bytes(50, days=1))
    state = tmp_path / "xdg" / "logaudit" / "shop"
    assert report([str(log)], state).report is not None
    rebuilt = tmp_path / "xdg" / "other" / "shop"
    res = CliRunner().invoke(cli, ["state", "rebuild", str(log), "--state", str(rebuilt)])
    assert res.exit_code == 0, res.output
    for f in (state, state.parent, state.parent.parent, rebuilt, rebuilt.parent):
        assert stat.S_IMODE(f.stat().st_mode) == 0o700, f


def test_prune_removes_old_days_only(tmp_path: Path) -> None:
    _, state = _store(tmp_path)
    gone = manage.prune(state, 1, today=date(2026, 1, 25))
    assert gone == ["2026-01-22", "2026-01-23"]
    assert sorted(p.name for p in state.glob("day=*")) == ["day=2026-01-24"]
    assert manage.info(state)["days"] == 1
    assert manage.age_days("8w") == 56 and manage.age_days("400") == 400


def test_a_prune_of_every_day_before_today_needs_yes_and_the_empty_report_says_why(
    tmp_path: Path,
) -> None:
    # QA22 #10: `state prune --older-than 0` emptied the store with no confirmation, then a
    # report on the same logs said "no request" (exit 8) and nothing of why: they had been
    # read into days since pruned, and their offsets keep them from being read again.
    log, state = _store(tmp_path)
    for age in ("0d", "0w"):
        asked = ["state", "prune", "--older-than", age, "--state", str(state)]
        res = CliRunner().invoke(cli, asked)
        assert res.exit_code == ExitCode.USAGE and "every day before today (3 of 3," in res.stderr
        assert len(res.stderr.splitlines()) == 1 and manage.info(state)["days"] == 3
    args = ["state", "prune", "--older-than", "0", "--state", str(state)]
    res = CliRunner().invoke(cli, [*args, "--yes"])
    assert res.exit_code == 0 and "removed 3 day(s)" in res.output
    out = report([str(log)], state)
    assert out.exit_code == ExitCode.NO_DATA and out.report is not None
    why = "the input (3,000 lines) had been read into the store by earlier runs"
    assert [n for n in out.report.notes if why in n] and [m for m in out.messages if why in m]
    # Not said when the logs were read by this run (nothing in the period asked, that is all).
    out = report([str(log)], tmp_path / "fresh", since=datetime(2030, 1, 1))
    assert out.exit_code == ExitCode.NO_DATA and out.report is not None
    assert not [n for n in out.report.notes if "earlier runs" in n]


def test_only_an_age_of_0_needs_yes(tmp_path: Path) -> None:
    # Review of qafix22c #3: the guard asked --yes of any prune removing every day held, so a
    # nightly `--older-than 400d` on a store no longer fed failed (exit 2) every night and kept
    # its data past retention; and on a store fed today `--older-than 0` keeps today's day, so
    # it removed all but that one with no --yes (QA22 #10's case).
    _, state = _store(tmp_path)
    with pytest.raises(LogauditError, match=r"before today \(2 of 3, 2026-01-22 \.\. 2026-01-23\)"):
        manage.prune(state, 0, today=date(2026, 1, 24))  # fed "today": its day would stay
    assert manage.info(state)["days"] == 3
    res = CliRunner().invoke(cli, ["state", "prune", "--older-than", "1d", "--state", str(state)])
    assert res.exit_code == 0, res.stderr  # retention past the newest day: every day, no --yes
    assert "removed 3 day(s): 2026-01-22 .. 2026-01-24" in res.output


@pytest.mark.parametrize(
    ("age", "said"),
    [
        ("13m", "write 13mo for months"),  # m is minutes elsewhere: not months in silence
        ("2h", "a store keeps whole days"),
        ("99999999d", "more than 36500d"),  # OverflowError (exit 1) before
        ("999999999999999999999y", "more than 36500d"),
    ],
)
def test_an_age_in_minutes_or_out_of_range_is_one_line(age: str, said: str) -> None:
    with pytest.raises(LogauditError, match=said) as e:
        manage.age_days(age)
    assert e.value.exit_code == ExitCode.USAGE
    assert manage.age_days("13mo") == 390 and manage.age_days("1Y") == 365


def test_an_age_with_leading_zeros_is_its_value() -> None:
    # The limit counted digits, so 13 digits of 1 day were "more than 36500d".
    assert manage.age_days("0000000000001d") == 1 and manage.age_days("00000000000400") == 400


def test_rebuild_gives_the_same_figures(tmp_path: Path) -> None:
    log, state = _store(tmp_path)
    before = figures(report([], state))
    from logaudit.config import load
    from logaudit.sources import expand

    manage.rebuild(state, expand([str(log)]), load({"goals": ("/order/complete",)}, env={}))
    assert figures(report([], state)) == before


def _cli_run(log: Path, state: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "logaudit", "summary", str(log), "--state", str(state)]
    cmd += ["--wait", "--format", "json", "-o", os.devnull]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_runs_leave_a_store_that_counts_each_line_once(tmp_path: Path) -> None:
    # Runs killed at random points while the log grows; the last run completes. Every line
    # is counted once: the figures equal one pass over the whole log.
    rng = random.Random(16)
    log, state = tmp_path / "a.log", tmp_path / "state"
    pieces = sorted(rng.sample(range(1, len(DATA)), 7)) + [len(DATA)]
    at = 0
    for end in pieces:
        with open(log, "ab") as f:
            f.write(DATA[at:end])
        at = end
        proc = _cli_run(log, state)
        time.sleep(rng.uniform(0.2, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = _cli_run(log, state)
    assert proc.wait(timeout=120) == 0
    whole = tmp_path / "whole.log"
    whole.write_bytes(DATA)
    # The CLI runs had no goals: neither has the comparison.
    assert figures(report([], state, goals=())) == figures(report([str(whole)], goals=()))
    # Nothing a killed run wrote is left behind.
    named = {
        f"{t}.g{meta.get('gen', info['gen'])}.parquet"  # a closed day's counts: their own gen
        for info in json.loads((state / STATE_FILE).read_text())["days"].values()
        for t, meta in info["files"].items()
    }
    assert {p.name for p in state.rglob("*.parquet")} == named
    assert not list(state.glob(".scratch-*"))


@pytest.mark.parametrize("args", [["state", "info"], ["state", "prune"]])
def test_state_commands_need_a_store(tmp_path: Path, args: list[str]) -> None:
    res = CliRunner().invoke(cli, [*args, "--state", str(tmp_path / "none")])
    assert res.exit_code == 7 and "no store there" in res.output


@pytest.mark.parametrize("fmt", ["terminal", "text", "markdown", "html"])
def test_a_report_from_the_store_alone_says_no_log_was_read(tmp_path: Path, fmt: str) -> None:
    """Not an empty inputs table (it looked like a report that had lost its inputs); a run
    that read a log still lists it."""
    log, state = _store(tmp_path)
    conf = tmp_path / "logaudit.toml"
    conf.write_text('goals = ["/order/complete"]\n')  # the store's own settings
    args = ["summary", "--state", str(state), "--config", str(conf)]
    args += ["--section", "status", "--format", fmt]
    alone = CliRunner().invoke(cli, args)
    assert alone.exit_code == 0, alone.output
    assert "No log was read this run" in alone.stdout
    with_log = CliRunner().invoke(cli, [*args, str(log)])
    assert with_log.exit_code == 0, with_log.output
    assert "No log was read this run" not in with_log.stdout and "a.log" in with_log.stdout


def test_run_records_count_physical_lines_and_nul_runs_apart(tmp_path: Path) -> None:
    """The store's run record (``state info``'s last_runs), of a read and of ``state
    rebuild``, counts as a report does: physical lines, bad lines that did not parse, NUL
    runs apart (9f685ae recorded each run as one more bad line)."""
    body = log_bytes(300, days=1, bad=2)
    log = tmp_path / "a.log"
    log.write_bytes(b"\x00" * 5000 + body.replace(b"GET /", b"GET /\x00", 3))
    state = tmp_path / "state"
    out = report([str(log)], state)
    [got] = out.report.inputs if out.report is not None else [{}]
    assert (got["lines"], got["bad_lines"], got["nul_runs"]) == (300, 2, 4)
    want = {"lines": 300, "bad_lines": 2, "nul_runs": 4}
    assert {k: manage.info(state)["last_runs"][-1].get(k) for k in want} == want
    res = CliRunner().invoke(cli, ["state", "rebuild", str(log), "--state", str(state)])
    assert res.exit_code == 0, res.output
    assert {k: manage.info(state)["last_runs"][-1].get(k) for k in want} == want


def _flip_pandas_index_name(victim: Path) -> None:
    """One changed byte in the footer's pandas metadata: a column that names no column."""
    raw = victim.read_bytes()
    assert b"__index_level_0__" in raw
    victim.write_bytes(raw.replace(b"__index_level_0__", b"__index_leve6_0__", 1))


def test_a_damaged_pandas_metadata_is_one_line_in_verify_and_in_a_report(tmp_path: Path) -> None:
    # The read failed as a KeyError, which state verify and summary --state let through:
    # "internal error: KeyError: '__index_level_0__'".
    _, state = _store(tmp_path)
    victim = sorted(state.rglob("pv_events.*.parquet"))[0]
    _flip_pandas_index_name(victim)
    got = manage.verify(state)
    assert len(got) == 1, got
    assert got[0].endswith(f"{victim.name} does not match its checksum and does not read"), got
    res = CliRunner().invoke(cli, ["state", "verify", "--state", str(state)])
    assert res.exit_code == 7 and "internal error" not in res.output
    where = f"{victim.parent.name}/{victim.name}"
    with pytest.raises(ConfigError, match=f"{where} is unreadable .*checksum.*state verify"):
        report([], state)


@pytest.mark.parametrize("table", ["visitors", "agents"])
def test_a_damaged_file_is_named_with_its_day_in_a_report(tmp_path: Path, table: str) -> None:
    # A day's visitors damaged was "visitor_days is unreadable", its agents "visitors is
    # unreadable" (the tables that point into them), with no day (QA20 #6): state verify's
    # file and day are the report's.
    _, state = _store(tmp_path)
    victim = sorted(state.rglob(f"day=*/{table}.g*.parquet"))[1]
    with open(victim, "ab") as f:
        f.write(b"xx")
    (line,) = manage.verify(state)
    assert line.endswith(f"{victim.name} does not match its checksum and does not read")
    with pytest.raises(ConfigError) as e:
        report([], state)
    assert e.value.exit_code == ExitCode.CONFIG == 7
    said, where = str(e.value), f"{victim.parent.name}/{victim.name}"
    assert f": {where} is unreadable (it does not match its checksum: " in said, said
    assert "visitor_days" not in said and "visitors is" not in said


def test_a_file_without_its_checksum_is_a_verify_line(tmp_path: Path) -> None:
    # store.json with a file entry that has no sha256: state verify was an internal KeyError.
    _, state = _store(tmp_path)
    raw = json.loads((state / STATE_FILE).read_text())
    day = sorted(raw["days"])[0]
    table = sorted(raw["days"][day]["files"])[0]
    del raw["days"][day]["files"][table]["sha256"]
    (state / STATE_FILE).write_text(json.dumps(raw))
    got = manage.verify(state)
    assert len(got) == 1 and f"has no checksum in {STATE_FILE}" in got[0], got
    res = CliRunner().invoke(cli, ["state", "verify", "--state", str(state)])
    assert res.exit_code == 7 and "internal error" not in res.output


def test_the_damaged_file_is_named_before_one_without_a_checksum(tmp_path: Path) -> None:
    # A store.json without the other tables' checksums (a hand edit): their "has no checksum"
    # was taken as the damage, and the report named a healthy visitor_days for the damaged
    # visitors file (rev20-e #3).
    _, state = _store(tmp_path)
    victim = sorted(state.rglob("day=*/visitors.g*.parquet"))[1]
    raw = json.loads((state / STATE_FILE).read_text())
    for info in raw["days"].values():
        for table, entry in info["files"].items():
            if table != "visitors":
                entry.pop("sha256", None)
    (state / STATE_FILE).write_text(json.dumps(raw))
    with open(victim, "ab") as f:
        f.write(b"xx")
    with pytest.raises(ConfigError) as e:
        report([], state)
    where = f"{victim.parent.name}/{victim.name}"
    assert f": {where} is unreadable (it does not match its checksum: " in str(e.value), e.value


def test_a_file_that_cannot_be_opened_is_not_called_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every OSError was "it is missing" (rev20-e #4): a permission error now says its reason.
    from logaudit.store import layout

    _, state = _store(tmp_path)
    victim = sorted(state.rglob("day=*/visitors.g*.parquet"))[1]
    denied = PermissionError(13, "Permission denied", str(victim))
    real_open, real_bytes = layout._open, Path.read_bytes

    def no_open(path: Path, coded: list[str] | None) -> object:
        if Path(path) == victim:
            raise denied
        return real_open(path, coded)

    def no_bytes(self: Path) -> bytes:
        if self == victim:
            raise denied
        return real_bytes(self)

    monkeypatch.setattr(layout, "_open", no_open)
    monkeypatch.setattr(Path, "read_bytes", no_bytes)
    with pytest.raises(ConfigError) as e:
        report([], state)
    said, where = str(e.value), f"{victim.parent.name}/{victim.name}"
    assert f": {where} is unreadable (it cannot be read (Permission denied): " in said, said
    assert "missing" not in said
    monkeypatch.setattr(Path, "read_bytes", real_bytes)
    monkeypatch.setattr(layout, "_open", real_open)
    victim.unlink()  # a file that is not there is still "missing"
    with pytest.raises(ConfigError, match=f"{where} is unreadable \\(it is missing: "):
        report([], state)


def test_verify_spells_both_row_counts_alike(tmp_path: Path) -> None:
    """A table not holding the rows recorded: both counts with thousands separators, not
    "holds 1,234 rows, not the 12345 recorded" (review rev20-f F4)."""
    _, state = _store(tmp_path)
    doc = json.loads((state / STATE_FILE).read_text())
    day = next(iter(doc["days"].values()))
    files = day["files"]
    table = next(t for t in files if files[t].get("rows"))
    files[table]["rows"] = 12345
    (state / STATE_FILE).write_text(json.dumps(doc))
    said = [p for p in manage.verify(state) if "recorded" in p]
    assert len(said) == 1 and said[0].endswith(", not the 12,345 recorded"), said
