"""Slow endpoints and slow requests from a history store with a rolled-up month equal one pass
(schema 12: pb_response_max keeps each endpoint's shortest response and upstream time, merged
by min, and the count it is over; an older logaudit's roll-up summed them)."""

from __future__ import annotations

import json
import shutil
import zlib
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from logaudit import api
from logaudit.config import load
from logaudit.samplegen import generate_lines
from logaudit.store.layout import SCHEMA, STATE_FILE
from tests.store_helpers import BASE, figures, grown_store, state_json

FORMAT = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time $upstream_response_time'
)
SECTIONS = ("slow-endpoints", "slow-requests")


def _timed(lines: list[bytes]) -> bytes:
    """Each line with a response time (ms to seconds, log-normal) and an upstream time a
    little shorter, or '-' on one line in four (served without the upstream). A third of
    the paths always take 37.5 ms (upstream 30 ms): a histogram bin's middle is 36.5 ms, so
    their percentiles are the min's, and a roll-up that lost the min shows."""
    rng = np.random.default_rng(12)
    rt = np.round(rng.lognormal(-2.0, 1.2, len(lines)), 3)
    up = np.round(rt * rng.uniform(0.5, 0.95, len(lines)), 3)
    out = []
    for i, line in enumerate(lines):
        path = line.split(b'"', 2)[1].split(b" ")[1].split(b"?")[0].rstrip(b"0123456789")
        if zlib.crc32(path) % 3 == 0:
            rt[i], up[i] = 0.0375, 0.03
        u = "-" if i % 4 == 0 else f"{up[i]:.4f}"
        out.append(line.rstrip(b"\n") + f" {rt[i]:.4f} {u}\n".encode())
    return b"".join(out)


# Six days from 29 January: January's last three days close and are rolled up.
DATA = _timed(list(generate_lines(6000, start=date(2026, 1, 29), days=6)))


def _report(args: list[str], state: Path | None = None) -> api.Outcome:
    settings = load({**BASE, "log_format": FORMAT, "state": state}, env={})
    return api.report("problems", args, settings, SECTIONS)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("slowstore")
    return grown_store(tmp, DATA, (0.3, 0.6, 0.85), _report)


def test_slow_sections_from_a_rolled_up_month_equal_one_pass(store: tuple[Path, Path]) -> None:
    state, whole = store
    raw = state_json(state)
    assert raw["schema"] == SCHEMA == 14
    assert "pb_response_max" in raw["months"]["2026-01"]["files"]
    one = figures(_report([str(whole)]))
    rows = one["slow-endpoints"]["rows"]
    assert len(rows) > 20 and "upstream_p95" in rows[0] and one["slow-requests"]["rows"]
    # Endpoints of one time over days: the min clamp decides their percentiles.
    fixed = [r for r in map(json.loads, rows) if r["max"] == 0.0375 and r["requests"] > 20]
    assert fixed and all(r["p50"] == r["p99"] == 0.0375 for r in fixed)
    assert figures(_report([], state)) == one


def test_a_schema_11_store_is_read_and_written_on_as_12(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    """A store written before schema 12 is read as it is (its days' pb_response_max may lack
    the min columns: clamped at the max only) and written on as SCHEMA by a run that adds lines."""
    state, whole = store
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    raw = state_json(copy)
    raw["schema"] = 11
    (copy / STATE_FILE).write_text(json.dumps(raw))
    rest = tmp_path / "rest.log"
    rest.write_bytes(DATA[len(whole.read_bytes()) :])
    everything = tmp_path / "all.log"
    everything.write_bytes(DATA)
    assert figures(_report([str(rest)], copy)) == figures(_report([str(everything)]))
    assert state_json(copy)["schema"] == SCHEMA
