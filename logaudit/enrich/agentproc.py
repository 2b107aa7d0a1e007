"""A log's user agents classified in a helper process, ready before the first block.

A cold run (no cache of agents from earlier runs) must build ua-parser-rs's matcher before it
classifies its first agent: about 0.14 s of compiling some 1,300 rules, *holding the GIL*
(measured: a Python loop on another thread gets ~6 % of its normal speed meanwhile), plus
~0.1 s importing ua-parser, user_agents and the robot patterns (``crawlers.RobotMatcher``).
In-process that work competes with the pipeline's threads for the GIL and the cores, while
during start-up (~0.4 s of imports, one core, holding the GIL) the host's other core sits idle.

So the CLI forks a helper early (``plan`` first thing, ``fork_planned`` once numpy and pyarrow
are imported, before pandas is and before any thread of this process's own exists). It
imports ua-parser (``enrich.uaparse``) and builds the matcher and the robot patterns on the
idle core while this process imports pandas, then classifies the batches of new
lookup keys this process sends it (``HelperClassifier._classify_new``), with the very same
``AgentClassifier`` code: rows are identical, only computed elsewhere. This process keeps every
cache (across blocks and across runs); the helper keeps nothing. This process never imports
ua-parser, user_agents nor the crawler list while the helper answers (``AgentClassifier``
imports them on the first agent it classifies itself).

When it is used: ``summary`` of its default sections (which need every new agent's row) on
plain files of any size (until a batch of more than ``MAX_BATCH`` new agents ends it), read
by this process alone (one job, the local engine; a history store too), a core free now
(``_core_free``), and no agent cache file from an earlier run (then most agents are known
and the matcher is rarely needed: no helper is forked, ``_wanted``). A stored
run (``--state``) is the exception: its cache is the store's, and it reads only the lines
added since the last run, whose few new agents (2 in 10,000 appended lines of the
benchmark's log) cost the whole build (0.15-0.4 s of a 1.4 s run) in-process. So its
helper stays whenever a log has grown since the store last read it (``_grown``), and
leaves when none has (nothing to classify). Anything
going wrong in the helper (it died, answered nothing within ``WAIT_SECONDS``, raised) only
means this process classifies the agents itself, as it always did. A classification by
class alone (``classes(rows=False)``) is done here, as before.
"""

from __future__ import annotations

import os
import signal
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logaudit import alone, magic

if TYPE_CHECKING:
    from logaudit.config import Settings

# A batch of more new agents than this is classified in-process, and the helper ended: a log
# whose agents are mostly new (a botnet's, every line a new agent) would copy them all
# through the pipes twice, while the matcher's build the helper spared is then a small share
# of the run. A 16 MB block of a 1M-line log of realistic agents has a few hundred new ones
# (the benchmark's logs: ~1,230 distinct in all); the all-distinct log's first block 37,000.
MAX_BATCH = 8192
# The longest wait for one answer (the helper may still be importing at the first request);
# past it the helper is killed and this process classifies by itself.
WAIT_SECONDS = 30.0

_HEADER = struct.Struct("<Q")


class _Helper:
    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid = pid
        self.to_child = to_child
        self.from_child = from_child
        self.owner = os.getpid()

    def ask(self, kind: str, texts: list[str]) -> Any:
        """The helper's answer, or None (and the helper is gone) on any failure."""
        import pickle

        try:
            _send(self.to_child, (kind, texts))
            answer = _receive(self.from_child, WAIT_SECONDS)
        except (OSError, EOFError, pickle.PickleError, TimeoutError):
            answer = None
        if not (isinstance(answer, tuple) and len(answer) == 2 and answer[0] == "ok"):
            stop()
            return None
        return answer[1]


_helper: _Helper | None = None
# Set by the ``logaudit`` program itself (``cli.main``), never by a library call or a test's
# CliRunner: a fork is safe only in a process that has started no thread of its own yet.
_allowed = False


def allow() -> None:
    global _allowed
    _allowed = True


def running() -> bool:
    return _helper is not None


def start(
    logs: tuple[str, ...] | list[str],
    overrides: Mapping[str, Any],
    config_file: str | Path | None = None,
    site: str | None = None,
) -> None:
    """Fork the helper for a report on ``logs`` now, if the run can use it (see the module
    docstring): ``plan`` and ``fork_planned`` at once, for the tests (the CLI calls the two
    apart, around the imports). Call before any thread of this process's own exists and
    before pandas is imported. ``overrides``, ``config_file`` and ``site`` are what the CLI gives
    ``config.load``."""
    plan(logs, overrides, config_file, site)
    fork_planned()


# The helper's arguments, between ``plan`` and ``fork_planned``.
_planned: tuple[Any, ...] | None = None


