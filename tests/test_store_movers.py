"""Movers from the store's per-period counts (store/movers.py): the same rows as one pass over
the logs, without reading the closed days' page-view events."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from logaudit.samplegen import generate_lines
from logaudit.store import movers, visitdays
from logaudit.store.layout import STATE_FILE, Layout, day_number
from tests.store_helpers import figures, grown_store, report, trends

# Four months and a bit from 20 December: December, January, February and March
# close and roll up; April is still written.
DATA = b"".join(generate_lines(24000, start=date(2025, 12, 20), days=110))
SECTIONS = ("movers", "periods")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("moverstore")
    return grown_store(tmp, DATA, (0.3, 0.7, 0.999), report)


def _spy(monkeypatch: Any) -> list[tuple[str, str]]:
    read: list[tuple[str, str]] = []
    real_one, real_many = Layout.read_table, Layout.read_tables

    def one(self: Layout, name: str, info: Any, table: str) -> Any:
        read.append((name, table))
        return real_one(self, name, info, table)

    def many(self: Layout, days: Any, table: str, **kw: Any) -> Any:
        read.extend((d, table) for d, _ in days)
        return real_many(self, days, table, **kw)

    monkeypatch.setattr(Layout, "read_table", one)
    monkeypatch.setattr(Layout, "read_tables", many)
    return read


@pytest.mark.parametrize("every", ["month", "week", "day", "auto"])
def test_movers_from_counts_equal_one_pass(
    store: tuple[Path, Path], every: str, monkeypatch: Any
) -> None:
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": SECTIONS}
    read = _spy(monkeypatch)
    stored = figures(trends([], state, **more))
    monkeypatch.undo()
    assert stored == figures(trends([str(whole)], **more))
    if every in ("month", "auto"):
        # Something moved: the comparison is not between two empty tables.
        assert {r["kind"] for r in map(json.loads, stored["movers"]["rows"])} >= {"page"}
    days = json.loads((state / STATE_FILE).read_text())["days"]
    closed = {n for n, i in days.items() if i.get("closed")}
    assert len(closed) > 90
    # No closed day's page-view events; touch events only of the last periods' days.
    assert not {n for n, t in read if t == "pv_events"} & closed
    touched = sorted(n for n, t in read if t == "touch_events")
    assert len(touched) < 8 * 31
    # A period that starts inside the stored days.
    since = {"since": datetime(2026, 1, 10), **more}
    assert figures(trends([], state, **since)) == figures(trends([str(whole)], **since))


def test_every_stored_day_and_month_keeps_the_counts(store: tuple[Path, Path]) -> None:
    state, _ = store
    st = json.loads((state / STATE_FILE).read_text())
    assert all(movers.COUNTS in i["files"] for i in st["days"].values())
    assert {"2025-12", "2026-01", "2026-02", "2026-03"} <= set(st["months"])
    assert all(movers.COUNTS in e["files"] for e in st["months"].values())


def test_a_store_without_the_counts_reads_the_events(tmp_path: Path) -> None:
    """A store written before the counts existed: movers read the events, same figures."""
    data = b"".join(generate_lines(8000, start=date(2026, 1, 20), days=30))
    state, whole = grown_store(tmp_path, data, (0.5, 0.999), report)
    path = state / STATE_FILE
    st = json.loads(path.read_text())
    for entry in [*st["days"].values(), *st.get("months", {}).values()]:
        entry["files"].pop(movers.COUNTS, None)
    path.write_text(json.dumps(st))
    more: dict[str, Any] = {"extra": {"every": "week"}, "sections": SECTIONS}
    stored = trends([], state, **more)
    assert figures(stored) == figures(trends([str(whole)], **more))


@pytest.mark.parametrize("every", ["month", "week"])
def test_source_movers_without_journeys_equal_those_from_journeys(
    store: tuple[Path, Path], every: str, monkeypatch: Any
) -> None:
    """The source movers cut and classify only the compared periods' visits; with the
    campaigns sections' journeys made first they read those: the same rows."""
    from logaudit.analyze.campaigns import journeys
    from logaudit.analyze.trends import movers as trend_movers

    _, whole = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": ("movers",)}
    light = figures(trends([str(whole)], **more))
    sources = [r for r in light["movers"]["rows"] if json.loads(r)["kind"] == "source"]
    assert sources or "sources: under" in light["movers"]["note"]
    real = trend_movers._visit_sources

    def after_journeys(p: Any, ctx: Any, *rest: Any) -> Any:
        journeys(p, ctx)
        return real(p, ctx, *rest)

    monkeypatch.setattr(trend_movers, "_visit_sources", after_journeys)
    assert figures(trends([str(whole)], **more)) == light


