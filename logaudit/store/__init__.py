"""The history store: partial tables per day, read only where new, merged at report time.

``stored_run`` is the one call report commands make with ``--state``: under the store's lock
it reads the new bytes of the given logs (``offsets``), computes every table per day
(``days``), merges each changed day with what the store held, writes the days and the offsets
in one commit (``layout``), then merges the days of the requested period into the partial the
sections are built from. ``docs/store.md`` describes the layout.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from logaudit.analyze import visitcounts
from logaudit.analyze.base import Accumulator, Context, Partial, Table, merged_rows
from logaudit.config import Settings
from logaudit.engine.local import Run, run
from logaudit.errors import ConfigError, ExitCode, LogauditError
from logaudit.parse import BadLines
from logaudit.sources import Input, InputProblem, said
from logaudit.store import (
    apart,
    close,
    entrysources,
    grouped,
    months,
    movers,
    offsets,
    readahead,
    sites,
    tails,
    texthash,
    visitdays,
    visitorsets,
)
from logaudit.store import entries as entry_counts
from logaudit.store.days import (
    PLACES,
    before_keying,
    by_day,
    clients_of,
    keyed,
    place_lookup,
    places,
    split_days,
)
from logaudit.store.layout import (
    PV,
    TOUCH,
    Layout,
    State,
    day_name,
    day_number,
    pointing_into,
)
from logaudit.store.lock import locked

# Where the store hands closed months' counted visits (popped by ``stored_context``).
COUNTED = "_stored_visit_counts"

# Settings that change what the stored tables hold (which lines are read, who a client is,
# what the tables count): a store answers only with the values it was written with (others:
# `state rebuild` into a new folder, or read the logs directly). A key a store lacks (one
# written before the key was added here) reads as that setting's default (docs/store.md).
FINGERPRINT = (
    "tz",
    "bots",
    "static_extensions",
    "non_pages",
    "site_hosts",
    "goals",
    "value_params",
    "affiliate_params",
    "affiliate_cookie",
    "sources",
    "client_from",
    "trusted_proxies",
    "earliest",
    "ahead_days",
    "privacy_rules",
)
# Tables that depend on a per-report choice rather than on the lines: never stored. pb_start
# (where a log begins before the filters, which a store refuses) is the problems' first minute.
NOT_STORED = frozenset({"clickstream", "pb_start"})
# Days kept by default (`state prune` without --older-than).
RETENTION_DAYS = 400


def store_tables() -> dict[str, Table]:
    from logaudit.analyze import TABLES

    return {n: t for n, t in TABLES.items() if n not in NOT_STORED}


def _written(tables: Mapping[str, Table]) -> dict[str, Table]:
    """``tables`` and the tables the store writes beside them (places, closed days' counts,
    the movers' people counts): the rules a day's or a month's files are merged by."""
    extra = (PLACES, close.COUNTS, movers.PEOPLE)
    return {**tables, **{t.name: t for t in extra}}


def fingerprint(s: Settings) -> dict[str, Any]:
    out = {}
    for k in FINGERPRINT:
        v = getattr(s, k)
        out[k] = json.loads(json.dumps(v, default=str, sort_keys=True))
    return out


def answerable(s: Settings) -> str | None:
    """Why the store cannot answer a report with these settings (None: it can)."""
    from logaudit.filters import of_settings

    described = of_settings(s.extra).describe()
    if described:
        return "filters (" + "; ".join(described) + ")"
    if s.extra.get("group") is False:
        return "--no-group"
    if s.extra.get("visitor"):
        return "--visitor"
    # An instant (now, 90m, 12h, a time with its offset) is answered as any time inside a
    # day: the whole day that holds it (whole_days); refusing it left a cron's
    # 'summary access.log --state S --since 24h' reading the log in full and its store unfed.
    return None


def whole_days(s: Settings) -> Settings:
    """``s`` as the store answers it: an instant --since/--until (cli.py's since_utc,
    until_utc) becomes its wall time in the store's clock, whose whole day the store reads
    (``_period``, with its "counts the whole day it falls in" note), and that the report shows
    and its trends judge completeness by. The store's clock is --tz's; without --tz it is the
    log's own offset (``_stored_offset``), where ``s.since`` (timespec.parse_when) is the
    machine's zone: a log at -0800 on a UTC machine had the day after the instant's read."""
    if not (s.extra.get("since_utc") or s.extra.get("until_utc")):
        return s
    extra = {k: v for k, v in s.extra.items() if k not in ("since_utc", "until_utc")}
    moved: dict[str, Any] = {}
    offset = None if s.tz or s.state is None else _stored_offset(Path(s.state))
    if offset is not None:
        for key in ("since", "until"):
            at = s.extra.get(f"{key}_utc")
            if at is not None:
                moved[key] = at + timedelta(seconds=offset)
    return replace(s, extra=extra, **moved)


def _stored_offset(root: Path) -> int | None:
    """The offset the store's inputs were written in (``close.offset``); None for a new
    store, an older one, or inputs in several offsets (then the machine's zone is the clock,
    as for a wall time)."""
    try:
        return close.offset(Layout(root).read_state().inputs)
    except LogauditError:
        return None


def _shown(key: str, value: Any) -> str:
    """A fingerprint value as a user writes it (in a config file or an option)."""
    if value is None:
        return "the log's own offset" if key == "tz" else "none"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else "none"
    return str(value)


def _check_settings(root: Path, state: State, s: Settings) -> None:
    want = fingerprint(s)
    if not state.days or not state.settings:
        return
    default = fingerprint(Settings())
    had = {k: state.settings.get(k, default[k]) for k in FINGERPRINT}
    differ = [k for k in FINGERPRINT if had[k] != want[k]]
    if differ:
        raise ConfigError(
            f"--state {root}: this store was written with other settings ("
            + "; ".join(
                f"{k}: {_had(k, had[k], k in state.settings)}, now {_shown(k, want[k])}"
                for k in differ
            )
            + "): use those, or a new --state folder"
        )


def _had(key: str, value: Any, kept: bool) -> str:
    """A stored fingerprint value as ``_shown`` says it; one a store lacks (written before
    the key was kept) is assumed the default, and said to be (it read as if the store had
    recorded the default: "client_from: remote")."""
    if kept:
        return _shown(key, value)
    return f"recorded before {key} was kept (assumed {_shown(key, value)})"


def _ingest_settings(s: Settings) -> Settings:
    # Every line is stored: the period and per-report choices apply when reading the store.
    return replace(s, since=None, until=None, extra={}, jobs=1)


def ingest(
    layout: Layout,
    state: State,
    inputs: list[Input],
    settings: Settings,
    on_progress: Callable[[int], None] | None = None,
) -> Run:
    """Read what is new in ``inputs`` and commit it to the store (the caller holds the lock).
    The returned Run describes this run's reading (its partial is empty).

    Each input is read and committed in turn (its days, then its record): memory holds one
    input's new tables at most, and a run stopped half-way keeps what it had finished."""
    tables = store_tables()
    wrapped = {n: by_day(t) for n, t in tables.items()}
    # The latest lines of each input, for the days' closing (store/close.py): not stored.
    read_by = {**wrapped, close.LATEST_LINES.name: close.LATEST_LINES}
    old = list(state.inputs)
    s = _ingest_settings(settings)
    bad = BadLines()
    late: list[tuple[str, int]] = []  # closed days that got lines, and how many (close.py)
    grown: list[dict[str, Any]] = []  # records of the inputs with new lines this run
    lines: dict[str, int] = {}
    before: dict[str, int] = {}  # lines earlier runs read of each input read on
    formats = {}
    this_run: dict[str, Any] = {"at": datetime.now().isoformat(timespec="seconds")}
    state.runs.append(this_run)
    state.settings = fingerprint(settings)
    with offsets.scratch(layout.root) as scratch:
        # A missing input or a folder's note is said here: there is nothing to plan.
        problems = [p for p in map(said, inputs) if p is not None]
        planned = offsets.plan([i for i in inputs if said(i) is None], old, scratch)
        problems += [p.note for p in planned.plans if p.note is not None]
        done = [p for p in planned.plans if p.read is None]
        for p in done:  # nothing new: earlier runs read all of it (a report finding no
            if p.record.get("lines"):  # request says so: its days may have been pruned)
                before[p.source.name] = int(p.record["lines"])
        reads = [p.read for p in planned.plans]
        ahead = readahead.open_day(layout, state, list(_written(tables)), reads)
        try:
            for plan in [p for p in planned.plans if p.read is not None]:
                assert plan.read is not None
                name = plan.read.name
                start = plan.start_line
                if start:
                    before[name] = start
                for i, piece in enumerate(_pieces(plan.read)):
                    r = run([piece], s, read_by, on_progress=on_progress)
                    latest = r.partial.pop(close.LATEST_LINES.name, None)
                    problems += r.problems
                    # Example line numbers count from the file's start, not from the offset.
                    bad = bad.merge(r.bad.shifted(start))
                    if name not in r.formats:
                        # Not read (missing, unreadable, not a log): its old record stays, so
                        # nothing is skipped next time. A cut-short .gz was read up to the cut.
                        break
                    formats[name] = r.formats[name]
                    got = r.lines.get(name, 0)
                    lines[name] = lines.get(name, 0) + got
                    start += got
                    days = split_days(r.partial, wrapped)
                    late += _add_days(layout, state, tables, days, settings, ahead)
                    if i == 0:
                        done.append(plan)
                    plan.record["lines"] = start
                    t = close.last_local(r.partial)
                    if t is not None:
                        close.note_latest(plan.record, latest)  # before last_local moves
                        plan.record["last_local"] = max(t, int(plan.record.get("last_local") or t))
                        if not any(g is plan.record for g in grown):
                            grown.append(plan.record)
                    if piece.span is not None:
                        plan.record["offset"] = piece.span[1]
                    _commit(layout, state, done, old, lines, bad, this_run)
        finally:
            if ahead is not None:
                ahead.close()  # no reading thread left, even when a piece failed
        # Days every input that grew has been read past (by the visit timeout) are closed.
        until = close.horizon(grown)
        close.close_days(layout, state, until, settings.visit_timeout)
        _commit(layout, state, done, old, lines, bad, this_run)
    if late:
        names = sorted({n for n, _ in late})
        problems.append(
            InputProblem(
                f"--state {layout.root}",
                f"{sum(k for _, k in late)} line(s) came for {len(names)} day(s) already "
                f"closed ({names[0]} to {names[-1]}): counted in every figure but those "
                "days' per-page visitors, which cannot tell their visitors from the ones "
                "counted before (`state rebuild` with the logs counts them exactly)",
                ExitCode.OK,
            )
        )
    return Run({}, bad, problems, inputs, formats, lines, (), before)


# A plain file's new bytes are read and committed in pieces of about this size: memory holds
# one piece's tables (the by-day tables never spill), and a stopped run keeps its pieces.
PIECE_BYTES = 256 * 1024 * 1024


def _pieces(read: Input, piece: int | None = None) -> list[Input]:
    """``read`` cut at line ends into byte ranges of about ``piece`` bytes (a plain file's
    range only; anything else is one piece)."""
    piece = piece or PIECE_BYTES
    if read.span is None or read.path is None or read.span[1] - read.span[0] <= piece:
        return [read]
    out = []
    pos, end = read.span
    while pos < end:
        cut = offsets._line_end(read.path, min(end, pos + piece)) if pos + piece < end else end
        if cut <= pos:  # one line longer than a piece
            cut = end
        out.append(replace(read, span=(pos, cut)))  # found_in kept: see sources.not_a_log
        pos = cut
    return out


def _add_days(
    layout: Layout,
    state: State,
    tables: Mapping[str, Table],
    days: dict[int, Partial],
    settings: Settings,
    ahead: readahead.Ahead | None = None,
) -> list[tuple[str, int]]:
    """Merge each day's new tables with the stored ones and write them as the next
    generation (not yet committed). The closed days among them, with their lines
    (``store/close.py``).
    ``ahead``: a day's stored tables already read (``readahead.open_day``)."""
    if not days:
        return []
    key = layout.key()
    lookup = _geo(settings)
    state.gen += 1
    merged = _written(tables)
    late = []
    for day, part in sorted(days.items()):
        name = day_name(day)
        part = {t: before_keying(t, f) for t, f in part.items()}
        where = places(clients_of(part), lookup, key)
        part = {t: keyed(f, key, t) for t, f in part.items()}
        if len(where):
            part[PLACES.name] = where
        old = state.days.get(name)
        if old is not None and close.TRIPLES in part and close.holds_counts(old):
            # Its (page, visitor) pairs may be among the closed day's counts: refused there,
            # never counted twice (store/close.py); every other table takes the lines.
            part.pop(close.TRIPLES)
            late.append((name, int(part["totals"]["hits"].sum()) if "totals" in part else 0))
        kept: dict[str, Any] = {}
        if movers.stale(old):
            part.pop(movers.COUNTS, None)  # its earlier page views have no counts
        part = movers.with_people(part, old, where)  # countries and browsers, not keys
        if old is not None:
            if PV in part or TOUCH in part:
                part.setdefault(PV, pd.DataFrame())
                part.setdefault(TOUCH, pd.DataFrame())  # one may be stored packed in the other
            for t in pointing_into(set(part)) & set(old["files"]) & set(merged):
                part.setdefault(t, pd.DataFrame())  # stored as row numbers into a rewritten table
            for t in merged:
                if t not in part and t in old["files"]:
                    # No new rows: the stored file stays as it is (its own generation).
                    kept[t] = {"gen": int(old["files"][t].get("gen", old["gen"]))}
                    kept[t].update(old["files"][t])
            wanted = [t for t in merged if t in part]
            read = ahead.frames(name, old) if ahead is not None else None
            pairs = (
                readahead.tables(layout, name, old, wanted)
                if read is None
                else ((t, read.pop(t, None)) for t in wanted)
            )
            for t, f in pairs:
                if f is not None:
                    if t == "pii_values":
                        # A day an older logaudit wrote holds the values in clear: keyed
                        # here, or the merge keeps them and counts each twice (token, value).
                        f = keyed(f, key, t)
                    part[t] = merged[t].combine([f, part[t]])
            read = None  # the stored frames of tables without new rows: not kept past the day
        info = layout.write_day(name, part, state.gen)
        info["files"] = {**kept, **info["files"]}
        state.days[name] = info
    return late


def _commit(
    layout: Layout,
    state: State,
    done: list[offsets.Plan],
    old: list[dict[str, Any]],
    lines: dict[str, int],
    bad: BadLines,
    this_run: dict[str, Any],
) -> None:
    """The records of the inputs read so far, the old records of the others (those not seen
    for RETENTION_DAYS dropped), and the days written: one atomic commit."""
    replaced = {i for p in done for i in p.replaces}
    cutoff = (date.today() - timedelta(days=RETENTION_DAYS)).isoformat()
    state.inputs = [p.record for p in done] + [
        r for i, r in enumerate(old) if i not in replaced and r.get("seen", "") >= cutoff
    ]
    this_run.update(lines=sum(lines.values()), bad_lines=bad.total)
    if bad.nul_runs:  # a mark in the input, not a line (docs/metrics.md)
        this_run["nul_runs"] = sum(bad.nul_runs.values())
    layout.commit(state)


def _geo(settings: Settings) -> Callable[[pd.Index], pd.DataFrame]:
    from logaudit.enrich.geo import GeoDatabases, GeoLookup

    return GeoLookup(GeoDatabases.discover(settings.geoip_dir)).lookup


def stored_context(ctx: Context, r: Run) -> None:
    """Places of keyed clients come from the store (looked up when they were read)."""
    stored_visits = r.partial.pop(visitdays.HANDOFF, None)
    if stored_visits is not None:
        ctx.cache["visits"] = stored_visits  # what visits_of would make of the events
    counted = r.partial.pop(COUNTED, None)
    if counted is not None:
        ctx.cache[visitcounts.KEY] = counted  # and closed months' visits, counted
    from logaudit.analyze.trends.movers import STORED

    stored_movers = r.partial.pop(STORED, None)
    if stored_movers is not None:
        ctx.cache[STORED] = stored_movers  # movers' page views per period (store/movers.py)
    stored = r.partial.pop(PLACES.name, None)
    if stored is not None and ctx.geo is not None:
        ctx.geo = place_lookup(stored, ctx.geo)


def load(
    layout: Layout,
    state: State,
    tables: Mapping[str, Table],
    first: int | None = None,
    last: int | None = None,
    skip: frozenset[tuple[str, str]] = frozenset(),
    monthly: bool = False,
    sets_later: bool = False,
) -> Partial:
    """The merged partial of the stored days ``first``..``last`` (day numbers, inclusive),
    without the (day, table) files in ``skip``. ``monthly``: the report's periods are calendar
    months and read ``visitor_days`` only through their distinct counts and the overview's:
    closed months with sets are handed counted (``visitorsets.counted``), not as rows.
    ``sets_later``: those counts are left to the caller, the partial naming what to count
    under ``visitorsets.SETS_LATER``, counted by ``visitorsets.add_sets`` (``_with_visits``:
    after the period's visits)."""
    from logaudit.analyze.spill import SPILL_BYTES

    acc = Accumulator(tables, spill_bytes=SPILL_BYTES)
    days = in_period(state, first, last)
    # Tables that never spill (counts per key: small per day) are read in one go, all their
    # days' files at once, and merged once: a year of trends opened 15 files per day, and
    # reading each file apart cost more than its rows. Closed months whose days all lie in
    # the period give their rolled-up file instead of their days' (store/months.py).
    entries, _ = months.covering(state, days)
    at_once = [t for t, table in tables.items() if table.spill_key is None]
    # A period starting inside a rolled-up month reads that month's tails where it has them
    # (store/tails.py TAILED), made here for months rolled up without them.
    partial = tails.partial_months(state, days)
    if partial and tails.TAILED & set(at_once):
        if tails.backfill_tails(layout, state, partial, _written(store_tables())):
            _keep(layout, state)
    # Months rolled up before schema 9 (or whose sets are stale) get their visitor sets, by
    # the first report that reads them (covering gives valid roll-ups only).
    if visitorsets.SOURCE in at_once and visitorsets.backfill(layout, state, entries):
        _keep(layout, state)
    # Closed months' distinct visitors counted from their sets (visitorsets.add_sets), here
    # or, ``sets_later``, by the caller.
    later = None
    if monthly and visitorsets.SOURCE in at_once and visitorsets.any_ready(entries):
        later = (entries, visitorsets.tail_of(state, days, partial))
    together: dict[str, pd.DataFrame | None] = {}
    merged: set[str] = set()  # read merged already (in Arrow: store/grouped.py's cases)
    for t in at_once:
        if t != visitorsets.SOURCE:
            read = tails.with_tails(state, entries, partial, t) if t in tails.TAILED else entries
            together[t], done = grouped.read(layout, read, tables[t])
            if done:
                merged.add(t)
        elif later is None:
            # Closed months' visitor keys from their sorted sets (store/visitorsets.py).
            together[t] = visitorsets.read(layout, entries)
    for t, f in together.items():
        # A table keyed by its day (visitor_days: (day, visitor)) holds no key in two entries
        # (each is a merged day, or a month of other days): read as one, it is merged already.
        if f is not None and len(f) > 1 and "day" not in f.index.names and t not in merged:
            # One frame merged with itself split in two: the same rules as day by day.
            f = merged_rows(tables[t], f)
        if f is not None:
            acc.put(t, f)  # merged: not combined again (nor spilt to be rebuilt)
    if later is not None:
        together[visitorsets.SOURCE] = None  # counted from the sets: no day's rows read
    for name, info in days:
        part = {}
        for t in tables:
            if t in together or (name, t) in skip:
                continue
            f = layout.read_table(name, info, t)
            if f is not None:
                part[t] = f
        if part:
            acc.add(part)
    out = acc.result()
    if later is not None:
        out[visitorsets.SETS_LATER] = later  # type: ignore[assignment]
        if not sets_later:
            visitorsets.add_sets(layout, out, tables[visitorsets.SOURCE])
    return out


def in_period(
    state: State, first: int | None, last: int | None
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, info)
        for name, info in sorted(state.days.items())
        if not (first is not None and day_number(name) < first)
        and not (last is not None and day_number(name) > last)
    ]


