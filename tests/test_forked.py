"""Groups of sections are built in a forked child on big runs: same report, and a child
that fails, dies or hangs costs time, never a section."""

from __future__ import annotations

import json
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner

from logaudit.analyze import SUMMARY_SECTIONS, VISITORS_SECTIONS, build_report, forked, tables_for
from logaudit.analyze.base import Context, Partial, SectionSpec
from logaudit.api import finish_context
from logaudit.cli import cli
from logaudit.config import load
from logaudit.engine.local import Run, run
from logaudit.errors import ConfigError
from logaudit.render.tabular import as_dict
from logaudit.report import Section
from logaudit.sources import Input

pytestmark = pytest.mark.skipif(not forked.can_fork(), reason="no os.fork here")

PARENT = os.getpid()


def made_by(name: str) -> Section:
    """A section whose one row says which process built it."""
    return Section(name, name, pd.DataFrame({"pid": [os.getpid()]}))


def spec(name: str, build, apart: bool = False) -> SectionSpec:  # type: ignore[no-untyped-def]
    return SectionSpec(name, name, build, (), apart=apart)


def plain(name: str) -> SectionSpec:
    return spec(name, lambda p, ctx: made_by(name))


def built_in(section: Section) -> int:
    return int(section.rows["pid"].iloc[0])


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[forked.Child]:
    """Every Child started, to check it was reaped."""
    started: list[forked.Child] = []

    class Recorded(forked.Child):
        def __init__(self, build) -> None:  # type: ignore[no-untyped-def]
            super().__init__(build)
            started.append(self)

    monkeypatch.setattr(forked, "Child", Recorded)
    return started


def gone(pid: int) -> bool:
    """The child has exited and was reaped (no zombie left behind), now or soon (one that
    sent a whole result is reaped by a thread as it leaves; 30 s is a safety timeout only).
    It looks without reaping (``WNOWAIT``): a zombie is found, not hidden."""
    end = time.monotonic() + 30.0
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.01)


def build(specs: list[SectionSpec], requests: int = 10**6) -> list[Section]:
    return forked.build_sections(specs, {}, Context(load()), requests)


def test_apart_sections_are_built_in_a_child_and_come_back_in_order(
    children: list[forked.Child],
) -> None:
    calls: list[str] = []

    def first() -> None:
        calls.append("first")

    specs = [
        plain("a"),
        spec("b", lambda p, ctx: made_by("b"), apart=True),
        plain("c"),
        spec("d", lambda p, ctx: made_by("d"), apart=True),
    ]
    out = forked.build_sections(specs, {}, Context(load()), 10**6, first=first)
    assert [s.name for s in out] == ["a", "b", "c", "d"]
    assert built_in(out[0]) == built_in(out[2]) == PARENT
    assert built_in(out[1]) == built_in(out[3]) != PARENT
    assert calls == ["first"]
    assert len(children) == 1 and gone(children[0].pid)


