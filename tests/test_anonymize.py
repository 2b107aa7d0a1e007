"""``--anonymize``: no client address or user name of the input in any output byte stream (every
renderer, every report command, records in every format), while every figure equals the
non-anonymised run's; mask and hash forms; the hash secret is owner-only."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import CHROME, CURL, FIREFOX, GOOGLEBOT, isolate, line, utc, write

from logaudit import api
from logaudit.anonymize import Anonymizer
from logaudit.cli import cli
from logaudit.config import Settings
from logaudit.errors import ConfigError
from logaudit.render import RENDERERS
from logaudit.state import secret

V4 = [f"198.51.100.{7 + 3 * i}" for i in range(12)] + [f"192.0.2.{101 + i}" for i in range(6)]
V6 = [f"2001:db8:85a3::8a2e:370:{7334 + i}" for i in range(5)] + ["2a02:1810:4d02:1::beef"]
HOSTS = ["crawl-66-249-66-1.googlebot.example.com"]
CLIENTS = V4 + V6 + HOSTS
USERS = ["alice", "bob.smith"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    out = []
    agents = [CHROME, FIREFOX, GOOGLEBOT, CURL]
    pages = ["/", "/shop", "/shop/item?id=3", "/login", "/wp-login.php", "/missing", "/a.css"]
    for i in range(600):
        c = CLIENTS[(i * 7) % len(CLIENTS)]
        out.append(
            line(
                client=c,
                when=utc(2024, 3, 1 + i // 200, (i // 20) % 24, i % 60, (i * 13) % 60),
                request=f"{'POST' if i % 11 == 0 else 'GET'} {pages[i % len(pages)]} HTTP/1.1",
                status=[200, 200, 404, 500, 301, 200, 403][i % 7],
                size=100 + i,
                agent=agents[(i * 7) % len(CLIENTS) % len(agents)],
                user=USERS[i % 2] if i % 5 == 0 else "-",
                referrer="https://www.google.com/" if i % 9 == 0 else "-",
            )
        )
    out.insert(300, f'{V4[0]} - alice [01/Mar/2024:10:00:00 +0000] "GET /broken')
    return write(tmp_path / "access.log", out)


def _leaks(text: str, words: list[str]) -> list[str]:
    found = []
    for w in words:
        if re.search(r"(?<![\w.:])" + re.escape(w) + r"(?![\w:]|\.\d)", text, re.IGNORECASE):
            found.append(w)
    return found


def _numbers(doc: Any, path: str = "") -> dict[str, Any]:
    """Every number of a JSON report by its position (rows by index), generated time left out."""
    out: dict[str, Any] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k not in ("generated", "settings", "notes"):
                out.update(_numbers(v, f"{path}/{k}"))
    elif isinstance(doc, list):
        out[f"{path}#len"] = len(doc)
        for i, v in enumerate(doc):
            out.update(_numbers(v, f"{path}/{i}"))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        out[path] = doc
    return out


def _render_all(report: Any) -> dict[str, str]:
    outs = {}
    for name, fn in RENDERERS.items():
        buf = io.StringIO()
        fn(report, buf)
        outs[name] = buf.getvalue()
    return outs


COMMANDS = [*api.COMMANDS, "visitor"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("mode", ["mask", "hash"])
def test_no_address_in_any_rendering_and_figures_unchanged(
    log: Path, command: str, mode: str
) -> None:
    base = Settings(top=0)
    if command == "visitor":
        base = replace(base, extra={"visitor": V4[0]})
    name = "visits" if command == "visitor" else command
    plain = api.report(name, [str(log)], base)
    anon = api.report(name, [str(log)], replace(base, anonymize=mode))
    assert plain.report is not None and anon.report is not None
    assert anon.exit_code == plain.exit_code
    plain_out = _render_all(plain.report)
    # The check can fail: the plain run shows the addresses.
    assert _leaks(plain_out["json"], CLIENTS) or command in ("trends", "sources", "campaigns")
    for fmt, text in _render_all(anon.report).items():
        assert _leaks(text, CLIENTS + USERS) == [], (command, fmt)
    a, p = json.loads(_render_all(anon.report)["json"]), json.loads(plain_out["json"])
    assert _numbers(a) == _numbers(p)
    assert a["settings"]["anonymize"] == mode
    assert any(n.startswith("Anonymised") for n in a["notes"])


@pytest.mark.parametrize("fmt", ["table", "jsonl", "csv", "parquet"])
def test_records_every_format(log: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"r.{fmt}"
    fields = "time,client,user,path,status,bytes,country,visitor"
    args = ["records", str(log), "--fields", fields, "--format", fmt, "-o", str(out)]
    plain = CliRunner().invoke(cli, args)
    assert plain.exit_code == 0, plain.output
    raw_plain = out.read_bytes()
    done = CliRunner().invoke(cli, [*args, "--anonymize"])
    assert done.exit_code == 0, done.output
    raw = out.read_bytes()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(out).to_pandas()
        tp = pq.read_table(io.BytesIO(raw_plain)).to_pandas()
        text = t.to_csv()
        assert set(tp["client"]) & set(CLIENTS)
        assert (t["bytes"].to_numpy() == tp["bytes"].to_numpy()).all()
        # Re-keyed, one visitor still one key: the same grouping.
        assert (pd.factorize(t["visitor"])[0] == pd.factorize(tp["visitor"])[0]).all()
        assert not (t["visitor"].to_numpy() == tp["visitor"].to_numpy()).any()
    else:
        text = raw.decode()
        assert _leaks(raw_plain.decode(), CLIENTS)
        assert len(text.splitlines()) == len(raw_plain.decode().splitlines())
    assert _leaks(text, CLIENTS + USERS) == []


def test_mask_forms() -> None:
    a = Anonymizer("mask")
    assert a.address("198.51.100.77") == "198.51.100.0"
    assert a.address("2001:db8:85a3::8a2e:370:7334") == "2001:db8:85a3::"
    assert a.address("::ffff:192.0.2.9") == "::ffff:192.0.2.0"
    assert a.address("crawl-1.googlebot.com") == "*.googlebot.com"
    assert a.user("alice") == "***" and a.user("-") == "-"
    b = Anonymizer("mask", mask_bytes=2)
    assert b.address("198.51.100.77") == "198.51.0.0"
    assert b.address("2001:db8:85a3::1") == "2001:db8::"
    assert Anonymizer("mask", mask_bytes=3).address("198.51.100.77") == "198.0.0.0"
    # Free text: IP literals only; times, versions and ports are not addresses.
    t = a.text("from 198.51.100.77, 2001:db8::1 and [2001:db8::2]:443 at 12:30:45 Chrome/120.0.0.0")
    assert t == "from 198.51.100.0, 2001:db8:: and [2001:db8::]:443 at 12:30:45 Chrome/120.0.0.0"
    assert a.text("v1.2.3.4.5") == "v1.2.3.4.5"


def test_a_report_from_the_store_keeps_its_tokens_apart_under_mask(
    log: Path, tmp_path: Path
) -> None:
    """The store keeps clients as keyed hashes (``h:...``), never addresses: masking one as a
    host name gave "*" for every client, so the hosts section showed one row name for all
    (and problems' suspicious clients could not be told apart). A token stays as it is."""
    assert Anonymizer("mask").address("h:0123456789abcdef") == "h:0123456789abcdef"
    # Only that exact shape: a logged host name (or a client-chosen X-Forwarded-For) that
    # merely starts with "h:" is masked as any other.
    assert Anonymizer("mask").address("h:alice.corp.example") == "*.corp.example"
    from logaudit.store.days import token

    key = b"k" * 32
    assert token("h:alice.corp.example", key) != "h:alice.corp.example"  # stored hashed
    assert token(token("198.51.100.7", key), key) == token("198.51.100.7", key)
    state = tmp_path / "store"
    args = ["summary", str(log), "--state", str(state), "--section", "hosts", "--format", "json"]
    plain = json.loads(CliRunner().invoke(cli, args).stdout)
    r = CliRunner().invoke(cli, [*args[:1], *args[2:], "--anonymize", "--top", "0"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["sections"][0]["rows"]
    names = [row["client"] for row in rows]
    assert len(rows) == len(CLIENTS) == len(set(names))
    assert all(n.startswith("h:") for n in names)
    assert not any(c in r.stdout for c in CLIENTS)
    assert plain["sections"][0]["rows"][0]["hits"] == max(row["hits"] for row in rows)


def test_hash_is_keyed_and_stable(tmp_path: Path) -> None:
    a = Anonymizer("hash", secret=b"k" * 32)
    h = a.address("198.51.100.77")
    assert re.fullmatch(r"anon-[0-9a-f]{16}", h)
    assert h == Anonymizer("hash", secret=b"k" * 32).address("198.51.100.77")
    assert h != Anonymizer("hash", secret=b"j" * 32).address("198.51.100.77")
    assert a.user("alice") != a.address("alice")


def test_secret_created_owner_only_and_refused_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "st" / "logaudit" / "secret"
    key = secret(path)
    assert len(key) >= 32 and secret(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The folders made above it too ($XDG_STATE_HOME, as the XDG spec asks): they were 0755.
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        secret(path)


def test_config_and_cli(log: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "logaudit.toml"
    cfg.write_text('anonymize = "mask"\nmask_bytes = 2\n')
    r = CliRunner().invoke(cli, ["summary", str(log), "--config", str(cfg), "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["settings"]["anonymize"] == "mask" and doc["settings"]["mask_bytes"] == 2
    assert "198.51.0.0" in r.stdout and not _leaks(r.stdout, CLIENTS)
    cfg.write_text('anonymize = "scramble"\n')
    r = CliRunner().invoke(cli, ["summary", str(log), "--config", str(cfg)])
    assert r.exit_code == 7 and "anonymize" in r.output
    r = CliRunner().invoke(cli, ["summary", str(log), "--mask-bytes", "4", "--anonymize"])
    assert r.exit_code == 2


def test_csv_folder_says_it_is_anonymised(log: Path, tmp_path: Path) -> None:
    """A CSV folder handed on says it is anonymised in its overview's last row (and notes.csv)."""
    for mode, folder in (("", tmp_path / "plain"), ("mask", tmp_path / "anon")):
        args = ["summary", str(log), "--csv-dir", str(folder)]
        r = CliRunner().invoke(cli, args + ([f"--anonymize={mode}"] if mode else []))
        assert r.exit_code == 0, r.output
        rows = (folder / "overview.csv").read_text().splitlines()
        assert (rows[-1] == f"anonymised,{mode}") == bool(mode), rows[-3:]
        texts = "".join(f.read_text() for f in folder.iterdir())
        assert bool(_leaks(texts, CLIENTS)) != bool(mode)


def test_records_visitor_keys_rekeyed(log: Path, tmp_path: Path) -> None:
    """records' visitor and visit fields are plain hashes of (client, agent): re-keyed, one
    visitor still one key, and hash mode's keys the same from run to run."""
    args = ["records", str(log), "--fields", "client,agent,visitor,visit", "--format", "jsonl"]
    plain = [json.loads(x) for x in CliRunner().invoke(cli, args).stdout.splitlines()]
    runs = [
        [json.loads(x) for x in CliRunner().invoke(cli, [*args, "--anonymize=hash"]).stdout
         .splitlines()]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    anon = runs[0]
    assert len(anon) == len(plain)
    pairs = {(p["visitor"], a["visitor"]) for p, a in zip(plain, anon, strict=True)}
    assert all(p != a for p, a in pairs)
    assert len({p for p, _ in pairs}) == len({a for _, a in pairs}) == len(pairs)
    for p, a in zip(plain, anon, strict=True):
        if p["visit"]:
            assert p["visit"].split("-")[1] == a["visit"].split("-")[1]
            assert a["visit"].split("-")[0] == f"{a['visitor']:016x}"


def _ipv4s(raw: bytes) -> set[str]:
    import email

    msg = email.message_from_bytes(raw)
    text = b"".join(p.get_payload(decode=True) or b"" for p in msg.walk())
    return set(re.findall(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])", text.decode("utf-8",
                                                                                    "replace")))


def test_digest_mail_with_attachments_is_anonymised(sample_logs: Path, tmp_path: Path) -> None:
    """The cron path: the digest mailed with its JSON and CSV attachments (--dry-run: the
    .eml written instead of sent) carries no full address once anonymised."""
    args = ["digest", str(sample_logs / "weeks"), "--since", "2026-01-24", "--detail", "high",
            "--mail-to", "owner@example.com", "--attach", "json,csv", "--dry-run"]
    plain, anon = tmp_path / "plain.eml", tmp_path / "anon.eml"
    assert CliRunner().invoke(cli, [*args, "-o", str(plain)]).exit_code == 0
    r = CliRunner().invoke(cli, [*args, "--anonymize", "-o", str(anon)])
    assert r.exit_code == 0, r.output
    before, after = _ipv4s(plain.read_bytes()), _ipv4s(anon.read_bytes())
    assert any(not ip.endswith(".0") for ip in before)
    assert after and all(ip.endswith(".0") for ip in after)


# Clients whose findings are sentences: a full IPv6 address (a ":" follows it in the finding),
# an IPv4-mapped one (its last byte must go), a host name (no IP literal to search for).
PROBERS = [
    "2001:db8:85a3:1234:5678:8a2e:370:7334", "::ffff:198.51.100.99", "host-9.dyn.example.net"
]


@pytest.fixture
def probe_log(tmp_path: Path) -> Path:
    out = []
    for i in range(120):
        c = PROBERS[i % 3]
        out.append(
            line(
                client=c,
                when=utc(2024, 3, 1, 10 + i // 60, i % 60, 7),
                request=f"GET {['/wp-login.php', '/.env', '/', '/missing'][i % 4]} HTTP/1.1",
                status=[404, 200, 500, 404][i % 4],
                agent=GOOGLEBOT if i % 2 else CURL,
            )
        )
    return write(tmp_path / "probes.log", out)


@pytest.mark.parametrize("mode", ["mask", "hash"])
def test_findings_failing_urls_and_visitor_title_name_no_client(
    probe_log: Path, tmp_path: Path, mode: str
) -> None:
    """The problems headline names clients in sentences ("exploit-probes <client>: ..."), the
    failing-urls clients column lists them "a (n), b (n)", the visitor's title names one: under
    --anonymize none of them shows an address, the mapped one's last byte, or a host name."""
    words = [*PROBERS, "198.51.100.99", ".51.100.99", "host-9"]
    plain = api.report("problems", [str(probe_log)], Settings(top=0))
    assert plain.report is not None
    plain_json = _render_all(plain.report)["json"]
    assert all(w in plain_json for w in PROBERS)  # the check can fail
    anon = api.report("problems", [str(probe_log)], Settings(top=0, anonymize=mode))
    assert anon.report is not None
    for fmt, text in _render_all(anon.report).items():
        assert [w for w in words if w in text] == [], (mode, fmt)
    if mode == "mask":
        heads = json.loads(_render_all(anon.report)["json"])
        text = json.dumps(heads)
        assert "2001:db8:85a3::" in text and "::ffff:198.51.100.0" in text
        assert "*.example.net" in text
    for who in PROBERS:
        v = api.report("visits", [str(probe_log)],
                       Settings(top=0, anonymize=mode, extra={"visitor": who}))
        assert v.report is not None
        assert [w for w in words if w in json.dumps(_render_all(v.report))] == [], who


def test_mapped_and_followed_literals_in_text() -> None:
    a = Anonymizer("mask")
    full = "probes 2001:db8:85a3:1234:5678:8a2e:370:7334: 12"
    assert a.text(full) == "probes 2001:db8:85a3::: 12"
    assert a.text("x ::ffff:198.51.100.99: 6") == "x ::ffff:198.51.100.0: 6"
    assert a.text("at 12:30:45: ok") == "at 12:30:45: ok"
    h = Anonymizer("hash", secret=b"k").text("x ::ffff:198.51.100.99, y")
    assert ".51.100" not in h and h.startswith("x anon-")
    assert a.client_list("host-9.dyn.example.net (12), 198.51.100.7 (3)") == (
        "*.example.net (12), 198.51.100.0 (3)"
    )


def _int_kinds(doc: Any, path: str = "") -> dict[str, str]:
    """The type of every number of a JSON document by position: int or float."""
    out: dict[str, str] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k not in ("generated", "settings", "notes"):
                out.update(_int_kinds(v, f"{path}/{k}"))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.update(_int_kinds(v, f"{path}/{i}"))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        out[path] = type(doc).__name__
    return out


@pytest.mark.parametrize("command", ["digest", "summary", "visits", "problems"])
def test_anonymize_keeps_every_figure_type(
    sample_logs: Path, tmp_path: Path, command: str
) -> None:
    """A count stays an integer under --anonymize (the digest's Requests once read 1,660.00:
    a mixed column mapped value by value became float)."""
    args = [command, str(sample_logs / "weeks")]
    if command == "digest":
        args += ["--since", "2026-01-24"]
    docs = []
    for more in ([], ["--anonymize"]):
        out = tmp_path / "r.json"
        r = CliRunner().invoke(cli, [*args, *more, "--format", "json", "-o", str(out)])
        assert r.exit_code == 0, r.output
        docs.append(json.loads(out.read_text()))
    assert _int_kinds(docs[1]) == _int_kinds(docs[0])
    if command == "digest":
        out = tmp_path / "r.txt"
        r = CliRunner().invoke(cli, [*args, "--anonymize", "--format", "text", "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert "1,660.00" not in out.read_text() and "1,660" in out.read_text()


@pytest.mark.parametrize("fmt", ["table", "jsonl", "csv", "parquet"])
def test_records_mask_literals_in_referrer_query_and_agent(tmp_path: Path, fmt: str) -> None:
    """As every report does, records --anonymize replaces the IP literals of the other text
    fields too (a referrer, a query, an agent), in every format."""
    lines = [
        line(client="198.51.100.7", request="GET /search?q=203.0.113.77 HTTP/1.1",
             referrer="http://[2001:db8:85a3::1]/y", agent="probe from 192.0.2.201"),
        line(client="198.51.100.8", request="GET /?ip=198.51.100.99 HTTP/1.1",
             referrer="http://203.0.113.78/x", agent=CURL),
    ]
    log = write(tmp_path / "lit.log", lines)
    out = tmp_path / f"r.{fmt}"
    args = ["records", str(log), "--fields", "client,path,query,referrer,agent,status",
            "--format", fmt, "-o", str(out)]
    words = ["203.0.113.77", "2001:db8:85a3::1", "192.0.2.201", "198.51.100.99", "203.0.113.78"]
    for more, leaked in (([], words), (["--anonymize"], [])):
        r = CliRunner().invoke(cli, [*args, *more])
        assert r.exit_code == 0, r.output
        if fmt == "parquet":
            import pyarrow.parquet as pq

            text = pq.read_table(out).to_pandas().to_csv()
        else:
            text = out.read_text()
        assert [w for w in words if w in text] == leaked, more
    if fmt != "parquet":
        assert "http://[2001:db8:85a3::]/y" in text and "203.0.113.0" in text


def test_an_ipv6_literal_followed_by_a_dot_is_masked() -> None:
    """An IPv6 address before "." (a file suffix, the end of a sentence) is an address, as it
    was before the nineteenth round; before ".<digit>" it is not (an IPv4 tail or a number)."""
    a = Anonymizer("mask")
    assert a.text("/lookup/2001:db8:85a3::7.json") == "/lookup/2001:db8:85a3::.json"
    assert a.text("from 2001:db8:85a3::9.") == "from 2001:db8:85a3::."
    assert a.text("client 2001:db8::1. Next") == "client 2001:db8::. Next"
    assert a.text("v 1:2:3.4") == "v 1:2:3.4"
    h = Anonymizer("hash", secret=b"k").text("/lookup/2001:db8:85a3::7.json")
    assert "2001" not in h and h.endswith(".json")


@pytest.mark.parametrize("mode", ["hash", "mask"])
def test_records_keep_an_agents_product_versions(tmp_path: Path, mode: str) -> None:
    """A product version is not an address: records --anonymize keeps Chrome/120.0.0.0 and
    replaces the literals an agent does hold (after "http://", after a space)."""
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    )
    bot = "Googlebot/2.1 (+http://192.0.2.9/bot.html) from 203.0.113.77"
    log = write(
        tmp_path / "ua.log",
        [line(client="198.51.100.7", agent=chrome), line(client="198.51.100.8", agent=bot)],
    )
    out = tmp_path / "r.csv"
    r = CliRunner().invoke(cli, ["records", str(log), "--fields", "client,agent",
                                 f"--anonymize={mode}", "--format", "csv", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert chrome in text and "Googlebot/2.1 (+http://" in text
    assert "192.0.2.9" not in text and "203.0.113.77" not in text
