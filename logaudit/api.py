"""The library behind the commands: one call per command, returning a Report and exit code.

The CLI only turns options into Settings and renders what these return; tests and other
programs call these directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from logaudit.analyze import (
    CAMPAIGNS_SECTIONS,
    GEO_SECTIONS,
    PRIVACY_SECTIONS,
    PROBLEMS_SECTIONS,
    SOURCES_SECTIONS,
    SUMMARY_SECTIONS,
    TRENDS_SECTIONS,
    VISITOR_SECTIONS,
    VISITORS_SECTIONS,
    VISITS_SECTIONS,
    build_report,
    tables_for,
)
from logaudit.analyze.base import Context
from logaudit.config import Settings
from logaudit.engine import run
from logaudit.engine.local import Run, exit_code
from logaudit.enrich.classify import Enricher, classify_agents
from logaudit.errors import ExitCode, LogauditError
from logaudit.report import Report
from logaudit.sources import Input, expand
from logaudit.wording import counted

if TYPE_CHECKING:
    from logaudit import records as rec
    from logaudit.parse import BadLines


@dataclass
class Outcome:
    report: Report | None
    exit_code: ExitCode
    messages: list[str]  # one line each, for stderr
    # The "N bad lines; the first: ..." line among them: a mailed report carries the count and
    # examples itself, so under cron a mailed run leaves it out (docs/cron.md).
    bad_line_note: str | None = None
    # records: no line parsed, so nothing to write; -o keeps the file it names (as summary's).
    unwritten: bool = False


def open_inputs(args: Sequence[str], follow: bool = False) -> list[Input]:
    if not args:
        # Naming no input is wrong usage (exit 2), like a missing argument; naming one that
        # does not exist is a missing input (3).
        raise LogauditError(
            "no input given (name log files, a directory, a glob, or - for stdin)",
            ExitCode.USAGE,
        )
    return expand(args, follow)


def _outcome(r: Run, report: Report, settings: Settings, implicit: str = "") -> Outcome:
    """``implicit``: the period a command chose itself (the digest's yesterday), named when
    nothing is in it."""
    from logaudit import anonymize

    anon = anonymize.of_settings(settings)
    if anon is not None:  # after every figure, before anything renders, exports or mails
        report = anonymize.report(report, anon)
    from logaudit.sources import capped

    messages = capped(r.problems)  # at most a few lines per kind of problem
    # Under cron stdout is the report and stderr the problems (README): every warning and the
    # bad lines are said there too, one line each, besides the report. A missing GeoIP
    # database is not a problem of the run: it stays a note of the report.
    said = set(messages)
    messages.extend(w for w in report.warnings if w not in said)
    examples = report.bad_lines.get("examples") or []
    note = None
    if r.bad.total and examples:  # a file's bad lines come before its NUL run (inputs.py)
        note = _bad_note(r.bad.total, examples[0])
        messages.append(note)
    code = exit_code(r.problems)
    readable = [i for i in r.inputs if i.name in r.formats]
    stored = settings.state is not None and r.tables  # --state: the report is the store's
    if not readable and not stored:
        # Nothing could be read at all: the one-line messages say why; no report.
        if code == ExitCode.OK:
            code = ExitCode.INPUT_INVALID
            if not messages:
                messages.append("no log lines in the input")
        return Outcome(None, code, messages)
    parsed = sum(r.bad.parsed.values())
    if code == ExitCode.OK and parsed == 0 and not stored:
        code = ExitCode.INPUT_INVALID
        messages.append("no line could be parsed; see the bad-line examples")
    elif code == ExitCode.OK and settings.strict and (r.bad.total or r.bad.nul_runs):
        code = ExitCode.BAD_LINES
        messages.append(_strict(r.bad))
    elif code == ExitCode.OK and not report.overview.get("requests"):
        code = ExitCode.NO_DATA
        layouts = [d.format for d in r.formats.values()]
        messages.append(_nothing_chosen(settings, "in the input", implicit, layouts))
        if r.stored:
            from logaudit.analyze import read_before_note

            if (why := read_before_note(r)) is not None:
                messages.append(why)  # under cron, stderr is all that is read
    return Outcome(report, code, messages, note)


def _strict(bad: BadLines) -> str:
    """--strict's message: bad lines or NUL runs (a mark in the input, not a line), which."""
    runs = sum(bad.nul_runs.values())
    which = []
    if bad.total:
        which.append(counted(bad.total, "bad line"))
    if runs:
        which.append(f"{counted(runs, 'run')} of NUL bytes")
    return f"--strict: {' and '.join(which)}"


def _bad_note(total: int, first: Mapping[str, Any]) -> str:
    """The "N bad lines; the first: ..." line of stderr (``first``: an example, anonymised
    when the run is)."""
    return (
        f"{counted(total, 'bad line')}; the first: "
        f"{first['file']}:{first['line']}: {first['reason']}"
    )


def unread(bad: BadLines, settings: Settings) -> list[str]:
    """``records``' (and ``--follow``'s) lines for its inputs' NUL runs and bad lines, as a
    report's warnings and "N bad lines; the first: ..." say them (anonymised with the rows)."""
    from logaudit import anonymize
    from logaudit.analyze.inputs import nul_warnings

    anon = anonymize.of_settings(settings)
    said = nul_warnings(bad.nul_runs)
    firsts = [(f, *min(s)) for f, s in bad.samples.items() if s]
    if bad.total and firsts:
        f, line, why = firsts[0]
        why = why if anon is None else anon.raw_line(why)
        said.append(_bad_note(bad.total, {"file": f, "line": line, "reason": why}))
    return said if anon is None else [anon.text(w) for w in said]


def _nothing_chosen(
    settings: Settings, otherwise: str, implicit: str = "", formats: Sequence[Any] = ()
) -> str:
    """Why no request is left: the period, the filters (named), or both; said so that
    ``--method FOO`` is not blamed on a period nobody chose, nor the log called empty when
    the period a command chose itself (``implicit``: the digest's yesterday) holds nothing.
    ``formats``: the inputs' layouts, to say a filter asks for a field none of them writes."""
    from logaudit.filters import of_settings, unlogged

    period = settings.since is not None or settings.until is not None or settings.extra.get("last")
    from logaudit.render.escape import cut

    filters = of_settings(settings.extra)
    # a 15,000-character --path was echoed whole in this one line (the report keeps it whole)
    named = [cut(n, 300) for n in filters.describe()]
    if settings.bots in ("exclude", "only"):  # it drops rows too: crawlers, or all but them
        named.append(f"--bots {settings.bots}")
    matching = f"matching the filters ({'; '.join(named)})" if named else ""
    why = unlogged(filters, formats)
    matching += f": {why}" if why and matching else ""
    if implicit and not period:
        return f"no request in {implicit} {matching}".rstrip()
    if period and matching:
        return f"no request in the chosen period {matching}"
    if period:
        return "no request in the chosen period"
    return f"no request {matching}" if matching else f"no request {otherwise}"


def _report(
    command: str,
    default_sections: tuple[str, ...],
    args: Sequence[str],
    settings: Settings,
    sections: Sequence[str],
    on_progress: Callable[[int], None] | None,
    inputs: list[Input] | None,
) -> Outcome:
    chosen = tuple(sections) or default_sections
    if inputs is None:
        # --state alone reports from the store.
        inputs = open_inputs(args) if args or settings.state is None else []
    enricher = Enricher(settings)
    # problems reports no visits: its run skips the page-view events they are made of.
    tables = tables_for(chosen, visits_overview=command not in ("problems", "privacy"))
    if settings.state is not None:
        from logaudit.store import answerable, stored_run, whole_days

        if answerable(settings) is None:
            settings = whole_days(settings)  # the report says the days the store read
        r = stored_run(inputs, settings, tables, on_progress, sections=chosen)
    else:
        r = run(inputs, settings, tables, on_progress=on_progress, enricher=enricher)
    ctx = finish_context(settings, chosen)
    _stored_places(ctx, r, settings)
    report = build_report(r, settings, chosen, command, ctx)
    outcome = _outcome(r, report, settings)
    if command == "problems":
        from logaudit.analyze.problems import breaches

        found = breaches(report.sections, settings.extra.get("thresholds") or {})
        outcome.messages.extend(found)
        if outcome.report is not None:  # what cannot be checked is a note in every format
            outcome.report.notes.extend(m for m in found if m.startswith("--max-"))
        if outcome.exit_code == ExitCode.OK and any(m.startswith("threshold") for m in found):
            outcome.exit_code = ExitCode.THRESHOLD
    if command == "privacy" and outcome.report is not None:
        from logaudit.analyze.privacy import found_lines

        lines = found_lines(outcome.report.sections)
        if lines:
            outcome.messages.append(f"personal data found in {counted(lines, 'line')}")
            if outcome.exit_code == ExitCode.OK:
                outcome.exit_code = ExitCode.PERSONAL_DATA
    return outcome


def _stored_places(ctx: Context, r: Run, settings: Settings) -> None:
    """--state: places of the store's keyed clients come from the store."""
    if settings.state is not None:
        from logaudit.store import stored_context

        stored_context(ctx, r)


def finish_context(settings: Settings, sections: Sequence[str]) -> Context:
    """Finish-time enrichment: the process's agent classifier (its cache is warm), and GeoIP
    opened only when a chosen section needs places; a missing database is one note, once."""
    ctx = Context(settings)
    ctx.agents = classify_agents
    if GEO_SECTIONS.intersection(sections):
        from logaudit.enrich.geo import GeoDatabases, GeoLookup

        dbs = GeoDatabases.discover(settings.geoip_dir)
        hint = dbs.missing_hint()
        if hint:
            ctx.notes.append(hint)
        ctx.geo = GeoLookup(dbs).lookup
        ctx.geo_places = (dbs.city or dbs.country) is not None
    return ctx


# The report commands: name -> (what it is, its default sections for these settings).
COMMANDS: dict[str, tuple[str, Callable[[Settings], tuple[str, ...]]]] = {
    "summary": ("the traffic overview: GoAccess's panels and more", lambda s: SUMMARY_SECTIONS),
    # With a visitor chosen: that visitor's visits and clickstream.
    "visits": (
        "visits, clicks, durations, entry and exit pages",
        lambda s: VISITOR_SECTIONS if s.extra.get("visitor") else VISITS_SECTIONS,
    ),
    "visitors": ("who the visitors are: places, networks, browsers", lambda s: VISITORS_SECTIONS),
    # For CSV the series alone: one row per period, one column per metric, always (its notes
    # go to stderr: render.tabular.one_table).
    "trends": (
        "traffic per period, change, movers and unusual periods",
        lambda s: ("periods",) if s.extra.get("csv") else TRENDS_SECTIONS,
    ),
    # `now` with --last only.
    "problems": (
        "what is failing, since when, for whom, how slowly, and who attacks",
        lambda s: tuple(n for n in PROBLEMS_SECTIONS if n != "now" or s.extra.get("last")),
    ),
    "sources": (
        "where visits come from: campaigns, ads, affiliates, search, social, email, referrals",
        lambda s: SOURCES_SECTIONS
        + (("conversions",) if s.goals else ())
        + (("source-periods",) if s.extra.get("every") else ()),
    ),
    "campaigns": (
        "conversions and revenue per source, campaign and affiliate; commissions",
        lambda s: CAMPAIGNS_SECTIONS + (("source-periods",) if s.extra.get("every") else ()),
    ),
    "privacy": ("what personal data the logs hold, and where", lambda s: PRIVACY_SECTIONS),
}


def report(
    command: str,
    args: Sequence[str],
    settings: Settings,
    sections: Sequence[str] = (),
    on_progress: Callable[[int], None] | None = None,
    inputs: list[Input] | None = None,
) -> Outcome:
    """Run one report command (a key of ``COMMANDS``) over ``args`` (paths, globs, '-')."""
    defaults = COMMANDS[command][1](settings)
    return _report(command, defaults, args, settings, sections, on_progress, inputs)


def digest(
    args: Sequence[str],
    settings: Settings,
    detail: str = "med",
    on_progress: Callable[[int], None] | None = None,
) -> Outcome:
    """The daily digest (``logaudit.digest``): the period's report and a comparison run."""
    from logaudit import digest as digest_mod
    from logaudit.analyze import visitcounts
    from logaudit.analyze.trends import trend_of
    from logaudit.analyze.visits import visits_of
    from logaudit.errors import LogauditError

    if "-" in args:
        raise LogauditError(
            "digest reads its logs twice (the day, then the days before it): name files, not -",
            ExitCode.USAGE,
        )
    runs: list[Run] = []

    def read(s: Settings, tables: dict[str, Any], progress: Any) -> Run:
        if s.state is not None:
            # The first call adds the new lines to the store; the second finds none new.
            from logaudit.store import stored_run

            return stored_run(open_inputs(args) if args else [], s, tables, progress)
        return run(open_inputs(args), s, tables, progress, Enricher(s))

    periods: list[Any] = []  # the period the digest read (its day, for the message below)

    def run_period(s: Settings, names: tuple[str, ...]) -> Callable[[Any], Report]:
        r = read(s, tables_for(names), on_progress)
        runs.append(r)
        periods.append(s.since)

        def finish(visits: Any) -> Report:
            ctx = finish_context(s, names)
            _stored_places(ctx, r, s)
            if visits is not None:
                # The comparison run's visits that start in the period, for every section as
                # for the overview: the period's own would cut a visit at its first midnight
                # (two visit counts in one digest).
                ctx.cache["visits"] = visits
            return build_report(r, s, names, "digest", ctx)

        return finish

    def run_wide(s: Settings, names: tuple[str, ...]) -> tuple[Report, Any, Any, Any]:
        r = read(s, tables_for((*names, "periods")), None)
        ctx = finish_context(s, names)
        _stored_places(ctx, r, s)
        rep = build_report(r, s, names, "digest", ctx)
        trend = trend_of(r.partial, ctx)
        # The visits the trend counted (a visit on the day it starts), for the overview's.
        visits = digest_mod.Visits(visits_of(r.partial, ctx).table, visitcounts.of(ctx))
        return rep, trend, r.partial.get("visitor_days"), visits

    report = digest_mod.build(settings, detail, run_period, run_wide)
    implicit = ""
    if settings.since is None and settings.until is None:
        # The day read, not the period computed again: a run crossing midnight named the next.
        day = periods[0] if periods else digest_mod.period_of(settings)[0]
        implicit = f"the digest's default period (yesterday, {day:%Y-%m-%d}; --since picks another)"
    return _outcome(runs[0], report, settings, implicit)


def summary(args: Sequence[str], settings: Settings, sections: Sequence[str] = ()) -> Outcome:
    """``report("summary", ...)``, the call most scripts want."""
    return report("summary", args, settings, sections)


__all__ = ["COMMANDS", "Outcome", "digest", "report", "records", "summary", "open_inputs"]


def records(
    args: Sequence[str],
    settings: Settings,
    query: rec.Query,
    fmt: str,
    out: TextIO,
    inputs: list[Input] | None = None,
) -> Outcome:
    """``logaudit records``: stream the matching requests of ``args`` to ``out`` (a text
    stream; parquet goes to its binary buffer). No Report: the rows are the output; the
    Outcome's exit code is NO_DATA when nothing matched."""
    from logaudit import records as rec

    inputs = inputs if inputs is not None else open_inputs(args)
    result = rec.write(inputs, settings, query, fmt, out)
    messages = [str(p) for p in result.problems] + result.notes
    # The rows are the output: what was not read into them is said on stderr, as the reports
    # say it (their warnings and bad-line line); records said nothing of bad lines or NULs.
    messages += unread(result.bad, settings)
    code = exit_code(result.problems)
    unwritten = result.rows == 0 and not sum(result.bad.parsed.values())
    if code == ExitCode.OK and unwritten:
        # As summary says of the same input (_outcome): not a log (4), not "nothing matched".
        code = ExitCode.INPUT_INVALID
        if result.bad.total:
            messages.append("no line could be parsed")
        elif not messages:
            messages.append("no log lines in the input")
    elif code == ExitCode.OK and settings.strict and (result.bad.total or result.bad.nul_runs):
        code = ExitCode.BAD_LINES
        messages.append(_strict(result.bad))
    elif code == ExitCode.OK and result.rows == 0:
        code = ExitCode.NO_DATA
        messages.append(_nothing_chosen(settings, "matched", formats=result.layouts))
    return Outcome(None, code, messages, unwritten=unwritten)
