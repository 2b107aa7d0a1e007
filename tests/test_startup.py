"""Start-up (issue #18, "Small logs"): the commands that read no data import no data stack.

`logaudit --help`, `formats`, `sections` and `config` (and every command's --help) must not
import pandas, pyarrow or numpy: they cost ~0.35 s of a 0.4 s run. These tests check which
modules a fresh interpreter holds afterwards (never a timing). The names the CLI offers before
data is read (``logaudit.names``) must be the registries' own, in the same order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "pyarrow", "numpy")

# Runs the CLI in process (as `logaudit ARGS...` does, without its os._exit) and prints which
# of the watched modules (by top-level or full name) were imported, and the output, as JSON.
_PROBE = """
import io, sys, contextlib
import logaudit.cli
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        logaudit.cli.cli(sys.argv[1:], prog_name="logaudit")
    except SystemExit as e:
        code = e.code or 0
heavy = sorted(m for m in sys.modules if m in {heavy!r} or m.split(".")[0] in {heavy!r})
import json  # after the look: json is one of the modules watched
print(json.dumps({{"code": code, "heavy": heavy, "out": out.getvalue()}}))
"""

def _probe(tmp_path: Path, *args: str, watch: tuple[str, ...] = HEAVY) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOGAUDIT_CONFIG": "/dev/null",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "COLUMNS": "100",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=set(watch)), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    got: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return got


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("formats",),
        ("sections",),
        ("config",),
        ("config", "--json"),
        ("summary", "--help"),
        ("trends", "--help"),
        ("state", "--help"),
    ],
)
def test_no_data_stack_without_data(tmp_path: Path, args: tuple[str, ...]) -> None:
    got = _probe(tmp_path, *args)
    assert got["code"] == 0
    assert got["out"], "the command printed nothing"
    assert got["heavy"] == [], f"{' '.join(args)} imported {got['heavy'][:5]}"


# What the commands without data still loaded after the data stack was gone, and do not use:
# the format registry (compiling every format's patterns; --log-format's help takes its names
# from logaudit.names), the mail stack (smtplib, ssl, email: `config` showed one folder
# name from deliver.mail), zoneinfo (for --since and --until), ctypes (for the helper
# processes: logaudit.procs) and rich (`formats` printed with it: logaudit.render.plain).
UNUSED = (
    "logaudit.formats", "logaudit.deliver.mail", "smtplib", "ssl", "email", "zoneinfo", "ctypes",
    "rich",
)


@pytest.mark.parametrize(
    "args", [("--help",), ("sections",), ("config",), ("config", "--json"), ("summary", "--help")]
)
def test_no_unused_modules_without_data(tmp_path: Path, args: tuple[str, ...]) -> None:
    got = _probe(tmp_path, *args, watch=UNUSED)
    assert got["code"] == 0
    assert got["out"], "the command printed nothing"
    assert got["heavy"] == [], f"{' '.join(args)} imported {got['heavy'][:5]}"


def test_probe_sees_the_registry_where_used(tmp_path: Path) -> None:
    """The probe can fail: `formats` loads the registry (and nothing else of UNUSED, nor the
    json and csv modules its readers use), a config naming a log format too."""
    heavy = _probe(tmp_path, "formats", watch=(*UNUSED, "json", "csv"))["heavy"]
    assert "logaudit.formats" in heavy
    assert [m for m in heavy if not m.startswith("logaudit.formats")] == []
    toml = tmp_path / "logaudit.toml"
    toml.write_text('log_format = "common"\n')
    got = _probe(tmp_path, "config", "--config", str(toml), watch=UNUSED)
    assert got["code"] == 0
    assert "logaudit.formats" in got["heavy"]


_ENVS = [
    {"COLUMNS": str(n), "TTY_COMPATIBLE": tty}
    for n in (1, 4, 7, 12, 23, 24, 40, 61, 79, 80, 100, 250)
    for tty in ("0", "1")
] + [
    {"TERM": "dumb", "TTY_COMPATIBLE": "1", "COLUMNS": "50"},
    {"TERM": "dumb", "TTY_COMPATIBLE": "1", "COLUMNS": "50", "LINES": "20"},
    {"TERM": "unknown", "FORCE_COLOR": "1"},
    {"FORCE_COLOR": "", "COLUMNS": "33"},
    {"FORCE_COLOR": "1", "COLUMNS": "x"},
    {},
]


def test_formats_text_is_what_plain_lines_can_lay_out() -> None:
    """render/plain.py lays out ASCII without tabs or control characters (rich would widen
    East Asian text, expand tabs, drop controls): every name, alias, title and sample that
    `formats` prints is such text, whatever rich version is installed."""
    from logaudit.formats import FORMATS

    for f in FORMATS.values():
        for text in (f.name, *f.aliases, f.title, *f.samples):
            assert text.isascii() and text.isprintable(), (f.name, text)


def test_plain_width_ignores_a_columns_of_no_use() -> None:
    from logaudit.render.plain import width

    for columns in ("0", "\u00b2", "-5", "x"):
        assert width({"COLUMNS": columns}, False) > 0, columns
    assert width({"COLUMNS": "33"}, False) == 33


@pytest.mark.parametrize("env", _ENVS)
def test_plain_lines_are_what_rich_prints(env: dict[str, str]) -> None:
    """`formats` prints without rich (render/plain.py) exactly what rich printed: the same
    width and styles for the same environment, the same word wrap."""
    import io
    from importlib import metadata

    from rich.console import Console
    from rich.text import Text

    if int(metadata.version("rich").split(".")[0]) < 15:
        pytest.skip("Lines follows rich 15's rules (TTY_COMPATIBLE, an empty FORCE_COLOR)")

    from logaudit.formats import FORMATS
    from logaudit.render.plain import DIM, Lines

    heads = [(f.name, f"(also {', '.join(f.aliases)}) {f.title}") for f in FORMATS.values()]
    heads += [("", "\nOr give the server's own --log-format 'nginx:<log_format>' or (see x).")]
    heads += [("bold", "a  bb   " + "c" * 30 + "  d " + "e" * 7 + "  ")]
    samples = [f.samples[0] for f in FORMATS.values()]
    ours, theirs = io.StringIO(), io.StringIO()
    lines = Lines(ours, env)
    con = Console(file=theirs, _environ=env)
    for name, rest in heads:
        lines.print(f"{name} {rest}", bold=len(name))
        con.print(Text(name, style="bold"), Text(rest))
    for sample in samples:
        lines.unwrapped("  " + sample, DIM)
        con.print(Text("  " + sample), style="dim", soft_wrap=True)
    assert ours.getvalue() == theirs.getvalue()
    assert ("\x1b[1m" in ours.getvalue()) == lines.styled  # the probe sees both kinds


def test_probe_sees_the_data_stack_when_data_is_read(tmp_path: Path) -> None:
    """The probe can fail: a command that reads a log does import pandas."""
    log = tmp_path / "a.log"
    log.write_text(
        '203.0.113.9 - - [22/Jan/2019:03:56:14 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"\n'
    )
    got = _probe(tmp_path, "summary", "--format", "json", str(log))
    assert got["code"] == 0
    assert "pandas" in got["heavy"]


def test_a_run_without_jobs_imports_no_process_pool(tmp_path: Path) -> None:
    """multiprocessing (with the process pool's modules) is imported for --jobs alone."""
    log = tmp_path / "a.log"
    log.write_text(
        '203.0.113.9 - - [22/Jan/2019:03:56:14 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"\n'
    )
    watch = ("multiprocessing",)
    got = _probe(tmp_path, "summary", "--format", "json", str(log), watch=watch)
    assert got["code"] == 0
    assert got["heavy"] == []
    jobs = _probe(tmp_path, "summary", "--format", "json", "--jobs", "2", str(log), watch=watch)
    assert jobs["code"] == 0
    assert "multiprocessing" in jobs["heavy"]  # the probe can fail


def test_formats_lists_every_family_and_alias(tmp_path: Path) -> None:
    from logaudit.formats import FORMATS

    out = str(_probe(tmp_path, "formats")["out"])
    for f in FORMATS.values():
        assert f"\n{f.name} " in "\n" + out
        for a in f.aliases:
            assert a in out
        assert f.samples[0][:40] in out


def test_names_match_the_registries() -> None:
    from logaudit import names
    from logaudit.analyze import SECTIONS, trends
    from logaudit.formats import FORMATS

    assert [(s.name, s.title) for s in SECTIONS.values()] == list(names.SECTIONS.items())
    assert names.EVERY == trends.EVERY
    assert names.METRICS == tuple(trends.METRICS)
    assert names.FORMATS == tuple(FORMATS)


def _eager(name: str, *decorators: object) -> list[str]:
    """Option names of a command built the usual way, every decorator applied at once."""
    import click

    def f(**_: object) -> None: ...

    for d in reversed(decorators):
        f = d(f)  # type: ignore[operator]
    return [p.name or "" for p in click.command(name)(f).params]


def test_options_made_later_are_the_eager_ones() -> None:
    """report commands and records make their options on first use (cli._LaterOptions): the
    same options, in the same order, as decorators applied when the CLI is built."""
    import click

    from logaudit import cli

    def names(cmd: str) -> list[str]:
        return [p.name or "" for p in cli.cli.commands[cmd].params]

    assert names("summary") == _eager("summary", cli._report_options, cli.visit_timeout_option)
    follow = click.option("--follow", "-f", is_flag=True)
    assert names("records") == _eager("records", cli._make_records_options, follow)
    every = click.option("--every")
    metric = click.option("--metric", "metrics")
    assert names("trends") == _eager(
        "trends", cli._report_options, every, metric, cli.visit_timeout_option
    )
    assert len(names("summary")) > 40


def test_later_imports_on_first_use() -> None:
    import copy

    from logaudit.formats.later import Later

    m = Later("colorsys")  # a module nothing here imports
    assert "colorsys" in repr(m)
    assert m.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert copy.copy(m).rgb_to_hsv(0.0, 0.0, 0.0)[2] == 0.0
    with pytest.raises(AttributeError):
        m.no_such_function  # noqa: B018
