"""Settings: one frozen object built from defaults, the TOML file, the environment and options.

Precedence, lowest first: built-in defaults, the config file (``$LOGAUDIT_CONFIG`` or
``~/.config/logaudit/config.toml``), ``LOGAUDIT_*`` environment variables, command-line options.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from logaudit.errors import ConfigError

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


@dataclass(frozen=True)
class Settings:
    log_format: str | None = None
    tz: str | None = None
    since: datetime | None = None  # naive wall time in the report zone
    until: datetime | None = None
    bots: str = "auto"
    top: int = 10
    sections: tuple[str, ...] = ()
    strict: bool = False
    visit_timeout: int = 30 * 60  # seconds
    static_extensions: tuple[str, ...] = STATIC_EXTENSIONS
    site_hosts: tuple[str, ...] = ()
    geoip_dir: Path | None = None
    goals: tuple[str, ...] = ()
    progress: bool | None = None  # None: on a terminal only
    jobs: int = 0  # processes; 0: one per core for large inputs
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Named log formats from the config's [formats] table: name -> Apache/nginx format string.
    formats: Mapping[str, str] = field(default_factory=dict)
    # Who the client is: "remote" (the logged address) or "xff" (X-Forwarded-For's first
    # address, or the last one outside trusted_proxies).
    client_from: str = "remote"
    trusted_proxies: tuple[str, ...] = ()


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("LOGAUDIT_CONFIG"):
        return Path(env["LOGAUDIT_CONFIG"]).expanduser()
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "logaudit" / "config.toml"


def _coerce(name: str, value: Any, where: str) -> Any:
    """``value`` as the type of setting ``name``; a value that is not one is a ConfigError
    naming where it came from (a typo in the environment is not an internal error)."""
    try:
        return _convert(name, value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} = {value!r} is not a valid value") from None


def _convert(name: str, value: Any) -> Any:
    if name in ("static_extensions", "site_hosts", "goals", "sections", "trusted_proxies"):
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        return tuple(str(v) for v in value)
    if name == "formats":
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError("[formats] maps names to format strings")
        return {str(k): v for k, v in value.items()}
    if name == "geoip_dir":
        return Path(str(value)).expanduser()
    if name in ("top", "visit_timeout", "jobs"):
        return int(value)
    if name in ("strict", "progress"):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    return value


def load(
    overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] = os.environ
) -> Settings:
    """Build Settings; ``overrides`` are command-line values (None means 'not given')."""
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = config_path(env)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid TOML ({e})") from None
        for k, v in data.items():
            key = k.replace("-", "_")
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {k!r}")
            values[key] = _coerce(key, v, str(path))
    for k in known:
        ev = env.get("LOGAUDIT_" + k.upper())
        if ev is not None and k not in ("extra", "formats"):
            values[k] = _coerce(k, ev, "LOGAUDIT_" + k.upper())
    for k, v in (overrides or {}).items():
        if v is not None and v != ():
            values[k] = v
    try:
        s = replace(Settings(), **values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad setting: {e}") from None
    if s.bots not in BOTS_MODES:
        raise ConfigError(f"--bots must be one of {', '.join(BOTS_MODES)}")
    if s.top < 0:
        raise ConfigError("--top must be 0 (all rows) or more")
    if s.client_from not in ("remote", "xff"):
        raise ConfigError("--client-from must be remote or xff")
    import ipaddress

    for cidr in s.trusted_proxies:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ConfigError(f"--trusted-proxy {cidr!r} is not a network (10.0.0.0/8)") from None
    return s
