"""The command line: Click only. Options -> Settings -> one library call -> render.

Domain errors become one line on stderr and a documented exit code (``errors.ExitCode``);
only an internal bug shows a traceback, and only with ``--debug``.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click

from logaudit import __version__, api
from logaudit.analyze import SECTIONS
from logaudit.analyze import trends as trends_mod
from logaudit.config import BOTS_MODES, load
from logaudit.errors import ExitCode, LogauditError
from logaudit.formats import FORMATS
from logaudit.render import RENDERERS
from logaudit.render.escape import safe
from logaudit.sources import Input
from logaudit.timespec import parse_when

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
_EXT_FORMATS = {".json": "json", ".csv": "csv"}


def report_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options every report command shares, written once."""
    opts = [
        click.argument("logs", nargs=-1, metavar="LOG..."),
        click.option(
            "--log-format",
            metavar="NAME|FORMAT",
            help=f"Skip detection: {', '.join(FORMATS)} (see `logaudit formats`), a "
            "[formats] name from the config, an Apache LogFormat / nginx log_format / GoAccess "
            "string (apache:..., nginx:..., goaccess:...), or auto+ for a file mixing formats.",
        ),
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
        click.option(
            "--since", metavar="WHEN", help="From this time (2026-11-24, yesterday, 7d...)."
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
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write to a file.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            default=None,
            help=f"Exit {int(ExitCode.BAD_LINES)} if any line is bad.",
        ),
        click.option(
            "--site-host", "site_hosts", multiple=True, help="The site's own host (repeatable)."
        ),
        click.option(
            "--geoip-dir", type=click.Path(path_type=Path), help="Folder of .mmdb databases."
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
            "--section",
            "sections",
            multiple=True,
            type=click.Choice(list(SECTIONS)),
            help="Only these sections (repeatable); `logaudit sections` lists them.",
        ),
        click.option("--debug", is_flag=True, hidden=True),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


visit_timeout_option = click.option(
    "--visit-timeout",
    type=click.IntRange(1),
    default=None,
    metavar="MINUTES",
    help="Gap that ends a visit. [30]",
)


def _settings(opts: dict[str, Any]) -> Any:
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
        "sections": tuple(opts.get("sections") or ()),
        "visit_timeout": opts["visit_timeout"] * 60 if opts.get("visit_timeout") else None,
        "client_from": opts.get("client_from"),
        "trusted_proxies": tuple(opts.get("trusted_proxies") or ()),
    }
    if opts.get("ua") and not opts.get("visitor"):
        raise click.UsageError("--ua goes with --visitor")
    extra: dict[str, Any] = {}
    if opts.get("visitor"):
        extra.update(visitor=opts["visitor"], ua=opts.get("ua"))
    if opts.get("every"):
        extra.update(every=opts["every"], metrics=tuple(opts.get("metrics") or ()))
        extra["csv"] = bool(opts.get("csv"))
    if extra:
        overrides["extra"] = extra
    if opts.get("since"):
        overrides["since"] = parse_when(opts["since"], tz)
    if opts.get("until"):
        overrides["until"] = parse_when(opts["until"], tz)
    if tz:
        from logaudit.enrich.classify import zone

        zone(tz)  # fail early, with the one-line message
    settings = load(overrides)
    if settings.log_format and settings.log_format != "auto+":
        from logaudit.formats import resolve

        try:
            resolve(settings.log_format, settings.formats)
        except LogauditError as e:
            raise click.UsageError(str(e)) from None
    return settings


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


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """stdout; a regular file written whole or not at all (a temp file renamed into place,
    through any symlink, which stays); or, for a device or FIFO (/dev/null, a pipe), the path
    itself, written in place: renaming over it would replace the device with a file."""
    if path is None:
        yield sys.stdout
        return
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        try:
            f = open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as e:
            raise LogauditError(f"{path}: cannot write ({e.strerror})", ExitCode.OUTPUT) from None
        with f:
            yield f
        return
    d = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".logaudit-", dir=d)
    except OSError as e:
        raise LogauditError(f"{path}: cannot write here ({e.strerror})", ExitCode.OUTPUT) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise LogauditError(f"{path}: cannot write ({e.strerror})", ExitCode.OUTPUT) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _format_of(fmt: str | None, output: Path | None) -> str:
    """--format, else from -o's extension, else the terminal."""
    if fmt is not None:
        return fmt
    return _EXT_FORMATS.get(output.suffix.lower(), "terminal") if output else "terminal"


def _emit(report: Any, fmt: str | None, output: Path | None) -> None:
    fmt = _format_of(fmt, output)
    with _output(output) as out:
        if fmt == "terminal" and output is not None:
            # A text file: no colour codes, and lines as wide as a report reader expects.
            from rich.console import Console

            from logaudit.render.terminal import render

            render(report, console=Console(file=out, width=120, color_system=None))
        else:
            RENDERERS[fmt](report, out)


