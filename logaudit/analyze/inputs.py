"""What was read: per input, its format, lines, hits and bad lines, and the warnings a user
must not miss (METRICS.md: over 10 % bad lines in a file is said loudly)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from logaudit.parse import BAD_SAMPLES
from logaudit.plausible import LATE_PREFIX
from logaudit.result import Run
from logaudit.sources import PROBLEMS_SHOWN, capped
from logaudit.wording import counted

if TYPE_CHECKING:
    from logaudit.formats.spec import Layout

LOUD_BAD_SHARE = 0.10


def inputs_info(run: Run) -> list[dict[str, Any]]:
    out = []
    zoned: dict[int, bool] = {}  # per layout: most inputs of a glob share one
    for inp in run.inputs:
        if inp.note is not None:  # a folder's note (files left out by name), not an input
            continue
        det = run.formats.get(inp.name)
        bad = run.bad.counts.get(inp.name, 0)
        parsed = run.bad.parsed.get(inp.name, 0)
        # Physical lines (``wc -l``, and a last line without its newline): each is parsed,
        # bad or skipped once. A NUL run is no line (the rest of the line it is in is read as
        # any line): it is counted apart, ``nul_runs``.
        lines = run.lines.get(inp.name, 0)
        out.append(
            {
                "file": inp.name,
                "format": det.format.name if det else None,
                "lines": lines,
                "parsed": parsed,
                "bad_lines": bad,
                "bad_share": round(bad / (bad + parsed), 4) if bad + parsed else 0.0,
                "nul_runs": run.bad.nul_runs.get(inp.name, 0),
            }
        )
        # The rest of the lines were blank or comments (W3C headers, "#" notes): not requests,
        # not bad lines; said so that lines = parsed + bad + skipped adds up.
        out[-1]["skipped_lines"] = max(0, lines - parsed - bad)
        if det is not None and not zoned.setdefault(id(det.format), det.format.has_zone()):
            # Times written without a zone: read as wall time in this one (--tz, the machine's,
            # or UTC for W3C's date/time). An ISO 8601 time ($time_iso8601, a JSON log's) may
            # carry its offset, and then is read with it: the zone is only for those without
            # (it said "times in Etc/UTC" of times written +02:00). times_read_in keeps its
            # name (docs/json.md: no key changes without a schema_version change); naive_times
            # says it is only of the times written without an offset.
            out[-1]["times_read_in"] = det.format.naive_zone or det.zone
            if _iso_times(det.format):
                out[-1]["naive_times"] = True
    return out


def _iso_times(fmt: Layout) -> bool:
    """Whether the layout's time is written in ISO 8601, whose offset is optional."""
    return any(p.kind == "iso" for t in fmt.tokens for p in t.pieces if p.role == "time")


def bad_lines_info(run: Run) -> dict[str, Any]:
    """Bad lines are lines that did not parse; each input's examples are its first ones in
    line order, then its first NUL run if it had any, in at most one of the BAD_SAMPLES slots
    (the warnings say how many runs there were)."""
    examples = []
    for f in dict.fromkeys([*run.bad.samples, *run.bad.nul_first]):
        nul = run.bad.nul_first.get(f)
        shown = sorted(run.bad.samples.get(f, []))[: BAD_SAMPLES - (nul is not None)]
        examples += [{"file": f, "line": line, "reason": why} for line, why in shown]
        if nul is not None:
            examples.append({"file": f, "line": nul[0], "reason": nul[1]})
    return {"total": run.bad.total, "by_file": dict(run.bad.counts), "examples": examples}


def warnings(run: Run) -> list[str]:
    out = []
    loud = [info for info in inputs_info(run) if info["bad_share"] > LOUD_BAD_SHARE]
    for info in loud[:PROBLEMS_SHOWN]:
        bad, before = info["bad_lines"], run.read_before.get(info["file"], 0)
        read = bad + info["parsed"]
        # A store run read on: the share is of this run's lines, and says so (it said "75% of
        # lines" where 43% of the input's lines were bad; the store keeps no earlier run's
        # bad lines to give the input's share).
        share = (
            f"{info['bad_share']:.0%} of the {counted(read, 'line')} read on"
            if before
            else f"{info['bad_share']:.0%} of lines"
        )
        ahead, every = _ahead_only(run, info["file"])
        if ahead is not None and every:
            # Lines of the right format, dated too far ahead (every bad line was shown and
            # is so, read on or not): the format is not the question.
            out.append(
                f"{info['file']}: {share} were not counted ({counted(bad, 'bad line')}): its bad "
                f"lines are dated {ahead}, "
                "not another format; if its clock is right, raise ahead_days "
                "(LOGAUDIT_AHEAD_DAYS)"
            )
            continue
        if before and bad / (before + read) <= LOUD_BAD_SHARE:
            # Few bad lines among all read of the input (a junk line appended) say nothing
            # of its format.
            said = f"{share} did not parse as {info['format']} ({counted(bad, 'bad line')})"
            out.append(f"{info['file']}: {said}")
            continue
        # More bad lines than examples: the first ones dated ahead say nothing of the rest.
        first = f"; the first {BAD_SAMPLES} are dated {ahead}" if ahead else ""
        out.append(
            f"{info['file']}: {share} did not parse as {info['format']} ({counted(bad, 'bad line')}"
            f"{first}); is --log-format right?"
        )
    if len(loud) > PROBLEMS_SHOWN:
        more = len(loud) - PROBLEMS_SHOWN
        out.append(
            f"... and {counted(more, 'more input')} like this "
            f"(over {LOUD_BAD_SHARE:.0%} of lines did not parse)"
        )
    out.extend(nul_warnings(run.bad.nul_runs))
    # Many inputs with the same problem (a glob of unreadable files): a few, then how many.
    out.extend(capped(run.problems))
    return out


def _ahead_only(run: Run, name: str) -> tuple[str | None, bool]:
    """"more than D days in the future" when every bad-line example of ``name`` (its first
    bad lines, ``BadLines.samples``) was rejected only for being dated too far ahead, and
    whether those examples are all its bad lines (only then is it said of the input: the
    examples are the first BAD_SAMPLES, and 300 lines of another format may follow them)."""
    shown = run.bad.samples.get(name, [])
    why = {reason for _, reason in shown}
    if len(why) != 1 or not next(iter(why)).startswith(LATE_PREFIX):
        return None, False
    when = "more than " + next(iter(why)).removeprefix(LATE_PREFIX)
    return when, len(shown) == run.bad.counts.get(name)


def nul_warnings(nul_runs: Mapping[str, int]) -> list[str]:
    """One line per input with NUL runs (the first few, then how many more): the reports'
    warnings, and what ``records`` says on stderr."""
    out = []
    nul = [(f, n) for f, n in nul_runs.items() if n]
    for f, n in nul[:PROBLEMS_SHOWN]:
        out.append(
            f"{f}: {counted(n, 'run')} of NUL bytes skipped "
            "(logrotate's copytruncate or a crash while writing)"
        )
    if len(nul) > PROBLEMS_SHOWN:
        more = len(nul) - PROBLEMS_SHOWN
        out.append(f"... and {counted(more, 'more input')} with NUL bytes skipped")
    return out
