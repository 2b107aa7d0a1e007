"""The history store: incremental runs equal one pass, offsets, rotation, the lock, schema."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logaudit.errors import ExitCode, LogauditError
from logaudit.store.layout import STATE_FILE
from logaudit.store.lock import StoreBusy, locked
from tests.store_helpers import Server, figures, log_bytes, report
from tests.w3c_helpers import w3c_swapped

DATA = log_bytes()


def _one_pass(tmp: Path, data: bytes) -> dict:
    whole = tmp / "whole.log"
    whole.write_bytes(data)
    return figures(report([str(whole)]))


def _mid_line(data: bytes, frac: float) -> int:
    """A byte position inside a line (not at its start), near ``frac`` of the data."""
    pos = int(len(data) * frac)
    while data[pos - 1 : pos] == b"\n" or data[pos : pos + 1] == b"\n":
        pos += 1
    return pos


def _staged(tmp: Path, data: bytes, cuts: list[int], rotate_after: set[int]) -> dict:
    """Write ``data`` in pieces ending at ``cuts``, a --state run after each piece, rotating
    after the pieces in ``rotate_after``; the last run's figures."""
    server = Server(tmp / "logs", data)
    state = tmp / "state"
    out = None
    for i, end in enumerate([*cuts, len(data)]):
        server.write_to(end)
        out = report(server.glob(), state)
        assert out.exit_code in (ExitCode.OK, ExitCode.NO_DATA), out.messages
        if i in rotate_after:
            server.rotate()
    assert out is not None
    return figures(out)


def test_incremental_equals_one_pass(tmp_path: Path) -> None:
    # Cuts inside lines (a partial last line waits for the next run), visits crossing every
    # cut, two rotations (so one piece is read from a .gz), days crossing runs.
    cuts = [_mid_line(DATA, f) for f in (0.15, 0.4, 0.55, 0.8)]
    got = _staged(tmp_path, DATA, cuts, rotate_after={1, 3})
    assert (tmp_path / "logs" / "access.log.2.gz").exists()
    want = _one_pass(tmp_path, DATA)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], name