def test_country_movers_from_counts_equal_one_pass(tmp_path: Path, shared_data: Path) -> None:
    """Countries map the counted visitor keys through the last periods' visitors and the
    places stored when the lines were read (GeoIP test databases)."""
    geo = shared_data / "geoip" / "test-data"
    data = b"".join(generate_lines(12000, start=date(2026, 1, 5), days=60))

    def run(args: list[str], state: Path | None = None) -> Any:
        return report(args, state, geoip_dir=geo)

    state, whole = grown_store(tmp_path, data, (0.5, 0.999), run)
    more: dict[str, Any] = {"extra": {"every": "week"}, "sections": SECTIONS, "geoip_dir": geo}
    stored = figures(trends([], state, **more))
    assert "countries:" not in stored["movers"]["note"]
    assert stored == figures(trends([str(whole)], **more))


@pytest.mark.parametrize("every", ["day", "auto"])
def test_a_period_without_traffic_counts_as_nothing(tmp_path: Path, every: str) -> None:
    """A day with no line inside the compared periods: the store hands movers that period
    (empty) too, and the rows equal one pass (it used to stop with an internal error)."""
    data = b"".join(generate_lines(8000, start=date(2026, 1, 20), days=20))
    data = b"".join(line for line in data.splitlines(True) if b"[05/Feb/2026:" not in line)
    state, whole = grown_store(tmp_path, data, (0.5, 0.999), report)
    days = json.loads((state / STATE_FILE).read_text())["days"]
    assert "2026-02-05" not in days and "2026-02-06" in days
    more: dict[str, Any] = {"extra": {"every": every}, "sections": SECTIONS}
    stored = trends([], state, **more)
    assert stored.report is not None, stored.messages
    assert figures(stored) == figures(trends([str(whole)], **more))


def _older_first(tmp_path: Path, forget: Callable[[dict[str, Any]], None]) -> Callable[..., Any]:
    """``report`` for ``grown_store``, the first run's store made an older logaudit's: what
    that one did not write is taken out of its state by ``forget``."""
    runs: list[Path] = []

    def run(paths: list[str], state: Path | None = None) -> Any:
        out = report(paths, state)
        if not runs and state is not None:  # the first run was by an older logaudit
            path = state / STATE_FILE
            st = json.loads(path.read_text())
            forget(st)
            path.write_text(json.dumps(st))
        runs.append(state or tmp_path)
        return out

    return run


def test_a_day_grown_after_an_upgrade_keeps_reading_its_events(tmp_path: Path) -> None:
    """A day stored before the counts existed and grown by a later run: counts of its new
    lines alone would be partial, so the day is written without counts and movers read its
    events: the same rows as one pass, also for a period of only such days (--since)."""
    data = b"".join(generate_lines(8000, start=date(2026, 1, 20), days=20))

    def forget(st: dict[str, Any]) -> None:
        for entry in [*st["days"].values(), *st.get("months", {}).values()]:
            entry["files"].pop(movers.COUNTS, None)

    state, whole = grown_store(tmp_path, data, (0.75, 0.999), _older_first(tmp_path, forget))
    # The day the first run ended in, grown by the second: one of the last six days.
    cut = data.index(b"\n", int(len(data) * 0.75))
    stamp = data[data.rindex(b"[", 0, cut) + 1 :][:11].decode()
    grown = datetime.strptime(stamp, "%d/%b/%Y")
    days = json.loads((state / STATE_FILE).read_text())["days"]
    assert movers.COUNTS not in days[grown.date().isoformat()]["files"]
    for since in (None, grown):
        more: dict[str, Any] = {"extra": {"every": "day"}, "sections": SECTIONS}
        if since is not None:
            more["since"] = since
        assert figures(trends([], state, **more)) == figures(trends([str(whole)], **more))


def test_a_wrong_attribution_in_the_config_is_named_by_movers_too(tmp_path: Path) -> None:
    """The source movers read visits without the campaigns' journeys; a wrong model from a
    config file (click checks only the option) is still one clear error."""
    from logaudit.errors import ConfigError

    log = tmp_path / "access.log"
    log.write_bytes(b"".join(generate_lines(3000, start=date(2026, 1, 20), days=20)))
    more: dict[str, Any] = {"extra": {"every": "week"}, "sections": ("movers",)}
    assert trends([str(log)], **more).report is not None
    with pytest.raises(ConfigError, match="attribution must be one of"):
        trends([str(log)], attribution="linearish", **more)


