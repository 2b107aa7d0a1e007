"""Runs classify user agents only as far as their sections and --bots need (issue 18).

A run whose tables need no agent work (``summary --bots include --section pages``) must never
build or call the classifier, and must give the same sections as a run that classifies; its
overview's robot counts are null with a note, never zero. Runs that need classes or rows
(the default --bots, the audience sections, records, problems, trends) still classify.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import CHROME, CURL, FIREFOX, GOOGLEBOT, isolate, line, utc, write

from logaudit.analyze import SUMMARY_SECTIONS, TABLES, tables_for
from logaudit.analyze.base import AGENT_WORK, agent_work
from logaudit.analyze.traffic import ROBOTS_NOT_COUNTED
from logaudit.cli import cli
from logaudit.engine import local
from logaudit.enrich import agents, classify, uaparse
from logaudit.enrich.classify import Enricher

GOLDEN = Path(__file__).parent / "golden"
NO_AGENTS = ("--bots", "include", "--section", "pages", "--section", "status", "--section", "hosts")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """People, a crawler and a tool, over two days."""
    lines = [
        line("203.0.113.1", utc(2024, 3, 1, 10), "/", agent=CHROME),
        line("203.0.113.1", utc(2024, 3, 1, 10, 1), "/about", agent=CHROME),
        line("203.0.113.2", utc(2024, 3, 1, 11), "/", agent=FIREFOX),
        line("66.249.66.1", utc(2024, 3, 1, 12), "/about", agent=GOOGLEBOT),
        line("66.249.66.1", utc(2024, 3, 2, 12), "/missing", status=404, agent=GOOGLEBOT),
        line("198.51.100.9", utc(2024, 3, 2, 13), "/api/x", agent=CURL),
        line("203.0.113.2", utc(2024, 3, 2, 14), "/shop", agent=FIREFOX),
    ]
    return write(tmp_path / "site.log", lines)


def _json(*args: str | Path) -> dict[str, Any]:
    r = CliRunner().invoke(cli, [*map(str, args), "--format", "json"])
    assert r.exit_code == 0, r.output
    out: dict[str, Any] = json.loads(r.stdout)
    out.pop("generated", None)
    return out


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every use of the classifier (building it, or classifying with one already built by an
    earlier test of the session), recorded; the work is still done."""
    seen: list[str] = []
    shared = classify.shared_classifier
    keys = agents.AgentClassifier._keys  # every classification, of rows or classes alone
    resolver = uaparse.RESOLVER_CLASS

    def recorded_shared() -> Any:
        seen.append("shared_classifier")
        return shared()

    def recorded_keys(self: Any, names: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append("classify")
        return keys(self, names, *args, **kwargs)

    def recorded_resolver(*a: Any) -> Any:
        seen.append("resolver")
        return resolver(*a)

    monkeypatch.setattr(classify, "shared_classifier", recorded_shared)
    monkeypatch.setattr(local, "shared_classifier", recorded_shared)
    monkeypatch.setattr(agents.AgentClassifier, "_keys", recorded_keys)
    monkeypatch.setattr(uaparse, "RESOLVER_CLASS", recorded_resolver)
    return seen


def test_every_table_declares_a_known_agent_work() -> None:
    assert {t.agents for t in TABLES.values()} <= set(AGENT_WORK)
    assert TABLES["agents"].agents == "rows"
    assert TABLES["totals"].agents == "none"  # its robot counts say when they were not counted


@pytest.mark.parametrize(
    "sections, bots, work",
    [
        (("pages", "status", "hosts"), "include", "none"),
        (("pages", "status", "hosts"), "exclude", "classes"),
        (("pages",), "auto", "classes"),
        (("pages",), "only", "classes"),
        (("crawlers",), "include", "rows"),
        (("browsers", "pages"), "exclude", "rows"),
        (SUMMARY_SECTIONS, "include", "rows"),
    ],
)
def test_agent_work_from_sections_and_bots(sections: tuple[str, ...], bots: str, work: str) -> None:
    assert agent_work(tables_for(sections), bots) == work


def test_sections_without_agents_never_touch_the_classifier(site: Path, calls: list[str]) -> None:
    out = _json("summary", site, *NO_AGENTS)
    assert calls == []
    assert out["overview"]["crawler_hits"] is None and out["overview"]["tool_hits"] is None
    assert ROBOTS_NOT_COUNTED in out["notes"]
    assert out["overview"]["requests"] == 7


def test_the_same_run_classifies_with_default_bots(site: Path, calls: list[str]) -> None:
    out = _json("summary", site, "--section", "pages")
    assert "classify" in calls
    assert (out["overview"]["crawler_hits"], out["overview"]["tool_hits"]) == (2, 1)
    assert ROBOTS_NOT_COUNTED not in out["notes"]


def test_a_section_that_needs_agents_brings_the_overview_counts_back(site: Path) -> None:
    out = _json("summary", site, *NO_AGENTS, "--section", "crawlers")
    assert (out["overview"]["crawler_hits"], out["overview"]["tool_hits"]) == (2, 1)
    assert ROBOTS_NOT_COUNTED not in out["notes"]


def _without_robot_counts(out: dict[str, Any]) -> dict[str, Any]:
    ov = {k: v for k, v in out["overview"].items() if k not in ("crawler_hits", "tool_hits")}
    notes = [n for n in out["notes"] if n != ROBOTS_NOT_COUNTED]
    return {**out, "overview": ov, "notes": notes}


@pytest.mark.parametrize(
    "args",
    [
        ("summary", *NO_AGENTS),
        ("summary", "--bots", "include", "--section", "daily", "--section", "not-found"),
        ("problems", "--bots", "include"),
        ("trends", "--bots", "include"),
        ("visits", "--bots", "include"),
        ("visitors", "--bots", "include"),
        ("summary", "--bots", "exclude", "--section", "pages"),
        ("summary", *NO_AGENTS, "--jobs", "2"),
    ],
)
@pytest.mark.parametrize("log", ["site", "basic", "nginx_xff"])
def test_json_equals_the_json_with_agents_classified(
    args: tuple[str, ...], log: str, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = site if log == "site" else GOLDEN / f"{log}.log"
    command, *rest = args
    lean = _json(command, path, *rest)
    needing = Enricher.needing
    with monkeypatch.context() as m:
        m.setattr(Enricher, "needing", lambda self, work: needing(self, "rows"))
        full = _json(command, path, *rest)
    assert _without_robot_counts(lean) == _without_robot_counts(full)
    skipped = agent_work(tables_for(_sections(command, rest)), _bots(rest)) == "none"
    if not skipped:
        assert lean == full
    else:
        assert lean["overview"]["crawler_hits"] is None
        assert isinstance(full["overview"]["crawler_hits"], int)


def _sections(command: str, rest: list[str]) -> tuple[str, ...]:
    from logaudit import api
    from logaudit.config import load

    chosen = tuple(rest[i + 1] for i, a in enumerate(rest) if a == "--section")
    return chosen or api.COMMANDS[command][1](load())


def _bots(rest: list[str]) -> str:
    return rest[rest.index("--bots") + 1] if "--bots" in rest else "auto"


def test_records_still_classify_with_bots_include(site: Path) -> None:
    r = CliRunner().invoke(
        cli,
        ["records", str(site), "--bots", "include", "--fields", "client,agent_class"],
    )
    assert r.exit_code == 0, r.output
    assert "crawler" in r.stdout and "tool" in r.stdout


@pytest.fixture
def new_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process without a classifier, as a new run's is, and no cache across runs."""
    monkeypatch.setenv("LOGAUDIT_NO_CACHE", "1")
    for name, value in (("_classifier", None), ("_cache_read", None), ("_saved", {})):
        monkeypatch.setattr(classify, name, value)


def test_a_run_that_needs_classes_builds_no_rows(
    site: Path, new_classifier: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default --bots with sections that read no agent row: each agent gets its class
    alone (robot patterns, uap-core's device rules), never its full row."""
    made: list[str] = []
    row = agents.AgentClassifier._row

    def recorded(self: Any, text: str, robot: Any) -> Any:
        made.append(text)
        return row(self, text, robot)

    monkeypatch.setattr(agents.AgentClassifier, "_row", recorded)
    out = _json("summary", site, "--section", "pages", "--section", "status")
    assert made == []
    assert len(classify._classifier._class_cache) == 4  # Chrome, Firefox, Googlebot, curl
    assert (out["overview"]["crawler_hits"], out["overview"]["tool_hits"]) == (2, 1)
    assert out["overview"]["page_views"] == 4  # Googlebot's /about is not a person's


def _corpus(shared_data: Path) -> list[str]:
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: list[str] = ["", "-", "   "]
    for name in ("uap-core_test_ua.yaml", "uap-core_test_os.yaml"):
        text = (shared_data / "useragents" / name).read_text("utf-8")
        out += [c["user_agent_string"] for c in yaml.load(text, loader)["test_cases"]]
    robots = json.loads((shared_data / "useragents" / "crawler-user-agents.json").read_text())
    out += [a for entry in robots for a in entry.get("instances", [])]
    return list(dict.fromkeys(out))


def test_class_alone_equals_the_class_of_the_full_row(shared_data: Path) -> None:
    """On uap-core's test agents and crawler-user-agents' instances (about 3,500, robots,
    spiders only uap-core knows, feeds and people), the class found alone is the full row's."""
    names = pd.Index(_corpus(shared_data), dtype=object)
    alone = agents.AgentClassifier().classes(names, rows=False)
    full = agents.AgentClassifier().classes(names)
    assert len(names) > 3000
    assert {0, 1, 2} <= set(full.tolist())
    differ = [(names[i], int(alone[i]), int(full[i])) for i in np.flatnonzero(alone != full)]
    assert differ == []
    # A classifier that has rows for some agents answers from them, and still the same.
    mixed = agents.AgentClassifier()
    mixed.classify(names[::3])
    assert (mixed.classes(names, rows=False) == full).all()
