"""The site's own hosts, inferred from referrals (``referrers.own_hosts``), counted through
integer codes: the same hosts as the group-by it replaced, on random referrers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.referrers import OWN_PATHS, OWN_SHARE, own_hosts, site_of
from logaudit.config import Settings


def by_groupby(refs: pd.DataFrame, paths: pd.DataFrame) -> set[str]:
    """The former way: a pandas group-by per site."""
    sites = site_of(refs.index).join(refs["hits"])
    sites = sites[sites["site"] != ""]
    served_rows = sites["ref_path"].isin(set(paths.index))
    sites["served"] = sites["hits"].where(served_rows, 0)
    g = sites.groupby("site", sort=False)[["hits", "served"]].sum()
    g["paths"] = sites[served_rows].groupby("site", sort=False)["ref_path"].nunique()
    g["paths"] = g["paths"].fillna(0)
    own = g[(g["paths"] >= OWN_PATHS) & (g["served"] >= OWN_SHARE * g["hits"])]
    return set(own.index)


@pytest.mark.parametrize("seed", range(6))
def test_inferred_hosts_are_the_group_bys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    served = [f"/p/{i}" for i in range(30)]
    hosts = ["www.shop.test", "shop.test", "Search.test", "half.test", "a.test", "b.test"]
    urls = set()
    while len(urls) < 400:
        host = hosts[rng.integers(len(hosts))]
        # The shop refers from many served pages; "half" from as many, but mostly from pages
        # the site did not serve; the others from a few (Search.test, from one).
        n = 30 if "shop" in host or "half" in host else 1 if "Search" in host else 9
        share = 0.3 if "half" in host else 0.8
        path = served[rng.integers(n)] if rng.random() < share else f"/x/{rng.integers(50)}"
        urls.add(f"https://{host}{path}?q={rng.integers(5)}")
    urls.update(["-", "", "not a url"])
    refs = pd.DataFrame(
        {"hits": rng.integers(1, 20, len(urls)), "page_views": rng.integers(0, 3, len(urls))},
        index=pd.Index(sorted(urls), dtype="str", name="referrer"),
    )
    paths = pd.DataFrame({"hits": np.ones(len(served), dtype=np.int64)},
                         index=pd.Index(served, dtype="str", name="path"))
    got, how = own_hosts({"referrers": refs, "paths": paths}, Settings())
    assert how == "inferred"
    assert got == by_groupby(refs, paths)
    assert got == {"shop.test"}


def test_many_paths_or_few_infer_the_same_hosts() -> None:
    """With fewer referrers than paths only the paths some referrer names are looked up
    (``own_hosts``): unrelated paths added change nothing."""
    served = [f"/page/{i}" for i in range(30)]
    urls = [f"https://shop.example/page/{i}" for i in range(30)]
    urls += [f"https://other.example/page/{i}" for i in range(5)]
    urls += [f"https://blog.example/x/{i}" for i in range(20)]
    refs = pd.DataFrame({"hits": np.ones(len(urls), np.int64)}, index=pd.Index(urls, dtype="str"))

    def hosts(paths: list[str]) -> set[str]:
        table = pd.DataFrame({"hits": np.ones(len(paths), np.int64)})
        table.index = pd.Index(paths, dtype="str")
        return own_hosts({"referrers": refs, "paths": table}, Settings())[0]

    few = hosts(served[:20])  # fewer paths than referrers
    many = hosts(served[:20] + [f"/unrelated/{i}" for i in range(500)])
    assert few == many == {"shop.example"}