def _recorded(monkeypatch: Any, run: Any) -> dict[str, dict[str, tuple[int, int]]]:
    """What movers counted per item of each kind (before the thresholds): every country and
    browser, not only the rows that moved enough to be shown."""
    from logaudit.analyze.trends import movers as trend_movers

    got: dict[str, dict[str, tuple[int, int]]] = {}
    real = trend_movers._count_moves

    def spy(kind: str, keys: Any, n_before: Any, n_last: Any, items: Any, *rest: Any) -> Any:
        names = items.reindex(keys).to_numpy(dtype=object)
        per: dict[str, list[int]] = {}
        for name, b, la in zip(names, n_before, n_last, strict=True):
            if isinstance(name, str):
                c = per.setdefault(name, [0, 0])
                c[0] += int(b)
                c[1] += int(la)
        got[kind] = {k: (v[0], v[1]) for k, v in per.items() if v != [0, 0]}
        return real(kind, keys, n_before, n_last, items, *rest)

    monkeypatch.setattr(trend_movers, "_count_moves", spy)
    run()
    monkeypatch.undo()
    return got


def test_days_keep_people_counts_not_visitor_keys(store: tuple[Path, Path]) -> None:
    """Each stored day (and closed month) counts page views per country and browser, and its
    ``mover_counts`` hold no visitor key: the trends never map keys through the visitors."""
    state, _ = store
    st = json.loads((state / STATE_FILE).read_text())
    layout = Layout(state)
    for name, info in [*st["days"].items(), *st["months"].items()]:
        assert movers.PEOPLE.name in info["files"], name
        counts = layout.read_table(name, info, movers.COUNTS)
        assert counts is not None and len(counts)
        assert 2 not in set(counts.index.get_level_values("kind")), name
        people = layout.read_table(name, info, movers.PEOPLE.name)
        assert people is not None
        assert set(people.index.get_level_values("kind")) >= {2}  # browsers


def test_country_and_browser_counts_equal_one_pass(
    tmp_path: Path, shared_data: Path, monkeypatch: Any
) -> None:
    """Every country's and browser's page views on each side (not only the rows shown) equal
    one pass, from the people counts alone (no visitors or places read), and from a store whose
    first days were written by an older logaudit (visitor keys, mapped when reporting) and its
    later ones with people counts: each day is counted one way, never both."""
    geo = shared_data / "geoip" / "test-data"
    data = b"".join(generate_lines(12000, start=date(2026, 1, 5), days=60))
    more: dict[str, Any] = {"extra": {"every": "week"}, "sections": SECTIONS, "geoip_dir": geo}

    def run(args: list[str], state: Path | None = None) -> Any:
        return report(args, state, geoip_dir=geo)

    state, whole = grown_store(tmp_path / "new", data, (0.5, 0.999), run)
    one_pass = _recorded(monkeypatch, lambda: trends([str(whole)], **more))
    assert one_pass["country"] and one_pass["browser"]
    read = _spy(monkeypatch)
    stored = _recorded(monkeypatch, lambda: trends([], state, **more))
    assert stored == one_pass
    assert not {t for _, t in read} & {"visitors", "places"}

    runs: list[int] = []

    def mixed(args: list[str], state: Path | None = None) -> Any:
        if not runs:  # the first run by a logaudit without people counts
            monkeypatch.setattr(movers, "with_people", lambda part, old, where: part)
        runs.append(1)
        try:
            return run(args, state)
        finally:
            monkeypatch.undo()

    state2, whole2 = grown_store(tmp_path / "mixed", data, (0.5, 0.999), mixed)
    days = json.loads((state2 / STATE_FILE).read_text())["days"]
    with_people = [n for n, i in days.items() if movers.PEOPLE.name in i["files"]]
    assert 0 < len(with_people) < len(days)
    assert _recorded(monkeypatch, lambda: trends([], state2, **more)) == one_pass
    assert figures(trends([], state2, **more)) == figures(trends([str(whole2)], **more))


# Source movers from the closed days' visit rows (schema 6, store/movers.py source_visits).


def _touch(layout: Layout, state: Any, days: list[str]) -> pd.DataFrame:
    from logaudit.analyze import TABLES
    from logaudit.store import load

    got = [
        load(layout, state, {"touch_events": TABLES["touch_events"]}, d, d).get("touch_events")
        for d in map(day_number, days)
    ]
    return pd.concat([g for g in got if g is not None and len(g)], ignore_index=True)


