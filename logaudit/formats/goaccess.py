"""GoAccess's format specifiers, and the families GoAccess predefines that logaudit had not.

A GoAccess user's ``log-format`` (with its ``date-format`` / ``time-format`` /
``datetime-format``) reads as it does in GoAccess: ``--log-format 'goaccess:%h %^[%d:%t %^]
"%r" %s %b "%R" "%u"'``, the formats given after it as ``--date-format=...`` words, or
defaulting to the combined log's ``%d/%b/%Y`` and ``%H:%M:%S``. ``%^`` skips up to the next
literal character, as in GoAccess, so these layouts are read by the exact path (one RE2 pattern
per line, vectorised), not cut by a delimiter.

The predefined names (AWSELB, AWSALB, AWSS3, SQUID, TRAEFIKCLF, CLOUDSTORAGE, ...) are registry
entries made from their GoAccess strings, each with real sample lines.
"""

from __future__ import annotations

import re

from logaudit.errors import ConfigError
from logaudit.formats.spec import Layout, Piece, layout_from_pieces, strftime_pieces

_SIMPLE: dict[str, tuple[str, str]] = {
    "h": ("client", ""),
    "e": ("user", ""),
    "v": ("vhost", ""),
    "r": ("request", ""),
    "m": ("method", ""),
    "U": ("request_uri", ""),
    "q": ("query", ""),
    "H": ("protocol", ""),
    "s": ("status", ""),
    "b": ("bytes", ""),
    "R": ("referrer", ""),
    "u": ("agent", ""),
    "T": ("response_time", "s"),
    "L": ("response_time", "ms"),
    "D": ("response_time", "us"),
    "n": ("response_time", "ns"),
    "^": ("extra", ""),
    "C": ("extra", ""),
    "K": ("extra", ""),
    "k": ("extra", ""),
    "M": ("extra", ""),
}
_OPTION = re.compile(r"\s+--(date|time|datetime)-format[= ](.+?)(?=\s+--|$)")


def goaccess_pieces(
    fmt: str, date: str = "%d/%b/%Y", time: str = "%H:%M:%S", datetime: str | None = None
) -> list[Piece]:
    out: list[Piece] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "\\" and fmt[i + 1 : i + 2] == "t":
            out.append(Piece("literal", "\t"))
            i += 2
            continue
        if c != "%" or i + 1 == len(fmt):
            out.append(Piece("literal", c))
            i += 1
            continue
        spec = fmt[i + 1]
        i += 2
        if spec == "%":
            out.append(Piece("literal", "%"))
        elif spec == "~":
            out.append(Piece("extra", "%~", "spaces"))
        elif spec == "d":
            out.extend(_time_pieces(date, "%d"))
        elif spec == "t":
            out.extend(_time_pieces(time, "%t"))
        elif spec == "x":
            if not datetime:
                raise ConfigError(
                    "GoAccess %x needs --datetime-format (e.g. %s, or %d/%b/%Y:%T %z)"
                )
            out.extend(_time_pieces(datetime, "%x"))
        elif spec in _SIMPLE:
            role, kind = _SIMPLE[spec]
            if kind == "ns":  # nanoseconds: kept aside (logaudit's units stop at microseconds)
                role, kind = "extra", ""
            out.append(Piece(role, "%" + spec, kind))
        else:
            raise ConfigError(f"GoAccess specifier %{spec} is not one logaudit knows")
    return out


def _time_pieces(fmt: str, directive: str) -> list[Piece]:
    """A GoAccess date/time format: a lone ``%f`` is microseconds since 1970 (GoAccess's
    CLOUDSTORAGE), elsewhere ``%f`` is the digits after the point, as in strftime."""
    if fmt == "%f":
        return [Piece("time", directive, "Eus")]
    return strftime_pieces(fmt, directive)


def from_goaccess(spec: str, name: str = "custom", title: str = "", **kw: object) -> Layout:
    """``%h %^[%d:%t %^] "%r" ...`` [--date-format=X] [--time-format=Y] -> a layout."""
    opts = {m.group(1): m.group(2).strip("'\"") for m in _OPTION.finditer(spec)}
    fmt = _OPTION.sub("", spec)
    pieces = goaccess_pieces(
        fmt, opts.get("date", "%d/%b/%Y"), opts.get("time", "%H:%M:%S"), opts.get("datetime")
    )
    kw.setdefault("family", "goaccess")
    return layout_from_pieces(pieces, spec, name, title, **kw)


# The header line of a Cloud Storage usage log (Google's usage-log schema, version 3).
GCS_HEADER = (
    '"time_micros","c_ip","c_ip_type","c_ip_region","cs_method","cs_uri","sc_status",'
    '"cs_bytes","sc_bytes","time_taken_micros","cs_host","cs_referer","cs_user_agent",'
    '"s_request_id","cs_operation","cs_bucket","cs_object"'
)
_CLF_TIME = "--datetime-format=%d/%b/%Y:%H:%M:%S %z"
_ISO_Z = "--datetime-format=%Y-%m-%dT%H:%M:%S.%fZ"
_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/535.11 (KHTML, like Gecko) "
    "Chrome/17.0.963.56 Safari/535.11"
)

