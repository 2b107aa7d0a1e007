"""Remote inputs: ``s3://``, ``gs://``, ``az://``, ``hdfs://`` and ``http(s)://`` URLs, globs
included (``**`` recursive), read through fsspec; the only module importing it.

Credentials come from each backend's usual places (the AWS profile, environment and
``AWS_ENDPOINT_URL`` for MinIO or Ceph; GCP application-default credentials; Azure's
``AZURE_STORAGE_*`` variables), never from the command line. An object is a stream of bytes
like a local file: ``sources`` sniffs its magic bytes, so compressed objects read as
compressed files do. A backend whose package is missing is one line naming the extra to
install (exit 7, as for any missing optional part).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from logaudit.errors import ConfigError, ExitCode, InputMissingError, LogauditError

# scheme -> (the module fsspec needs for it, the logaudit extra that installs it)
BACKENDS: dict[str, tuple[str, str]] = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
    "hdfs": ("pyarrow", "hdfs"),
    "http": ("aiohttp", "http"),
    "https": ("aiohttp", "http"),
}

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


def scheme(arg: str) -> str | None:
    """The URL scheme of a command-line argument, or None for a local path."""
    m = _URL.match(arg)
    return m.group("scheme").lower() if m else None


def is_url(arg: str) -> bool:
    s = scheme(arg)
    # file:// too: refused as an unknown scheme (as memory:// is), not read as a local path
    # named "file:/..." that says "no such file" (QA21 #9); the docs promise no file://.
    return s is not None


class MissingExtraError(ConfigError):
    """An optional part of logaudit is not installed: one line naming the extra."""


class Unreadable(InputMissingError):
    """A URL that names nothing that can be read (no such object, no match, a server not
    reached, access or credentials refused): ``why`` says why, the message is "URL: why".
    ``sources.expand`` makes it an input of its own, said in one line as a missing path is."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"{url}: {why}")
        self.why = why


def require(module: str, extra: str, what: str) -> Any:
    """Import ``module`` or fail with the one-line message naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"{what} needs the optional package {module}: pip install 'logaudit[{extra}]'"
        ) from None


def refuse_credentials(url: str) -> None:
    """A user name or password in a URL is wrong usage (exit 2), said without the URL: it
    would be shown in every message and report naming the input (an input that cannot be read
    is one of them), mailed with the digest, and kept in the shell's history. A user name
    alone is refused too: a token is often given as one (``https://TOKEN@host/``)."""
    try:
        parts = urlsplit(url)
        given = parts.username is not None or parts.password is not None
    except ValueError:  # a malformed host ("http://[::1"): fsspec says what is wrong with it
        given = "@" in url.split("://", 1)[-1].split("/", 1)[0]
    if given:
        raise LogauditError(
            f"{scheme(url) or ''}://...: a user name or password in a URL is refused (it would "
            "be shown wherever the input is named); give credentials the service's usual way "
            "(its profile, environment variables or credential files)",
            ExitCode.USAGE,
        )


def _filesystem(url: str) -> tuple[Any, str]:
    s = scheme(url) or ""
    refuse_credentials(url)
    if s not in BACKENDS:
        known = ", ".join(sorted({k + "://" for k in BACKENDS}))
        raise Unreadable(url, f"unknown URL scheme {s}:// (known: {known})")
    module, extra = BACKENDS[s]
    require("fsspec", extra, f"{s}:// input")
    require(module, extra, f"{s}:// input")
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        raise MissingExtraError(
            f"{s}:// input needs more packages: pip install 'logaudit[{extra}]'"
        ) from None


def _join(url: str, fs: Any, path: str) -> str:
    """The URL of one matched object, in the user's own scheme."""
    return str(fs.unstrip_protocol(path)) if "://" not in path else path


def _why(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _connection_error(e: BaseException) -> str | None:
    """Why the server could not be reached (refused, no route, an unknown host, timed out),
    when such a failure is ``e`` or lies under it; else None."""
    deepest = None
    cause: BaseException | None = e
    while cause is not None:
        if _unreachable(cause):
            deepest = cause
        cause = cause.__cause__ or cause.__context__
    if deepest is None:
        return None
    if isinstance(deepest, TimeoutError) and not deepest.errno:
        return "timed out"  # asyncio's and aiohttp's timeouts carry no errno nor text
    assert isinstance(deepest, OSError)
    if isinstance(deepest.errno, int) and deepest.errno > 0:
        return os.strerror(deepest.errno).lower()
    return (deepest.strerror or _why(deepest)).lower()


# errno values of a server not reached (ConnectionError covers refused and reset).
_DOWN = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.ETIMEDOUT}


def _unreachable(e: BaseException) -> bool:
    import socket

    return isinstance(e, ConnectionError | TimeoutError | socket.gaierror | socket.herror) or (
        isinstance(e, OSError) and e.errno in _DOWN
    )


# Credentials found nowhere (botocore; Google's application-default; Azure identity's), by
# class name: the backends' packages are optional and need not be imported to be told apart.
_NO_CREDENTIALS = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "ProfileNotFound",
    "DefaultCredentialsError",
    "CredentialUnavailableError",
}
# Credentials given but refused by the service: S3's error codes (a listing's: a HEAD request's
# 403 carries no body, see ``_denied``), Google's refresh failure, Azure's authentication error.
_REFUSED_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}
_REFUSED = {"RefreshError", "ClientAuthenticationError"}


