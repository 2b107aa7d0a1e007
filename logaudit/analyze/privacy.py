"""``logaudit privacy``: what personal data the logs hold, in which field, since when, where.

Per chunk, each scanned field's distinct values (its categories) go through the rules
(``enrich.pii``: RE2 over Arrow, validators on the candidates only); the rows whose value
matched are then counted through the category codes. Three partial tables merge like every
other: (kind, field, value) -> lines, first, last; (kind, field, path) -> lines; and the first
few (kind, field, file, line, value) examples of each chunk.

Nothing personal leaves unmasked: values are shown masked (``pii.mask_value``) and the top
paths with every datum the rules find in them masked (``pii.redact``). The history store
(``--state``) keeps no value either: ``stored_values`` replaces each by a keyed hash (the
store's key, as client tokens), which still counts distinct values.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import weakref
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from logaudit.analyze.base import Context, Partial, SectionSpec, Table
from logaudit.config import Settings
from logaudit.enrich import pii
from logaudit.report import Section
from logaudit.schema import arrow_strings

EXAMPLES_PER_CHUNK = 3
EXAMPLES_SHOWN = 3
TOP_PATHS = 3


def _rules(settings: Settings) -> tuple[pii.Rule, ...]:
    return pii.rules_for(getattr(settings, "privacy_rules", None))


# The last chunk's matches, per thread: the three tables of one chunk ask for them in turn.
# A weak reference: the cache neither keeps a chunk alive nor mistakes a new one for it.
_last = threading.local()


def matches(
    chunk: pd.DataFrame, settings: Settings
) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(kind, field, row positions, value per row) for each kind found in each field. Rules
    of one kind count a line once: the first rule that matches a value gives its datum."""
    rules = _rules(settings)
    hit = getattr(_last, "value", None)
    if hit is not None and hit[0]() is chunk and hit[1] is rules:
        return cast(list[tuple[str, str, np.ndarray, np.ndarray]], hit[2])
    found = list(_matches(chunk, rules))
    _last.value = (weakref.ref(chunk), rules, found)
    return found


