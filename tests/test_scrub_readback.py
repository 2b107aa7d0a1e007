"""``logaudit scrub`` on every real log under /work/shared/data/logs (through ``shared_data``):
the scrubbed file reads back with ``summary`` as the same requests and bad lines, and no
client address of the original is left in it (QA22 item 2: quoted W3C fields were cut with
their quotes and the output no longer parsed). And the X-Forwarded-For addresses and IP
literals scrub must mask on every line (QA22 items 3 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.anonymize import Anonymizer
from logaudit.cli import cli


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _summary(path: Path, *extra: str) -> tuple[int, dict[str, object]]:
    r = CliRunner().invoke(cli, ["summary", str(path), "--format", "json", *extra])
    if r.exit_code != 0:
        return r.exit_code, {}
    return 0, json.loads(r.stdout)["overview"]


def _clients(path: Path) -> dict[int, str]:
    """Line number -> client address, of every line the reports read."""
    r = CliRunner().invoke(cli, ["records", str(path), "--format", "jsonl", "--fields",
                                 "line,client"])
    assert r.exit_code == 0, (path, r.output)
    rows = (json.loads(x) for x in r.stdout.splitlines())
    return {int(row["line"]): str(row["client"]) for row in rows}


# Logs under /work/shared/data/logs whose format no command recognises: scrub refuses them
# too (exit 4, nothing written). Any other log must read back.
UNREADABLE = frozenset({
    "awstats/testnginx.log", "awstats/testtime5.log", "fail2ban/apache-fakegooglebot.log",
    "lnav/logfile_bro_http.log.0", "lnav/logfile_caddy_log.0", "lnav/logfile_w3c.2",
    "lnav/logfile_w3c.5", "matomo/amazon_cloudfront_rtmp.log",
    "matomo/custom_regex_custom_date.log", "matomo/gandi.log", "matomo/shoutcast.log",
    "matomo/splitted_date_and_time.log",
})


def _text(path: Path) -> list[str]:
    import gzip

    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace").splitlines()


def _server_fields_dropped(lines: list[str]) -> list[str]:
    """W3C lines without their server's address (``s-ip``: the server's own, kept by scrub,
    may be some other line's client, 127.0.0.1)."""
    at = None
    out = []
    for line in lines:
        if line.startswith("#Fields:"):
            names = line.split()[1:]
            at = names.index("s-ip") if "s-ip" in names else None
        elif at is not None and not line.startswith("#"):
            values = line.split()
            if len(values) == len(names):
                line = " ".join(values[:at] + values[at + 1:])
        out.append(line)
    return out


def test_every_real_log_reads_back_after_scrub(shared_data: Path, tmp_path: Path) -> None:
    import re

    from logaudit.scrub import pii_ip

    root = shared_data / "logs"
    logs = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(logs) > 40
    mask = Anonymizer("mask")
    failures = []
    unreadable = set()
    for i, log in enumerate(logs):
        name = str(log.relative_to(root))
        out = tmp_path / f"{i}{''.join(log.suffixes[-1:])}"
        code, before = _summary(log)
        if code != 0:
            unreadable.add(name)
            r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
            assert r.exit_code == code and not out.exists(), (name, r.output)
            continue
        r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
        assert r.exit_code == 0, (log, r.output)
        code, after = _summary(out)
        if code != 0:
            failures.append(f"{name}: scrubbed log does not read back (exit {code})")
            continue
        for key in ("requests", "bad_lines"):
            if before.get(key) != after.get(key):
                failures.append(f"{name}: {key} {before.get(key)} -> {after.get(key)}")
        # No client address of the original anywhere in a line the reports read (bad lines
        # pass through as logged, docs/privacy.md), in any field.
        read = _clients(log)
        addresses = {c for c in read.values() if pii_ip(c) and mask.address(c) != c}
        if not addresses:
            continue
        v4 = "|".join(re.escape(c) for c in sorted(addresses) if ":" not in c) or "(?!)"
        v6 = "|".join(re.escape(c) for c in sorted(addresses) if ":" in c) or "(?!)"
        # An IPv4 address followed by its port (Traefik's ClientAddr) is left too.
        found = re.compile(rf"(?<![\w.:])(?:(?:{v4})(?!\w|\.\d)|(?:{v6})(?![\w:]))")
        text = _server_fields_dropped(_text(out))
        for number in sorted(read):
            m = found.search(text[number - 1])
            if m:
                failures.append(f"{name}:{number}: client {m.group(0)} left in the scrubbed "
                                f"log: {text[number - 1][:160]}")
                break
    assert unreadable == UNREADABLE
    assert not failures, "\n".join(failures)


