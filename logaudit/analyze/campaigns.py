"""Sources, campaigns, keyphrases, conversions and affiliates: where visits come from and
what they earn (METRICS.md, "Referrers, campaigns and conversions").

Partials keep one compact event per people page view and per people goal hit (visitor key,
times, hashes of the Referer and query string, a goal bit mask: 45 bytes), spilled to disk by
visitor like ``analyze.visits``' events, and the distinct query strings people sent. At the
end the events are cut into visits and conversions (``analyze.attribution``), each visit's
source is classified once per distinct (referrer, query) pair of entry page views
(``enrich.sources``), and conversions are credited under the chosen attribution model.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from logaudit import schema
from logaudit.analyze import attribution, blockkeys
from logaudit.analyze.base import Context, Partial, Table, count_by, hash_rows, hash_strings
from logaudit.analyze.referrers import own_hosts
from logaudit.analyze.spill import partitions
from logaudit.analyze.visits import referrer_names
from logaudit.config import Settings
from logaudit.enrich.goals import Goal, parse_goals, query_values
from logaudit.enrich.sources import (
    COLUMNS,
    DIRECT,
    KINDS,
    NOT_A_TOUCH,
    SourceTables,
    classify,
)
from logaudit.errors import ConfigError
from logaudit.report import Section
from logaudit.wording import counted


@lru_cache(maxsize=16)
def goals_of(specs: tuple[str, ...]) -> tuple[Goal, ...]:
    return parse_goals(specs)


def t_touch_events(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    from logaudit.enrich.goals import goal_bits

    person = c["person"].to_numpy()
    pv = c["is_page"].to_numpy() & person
    bits = goal_bits(c, goals_of(s.goals), person)
    m = np.flatnonzero(pv | (bits != 0))
    out = pd.DataFrame(
        {
            "visitor": c["visitor"].to_numpy()[m],
            "utc": c["time"].array.asi8[m],
            "local": c["local"].array.asi8[m],
            "ref_h": blockkeys.row_hashes(c, "referrer", m),
            "query_h": hash_rows(c["query"].array, m),
            "goals": bits[m],
            "pv": pv[m],
        }
    )
    if s.affiliate_cookie:
        out["cookie_h"] = _cookie_hashes(c, s.affiliate_cookie, m)
    return out


def cookie_column(name: str) -> str:
    """The record-table column holding the referral cookie ``name`` (Apache ``%{name}C``,
    nginx ``$cookie_name``), filled by the parser when the log format names it."""
    return schema.cookie_column(name)


def _cookie_hashes(c: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    """The cookie value's hash per selected row; 0 where the line has no cookie (no column,
    '-' or empty)."""
    col = cookie_column(name)
    if col not in c:
        return np.zeros(len(rows), np.uint64)
    cat = c[col].array
    h = hash_rows(cat, rows)
    none = np.asarray(cat.categories.isin(["", "-"]))
    codes = np.asarray(cat.codes)[rows]
    h[(codes < 0) | none[np.maximum(codes, 0)]] = 0
    return h


def t_cookies(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The distinct referral cookie values of people's hits."""
    if not s.affiliate_cookie or cookie_column(s.affiliate_cookie) not in c:
        return pd.DataFrame()
    return count_by(
        c, cookie_column(s.affiliate_cookie), {"hits": None}, mask=c["person"].to_numpy()
    )