def _with_visits(
    layout: Layout,
    state: State,
    tables: Mapping[str, Table],
    first: int | None,
    last: int | None,
    timeout: int,
    every: str,
    events: bool = False,
    settings: Settings | None = None,
) -> Partial:
    """The period's partial, its visits built from the closed days' visit rows and the open
    days' events (``store/visitdays.py``); the events of every day when the rows cannot give
    the same visits. ``events``: a chosen section (movers) reads every day's events itself;
    they are read, but the visits are still not sessionized from them. ``settings``: the
    report's (movers' own hosts, ``store/sites.py``)."""
    from logaudit.analyze.trends.movers import STORED

    days = in_period(state, first, last)
    used = visitdays.usable(days, timeout)
    # Closed months whose rows stand for their events (store/months.py): their rows are read
    # from the month's one file, and their days' events are not read.
    entries, covered = months.covering(state, days)
    whole = {m for m, e in entries if len(m) == 7 and e.get("visit_timeout") == timeout}
    used = sorted({*used, *(d for d, _ in covered if months.month_of(d) in whole)})
    row_entries = [(m, state.months[m]) for m in whole] + [
        (n, state.days[n]) for n in used if months.month_of(n) not in whole
    ]
    # Read for nothing here: referrer names serve only the visits sections and movers, and
    # the (hour, visitor) pairs only hourly periods.
    unread = set() if events else {"referrers"}
    if every not in ("auto", "hour"):
        unread.add("trend_visitor_hours")
    # Movers from per-period counts (store/movers.py): no closed day's page-view events, and
    # the visitors, places and touch events of the last periods' days only.
    extra: Partial = {}
    own_from: list[tuple[str, dict[str, Any]]] | None = None
    part: apart.Apart | None = None
    monthly = every == "month"  # distinct visitors from closed months' sets, counted
    # What a forked child finds the own hosts from (_own_part), and its tables (``moved``),
    # which this process then does not read.
    own_args: OwnArgs | None = None
    moved: dict[str, Table] = {}
    recent: list[tuple[str, dict[str, Any]]] = []
    names: dict[str, texthash.Named] | None = None
    movers_here: Callable[[Layout], Partial] | None = None  # the movers' part, read here
    mine: Partial = {}
    if events:
        used_every = movers.every_of(layout, state, days, every)
        window = movers.window(days, used_every)
        if window is not None:
            # The movers name queries and referrers from the window's days (movers.names):
            # the period's queries are read for nothing; its referrers served only the own
            # hosts, which come from the entries' referring sites when they all have them.
            unread |= {"visitors", PLACES.name, "touch_events", "queries"}
            sited, _ = months.covering(state, days)
            if settings is not None and "referrers" in tables:
                if sites.backfill(layout, state, sited):
                    _keep(layout, state)
                if sites.usable(sited):
                    unread.add("referrers")
                    own_from = sited
            # Read in a forked child while this process loads the period (store/apart.py);
            # the sites above made first, so that a child forked on a store that lacked them
            # reads the store this process reads. With the own hosts to find, the child also
            # reads the period's paths and virtual hosts and finds them (_own_part), while
            # this process loads the rest and names the movers' texts: the two cores' shares
            # after the imports (docs/performance.md, nineteenth round).
            fork = apart.worth(len(days))
            if fork and own_from is not None and settings is not None:
                moved = {t: tables[t] for t in _OWN_TABLES if t in tables and t not in unread}
                if moved:
                    own_args = (own_from, moved, last, settings)
            first_day = min(day_number(n) for d in window.values() for n, _ in d)
            build = functools.partial(
                _movers_part,
                state=state,
                days=days,
                window=window,
                first_day=first_day,
                tables=dict(tables),
                first=first,
                timeout=timeout,
                every=used_every,
                own=own_args,
            )
            recent = _recent(days, first_day)
            if own_args is not None and used_every == "month":
                # The child finds the own hosts only, and this process reads the movers' part
                # after the period's tables and the texts: with the months' edge texts
                # (store/texthash.py) this process's share had become the shorter by ~0.2 s
                # for monthly periods, whose movers' part is a few months' roll-ups (~0.1 s).
                # Weeks' and days' parts read a few weeks of days (~0.2-0.3 s): they stay in
                # the child (docs/performance.md, twenty-first round).
                own_only = functools.partial(_own_only, state=state, own=own_args, first=first)
                part = apart.Apart(layout, state, own_only, fork)
                movers_here = functools.partial(build, own=None)
            else:
                part = apart.Apart(layout, state, build, fork)
            if not fork:  # read at once: its texts named now, as the part named them before
                names = _names_of(layout, state, recent)
            events = False
    try:
        tables = {n: t for n, t in tables.items() if n not in unread}
        skip = frozenset() if events else frozenset((n, "pv_events") for n in used)
        # The closed months' visitors are counted in the load when the child finds the own
        # hosts; else, with a movers' part, here after the visits (visitorsets.add_sets).
        later = part is not None and visitorsets.SOURCE in tables and not moved
        here = {n: t for n, t in tables.items() if n not in moved}
        partial = load(layout, state, here, first, last, skip, monthly, sets_later=later)
        # What needs only the period's tables is done before the child's part is collected:
        # the child ends its part meanwhile (store/apart.py).
        own = None
        if own_from is not None and settings is not None and not moved:
            own = sites.own(layout, own_from, partial, settings)
        fits = _add_visits(layout, state, partial, row_entries, used, every, events, timeout)
        if part is not None and names is None:
            names = _names_of(layout, state, recent)  # while the child reads (forked)
        if movers_here is not None:
            mine = movers_here(layout)
    except BaseException:
        if part is not None:
            part.cancel()  # this process failed: the child's part is for nothing
        raise
    if part is not None:
        extra = _own_entries(state, {**mine, **part.result()})
        if own_args is not None:
            got, own = _own_taken(layout, state, extra, own_args, first)
            partial.update(got)
        handed = extra[STORED]
        assert isinstance(handed, dict) and names is not None
        handed["names"] = names
        if own is not None:
            handed["own"] = own
    if fits and visitorsets.SOURCE in tables:  # else the period is loaded again, below
        visitorsets.add_sets(layout, partial, tables[visitorsets.SOURCE])
    # Closed months' counted visits for the source movers: named once under the report's own
    # hosts and rules when the store knows them (store/entrysources.py), else their pairs.
    _counted_visits(layout, state, extra, settings if own_from is not None else None)
    if not fits:
        return {**load(layout, state, tables, first, last, monthly=monthly), **extra}
    partial.update(extra)
    return partial