XFF_LINES = [
    '10.0.0.1 - - [05/Dec/2026:10:00:01 +0000] "GET /a1 HTTP/1.1" 200 10 "-" "Mozilla/5.0" '
    f'"{xff}"'
    for xff in ("198.51.100.23", "::ffff:203.0.113.44", "2001:db8:1234:5678::9, 198.51.100.23",
                "198.51.100.23:5555", "[2001:db8:aaaa::1]:443", "unknown", "-")
]
XFF_ADDRESSES = ("198.51.100.23", "203.0.113.44", "2001:db8:1234:5678::9", "2001:db8:aaaa::1")
NGINX_MAIN = ('nginx:$remote_addr - $remote_user [$time_local] "$request" $status '
              '$body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"')


@pytest.mark.parametrize("forced", [None, NGINX_MAIN])
def test_xff_masked_on_every_line(tmp_path: Path, forced: str | None) -> None:
    """Named in the format (``$http_x_forwarded_for``) or detected as combined and a trailing
    field (what ``--client-from xff`` reads then): masked on lines with nothing else to mask."""
    log = tmp_path / "xff.log"
    log.write_text("\n".join(XFF_LINES) + "\n")
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out),
                                 *(["--log-format", forced] if forced else [])])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    for address in XFF_ADDRESSES:
        assert address not in text, (address, text)
    assert '"198.51.100.0:5555"' in text and '"[2001:db8:aaaa::]:443"' in text
    assert '"unknown"' in text and '"-"' in text and text.count("\n") == len(XFF_LINES)
    # Read back, --client-from xff sees the masked addresses.
    r = CliRunner().invoke(cli, ["summary", str(out), "--client-from", "xff", "--format",
                                 "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["overview"]["requests"] == len(XFF_LINES)


def test_caddy_xff_header_masked(tmp_path: Path) -> None:
    line = ('{"level":"info","ts":1716723772.6,"logger":"http.log.access","msg":"handled '
            'request","request":{"remote_ip":"10.5.1.1","remote_port":"38574","client_ip":'
            '"10.10.10.117","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/x",'
            '"headers":{"User-Agent":["curl/8"],"X-Forwarded-For":["198.51.100.23"]}},'
            '"bytes_read":0,"user_id":"","duration":0.01,"size":3,"status":200}')
    log = tmp_path / "caddy.log"
    log.write_text(line + "\n")
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert '"X-Forwarded-For":["198.51.100.0"]' in text and "10.10.10.117" not in text
    json.loads(text)
    # Every item of the list (review of qafix22a, finding 2: only the first was masked),
    # and a header name in another case.
    log.write_text(line.replace('["198.51.100.23"]', '["198.51.100.23", "2001:db8::5, 203.0.113.4",'
                                ' "203.0.113.5"]') + "\n"
                   + line.replace("X-Forwarded-For", "x-forwarded-for") + "\n")
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert '"X-Forwarded-For":["198.51.100.0", "2001:db8::, 203.0.113.0", "203.0.113.0"]' in text
    assert '"x-forwarded-for":["198.51.100.0"]' in text
    for address in ("198.51.100.23", "2001:db8::5", "203.0.113.4", "203.0.113.5"):
        assert address not in text, address
    for x in text.splitlines():
        json.loads(x)


def test_ip_literals_masked_as_anonymize_does(tmp_path: Path) -> None:
    """An address in the query, path, referrer or agent is masked by --anonymize's rule (a
    product version in an agent is not an address); lines without one are not cut."""
    log = tmp_path / "ip.log"
    log.write_text(
        '::ffff:198.51.100.77 - - [05/Dec/2026:10:00:14 +0000] "GET /x?ip=198.51.100.77 '
        'HTTP/1.1" 200 100 "http://203.0.113.200/admin" "Mozilla/5.0 (client 10.1.2.3) '
        'Chrome/120.0.0.0"\n'
        '203.0.113.9 - - [05/Dec/2026:10:00:15 +0000] "GET /lookup/2001:db8::7/a HTTP/1.1" '
        '200 100 "-" "curl/8"\n'
        '203.0.113.9 - - [05/Dec/2026:10:00:16 +0000] "GET /v/1.2.3 HTTP/1.1" 200 100 "-" '
        '"Mozilla/5.0 Chrome/120.0.0.0"\n'
        '203.0.113.9 - - [05/Dec/2026:10:00:17 +0000] "GET /ip/192.0.2.1 HTTP/1.1" 200 100 '
        '"http://a.example/ip/192.0.2.2" "Mozilla/5.0 Chrome/120.0.0.0"\n'
    )
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines()
    assert lines[0] == (
        '::ffff:198.51.100.0 - - [05/Dec/2026:10:00:14 +0000] "GET /x?ip=198.51.100.0 '
        'HTTP/1.1" 200 100 "http://203.0.113.0/admin" "Mozilla/5.0 (client 10.1.2.0) '
        'Chrome/120.0.0.0"'
    )
    assert "/lookup/2001:db8::/a" in lines[1]
    assert lines[2].endswith('"GET /v/1.2.3 HTTP/1.1" 200 100 "-" "Mozilla/5.0 Chrome/120.0.0.0"')
    assert lines[3].endswith('"GET /ip/192.0.2.0 HTTP/1.1" 200 100 '
                             '"http://a.example/ip/192.0.2.0" "Mozilla/5.0 Chrome/120.0.0.0"')
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out), "--ip", "keep"])
    assert r.exit_code == 0, r.output
    assert out.read_text() == log.read_text()


