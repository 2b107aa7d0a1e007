"""``logaudit scrub``: the scrubbed log parses to the same records except the masked fields;
``privacy`` finds nothing in it; every other byte is kept (bad lines, CRLF, a last line
without newline, trailing fields); compression in = compression out; --in-place keeps mode
and owner and leaves the original intact when the run dies."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate, line, write
from pii_log import CLIENTS, DECOYS, PLANTED, lines

from logaudit.cli import cli
from logaudit.config import Settings
from logaudit.scrub import scrub_file

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write(tmp_path / "access.log", lines(repeat=2))


def _records(path: Path) -> list[dict[str, object]]:
    r = CliRunner().invoke(cli, ["records", str(path), "--format", "jsonl", "--fields",
                                 "time,client,user,method,path,query,protocol,status,bytes,"
                                 "referrer,agent,line"])
    assert r.exit_code == 0, r.output
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_same_records_but_masked_fields_and_privacy_finds_nothing(log: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "changed" in r.stderr
    before, after = _records(log), _records(out)
    assert len(before) == len(after)
    data = [d for _, _, d in PLANTED]
    masked_rows = 0
    for b, a in zip(before, after, strict=True):
        for k in ("time", "method", "protocol", "status", "bytes", "line"):
            assert a[k] == b[k]
        assert a["client"] != b["client"] and a["client"].endswith((".0", "::"))
        text_b = " ".join(str(b[k]) for k in ("user", "path", "query", "referrer", "agent"))
        holds = any(d in text_b for d in data)
        for k in ("path", "query", "referrer", "agent", "user"):
            if not holds:
                assert a[k] == b[k], (k, b[k])
        if holds:
            masked_rows += 1
            text_a = " ".join(str(a[k]) for k in ("user", "path", "query", "referrer", "agent"))
            assert "REDACTED" in text_a or a["user"] == "***"
            assert not any(d in text_a for d in data)
    assert masked_rows == 2 * len(PLANTED)
    r = CliRunner().invoke(cli, ["privacy", str(out)])
    assert r.exit_code == 0, r.output


def test_ip_keep_changes_only_the_planted_lines(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "clean.log"
    scrub_file(log, out, Settings(), ip="keep")
    old, new = log.read_bytes().split(b"\n"), out.read_bytes().split(b"\n")
    assert len(old) == len(new)
    changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    assert len(changed) == 2 * len(PLANTED)
    decoys = [i for i, x in enumerate(old) for d in DECOYS if next(iter(d.values())).encode()
              in x]
    assert decoys and not set(decoys) & set(changed)


def test_bytes_kept_bad_lines_crlf_trailing_fields(tmp_path: Path) -> None:
    raw = (
        line(client="198.51.100.9", request="GET /u/a.b@example.com HTTP/1.1").encode()
        + b"\r\n"
        + b"garbage \xff\xfe not a log line with jane@example.com\n"
        + b"\n"
        + line(client="198.51.100.10", extra=['"9.9.9.9"', "0.123"]).encode() + b"\n"
        + line(client="198.51.100.11", request="GET /x?token=abcdefgh HTTP/1.1").encode()
    )
    src = tmp_path / "a.log"
    src.write_bytes(raw)
    out = tmp_path / "b.log"
    res = scrub_file(src, out, Settings(), ip="mask")
    assert res.counts.bad == 1 and res.counts.lines == 5
    got = out.read_bytes()
    want = (
        raw.replace(b"a.b@example.com", b"REDACTED")
        .replace(b"198.51.100.9 ", b"198.51.100.0 ")
        .replace(b"198.51.100.10 ", b"198.51.100.0 ")
        .replace(b"198.51.100.11 ", b"198.51.100.0 ")
        .replace(b"token=abcdefgh", b"token=REDACTED")
        # A trailing field's IP literal is masked (it may be X-Forwarded-For), the rest kept.
        .replace(b'"9.9.9.9" 0.123', b'"9.9.9.0" 0.123')
    )
    assert got == want  # the bad line, the blank line, CRLF, no final newline: as they were


@pytest.mark.parametrize("kind,opener,magic", [
    ("gz", gzip.open, b"\x1f\x8b"), ("bz2", bz2.open, b"BZh"), ("xz", lzma.open, b"\xfd7zXZ"),
])
def test_compression_in_is_compression_out(log: Path, tmp_path: Path, kind: str, opener: object,
                                           magic: bytes) -> None:
    plain = tmp_path / "plain.log"
    scrub_file(log, plain, Settings())
    src = tmp_path / f"access.log.{kind}"
    with opener(src, "wb") as f:  # type: ignore[operator]
        f.write(log.read_bytes())
    out = tmp_path / f"out.{kind}"
    r = CliRunner().invoke(cli, ["scrub", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(magic)
    with opener(out, "rb") as f:  # type: ignore[operator]
        assert f.read() == plain.read_bytes()


def test_in_place_keeps_mode_and_output_is_owner_only(log: Path, tmp_path: Path) -> None:
    os.chmod(log, 0o640)
    r = CliRunner().invoke(cli, ["scrub", str(log), "--in-place"])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(log.stat().st_mode) == 0o640
    assert b"REDACTED" in log.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if ".scrub-" in p.name] == []
    out = tmp_path / "o.log"
    CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_hash_mode_and_usage_errors(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out), "--ip", "hash"])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "anon-" in text and not any(c + " " in text for c in CLIENTS)
    assert CliRunner().invoke(cli, ["scrub", str(log)]).exit_code == 2
    assert CliRunner().invoke(cli, ["scrub", str(log), "-o", str(log)]).exit_code == 2
    r = CliRunner().invoke(cli, ["scrub", str(tmp_path / "missing.log"), "-o", str(out)])
    assert r.exit_code == 3


def test_failure_mid_run_leaves_the_original(log: Path, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    from logaudit import scrub

    before = log.read_bytes()
    calls = {"n": 0}
    real = scrub.Scrubber.block

    def dying(self: scrub.Scrubber, data: bytes) -> bytes:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(scrub.Scrubber, "block", dying)
    with pytest.raises(OSError):
        scrub_file(log, None, Settings(), block_size=4096)
    assert log.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".scrub-" in p.name] == []


def test_killed_in_place_leaves_the_original(tmp_path: Path) -> None:
    src = write(tmp_path / "big.log", lines(repeat=10))
    before = src.read_bytes()
    # A real SIGKILL between two blocks: the child stalls after its first block.
    code = (
        "import time, sys\n"
        "from logaudit import scrub\n"
        "real = scrub.Scrubber.block\n"
        "def slow(self, data):\n"
        "    out = real(self, data)\n"
        "    sys.stderr.write('block\\n'); sys.stderr.flush(); time.sleep(60)\n"
        "    return out\n"
        "scrub.Scrubber.block = slow\n"
        "scrub.BLOCK = 4096\n"
        "from logaudit.cli import main\n"
        "sys.argv = ['logaudit', 'scrub', sys.argv[1], '--in-place']\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-c", code, str(src)], stderr=subprocess.PIPE, env=env)
    assert p.stderr is not None
    assert p.stderr.readline() == b"block\n"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert src.read_bytes() == before


def test_empty_truncated_symlink_and_hard_link(tmp_path: Path) -> None:
    empty = tmp_path / "access.log.1"
    empty.write_bytes(b"")
    r = CliRunner().invoke(cli, ["scrub", str(empty), "--in-place"])
    assert r.exit_code == 0 and "0 lines" in r.stderr and empty.read_bytes() == b""
    # A gzip cut short: exit 5, the original untouched, no temporary file left.
    whole = gzip.compress(("\n".join(lines(repeat=3)) + "\n").encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    before = cut.read_bytes()
    r = CliRunner().invoke(cli, ["scrub", str(cut), "--in-place"])
    assert r.exit_code == 5 and cut.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if ".scrub-" in p.name] == []
    # --in-place through a symlink rewrites the file it names; the link stays a link.
    real = write(tmp_path / "real.log", lines(repeat=1))
    link = tmp_path / "link.log"
    link.symlink_to(real)
    assert CliRunner().invoke(cli, ["scrub", str(link), "--in-place"]).exit_code == 0
    assert link.is_symlink() and b"REDACTED" in real.read_bytes()
    # Another hard link still names the unscrubbed original: said in the message.
    other = tmp_path / "other.log"
    os.link(real, other)
    r = CliRunner().invoke(cli, ["scrub", str(real), "--in-place"])
    assert r.exit_code == 0 and "other hard link" in r.stderr


def test_vhost_format_client_is_the_second_field(tmp_path: Path) -> None:
    rows = [
        line(client="198.51.100.7", vhost="shop.example.com:443"),
        line(client="198.51.100.8", vhost="shop.example.com:443", user="John Begood"),
        line(client="2001:db8::7", vhost="www.example.com",
             request="GET /a?email=x.y%40example.com HTTP/1.1"),
    ]
    src = write(tmp_path / "v.log", rows)
    out = tmp_path / "o.log"
    res = scrub_file(src, out, Settings(), ip="mask")
    got = out.read_text().splitlines()
    assert got[0] == rows[0].replace("198.51.100.7", "198.51.100.0")
    assert got[1] == rows[1].replace("198.51.100.8", "198.51.100.0").replace("John Begood", "***")
    assert got[2] == rows[2].replace("2001:db8::7", "2001:db8::").replace("x.y%40example.com",
                                                                          "REDACTED")
    assert res.counts.bad == 0 and res.counts.changed == 3


def _format_names() -> list[str]:
    from logaudit.formats import FORMATS

    return list(FORMATS)


@pytest.mark.parametrize("name", _format_names())
def test_each_format_keeps_its_samples(tmp_path: Path, name: str) -> None:
    """Every registered format, on its own sample lines (escaped quotes, host-name clients,
    an empty request, JSON): no bad line, and with --ip keep not one byte changed."""
    from logaudit.formats import FORMATS

    src = write(tmp_path / "s.log", FORMATS[name].samples)
    out = tmp_path / "o.log"
    res = scrub_file(src, out, Settings(log_format=name), ip="keep")
    assert res.counts.bad == 0 and res.counts.changed == 0
    assert out.read_bytes() == src.read_bytes()
    res = scrub_file(src, out, Settings(log_format=name), ip="mask")
    assert res.counts.bad == 0 and res.counts.changed > 0


def test_any_log_format_string_is_scrubbed(tmp_path: Path) -> None:
    """A --log-format string scrub has never seen: the client, the X-Forwarded-For list,
    the user and the request are found from the format's own layout."""
    fmt = '%a "%{X-Forwarded-For}i" %u %t "%r" %>s %b "%{User-Agent}i" %D'
    rows = [
        '198.51.100.7 "203.0.113.5, 10.0.0.1" - [10/Oct/2023:13:55:36 +0000] '
        '"GET /a?email=x.y%40example.com HTTP/1.1" 200 12 "curl/8.0" 1234',
        '[2001:db8::7]:443 "-" bob [10/Oct/2023:13:55:37 +0000] "GET /b HTTP/1.1" 200 1 '
        '"curl/8.0" 5',
    ]
    src = write(tmp_path / "c.log", rows)
    out = tmp_path / "o.log"
    res = scrub_file(src, out, Settings(log_format=fmt), ip="mask")
    got = out.read_text().splitlines()
    assert got[0] == ('198.51.100.0 "203.0.113.0, 10.0.0.0" - [10/Oct/2023:13:55:36 +0000] '
                      '"GET /a?email=REDACTED HTTP/1.1" 200 12 "curl/8.0" 1234')
    assert got[1] == rows[1].replace("[2001:db8::7]:443", "[2001:db8::]:443").replace(
        " bob ", " *** ")
    assert res.counts.bad == 0 and res.counts.changed == 2


