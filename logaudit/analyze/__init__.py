"""The section registry: every report section, in display order, with the tables it needs.

Click's ``--section`` choices and ``logaudit sections`` come from ``SECTIONS``, so help text
cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd

from logaudit.analyze import (
    audience,
    campaigns,
    clickstream,
    forked,
    privacy,
    problems,
    referrers,
    timing,
    traffic,
    trends,
    visits,
)
from logaudit.analyze.base import Context, Partial, SectionSpec, Table
from logaudit.config import Settings
from logaudit.report import Report, Section
from logaudit.result import Run

TABLES: dict[str, Table] = {
    **traffic.TABLES,
    **referrers.TABLES,
    **visits.TABLES,
    **clickstream.TABLES,
    **trends.TABLES,
    **audience.TABLES,
    **problems.TABLES,
    **campaigns.TABLES,
    **timing.TABLES,
    **privacy.TABLES,
}

# Tables the overview always needs.
OVERVIEW_TABLES: tuple[str, ...] = (
    "totals", "visitor_days", "paths", "files", "span", "response_values"
)


def _plain(f: Callable[[Partial, Settings], Section]) -> Callable[[Partial, Context], Section]:
    """Adapt a builder that needs only the settings."""
    return lambda p, ctx: f(p, ctx.settings)


SECTIONS: dict[str, SectionSpec] = {
    s.name: s
    for s in (
        SectionSpec(
            "daily", "Daily visitors", _plain(traffic.sec_daily), ("daily", "visitor_days")
        ),
        SectionSpec("pages", "Requested pages", traffic.sec_pages, ("paths", "path_visitors")),
        SectionSpec("static", "Static files", traffic.sec_static, ("paths", "path_visitors")),
        SectionSpec("not-found", "Not-found URLs (404)", traffic.sec_not_found, ("paths",)),
        SectionSpec("hosts", "Client hosts", _plain(traffic.sec_hosts), ("visitors",)),
        SectionSpec("status", "Status codes", _plain(traffic.sec_status), ("status",)),
        SectionSpec(
            "referring-sites",
            "Referring sites",
            referrers.sec_referring_sites,
            ("referrers", "paths", "vhosts"),
        ),
        SectionSpec(
            "referrers", "Referrer URLs", referrers.sec_referrers, ("referrers", "paths", "vhosts")
        ),
        SectionSpec("hours", "Hour of day", _plain(traffic.sec_hours), ("hours",)),
        SectionSpec("vhosts", "Virtual hosts", _plain(traffic.sec_vhosts), ("vhosts",)),
        SectionSpec("methods", "Request methods", _plain(traffic.sec_methods), ("methods",)),
        SectionSpec("protocols", "Protocols", _plain(traffic.sec_protocols), ("protocols",)),
        SectionSpec("visits", "Visits by clicks", visits.sec_visits, visits.NEEDS),
        SectionSpec("durations", "Visit duration", visits.sec_durations, visits.NEEDS),
        SectionSpec("entry-pages", "Entry pages", visits.sec_entry_pages, visits.NEEDS),
        SectionSpec("exit-pages", "Exit pages", visits.sec_exit_pages, visits.NEEDS),
        SectionSpec("entry-exit", "Most common entry -> exit", visits.sec_entry_exit, visits.NEEDS),
        SectionSpec(
            "visitor-visits",
            "One visitor's visits",
            clickstream.sec_visitor_visits,
            ("clickstream",),
        ),
        SectionSpec(
            "clickstream",
            "One visitor's clickstream",
            clickstream.sec_clickstream,
            ("clickstream",),
        ),
        SectionSpec("browsers", "Browsers", audience.sec_browsers, audience.NEEDS, apart=True),
        SectionSpec("os", "Operating systems", audience.sec_os, audience.NEEDS, apart=True),
        SectionSpec("devices", "Devices", audience.sec_devices, audience.NEEDS, apart=True),
        SectionSpec(
            "crawlers", "Crawlers and tools", audience.sec_crawlers, audience.NEEDS, apart=True
        ),
        SectionSpec("countries", "Countries", audience.sec_countries, audience.NEEDS, apart=True),
        SectionSpec(
            "networks", "ISPs and networks", audience.sec_networks, audience.NEEDS, apart=True
        ),
        SectionSpec(
            "top-visitors", "Top visitors", audience.sec_top_visitors, audience.NEEDS, apart=True
        ),
        *trends.SECTIONS,
        *problems.SECTIONS,
        # Where visitors come from and what it earns (analyze/campaigns.py).
        SectionSpec("sources", "Sources of visits", campaigns.sec_sources, campaigns.NEEDS),
        SectionSpec("campaigns", "Campaigns", campaigns.sec_campaigns, campaigns.NEEDS),
        SectionSpec("keyphrases", "Search keyphrases", campaigns.sec_keyphrases, campaigns.NEEDS),
        SectionSpec(
            "conversions", "Conversions by source", campaigns.sec_conversions, campaigns.NEEDS
        ),
        SectionSpec("affiliates", "Affiliates", campaigns.sec_affiliates, campaigns.NEEDS),
        SectionSpec(
            "affiliate-conversions",
            "Conversions behind each affiliate",
            campaigns.sec_affiliate_conversions,
            campaigns.NEEDS,
        ),
        SectionSpec(
            "source-periods", "Sources per period", campaigns.sec_source_periods, campaigns.NEEDS
        ),
        *privacy.SECTIONS,
    )
}

SUMMARY_SECTIONS: tuple[str, ...] = (
    "daily",
    "pages",
    "static",
    "not-found",
    "hosts",
    "status",
    "referring-sites",
    "referrers",
    "entry-pages",
    "exit-pages",
    "browsers",
    "os",
    "devices",
    "crawlers",
    "countries",
    "networks",
    "hours",
    "vhosts",
    "methods",
    "protocols",
)
VISITORS_SECTIONS: tuple[str, ...] = (
    "top-visitors",
    "countries",
    "networks",
    "browsers",
    "os",
    "devices",
    "crawlers",
)
# Sections that need GeoIP at the end (the database is opened only for them).
GEO_SECTIONS = frozenset({"countries", "networks", "top-visitors", "movers"})
VISITS_SECTIONS: tuple[str, ...] = (
    "visits",
    "durations",
    "entry-pages",
    "exit-pages",
    "entry-exit",
)
VISITOR_SECTIONS: tuple[str, ...] = ("visitor-visits", "clickstream")
TRENDS_SECTIONS: tuple[str, ...] = tuple(s.name for s in trends.SECTIONS)
# `now` only with --last (api.COMMANDS).
PROBLEMS_SECTIONS: tuple[str, ...] = problems.PROBLEMS_SECTIONS
SOURCES_SECTIONS: tuple[str, ...] = ("sources", "campaigns", "keyphrases")
PRIVACY_SECTIONS: tuple[str, ...] = privacy.PRIVACY_SECTIONS
CAMPAIGNS_SECTIONS: tuple[str, ...] = (
    "conversions",
    "sources",
    "campaigns",
    "keyphrases",
    "affiliates",
    "affiliate-conversions",
)

# The finish on two processes (analyze/forked.py): groups of sections either process may
# build, each group whole (its sections share Context.once results), taken by whichever is
# free, the longest first (``fork_groups``). With each group: the sections outside it that
# read its results (movers and the campaigns sections find the own hosts through the
# referrers' "sites"): when one of them is chosen the group is built here, or that work is
# done twice; and its cost as (table, fixed seconds, seconds per row of that table), measured
# on the 2-core benchmark host (1M all-distinct lines: referrers 2.7 s, paths 0.9 s, the
# audience panels 0.7 s, hosts 0.3 s; 150,000 realistic lines: audience 0.065 s, referrers
# 0.025 s, paths 0.02 s): only the order they give matters. Sections in no group are this
# process's (the visits sections share the headline's visits).
FORK_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, float, float]], ...] = (
    (
        ("referring-sites", "referrers"),
        ("movers", *CAMPAIGNS_SECTIONS, "source-periods"),
        ("referrers", 0.0, 2.7e-6),
    ),
    (("pages", "static", "not-found"), (), ("paths", 0.0, 0.8e-6)),  # path_visitors
    (  # the audience panels
        VISITORS_SECTIONS,
        (),
        ("visitors", 0.05, 0.6e-6),
    ),
    (("hosts",), (), ("visitors", 0.0, 0.3e-6)),
    *(
        ((one,), (), ("", 0.0, 0.0))
        for one in ("daily", "status", "hours", "vhosts", "methods", "protocols")
    ),
)


def fork_groups(sections: tuple[str, ...], p: Partial | None = None) -> list[list[int]]:
    """FORK_GROUPS as indexes into ``sections`` (forked.build_sections' groups), the costliest
    first by their tables' rows in ``p`` (in FORK_GROUPS' order without ``p``, or on a tie)."""
    chosen = set(sections)
    out: list[tuple[float, int, list[int]]] = []
    for members, readers, (table, fixed, per_row) in FORK_GROUPS:
        if chosen.isdisjoint(readers):
            group = [i for i, name in enumerate(sections) if name in members]
            if group:
                cost = fixed + per_row * len(p.get(table, ())) if p is not None and table else 0
                out.append((-cost, len(out), group))
    return [group for *_, group in sorted(out)]


def tables_for(sections: tuple[str, ...], visits_overview: bool = True) -> dict[str, Table]:
    names = set(OVERVIEW_TABLES)
    if visits_overview:
        names.update(visits.NEEDS)
    for s in sections:
        names.update(SECTIONS[s].needs)
    return {n: TABLES[n] for n in TABLES if n in names}


def _asked(settings: Settings, key: str) -> str | None:
    """--since/--until as the report cut by: an instant (written with its offset, cli.py's
    ``since_utc``) in UTC with its offset, else the report's wall clock (``tz``); from a
    store, widened to the whole days it holds."""
    at = settings.extra.get(f"{key}_utc")
    if at is not None:
        return f"{at.isoformat()}+00:00"
    value = getattr(settings, key)
    if value is None:
        return None
    if settings.state is not None:
        from logaudit.store import _period, answerable

        if answerable(settings) is None:
            # The store answers by whole days: the bound of the days it read (its own rule).
            first, last, _ = _period(settings)
            days = first if key == "since" else None if last is None else last + 1
            assert days is not None  # the bound is given (value is not None)
            value = datetime(1970, 1, 1) + timedelta(days=days)
    return str(value.isoformat())


def bad_lines_not_stored(read_now: int | None) -> str:
    """The note beside a report from the store's unknown bad-line count (overview null);
    ``read_now``: this run's bad lines, None when it read no log."""
    now = (
        "this run read no log" if read_now is None
        else f"{read_now:,} in the lines this run read" if read_now
        else "none in the lines this run read"
    )
    return (
        "bad lines of the period: not known from the store (it keeps no count of them by "
        f"day; {now}, see the inputs)"
    )