def plan(
    logs: tuple[str, ...] | list[str],
    overrides: Mapping[str, Any],
    config_file: str | Path | None = None,
    site: str | None = None,
) -> None:
    """Decide now whether the run can use a helper (``start``'s arguments); it is forked
    by ``fork_planned``. The CLI plans it as soon as it knows its arguments and forks it
    once numpy, pyarrow and the classifier's module are imported (``heap.data_stack``,
    ``heap.PANDAS_FREE``): the helper inherits them, copy-on-write, where it imported them
    again on the other core (~0.1 s of CPU) when forked first thing; it still has its
    matcher built before the first block's question. The only threads then are native ones
    that numpy's BLAS and pyarrow's jemalloc start at import: both libraries guard a fork
    (``pthread_atfork``), as the finish's child and the --jobs workers, forked after them
    too, rely on."""
    global _planned
    if not _allowed or _helper is not None or not hasattr(os, "fork") or not logs:
        return
    if not _core_free():
        return
    if not alone.by_options(overrides, stored=True) or overrides.get("sections"):
        # Chosen sections may need agents' classes alone, which this process finds itself
        # (``classes(rows=False)``): a helper would only add its imports.
        return
    try:
        # stdin, globs, folders: what they hold is not known here; a compressed file's size
        # says little of its lines (a 90 MB .gz holds ~1 GB of log). A plain file of any size
        # is helped: on a 1M-line log the matcher's build, holding the GIL, was ~0.14 s of
        # the pipeline's threads' time (a log of mostly new agents ends it: MAX_BATCH).
        if not all(magic.plain_file(p) for p in logs):
            return
    except (OSError, ValueError):
        return
    _planned = (tuple(logs), dict(overrides), config_file, site)


def fork_planned() -> None:
    """Fork the helper ``plan`` decided on, if any; before any thread of this process's own
    exists."""
    global _helper, _planned
    planned, _planned = _planned, None
    if planned is None or _helper is not None:
        return
    logs, overrides, config_file, site = planned
    settings = _wanted(overrides, config_file, site)
    if settings is None:
        return
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    parent = os.getpid()
    from logaudit import procs

    # Signals wait until the child has its own handlers and the parent has the pid, as far
    # as this thread goes: BLAS's native thread (alive since numpy's import) does not block
    # them, so one delivered there can still stop the parent between the fork and recording
    # the pid; the helper then dies with its parent (``procs.die_with_parent``).
    with procs.held_back() as let_in:
        try:
            pid = os.fork()
        except OSError:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            return
        if pid == 0:  # the helper: never returns into the caller's code
            status = 0
            try:
                os.close(to_child_w)
                os.close(from_child_r)
                procs.die_with_parent(parent)
                let_in()
                _serve(to_child_r, from_child_w, settings, logs)
            except BaseException:  # noqa: BLE001 - the parent classifies by itself
                status = 1
            finally:
                os._exit(status)
        os.close(to_child_r)
        os.close(from_child_w)
        _helper = _Helper(pid, to_child_w, from_child_r)


def _core_free() -> bool:
    """Whether a core is likely idle during start-up: the helper only pays on one (on a busy
    host it competes with the imports it was meant to run beside). ``LOGAUDIT_AGENT_HELPER``
    0 never starts it, 1 starts it whatever the load (for measuring)."""
    choice = os.environ.get("LOGAUDIT_AGENT_HELPER", "").strip()
    if choice in ("0", "1"):
        return choice == "1"
    return core_idle()


