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

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from logaudit.analyze.base import Context, Partial, Table, count_by
from logaudit.analyze.traffic import ranked_rows
from logaudit.config import Settings
from logaudit.report import Section
from logaudit.schema import arrow_strings, hash_strings

# A host is a name or an IPv6 literal in brackets ("[2001:db8::1]", "[::ffff:192.0.2.1]",
# "[fe80::1%25eth0]": RFC 3986, 6874), whose colons are not a port's. Other bracketed text
# ("[bold red]") is no address: read as a name, as before.
_V6 = r"\[[0-9A-Fa-f:.]+(?:%[0-9A-Za-z._~%-]+)?\]"
_URL = (
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#]*@)?"
    rf"(?P<host>{_V6}|[^/:?#]*)(?::\d*)?(?P<path>[^?#]*)"
)

# The same host and path as _URL's, each alone (the finish extracts what it needs, in slices):
# what precedes each (_AUTH, _THROUGH_PORT) cut off by a replace, then what is left up to the
# first character that ends it taken by a regex anchored at the start (``_up_to``). Each
# choice of _URL's optional parts is the one these make: nothing after them can fail.
_AUTH = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?"
_THROUGH_PORT = _AUTH + rf"(?:{_V6}|[^/:?#]*)(?::\d*)?"
# Referrers per slice of the finish's per-referrer work: it holds one slice's regex results.
SLICE = 1 << 20

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


@dataclass(frozen=True)
class Sites:
    """The site of each row of the referrers table, coded: ``names[code[i]]`` is row i's
    site ('' for direct or not a URL); equal sites have equal codes. ``names`` may hold
    entries no row's code names (their counts are 0). What the referrer sections need,
    without a copy of the table's text or a Python string per referrer."""

    code: np.ndarray
    names: pa.Array | pa.ChunkedArray

    def has_host(self) -> np.ndarray:
        """Per name: whether it is a host (not '')."""
        return np.asarray(pc.not_equal(self.names, ""), dtype=bool)

    def used(self) -> np.ndarray:
        """Per name: whether some row's code names it."""
        return np.bincount(self.code, minlength=len(self.names)) > 0


def _text(index: pd.Index) -> pa.Array:
    text = arrow_strings(index)
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def _slices(text: pa.Array) -> list[pa.Array]:
    return [text.slice(i, SLICE) for i in range(0, len(text), SLICE)] or [text]


def _up_to(text: pa.Array, prefix: str, ends: str) -> tuple[pa.Array, pa.Array]:
    """(whether ``prefix`` starts each URL, what follows it up to the first of ``ends``).
    RE2 extracts a capture with its slower engines; a replace finds a match's bounds with its
    DFA, and an anchored ``[^ends]*`` capture is one-pass: 2.3-2.7 ms against 4.6-6.4 ms for
    the 8,214 referrers of 150,000 generated lines, per part. The replace's copy of the text
    is made PART referrers at a time (its size is the text's, which a slice may hold 1M of)."""
    if len(text) > PART:
        got = [_up_to(text.slice(i, PART), prefix, ends) for i in range(0, len(text), PART)]
        return (
            pa.concat_arrays([u for u, _ in got]),
            pa.concat_arrays([p for _, p in got]),
        )
    rest = pc.replace_substring_regex(text, prefix, "")
    # The prefix holds "://": a URL's text got shorter, any other is as it was.
    url = pc.less(pc.binary_length(rest), pc.binary_length(text)).fill_null(False)
    return url, pc.extract_regex(rest, f"^(?P<part>[^{ends}]*)").field("part")


# Referrers per replace in ``_up_to``.
PART = 1 << 16


def _hosts(text: pa.Array) -> pa.Array:
    """site_of's host of each URL ('' where it is not a URL): the same as its regex's."""
    url, host = _up_to(text, _AUTH, "/:?#")
    host = pc.if_else(url, pc.utf8_lower(host), pa.scalar("", text.type))
    bracket = pc.starts_with(host, "[")  # an IPv6 literal, cut at its first colon: rare
    if pc.any(bracket).as_py():
        m = pc.extract_regex(text, f"{_AUTH}(?P<host>{_V6})")  # no match: the struct is null
        host = pc.if_else(pc.and_(bracket, pc.is_valid(m)), pc.utf8_lower(m.field("host")), host)
    return pc.replace_substring_regex(host, r"^www\.", "")


def site_codes(urls: pd.Index) -> Sites:
    """``site_of``'s sites of ``urls``, coded: one slice of URLs at a time through the regex
    (site_of held three columns of text per URL), then each row coded by the first row
    with its host, found by a 64-bit hash of the hosts and checked against the text (a
    dictionary of 5M distinct hosts cost ~800 MB at its peak); ``names`` are the hosts."""
    text = _text(urls)
    parts = [_hosts(t) for t in _slices(text)]
    hosts = pa.chunked_array(parts)
    h = np.concatenate([hash_strings(pd.Index(pd.arrays.ArrowExtensionArray(t))) for t in parts])
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    del h
    code = first[inverse.reshape(-1)]
    del first, inverse
    at = 0
    for t in parts:
        # Exact, not probably: a hash shared by two hosts codes them apart by a dictionary.
        if len(t) and not pc.all(pc.equal(t, hosts.take(code[at : at + len(t)]))).as_py():
            return _dictionary_codes(hosts)
        at += len(t)
    return Sites(code, hosts)