# GoAccess's predefined formats that logaudit's own families do not already cover, written as
# their GoAccess strings (adjusted where GoAccess drops the zone: %x with the whole time), with
# real sample lines (AWS's documentation, as the Matomo importer's fixtures quote them).
PREDEFINED: tuple[Layout, ...] = (
    from_goaccess(
        f'%^ %x %^ %h:%^ %^ %^ %T %^ %s %^ %^ %b "%r" "%u"%^ {_ISO_Z}',
        "alb",
        "AWS application load balancer (ALB)",
        samples=(
            "https 2020-01-01T00:55:04.127531Z app/my-alb/abcdef 1.2.3.4:2817 10.0.0.1:80 "
            '0.001 0.102 0.000 200 200 225 24950 "GET https://www.example.com:443/path/index.html'
            f' HTTP/1.1" "{_AGENT}" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2',
        ),
        aliases=("AWSALB",),
        naive_zone="UTC",
        absolute_urls=True,
    ),
    from_goaccess(
        f'%x %^ %h:%^ %^ %^ %T %^ %s %^ %^ %b "%r" "%u"%^ {_ISO_Z}',
        "elb",
        "AWS classic load balancer (ELB)",
        samples=(
            "2015-05-13T23:39:43.945958Z my-loadbalancer 1.2.3.4:2817 10.0.0.1:80 0.000086 "
            '0.001048 0.001337 200 200 0 57 "GET https://www.example.com:443/path/index.html '
            f'HTTP/1.1" "{_AGENT}" DHE-RSA-AES128-SHA TLSv1.2',
        ),
        aliases=("AWSELB",),
        naive_zone="UTC",
        absolute_urls=True,
    ),
    from_goaccess(
        f'%^ %v [%x] %h %^ %^ %^ %^ "%r" %s %^ %b %^ %L %^ "%R" "%u"%^ {_CLF_TIME}',
        "s3",
        "AWS S3 server access log",
        samples=(
            "b659b576cff1e15e4c0313ff8930fba9f53e6794567f5c60dab3abf2f8dfb6cc www.example.com "
            "[10/Feb/2012:16:42:07 -0500] 1.2.3.4 arn:aws:iam::179580289999:user/phillip.boss "
            'EB3502676500C6BE WEBSITE.GET.OBJECT index "GET /index HTTP/1.1" 200 - 368 368 10 9 '
            f'"-" "{_AGENT}"',
        ),
        aliases=("AWSS3",),
    ),
    from_goaccess(
        "%x %~%L %h %^/%s %b %m %U %^ --datetime-format=%s",
        "squid",
        "Squid native access log",
        samples=(
            "1576177221.686     3976 203.0.113.1 TCP_MISS/200 13564 GET "
            "http://example.com/index.html - HIER_DIRECT/203.0.113.200 text/html",
            "1576177221.686     1241 2001:db8:2ce:1 TCP_HIT/304 309 GET "
            "http://example.com/a.css - HIER_NONE/- text/css",
        ),
        aliases=("SQUID",),
    ),
    from_goaccess(
        f'%h - %e [%x] "%r" %s %b "%R" "%u" %^ "%^" "%^" %Lms {_CLF_TIME}',
        "traefik",
        "Traefik's common log format (CLF plus count, router, URL, duration)",
        samples=(
            '1.2.3.4 - - [10/Aug/2023:11:39:21 +0000] "GET /my/app HTTP/1.1" 200 15 "-" '
            '"Prometheus/2.40.5" 1 "my-router@file" "http://apache:80" 102ms',
        ),
        aliases=("TRAEFIKCLF",),
    ),
    # Google Cloud Storage usage logs: CSV, every value quoted, a header line first (GCS_HEADER,
    # skipped as a comment is). GoAccess's
    # CLOUDSTORAGE string (time_micros, c_ip, c_ip_type, c_ip_region, cs_method, cs_uri,
    # sc_status, cs_bytes, sc_bytes, time_taken_micros, cs_host, cs_referer, cs_user_agent;
    # s_request_id, cs_operation, cs_bucket, cs_object and later columns are kept aside). The
    # host is the bucket's endpoint (cs_host): kept as the virtual host.
    from_goaccess(
        '"%x","%h",%^,%^,"%m","%U","%s",%^,"%b","%D","%v","%R","%u"%^ --datetime-format=%f',
        "gcs",
        "Google Cloud Storage usage log (CSV with a header)",
        samples=(
            '"1305768034469000","216.239.45.10","1","","GET","/example-bucket/photos/cat.jpg",'
            '"200","0","81253","41000","storage.googleapis.com","https://www.example.com/",'
            '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
            'Chrome/120.0.0.0 Safari/537.36,gzip(gfe)","AEnB2UoDkQ3qJ2b6pLZ8Ykz1","GET_Object",'
            '"example-bucket","photos/cat.jpg"',
        ),
        aliases=("CLOUDSTORAGE",),
        header='"time_micros"',
    ),
    # Not a GoAccess name: HAProxy's HTTP log behind its syslog prefix. The times carry no
    # zone (--tz, else the machine's); Tt, the total time in ms, is the response time.
    from_goaccess(
        '%^]: %h:%^ [%x] %^ %^ %^/%^/%^/%^/%L %s %b %^"%r" --datetime-format=%d/%b/%Y:%H:%M:%S.%f',
        "haproxy",
        "HAProxy HTTP log (option httplog), with its syslog prefix",
        samples=(
            "Sep 25 06:05:27 hostname haproxy[6801]: 4.3.2.1:55008 [25/Sep/2018:06:05:27.584] "
            "ft_https~ bk_https/abc 0/0/0/72/72 200 7456 - - ---- 5/4/0/1/0 0/0 "
            '"POST /user/ HTTP/1.1"',
        ),
    ),
)
