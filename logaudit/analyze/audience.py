"""Who the visitors are: browsers, operating systems, devices, crawlers and tools, countries,
networks, and the top visitors.

One table carries all of it: per visitor key (client, user agent), its hits, people hits,
visitor hits (people, not 4xx: what makes a visitor), page views, bandwidth, first and last
seen. At the end each distinct agent is classified once (``enrich.agents``) and each distinct
client looked up once (``enrich.geo``); panels are group-bys over those few rows.

A panel's *visitors* are the distinct visitor keys with at least one visitor hit, as in the
overview's unique visitors. Browser, OS, device, country and network panels count people only
(``--bots`` decides who people are); the crawler panel counts crawlers and tools.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from logaudit.analyze import blockkeys
from logaudit.analyze.base import (
    Context,
    Partial,
    Table,
    _same_text,
    _sums,
    int_bincount,
    used_categories,
)
from logaudit.analyze.traffic import ranked
from logaudit.config import Settings
from logaudit.enrich.classify import classify_agents
from logaudit.report import Section
from logaudit.schema import categorical


def t_visitors(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    client, agent = c["client"].array, c["agent"].array
    inv, uniq, na = blockkeys.visitor_codes(c)  # the visitor-days table counts by them too
    status = c["status"].to_numpy()
    person = c["person"].to_numpy()
    visitor_row = person & ~((status >= 400) & (status < 500))
    n = len(uniq)

    def sums(w: np.ndarray | None) -> np.ndarray:
        return int_bincount(inv, w, n).astype(np.int64, copy=False)

    local = c["local"].array.asi8
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, inv, local)  # ufunc.at: 15x a group-by's min/max here
    np.maximum.at(last, inv, local)
    frame = pd.DataFrame(
        {
            "hits": sums(None),
            "people_hits": sums(person),
            "visitor_hits": sums(visitor_row),
            "page_views": sums(c["is_page"].to_numpy() & person),
            "bytes": sums(c["bytes"].to_numpy()),
            "first": first,
            "last": last,
        }
    )
    # The index from codes: each level the categories its rows use, in order of first use (as
    # a group-by's levels are), taken from the Arrow-backed categories (no Python objects).
    # MultiIndex.from_arrays factorized and sorted the text again: 1M distinct 130-byte
    # agents, about 1 s of CPU.
    levels, codes = [], []
    for cat, of_key in ((client, uniq // na), (agent, uniq % na)):
        at, used = pd.factorize(of_key, sort=False)
        levels.append(pd.Index(cat.categories.take(used), dtype="str"))
        codes.append(at)
    frame.index = pd.MultiIndex(
        levels=levels,
        codes=codes,  # type: ignore[arg-type]
        names=["client", "agent"],
        verify_integrity=False,
    )
    return frame


def t_agents(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """Each distinct agent's classification, carried in the partial so that whoever merges
    (another process, a Dask worker) needs no classifier of its own."""
    agent = c["agent"].array
    used = used_categories(np.asarray(agent.codes), len(agent.categories))
    # The block's categories as they are, with the rows used: the enricher classified the same
    # categories, whose lookup keys the classifier remembers (``AgentClassifier._keys``).
    frame = classify_agents(agent.categories, used, coded=True)
    frame.index = frame.index.rename("agent")
    # One rule everywhere: the class the enricher gave the hits wins. It differs only for a
    # format that logs no user agent (common, vcommon), where every hit is a person
    # (METRICS.md), not the "(no user agent)" tool an empty agent field would be.
    if "agent_class" in c and _given_person(c, used, frame["agent_class"].to_numpy()):
        cls = c["agent_class"].array
        codes = np.asarray(agent.codes)
        # Each agent's first row (the least: NumPy does not promise which of repeated indices
        # a fancy assignment writes last); read only for the agents used.
        first_row = np.full(len(agent.categories), len(codes), np.int64)
        np.minimum.at(first_row, codes, np.arange(len(codes), dtype=np.int64))
        given = np.asarray(cls.categories.astype(str))[np.asarray(cls.codes)[first_row[used]]]
        person = (given == "person") & (frame["agent_class"].to_numpy() != "person")
        if person.any():
            # Text again where the class changes (formats that log no agent): coded below.
            frame = frame.astype({col: "str" for col in frame.columns})
            frame.loc[person, "agent_class"] = "person"
            frame.loc[person, "crawler"] = ""
            frame.loc[person, "device"] = "other"
    return _coded(frame)


def _given_person(c: pd.DataFrame, used: np.ndarray, classes: np.ndarray) -> bool:
    """Whether a hit of an agent the classifier does not call a person (``classes``, per
    category at ``used``) was given the person class (a format without agents): one pass
    over the rows' codes, where finding each agent's first row took a scatter of them all."""
    cls = c["agent_class"].array
    if "person" not in cls.categories:
        return False
    agent = c["agent"].array
    not_person = np.zeros(len(agent.categories), bool)
    not_person[used] = classes != "person"
    person = np.asarray(cls.codes) == cls.categories.get_loc("person")
    return bool((person & not_person[np.asarray(agent.codes)]).any())


def _coded(frame: pd.DataFrame) -> pd.DataFrame:
    """The classification's text columns as categoricals: a few hundred browsers, versions
    and crawlers, each row a code. As text, 1M distinct agents held seven strings each (about
    100 MB per copy) in every pending frame, merge and the merged table; the values are the
    same (the join, ``_joined_columns``, reads either)."""
    cols = {}
    for col in frame.columns:
        values = frame[col]
        if values.dtype == "str":
            codes, uniques = pd.factorize(values.array)
            cols[col] = categorical(codes, pd.Index(uniques, dtype="str"))
    return frame.assign(**cols) if cols else frame


TABLES = {
    # "visitor": the key of a stored row whose client is a keyed token (store/days.py).
    "visitors": Table("visitors", t_visitors, {"first": "min", "last": "max", "visitor": "max"}),
    # One row per distinct agent, the same in every partial that has it (the classification of
    # its text; the enricher's class where a format logs no agent): partials merge as a union
    # that keeps each agent's first row, as a group-by taking each column's first value did
    # (no value is missing), without grouping seven text columns (on the all-distinct
    # benchmark, about 3 s of CPU and the merge's biggest transient copies).
    "agents": Table("agents", t_agents, kind="distinct", agents="rows"),
}
NEEDS = ("visitors", "agents")


def named_places(places: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """GeoIP rows (one per client) with the given columns naming non-public addresses for
    what they are, '(private address)' and the like, rather than 'unknown'."""
    kind = places["address_kind"]
    label = "(" + kind + " address)"
    return places.assign(**{c: places[c].where(kind == "public", label) for c in columns})


def _classified(p: Partial, ctx: Context) -> pd.DataFrame:
    """The visitors table joined with agent classes and places, computed once per report."""
    return ctx.once("audience", lambda: _joined(p, ctx))


def _joined(p: Partial, ctx: Context) -> pd.DataFrame:
    v = p.get("visitors", pd.DataFrame())
    if v.empty:
        return v
    # The index's levels are the distinct clients and agents, its codes say which each row
    # has: lookups and joins go through them, never through a row's text (hashing 70,000
    # client and agent strings per join was a third of the audience panels' time).
    index = v.index
    if not isinstance(index, pd.MultiIndex):
        raise TypeError("the visitors table is keyed by (client, agent)")
    levels = dict(zip(index.names, index.levels, strict=True))
    codes = dict(zip(index.names, index.codes, strict=True))
    # No panel reads a row's agent text (its classes come from the agents table): only the
    # client level becomes a column (1M distinct agents were 130 MB more per row).
    cols = _client_first(v)
    agents = p.get("agents", pd.DataFrame())
    if not agents.empty:
        pos = _through(codes["agent"], _positions(agents.index, levels["agent"]))
        cols = _attached(cols, agents, pos)
    if ctx.geo is not None:
        # One GeoIP row per level value, in level order: a row's client code is its row.
        from logaudit.enrich.geo import lookup_coded

        # Categoricals from the lookup (a code per client, not six strings per client).
        places = one_name_per_asn(lookup_coded(ctx.geo, pd.Index(levels["client"], dtype="str")))
        coded = _coded_places(places, ("country", "network"))
        del places
        cols = _attached(cols, coded, np.asarray(codes["client"]))
    # One frame made once from its columns: a reset_index and an assign per joined table
    # each built a frame of every column (~4 ms of pandas' bookkeeping on the audience
    # half of the forked finish, which bounds a 150,000-line summary's end; issue #18).
    return pd.DataFrame(cols, copy=False)


def _client_first(v: pd.DataFrame) -> dict[str, Any]:
    """``v.reset_index(level="agent", drop=True).reset_index()``'s columns: the client's
    text per row first, then ``v``'s own."""
    if "client" in v.columns:  # as before: reset_index raises (the name is taken)
        v = v.reset_index(level="agent", drop=True).reset_index()
    cols: dict[str, Any] = {"client": v.index.get_level_values("client").array}
    cols.update((c, v[c].array) for c in v.columns)
    return cols


