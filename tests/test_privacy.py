"""``logaudit privacy``: every planted datum found, in its field, once per line; no look-alike
found; nothing found reaches the report unmasked; exit 12; rules extendable in the config."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate, line, write
from pii_log import DECOYS, PLANTED, lines

from logaudit import api
from logaudit.config import Settings
from logaudit.enrich import pii
from logaudit.render import RENDERERS


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write(tmp_path / "access.log", lines(repeat=3))


def _found(report: object) -> dict[tuple[str, str], dict[str, object]]:
    sec = next(s for s in report.sections if s.name == "personal-data")  # type: ignore[attr-defined]
    return {(r["kind"], r["field"]): r for r in sec.rows.to_dict("records")}


def test_every_planted_kind_in_every_field_and_no_decoy(log: Path) -> None:
    out = api.report("privacy", [str(log)], Settings(top=0))
    assert out.exit_code == 12
    found = _found(out.report)
    planted = Counter((k, f) for k, f, _ in PLANTED)
    assert set(found) == set(planted)
    for key, row in found.items():
        # Each planted once per repeat; a decoy matching would add lines or values.
        assert row["lines"] == 3 * planted[key], key
        assert row["distinct"] == planted[key], key
        assert row["first"] < row["last"]
        assert row["examples"].count("access.log:") == 3


@pytest.mark.parametrize("decoy", DECOYS, ids=lambda d: next(iter(d.values()))[:40])
def test_each_decoy_alone_is_clean(tmp_path: Path, decoy: dict[str, str]) -> None:
    log = write(tmp_path / "d.log", [line(**decoy), line()])  # type: ignore[arg-type]
    out = api.report("privacy", [str(log)], Settings())
    assert out.exit_code == 0, _found(out.report)


def test_report_never_shows_a_datum(log: Path) -> None:
    out = api.report("privacy", [str(log)], Settings(top=0))
    assert out.report is not None
    for name, fn in RENDERERS.items():
        buf = io.StringIO()
        fn(out.report, buf)
        text = buf.getvalue()
        for _, _, datum in PLANTED:
            for shown in {datum, datum.replace("%40", "@")}:
                assert shown not in text, (name, datum)


def test_cli_exit_codes_and_json(log: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli_(), ["privacy", str(log), "--format", "json"])
    assert r.exit_code == 12, r.output
    doc = json.loads(r.stdout)
    assert doc["command"] == "privacy"
    assert doc["sections"][0]["name"] == "personal-data"
    assert "personal data found in" in r.stderr
    clean = write(tmp_path / "clean.log", [line(), line(request="GET /a?b=c HTTP/1.1")])
    r = CliRunner().invoke(cli_(), ["privacy", str(clean)])
    assert r.exit_code == 0, r.output


def cli_():  # type: ignore[no-untyped-def]
    from logaudit.cli import cli

    return cli


def test_config_adds_and_switches_off_rules(log: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "logaudit.toml"
    cfg.write_text(
        "[privacy_rules.customer-no]\n"
        'kind = "customer number"\n'
        'fields = ["query"]\n'
        "pattern = '(?:^|&)page=(?P<value>[0-9])'\n"
        "[privacy_rules.iban]\n"
        "enabled = false\n"
    )
    r = CliRunner().invoke(cli_(), ["privacy", str(log), "--config", str(cfg), "--format", "json",
                                    "--top", "0"])
    assert r.exit_code == 12, r.output
    rows = json.loads(r.stdout)["sections"][0]["rows"]
    kinds = {(x["kind"], x["field"]) for x in rows}
    assert ("customer number", "query") in kinds
    assert not any(k == "IBAN" for k, _ in kinds)
    cfg.write_text("[privacy_rules.broken]\nfields = ['query']\npattern = '(?P<value>[a-'\n")
    r = CliRunner().invoke(cli_(), ["privacy", str(log), "--config", str(cfg)])
    assert r.exit_code == 7 and "privacy_rules.broken" in r.output
    cfg.write_text("[privacy_rules.nogroup]\nfields = ['query']\npattern = 'x'\n")
    r = CliRunner().invoke(cli_(), ["privacy", str(log), "--config", str(cfg)])
    assert r.exit_code == 7 and "(?P<value>" in r.output


def test_validators() -> None:
    assert pii.luhn("4111 1111 1111 1111") and not pii.luhn("4111111111111112")
    assert not pii.luhn("0000000000000000")
    assert pii.iban("GB82 WEST 1234 5698 7654 32") and not pii.iban("GB82WEST12345698765431")
    assert not pii.iban("DE8937040044053201300")  # a digit short
    assert pii.jwt(lines.__globals__["JWT"]) and not pii.jwt("eyJub3RqdXN0.eyJ4.x")
    assert pii.phone("+44 7911 123456") and not pii.phone("+12")
    assert pii.es_dni("12345678Z") and not pii.es_dni("12345678A")
    assert pii.se_pnr("811218-9876") and pii.se_pnr("19811218-9876")
    assert not pii.se_pnr("811218-9875")
    assert pii.fr_nir("1 84 12 76 451 089 46") and not pii.fr_nir("184127645108947")
    assert not pii.secret("null") and not pii.secret("***") and pii.secret("abc123xyz")
    assert not pii.email("logo@2x.png") and pii.email("a@b.de")


def test_redact_masks_inside_text() -> None:
    rules = pii.builtin_rules()
    assert pii.redact("/users/jane@example.org/x", rules) == "/users/ja***rg/x"
    assert pii.redact("/img/logo@2x.png", rules) == "/img/logo@2x.png"


def test_store_keeps_no_value_and_counts_as_one_pass(log: Path, tmp_path: Path) -> None:
    """--state: the stored pii_values hold each datum as a keyed hash, never the value (nor a
    masked form, which nothing reads); the privacy section written, and read back, equals one
    pass's."""
    import pyarrow.parquet as pq

    def section(*args: str) -> dict[str, object]:
        out = tmp_path / "p.json"
        r = CliRunner().invoke(cli_(), ["privacy", *args, "--format", "json", "-o", str(out)])
        assert r.exit_code == 12, r.output
        doc = json.loads(out.read_text())
        return {s["name"]: s for s in doc["sections"]}

    st = tmp_path / "st"
    one = section(str(log))
    assert section(str(log), "--state", str(st)) == one
    assert section("--state", str(st)) == one
    files = list(st.glob("day=*/pii_values.*.parquet"))
    assert files
    for f in files:
        t = pq.read_table(f).to_pandas()
        assert len(t) and "masked" not in t.columns
        held = t.to_csv()
        for _, _, datum in PLANTED:
            for shown in {datum, datum.replace("%40", "@"), datum.replace("%2B", "+")}:
                assert shown not in held, (f.name, datum)
