"""Real and third-party logs from ../shared/data/logs (read in place, never copied here; skipped
when the folder is absent): every Apache/nginx-family file runs through ``logaudit summary
--format json`` cleanly and accounts for every line, and the figures of the real shop log are
cross-checked against an independent computation with ``re`` and ``collections``.
"""

from __future__ import annotations

import bz2
import gzip
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from loglines import countable_lines, isolate

from logaudit.cli import cli
from logaudit.errors import ExitCode

pytestmark = pytest.mark.shared


# The Apache/nginx (CLF) family files: each must be read with every line a hit or a bad line.
CLF_FAMILY = [
    "lnav/logfile_access_log.0",
    "lnav/logfile_bad_access_log.0",
    "lnav/logfile_shop_access_log.0",
    "awstats/testglobal.log",
    "awstats/testsmall.log",
    "matomo/common.log",
    "matomo/common.log.gz",
    "matomo/common.log.bz2",
    "matomo/common_complete.log",
    "matomo/common_vhost.log",
    "matomo/common_encoding_big5.log",
    "matomo/ncsa_extended.log",
    "matomo/logs_to_tests.log",
    "matomo/static_ignores.log",
    "matomo/icecast2.log",
    "matomo/ovh.log",
    "netdata/weblog_common.log",
    "fail2ban/apache-badbots.log",
    "fail2ban/nginx-botsearch.log",
    "fail2ban/nginx-bad-request.log",
    "fail2ban/php-url-fopen.log",
    "fail2ban/traefik-auth.log",
]

