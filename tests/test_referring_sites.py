"""The referrer sections built per site code (``referrers.site_codes``, ``ranked_rows``): the
same sections, row for row, as the former pandas way (``site_of`` for every referrer, the
external rows copied, a group-by per site), on referrers with ties at the top-N cut, own hosts
configured, from virtual hosts or inferred, ``-`` and empty referrers, non-ASCII hosts, ports,
userinfo and text that is not a URL; and with the finish's slices forced small."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze import referrers
from logaudit.analyze.base import Context
from logaudit.analyze.referrers import sec_referrers, sec_referring_sites, site_codes, site_of
from logaudit.analyze.traffic import ranked
from logaudit.config import Settings
from logaudit.report import Section

HOSTS = [
    "www.shop.test",
    "shop.test",
    "Shop.Test:8443",
    "user:pw@search.test",
    "search.test:80",
    "bücher.de",
    "WWW.Bücher.DE",
    "xn--bcher-kva.de",
    "ünï.test:9",
    "a.test",
    "b.test",
    "c.test",
]
ODD = ["-", "", "not a url", "https://", "http:///nohost", "//noscheme.test/x",
       "http://host.test:abc/p", "ftp://files.test/a", "HTTPS://UPPER.TEST/Up"]


def former(p: dict[str, pd.DataFrame], ctx: Context) -> tuple[Section, Section]:
    """The sections as base built them (``_external`` copied the external rows with their
    site, ``sec_referring_sites`` grouped them by site name)."""
    refs = p["referrers"]
    own, how = referrers.own_hosts(p, ctx.settings)
    sites = site_of(refs.index)
    f = refs.assign(site=sites["site"].array, ref_path=sites["ref_path"].array)
    f = f[(f["site"] != "") & ~f["site"].isin(own)]
    if f.empty:
        note = referrers._empty_note(p, Context(ctx.settings), own, how)
        return (Section("referring-sites", "Referring sites", pd.DataFrame(), note=note),
                Section("referrers", "Referrer URLs", pd.DataFrame(), note=note))
    g = f.groupby("site", sort=False)[["hits", "page_views"]].sum()
    rows, total = ranked(g, ctx.settings, "site")
    sites_sec = Section("referring-sites", "Referring sites", rows, total,
                        note=referrers._own_note(own, how))
    rows, total = ranked(f[["hits", "page_views"]], ctx.settings, "referrer")
    return sites_sec, Section("referrers", "Referrer URLs", rows, total)


def same(a: Section, b: Section) -> None:
    assert (a.name, a.title, a.total_rows, a.note) == (b.name, b.title, b.total_rows, b.note)
    pd.testing.assert_frame_equal(a.rows, b.rows, check_dtype=False)
    assert [str(c) for c in a.rows.dtypes] == [str(c) for c in b.rows.dtypes] or a.rows.empty


def tables(seed: int, n: int, max_hits: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    served = [f"/p/{i}" for i in range(25)]
    urls: set[str] = set(ODD)
    while len(urls) < n:
        host = HOSTS[rng.integers(len(HOSTS))]
        share = 0.8 if "hop" in host else 0.2  # the shop refers from the pages it served
        path = served[rng.integers(25)] if rng.random() < share else f"/x/{rng.integers(40)}"
        urls.add(f"https://{host}{path}?r={rng.integers(1000)}")
    order = rng.permutation(sorted(urls))
    refs = pd.DataFrame(
        {
            "hits": rng.integers(1, max_hits + 1, len(order)).astype(np.int64),
            "page_views": rng.integers(0, 3, len(order)).astype(np.int64),
        },
        index=pd.Index(order, dtype="str", name="referrer"),
    )
    paths = pd.DataFrame(
        {"hits": np.ones(len(served), dtype=np.int64)},
        index=pd.Index(served, dtype="str", name="path"),
    )
    return {"referrers": refs, "paths": paths}


def check(p: dict[str, pd.DataFrame], s: Settings) -> None:
    want = former(p, Context(s))
    ctx = Context(s)
    got = (sec_referring_sites(p, ctx), sec_referrers(p, ctx))
    same(got[0], want[0])
    same(got[1], want[1])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("top", [0, 1, 3, 10])
@pytest.mark.parametrize("max_hits", [1, 3])
def test_sections_are_the_former_ones(seed: int, top: int, max_hits: int) -> None:
    """Every host kind, ties at the cut (one hit each: every row ties), own hosts inferred."""
    check(tables(seed, 300, max_hits), Settings(top=top))


@pytest.mark.parametrize("hosts", [("shop.test",), ("WWW.Shop.test", "bücher.de"), ("none.test",)])
def test_configured_own_hosts(hosts: tuple[str, ...]) -> None:
    check(tables(7, 200, 2), Settings(top=5, site_hosts=hosts))


def test_own_hosts_from_virtual_hosts() -> None:
    p = tables(8, 200, 2)
    p["vhosts"] = pd.DataFrame(
        {"hits": [3, 1]}, index=pd.Index(["shop.test:443", "search.test"], dtype="str")
    )
    check(p, Settings(top=4))


def test_an_ipv6_virtual_host_is_an_own_host_whole() -> None:
    """A virtual host written "[2001:db8::1]:443" is the own host "[2001:db8::1]", as a
    referrer from it names its site, not "[2001" (cut at its first colon, the site's own
    address then listed as a referring site)."""
    p = {"vhosts": pd.DataFrame(
        {"hits": [3, 1]}, index=pd.Index(["[2001:DB8::1]:443", "shop.test:80"], dtype="str")
    )}
    hosts, how = referrers.own_hosts(p, Settings())
    assert (hosts, how) == ({"[2001:db8::1]", "shop.test"}, "virtual hosts")


def test_small_slices_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The finish's work per slice of referrers (a million at a time) gives the sections of
    one slice: codes unified across slices, served paths numbered across slices."""
    p = tables(9, 400, 2)
    s = Settings(top=6)
    whole = (sec_referring_sites(p, Context(s)), sec_referrers(p, Context(s)))
    monkeypatch.setattr(referrers, "SLICE", 7)
    ctx = Context(s)
    sliced = (sec_referring_sites(p, ctx), sec_referrers(p, ctx))
    same(sliced[0], whole[0])
    same(sliced[1], whole[1])
    assert sliced[0].note.startswith("own hosts (inferred): shop.test")
    for _ in range(2):  # the fewer-referrers-than-paths branch too
        p["paths"] = pd.concat([p["paths"], p["paths"].set_axis(
            pd.Index([f"/more/{i}" for i in range(len(p["paths"]))], dtype="str"))])
    assert len(p["paths"]) > len(p["referrers"]) or len(p["paths"]) == 100
    check(p, s)