def _chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def _code(e: BaseException) -> str:
    """An S3 error code (botocore's ClientError), or ""."""
    response = getattr(e, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _forbidden(e: BaseException) -> str | None:
    """An HTTP server's 401 or 403 (aiohttp's ClientResponseError, which fsspec's http wraps
    in a FileNotFoundError) as "403 Forbidden"; else None."""
    status = getattr(e, "status", None)
    if status in (401, 403):
        return f"{status} {getattr(e, 'message', '') or 'Forbidden'}".strip()
    return None


# Where each service's credentials are looked for, said when none were found.
_CREDENTIALS_FROM = {
    "s3fs": "the AWS profile or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    "gcsfs": "GOOGLE_APPLICATION_CREDENTIALS or gcloud's application-default login",
    "adlfs": "the AZURE_STORAGE_* variables",
}


def _unreadable_why(url: str, e: BaseException) -> str:
    """Why a URL could not be listed or looked at, in the words a user acts on: no such
    object, cannot connect, no credentials found (and where they are looked for), credentials
    refused, access denied, or (anything else) cannot list with the backend's first line."""
    for c in _chain(e):
        if type(c).__name__ in _NO_CREDENTIALS:
            where = _CREDENTIALS_FROM.get(BACKENDS.get(scheme(url) or "", ("", ""))[0])
            return f"no credentials found ({_why(c)}{'; give ' + where if where else ''})"
        if type(c).__name__ in _REFUSED or _code(c) in _REFUSED_CODES:
            return f"credentials refused ({_why(e)})"  # s3fs's own words, not botocore's
        if (status := _forbidden(c)) is not None:
            return f"access denied ({status})"
    # fsspec's http says FileNotFoundError for any failure: a refused or unreachable server is
    # said as such, not "no such object" (QA21 #9); a backend's own error too, as for one
    # object, not in the backend's wording.
    down = _connection_error(e)
    if down is not None:
        return f"cannot connect: {down}"
    if isinstance(e, FileNotFoundError):
        return "no such object"
    if isinstance(e, PermissionError):
        return f"access denied ({_why(e)})"
    return f"cannot list: {_why(e)}"


def _denied(fs: Any, path: str, e: PermissionError) -> BaseException:
    """The error that says why access to ``path`` was refused: S3 answers a HEAD request
    (one object, a "folder") with a bare 403 "Forbidden", for credentials refused and access
    denied alike; a listing's answer says which, so one is asked for (only on this path, and
    not when ``e`` says it already: a glob's or a folder's own listing)."""
    if _unreadable_why("", e).startswith("credentials refused"):
        return e
    try:
        fs.ls(path, detail=False)
    except Exception as listed:  # noqa: BLE001 - backends raise their own (botocore, aiohttp)
        if _unreadable_why("", listed).startswith("credentials refused"):
            return listed
    return e


def expand(url: str) -> list[tuple[str, int]]:
    """The objects a URL names, as (url, size): one object, every object matching a glob
    (``*``, ``?``, ``[...]``; ``**`` recursive), or the log-like objects under a "folder".
    Ordered by name (rotated sets oldest first, as for local files, by the caller)."""
    fs, path = _filesystem(url)
    try:
        if any(c in path for c in "*?["):
            found = fs.glob(path, detail=True)
            objects = [(p, i) for p, i in found.items() if i.get("type") != "directory"]
            if not objects:
                raise Unreadable(url, _no_match(url, fs, path))
        else:
            info = fs.info(path)
            if info.get("type") == "directory":
                objects = [
                    (p, i)
                    for p, i in fs.find(path, detail=True).items()
                    if i.get("type") != "directory"
                ]
                if not objects:
                    raise Unreadable(url, "a folder with no objects in it")
            else:
                objects = [(path, info)]
    except Unreadable:
        raise
    except PermissionError as e:
        raise Unreadable(url, _unreadable_why(url, _denied(fs, path, e))) from None
    except Exception as e:  # noqa: BLE001 - backends raise their own (botocore, aiohttp)
        raise Unreadable(url, _unreadable_why(url, e)) from None
    out = [(_join(url, fs, p), _size(fs, p, i)) for p, i in objects]
    return sorted(out, key=lambda o: o[0])


# Object stores whose path starts with a bucket (or container) that may itself be missing.
_BUCKETED = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


def _no_match(url: str, fs: Any, path: str) -> str:
    """Why a glob matched nothing: its bucket is not there, or no object matches. The bucket
    is asked about only then (one request): an empty listing reads the same for both."""
    bucket = path.split("/", 1)[0]
    if scheme(url) in _BUCKETED and bucket and not any(c in bucket for c in "*?["):
        try:
            if not fs.exists(bucket):
                return "no such bucket"
        except Exception:  # noqa: BLE001, S110 - the glob's own answer stands
            pass
    return "no object matches"


def _size(fs: Any, path: str, info: dict[str, Any]) -> int:
    """An object's size: from the listing, or asked for (an HTTP index page has none)."""
    if info.get("size") is not None:
        return int(info["size"])
    try:
        return int(fs.size(path) or 0)
    except Exception:  # noqa: BLE001 - unknown size: progress and splitting do without it
        return 0


def open_url(url: str, span: tuple[int, int] | None = None) -> BinaryIO:
    """A raw binary stream over one object (or the byte range ``span`` of it). Backend
    errors become the OSError subclasses ``sources`` reports as for local files."""
    fs, path = _filesystem(url)
    try:
        f = fs.open(path, "rb")
        if span is not None:
            f.seek(span[0])
        return f
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except OSError as e:
        raise OSError(e.errno or 5, _why(e)) from None
    except Exception as e:  # noqa: BLE001 - backends raise their own (botocore, aiohttp)
        raise OSError(5, _why(e)) from None


def rotation_path(url: str) -> PurePosixPath:
    """The URL as a path, for ordering rotated sets (the scheme stays in its first part, so
    an object never joins a local file's set)."""
    return PurePosixPath(url)


def head(url: str, n: int) -> bytes:
    with open_url(url) as f:
        return bytes(f.read(n))