def test_report_from_store_alone(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    state = tmp_path / "state"
    first = figures(report([str(log)], state))
    again = report([], state)
    assert figures(again) == first
    # Nothing new: a second run over the same log reads nothing and counts nothing twice.
    assert figures(report([str(log)], state)) == first


def test_a_report_from_the_store_does_not_say_its_period_had_no_bad_line(tmp_path: Path) -> None:
    # QA22 #9: the overview said bad lines 0 for a period whose logs had some. The store keeps
    # no count by day: null (shown "-") and a note in every format; the inputs keep the
    # reading's count.
    from logaudit.render.tabular import notes_table

    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    bad = report([str(log)]).report.overview["bad_lines"]  # type: ignore[union-attr]
    assert bad > 0
    state = tmp_path / "state"
    runs = (([str(log)], f"{bad} in the lines this run read"), ([], "this run read no log"))
    for args, said in runs:
        got = report(args, state).report
        assert got is not None and got.overview["bad_lines"] is None
        [note] = [n for n in got.notes if n.startswith("bad lines of the period: not known")]
        assert said in note and note in list(notes_table(got)["note"])
    assert got.bad_lines["total"] == 0 and got.inputs == []


def test_bad_lines_are_known_when_the_store_steps_aside_for_filters(tmp_path: Path) -> None:
    # Review of qafix22c #1: with a filter --state reads the logs directly, so the period's
    # bad lines are known; the report said null and "not known from the store".
    from logaudit import filters

    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    chosen = filters.parse({**{k: () for k in filters.option_names()}, "status": ("5xx",)})
    extra = {"every": "auto", "metrics": (), "filters": chosen}
    direct = report([str(log)], extra=extra).report
    assert direct is not None and direct.overview["bad_lines"] > 0
    state = tmp_path / "state"
    report([str(log)], state)  # a store that holds the logs' days already
    for _ in range(2):  # and one the filtered run leaves as it was
        out = report([str(log)], state, extra=extra)
        assert any("cannot answer filters" in m for m in out.messages), out.messages
        assert out.report is not None
        assert out.report.overview["bad_lines"] == direct.overview["bad_lines"]
        assert not [n for n in out.report.notes if "not known from the store" in n]
        state = tmp_path / "unfed"


def test_truncated_file_is_read_again_and_said(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    state = tmp_path / "state"
    half = DATA.index(b"\n", len(DATA) // 2) + 1
    log.write_bytes(DATA[:half])
    report([str(log)], state)
    # Replaced in place by different lines (copytruncate, then new traffic).
    log.write_bytes(DATA[half:])
    out = report([str(log)], state)
    assert any("read from the start" in m or "read again" in m for m in out.messages)
    assert figures(out) == _one_pass(tmp_path, DATA)


def _w3c_day(day: str, n: int) -> bytes:
    """An IIS day's log: the same ``#Software`` first line as every other day's file."""
    head = (
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
        f"#Date: {day} 00:00:00\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query "
        "s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status time-taken\n"
    )
    rows = "".join(
        f"{day} {i // 60 % 24:02d}:{i % 60:02d}:00 10.0.0.1 GET /p{i % 7}.html - 80 - "
        f"192.0.2.{i % 50} Mozilla/5.0+(X11) - 200 {i}\n"
        for i in range(n)
    )
    return (head + rows).encode()


def test_w3c_day_files_sharing_their_first_line_are_each_read_whole(tmp_path: Path) -> None:
    # IIS starts every day's file with the same #Software line: the next day's (longer) file
    # was taken for the last one grown and read from its offset, its first lines lost.
    one, two = tmp_path / "u_ex261201.log", tmp_path / "u_ex261202.log"
    one.write_bytes(_w3c_day("2026-12-01", 50))
    two.write_bytes(_w3c_day("2026-12-02", 500))
    state = tmp_path / "state"
    report([str(one)], state)
    got = report([str(two)], state)
    want = report([str(one), str(two)])
    assert figures(got) == figures(want)
    assert figures(got)["overview"]["requests"] == 550


def _as_an_older_stores(state: Path, data: bytes) -> None:
    """The store's one input record as a store before head identities wrote it: the hash of
    the file's first line alone, no "head" key."""
    import hashlib

    raw = json.loads((state / STATE_FILE).read_text())
    (rec,) = raw["inputs"]
    rec["first"] = hashlib.sha256(data[: data.index(b"\n") + 1]).hexdigest()
    rec.pop("head", None)
    (state / STATE_FILE).write_text(json.dumps(raw))


def test_a_w3c_record_of_an_older_store_is_read_on_not_again(tmp_path: Path) -> None:
    # A store before identities by the first request kept a W3C file's first line's hash:
    # the same file (same inode), grown, is read on from its offset, not counted twice.
    log = tmp_path / "u_ex261201.log"
    data = _w3c_day("2026-12-01", 300)
    half = data.index(b"\n", len(data) // 2) + 1
    log.write_bytes(data[:half])
    state = tmp_path / "state"
    report([str(log)], state)
    _as_an_older_stores(state, data)
    with open(log, "ab") as f:
        f.write(data[half:])
    got = report([str(log)], state)
    assert not any("read from the start" in m for m in got.messages), got.messages
    assert figures(got) == figures(report([str(log)]))
    assert figures(got)["overview"]["requests"] == 300


def test_a_w3c_record_of_an_older_store_rotated_and_gzipped_is_not_read_again(
    tmp_path: Path,
) -> None:
    # The older store's record (first line only) of a file since rotated and gzipped (a new
    # inode) still matches it by that line, as that store did: not read whole again.
    import gzip

    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    data = _w3c_day("2026-12-01", 300)
    log.write_bytes(data)
    state = tmp_path / "state"
    report([str(log)], state)
    _as_an_older_stores(state, data)
    (logs / "access.log.1.gz").write_bytes(gzip.compress(data))
    log.write_bytes(_w3c_day("2026-12-02", 10))
    got = report([str(logs / "access.log.1.gz"), str(log)], state)
    assert figures(got)["overview"]["requests"] == 310, got.messages


def test_no_client_address_is_stored(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    state = tmp_path / "state"
    report([str(log)], state)
    clients = {line.split(b" ", 1)[0].decode() for line in DATA.splitlines()[:2000]}
    files = list(state.rglob("*.parquet"))
    assert files
    for f in files:
        text = pq.read_table(f).to_pandas().reset_index().astype(str).to_string()
        for c in clients:
            assert c not in text.split(), (f.name, c)
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)


def _store_edited(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object]
) -> tuple[Path, Path]:
    """A log stored, then its store.json changed by ``edit``: (the log, the store)."""
    log = tmp_path / "a.log"
    log.write_bytes(DATA[: DATA.index(b"\n", 20000) + 1])
    state = tmp_path / "state"
    report([str(log)], state)
    raw = json.loads((state / STATE_FILE).read_text())
    edit(raw)
    (state / STATE_FILE).write_text(json.dumps(raw))
    return log, state


def test_schema_mismatch_is_refused_with_exit_7(tmp_path: Path) -> None:
    log, state = _store_edited(tmp_path, lambda raw: raw.update(schema=0))
    with pytest.raises(LogauditError) as e:
        report([str(log)], state)
    assert e.value.exit_code == ExitCode.CONFIG == 7
    assert "schema 0" in str(e.value)


def test_other_settings_are_refused(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(DATA[: DATA.index(b"\n", 20000) + 1])
    state = tmp_path / "state"
    report([str(log)], state)
    with pytest.raises(LogauditError, match="other settings.*bots"):
        report([str(log)], state, bots="include")


def test_a_setting_an_older_store_lacks_is_said_to_be_assumed(tmp_path: Path) -> None:
    # Review #6: a store written before client_from was kept said "client_from: remote", as
    # if it had been recorded so.
    log, state = _store_edited(tmp_path, lambda raw: raw["settings"].pop("client_from"))
    with pytest.raises(LogauditError) as e:
        report([str(log)], state, client_from="xff")
    said = "client_from: recorded before client_from was kept (assumed remote), now "
    assert said in str(e.value), str(e.value)


def test_filters_fall_back_to_the_logs(tmp_path: Path) -> None:
    from logaudit import filters

    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    state = tmp_path / "state"
    chosen = filters.parse({**{k: () for k in filters.option_names()}, "status": ("5xx",)})
    extra = {"every": "auto", "metrics": (), "filters": chosen}
    out = report([str(log)], state, extra=extra)
    assert any("cannot answer filters" in m for m in out.messages)
    assert not (state / STATE_FILE).exists()
    with pytest.raises(LogauditError, match="cannot answer filters"):
        report([], state, extra=extra)


def test_an_instant_since_is_answered_from_the_store_as_its_whole_day(tmp_path: Path) -> None:
    # Review of qafix18a #4: an instant bound (now, 24h, a time with its offset) made the
    # store step aside: exit 2 without logs, and with logs the logs were read in full and
    # the store left unfed (a cron's 'summary access.log --state S --since 24h'). It is
    # answered as any time inside a day: the whole day that holds it, said so.
    from datetime import datetime

    log = tmp_path / "a.log"
    half = DATA.index(b"\n", len(DATA) // 2) + 1
    log.write_bytes(DATA[:half])
    state = tmp_path / "state"
    report([str(log)], state)
    log.write_bytes(DATA)
    at = {"since": datetime(2026, 1, 23, 10), "extra": {"since_utc": datetime(2026, 1, 23, 9)}}
    out = report([str(log)], state, **at)
    assert out.exit_code == ExitCode.OK, out.messages
    assert any("--since counts the whole day it falls in" in m for m in out.messages)
    assert not any("cannot answer" in m for m in out.messages), out.messages
    # As a wall time inside the day is answered (the whole day, said).
    day = report([], state, since=datetime(2026, 1, 23, 10))
    assert figures(out) == figures(day)
    # The store took the new lines: all of it is one pass over the whole log.
    assert figures(report([], state)) == _one_pass(tmp_path, DATA)
    alone = report([], state, **at)  # without logs: from the store, not exit 2
    assert alone.exit_code == ExitCode.OK and figures(alone) == figures(day)
    until = {"until": datetime(2026, 1, 23, 10), "extra": {"until_utc": datetime(2026, 1, 23, 9)}}
    cut = report([], state, **until)
    assert any("--until counts the whole day it falls in" in m for m in cut.messages)
    assert figures(cut) == figures(report([], state, until=datetime(2026, 1, 23, 10)))


def test_an_instant_is_answered_in_the_logs_clock(tmp_path: Path) -> None:
    # Review of mend18b #1: the store took an instant's day on the machine's clock: a log at
    # -0800 on a UTC machine, --since 2026-01-11T04:00Z (2026-01-10 20:00 in the log's clock)
    # read from 2026-01-11, the day after the one that holds it.
    from datetime import datetime

    lines = [
        f'10.0.0.{h % 50} - - [{d:02d}/Jan/2026:{h:02d}:30:00 -0800] "GET /p{h % 5} HTTP/1.1" '
        f'200 5 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"\n'
        for d in range(9, 13)
        for h in range(24)
    ]
    log, state = tmp_path / "a.log", tmp_path / "state"
    log.write_text("".join(lines))
    report([str(log)], state)
    at = {"since": datetime(2026, 1, 11, 4), "extra": {"since_utc": datetime(2026, 1, 11, 4)}}
    out = report([], state, **at)
    assert out.exit_code == ExitCode.OK, out.messages
    assert figures(out) == figures(report([], state, since=datetime(2026, 1, 10)))
    assert figures(out) != figures(report([], state, since=datetime(2026, 1, 11)))
    until = {"until": datetime(2026, 1, 11, 4), "extra": {"until_utc": datetime(2026, 1, 11, 4)}}
    cut = report([], state, **until)
    assert figures(cut) == figures(report([], state, until=datetime(2026, 1, 10, 20)))


def test_now_relative_bounds_read_and_feed_the_store(tmp_path: Path) -> None:
    """--since 12h, --until now with --state: from the store, and a log given feeds it."""
    from datetime import UTC, datetime, timedelta

    from click.testing import CliRunner

    from logaudit.cli import cli

    now = datetime.now(UTC)
    lines = [
        f'10.0.0.{k % 200} - - [{now - timedelta(minutes=10 * k):%d/%b/%Y:%H:%M:%S} +0000] '
        f'"GET /p{k % 7} HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) '
        'Gecko/20100101 Firefox/120.0"\n'
        for k in range(3 * 144, 0, -1)
    ]
    log, state = tmp_path / "a.log", tmp_path / "state"
    log.write_text("".join(lines[:144]))

    def run(*args: str) -> dict[str, Any]:
        r = CliRunner().invoke(cli, ["summary", *args, "--state", str(state), "--format", "json"],
                               env={"TZ": "UTC"})
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    run(str(log))
    log.write_text("".join(lines))
    fed = run(str(log), "--since", "12h")
    assert "cannot answer" not in json.dumps(fed)
    assert any("whole day it falls in" in w for w in fed["warnings"])
    alone = run("--since", "12h")
    assert alone["overview"] == fed["overview"]
    assert run()["overview"]["requests"] == len(lines)  # the store took every line
    for args in (("--until", "now"), ("--since", "7d")):
        assert run(*args)["overview"]["requests"] == len(lines)


def test_second_run_fails_clearly_while_locked(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    log = tmp_path / "a.log"
    log.write_bytes(DATA[: DATA.index(b"\n", 20000) + 1])
    with locked(state):
        with pytest.raises(StoreBusy, match="another logaudit run") as e:
            report([str(log)], state)
        assert e.value.exit_code == 13
    assert report([str(log)], state).exit_code == ExitCode.OK


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fracs=st.lists(st.floats(0.02, 0.98), min_size=1, max_size=3, unique=True),
    rotate=st.sets(st.integers(0, 2), max_size=2),
)
def test_any_cut_points_equal_one_pass(
    tmp_path_factory: pytest.TempPathFactory, fracs, rotate
) -> None:
    tmp = tmp_path_factory.mktemp("cuts")
    data = SMALL
    cuts = sorted({int(len(data) * f) for f in fracs})
    got = _staged(tmp, data, cuts, rotate_after={r for r in rotate if r < len(cuts)})
    assert got == _one_pass(tmp, data)


SMALL = log_bytes(2500, days=2, bad=3)


def test_places_come_from_the_store(tmp_path: Path, shared_data: Path) -> None:
    # Countries and networks are looked up while the address is known, and stored per token.
    geo = shared_data / "geoip" / "test-data"
    data = SMALL
    cut = _mid_line(data, 0.5)
    server = Server(tmp_path / "logs", data)
    state = tmp_path / "state"
    server.write_to(cut)
    report(server.glob(), state, geoip_dir=geo)
    server.write_to(len(data))
    got = figures(report(server.glob(), state, geoip_dir=geo))
    whole = tmp_path / "whole.log"
    whole.write_bytes(data)
    want = figures(report([str(whole)], geoip_dir=geo))
    assert any(r for r in want["countries"]["rows"] if "unknown" not in r)
    for name in ("countries", "networks", "top-visitors", "movers"):
        assert got[name] == want[name], name


def test_digest_from_the_store_equals_the_logs(tmp_path: Path) -> None:
    from datetime import datetime

    from logaudit import api
    from logaudit.config import load

    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    state = tmp_path / "state"
    since = {"since": datetime(2026, 1, 24), "top": 0}
    plain = api.digest([str(log)], load(since, env={}))
    stored = api.digest([str(log)], load({**since, "state": state}, env={}))
    alone = api.digest([], load({**since, "state": state}, env={}))
    assert figures(stored) == figures(plain) == figures(alone)


def test_second_process_waits_or_fails(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import threading
    import time

    state = tmp_path / "state"
    log = tmp_path / "a.log"
    log.write_bytes(DATA[: DATA.index(b"\n", 20000) + 1])
    report([str(log)], state, goals=())  # as the command line below: no goals
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [sys.executable, "-m", "logaudit", "summary", str(log), "--state", str(state)]
    cmd += ["--format", "json"]
    with locked(state):
        busy = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert busy.returncode == 13
    assert "another logaudit run is using this store" in busy.stderr
    assert "--wait" in busy.stderr

    def hold() -> None:
        with locked(state):
            time.sleep(3)

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.3)
    waited = subprocess.run([*cmd, "--wait"], env=env, capture_output=True, text=True, timeout=120)
    t.join()
    assert waited.returncode == 0, waited.stderr


def test_real_log_in_two_runs(tmp_path: Path, shared_data: Path) -> None:
    # 1,000 real nginx lines (an Iranian shop, X-Forwarded-For), cut inside a line.
    data = (shared_data / "logs" / "lnav" / "logfile_shop_access_log.0").read_bytes()
    log, state = tmp_path / "access.log", tmp_path / "state"
    log.write_bytes(data[: _mid_line(data, 0.4)])
    report([str(log)], state)
    log.write_bytes(data)
    got = report([str(log)], state)
    assert got.report is not None and got.report.inputs[0]["lines"] < data.count(b"\n")
    # One pass over the same file (its name is in privacy's examples: file:line).
    assert figures(got) == figures(report([str(log)]))


def test_cut_short_gz_is_counted_once(tmp_path: Path) -> None:
    import gzip

    packed = gzip.compress(DATA)
    gz = tmp_path / "access.log.2.gz"
    gz.write_bytes(packed[: len(packed) * 2 // 3])
    state = tmp_path / "state"
    first = report([str(gz)], state)
    assert first.exit_code == ExitCode.INPUT_TRUNCATED
    again = report([str(gz)], state)
    assert again.exit_code == ExitCode.OK
    assert figures(again) == figures(first)


def test_period_from_the_store_equals_the_period_of_the_logs(tmp_path: Path) -> None:
    from datetime import datetime

    log = tmp_path / "a.log"
    log.write_bytes(DATA)
    state = tmp_path / "state"
    report([str(log)], state)
    day = {"since": datetime(2026, 1, 23), "until": datetime(2026, 1, 24)}
    got = report([], state, **day)
    assert not any("whole days" in m for m in got.messages)
    assert figures(got) == figures(report([str(log)], **day))
    # A time inside a day: the whole day, said in one line.
    cut = report([], state, since=datetime(2026, 1, 23, 12))
    assert any("whole days" in m for m in cut.messages)
    whole_day = figures(report([], state, since=datetime(2026, 1, 23)))
    assert figures(cut)["overview"] == whole_day["overview"]


def test_an_unreadable_input_is_read_when_it_becomes_readable(tmp_path: Path) -> None:
    half = DATA.index(b"\n", len(DATA) // 2) + 1
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(DATA[:half])
    b.write_bytes(b"\x00\x01binary" * 100)
    state = tmp_path / "state"
    first = report([str(a), str(b)], state)
    assert first.exit_code == ExitCode.INPUT_INVALID
    b.write_bytes(DATA[half:])  # the same inode, now a log
    got = report([str(a), str(b)], state)
    assert got.exit_code == ExitCode.OK, got.messages
    assert figures(got) == _one_pass(tmp_path, DATA)


def test_big_reads_are_committed_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logaudit.store as store

    monkeypatch.setattr(store, "PIECE_BYTES", 100_000)
    commits: list[int] = []
    real = store._commit
    monkeypatch.setattr(store, "_commit", lambda *a: (commits.append(1), real(*a)))
    cuts = [_mid_line(DATA, 0.3)]
    got = _staged(tmp_path, DATA, cuts, rotate_after={0})
    assert len(commits) > 2 * len(DATA) // 100_000 // 2
    assert got == _one_pass(tmp_path, DATA)


def test_a_file_of_nul_bytes_is_said_so_under_state(tmp_path: Path) -> None:
    # A store's first read of a file was a byte range (0, its last newline), which the
    # reader does not judge as a whole input: "binary data" or "no log lines" instead.
    log = tmp_path / "n.log"
    log.write_bytes((b"\0" * 300 + b"\n") * 50)
    out = report([str(log)], tmp_path / "state")
    assert any("nothing but NUL bytes" in m for m in out.messages), out.messages


def test_a_w3c_log_grown_then_gzipped_is_read_on_under_its_headers(tmp_path: Path) -> None:
    # Its part past the offset is decompressed to a file of its own, without the headers
    # (in the part read before): 'log format not recognised' on every run, lines lost.
    import gzip

    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    data = _w3c_day("2026-12-01", 300)
    half = data.index(b"\n", len(data) // 2) + 1
    log.write_bytes(data[:half])
    state = tmp_path / "state"
    report([str(log)], state)
    log.unlink()
    (logs / "access.log.1.gz").write_bytes(gzip.compress(data))
    got = report([str(logs / "access.log.1.gz")], state)
    assert got.exit_code == ExitCode.OK, got.messages
    assert figures(got)["overview"]["requests"] == 300


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_w3c_header_changed_over_a_mib_before_the_offset_is_in_force(
    tmp_path: Path, gzipped: bool
) -> None:
    # QA17 #1: only the head and the last MiB before the offset were searched for the
    # #Fields: header in force; a change further back (the same number of fields) fell back
    # to the head's header and read the new lines silently with sc-bytes and cs-bytes swapped.
    import gzip

    data, at = w3c_swapped(1.1, 2.5)
    cut = data.index(b"\n", at + (3 << 19)) + 1  # 1.5 MiB past the new header
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    log.write_bytes(data[:cut])
    state = tmp_path / "state"
    report([str(log)], state)
    if gzipped:  # rotated and compressed since: read on from the start of the stream
        log.unlink()
        log = logs / "access.log.1.gz"
        log.write_bytes(gzip.compress(data, 1))
    else:
        log.write_bytes(data)
    got = report([str(log)], state)
    assert got.exit_code == ExitCode.OK, got.messages
    assert figures(got)["overview"] == _one_pass(tmp_path, data)["overview"]


@pytest.mark.parametrize(
    "new",
    [
        b"\n",  # a blank line: "no log lines to detect a format from"
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb\n",  # a TLS hello: "binary data"
        b"garbage here\n??? ???\n",  # junk after a good line: "log format not recognised"
    ],
)
def test_new_bytes_that_are_no_log_lines_are_read_in_the_format_known(
    tmp_path: Path, new: bytes
) -> None:
    # QA17 #3: the format was detected again from the new bytes alone, and such bytes were
    # refused, exit 4, where one pass over the same file reads them as bad lines, exit 0.
    lines = DATA.splitlines(keepends=True)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines[:50]))
    state = tmp_path / "state"
    report([str(log)], state)
    good = 51 if new.startswith(b"garbage") else 50  # the junk follows one good new line
    data = b"".join(lines[:good]) + new
    log.write_bytes(data)
    got = report([str(log)], state)
    assert got.exit_code == ExitCode.OK, got.messages
    whole = tmp_path / "whole.log"
    whole.write_bytes(data)
    one = report([str(whole)])
    assert one.exit_code == ExitCode.OK, one.messages
    assert figures(got) == figures(one)


def test_new_lines_no_format_reads_are_bad_lines_of_the_known_format(tmp_path: Path) -> None:
    # QA18 #8: 300 JSON lines in a layout no format fits, after lines of a known format: the
    # store run stopped with exit 4 (0 bad lines, the old figures); one pass reads them as
    # bad lines of the log's format, exit 0.
    lines = DATA.splitlines(keepends=True)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines[:300]))
    state = tmp_path / "state"
    report([str(log)], state)
    odd = [
        b'{"time": "2026-01-03T07:%02d:54+01:00", "remote_addr": "198.51.100.14", "request": '
        b'"HEAD /api/health HTTP/1.1", "status": 200, "body_bytes_sent": 0, "http_referer": '
        b'"-", "http_user_agent": "Mozilla/5.0+(compatible; UptimeRobot/2.0)"}\n' % (k % 60)
        for k in range(300)
    ]
    data = b"".join(lines[:300] + odd)
    log.write_bytes(data)
    got = report([str(log)], state)
    assert got.exit_code == ExitCode.OK, got.messages
    whole = tmp_path / "whole.log"
    whole.write_bytes(data)
    one = report([str(whole)])
    assert one.exit_code == ExitCode.OK, one.messages
    assert got.report is not None and got.report.bad_lines["total"] == 300
    assert figures(got) == figures(one)


@pytest.mark.parametrize("rotate", [False, True])
def test_new_lines_in_another_format_are_read_in_theirs(tmp_path: Path, rotate: bool) -> None:
    # QA17 review #3: new lines were always read in the format of the lines before the
    # offset. Common lines stored, then combined lines appended: 0 crawler hits (the review's
    # file: 395 before), the agents lost. The new lines are detected first; the known format is the
    # fallback for new bytes that give none (blank, junk, binary).
    import gzip

    lines = DATA.splitlines(keepends=True)
    # More old lines than new (a rotated tail's header holds them all: the review of the
    # mend found the old format winning there).
    common = [re.sub(rb' "[^"]*" "[^"]*"$', b"", ln.rstrip(b"\n")) + b"\n" for ln in lines[:400]]
    assert all(ln.count(b'"') == 2 for ln in common)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    log.write_bytes(b"".join(common))
    state = tmp_path / "state"
    report([str(log)], state)
    data = b"".join(common) + b"".join(lines[400:700])
    if rotate:
        log.unlink()
        log = logs / "access.log.1.gz"
        log.write_bytes(gzip.compress(data))
    else:
        log.write_bytes(data)
    got = report([str(log)], state)
    assert got.exit_code == ExitCode.OK, got.messages
    # As one pass over the two parts, each in its own format (one pass over the whole file
    # reads the common lines as bad lines of the combined format).
    old, new = tmp_path / "old.log", tmp_path / "new.log"
    old.write_bytes(b"".join(common))
    new.write_bytes(b"".join(lines[400:700]))
    want = figures(report([str(old), str(new)]))
    assert want["overview"]["crawler_hits"] > 0
    assert figures(got) == want


def test_a_few_new_lines_cut_short_are_read_in_the_logs_format(tmp_path: Path) -> None:
    # The review of mend17b #1: three new combined lines whose agent is cut short alone look
    # like common + extras; read in that format they were three bad lines (one pass: read).
    lines = DATA.splitlines(keepends=True)[:10]
    cut = [ln.rstrip(b"\n")[:-12] + b"\n" for ln in DATA.splitlines(keepends=True)[10:13]]
    assert all(ln.count(b'"') == 5 for ln in cut)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines))
    state = tmp_path / "state"
    report([str(log)], state)
    with open(log, "ab") as f:
        f.write(b"".join(cut))
    got = report([str(log)], state)
    one = report([str(log)])
    assert figures(one)["overview"]["requests"] == 13
    assert figures(got) == figures(one)


def test_the_live_log_named_another_way_is_not_taken_for_rotated(tmp_path: Path) -> None:
    # The review of mend17b #3: a.log, then a link to it (the same file, another name): taken for
    # a rotated file, read to its end with the line still being written, that request lost.
    lines = DATA.splitlines(keepends=True)[:11]
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(lines[:10]) + lines[10][:30])
    state = tmp_path / "state"
    report([str(log)], state)
    link = tmp_path / "access.log"
    link.symlink_to(log)
    report([str(link)], state)
    with open(log, "ab") as f:
        f.write(lines[10][30:])
    got = report([str(log)], state)
    assert got.exit_code == ExitCode.OK, got.messages
    assert figures(got) == figures(report([str(log)]))


@pytest.mark.parametrize(
    "new",
    [
        # QA17 #3: junk after one good line was "log format not recognised", exit 4 (the tail
        # detected from its new part alone).
        DATA.splitlines(keepends=True)[50] + b"garbage here\n??? ???\n",
        b"\n",  # QA17 review #4: a blank line was "nothing but NUL bytes", exit 4
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xaa\xbb\n",  # a TLS hello: "binary data"
    ],
    ids=["junk", "blank", "binary"],
)
def test_a_rotated_and_compressed_tail_of_junk_is_read_as_one_pass_reads_it(
    tmp_path: Path, new: bytes
) -> None:
    # The tail of a log rotated and compressed since the last run is read from a temporary
    # file of its own: neither detected from its new part alone nor judged as a whole input;
    # one pass reads bad lines, exit 0.
    import gzip

    lines = DATA.splitlines(keepends=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    log.write_bytes(b"".join(lines[:50]))
    state = tmp_path / "state"
    report([str(log)], state)
    data = b"".join(lines[:50]) + new
    log.unlink()
    (logs / "access.log.1.gz").write_bytes(gzip.compress(data))
    got = report([str(logs / "access.log.1.gz")], state)
    assert got.exit_code == ExitCode.OK, got.messages
    assert figures(got) == _one_pass(tmp_path, data)


def test_a_partial_last_line_left_for_the_next_run_is_said(tmp_path: Path) -> None:
    # QA17 #5: one pass reads a last line without its newline; the store leaves it for the
    # next run (docs/store.md), and said nothing: 456 requests against one pass's 457.
    lines = DATA.splitlines(keepends=True)
    log = tmp_path / "access.log"
    partial = lines[20][:60]
    log.write_bytes(b"".join(lines[:20]) + partial)
    state = tmp_path / "state"
    first = report([str(log)], state)
    assert first.exit_code == ExitCode.OK, first.messages
    said = [m for m in first.messages if "waits for the next run" in m]
    assert said == [f"{log}: a partial last line (60 bytes) waits for the next run"], said
    assert not any("waits" in m for m in report([str(log)]).messages)  # one pass reads it
    log.write_bytes(b"".join(lines[:21]))
    got = report([str(log)], state)
    assert not any("waits" in m for m in got.messages), got.messages
    assert figures(got) == _one_pass(tmp_path, b"".join(lines[:21]))


def test_a_partial_last_line_of_a_log_rotated_since_is_read(tmp_path: Path) -> None:
    # Review #5: a log ending without its newline, then renamed (not compressed): every later
    # run said "x.log.1: a partial last line ... waits for the next run" and never read it.
    lines = DATA.splitlines(keepends=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    data = b"".join(lines[:20]) + lines[20].rstrip(b"\n")
    log.write_bytes(data)
    state = tmp_path / "state"
    first = report([str(log)], state)
    assert any("waits for the next run" in m for m in first.messages), first.messages
    log.rename(logs / "access.log.1")
    for _ in range(2):
        got = report([str(logs / "access.log.1")], state)
        assert got.exit_code == ExitCode.OK, got.messages
        assert not any("waits" in m for m in got.messages), got.messages
        assert figures(got) == _one_pass(tmp_path, data)


def test_junk_read_on_is_no_wrong_log_format(tmp_path: Path) -> None:
    # Review #6: a read-on whose new bytes were one junk line warned "100% of lines did not
    # parse as combined (1 bad lines); is --log-format right?", of this run's lines only.
    lines = DATA.splitlines(keepends=True)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines[:50]))
    state = tmp_path / "state"
    report([str(log)], state)
    log.write_bytes(b"".join(lines[:50]) + b"garbage here\n")
    got = report([str(log)], state)
    assert got.report is not None
    said = [w for w in got.report.warnings if "did not parse" in w]
    assert said == [f"{log}: 100% of the 1 line read on did not parse as combined (1 bad line)"]
    # All junk, stored and new: the hint stays.
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"".join(lines[:50]) + b"garbage\n" * 10)
    report([str(junk)], state)
    junk.write_bytes(b"".join(lines[:50]) + b"garbage\n" * 20)
    again = report([str(junk)], state)
    assert again.report is not None
    assert any("is --log-format right?" in w for w in again.report.warnings)
    # QA18 #9: the share says what it is of: this run's lines.
    said = [w for w in again.report.warnings if "did not parse" in w]
    assert said == [
        f"{junk}: 100% of the 10 lines read on did not parse as combined (10 bad lines); "
        "is --log-format right?"
    ], said


def test_read_on_dated_too_far_ahead_is_said_so(tmp_path: Path) -> None:
    # Review of qafix18b #3: two appended lines dated too far ahead, read on, said "100% of
    # the 2 lines read on did not parse as combined": the few-bad-lines branch ran first.
    lines = DATA.splitlines(keepends=True)
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines[:50]))
    state = tmp_path / "state"
    report([str(log)], state)
    ahead = [re.sub(rb"\[[^]]*\]", b"[31/Dec/9999:10:00:00 +0000]", x) for x in lines[50:52]]
    log.write_bytes(b"".join(lines[:50] + ahead))
    got = report([str(log)], state)
    assert got.report is not None
    said = [w for w in got.report.warnings if str(log) in w]
    assert said == [
        f"{log}: 100% of the 2 lines read on were not counted (2 bad lines): its bad lines are "
        "dated more than 1 day in the future, not another format; if its clock is right, "
        "raise ahead_days (LOGAUDIT_AHEAD_DAYS)"
    ], said


