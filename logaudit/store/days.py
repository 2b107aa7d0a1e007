"""Per-day partials: every table computed per local calendar day, client addresses keyed.

The store keeps one partial per day. Rather than teach each table a day split, the store wraps
every table: the wrapper cuts the chunk by its ``day`` column (the local calendar day in the
report zone, ``schema.py``) and computes the table once per day, tagging the rows with the day
(an index level for grouped and distinct tables, a column for event tables). Any partition of
the lines merges to the one-pass result (``analyze/base.py``), so a day's rows merged with the
same day's rows of a later run, and days merged with each other, equal a one-pass run over the
same lines. Event tables (the page views that visits are cut from) keep their times, so a visit
that straddles a run boundary or midnight is cut exactly as in one pass.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from logaudit.analyze.base import Partial, Table
from logaudit.config import Settings
from logaudit.enrich.classify import visitor_key
from logaudit.schema import CLIENT_TOKEN_PREFIX, arrow_strings, hash_strings, is_client_token

DAY = "__day"
# Index levels and columns that hold a raw client address in some table. The store keeps a
# keyed hash of them instead (as ``--anonymize=hash`` will, #15): the same address gives the
# same token within one store, and nobody without the store's key can test a guess.
CLIENT_FIELDS = ("client",)
TOKEN_PREFIX = CLIENT_TOKEN_PREFIX

_last = threading.local()


def _split(chunk: pd.DataFrame) -> list[tuple[int, pd.DataFrame]]:
    """The chunk cut by day, computed once per chunk and shared by every wrapped table (the
    tables of one chunk are computed one after another on one thread)."""
    hit = getattr(_last, "value", None)
    if hit is not None and hit[0] is chunk:
        return hit[1]
    days = chunk["day"].to_numpy() if "day" in chunk else np.array([], np.int32)
    if len(days) == 0:
        parts: list[tuple[int, pd.DataFrame]] = []
    elif days.min() == days.max():
        parts = [(int(days[0]), chunk)]
    else:
        parts = []
        for d in np.unique(days):
            sub = chunk[days == d]
            sub.attrs = dict(chunk.attrs)
            parts.append((int(d), sub))
    _last.value = (chunk, parts)
    return parts


def _tag(frame: pd.DataFrame, day: int, kind: str) -> pd.DataFrame:
    if kind == "concat":
        out = frame.copy()
        out[DAY] = np.int32(day)
        return out
    idx = frame.index
    arrays: list[Any] = [np.full(len(frame), day, np.int32)]
    names: list[Any] = [DAY]
    if isinstance(idx, pd.MultiIndex):
        arrays += [idx.get_level_values(i) for i in range(idx.nlevels)]
        names += list(idx.names)
    else:
        arrays.append(idx)
        names.append(idx.name)
    out = frame.copy(deep=False)
    out.index = pd.MultiIndex.from_arrays(arrays, names=names)
    return out


def by_day(table: Table) -> Table:
    """``table`` computed per day of each chunk, each row tagged with its day."""

    def compute(chunk: pd.DataFrame, s: Settings) -> pd.DataFrame:
        frames = []
        for day, sub in _split(chunk):
            f = table.compute(sub, s)
            if len(f) and len(f.columns):
                frames.append(_tag(f, day, table.kind))
        if not frames:
            return pd.DataFrame()
        return frames[0] if len(frames) == 1 else pd.concat(frames)

    # A spilled table would have to be read back whole: the store reads its own days instead.
    return replace(table, compute=compute, spill_key=None)


def split_days(partial: Partial, tables: Mapping[str, Table]) -> dict[int, Partial]:
    """A by-day run's merged partial -> one plain partial per day."""
    out: dict[int, Partial] = {}
    for name, frame in partial.items():
        if not len(frame) or not len(frame.columns):
            continue
        if tables[name].kind == "concat":
            days = frame[DAY].to_numpy()
            for d in np.unique(days):
                out.setdefault(int(d), {})[name] = (
                    frame[days == d].drop(columns=DAY).reset_index(drop=True)
                )
            continue
        days = frame.index.get_level_values(DAY).to_numpy()
        rest = frame.droplevel(DAY)
        for d in np.unique(days):
            out.setdefault(int(d), {})[name] = rest[days == d]
    return out


