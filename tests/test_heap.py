"""logaudit.heap: the data stack is imported with no cyclic-GC pass, and frozen after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit import heap
from logaudit.cli import cli

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json, sys
from logaudit import heap
passes = []
importing = [False]


def seen(phase, info):
    if phase == "start" and importing[0]:
        # a pass before the freeze scans the imports' objects; after it, only newer ones
        passes.append(gc.get_freeze_count())


gc.callbacks.append(seen)
gc.set_threshold(50)  # a pass every 50 new objects: hundreds during an import of pandas
gc.enable() if sys.argv[1] == "on" else gc.disable()
frozen = gc.get_freeze_count()
gc.collect()  # the count starts from zero: a pass now would be the probe's own
importing[0] = True
heap.data_stack()
importing[0] = False
print(json.dumps({
    "before": frozen,
    "passes": passes,
    "enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count() - frozen,
    "pandas": "pandas" in sys.modules,
    "api": "logaudit.api" in sys.modules,
}))
"""


def _probe(state: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, state], capture_output=True, text=True, env=env,
        cwd=ROOT, check=True, timeout=120,
    )
    return dict(json.loads(out.stdout))


@pytest.mark.parametrize("state", ["on", "off"])
def test_the_data_stack_is_imported_without_a_collector_pass_and_frozen(state: str) -> None:
    got = _probe(state)
    assert got["api"] and got["pandas"]
    frozen_before = got["before"]
    assert isinstance(frozen_before, int) and isinstance(got["passes"], list)
    # none during the imports: at most one as the collector comes back on, over objects
    # made after the freeze
    assert all(frozen > frozen_before for frozen in got["passes"]), got["passes"]
    assert len(got["passes"]) <= 1
    assert got["enabled"] is (state == "on")  # as it was before
    assert isinstance(got["frozen"], int) and got["frozen"] > 10_000  # the imports' objects


def test_report_commands_and_records_go_through_it(
    sample_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "data_stack", lambda between=None: calls.append(1))
    for command, fmt in (("summary", "json"), ("problems", "json"), ("records", "jsonl")):
        r = CliRunner().invoke(cli, [command, str(sample_logs / "access.log"), "--format", fmt])
        assert r.exit_code == 0, r.output
    assert len(calls) == 3


BETWEEN = """
import gc, json, sys
from logaudit import heap
seen = {}


def between():
    seen.update({m: m in sys.modules for m in (*heap.PANDAS_FREE, "pandas", "logaudit.api")})
    seen["enabled"] = gc.isenabled()


heap.data_stack(between)
print(json.dumps({**seen, "api": "logaudit.api" in sys.modules}))
"""


def test_between_runs_with_the_pandas_free_modules_imported_and_pandas_not() -> None:
    # The CLI forks the agents helper there (enrich/agentproc.py): it inherits numpy and
    # pyarrow, and never pandas.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", BETWEEN], capture_output=True, text=True, env=env,
        cwd=ROOT, check=True, timeout=120,
    )
    got = json.loads(out.stdout)
    assert all(got[m] for m in heap.PANDAS_FREE), got
    assert not got["pandas"] and not got["logaudit.api"]
    assert got["enabled"]  # the collector as the caller had it, at the fork
    assert got["api"]  # and the whole stack after


# `python -m logaudit --help` with a collector pass every 50 new objects (hundreds while click
# and the CLI are imported, were the collector on): each pass is written to stderr.
MAIN_PROBE = """
import gc, os, sys
gc.callbacks.append(lambda phase, info: phase == "start" and os.write(2, b"pass\\n"))
import logaudit.__main__ as entry
gc.collect()
os.write(2, b"main\\n")
gc.set_threshold(50)
sys.argv = ["logaudit", "--help"]
entry.main()
"""


def test_the_cli_is_imported_without_a_collector_pass() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", MAIN_PROBE], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout
    seen = out.stderr.splitlines()
    # none from the entry point on: the import with the collector off, then cli.main's
    # threshold (100,000 new objects) outlasts --help
    assert seen[seen.index("main") + 1 :] == []