def _dictionary_codes(hosts: pa.ChunkedArray) -> Sites:
    enc = hosts.dictionary_encode()
    code = np.concatenate(
        [np.asarray(c.indices.to_numpy(zero_copy_only=False), dtype=np.int64) for c in enc.chunks]
    )
    return Sites(code, enc.chunk(0).dictionary)


def _sites(refs: pd.DataFrame, ctx: Context | None) -> Sites:
    """site_codes of the referrers table's index, once per report."""
    if refs.empty:
        return Sites(np.zeros(0, dtype=np.int64), pa.array([], type=pa.string()))
    if ctx is None:
        return site_codes(refs.index)
    return ctx.once("sites", lambda: site_codes(refs.index))


def _host_part(vhost: str) -> str:
    """A virtual host without its port, as referring sites name hosts: "[2001:db8::1]:443" ->
    "[2001:db8::1]" (cut at its first colon it was "[2001", and the site's own address then
    counted as a referring site), "shop.example.com:443" -> "shop.example.com"."""
    if vhost.startswith("["):
        end = vhost.find("]")
        return vhost[: end + 1] if end > 0 else vhost
    return vhost.split(":")[0]


def _configured(host: str) -> set[str]:
    """A ``site_hosts`` entry as referring sites name hosts: lower-case, no "www.", no port,
    an IPv6 literal in brackets, both as written and in its canonical form ("2001:0DB8::1",
    "[2001:db8::1]:8080" -> "[2001:db8::1]"). Only lower-cased, a port or a bare or
    uncanonical IPv6 address matched no referrer: the site's own referrals were listed as
    outside referrers."""
    import ipaddress

    h = host.lower()
    if not h.startswith("[") and h.count(":") > 1:  # bare IPv6 (a name has one :port at most)
        h = f"[{h}]"
    h = _host_part(h)
    names = {h.removeprefix("www.")}
    if h.startswith("[") and h.endswith("]"):
        try:
            names.add(f"[{ipaddress.IPv6Address(h[1:-1]).compressed}]")
        except ValueError:
            pass  # config's check refused it
    return names


def own_hosts(p: Partial, s: Settings, ctx: Context | None = None) -> tuple[set[str], str]:
    """The site's own hosts and how they were found."""
    if s.site_hosts:
        return set().union(*(_configured(h) for h in s.site_hosts)), "configured"
    vh = p.get("vhosts", pd.DataFrame())
    names = {_host_part(str(v)).lower().removeprefix("www.") for v in vh.index if str(v)}
    if names:
        return names, "virtual hosts"
    refs = p.get("referrers", pd.DataFrame())
    paths = p.get("paths", pd.DataFrame())
    if refs.empty or paths.empty:
        return set(), "none"
    sites = _sites(refs, ctx)
    has = sites.has_host()[sites.code]
    if not has.any():
        return set(), "inferred"
    text = _text(refs.index)
    served = arrow_strings(paths.index)
    slices = _slices(text)
    # One slice (every log of under SLICE distinct referrers): its referring paths extracted
    # once for both uses below; more slices are extracted again each time, as only one
    # slice's paths are held at once.
    held = _ref_paths(slices[0]) if len(slices) == 1 else None

    def ref_paths(k: int) -> pa.Array:
        return held if held is not None else _ref_paths(slices[k])

    if len(refs) < len(paths):
        # Only the paths some referrer names can answer: those, found by a hash of the
        # referring paths, where a hash of every path (5M distinct paths) copied their text.
        named = pa.chunked_array([pc.unique(ref_paths(k)) for k in range(len(slices))])
        served = served.filter(pc.is_in(served, value_set=pc.unique(named)))
    # Per slice of referrers: the served path each names (its number in ``served``, which
    # numbers the rows' paths as inferred needs), where the referring paths were held whole.
    on = np.zeros(len(text), dtype=bool)
    path_code = []
    at = 0
    for k, t in enumerate(slices):
        idx = pc.index_in(ref_paths(k), value_set=served)
        n = len(t)
        found = np.asarray(idx.is_valid(), dtype=bool) & has[at : at + n]
        on[at : at + n] = found
        path_code.append(np.asarray(idx.filter(pa.array(found)).to_numpy(), dtype=np.int64))
        at += n
    mask = own_mask(
        sites.code[has],
        len(sites.names),
        refs["hits"].to_numpy()[has],
        on[has],
        np.concatenate(path_code),
    )
    return set(sites.names.filter(pa.array(mask)).to_pylist()), "inferred"


def _ref_paths(text: pa.Array) -> pa.Array:
    """site_of's ref_path of each URL ('' where it is not a URL): the same as its regex's."""
    url, path = _up_to(text, _THROUGH_PORT, "?#")
    return pc.if_else(url, path, pa.scalar("", text.type))