def test_days_back_are_the_same_whole_days_in_one_pass_and_in_the_store(tmp_path: Path) -> None:
    """QA23 F6: --since 2d was now minus 48 h in one pass (2 requests) but the whole day in
    the store (3, with a "whole day it falls in" warning). Now 2d is the midnight two days
    before today's in both, and the store has nothing to round, so nothing to say."""
    from datetime import UTC, datetime, timedelta

    from click.testing import CliRunner

    from logaudit.cli import cli

    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    whens = [midnight - timedelta(days=3, hours=-12), midnight - timedelta(days=2),
             midnight - timedelta(days=2, hours=-12), midnight - timedelta(hours=12)]
    log, state = tmp_path / "recent.log", tmp_path / "state"
    log.write_text("".join(
        f'10.0.0.{k} - - [{w:%d/%b/%Y:%H:%M:%S} +0000] "GET /p{k} HTTP/1.1" 200 5 "-" '
        '"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"\n'
        for k, w in enumerate(whens)
    ))

    def run(*args: str) -> dict[str, Any]:
        given = ["summary", *args, "--tz", "UTC", "--format", "json"]
        r = CliRunner().invoke(cli, given, env={"TZ": "UTC"})
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    one = run(str(log), "--since", "2d")
    assert one["overview"]["requests"] == 3  # the first hit of that day too
    assert one["settings"]["since"] == f"{midnight - timedelta(days=2):%Y-%m-%dT%H:%M:%S}"
    run(str(log), "--state", str(state))
    stored = run("--state", str(state), "--since", "2d")
    assert stored["overview"]["requests"] == 3
    assert not any("whole day" in w for w in stored["warnings"]), stored["warnings"]
    assert stored["settings"]["since"] == one["settings"]["since"]


def test_a_url_with_state_is_named_as_a_url_not_as_standard_input(tmp_path: Path) -> None:
    """QA23 F7: an s3:// input with --state said "name the logs, not -"."""
    from logaudit.sources import Input
    from logaudit.store import offsets

    url = "s3://bucket/access.log"
    with pytest.raises(LogauditError, match=r"^--state reads local files only: s3://bucket/"
                       r"access\.log is a URL \(copy the logs") as e:
        offsets.plan([Input(url, None, url=url, url_size=10)], [], tmp_path)
    assert e.value.exit_code == ExitCode.USAGE and " not -" not in str(e.value)
    with pytest.raises(LogauditError, match="name the logs, not - "):
        offsets.plan([Input("<stdin>", None)], [], tmp_path)
