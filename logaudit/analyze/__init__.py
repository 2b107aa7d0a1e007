"""The section registry: every report section, in display order, with the tables it needs.

Click's ``--section`` choices and ``logaudit sections`` come from ``SECTIONS``, so help text
cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from logaudit.analyze import referrers, traffic
from logaudit.analyze.base import Partial, Table
from logaudit.config import Settings
from logaudit.pipeline import Run
from logaudit.report import Report, Section

TABLES: dict[str, Table] = {**traffic.TABLES, **referrers.TABLES}

# Tables the overview always needs.
OVERVIEW_TABLES: tuple[str, ...] = ("totals", "visitor_days", "paths", "files")


@dataclass(frozen=True)
class SectionSpec:
    name: str
    title: str
    build: Callable[[Partial, Settings], Section]
    needs: tuple[str, ...]


SECTIONS: dict[str, SectionSpec] = {
    s.name: s
    for s in (
        SectionSpec("daily", "Daily visitors", traffic.sec_daily, ("daily", "visitor_days")),
        SectionSpec("pages", "Requested pages", traffic.sec_pages, ("paths", "path_visitors")),
        SectionSpec("static", "Static files", traffic.sec_static, ("paths", "path_visitors")),
        SectionSpec("not-found", "Not-found URLs (404)", traffic.sec_not_found, ("paths",)),
        SectionSpec("hosts", "Client hosts", traffic.sec_hosts, ("clients",)),
        SectionSpec("status", "Status codes", traffic.sec_status, ("status",)),
        SectionSpec(
            "referring-sites",
            "Referring sites",
            referrers.sec_referring_sites,
            ("referrers", "paths", "vhosts"),
        ),
        SectionSpec(
            "referrers", "Referrer URLs", referrers.sec_referrers, ("referrers", "paths", "vhosts")
        ),
        SectionSpec("hours", "Hour of day", traffic.sec_hours, ("hours",)),
        SectionSpec("vhosts", "Virtual hosts", traffic.sec_vhosts, ("vhosts",)),
        SectionSpec("methods", "Request methods", traffic.sec_methods, ("methods",)),
        SectionSpec("protocols", "Protocols", traffic.sec_protocols, ("protocols",)),
    )
}

SUMMARY_SECTIONS: tuple[str, ...] = tuple(SECTIONS)


def tables_for(sections: tuple[str, ...]) -> dict[str, Table]:
    names = set(OVERVIEW_TABLES)
    for s in sections:
        names.update(SECTIONS[s].needs)
    return {n: TABLES[n] for n in TABLES if n in names}


def build_report(run: Run, settings: Settings, sections: tuple[str, ...], command: str) -> Report:
    """Merged tables -> Report: the overview, the chosen sections, inputs and warnings."""
    from logaudit.analyze.inputs import bad_lines_info, inputs_info, warnings

    p = run.partial
    ov = traffic.overview(p, settings)
    ov["bad_lines"] = run.bad.total
    built = [SECTIONS[name].build(p, settings) for name in sections]
    built = [b for b in built if not (b.rows.empty and b.name == "vhosts")]
    return Report(
        command=command,
        overview=ov,
        sections=built,
        inputs=inputs_info(run),
        bad_lines=bad_lines_info(run),
        warnings=warnings(run),
        settings={
            "bots": settings.bots,
            "tz": settings.tz or "log offset",
            "top": settings.top,
            "since": settings.since.isoformat() if settings.since else None,
            "until": settings.until.isoformat() if settings.until else None,
        },
    )
