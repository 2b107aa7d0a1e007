"""``logaudit problems`` across a daylight-saving change: its minutes are instants, so the hour
a fall-back repeats is two hours (two timeline rows, each labelled with its offset), the hour a
spring-forward skips is none, and --last's window and the hour before it are real minutes.
America/New_York: 2024-11-03 02:00 EDT (-04:00) became 01:00 EST (-05:00); 2024-03-10 02:00
EST became 03:00 EDT. The log is written with its own offsets, in UTC read with --tz, and
read with --tz UTC."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from loglines import isolate, line, utc, write

from logaudit import analyze, api
from logaudit.analyze.base import Table
from logaudit.analyze.problems import tables as problem_tables
from logaudit.analyze.problems.clock import Clock
from logaudit.config import Settings
from logaudit.report import Report
from logaudit.store import layout, walls

NY = ZoneInfo("America/New_York")
FALL = utc(2024, 11, 3, 4, 0)  # 00:00 EDT; four hours to 03:00 EST
SPRING = utc(2024, 3, 10, 5, 0)  # 00:00 EST; three hours to 04:00 EDT


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def night(start: datetime, minutes: int, errors_at: int, zone: ZoneInfo | None) -> list[str]:
    """Three requests a minute, and 20 more failing (500) in minute ``errors_at``; each line
    in ``zone``'s offset then (None: UTC)."""
    rows = []
    for m in range(minutes):
        t = start + timedelta(minutes=m)
        for k in range(3 + (20 if m == errors_at else 0)):
            at = t + timedelta(seconds=k)
            rows.append(
                line(
                    client=f"81.2.69.{k % 50 + 1}",
                    when=at.astimezone(zone) if zone else at,
                    request=f"GET /p{k % 3} HTTP/1.1",
                    status=500 if k >= 3 else 200,
                )
            )
    return rows


def w3c(start: datetime, minutes: int, errors_at: int) -> list[str]:
    """The same night as an IIS log: W3C times are UTC and carry no offset."""
    rows = ["#Software: test", "#Fields: date time c-ip cs-method cs-uri-stem sc-status"]
    for m in range(minutes):
        t = start + timedelta(minutes=m)
        for k in range(3 + (20 if m == errors_at else 0)):
            at = t + timedelta(seconds=k)
            rows.append(f"{at:%Y-%m-%d %H:%M:%S} 81.2.69.{k % 50 + 1} GET /p{k % 3} ")
            rows[-1] += "500" if k >= 3 else "200"
    return rows


def problems(path: Path, **kw: object) -> Report:
    extra = {"group": True, **{k: v for k, v in kw.items() if k != "tz"}}
    s = Settings(top=0, tz=kw.get("tz"), extra=extra)  # type: ignore[arg-type]
    out = api.report("problems", [str(path)], s)
    assert out.report is not None, out.messages
    return out.report


def section(r: Report, name: str) -> tuple[pd.DataFrame, str]:
    s = next(s for s in r.sections if s.name == name)
    return s.rows, s.note


# The fall-back night, 15-minute rows: the 01:xx rows twice, each with its offset.
FALL_ROWS = (
    ["2024-11-03 00:00", "2024-11-03 00:15", "2024-11-03 00:30", "2024-11-03 00:45"]
    + [f"2024-11-03 01:{m:02d} -04:00" for m in (0, 15, 30, 45)]
    + [f"2024-11-03 01:{m:02d} -05:00" for m in (0, 15, 30, 45)]
    + ["2024-11-03 02:00", "2024-11-03 02:15", "2024-11-03 02:30", "2024-11-03 02:45"]
)