def before_keying(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """What must be decided from the address itself, decided before it is keyed: a claimed
    crawler is checked against its engine's ranges and host names here, and only claims that
    fail are kept (the problems report lists those as fake crawlers), each with whether its
    client was a host name (``named``, +1 a name, -1 an address: the token no longer says;
    summed by a merge, the sign stays; a day stored before it adds 0)."""
    if name != "pb_claims" or frame.empty:
        return frame
    from logaudit.analyze.problems.clients import claimed_by_name, genuine

    clients = frame.index.get_level_values("client")
    engines = frame.index.get_level_values("engine")
    fake = [not genuine(str(c), str(e)) for c, e in zip(clients, engines, strict=True)]
    kept = frame[np.array(fake, dtype=bool)]
    return kept.assign(named=claimed_by_name(kept.index.get_level_values("client")))


def keyed(frame: pd.DataFrame, key: bytes, name: str = "") -> pd.DataFrame:
    """``frame`` with every client address replaced by its keyed hash token (HMAC-SHA256,
    16 hex digits). Hashing runs once per distinct address. The personal data the privacy
    report found (``pii_values``) likewise: a keyed hash and a masked form, never the value."""
    if name == "pii_values":
        from logaudit.analyze.privacy import stored_values

        return stored_values(frame, key)
    names = [n for n in frame.index.names if n in CLIENT_FIELDS]
    cols = [c for c in frame.columns if c in CLIENT_FIELDS]
    if not names and not cols:
        return frame

    def tokens(values: pd.Index | pd.Series) -> np.ndarray:
        uniq, inverse = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
        mapped = np.array([token(v, key) for v in uniq], dtype=object)
        return mapped[inverse]

    out = frame.copy()
    if names == ["client"] and "agent" in frame.index.names and "visitor" not in out.columns:
        # The visitor key of each (client, agent) row, kept beside the token so that events
        # keyed by visitor still find their client's row (the movers section does).
        idx = frame.index
        assert isinstance(idx, pd.MultiIndex)
        ci, ai = idx.names.index("client"), idx.names.index("agent")
        out["visitor"] = visitor_key(
            hash_strings(idx.levels[ci])[np.asarray(idx.codes[ci])],
            hash_strings(idx.levels[ai])[np.asarray(idx.codes[ai])],
        )
    for c in cols:
        out[c] = pd.array(tokens(out[c]), dtype="str")
    if names:
        idx = out.index
        if isinstance(idx, pd.MultiIndex):
            arrays = [
                pd.Index(tokens(idx.get_level_values(i)), dtype="str")
                if idx.names[i] in CLIENT_FIELDS
                else idx.get_level_values(i)
                for i in range(idx.nlevels)
            ]
            out.index = pd.MultiIndex.from_arrays(arrays, names=idx.names)
        else:
            out.index = pd.Index(tokens(idx), dtype="str", name=idx.name)
    return out


def token(address: str, key: bytes) -> str:
    if is_client_token(address):
        return address  # already keyed (a day read back from the store)
    return TOKEN_PREFIX + hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:16]


# Where each client is (country, city, network, address kind), looked up when the address is
# still known and stored per day under its token: reports from the store show the same places
# as a one-pass run with the same GeoIP databases.
PLACES = Table("places", lambda c, s: pd.DataFrame(), kind="distinct")


def clients_of(partial: Partial) -> pd.Index:
    """The distinct client addresses in a day's tables (before keying)."""
    found: list[pd.Index] = []
    for frame in partial.values():
        if "client" in frame.index.names:
            found.append(pd.Index(frame.index.get_level_values("client").unique()))
        if "client" in frame.columns:
            found.append(pd.Index(frame["client"].unique()))
    if not found:
        return pd.Index([], dtype=object)
    out = found[0]
    for f in found[1:]:
        out = out.union(f)
    return out.astype(object)


def places(
    clients: pd.Index, lookup: Callable[[pd.Index], pd.DataFrame], key: bytes
) -> pd.DataFrame:
    """The places of ``clients``, indexed by their tokens."""
    if not len(clients):
        return pd.DataFrame()
    rows = lookup(clients).reset_index(drop=True)
    rows.index = pd.Index([token(str(c), key) for c in clients], dtype="str", name="client")
    return rows


def place_lookup(
    stored: pd.DataFrame, fallback: Callable[[pd.Index], pd.DataFrame]
) -> Callable[[pd.Index], pd.DataFrame]:
    """A geo lookup (``enrich.geo`` contract) over tokens, from the stored places; tokens with
    no stored place (none should be missing) get what ``fallback`` says of them."""

    def lookup(clients: pd.Index) -> pd.DataFrame:
        at = _rows_of(stored.index, clients)
        known = at >= 0
        if known.all():
            out = stored.take(at)
        else:
            out = fallback(clients)
            if known.any():
                got = stored.take(at[known])
                out = out.copy()
                for c in got.columns:
                    col = out[c].astype(object)
                    col[known] = got[c].astype(object).to_numpy()
                    out[c] = col
        out.index = clients
        return out

    return lookup


def _rows_of(index: pd.Index, values: pd.Index) -> np.ndarray:
    """The row of each of ``values`` in ``index`` (unique), -1 where it is not there. Tokens
    are found by Arrow's hashing: pandas' ``isin`` on Arrow strings made a Python scalar per
    stored token (a re-run's report paid ~0.12 s for 23,000 places), and its indexer a Python
    string per token."""
    if index.dtype == "str" == values.dtype:
        at = pc.index_in(arrow_strings(values), value_set=arrow_strings(index))
        return np.asarray(at.fill_null(-1), dtype=np.intp)
    return np.asarray(index.get_indexer(values), dtype=np.intp)