def _finish(outcome: api.Outcome, fmt: str | None, output: Path | None) -> None:
    if outcome.report is not None:
        _emit(outcome.report, fmt, output)
    for m in outcome.messages:
        click.echo(f"logaudit: {safe(m)}", err=True)
    if outcome.exit_code:
        sys.exit(int(outcome.exit_code))


def _run(
    name: str, logs: tuple[str, ...], fmt: str | None, output: Path | None, settings: Any
) -> None:
    """Every report command: open the inputs, run with a progress bar, render, exit."""
    inputs = api.open_inputs(logs)
    with _progress(inputs, settings.progress) as on_progress:
        outcome = api.report(name, logs, settings, settings.sections, on_progress, inputs)
    _finish(outcome, fmt, output)


def _reader_left() -> None:
    """The reader of our output went away (``| head``): what it read is what it wanted. Stop
    quietly with 0; stdout now points at /dev/null so the final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(int(ExitCode.OK))


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
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - the last line of defence, with --debug to see
            if debug:
                raise
            click.echo(
                f"logaudit: internal error: {safe(type(e).__name__)}: {safe(e)} "
                "(run again with --debug for the traceback, and please report it)",
                err=True,
            )
            sys.exit(int(ExitCode.ERROR))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="logaudit")
def cli() -> None:
    """logaudit: what your web server's access logs say, fast and safely.

    \b
    logaudit summary /var/log/nginx/access.log*
    zcat old.log.gz | logaudit summary -
    logaudit summary access.log --format json -o summary.json
    """


@cli.command()
@report_options
@command
def summary(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Traffic overview with GoAccess-style panels, from one or more logs.

    LOG may be a file (.gz, .bz2, .xz included), a directory or glob of rotated files (read
    oldest first), or - for stdin. Example:

    \b
    logaudit summary sample_logs/ --top 5 --section pages --section referring-sites
    """
    _run("summary", logs, fmt, output, _settings(opts))


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
    logaudit visitors sample_logs/ --geoip-dir /usr/share/GeoIP --top 20
    """
    _run("visitors", logs, fmt, output, _settings(opts))


@cli.command()
@report_options
@click.option(
    "--every",
    type=click.Choice(list(trends_mod.EVERY)),
    default="auto",
    help="Period length (auto: hours for a day, days up to ~2 months, then weeks, months).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=click.Choice(list(trends_mod.METRICS)),
    help="Metrics to chart (repeatable; the table shows them all).",
)
@visit_timeout_option
@command
def trends(logs: tuple[str, ...], fmt: str | None, output: Path | None, **opts: Any) -> None:
    """Traffic over hours, days, weeks or months: what changed and what is unusual.

    One row per period, oldest first, empty periods as zeros; the change of the last complete
    period against the one before and a week earlier; the pages, referring sites, countries
    and browsers that moved most; periods far from their recent baseline. Examples:

    \b
    logaudit trends /var/log/nginx/access.log* --every week
    logaudit trends sample_logs/ --since 7d --metric visitors --format csv
    """
    _run("trends", logs, fmt, output, _settings({**opts, "csv": _format_of(fmt, output) == "csv"}))


@cli.command()
@command
def formats(**_: Any) -> None:
    """The log formats logaudit reads, with an example line each.

    Any other layout: --log-format 'apache:%h %l %u %t "%r" %>s %b %D' or
    --log-format 'nginx:$remote_addr ... $request_time', or a name from the config's
    [formats] table.
    """
    from rich.console import Console
    from rich.text import Text

    con = Console()
    for f in FORMATS.values():
        also = f" (also {', '.join(f.aliases)})" if f.aliases else ""
        con.print(Text(f.name, style="bold"), Text(also + " " + f.title))
        for sample in f.samples[: 2 if f.samples[0].startswith("#") else 1]:
            con.print(Text("  " + sample), style="dim", soft_wrap=True)
    con.print(
        Text(
            "\nOr give the server's own format string: --log-format 'apache:<LogFormat>', "
            "'nginx:<log_format>' or 'goaccess:<log-format> --date-format=...'; "
            "--log-format auto+ reads a file that mixes formats line by line "
            "(see README, \"Log formats\")."
        )
    )


@cli.command()
@command
def sections(**_: Any) -> None:
    """The report sections, for --section."""
    for s in SECTIONS.values():
        click.echo(f"{s.name:18} {s.title}")


def main() -> None:
    # Each cyclic-GC pass would re-scan the ~10^5 long-lived objects the imports made (pandas,
    # pyarrow, ua-parser); freezing them and collecting the young generation less often is
    # harmless (cycles are still collected, peak memory unchanged). Measured gain on a 1M-line
    # summary: 0.05-0.15 s in alternated runs, within the noise of a single run.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
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