def _by_visit(f: pd.DataFrame) -> pd.DataFrame:
    """Interior visits keep no visitor key: compared by their start and entry pair."""
    cols = ["start", "start_local", "ref_h", "query_h"]
    f = f.loc[:, cols].astype({"start": "int64", "start_local": "int64"})
    f = f.astype({"ref_h": "uint64", "query_h": "uint64"})
    return f.sort_values(cols).reset_index(drop=True)


@pytest.fixture(scope="module")
def long_visits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A store of visits that often cross midnight and the runs' cuts (an 8 h timeout)."""
    tmp = tmp_path_factory.mktemp("longvisits")
    data = _with_night_owls(b"".join(generate_lines(9000, start=date(2026, 1, 10), days=30)))

    def run(paths: list[str], state: Path | None = None) -> Any:
        return report(paths, state, visit_timeout=LONG)

    return grown_store(tmp, data, (0.35, 0.6, 0.999), run)


LONG = 8 * 3600
_UA = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def _with_night_owls(data: bytes) -> bytes:
    """``data`` with people whose visits cross midnight (entering from one site, then from
    another after midnight) and one who comes every 6 hours for days (one visit of many
    days' pieces, across the runs' cuts too), merged in time order."""
    from datetime import timedelta

    def line(ip: str, t: datetime, path: str, ref: str) -> tuple[datetime, bytes]:
        stamp = t.strftime("%d/%b/%Y:%H:%M:%S +0100").encode()
        return t, (
            f"{ip} - - [".encode() + stamp + f'] "GET {path} HTTP/1.1" 200 900 '
            f'"{ref}" "'.encode() + _UA + b'"\n'
        )

    extra = []
    t0 = datetime(2026, 1, 10)
    for d in range(29):
        for k in range(6):
            ip = f"198.51.{d}.{k + 1}"
            night = t0 + timedelta(days=d + 1, minutes=-20 + 3 * k)
            extra.append(line(ip, night, f"/?utm_source=night{k % 3}", f"https://s{k}.example/"))
            extra.append(line(ip, night + timedelta(minutes=40), "/", "https://late.example/"))
    for h in range(0, 29 * 24, 6):
        extra.append(line("203.0.113.77", t0 + timedelta(hours=h, minutes=7), "/cart", "-"))
    lines = [
        (datetime.strptime(ln[ln.index(b"[") + 1 :][:20].decode(), "%d/%b/%Y:%H:%M:%S"), ln)
        for ln in data.splitlines(keepends=True)
    ]
    return b"".join(ln for _, ln in sorted(lines + extra, key=lambda x: x[0]))


@pytest.mark.parametrize("split", [0.0, 0.3, 0.7])
def test_source_visits_from_rows_equal_the_cut_touch_events(
    long_visits: tuple[Path, Path], split: float
) -> None:
    """The rowed days' visits and entry pairs (interior as stored, edge pieces chained with
    each other and with the other days' cut touch events) are the visits ``cut_all`` makes
    of every day's touch events, pair for pair; whichever days give rows and which events."""
    from logaudit.analyze.attribution import cut_all

    state_dir, _ = long_visits
    layout = Layout(state_dir)
    state = layout.read_state()
    names = sorted(state.days)
    rowed = movers.source_days([(n, state.days[n]) for n in names], LONG)
    assert len(rowed) > 20
    # Some days give rows, the others (the first ones, and the open ones) their events.
    keep = rowed[int(len(rowed) * split) :]
    kept = {n for n, _ in keep}
    rows = layout.read_tables(keep, visitdays.ROWS.name)
    assert rows is not None and rows["edge"].any() and (~rows["edge"]).any()
    assert {"ref_h", "query_h"} <= set(rows.columns)
    others = _touch(layout, state, [n for n in names if n not in kept])
    got = movers.source_visits(rows, [others], LONG)
    want, _ = cut_all([_touch(layout, state, names)], LONG, 0)
    pd.testing.assert_frame_equal(_by_visit(got), _by_visit(want))
    # Visits made of pieces of more than one day: chaining (and its pair) was exercised.
    pieces = len(rows) + len(cut_all([others], LONG, 0)[0])
    assert len(want) < pieces - 10


def test_long_visits_source_movers_equal_one_pass(long_visits: tuple[Path, Path]) -> None:
    state, whole = long_visits
    for every in ("week", "day"):
        more: dict[str, Any] = {
            "extra": {"every": every},
            "sections": ("movers",),
            "visit_timeout": LONG,
        }
        assert figures(trends([], state, **more)) == figures(trends([str(whole)], **more))