def _matches(
    chunk: pd.DataFrame, rules: tuple[pii.Rule, ...]
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    for field in pii.FIELDS:
        if field not in chunk.columns:
            continue
        col = chunk[field].array
        cats = col.categories
        if not len(cats):
            continue
        values = arrow_strings(cats)
        # One pass of a few alternations picks the values any rule may match (a superset:
        # pii.prefilter); the rules, one by one, then see only those (1-2 % of them).
        cand = pii.candidates(values, pii.field_prefilter(rules, field))
        if not len(cand):
            continue
        sub = values.take(pa.array(cand))
        codes = np.asarray(col.codes)
        by_kind: dict[str, tuple[np.ndarray, list[str]]] = {}
        for rule in rules:
            if field not in rule.fields:
                continue
            at, found = pii.find(rule, sub)
            if not len(at):
                continue
            where = cand[at]
            lut, names = by_kind.get(rule.kind, (np.full(len(cats) + 1, -1, np.int64), []))
            fresh = lut[where] < 0
            lut[where[fresh]] = len(names) + np.arange(int(fresh.sum()))
            names.extend(v for v, f in zip(found, fresh, strict=True) if f)
            by_kind[rule.kind] = (lut, names)
        for kind, (lut, names) in by_kind.items():
            per_row = lut[codes]  # code -1 (missing) reads the spare last slot: -1
            rows = np.flatnonzero(per_row >= 0)
            if len(rows):
                yield kind, field, rows, np.asarray(names, dtype=object)[per_row[rows]]


def _stacked(
    found: list[tuple[str, str, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The chunk's matches as four flat columns (kind, field, row, value), in their order:
    each table then takes one pandas pass per chunk, not one per kind and field."""
    size = [len(rows) for _, _, rows, _ in found]
    kinds = np.repeat(np.asarray([k for k, _, _, _ in found], dtype=object), size)
    fields = np.repeat(np.asarray([f for _, f, _, _ in found], dtype=object), size)
    rows = np.concatenate([r for _, _, r, _ in found])
    values = np.concatenate([v for _, _, _, v in found]).astype(str).astype(object)
    return kinds, fields, rows, values


def t_pii_values(chunk: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    found = matches(chunk, settings)
    if not found:
        return pd.DataFrame()
    kinds, fields, rows, values = _stacked(found)
    local = chunk["local"].to_numpy()[rows].astype("datetime64[s]").astype(np.int64)
    f = pd.DataFrame({"kind": kinds, "field": fields, "value": values, "t": local})
    g = f.groupby(["kind", "field", "value"], sort=False)["t"].agg(["size", "min", "max"])
    return g.rename(columns={"size": "lines", "min": "first", "max": "last"})


def t_pii_paths(chunk: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    found = matches(chunk, settings)
    if not found:
        return pd.DataFrame()
    kinds, fields, rows, _ = _stacked(found)
    path = chunk["path"].array
    codes = np.asarray(path.codes)[rows]
    f = pd.DataFrame({"kind": kinds, "field": fields, "code": codes})
    g = f.groupby(["kind", "field", "code"], sort=False).size()
    kk, ff, cc = (g.index.get_level_values(i) for i in range(3))
    names = np.asarray(path.categories, dtype=object)[np.asarray(cc, dtype=np.int64)]
    return pd.DataFrame(
        {"lines": g.to_numpy().astype(np.int64)},
        index=pd.MultiIndex.from_arrays([kk, ff, names], names=["kind", "field", "path"]),
    )


def t_pii_examples(chunk: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    found = matches(chunk, settings)
    if not found:
        return pd.DataFrame()
    take = [(kind, field, rows[:EXAMPLES_PER_CHUNK], values[:EXAMPLES_PER_CHUNK])
            for kind, field, rows, values in found]
    kinds, fields, rows, values = _stacked(take)
    return pd.DataFrame(
        {
            "kind": kinds,
            "field": fields,
            "file": np.asarray(chunk["file"].iloc[rows].astype(str), dtype=object),
            "line": chunk["line"].iloc[rows].to_numpy(),
            "value": [pii.mask_value(str(v)) for v in values],
        }
    )


# A value as the store keeps it: "v:" and 16 hex digits of HMAC-SHA256 under the store's key.
VALUE_TOKEN_PREFIX = "v:"


def _value_token(value: str, key: bytes) -> str:
    digest = hmac.new(key, b"pii\0" + value.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return VALUE_TOKEN_PREFIX + digest.hexdigest()[:16]


def _is_value_token(text: str) -> bool:
    return (
        len(text) == 18
        and text.startswith(VALUE_TOKEN_PREFIX)
        and all(c in "0123456789abcdef" for c in text[2:])
    )


def stored_values(frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """``pii_values`` as the store writes it: each value replaced by its keyed hash (one value,
    one token within a store: the distinct counts stay those of one pass); never the value.
    Once per distinct value; a row keyed already (a stored day read back to grow it) is kept,
    and a day an older logaudit wrote, its values in clear, is keyed likewise."""
    if frame.empty or "value" not in frame.index.names:
        return frame
    idx = frame.index
    assert isinstance(idx, pd.MultiIndex)
    level = idx.names.index("value")
    values = np.asarray(idx.get_level_values(level), dtype=object).astype(str)
    uniq, inverse = np.unique(values, return_inverse=True)
    tokens = np.array(
        [v if _is_value_token(v) else _value_token(v, key) for v in uniq], dtype=object
    )
    # "masked": a masked form a day stored by qafix19a's logaudit kept beside each token;
    # nothing reads it, so a day grown drops it.
    out = frame.drop(columns="masked", errors="ignore")
    arrays = [
        pd.Index(tokens[inverse], dtype="str") if i == level else idx.get_level_values(i)
        for i in range(idx.nlevels)
    ]
    out.index = pd.MultiIndex.from_arrays(arrays, names=idx.names)
    return out


TABLES: dict[str, Table] = {
    # "masked": only in days stored by qafix19a's logaudit (stored_values drops it).
    "pii_values": Table(
        "pii_values", t_pii_values, agg={"first": "min", "last": "max", "masked": "first"}
    ),
    "pii_paths": Table("pii_paths", t_pii_paths),
    "pii_examples": Table("pii_examples", t_pii_examples, kind="concat"),
}
NEEDS = tuple(TABLES)


def _when(seconds: float) -> str:
    return str(pd.Timestamp(int(seconds), unit="s"))


def sec_personal_data(p: Partial, ctx: Context) -> Section:
    values = p.get("pii_values")
    title = "Personal data found"
    if values is None or values.empty:
        return Section("personal-data", title, pd.DataFrame(), note="none found")
    rules = _rules(ctx.settings)
    v = values.reset_index()
    g = v.groupby(["kind", "field"], sort=False).agg(
        lines=("lines", "sum"), distinct=("value", "size"), first=("first", "min"),
        last=("last", "max"),
    )
    paths = p.get("pii_paths")
    examples = p.get("pii_examples")
    order = {f: i for i, f in enumerate(pii.FIELDS)}
    rows: list[dict[str, Any]] = []
    for key, r in g.iterrows():
        kind, field = cast(tuple[str, str], key)
        top = ""
        if paths is not None and not paths.empty:
            pk = paths.xs((kind, field), level=["kind", "field"], drop_level=True)
            counts = pk.groupby(level=0)["lines"].sum()
            counts = counts.sort_values(ascending=False, kind="stable")
            top = ", ".join(
                f"{pii.redact(str(path), rules, 'path')} ({int(n)})"
                for path, n in counts.head(TOP_PATHS).items()
            )
        ex = ""
        if examples is not None and not examples.empty:
            e = examples[(examples["kind"] == kind) & (examples["field"] == field)]
            ex = ", ".join(
                f"{f}:{int(n)} {val}"
                for f, n, val in e[["file", "line", "value"]].head(EXAMPLES_SHOWN).itertuples(
                    index=False
                )
            )
        rows.append(
            {
                "kind": kind,
                "field": field,
                "lines": int(r["lines"]),
                "distinct": int(r["distinct"]),
                "first": _when(r["first"]),
                "last": _when(r["last"]),
                "top_paths": top,
                "examples": ex,
                "_order": (-int(r["lines"]), order.get(str(field), 9)),
            }
        )
    rows.sort(key=lambda x: x.pop("_order"))
    table = pd.DataFrame(rows)
    return Section(
        "personal-data",
        title,
        table,
        total_rows=len(table),
        note="lines: lines holding it; distinct: different values; values shown masked; "
        "first/last seen in the report zone",
        chart="lines",
        headline={"lines": int(g["lines"].sum()), "kinds": int(g.index.get_level_values(0)
                                                               .nunique())},
        narrow_drop=("examples", "top_paths", "first"),
    )


def sec_privacy_rules(p: Partial, ctx: Context) -> Section:
    """Every rule that ran, with what it looks for and the lines of its kind found."""
    values = p.get("pii_values")
    per_kind = (
        values.groupby(level="kind")["lines"].sum() if values is not None and not values.empty
        else pd.Series(dtype=np.int64)
    )
    rows = [
        {
            "rule": r.name,
            "kind": r.kind,
            "fields": ", ".join(r.fields),
            "validator": r.validator or "",
            "kind_lines": int(per_kind.get(r.kind, 0)),
        }
        for r in _rules(ctx.settings)
    ]
    return Section(
        "privacy-rules",
        "Privacy rules checked",
        pd.DataFrame(rows),
        total_rows=len(rows),
        note="rules from enrich/pii_rules.tsv and the config's [privacy_rules]; "
        "kind_lines: lines of that kind found, all fields",
    )


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("personal-data", "Personal data found", sec_personal_data, NEEDS),
    SectionSpec("privacy-rules", "Privacy rules checked", sec_privacy_rules, NEEDS),
)
PRIVACY_SECTIONS: tuple[str, ...] = tuple(s.name for s in SECTIONS)


def not_audited(bad: int) -> str:
    """The note of a privacy report whose logs had bad lines: the rules run on the fields of
    the lines read, so those were not looked at (``scrub`` still masks what it can cut of
    them, and passes the rest through as logged)."""
    from logaudit.wording import counted

    return (f"{counted(bad, 'bad line')} could not be read and "
            f"{'was' if bad == 1 else 'were'} not audited for personal data (see bad lines)")


def found_lines(sections: list[Section]) -> int:
    for s in sections:
        if s.name == "personal-data":
            return int(s.headline.get("lines", 0))
    return 0