def test_small_runs_and_reports_without_both_kinds_do_not_fork(
    children: list[forked.Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forked, "_core_idle", lambda: False)
    apart = spec("b", lambda p, ctx: made_by("b"), apart=True)
    assert built_in(build([plain("a"), apart], requests=forked.FORK_MIN_REQUESTS - 1)[1]) == PARENT
    assert built_in(build([apart])[0]) == PARENT
    assert built_in(build([plain("a")])[0]) == PARENT
    assert children == []


@pytest.mark.parametrize(
    ("requests", "idle", "forks"),
    [
        (forked.FORK_MIN_REQUESTS, False, True),  # a big run forks whatever the load
        (forked.FORK_IDLE_MIN_REQUESTS, True, True),  # a mid-sized one when a core is idle
        (forked.FORK_MIN_REQUESTS - 1, False, False),  # ... not when none is
        (forked.FORK_IDLE_MIN_REQUESTS - 1, True, False),  # a small one never
    ],
)
def test_mid_sized_runs_fork_only_when_a_core_is_idle(
    children: list[forked.Child],
    monkeypatch: pytest.MonkeyPatch,
    requests: int,
    idle: bool,
    forks: bool,
) -> None:
    asked: list[bool] = []

    def core_idle() -> bool:
        asked.append(idle)
        return idle

    monkeypatch.setattr(forked, "_core_idle", core_idle)
    apart = spec("b", lambda p, ctx: made_by("b"), apart=True)
    out = build([plain("a"), apart], requests=requests)
    assert (built_in(out[1]) != PARENT) is forks
    assert len(children) == int(forks)
    # The load is read only where it decides (it costs a read of /proc).
    assert bool(asked) is (forked.FORK_IDLE_MIN_REQUESTS <= requests < forked.FORK_MIN_REQUESTS)


def test_the_finish_reads_the_helpers_idle_core_test(monkeypatch: pytest.MonkeyPatch) -> None:
    from logaudit.enrich import agentproc

    monkeypatch.delenv("LOGAUDIT_IDLE_CORE", raising=False)

    monkeypatch.setattr(agentproc, "_running", lambda: 1)  # only this process
    assert forked._core_idle() is (len(os.sched_getaffinity(0)) >= 2)
    monkeypatch.setattr(agentproc, "_running", lambda: 64)  # every core taken
    assert not forked._core_idle()
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "1")  # for measuring on a shared host
    assert forked._core_idle()
    monkeypatch.setattr(agentproc, "_running", lambda: 1)
    monkeypatch.setenv("LOGAUDIT_IDLE_CORE", "0")
    assert not forked._core_idle()


def fails_in_child(p: Partial, ctx: Context) -> Section:
    if os.getpid() != PARENT:
        raise RuntimeError("only in the child")
    return made_by("b")


def killed_in_child(p: Partial, ctx: Context) -> Section:
    if os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return made_by("b")


def exits_in_child(p: Partial, ctx: Context) -> Section:
    if os.getpid() != PARENT:
        raise SystemExit(0)  # still leaves through os._exit(1), with no result
    return made_by("b")


@pytest.mark.parametrize("builder", [fails_in_child, killed_in_child, exits_in_child])
def test_a_child_that_fails_costs_time_not_a_section(children: list[forked.Child], builder) -> None:  # type: ignore[no-untyped-def]
    out = build([plain("a"), spec("b", builder, apart=True)])
    assert [s.name for s in out] == ["a", "b"]
    assert built_in(out[1]) == PARENT  # built again here
    assert gone(children[0].pid)


