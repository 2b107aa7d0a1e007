"""A log's user agents classified in a helper process (enrich/agentproc.py).

The helper must give exactly the rows this process would (the same ``AgentClassifier`` code
runs there), be used when started (this process builds no matcher), and cost nothing but time
when it fails: a dead helper means this process classifies by itself.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from logaudit.enrich import agentproc
from logaudit.enrich.agents import AgentClassifier

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the helper is forked")

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
    "-",
    "",
    "UniversalFeedParser/5.2.1 +https://github.com/kurtmckee/feedparser/",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
]


def _sample_agents(sample_logs: Path) -> list[str]:
    out: dict[str, None] = {}
    for line in (sample_logs / "access.log").read_text(errors="replace").splitlines():
        parts = line.split('"')
        if len(parts) > 5:
            out[parts[5]] = None
    return list(out)


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch, sample_logs: Path) -> Iterator[None]:
    """A helper started as the program would (no agent cache file, a small plain log)."""
    monkeypatch.setenv("LOGAUDIT_AGENT_HELPER", "1")
    monkeypatch.setenv("LOGAUDIT_NO_CACHE", "1")
    monkeypatch.setattr(agentproc, "_allowed", True)
    monkeypatch.setattr(agentproc, "WAIT_SECONDS", 60.0)
    agentproc.stop()
    agentproc.start([str(sample_logs / "access.log")], {})
    assert agentproc.running()
    yield
    agentproc.stop()


@pytest.mark.usefixtures("helper")
def test_rows_are_the_same_as_in_process(sample_logs: Path) -> None:
    agents = pd.Index(AGENTS + _sample_agents(sample_logs))
    c = agentproc.classifier()
    assert type(c).__name__ == "HelperClassifier"
    c.prepare()  # waits for the helper's build; builds nothing here
    got = c.classify(agents)
    want = AgentClassifier().classify(agents)
    pd.testing.assert_frame_equal(got, want)
    assert agentproc.running()
    # Every row came from the helper: this process built neither matcher.
    assert c._resolver_built is None and c._robots_built is None
    assert c.parsed == c.cached() > 100
    # Known agents are not sent again; class codes agree too.
    assert (c.classes(agents) == AgentClassifier().classes(agents)).all()
    assert c._resolver_built is None


@pytest.mark.usefixtures("helper")
def test_a_dead_helper_means_classifying_here() -> None:
    helper = agentproc._helper
    assert helper is not None
    os.kill(helper.pid, signal.SIGKILL)
    c = agentproc.classifier()
    agents = pd.Index(AGENTS)
    pd.testing.assert_frame_equal(c.classify(agents), AgentClassifier().classify(agents))
    assert not agentproc.running()
    assert c._resolver_built is not None  # built here, as without a helper
    assert type(agentproc.classifier()).__name__ == "AgentClassifier"


@pytest.mark.usefixtures("helper")
def test_a_batch_of_mostly_new_agents_ends_the_helper(
    monkeypatch: pytest.MonkeyPatch, sample_logs: Path
) -> None:
    """A log of mostly new agents (a botnet's) is classified here, not copied through the
    pipes: a batch over MAX_BATCH ends the helper, with the same rows; a smaller one before
    it was the helper's."""
    monkeypatch.setattr(agentproc, "MAX_BATCH", 5)
    c = agentproc.classifier()
    small = pd.Index(AGENTS[:4])
    pd.testing.assert_frame_equal(c.classify(small), AgentClassifier().classify(small))
    assert agentproc.running() and c._resolver_built is None  # the helper's rows
    agents = pd.Index(AGENTS + _sample_agents(sample_logs))
    pd.testing.assert_frame_equal(c.classify(agents), AgentClassifier().classify(agents))
    assert not agentproc.running()
    assert c._resolver_built is not None  # the big batch: built and classified here


@pytest.mark.usefixtures("helper")
def test_a_process_forked_later_does_not_use_the_helper() -> None:
    """The finish's forked child inherits the pipes: it must not send questions on them."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            answer = agentproc.ask("rows", ["curl/8.4.0"])
            os.write(write_end, b"none" if answer is None else b"used")
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 10) == b"none"
    os.close(read_end)
    curl = ("curl", "8", "Other", "", "bot", "tool", "curl")
    assert agentproc.ask("rows", ["curl/8.4.0"]) == [curl]


def test_a_warm_cache_sends_the_helper_away(
    monkeypatch: pytest.MonkeyPatch, sample_logs: Path, tmp_path: Path
) -> None:
    """With a cache file from an earlier run most agents are known: no helper is forked (it
    used to be, and to leave at once: a fork and its copy-on-write faults for nothing)."""
    from logaudit.enrich import agentcache

    monkeypatch.setenv("LOGAUDIT_AGENT_HELPER", "1")
    monkeypatch.delenv("LOGAUDIT_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = agentcache.cache_path(None)
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not read by the helper")
    monkeypatch.setattr(agentproc, "_allowed", True)
    agentproc.stop()
    agentproc.start([str(sample_logs / "access.log")], {})
    try:
        assert not agentproc.running()
        c = agentproc.classifier()
        c.prepare()  # no helper: built here
        assert not agentproc.running()
        assert c._resolver_built is not None and c._robots_built is not None
    finally:
        agentproc.stop()


def test_no_helper_where_it_cannot_help(
    monkeypatch: pytest.MonkeyPatch, sample_logs: Path, tmp_path: Path
) -> None:
    log = str(sample_logs / "access.log")
    monkeypatch.setenv("LOGAUDIT_AGENT_HELPER", "1")
    # No agent cache file (the session's folder may hold one from an earlier test).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    agentproc.stop()

    def started(logs: list[str], overrides: dict[str, object], config: Path | None = None) -> bool:
        agentproc.start(logs, overrides, config)
        try:
            return agentproc.running()
        finally:
            agentproc.stop()

    monkeypatch.setattr(agentproc, "_allowed", False)
    assert not started([log], {})  # a library call or a test's CliRunner: never a fork
    monkeypatch.setattr(agentproc, "_allowed", True)
    assert not started([log], {"jobs": 2})
    assert not started([log], {"engine": "dask"})
    assert started([log], {"state": str(tmp_path / "store")})  # its new lines' agents
    assert not started([log], {"sections": ("pages",)})  # may need classes alone
    assert started([log], {"sections": ()})
    assert not started(["-"], {})
    assert not started([str(sample_logs)], {})  # a folder: its size is not known here
    # Compressed (known by its bytes, whatever its name): its size says little of its lines.
    packed = tmp_path / "access.log.1"
    packed.write_bytes(gzip.compress(Path(log).read_bytes()))
    assert not started([str(packed)], {})
    assert not started([log, str(packed)], {})
    # A configuration that does not load: no helper (the CLI reports it), nothing raised here.
    bad = tmp_path / "bad.toml"
    bad.write_text("this is [not toml\n")
    assert not started([log], {}, bad)
    monkeypatch.setenv("LOGAUDIT_AGENT_HELPER", "0")
    assert not started([log], {})


def _record(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"name": str(path), "dev": st.st_dev, "ino": st.st_ino, "size": st.st_size}


def test_a_stored_run_keeps_its_helper_only_for_logs_that_grew(
    monkeypatch: pytest.MonkeyPatch, sample_logs: Path, tmp_path: Path
) -> None:
    """A store's agent cache is warm, yet the few new agents of its new lines cost the
    matcher's whole build: the helper builds it while a log has grown since the store read
    it, and leaves (nothing to classify) when none has."""
    log = tmp_path / "access.log"
    log.write_bytes((sample_logs / "access.log").read_bytes())
    store = tmp_path / "store"
    store.mkdir()
    (store / "agent-cache.arrow").write_bytes(b"a warm cache, not read by the helper")
    state = {"schema": 12, "inputs": [_record(log)]}
    (store / "store.json").write_text(json.dumps(state))
    assert not agentproc._grown(store, [str(log)])
    assert agentproc._grown(tmp_path / "none", [str(log)])  # no store yet: every line is new
    monkeypatch.setenv("LOGAUDIT_AGENT_HELPER", "1")
    monkeypatch.delenv("LOGAUDIT_NO_CACHE", raising=False)
    monkeypatch.setattr(agentproc, "_allowed", True)
    monkeypatch.setattr(agentproc, "WAIT_SECONDS", 60.0)
    agentproc.stop()

    def helped() -> bool:
        agentproc.start([str(log)], {"state": str(store)})
        try:
            c = agentproc.classifier()
            rows = c.classify(pd.Index(AGENTS))
            pd.testing.assert_frame_equal(rows, AgentClassifier().classify(pd.Index(AGENTS)))
            return c._resolver_built is None  # the helper's rows: no matcher built here
        finally:
            agentproc.stop()

    assert not helped()  # nothing new since the store read it: the helper left
    with open(log, "ab") as f:
        f.write((sample_logs / "access.log").read_bytes()[:2000])
    assert agentproc._grown(store, [str(log)])
    assert helped()


def _summary(
    log: Path, helper: str, tmp_path: Path, *more: str, **env_more: str
) -> dict[str, object]:
    """``summary LOG [more] --format json`` run as the program runs, the helper on ("1") or
    off ("0"); its report without ``generated``. ``env_more``: environment beside this one's
    (less any LOGAUDIT_NO_CACHE)."""
    env = {k: v for k, v in os.environ.items() if k != "LOGAUDIT_NO_CACHE"}
    env.update(LOGAUDIT_AGENT_HELPER=helper, PYTHONPATH=str(ROOT), **env_more)
    out = tmp_path / f"summary-{helper}.json"
    subprocess.run(
        [sys.executable, "-m", "logaudit", "summary", str(log), *more, "--format", "json",
         "-o", str(out)],
        cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300,
    )
    report = json.loads(out.read_text())
    report.pop("generated", None)
    return report


FORKED_WHEN = """
import json, sys
from logaudit import cli
from logaudit.enrich import agentproc

real = agentproc.fork_planned


def fork_planned():
    real()
    seen = {m: m in sys.modules for m in ("numpy", "pyarrow", "pandas")}
    print(json.dumps({**seen, "running": agentproc.running()}), file=sys.stderr, flush=True)


agentproc.fork_planned = fork_planned
sys.argv = ["logaudit", "summary", sys.argv[1], "--format", "json", "-o", sys.argv[2]]
cli.main()
"""


def test_the_program_forks_its_helper_after_numpy_and_pyarrow_before_pandas(
    sample_logs: Path, tmp_path: Path
) -> None:
    """The helper inherits numpy and pyarrow (imported once, here) and has no pandas."""
    env = {**os.environ, "LOGAUDIT_AGENT_HELPER": "1", "LOGAUDIT_NO_CACHE": "1"}
    env["PYTHONPATH"] = str(ROOT)
    log, out = sample_logs / "access.log", tmp_path / "out.json"
    r = subprocess.run(
        [sys.executable, "-c", FORKED_WHEN, str(log), str(out)], cwd=tmp_path, env=env,
        check=True, capture_output=True, text=True, timeout=300,
    )
    seen = json.loads(r.stderr.splitlines()[0])
    assert seen == {"numpy": True, "pyarrow": True, "pandas": False, "running": True}
    assert json.loads(out.read_text())["sections"]


def test_summary_is_the_same_with_and_without_the_helper(
    sample_logs: Path, tmp_path: Path
) -> None:
    """End to end, as the program runs: the report is byte for byte the same."""
    tmp_path.chmod(0o700)
    log = sample_logs / "access.log"
    one = _summary(log, "1", tmp_path, LOGAUDIT_NO_CACHE="1")
    assert one == _summary(log, "0", tmp_path, LOGAUDIT_NO_CACHE="1")


def test_a_core_is_free_by_the_tasks_running_now_not_the_minute_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logaudit.enrich import agentproc

    monkeypatch.delenv("LOGAUDIT_AGENT_HELPER", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (5.0, 5.0, 5.0))
    monkeypatch.setattr(agentproc, "_running", lambda: 1)  # only this process
    assert agentproc._core_free()
    monkeypatch.setattr(agentproc, "_running", lambda: 2)  # something else on the other core
    assert not agentproc._core_free()
    monkeypatch.setattr(agentproc, "_running", lambda: None)  # no /proc: the load average
    assert not agentproc._core_free()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 1.0, 1.0))
    assert agentproc._core_free()


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal masks here")
def test_stop_signals_wait_while_the_helper_is_forked(
    monkeypatch: pytest.MonkeyPatch, sample_logs: Path, fork_masks: list[set[int]]
) -> None:
    """SIGINT, SIGTERM and SIGHUP are held back during the fork: one handled in the parent's
    at-fork hooks printed 'Exception ignored ... Stopped: SIGHUP' and the run went on."""
    monkeypatch.setenv("LOGAUDIT_AGENT_HELPER", "1")
    monkeypatch.setenv("LOGAUDIT_NO_CACHE", "1")
    monkeypatch.setattr(agentproc, "_allowed", True)
    agentproc.stop()
    before = set(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    try:
        agentproc.start([str(sample_logs / "access.log")], {})
        assert agentproc.running()
    finally:
        agentproc.stop()
    assert fork_masks and {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= fork_masks[0]
    assert set(signal.pthread_sigmask(signal.SIG_BLOCK, [])) == before  # given back


def _stored_summary(folder: Path, helper: str) -> dict[str, object]:
    return _summary(folder / "access.log", helper, folder, "--state", str(folder / "store"))


def test_a_stored_summary_is_the_same_with_and_without_the_helper(
    sample_logs: Path, tmp_path: Path
) -> None:
    """A store filled with half a log (one key for client tokens), then the rest appended
    and read with the helper and without: the same report."""
    import shutil

    tmp_path.chmod(0o700)
    lines = (sample_logs / "access.log").read_bytes().splitlines(keepends=True)
    first = tmp_path / "first"
    first.mkdir(mode=0o700)
    (first / "access.log").write_bytes(b"".join(lines[: len(lines) // 2]))
    _stored_summary(first, "0")
    reports = []
    folder = tmp_path / "run"  # one path for both: reports name their logs
    for helper in ("1", "0"):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(first, folder)
        with open(folder / "access.log", "ab") as f:
            f.write(b"".join(lines[len(lines) // 2 :]))
        reports.append(_stored_summary(folder, helper))
    assert reports[0] == reports[1]