@pytest.mark.parametrize("how", ["own offsets", "clf in UTC --tz", "w3c --tz"])
def test_fall_back_hour_is_two_hours(tmp_path: Path, how: str) -> None:
    """Errors at 01:30 EDT only: before, 01:30 EDT and 01:30 EST were one row (110 requests,
    18 %), the window's hour before held 90 minutes of requests in 60 (4.83 a minute)."""
    if how == "own offsets":
        log, tz = write(tmp_path / "a.log", night(FALL, 240, 90, NY)), None
    elif how == "clf in UTC --tz":
        log, tz = write(tmp_path / "a.log", night(FALL, 240, 90, None)), "America/New_York"
    else:
        log, tz = write(tmp_path / "a.log", w3c(FALL, 240, 90)), "America/New_York"
    r = problems(log, tz=tz, problems_every="15m", last=30 * 60)
    t, _ = section(r, "error-timeline")
    assert t["start"].tolist() == FALL_ROWS
    assert t["requests"].tolist() == [45] * 6 + [65] + [45] * 9
    assert t.loc[t["burst"] == "BURST", "start"].tolist() == ["2024-11-03 01:30 -04:00"]
    failing, _ = section(r, "failing-urls")
    assert set(failing["first"]) == {"2024-11-03 01:30 -04:00"}
    head, _ = section(r, "headline")
    assert head.loc[head["kind"] == "burst", "since"].tolist() == ["2024-11-03 01:30 -04:00"]
    # The last 30 minutes (02:30-02:59 EST) against the real hour before (01:30-02:29 EST).
    now, note = section(r, "now")
    rpm = now.set_index("metric").loc["requests_per_minute"]
    assert (rpm["now"], rpm["before"]) == (3.0, 3.0)
    assert note.startswith("last 30 min (2024-11-03 02:30-02:59)"), note


def test_fall_back_window_inside_the_repeated_hour_says_its_offset(tmp_path: Path) -> None:
    """A window ending at 01:44 EST: 01:15-01:44 -05:00, its hour before 00:15-01:14 EST, i.e.
    01:15 EDT onwards, holding the errors of 01:30 EDT (and none of 01:xx EST's doubled)."""
    log = write(tmp_path / "a.log", night(FALL, 165, 90, NY))  # to 01:44 EST
    r = problems(log, last=30 * 60)
    now, note = section(r, "now")
    rows = now.set_index("metric")
    assert rows.loc["requests_per_minute", "now"] == 3.0
    assert rows.loc["requests_per_minute", "before"] == pytest.approx(200 / 60, abs=1e-4)
    assert rows.loc["5xx_rate", "before"] == 0.1
    assert note.startswith("last 30 min (2024-11-03 01:15 -05:00 to 01:44 -05:00)"), note


@pytest.mark.parametrize("tz", [None, "America/New_York"])
def test_spring_forward_skipped_hour_is_no_minutes(tmp_path: Path, tz: str | None) -> None:
    """No 02:00 row of 0 requests; the window's hour before 03:30 EDT is 01:30-01:59 EST and
    03:00-03:29 EDT, 60 real minutes (before: 30 minutes of requests over 60, 1.5 a minute,
    and the errors of 01:40 EST left out)."""
    log = write(tmp_path / "a.log", night(SPRING, 180, 100, NY if tz is None else None))
    r = problems(log, tz=tz, problems_every="1h", last=30 * 60)
    t, _ = section(r, "error-timeline")
    assert t["start"].tolist() == ["2024-03-10 00:00", "2024-03-10 01:00", "2024-03-10 03:00"]
    assert t["requests"].tolist() == [180, 200, 180]
    now, _ = section(r, "now")
    rows = now.set_index("metric")
    assert rows.loc["requests_per_minute", "before"] == pytest.approx(200 / 60, abs=1e-4)
    assert rows.loc["5xx_rate", "before"] == 0.1


