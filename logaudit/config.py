"""Settings: one frozen object built from defaults, the TOML files, the environment and options.

Precedence, lowest first: built-in defaults, the system file ``/etc/logaudit/logaudit.toml``,
the user's config file over it, ``LOGAUDIT_*`` environment variables, command-line options.
The user's file is the first of:

1. ``--config FILE`` (must exist);
2. ``$LOGAUDIT_CONFIG`` (must exist; ``/dev/null`` means "none");
3. ``./logaudit.toml``;
4. ``$XDG_CONFIG_HOME/logaudit/logaudit.toml`` (``~/.config`` by default), then the older name
   ``config.toml`` in the same folder.

The system file is read first whichever user file there is: it is the machine's policy, and
its ``anonymize`` (and ``mask_bytes``) is a floor that a user file, a variable or an option
cannot lower (``Settings.notes`` says so when one tried). ``logaudit config`` names every file
read and where each value came from.

A config file is trusted like ssh's and sudo's: it must belong to the user running logaudit or
to root and be writable by nobody else, and ``./logaudit.toml``'s folder too (QA22 #1: another
user's file in a shared folder set ``[mail] sendmail`` to a program that ran as root); else
exit 7, one line naming the file and why (``trusted``, on the open file).

Lists that have a built-in default (``static_extensions``) *extend* it: ``static_extensions =
["php"]`` adds to the defaults. ``static_extensions.replace = [...]`` (a TOML dotted key, i.e. a
table with a ``replace`` key) replaces them. ``visit_timeout`` is minutes everywhere (a bare
number) or a string with a unit (``"30m"``, ``"1800s"``, ``"1h"``); a bare number of 300 or more
is refused, because it is almost certainly the old seconds unit. Every value keeps the place it
came from (``Settings.origins``), for ``logaudit config`` and for error messages.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from logaudit.configtrust import others_may_read, trusted
from logaudit.errors import ConfigError, ExitCode, LogauditError
from logaudit.names import SECTIONS

# METRICS.md: AWStats' NotPageList plus modern web assets.
STATIC_EXTENSIONS: tuple[str, ...] = tuple(
    "css js mjs map gif jpg jpeg png bmp ico svg webp avif tif tiff woff woff2 ttf eot otf "
    "mp3 mp4 webm ogg wav flac swf txt xml rss atom json".split()
)

BOTS_MODES: dict[str, str] = {
    "auto": "crawlers count in hits and bandwidth, not in people metrics (default)",
    "include": "crawlers count everywhere, as people too",
    "exclude": "crawlers are left out of every figure",
    "only": "only crawlers are counted, in every figure",
}

# How mail leaves: SMTP (the [mail] table / LOGAUDIT_SMTP_*) or the local MTA's sendmail.
MAIL_VIA: tuple[str, ...] = ("smtp", "sendmail")
SMTP_TLS: tuple[str, ...] = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class MailSettings:
    """The ``[mail]`` table. Secrets (``password``) come from the file or the environment,
    never from the command line (it would show in ``ps`` and shell history)."""

    smtp_host: str = "localhost"
    smtp_port: int = 0  # 0: 465 for ssl, 587 for starttls, 25 for none
    tls: str = "starttls"
    user: str | None = None
    password: str | None = None
    sender: str | None = None  # From:; default logaudit@<this host>
    to: tuple[str, ...] = ()
    via: str = "smtp"
    sendmail: str = "/usr/sbin/sendmail"
    timeout: float = 30.0  # seconds per SMTP connection attempt
    retries: int = 3  # attempts after the first, for temporary failures
    # Where a mail that could not be sent is left (an .eml file); None: the state folder.
    spool_dir: Path | None = None
    # CA bundle to check the server's certificate against (a private CA); None: the system's.
    ca_file: Path | None = None

    def port(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "starttls": 587}.get(self.tls, 25)

    def spool(self) -> Path:
        """Where a mail that could not be sent is left: ``spool_dir``, else ``unsent/`` in the
        state folder. Here, not in deliver.mail, so that ``logaudit config`` can show it
        without loading smtplib, ssl and the email package (issue #18)."""
        if self.spool_dir is not None:
            return self.spool_dir
        from logaudit.state import state_dir

        return state_dir() / "unsent"


@dataclass(frozen=True)
class Settings:
    """Every setting of a run, and where each came from (``origins``)."""

    log_format: str | None = None
    tz: str | None = None
    since: datetime | None = None  # naive wall time in the report zone
    until: datetime | None = None
    bots: str = "auto"
    top: int = 10
    sections: tuple[str, ...] = ()
    strict: bool = False
    visit_timeout: int = 30 * 60  # seconds (config and options say minutes or "30m")
    static_extensions: tuple[str, ...] = STATIC_EXTENSIONS
    site_hosts: tuple[str, ...] = ()
    geoip_dir: Path | None = None
    goals: tuple[str, ...] = ()  # conversion goals (paths), read by the campaigns report
    progress: bool | None = None  # None: on a terminal only
    jobs: int = 1  # worker processes for parsing (a file or LOGAUDIT_JOBS may say 0: 1)
    # Who computes the partials (logaudit.engine): "local" (this machine: threads, --jobs) or
    # "dask" (a Dask cluster at dask_scheduler, or a LocalCluster of dask_workers processes).
    engine: str = "local"
    dask_scheduler: str | None = None
    dask_workers: int = 0
    # Paths that are not pages (globs, or re:REGEX), added to enrich.classify.NON_PAGES.
    non_pages: tuple[str, ...] = ()
    # Sources, campaigns and conversions (analyze/campaigns.py): goal hits' order value
    # parameters, affiliate parameters (empty: enrich/data's), the attribution model and its
    # look-back window, commissions per affiliate ("10%" of revenue or "2.50" per conversion),
    # the referral cookie's name, and additions to enrich/data's source tables.
    value_params: tuple[str, ...] = ("value", "revenue", "total", "amount")
    affiliate_params: tuple[str, ...] = ()
    attribution: str = "last-non-direct"
    window: int = 30 * 86400  # seconds
    commissions: Mapping[str, str] = field(default_factory=dict)
    affiliate_cookie: str | None = None
    sources: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Logs to read when a command names none (cron: `logaudit digest` alone).
    logs: tuple[str, ...] = ()
    mail: MailSettings = field(default_factory=MailSettings)
    # Setting name ("top", "mail.smtp_host") -> where its value came from; absent: default.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    config_file: Path | None = None
    site: str | None = None  # the [sites.NAME] table chosen with --site
    # Output files' permission bits (-o, --mode): owner-only unless asked (docs/reliability.md).
    mode: int = 0o600
    # Plausible timestamps: from this day (ISO) to now + this many days; others are bad lines.
    earliest: str = "1990-01-01"
    ahead_days: int = 1
    # Named log formats from the config's [formats] table: name -> Apache/nginx format string.
    formats: Mapping[str, str] = field(default_factory=dict)
    # Who the client is: "remote" (the logged address) or "xff" (X-Forwarded-For's first
    # address, or the last one outside trusted_proxies).
    client_from: str = "remote"
    trusted_proxies: tuple[str, ...] = ()
    # --anonymize (logaudit.anonymize): "" none, "mask" or "hash"; --mask-bytes 1-3; the hash
    # mode's secret (None: the state folder's, logaudit.state).
    anonymize: str = ""
    mask_bytes: int = 1
    secret_file: Path | None = None
    # [privacy_rules.NAME] tables: rules added to (or switched off in) enrich/pii_rules.tsv.
    privacy_rules: Mapping[str, Any] = field(default_factory=dict)
    # The history store's folder (--state, docs/store.md): report commands read only new
    # lines into it and report from it.
    state: Path | None = None
    # The user-agent cache across runs (enrich/agentcache.py; --no-cache, LOGAUDIT_NO_CACHE=1).
    cache: bool = True
    # Every config file read, the system file first (config_file is the last of them).
    config_files: tuple[Path, ...] = field(default=(), compare=False)
    # One line each for the user: a value the system file's floor did not let be lowered.
    notes: tuple[str, ...] = field(default=(), compare=False)


def parse_mode(value: Any) -> int:
    """Permission bits from '0644', '644', '0o644' or an int (TOML 0o644); 0..0o777 only."""
    mode = value if isinstance(value, int) else int(str(value).strip().removeprefix("0o"), 8)
    if isinstance(value, bool) or not 0 <= mode <= 0o777:
        raise ValueError(value)
    return mode


# Settings read from files and the environment (not extra/mail/origins/config_file).
# Settings that files and LOGAUDIT_* variables may set: every field but these (the run's
# period, free per-command values, and what load() fills in itself). A field another module
# adds to Settings is readable from both at once, typed by its annotation.
_NOT_FROM_FILES = frozenset(
    {"since", "until", "extra", "mail", "origins", "config_file", "site", "config_files", "notes"}
)
_FILE_KEYS = tuple(f.name for f in fields(Settings) if f.name not in _NOT_FROM_FILES)


def _kind_of(annotation: str) -> str:
    for prefix, kind in (("tuple[", "list"), ("int", "int"), ("bool", "bool"),
                         ("float", "float"), ("Path", "path"), ("Mapping[", "table"),
                         ("dict[", "table")):
        if annotation.startswith(prefix):
            return kind
    return "str"


_KINDS = {f.name: _kind_of(str(f.type)) for f in fields(Settings)}
_KINDS["visit_timeout"] = "duration"
_LISTS = tuple(k for k in _FILE_KEYS if _KINDS[k] == "list")
_INTS = tuple(k for k in _FILE_KEYS if _KINDS[k] == "int")
_BOOLS = tuple(k for k in _FILE_KEYS if _KINDS[k] == "bool")
_FLOATS = tuple(k for k in _FILE_KEYS if _KINDS[k] == "float")
_PATHS = tuple(k for k in _FILE_KEYS if _KINDS[k] == "path")
_TABLES = tuple(k for k in _FILE_KEYS if _KINDS[k] == "table")


def _convert(name: str, value: Any) -> Any:
    """A setting whose value needs more than its annotation's generic typing (octal modes,
    dates, checked tables) is converted here, from a TOML value or an environment string;
    TypeError/ValueError become one-line ConfigErrors naming where the value came from.
    NotImplemented: the generic typing applies."""
    if name == "goals" and isinstance(value, Mapping):  # named goals: {name = "pattern"}
        return tuple(f"{k}={v}" for k, v in value.items())
    if name == "window":
        from logaudit.timespec import duration_seconds

        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _Why("use 30d, 12h, 90m or 2w")
        try:
            return duration_seconds(str(value))
        except ValueError as e:
            raise _Why(str(e)) from None
    if name == "commissions" and isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if name == "mode":
        return parse_mode(value)
    if name == "earliest":
        return str(date.fromisoformat(str(value)))
    if name == "formats":
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError("[formats] maps names to format strings")
        return {str(k): v for k, v in value.items()}
    if name == "privacy_rules":
        from logaudit.enrich.pii import check_config

        return check_config(value)
    if name == "sources" and isinstance(value, Mapping):
        from logaudit.enrich import sources

        return sources.check_config(value)
    if name in ("anonymize", "mask_bytes"):
        from logaudit import anonymize

        if name == "anonymize":
            return anonymize.check_mode(value)
        return anonymize.check_mask_bytes(value)
    return NotImplemented


class _Why(ValueError):
    """A value refused with the reason the message gives (``_convert``)."""


class _Float(float):
    """A TOML float that keeps its text (``tomllib``'s parse_float): messages quote
    ``top = 1e400`` as written, not as Python's ``inf``."""

    text: str

    def __new__(cls, text: str) -> _Float:
        f = super().__new__(cls, text)
        f.text = text
        return f


def written(value: Any) -> str:
    """A value as a user writes it in the TOML file (``true``, ``"7d"``, ``1e400``, ``[...]``),
    for messages: Python's ``True``, ``inf`` and quotes are not what the file says (QA18
    #11). An environment variable's value is a string, quoted the same way."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Float):
        return value.text
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(written, value)) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {written(v)}" for k, v in value.items()) + " }"
    return str(value)


def _special(key: str, value: Any, where: str) -> Any:
    try:
        return _convert(key, value)
    except _Why as e:
        raise ConfigError(f"{where}: {key} = {written(value)}: {e}") from None
    except (TypeError, ValueError, OverflowError):  # mask_bytes = inf: int() overflows
        use = f" (use {_VALID[key]})" if key in _VALID else ""
        raise ConfigError(f"{where}: {key} = {written(value)} is not a valid value{use}") from None


# What a message lists for a value refused without a reason of its own (QA22 #15).
_VALID = {"anonymize": "mask, hash or off", "mask_bytes": "1, 2 or 3"}
# Lists whose default is not empty: a plain list in the file extends the default.
_EXTENDABLE = {"static_extensions": STATIC_EXTENSIONS}

# [mail] keys -> environment variables (the names the issue documents).
MAIL_ENV: dict[str, str] = {
    "smtp_host": "LOGAUDIT_SMTP_HOST",
    "smtp_port": "LOGAUDIT_SMTP_PORT",
    "tls": "LOGAUDIT_SMTP_TLS",
    "user": "LOGAUDIT_SMTP_USER",
    "password": "LOGAUDIT_SMTP_PASSWORD",
    "sender": "LOGAUDIT_MAIL_FROM",
    "to": "LOGAUDIT_MAIL_TO",
    "via": "LOGAUDIT_MAIL_VIA",
}
# In the file, ``from`` reads better than ``sender`` (both are accepted).
_MAIL_ALIASES = {"from": "sender"}
SECRETS = frozenset({"mail.password"})

_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.?[^@\s<>,;:\"()\[\]\\]*$")


def valid_address(text: str) -> bool:
    """A plain mail address (``user@host``, or ``Name <user@host>``) with no whitespace,
    control character or second address in it: what goes into SMTP commands and headers."""
    from email.utils import getaddresses

    if any(ord(c) < 32 or c == "\x7f" for c in text):
        return False
    found = getaddresses([text])
    if len(found) != 1:
        return False
    addr = found[0][1]
    return bool(addr) and bool(_ADDRESS.match(addr)) and addr in text


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_MAX_BARE_MINUTES = 300


def timeout_text(seconds: int) -> str:
    """The visit timeout as given, one way for ``logaudit config`` and the visits' notes:
    whole minutes (30 min), else seconds (90 s; ``// 60`` read it "1 min")."""
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def visit_timeout_seconds(value: Any) -> int:
    """``visit_timeout`` as seconds: a bare number is minutes; "30m", "1800s", "1h" say it
    (also "30min", "90sec", decimals "1.5h"), at most timespec.MAX_DAYS: a longer one read
    as inf and stopped ``logaudit config`` with an OverflowError (exit 1)."""
    from logaudit.timespec import MAX_DAYS

    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError("not a duration")
    m = _DURATION.match(text)
    if not m:
        raise ValueError("not a duration")
    n, unit = float(m.group(1)), (m.group(2) or "").lower()
    if not unit and n >= _MAX_BARE_MINUTES:
        raise ValueError(
            f"{n:g} minutes is over {_MAX_BARE_MINUTES // 60} hours; visit_timeout is in "
            'minutes now (write "30m", or "1800s" for seconds)'
        )
    seconds = n * {"": 60, "m": 60, "min": 60, "s": 1, "sec": 1, "h": 3600}[unit]
    if not seconds <= MAX_DAYS * 86400:
        raise ValueError(f"more than {MAX_DAYS}d (a hundred years)")
    if seconds < 1:
        raise ValueError("must be at least one second")
    return int(round(seconds))


# The machine's policy, read before the user's file (a module constant: tests point it elsewhere).
SYSTEM_CONFIG = Path("/etc/logaudit/logaudit.toml")


def candidates(env: Mapping[str, str] = os.environ) -> list[Path]:
    """Where the user's config file is looked for, in order (when neither --config nor
    $LOGAUDIT_CONFIG names one). The system file is not one of them: it is always read."""
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "logaudit"
    return [Path("logaudit.toml"), base / "logaudit.toml", base / "config.toml"]


def env_value(name: str, env: Mapping[str, str] = os.environ) -> str | None:
    """The environment variable ``name``, None when unset or empty (blanks only): for every
    LOGAUDIT_* variable an empty value is as unset, the usual rule (Click's, systemd's
    ``Environment=NAME=``), so ``LOGAUDIT_STATE=`` leaves the config file's ``state`` (or
    no store, when it names none), neither the current folder nor an error. So an empty
    variable changes nothing: ``LOGAUDIT_SITE_HOSTS=`` does not clear the file's list, nor
    ``LOGAUDIT_STRICT=`` turn strict off (``LOGAUDIT_STRICT=0`` does)."""
    value = env.get(name)
    return value if value is not None and value.strip() else None


def config_path(
    env: Mapping[str, str] = os.environ, explicit: Path | str | None = None
) -> Path | None:
    """The user's config file to read, or None. A file named by --config or $LOGAUDIT_CONFIG
    that does not exist is an error: a typo there must not silently fall back to defaults.
    ``./logaudit.toml``'s folder is checked here (``trusted``); every file, when read."""
    named = explicit if explicit else env_value("LOGAUDIT_CONFIG", env)
    if named:
        where = "--config" if explicit else "LOGAUDIT_CONFIG"
        p = Path(named).expanduser()
        if not p.exists():
            raise ConfigError(f"{where}: {p}: no such file")
        if p.is_dir():
            raise ConfigError(f"{where}: {p} is a directory, not a TOML file")
        return p
    for p in candidates(env):
        if p.is_file():
            if not p.is_absolute():  # ./logaudit.toml: the folder must be safe too
                trusted(os.stat(p.absolute().parent), p.absolute(), "folder")
            return p.absolute()
    return None


def config_files(
    env: Mapping[str, str] = os.environ, explicit: Path | str | None = None
) -> list[Path]:
    """The config files to read, lowest first: the system file (when there is one), then the
    user's (``config_path``) when it is another file."""
    found: list[Path] = []
    try:
        os.stat(SYSTEM_CONFIG)
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as e:  # a policy nobody may read must not be skipped in silence
        raise ConfigError(_unreadable_policy(e)) from None
    else:
        found.append(SYSTEM_CONFIG)
    user = config_path(env, explicit)
    if user is not None and not (found and _same(user, SYSTEM_CONFIG)):
        found.append(user)
    return found


# How to mend a system file that users cannot read or that holds a password (all users read it).
_POLICY_FIX = ("keep the SMTP password out of it: LOGAUDIT_SMTP_PASSWORD or a root-only file "
               "named with --config")


def _unreadable_policy(e: OSError) -> str:
    """The one line for a system file (or its folder) the user cannot read: it is the
    machine's policy, so it fails closed (not skipped), and the line says how to mend it."""
    return (f"file {SYSTEM_CONFIG}: cannot read ({e.strerror}): it is read by every user: make "
            f"it readable (0644, its folder 0755) and {_POLICY_FIX}")


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _type_error(where: str, key: str, value: Any, want: str) -> ConfigError:
    return ConfigError(f"{where}: {key} = {written(value)}: expected {want}")


# What an empty path names, as the command line says it (cli._Named); other paths: "name".
_EMPTY_NAMES = {"state": "folder name", "spool_dir": "folder name", "secret_file": "file name",
                "ca_file": "file name"}


def _empty_path(key: str, value: Any) -> str | None:
    """What is wrong with a path setting that is empty, or with ``logs`` holding an empty
    name (None: nothing). As a path, "" is ".", the current folder: state = "" made a history
    store there, geoip_dir = "" looked there, logs = [""] read it; --state '' and LOG '' are
    refused on the command line, and these are refused with one line naming the key."""
    if key == "logs":
        empty = isinstance(value, (list, tuple)) and "" in value
        return "a log name is empty" if empty else None
    return f"the {_EMPTY_NAMES.get(key, 'name')} is empty" if value == "" else None


def _from_file(key: str, value: Any, where: str) -> Any:
    """A TOML value, strictly typed: a string where a number belongs is a mistake."""
    special = _special(key, value, where)
    if special is not NotImplemented:
        return special
    if key in _TABLES:
        if not isinstance(value, dict):
            raise _type_error(where, key, value, f"a table ([{key}])")
        return value
    if key in _LISTS:
        if isinstance(value, dict) and key in _EXTENDABLE:
            if set(value) != {"replace"}:
                raise ConfigError(
                    f"{where}: {key}: the only key of this table is 'replace' (a plain list "
                    "extends the defaults)"
                )
            return _from_file(key, value["replace"], where)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _type_error(where, key, value, "a list of strings")
        return tuple(value)
    if key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(where, key, value, "a whole number")
        return value
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise _type_error(where, key, value, "true or false")
        return value
    if key == "visit_timeout":
        try:
            return visit_timeout_seconds(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"{where}: visit_timeout = {written(value)} is not valid ({e})"
            ) from None
    if key in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(where, key, value, "a number")
        return float(value)
    if key in _PATHS:
        if not isinstance(value, str):
            raise _type_error(where, key, value, "a folder path (a string)")
        return Path(value).expanduser()
    if not isinstance(value, str):
        raise _type_error(where, key, value, "a string")
    return value


def _from_env(key: str, value: str, where: str) -> Any:
    """An environment value: always a string, converted leniently (lists split at commas and
    spaces, booleans as 1/true/yes)."""
    special = _special(key, value, where)
    if special is not NotImplemented:
        return special
    if key in _TABLES:
        raise ConfigError(f"{where}: {key} is a table: set it in the config file")
    try:
        if key in _LISTS:
            return tuple(v for v in value.replace(",", " ").split() if v)
        if key in _INTS:
            return int(value)
        if key in _BOOLS:
            # Anything else is refused (exit 7), not read as false: LOGAUDIT_STRICT=maybe
            # turned strict off in silence, unsafe for cron (QA18 #10).
            word = value.strip().lower()
            if word not in _TRUE + _FALSE:
                raise ConfigError(
                    f"{where}: {written(value)} is not a yes or no (1, true, yes, on; "
                    "0, false, no, off)"
                )
            return word in _TRUE
        if key == "visit_timeout":
            return visit_timeout_seconds(value)
        if key in _FLOATS:
            return float(value)
        if key in _PATHS:
            return Path(value).expanduser()
    except (TypeError, ValueError) as e:
        # visit_timeout says why, as from a file or the option; float()/int() do not.
        why = f" ({e})" if key == "visit_timeout" else ""
        raise ConfigError(f"{where}: {key} = {written(value)} is not a valid value{why}") from None
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


_MAIL_TYPES: dict[str, type] = {
    "smtp_host": str,
    "smtp_port": int,
    "tls": str,
    "user": str,
    "password": str,
    "sender": str,
    "to": tuple,
    "via": str,
    "sendmail": str,
    "timeout": float,
    "retries": int,
    "spool_dir": Path,
    "ca_file": Path,
}


def _mail_value(key: str, value: Any, where: str, from_env: bool) -> Any:
    want = _MAIL_TYPES[key]
    if want is tuple:
        if from_env and isinstance(value, str):
            return tuple(v for v in value.replace(",", " ").split() if v)
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _type_error(where, f"mail.{key}", value, "a list of addresses")
        return tuple(value)
    if want in (int, float):
        if from_env:
            try:
                return want(value)
            except ValueError:
                raise _type_error(where, f"mail.{key}", value, "a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float) if want is float else int):
            raise _type_error(where, f"mail.{key}", value, "a number")
        return want(value)
    if not isinstance(value, str):
        raise _type_error(where, f"mail.{key}", value, "a string")
    return Path(value).expanduser() if want is Path else value


Table = tuple[dict[str, Any], dict[str, Any]]  # (settings, mail settings)


def _own_format_names(formats: Mapping[str, str], where: str) -> None:
    """A ``[formats]`` name that is a built-in format's (any case) is refused: the built-in one
    was read and the file's silently ignored (QA22 #17). GoAccess's other names (``AWSELB``)
    are said by ``formats.resolve`` when one is used: knowing them compiles every format."""
    from logaudit.names import FORMATS

    built_in = {n.lower() for n in FORMATS}
    for name in formats:
        if name.lower() in built_in:
            raise ConfigError(
                f"{where}: {name} is a built-in format's name (`logaudit formats`); "
                "give yours another name"
            )


def _table(data: Mapping[str, Any], path: Path, prefix: str = "") -> Table:
    """One table's settings and [mail] settings, strictly checked; ``prefix`` names where
    it sits ("sites.shop.") in messages."""
    where = f"file {path}"  # as 'logaudit config' names the origin
    values: dict[str, Any] = {}
    mail: dict[str, Any] = {}
    for k, v in data.items():
        key = k.replace("-", "_")
        if key == "mail":
            if not isinstance(v, dict):
                raise _type_error(where, prefix + "mail", v, "a table ([mail])")
            for mk, mv in v.items():
                mkey = _MAIL_ALIASES.get(mk, mk.replace("-", "_"))
                if mkey not in _MAIL_TYPES:
                    raise ConfigError(f"{where}: unknown setting '{prefix}mail.{mk}'")
                if _MAIL_TYPES[mkey] is Path and (empty := _empty_path(mkey, mv)):
                    raise ConfigError(f"{where}: {prefix}mail.{mk}: {empty}")
                mail[mkey] = _mail_value(mkey, mv, where, from_env=False)
            continue
        if key not in _FILE_KEYS:
            raise ConfigError(f"{where}: unknown setting '{prefix}{k}'")
        if (key in _PATHS or key == "logs") and (empty := _empty_path(key, v)):
            raise ConfigError(f"{where}: {prefix}{k}: {empty}")
        got = _from_file(key, v, where)
        if key == "formats":
            _own_format_names(got, f"{where}: {prefix}formats")
        if key in _EXTENDABLE and isinstance(v, list):
            got = _extend(_EXTENDABLE[key], got)
        values[key] = got
    return values, mail


def read_file(path: Path) -> tuple[Table, dict[str, Table]]:
    """The top level and each ``[sites.NAME]`` table of one TOML file, checked: unknown
    keys, wrong types and a password others can read are ConfigErrors."""
    import tomllib  # only with a file to read: ~4 ms of every command's start otherwise

    where = f"file {path}"

    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())  # the file read, for both checks (not its path again)
            trusted(st, path)
            text = f.read().decode("utf-8")
        data = tomllib.loads(text, parse_float=_Float)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: not valid TOML ({e})") from None
    except OSError as e:
        if path == SYSTEM_CONFIG and isinstance(e, PermissionError):
            raise ConfigError(_unreadable_policy(e)) from None
        raise ConfigError(f"{where}: cannot read ({e.strerror})") from None
    raw_sites = data.pop("sites", {})
    if not isinstance(raw_sites, dict) or not all(isinstance(t, dict) for t in raw_sites.values()):
        raise ConfigError(f"{where}: sites: expected tables ([sites.NAME])")
    top = _table(data, path)
    sites = {name: _table(t, path, f"sites.{name}.") for name, t in raw_sites.items()}
    secret = top[1].get("password") or any(m.get("password") for _, m in sites.values())
    if secret and others_may_read(st):
        fix = _POLICY_FIX if path == SYSTEM_CONFIG else f"run: chmod 600 {path}"
        raise ConfigError(f"{where}: holds an SMTP password but others can read it; {fix}")
    return top, sites


def _extend(default: tuple[str, ...], more: tuple[str, ...]) -> tuple[str, ...]:
    return default + tuple(x for x in more if x not in default)


def load(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] = os.environ,
    config_file: Path | str | None = None,
    site: str | None = None,
) -> Settings:
    """Build Settings; ``overrides`` are command-line values (None means 'not given').
    ``mail`` in overrides is a dict of MailSettings fields. ``site``: a ``[sites.NAME]``
    table of the file, laid over its top level (a site's lists replace the top level's)."""
    values: dict[str, Any] = {}
    mail: dict[str, Any] = {}
    origins: dict[str, str] = {}
    files = config_files(env, config_file)
    path = files[-1] if files else None
    sites: dict[str, tuple[Path, Table]] = {}
    floors: dict[str, Any] = {}
    for f in files:
        (fv, fm), fs = read_file(f)
        values.update(fv)
        mail.update(fm)
        origins.update({k: f"file {f}" for k in fv})
        origins.update({f"mail.{k}": f"file {f}" for k in fm})
        sites.update({name: (f, t) for name, t in fs.items()})
        if f == SYSTEM_CONFIG:
            floors = {k: fv[k] for k in _FLOORS if k in fv}
    if site is not None:
        if site not in sites:
            if path is None:
                raise ConfigError(
                    f"--site {site}: no config file was found to hold [sites.{site}] "
                    "(give --config FILE; README: Configuration)"
                )
            known = ", ".join(sorted(sites)) or "none"
            held = " or ".join(map(str, files))
            raise ConfigError(f"--site {site}: no [sites.{site}] in {held} (sites: {known})")
        spath, (sv, sm) = sites[site]
        values.update(sv)
        mail.update(sm)
        origins.update({k: f"file {spath} [sites.{site}]" for k in sv})
        origins.update({f"mail.{k}": f"file {spath} [sites.{site}]" for k in sm})
    for k in _FILE_KEYS:
        name = "LOGAUDIT_" + k.upper()
        ev = env_value(name, env)
        if ev is not None:
            got = _from_env(k, ev, f"env {name}")
            if k in _EXTENDABLE:
                got = _extend(_EXTENDABLE[k], got)
            values[k] = got
            origins[k] = f"env {name}"
    for mk, name in MAIL_ENV.items():
        ev = env_value(name, env)
        if ev is not None:
            mail[mk] = _mail_value(mk, ev, f"env {name}", from_env=True)
            origins[f"mail.{mk}"] = f"env {name}"
    for k, v in (overrides or {}).items():
        if k == "mail":
            for mk, mv in (v or {}).items():
                if mv is not None and mv != ():
                    mail[mk] = mv
                    origins[f"mail.{mk}"] = "option"
        elif v is not None and v != ():
            if k == "visit_timeout" and not isinstance(v, int):
                try:
                    v = visit_timeout_seconds(v)
                except (TypeError, ValueError) as e:
                    raise ConfigError(f"--visit-timeout {written(v)}: {e}") from None
            values[k] = v
            if k != "extra":
                origins[k] = "option"
    notes = _floored(values, origins, floors)
    try:
        m = replace(MailSettings(), **mail)
        s = replace(
            Settings(), **values, mail=m, origins=origins, config_file=path, site=site,
            config_files=tuple(files), notes=notes,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad setting: {e}") from None
    _check(s)
    for name, (zero_ok, most_mb) in TUNING_ENV.items():
        ev = env_value(name, env)
        if ev is not None and _tuning(ev, zero_ok, most_mb) is None:
            least = "0 or more" if zero_ok else "above 0"
            most = "" if most_mb == math.inf else f" and at most {most_mb:g}"
            raise ConfigError(f"env {name}: {written(ev)} is not a size in MB ({least}{most})")
    return s


# Settings the system file sets as a floor (QA22 #4): the value that is less private, which
# a user file, a variable or an option may not bring it down to. Off is below either mode
# (mask and hash both keep addresses out; which one is the reader's choice); fewer masked
# bytes are below more.
_FLOORS: dict[str, Any] = {
    "anonymize": lambda have, floor: bool(floor) and not have,
    "mask_bytes": lambda have, floor: have < floor,
}


def _floored(
    values: dict[str, Any], origins: dict[str, str], floors: Mapping[str, Any]
) -> tuple[str, ...]:
    """Put back the system file's value of each floor setting that a later layer lowered, the
    origin saying so; one note each, naming who tried."""
    notes = []
    for key, floor in floors.items():
        have = values.get(key, getattr(Settings, key))
        if not _FLOORS[key](have, floor):
            continue
        by = origins.get(key, "default")
        if by == "option":
            by = _OPTION_NAMES.get(key) or "--" + key.replace("_", "-")
        shown = {"": "off"}.get(have, have) if key == "anonymize" else have
        notes.append(
            f"{by}: {key} = {written(shown)} not taken: {SYSTEM_CONFIG} sets "
            f"{key} = {written(floor)} for every run (a policy: nobody's settings lower it)"
        )
        values[key] = floor
        origins[key] = f"file {SYSTEM_CONFIG} (policy)"
    return tuple(notes)


def tuning_bytes(
    name: str, default_mb: float, zero_ok: bool = False, most_mb: float = math.inf
) -> int:
    """A tuning knob in megabytes from the environment variable ``name`` (``LOGAUDIT_BLOCK_MB``,
    ``LOGAUDIT_SPILL_MB``), as bytes. Read at import, where an error could only be a
    traceback: a value that is not a number, a negative one, more than ``most_mb``, or under
    one byte where 0 means nothing (a block of 0 bytes read no line at all) is ignored for the
    default here, and refused by ``load`` (exit 7) before any work."""
    text = env_value(name)
    n = _tuning(text, zero_ok, most_mb) if text is not None else None
    return int(default_mb * 1024 * 1024) if n is None else n


def _tuning(text: str, zero_ok: bool, most_mb: float) -> int | None:
    """``text`` megabytes as bytes; None when it is not a number, negative, over ``most_mb``,
    or under one byte where 0 is not allowed."""
    try:
        mb = float(text)
    except ValueError:
        return None
    if not (math.isfinite(mb * 1024 * 1024) and 0 <= mb <= most_mb):  # 1e308 MB: inf bytes
        return None
    n = int(mb * 1024 * 1024)
    return n if n >= 1 or zero_ok else None


# The tuning variables (read at import by sources.py and analyze/spill.py): (zero allowed,
# most MB). A wrong one is said when the settings are loaded, before any work (exit 7).
TUNING_ENV = {"LOGAUDIT_BLOCK_MB": (False, 1024.0), "LOGAUDIT_SPILL_MB": (True, math.inf)}


# Settings whose command-line option is not the setting's name with dashes.
_OPTION_NAMES = {
    "trusted_proxies": "--trusted-proxy", "mail.to": "--mail-to", "site_hosts": "--site-host",
}
# A site's host as the logs and referrers name it: letters (any script), digits, dots, dashes,
# underscores, and an optional port; no scheme, path, space or control character.
_HOST = re.compile(r"[\w-]+(?:\.[\w-]+)*\.?(?::\d{1,5})?")
# An IPv6 literal, bracketed with an optional :port ([2001:db8::1]:8080), or bare (2001:db8::1).
_HOST6 = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?|([0-9A-Fa-f:.]+)")


def _host_name(text: str) -> bool:
    """``text`` is a host name or an IPv6 literal, optionally with ``:port``: what a Host
    header or a referrer's host holds; a URL, a space or a control character is not."""
    if _HOST.fullmatch(text):
        return True
    m = _HOST6.fullmatch(text)
    if m is None:
        return False
    import ipaddress

    try:
        ipaddress.IPv6Address(m.group(1) or m.group(2))
    except ValueError:
        return False
    return True


def _check(s: Settings) -> None:
    def where(key: str) -> str:
        o = s.origins.get(key, "default")
        if o != "option":
            return o
        return _OPTION_NAMES.get(key) or "--" + key.split(".")[-1].replace("_", "-")

    def wrong(key: str, message: str) -> LogauditError:
        """A bad value: wrong usage (exit 2, README) from the command line, a configuration
        error (exit 7) from a file or the environment."""
        if s.origins.get(key) == "option":
            return LogauditError(f"{where(key)}: {message}", ExitCode.USAGE)
        return ConfigError(f"{where(key)}: {message}")

    if s.tz is not None and s.origins.get("tz") != "option":  # the CLI checked its own
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(s.tz)
        except (ZoneInfoNotFoundError, ValueError):
            # Named where it came from (QA18 #11), not "--tz" as enrich.classify.zone says.
            raise wrong(
                "tz",
                f"tz = {written(s.tz)}: unknown time zone (use an IANA name like Europe/Paris)",
            ) from None
    if s.bots not in BOTS_MODES:
        raise wrong("bots", f"bots must be one of {', '.join(BOTS_MODES)}")
    if s.top < 0:
        raise wrong("top", "top must be 0 (all rows) or more")
    if s.origins.get("jobs", "default") != "default" and not 0 <= s.jobs <= 64:
        raise wrong("jobs", f"jobs must be 1-64 (0: the default, 1), not {s.jobs}")
    if s.ahead_days < 0:
        raise wrong("ahead_days", "ahead_days must be 0 or more")
    if s.client_from not in ("remote", "xff"):
        raise wrong("client_from", "client_from must be remote or xff")
    for host in s.site_hosts:  # CR/LF, spaces or a URL matched nothing, silently (QA22 #17)
        if not _host_name(host):
            said = (f"{written(host)} is not a host name (shop.example.com or [2001:db8::1], "
                    "optionally with :port)")
            raise wrong("site_hosts", said)
    import ipaddress

    for cidr in s.trusted_proxies:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            said = f"{written(cidr)} is not a network (10.0.0.0/8)"
            raise wrong("trusted_proxies", said) from None
    unknown = [n for n in s.sections if n not in SECTIONS]
    if unknown:
        raise ConfigError(
            f"{where('sections')}: unknown section {', '.join(map(repr, unknown))} "
            "(`logaudit sections` lists them)"
        )
    # A name, a [formats] name or a server's format string; from the command line a bad one
    # is wrong usage (exit 2, said by the CLI), from a file or the environment a bad setting.
    if s.log_format and s.log_format != "auto+" and s.origins.get("log_format") != "option":
        from logaudit.formats import resolve  # only here: building it compiles every format

        try:
            resolve(s.log_format, s.formats)
        except LogauditError as e:
            raise ConfigError(f"{where('log_format')}: {e}") from None
    sender = (s.mail.sender,) if s.mail.sender else ()  # none: nothing to check (issue #18)
    for key, addrs in (("mail.to", s.mail.to), ("mail.sender", sender)):
        bad = [a for a in addrs if not valid_address(a)]
        if bad:
            raise ConfigError(f"{where(key)}: not a mail address: {written(bad[0])}")
    if s.mail.tls not in SMTP_TLS:
        raise ConfigError(f"{where('mail.tls')}: mail tls must be one of {', '.join(SMTP_TLS)}")
    local = s.mail.smtp_host in ("localhost", "127.0.0.1", "::1")
    if s.mail.user and s.mail.tls == "none" and s.mail.via == "smtp" and not local:
        raise ConfigError(
            f"{where('mail.tls')}: tls = none would send the SMTP password in clear to "
            f"{s.mail.smtp_host}; use starttls or ssl"
        )
    if s.mail.via not in MAIL_VIA:
        raise ConfigError(f"{where('mail.via')}: mail via must be one of {', '.join(MAIL_VIA)}")
    if not 0 <= s.mail.smtp_port <= 65535:
        raise ConfigError(f"{where('mail.smtp_port')}: smtp_port must be 1-65535")
    if s.mail.retries < 0:
        raise wrong("mail.retries", f"mail.retries = {s.mail.retries} must be 0 or more")
    # nan passed "timeout <= 0" and stopped 'digest --mail-to' with an internal error; inf
    # is no timeout either.
    if not (math.isfinite(s.mail.timeout) and s.mail.timeout > 0):
        raise wrong(
            "mail.timeout",
            f"mail.timeout = {written(s.mail.timeout)} must be a number of seconds above 0",
        )


def effective(s: Settings) -> list[tuple[str, str, str]]:
    """(name, value as shown, origin) for every setting a file or variable can set, secrets
    masked: what ``logaudit config`` prints."""
    rows: list[tuple[str, str, str]] = []

    def show(v: Any) -> str:
        if v is None:
            return "(none)"
        if isinstance(v, bool):  # as the file writes it, not Python's True
            return written(v)
        if isinstance(v, tuple):
            return ", ".join(map(str, v)) if v else "(none)"
        return str(v)

    for k in _FILE_KEYS:
        v = getattr(s, k)
        if k == "visit_timeout":  # as written: 30m, else 90s (the reports say "30 min")
            text = f"{v // 60}m" if v % 60 == 0 else f"{v}s"
        elif k == "anonymize":  # none: "off", as the file and LOGAUDIT_ANONYMIZE write it
            text = v or "off"
        elif k == "mode":  # as written (0640), not the number 416 (QA18 #12)
            text = f"0{v:03o}"
        elif k == "window":  # 7d, not 604800 seconds
            from logaudit.timespec import say_seconds

            text = say_seconds(v)
        else:
            text = show(v)
        rows.append((k, text, s.origins.get(k, "default")))
    for f in fields(MailSettings):
        name = f"mail.{f.name}"
        v = getattr(s.mail, f.name)
        shown = f"mail.{_MAIL_NAMES.get(f.name, f.name)}"  # the name the file is written with
        if name in SECRETS and v:
            text = "******** (set)"
        elif f.name == "smtp_port" and not v:
            text = f"{s.mail.port()} (from tls)"
        elif f.name == "spool_dir" and v is None:
            text = str(s.mail.spool())
        else:
            text = show(v)
        rows.append((shown, text, s.origins.get(name, "default")))
    return rows


# [mail] settings whose name in the file is not the field's (``from``: ``sender`` is the
# field, the file may say either; messages and ``logaudit config`` say ``from``).
_MAIL_NAMES = {"sender": "from"}
