"""Virtual hosts are host names: case is ignored (RFC 4343) and a trailing dot names the same
host, so ``SHOP.Example.com.:443`` and ``shop.example.com:443`` are one row, shown in lower
case, in every table keyed by the host (summary's vhosts, records, a store grown day by day)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate, line, utc, write

from logaudit.cli import cli
from tests.store_helpers import figures, grown_store, report

LOGGED = ["shop.example.com:443", "SHOP.Example.com:443", "shop.example.com.:443",
          "Blog.Example.COM", "blog.example.com.", "[2001:DB8::1]:443"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _log(path: Path, days: int = 1) -> Path:
    return write(path, [
        line(client=f"203.0.113.{i % 50}", vhost=LOGGED[i % len(LOGGED)],
             when=utc(2024, 3, 1 + i * days // 60, 10, i % 60), request=f"GET /{i} HTTP/1.1")
        for i in range(60)
    ])


def test_one_row_per_host_in_lower_case(tmp_path: Path) -> None:
    log = _log(tmp_path / "vhosts.log")
    r = CliRunner().invoke(cli, ["summary", str(log), "--format", "json"])
    assert r.exit_code == 0, r.stderr
    (vh,) = [s for s in json.loads(r.stdout)["sections"] if s["name"] == "vhosts"]
    assert {x["vhost"]: x["hits"] for x in vh["rows"]} == {
        "shop.example.com:443": 30, "blog.example.com": 20, "[2001:db8::1]:443": 10
    }
    # records shows the host as the table names it, and --vhost keeps the same rows.
    r = CliRunner().invoke(cli, ["records", str(log), "--vhost", "SHOP.example.com.",
                                 "--fields", "vhost", "--format", "jsonl"])
    assert r.exit_code == 0, r.stderr
    assert {json.loads(x)["vhost"] for x in r.stdout.splitlines()} == {"shop.example.com:443"}
    assert len(r.stdout.splitlines()) == 30


def test_a_store_grown_day_by_day_equals_one_pass(tmp_path: Path) -> None:
    data = _log(tmp_path / "src.log", days=3).read_bytes()
    state, whole = grown_store(tmp_path, data, (0.5, 0.999), report)
    stored, one = figures(report([], state)), figures(report([str(whole)]))
    assert stored["vhosts"] == one["vhosts"]
    assert [r for r in one["vhosts"]["rows"] if "SHOP" in r or "com." in r] == []
    assert len(one["vhosts"]["rows"]) == 3


def _hosts(path: Path, hosts: list[str]) -> Path:
    """One request a minute, the n-th to ``hosts[n]``."""
    when = [utc(2024, 3, 1, 10, i) for i in range(len(hosts))]
    return write(path, [line(vhost=h, when=t, request=f"GET /{i} HTTP/1.1")
                        for i, (h, t) in enumerate(zip(hosts, when, strict=True))])


def test_vhost_folds_as_the_parser_reads_the_host(tmp_path: Path) -> None:
    """rev22 #2: --vhost lower-cased by Python's full case mapping (İ -> i + a combining dot)
    while the parser lower-cases by Arrow's simple one (İ -> i): ``--vhost İSTANBUL.example``
    kept nothing of the host it names. One rule now, for both."""
    log = _hosts(tmp_path / "tr.log", ["İSTANBUL.example:80", "istanbul.example:80", "o.ex:80"])
    for wanted in ("İSTANBUL.example", "İSTANBUL.example.:80", "istanbul.example"):
        r = CliRunner().invoke(cli, ["records", str(log), "--vhost", wanted, "--fields", "vhost",
                                     "--format", "jsonl"])
        assert r.exit_code == 0, (wanted, r.stderr)
        assert [json.loads(x)["vhost"] for x in r.stdout.splitlines()] == [
            "istanbul.example:80"
        ] * 2, wanted


def test_a_host_of_dots_only_is_kept_not_made_unlogged(tmp_path: Path) -> None:
    """rev22 #3: a host that is nothing but dots lost them all and became '' (the column's
    "no host logged": ":80" with its port); its dots stay, as it was logged."""
    log = _hosts(tmp_path / "dots.log", ["a.example:80", ".:80", "..:80", "a.example..:80"])
    r = CliRunner().invoke(cli, ["summary", str(log), "--format", "json"])
    assert r.exit_code == 0, r.stderr
    (vh,) = [s for s in json.loads(r.stdout)["sections"] if s["name"] == "vhosts"]
    assert {x["vhost"]: x["hits"] for x in vh["rows"]} == {".:80": 1, "..:80": 1, "a.example:80": 2}
    r = CliRunner().invoke(cli, ["records", str(log), "--vhost", "..", "--fields", "vhost",
                                 "--format", "jsonl"])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == ['{"vhost": "..:80"}']
