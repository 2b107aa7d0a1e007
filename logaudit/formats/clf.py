"""The Apache/nginx family: common (CLF), combined, and their virtual-host forms.

A format here is data: the ordered fields of a line. The fast parser reads them as
space-separated, double-quoted, backslash-escaped tokens with Arrow's CSV reader; the timestamp
``[10/Oct/2000:13:55:36 -0700]`` is two tokens (``t1``, ``t2``). The same layout is also written
as one RE2 regular expression, used only on blocks that hold malformed lines, so that every bad
line is found with its exact line number without losing the good lines around it.
"""

from __future__ import annotations

from dataclasses import replace

from logaudit.formats.spec import Layout, apache, layout_from_pieces, nginx_pieces

_COMBINED_SAMPLES = (
    '203.0.113.9 - - [22/Jan/2019:03:56:14 +0330] "GET /filter/p53?x=1 HTTP/1.1" 200 30577 '
    '"-" "Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)"',
    '2001:db8::1 - alice [10/Oct/2000:13:55:36 -0700] "POST /cart/add HTTP/2.0" 302 - '
    '"https://shop.example.com/p/1" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"',
    'crawl-66-249-66-1.googlebot.com - - [01/Mar/2024:00:00:01 +0000] "-" 400 0 "-" "-"',
    '198.51.100.7 - - [01/Mar/2024:00:00:02 +0000] "GET /q HTTP/1.1" 200 12 "-" '
    '"UA with \\"quotes\\" inside"',
)

_XFF_FIRST = (
    "{xff} $remote_addr - $remote_user [$time_local] "
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
)

CLF_FORMATS: tuple[Layout, ...] = (
    apache(
        "vcombined",
        '%v %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
        'Apache vhost_combined / nginx with a leading virtual host: %v:%p %h %l %u %t "%r" %>s '
        '%O "%{Referer}i" "%{User-Agent}i"',
        (
            "shop.example.com:443 203.0.113.9 - - [22/Jan/2019:03:56:14 +0330] "
            '"GET /index.html HTTP/1.1" 200 512 "-" "curl/8.0"',
            'www.example.com 1.2.3.4 - theuser [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" '
            '301 368 "-" "Mozilla/5.0 (X11; Linux x86_64) Chrome/17.0.963.56 Safari/535.11"',
        ),
        allow_extras=True,
        aliases=("VCOMBINED",),
    ),
    apache(
        "combined",
        '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
        'Apache/nginx combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" '
        '(trailing fields such as nginx\'s "$http_x_forwarded_for" are allowed)',
        _COMBINED_SAMPLES,
        allow_extras=True,
        aliases=("COMBINED",),
    ),
    apache(
        "vcommon",
        '%v %h %l %u %t "%r" %>s %b',
        'Apache vhost_common: %v %h %l %u %t "%r" %>s %b',
        (
            'www.example.com 1.2.3.4 - theuser [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" '
            "301 368",
        ),
        allow_extras=True,
        aliases=("VCOMMON",),
    ),
    apache(
        "common",
        '%h %l %u %t "%r" %>s %b',
        'Common Log Format (CLF): %h %l %u %t "%r" %>s %b',
        (
            '1.2.3.4 - theuser [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 301 368',
            'localhost - - [22/Mar/2009:09:30:31 +0100] "POST /example.net HTTP/2" 100 3441',
        ),
        allow_extras=True,
        aliases=("COMMON",),
    ),
    # nginx behind a load balancer, X-Forwarded-For first (as Filebeat's nginx module reads
    # it): the field quoted, or written bare, a list with spaces inside. The client is
    # $remote_addr; --client-from xff takes it from the list.
    *(
        layout_from_pieces(
            [
                replace(p, kind="list") if p.role == "xff" and name.endswith("bare") else p
                for p in nginx_pieces(fmt)
            ],
            fmt,
            name,
            title,
            samples=samples,
            allow_extras=True,
            family="nginx",
        )
        for name, fmt, title, samples in (
            (
                "nginx-xff",
                _XFF_FIRST.format(xff='"$http_x_forwarded_for"'),
                'nginx with "$http_x_forwarded_for" first: "$http_x_forwarded_for" '
                "$remote_addr - $remote_user [$time_local] ...",
                (
                    '"198.51.100.23, 203.0.113.60" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] '
                    '"GET /assets/app.css?v=100 HTTP/1.1" 200 25507 "-" "Amazon CloudFront"',
                    '"-" 10.2.1.185 - - [22/Jan/2016:13:18:30 +0000] "GET / HTTP/1.1" 200 612 '
                    '"-" "curl/8.0"',
                ),
            ),
            (
                "nginx-xff-bare",
                _XFF_FIRST.format(xff="$http_x_forwarded_for"),
                "nginx with $http_x_forwarded_for first, unquoted: addresses, a list with "
                "spaces inside",
                (
                    "2001:db8:10ff::8000, 198.51.100.17 10.2.2.121 - - "
                    '[30/Dec/2016:06:47:09 +0000] "GET /test.html HTTP/1.1" 404 8571 "-" '
                    '"Mozilla/5.0 (compatible; Facebot 1.0)"',
                ),
            ),
        )
    ),
)
