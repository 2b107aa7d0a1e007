"""Format strings -> layouts: an Apache ``LogFormat`` or an nginx ``log_format``, read as the
server was told to write its lines.

A *layout* is data: the line as a sequence of tokens separated by one delimiter (a space for the
usual formats), each token a quoted or bare run of *pieces* (a literal, or a field with a role:
``client``, ``status``, a time component...). A layout whose tokens are cut by one delimiter is
read by Arrow's CSV reader (the fast path); every layout also has an RE2 pattern capturing the
same tokens, used on the lines the CSV reader rejects and for layouts no delimiter cuts. Tokens
made of several pieces (``[$time_local``, ``%v:%p``, ``rt=$request_time``) are split once per
distinct value, never once per line.

Cookies (Apache ``%{NAME}C``, nginx ``$cookie_NAME``) are ``cookie`` pieces whose kind is the
cookie's name; each distinct name fills a record column ``cookie_<NAME>`` (schema.py).
Directives and variables logaudit does not know are kept as ``extra`` pieces (read, not used);
a format logaudit cannot place (two times, no time, no request) is a ``ConfigError`` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from logaudit.errors import ConfigError


def cookie_column(name: str) -> str:
    """``schema.cookie_column``; schema (and with it pandas) is imported only for a format
    with a cookie field, so the format registry loads without the data stack (issue #18)."""
    from logaudit import schema

    return schema.cookie_column(name)


# Time components: strict RE2 patterns (used for detection and to split time tokens).
TIME_PARTS: dict[str, str] = {
    "d": r"\d{2}",
    "e": r" ?\d{1,2}",
    "m": r"\d{2}",
    "b": r"[A-Za-z]{3}",
    "Y": r"\d{4}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "Sf": r"\d{2}(?:\.\d{1,9})?",  # seconds with an optional fraction (W3C)
    "f": r"\d{1,9}",
    "z": r"Z|[+-]\d{2}:?\d{2}",
    "E": r"\d{1,12}(?:\.\d{1,9})?",  # seconds since 1970, fraction allowed
    "Ems": r"\d{1,15}",  # milliseconds since 1970
    "Eus": r"\d{1,18}",  # microseconds since 1970
    "iso": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?",
}

# What each time piece tells: a time is whole when it has a date (and usually a clock).
_TIME_CATEGORY: dict[str, tuple[str, ...]] = {
    **{k: ("date",) for k in ("d", "e", "m", "b", "Y")},
    **{k: ("clock",) for k in ("H", "M", "S", "Sf")},
    "f": ("fraction",),
    "z": ("zone",),
    "E": ("epoch",),
    "Ems": ("epoch",),
    "Eus": ("epoch",),
    "iso": ("date", "clock", "zone"),
}

_DURATION = r"\d+(?:\.\d+)?(?:[eE][+-]?\d{1,3})?"  # values._NUMBER

# Strict value patterns per role; roles not listed take anything up to the next separator.
STRICT: dict[str, str] = {
    "status": r"[1-5]\d{2}",
    "bytes": r"\d{1,18}|-",
    "port": r"\d{1,5}|-",
    # Any non-negative decimal, exponent allowed (values.durations reads each exactly).
    "response_time": _DURATION + "|-",
    "upstream_time": rf"(?:{_DURATION}|-)(?:(?: ?[,:] ?)(?:{_DURATION}|-))*",
    # A virtual host is a name, not a client address in first place: what may come before its
    # first letter (digits, dots, colons), that letter, then the rest. Written so, a long token
    # that is no host fails in linear time (as X*YX* it backtracked in its square: 80 kB, 93 s).
    "vhost": r"[0-9.:]*[A-Za-z_\-\[\]][A-Za-z0-9_.\-\[\]:]*",
}

# Roles that fill a record column (the first piece with a role wins; later ones are extras).
ROLES = (
    "client",
    "user",
    "ident",
    "time",
    "request",
    "method",
    "path",
    "query",
    "request_uri",
    "protocol",
    "status",
    "bytes",
    "referrer",
    "agent",
    "vhost",
    "port",
    "response_time",
    "upstream_time",
    "xff",
    "cookie",  # a named cookie (kind: its name): one column cookie_<name> per distinct name
    "extra",
)


@dataclass(frozen=True)
class Piece:
    """One directive of a format string (a field, or literal text)."""

    role: str  # one of ROLES, or "literal"
    text: str  # the directive as written, or the literal text
    kind: str = ""  # time component (TIME_PARTS key), response unit (us ms s), query "?" form

    @property
    def literal(self) -> bool:
        return self.role == "literal"

    def strict(self) -> str:
        if self.role == "time":
            return TIME_PARTS[self.kind]
        return STRICT.get(self.role, "")


@dataclass(frozen=True)
class Token:
    """What one delimiter-separated token of a line holds: its pieces."""

    name: str
    pieces: tuple[Piece, ...]
    quoted: bool = False

    @property
    def fields(self) -> tuple[Piece, ...]:
        return tuple(p for p in self.pieces if not p.literal)

    @property
    def single(self) -> Piece | None:
        """The token's one field when it has no literal around it."""
        return self.pieces[0] if len(self.pieces) == 1 and not self.pieces[0].literal else None

    def split_regex(self) -> str:
        """RE2 pattern splitting one value of this token into its fields (groups p0, p1...)."""
        out = []
        fields = 0
        for i, p in enumerate(self.pieces):
            if p.literal:
                out.append(re.escape(p.text))
                continue
            last = i == len(self.pieces) - 1
            if p.role in ("time", "port"):
                inner = p.strict()
            elif p.kind == "?":
                inner = r"(?:\?.*?)?" if not last else r"(?:\?.*)?"
            elif p.role == "path":
                inner = r"[^?]*"
            elif p.role == "client" and not last and _port_after(self.pieces[i + 1]):
                # addr:port (%h:%{remote}p, $remote_addr:$remote_port): see _ADDRESS.
                inner = ".*"
            else:
                inner = ".*" if last else ".*?"
            out.append(f"(?P<p{fields}>{inner})")
            fields += 1
        if _client_port(self.pieces):
            # "[2001:db8::1]" with no ":port" (tried first: the other branch cut it at its
            # last colon): the address as written, in group p0_, which parse joins to p0.
            return rf"^(?:(?P<p0_>{BRACKETED})|{''.join(out)})$"
        return "^" + "".join(out) + "$"


@dataclass(frozen=True)
class Layout:
    """A log format: how a line splits into tokens, and what each holds."""

    name: str
    title: str
    source: str  # the format string it was made from
    tokens: tuple[Token, ...]
    # Text before the first token, between tokens (one per gap) and after the last one.
    separators: tuple[str, ...]
    delimiter: str | None  # the CSV reader's delimiter, None: RE2 only
    samples: tuple[str, ...] = ()
    # Trailing tokens after the layout (nginx "$http_x_forwarded_for" after combined) are
    # allowed and ignored; their count is detected per input.
    allow_extras: bool = False
    # The zone of times written without one: None means --tz, else the machine's zone.
    naive_zone: str | None = None
    family: str = "clf"
    aliases: tuple[str, ...] = field(default=())
    # W3C: fields may be quoted ("..." with "" for a quote) and separated by runs of blanks.
    loose: bool = False
    # JSON families with their own keys: the key path of each token (formats/jsonlog.py).
    keys: tuple[str, ...] = ()
    # The request holds the absolute URL (load balancers): path and virtual host come from it.
    absolute_urls: bool = False
    # A CSV header line starts with this (Google Cloud Storage's '"time_micros",'): such lines
    # are skipped as comments are, not bad lines. "" when the format has none.
    header: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        """The roles this layout fills (a record column is "" or NaN where it has none)."""
        seen: list[str] = []
        for t in self.tokens:
            for p in t.fields:
                if p.role not in seen:
                    seen.append(p.role)
        return tuple(seen)

    @property
    def width(self) -> int:
        return len(self.tokens)

    def has_zone(self) -> bool:
        """Whether every time is written with its zone (or as seconds since 1970)."""
        return any(p.kind in ("z", "E", "Ems", "Eus") for t in self.tokens for p in t.fields)

    def columns(self, extras: int) -> list[str]:
        return [t.name for t in self.tokens] + [f"extra{i}" for i in range(extras)]

    def token_regex(
        self, t: Token, strict: bool, last: bool = False, group: str | None = None
    ) -> str:
        """One token's pattern, captured in group ``group`` (default: the token's name).
        ``last``: the token ends the line (the line's end follows it), so its free text
        is matched lazily: the end's ``\\r?`` then takes a CRLF line's CR, whichever path
        (the CSV reader's rescued rows, cut without it, or the block's raw lines) read it."""
        name = group or t.name
        if self.loose:
            inner = ""
            if strict:
                inner = "".join(
                    re.escape(p.text) if p.literal else f"(?:{p.strict() or _anything(' ')})"
                    for p in t.pieces
                )
                if all(p.literal or p.strict() == "" for p in t.pieces):
                    inner = ""
            if inner:
                return f'(?P<{name}>"?{inner}"?)'
            lazy = "?" if last else ""
            return f'(?P<{name}>"(?:[^"\n]|"")*"|[^ \t"\n]*{lazy})'
        if t.quoted:
            if strict and t.single is not None and t.single.strict():
                return f'"(?P<{name}>{t.single.strict()})"'
            return f'"(?P<{name}>[^"\\n]*)"'
        stop = self.delimiter or ""
        if self.delimiter is None:
            # One field per token: up to the next separator's first character.
            i = self.tokens.index(t)
            nxt = self.separators[i + 1][:1]
            stop = nxt
            if t.single is not None and t.single.role == "client" and nxt == ":":
                # addr:port (AWS ALB/ELB, HAProxy: %h:%^): see _ADDRESS. The last branch is
                # the old read (up to the first colon), so a line it took is never turned away.
                return rf"(?P<{name}>{_ADDRESS}|[^:\n]*)"
            if self.family == "json" and not t.fields[0].strict():
                # A JSON value: escapes (\" \\ \uXXXX) may hold the closing character.
                stop_class = re.escape(stop) if stop else ""
                return rf"(?P<{name}>(?:[^{stop_class}\\\n]|\\.)*)"
        single = t.single
        if single is not None and single.kind == "spaces":
            return f"(?P<{name}> *)"  # GoAccess's %~
        if single is not None and single.role == "user" and stop == " ":
            # Apache logs %u unescaped, so a user name may hold spaces ("John Begood"). Its
            # further words may not start with "[", "-" or a digit, so that a line of another
            # layout stays a bad line.
            # A lone "-" (no user) is never the first of several words: "- bob [" is not a
            # user, it is an X-Forwarded-For-first line (nginx-xff).
            return rf"(?P<{name}>-|(?:[^\s-]\S*|-\S+)(?: [^ \[\-0-9]\S*)*?)"
        if single is not None and single.role == "xff" and stop == " ":
            # An unquoted $http_x_forwarded_for: "203.0.113.7, 10.0.0.1", spaces inside; each
            # address without a comma, so that the list cannot swallow the next field. Kind
            # "list" (the nginx-xff-bare family): addresses only (IPv4, IPv6, "unknown"), or
            # a vcombined line ("host client - user") would read as one.
            item = r"(?:[0-9A-Fa-f:.\[\]]+|unknown)" if single.kind == "list" else r'[^\s,"]+'
            return rf"(?P<{name}>{item}(?:, ?{item})*)"
        if single is not None and single.role == "upstream_time":
            # nginx writes "0.100, 0.010" when a request tried two upstreams: spaces inside.
            return f"(?P<{name}>{STRICT['upstream_time']})"
        timed = any(p.role == "time" for p in t.fields)
        if strict and single is not None and single.role == "client" and stop == " ":
            # Never a quoted field: '"203.0.113.5, 10.0.0.1" 10.0.0.9 ...' is nginx-xff.
            return rf'(?P<{name}>[^\s"]\S*(?:, \S+)*)'
        if strict or (timed and self.delimiter is None):
            parts = []
            for j, p in enumerate(t.pieces):
                if p.literal:
                    parts.append(re.escape(p.text))
                else:
                    s = p.strict()
                    end = last and j == len(t.pieces) - 1
                    parts.append(f"(?:{s})" if s else _anything(stop, lazy=end))
            return f"(?P<{name}>{''.join(parts)})"
        if stop == " " and single is not None and single.role == "client":
            # nginx with $proxy_add_x_forwarded_for first: "10.0.0.2, 10.0.0.1, 127.0.0.1".
            return rf'(?P<{name}>[^\s"]\S*(?:, \S+)*)'
        if stop == " ":
            return rf"(?P<{name}>\S+)"
        return f"(?P<{name}>{_anything(stop, lazy=last)})"

    def line_regex(
        self, extras: int = 0, strict: bool = False, tail: bool = False, capture: int = 0
    ) -> str:
        """An RE2 pattern matching the lines of this layout, one named group per token
        (quoted tokens captured without their quotes). ``tail``: any trailing text, captured
        as the last group (detection counts its tokens)."""
        out = ["^", re.escape(self.separators[0])]
        ends = not extras and not tail and self.separators[-1] == ""
        port = self.bare_port()
        for i, t in enumerate(self.tokens):
            if port is not None and i == port + 1:
                continue  # in the client's alternation (below)
            sep = self.separators[i + 1]
            if i == port:
                # "[addr]" alone in group client_, which parse joins to client.
                regex = self.client_alternation(i, strict, bracket="client_")
                sep = self.separators[i + 2]
            else:
                regex = self.token_regex(t, strict, last=ends and i == len(self.tokens) - 1)
            out.append(regex)
            out.append(r"[ \t]+" if self.loose and sep in (" ", "\t") else re.escape(sep))
        # The first ``capture`` trailing fields are captured (extra0...), quotes left out.
        out.extend(
            rf' (?:"(?P<extra{i}>[^"\n]*)"|(?P<extra{i}_>[^ "\n]\S*))'
            if i < capture
            else r' (?:"[^"\n]*"|[^ "\n]\S*)'
            for i in range(extras)
        )
        if tail:
            out.append(r"(?P<tail>(?: .*)?)")
        out.append(r"\r?\n?$")
        return "".join(out)

    def client_alternation(
        self,
        i: int,
        strict: bool,
        bracket: str,
        addr: str | None = None,
        colon: str | None = None,
        port: str | None = None,
    ) -> str:
        """Client token ``i`` and its port token (``bare_port``): "[2001:db8::1]" with no
        ":port" after it, tried first (the other branch would cut it at its last colon), as
        written in group ``bracket``; else "addr:port", the address in group ``addr`` and the
        port in group ``port`` (default: the tokens' names), the colon captured in group
        ``colon`` when one is named (scrub writes it back)."""
        sep = re.escape(self.separators[i + 1])
        if colon is not None:
            sep = f"(?P<{colon}>{sep})"
        first = self.token_regex(self.tokens[i], strict, group=addr)
        after = self.token_regex(self.tokens[i + 1], strict, group=port)
        return rf"(?:(?P<{bracket}>{BRACKETED})|{first}{sep}{after})"

    def bare_port(self) -> int | None:
        """The client token's index when it is written "addr:port" as its own tokens with no
        delimiter (AWS ALB/ELB, HAProxy: ``%h:%^``), a port token after it; else None."""
        if self.delimiter is not None:
            return None
        for i, t in enumerate(self.tokens[:-1]):
            single = t.single
            if single is not None and single.role == "client" and self.separators[i + 1] == ":":
                nxt = self.tokens[i + 1].single
                return i if nxt is not None and not self.tokens[i + 1].quoted else None
        return None

    def detect_regex(self) -> str:
        # Built once per layout: detection runs on every input (20,000 files: 3 s of building).
        found = self.__dict__.get("_detect_regex")
        if found is None:
            found = self.line_regex(strict=True, tail=self.allow_extras)
            object.__setattr__(self, "_detect_regex", found)
        return str(found)


def _client_port(pieces: tuple[Piece, ...]) -> bool:
    """Whether a token is a client and its port, ``addr:port`` (%h:%{remote}p,
    $remote_addr:$remote_port, GoAccess's %h:%^), in one token of a delimited layout."""
    return (
        len(pieces) == 3
        and not pieces[0].literal
        and pieces[0].role == "client"
        and pieces[1].literal
        and pieces[1].text == ":"
        and not pieces[2].literal
    )


# An IPv6 address in brackets, "[2001:db8::1]": hex digits, colons and dots (an IPv4 tail),
# never any bracketed text ("[-]", "[25/Sep/2018:06:05:27]": another layout's field).
BRACKETED = r"\[[0-9A-Fa-f:.]+\]"


def _port_after(p: Piece) -> bool:
    """Whether ``p``, after a client, is the ":" before its port."""
    return p.literal and p.text.startswith(":")


# A client address before ":port" (AWS ALB/ELB and HAProxy write IPv6 without brackets): the
# port follows the LAST colon, so the address is matched greedily, colons and all, up to the
# last colon the rest of the line allows ("[2001:db8::7]" for "[2001:db8::7]:55008"). The
# brackets stay in the value as logged (scrub writes it back byte for byte); the client column
# is read without them (parse._unbracketed).
_ADDRESS = r"\S*"


def _anything(stop: str, lazy: bool = False) -> str:
    """Free text up to ``stop``; ``lazy`` for the line's last field (see ``token_regex``)."""
    q = "*?" if lazy else "*"
    if not stop:
        return rf"[^\n]{q}"
    return f"[^{re.escape(stop)}\\n]{q}"


# ---- Apache mod_log_config -------------------------------------------------------------------

# strftime conversions -> time pieces (literal text between them stays literal).
_STRFTIME: dict[str, list[str]] = {
    "d": ["d"],
    "e": ["e"],
    "m": ["m"],
    "b": ["b"],
    "h": ["b"],
    "Y": ["Y"],
    "H": ["H"],
    "M": ["M"],
    "S": ["S"],
    "z": ["z"],
    "s": ["E"],
    "T": ["H", ":", "M", ":", "S"],
    "F": ["Y", "-", "m", "-", "d"],
    "R": ["H", ":", "M"],
}
_CLF_TIME = "%d/%b/%Y:%H:%M:%S %z"


def strftime_pieces(fmt: str, directive: str) -> list[Piece]:
    out: list[Piece] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%" or i + 1 == len(fmt):
            out.append(Piece("literal", c))
            i += 1
            continue
        conv = fmt[i + 1]
        i += 2
        if conv == "%":
            out.append(Piece("literal", "%"))
        elif conv == "f":  # GoAccess/Python: microseconds
            out.append(Piece("time", directive, "f"))
        elif conv in _STRFTIME:
            for k in _STRFTIME[conv]:
                out.append(Piece("time", directive, k) if k in TIME_PARTS else Piece("literal", k))
        else:
            raise ConfigError(
                f"{directive}: strftime conversion %{conv} cannot be read back into a time "
                "(logaudit reads %d %e %m %b %h %Y %H %M %S %T %F %R %z %s)"
            )
    return out


_APACHE_SIMPLE: dict[str, tuple[str, str]] = {
    "h": ("client", ""),
    "a": ("client", ""),
    "A": ("extra", ""),
    "l": ("ident", ""),
    "u": ("user", ""),
    "r": ("request", ""),
    "m": ("method", ""),
    "U": ("path", ""),
    "q": ("query", "?"),
    "H": ("protocol", ""),
    "s": ("status", ""),
    "b": ("bytes", ""),
    "B": ("bytes", ""),
    "O": ("bytes", ""),
    "I": ("extra", ""),
    "S": ("extra", ""),
    "D": ("response_time", "us"),
    "T": ("response_time", "s"),
    "v": ("vhost", ""),
    "V": ("vhost", ""),
    "p": ("port", ""),
    "P": ("extra", ""),
    "X": ("extra", ""),
    "k": ("extra", ""),
    "L": ("extra", ""),
    "R": ("extra", ""),
    "f": ("extra", ""),
}
_HEADERS_IN = {
    "referer": "referrer",
    "referrer": "referrer",
    "user-agent": "agent",
    "x-forwarded-for": "xff",
    "host": "vhost",
}
_APACHE = re.compile(r"%(?P<cond>!?\d{3}(?:,\d{3})*)?(?P<dir>[<>])?(?:\{(?P<arg>[^}]*)\})?")


def apache_pieces(fmt: str) -> list[Piece]:
    """An Apache LogFormat string -> pieces."""
    fmt = fmt.replace('\\"', '"').replace("\\t", "\t").replace("\\\\", "\\")
    out: list[Piece] = []
    i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            out.append(Piece("literal", fmt[i]))
            i += 1
            continue
        if fmt.startswith("%%", i):
            out.append(Piece("literal", "%"))
            i += 2
            continue
        m = _APACHE.match(fmt, i)
        assert m is not None  # every part of the pattern is optional
        j = m.end()
        if j >= len(fmt):
            raise ConfigError(f"LogFormat: {fmt[i:]!r} ends before its directive letter")
        letter = fmt[j]
        if letter == "^" and fmt[j + 1 : j + 3] in ("ti", "to"):
            letter, j = fmt[j : j + 3], j + 2
        written = fmt[i : j + 1]
        arg = m.group("arg")
        i = j + 1
        out.extend(_apache_directive(letter, arg, written))
    return out


def _apache_directive(letter: str, arg: str | None, written: str) -> list[Piece]:
    if letter == "t":
        if not arg:
            clf = strftime_pieces(_CLF_TIME, written)
            return [Piece("literal", "["), *clf, Piece("literal", "]")]
        spec = arg
        for prefix in ("begin:", "end:"):
            if spec.startswith(prefix):
                spec = spec[len(prefix) :]
        units = {"sec": "E", "msec": "Ems", "usec": "Eus"}
        if spec in units:
            return [Piece("time", written, units[spec])]
        if spec in ("msec_frac", "usec_frac"):
            # The digits after the point, zero-padded (3 or 6): the time's fraction.
            return [Piece("time", written, "f")]
        return strftime_pieces(spec, written)
    if letter == "T" and arg:
        unit = {"ms": "ms", "us": "us", "s": "s"}.get(arg)
        if unit is None:
            raise ConfigError(f"{written}: unknown unit {arg!r} (ms, us or s)")
        return [Piece("response_time", written, unit)]
    if letter == "T":
        return [Piece("response_time", written, "s")]
    if letter == "i" and arg is not None:
        return [Piece(_HEADERS_IN.get(arg.lower(), "extra"), written)]
    if letter == "C" and arg:
        return [Piece("cookie", written, arg)]
    if letter in ("o", "e", "n", "C", "x", "^ti", "^to") and arg is not None:
        return [Piece("extra", written)]
    if letter == "a" and arg == "c":
        return [Piece("extra", written)]  # the peer address under mod_remoteip
    if letter == "p" and arg:
        return [Piece("extra" if arg == "remote" else "port", written)]
    if letter in _APACHE_SIMPLE:
        role, kind = _APACHE_SIMPLE[letter]
        return [Piece(role, written, kind)]
    # A directive this version of Apache may know and logaudit does not: kept as an extra.
    return [Piece("extra", written)]


# ---- nginx log_format ------------------------------------------------------------------------

_NGINX_VARS: dict[str, tuple[str, str]] = {
    "remote_addr": ("client", ""),
    "realip_remote_addr": ("extra", ""),
    "remote_user": ("user", ""),
    "request": ("request", ""),
    "request_method": ("method", ""),
    "uri": ("path", ""),
    "document_uri": ("path", ""),
    "request_uri": ("request_uri", ""),
    "args": ("query", ""),
    "query_string": ("query", ""),
    "server_protocol": ("protocol", ""),
    "status": ("status", ""),
    "body_bytes_sent": ("bytes", ""),
    "bytes_sent": ("bytes", ""),
    "request_time": ("response_time", "s"),
    "upstream_response_time": ("upstream_time", "list"),
    "http_referer": ("referrer", ""),
    "http_user_agent": ("agent", ""),
    "http_x_forwarded_for": ("xff", ""),
    "host": ("vhost", ""),
    "server_name": ("vhost", ""),
    "http_host": ("vhost", ""),
    "server_port": ("port", ""),
}
_NGINX = re.compile(r"\$(?:\{(?P<b>[A-Za-z0-9_]+)\}|(?P<n>[A-Za-z0-9_]+))")


def nginx_pieces(fmt: str) -> list[Piece]:
    out: list[Piece] = []
    i = 0
    while i < len(fmt):
        m = _NGINX.match(fmt, i)
        if m is None:
            out.append(Piece("literal", fmt[i]))
            i += 1
            continue
        name = m.group("b") or m.group("n")
        written = m.group(0)
        i = m.end()
        if name == "time_local":
            out.extend(strftime_pieces(_CLF_TIME, written))
        elif name == "time_iso8601":
            out.append(Piece("time", written, "iso"))
        elif name == "msec":
            out.append(Piece("time", written, "E"))
        elif name == "is_args":
            out.append(Piece("extra", written))
        elif name in _NGINX_VARS:
            role, kind = _NGINX_VARS[name]
            out.append(Piece(role, written, kind))
        elif name.startswith("cookie_") and len(name) > len("cookie_"):
            out.append(Piece("cookie", written, name[len("cookie_") :]))
        else:
            # $upstream_*, $http_*, $arg_*, $sent_http_*, $ssl_*...: kept, not used.
            out.append(Piece("extra", written))
    return out


def unquote_nginx(text: str) -> str:
    """An nginx ``log_format`` body as pasted from the config (``'...' '...';`` pieces, one
    after another) -> the format it makes; any other text is returned as it is."""
    s = text.strip().rstrip(";").strip()
    if not s.startswith(("'", '"')):
        return text
    parts = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(\S+)", s)
    if any(p[2] for p in parts):
        return text
    return "".join(a or b for a, b, _ in parts).replace('\\"', '"').replace("\\'", "'")


# ---- pieces -> layout ------------------------------------------------------------------------


def _merge_literals(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for p in pieces:
        if p.literal and out and out[-1].literal:
            out[-1] = Piece("literal", out[-1].text + p.text)
        else:
            out.append(p)
    return out


def _token_name(pieces: list[Piece], used: set[str], n: int) -> str:
    kinds = "".join(p.kind if not p.literal else p.text for p in pieces)
    if kinds == "[d/b/Y:H:M:S":
        name = "t1"
    elif kinds == "z]":
        name = "t2"
    elif len(pieces) == 1 and not pieces[0].literal and pieces[0].role not in ("time", "extra"):
        name = pieces[0].role
    else:
        name = f"tok{n}"
    if name in used:
        name = f"tok{n}"
    used.add(name)
    return name


def _tokens_by(pieces: list[Piece], delim: str) -> tuple[list[Token], list[str]] | None:
    """Cut pieces into tokens at ``delim`` (outside quotes); None if the layout cannot be read
    as delimited tokens (a quote inside a token, two fields' values run together...)."""
    tokens: list[tuple[list[Piece], bool]] = []
    cur: list[Piece] = []
    quoted = False
    in_quote = False
    closed = False
    lead = ""
    trail = ""
    started = False

    def flush() -> bool:
        nonlocal cur, quoted, closed
        if in_quote:
            return False
        if not cur and not quoted:
            return False
        tokens.append((_merge_literals(cur), quoted))
        cur, quoted, closed = [], False, False
        return True

    for p in pieces:
        if not p.literal:
            if closed:
                return None
            cur.append(p)
            started = True
            continue
        for ch in p.text:
            if in_quote:
                if ch == '"':
                    in_quote, closed = False, True
                else:
                    cur.append(Piece("literal", ch))
                continue
            if ch == delim:
                if not started:
                    return None
                if not flush():
                    return None
                continue
            if ch == '"':
                if cur or closed:
                    return None
                in_quote = quoted = started = True
                continue
            if closed:
                return None
            cur.append(Piece("literal", ch))
            started = True
    if in_quote:
        return None
    if cur or quoted:
        tokens.append((_merge_literals(cur), quoted))
    out: list[Token] = []
    used: set[str] = set()
    for n, (ps, q) in enumerate(tokens):
        # Two fields run together inside a bare token cannot be told apart.
        fields_at = [i for i, x in enumerate(ps) if not x.literal]
        timed = [ps[i].role == "time" for i in fields_at]
        if any(timed) and not all(timed):
            return None  # a time and another field in one token: the delimiter is wrong
        if not q and len(fields_at) > 2 and not all(timed):
            return None
        for a, b in zip(fields_at, fields_at[1:], strict=False):
            # Apache's %U%q is the one pair told apart without a separator: %q starts with "?".
            if b == a + 1 and not (ps[a].role == "time" and ps[b].role == "time"):
                if ps[b].kind != "?":
                    return None
        out.append(Token(_token_name(ps, used, n), tuple(ps), q))
    if not any(t.fields for t in out):
        return None
    return out, [lead, *([delim] * (len(out) - 1)), trail]


def _tokens_regex_only(pieces: list[Piece]) -> tuple[list[Token], list[str]]:
    merged = _merge_literals(pieces)
    tokens: list[Token] = []
    seps: list[str] = [""]
    used: set[str] = set()
    pending: list[Piece] = []  # one time's pieces, kept in one token with their literals
    for p in merged:
        if pending and (p.literal or (p.role == "time" and p.text == pending[0].text)):
            pending.append(p)
            continue
        if pending:
            # The literals after the time's last piece are a separator again.
            tail: list[Piece] = []
            while pending[-1].literal:
                tail.insert(0, pending.pop())
            tokens.append(Token(_token_name(pending, used, len(tokens)), tuple(pending)))
            seps.append("".join(x.text for x in tail))
            pending = []
        if p.literal:
            seps[-1] += p.text
        elif p.role == "time":
            pending = [p]
        else:
            tokens.append(Token(_token_name([p], used, len(tokens)), (p,)))
            seps.append("")
    if pending:
        tail = []
        while pending[-1].literal:
            tail.insert(0, pending.pop())
        tokens.append(Token(_token_name(pending, used, len(tokens)), tuple(pending)))
        seps.append("".join(x.text for x in tail))
    return tokens, seps


def _check(pieces: list[Piece], source: str) -> list[Piece]:
    """Give each role to its first piece (later ones become extras) and refuse what cannot be
    placed."""
    # A time may be written in parts (%{%Y-%m-%d}t %{%H:%M:%S}t: a date, then a clock); two
    # directives that each give the same part are two times.
    parts: dict[str, str] = {}
    for p in pieces:
        if p.role != "time":
            continue
        for part in _TIME_CATEGORY[p.kind]:
            if parts.setdefault(part, p.text) != p.text:
                raise ConfigError(
                    f"log format {source!r}: two times ({parts[part]} and {p.text}); "
                    "logaudit reads one time per line"
                )
    if not parts:
        raise ConfigError(
            f"log format {source!r}: no time (Apache %t, nginx $time_local or $time_iso8601)"
        )
    if "date" not in parts and "epoch" not in parts:
        raise ConfigError(f"log format {source!r}: the time has no date ({parts.popitem()[1]})")
    if "epoch" in parts and len(set(parts.values())) > 1:
        others = [v for v in parts.values() if v != parts["epoch"]]
        raise ConfigError(
            f"log format {source!r}: two times ({parts['epoch']} and {others[0]}); "
            "logaudit reads one time per line"
        )
    roles = {p.role for p in pieces}
    if not roles & {"request", "path", "request_uri"}:
        raise ConfigError(
            f"log format {source!r}: no request (Apache %r or %U, nginx $request or $uri)"
        )
    if "status" not in roles:
        raise ConfigError(f"log format {source!r}: no status (Apache %>s, nginx $status)")
    seen: set[str] = set()
    out = []
    for p in pieces:
        if not p.literal and p.role not in ("time", "extra"):
            # Each cookie name is its own column; the same name twice is one column.
            key = cookie_column(p.kind) if p.role == "cookie" else p.role
            if key in seen:
                p = Piece("extra", p.text, p.kind)
            seen.add(key)
        out.append(p)
    return out


def field_key(p: Piece) -> str:
    """The record column a field piece fills: its role, or ``cookie_<name>`` for a cookie."""
    return cookie_column(p.kind) if p.role == "cookie" else p.role


def layout_from_pieces(
    pieces: list[Piece], source: str, name: str, title: str = "", **kw: object
) -> Layout:
    pieces = _check(pieces, source)
    best: tuple[str, list[Token], list[str]] | None = None
    for delim in (" ", "\t", "|", ";", ",") if kw.get("family") != "json" else ():
        if not any(p.literal and delim in p.text for p in pieces):
            continue
        cut = _tokens_by(pieces, delim)
        if cut is not None and (best is None or len(cut[0]) > len(best[1])):
            best = (delim, *cut)
    if best is not None:
        delim, tokens, seps = best
        return Layout(name, title or source, source, tuple(tokens), tuple(seps), delim, **kw)  # type: ignore[arg-type]
    tokens, seps = _tokens_regex_only(pieces)
    return Layout(name, title or source, source, tuple(tokens), tuple(seps), None, **kw)  # type: ignore[arg-type]


def from_string(spec: str, name: str | None = None) -> Layout:
    """A layout from ``apache:...``, ``nginx:...``, or a bare string (``%`` means Apache,
    ``$`` nginx)."""
    text = spec
    kind = None
    for prefix in ("apache:", "nginx:", "goaccess:"):
        if text.startswith(prefix):
            kind, text = prefix[:-1], text[len(prefix) :]
    if kind == "goaccess":
        from logaudit.formats.goaccess import from_goaccess

        return from_goaccess(text, name or "custom")
    if kind is None:
        text = unquote_nginx(text)
        has_dollar = bool(_NGINX.search(text))
        has_percent = bool(re.search(r"%[<>!{0-9a-zA-Z]", text))
        if has_dollar == has_percent:
            raise ConfigError(
                f"--log-format {spec!r}: not a known format name, nor clearly an Apache (%) or "
                "nginx ($) format string; prefix it with apache: or nginx:"
            )
        kind = "nginx" if has_dollar else "apache"
    if kind == "nginx":
        text = unquote_nginx(text)
        pieces = nginx_pieces(text)
        if text.lstrip().startswith("{"):
            # A JSON template (escape=json): each line is the template with its values; the
            # values are JSON-escaped, so a quote inside one is \".
            return layout_from_pieces(pieces, spec, name or "custom", family="json")
    else:
        pieces = apache_pieces(text)
    return layout_from_pieces(pieces, spec, name or "custom", family=kind)


def apache(name: str, fmt: str, title: str, samples: tuple[str, ...], **kw: object) -> Layout:
    """A registered layout written as its Apache LogFormat string."""
    return layout_from_pieces(apache_pieces(fmt), fmt, name, title, samples=samples, **kw)