@pytest.mark.parametrize("every", ["month", "week"])
def test_source_movers_read_no_touch_event_of_a_closed_day(
    store: tuple[Path, Path], every: str, monkeypatch: Any
) -> None:
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": ("movers",)}
    handed: list[int] = []
    real = movers.source_visits

    def spy(*a: Any) -> Any:
        v = real(*a)
        handed.append(len(v))
        return v

    monkeypatch.setattr(movers, "source_visits", spy)
    read = _spy(monkeypatch)
    stored = figures(trends([], state, **more))
    monkeypatch.undo()
    one = figures(trends([str(whole)], **more))
    assert stored == one
    assert handed and handed[0] > 100
    sources = [r for r in stored["movers"]["rows"] if json.loads(r)["kind"] == "source"]
    assert sources or "sources: under" in stored["movers"]["note"]
    days = json.loads((state / STATE_FILE).read_text())["days"]
    closed = {n for n, i in days.items() if i.get("closed")}
    assert all(days[n].get(visitdays.SOURCES) for n in closed)
    assert not {n for n, t in read if t == "touch_events"} & closed


def test_a_store_half_written_without_entry_pairs(tmp_path: Path, monkeypatch: Any) -> None:
    """Days closed by an older logaudit (no entry pairs on their rows) give their touch
    events; the days closed since give rows: the sum is the one-pass figures."""
    data = b"".join(generate_lines(9000, start=date(2026, 1, 10), days=40))

    def forget(st: dict[str, Any]) -> None:
        for entry in st["days"].values():
            entry.pop(visitdays.SOURCES, None)

    state, whole = grown_store(tmp_path, data, (0.55, 0.999), _older_first(tmp_path, forget))
    days = json.loads((state / STATE_FILE).read_text())["days"]
    old = {n for n, i in days.items() if i.get("closed") and not i.get(visitdays.SOURCES)}
    new = {n for n, i in days.items() if i.get(visitdays.SOURCES)}
    assert old and new
    for every, since in (("week", None), ("day", None), ("week", datetime(2026, 1, 25))):
        more: dict[str, Any] = {"extra": {"every": every}, "sections": SECTIONS}
        if since is not None:
            more["since"] = since
        read = _spy(monkeypatch)
        stored = figures(trends([], state, **more))
        monkeypatch.undo()
        assert stored == figures(trends([str(whole)], **more))
        touched = {n for n, t in read if t == "touch_events"}
        assert not touched & new
    # The week comparison reaches back into the older days: their events were read.
    more = {"extra": {"every": "week"}, "sections": SECTIONS}
    read = _spy(monkeypatch)
    trends([], state, **more)
    monkeypatch.undo()
    assert {n for n, t in read if t == "touch_events"} & old


# Where each part is read (this process: "here"), by period: for months the child finds the
# own hosts only and the movers' part is read here; for weeks the child reads both.
READ_WHERE = {
    ("month", False): ({"own"}, ["movers"]),
    ("month", True): ({"own"}, ["movers", "own"]),
    ("week", False): ({"movers", "own"}, []),
    ("week", True): ({"movers"}, ["movers"]),
}


@pytest.mark.parametrize("every", ["month", "week"])
def test_movers_read_in_a_forked_child_equal_those_read_here(
    store: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: str
) -> None:
    """store/apart.py: the part read by a child while the period loads gives the figures it
    gives read in this process; a child that fails leaves it to this process. For monthly
    periods the child finds only the own hosts (``_own_only``; these sections' site movers
    need them) and the movers' part is read here, after the period (twenty-first round); for
    weeks the child reads the movers' part and the own hosts."""
    import os

    import logaudit.store as st
    from logaudit.store import apart

    state, _ = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": SECTIONS}
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "0")
    here = figures(trends([], state, **more))
    pids = tmp_path / "pids"

    def noted(name: str, real: Any) -> Any:
        def read(layout: Layout, *args: Any, **kw: Any) -> Any:
            with open(pids, "a") as f:
                f.write(f"{os.getpid()} {name}\n")
            if fail and isinstance(layout, apart.ReadOnly):
                raise RuntimeError("a child's failure")
            return real(layout, *args, **kw)

        return read

    monkeypatch.setattr(st, "_movers_part", noted("movers", st._movers_part))
    monkeypatch.setattr(st, "_own_only", noted("own", st._own_only))
    monkeypatch.setattr(apart, "MIN_DAYS", 1)
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "1")
    me = str(os.getpid())
    for fail in (False, True):
        pids.unlink(missing_ok=True)
        assert figures(trends([], state, **more)) == here
        seen = [tuple(line.split()) for line in pids.read_text().splitlines()]
        child, this = READ_WHERE[every, fail]
        assert {n for p, n in seen if p != me} == child
        assert [n for p, n in seen if p == me] == this


