"""The user-agent cache across runs: lookup key -> classification row, in one Arrow file.

Every run used to classify each distinct user agent again, and to pay for building ua-parser's
rule engine (0.10-0.17 s, holding the GIL) before the first one. This file keeps the rows that
``enrich.agents.AgentClassifier`` computed, keyed by the agent's shared lookup key
(``agents.lookup_keys``), so that a later run classifies only agents it has never met, and builds
the resolver only when one misses.

Where: ``STATE/agent-cache.arrow`` when the run has a history store (``--state``), else
``$XDG_CACHE_HOME/logaudit/agent-cache.arrow`` (``~/.cache/logaudit/`` when unset). The folder is
created owner-only (0700), the file is written owner-only (0600) through a temporary file and a
rename, so a reader never sees half a file. It holds user-agent strings as logged (no address,
path or time); deleting it is always safe (docs/privacy.md).

What can change an answer is part of the file's key (``fingerprint``): the versions of
ua-parser, its rules, its Rust engine, user_agents and the crawler list, a hash of logaudit's own
robot data and classification code, logaudit's version and the row's columns. A file with
another key, or one that cannot be read, is ignored (and replaced at the end of the run).

Bounded: at most ``MAX_KEYS`` rows, the most recently used first (this run's, then the older
ones in the file's order).

Off with ``--no-cache``, the config's ``cache = false`` or ``LOGAUDIT_NO_CACHE=1``. A cache that
cannot be read or written never fails a run: one warning on stderr at most, then the run goes
on without it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import pyarrow as pa

# Arrow's IPC file format (zstd-compressed): read without decoding, and not a ``*.parquet``
# among the store's day tables when it sits in a state folder.
FILE_NAME = "agent-cache.arrow"
MAX_KEYS = 200_000
_META_KEY = b"logaudit.agentcache"
_PACKAGES = (
    "ua-parser",
    "ua-parser-builtins",
    "ua-parser-rs",
    "google-re2",  # ua-parser's second choice of resolver (agents.resolver_name)
    "user-agents",
    "crawler-user-agents",
)

# logaudit's own code and data that decide a row (``fingerprint``).
_HERE = Path(__file__).parent
_CODE = (
    _HERE / "crawlers.py",
    _HERE / "agents.py",
    _HERE / "uaparse.py",
    _HERE / "data" / "robots.json",  # crawlers.ROBOTS_FILE
)

_warned = False


def disabled(env: Mapping[str, str] = os.environ) -> bool:
    """True when ``LOGAUDIT_NO_CACHE`` is set to anything but '', '0', 'false' or 'no'."""
    value = env.get("LOGAUDIT_NO_CACHE", "").strip().lower()
    return value not in ("", "0", "false", "no")


def default_folder(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CACHE_HOME") or ""
    # The XDG spec: a relative path is invalid and must be ignored.
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "logaudit"


def cache_path(state: Path | None, enabled: bool = True) -> Path | None:
    """The cache file of a run: in its state folder, else the user's cache folder; None: off."""
    if not enabled or disabled():
        return None
    return (state if state is not None else default_folder()) / FILE_NAME


@cache
def fingerprint(columns: tuple[str, ...]) -> str:
    """Everything that can change a row, as one text; a file made under another is discarded."""
    import logaudit
    from logaudit.enrich import agents

    parts = [f"logaudit {logaudit.__version__}", "columns " + ",".join(columns)]
    for name in _PACKAGES:
        parts.append(f"{name} {_metadata_version(name) or '-'}")
    parts.append(f"resolver {agents.resolver_name()}")
    h = hashlib.sha256()
    # The files by path: importing crawlers.py (the crawler list) and uaparse.py (ua-parser)
    # costs ~16 ms that a run whose agents all come from this file never needs otherwise.
    for f in _CODE:
        h.update(f.read_bytes())
    parts.append(f"code {h.hexdigest()}")
    return "\n".join(parts)