def _coded_places(places: pd.DataFrame, named: tuple[str, ...]) -> pd.DataFrame:
    """``named_places(places, named)`` with each text column a categorical of its values in
    order of first appearance (what the join, ``_joined_columns``, makes of the text, so its
    result is the same), the non-public addresses' labels put in by codes. ``places`` (one GeoIP
    row per client: 5M distinct clients, a dozen text copies of 5M values between the label
    concatenation, ``where`` and the join's factorizing, the finish's peak) loses each text
    column as it is coded, so at most one column is held twice. Where a label would equal a
    value of its column (it names no place), the text way. Columns may come as categoricals of
    text (the GeoIP lookup's ``coded``): their codes are renumbered, no text per client made."""
    text = [c for c in places.columns if places[c].dtype == "str" or _text_categorical(places[c])]
    if (
        "address_kind" not in text
        or any(places[c].hasnans for c in text)
        or not set(named) <= set(text)
    ):
        return named_places(_as_text(places), named)
    kind = places["address_kind"].array
    if isinstance(kind, pd.Categorical):  # its own narrow codes, not 64-bit ones per client
        kind_codes, used = _first_appearance(np.asarray(kind.codes), len(kind.categories))
        kinds = pd.Index(kind.categories.take(used), dtype="str")
    else:
        kind_codes, kinds = pd.factorize(kind)
    del kind
    public = np.asarray(kinds == "public")
    labels = pd.Index([f"({k} address)" for k in kinds], dtype="str")
    if not public.all() and any(_holds_any(places[c], labels) for c in named):
        return named_places(_as_text(places), named)
    out: dict[str, object] = {}
    for col in list(places.columns):
        values = places[col]
        if col not in text:
            out[col] = values.array
            continue
        # As factorizing its text would (no value is missing here): a categorical by its
        # codes, the used categories in order of first row.
        codes, uniques = _factorized(values)
        uniques = pd.Index(uniques, dtype="str")
        del values
        width = _code_type(len(uniques) + len(labels))
        codes = codes.astype(width)  # what the categorical keeps: no 64-bit copies below
        if col in named and not public.all():
            # Labels after the column's own values; rows of a non-public kind take their label.
            label_codes = (kind_codes + len(uniques)).astype(width)
            codes = np.where(public[kind_codes], codes, label_codes)
            del label_codes
            uniques = uniques.append(labels)
            # Renumbered in order of first appearance, as factorizing the text would be.
            codes, used = _first_appearance(codes, len(uniques))
            uniques = uniques.take(used)
        out[col] = categorical(codes, uniques)
        del places[col], codes
    return pd.DataFrame(out, index=places.index, copy=False)


