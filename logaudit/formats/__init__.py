"""The format registry: every log format logaudit reads, as data, in one table.

Adding a format is a local change: describe it in a family module (``clf.py`` holds the
Apache/nginx family) and list it in ``FORMATS``. ``detect`` picks, for one input, the format that
parses most of its first lines; ``--log-format NAME`` overrides it. Every format carries real
sample lines; one parametrised test proves each parses its own samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from logaudit.errors import ConfigError, InputInvalidError, LogauditError
from logaudit.formats import jsonlog, w3c
from logaudit.formats.clf import CLF_FORMATS
from logaudit.formats.goaccess import PREDEFINED
from logaudit.formats.spec import Layout, from_string

if TYPE_CHECKING:
    from logaudit.config import Settings
    from logaudit.sources import Input, ReadState

# Detection tries formats in this order; on a tie the earlier (more specific) one wins.
FORMATS: dict[str, Layout] = {
    f.name: f for f in (*CLF_FORMATS, w3c.DEFAULT, *PREDEFINED, *jsonlog.FAMILIES)
}
# Other names a format answers to (GoAccess's predefined names), case-insensitive.
ALIASES: dict[str, str] = {a.lower(): f.name for f in FORMATS.values() for a in f.aliases}

DETECT_LINES = 200
# A format must parse at least this share of the sampled lines to be chosen.
DETECT_MIN_SHARE = 0.5


@dataclass(frozen=True)
class Detected:
    """The format chosen for one input, and how its lines are read."""

    format: Layout
    extras: int  # trailing fields beyond the format's own layout (e.g. nginx $http_x_forwarded_for)
    matched: int
    sampled: int
    # The zone of times written without one (--tz, else the machine's), when the format has
    # such times; None otherwise.
    zone: str | None = None
    # Who the client is: "remote" (the address field) or "xff" (from X-Forwarded-For: the first
    # address, or the last one outside ``trusted`` networks when some are given).
    client_from: str = "remote"
    trusted: tuple[str, ...] = ()
    # --log-format auto+: the other formats lines of this input are written in, with their
    # trailing-field counts; each line is read with the first of (format, *others) it fits.
    others: tuple[tuple[Layout, int], ...] = ()


def after(det: Detected, data: bytes | bytearray | memoryview) -> Detected:
    """The detection in force after ``data`` (a W3C block may change the fields with a
    #Fields: header; the pipeline calls this in reading order). Other families: ``det``."""
    if det.format.family != "w3c":
        return det
    heads = [x for _, x in w3c.headers(data) if x is not None]
    return replace(det, format=heads[-1]) if heads else det


def agent_logged(det: Detected) -> bool | None:
    """Whether the rows read with ``det`` carry the request's user agent, for
    ``Enricher.apply``: False for a format that logs none (common, vcommon: every hit is a
    person, docs/metrics.md); None for W3C, whose ``#Fields:`` headers may drop
    ``cs(User-Agent)`` mid-file, even mid-block: parse leaves the agent of a row under such
    a header missing (NaN), not "" (a logged empty agent, quoted W3C's ""), and the rows are
    told apart by that, so that where the blocks are cut changes nothing."""
    if det.format.family == "w3c":
        return None
    logs = {"agent" in f.fields for f in (det.format, *(o for o, _ in det.others))}
    if len(logs) > 1:
        # --log-format auto+ over combined and common lines: told apart row by row too, by
        # the format that read each (parse._mixed's schema.AGENT_UNLOGGED column).
        return None
    return "agent" in det.format.fields


def in_force(det: Detected, head: bytes, lead: bytes, upto: int) -> Detected:
    """``det`` as in force at byte ``upto`` of a file whose head and lead these are
    (``sources.head_and_lead``): under the last ``#Fields:`` header of ``head[:upto]``, then
    of the lead (the last one between the head and ``upto``, however far back), in that
    order."""
    for before in (head[:upto], lead):
        det = after(det, before)
    return det


AUTO_MIXED = "auto+"
# auto+: a format must read at least this share of the sampled lines to be one of the input's.
MIXED_MIN_SHARE = 0.02
# Families read by their own readers (a header, Arrow's JSON reader), not line by line.
_WHOLE_FILE = ("w3c", "jsonkeys")


def _detect_mixed(
    data: bytes | bytearray | memoryview,
    name: str,
    lines: list[str],
    tz: str | None,
    fallback: bool = True,
) -> Detected:
    """--log-format auto+: every format that reads a share of the lines, most lines first;
    a line counts for the first (most specific) format it fits."""
    if not lines:
        raise InputInvalidError(f"{name}: no log lines to detect a format from")
    counts: Counter[tuple[str, int]] = Counter()
    layouts = [f for f in FORMATS.values() if f.family not in _WHOLE_FILE]
    patterns = [(f, re.compile(f.detect_regex())) for f in layouts]
    for line in lines:
        for f, pattern in patterns:
            k = _fits(f, pattern, line)
            if k is not None:
                counts[(f.name, k)] += 1
                break
    found = [
        (FORMATS[n], k, c)
        for (n, k), c in counts.most_common()
        if c >= MIXED_MIN_SHARE * len(lines)
    ]
    if not found:
        if not fallback:
            raise InputInvalidError(f"{name}: no format reads these lines")
        return detect(data, name, tz=tz)  # one of the whole-file families, or the dead end
    (first, k0, _), rest = found[0], found[1:]
    return Detected(
        first,
        k0,
        sum(c for _, _, c in found),
        len(lines),
        _zone(first, tz),
        others=tuple((f, k) for f, k, _ in rest),
    )


def resolve(spec: str, named: Mapping[str, str] | None = None) -> Layout:
    """A registered name, a GoAccess alias, a name from the config's ``[formats]`` table, or
    an Apache/nginx format string -> its layout. A string that is none of these is a
    ConfigError naming what is wrong with it."""
    mine = named and any(k.lower() == spec.lower() for k in named)  # AWSELB is awselb
    if mine and (spec in FORMATS or spec.lower() in ALIASES):
        raise ConfigError(  # the built-in one was read, the config's ignored (QA22 #17)
            f"--log-format {spec}: both a built-in format's name and one of the config's "
            "[formats]; give yours another name"
        )
    if spec in FORMATS:
        return FORMATS[spec]
    if spec.lower() in ALIASES:
        return FORMATS[ALIASES[spec.lower()]]
    if named and spec in named:
        return from_string(named[spec], name=spec)
    if not any(c in spec for c in "%$"):
        known = ", ".join([*FORMATS, *(named or {})])
        raise ConfigError(
            f"--log-format {spec!r}: unknown format (known: {known}); or give an Apache "
            "LogFormat or nginx log_format string"
        )
    return from_string(spec)


def tokenize(line: str) -> list[str]:
    """Split one line the way the fast parser does (space-separated, double quotes, backslash
    escapes). Used on a few sampled lines only, never on the hot path."""
    import csv  # here: not with the registry (`logaudit formats`)

    try:
        return next(
            csv.reader([line], delimiter=" ", quotechar='"', escapechar="\\", doublequote=False)
        )
    except (csv.Error, StopIteration):
        return []


# Bytes tried first by sample_lines: enough for DETECT_LINES lines of most logs.
_SAMPLE_START = 256 << 10


def sample_lines(data: bytes | bytearray | memoryview, limit: int = DETECT_LINES) -> list[str]:
    if len(data) > _SAMPLE_START:
        # The whole lines of a smaller start, when they are enough, are the very lines the
        # first megabyte gives (an escape never spans a newline): 0.6 ms of CPU, not 2.4, and
        # each run samples its first block three or four times, holding the GIL.
        start = bytes(data[:_SAMPLE_START])
        lines = _sample(start[: start.rfind(b"\n") + 1], limit)
        if len(lines) >= limit:
            return lines
    lines = _sample(bytes(data[: 1 << 20]), limit, len(data) > 1 << 20)
    at = 1 << 20
    while not lines and at < len(data):
        # A first line longer than the sample (a 2 MB query string) is cut, not judged: the
        # sample goes on after its end (it was "format not recognised", quoting a good line).
        nl = _newline_at_or_after(data, at)
        if nl < 0:
            break
        at = nl + 1 + (1 << 20)
        lines = _sample(bytes(data[nl + 1 : at]), limit, len(data) > at)
    return lines


class Lead:
    """What an input holds before its first log line: blocks of blank and comment lines only
    (a banner, W3C headers, a last line without its newline still to come), kept (their last
    mebibyte) to detect the format from with the block that holds the first log line. Three
    readers detect so: the reports' engine/local.py, ``records`` (where a first block of one
    ``#`` line was "no log lines to detect a format from") and ``records --follow``'s polls
    (follow.Tail: the same message when a poll read header lines only). The others detect
    from a head of their own: prefetch.py (its first block, giving up without a log line in
    it), ``--follow``'s start (sources.head_and_lead, kept in its Lead when it holds no log
    line) and scrub (its first mebibyte)."""

    def __init__(self, header: bytes = b"") -> None:
        self.data = header  # what detection reads when no log line ever comes

    def first(
        self, block: bytes | bytearray | memoryview
    ) -> bytes | bytearray | memoryview | None:
        """The bytes to detect from when ``block`` holds a log line; else None, ``block`` kept."""
        if not sample_lines(block, 1):
            self.data = (self.data + bytes(block))[-(1 << 20) :]
            return None
        return self.data + bytes(block) if self.data else block


def detect_or_problem(
    data: bytes | bytearray | memoryview, inp: Input, settings: Settings, state: ReadState
) -> Detected | None:
    """``inp``'s format detected from ``data`` (``detect_for``), or None with the input's
    problem (not a log: ``sources.not_a_log``) in ``state``; what the readers that detect on
    a Lead (engine/local.py, ``records``) do with its first log line, or with the Lead's
    data when no log line ever came."""
    try:
        return detect_for(data, inp.name, settings)
    except LogauditError as e:
        from logaudit.sources import not_a_log  # formats is imported below sources

        # The message starts with the input's name, which InputProblem adds back.
        state.problems.append(not_a_log(inp, str(e).split(": ", 1)[-1], e.exit_code))
        return None


def _newline_at_or_after(data: bytes | bytearray | memoryview, at: int) -> int:
    """The position of the first newline at or after ``at`` in ``data``, or -1; looked for a
    mebibyte at a time (``data`` may be a block's memoryview)."""
    while at < len(data):
        i = bytes(data[at : at + (1 << 20)]).find(b"\n")
        if i >= 0:
            return at + i
        at += 1 << 20
    return -1


def _sample(head: bytes, limit: int, cut: bool = False) -> list[str]:
    """Up to ``limit`` log lines (not blank, not comments) of ``head``; ``cut``: the data
    goes on after it."""
    lines = []
    # Detection must see lines as the parser will: Apache's \\ and \" escapes rewritten to
    # nginx's \x5C and \x22 (see parse.py), so an escaped quote never ends a field.
    head = head.replace(b"\\\\", b"\\x5C").replace(b'\\"', b"\\x22")
    raws = head.split(b"\n")
    if raws[-1] and (cut or (len(raws) > 1 and raws[-1].count(b'"') % 2)):
        # The sample ends inside a line (the 1 MiB cut, or a last line still being written,
        # its quote left open): judged on its part, a combined line cut in its user agent fits
        # common + extras better, and a log read as common would leave its referrers unread
        # (and unscrubbed); a line longer than the whole sample is no line of it at all. A
        # last line merely without its newline is judged as any other.
        raws.pop()
    for raw in raws:
        text = raw.decode("utf-8", "backslashreplace").rstrip("\r")
        if text.strip() and not text.startswith("#"):
            lines.append(text)
            if len(lines) >= limit:
                break
    return lines


def _fits(fmt: Layout, pattern: re.Pattern[str], line: str) -> int | None:
    """The number of trailing extra fields if ``line`` fits ``fmt``'s layout, else None."""
    m = pattern.match(line)
    if m is None:
        return None
    if not fmt.allow_extras:
        return 0
    tail = m.group("tail")
    return len(tokenize(tail.strip())) if tail.strip() else 0


def _zone(fmt: Layout, tz: str | None) -> str | None:
    if fmt.has_zone() and fmt.family != "w3c":
        return None
    if tz:
        return tz
    from logaudit.timespec import machine_zone

    return machine_zone()


def detect_for(data: bytes | bytearray | memoryview, name: str, settings: Settings) -> Detected:
    """``detect`` with a run's settings, as every reader detects (reports, ``records``, its
    ``--follow`` and ``watch``): --log-format or a config's format names, --tz for times
    written without a zone, and the client behind trusted proxies."""
    det = detect(data, name, settings.log_format, settings.tz, settings.formats)
    return replace(det, client_from=settings.client_from, trusted=settings.trusted_proxies)


def detect(
    data: bytes | bytearray | memoryview,
    name: str,
    forced: str | Layout | None = None,
    tz: str | None = None,
    named: Mapping[str, str] | None = None,
) -> Detected:
    """Choose the format of one input from its first block. ``forced``: a name or format
    string (``--log-format``), or a layout; ``tz``: the zone of times written without one."""
    lines = sample_lines(data)
    if forced == AUTO_MIXED:
        return _detect_mixed(data, name, lines, tz)
    if isinstance(forced, str):
        forced = resolve(forced, named)
    if not lines:
        if forced is not None:
            # Nothing to check the format against (a block of comments, a blank file).
            return Detected(forced, 0, 0, 0, _zone(forced, tz))
        raise InputInvalidError(f"{name}: no log lines to detect a format from")
    candidates = [forced] if forced else list(FORMATS.values())
    best = _best(data, lines, candidates, tz)
    if forced:
        return best or Detected(forced, 0, 0, len(lines), _zone(forced, tz))
    if best is not None and best.matched >= DETECT_MIN_SHARE * len(lines):
        return best
    # The first lines may be junk (an error log pasted in front, a banner): look further into
    # a big enough input (a short one is judged on all its lines).
    for later in _later_samples(data) if len(lines) >= DETECT_LINES else []:
        found = _best(data, later, candidates, tz)
        if found is not None and found.matched >= DETECT_MIN_SHARE * len(later):
            return found
    from logaudit.formats.describe import looks_like, suggestion

    hint = suggestion(lines)
    advice = (
        f"try --log-format '{hint}'"
        if hint
        else "no format in `logaudit formats` fits: give the server's format string with "
        "--log-format 'apache:...' or 'nginx:...'"
    )
    if best is not None and not hint:
        # Some lines fit, too few to choose a format on: the quoted line may be one of them,
        # and "no format fits" beside a good combined line read as a fault (QA16 #14).
        advice = (
            f"only {best.matched} of {len(lines)} sampled lines fit {best.format.name}: if the "
            f"others are not log lines, try --log-format {best.format.name}"
        )
    try:
        mixed = _detect_mixed(data, name, lines, tz, fallback=False) if not hint else None
    except InputInvalidError:
        mixed = None
    if mixed is not None and mixed.others and mixed.matched >= DETECT_MIN_SHARE * len(lines):
        names = ", ".join([mixed.format.name, *(f.name for f, _ in mixed.others)])
        advice = f"its lines are of several formats ({names}): try --log-format auto+"
    raise InputInvalidError(f"{name}: log format not recognised: {looks_like(lines)}; {advice}")


def _later_samples(data: bytes | bytearray | memoryview) -> list[list[str]]:
    """Samples from a quarter, half and three quarters into the block, and its end."""
    n = len(data)
    out = []
    for start in (n // 4, n // 2, 3 * n // 4, max(0, n - (1 << 18))):
        if start <= 0:
            continue
        at = bytes(data[start : start + (1 << 20)])
        cut = at.find(b"\n")
        if cut >= 0:
            lines = sample_lines(at[cut + 1 :])
            if len(lines) >= DETECT_LINES // 4:
                out.append(lines)
    return out


def _rank(matched: int, extras: int, lines: int) -> tuple[bool, int, int, int]:
    """How a layout's fit compares: fitting half the sample (``DETECT_MIN_SHARE``) first,
    then, among those, fewer trailing extras (named fields over unnamed), then lines fitted."""
    enough = matched >= DETECT_MIN_SHARE * lines
    return (enough, -extras if enough else 0, matched, -extras)


def _best(
    data: bytes | bytearray | memoryview,
    lines: list[str],
    candidates: list[Layout],
    tz: str | None,
) -> Detected | None:
    best: Detected | None = None
    for fmt in candidates:
        extras: Counter[int] = Counter()
        layouts = [fmt]
        if fmt.family == "w3c":
            # The file names its own fields: each #Fields: header's layout, in turn.
            found = [x for _, x in w3c.headers(bytes(data[: 1 << 20])) if x is not None]
            layouts = found or [fmt]
            fmt = layouts[0]
        if fmt.family == "jsonkeys":
            matched = sum(1 for line in lines if jsonlog.fits(fmt, line))
            if matched and (best is None or matched > best.matched):
                best = Detected(fmt, 0, matched, len(lines), _zone(fmt, tz))
            continue
        patterns = [(x, re.compile(x.detect_regex())) for x in layouts]
        for line in lines:
            for x, pattern in patterns:
                k = _fits(x, pattern, line)
                if k is not None:
                    extras[k] += 1
                    break
        if not extras:
            continue
        # Only lines with the dominant number of trailing fields will parse: a combined log
        # with a few CLF lines is combined (those lines are bad), not common + 2 extras.
        k, matched = extras.most_common(1)[0]
        # On a tie, the layout that explains more of the line (fewer trailing extras) wins;
        # and so it does whenever it fits half the sample: `common` + 2 unnamed extras also
        # takes a combined line whose user agent was cut short (its quote left open), so
        # one such line made a combined log read as common (no referrers, agents, crawlers).
        n = len(lines)
        if best is None or _rank(matched, k, n) > _rank(best.matched, best.extras, n):
            best = Detected(fmt, k, matched, len(lines), _zone(fmt, tz))
            if matched == len(lines) and k == 0:
                # Every line, no trailing extras: no later candidate can do better (it would
                # need more lines, or as many with fewer extras), so the rest are neither
                # compiled nor tried (the 15 formats after `combined`: ~10 ms of each run).
                break
    return best