def test_tz_utc_reads_the_night_as_four_plain_hours(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", night(FALL, 240, 90, NY))
    r = problems(log, tz="UTC", problems_every="1h")
    t, _ = section(r, "error-timeline")
    assert t["start"].tolist() == [f"2024-11-03 0{h}:00" for h in range(4, 8)]
    assert t["requests"].tolist() == [180, 200, 180, 180]


def test_quiet_repeated_hour_rows_read_apart(tmp_path: Path) -> None:
    """No request from 01:00 EDT to 01:59 EST: the empty 15-minute rows between are labelled
    in the offset before them (the log says no more), and a label two rows share carries its
    offset, never two rows reading the same."""
    rows = night(FALL, 60, 30, NY) + night(FALL + timedelta(hours=3), 60, -1, NY)
    r = problems(write(tmp_path / "a.log", rows), problems_every="15m")
    t, _ = section(r, "error-timeline")
    assert t["start"].is_unique
    assert len(t) == 16 and int(t["requests"].sum()) == 2 * 180 + 20


def test_json_rows_name_the_offset(tmp_path: Path) -> None:
    """The JSON of the timeline says each repeated row's offset as the text does."""
    from click.testing import CliRunner

    from logaudit.cli import cli

    log = write(tmp_path / "a.log", night(FALL, 240, 90, NY))
    res = CliRunner().invoke(
        cli, ["problems", str(log), "--every", "1h", "--format", "json"], catch_exceptions=False
    )
    got = json.loads(res.stdout)
    t = next(s for s in got["sections"] if s["name"] == "error-timeline")
    assert [x["start"] for x in t["rows"]] == [
        "2024-11-03 00:00",
        "2024-11-03 01:00 -04:00",
        "2024-11-03 01:00 -05:00",
        "2024-11-03 02:00",
    ]


def test_clock_of_a_store_written_before_the_offset_reads_wall_minutes() -> None:
    """A store's days written before ``pb_minutes`` kept the offset hold wall minutes: read
    with offset 0, so they show as before, without an offset."""
    old = pd.DataFrame({"hits": [1, 2]}, index=pd.Index([100, 160], name="minute"))
    cl = Clock(old)
    assert cl.single and cl.when(100) == "1970-01-01 01:40"
    mixed = pd.DataFrame(
        {"hits": [1, 1], "offset": [-240.0, -300.0]}, index=pd.Index([330, 390], name="minute")
    )
    cl = Clock(mixed)  # 01:30 -04:00 and 01:30 -05:00
    assert (cl.when(330), cl.when(390)) == ("1970-01-01 01:30 -04:00", "1970-01-01 01:30 -05:00")
    assert cl.clock(450) == "02:30"  # past the repeated hour: as before


def test_two_minutes_of_the_repeated_hour_are_no_flood(tmp_path: Path) -> None:
    """70 requests at 01:30 EDT and 70 at 01:30 EST are two minutes of 70, under the flood's
    120 in one minute (before: one minute of 140, a flood); the client's first and last
    request say their offsets."""
    rows = []
    for first in (FALL + timedelta(minutes=90), FALL + timedelta(minutes=150)):
        for k in range(70):
            at = (first + timedelta(seconds=k % 60)).astimezone(NY)
            rows.append(line(client="198.51.100.7", when=at))
    for k in range(300):  # the rest: one request each, so a busy minute is 1 request
        at = (FALL + timedelta(minutes=k % 240)).astimezone(NY)
        rows.append(line(client=f"10.1.{k // 250}.{k % 250 + 1}", when=at))
    rows.sort(key=lambda x: datetime.strptime(x.split("[")[1][:26], "%d/%b/%Y:%H:%M:%S %z"))
    r = problems(write(tmp_path / "a.log", rows))
    sus, _ = section(r, "suspicious-clients")
    assert "flood" not in set(sus["kind"])
    # With --tz UTC the same requests are two minutes too: the key is the instant.
    r = problems(write(tmp_path / "a.log", rows), tz="UTC")
    sus, _ = section(r, "suspicious-clients")
    assert "flood" not in set(sus["kind"])


def test_client_first_and_last_say_their_offset(tmp_path: Path) -> None:
    """A scanner's 404s from 01:50 EDT to 01:10 EST: first is the earlier instant (before:
    01:10, the smaller wall clock, after its last)."""
    rows = []
    for k in range(25):
        at = (FALL + timedelta(minutes=110 + k)).astimezone(NY)  # 01:50 EDT .. 01:14 EST
        rows.append(line(client="198.51.100.9", when=at, request=f"GET /x{k} HTTP/1.1", status=404))
    r = problems(write(tmp_path / "a.log", rows))
    sus, _ = section(r, "suspicious-clients")
    row = sus.set_index("kind").loc["404-scanner"]
    assert (row["first"], row["last"]) == (
        "2024-11-03 01:50:00 -04:00",
        "2024-11-03 01:14:00 -05:00",
    )


def test_a_labelled_time_pastes_into_records_since(tmp_path: Path) -> None:
    """The label of the repeated hour's second pass names its instant: ``records --since``
    given it starts at 01:00 EST (06:00Z), not at the first pass (05:00Z)."""
    from click.testing import CliRunner

    from logaudit.cli import cli

    log = write(tmp_path / "a.log", night(FALL, 240, 90, NY))
    r = problems(log, problems_every="1h")
    t, _ = section(r, "error-timeline")
    second = t["start"].tolist()[2]
    assert second == "2024-11-03 01:00 -05:00"
    res = CliRunner().invoke(
        cli,
        ["records", str(log), "--since", second, "--limit", "1", "--format", "jsonl"],
        catch_exceptions=False,
    )
    assert json.loads(res.stdout.splitlines()[0])["time"].startswith("2024-11-03T06:00:00")


def test_quiet_spring_night_with_tz_has_no_skipped_rows(tmp_path: Path) -> None:
    """No request from 01:30 EST to 03:29 EDT: with --tz the empty rows between are the
    zone's (01:30, 01:45, 03:00, 03:15), never a 02:xx the clock skipped."""
    rows = night(SPRING, 90, -1, None) + night(SPRING + timedelta(minutes=150), 30, -1, None)
    r = problems(write(tmp_path / "a.log", rows), tz="America/New_York", problems_every="15m")
    t, _ = section(r, "error-timeline")
    assert t["start"].tolist() == [
        *(f"2024-03-10 0{h}:{m:02d}" for h in (0, 1) for m in (0, 15, 30, 45)),
        *(f"2024-03-10 03:{m:02d}" for m in (0, 15, 30, 45)),
    ]
    assert t["requests"].tolist() == [45] * 6 + [0] * 4 + [45] * 2


# ---- a history store written before schema 14 (problems' minutes on the wall clock) -----------


def _as_older(table: Table) -> Table:
    """``table`` as a logaudit of schema 13 computed it: its minutes (and a client's first and
    last) from each line's wall time, no offset kept."""

    def compute(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
        f = table.compute(c.assign(time=c["local"]), s)
        return f.drop(columns="offset", errors="ignore")

    return replace(
        table, compute=compute, agg={k: v for k, v in table.agg.items() if k != "offset"}
    )


@contextmanager
def older_logaudit() -> Iterator[None]:
    """This logaudit as schema 13 wrote and read a store: problems' tables on wall minutes,
    never marked or converted (``store/walls.py``), the store said to be schema 13."""
    with pytest.MonkeyPatch.context() as m:
        for name in walls.TABLES:
            older = _as_older(analyze.TABLES[name])
            m.setitem(analyze.TABLES, name, older)
            m.setitem(problem_tables.TABLES, name, older)
        m.setattr(walls, "TABLES", frozenset())
        m.setattr(layout, "SCHEMA", 13)
        m.setattr(layout, "READS", tuple(range(1, 14)))
        yield


def stored(logs: list[Path], state: Path | None, *args: str) -> dict:
    """``problems --format json`` of ``logs`` (through the store ``state``), as figures: the
    inputs, notes and client tokens (each store has its own key) left out."""
    from click.testing import CliRunner

    from logaudit.cli import cli

    where = ["--state", str(state)] if state is not None else []
    res = CliRunner().invoke(
        cli,
        ["problems", *map(str, logs), *where, *args, "--format", "json"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    for k in ("generated", "inputs", "notes", "bad_lines"):
        d.pop(k, None)
    d["overview"].pop("bad_lines", None)
    return json.loads(re.sub(r"h:[0-9a-f]{16}", "h:X", json.dumps(d)))


def timeline_of(d: dict) -> list[tuple[str, int, int]]:
    rows = next(s for s in d["sections"] if s["name"] == "error-timeline")["rows"]
    return [(r["start"], r["requests"], r["5xx"]) for r in rows]


def per_minute(d: dict) -> float:
    return float(d["sections"][0]["headline"]["requests_per_minute"])


EVE = utc(2024, 11, 2, 22, 0)  # 18:00 EDT, the evening before the fall-back night


@pytest.mark.parametrize("how", ["own offsets", "W3C in UTC, --tz"])
def test_an_older_store_grown_by_this_logaudit_reads_as_one_store(tmp_path: Path, how: str) -> None:
    """Days an older logaudit stored (wall minutes) and days this one adds (instants) read as
    a store this logaudit wrote alone: no phantom gap of the offset between them (requests per
    minute 2.06 against 2.16, rev23-dst23 1), the fall-back's hour twice."""
    if how == "own offsets":
        eve = write(tmp_path / "eve.log", night(EVE, 360, 30, NY))
        fall = write(tmp_path / "fall.log", night(FALL, 240, 90, NY))
        tz: tuple[str, ...] = ()
    else:
        eve = write(tmp_path / "eve.log", w3c(EVE, 360, 30))
        fall = write(tmp_path / "fall.log", w3c(FALL, 240, 90))
        tz = ("--tz", "America/New_York")
    old = tmp_path / "old"
    with older_logaudit():
        before = stored([eve], old, *tz)
    assert json.loads((old / "store.json").read_text())["schema"] == 13
    assert stored([], old, *tz) == before  # its logs gone: every figure as the older one gave
    grown = stored([eve, fall], old, *tz, "--every", "1h")
    assert json.loads((old / "store.json").read_text())["schema"] == 14
    assert grown == stored([eve, fall], tmp_path / "new", *tz, "--every", "1h")
    assert per_minute(grown) == (600 * 3 + 2 * 20) / 600
    rows = timeline_of(grown)
    assert len(rows) == 10  # 18:00 EDT .. 02:00 EST: 6 + 4 hours, none twice, no gap
    assert rows[-4:] == timeline_of(stored([fall], None, *tz, "--every", "1h"))
    assert [r[0] for r in rows[-3:-1]] == ["2024-11-03 01:00 -04:00", "2024-11-03 01:00 -05:00"]


def _grown_inside_the_night(tmp_path: Path, cut: int) -> tuple[dict, dict]:
    """The fall-back night (errors at 01:15 EDT) stored up to minute ``cut`` by an older
    logaudit and on by this one; and the same night stored by this one alone."""
    rows = night(FALL, 240, 75, NY)
    upto = 3 * cut + 20 * (cut > 75)
    log = write(tmp_path / "fall.log", rows[:upto])
    old = tmp_path / "old"
    with older_logaudit():
        stored([log], old)
    write(tmp_path / "fall.log", rows)  # the same file, grown
    grown = stored([log], old, "--every", "1h")
    return grown, stored([log], tmp_path / "new", "--every", "1h")


def test_a_day_grown_inside_the_first_pass_of_the_repeated_hour_is_exact(tmp_path: Path) -> None:
    """An older logaudit stored the night up to 01:30 EDT (each wall hour in one offset: its
    minutes converted exactly); this one stores the rest. Its errors' table gets no new row,
    yet is rewritten as instants with the day: kept as it was, it would be read with the
    day's new offsets, the 01:15 EDT errors an hour late (01:15 -05:00)."""
    grown, new = _grown_inside_the_night(tmp_path, 90)
    assert grown == new
    failing = next(s for s in grown["sections"] if s["name"] == "failing-urls")["rows"]
    assert {r["first"] for r in failing} == {"2024-11-03 01:15 -04:00"}


def test_a_day_grown_after_the_repeated_hour_keeps_it_in_one_offset(tmp_path: Path) -> None:
    """An older logaudit stored the night past the repeated hour: its 01:xx minutes hold both
    passes (wall minutes) and cannot be told apart: they are read in the westernmost offset
    (-05:00), one minute each as that logaudit showed them, the -04:00 hour empty. Every
    other row, and every count, is exact."""
    grown, new = _grown_inside_the_night(tmp_path, 200)
    rows, exact = timeline_of(grown), timeline_of(new)
    assert rows[1:3] == [("2024-11-03 01:00 -04:00", 0, 0), ("2024-11-03 01:00 -05:00", 380, 20)]
    assert exact[1:3] == [("2024-11-03 01:00 -04:00", 200, 20), ("2024-11-03 01:00 -05:00", 180, 0)]
    assert rows[3:] == exact[3:]
    # 00:00 says -04:00: from the minutes alone the clock may have gone back any time in the
    # empty hour after 00:59 EDT (``Clock.twice``).
    assert rows[0] == ("2024-11-03 00:00 -04:00", *exact[0][1:])
    assert per_minute(grown) == per_minute(new)


def test_an_older_logaudit_refuses_a_store_this_one_wrote(tmp_path: Path) -> None:
    """This logaudit's store is schema 14: an older one (13) refuses it in one line, exit 7,
    where it would read the instants as wall minutes (rev23-dst23 1: "since 04:05")."""
    from click.testing import CliRunner

    from logaudit.cli import cli

    log = write(tmp_path / "fall.log", night(FALL, 240, 90, NY))
    stored([log], tmp_path / "st")
    with older_logaudit():
        res = CliRunner().invoke(cli, ["problems", "--state", str(tmp_path / "st")])
    assert res.exit_code == 7
    assert "store schema 14" in res.output and "reads schema 1 to 13 only" in res.output
    assert "state rebuild" in res.output and len(res.output.strip().splitlines()) == 1


LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # 2024-04-07 02:00 +11:00 became 01:30 +10:30


@pytest.mark.parametrize("tz", [None, "Australia/Lord_Howe"])
def test_half_hour_fall_back_has_no_phantom_rows(tmp_path: Path, tz: str | None) -> None:
    """A fall-back of 30 minutes puts the hourly rows after it off the grid of the rows
    before: the empty rows are filled after each real row, not on that grid, which put a row
    of 0 between every two (01:30 +10:30 0, 02:30 0, ...: rev23-dst23 2)."""
    start = utc(2024, 4, 6, 12, 0)  # 23:00 +11:00
    rows = [
        line(when=(start + timedelta(minutes=m)).astimezone(LORD_HOWE), request="GET /p HTTP/1.1")
        for m in range(360)
    ]
    r = problems(write(tmp_path / "a.log", rows), tz=tz, problems_every="1h")
    t, _ = section(r, "error-timeline")
    assert [(x[11:], n) for x, n in zip(t["start"], t["requests"], strict=True)] == [
        ("23:00", 60),
        ("00:00", 60),
        ("01:00 +11:00", 60),
        ("01:00 +10:30", 30),
        ("02:00", 60),
        ("03:00", 60),
        ("04:00", 30),
    ]


@pytest.mark.parametrize("tz", [None, "Australia/Lord_Howe"])
def test_a_quiet_half_hour_fall_back_has_no_overlapping_rows(
    tmp_path: Path, tz: str | None
) -> None:
    """Quiet across the half-hour change (23:00-23:59 +11:00, then 02:30-03:29 +10:30): the
    empty hours after 23:00 are filled only while a whole hour fits before the next row's
    start; the part-hour left over had no lines and gets no row (an 02:00 +11:00 row ran to
    02:30 +10:30, over the 02:00 +10:30 row: rev23-dst23b 1)."""
    start = utc(2024, 4, 6, 12, 0)  # 23:00 +11:00
    rows = [
        line(when=(start + timedelta(minutes=m)).astimezone(LORD_HOWE), request="GET /p HTTP/1.1")
        for m in [*range(60), *range(240, 300)]
    ]
    r = problems(write(tmp_path / "a.log", rows), tz=tz, problems_every="1h")
    t, _ = section(r, "error-timeline")
    got = [(x[11:], n) for x, n in zip(t["start"], t["requests"], strict=True)]
    assert got == [
        ("23:00", 60),
        ("00:00 +11:00", 0),
        ("01:00 +11:00", 0),
        ("02:00 +10:30", 30),
        ("03:00", 30),
    ], got


def test_zone_offsets_at_once_are_the_zone_s() -> None:
    """The empty rows' offsets under --tz, in one conversion, are zoneinfo's at each minute
    (across both changes of a year, and far from 1970)."""
    from logaudit.analyze import periods
    from logaudit.analyze.problems.clock import zone_offsets

    for zone in (NY, LORD_HOWE):
        minutes = np.r_[
            np.arange(28_400_000, 28_960_000, 97), [-5_000_000, 0, 2_000_000_000]
        ].astype(np.int64)
        want = [periods.zone_offset_at_instant(zone, int(m) * 60) for m in minutes]
        assert zone_offsets(zone, minutes).tolist() == want
