"""The command line: Click only. Options -> Settings -> one library call -> render.

Domain errors become one line on stderr and a documented exit code (``errors.ExitCode``);
only an internal bug shows a traceback, and only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from logaudit import __version__, names
from logaudit.config import BOTS_MODES, MAIL_VIA, load, parse_mode
from logaudit.deliver.files import DEFAULT_MODE, atomic_output, refuse_inputs
from logaudit.errors import ExitCode, LogauditError
from logaudit.names import SECTIONS
from logaudit.procs import SIGHUP, Stopped, closed_terminal, hung_up, ignore_stops
from logaudit.procs import install as install_signals
from logaudit.render import EXTENSIONS, RENDERERS
from logaudit.render.escape import safe
from logaudit.wording import counted

# Only the commands that read data import the library (and with it pandas and pyarrow): the
# ones that print help, formats, sections or settings start in a tenth of the time (issue #18).
if TYPE_CHECKING:
    from logaudit import api
    from logaudit.sources import Input

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
_EXT_FORMATS = EXTENSIONS


class _Whole(click.UsageError):
    """A usage error whose message is the whole line (it names the option itself): said
    without the "(try '... --help')" hint (``_usage_line``), exit 2."""


class _Named(click.Path):
    """A path option. An empty name is wrong usage (exit 2, one line): as a path it is ".",
    the current folder, so -o '' failed as an output that cannot be written (exit 9),
    --state '' made a history store there and --csv-dir '' wrote its CSV files there."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(path_type=Path, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            what = "name"
            if not self.dir_okay or not self.file_okay:
                what = "file name" if not self.dir_okay else "folder name"
            opt = min(param.opts, key=len) if param is not None else "a path"
            raise _Whole(f"{opt}: the {what} is empty", ctx)
        return super().convert(value, param, ctx)


class _LogName(click.ParamType):
    """A LOG argument. An empty one is wrong usage (exit 2, one line), as an empty -o: as a
    path it is ".", so summary '' read the current folder's files as logs (and failed with
    an internal error on a name it could not order)."""

    name = "log"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "":
            raise _Whole("LOG: the name is empty", ctx)
        return value


# --strict: every report command and records.
strict_option = click.option(
    "--strict",
    is_flag=True,
    default=None,
    help=f"Exit {int(ExitCode.BAD_LINES)} if any line is bad or NUL bytes were skipped.",
)

# The config file and site: every report command and records.
config_options = [
    click.option(
        "--config",
        "config_file",
        type=_Named(dir_okay=False),
        help="Config file (default: ./logaudit.toml, else ~/.config/logaudit/; read over "
        "/etc/logaudit/logaudit.toml).",
    ),
    click.option(
        "--site",
        metavar="NAME",
        help="Use the config's [sites.NAME] table (logs, hosts, recipients).",
    ),
]

# Who the client is behind a proxy: every report command and records.
client_options = [
    click.option(
        "--client-from",
        type=click.Choice(["remote", "xff"]),
        default=None,
        help="The client: the logged address (remote), or X-Forwarded-For's (xff).",
    ),
    click.option(
        "--trusted-proxy",
        "trusted_proxies",
        multiple=True,
        metavar="CIDR",
        help="With xff: skip these proxies, from the right (repeatable).",
    ),
]

# Mail and config options, shared by every report command (docs/cron.md, README "Mail").
mail_options = [
    *config_options,
    click.option(
        "--mail-to",
        "mail_to",
        multiple=True,
        metavar="ADDRESS",
        help="Mail the report (repeatable).",
    ),
    click.option(
        "--attach",
        metavar="json,csv",
        help="With --mail-to: attach these renderings too.",
    ),
    click.option(
        "--mail-via",
        type=click.Choice(list(MAIL_VIA)),
        default=None,
        help="smtp (the [mail] settings) or the local sendmail. [smtp]",
    ),
    click.option(
        "--dry-run",
        is_flag=True,
        default=False,
        help="With --mail-to: write the message as .eml (to -o or ./) instead of sending it.",
    ),
]


# --anonymize (logaudit/anonymize.py, docs/privacy.md): every report command and records.
anonymize_options = [
    click.option(
        "--anonymize",
        type=click.Choice(["mask", "hash"]),
        is_flag=False,
        flag_value="mask",
        default=None,
        help="Mask client addresses and user names in every output (alone: mask; hash: a "
        "keyed hash). Figures do not change.",
    ),
    click.option(
        "--mask-bytes",
        type=click.IntRange(1, 3),
        default=None,
        help="With --anonymize: IPv4 bytes zeroed (IPv6 keeps 48, 32, 24 bits). [1]",
    ),
]


LOG_FORMAT_HELP = (
    f"Skip detection: {', '.join(names.FORMATS)} (see `logaudit formats`), a "
    "[formats] name from the config, an Apache LogFormat / nginx log_format / GoAccess "
    "string (apache:..., nginx:..., goaccess:...), or auto+ for a file mixing formats."
)


class _LaterOptions(click.Command):
    """A command whose options are made when it is used (run, or its --help), not when the
    CLI is built: the decorator its callback was marked with by ``later`` adds them. Making
    the ~60 options of each of nine report commands took ~10 ms of every start-up, and
    records' --fields help names the record schema's columns (pandas) (issue #18). Options
    given the usual way follow them, as if the marking decorator were the outermost."""

    _given: list[click.Parameter]
    _made: list[click.Parameter] | None

    @property
    def params(self) -> list[click.Parameter]:
        if self._made is None:
            made: list[click.Parameter] = []
            options = getattr(self.callback, "__later_options__", None)
            if options is not None:

                def f() -> None: ...

                options(f)
                made = list(reversed(getattr(f, "__click_params__", [])))
            self._made = [*made, *self._given]
        return self._made

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._given = value
        self._made = None


def later(options: Callable[[Callable[..., Any]], Any]) -> Callable[[Any], Any]:
    """A decorator that marks a command to get ``options`` (a decorator adding Click options)
    only when it is used (``_LaterOptions``, every command of ``cli``)."""

    def mark(f: Any) -> Any:
        f.__later_options__ = options
        return f

    return mark


