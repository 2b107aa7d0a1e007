"""Referring sites and referrer URLs.

An *external referrer* is a Referer whose host is not one of the site's own hosts; ``-`` and empty
mean *direct*. The site's own hosts are, in order: ``site_hosts`` from the config or
``--site-host``; else the virtual hosts of the log; else inferred: a referring host counts as
the site itself when its referrals come from many *different* pages that this site served, and
most of its referrals do (internal navigation looks exactly like that; a search engine or a
social site refers from a handful of paths such as ``/`` or ``/search``, which a shop may also
serve). The inference and its result are stated in the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from logaudit.analyze.base import Context, Partial, Table, count_by
from logaudit.analyze.traffic import ranked
from logaudit.config import Settings
from logaudit.report import Section
from logaudit.schema import arrow_strings

_URL = r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#]*@)?(?P<host>[^/:?#]*)(?::\d*)?(?P<path>[^?#]*)"

# A host is taken as the site itself when at least OWN_SHARE of its referrals name a path the
# site served, and those referrals come from at least OWN_PATHS distinct such paths.
OWN_SHARE = 0.5
OWN_PATHS = 10


def t_referrers(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    pv = c["is_page"].to_numpy() & c["person"].to_numpy()
    return count_by(c, "referrer", {"hits": None, "page_views": pv})


TABLES = {"referrers": Table("referrers", t_referrers, spill_text=True)}


def site_of(urls: pd.Index) -> pd.DataFrame:
    """host (lower-case, 'www.' removed) and path of each referrer URL; host '' when the
    referrer is direct or not a URL."""
    m = pc.extract_regex(arrow_strings(urls), _URL)
    host = pc.utf8_lower(m.field("host").fill_null(""))
    host = pc.replace_substring_regex(host, r"^www\.", "")
    path = m.field("path").fill_null("")
    return pd.DataFrame({"site": host.to_pandas(), "ref_path": path.to_pandas()}).set_axis(urls)


def _sites(refs: pd.DataFrame, ctx: Context | None) -> pd.DataFrame:
    """site_of the referrers table's index, once per report."""
    if ctx is None:
        return site_of(refs.index)
    return ctx.once("sites", lambda: site_of(refs.index))


def own_hosts(p: Partial, s: Settings, ctx: Context | None = None) -> tuple[set[str], str]:
    """The site's own hosts and how they were found."""
    if s.site_hosts:
        return {h.lower().removeprefix("www.") for h in s.site_hosts}, "configured"
    vh = p.get("vhosts", pd.DataFrame())
    names = {str(v).split(":")[0].lower().removeprefix("www.") for v in vh.index if str(v)}
    if names:
        return names, "virtual hosts"
    refs = p.get("referrers", pd.DataFrame())
    paths = p.get("paths", pd.DataFrame())
    if refs.empty or paths.empty:
        return set(), "none"
    # _sites is row for row the referrers table: columns side by side, not a join (which
    # built an engine of 1M Python strings on the index to check it was sorted).
    sites = _sites(refs, ctx).assign(hits=refs["hits"].to_numpy())
    sites = sites[sites["site"] != ""]
    # Arrow's hash-based is_in: pandas' isin on Arrow strings loops in Python.
    ref_paths, served_paths = arrow_strings(sites["ref_path"]), arrow_strings(paths.index)
    if len(ref_paths) < len(served_paths):
        # Only the paths some referrer names can answer: those, found by a hash of the
        # referring paths, where a hash of every path (5M distinct paths) copied their text.
        served_paths = served_paths.filter(pc.is_in(served_paths, value_set=ref_paths.unique()))
    is_served = pd.Series(
        np.asarray(pc.is_in(ref_paths, value_set=served_paths)),
        index=sites.index,
    )
    # Per site through integer codes: a group-by of 1M distinct hosts (every referrer new)
    # and the alignment of its two results built engines of 1M Python strings.
    code, site_names = pd.factorize(sites["site"])
    hits = sites["hits"].to_numpy()
    on = is_served.to_numpy()
    path_code, _ = pd.factorize(sites["ref_path"][on])
    return inferred(code, np.asarray(site_names, dtype=object), hits, on, path_code), "inferred"


def inferred(
    code: np.ndarray, names: np.ndarray, hits: np.ndarray, on: np.ndarray, path_code: np.ndarray
) -> set[str]:
    """The rule that infers the own hosts, over rows of (site ``code`` into ``names``, hits,
    whether the referring path is served here ``on``); ``path_code`` numbers the served rows'
    paths (any numbering). One-pass reports and the store (``store.sites.own``) both use it."""
    total = np.bincount(code, weights=hits, minlength=len(names))
    served = np.bincount(code, weights=np.where(on, hits, 0), minlength=len(names))
    # Distinct served paths per site: the distinct (site, path) pairs among served rows.
    width = int(path_code.max(initial=0)) + 1
    pairs = np.unique(code[on].astype(np.int64) * width + path_code)
    n_paths = np.bincount(pairs // width, minlength=len(names))
    return set(names[(n_paths >= OWN_PATHS) & (served >= OWN_SHARE * total)])


def external(p: Partial, ctx: Context) -> tuple[pd.DataFrame, set[str], str]:
    """External referrers (with their site), the own hosts and how they were found; computed
    once per report (both referrer sections and trends' movers use it)."""
    return ctx.once("external", lambda: _external(p, ctx))


def _external(p: Partial, ctx: Context) -> tuple[pd.DataFrame, set[str], str]:
    refs = p.get("referrers", pd.DataFrame())
    own, how = own_hosts(p, ctx.settings, ctx)
    f = refs
    if not refs.empty:
        sites = _sites(refs, ctx)
        f = refs.assign(site=sites["site"].array, ref_path=sites["ref_path"].array)
        f = f[(f["site"] != "") & ~f["site"].isin(own)]
    return f, own, how


def _own_note(own: set[str], how: str) -> str:
    if not own:
        return "no own host known: every referrer host counts as external (set site_hosts)"
    shown = ", ".join(sorted(own)[:5])
    return f"own hosts ({how}): {shown}; their referrals are internal navigation"


def _empty_note(p: Partial, ctx: Context, own: set[str], how: str) -> str:
    """Why there is no external referrer: no referring URL at all in the hits counted
    (crawlers send none, a filter may leave none) is not a missing own host."""
    refs = p.get("referrers", pd.DataFrame())
    if refs.empty or not (_sites(refs, ctx)["site"] != "").any():
        return "no referring URL in the hits counted (all direct)"
    return _own_note(own, how)


def sec_referring_sites(p: Partial, ctx: Context) -> Section:
    f, own, how = external(p, ctx)
    title = "Referring sites"
    if f.empty:
        return Section("referring-sites", title, pd.DataFrame(), note=_empty_note(p, ctx, own, how))
    g = f.groupby("site", sort=False)[["hits", "page_views"]].sum()
    rows, total = ranked(g, ctx.settings, "site")
    return Section("referring-sites", title, rows, total, note=_own_note(own, how))


def sec_referrers(p: Partial, ctx: Context) -> Section:
    f, own, how = external(p, ctx)
    title = "Referrer URLs"
    if f.empty:
        return Section("referrers", title, pd.DataFrame(), note=_empty_note(p, ctx, own, how))
    rows, total = ranked(f[["hits", "page_views"]], ctx.settings, "referrer")
    return Section("referrers", title, rows, total)
