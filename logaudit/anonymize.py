"""``--anonymize``: client addresses and user names out of every finished output.

Applied to a finished ``Report`` (``report``) and to each block of ``records`` (``frame``),
i.e. after visitor keys, GeoIP and visits were computed from the real addresses (so no figure
changes) and before anything is rendered, exported or mailed.

- ``mask`` zeroes the last ``mask_bytes`` bytes of an IPv4 address (1 by default, as Google
  Analytics and Matomo) and keeps the first 48, 32 or 24 bits of an IPv6 one (zeroes the last
  80 by default). A client logged as a host name keeps its last two labels (``*.example.net``).
  User names become ``***``. Two clients of one /24 then show as two rows with the same label.
- ``hash`` replaces an address (or user name) with ``anon-`` and 16 hex digits of
  HMAC-SHA256 under a secret kept owner-only in the state folder (``state.secret``): one
  visitor stays one recognisable row across reports without revealing its address.

Where: the columns named in ``ADDRESS_COLUMNS`` and ``USER_COLUMNS`` are replaced value by
value; every other string in the report (titles, notes, headline, other cells, warnings,
bad-line examples, settings) has any IP literal in it replaced the same way, so an address
quoted in a note or a raw bad line does not escape. User names in free text (a raw bad line)
are not recognisable and are not masked there.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from logaudit.errors import ConfigError
from logaudit.report import Report, Section
from logaudit.schema import is_client_token

MODES: dict[str, str] = {
    "mask": "zero the last byte(s) of IPv4, the last 80 bits of IPv6; user names as ***",
    "hash": "a keyed hash (HMAC, secret in the state folder): one visitor stays one row",
}
ADDRESS_COLUMNS = frozenset({"client", "ip"})
# Columns listing clients with their counts, "a (12), b (3)" (failing-urls): each one replaced.
CLIENT_LIST_COLUMNS = frozenset({"clients"})
USER_COLUMNS = frozenset({"user"})
# IPv6 bits kept for --mask-bytes 1, 2, 3 (IPv4 zeroes that many bytes).
V6_KEPT = {1: 48, 2: 32, 3: 24}

_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)(?![\w])"
# An IPv6 candidate: hex digits and colons (two colons at least), an IPv4 tail after a colon
# (``::ffff:198.51.100.9``); a ":" may follow ("2001:db8::1: 12 probes"). Each candidate is
# checked by ``ipaddress`` (``_literal``): times such as 12:30:45 are not addresses.
_IPV6 = (
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?!\w|\.\d)"
)
IP_LITERAL = re.compile(f"{_IPV6}|{_IPV4}")
# RE2 patterns matching every text in which IP_LITERAL (LITERAL_HINT) or _AGENT_LITERAL
# (AGENT_LITERAL_HINT) may find an address (more, never fewer): four dotted numbers, "::", or
# six hex groups with their colons (an IPv6 address without "::" has seven); in an agent, no
# dotted numbers right after "word/" (Chrome/131.0.0.0). A time (12:30:45) is not a hint.
# ``scrub`` runs them over lines and distinct values so that only those go through
# ``text``/``agent`` in Python.
V4_HINT = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d"
V6_HINT = r"::|(?:[0-9A-Fa-f]{1,4}:){6}[0-9A-Fa-f]"
LITERAL_HINT = rf"{V4_HINT}|{V6_HINT}"
AGENT_LITERAL_HINT = rf"(?:^|[^\w./]|(?:^|\W)/){V4_HINT}|{V6_HINT}"
# A user agent's product versions ("Chrome/120.0.0.0") are not addresses: in an agent column a
# literal right after "word/" is left (one after "http://" is still an address).
AGENT_COLUMNS = frozenset({"agent", "user_agent"})
_AGENT_LITERAL = re.compile(f"(?<!\\w/)(?:{_IPV6})|(?<!\\w/)(?:{_IPV4})")
_COUNTED = re.compile(r"(\S+)( \(\d[\d,]*\))")
# The user field of a CLF-family line (vhost first or not), before the bracketed time.
_CLF_USER = re.compile(r"((?:^|: )(?:\S+ )?\S+ \S+ )(\S+)(?= \[)")


def check_mode(value: Any) -> str:
    """The config/env value: "mask", "hash", or "" / "off" / false for none."""
    if value is False or value is None:
        return ""
    if value is True:
        return "mask"
    text = str(value).strip().lower()
    if text in ("", "off", "no", "none", "false", "0"):
        return ""
    if text in ("yes", "true", "1", "on"):
        return "mask"
    if text not in MODES:
        raise ValueError(text)
    return text


def check_mask_bytes(value: Any) -> int:
    n = int(value)
    if n not in V6_KEPT:
        raise ValueError(n)
    return n


class Anonymizer:
    """One run's replacement of addresses and user names; each distinct value is computed once."""

    def __init__(self, mode: str, mask_bytes: int = 1, secret: bytes | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"anonymize: {mode!r} is not one of {', '.join(MODES)}")
        if mask_bytes not in V6_KEPT:
            raise ConfigError(f"mask-bytes: {mask_bytes} is not 1, 2 or 3")
        if mode == "hash" and not secret:
            raise ConfigError("anonymize = hash needs a secret")
        self.mode = mode
        self.mask_bytes = mask_bytes
        self.secret = secret or b""
        self._cache: dict[str, str] = {}
        # Visitor keys (records' visitor and visit fields) are re-keyed: they are plain
        # hashes of (client, agent), which a reader could search the address space for.
        # hash: from the secret, the same in every run; mask: random, the same within a run.
        if self.secret:
            seed = hmac.new(self.secret, b"visitor-key", hashlib.sha256).digest()[:8]
        else:
            seed = secrets.token_bytes(8)
        self.visitor_key = np.uint64(int.from_bytes(seed, "little"))

    def describe(self) -> str:
        if self.mode == "hash":
            return "client addresses and user names replaced by keyed hashes (--anonymize=hash)"
        return (
            f"client addresses masked (IPv4 last {self.mask_bytes} byte(s), IPv6 after the first "
            f"{V6_KEPT[self.mask_bytes]} bits), user names hidden (--anonymize=mask)"
        )

    def _hash(self, text: str) -> str:
        digest = hmac.new(self.secret, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return "anon-" + digest.hexdigest()[:16]

    def address(self, text: str) -> str:
        """A client as logged (an IP address or a host name) -> its anonymised form."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        out = self._address(text)
        self._cache[text] = out
        return out

    def _address(self, text: str) -> str:
        value = text.strip()
        if value in ("", "-"):
            return text
        if self.mode == "hash":
            return self._hash(value)
        if is_client_token(value):
            # A report from the history store: already a keyed hash, no address to mask;
            # "*" for every one would make distinct clients look like one.
            return text
        ip = _parse(value)
        if ip is not None:
            return self.mask_ip(ip)
        labels = [x for x in value.rstrip(".").split(".") if x]
        return "*." + ".".join(labels[-2:]) if len(labels) > 2 else "*"

    def mask_ip(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return "::ffff:" + self.mask_ip(ip.ipv4_mapped)
        if isinstance(ip, ipaddress.IPv4Address):
            kept = 32 - 8 * self.mask_bytes
            net = ipaddress.IPv4Network(f"{ip}/{kept}", strict=False)
        else:
            net6 = ipaddress.IPv6Network(f"{ip}/{V6_KEPT[self.mask_bytes]}", strict=False)
            return str(net6.network_address)
        return str(net.network_address)

    def user(self, text: str) -> str:
        if text in ("", "-"):
            return text
        return self._hash("user:" + text) if self.mode == "hash" else "***"

    def visitors(self, keys: np.ndarray) -> np.ndarray:
        """64-bit visitor keys mixed with this run's key (splitmix64's finaliser): one
        visitor stays one key, which no longer follows from its address."""
        with np.errstate(over="ignore"):
            z = keys.astype(np.uint64) ^ self.visitor_key
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))

    def visit(self, text: str) -> str:
        """A records visit label '<visitor key hex>-<n>' with its key re-keyed."""
        key, sep, n = text.partition("-")
        try:
            mixed = self.visitors(np.array([int(key, 16)], dtype=np.uint64))[0]
        except ValueError:
            return text
        return f"{int(mixed):016x}{sep}{n}"

    def text(self, text: str) -> str:
        """Free text: every IP literal in it replaced; the rest unchanged."""
        if not text or ("." not in text and ":" not in text):
            return text
        return IP_LITERAL.sub(self._literal, text)

    def agent(self, text: str) -> str:
        """A user agent: its IP literals replaced as free text's, its product versions kept."""
        if not text or ("." not in text and ":" not in text):
            return text
        return _AGENT_LITERAL.sub(self._literal, text)

    def raw_line(self, text: str) -> str:
        """A raw log line quoted in a bad-line example: IP literals, and the user field of the
        CLF family (``client ident user [time]``), anonymised."""
        return _CLF_USER.sub(lambda m: m.group(1) + self.user(m.group(2)), self.text(text))

    def _literal(self, m: re.Match[str]) -> str:
        found = m.group(0)
        if _parse(found) is not None:
            return self.address(found)
        # "2001:db8::1:" before the text that follows: the address without its last colon.
        if found.endswith(":") and not found.endswith("::") and _parse(found[:-1]) is not None:
            return self.address(found[:-1]) + ":"
        return found

    # ---- tables ---------------------------------------------------------------------------

    def column(self, values: pd.Series | pd.Index, name: str) -> pd.Series | pd.Index:
        fn = self._function_for(name)
        return _map_strings(values, fn)

    def _function_for(self, name: str) -> Callable[[str], str]:
        if name in ADDRESS_COLUMNS:
            return self.address
        if name in USER_COLUMNS:
            return self.user
        if name in CLIENT_LIST_COLUMNS:
            return self.client_list
        if name in AGENT_COLUMNS:
            return self.agent
        return self.text

    def client_list(self, text: str) -> str:
        """"a (12), b (3)": each client replaced as a client column's (a host name too, which
        free text cannot recognise); an item of another shape as free text."""
        out = []
        for item in text.split(", "):
            m = _COUNTED.fullmatch(item)
            out.append(self.address(m.group(1)) + m.group(2) if m else self.text(item))
        return ", ".join(out)

    def table(self, rows: pd.DataFrame) -> pd.DataFrame:
        if rows.empty and not len(rows.columns):
            return rows
        out = rows.copy()
        for col in out.columns:
            if _is_text(out[col]):
                out[col] = self.column(out[col], str(col))
        if isinstance(out.index, pd.MultiIndex):
            # Level by level as arrays: masking may make two level values one.
            arrays: list[Any] = []
            for i, n in enumerate(out.index.names):
                lvl = out.index.get_level_values(i)
                arrays.append(self.column(lvl, str(n)) if _is_text_index(lvl) else lvl)
            out.index = pd.MultiIndex.from_arrays(arrays, names=out.index.names)
        elif _is_text_index(out.index):
            out.index = self.column(out.index, str(out.index.name))
        return out

    def any(self, value: Any, key: str = "") -> Any:
        """A JSON-like value (dicts, lists, strings, numbers): strings anonymised."""
        if isinstance(value, str):
            return self._function_for(key)(value)
        if isinstance(value, dict):
            return {k: self.any(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.any(v, key) for v in value]
        if isinstance(value, tuple):
            return tuple(self.any(v, key) for v in value)
        return value


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None


def _is_text(s: pd.Series) -> bool:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return _is_text_index(s.cat.categories)
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def _is_text_index(idx: pd.Index) -> bool:
    return idx.dtype == object or pd.api.types.is_string_dtype(idx.dtype)


def _map_strings(values: pd.Series | pd.Index, fn: Callable[[str], str]) -> Any:
    """``fn`` once per distinct string; other values (numbers in an object column, NaN) kept."""

    def one(v: Any) -> Any:
        return fn(v) if isinstance(v, str) else v

    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        cat = values.array
        new = [one(v) for v in cat.categories]
        codes, uniq = pd.factorize(pd.Index(new, dtype="str"), sort=False)
        remapped = np.where(
            np.asarray(cat.codes) >= 0, np.asarray(codes)[np.asarray(cat.codes)], -1
        )
        return pd.Series(
            pd.Categorical.from_codes(remapped, categories=pd.Index(uniq, dtype="str")),
            index=values.index,
            name=values.name,
        )
    # Each distinct value once, spread back through the codes. Only strings are replaced:
    # the other values (numbers in an object column, NaN) are the originals, so the integers
    # of a mixed column (the digest's counts beside text) stay integers (``Series.map`` made
    # them floats).
    given = np.asarray(values, dtype=object)
    codes, uniq = pd.factorize(given, use_na_sentinel=True)
    if not len(uniq):
        return values
    repl = np.empty(len(uniq), dtype=object)
    repl[:] = [one(v) for v in uniq]
    is_str = np.fromiter((isinstance(v, str) for v in uniq), bool, len(uniq))
    take = (codes >= 0) & is_str[np.maximum(codes, 0)]
    out = given.copy()
    out[take] = repl[codes[take]]
    if isinstance(values, pd.Index):
        return pd.Index(out, name=values.name, dtype=values.dtype)
    return pd.Series(out, index=values.index, name=values.name, dtype=values.dtype)


def section(s: Section, anon: Anonymizer) -> Section:
    return replace(
        s,
        title=anon.text(s.title),
        note=anon.text(s.note),
        rows=anon.table(s.rows),
        headline=anon.any(dict(s.headline)),
        sparklines={anon.text(k): v for k, v in s.sparklines.items()},
    )


def report(r: Report, anon: Anonymizer) -> Report:
    """A copy of ``r`` with every address and user name replaced, marked as anonymised."""
    return replace(
        r,
        overview=anon.any(dict(r.overview)),
        sections=[section(s, anon) for s in r.sections],
        inputs=anon.any(list(r.inputs)),
        bad_lines={
            **anon.any(dict(r.bad_lines)),
            "examples": [
                {**e, "reason": anon.raw_line(str(e.get("reason", "")))}
                for e in r.bad_lines.get("examples", [])
            ],
        } if "examples" in r.bad_lines else anon.any(dict(r.bad_lines)),
        warnings=[anon.text(w) for w in r.warnings],
        notes=[*(anon.text(n) for n in r.notes), "Anonymised: " + anon.describe()],
        settings={
            **anon.any(dict(r.settings)),
            "anonymize": anon.mode,
            **({"mask_bytes": anon.mask_bytes} if anon.mode == "mask" else {}),
        },
    )


def frame(chunk: pd.DataFrame, anon: Anonymizer) -> pd.DataFrame:
    """A records block: its address and user columns replaced, every other text column's IP
    literals (referrer, query, agent...) replaced as a report's are, its visitor keys re-keyed.
    Once per distinct value (categories)."""
    for col in chunk.columns:
        if col in ("visit", "visitor") or not _is_text(chunk[col]):
            continue
        chunk[col] = anon.column(chunk[col], str(col))
    if "visitor" in chunk.columns:
        chunk["visitor"] = anon.visitors(chunk["visitor"].to_numpy())
    if "visit" in chunk.columns:
        chunk["visit"] = _map_strings(chunk["visit"], anon.visit)
    return chunk


def client_namer(settings: Any) -> Callable[[str], str]:
    """How a sentence names a client (a finding, a title): as logged, or under --anonymize as
    the client columns show it. Masking the value where the sentence is made also covers host
    names, which no search of the finished text recognises."""
    anon = of_settings(settings)
    return str if anon is None else anon.address


def of_settings(settings: Any) -> Anonymizer | None:
    """The run's Anonymizer, or None without --anonymize / ``anonymize`` in the config."""
    mode = getattr(settings, "anonymize", "") or ""
    if not mode:
        return None
    secret = None
    if mode == "hash":
        from logaudit.state import secret as load_secret

        secret = load_secret(getattr(settings, "secret_file", None))
    return Anonymizer(mode, int(getattr(settings, "mask_bytes", 1) or 1), secret)