def _holds_any(values: pd.Series, labels: pd.Index) -> bool:
    """``values.isin(labels).any()``; of a categorical (no value missing), by the categories
    its rows use, not a lookup per row."""
    cat = values.array
    if isinstance(cat, pd.Categorical):
        used = used_categories(np.asarray(cat.codes), len(cat.categories))
        return bool(cat.categories.take(used).isin(labels).any())
    return bool(values.isin(labels).any())


def _text_categorical(values: pd.Series) -> bool:
    dtype = values.dtype
    return isinstance(dtype, pd.CategoricalDtype) and dtype.categories.dtype == "str"


def _as_text(places: pd.DataFrame) -> pd.DataFrame:
    """``places`` with categoricals of text as text (what ``named_places`` reads)."""
    cats = [c for c in places.columns if _text_categorical(places[c])]
    return places.astype(dict.fromkeys(cats, "str")) if cats else places


def _code_type(n: int) -> type[np.signedinteger]:
    """The narrowest signed integer type for codes of ``n`` values (as pandas keeps them)."""
    for t in (np.int8, np.int16, np.int32):
        if n < np.iinfo(t).max:
            return t
    return np.int64


# Up to this many distinct codes, their first appearances are found by one scan per code
# (a few passes over 1-byte codes) rather than a hash table of 64-bit copies of them all.
FEW_CODES = 64