def test_nginx_json_template_stays_json(tmp_path: Path) -> None:
    """An nginx escape=json template: masks land inside the string values, an e-mail right
    after a JSON escape (\\n) does not leave a broken escape behind."""
    fmt = ('{"ip":"$remote_addr","time":"$time_iso8601","request":"$request",'
           '"status":"$status","ref":"$http_referer","ua":"$http_user_agent"}')
    rows = [
        json.dumps({"ip": "203.0.113.9", "time": "2023-10-10T13:55:36+00:00",
                    "request": "GET /login?user=jane.doe@example.com HTTP/1.1",
                    "status": "200", "ref": "https://x.example/?email=\njane.doe@example.com",
                    "ua": 'curl "8"'}, separators=(",", ":")),
    ]
    src = write(tmp_path / "j.log", rows)
    out = tmp_path / "o.log"
    res = scrub_file(src, out, Settings(log_format=fmt), ip="mask")
    assert res.counts.bad == 0 and res.counts.changed == 1
    rec = json.loads(out.read_text())
    assert rec["ip"] == "203.0.113.0" and rec["ua"] == 'curl "8"'
    assert "jane" not in rec["request"] and "REDACTED" in rec["request"]
    assert "jane" not in rec["ref"]


def test_prefilter_is_a_superset_of_what_the_rules_change() -> None:
    """The pre-pass (rules without their context groups, in a few alternations) picks every
    line a rule changes; a context group it cannot cut out whole is kept."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from logaudit.enrich import pii
    from logaudit.scrub import _unanchored, prefilter

    rules = pii.rules_for(None)
    groups = prefilter(rules)
    assert len(groups) > 1
    data = [x.encode() for x in lines(repeat=1)]
    arr = pa.array(data, pa.large_binary())
    picked = np.zeros(len(data), dtype=bool)
    for g in groups:
        picked |= np.asarray(pc.match_substring_regex(arr, g), dtype=bool)
    for rule in rules:
        hit = np.asarray(pc.match_substring_regex(arr, rule.pattern), dtype=bool)
        assert not (hit & ~picked).any(), rule.name
    assert _unanchored(r"(?:^|[)x])(?P<value>a+)") == r"(?:(?:|[)x])(?:a+))"
    assert _unanchored(r"(?i)(?:^|[?&])key=(?P<value>\w+)(?:[^a-z]|$)") == r"(?i:key=(?:\w+))"


def test_a_cut_last_line_does_not_make_a_combined_log_common(tmp_path: Path) -> None:
    """A log whose last line is still being written (cut in its user agent) is still combined:
    read as common, its referrers would be left unread, and unscrubbed."""
    from logaudit.formats import detect

    rows = [
        line(client=f"203.0.113.{i}", referrer=f"https://example.org/?email=user{i}@example.com")
        for i in range(8)
    ]
    text = "\n".join(rows) + "\n" + rows[0][: rows[0].index('" "Mozilla') + 8]
    assert detect(text.encode(), "cut.log").format.name in ("combined", "vcombined")
    log = tmp_path / "cut.log"
    log.write_text(text)
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert r.exit_code == 0, r.output
    whole = out.read_text().split("\n")
    assert len(whole) == 9 and not any("@example.com" in x for x in whole[:8])
    assert whole[8] == text.split("\n")[8]  # the cut line passes through, as bad lines do


def test_a_line_nested_too_deep_is_a_counted_bad_line(tmp_path: Path) -> None:
    """A JSON line nested past the readers' limit (512) is a bad line to them (``nested too
    deep``), so to scrub too: counted and passed through unchanged, as a text format's bad
    line, in a JSON log with its own keys (Caddy) and under an nginx escape=json template (an
    unquoted value may hold the brackets). It was rewritten and counted as a good line."""
    from logaudit.formats import FORMATS

    sample = FORMATS["caddy"].samples[0]
    assert sample.endswith("}")
    deep = sample[:-1] + ',"x":' + "[" * 600 + "]" * 600 + "}"
    src = write(tmp_path / "c.log", [sample, deep, sample])
    out = tmp_path / "o.log"
    res = scrub_file(src, out, Settings(log_format="caddy"), ip="mask")
    assert (res.counts.lines, res.counts.bad, res.counts.changed) == (3, 1, 2)
    assert out.read_text().splitlines()[1] == deep

    fmt = ('{"ip":"$remote_addr","time":"$time_iso8601","request":"$request",'
           '"status":"$status","t":$request_time}')
    row = ('{"ip":"203.0.113.9","time":"2023-10-10T13:55:36+00:00",'
           '"request":"GET /a HTTP/1.1","status":"200","t":0.5}')
    deep = row.replace("0.5", "[" * 600 + "]" * 600)
    src = write(tmp_path / "j.log", [row, deep])
    res = scrub_file(src, out, Settings(log_format=fmt), ip="mask")
    assert (res.counts.lines, res.counts.bad, res.counts.changed) == (2, 1, 1)
    assert out.read_text().splitlines()[1] == deep
