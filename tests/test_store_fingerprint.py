"""The store's settings fingerprint: a store refuses a run whose settings change what it holds
(who a client is, which lines are read), and names the values as a user writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logaudit.errors import ExitCode, LogauditError
from logaudit.store.layout import STATE_FILE
from tests.store_helpers import log_bytes, report

DATA = log_bytes()
ADDED = ("client_from", "trusted_proxies", "earliest", "ahead_days", "privacy_rules")


def _store(tmp: Path) -> tuple[Path, Path]:
    log = tmp / "a.log"
    log.write_bytes(DATA[: DATA.index(b"\n", 20000) + 1])
    state = tmp / "state"
    report([str(log)], state)
    return log, state


def _refused(log: Path, state: Path, **more: object) -> str:
    with pytest.raises(LogauditError) as e:
        report([str(log)], state, **more)
    assert e.value.exit_code == ExitCode.CONFIG == 7
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize(
    ("more", "named"),
    [
        ({"client_from": "xff"}, "client_from: remote, now xff"),
        ({"trusted_proxies": ["10.0.0.0/8"]}, "trusted_proxies: none, now 10.0.0.0/8"),
        ({"earliest": "2026-01-24"}, "earliest: 1990-01-01, now 2026-01-24"),
        ({"ahead_days": 3}, "ahead_days: 1, now 3"),
    ],
)
def test_settings_that_change_who_a_client_is_or_which_lines_count_are_refused(
    tmp_path: Path, more: dict, named: str
) -> None:
    log, state = _store(tmp_path)
    assert named in _refused(log, state, **more)


def test_the_message_names_values_as_a_user_writes_them(tmp_path: Path) -> None:
    log, state = _store(tmp_path)
    msg = _refused(log, state, tz="UTC")
    assert "tz: the log's own offset, now UTC" in msg
    assert "None" not in msg and "'UTC'" not in msg


def test_a_store_written_before_these_keys_reads_as_written_with_the_defaults(
    tmp_path: Path,
) -> None:
    log, state = _store(tmp_path)
    raw = json.loads((state / STATE_FILE).read_text())
    for k in ADDED:
        raw["settings"].pop(k)
    (state / STATE_FILE).write_text(json.dumps(raw))
    assert report([str(log)], state).exit_code == ExitCode.OK
    assert "client_from: remote, now xff" in _refused(log, state, client_from="xff")