def test_privacy_says_bad_lines_were_not_audited(tmp_path: Path) -> None:
    """QA22 item 6: a line the reports cannot read (a size that is no number) is not
    audited; the report says so, in every format (a note)."""
    log = tmp_path / "bad.log"
    log.write_text(
        '203.0.113.9 - - [05/Dec/2026:11:00:00 +0000] "GET /reset?email=ivan@example.org '
        'HTTP/1.1" 200 abc "-" "x"\n'
        '203.0.113.9 - - [05/Dec/2026:11:00:01 +0000] "GET /a HTTP/1.1" 200 1 "-" "x"\n'
    )
    r = CliRunner().invoke(cli, ["privacy", str(log), "--format", "json"])
    assert r.exit_code == 0, r.output
    notes = json.loads(r.stdout)["notes"]
    assert "1 bad line could not be read and was not audited for personal data" \
        " (see bad lines)" in notes


def test_scrub_counts_bad_lines_as_summary_does(tmp_path: Path) -> None:
    """Comment lines ('#' first, as fail2ban's fixtures hold) and blank lines are no bad
    lines to summary, nor to scrub (it called every comment of a CLF log bad)."""
    good = ('203.0.113.9 - - [05/Dec/2026:11:00:01 +0000] "GET /a HTTP/1.1" 200 1 "-" "x"')
    log = tmp_path / "c.log"
    log.write_text(f"# a note: 203.0.113.9\n{good}\n\n  # indented\nnot a log line\n{good}\n")
    code, overview = _summary(log)
    assert code == 0 and overview["bad_lines"] == 1
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(tmp_path / "out.log")])
    assert r.exit_code == 0, r.output
    assert "6 lines, 3 changed; 1 bad line passed through unchanged" in r.output
    # Review of qafix22a, finding 5: a comment's IP literals are masked as free text's.
    text = (tmp_path / "out.log").read_text()
    assert text.startswith("# a note: 203.0.113.0\n") and "203.0.113.9" not in text
    assert "  # indented\nnot a log line\n" in text


def test_every_trailing_field_masked(tmp_path: Path) -> None:
    """Review of qafix22a, finding 1: the IP literals of every trailing field are masked, not
    only the first one's, whatever the head of the log showed (an escaped quote, an unquoted
    list, a second field; trailing fields only after 49 plain combined lines)."""
    plain = ('10.0.0.{i} - - [05/Dec/2026:10:00:{i:02d} +0000] "GET /a HTTP/1.1" 200 10 "-" '
             '"Mozilla/5.0"')
    tails = [' "198.51.100.7"', ' "x\\" y, 203.0.113.5"', " 198.51.100.8, 203.0.113.6",
             ' "-" "203.0.113.7"', ' "2001:db8:1234:5678::9"']
    lines = [plain.format(i=i) for i in range(49)]
    lines += [plain.format(i=50 + k) + tail for k, tail in enumerate(tails)]
    log = tmp_path / "tail.log"
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    for address in ("198.51.100.7", "203.0.113.5", "198.51.100.8", "203.0.113.6",
                    "203.0.113.7", "2001:db8:1234:5678::9"):
        assert address not in text, (address, text)
    assert text.splitlines()[-4].endswith(' "Mozilla/5.0" "x\\" y, 203.0.113.0"')
    assert text.splitlines()[-2].endswith(' "Mozilla/5.0" "-" "203.0.113.0"')