def core_idle() -> bool:
    """Whether another core than the one this process runs on is likely idle now (also the
    finish's test for forking a smaller run, ``analyze.forked``). ``LOGAUDIT_IDLE_CORE`` 0
    or 1 answers for it (for measuring on a shared host, whose load says little of the one
    the figures are meant for)."""
    forced = os.environ.get("LOGAUDIT_IDLE_CORE", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    from logaudit import procs

    cores = procs.usable_cores()
    running = _running()
    if running is not None:  # this process is one of them
        return cores >= 2 and running <= cores - 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return cores >= 2 and load <= cores - 1


def _running() -> int | None:
    """How many tasks are runnable now (Linux: /proc/loadavg's fourth field), or None. The
    one-minute load average lags: for a minute after any busy command (the previous report,
    a build) it says the cores are taken while they sit idle."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def stop() -> None:
    """End the helper (it would end by itself when this process closes its pipe)."""
    global _helper
    helper, _helper = _helper, None
    if helper is None or helper.owner != os.getpid():
        # A process forked later (the finish's child) only forgets the helper: it is the
        # owner's to end, and its pipes are the owner's too.
        return
    for fd in (helper.to_child, helper.from_child):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.kill(helper.pid, signal.SIGKILL)
        os.waitpid(helper.pid, 0)
    except (OSError, ChildProcessError):
        pass


def ask(kind: str, texts: list[str]) -> Any:
    """The helper's answer to ``kind`` ("rows") for ``texts``; None: classify here."""
    helper = _helper
    if helper is None or helper.owner != os.getpid():
        # A process forked later (the finish's child, analyze/forked.py) shares the pipes:
        # its questions would mix with this process's. It classifies by itself.
        return None
    return helper.ask(kind, texts)


def _wanted(
    overrides: Mapping[str, Any], config_file: str | Path | None, site: str | None
) -> Settings | None:
    """The run's settings when the helper may have work once the configuration file and the
    environment are read too; None when they rule it out. Checked here, before the fork
    (~0.3 ms: the configuration loaded, the cache file looked for), not by the helper once
    forked: a warm run's helper (an agent cache from an earlier run: every run of the
    benchmark but its first) left at once, and its fork had cost this process ~2 ms and
    ~3,000 copy-on-write faults while it imported pandas (docs/performance.md, "Twenty-second
    round, small22"). A stored run's ``_grown`` (it reads the store's state) stays the
    helper's, off this process's path. Anything failing here (a bad configuration, which the
    CLI reports itself) only means no helper, as a helper failing to start did."""
    from logaudit.config import load

    try:
        settings = load(overrides, config_file=config_file, site=site)
        if not alone.by_settings(settings, stored=True):
            return None
        if settings.sections:  # chosen in the config file (see ``plan``)
            return None
        if settings.state is None:
            from logaudit.enrich import agentcache

            cache = agentcache.cache_path(settings.state, settings.cache)
            if cache is not None and cache.exists():
                return None  # a warm run: few agents to parse, none worth a helper
    except Exception:  # noqa: BLE001 - no helper; the CLI reports its own errors
        return None
    return settings


def _serve(
    requests: int,
    answers: int,
    settings: Settings,
    logs: tuple[str, ...] | list[str] = (),
) -> None:
    if settings.state is not None:
        if not _grown(Path(settings.state).expanduser(), logs):
            return  # nothing new to read: no agent to classify
    _no_pandas()
    from logaudit.enrich.agents import AgentClassifier

    c = AgentClassifier()
    c.prepare()
    while True:
        try:
            kind, texts = _receive(requests, None)
        except EOFError:
            return  # the run is over
        if kind == "ready":  # it reads nothing before its matcher is built
            _send(answers, ("ok", True))
            continue
        if kind != "rows":
            _send(answers, ("error", kind))
            continue
        c._classify_new(texts)  # noqa: SLF001 - the classifier's own code, rows unchanged
        rows = [c._cache[t] for t in texts]  # noqa: SLF001
        c._cache.clear()  # noqa: SLF001 - the parent remembers them
        _send(answers, ("ok", rows))


def _grown(root: Path, logs: tuple[str, ...] | list[str]) -> bool:
    """Whether a stored run may read new lines of ``logs``: one is not a file the store's
    state records (by device and inode, ``store/offsets.py``) at its present size. Read
    here with ``json`` alone: ``logaudit.store`` imports pandas, which the helper must not.
    Only a guess (a file rewritten to the same size is taken as unchanged): a wrong one
    costs a helper's build on the idle core, or the build in-process, never a row."""
    import json

    try:
        state = json.loads((root / "store.json").read_text("utf-8"))
        records = state.get("inputs", []) if isinstance(state, dict) else []
        seen = {(r.get("dev"), r.get("ino"), r.get("size")) for r in records}
        for log in logs:
            st = os.stat(log)
            if (st.st_dev, st.st_ino, st.st_size) not in seen:
                return True
    except (OSError, ValueError, AttributeError, TypeError):
        return True  # no store yet (a first run reads every line), or one not understood
    return False


class _NoPandas:
    """A finder that says pandas is not installed (``sys.meta_path``, first)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"no {name} in the agents helper", name=name)


def _no_pandas() -> None:
    """In the helper: pandas cannot be imported. Nothing the helper runs needs it, but
    pyarrow imports it (~0.15 s) the first time ``pa.array`` is given a list, only to check
    whether the list is a pandas object; told it is not installed, pyarrow goes without."""
    import sys

    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())


# pickle and select are imported where used: this module is imported by every command
# (``allow``), --help included.


def _send(fd: int, message: object) -> None:
    import pickle

    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int, timeout: float | None) -> Any:
    import pickle

    (size,) = _HEADER.unpack(_read(fd, _HEADER.size, timeout))
    return pickle.loads(_read(fd, size, timeout))  # noqa: S301 - our own child's pipe


def _read(fd: int, size: int, timeout: float | None) -> bytes:
    import select

    parts: list[bytes] = []
    while size:
        if timeout is not None and not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def classifier() -> Any:
    """A new ``AgentClassifier`` for this process (``classify.shared_classifier``): one that
    sends its new agents to the helper when one was started."""
    from logaudit.enrich.agents import AgentClassifier

    if _helper is None:
        return AgentClassifier()

    class HelperClassifier(AgentClassifier):
        """Rows of new agents from the helper; everything else as ``AgentClassifier``."""

        def prepare(self) -> None:
            # Waits (on the build's background thread) until the helper has built both, off
            # this process's GIL; builds them here if it left (a setting it read says the
            # run does not need it) or failed.
            if ask("ready", []) is None:
                super().prepare()

        def _classify_new(self, texts: list[str]) -> None:
            if len(texts) > MAX_BATCH:
                stop()  # mostly new agents: classified here from now on (MAX_BATCH)
                super()._classify_new(texts)
                return
            rows = ask("rows", texts) if texts else None
            if rows is None or len(rows) != len(texts):
                super()._classify_new(texts)
                return
            self._cache.update(zip(texts, rows, strict=True))
            self.parsed += len(texts)

    return HelperClassifier()