# The periods the own hosts are found for: the whole store; from inside a rolled-up month
# (January); days from inside a month to before the last stored day.
OWN_PERIODS: dict[str, dict[str, Any]] = {
    "whole": {"extra": {"every": "month"}},
    "since": {"extra": {"every": "month"}, "since": datetime(2026, 1, 10)},
    "since-until": {
        "extra": {"every": "day"},
        "since": datetime(2026, 3, 20),
        "until": datetime(2026, 4, 3),
    },
}


@pytest.mark.parametrize("period", list(OWN_PERIODS))
@pytest.mark.parametrize("case", ["taken", "a failure", "killed", "a commit"])
def test_own_hosts_found_by_the_child_equal_those_found_here(
    store: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    period: str,
) -> None:
    """store._with_visits, _own_part: the child reads the period's paths and virtual hosts
    and finds the own hosts (``sites.own``, ``_own_only``), which this process then does not
    read; the same hosts and figures as found here, for the whole store and for a period
    given by --since (and --until). A child that fails or is killed, or a commit here
    meanwhile (its part not taken), leaves them to this process."""
    import os
    import shutil
    import signal

    import logaudit.store as st
    from logaudit.analyze import forked
    from logaudit.store import apart, grouped, sites

    if case == "taken" and not forked.can_fork():
        pytest.skip("no fork on this platform: the child's part cannot be taken")
    state, _ = store
    if case == "a commit":  # its state's generation moves: a copy, not the module's store
        shutil.copytree(state, tmp_path / "state")
        state = tmp_path / "state"
    more: dict[str, Any] = {**OWN_PERIODS[period], "sections": SECTIONS}
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "0")
    here = figures(trends([], state, **more))
    log = tmp_path / "log"
    real_own, real_read, real_part = sites.own, grouped.read, st._own_only
    real_visits = st._add_visits

    def own(*args: Any, **kw: Any) -> Any:
        found = real_own(*args, **kw)
        with open(log, "a") as f:
            f.write(f"{os.getpid()} own {','.join(sorted(found))}\n")
        return found

    def read(layout: Layout, entries: Any, table: Any) -> Any:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} read {table.name}\n")
        return real_read(layout, entries, table)

    def part(layout: Layout, **kw: Any) -> Any:
        if case == "a failure" and isinstance(layout, apart.ReadOnly):
            raise RuntimeError("a child's failure")
        if case == "killed" and isinstance(layout, apart.ReadOnly):
            got = real_part(layout, **kw)  # its own hosts found, then the child killed
            os.kill(os.getpid(), signal.SIGKILL)
            return got
        return real_part(layout, **kw)

    def add_visits(layout: Layout, state: Any, *args: Any) -> Any:
        if case == "a commit":
            state.gen += 1  # as a write (a backfill) committed while the child read
        return real_visits(layout, state, *args)

    monkeypatch.setattr(sites, "own", own)
    monkeypatch.setattr(grouped, "read", read)
    monkeypatch.setattr(st, "_own_only", part)
    monkeypatch.setattr(st, "_add_visits", add_visits)
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "0")
    trends([], state, **more)  # this process alone: the hosts it finds
    alone = [line.split(" ", 2) for line in log.read_text().splitlines()]
    found_here = {rest for _, what, rest in alone if what == "own"}
    assert len(found_here) == 1 and "" not in found_here  # found, and some own host
    log.unlink()
    monkeypatch.setattr(apart, "MIN_DAYS", 1)
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "1")
    assert figures(trends([], state, **more)) == here
    seen = [line.split(" ", 2) for line in log.read_text().splitlines()]
    me = str(os.getpid())
    owns = [(pid, rest) for pid, what, rest in seen if what == "own"]
    paths = [pid for pid, what, rest in seen if what == "read" and rest == "paths"]
    assert {rest for _, rest in owns} == found_here
    if case == "taken":
        assert [pid for pid, _ in owns] != [me] and me not in paths  # the child's only
    else:  # found here too, after the child's (killed, a commit) or without it (a failure)
        assert owns[-1][0] == me and paths[-1] == me