def _add_visits(
    layout: Layout,
    state: State,
    partial: Partial,
    row_entries: list[tuple[str, dict[str, Any]]],
    used: list[str],
    every: str,
    events: bool,
    timeout: int,
) -> bool:
    """Add to ``partial`` the period's visits (``visitdays.HANDOFF``) from the closed days'
    and months' visit rows and the open days' events, and closed months' counted visits
    (``COUNTED``); False (nothing added) when the rows cannot give the visits the events
    would: every offset of the period must lie within the rows' recorded offsets."""
    th = partial.get("trend_hours")
    offs = (
        th.index.get_level_values("offset").to_numpy(np.int64) * 60
        if th is not None and len(th)
        else np.zeros(0, np.int64)
    )
    fits = visitdays.offsets_fit({**state.days, **state.months}, [n for n, _ in row_entries], offs)
    if not fits:
        return False
    from logaudit.analyze.spill import partitions

    # Not the entry pairs (the source movers read those rows themselves): two random 64-bit
    # hashes a visit, the larger part of the file.
    # Closed months whose interior visits are counted (store/entries.py) give their counts
    # and edge rows, for calendar periods (analyze/visitcounts.py); the rest their rows.
    counted: list[tuple[str, dict[str, Any]]] = []
    if every in ("day", "week", "month"):
        rolled = [(n, e) for n, e in row_entries if len(n) == 7]
        if entry_counts.backfill(layout, state, rolled):
            _keep(layout, state)
        counted, row_entries = entry_counts.split(row_entries)
    edges, value_counts = entry_counts.read_visits(layout, counted)
    rows = layout.read_tables(
        sorted(row_entries), visitdays.ROWS.name, columns=(*visitdays.COLUMNS, "edge")
    )
    if edges is not None:
        rows = edges if rows is None else pd.concat([rows, edges], ignore_index=True)
    if value_counts:
        partial[COUNTED] = value_counts  # type: ignore[assignment]
    open_events = partitions(partial.get("pv_events"))
    if events:
        closed = np.array([day_number(n) for n in used], dtype=np.int64)
        open_events = (
            part[~np.isin(part["local"].to_numpy(np.int64) // close.DAY_S, closed)]
            for part in open_events
        )
    partial[visitdays.HANDOFF] = visitdays.visits(rows, open_events, timeout)  # type: ignore[assignment]
    return True


def _movers_part(
    layout: Layout,
    state: State,
    days: list[tuple[str, dict[str, Any]]],
    window: dict[int, list[tuple[str, dict[str, Any]]]],
    first_day: int,
    tables: Mapping[str, Table],
    first: int | None,
    timeout: int,
    every: str,
    own: OwnArgs | None = None,
) -> Partial:
    """The tables movers read over the last periods only (store/movers.py), and the counts;
    not the texts they name (``_names_of``: the caller's). ``first_day``: the ``window``'s
    first. In a forked child, ``own``: also the period's paths and virtual hosts and the own
    hosts (``_own_part``), which the parent then does not read (for monthly periods the child
    finds only those, ``_own_only``, and this process reads this part)."""
    from logaudit.analyze import TABLES
    from logaudit.analyze.trends.movers import STORED

    recent = _recent(days, first_day)
    keyed = movers.keyed_days(recent)  # days that count page views per visitor key
    out: Partial = {}
    rowed: list[tuple[str, dict[str, Any]]] = []
    for t in ("visitors", PLACES.name):
        if t in tables and keyed:
            # Movers map visitor keys through the visitors' rows (the key is a function of
            # the row's client and agent): the days' rows need no merging for that.
            f = movers.read_merged(layout, state, keyed, tables[t], merge=t != "visitors")
            if f is not None:
                out[t] = f
    if "touch_events" in tables:
        since = first_day - movers.margin_days(timeout)
        if first is not None:
            since = max(since, first)
        last = day_number(days[-1][0])
        read = in_period(state, since, last)
        # Closed days whose visit rows keep their entry pairs give the source movers'
        # visits: their touch events are not read (store/movers.py source_visits).
        rowed = movers.source_days(read, timeout)
        if rowed and not _offsets_fit(layout, state, read, rowed, tables):
            rowed = []
        skip = frozenset((n, "touch_events") for n, _ in rowed)
        touch = load(layout, state, {"touch_events": tables["touch_events"]}, since, last, skip)
        if rowed:
            from logaudit.analyze.spill import partitions

            where = movers.source_entries(state, read, rowed, timeout)
            # Closed months give their interior visits counted and their edge rows, not
            # every visit row (store/entries.py); made here for older roll-ups.
            if entry_counts.backfill(layout, state, where):
                _keep(layout, state)
            counted, where = entry_counts.split(where)
            # Their counts are read once the own hosts are known (_counted_visits): the
            # sources named under them may stand in for the counts.
            edges = layout.read_tables(counted, entry_counts.EDGES) if counted else None
            rows = layout.read_tables(where, visitdays.ROWS.name)
            if edges is not None:
                rows = edges if rows is None else pd.concat([rows, edges], ignore_index=True)
            visits = movers.source_visits(rows, partitions(touch.get("touch_events")), timeout)
        else:
            out.update(touch)
    handed = movers.handoff(layout, state, window, every, TABLES[movers.COUNTS])
    if rowed:
        handed["visits"] = visits  # the source movers' visits (store/movers.py)
        if counted:
            handed[_COUNTED_FROM] = counted  # and closed months' counted ones (entries.py)
    out[STORED] = handed  # type: ignore[assignment]
    if own is not None and isinstance(layout, apart.ReadOnly):
        out.update(_own_only(layout, state=state, own=own, first=first))
    return out


def _own_only(layout: Layout, state: State, own: OwnArgs, first: int | None) -> Partial:
    """A forked child's part when this process reads the movers' part itself: the period's
    paths and virtual hosts and the own hosts (``_own_part``); nothing when read here (the
    caller then finds them, ``_own_taken``)."""
    if not isinstance(layout, apart.ReadOnly):
        return {}
    # On the child's core; taken only if the parent committed nothing meanwhile (Apart), i.e.
    # read from the state the parent's load read.
    return {_OWN_PART: _own_part(layout, state, own, first)}  # type: ignore[dict-item]


def _recent(
    days: list[tuple[str, dict[str, Any]]], first_day: int
) -> list[tuple[str, dict[str, Any]]]:
    """The period's days from the movers' window's first (``first_day``) on."""
    return [(n, i) for n, i in days if day_number(n) >= first_day]


def _keep(layout: Layout, state: State) -> None:
    """Commit the files a report made on its read path (``madeof.unless_full``: a month's
    hashes, sites, counts, ...). If the state cannot be written (a full disk) the report goes
    on: the files written stand for their entries all the same and this report reads them;
    the next run's clean-up deletes them, then makes them again."""
    try:
        layout.commit(state)
    except OSError:
        pass


def _names_of(
    layout: Layout, state: State, recent: list[tuple[str, dict[str, Any]]]
) -> dict[str, texthash.Named]:
    """The texts movers name (``movers.names``) of the window's days ``recent``, their
    months' hashes made first where missing (months rolled up before the hashes)."""
    named, _ = months.covering(state, recent)
    if texthash.backfill(layout, state, named):
        _keep(layout, state)
    return movers.names(layout, state, recent)


# The period's tables the own hosts are found from (store/sites.py ``own``).
_OWN_TABLES = ("paths", "vhosts")
# What a forked child needs for them: the entries with referring sites, the tables, the
# period's last day, the report's settings.
OwnArgs = tuple[list[tuple[str, dict[str, Any]]], dict[str, Table], int | None, Settings]
# Where the child hands them back (``_movers_part``).
_OWN_PART = "_own_part"


def _own_part(
    layout: Layout, state: State, own: OwnArgs, first: int | None
) -> tuple[Partial, set[str]]:
    """The period's tables of ``own`` (from ``first``; as ``load`` reads them: each on its
    own) and the own hosts found with them (``sites.own``)."""
    own_from, moved, last, settings = own
    got = load(layout, state, moved, first, last)
    return got, sites.own(layout, own_from, got, settings)


def _own_taken(
    layout: Layout, state: State, extra: Partial, own: OwnArgs, first: int | None
) -> tuple[Partial, set[str]]:
    """The child's paths, virtual hosts and own hosts, popped from its part ``extra``; read
    here when its part was not taken (it failed, or this process committed meanwhile)."""
    got: Any = extra.pop(_OWN_PART, None)
    return got if got is not None else _own_part(layout, state, own, first)


# The counted months whose interior visits movers read (``_movers_part``), for
# ``_counted_visits``.
_COUNTED_FROM = "_counted_from"


def _own_entries(state: State, extra: Partial) -> Partial:
    """``_movers_part``'s ``extra`` with its counted months as ``state``'s own entries (a
    forked child's are copies: ``_counted_visits`` may add files to them and commit)."""
    from logaudit.analyze.trends.movers import STORED

    handed = extra.get(STORED)
    if isinstance(handed, dict) and handed.get(_COUNTED_FROM):
        handed[_COUNTED_FROM] = [(m, state.months.get(m, e)) for m, e in handed[_COUNTED_FROM]]
    return extra


def _counted_visits(
    layout: Layout, state: State, extra: Partial, settings: Settings | None
) -> None:
    """Hand the source movers the counted months' interior visits: per (day, source)
    (``source_counts``) when ``settings`` is given and the store gave the own hosts
    (``handed["own"]``), made or made again where they do not stand for those own hosts and
    the report's rules (under the lock, one commit); else per entry pair (``visit_counts``),
    classified by the section."""
    from logaudit.analyze.trends.movers import STORED

    handed = extra.get(STORED)
    if not isinstance(handed, dict):
        return
    counted = handed.pop(_COUNTED_FROM, None)
    if not counted:
        return
    if settings is not None and "own" in handed:
        from logaudit.enrich.sources import SourceTables, rules_digest

        rules = rules_digest(settings.sources, settings.affiliate_params)
        own = set(handed["own"])
        tables = SourceTables.load(settings.sources, settings.affiliate_params)
        if entrysources.backfill(layout, state, counted, own, rules, tables):
            _keep(layout, state)
        if all(entrysources.ready(e, own, rules) for _, e in counted):
            got = entrysources.read(layout, counted)
            if got is not None:
                handed["source_counts"] = got
                return
    counts = layout.read_tables(counted, entry_counts.COUNTS)
    if counts is not None:
        handed["visit_counts"] = counts


def _offsets_fit(
    layout: Layout,
    state: State,
    read: list[tuple[str, dict[str, Any]]],
    rowed: list[tuple[str, dict[str, Any]]],
    tables: Mapping[str, Table],
) -> bool:
    """Every offset of the days read lies within each rowed day's recorded offsets (as the
    series checks its rows: ``visitdays.offsets_fit``)."""
    if "trend_hours" not in tables:
        return False
    th = movers.read_merged(layout, state, read, tables["trend_hours"], merge=False)
    offs = (
        th.index.get_level_values("offset").to_numpy(np.int64) * 60
        if th is not None and len(th)
        else np.zeros(0, np.int64)
    )
    return visitdays.offsets_fit(state.days, [n for n, _ in rowed], offs)


def _period(s: Settings) -> tuple[int | None, int | None, str | None]:
    """The stored days a report's --since/--until cover, and a note if they cut a day."""
    epoch = datetime(1970, 1, 1)
    first = last = None
    cut = []
    if s.since is not None:
        first = (s.since - epoch).days
        if s.since.time() != datetime.min.time():
            cut.append("--since")
    if s.until is not None:
        end = s.until - timedelta(microseconds=1)
        last = (end - epoch).days
        if s.until.time() != datetime.min.time():
            cut.append("--until")
    note = None
    if cut:
        what = (
            f"{cut[0]} counts the whole day it falls in"
            if len(cut) == 1
            else f"{' and '.join(cut)} count the whole days they fall in"
        )
        note = f"the store holds whole days: {what}"
    return first, last, note


def stored_run(
    inputs: list[Input],
    settings: Settings,
    tables: Mapping[str, Table],
    on_progress: Callable[[int], None] | None = None,
    sections: tuple[str, ...] = (),
) -> Run:
    """Add what is new in ``inputs`` to the store at ``settings.state``, then return the
    run over the requested period, read from the store. When the chosen ``sections`` read
    visits only as the trends and the overview do, closed days give their stored visits
    instead of their events (``store/visitdays.py``)."""
    assert settings.state is not None
    root = Path(settings.state).expanduser()
    why = answerable(settings)
    if why is not None:
        if not inputs:
            raise LogauditError(
                f"--state {root}: the store cannot answer {why}: give the logs too "
                "(they are then read directly)",
                ExitCode.USAGE,
            )
        r = run(inputs, settings, tables, on_progress=on_progress)
        r.problems.insert(
            0,
            InputProblem(
                f"--state {root}",
                f"the store cannot answer {why}: the logs were read directly and the "
                "store left as it was",
                ExitCode.OK,
            ),
        )
        return r
    layout = Layout(root)
    wait = settings.extra.get("state_wait")
    if not inputs and not layout.exists():
        raise ConfigError(f"--state {root}: no store there (give logs to start one)")
    layout.create()
    with locked(root, None if wait is True else float(wait or 0)):
        state = layout.read_state()
        _check_settings(root, state, settings)
        if layout.untidy():
            layout.clean(state)
        if inputs:
            r = ingest(layout, state, inputs, settings, on_progress)
        else:
            r = Run({}, BadLines(), [], [], {}, {}, ())
        if months.roll(layout, state, _written(store_tables())):
            layout.commit(state)
        first, last, note = _period(settings)
        wanted = {**tables, PLACES.name: PLACES} if "visitors" in tables else dict(tables)
        if close.TRIPLES in tables:
            wanted[close.COUNTS.name] = close.COUNTS  # closed days' per-page visitors
        if (
            sections
            and set(sections) <= visitdays.SECTIONS | visitdays.WITH_EVENTS
            and "pv_events" in wanted
        ):
            partial = _with_visits(
                layout,
                state,
                wanted,
                first,
                last,
                settings.visit_timeout,
                str(settings.extra.get("every") or "auto"),
                events=bool(set(sections) & visitdays.WITH_EVENTS),
                settings=settings,
            )
        else:
            partial = load(layout, state, wanted, first, last)
    if note:
        r.problems.append(InputProblem(f"--state {root}", note, ExitCode.OK))
    return Run(
        partial,
        r.bad,
        r.problems,
        r.inputs,
        r.formats,
        r.lines,
        tuple(tables),
        r.read_before,
        stored=True,
    )


__all__ = [
    "RETENTION_DAYS",
    "answerable",
    "whole_days",
    "ingest",
    "load",
    "stored_context",
    "stored_run",
    "store_tables",
]