def _report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options every report command shares, written once."""
    opts = [
        click.argument("logs", nargs=-1, type=_LogName(), metavar="LOG..."),
        click.option(
            "--log-format",
            metavar="NAME|FORMAT",
            help=LOG_FORMAT_HELP,
        ),
        *client_options,
        click.option(
            "--since",
            metavar="WHEN",
            help="From this time (2026-11-24, yesterday, 7d: the midnight 7 days ago, 24h...).",
        ),
        click.option("--until", metavar="WHEN", help="Up to (not including) this time."),
        click.option(
            "--tz", metavar="ZONE", help="Report in this IANA zone (default: the log's offset)."
        ),
        click.option(
            "--bots",
            type=click.Choice(list(BOTS_MODES)),
            default=None,
            help="auto: crawlers in hits, not people metrics; include, exclude, only.",
        ),
        click.option("--top", type=int, default=None, help="Rows per section (0: all). [10]"),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(list(RENDERERS)),
            default=None,
            help="Output format (default: terminal, or from -o's extension).",
        ),
        click.option(
            "-o",
            "--output",
            type=_Named(dir_okay=False),
            help="Write to a file.",
        ),
        click.option(
            "--mode",
            metavar="OCTAL",
            default=None,
            help="Permissions of the -o file (e.g. 0644). [0600: owner only]",
        ),
        strict_option,
        click.option(
            "--site-host", "site_hosts", multiple=True, help="The site's own host (repeatable)."
        ),
        click.option(
            "--geoip-dir", type=_Named(), help="Folder of .mmdb databases."
        ),
        click.option(
            "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
        ),
        click.option(
            "--jobs",
            type=click.IntRange(1, 64),
            default=None,
            help="Worker processes for parsing (default 1; see docs/performance.md).",
        ),
        click.option(
            "--engine",
            type=click.Choice(["local", "dask"]),
            default=None,
            help="Who computes: this machine, or a Dask cluster (docs/scale.md). [local]",
        ),
        click.option(
            "--scheduler",
            metavar="ADDR",
            default=None,
            help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --engine dask).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 1024),
            default=None,
            help="Processes of a local Dask cluster (implies --engine dask). [one per core]",
        ),
        click.option(
            "--section",
            "sections",
            multiple=True,
            type=click.Choice(list(SECTIONS)),
            help="Only these sections (repeatable); `logaudit sections` lists them.",
        ),
        click.option("--debug", is_flag=True, hidden=True),
        click.option(
            "--csv-dir",
            type=_Named(file_okay=False),
            help="Also write one CSV file per section, overview.csv and notes.csv (the "
            "report's notes) into this folder.",
        ),
        *mail_options,
        *anonymize_options,
        # The history store (docs/store.md).
        click.option(
            "--state",
            type=_Named(file_okay=False),
            help="History store folder: read only new lines into it, report from it.",
        ),
        click.option(
            "--wait", "state_wait", is_flag=True, help="With --state: wait for a run holding it."
        ),
        click.option(
            "--cache/--no-cache",
            default=None,
            help="Remember user-agent classifications across runs (docs/privacy.md). [on]",
        ),
    ]
    f = filter_options(f)  # innermost: listed after the options above in --help
    for opt in reversed(opts):
        f = opt(f)
    return f


report_options = later(_report_options)


def filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The shared record filters (``logaudit.filters.FILTERS``), each with its exclude twin."""
    from logaudit.names import FILTERS

    for name, (_, _, text) in reversed(FILTERS.items()):
        f = click.option(
            f"--exclude-{name}", f"exclude_{name}", multiple=True, metavar="VALUE",
            help=f"Leave out rows whose {name} matches (repeatable).",
        )(f)
        f = click.option(f"--{name}", name, multiple=True, metavar="VALUE", help=text)(f)
    return f