def t_queries(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The distinct query strings of people's hits (entry pages' tags, goals' values)."""
    return count_by(c, "query", {"hits": None}, mask=c["person"].to_numpy())


TABLES = {
    "touch_events": Table("touch_events", t_touch_events, kind="concat", spill_key="visitor"),
    "queries": Table("queries", t_queries),
    "cookies": Table("cookies", t_cookies),
}
NEEDS = ("touch_events", "queries", "cookies", "referrers", "paths", "vhosts")


def commission_of(name: str, spec: str) -> tuple[str, float]:
    """``10%`` -> ("rate", 0.10); ``2.50`` -> ("fixed", 2.5)."""
    text = str(spec).strip()
    try:
        if text.endswith("%"):
            x = float(text[:-1]) / 100
            kind = "rate"
        else:
            x = float(text)
            kind = "fixed"
    except ValueError:
        x, kind = math.nan, ""
    if not kind or not math.isfinite(x) or x < 0:
        raise ConfigError(
            f"--commission {name}={spec}: use a percentage of revenue (10%) or an amount per "
            "conversion (2.50)"
        )
    return kind, x


def anonymous(visitor: int) -> str:
    """A visitor key shown to a partner: a keyed hash cut to 32 bits, the same in every
    report (so a claim can be matched) but not the client address or agent."""
    h = hashlib.blake2b(int(visitor).to_bytes(8, "little"), digest_size=4, person=b"logaudit-aff")
    return "v-" + h.hexdigest()


@dataclass
class Journeys:
    """Per visit its source; per conversion its goal, value and credited visit's source."""

    visits: pd.DataFrame
    conversions: pd.DataFrame
    goals: tuple[Goal, ...]
    note: str
    own_note: str = ""  # the hosts taken as the site's own (within ``note``)


def journeys(p: Partial, ctx: Context) -> Journeys:
    return ctx.once("journeys", lambda: _journeys(p, ctx))


def query_names(p: Partial) -> pd.Series:
    """Each stored query string by its hash."""
    queries = p.get("queries", pd.DataFrame())
    return pd.Series(np.asarray(queries.index, dtype=object), index=hash_strings(queries.index))


def visit_sources(
    p: Partial, visits: pd.DataFrame, own: set[str], tables: SourceTables, qnames: pd.Series
) -> tuple[pd.DataFrame, np.ndarray]:
    """The sources of the visits' entry page views, one classification per distinct
    (referrer, query) pair, and each visit's row among them."""
    # The pairs through each column's codes: factorizing a MultiIndex made a tuple per visit
    # (1.5M visits: 1.2 s against 0.08 s); the same codes, in order of first appearance.
    ref_codes, ref_keys = pd.factorize(visits["ref_h"].to_numpy())
    q_codes, q_keys = pd.factorize(visits["query_h"].to_numpy())
    width = max(1, len(q_keys))
    codes, uniq = pd.factorize(ref_codes.astype(np.int64) * width + q_codes)
    uniq = np.asarray(uniq, dtype=np.int64)
    refs = referrer_names(p).reindex(np.asarray(ref_keys)[uniq // width]).fillna("-").to_numpy()
    qs = qnames.reindex(np.asarray(q_keys)[uniq % width]).fillna("").to_numpy()
    return classify(list(refs), list(qs), own, tables), codes


def pair_sources(
    rows: pd.DataFrame,
    ref_names: pd.Series,
    query_names: pd.Series,
    own: set[str],
    tables: SourceTables,
) -> np.ndarray:
    """The source of each (``ref_h``, ``query_h``) row of ``rows``, each distinct pair named
    once as ``visit_sources`` names a visit's; ``ref_names`` and ``query_names`` map a text's
    hash to the text. Only the rows' referrers are handed on (``visit_sources`` names them by
    hashing its referrers table). The trends' source movers and the store's per-month sources
    (``store/entrysources.py``) both name pairs here, so their names agree with each other and
    with ``visit_sources``, but not always with campaigns' sections: affiliate ids are not
    folded here (``_one_spelling`` needs the report's visits and commissions), so ?ref=ACME and
    ?ref=acme are two sources here where campaigns shows one (rev21-c)."""
    refs = ref_names.reindex(pd.unique(rows["ref_h"].to_numpy())).dropna()
    named = {"referrers": pd.DataFrame(index=pd.Index(refs.to_numpy(dtype=object)))}
    src, codes = visit_sources(named, rows, own, tables, query_names)
    return np.asarray(src["source"].to_numpy(dtype=object)[codes])


def check_settings(s: Settings) -> None:
    """The attribution model and commissions, named in one line when wrong (a config file's
    are not checked by click): also by a report that reads sources without journeys."""
    if s.attribution not in attribution.MODELS:
        raise ConfigError(f"attribution must be one of {', '.join(attribution.MODELS)}")
    seen: dict[str, str] = {}
    for name, spec in s.commissions.items():
        commission_of(name, spec)
        if seen.setdefault(name.casefold(), name) != name:
            raise ConfigError(
                f"commissions {seen[name.casefold()]} and {name}: affiliate ids are compared "
                "ignoring case, so these name one affiliate twice"
            )


def _journeys(p: Partial, ctx: Context) -> Journeys:
    s = ctx.settings
    check_settings(s)
    goals = goals_of(s.goals)
    tables = SourceTables.load(s.sources, s.affiliate_params)
    visits, conv = attribution.cut_all(
        partitions(p.get("touch_events")), s.visit_timeout, len(goals)
    )
    own, how = own_hosts(p, s, ctx)
    qnames = query_names(p)
    src, codes = visit_sources(p, visits, own, tables, qnames)
    per_visit = src.iloc[codes].reset_index(drop=True)
    visits = pd.concat([visits, per_visit], axis=1)
    visits["touch"] = ~visits["kind"].isin(NOT_A_TOUCH).to_numpy()

    credit = attribution.credited(visits, visits["touch"].to_numpy(), conv, s.attribution, s.window)
    conv = conv.assign(credit=credit)
    conv["goal_name"] = [goals[g].name for g in conv["goal"]] if len(conv) else []
    distinct_q = pd.unique(conv["query_h"].to_numpy())
    at = pd.Index(distinct_q).get_indexer(conv["query_h"].to_numpy())
    values, ignored = query_values(
        [str(t) for t in qnames.reindex(distinct_q).fillna("")], s.value_params
    )
    conv["value"] = values[at] if len(conv) else []
    n_ignored = int(ignored[at].sum()) if len(conv) else 0
    conv["visitor"] = visits["visitor"].to_numpy()[conv["visit"].to_numpy()]
    for col in COLUMNS:
        conv[col] = visits[col].to_numpy()[credit] if len(conv) else []
    if s.attribution != "last" and len(conv):
        # No touch to credit: direct's, as docs/metrics.md says, also where the converting
        # visit came by internal navigation (it was credited "(internal)").
        untouched = ~visits["touch"].to_numpy()[credit]
        for col in COLUMNS:
            conv.loc[untouched, col] = ""
        conv.loc[untouched, "kind"] = "direct"
        conv.loc[untouched, "source"] = DIRECT
    cookie_note = _cookie_credit(p, s, conv)
    _one_spelling(visits, conv, s.commissions)
    if not own:
        own_note = "no own host known (set site_hosts): every referrer host is external"
    else:
        own_note = f"own hosts ({how}): {', '.join(sorted(own)[:3])}"
    days = s.window // 86400
    window = counted(days, "day") if s.window % 86400 == 0 else f"{s.window // 3600} h"
    note = f"attribution {s.attribution}, window {window}; {own_note}{cookie_note}"
    if n_ignored:
        note += (
            f"; {counted(n_ignored, 'order value')} ignored (not a plain non-negative number "
            "such as 12.50, of 12 digits and 3 decimals at most): those conversions count, "
            "with no value"
        )
    return Journeys(visits, conv, goals, note, own_note)


def _cookie_credit(p: Partial, s: Settings, conv: pd.DataFrame) -> str:
    """A referral cookie on the goal hit names the affiliate, whatever the model and window
    (as the cookie itself does): such conversions are credited to it. Returns a note."""
    if not s.affiliate_cookie:
        return ""
    cookies = p.get("cookies", pd.DataFrame())
    if cookies.empty and not len(conv):
        return ""
    if cookies.empty:
        return (
            f"; no {cookie_column(s.affiliate_cookie)} field in the log: --affiliate-cookie "
            "needs a log format that logs the cookie"
        )
    names = pd.Series(np.asarray(cookies.index, dtype=object), index=hash_strings(cookies.index))
    h = conv["cookie_h"].to_numpy() if "cookie_h" in conv else np.zeros(len(conv), np.uint64)
    has = h != 0
    if has.any():
        value = names.reindex(h[has]).fillna("").to_numpy().astype(str)
        for col in COLUMNS:
            conv.loc[has, col] = ""
        conv.loc[has, "kind"] = "affiliate"
        conv.loc[has, "source"] = value
        conv.loc[has, "affiliate"] = value
    return f"; {int(has.sum()):,} conversions credited by the {s.affiliate_cookie} cookie"


def _one_spelling(visits: pd.DataFrame, conv: pd.DataFrame, named: Collection[str] = ()) -> None:
    """One spelling per affiliate id compared ignoring case (as commissions match them): a
    link typed ?ref=ACME and a cookie saying acme were two rows, one with the visit, the other
    with the sales (qa21). Each id takes the ``named`` spelling (the --commission NAME) that
    matches it, the same in every period (rev21-c); else its spelling first seen in the
    report's period (the earliest visit or cookie-credited conversion; at one time, the
    least), in visits and conversions alike, so every section agrees. Spellings are folded
    once each, never per row."""
    frames = []
    for f, when in ((visits, "start"), (conv, "utc")):
        if len(f) and "affiliate" in f:
            m = f["kind"].to_numpy() == "affiliate"
            frames.append(pd.DataFrame({"id": f["affiliate"][m], "t": f[when][m]}))
    if not frames:
        return
    first = pd.concat(frames).groupby("id", sort=True)["t"].min()
    folded = pd.Series([str(x).casefold() for x in first.index], index=first.index)
    names = {str(n).casefold(): str(n) for n in named}
    if folded.nunique() == len(folded) and all(names.get(f, i) == i for i, f in folded.items()):
        return
    order = pd.DataFrame({"fold": folded.to_numpy(), "t": first.to_numpy()}, index=first.index)
    order = order.sort_values(["fold", "t"], kind="stable")  # ids sorted: at one time, least
    canon = order.assign(id=order.index).groupby("fold", sort=False)["id"].first()
    canon = pd.Series([names.get(str(f), i) for f, i in canon.items()], index=canon.index)
    to = pd.Series(canon.reindex(folded.to_numpy()).to_numpy(), index=folded.index)
    to = to[to.index != to.to_numpy()]
    for f in (visits, conv):
        if not len(f):
            continue
        is_aff = f["kind"].to_numpy() == "affiliate"
        for col in ("affiliate", "source"):
            m = is_aff & f[col].isin(to.index).to_numpy()
            if m.any():
                f.loc[m, col] = f.loc[m, col].map(to).to_numpy()


# What breaks a tie on a table's measure, each descending: at a --top cut, of two rows with as
# many visits the one with conversions (then more revenue, then a larger commission) is kept.
TIE_BREAKS = ("conversions", "revenue", "commission")


def _rank(frame: pd.DataFrame, ctx: Context, by: str, cut: bool = True) -> pd.DataFrame:
    """Rows by ``by`` descending, ties by ``TIE_BREAKS`` descending and then by their keys (so
    merge order never shows), the keys as first columns, cut to --top."""
    keys = [str(k) for k in frame.index.names]
    rows = frame.reset_index()
    measures = [by, *(c for c in TIE_BREAKS if c != by and c in rows)]
    rows = rows.sort_values(keys, kind="stable").sort_values(
        measures, ascending=False, kind="stable"
    )
    if cut and ctx.settings.top:
        rows = rows.head(ctx.settings.top)
    return rows.reset_index(drop=True)


def _cut_keeping(rows: pd.DataFrame, ctx: Context, keep: np.ndarray) -> pd.DataFrame:
    """Ranked ``rows`` cut to --top, but for the rows past the cut where ``keep`` is true,
    kept in their order (listed last): rows with money behind them that a rank by visits
    would drop first."""
    top = ctx.settings.top
    if not top or len(rows) <= top:
        return rows
    kept = (rows.index.to_numpy() < top) | keep
    return rows[kept].reset_index(drop=True)


def _per_visit_figures(v: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = v.assign(bounce=v["clicks"] == 1).groupby(keys, sort=False)
    out = g.agg(visits=("clicks", "size"), page_views=("clicks", "sum"), bounces=("bounce", "sum"))
    out["bounce_rate"] = (out["bounces"] / out["visits"]).round(4)
    return out.drop(columns="bounces")


def _conversion_figures(c: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if c.empty:
        return pd.DataFrame(columns=["conversions", "revenue"])
    g = c.assign(value=c["value"].fillna(0.0)).groupby(keys, sort=False)
    return g.agg(conversions=("goal", "size"), revenue=("value", "sum"))


def _joined(
    visits: pd.DataFrame, conv: pd.DataFrame, how: Literal["left", "outer"] = "left"
) -> pd.DataFrame:
    """Visit figures and conversion figures per key; ``how="outer"`` keeps keys credited with
    conversions but without a visit of their own (their rates read as missing)."""
    if conv.empty:
        out = visits.assign(conversions=0, revenue=0.0)
    else:
        out = visits.join(conv, how=how)
    for col in ("visits", "page_views"):
        if col in out:
            out[col] = out[col].fillna(0).astype(np.int64)
    out["conversions"] = out["conversions"].fillna(0).astype(np.int64)
    rate = out["conversions"] / out["visits"].where(out["visits"] > 0)
    out["conversion_rate"] = rate.round(4)
    out["revenue"] = out["revenue"].astype(float).fillna(0.0).round(2)
    return out


def _goal_note(j: Journeys) -> str:
    if not j.goals:
        return "no goal given (--goal): conversions are 0"
    return f"goals: {', '.join(g.name for g in j.goals)}; {j.note}"


def sec_sources(p: Partial, ctx: Context) -> Section:
    j = journeys(p, ctx)
    title = "Sources of visits"
    if j.visits.empty:
        return Section("sources", title, pd.DataFrame(), note="no visit")
    keys = ["source", "kind"]
    # Outer: a conversion with no touch to credit is direct's even where no visit came direct
    # (the converting visit came by internal navigation), and a referral cookie may name an
    # affiliate with no visit in the log; each is listed, so the column sums to the total.
    rows = _joined(
        _per_visit_figures(j.visits, keys), _conversion_figures(j.conversions, keys), "outer"
    )
    kinds = j.visits.groupby("kind").size().sort_values(ascending=False)
    by_kind = ", ".join(f"{k} {n:,}" for k, n in kinds.items())
    # A row of conversions without a visit ranks last by visits, so --top cut it first (2 of
    # 3 conversions lost): it is kept past the cut, listed last.
    out = _rank(rows, ctx, "visits", cut=False)
    out = _cut_keeping(out, ctx, out["visits"].to_numpy() == 0)
    note = f"visits by kind: {by_kind}. {_goal_note(j)}"
    if not j.goals:
        # Which hosts made visits internal, with or without goals (qa21: only --goal said it).
        note += f"; {j.own_note}"
    return Section(
        "sources",
        title,
        out,
        len(rows),
        note=note,
        chart="visits",
        headline={str(k): int(n) for k, n in kinds.items()},
        narrow_drop=("bounce_rate", "page_views", "conversion_rate"),
    )


def sec_campaigns(p: Partial, ctx: Context) -> Section:
    j = journeys(p, ctx)
    title = "Campaigns (utm_source / utm_medium / utm_campaign)"
    keys = ["utm_source", "utm_medium", "utm_campaign"]
    tagged = j.visits[(j.visits[keys] != "").any(axis=1)] if len(j.visits) else j.visits
    if tagged.empty:
        return Section("campaigns", title, pd.DataFrame(), note="no visit with campaign tags")
    conv = j.conversions[(j.conversions[keys] != "").any(axis=1)]
    rows = _joined(_per_visit_figures(tagged, keys), _conversion_figures(conv, keys))
    out = _rank(rows, ctx, "visits")
    return Section(
        "campaigns",
        title,
        out,
        len(rows),
        note=_goal_note(j),
        chart="visits",
        narrow_drop=("bounce_rate", "page_views", "conversion_rate"),
    )


def sec_keyphrases(p: Partial, ctx: Context) -> Section:
    j = journeys(p, ctx)
    title = "Search keyphrases"
    search = j.visits[j.visits["kind"] == "search"] if len(j.visits) else j.visits
    with_phrase = search[search["keyphrase"] != ""] if len(search) else search
    note = (
        f"{len(with_phrase):,} of {len(search):,} search visits carried a keyphrase "
        "(most engines no longer send one)"
    )
    if with_phrase.empty:
        return Section("keyphrases", title, pd.DataFrame(), note=note)
    keys = ["keyphrase", "source"]
    conv = j.conversions[(j.conversions["kind"] == "search") & (j.conversions["keyphrase"] != "")]
    rows = _joined(
        _per_visit_figures(with_phrase, keys)[["visits"]], _conversion_figures(conv, keys)
    )
    out = _rank(rows, ctx, "visits").rename(columns={"source": "engine"})
    return Section("keyphrases", title, out, len(rows), note=note, chart="visits")


def sec_conversions(p: Partial, ctx: Context) -> Section:
    j = journeys(p, ctx)
    title = "Conversions by source"
    c = j.conversions
    per_goal = {g.name: int((c["goal"] == i).sum()) for i, g in enumerate(j.goals)}
    revenue = round(float(c["value"].fillna(0.0).sum()), 2) if len(c) else 0.0
    headline = {
        "conversions": len(c),
        "revenue": revenue,
        "visits": len(j.visits),
        "conversion_rate": round(len(c) / len(j.visits), 4) if len(j.visits) else 0.0,
        "goals": per_goal,
        "attribution": ctx.settings.attribution,
        "window_days": round(ctx.settings.window / 86400, 2),
    }
    goals = "; ".join(f"{k}: {v:,}" for k, v in per_goal.items())
    note = f"{len(c):,} conversions ({goals or 'no goal given'}), revenue {revenue:,.2f}; {j.note}"
    if c.empty:
        return Section("conversions", title, pd.DataFrame(), note=note, headline=headline)
    keys = ["goal_name", "source", "kind"]
    rows = _conversion_figures(c, keys)
    totals = rows.groupby(level=0)["conversions"].transform("sum")
    rows["share"] = (rows["conversions"] / totals).round(4)
    rows["revenue"] = rows["revenue"].round(2)
    out = _rank(rows, ctx, "conversions").rename(columns={"goal_name": "goal"})
    return Section(
        "conversions", title, out, len(rows), note=note, chart="conversions", headline=headline
    )


def _commissions(conv: pd.DataFrame, s: Settings) -> np.ndarray:
    """Each credited conversion's commission: its affiliate's rate times its value, or the
    affiliate's fixed amount; 0 for an affiliate without terms. Terms looked up once per
    distinct affiliate id (ignoring case)."""
    terms = _terms_by_id(s)
    codes, ids = pd.factorize(conv["affiliate"].astype(str).str.casefold())
    found = [terms.get(a, ("", 0.0)) for a in ids]
    rate = np.array([x if kind == "rate" else 0.0 for kind, x in found] + [0.0])[codes]
    fixed = np.array([x if kind == "fixed" else 0.0 for kind, x in found] + [0.0])[codes]
    value = np.nan_to_num(conv["value"].to_numpy(np.float64), nan=0.0)
    return np.asarray(rate * value + fixed).round(2)


def _terms_by_id(s: Settings) -> dict[str, tuple[str, float]]:
    """Commission terms by affiliate id ignoring case: the referral parameter's value is
    typed by hand into links (?ref=ACME, ?ref=acme), and a commission for "acme" that paid
    nothing on ACME's sales was a silent error (qa15)."""
    return {name.casefold(): commission_of(name, spec) for name, spec in s.commissions.items()}


def _affiliate_conversions(j: Journeys, s: Settings) -> pd.DataFrame:
    c = j.conversions
    c = c[c["affiliate"] != ""] if len(c) else c
    return c.assign(commission=_commissions(c, s)) if len(c) else c


def sec_affiliates(p: Partial, ctx: Context) -> Section:
    j = journeys(p, ctx)
    s = ctx.settings
    title = "Affiliates"
    v = j.visits[j.visits["affiliate"] != ""] if len(j.visits) else j.visits
    c = _affiliate_conversions(j, s)
    # The affiliates seen (one spelling per id ignoring case: _one_spelling), those credited
    # by the referral cookie alone (its click before the log began), and a row for each
    # commission that names none of them.
    ids = (set(v["affiliate"]) if len(v) else set()) | (set(c["affiliate"]) if len(c) else set())
    known = {str(a).casefold() for a in ids}
    unseen = sorted(n for n in s.commissions if n.casefold() not in known)
    names = sorted(ids | set(unseen))
    if not names:
        return Section("affiliates", title, pd.DataFrame(), note="no affiliate visit")
    visits = v.groupby("affiliate").size() if len(v) else pd.Series(dtype=np.int64)
    rows = pd.DataFrame(index=pd.Index(names, name="affiliate"))
    rows["visits"] = visits.reindex(rows.index).fillna(0).astype(np.int64)
    if len(c):
        g = c.assign(value=c["value"].fillna(0.0)).groupby("affiliate")
        rows["conversions"] = g.size().reindex(rows.index).fillna(0).astype(np.int64)
        rows["revenue"] = g["value"].sum().reindex(rows.index).fillna(0.0).round(2)
        rows["commission"] = g["commission"].sum().reindex(rows.index).fillna(0.0).round(2)
    else:
        rows["conversions"], rows["revenue"], rows["commission"] = 0, 0.0, 0.0
    terms = _terms_by_id(s)
    rows["terms"] = [
        _terms(*terms[str(n).casefold()]) if str(n).casefold() in terms else "" for n in rows.index
    ]
    total = float(rows["commission"].sum())
    # As in sources: a row with conversions or a commission owed is kept past --top, else
    # the affiliate owed the money vanished while the note still summed its commission (qa21).
    out = _rank(rows, ctx, "visits", cut=False)
    owed = (out["conversions"].to_numpy() > 0) | (out["commission"].to_numpy() != 0)
    out = _cut_keeping(out, ctx, owed)
    note = f"commissions owed: {total:,.2f}; {_goal_note(j)}"
    if unseen:
        note += (
            f"; no visit from {', '.join(unseen)} named in the commissions "
            "(ids are compared ignoring case: check the spelling)"
        )
    return Section(
        "affiliates", title, out, len(rows), note=note, headline={"commission": round(total, 2)}
    )


def _terms(kind: str, x: float) -> str:
    return f"{x * 100:g}% of revenue" if kind == "rate" else f"{x:.2f} per conversion"


def sec_affiliate_conversions(p: Partial, ctx: Context) -> Section:
    j = journeys(p, ctx)
    title = "Conversions behind each affiliate"
    c = _affiliate_conversions(j, ctx.settings)
    if c.empty:
        return Section(
            "affiliate-conversions", title, pd.DataFrame(), note="no affiliate conversion"
        )
    c = c.sort_values(["affiliate", "local", "goal"], kind="stable")
    out = pd.DataFrame(
        {
            "affiliate": c["affiliate"].to_numpy(),
            "goal": c["goal_name"].to_numpy(),
            "time": pd.to_datetime(c["local"].to_numpy(), unit="s").strftime("%Y-%m-%d %H:%M:%S"),
            "visitor": [anonymous(v) for v in c["visitor"].to_numpy()],
            "value": c["value"].round(2).to_numpy(),
            "commission": c["commission"].to_numpy(),
        }
    )
    note = (
        "every credited conversion, so a partner's claim can be checked (not cut by --top); "
        "visitor: a keyed hash of the visitor key, the same in every report"
    )
    return Section("affiliate-conversions", title, out, len(out), note=note)


def sec_source_periods(p: Partial, ctx: Context) -> Section:
    """Per period (``--every``): visits by source kind, conversions, revenue and rate. Visits
    count in the period they start in, conversions in the period they happen in; every
    period from the first to the last is a row, empty ones as zeros."""
    from logaudit.analyze import periods as per

    j = journeys(p, ctx)
    title = "Sources per period"
    v, c = j.visits, j.conversions
    if v.empty:
        return Section("source-periods", title, pd.DataFrame(), note="no visit")
    wall = v["start_local"].to_numpy()
    every = str(ctx.settings.extra.get("every") or "auto")
    if every == "hour":
        every = "day"  # visits run across hours; a day is the shortest period here
    every = per.choose(every, int((wall.max() - wall.min()) // 3600 + 1))
    if every == "hour":
        every = "day"
    vid = per.of_times(wall, v["start"].to_numpy(), every)
    cid = per.of_times(c["local"].to_numpy(), c["utc"].to_numpy(), every) if len(c) else vid[:0]
    lo = int(min(vid.min(), cid.min() if len(cid) else vid.min()))
    hi = int(max(vid.max(), cid.max() if len(cid) else vid.max()))
    ids = per.span(lo, hi, every)
    kinds = pd.crosstab(vid, v["kind"].to_numpy()).reindex(index=ids, fill_value=0)
    rows = pd.DataFrame(index=ids)
    rows["visits"] = kinds.sum(axis=1).to_numpy()
    for k in [k for k in KINDS if k in kinds.columns]:
        rows[k] = kinds[k].to_numpy()
    rows["conversions"] = (
        pd.Series(cid).value_counts().reindex(ids, fill_value=0).to_numpy() if len(c) else 0
    )
    revenue = c["value"].fillna(0.0).groupby(cid).sum() if len(c) else pd.Series(dtype=float)
    rows["revenue"] = revenue.reindex(ids, fill_value=0.0).round(2).to_numpy()
    rows["conversion_rate"] = (
        (rows["conversions"] / rows["visits"].where(rows["visits"] > 0)).fillna(0.0).round(4)
    )
    start, _ = per.wall_bounds(ids, np.zeros(len(ids), np.int64), every)
    rows.insert(0, "period", [per.label(int(w), every) for w in start])
    note = f"per {every}: visits by the kind of their source, in the period they start in"
    return Section(
        "source-periods", title, rows.reset_index(drop=True), len(rows), note=note,
        chart="visits",
        narrow_drop=("conversion_rate", "internal", "referral", "campaign", "email", "social"),
    )  # fmt: skip
