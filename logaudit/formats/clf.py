"""The Apache/nginx family: common (CLF), combined, and their virtual-host forms.

A format here is data: the ordered fields of a line. The fast parser reads them as
space-separated, double-quoted, backslash-escaped tokens with Arrow's CSV reader; the timestamp
``[10/Oct/2000:13:55:36 -0700]`` is two tokens (``t1``, ``t2``). The same layout is also written
as one RE2 regular expression, used only on blocks that hold malformed lines, so that every bad
line is found with its exact line number without losing the good lines around it.
"""

from __future__ import annotations

from dataclasses import dataclass

# One quoted field. The parser has already rewritten Apache's \" and \\ escapes to nginx's
# \x22 and \x5C, so a quoted field never contains a quote.
_Q = r'"(?P<{}>[^"\n]*)"'
_PIECES: dict[str, str] = {
    "vhost": r"(?P<vhost>\S+)",
    "client": r"(?P<client>\S+)",
    "ident": r"(?P<ident>\S+)",
    # Apache logs %u unescaped, so a user name may hold spaces ("John Begood"). Its further
    # words may not start with "[", "-" or a digit, so that a line of another layout
    # ("example.com 1.2.3.4 - - [...]": a leading virtual host) stays a bad line.
    "user": r"(?P<user>\S+(?: [^ \[\-0-9]\S*)*?)",
    "time": r"(?P<t1>\[[^\] ]*) (?P<t2>[^\]]*\])",
    "request": _Q.format("request"),
    "status": r"(?P<status>\S+)",
    "bytes": r"(?P<bytes>\S+)",
    "referrer": _Q.format("referrer"),
    "agent": _Q.format("agent"),
}


@dataclass(frozen=True)
class ClfFormat:
    name: str
    title: str
    fields: tuple[str, ...]
    samples: tuple[str, ...]
    # Trailing fields after the layout (nginx "$http_x_forwarded_for", Apache %D, ...) are
    # allowed and ignored; their count is detected per input.
    allow_extras: bool = True

    @property
    def width(self) -> int:
        return len(self.columns(0))

    def columns(self, extras: int) -> list[str]:
        """Column names of the tokens, as the CSV reader produces them."""
        cols: list[str] = []
        for f in self.fields:
            cols.extend(("t1", "t2") if f == "time" else (f,))
        cols.extend(f"extra{i}" for i in range(extras))
        return cols

    def line_regex(self, extras: int) -> str:
        """An RE2 pattern matching exactly the lines the CSV layout accepts, one capture
        named group per column (quoted fields captured without their quotes)."""
        parts = [_PIECES[f] for f in self.fields]
        tail = "".join(r' (?:"[^"\n]*"|[^ "\n]\S*)' for _ in range(extras))
        return "^" + " ".join(parts) + tail + r"\r?\n?$"

    def detect_regex(self) -> str:
        """The layout followed by whatever trailing fields, captured as the last group."""
        parts = [_PIECES[f] for f in self.fields]
        return "^" + " ".join(parts) + r"(?P<tail>(?: .*)?)\r?$"


_COMBINED_SAMPLES = (
    '203.0.113.9 - - [22/Jan/2019:03:56:14 +0330] "GET /filter/p53?x=1 HTTP/1.1" 200 30577 '
    '"-" "Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)"',
    '2001:db8::1 - alice [10/Oct/2000:13:55:36 -0700] "POST /cart/add HTTP/2.0" 302 - '
    '"https://shop.example.com/p/1" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"',
    'crawl-66-249-66-1.googlebot.com - - [01/Mar/2024:00:00:01 +0000] "-" 400 0 "-" "-"',
    '198.51.100.7 - - [01/Mar/2024:00:00:02 +0000] "GET /q HTTP/1.1" 200 12 "-" '
    '"UA with \\"quotes\\" inside"',
)

CLF_FORMATS: tuple[ClfFormat, ...] = (
    ClfFormat(
        "vcombined",
        'Apache vhost_combined / nginx with a leading virtual host: %v:%p %h %l %u %t "%r" %>s '
        '%O "%{Referer}i" "%{User-Agent}i"',
        (
            "vhost",
            "client",
            "ident",
            "user",
            "time",
            "request",
            "status",
            "bytes",
            "referrer",
            "agent",
        ),
        (
            "shop.example.com:443 203.0.113.9 - - [22/Jan/2019:03:56:14 +0330] "
            '"GET /index.html HTTP/1.1" 200 512 "-" "curl/8.0"',
            'www.example.com 1.2.3.4 - theuser [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" '
            '301 368 "-" "Mozilla/5.0 (X11; Linux x86_64) Chrome/17.0.963.56 Safari/535.11"',
        ),
    ),
    ClfFormat(
        "combined",
        'Apache/nginx combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" '
        '(trailing fields such as nginx\'s "$http_x_forwarded_for" are allowed)',
        ("client", "ident", "user", "time", "request", "status", "bytes", "referrer", "agent"),
        _COMBINED_SAMPLES,
    ),
    ClfFormat(
        "vcommon",
        'Apache vhost_common: %v %h %l %u %t "%r" %>s %b',
        ("vhost", "client", "ident", "user", "time", "request", "status", "bytes"),
        (
            'www.example.com 1.2.3.4 - theuser [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" '
            "301 368",
        ),
    ),
    ClfFormat(
        "common",
        'Common Log Format (CLF): %h %l %u %t "%r" %>s %b',
        ("client", "ident", "user", "time", "request", "status", "bytes"),
        (
            '1.2.3.4 - theuser [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 301 368',
            'localhost - - [22/Mar/2009:09:30:31 +0100] "POST /example.net HTTP/2" 100 3441',
        ),
    ),
)