def test_nginx_main_keeps_the_fast_path(tmp_path: Path) -> None:
    """Review of qafix22a, finding 3: nginx's stock main format (combined and a trailing
    X-Forwarded-For) keeps the client-only fast path on lines with no literal: a product
    version in the agent before a trailing "-" is no reason for the full cut (it sent every
    Chrome line there); a literal after "word/" in the referrer or the tail still is, and the
    output is the same as with every line cut."""
    import dataclasses

    import numpy as np
    import pyarrow.compute as pc

    from logaudit.enrich import pii
    from logaudit.scrub import Scrubber, _format_of, _lines, layout_for

    head = ('203.0.113.9 - - [05/Dec/2026:10:00:0{i} +0000] "GET /a HTTP/1.1" 200 1 "{ref}" '
            '"Mozilla/5.0 (X11) Chrome/125.0.0.0 Safari/537.36" "{xff}"\n')
    lines = [head.format(i=0, ref="-", xff="-"),
             head.format(i=1, ref="https://a.example/", xff="-"),
             head.format(i=2, ref="http://a.example/ip/192.0.2.1", xff="-"),
             head.format(i=3, ref="-", xff="via/198.51.100.9"),
             head.format(i=4, ref="-", xff="198.51.100.7")]
    data = "".join(lines).encode()
    lay = layout_for(_format_of(data, "main.log", None))
    assert lay.client_token == 0 and lay.user_set is not None
    cut = np.asarray(pc.match_substring_regex(_lines(data), lay.user_set))
    assert cut.tolist() == [False, False, True, True, True]
    slow = dataclasses.replace(lay, client_token=None, user_set=None)
    rules = pii.rules_for(None)
    fast_out = bytes(Scrubber(lay, rules, Anonymizer("mask")).block(data))
    assert fast_out == bytes(Scrubber(slow, rules, Anonymizer("mask")).block(data))
    for address in ("203.0.113.9", "192.0.2.1", "198.51.100.9", "198.51.100.7"):
        assert address.encode() not in fast_out


def test_traefik_client_addr_masked(tmp_path: Path) -> None:
    """Review of qafix22a, finding 6: Traefik's ClientAddr (the client with its port) is
    masked as ClientHost is, port kept."""
    log = tmp_path / "traefik.log"
    log.write_text(
        '{"ClientAddr":"198.51.100.4:52458","ClientHost":"198.51.100.4","ClientPort":"52458",'
        '"ClientUsername":"-","request_User-Agent":"curl/8","DownstreamContentSize":15,'
        '"DownstreamStatus":200,"Duration":1000,"RequestHost":"localhost","RequestMethod":"GET",'
        '"RequestPath":"/a","RequestProtocol":"HTTP/1.1","StartUTC":"2023-08-11T11:39:21Z",'
        '"level":"info","msg":""}\n')
    out = tmp_path / "clean.log"
    r = CliRunner().invoke(cli, ["scrub", str(log), "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert '"ClientAddr":"198.51.100.0:52458","ClientHost":"198.51.100.0"' in text
    assert "198.51.100.4" not in text
    json.loads(text)


@pytest.mark.parametrize("mask_bytes", [1, 2, 3])
def test_lone_ipv4_zeroed_as_anonymize_does(mask_bytes: int) -> None:
    """A trailing field that is one IPv4 address is zeroed in RE2 (scrub's shortcut for
    nginx main): the same text as --anonymize's rule gives, for every look-alike."""
    import pyarrow as pa

    from logaudit.enrich import pii
    from logaudit.scrub import Scrubber, _format_of

    anon = Anonymizer("mask", mask_bytes)
    values = [' "198.51.100.7"\n', " 198.51.100.7\n", ' "198.51.100.0"', ' "0.0.0.0"\r\n',
              ' "255.255.255.255"\n', ' "256.1.1.1"\n', ' "01.2.3.4"\n', ' "1.2.3.04"\n',
              ' "1.2.3.4.5"\n', ' "1.2.3"\n', ' "1.2.3.4:80"\n', ' "1.2.3.4, 5.6.7.8"\n',
              ' "::ffff:1.2.3.4"\n', ' "-"\n', "\n", ' "10.0.0.1" "2001:db8::1"\n',
              ' "a1.2.3.4"\n', ' "1.2.3.4a"\n', ' "1.2.3.4"x\n', ' ""1.2.3.4"\n']
    fmt = _format_of(b'203.0.113.9 - - [05/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 '
                     b'"-" "x" "-"\n', "main.log", None)
    scrubber = Scrubber(fmt, pii.rules_for(None), anon)
    dist = pa.array([v.encode() for v in values], pa.large_binary())
    seen: list[str] = []
    text = anon.text
    anon.text = lambda v: seen.append(v) or text(v)  # type: ignore[method-assign]
    got, touched = scrubber._literals(dist, "xff_extra")
    assert ' "198.51.100.7"\n' not in seen and ' "256.1.1.1"\n' in seen  # RE2, Python
    want = [text(v) for v in values]
    assert [x.decode() for x in got.to_pylist()] == want
    assert touched.tolist() == [a != b for a, b in zip(values, want, strict=True)]
