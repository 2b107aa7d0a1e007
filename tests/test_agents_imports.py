"""ua-parser, user_agents and the crawler list are imported only where an agent is classified.

They cost ~16 ms of CPU to import (issue #18): a run whose agents all come from the cache
across runs, and the main process while the agents helper classifies, never need them. Probed
as the program runs (``cli.main``, in a subprocess), by the modules loaded when it leaves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the helper is forked")

# What classifying an agent imports: the wrappers and the libraries they wrap.
CLASSIFYING = (
    "ua_parser",
    "user_agents",
    "crawleruseragents",
    "logaudit.enrich.uaparse",
    "logaudit.enrich.crawlers",
)

# Runs the program as ``python -m logaudit`` does, and writes the modules it loaded to the
# file named by LOGAUDIT_TEST_MODULES as it leaves (``cli._leave``: no atexit runs).
PROBE = """
import json, os, sys
from logaudit import cli
leave = cli._leave
def probe(code):
    with open(os.environ["LOGAUDIT_TEST_MODULES"], "w") as f:
        json.dump(sorted(sys.modules), f)
    leave(code)
cli._leave = probe
sys.argv = ["logaudit", *sys.argv[1:]]
cli.main()
"""


def _run(log: Path, tmp_path: Path, name: str, **env: str) -> tuple[set[str], dict[str, object]]:
    """The modules a ``summary`` of ``log`` loaded in the main process, and its report."""
    modules, out = tmp_path / f"{name}.modules.json", tmp_path / f"{name}.json"
    full = dict(os.environ, PYTHONPATH=str(ROOT), LOGAUDIT_TEST_MODULES=str(modules))
    full["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    full["LOGAUDIT_IDLE_CORE"] = "0"  # the finish in this process: all of it probed
    full.pop("LOGAUDIT_NO_CACHE", None)
    full.update(env)
    subprocess.run(
        [sys.executable, "-c", PROBE, "summary", str(log), "--format", "json", "-o", str(out)],
        cwd=tmp_path, env=full, check=True, capture_output=True, timeout=300,
    )
    report = json.loads(out.read_text())
    report.pop("generated", None)
    return set(json.loads(modules.read_text())), report


def _classifying(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in CLASSIFYING or m in CLASSIFYING)


def test_classifying_agents_only_where_they_are_classified(
    sample_logs: Path, tmp_path: Path
) -> None:
    tmp_path.chmod(0o700)
    log = sample_logs / "access.log"
    # Cold, no helper: this process classifies, so it imports them (the probe sees imports).
    here, report = _run(log, tmp_path, "cold", LOGAUDIT_AGENT_HELPER="0", LOGAUDIT_NO_CACHE="1")
    assert "ua_parser" in here and "crawleruseragents" in here
    # Cold, the helper classifies: this process imports none of them, and the rows are the same.
    helped, helped_report = _run(
        log, tmp_path, "helped", LOGAUDIT_AGENT_HELPER="1", LOGAUDIT_NO_CACHE="1"
    )
    assert _classifying(helped) == []
    assert helped_report == report
    # A cache file written, then a warm run: every agent from the cache, nothing imported.
    _run(log, tmp_path, "first", LOGAUDIT_AGENT_HELPER="0")
    assert (tmp_path / "cache" / "logaudit" / "agent-cache.arrow").exists()
    for helper in ("0", "1"):
        warm, warm_report = _run(log, tmp_path, f"warm{helper}", LOGAUDIT_AGENT_HELPER=helper)
        assert _classifying(warm) == [], helper
        assert warm_report == report
