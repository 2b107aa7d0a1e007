"""``logaudit scrub`` on every format family's real fixture (/work/shared/data/logs, through
``shared_data``) with personal data planted in it: the scrubbed log parses to the same
records except the masked fields, every client is anonymised, JSON stays JSON, and
``privacy`` finds nothing in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.cli import cli

# One real fixture per family (and per layout within a family).
FIXTURES = {
    "combined": "lnav/logfile_shop_access_log.0",
    "vcombined": "matomo/static_ignores.log",
    "vcommon": "netdata/weblog_full.log",
    "w3c-iis": "netdata/weblog_u_ex221107.log",
    "w3c-headers": "lnav/logfile_w3c_big.0",
    "w3c-cloudfront": "matomo/amazon_cloudfront_web.log",
    "caddy": "matomo/caddy_json.log",
    "traefik-json": "matomo/traefik_json.log",
    "nginx-json": "matomo/nginx_json.log",
    "alb": "matomo/alb.log",
    "elb": "matomo/elb.log",
    "s3": "matomo/s3.log",
    "squid": "netdata/squidlog_access.log",
    "haproxy": "lnav/logfile_haproxy.0",
    "traefik": "fail2ban/traefik-auth.log",
}
FIELDS = ("time,client,user,method,path,query,protocol,status,bytes,referrer,agent,vhost,"
          "line")
DATUM = "jane.doe@example.com"
KEPT = ("time", "method", "protocol", "status", "bytes", "vhost", "line")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _records(path: Path, *extra: str) -> list[dict[str, object]]:
    r = CliRunner().invoke(cli, ["records", str(path), "--format", "jsonl", "--fields", FIELDS,
                                 *extra])
    assert r.exit_code == 0, r.output
    return [json.loads(x) for x in r.stdout.splitlines()]


def _plant(src: Path, dst: Path, *extra: str) -> int:
    """A copy of ``src`` with an e-mail address appended to the path of a few lines (where
    the path is written as it is read); returns how many lines hold it."""
    lines = src.read_bytes().split(b"\n")
    planted = 0
    for rec in _records(src, *extra):
        path = str(rec["path"])
        i = int(str(rec["line"])) - 1
        if len(path) < 2 or path.encode() not in lines[i] or planted >= 3:
            continue
        lines[i] = lines[i].replace(path.encode(), f"{path}u/{DATUM}".encode(), 1)
        planted += 1
    dst.write_bytes(b"\n".join(lines))
    return planted


@pytest.mark.parametrize("family", list(FIXTURES))
def test_family_scrubbed_same_records_masked_fields(family: str, shared_data: Path,
                                                     tmp_path: Path) -> None:
    src = tmp_path / "planted.log"
    planted = _plant(shared_data / "logs" / FIXTURES[family], src)
    assert planted > 0
    r = CliRunner().invoke(cli, ["privacy", str(src)])
    assert r.exit_code == 12, r.output
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    before, after = _records(src), _records(out)
    assert len(before) == len(after) > 0
    masked = 0
    for b, a in zip(before, after, strict=True):
        for k in KEPT:
            assert a[k] == b[k], (k, b[k], a[k])
        if b["client"] not in ("", "-"):
            assert a["client"] != b["client"], b["client"]
        for k in ("path", "query", "referrer", "agent"):
            if DATUM not in str(b[k]):
                # Unchanged, unless the fixture itself holds personal data there.
                assert a[k] == b[k] or "REDACTED" in str(a[k]), (k, b[k], a[k])
            else:
                assert DATUM not in str(a[k]) and "REDACTED" in str(a[k])
                masked += 1
    assert masked >= planted
    if family in ("caddy", "traefik-json", "nginx-json"):
        for text in out.read_text().splitlines():
            if text.strip():
                json.loads(text)
    r = CliRunner().invoke(cli, ["privacy", str(out)])
    assert r.exit_code == 0, r.output
    # With --ip keep only the planted lines change.
    kept = tmp_path / "kept.log"
    r = CliRunner().invoke(cli, ["scrub", str(src), "-o", str(kept), "--ip", "keep"])
    assert r.exit_code == 0, r.output
    changed = [y for x, y in zip(src.read_bytes().split(b"\n"), kept.read_bytes().split(b"\n"),
                                 strict=True) if x != y]
    assert len(changed) >= planted
    assert all(b"REDACTED" in y and DATUM.encode() not in y for y in changed)