def _visit_timeout(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A bad --visit-timeout is wrong usage (exit 2) like any other bad option value; the
    settings' own check said it as a configuration error (exit 7)."""
    if value is not None:
        from logaudit.config import visit_timeout_seconds

        try:
            visit_timeout_seconds(value)
        except (TypeError, ValueError) as e:
            raise click.BadParameter(f"{value!r}: {e}", param_hint="--visit-timeout") from None
    return value


visit_timeout_option = click.option(
    "--visit-timeout",
    default=None,
    metavar="MINUTES",
    callback=_visit_timeout,
    help="Gap that ends a visit: minutes, or 30m, 1800s, 1h. [30]",
)


def _settings(opts: dict[str, Any], between: Callable[[], None] | None = None) -> Any:
    """The run's settings, the data stack imported first (``between``: see
    ``heap.data_stack``)."""
    from logaudit import heap

    # The report commands and records come here first (logaudit/heap.py).
    heap.data_stack(between)
    tz = opts.get("tz")
    overrides = {
        "log_format": opts.get("log_format"),
        "tz": tz,
        "bots": opts.get("bots"),
        "top": opts.get("top"),
        "strict": opts.get("strict") or None,
        "site_hosts": tuple(opts.get("site_hosts") or ()),
        "geoip_dir": opts.get("geoip_dir"),
        "progress": opts.get("progress"),
        "jobs": opts.get("jobs"),
        "engine": _engine(opts),
        "dask_scheduler": opts.get("scheduler"),
        "dask_workers": opts.get("workers"),
        "sections": tuple(opts.get("sections") or ()),
        "visit_timeout": opts.get("visit_timeout"),
        "mode": _mode(opts.get("mode")),
        "client_from": opts.get("client_from"),
        "trusted_proxies": tuple(opts.get("trusted_proxies") or ()),
        "anonymize": opts.get("anonymize"),
        "mask_bytes": opts.get("mask_bytes"),
    }
    if opts.get("ua") and not opts.get("visitor"):
        raise click.UsageError("--ua goes with --visitor")
    if opts.get("engine") == "local" and (opts.get("scheduler") or opts.get("workers")):
        raise click.UsageError("--scheduler and --workers go with --engine dask")
    extra: dict[str, Any] = {}
    if opts.get("visitor"):
        from logaudit.analyze.clickstream import check_visitor

        extra.update(visitor=check_visitor(opts["visitor"]), ua=opts.get("ua"))
    if opts.get("every"):
        extra.update(every=opts["every"], metrics=tuple(opts.get("metrics") or ()))
        extra["csv"] = bool(opts.get("csv"))
    if opts.get("mail_to") or opts.get("dry_run") or opts.get("attach"):
        extra["deliver"] = _deliver_options(opts)
    if opts.get("mail_via"):
        overrides["mail"] = {"via": opts["mail_via"]}
    if opts.get("state") is not None:
        overrides["state"] = opts["state"]
    if opts.get("cache") is not None:
        overrides["cache"] = opts["cache"]
    if opts.get("state_wait"):
        extra["state_wait"] = True
    from logaudit import filters

    chosen = filters.parse({k: opts.get(k) or () for k in filters.option_names()})
    if chosen:
        extra["filters"] = chosen
    if extra:
        overrides["extra"] = extra
    overrides.update(_campaign_overrides(opts))
    if tz:
        from logaudit.enrich.classify import zone

        zone(tz)  # fail early, with the one-line message (before --since reads the time in it)
    from logaudit.timespec import instant, parse_when, relative  # zoneinfo: not without data

    for key in ("since", "until"):
        if opts.get(key):
            overrides[key] = parse_when(opts[key], tz)
            if key == "since" and relative(opts[key]):  # 7d: to now (the digest's days)
                extra["since_relative"] = True
                overrides["extra"] = extra
            # A time with its offset is an instant: hits are cut by their own UTC time, not
            # by a wall clock that is the log's (without --tz) in whatever offset it writes.
            at = instant(opts[key])
            if at is not None:
                extra[f"{key}_utc"] = at
                overrides["extra"] = extra
    return _loaded(overrides, config_file=opts.get("config_file"), site=opts.get("site"))


def _loaded(overrides: dict[str, Any], config_file: Any = None, site: Any = None,
            format_checked: bool = True) -> Any:
    """The settings (``config.load``), once their notes (a value the system file's policy
    kept) are on stderr and, unless told otherwise, their --log-format is known readable."""
    settings = load(overrides, config_file=config_file, site=site)
    for note in settings.notes:
        click.echo(f"logaudit: {safe(note)}", err=True)
    return _checked_format(settings) if format_checked else settings


def _checked_format(settings: Any) -> Any:
    """``settings``, once its --log-format (a name or a format string) is known to be readable."""
    if settings.log_format and settings.log_format != "auto+":
        from logaudit.formats import resolve

        try:
            resolve(settings.log_format, settings.formats)
        except LogauditError as e:
            raise click.UsageError(str(e)) from None
    return settings


def _deliver_options(opts: dict[str, Any]) -> dict[str, Any]:
    from logaudit.deliver.compose import ATTACHABLE

    attach = [a.strip() for a in (opts.get("attach") or "").split(",") if a.strip()]
    bad = [a for a in attach if a not in ATTACHABLE]
    if bad:
        raise click.BadParameter(
            f"{', '.join(bad)} (choose from {', '.join(ATTACHABLE)})", param_hint="--attach"
        )
    from logaudit.config import valid_address

    wrong = [a for a in opts.get("mail_to") or () if not valid_address(a)]
    if wrong:  # wrong usage in one line, as a bad value of the config's mail.to is (exit 7)
        raise LogauditError(f"--mail-to: not a mail address: {wrong[0]!r}", ExitCode.USAGE)
    return {
        "mail_to": tuple(opts.get("mail_to") or ()),
        "attach": tuple(attach),
        "dry_run": bool(opts.get("dry_run")),
    }


def campaign_options(f: Callable[..., Any], every: bool = True) -> Callable[..., Any]:
    """Options of `sources` and `campaigns`: goals, values, attribution, commissions.
    ``every`` False: without --every (the digest's periods are its days)."""
    from logaudit.names import ATTRIBUTION_MODELS as MODELS

    opts = [
        click.option(
            "--goal",
            "goals",
            multiple=True,
            metavar="GOAL",
            help="A conversion: path glob or re:REGEX, optionally 'POST /checkout 2xx,3xx' or "
            "name=... (repeatable).",
        ),
        click.option(
            "--value-param",
            "value_params",
            multiple=True,
            metavar="NAME",
            help="Goal URL parameter holding the order value (repeatable). "
            "[value, revenue, total, amount]",
        ),
        click.option(
            "--attribution",
            type=click.Choice(list(MODELS)),
            default=None,
            help="Which source a conversion is credited to. [last-non-direct]",
        ),
        click.option("--window", metavar="30d", help="Attribution look-back window. [30d]"),
        click.option(
            "--commission",
            "commissions",
            multiple=True,
            metavar="NAME=RATE",
            help="An affiliate's commission: 10% of revenue or 2.50 per conversion (repeatable).",
        ),
        click.option(
            "--every",
            type=click.Choice(["auto", "day", "week", "month"]),
            default=None,
            help="Also a row per period: visits by source kind, conversions, revenue.",
        ),
        click.option(
            "--affiliate-cookie",
            metavar="NAME",
            help="Referral cookie logged in the line (needs a log format with cookie fields).",
        ),
    ]
    if not every:
        del opts[5]  # --every
    for opt in reversed(opts):
        f = opt(f)
    return f


def digest_goal_options(f: Callable[..., Any]) -> Callable[..., Any]:
    return campaign_options(f, every=False)


def _campaign_overrides(opts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "goals": tuple(opts.get("goals") or ()),
        "value_params": tuple(opts.get("value_params") or ()),
        "attribution": opts.get("attribution"),
        "affiliate_cookie": opts.get("affiliate_cookie"),
    }
    from logaudit.analyze.campaigns import commission_of, goals_of
    from logaudit.errors import ConfigError
    from logaudit.timespec import parse_duration

    try:
        goals_of(out["goals"])  # a goal that cannot be read is wrong usage: exit 2
        if opts.get("window"):
            out["window"] = parse_duration(opts["window"], "--window")
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    terms: dict[str, str] = {}
    for c in opts.get("commissions") or ():
        name, sep, rate = c.partition("=")
        if not sep or not name.strip() or not rate.strip():
            raise click.BadParameter(f"{c!r}: use NAME=10% or NAME=2.50", param_hint="--commission")
        try:
            commission_of(name.strip(), rate.strip())  # a bad rate is wrong usage: exit 2
        except ConfigError as e:
            raise click.UsageError(str(e)) from None
        same = next((k for k in terms if k.casefold() == name.strip().casefold()), None)
        if same is not None and same != name.strip():  # before reading, not after (exit 2)
            raise click.BadParameter(
                f"{same} and {name.strip()}: affiliate ids are compared ignoring case, so "
                "these name one affiliate twice",
                param_hint="--commission",
            )
        terms[name.strip()] = rate.strip()
    if terms:
        out["commissions"] = terms
    return out


@contextmanager
def _progress(inputs: list[Input], wanted: bool | None) -> Iterator[Callable[[int], None] | None]:
    total = sum(i.size for i in inputs)
    show = wanted if wanted is not None else (sys.stderr.isatty() and total >= PROGRESS_MIN_BYTES)
    if not show or total == 0:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("reading", total=total)
        yield lambda n: bar.advance(task, n)


def _format_of(fmt: str | None, output: Path | None) -> str:
    """--format, else from -o's extension, else the terminal."""
    if fmt is not None:
        return fmt
    if output is None:
        return "terminal"
    if not output.suffix:
        return "text"  # -o report: the plain text report
    if output.suffix.lower() not in _EXT_FORMATS:
        known = " ".join(sorted(_EXT_FORMATS))
        raise click.UsageError(
            f"-o {output.name}: no output format for {output.suffix!r} "
            f"(known: {known}, or name one with --format)"
        )
    return _EXT_FORMATS[output.suffix.lower()]


def _mode(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_mode(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not octal permissions such as 0600 or 0644"
        ) from None


def _emit(
    report: Any, fmt: str | None, output: Path | None, settings: Any = None, inputs: Any = ()
) -> None:
    fmt = _format_of(fmt, output)
    mode = settings.mode if settings is not None else DEFAULT_MODE
    paths = [i.path for i in inputs if i.path is not None]
    with atomic_output(output, mode, paths) as out:
        if fmt == "terminal" and output is not None:
            # A text file: no colour codes, and lines as wide as a report reader expects.
            from rich.console import Console

            from logaudit.render.terminal import render

            render(report, console=Console(file=out, width=120, color_system=None))
        else:
            RENDERERS[fmt](report, out)
    _warn_exposed(output)


def _warn_exposed(path: Path | None) -> None:
    """A report written where others can read it: one line on stderr (docs/privacy.md)."""
    if path is None or str(path) == "-":
        return
    from logaudit.deliver.exposure import warning

    text = warning(path)
    if text:
        click.echo(f"logaudit: {safe(text)}", err=True)


def _csv_dir(report: Any, folder: Path, settings: Any = None, inputs: Any = ()) -> None:
    """--csv-dir: one CSV file per section, each written whole or not at all."""
    from logaudit.render.tabular import csv_tables, write_section_csv

    mode = settings.mode if settings is not None else DEFAULT_MODE
    paths = [i.path for i in inputs if i.path is not None]
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as e:
        raise LogauditError(f"{folder}: cannot create ({e.strerror})", ExitCode.OUTPUT) from None
    for stem, rows in csv_tables(report).items():
        with atomic_output(folder / f"{stem}.csv", mode, paths) as out:
            write_section_csv(rows, out)
    _warn_exposed(folder)


def _finish(
    outcome: api.Outcome,
    fmt: str | None,
    output: Path | None,
    settings: Any = None,
    inputs: Any = (),
) -> None:
    ctx = click.get_current_context(silent=True)
    csv_dir = ctx.params.get("csv_dir") if ctx else None
    if outcome.report is not None and csv_dir is not None:
        _csv_dir(outcome.report, csv_dir, settings, inputs)
    if outcome.report is not None and (csv_dir is None or fmt or output):
        _emit(outcome.report, fmt, output, settings, inputs)
        if _format_of(fmt, output) == "csv":
            from logaudit.render.tabular import one_table, stderr_notes

            if one_table(outcome.report):  # its notes on stderr, as its warnings are
                said = set(outcome.messages)
                outcome.messages.extend(n for n in stderr_notes(outcome.report) if n not in said)
    for m in outcome.messages:
        click.echo(f"logaudit: {safe(m)}", err=True)
    if outcome.exit_code:
        sys.exit(int(outcome.exit_code))


def _run(
    name: str, logs: tuple[str, ...], fmt: str | None, output: Path | None, settings: Any
) -> None:
    """Every report command: open the inputs, run with a progress bar, render, exit."""
    from logaudit import api

    logs = logs or settings.logs
    if settings.state is not None:
        _state_files(logs)
    # --state alone reports from the store.
    inputs = api.open_inputs(logs) if logs or settings.state is None else []
    if output is not None:
        # Before the run, not after it: a report must never replace one of its own logs.
        refuse_inputs(output, [i.path for i in inputs if i.path is not None])
    if not (settings.extra.get("deliver") or {}).get("dry_run"):  # there -o names the .eml
        _format_of(fmt, output)  # an -o extension no renderer owns fails before the run
    with _progress(inputs, settings.progress) as on_progress:
        outcome = api.report(name, logs, settings, settings.sections, on_progress, inputs)
    _finish_mail(outcome, settings, fmt, output, inputs)


def _finish_mail(
    outcome: api.Outcome,
    settings: Any,
    fmt: str | None,
    output: Path | None,
    inputs: Any = (),
) -> None:
    """Mail the report when asked (--mail-to, or the digest's configured readers), else
    _finish. With mail, stdout stays empty (cron would mail it again); -o still writes the
    file, except with --dry-run, where -o names the .eml. A failed mail is exit 11."""
    report = outcome.report
    d = settings.extra.get("deliver") or {}
    if report is None or not (d or (report.command == "digest" and settings.mail.to)):
        # No mail asked (recipients_for would find none): smtplib, ssl and the email
        # package (~10 ms of start-up) stay unloaded (issue #18).
        _finish(outcome, fmt, output, settings, inputs)
        return
    from logaudit.deliver.outbox import mail_report, recipients_for
    from logaudit.errors import MailError

    to = recipients_for(settings, report.command)
    if report is None or not (to or d):
        _finish(outcome, fmt, output, settings, inputs)
        return
    if not to:
        raise click.UsageError("--attach and --dry-run go with --mail-to")
    dry = bool(d.get("dry_run"))
    code = outcome.exit_code
    unwritten: LogauditError | None = None
    ctx = click.get_current_context(silent=True)
    csv_dir = ctx.params.get("csv_dir") if ctx else None
    if (output is not None or csv_dir is not None) and not dry:
        # A side file that cannot be written must not cost the readers their mail: it is
        # said in one line (exit 9) and the mail goes out all the same. --csv-dir too (it
        # was ignored when mailing).
        try:
            if csv_dir is not None:
                _csv_dir(report, csv_dir, settings, inputs)
            if output is not None:
                _emit(report, fmt, output, settings, inputs)
        except LogauditError as e:
            if e.exit_code != ExitCode.OUTPUT:
                raise
            # An alert (10), personal data (12), --strict (6), an input's problem (3, 5)
            # outranks the side file: a cron job paging on 10 must still page.
            unwritten, code = e, code or ExitCode.OUTPUT
    # Under cron any output becomes a mail of its own: success is said on a terminal only,
    # and so are the bad lines (the mailed report's inputs table, or the .eml a failed mail
    # leaves, has their count and examples; --strict makes them a failure of their own, exit 6).
    quiet = not (dry or sys.stderr.isatty())
    if quiet and (note := outcome.bad_line_note) in outcome.messages and not settings.strict:
        outcome.messages.remove(note)
    try:
        done = mail_report(report, settings, to, d.get("attach", ()), dry, output if dry else None)
        if not quiet:
            outcome.messages.insert(0, done)
        if unwritten is not None:
            outcome.messages.append(f"error: {unwritten}; the report was mailed all the same")
    except MailError as e:
        if unwritten is not None:
            outcome.messages.append(f"error: {unwritten}")
        outcome.messages.append(f"error: {e}")
        code = ExitCode.MAIL  # the readers got nothing: it outranks a side file's exit 9
    for m in outcome.messages:
        click.echo(f"logaudit: {safe(m)}", err=True)
    if code:
        sys.exit(int(code))


def _reader_left() -> None:
    """The reader of our output went away (``| head``): what it read is what it wanted. Stop
    quietly with 0; stdout now points at /dev/null so the final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(int(ExitCode.OK))


def _closed() -> Stopped | None:
    """When a standard stream is a closed terminal (then pointed at /dev/null): how the run
    ends, as its SIGHUP (129) or as a SIGTERM that came first (143); None when none is. Its
    SIGHUP, still on its way, must not interrupt the ending (Click would say "Aborted!")."""
    stop = Stopped(SIGHUP)
    try:
        ignore_stops()
    except Stopped as e:
        stop = e  # it came just before: ignored from here on all the same (procs._stop)
    return stop if hung_up() else None


def command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Domain errors -> one line and their exit code; internal errors -> one line, or a
    traceback with --debug."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        try:
            return f(*args, **kwargs)
        except LogauditError as e:
            click.echo(f"logaudit: error: {safe(e)}", err=True)
            sys.exit(int(e.exit_code))
        except click.ClickException:
            raise  # usage errors: Click prints them with exit code 2
        except BrokenPipeError:
            _reader_left()
        except Stopped as e:
            if e.signum == SIGHUP:
                hung_up()  # the terminal was closed: nothing more goes to it
            click.echo(f"logaudit: stopped by {e.args[0]}", err=True)
            sys.exit(e.code)
        except KeyboardInterrupt:
            click.echo("logaudit: interrupted", err=True)
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - the last line of defence, with --debug to see
            if closed_terminal(e) and (stop := _closed()) is not None:
                # The terminal went away (its SIGHUP not here yet, or sent only to the shell
                # that had it): end as the SIGHUP ends the run (a SIGTERM before it: as that).
                said = ": the terminal was closed" if stop.signum == SIGHUP else f" by {stop}"
                click.echo(f"logaudit: stopped{said}", err=True)
                sys.exit(stop.code)
            if debug:
                raise
            click.echo(
                f"logaudit: internal error: {safe(type(e).__name__)}: {safe(e)} "
                "(run again with --debug for the traceback, and please report it)",
                err=True,
            )
            sys.exit(int(ExitCode.ERROR))

    return wrapper


def _usage_line(e: click.ClickException) -> str:
    """Click's own usage error (an unknown option or choice, a missing argument) in one line,
    as every other bad value is said: Click printed its usage, a blank line and the error."""
    msg = " ".join(e.format_message().split()).removesuffix(".")
    if msg[:2].istitle():  # "Invalid value ..." -> "invalid value ...", not "LOG..." or "-o"
        msg = msg[0].lower() + msg[1:]
    ctx = getattr(e, "ctx", None) or click.get_current_context(silent=True)
    hint = f" (try '{ctx.command_path} --help')" if ctx is not None else ""
    if isinstance(e, _Whole):
        hint = ""
    return f"logaudit: error: {safe(msg)}{hint}"


class _Cli(click.Group):
    """The top group: Click's usage errors, in parsing any command's arguments or raised by a
    command, are one line and their exit code (2); ``logaudit`` alone still shows the help."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _usage_in_one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_in_one_line():
            return super().invoke(ctx)


@contextlib.contextmanager
def _usage_in_one_line() -> Iterator[None]:
    """Click's usage errors raised inside: one line (``_usage_line``) and their exit code."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise
    except click.ClickException as e:
        click.echo(_usage_line(e), err=True)
        sys.exit(e.exit_code)


@click.group(
    cls=_Cli,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="logaudit")
def cli() -> None:
    """logaudit: what your web server's access logs say, fast and safely.

    \b
    logaudit summary /var/log/nginx/access.log*
    zcat old.log.gz | logaudit summary -
    logaudit summary access.log --format json -o summary.json
    """


cli.command_class = _LaterOptions  # options made when a command is used (``later``)


@cli.command()
@report_options
@visit_timeout_option
@command
def summary(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Traffic overview with GoAccess-style panels, from one or more logs.

    LOG may be a file (.gz, .bz2, .xz included), a directory or glob of rotated files (read
    oldest first), or - for stdin. Example:

    \b
    logaudit summary sample_logs/ --top 5 --section pages --section referring-sites
    """
    ahead = _read_ahead(logs, opts)
    _run("summary", logs, fmt, output, _settings(opts, ahead))


def _engine(opts: dict[str, Any]) -> str | None:
    """--engine; else --scheduler or --workers alone mean Dask (LOGAUDIT_DASK_SCHEDULER alone
    does not)."""
    return opts.get("engine") or ("dask" if opts.get("scheduler") or opts.get("workers") else None)


def _read_ahead(logs: tuple[str, ...], opts: dict[str, Any]) -> Callable[[], None]:
    """The agents helper planned now (enrich/agentproc.py); what to call once numpy and
    pyarrow are imported (``heap.data_stack``): the helper forked, and the first blocks
    tokenised while the rest of start-up imports (prefetch.py)."""
    from logaudit import prefetch
    from logaudit.enrich import agentproc

    reading = {
        "log_format": opts.get("log_format"),
        "tz": opts.get("tz"),
        "jobs": opts.get("jobs"),
        "engine": _engine(opts),
        "client_from": opts.get("client_from"),
        "trusted_proxies": tuple(opts.get("trusted_proxies") or ()),
        "state": opts.get("state"),
    }
    helper_opts = {**reading, "cache": opts.get("cache"), "sections": opts.get("sections")}
    agentproc.plan(logs, helper_opts, opts.get("config_file"), opts.get("site"))

    def start() -> None:
        agentproc.fork_planned()  # before the reading ahead's thread exists
        prefetch.start(logs, reading, opts.get("config_file"), opts.get("site"))

    return start


@cli.command()
@report_options
@visit_timeout_option
@click.option("--visitor", metavar="IP", help="List this client's visits and clickstream.")
@click.option("--ua", metavar="TEXT", help="With --visitor: only user agents containing TEXT.")
@command
def visits(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Visits (sessions): clicks per visit, durations, bounce rate, entry and exit pages.

    A visit is a run of page views by one (IP, user agent) with no gap over the timeout.
    People only unless --bots include. Examples:

    \b
    logaudit visits sample_logs/ --visit-timeout 60
    logaudit visits sample_logs/ --visitor 81.2.69.142
    """
    _run("visits", logs, fmt, output, _settings(opts))


@cli.command()
@report_options
@command
def visitors(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Who the visitors are: top visitors (IP, country, network, browser, OS), and panels of
    countries, networks, browsers, systems, devices, crawlers and tools.

    Places need a GeoIP2/GeoLite2 or DB-IP database (.mmdb); without one they read 'unknown'
    and the report says how to add one. Example:

    \b
    logaudit visitors sample_logs/ --top 20
    logaudit visitors /var/log/nginx/access.log* --geoip-dir /usr/share/GeoIP
    """
    _run("visitors", logs, fmt, output, _settings(opts))


@cli.command()
@report_options
@click.option(
    "--every",
    type=click.Choice(list(names.EVERY)),
    default="auto",
    help="Period length (auto: hours for a day, days up to ~2 months, then weeks, months).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=click.Choice(list(names.METRICS)),
    help="Metrics to chart (repeatable; the table shows them all).",
)
@visit_timeout_option
@command
def trends(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Traffic over hours, days, weeks or months: what changed and what is unusual.

    One row per period, oldest first, empty periods as zeros (periods no input covers are a
    gap, said once and never compared); the change of the last complete period (one the logs
    cover wholly) against the one before and a week earlier; the pages, referring sites,
    countries and browsers that moved most; periods far from their recent baseline. Examples:

    \b
    logaudit trends /var/log/nginx/access.log* --every week
    logaudit trends sample_logs/weeks/ --every week
    logaudit trends sample_logs/ --since 2026-01-24 --metric visitors --metric page_views
    logaudit trends sample_logs/ --every day --format csv
    """
    # CSV's own rows (no sparkline) when CSV is asked for; -o's extension is checked by _run,
    # which knows a mail's --dry-run -o x.eml from a report's -o.
    csv = fmt == "csv" or (fmt is None and output is not None and output.suffix.lower() == ".csv")
    _run("trends", logs, fmt, output, _settings({**opts, "csv": csv}))


@cli.command()
@report_options
@click.option(
    "--detail",
    type=click.Choice(["low", "med", "high"]),
    default="med",
    show_default=True,
    help="How much follows the headline (as logwatch).",
)
@digest_goal_options
@visit_timeout_option
@command
def digest(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """The daily digest: yesterday's headline figures against the day before and a week
    before, what is unusual, problems, top pages and referrers; mailed with --mail-to (or
    to mail.to in the config). Whole local days; default --since yesterday --until today
    (--since alone: that day; a relative one, 7d or 12h, runs to now as summary's: the
    days from its day to yesterday, compared with as many before; --until alone: the day
    before it).

    \b
    logaudit digest /var/log/nginx/access.log* --mail-to ops@example.com
    logaudit digest sample_logs/weeks/ --since 2026-01-24 --detail high
    """
    from logaudit import api

    settings = _settings(opts)
    logs = logs or settings.logs
    if settings.state is not None:
        _state_files(logs)
    # --state alone: the digest of what the store holds.
    inputs = api.open_inputs(logs) if logs or settings.state is None else []
    if output is not None:
        refuse_inputs(output, [i.path for i in inputs if i.path is not None])
    args = logs if logs or settings.state is None else ()
    outcome = api.digest(args, settings, opts.get("detail") or "med")
    _finish_mail(outcome, settings, fmt, output, inputs)


@cli.command()
@report_options
@campaign_options
@visit_timeout_option
@command
def sources(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Where visits come from: campaigns, ads, affiliates, search (with keyphrases), social,
    email, referrals, direct; with --goal, what each source converts.

    Each visit's source is taken from its entry page: campaign tags (utm_*, mtm_*, pk_*),
    then ad click ids (gclid, msclkid, ...), then affiliate parameters (ref, aff, ...), then
    the Referer. Examples:

    \b
    logaudit sources /var/log/nginx/access.log*
    logaudit sources sample_logs/ --site-host shop.example.com --goal /order/complete
    """
    _run("sources", logs, fmt, output, _settings(opts))


@cli.command()
@report_options
@click.option(
    "--every",
    "problems_every",
    type=click.Choice(["auto", "1m", "5m", "15m", "1h", "6h", "1d"]),
    default="auto",
    help="Interval of the error timeline (auto: at most 72 rows).",
)
@click.option(
    "--last", metavar="DURATION", help="Compare the last 15m (2h...) with the hour before."
)
@click.option("--no-group", is_flag=True, help="Keep ids, UUIDs and hashes in paths as logged.")
@click.option("--max-5xx-rate", metavar="RATE", help="Exit 10 when 5xx exceed this (2%, 0.02).")
@click.option("--max-4xx-rate", metavar="RATE", help="Exit 10 when 4xx exceed this.")
@click.option("--max-p95", metavar="TIME", help="Exit 10 when the p95 exceeds this (800ms, 5h).")
@click.option("--max-p99", metavar="TIME", help="Exit 10 when the p99 response time exceeds this.")
@command
def problems(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """What is failing, since when, for whom, how slowly, and who is attacking.

    Sections: headline (worst first), error-timeline, failing-urls, slow-endpoints,
    slow-requests, suspicious-clients, and now (with --last). With a --max-... threshold
    breached the exit code is 10, after the report is written. Examples:

    \b
    logaudit problems /var/log/nginx/access.log*
    logaudit problems access.log --last 15m
    logaudit problems access.log --max-5xx-rate 2% --max-p95 800ms
    """
    from dataclasses import replace

    from logaudit.analyze.problems import limits

    settings = _settings(opts)
    extra: dict[str, Any] = {
        "problems_every": opts.get("problems_every"),
        "group": not opts.get("no_group"),
    }
    if opts.get("last"):
        extra["last"] = limits.duration(opts["last"])
    thresholds: dict[str, float] = {}
    for key, read in (("5xx_rate", limits.rate), ("4xx_rate", limits.rate),
                      ("p95", limits.seconds), ("p99", limits.seconds)):
        value = opts.get("max_" + key)
        if value:
            thresholds[key] = read(value, "--max-" + key.replace("_", "-"))
    extra["thresholds"] = thresholds
    _run("problems", logs, fmt, output, replace(settings, extra={**settings.extra, **extra}))


@cli.command()
@report_options
@command
def privacy(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """What personal data the logs hold, and where: e-mail addresses, phone numbers, card
    numbers (Luhn), IBANs, JWTs, tokens, passwords and session ids in parameters, password-reset
    links, credentials in URLs, in paths, query strings, referrers, user agents and user names.

    Exit 12 when anything is found (after the report is written). Values are shown masked.
    Rules: enrich/pii_rules.tsv and the config's [privacy_rules] (docs/privacy.md). Example:

    \b
    logaudit privacy /var/log/nginx/access.log*
    """
    _run("privacy", logs, fmt, output, _settings(opts))


@cli.command()
@click.argument("logs", nargs=-1, type=_LogName(), metavar="LOG...")
@click.option("-o", "--output", type=_Named(dir_okay=False),
              help="Write the scrubbed log here (- for stdout), in the input's compression.")
@click.option("--in-place", is_flag=True,
              help="Replace each LOG, once its scrubbed copy is complete (mode and owner kept).")
@click.option("--ip", type=click.Choice(["mask", "hash", "keep"]), default="mask",
              show_default=True, help="Client addresses (and user names): masked as --anonymize, "
              "keyed hashes, or kept.")
@click.option("--mask-bytes", type=click.IntRange(1, 3), default=None,
              help="With --ip mask: IPv4 bytes zeroed (IPv6 keeps 48, 32, 24 bits). [1]")
@click.option("--log-format", metavar="NAME|FORMAT", help=LOG_FORMAT_HELP)
@click.option("--config", "config_file", type=_Named(dir_okay=False),
              help="Config file ([privacy_rules], secret_file, mask_bytes).")
@click.option("--debug", is_flag=True, hidden=True)
@command
def scrub(logs: tuple[str, ...], output: Path | None, in_place: bool, ip: str,
          **opts: Any) -> None:
    """Rewrite a log with the personal data `logaudit privacy` finds masked (REDACTED), and
    client addresses masked, hashed or kept; every other byte as it was, bad lines passed
    through unchanged (and counted). Apache/nginx formats. Examples:

    \b
    logaudit scrub access.log -o access.clean.log
    logaudit scrub access.log.1.gz --ip mask --in-place     # logrotate postrotate
    """
    from logaudit import scrub as scrub_mod

    if not logs or "-" in logs:
        raise click.UsageError("name the log file(s) to scrub (stdin is not supported)")
    if in_place == (output is not None):
        raise click.UsageError("give either -o FILE or --in-place")
    if output is not None and len(logs) != 1:
        raise click.UsageError("-o takes one LOG; use --in-place for several")
    overrides = {"log_format": opts.get("log_format"), "mask_bytes": opts.get("mask_bytes")}
    settings = _loaded(overrides, config_file=opts.get("config_file"))
    for log in logs:
        path = Path(log)
        if output is not None and str(output) == "-":
            result = scrub_mod.scrub_to_stdout(path, settings, ip)
        else:
            if output is not None and output.exists() and output.resolve() == path.resolve():
                raise click.UsageError("-o is the input itself: use --in-place")
            result = scrub_mod.scrub_file(path, output, settings, ip)
            _warn_exposed(output)
        click.echo(f"logaudit: {safe(result.message())}", err=True)


def _make_records_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``records``: the report commands' input, time and filter options, and
    its own --fields/--limit/--sort/--format."""
    from logaudit.records import FIELDS, RECORD_FORMATS

    opts = [
        click.argument("logs", nargs=-1, type=_LogName(), metavar="LOG..."),
        click.option("--log-format", metavar="NAME|FORMAT", help=LOG_FORMAT_HELP),
        *client_options,
        click.option(
            "--since", metavar="WHEN", help="From this time (2026-11-24, 7d: midnight 7 days ago)."
        ),
        click.option("--until", metavar="WHEN", help="Up to (not including) this time."),
        click.option("--tz", metavar="ZONE", help="Time zone for --since/--until."),
        click.option("--bots", type=click.Choice(list(BOTS_MODES)), default=None,
                     help="exclude or only: leave crawlers out, or keep only them."),
        click.option("--fields", metavar="A,B,...",
                     help=f"Columns to write (default: time, client, request, status...): "
                     f"{', '.join(FIELDS)}."),
        click.option("--limit", type=click.IntRange(1), default=None, help="At most N rows."),
        click.option("--sort", metavar="FIELD", help="Sort by FIELD (-FIELD: descending)."),
        click.option("--format", "fmt", type=click.Choice(list(RECORD_FORMATS)), default=None,
                     help="table (default on a terminal), jsonl, csv or parquet "
                     "(default from -o's extension)."),
        click.option("-o", "--output", type=_Named(dir_okay=False),
                     help="Write to a file."),
        click.option("--geoip-dir", type=_Named(),
                     help="Folder of .mmdb databases."),
        strict_option,
        click.option("--debug", is_flag=True, hidden=True),
        *config_options,
        *anonymize_options,
    ]
    f = filter_options(f)  # innermost: listed after the options above in --help
    for opt in reversed(opts):
        f = opt(f)
    return f


_records_options = later(_make_records_options)


def _followed(inputs: list[Input]) -> list[Path]:
    """The files ``records --follow`` and ``watch`` follow: each input said in one line when it
    is missing (a file not there yet is followed once it appears, as ``tail -F``; a pattern
    matching nothing or a folder is not) or a folder's note (not a file)."""
    from logaudit.sources import appears_later, compressed, said

    for i in inputs:
        problem = said(i)
        if problem is not None:
            more = "; followed when it appears" if appears_later(i) else ""
            click.echo(f"logaudit: {safe(str(problem))}{more}", err=True)
    chosen = [
        (i, i.path) for i in inputs if i.path is not None and i.note is None
        and (i.missing is None or appears_later(i))
    ]
    # A compressed file never grows (a rotated one): following its bytes as lines made exit 4
    # "format not recognised" quoting binary bytes (watch) or waited in silence (--follow).
    packed = {p: kind for _, p in chosen if (kind := compressed(p)) is not None}
    if packed and len(packed) == len(chosen):  # nothing else to follow: wrong usage
        p, kind = next(iter(packed.items()))
        raise LogauditError(
            f"{p}: {kind}-compressed: a compressed file cannot be followed (name the live "
            "log; summary and records read a compressed one)",
            ExitCode.USAGE,
        )
    in_folder: dict[str, list[str]] = {}
    for i, p in chosen:
        if p in packed:
            if i.found_in is not None:  # a folder's rotated archives: one line per folder
                in_folder.setdefault(i.found_in, []).append(p.name)
            else:
                click.echo(f"logaudit: {safe(i.name)}: {packed[p]}-compressed: a "
                           "compressed file cannot be followed; not followed", err=True)
    for folder, found in in_folder.items():
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        click.echo(f"logaudit: {safe(folder)}: {counted(len(found), 'compressed file')} in it "
                   f"not followed ({safe(shown)})", err=True)
    return [p for _, p in chosen if p not in packed]


def _no_url(logs: Sequence[str], wrong: Callable[[str], str]) -> None:
    """Wrong usage (exit 2) when a LOG is a URL, found or not, said before any input is opened:
    no request is made (a host that does not answer is not waited for) and a missing URL is
    not exit 3 when a found one is exit 2. A user name or password in it is refused first,
    without showing the URL (``remote.refuse_credentials``). ``wrong``: the message for it."""
    from logaudit import remote

    for log in logs:
        if remote.is_url(log):
            remote.refuse_credentials(log)
            raise LogauditError(wrong(log), ExitCode.USAGE)


def _followed_files(what: str, logs: Sequence[str]) -> None:
    """watch and records --follow follow files: a URL is wrong usage, before anything is
    opened (it made an all-missing exit 3 before the usage was looked at)."""
    _no_url(logs, lambda url: f"{what} follows files: name them, not {url}, a URL")


def _state_files(logs: Sequence[str]) -> None:
    """--state comes back to a file by its device, inode and offset: a URL, found or not, is
    wrong usage before anything is opened (a missing one was exit 3 and a report, "tried
    again" by a next run that then ended in exit 2 once it could be read)."""
    _no_url(logs, lambda url: f"--state reads local files only: {url} is a URL (copy the "
            "logs to local files, or run without --state)")


def _files_only(what: str, inputs: list[Input]) -> None:
    """Wrong usage (exit 2) when an input is not a file: stdin (a URL is refused before the
    inputs are opened, ``_followed_files``)."""
    if any(i.path is None for i in inputs):
        raise LogauditError(f"{what} follows files: name them, not -", ExitCode.USAGE)


def _found_in(inputs: list[Input]) -> dict[Path, str]:
    """The followed files found by walking a folder: one that holds no log is skipped."""
    return {i.path: i.found_in for i in inputs if i.path is not None and i.found_in is not None}


def _follow(inputs: list[Input], settings: Any, query: Any, fmt: str, output: Path | None) -> None:
    """records --follow: until Ctrl-C (exit 0) or --limit rows."""
    from logaudit.follow import follow

    _files_only("--follow", inputs)
    paths = _followed(inputs)
    with atomic_output(output, settings.mode, paths) as out:
        result = follow(
            paths, settings, query, fmt, out,
            on_note=lambda m: click.echo(f"logaudit: {safe(m)}", err=True),
            found_in=_found_in(inputs),
        )
    for p in result.problems:
        click.echo(f"logaudit: {safe(p)}", err=True)
    from logaudit.api import unread

    # The lines that were no rows, said when the follow ends, as records says them.
    for m in unread(result.bad, settings):
        click.echo(f"logaudit: {safe(m)}", err=True)
    if result.stopped is not None:
        raise result.stopped  # exit 143/129 through ``command``, after -o FILE is written


_RECORD_EXT = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


@cli.command()
@_records_options
@click.option(
    "--follow", "-f", is_flag=True,
    help="Keep going: new requests as they are written (tail -F: a log not there yet is "
    "waited for).",
)
@command
def records(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """The matching requests themselves, streamed (memory stays flat without --sort).

    Takes every filter of the report commands. Examples:

    \b
    logaudit records access.log --status 404 --client 203.0.113.0/24 -o 404s.parquet
    logaudit records access.log --since '2026-12-01 13:00' --until '2026-12-01 13:10' | less
    logaudit records access.log --status 5xx --fields time,path,status,browser --format jsonl
    """
    from logaudit import api
    from logaudit import records as rec

    query = rec.Query(
        rec.parse_fields(opts.get("fields")), opts.get("limit"), rec.check_sort(opts.get("sort"))
    )
    fmt = fmt or (_RECORD_EXT.get(output.suffix.lower(), "table") if output else "table")
    if fmt == "parquet" and output is None and sys.stdout.isatty():
        raise LogauditError("parquet is binary: give -o FILE or pipe it", ExitCode.USAGE)
    if opts.get("follow") and opts.get("strict"):
        # --strict fails a finished read that met a bad line (exit 6); a follow never finishes.
        raise LogauditError(
            "--strict checks a finished read: it cannot be used with --follow", ExitCode.USAGE
        )
    settings = _settings(opts)
    logs = logs or settings.logs  # the config's (or --site's) logs, as the reports read them
    if opts.get("follow"):
        _followed_files("--follow", logs)
    inputs = api.open_inputs(logs, follow=bool(opts.get("follow")))
    if opts.get("follow"):
        _follow(inputs, settings, query, fmt, output)
        return
    paths = [i.path for i in inputs if i.path is not None]
    try:
        with atomic_output(output, settings.mode, paths) as out:
            outcome = api.records(logs, settings, query, fmt, out, inputs)
            if outcome.unwritten:
                # Failing inside the output removes its temp file: an existing -o FILE
                # stays as it was, as summary leaves it.
                raise _Unwritten(outcome)
    except _Unwritten as e:
        _finish(e.outcome, None, None, settings, inputs)
        return
    _warn_exposed(output)
    _finish(outcome, None, None, settings, inputs)


class _Unwritten(Exception):
    """records parsed no line: leave the -o file alone, then fail with the outcome."""

    def __init__(self, outcome: api.Outcome) -> None:
        super().__init__()
        self.outcome = outcome


@cli.command()
@report_options
@campaign_options
@visit_timeout_option
@command
def campaigns(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Conversions and revenue per source, campaign, keyphrase and affiliate, and the
    commissions owed, with the conversions behind each so a partner's claim can be checked.

    A visit converts at most once per goal; crawlers never convert. Examples:

    \b
    logaudit campaigns access.log* --goal /order/complete
    logaudit campaigns access.log* --goal /order/complete --commission acme=10% \\
        --commission bigblog=2.50
    logaudit campaigns access.log* --goal signup=/signup/done --attribution first --window 60d
    """
    _run("campaigns", logs, fmt, output, _settings(opts))


@cli.command()
@command
def formats(**_: Any) -> None:
    """The log formats logaudit reads, with an example line each.

    Any other layout: --log-format 'apache:%h %l %u %t "%r" %>s %b %D' or
    --log-format 'nginx:$remote_addr ... $request_time', or a name from the config's
    [formats] table.
    """
    from logaudit.formats import FORMATS
    from logaudit.render.plain import DIM, Lines  # as rich would print it, without rich

    out = Lines()
    for f in FORMATS.values():
        also = f" (also {', '.join(f.aliases)})" if f.aliases else ""
        out.print(f"{f.name} {also} {f.title}", bold=len(f.name))
        for sample in f.samples[: 2 if f.samples[0].startswith("#") else 1]:
            out.unwrapped("  " + sample, DIM)
    out.print(
        "\nOr give the server's own format string: --log-format 'apache:<LogFormat>', "
        "'nginx:<log_format>' or 'goaccess:<log-format> --date-format=...'; "
        "--log-format auto+ reads a file that mixes formats line by line "
        "(see README, \"Log formats\")."
    )


@cli.command()
@command
def sections(**_: Any) -> None:
    """The report sections, for --section."""
    for name, title in SECTIONS.items():
        click.echo(f"{name:18} {title}")


@cli.command("config")
@click.option(
    "--config",
    "config_file",
    type=_Named(dir_okay=False),
    help="The user's config file, instead of looking for one (the system file is read under it).",
)
@click.option("--site", metavar="NAME", help="With the config's [sites.NAME] table laid over.")
@click.option("--json", "as_json", is_flag=True, help="As JSON: {name: {value, origin}}.")
@click.option("--debug", is_flag=True, hidden=True)
@command
def config_cmd(config_file: Path | None, site: str | None, as_json: bool, **_: Any) -> None:
    """The effective settings, where each came from, secrets masked.

    \b
    logaudit config
    LOGAUDIT_TOP=20 logaudit config --config /etc/logaudit/logaudit.toml
    """
    from logaudit.config import SYSTEM_CONFIG, candidates, effective

    s = _loaded({}, config_file=config_file, site=site, format_checked=False)
    rows = effective(s)
    if as_json:
        import json

        body = {n: {"value": v, "origin": o} for n, v, o in rows}
        doc = {
            "config_file": str(s.config_file) if s.config_file else None,
            "config_files": [str(f) for f in s.config_files],
            "site": s.site,
            "settings": body,
            "notes": list(s.notes),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    for f in s.config_files:  # lowest first: a later file's values are laid over
        role = " (system: its anonymize is a floor)" if f == SYSTEM_CONFIG else ""
        click.echo(f"config file: {safe(f)}{role}")
    if not s.config_files:
        looked = ", ".join(str(p) for p in (*candidates(), SYSTEM_CONFIG))
        click.echo(f"config file: none (looked for {safe(looked)})")
    if s.site:
        click.echo(f"site: [sites.{safe(s.site)}] laid over the top level")
    width = max(len(n) for n, _, _ in rows)
    for n, v, o in rows:
        click.echo(f"{n:{width}}  {safe(v)}  [{safe(o)}]")


def _interval(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """nan passes FloatRange (no comparison holds): refused like 1e308 and inf, which slept
    past time_t after the first refresh (QA18 #2)."""
    if value != value:
        raise click.BadParameter(f"{value} is not a number of seconds", param_hint="--interval")
    return value


@cli.command()
@click.argument("logs", nargs=-1, required=True, type=_LogName(), metavar="LOG...")
@click.option("--interval", type=click.FloatRange(0.2, 3600), default=2.0, show_default=True,
              callback=_interval, help="Seconds between refreshes (0.2 to 3600).")
@click.option("--log-format", metavar="NAME|FORMAT", help=LOG_FORMAT_HELP)
@click.option("--bots", type=click.Choice(list(BOTS_MODES)), default=None,
              help="include (default here too: auto), exclude or only.")
@click.option("--debug", is_flag=True, hidden=True)
@command
def watch(logs: tuple[str, ...], interval: float, **opts: Any) -> None:
    """Live view of LOG... (following rotation): requests per second, 5xx rate, p95, top
    pages, referrers, clients and status codes for the last 5 minutes and the last hour.
    A LOG not there yet is waited for (as tail -F). q quits. Not on a terminal: one summary
    line per refresh.

    \b
    logaudit watch /var/log/nginx/access.log
    """
    from logaudit import api
    from logaudit.watch import Watcher, lines

    overrides = {"log_format": opts.get("log_format"), "bots": opts.get("bots")}
    settings = _loaded(overrides)
    _followed_files("watch", logs)
    inputs = api.open_inputs(logs, follow=True)
    _files_only("watch", inputs)
    watcher = Watcher(_followed(inputs), settings, _found_in(inputs))
    if sys.stdout.isatty():
        from logaudit.render import live

        live.run(watcher, " ".join(logs), interval)
        return
    import time

    try:
        lines(watcher, sys.stdout, interval, lambda: False, time.sleep)
    except Stopped:
        raise  # SIGTERM/SIGHUP: exit 143/129 through ``command``, not 0
    except KeyboardInterrupt:
        return



# The history store (docs/store.md): looking after it.
def _state_root(state: Path | None, config_file: Path | None = None) -> Path:
    root = state or load({}, config_file=config_file).state
    if root is None:
        raise click.UsageError("give --state DIR (or state = \"...\" in the config file)")
    return Path(root).expanduser()


_state_option = click.option(
    "--state",
    type=_Named(file_okay=False),
    help="The store's folder (default: state in the config file).",
)
_wait_option = click.option("--wait", is_flag=True, help="Wait for a run holding the store.")


@cli.group()
def state() -> None:
    """Look after the history store that --state keeps (docs/store.md).

    \b
    logaudit state info --state ~/.local/state/logaudit/shop
    logaudit state prune --older-than 400d --state ~/.local/state/logaudit/shop
    (--state may be left out when the config file says state = "...")
    """


@state.command("info")
@_state_option
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@command
def state_info(state: Path | None, as_json: bool) -> None:
    """Days held, size, inputs and their offsets, the settings it was written with."""
    import json

    from logaudit.store import manage

    got = manage.info(_state_root(state))
    if as_json:
        click.echo(json.dumps(got, indent=1))
        return
    click.echo(f"store      {safe(got['store'])}")
    span = f"{got['first_day']} .. {got['last_day']}" if got["days"] else "none"
    click.echo(f"days       {got['days']:,} ({span})")
    click.echo(f"closed     {got.get('closed_days', 0):,} (per-page visitors kept as counts)")
    click.echo(f"months     {len(got.get('months_rolled_up', [])):,} rolled up (a file per table)")
    click.echo(f"size       {got['bytes'] / 1e6:,.1f} MB in {counted(got['files'], 'file')}")
    for k, v in got["settings"].items():
        click.echo(f"setting    {k} = {safe(json.dumps(v))}")
    for r in got["inputs"]:
        click.echo(
            f"input      {safe(r['name'])}: {counted(r['lines'] or 0, 'line')}, "
            f"offset {r['offset'] or 0:,} (last seen {r['seen']})"
        )


@state.command("verify")
@_state_option
@_wait_option
@command
def state_verify(state: Path | None, wait: bool) -> None:
    """Re-check every file's checksum and row count; exit 7 if any is wrong."""
    from logaudit.store import manage

    problems = manage.verify(_state_root(state), None if wait else 0.0)
    for p in problems:
        click.echo(f"logaudit: {safe(p)}", err=True)
    if problems:
        raise LogauditError(
            f"{len(problems)} problem(s): `logaudit state rebuild LOG...` remakes the store",
            ExitCode.CONFIG,
        )
    click.echo("store is sound")


@state.command("prune")
@_state_option
@_wait_option
@click.option("--older-than", default="400d", show_default=True, help="Age: 400d, 8w, 13mo, 1y.")
@click.option("--yes", is_flag=True, help="Needed with --older-than 0 (every day before today).")
@command
def state_prune(state: Path | None, wait: bool, older_than: str, yes: bool) -> None:
    """Remove the days older than --older-than (0, every day before today: only with --yes)."""
    from logaudit.store import manage

    age = manage.age_days(older_than)
    gone = manage.prune(_state_root(state), age, None if wait else 0.0, yes=yes)
    click.echo(f"removed {len(gone)} day(s)" + (f": {gone[0]} .. {gone[-1]}" if gone else ""))


@state.command("rebuild")
@click.argument("logs", nargs=-1, type=_LogName(), metavar="LOG...")
@_state_option
@_wait_option
@click.option("--tz", metavar="ZONE", help="Days in this IANA zone (default: the log's offset).")
@click.option("--bots", type=click.Choice(list(BOTS_MODES)), default=None, help="As for reports.")
@command
def state_rebuild(
    logs: tuple[str, ...], state: Path | None, wait: bool, tz: str | None, bots: str | None
) -> None:
    """Re-read the logs from the start into a new store, swapped in when complete."""
    from logaudit import api
    from logaudit.store import manage

    settings = load({"tz": tz, "bots": bots})
    root = _state_root(state)
    logs = logs or settings.logs
    _state_files(logs)
    inputs = api.open_inputs(logs)
    r = manage.rebuild(root, inputs, settings, None if wait else 0.0)
    for p in r.problems:
        click.echo(f"logaudit: {safe(p)}", err=True)
    click.echo(f"rebuilt {safe(root)}: {counted(sum(r.lines.values()), 'line')} read")



def main() -> None:
    # Each cyclic-GC pass would re-scan the ~10^5 long-lived objects the imports made (pandas,
    # pyarrow, ua-parser); freezing them and collecting the young generation less often is
    # harmless (cycles are still collected, peak memory unchanged). Measured gain on a 1M-line
    # summary: 0.05-0.15 s in alternated runs, within the noise of a single run.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    install_signals()
    from logaudit.enrich import agentproc

    agentproc.allow()  # the program itself: a small log's agents may go to a helper
    try:
        cli(prog_name="logaudit")
        code: object = None
    except SystemExit as e:
        code = e.code
    _leave(code)


def _leave(code: object) -> NoReturn:
    """Flush the standard streams and end the process without tearing its heap down: freeing
    a run's objects one by one took about 0.1 s after a 1M-line summary, and nothing is left
    to clean up (outputs are closed, workers joined; the one other thread is a daemon)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"), as Python reports it
        sys.stderr.write(f"{code}\n")
        status = 1
    try:
        if sys.stdout is not None:  # None when the command ran with stdout closed
            sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader left after our last write: what it read is what it wanted
    except OSError as e:
        status = int(ExitCode.OUTPUT)
        if sys.stderr is not None:
            sys.stderr.write(f"logaudit: cannot write the output: {safe(e.strerror or e)}\n")
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except OSError:
        pass
    os._exit(status)