def inferred(
    code: np.ndarray, names: np.ndarray, hits: np.ndarray, on: np.ndarray, path_code: np.ndarray
) -> set[str]:
    """The rule that infers the own hosts, over rows of (site ``code`` into ``names``, hits,
    whether the referring path is served here ``on``); ``path_code`` numbers the served rows'
    paths (any numbering). One-pass reports and the store (``store.sites.own``) both use it."""
    return set(names[own_mask(code, len(names), hits, on, path_code)])


def own_mask(
    code: np.ndarray, n: int, hits: np.ndarray, on: np.ndarray, path_code: np.ndarray
) -> np.ndarray:
    """``inferred``'s rule as a mask over the ``n`` site codes."""
    total = np.bincount(code, weights=hits, minlength=n)
    served = np.bincount(code, weights=np.where(on, hits, 0), minlength=n)
    # Distinct served paths per site: the distinct (site, path) pairs among served rows.
    width = int(path_code.max(initial=0)) + 1
    pairs = code[on].astype(np.int64) * width + path_code
    if n * width <= 16 * len(pairs) + 65_536:
        # A flag per possible pair, not a sort of the pairs: a year of the store's referring
        # paths (24 sites x 75,000 served paths, 330,000 rows; branch trends15) 2 ms, not 12.
        seen = np.zeros(n * width, dtype=bool)
        seen[pairs] = True
        n_paths = np.count_nonzero(seen.reshape(n, width), axis=1)
    else:
        n_paths = np.bincount(np.unique(pairs) // width, minlength=n)
    return (n_paths >= OWN_PATHS) & (served >= OWN_SHARE * total)


@dataclass(frozen=True)
class External:
    """The external referrers: rows of the referrers table (``rows``, ascending) whose site is
    a host not the site's own, and per site (``sites.names``) whether it is external."""

    sites: Sites
    is_external: np.ndarray
    rows: np.ndarray

    @property
    def empty(self) -> bool:
        return not len(self.rows)


def external(p: Partial, ctx: Context) -> tuple[External, set[str], str]:
    """External referrers (with their site), the own hosts and how they were found; computed
    once per report (both referrer sections and trends' movers use it)."""
    return ctx.once("external", lambda: _external(p, ctx))


def _external(p: Partial, ctx: Context) -> tuple[External, set[str], str]:
    refs = p.get("referrers", pd.DataFrame())
    own, how = own_hosts(p, ctx.settings, ctx)
    sites = _sites(refs, ctx)
    ext = sites.has_host() & ~np.asarray(
        pc.is_in(sites.names, value_set=pa.array(sorted(own), type=sites.names.type)), dtype=bool
    )
    return External(sites, ext, np.flatnonzero(ext[sites.code])), own, how


def _own_note(own: set[str], how: str) -> str:
    if not own:
        return "no own host known: every referrer host counts as external (set site_hosts)"
    shown = ", ".join(sorted(own)[:5])
    return f"own hosts ({how}): {shown}; their referrals are internal navigation"


def _empty_note(p: Partial, ctx: Context, own: set[str], how: str) -> str:
    """Why there is no external referrer: no referring URL at all in the hits counted
    (crawlers send none, a filter may leave none) is not a missing own host."""
    refs = p.get("referrers", pd.DataFrame())
    if refs.empty:
        return "no referring URL in the hits counted (all direct)"
    sites = _sites(refs, ctx)
    if not sites.has_host()[sites.code].any():
        return "no referring URL in the hits counted (all direct)"
    return _own_note(own, how)


def _per_site(refs: pd.DataFrame, f: External) -> tuple[pd.DataFrame, np.ndarray]:
    """hits and page views summed per site code (no text copied), indexed by the sites'
    names, and the rows of it that are external sites."""
    code, n = f.sites.code, len(f.sites.names)
    cols = {
        c: np.bincount(code, weights=refs[c].to_numpy(), minlength=n).astype(np.int64)
        for c in ("hits", "page_views")
    }
    index = pd.Index(f.sites.names.to_pandas(), name="site")
    return pd.DataFrame(cols, index=index), np.flatnonzero(f.is_external & f.sites.used())


def sec_referring_sites(p: Partial, ctx: Context) -> Section:
    f, own, how = external(p, ctx)
    title = "Referring sites"
    if f.empty:
        return Section("referring-sites", title, pd.DataFrame(), note=_empty_note(p, ctx, own, how))
    g, keep = _per_site(p["referrers"], f)
    rows, total = ranked_rows(g, keep, ctx.settings, "site")
    return Section("referring-sites", title, rows, total, note=_own_note(own, how))


def sec_referrers(p: Partial, ctx: Context) -> Section:
    f, own, how = external(p, ctx)
    title = "Referrer URLs"
    if f.empty:
        return Section("referrers", title, pd.DataFrame(), note=_empty_note(p, ctx, own, how))
    refs = p["referrers"][["hits", "page_views"]]
    rows, total = ranked_rows(refs, f.rows, ctx.settings, "referrer")
    return Section("referrers", title, rows, total)
