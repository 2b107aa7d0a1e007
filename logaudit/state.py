"""The state folder: what logaudit keeps between runs, owner-only.

``$XDG_STATE_HOME/logaudit`` (``~/.local/state/logaudit`` by default), created 0700. It holds
the ``--anonymize=hash`` secret (``secret``, 0600) and unsent mail (``unsent/``,
``config.MailSettings.spool``, written by ``deliver.mail``). docs/privacy.md lists everything
logaudit stores.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from logaudit.errors import ConfigError

SECRET_BYTES = 32


def state_dir(env: dict[str, str] | None = None) -> Path:
    e = os.environ if env is None else env
    base = Path(e.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "logaudit"


def secret(path: Path | None = None) -> bytes:
    """The HMAC key of ``--anonymize=hash``: read from ``path`` (default
    ``state_dir()/secret``), created there (0600, in a 0700 folder) on first use. Refused when
    anyone but the owner may read it: a readable key undoes the hashing."""
    target = path if path is not None else state_dir() / "secret"
    try:
        data = _read(target)
    except FileNotFoundError:
        data = _create(target)
    except OSError as e:
        raise ConfigError(
            f"{target}: cannot read the anonymisation secret ({e.strerror})"
        ) from None
    key = data.strip()
    if len(key) < 16:
        raise ConfigError(f"{target}: the anonymisation secret is shorter than 16 bytes")
    return key


def _read(target: Path) -> bytes:
    fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{target}: the anonymisation secret may be read by others "
                f"(mode {stat.S_IMODE(mode):o}); chmod 600 it"
            )
        return f.read()


def _create(target: Path) -> bytes:
    try:
        from logaudit.deliver.files import private_folder

        private_folder(target.parent)  # 0700, and so is each folder made above it
        import secrets  # only when the key is made, once per machine

        key = secrets.token_hex(SECRET_BYTES).encode("ascii")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except FileExistsError:  # another run made it a moment ago
        return _read(target)
    except OSError as e:
        raise ConfigError(
            f"{target}: cannot create the anonymisation secret ({e.strerror})"
        ) from None
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return key