def test_site_codes_are_site_of() -> None:
    urls = pd.Index(ODD + [f"https://{h}/x/{i}" for i, h in enumerate(HOSTS)], dtype="str")
    got = site_codes(urls)
    names = got.names.to_pylist()
    want = list(site_of(urls)["site"])
    assert [names[c] for c in got.code] == want
    assert len(set(got.code)) == len(set(want))  # one code per site


def test_hashes_shared_by_hosts_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Site codes are exact: were every host's hash the same, a dictionary codes them."""
    p = tables(5, 300, 2)
    s = Settings(top=5)
    want = (sec_referring_sites(p, Context(s)), sec_referrers(p, Context(s)))
    monkeypatch.setattr(referrers, "hash_strings", lambda t: np.zeros(len(t), dtype=np.uint64))
    got = site_codes(p["referrers"].index)
    assert len(set(got.code)) == len(set(site_of(p["referrers"].index)["site"]))
    ctx = Context(s)
    same(sec_referring_sites(p, ctx), want[0])
    same(sec_referrers(p, ctx), want[1])


def test_only_direct_referrers() -> None:
    p = tables(3, 20, 1)
    p["referrers"] = p["referrers"].loc[["-", "", "not a url"]]
    check(p, Settings())
    got = sec_referring_sites(p, Context(Settings()))
    assert got.rows.empty and got.note.startswith("no referring URL")


def test_no_referrers_at_all() -> None:
    p = {"referrers": pd.DataFrame(), "paths": tables(1, 20, 1)["paths"]}
    ctx = Context(Settings())
    assert sec_referring_sites(p, ctx).rows.empty
    assert sec_referrers(p, ctx).rows.empty


def test_every_site_in_the_top_of_a_large_table() -> None:
    """Many distinct referrers, every one one hit: all tie, the least sites and URLs win."""
    n = 5000
    urls = [f"https://r{i:05d}.example.net/p/{i}" for i in range(n)]
    refs = pd.DataFrame(
        {"hits": np.ones(n, dtype=np.int64), "page_views": np.ones(n, dtype=np.int64)},
        index=pd.Index(np.random.default_rng(0).permutation(urls), dtype="str"),
    )
    paths = pd.DataFrame({"hits": [1]}, index=pd.Index(["/"], dtype="str"))
    s = dataclasses.replace(Settings(), top=10)
    check({"referrers": refs, "paths": paths}, s)
    got = sec_referring_sites({"referrers": refs, "paths": paths}, Context(s))
    assert list(got.rows["site"]) == [f"r{i:05d}.example.net" for i in range(10)]
    assert got.total_rows == n