def _first_appearance(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(codes)`` of codes in ``range(n)``: each renumbered in order of first
    appearance (in ``codes``' dtype), and the old code of each new one."""
    if n > FEW_CODES or not len(codes):
        at, used = pd.factorize(codes, sort=False)
        return at.astype(codes.dtype), used
    firsts = np.full(n, -1, np.int64)
    for c in range(n):
        i = int(np.argmax(codes == c))
        if codes[i] == c:
            firsts[c] = i
    used = np.flatnonzero(firsts >= 0)
    used = used[np.argsort(firsts[used], kind="stable")]
    lut = np.full(n, -1, codes.dtype)
    lut[used] = np.arange(len(used), dtype=codes.dtype)
    return lut[codes], used


def _positions(index: pd.Index, values: pd.Index) -> np.ndarray:
    """``index.get_indexer(values)``; without a hash table of the text when the two hold the
    same values in the same order, as the agents index and the visitors agent level do
    (``base.share_text``): the table held every agent as a Python string, 1M of them."""
    if index is values or _same_text(index, values):
        return np.arange(len(index))
    return index.get_indexer(values)


def one_name_per_asn(places: pd.DataFrame) -> pd.DataFrame:
    """One network label per AS number: an ISP database names most of an ISP's addresses
    ('Bredband2 AB') but may hold only the AS for others ('AS29518 Bredband2 AB'); the ISP's
    name wins (the most common one when there are several), so one ISP is one row."""
    if "asn" not in places or places["asn"].isna().all():
        return places
    f = places[places["asn"].notna()]
    names = f["network"].astype(str)
    as_label = names.str.match(r"^AS\d+( |$)")
    pick = f.assign(_n=names, _as=as_label)
    counts = pick.groupby(["asn", "_as", "_n"], sort=True).size().reset_index(name="k")
    counts = counts.sort_values(["asn", "_as", "k", "_n"], ascending=[True, True, False, True],
                                kind="stable")
    best = counts.drop_duplicates("asn").set_index("asn")["_n"]
    label = places["asn"].map(best)
    return places.assign(network=label.where(places["asn"].notna(), places["network"])
                         .astype("str"))


def _through(codes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``at[code]`` per row; -1 where the code is -1 (a missing key in a MultiIndex)."""
    codes = np.asarray(codes)
    if not len(at):
        return np.full(len(codes), -1)
    return np.where(codes >= 0, at[np.maximum(codes, 0)], -1)


def _attached(cols: dict[str, Any], table: pd.DataFrame, pos: np.ndarray) -> dict[str, Any]:
    """``cols`` (a frame's columns by name) with ``table``'s joined by ``_joined_columns``
    (text columns as categoricals; -1 in ``pos``: missing values): a column of the same
    name replaced where it stands, the others after."""
    return {**cols, **_joined_columns(table, pos)}


def _joined_columns(table: pd.DataFrame, pos: np.ndarray) -> dict[str, Any]:
    """``table``'s columns with its row ``pos[i]`` as row i (-1: none, missing values, as a
    join gives). Text columns become categoricals: each row holds a code into the column's
    few distinct values (browsers, countries...) rather than a copy of the text. Per-row
    text had been half the audience panels' time, and 100 MB at 245,000 clients."""
    missing = pos < 0
    cols: dict[str, Any] = {}
    for col in table.columns:
        values = table[col]
        if values.dtype == "str" or values.dtype == object or values.dtype == "category":
            fcodes, uniques = _factorized(values)
            # The categorical's own width before the per-row take (5M rows: 40 MB a column
            # of 64-bit codes, then the categorical's narrowing copy).
            rows = fcodes.astype(_code_type(len(uniques)), copy=False)[pos]
            rows[missing] = -1
            cols[col] = categorical(rows, uniques)
        else:
            cols[col] = values.array.take(pos, allow_fill=True)
    return cols


def _factorized(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values)``, its uniques as an Index of text. A categorical of text
    with no missing value (the agents table's and the places' columns) by its codes, each
    renumbered in order of first appearance as factorizing does, without making the
    categories used into text again (~0.1 ms a column, a dozen columns per report)."""
    cat = values.array
    if isinstance(cat, pd.Categorical) and _text_categorical(values):
        codes = np.asarray(cat.codes)
        if len(codes) and codes.min() >= 0:
            at, used = _first_appearance(codes, len(cat.categories))
            return at, cat.categories.take(used)
    fcodes, uniques = pd.factorize(values)
    return fcodes, pd.Index(uniques, dtype="str")


def _text_keys(g: pd.DataFrame) -> pd.DataFrame:
    """Group keys back to plain text, so that ranking breaks ties alphabetically (a
    categorical index sorts by category order)."""
    if isinstance(g.index, pd.CategoricalIndex):
        g.index = g.index.astype("str")
    return g


# What the people panels read (``_panel``: its ``by`` and ``detail`` columns and the sums);
# ``_panel`` raises on a key or detail not listed here.
PANEL_COLUMNS = (
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "country",
    "city",
    "network",
    "people_hits",
    "visitor_hits",
    "page_views",
)


def _people(v: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """The visitor keys with people hits, filtered once for every panel: only the columns
    the panels read (the join's other dozen were each taken row by row for nothing)."""

    def people() -> pd.DataFrame:
        return v[[c for c in v.columns if c in PANEL_COLUMNS]][v["people_hits"] > 0]

    return ctx.once("audience_people", people)


WHO_COUNTS = {
    "auto": "people only",
    "exclude": "people only (crawlers and tools left out)",
    "include": "everyone, crawlers and tools counted as people (--bots include)",
    "only": "crawlers and tools only (--bots only)",
}


def who_counts(bots: str) -> str:
    """Who the people panels count, in words, for the --bots mode in force."""
    return WHO_COUNTS.get(bots, "people only")


def _panel(
    v: pd.DataFrame,
    ctx: Context,
    by: str,
    name: str,
    title: str,
    detail: str | None = None,
    note: str = "",
) -> Section:
    # The label follows --bots: "people only" is true only in auto and exclude modes.
    note = note.replace("people only", who_counts(ctx.settings.bots))
    for col in (by, detail):
        if col is not None and col not in PANEL_COLUMNS:
            # _people keeps only PANEL_COLUMNS: the panel would say "nothing to show".
            raise ValueError(f"panel column {col!r} is not in PANEL_COLUMNS")
    people = _people(v, ctx)
    if people.empty or by not in people:
        return Section(name, title, pd.DataFrame(), note=note or "nothing to show")
    # Only the columns this panel reads.
    keep = [by, *([detail] if detail else []), "people_hits", "visitor_hits", "page_views"]
    g = _panel_counts(people, by)
    if g is None:
        people = people[keep]
        g = _panel_grouped(people, by)
    g = _text_keys(g)
    hits = g["hits"]
    if isinstance(hits.dtype, np.dtype) and hits.dtype.kind in "iu":
        # What the Series' division and round give, by numpy (~0.3 ms of pandas a panel).
        g["share"] = np.round(hits.to_numpy() / hits.to_numpy().sum(), 4)
    else:
        g["share"] = (hits / hits.sum()).round(4)
    if detail is not None:
        g["top"] = _top_details(people, by, detail)
    rows, total = ranked(g, ctx.settings, by.replace("_", " "))
    return Section(name, title, rows, total, note=note, chart="hits")


def _panel_grouped(people: pd.DataFrame, by: str) -> pd.DataFrame:
    """A panel's hits, visitors and page views per ``by`` value by pandas' group-by
    (``_panel_counts``' answer, for any table)."""
    return (
        people.assign(is_visitor=people["visitor_hits"] > 0)
        .groupby(by, sort=False, observed=True)
        .agg(
            hits=("people_hits", "sum"),
            visitors=("is_visitor", "sum"),
            page_views=("page_views", "sum"),
        )
    )


def _panel_counts(people: pd.DataFrame, by: str) -> pd.DataFrame | None:
    """A panel's hits, visitors and page views per value of ``by`` (a categorical: what
    ``_joined_columns`` and ``_coded_places`` make), by ``np.bincount`` over its codes: the
    group-by's named aggregation cost ~4 ms of set-up per panel whatever the rows (five panels
    on the audience half of the forked finish, which bounds it; issue #18). The rows are the
    groups the group-by gives (values used, missing ones left out), in category order;
    ``ranked`` orders them by hits and key, so their order changes no output. None where that
    group-by is needed (not a categorical, integer columns not int64, nothing to count)."""
    col = people[by]
    if not isinstance(col.dtype, pd.CategoricalDtype):
        return None
    sums = [people[c].to_numpy() for c in ("people_hits", "visitor_hits", "page_views")]
    if any(a.dtype != np.int64 for a in sums):
        return None
    codes = np.asarray(col.array.codes)
    cats = col.array.categories
    keep = codes >= 0
    if not keep.all():
        codes = codes[keep]
        sums = [a[keep] for a in sums]
    if not len(codes):
        return None
    counted = _sums(
        codes, len(cats), {"hits": sums[0], "visitors": sums[1] > 0, "page_views": sums[2]}
    )
    used = np.flatnonzero(counted[""])
    hits, visitors, page_views = (counted[c][used] for c in ("hits", "visitors", "page_views"))
    index = pd.Index(cats.take(used), name=by).astype("str")
    return pd.DataFrame(
        {"hits": hits, "visitors": visitors, "page_views": page_views}, index=index, copy=False
    )


def _top_details(people: pd.DataFrame, by: str, detail: str, k: int = 3) -> pd.Series:
    """'120 (61%), 119 (22%)': the top ``k`` values of ``detail`` within each group."""
    coded = _top_coded(people, by, detail, k)
    if coded is not None:
        return coded
    d = people.groupby([by, detail], sort=False, observed=True)["people_hits"].sum().reset_index()
    d = d[d[detail] != ""]
    totals = people.groupby(by, sort=False, observed=True)["people_hits"].sum().to_dict()
    # Each group's k largest, ties in the table's order (as nlargest(k) per group, without a
    # pandas call per group: ~2 ms each, most of this function on a small log; issue #18).
    top = d.sort_values("people_hits", ascending=False, kind="stable")
    top = top.groupby(by, sort=False, observed=True).head(k)
    picked: dict[object, list[str]] = {}
    for key, val, hits in zip(top[by], top[detail], top["people_hits"], strict=True):
        picked.setdefault(key, []).append(f"{val} ({hits / totals[key]:.0%})")
    return pd.Series({key: ", ".join(texts) for key, texts in picked.items()}, dtype=object)


# Pairs of (group, detail) categories counted in a dense table when there are at most this
# many of them (and no more than a few per row): 8 bytes each, a few tables.
DENSE_PAIRS = 1 << 22
# Visitor rows counted per slice by _top_coded.
TOP_SLICE = 1 << 20


def _top_coded(people: pd.DataFrame, by: str, detail: str, k: int) -> pd.Series | None:
    """``_top_details`` from the two categoricals' codes: each (group, detail) pair's hits
    summed by a bincount of ``by * n + detail``, where the group-by of two categoricals over
    every visitor row held a hash table and 64-bit copies of the codes (5M distinct agents:
    the finish's next peak, issue #18). The same pairs in the same order: the group-by's
    groups come in order of each pair's first row, ties keep that order (a stable sort).
    None when a column is not categorical (the group-by then)."""
    bys, details = people[by].array, people[detail].array
    if not isinstance(bys, pd.Categorical) or not isinstance(details, pd.Categorical):
        return None
    hits = people["people_hits"].to_numpy()
    bcodes, dcodes = np.asarray(bys.codes), np.asarray(details.codes)
    nb, nd = len(bys.categories), len(details.categories)
    n = len(bcodes)
    totals: np.ndarray
    sums: np.ndarray
    if nb * nd <= max(DENSE_PAIRS, 4 * n):
        # A slice of rows at a time: bincount's 64-bit copies of the codes and weights are a
        # slice's, not 5M rows' (the sums are of integers, exact in float64 below 2**53).
        totals = np.zeros(nb)
        sums = np.zeros(nb * nd)
        first = np.full(nb * nd, n, np.int64)
        for start in range(0, n, TOP_SLICE):
            b, d = bcodes[start : start + TOP_SLICE], dcodes[start : start + TOP_SLICE]
            h = hits[start : start + TOP_SLICE]
            # Rows without a group are in no group; without a detail, in its total only.
            has = b >= 0
            totals += np.bincount(b[has], weights=h[has], minlength=nb)
            both = np.flatnonzero(has & (d >= 0))
            key = b[both].astype(np.int64) * nd + d[both]
            sums += np.bincount(key, weights=h[both], minlength=nb * nd)
            # Each pair's first row (NumPy does not say which repeat a fancy set keeps).
            np.minimum.at(first, key, both + start)
        pairs = np.flatnonzero(first < n)
        first, sums = first[pairs], sums[pairs]
        pair_by, pair_detail = pairs // nd, pairs % nd
    else:
        # Many categories: the pairs numbered in order of first row (a hash of the keys).
        grouped = bcodes >= 0
        totals = np.bincount(bcodes[grouped], weights=hits[grouped], minlength=nb)
        paired = grouped & (dcodes >= 0)
        key = bcodes[paired].astype(np.int64) * nd + dcodes[paired]
        at, uniq = pd.factorize(key, sort=False)
        sums = np.bincount(at, weights=hits[paired], minlength=len(uniq))
        first = np.arange(len(uniq), dtype=np.int64)
        pair_by, pair_detail = uniq // nd, uniq % nd
        del key, at
    named = np.asarray(details.categories.astype(str), dtype=object)
    keep = named[pair_detail] != ""
    first, sums, pair_by, pair_detail = first[keep], sums[keep], pair_by[keep], pair_detail[keep]
    # Within each group: most hits first, ties in order of the pair's first row.
    order = np.lexsort((first, -sums, pair_by))
    pair_by, pair_detail, sums = pair_by[order], pair_detail[order], sums[order]
    # A pair's rank in its group: its place less its group's first place (groups sorted).
    top = np.arange(len(pair_by)) - np.searchsorted(pair_by, pair_by, side="left") < k
    groups = np.asarray(bys.categories.astype(str), dtype=object)
    picked: dict[object, list[str]] = {}
    for g, dc, pair_hits in zip(
        pair_by[top].tolist(), pair_detail[top].tolist(), sums[top].tolist(), strict=True
    ):
        picked.setdefault(groups[g], []).append(f"{named[dc]} ({pair_hits / totals[g]:.0%})")
    return pd.Series({name: ", ".join(texts) for name, texts in picked.items()}, dtype=object)


def sec_browsers(p: Partial, ctx: Context) -> Section:
    v = _classified(p, ctx)
    return _panel(
        v,
        ctx,
        "browser",
        "browsers",
        "Browsers",
        "browser_version",
        note="people only; top: most used major versions",
    )


def sec_os(p: Partial, ctx: Context) -> Section:
    v = _classified(p, ctx)
    return _panel(v, ctx, "os", "os", "Operating systems", "os_version", note="people only")


def sec_devices(p: Partial, ctx: Context) -> Section:
    v = _classified(p, ctx)
    return _panel(v, ctx, "device", "devices", "Devices", note="people only")


def sec_countries(p: Partial, ctx: Context) -> Section:
    v = _classified(p, ctx)
    return _panel(
        v, ctx, "country", "countries", "Countries", "city", note="people only; top: cities"
    )


def sec_networks(p: Partial, ctx: Context) -> Section:
    v = _classified(p, ctx)
    return _panel(
        v,
        ctx,
        "network",
        "networks",
        "ISPs and networks",
        note="people only; ISP database, else AS number and organisation",
    )


def sec_crawlers(p: Partial, ctx: Context) -> Section:
    v = _classified(p, ctx)
    title = "Crawlers and tools"
    if v.empty or "agent_class" not in v:
        return Section("crawlers", title, pd.DataFrame())
    # Only the columns the panel reads, before the rows are taken.
    bots = v[["crawler", "agent_class", "client", "hits", "bytes"]][v["agent_class"] != "person"]
    if bots.empty:
        return Section("crawlers", title, pd.DataFrame(), note="no crawler or tool seen")
    bots = _one_spelling(bots)
    g = _crawler_counts(bots)
    if g is not None:
        g = _crawler_table(g, int(v["hits"].sum()))
    else:
        g = bots.groupby(["crawler", "agent_class"], sort=False, observed=True).agg(
            hits=("hits", "sum"), bandwidth=("bytes", "sum"), clients=("client", "nunique")
        )
        g["share"] = (g["hits"] / v["hits"].sum()).round(4)
        g = g.reset_index(level="agent_class").rename(columns={"agent_class": "kind"})
        g = _text_keys(g).astype({"kind": "str"})
    rows, total = ranked(g, ctx.settings, "name")
    return Section("crawlers", title, rows, total, note="share: of all hits", chart="hits")


def _one_spelling(bots: pd.DataFrame) -> pd.DataFrame:
    """Each robot under one name whatever the case its agents write it in ('Googlebot',
    'googlebot', 'GOOGLEBOT'; robots are matched without regard to case): the spelling with
    the most hits; on a tie one in mixed case (a product's own: 'Googlebot', 'BingBot'), then
    the first in code-point order. Spellings of one kind only: a tool never takes a crawler's
    (a store from an older version holds 'CURL' a crawler, this one 'curl' a tool). Only the
    crawler categories change."""
    crawler = bots["crawler"]
    if not isinstance(crawler.dtype, pd.CategoricalDtype):
        return bots
    names = crawler.array.categories
    folded = np.asarray(names.str.lower(), object)
    if not pd.Index(folded).duplicated().any():
        return bots
    codes = np.asarray(crawler.array.codes, np.int64)
    kind = pd.factorize(bots["agent_class"], sort=False)[0].astype(np.int64) + 1  # 0: none
    width = int(kind.max(initial=0)) + 1
    # Each (spelling, kind) seen once: its hits, its group's best spelling.
    pair, keys = pd.factorize(np.where(codes >= 0, codes * width + kind, -1), sort=True)
    keys = np.asarray(keys, np.int64)
    hits = np.bincount(pair, weights=bots["hits"].to_numpy(), minlength=len(keys))
    seen = keys >= 0
    code, kinds = keys[seen] // width, keys[seen] % width
    text = np.asarray(names, object)[code]
    mixed = [not (n.islower() or n.isupper()) for n in text]
    order = pd.DataFrame(
        {"name": text, "fold": folded[code], "kind": kinds, "hits": -hits[seen]}
    ).assign(plain=np.invert(mixed))
    best = (
        order.sort_values(["hits", "plain", "name"], kind="stable")
        .groupby(["fold", "kind"], sort=False)["name"]
        .first()
    )
    canonical = np.full(len(keys), None, object)
    canonical[seen] = best.reindex(pd.MultiIndex.from_arrays([folded[code], kinds])).to_numpy()
    rows = np.where(seen[pair], pair, -1)
    return bots.assign(crawler=pd.Categorical.from_codes(*_recoded(canonical, rows)))


def _recoded(values: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """(codes, categories) of ``values[codes]`` (-1 stays missing), categories in order of
    first appearance among ``values``."""
    new, uniq = pd.factorize(values, sort=False)
    out = np.where(codes >= 0, np.asarray(new)[np.maximum(codes, 0)], -1)
    return out, pd.Index(uniq, dtype="str")


def _crawler_counts(bots: pd.DataFrame) -> pd.DataFrame | None:
    """The crawlers panel's group-by (hits and bytes summed, distinct clients, per crawler and
    kind) by numpy over the two categoricals' codes: the group-by's named aggregation, with a
    ``nunique`` per group, was ~7 ms whatever the rows, on the audience half of the forked
    finish (issue #18). The same groups in the same order (first appearance, as the
    group-by's ``sort=False``), keyed by the same two-level index. None where that group-by is
    needed: a key not categorical or missing, a missing client, sums not of int64."""
    crawler, kind, client = bots["crawler"], bots["agent_class"], bots["client"]
    if not all(isinstance(c.dtype, pd.CategoricalDtype) for c in (crawler, kind)):
        return None
    hits, size = bots["hits"].to_numpy(), bots["bytes"].to_numpy()
    if hits.dtype != np.int64 or size.dtype != np.int64 or client.hasnans:
        return None
    ccodes = np.asarray(crawler.array.codes, np.int64)
    kcodes = np.asarray(kind.array.codes, np.int64)
    if (ccodes < 0).any() or (kcodes < 0).any():
        return None
    nk = len(kind.array.categories)
    group, pairs = pd.factorize(ccodes * nk + kcodes, sort=False)
    n = len(pairs)

    def total(w: np.ndarray) -> np.ndarray:
        return int_bincount(group, w, n).astype(np.int64, copy=False)

    who, seen = pd.factorize(client.array, sort=False)
    distinct = np.unique(group.astype(np.int64) * len(seen) + who)
    clients = np.bincount(distinct // max(len(seen), 1), minlength=n).astype(np.int64)
    index = pd.MultiIndex.from_arrays(
        [
            pd.Categorical(crawler.array.categories.take(pairs // nk)),
            pd.Categorical(kind.array.categories.take(pairs % nk)),
        ],
        names=["crawler", "agent_class"],
    )
    return pd.DataFrame(
        {"hits": total(hits), "bandwidth": total(size), "clients": clients},
        index=index,
        copy=False,
    )


def _crawler_table(g: pd.DataFrame, all_hits: int) -> pd.DataFrame:
    """``_crawler_counts``' groups as the panel ranks them: keyed by the crawler's name as
    text, the kind first, the share of all hits last; what the share's Series arithmetic,
    ``reset_index`` of the kind, ``rename`` and two conversions to text made, in one frame
    (~1.5 ms of pandas on the finish's audience half; issue #18)."""
    index = g.index
    assert isinstance(index, pd.MultiIndex)
    hits = g["hits"].to_numpy()
    return pd.DataFrame(
        {
            "kind": index.get_level_values("agent_class").astype("str").array,
            "hits": hits,
            "bandwidth": g["bandwidth"].to_numpy(),
            "clients": g["clients"].to_numpy(),
            "share": np.round(hits / all_hits, 4),
        },
        index=index.get_level_values("crawler").astype("str"),
        copy=False,
    )


def _when(seconds: int) -> str:
    return pd.Timestamp(int(seconds), unit="s").strftime("%Y-%m-%d %H:%M:%S")


def sec_top_visitors(p: Partial, ctx: Context) -> Section:
    v = _classified(p, ctx)
    title = "Top visitors"
    if v.empty:
        return Section("top-visitors", title, pd.DataFrame())
    # Visitors are people (as --bots defines them); crawlers have their own panel.
    # The overview's unique visitors' rule (METRICS.md): keys with a people hit that is not a
    # 4xx, so "top 10 of N" counts the same visitors.
    f = v[v["visitor_hits"] > 0]
    f = f.assign(bandwidth=f["bytes"])  # not v["bytes"]: on an empty f it brings back v's rows
    if f.empty:
        return Section("top-visitors", title, pd.DataFrame(), note="no people visits")
    f = f.set_index(f["client"].rename("ip"))
    keep = [c for c in ("country", "network", "browser", "os") if c in f]
    f = f[[*keep, "hits", "page_views", "bandwidth", "first", "last"]]
    # Text only for the rows shown (the order reads hits and ip, not these columns).
    rows, total = ranked(f, ctx.settings, "ip")
    rows = rows.astype(dict.fromkeys(keep, "str"))
    rows["first"] = [_when(x) for x in rows["first"]]
    rows["last"] = [_when(x) for x in rows["last"]]
    return Section(
        "top-visitors",
        title,
        rows,
        total,
        note="visitor: one (IP, user agent); first/last seen in the report zone",
        narrow_drop=("first", "last", "network", "bandwidth"),
    )
