"""Format strings: every Apache directive and nginx variable the issue lists is known, lines
written from a format string with known values parse back to those values, and formats that
cannot be placed are refused with a message naming what is wrong."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from logaudit.errors import ConfigError
from logaudit.formats import Detected, detect, resolve
from logaudit.formats.spec import from_string
from logaudit.parse import BadLines, parse_block
from logaudit.sources import Block, Input

T_CLF = "[10/Oct/2000:13:55:36 -0700]"
UTC = pd.Timestamp("2000-10-10T20:55:36Z")


def parse(spec: str, lines: list[str], tz: str | None = None) -> tuple[pd.DataFrame, BadLines]:
    raw = "".join(x + "\n" for x in lines).encode()
    det = detect(raw, "t.log", spec, tz=tz)
    bad = BadLines()
    return parse_block(Block(raw, 1, Input("t.log", None), len(lines)), det, bad), bad


def one(spec: str, line: str, tz: str | None = None) -> pd.Series:
    frame, bad = parse(spec, [line], tz)
    assert bad.total == 0, bad.samples
    assert len(frame) == 1
    return frame.iloc[0]


APACHE_BASE = '%h %l %u %t "%r" %>s %b'
LINE_BASE = f'1.2.3.4 - bob {T_CLF} "GET /a?x=1 HTTP/1.1" 200 512'

# directive -> (text written, record column or None when kept as an extra, expected value)
APACHE: dict[str, tuple[str, str | None, object]] = {
    "%a": ("10.0.0.9", None, None),
    "%{c}a": ("10.0.0.8", None, None),
    "%A": ("192.0.2.1", None, None),
    "%{msec_frac}t": ("123", None, None),
    "%{usec_frac}t": ("123456", None, None),
    "%m": ("GET", None, None),
    "%U": ("/a", None, None),
    "%q": ("?x=1", None, None),
    "%H": ("HTTP/1.1", None, None),
    "%s": ("200", None, None),
    "%B": ("512", None, None),
    "%O": ("700", None, None),
    "%I": ("300", None, None),
    "%S": ("1000", None, None),
    "%D": ("1500", "response_time", 0.0015),
    "%T": ("2", "response_time", 2.0),
    "%{ms}T": ("15", "response_time", 0.015),
    "%{us}T": ("1500", "response_time", 0.0015),
    "%{s}T": ("3", "response_time", 3.0),
    "%v": ("www.example.com", "vhost", "www.example.com"),
    "%V": ("www.example.com", "vhost", "www.example.com"),
    "%p": ("443", None, None),
    "%{remote}p": ("51234", None, None),
    "%P": ("4242", None, None),
    "%{tid}P": ("140", None, None),
    "%X": ("+", None, None),
    "%k": ("0", None, None),
    "%L": ("YZ1xYQ", None, None),
    "%R": ("proxy-server", None, None),
    '"%{Referer}i"': ('"https://ref.example/"', "referrer", "https://ref.example/"),
    '"%{User-Agent}i"': ('"curl/8.0"', "agent", "curl/8.0"),
    "%{X-Forwarded-For}i": ("10.1.1.1", None, None),
    '"%{Accept}i"': ('"text/html"', None, None),
    "%{Content-Type}o": ("text/html", None, None),
    "%{HOME}e": ("/root", None, None),
    "%{note}n": ("x", None, None),
    "%{session}C": ("abc", "cookie_session", "abc"),
    "%{SSL_PROTOCOL}x": ("TLSv1.3", None, None),
    "%%": ("%", None, None),
    "%400,501{User-agent}i": ("-", None, None),
    "%!200,304{Referer}i": ("-", None, None),
    "%<s": ("200", None, None),
    "%f": ("/var/www/a", None, None),
}


# Time directives, in place of %t: (format of the time, text written).
APACHE_TIMES: dict[str, str] = {
    "%t": T_CLF,
    "[%{%d/%b/%Y:%H:%M:%S %z}t]": T_CLF,
    "%{begin:%d/%b/%Y:%T %z}t": "10/Oct/2000:13:55:36 -0700",
    "%{end:%F %T}t": "2000-10-10 20:55:36",
    "%{%Y-%m-%d}t %{%H:%M:%S}t": "2000-10-10 20:55:36",
    "%{sec}t": "971211336",
    "%{msec}t": "971211336123",
    "%{usec}t": "971211336123456",
    "%{%s}t": "971211336",
    "%{%e/%m/%Y %R:%S}t": "10/10/2000 20:55:36",
}


@pytest.mark.parametrize("directive", list(APACHE_TIMES))
def test_each_apache_time_directive(directive: str) -> None:
    fmt = APACHE_BASE.replace("%t", directive)
    row = one("apache:" + fmt, LINE_BASE.replace(T_CLF, APACHE_TIMES[directive]))
    assert row["time"] == UTC
    assert row["path"] == "/a"


@pytest.mark.parametrize("directive", list(APACHE))
def test_each_apache_directive(directive: str) -> None:
    text, column, want = APACHE[directive]
    row = one(f"apache:{APACHE_BASE} {directive}", f"{LINE_BASE} {text}")
    assert row["client"] == "1.2.3.4" and row["path"] == "/a" and row["status"] == 200
    assert row["time"] == UTC
    if column is not None:
        got = row[column]
        assert got == pytest.approx(want) if isinstance(want, float) else got == want


NGINX_BASE = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
NGINX: dict[str, tuple[str, str | None, object]] = {
    "$request_time": ("0.120", "response_time", 0.12),
    "$upstream_response_time": ("0.100, 0.010 : 0.005", "upstream_time", 0.115),
    "$upstream_connect_time": ("0.001", None, None),
    "$upstream_header_time": ("0.050", None, None),
    "$upstream_addr": ("10.0.0.2:8080", None, None),
    "$upstream_status": ("200", None, None),
    '"$http_referer"': ('"https://r.example/"', "referrer", "https://r.example/"),
    '"$http_user_agent"': ('"Mozilla/5.0 (X11)"', "agent", "Mozilla/5.0 (X11)"),
    '"$http_x_forwarded_for"': ('"10.0.0.1, 10.0.0.2"', None, None),
    "$http_x_request_id": ("abc", None, None),
    "$cookie_session": ("s1", "cookie_session", "s1"),
    "$arg_page": ("2", None, None),
    "$host": ("shop.example.com", "vhost", "shop.example.com"),
    "$server_name": ("shop.example.com", "vhost", "shop.example.com"),
    "$server_port": ("443", None, None),
    "$remote_port": ("51234", None, None),
    "$scheme": ("https", None, None),
    "$request_length": ("345", None, None),
    "$bytes_sent": ("700", None, None),
    "$connection": ("17", None, None),
    "$connection_requests": ("3", None, None),
    "$pipe": (".", None, None),
    "$gzip_ratio": ("-", None, None),
    "$ssl_protocol": ("TLSv1.3", None, None),
    "$request_id": ("f00", None, None),
    "${request_time}": ("0.5", "response_time", 0.5),
    "$sent_http_content_type": ("text/html", None, None),
}


@pytest.mark.parametrize("variable", list(NGINX))
def test_each_nginx_variable(variable: str) -> None:
    text, column, want = NGINX[variable]
    row = one(f"nginx:{NGINX_BASE} {variable}", f"{LINE_BASE} {text}")
    assert row["client"] == "1.2.3.4" and row["user"] == "bob" and row["query"] == "x=1"
    assert row["time"] == UTC
    if column is not None:
        got = row[column]
        assert got == pytest.approx(want) if isinstance(want, float) else got == want


@pytest.mark.parametrize(
    "spec, line, want",
    [
        # Request parts instead of the request line.
        (
            'nginx:$remote_addr [$time_local] "$request_method $uri?$args $server_protocol" '
            "$status",
            f'1.2.3.4 {T_CLF} "POST /cart?id=7 HTTP/2.0" 201',
            {"method": "POST", "path": "/cart", "query": "id=7", "protocol": "HTTP/2.0"},
        ),
        (
            "nginx:$remote_addr [$time_local] $request_method $request_uri $status",
            f"1.2.3.4 {T_CLF} GET /p?q=1 200",
            {"method": "GET", "path": "/p", "query": "q=1", "bytes": 0},
        ),
        (
            'apache:%h %t "%m %U%q %H" %>s %B %D',
            f'1.2.3.4 {T_CLF} "GET /s?k=v HTTP/1.1" 200 9 250000',
            {"path": "/s", "query": "k=v", "response_time": 0.25},
        ),
        # Times: ISO with zone, seconds since 1970, strftime with a space, no zone.
        (
            'nginx:$time_iso8601 $remote_addr "$request" $status',
            '2000-10-10T13:55:36-07:00 1.2.3.4 "GET / HTTP/1.1" 200',
            {"time": UTC, "offset": -420},
        ),
        (
            'nginx:$msec $remote_addr "$request" $status',
            '971211336.250 1.2.3.4 "GET / HTTP/1.1" 200',
            {"time": UTC, "offset": 0},
        ),
        (
            'apache:%h [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s %b',
            '1.2.3.4 [2000-10-10 20:55:36] "GET / HTTP/1.1" 200 5',
            {"time": UTC, "offset": 0},
        ),
        # Separators other than spaces, and values glued to literals.
        (
            "nginx:$remote_addr|$time_iso8601|$request|$status|rt=$request_time",
            "1.2.3.4|2000-10-10T20:55:36+00:00|GET /t HTTP/1.1|404|rt=0.004",
            {"status": 404, "path": "/t", "response_time": 0.004},
        ),
        (
            'apache:%v:%p %h %t "%r" %>s %b',
            f'shop.example.com:443 1.2.3.4 {T_CLF} "GET / HTTP/1.1" 200 5',
            {"vhost": "shop.example.com"},
        ),
        # Pasted as it stands in nginx.conf: quoted pieces, a semicolon.
        (
            "'$remote_addr [$time_local] ' '\"$request\" $status';",
            f'1.2.3.4 {T_CLF} "GET /q HTTP/1.1" 200',
            {"path": "/q"},
        ),
    ],
)
def test_layouts(spec: str, line: str, want: dict[str, object]) -> None:
    row = one(spec, line)
    for k, v in want.items():
        got = row[k]
        assert got == pytest.approx(v) if isinstance(v, float) else got == v, k


def test_a_time_without_zone_is_wall_time_in_tz() -> None:
    spec = 'apache:%h [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s %b'
    line = '1.2.3.4 [2024-07-01 12:00:00] "GET / HTTP/1.1" 200 5'
    row = one(spec, line, tz="Europe/Paris")
    assert row["offset"] == 120
    assert row["time"] == pd.Timestamp("2024-07-01T10:00:00Z")
    assert row["local"] == pd.Timestamp("2024-07-01T12:00:00")


@pytest.mark.parametrize(
    "spec, words",
    [
        ('apache:%h %t %{sec}t "%r" %>s', ["two times", "%t", "%{sec}t"]),
        ('apache:%h %t %{%Y-%m-%d}t "%r" %>s', ["two times", "%t", "%{%Y-%m-%d}t"]),
        ('apache:%h %{%H:%M:%S}t "%r" %>s', ["no date"]),
        ("nginx:$remote_addr [$time_local] $status", ["no request"]),
        ('apache:%h "%r" %>s', ["no time"]),
        ('apache:%h %t "%r"', ["no status"]),
        ('apache:%h %{%Q}t "%r" %>s', ["%Q"]),
        ('apache:%h %t "%r" %>s %{minutes}T', ["minutes"]),
        ("just words", ["unknown format"]),
    ],
)
def test_formats_that_cannot_be_placed_say_why(spec: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        resolve(spec)
    for w in words:
        assert w in str(e.value)


def test_cli_refuses_an_unplaceable_format_with_usage_exit(tmp_path: object) -> None:
    from click.testing import CliRunner

    from logaudit.cli import cli

    r = CliRunner().invoke(cli, ["summary", "x.log", "--log-format", 'apache:%h "%r" %>s'])
    assert r.exit_code == 2
    assert "no time" in r.output
    assert "Traceback" not in r.output


def test_named_formats_from_the_config(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from logaudit.cli import cli

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[formats]\ntimed = \'nginx:$remote_addr [$time_local] "$request" $status '
        "$body_bytes_sent $request_time'\n"
    )
    log = tmp_path / "a.log"
    log.write_text(
        f'1.2.3.4 {T_CLF} "GET / HTTP/1.1" 200 5 0.010\n'
        f'1.2.3.5 {T_CLF} "GET /b HTTP/1.1" 200 5 0.030\n'
    )
    monkeypatch.setenv("LOGAUDIT_CONFIG", str(cfg))
    r = CliRunner().invoke(cli, ["summary", str(log), "--log-format", "timed", "--format", "json"])
    assert r.exit_code == 0, r.output
    import json

    ov = json.loads(r.stdout)["overview"]
    assert ov["requests"] == 2 and ov["bad_lines"] == 0
    assert ov["response_time_p50"] == pytest.approx(0.02)
    assert ov["response_time_max"] == pytest.approx(0.03)


def test_round_trip_from_the_format_string() -> None:
    """Lines written from the format string (by plain substitution, not by logaudit) with
    known values parse back to those values."""
    fmt = (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" $request_time $upstream_response_time $host'
    )
    rng = np.random.default_rng(7)
    rows = []
    lines = []
    for i in range(300):
        values = {
            "$remote_addr": f"198.51.100.{i % 250}",
            "$remote_user": "-" if i % 3 else f"user{i}",
            "$time_local": f"{1 + i % 28:02d}/Mar/2024:{i % 24:02d}:{i % 60:02d}:07 +0100",
            "$request": f"GET /p/{i}?n={i} HTTP/1.1",
            "$status": str((200, 304, 404, 502)[i % 4]),
            "$body_bytes_sent": str(int(rng.integers(0, 10**6))),
            "$http_referer": "-" if i % 2 else f"https://ref.example/{i}",
            "$http_user_agent": f"Mozilla/5.0 (X11; rv:{i})",
            "$request_time": f"{rng.random() * 3:.3f}",
            "$upstream_response_time": "-" if i % 5 == 0 else f"{rng.random():.3f}",
            "$host": f"site{i % 3}.example",
        }
        line = fmt
        for k in sorted(values, key=len, reverse=True):
            line = line.replace(k, values[k])
        lines.append(line)
        rows.append(values)
    frame, bad = parse("nginx:" + fmt, lines)
    assert bad.total == 0 and len(frame) == 300
    frame = frame.sort_values("line")
    for values, (_, row) in zip(rows, frame.iterrows(), strict=True):
        assert row["client"] == values["$remote_addr"]
        assert row["user"] == values["$remote_user"]
        assert row["status"] == int(values["$status"])
        assert row["bytes"] == int(values["$body_bytes_sent"])
        assert row["referrer"] == values["$http_referer"]
        assert row["agent"] == values["$http_user_agent"]
        assert row["vhost"] == values["$host"]
        assert row["response_time"] == pytest.approx(float(values["$request_time"]))
        up = values["$upstream_response_time"]
        assert (
            (math.isnan(row["upstream_time"]))
            if up == "-"
            else row["upstream_time"] == pytest.approx(float(up))
        )
        local = pd.Timestamp(pd.to_datetime(values["$time_local"], format="%d/%b/%Y:%H:%M:%S %z"))
        assert row["time"] == local.tz_convert("UTC")


def test_response_time_quantiles_are_pandas_exact_after_any_merge() -> None:
    from logaudit.analyze import timing
    from logaudit.analyze.base import Table

    rng = np.random.default_rng(3)
    values = np.round(rng.lognormal(-3, 1.2, 5000), 3)
    chunks = np.array_split(values, 7)
    table: Table = timing.TABLES["response_values"]
    parts = [
        table.compute(pd.DataFrame({"response_time": np.append(c, np.nan)}), None)  # type: ignore[arg-type]
        for c in chunks
    ]
    merged = table.combine(parts[3:] + parts[:3])
    ov = timing.overview({"response_values": merged})
    s = pd.Series(values)
    for key, q in timing.QUANTILES.items():
        assert ov[key] == pytest.approx(s.quantile(q), abs=1e-6)
    assert ov["response_time_max"] == s.max()
    assert timing.overview({}) == {}


def test_detected_reports_the_zone_of_naive_times() -> None:
    raw = b'1.2.3.4 [2024-07-01 12:00:00] "GET / HTTP/1.1" 200 5\n'
    det: Detected = detect(
        raw, "t", 'apache:%h [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s %b', tz="Asia/Tokyo"
    )
    assert det.zone == "Asia/Tokyo"
    assert detect(raw.replace(b"[", b"").replace(b"]", b""), "t", "combined").zone is None
    assert from_string('apache:%h %t "%r" %>s').delimiter == " "


@pytest.mark.parametrize(
    "spec, line",
    [
        (
            'apache:%h [%{%d %b %Y %H:%M:%S}t] "%r" %>s %b',
            '1.2.3.4 [10 Oct 2000 20:55:36] "GET / HTTP/1.1" 200 5',
        ),
        (
            'apache:%h %{%d %b %Y}t %{%T}t "%r" %>s %b',
            '1.2.3.4 10 Oct 2000 20:55:36 "GET / HTTP/1.1" 200 5',
        ),
        (
            "nginx:$remote_addr;$time_local;$request;$status",
            "1.2.3.4;10/Oct/2000:13:55:36 -0700;GET / HTTP/1.1;200",
        ),
    ],
)
def test_a_time_cut_across_tokens(spec: str, line: str) -> None:
    assert one(spec, line)["time"] == UTC


NGINX_JSON = (
    'nginx:{"t":"$time_iso8601","ip":"$remote_addr","req":"$request","st":$status,'
    '"rt":$request_time,"up":"$upstream_response_time","ua":"$http_user_agent"}'
)


def test_an_nginx_json_template_reads_json_lines() -> None:
    lines = [
        '{"t":"2024-03-01T10:00:00+01:00","ip":"203.0.113.5","req":"GET /a?x=1 HTTP/1.1",'
        '"st":200,"rt":0.012,"up":"0.010, 0.001","ua":"Mozilla/5.0 \\"q\\" (X11)"}',
        "not json at all",
        '{"t":"2024-03-01T10:00:02+01:00","ip":"2001:db8::1","req":"GET /c\\u0041 HTTP/1.1",'
        '"st":404,"rt":1.5,"up":"-","ua":"curl/8.0"}',
    ]
    frame, bad = parse(NGINX_JSON, lines)
    assert bad.total == 1 and bad.samples["t.log"][0][0] == 2
    frame = frame.sort_values("line")
    assert frame["client"].tolist() == ["203.0.113.5", "2001:db8::1"]
    assert frame["path"].tolist() == ["/a", "/cA"]
    # A quote is kept as nginx writes it in the other formats (\x22), like every family's.
    assert frame["agent"].tolist() == ["Mozilla/5.0 \\x22q\\x22 (X11)", "curl/8.0"]
    assert frame["status"].tolist() == [200, 404]
    assert frame["response_time"].tolist() == pytest.approx([0.012, 1.5])
    assert frame["upstream_time"].iloc[0] == pytest.approx(0.011)
    assert math.isnan(frame["upstream_time"].iloc[1])
    assert frame["time"].iloc[0] == pd.Timestamp("2024-03-01T09:00:00Z")


# ---- arbitrary bytes never raise, for layouts of every kind ---------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LAYOUTS = [
    from_string(s)
    for s in (
        NGINX_JSON,
        f"nginx:{NGINX_BASE} $request_time $upstream_response_time",
        "nginx:$remote_addr|$time_iso8601|$request|$status|rt=$request_time",
        'apache:%v:%p %h %{%d %b %Y %H:%M:%S}t "%m %U%q %H" %>s %B %D',
        'apache:%h [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s %b',
    )
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.lists(
        st.one_of(
            st.binary(max_size=120),
            st.sampled_from([b'"', b"{", b"}", b"\\", b"#Fields: date time", b" ", b"\r"]),
        ),
        max_size=12,
    ),
    which=st.integers(0, len(LAYOUTS) - 1),
    zone=st.sampled_from([None, "Europe/Paris"]),
)
def test_arbitrary_bytes_never_raise_for_any_layout(
    raw: list[bytes], which: int, zone: str | None
) -> None:
    from logaudit import schema

    data = b"".join(raw) + b"\n"
    det = Detected(LAYOUTS[which], 0, 1, 1, zone)
    bad = BadLines()
    frame = parse_block(Block(data, 1, Input("t.log", None), data.count(b"\n")), det, bad)
    assert tuple(frame.columns) == schema.NAMES


# ---- GoAccess's specifiers and predefined names ------------------------------------------


@pytest.mark.parametrize(
    "spec, line, want",
    [
        (
            'goaccess:%h %^[%d:%t %^] "%r" %s %b "%R" "%u"',
            f'1.2.3.4 - bob {T_CLF} "GET /g?x=1 HTTP/1.1" 200 5 "-" "curl/8"',
            {"client": "1.2.3.4", "path": "/g", "status": 200, "agent": "curl/8"},
        ),
        (
            "goaccess:%d %t %h %m %U %s %b %T --date-format=%Y-%m-%d --time-format=%T",
            "2000-10-10 20:55:36 1.2.3.4 GET /w?k=v 404 12 0.250",
            {"time": UTC, "path": "/w", "query": "k=v", "status": 404, "response_time": 0.25},
        ),
        (
            'goaccess:%x %h "%r" %s %b %L --datetime-format=%d/%b/%Y:%H:%M:%S %z',
            '10/Oct/2000:13:55:36 -0700 1.2.3.4 "GET / HTTP/1.1" 200 1 15',
            {"time": UTC, "offset": -420, "response_time": 0.015},
        ),
    ],
)
def test_goaccess_specifier_strings(spec: str, line: str, want: dict[str, object]) -> None:
    row = one(spec, line)
    for k, v in want.items():
        got = row[k]
        assert got == pytest.approx(v) if isinstance(v, float) else got == v, k


@pytest.mark.parametrize(
    "alias, name",
    [
        ("COMBINED", "combined"),
        ("VCOMBINED", "vcombined"),
        ("COMMON", "common"),
        ("VCOMMON", "vcommon"),
        ("W3C", "w3c"),
        ("CLOUDFRONT", "w3c"),
        ("AWSELB", "elb"),
        ("AWSALB", "alb"),
        ("AWSS3", "s3"),
        ("SQUID", "squid"),
        ("TRAEFIKCLF", "traefik"),
        ("combined", "combined"),
    ],
)
def test_goaccess_names_are_aliases(alias: str, name: str) -> None:
    assert resolve(alias).name == name


FAMILY_ROWS: dict[str, dict[str, object]] = {
    "elb": {
        "client": "1.2.3.4",
        "status": 200,
        "bytes": 57,
        "response_time": 0.001048,
        "path": "/path/index.html",
        "vhost": "www.example.com:443",
    },
    "alb": {"client": "1.2.3.4", "status": 200, "bytes": 24950, "response_time": 0.102},
    "s3": {"client": "1.2.3.4", "vhost": "www.example.com", "path": "/index", "bytes": 368},
    "squid": {"client": "203.0.113.1", "status": 200, "bytes": 13564, "response_time": 3.976},
    "traefik": {"client": "1.2.3.4", "agent": "Prometheus/2.40.5", "response_time": 0.102},
    "haproxy": {"client": "4.3.2.1", "method": "POST", "path": "/user/", "response_time": 0.072},
}


@pytest.mark.parametrize("name", list(FAMILY_ROWS))
def test_goaccess_families_read_their_samples(name: str) -> None:
    from logaudit.formats import FORMATS

    fmt = FORMATS[name]
    raw = "".join(x + "\n" for x in fmt.samples).encode()
    det = detect(raw, "t.log")
    assert det.format.name == name
    bad = BadLines()
    frame = parse_block(Block(raw, 1, Input("t.log", None), len(fmt.samples)), det, bad)
    assert bad.total == 0 and len(frame) == len(fmt.samples)
    row = frame.iloc[0]
    for k, v in FAMILY_ROWS[name].items():
        got = row[k]
        assert got == pytest.approx(v) if isinstance(v, float) else got == v, k


def test_cookie_fields_fill_one_categorical_column_per_name() -> None:
    """Each cookie the format names is a column ``cookie_<name>`` (schema.DYNAMIC), categorical
    like other text; the same name written twice is one column; '-' stays '-' (no cookie)."""
    fmt = f'nginx:{NGINX_BASE} "$cookie_ref" $cookie_sid "$cookie_ref"'
    frame, bad = parse(fmt, [f'{LINE_BASE} "acme" s1 "other"', f'{LINE_BASE} "-" s2 "-"'])
    assert bad.total == 0
    cookies = [c for c in frame.columns if c.startswith("cookie_")]
    assert cookies == ["cookie_ref", "cookie_sid"]
    assert isinstance(frame["cookie_ref"].dtype, pd.CategoricalDtype)
    assert list(frame["cookie_ref"]) == ["acme", "-"]
    assert list(frame["cookie_sid"]) == ["s1", "s2"]
    # Inside a token with other text (Apache: ref=%{ref}C), split once per distinct value.
    row = one(f"apache:{APACHE_BASE} ref=%{{ref}}C", f"{LINE_BASE} ref=bigblog")
    assert row["cookie_ref"] == "bigblog"


def test_formats_without_cookies_add_no_column() -> None:
    from logaudit.schema import NAMES

    frame, _ = parse(f"nginx:{NGINX_BASE}", [LINE_BASE])
    assert tuple(frame.columns) == NAMES


def test_chunks_of_formats_with_and_without_a_cookie_concatenate() -> None:
    """auto+ reads one input with several formats: a cookie column is '-' on the rows of a
    format that does not log it."""
    from logaudit.parse import _concat

    with_cookie, _ = parse(f"nginx:{NGINX_BASE} $cookie_ref", [f"{LINE_BASE} acme"])
    without, _ = parse(f"nginx:{NGINX_BASE}", [LINE_BASE])
    both = _concat([without, with_cookie])
    assert list(both["cookie_ref"]) == ["-", "acme"]
    assert list(both.columns)[-1] == "cookie_ref" and len(both) == 2