# Files of other layouts that the CLF family does not read (AWStats' custom %time5 and
# vhost-without-ident, Gandi's "(0 s)", fail2ban's Apache 2.2 custom format): a clean "not
# recognised", exit 4, one line naming the file.
NOT_CLF = [
    "awstats/testtime5.log",
    "awstats/testnginx.log",
    "matomo/gandi.log",
    "fail2ban/apache-fakegooglebot.log",
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def summary(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["summary", *map(str, args), "--format", "json"])


def raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    return data


def logs_file(shared_data: Path, rel: str) -> Path:
    p = shared_data / "logs" / rel
    if not p.is_file():
        pytest.skip(f"{rel} is absent")
    return p


@pytest.mark.parametrize("rel", CLF_FAMILY)
def test_clf_family_file_is_fully_accounted_for(shared_data: Path, rel: str) -> None:
    path = logs_file(shared_data, rel)
    r = summary(path)
    assert "Traceback" not in r.output
    assert r.exit_code == 0, (r.exit_code, r.stderr)
    d = json.loads(r.stdout)
    ov = d["overview"]
    assert ov["requests"] + ov["bad_lines"] == countable_lines(raw_bytes(path))
    assert ov["requests"] > 0
    [inp] = d["inputs"]
    assert inp["parsed"] == ov["requests"] and inp["bad_lines"] == ov["bad_lines"]


@pytest.mark.parametrize("rel", NOT_CLF)
def test_other_layouts_are_refused_cleanly(shared_data: Path, rel: str) -> None:
    path = logs_file(shared_data, rel)
    r = summary(path)
    assert "Traceback" not in r.output
    assert r.exit_code == ExitCode.INPUT_INVALID, (r.exit_code, r.stderr)
    err = r.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("logaudit: ") and path.name in err[0]


# ---- the real shop log, checked independently ----------------------------------------------

SHOP = "lnav/logfile_shop_access_log.0"
LINE = re.compile(
    r'^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)" "(?P<xff>[^"]*)"$'
)
# METRICS.md's default static extensions, written out here independently of logaudit.config.
STATIC = set(
    "css js mjs map gif jpg jpeg png bmp ico svg webp avif tif tiff woff woff2 ttf eot otf "
    "mp3 mp4 webm ogg wav flac swf txt xml rss atom json".split()
)


def shop_records(path: Path) -> list[dict[str, Any]]:
    out = []
    for text in path.read_text(encoding="utf-8").splitlines():
        m = LINE.match(text)
        assert m, text
        rec: dict[str, Any] = m.groupdict()
        method, target, _protocol = rec["request"].split(" ")
        rec["method"] = method
        rec["path"] = target.split("?", 1)[0]
        rec["status"] = int(rec["status"])
        rec["bytes"] = 0 if rec["bytes"] == "-" else int(rec["bytes"])
        rec["when"] = datetime.strptime(rec["time"], "%d/%b/%Y:%H:%M:%S %z")
        out.append(rec)
    return out


def is_page(rec: dict[str, Any]) -> bool:
    ok = 200 <= rec["status"] < 300 or rec["status"] == 304
    ext = (
        rec["path"].rsplit("/", 1)[-1].rpartition(".")[2].lower()
        if "." in rec["path"].rsplit("/", 1)[-1]
        else ""
    )
    return ok and ext not in STATIC


@pytest.fixture(scope="module")
def shop(shared_data: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    path = shared_data / "logs" / SHOP
    if not path.is_file():
        pytest.skip(f"{SHOP} is absent")
    records = shop_records(path)
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, path.parent)  # nothing is written there: the config path is only read
        args = ["summary", str(path), "--format", "json", "--top", "0"]
        for s in ("status", "not-found", "hosts", "methods", "daily", "pages", "static"):
            args += ["--section", s]
        auto = CliRunner().invoke(cli, args)
        include = CliRunner().invoke(cli, [*args, "--bots", "include"])
    assert auto.exit_code == 0 and include.exit_code == 0, (auto.stderr, include.stderr)
    return records, json.loads(auto.stdout), json.loads(include.stdout)


def _section(d: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return next(s for s in d["sections"] if s["name"] == name)["rows"]


def test_shop_requests_and_bad_lines(shop) -> None:
    records, d, _ = shop
    assert len(records) == 1000
    assert d["overview"]["requests"] == 1000
    assert d["overview"]["bad_lines"] == 0
    assert d["inputs"][0]["format"] == "combined"


def test_shop_bandwidth(shop) -> None:
    records, d, _ = shop
    assert d["overview"]["bandwidth"] == sum(r["bytes"] for r in records)


def test_shop_status_counts(shop) -> None:
    records, d, _ = shop
    want = Counter(r["status"] for r in records)
    assert {row["status"]: row["hits"] for row in _section(d, "status")} == dict(want)
    ov = d["overview"]
    for k in range(1, 6):
        assert ov[f"status_{k}xx"] == sum(v for s, v in want.items() if s // 100 == k)


def test_shop_not_found_paths(shop) -> None:
    records, d, _ = shop
    want = Counter(r["path"] for r in records if r["status"] == 404)
    assert d["overview"]["not_found_urls"] == len(want)
    assert {row["path"]: row["hits"] for row in _section(d, "not-found")} == dict(want)


def test_shop_hosts_and_methods(shop) -> None:
    records, d, _ = shop
    hosts = Counter(r["client"] for r in records)
    assert len(hosts) == 101
    rows = _section(d, "hosts")
    assert {row["client"]: row["hits"] for row in rows} == dict(hosts)
    bw = Counter()
    for r in records:
        bw[r["client"]] += r["bytes"]
    assert {row["client"]: row["bandwidth"] for row in rows} == dict(bw)
    methods = Counter(r["method"] for r in records)
    assert {row["method"]: row["hits"] for row in _section(d, "methods")} == dict(methods)


def test_shop_time_span(shop) -> None:
    records, d, _ = shop
    first = min(r["when"] for r in records)
    last = max(r["when"] for r in records)
    assert datetime.fromisoformat(d["overview"]["first"]) == first
    assert datetime.fromisoformat(d["overview"]["last"]) == last
    # The log's own +0330 wall clock.
    assert d["overview"]["first_local"] == first.replace(tzinfo=None).isoformat()
    assert [row["date"] for row in _section(d, "daily")] == ["2019-01-22"]


def test_shop_people_figures_with_every_agent_counted(shop) -> None:
    # With --bots include every hit is a person's, so the figures follow METRICS.md directly:
    # visitor keys (IP, agent) over non-4xx hits; page views are 2xx/304 non-static hits.
    records, _, d = shop
    keys = {(r["client"], r["agent"]) for r in records if not 400 <= r["status"] < 500}
    ov = d["overview"]
    assert ov["visitor_days"] == len(keys)  # one day
    assert ov["unique_visitors"] == len(keys)
    assert ov["page_views"] == sum(1 for r in records if is_page(r))


def test_shop_static_files(shop) -> None:
    records, d, _ = shop
    static = Counter(
        r["path"]
        for r in records
        if r["status"] != 404
        and not is_page(r)
        and r["path"].rsplit("/", 1)[-1].rpartition(".")[2].lower() in STATIC
        and "." in r["path"].rsplit("/", 1)[-1]
    )
    assert {row["path"]: row["hits"] for row in _section(d, "static")} == dict(static)