def _metadata_version(name: str) -> str | None:
    # importlib.metadata, not the dist-info folder names read by hand (tried: 11-14 ms less on
    # the agents thread, but a folder left holding two versions' dist-info hid an upgrade
    # from the fingerprint, and a folder of 100,000 logs on sys.path cost 0.5 s).
    from importlib import metadata  # here: ~5 ms of every start-up otherwise (issue #18)

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def warn(what: str, e: BaseException) -> None:
    """One warning per process, whatever goes wrong how often."""
    global _warned
    if _warned:
        return
    _warned = True
    reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
    text = f"logaudit: warning: user-agent cache {what}: {reason}; going on without it\n"
    sys.stderr.write(text.encode("ascii", "backslashreplace").decode("ascii"))


def load(path: Path, columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The rows in ``path`` (most recently used first); empty when absent, stale or unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        warn(f"{path} not read", e)
        return {}
    try:
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
        meta = table.schema.metadata or {}
        if meta.get(_META_KEY, b"").decode("utf-8") != fingerprint(columns):
            return {}  # another ua-parser, robot list or logaudit: every row may differ
        return rows_of(table, columns)
    except Exception:  # noqa: BLE001 - a corrupt or foreign file is only a cold cache
        return {}


def rows_of(table: pa.Table, columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The rows of a table made by ``table_of`` (key -> row, in its order); empty when its
    columns are not ``columns``."""
    if table.column_names != ["key", *columns]:
        return {}
    cols = [_values(table.column(c)) for c in table.column_names]
    intern = sys.intern
    rows: dict[str, tuple[str, ...]] = {}
    for key, *row in zip(*cols, strict=True):
        if isinstance(key, str) and all(isinstance(v, str) for v in row):
            rows[key] = tuple(intern(v) for v in row)
    return rows


def save(path: Path, rows: Iterable[tuple[str, tuple[str, ...]]], columns: tuple[str, ...]) -> None:
    """Write ``rows`` (key, row; most recently used first, at most ``MAX_KEYS`` kept) to
    ``path`` atomically and owner-only; a failure is one warning."""
    keys: list[str] = []
    values: list[tuple[str, ...]] = []
    for key, row in rows:
        keys.append(key)
        values.append(row)
        if len(keys) >= MAX_KEYS:
            break
    try:
        table = table_of(zip(keys, values, strict=True), columns)
        table = table.replace_schema_metadata({_META_KEY: fingerprint(columns).encode("utf-8")})
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        _write_private(path, sink.getvalue().to_pybytes())
    except Exception as e:  # noqa: BLE001 - never fail a run for its cache
        warn(f"{path} not written", e)


def _values(column: pa.ChunkedArray) -> list[object]:
    """``column.to_pylist()``: a dictionary chunk by its few distinct values, each made once
    and taken per row by its index. ``to_pylist`` made a scalar per row: 2 ms a column of
    1,600 rows, 14 ms of the 15 a 1,600-agent file took to read, on the first block's
    critical path (it waits for the cache, ``classify.shared_classifier``)."""
    out: list[object] = []
    for chunk in column.chunks:
        if isinstance(chunk, pa.DictionaryArray) and not chunk.indices.null_count:
            names = chunk.dictionary.to_pylist()
            out += [names[i] for i in chunk.indices.to_numpy().tolist()]
        else:
            out += chunk.to_pylist()
    return out


def table_of(rows: Iterable[tuple[str, tuple[str, ...]]], columns: tuple[str, ...]) -> pa.Table:
    """(key, row) pairs as one Arrow table: the keys, then one dictionary-encoded column per
    name of ``columns`` (a few hundred distinct families, not one string per agent). What the
    file holds, and what ``--jobs`` workers send back with their partials."""
    keys: list[str] = []
    values: list[tuple[str, ...]] = []
    for key, row in rows:
        keys.append(key)
        values.append(row)
    cols = list(zip(*values, strict=True)) if values else [()] * len(columns)
    return pa.table(
        {
            "key": pa.array(keys, pa.string()),
            **{
                name: pa.array(list(col), pa.string()).dictionary_encode()
                for name, col in zip(columns, cols, strict=True)
            },
        }
    )


def _write_private(path: Path, data: bytes) -> None:
    """``data`` to ``path`` through an owner-only temporary file and a rename; the folder is
    created owner-only when missing."""
    folder = path.parent
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
