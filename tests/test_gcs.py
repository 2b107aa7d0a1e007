"""Google Cloud Storage usage logs (GoAccess's CLOUDSTORAGE): detected with their CSV header,
the header skipped (not a bad line), every field read back as generated; ``--log-format
CLOUDSTORAGE`` works from the CLI; GoAccess agrees on requests and bandwidth."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.cli import cli
from logaudit.formats import detect
from logaudit.formats.goaccess import GCS_HEADER
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "gcloud-golang-storage/20151204 (gzip),gzip(gfe)",  # a comma inside the quotes
    "curl/8.4.0",
)


def _rows(n: int, seed: int = 11) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        query = "" if i % 3 else f"alt=media&generation={rnd.randrange(10**6)}"
        out.append(
            {
                "micros": 1_700_000_000_000_000 + i * 1_234_567 + rnd.randrange(1000),
                "client": f"203.0.113.{rnd.randrange(1, 255)}" if i % 5 else "2001:db8::7",
                "method": ("GET", "HEAD", "PUT")[i % 3],
                "path": f"/bucket-{i % 2}/obj/{rnd.randrange(50)}.bin",
                "query": query,
                "status": (200, 304, 404, 206)[i % 4],
                "bytes": rnd.randrange(0, 10**7),
                "taken": rnd.randrange(1, 10**6),
                "host": ("storage.googleapis.com", "bucket-1.storage.googleapis.com")[i % 2],
                "referrer": "" if i % 4 else "https://www.example.com/page",
                "agent": _AGENTS[i % 3],
            }
        )
    return out


def _line(r: dict[str, object]) -> str:
    uri = f"{r['path']}?{r['query']}" if r["query"] else str(r["path"])
    values = (
        r["micros"], r["client"], 2 if ":" in str(r["client"]) else 1, "", r["method"], uri,
        r["status"], 0, r["bytes"], r["taken"], r["host"], r["referrer"], r["agent"],
        "AEnB2Uo" + str(r["micros"])[-8:], "GET_Object", "bucket", str(r["path"])[1:],
    )  # fmt: skip
    return ",".join(f'"{v}"' for v in values)


def _log(rows: list[dict[str, object]]) -> bytes:
    return ("\n".join([GCS_HEADER, *(_line(r) for r in rows)]) + "\n").encode()


def test_round_trip_every_field() -> None:
    rows = _rows(300)
    raw = _log(rows)
    det = detect(raw, "usage_2023_11_14_22_00_00_0_v0")
    assert det.format.name == "gcs"
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("gcs", None), raw.count(b"\n")), det, bad)
    assert bad.total == 0, bad.samples
    assert len(frame) == len(rows)
    assert frame["line"].tolist() == list(range(2, len(rows) + 2))  # the header is line 1
    for got, want in zip(frame.to_dict("records"), rows, strict=True):
        secs, usec = divmod(int(want["micros"]), 1_000_000)  # type: ignore[call-overload]
        assert got["time"].value // 10**9 == secs
        assert got["usec"] == usec
        assert got["offset"] == 0
        for col in ("client", "method", "path", "query", "status", "bytes", "referrer", "agent"):
            assert got[col] == want[col], col
        assert got["vhost"] == want["host"]
        assert got["response_time"] == pytest.approx(int(want["taken"]) / 1e6)  # type: ignore[call-overload]


def test_cloudstorage_alias_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, tmp_path)
    rows = _rows(40)
    path = tmp_path / "usage.csv"
    path.write_bytes(_log(rows))
    r = CliRunner().invoke(
        cli,
        ["summary", str(path), "--log-format", "CLOUDSTORAGE", "--format", "json",
         "--section", "status"],
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    overview = json.loads(r.stdout)["overview"]
    assert overview["requests"] == len(rows)
    listed = CliRunner().invoke(cli, ["formats"]).output
    assert "gcs" in listed and "CLOUDSTORAGE" in listed


@pytest.mark.goaccess
@pytest.mark.skipif(shutil.which("goaccess") is None, reason="goaccess is not installed")
def test_goaccess_agrees_on_requests_and_bandwidth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path)
    rows = _rows(200, seed=5)
    path = tmp_path / "usage.csv"
    path.write_bytes(_log(rows))
    out = tmp_path / "ga.json"
    subprocess.run(
        ["goaccess", str(path), "--no-global-config", "--log-format=CLOUDSTORAGE", "-q",
         "--no-ip-validation", "-o", str(out)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    general = json.loads(out.read_text())["general"]
    r = CliRunner().invoke(cli, ["summary", str(path), "--format", "json", "--section", "status"])
    assert r.exit_code == 0, r.stderr
    overview = json.loads(r.stdout)["overview"]
    assert general["valid_requests"] == overview["requests"] == len(rows)
    assert general["bandwidth"] == overview["bandwidth"] == sum(int(r["bytes"]) for r in rows)  # type: ignore[call-overload]