def read_before_note(run: Run) -> str | None:
    """--state, no request: the named inputs earlier runs had read whole (their days are in
    the store, or were pruned from it; they are not read again), or None."""
    old = {i.name: n for i in run.inputs if (n := run.read_before.get(i.name, 0))}
    old = {name: n for name, n in old.items() if not run.lines.get(name)}
    if not old:
        return None
    named = sum(1 for i in run.inputs if i.note is None)
    which = f"the {named:,} inputs" if len(old) == named > 1 else f"{len(old):,} of the inputs"
    which = "the input" if len(old) == named == 1 else which
    return (
        f"{which} ({sum(old.values()):,} lines) had been read into the "
        "store by earlier runs and are not read again; the store holds no request of theirs "
        "in this period (days removed by `logaudit state prune` stay removed: `logaudit state "
        "rebuild LOG...` reads the logs anew)"
    )


def build_report(
    run: Run,
    settings: Settings,
    sections: tuple[str, ...],
    command: str,
    context: Context | None = None,
) -> Report:
    """Merged tables -> Report: the overview, the chosen sections, inputs and warnings."""
    from logaudit.analyze.inputs import bad_lines_info, inputs_info, warnings

    p = run.partial
    ctx = context or Context(settings)
    ov = traffic.overview(p, settings)
    ov["bad_lines"] = run.bad.total
    if run.stored:
        # The store keeps no count of bad lines by day: the period's is unknown, not this
        # run's reading of the new lines (which the inputs table and bad_lines still say).
        ov["bad_lines"] = None
        ctx.notes.append(bad_lines_not_stored(run.bad.total if run.inputs else None))
    ov.update(timing.overview(p))
    if ov.get("crawler_hits", 0) is None:
        ctx.notes.append(traffic.ROBOTS_NOT_COUNTED)
    if traffic.bandwidth_may_overflow(p):
        ctx.notes.append(traffic.BANDWIDTH_OVERFLOW)
    if run.bad.total and "personal-data" in sections:
        from logaudit.analyze.privacy import not_audited

        ctx.notes.append(not_audited(run.bad.total))

    def headline() -> None:
        if "pv_events" in p or "pv_events" in run.tables:
            ov.update(visits.headline(p, ctx))

    requests = ov.get("requests")
    if isinstance(requests, int) and requests:
        specs = [SECTIONS[name] for name in sections]
        groups = fork_groups(sections, p)
        built = forked.build_sections(specs, p, ctx, requests, first=headline, groups=groups)
    else:
        headline()
        span = p.get("span")
        if span is not None and len(span):
            first, last = (
                traffic._local(int(span.iloc[0][k])) for k in ("first_local", "last_local")
            )
            ctx.notes.append(f"the logs' requests run from {first} to {last}")
        if run.stored and (note := read_before_note(run)):
            ctx.notes.append(note)
        # Nothing to break down: every section is empty, and says why.
        built = [
            Section(name, SECTIONS[name].title, pd.DataFrame(), note="no request")
            for name in sections
        ]
    built = [b for b in built if not (b.rows.empty and b.name == "vhosts")]
    from logaudit.filters import of_settings

    filtered = of_settings(settings.extra).describe()
    if filtered:
        ctx.notes.insert(0, "Filters: " + "; ".join(filtered) + " (every figure counts only these)")
    return Report(
        command=command,
        overview=ov,
        sections=built,
        asked=tuple(sections),
        inputs=inputs_info(run),
        bad_lines=bad_lines_info(run),
        warnings=warnings(run),
        notes=list(ctx.notes),
        settings={
            "bots": settings.bots,
            "tz": settings.tz or "log offset",
            "top": settings.top,
            "since": _asked(settings, "since"),
            "until": _asked(settings, "until"),
            "filters": filtered,
        },
    )
