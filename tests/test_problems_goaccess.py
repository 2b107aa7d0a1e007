"""``problems`` agrees with GoAccess on 404 hits, on real combined logs (../shared/data)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli

GOACCESS = shutil.which("goaccess")
pytestmark = [
    pytest.mark.goaccess,
    pytest.mark.skipif(GOACCESS is None, reason="goaccess is not installed"),
]

LOGS = (
    "lnav/logfile_shop_access_log.0",
    "awstats/testglobal.log",
    "fail2ban/nginx-botsearch.log",
    "lnav/logfile_access_log.0",
)


@pytest.mark.parametrize("name", LOGS)
def test_404_hits_equal_goaccess(name: str, shared_data: Path, tmp_path: Path) -> None:
    log = shared_data / "logs" / name
    out = tmp_path / "ga.json"
    args = [
        str(GOACCESS), str(log), "--no-global-config", "--log-format=COMBINED",
        "--no-query-string", "--no-ip-validation", "--num-tests=0", "--max-items=10000000",
        "--no-progress", "--no-parsing-spinner", "-o", str(out),
    ]  # fmt: skip
    subprocess.run(args, capture_output=True, check=True, timeout=300)
    theirs = json.loads(out.read_text())["not_found"]["metadata"]["hits"]["total"]["value"]
    r = CliRunner().invoke(cli, ["problems", str(log), "--format", "json", "--top", "0"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    head = next(s for s in doc["sections"] if s["name"] == "headline")
    assert head["headline"]["not_found_hits"] == theirs > 0
    # The failing-URLs rows add up to the same 404s' class.
    failing = next(s for s in doc["sections"] if s["name"] == "failing-urls")
    assert sum(r["count"] for r in failing["rows"] if r["status"] == "4xx") >= theirs
