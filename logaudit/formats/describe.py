"""When no format fits: say what the lines look like, and which format string would read them.

The guess reads one sample line token by token (an address, a [time], a quoted request, a
status, a size, quoted referrer and agent, durations...) and writes it as an nginx
``log_format`` string; it is offered only if that string, made into a layout, reads most of the
sampled lines. Used on a few sampled lines, never on the hot path.
"""

from __future__ import annotations

import re

_IP = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*(:\d+)?$")
_REQUEST = re.compile(r"^([A-Z]+ \S+( [A-Z]+/[0-9.]+)?|-|)$")
_TIME1 = re.compile(r"^\[\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_FLOAT = re.compile(r"^\d+\.\d+$")


def looks_like(lines: list[str]) -> str:
    """A short description of the sampled lines."""
    if not lines:
        return "no log lines"
    first = lines[0]
    shown = first if len(first) <= 100 else first[:100] + "..."
    if first.lstrip().startswith("{"):
        return f"JSON lines, such as {shown!r}"
    return f"lines such as {shown!r}"


def guess(line: str) -> str | None:
    """An nginx log_format string that would read ``line``, or None."""
    from logaudit.formats import tokenize

    tokens = tokenize(line)
    if len(tokens) < 3:
        return None
    raw = _raw_tokens(line, len(tokens))
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    unknown = 0

    def put(var: str, quoted: bool) -> None:
        out.append(f'"{var}"' if quoted else var)
        seen.add(var)

    while i < len(tokens):
        tok, quoted = tokens[i], raw[i].startswith('"')
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _TIME1.match(tok) and nxt.endswith("]") and "$time_local" not in seen:
            out.append("[$time_local]")
            seen.add("$time_local")
            i += 2
            continue
        if _ISO.match(tok) and "$time_local" not in seen and "$time_iso8601" not in seen:
            put("$time_iso8601", quoted)
        elif (
            quoted
            and _REQUEST.match(tok)
            and "$request" not in seen
            and seen
            & {
                "$time_local",
                "$time_iso8601",
            }
        ):
            put("$request", True)
        elif (
            "$request" in seen
            and "$status" not in seen
            and tok.isdigit()
            and len(tok) == 3
            and not quoted
        ):
            put("$status", False)
        elif "$status" in seen and "$body_bytes_sent" not in seen and (tok.isdigit() or tok == "-"):
            put("$body_bytes_sent", False)
        elif quoted and "$body_bytes_sent" in seen and "$http_referer" not in seen:
            put("$http_referer", True)
        elif quoted and "$http_referer" in seen and "$http_user_agent" not in seen:
            put("$http_user_agent", True)
        elif _IP.match(tok) and "$remote_addr" not in seen and "$request" not in seen:
            put("$remote_addr", quoted)
        elif (
            _HOST.match(tok)
            and not out
            and i + 1 < len(tokens)
            and _IP.match(tokens[i + 1])
            and "$host" not in seen
        ):
            put("$host", quoted)
        elif tok == "-" and "$remote_addr" in seen and "$time_local" not in seen:
            put("$remote_user" if "-" in out else "-", False)
        elif _FLOAT.match(tok) and "$status" in seen and "$request_time" not in seen:
            put("$request_time", quoted)
        else:
            unknown += 1
            put(f"$field{unknown}", quoted)
        i += 1
    if "$request" not in seen or "$status" not in seen:
        return None
    return "nginx:" + " ".join(out)


def _raw_tokens(line: str, n: int) -> list[str]:
    """The tokens as written (quotes kept), to tell quoted fields from bare ones."""
    out = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', line)
    return (
        out if len(out) == n else ['"' if '"' in t else t for t in out][:n] + [""] * (n - len(out))
    )


def suggestion(lines: list[str]) -> str | None:
    """A format string that reads most of ``lines``, or None."""
    from logaudit.errors import LogauditError
    from logaudit.formats.spec import from_string

    for line in lines[:5]:
        spec = guess(line)
        if spec is None:
            continue
        try:
            layout = from_string(spec)
        except LogauditError:
            continue
        pattern = re.compile(layout.detect_regex())
        if sum(1 for x in lines if pattern.match(x)) * 2 > len(lines):
            return spec
    return None
