"""Shared fixtures.

``shared_data`` points at ``../shared/data`` (the team's real logs, GeoIP test databases and
user-agent corpora). Those files are read in place and never copied into the repository; tests
that need them skip when the folder is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_LOGS = REPO / "sample_logs"


def no_system_config() -> None:
    """Stop the session (not skip) when this machine has a system config file: logaudit reads
    it in every run, and a test that starts logaudit as a subprocess cannot be kept from it
    (``isolate`` points ``SYSTEM_CONFIG`` elsewhere in this process only; no variable moves it,
    or users could leave the machine's policy). Its anonymize/top/strict made tests fail for
    reasons nobody could see."""
    from logaudit.config import SYSTEM_CONFIG

    try:
        os.lstat(SYSTEM_CONFIG)  # a dangling link too: as lexists
    except (FileNotFoundError, NotADirectoryError):  # absent, as config_files takes them
        return
    except OSError as e:
        # Its folder closed to this user (/etc/logaudit 0700): lexists said "absent", and
        # every logaudit run, which cannot tell either, refuses (exit 7).
        said = f"whether {SYSTEM_CONFIG} exists cannot be told ({e.strerror})"
    else:
        said = f"{SYSTEM_CONFIG} exists"
    pytest.exit(
        f"{said}: every logaudit run reads it, the tests' subprocesses included; run the "
        "tests where there is none (move it aside, or use a container)",
        returncode=pytest.ExitCode.USAGE_ERROR,
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    no_system_config()


def _shared_data_dir() -> Path | None:
    env = os.environ.get("LOGAUDIT_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = _shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is absent")
    return d


@pytest.fixture(scope="session")
def corpus_agents(shared_data: Path) -> list[str]:
    """uap-core's test agents (browsers and platforms) and crawler-user-agents' instances, each
    once, in the order read: the agents the classification tests compare paths on."""
    import json

    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    agents: list[str] = []
    for name in ("uap-core_test_ua.yaml", "uap-core_test_os.yaml"):
        text = (shared_data / "useragents" / name).read_text("utf-8")
        agents += [c["user_agent_string"] for c in yaml.load(text, loader)["test_cases"]]
    robots = json.loads((shared_data / "useragents" / "crawler-user-agents.json").read_text())
    agents += [i for e in robots for i in e.get("instances", [])]
    return [a for a in dict.fromkeys(agents) if isinstance(a, str)]


@pytest.fixture(scope="session")
def sample_logs() -> Path:
    return SAMPLE_LOGS


@pytest.fixture(scope="session")
def _cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _private_agent_cache(monkeypatch: pytest.MonkeyPatch, _cache_home: Path) -> None:
    """The user-agent cache across runs (enrich/agentcache.py) goes to a folder of this test
    session, never the user's ~/.cache: runs stay hermetic."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(_cache_home))


@pytest.fixture(autouse=True)
def _private_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The state folder (state.py: the --anonymize=hash secret, unsent mail in ``unsent/``) is
    one of this test's, never the user's ~/.local/state/logaudit: a test that mails, hashes or
    spools without setting XDG_STATE_HOME itself must not write into the real home (subprocesses
    inherit it too). A test that sets it keeps its own."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


@pytest.fixture(autouse=True)
def _movers_read_here(request: pytest.FixtureRequest) -> Iterator[None]:
    """The store's tests read the movers' part in this process: ``store/apart.py`` forks it only
    with a core idle, so whether it did would depend on the host's load, and a spy on the
    store's reads sees none of the child's. The tests of the child set ``apart.MIN_DAYS``. A
    patch of its own: a test's ``monkeypatch.undo()`` (between its spied runs) keeps it."""
    if not request.module.__name__.rpartition(".")[2].startswith("test_store"):
        yield
        return
    from logaudit.store import apart

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(apart, "MIN_DAYS", 10**9)
        yield


@pytest.fixture
def every_mover(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every mover shown (no minimum change, count or rows a side): each source's and site's
    figures are compared by the store's tests, not only those that moved by a point."""
    from logaudit.analyze.trends import movers as trend_movers

    monkeypatch.setattr(trend_movers, "MOVER_MIN_CHANGE", 0.0)
    monkeypatch.setattr(trend_movers, "MOVER_MIN_ITEM", 0)
    monkeypatch.setattr(trend_movers, "MOVERS_PER_SIDE", 10**6)


@pytest.fixture
def fork_masks(monkeypatch: pytest.MonkeyPatch) -> list[set[int]]:
    """The signals held back at each ``os.fork`` the test makes (its signal mask then)."""
    import os
    import signal

    held: list[set[int]] = []
    fork = os.fork

    def watched() -> int:
        held.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
        return fork()

    monkeypatch.setattr(os, "fork", watched)
    return held
