"""QA19 #11, inputs: phpMyAdmin's siblings are probes, ``--vhost`` on a log without virtual
hosts says so, ``records`` says once that no GeoIP database is set for a GeoIP field, and the
records table never cuts a number."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import isolate, line, utc, write

from logaudit.cli import cli


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setattr("logaudit.enrich.geo.SYSTEM_DIRS", ())


def run(*args: object):  # noqa: ANN201 (click's Result)
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize(
    "path", ["/mysqladmin/scripts/setup.php", "/mysql-admin/", "/sqlmanager/", "/mysqlmanager/"]
)
def test_phpmyadmins_siblings_are_probes(path: str) -> None:
    # fail2ban's nginx-botsearch test log: '//mysqladmin/scripts/setup.php' was no probe.
    from logaudit.analyze.problems.tables import probe_codes, probes

    chunk = pd.DataFrame(
        {"path": pd.Categorical([path, "/admin/mysql-report"]), "query": pd.Categorical(["", ""])}
    )
    names = [p.name for p in probes()]
    assert [names[i] if i >= 0 else None for i in probe_codes(chunk)] == ["phpmyadmin", None]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write(
        tmp_path / "access.log",
        [line(client="198.51.100.7", when=utc(2026, 12, 1, 10, i, 0)) for i in range(3)],
    )


@pytest.mark.parametrize("command", ["summary", "records"])
def test_vhost_on_a_log_without_virtual_hosts_says_so(log: Path, command: str) -> None:
    got = run(command, log, "--vhost", "example.com")
    assert got.exit_code == 8
    assert "(vhost example.com): the log's format (combined) has no virtual host" in got.output
    # a log with a virtual host field: the plain line
    vlog = write(log.with_name("v.log"), ["example.org:80 " + line()])
    got = run(command, vlog, "--log-format", "vcombined", "--vhost", "example.com")
    assert got.exit_code == 8 and "no virtual host" not in got.output


def test_records_say_once_that_no_geoip_database_is_set(log: Path) -> None:
    got = run("records", log, "--fields", "client,country,city")
    assert got.exit_code == 0
    assert got.stderr.count("No GeoIP city/country database found") == 1
    assert "ASN/ISP" not in got.stderr
    assert "GeoIP" not in run("records", log, "--fields", "client").stderr


def test_the_records_table_shows_numbers_whole(tmp_path: Path) -> None:
    # "123456789012345…" and "0.1230000000000…" were cut at the column's 16 characters; a time
    # is now written to the microsecond as everywhere (docs/metrics.md), so only the size is long
    # (its widest, 13 digits: a size of 1 TiB or more is a bad line).
    fmt = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %T'
    log = write(
        tmp_path / "t.log",
        [line(size=1099511627775) + " 0.12300000000000001", line(size=5) + " 2"],
    )
    table = run("records", log, "--log-format", fmt, "--fields", "bytes,response_time,agent")
    assert table.exit_code == 0, table.output
    rows = [r.split()[:2] for r in table.stdout.splitlines()[1:]]
    assert rows == [["1099511627775", "0.123"], ["5", "2.0"]]
    jsonl = run("records", log, "--log-format", fmt, "--fields", "bytes", "--format", "jsonl")
    assert [json.loads(r)["bytes"] for r in jsonl.stdout.splitlines()] == [1099511627775, 5]