def test_a_result_that_does_not_unpickle_is_built_here(
    children: list[forked.Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    garbled = SimpleNamespace(
        dumps=lambda obj, protocol: b"not a pickle", loads=pickle.loads, HIGHEST_PROTOCOL=5
    )
    monkeypatch.setattr(forked, "pickle", garbled)
    out = build([plain("a"), spec("b", lambda p, ctx: made_by("b"), apart=True)])
    assert built_in(out[1]) == PARENT
    assert gone(children[0].pid)


def sleeps_in_child(p: Partial, ctx: Context) -> Section:
    if os.getpid() != PARENT:
        time.sleep(60)
    return made_by("b")


def assert_sleeping_child_given_up(children: list[forked.Child]) -> None:
    """A child that sleeps in its section is killed soon, and the section built here."""
    t = time.monotonic()
    out = build([plain("a"), spec("b", sleeps_in_child, apart=True)])
    assert time.monotonic() - t < 10
    assert built_in(out[1]) == PARENT
    assert gone(children[0].pid)


def test_a_stuck_child_is_killed_and_its_sections_built_here(
    children: list[forked.Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stuck: its CPU time does not move (a deadlocked child sleeps)."""
    monkeypatch.setattr(forked, "STALL_SECONDS", 0.5)
    monkeypatch.setattr(forked, "POLL_SECONDS", 0.1)
    assert_sleeping_child_given_up(children)


def test_without_cpu_times_a_silent_child_is_killed_after_the_deadline(
    children: list[forked.Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forked, "_cpu_ticks", lambda pid: None)  # no /proc
    monkeypatch.setattr(forked, "WAIT_MIN_SECONDS", 0.5)
    monkeypatch.setattr(forked, "WAIT_FACTOR", 0.0)
    monkeypatch.setattr(forked, "POLL_SECONDS", 0.1)
    assert_sleeping_child_given_up(children)


def test_a_slow_child_that_is_working_is_waited_for(
    children: list[forked.Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forked, "STALL_SECONDS", 0.5)
    monkeypatch.setattr(forked, "POLL_SECONDS", 0.1)

    def busy(p: Partial, ctx: Context) -> Section:
        end = time.monotonic() + 2.0
        while time.monotonic() < end:  # CPU time keeps moving
            sum(range(1000))
        return made_by("b")

    out = build([plain("a"), spec("b", busy, apart=True)])
    assert built_in(out[1]) != PARENT
    assert gone(children[0].pid)


def test_an_interrupt_while_waiting_kills_the_child(
    children: list[forked.Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: object, timeout: float | None = None) -> list[object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(forked.selectors.DefaultSelector, "select", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build([plain("a"), spec("b", sleeps_in_child, apart=True)])
    assert gone(children[0].pid)


def test_children_reaped_elsewhere_do_not_break_the_report(
    children: list[forked.Child],
) -> None:
    """With SIGCHLD ignored the kernel reaps the child itself and waitpid finds none."""
    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        out = build([plain("a"), spec("b", lambda p, ctx: made_by("b"), apart=True)])
    finally:
        signal.signal(signal.SIGCHLD, before)
    assert built_in(out[1]) != PARENT  # the child's complete result was used


def test_a_pipe_past_fd_setsize_is_waited_on(children: list[forked.Child]) -> None:
    """select() cannot watch descriptors of 1024 and more; a busy server may have them."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip("the open-files limit is below 1200")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        out = build([plain("a"), spec("b", lambda p, ctx: made_by("b"), apart=True)])
    finally:
        for fd in held:
            os.close(fd)
    assert built_in(out[1]) != PARENT
    assert gone(children[0].pid)


def test_when_no_process_can_be_forked_everything_is_built_here(
    children: list[forked.Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    monkeypatch.setattr(forked.os, "fork", no_fork)
    calls: list[str] = []
    out = forked.build_sections(
        [plain("a"), spec("b", lambda p, ctx: made_by("b"), apart=True)],
        {},
        Context(load()),
        10**6,
        first=lambda: calls.append("first"),
    )
    assert [built_in(s) for s in out] == [PARENT, PARENT]
    assert calls == ["first"] and children == []
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before  # the pipe was closed


def test_an_error_here_kills_the_child_and_is_raised(children: list[forked.Child]) -> None:
    def broken(p: Partial, ctx: Context) -> Section:
        raise ValueError("here")

    def slow(p: Partial, ctx: Context) -> Section:
        time.sleep(60)
        return made_by("b")

    with pytest.raises(ValueError, match="here"):
        build([spec("a", broken), spec("b", slow, apart=True)])
    assert gone(children[0].pid)


def test_an_error_the_child_hits_is_raised_here(children: list[forked.Child]) -> None:
    def no_database(p: Partial, ctx: Context) -> Section:
        raise ConfigError("corrupt GeoIP database")

    with pytest.raises(ConfigError, match="corrupt"):
        build([plain("a"), spec("b", no_database, apart=True)])
    assert gone(children[0].pid)


def _report(r: Run, sections: tuple[str, ...]) -> dict:
    settings = load()
    d = as_dict(build_report(r, settings, sections, "report", finish_context(settings, sections)))
    d.pop("generated")
    return json.loads(json.dumps(d, sort_keys=True))


@pytest.mark.parametrize("sections", [SUMMARY_SECTIONS, SUMMARY_SECTIONS + ("top-visitors",)])
def test_reports_are_the_same_built_in_two_processes(
    sample_logs: Path,
    monkeypatch: pytest.MonkeyPatch,
    children: list[forked.Child],
    sections: tuple[str, ...],
) -> None:
    inputs = [Input(str(p), p) for p in sorted(sample_logs.glob("access.log*"))]
    r = run(inputs, load(), tables_for(sections))
    alone = _report(r, sections)
    assert children == []  # the sample logs are under FORK_MIN_REQUESTS
    monkeypatch.setattr(forked, "FORK_MIN_REQUESTS", 0)
    assert _report(r, sections) == alone
    assert len(children) == 1
    assert {s for s in sections if s in VISITORS_SECTIONS}  # some were built apart


def test_the_cli_prints_one_report_when_a_child_built_part_of_it(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch, children: list[forked.Child]
) -> None:
    plain_out = CliRunner().invoke(cli, ["summary", str(sample_logs), "--format", "json"])
    monkeypatch.setattr(forked, "FORK_MIN_REQUESTS", 0)
    forked_out = CliRunner().invoke(cli, ["summary", str(sample_logs), "--format", "json"])
    assert forked_out.exit_code == plain_out.exit_code == 0
    assert len(children) == 1
    a, b = json.loads(plain_out.stdout), json.loads(forked_out.stdout)
    a.pop("generated")
    b.pop("generated")
    assert a == b


def test_groups_go_to_whichever_process_is_free(children: list[forked.Child]) -> None:
    """The parent's own section waits until the child has taken the first group; the child's
    first group waits until the parent has built the second: so the child took group 0, the
    parent group 1, and the child, done, found none left (no timing decides it)."""
    child_took, parent_built = os.pipe(), os.pipe()

    def mine(p: Partial, ctx: Context) -> Section:
        os.read(child_took[0], 1)
        return made_by("a")

    def first_group(p: Partial, ctx: Context) -> Section:
        os.write(child_took[1], b"x")
        os.read(parent_built[0], 1)
        return made_by("b")

    def second_group(p: Partial, ctx: Context) -> Section:
        os.write(parent_built[1], b"x")
        return made_by("c")

    specs = [spec("a", mine), spec("b", first_group), spec("c", second_group), plain("d")]
    try:
        out = forked.build_sections(specs, {}, Context(load()), 10**6, groups=[[1, 3], [2]])
    finally:
        for fd in (*child_took, *parent_built):
            os.close(fd)
    assert [s.name for s in out] == ["a", "b", "c", "d"]
    assert built_in(out[0]) == built_in(out[2]) == PARENT
    assert built_in(out[1]) == built_in(out[3]) != PARENT  # a group is built whole
    assert len(children) == 1 and gone(children[0].pid)


def test_groups_a_failed_child_took_are_built_here(children: list[forked.Child]) -> None:
    child_took = os.pipe()

    def mine(p: Partial, ctx: Context) -> Section:
        os.read(child_took[0], 1)  # the child has taken group 0
        return made_by("a")

    def dies(p: Partial, ctx: Context) -> Section:
        if os.getpid() != PARENT:
            os.write(child_took[1], b"x")
            os._exit(3)
        return made_by("b")

    specs = [spec("a", mine), spec("b", dies), plain("c")]
    try:
        out = forked.build_sections(specs, {}, Context(load()), 10**6, groups=[[1], [2]])
    finally:
        for fd in child_took:
            os.close(fd)
    assert [s.name for s in out] == ["a", "b", "c"]
    assert all(built_in(s) == PARENT for s in out)
    assert gone(children[0].pid)


@pytest.mark.parametrize(
    "answer",
    [
        [(0, [made_by("x")]), (0, [made_by("x")])],  # a group twice
        [(5, [made_by("x")])],  # no such group
        [(0, [])],  # a section missing
        [made_by("x")],  # not by group
    ],
)
def test_a_child_answer_that_does_not_fit_is_built_here(answer: list[object]) -> None:
    assert forked._checked(answer, [[1], [2]], set()) == {}
    assert forked._checked([(1, [made_by("x")])], [[1], [2]], {1}) == {}  # the parent's


def test_the_summary_groups_and_the_sections_that_read_them() -> None:
    from logaudit.analyze import FORK_GROUPS, SECTIONS, fork_groups

    grouped = [n for members, *_ in FORK_GROUPS for n in members]
    assert len(grouped) == len(set(grouped)) and set(grouped) <= set(SECTIONS)
    assert {n for n, s in SECTIONS.items() if s.apart} <= set(grouped)
    groups = fork_groups(SUMMARY_SECTIONS)
    names = [[SUMMARY_SECTIONS[i] for i in g] for g in groups]
    assert names[0] == ["referring-sites", "referrers"]
    assert not {"entry-pages", "exit-pages"} & {n for g in names for n in g}  # the headline's
    # Movers read the referrers' own hosts: with them chosen, that group stays here.
    chosen = (*SUMMARY_SECTIONS, "movers")
    names = [[chosen[i] for i in g] for g in fork_groups(chosen)]
    assert ["referring-sites", "referrers"] not in names
    assert ["pages", "static", "not-found"] in names


def test_the_costliest_group_is_handed_out_first() -> None:
    """Every referrer new (a botnet's log): the referrers first; an ordinary log's few
    referrers: the audience panels, whose fixed cost is the larger."""
    from logaudit.analyze import fork_groups

    def rows(n: int) -> pd.DataFrame:
        return pd.DataFrame(index=range(n))

    def first(p: Partial) -> list[str]:
        return [SUMMARY_SECTIONS[i] for i in fork_groups(SUMMARY_SECTIONS, p)[0]]

    distinct = {"referrers": rows(10**6), "visitors": rows(10**6), "paths": rows(10**6)}
    assert first(distinct) == ["referring-sites", "referrers"]
    ordinary = {"referrers": rows(8_000), "visitors": rows(8_000), "paths": rows(28_000)}
    assert first(ordinary) == [s for s in SUMMARY_SECTIONS if s in VISITORS_SECTIONS]


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal masks here")
def test_stop_signals_wait_while_the_finish_forks(fork_masks: list[set[int]]) -> None:
    """SIGHUP too (it ends a run as SIGTERM does): handled in the parent's at-fork hooks it
    printed 'Exception ignored ... Stopped: SIGHUP' and the run went on."""
    before = set(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    child = forked.Child(lambda: [])
    assert child.result(0.0) == []
    assert fork_masks and {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= fork_masks[0]
    assert set(signal.pthread_sigmask(signal.SIG_BLOCK, [])) == before


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """A child's exit waits until the test calls the function given (as a big child's exit
    waits for the kernel's teardown of its memory); this process's own exit is untouched.
    30 s is a safety timeout only."""
    read_end, write_end = os.pipe()
    leave = os._exit
    opened: list[bool] = []

    def held(code: int) -> None:
        if os.getpid() != PARENT:
            os.close(write_end)
            select.select([read_end], [], [], 30.0)
        leave(code)

    def release() -> None:
        if not opened:
            opened.append(True)
            os.close(write_end)

    monkeypatch.setattr(os, "_exit", held)
    yield release
    release()
    os.close(read_end)


def alive(pid: int) -> bool:
    """The child has not exited yet (looked at without reaping)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:  # exited and reaped
        return False


def test_a_whole_result_is_taken_before_the_child_has_left(
    children: list[forked.Child], gate: Callable[[], None]
) -> None:
    out = build([plain("a"), spec("b", lambda p, ctx: made_by("b"), apart=True)])
    assert built_in(out[1]) != PARENT  # the child's result
    assert alive(children[0].pid)  # taken while the child was still leaving
    gate()
    assert gone(children[0].pid)  # reaped once it has left


def test_a_spilling_child_is_waited_for_not_left_to_a_thread(
    gate: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spilling child holds what this process held at the fork (``store/apart.py``: the
    store's lock): its result is taken once it is gone, never while a thread reaps it."""
    left: list[int] = []
    monkeypatch.setattr(forked, "_reap_later", left.append)
    waitpid = os.waitpid

    def waiting(pid: int, options: int) -> tuple[int, int]:
        if options == 0:
            gate()  # the child may leave once this process waits for it
        return waitpid(pid, options)

    monkeypatch.setattr(os, "waitpid", waiting)
    child = forked.Child(lambda: ["all"], spill=True)
    assert child.result(0.0) == ["all"]
    assert left == []
    assert gone(child.pid)


def test_a_spilt_result_comes_whole_through_its_file() -> None:
    """``spill``: a result far larger than a pipe's buffer, written to a file the child
    shares with this process and read from its start; the file closed once collected."""
    big = [bytes(range(256)) * 8192, "end"]  # 2 MiB
    child = forked.Child(lambda: big, spill=True)
    assert child.result(0.0) == big
    assert child.file is None
    failed = forked.Child(lambda: os._exit(3), spill=True)
    assert failed.result(0.0) is None
    assert failed.file is None


def test_a_spilt_file_not_whole_is_no_result(tmp_path: Path) -> None:
    """A child killed while writing leaves its file without a header, or cut short: no
    result (this process builds it), never arrays read past the file's end."""
    import numpy as np

    path = tmp_path / "spill"
    with open(path, "w+b") as f:
        forked._spill([np.arange(100_000), "x"], f.fileno())
        got = forked._unspilt(f.fileno())
        assert got is not None and got[1] == "x" and (got[0] == np.arange(100_000)).all()
        got[0][0] = 7  # the arrays stay writable (mapped copy-on-write)
        del got  # (its pages past a cut would not be readable)
        f.truncate(path.stat().st_size // 2)
        assert forked._unspilt(f.fileno()) is None
        f.seek(0)
        f.write(b"\0" * 24)  # no header
        assert forked._unspilt(f.fileno()) is None
        f.truncate(0)
        assert forked._unspilt(f.fileno()) is None


def test_a_spilt_file_that_cannot_be_mapped_is_no_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temporary folder on a file system without mmap (ENODEV): no result, so the part is
    made in this process, where it raised out of the command before."""
    import errno
    import mmap

    def refuse(*args: object, **kwargs: object) -> mmap.mmap:
        raise OSError(errno.ENODEV, "No such device")

    with open(tmp_path / "spill", "w+b") as f:
        forked._spill([b"x" * 100, "y"], f.fileno())
        monkeypatch.setattr(forked.mmap, "mmap", refuse)
        assert forked._unspilt(f.fileno()) is None


def test_a_signal_let_in_after_the_fork_leaves_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C held back during the fork arrives as the parent leaves ``held_back``: the
    child is killed and reaped there (no zombie holding the store's lock), then it raises."""
    from contextlib import contextmanager

    real = forked.procs.held_back

    @contextmanager
    def interrupted():  # type: ignore[no-untyped-def]
        with real() as let_in:
            yield let_in
        if os.getpid() == parent:
            raise KeyboardInterrupt

    parent = os.getpid()
    forks: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(forked.procs, "held_back", interrupted)
    monkeypatch.setattr(forked.os, "fork", fork)
    with pytest.raises(KeyboardInterrupt):
        forked.Child(lambda: [time.sleep(30)], spill=True)
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # that child gone and reaped, not even a zombie


@pytest.mark.parametrize("spill", [True, False])
def test_an_interrupt_while_waiting_for_a_childs_exit_kills_and_reaps_it(
    spill: bool, gate: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while this process waits for a child's exit (a spilling child's, or one whose
    result is not whole) still kills and reaps it. Its exit blocks until the gate opens,
    which the test leaves shut: only the kill ends it."""
    if not spill:
        monkeypatch.setattr(forked.Child, "_whole", staticmethod(lambda data: False))
    waitpid = os.waitpid
    waits: list[int] = []

    def interrupted(pid: int, options: int) -> tuple[int, int]:
        if options == 0 and not waits:
            waits.append(pid)
            raise KeyboardInterrupt
        return waitpid(pid, options)

    monkeypatch.setattr(os, "waitpid", interrupted)
    child = forked.Child(lambda: ["all"], spill=spill)
    with pytest.raises(KeyboardInterrupt):
        child.result(0.0)
    assert waits == [child.pid]  # interrupted in the wait for its exit
    assert gone(child.pid)
