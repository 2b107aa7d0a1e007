"""Closed months' referring sites stored beside their referrer hashes (schema 11, branch year6,
store/texthash.py HOSTS): each is ``site_of`` of its referrer, row for row; the site movers map
the compared referrers' hashes to them and give the one-pass figures; a stale, missing or
tampered file is seen."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.referrers import site_of
from logaudit.samplegen import generate_lines
from logaudit.schema import hash_strings
from logaudit.store import madeof, manage, texthash
from logaudit.store.layout import SCHEMA, STATE_FILE, Layout
from tests.store_helpers import figures, grown_store, report, trends
from tests.store_helpers import state_json as _state

# From 20 December over 75 days: December, January and February close and roll up.
DATA = b"".join(generate_lines(15000, start=date(2025, 12, 20), days=75))
MOVERS = ("movers", "periods")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("hoststore")
    return grown_store(tmp, DATA, (0.3, 0.7, 0.999), report)


def _site_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [json.loads(r) for r in f["movers"]["rows"]]
    return [r for r in rows if r["kind"] == "site"]


def _named(monkeypatch: Any) -> list[str]:
    """The referrers ``site_of`` names in the movers."""
    from logaudit.analyze.trends import movers as trend_movers

    sizes: list[str] = []

    def spy(urls: pd.Index) -> pd.DataFrame:
        sizes.extend(urls.tolist())
        return site_of(urls)

    monkeypatch.setattr(trend_movers, "site_of", spy)
    return sizes


def test_each_rolled_month_keeps_its_referrers_sites(store: tuple[Path, Path]) -> None:
    state, _ = store
    assert _state(state)["schema"] == SCHEMA == 14
    layout = Layout(state)
    st = layout.read_state()
    assert {"2025-12", "2026-01", "2026-02"} <= set(st.months)
    for month, entry in st.months.items():
        files = entry["files"]
        assert texthash.hosts_ready(entry), month
        assert files[texthash.HOSTS]["of"] == files["referrers"]["sha256"]
        refs = layout.read_table(month, entry, "referrers")
        hosts = layout.read_table(month, entry, texthash.HOSTS)
        assert refs is not None and hosts is not None and len(refs) == len(hosts) > 100
        # Made independently: each text's host, by a plain parse.
        want = site_of(pd.Index(np.asarray(refs.index, dtype=object), dtype=object))["site"]
        assert hosts["site"].tolist() == want.tolist()
        assert (hosts["site"] != "").any() and (hosts["site"] == "").any()
        by_hash = texthash.sites(layout, [(month, entry)])
        keys = hash_strings(refs.index)
        assert by_hash.of(keys).tolist() == want.tolist()


@pytest.mark.parametrize("every", ["month", "week"])
def test_site_movers_from_stored_sites_equal_one_pass(
    store: tuple[Path, Path], every_mover: None, monkeypatch: Any, every: str
) -> None:
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": MOVERS}
    one = figures(trends([str(whole)], **more))
    sizes = _named(monkeypatch)
    stored = figures(trends([], state, **more))
    assert stored == one
    assert len(_site_rows(stored)) > 5
    if every != "month":
        return  # the last weeks hold no whole month: their days' referrers are named
    # site_of named only referrers of days not rolled up, none of the closed months'.
    layout = Layout(state)
    closed: set[str] = set()
    for m, e in layout.read_state().months.items():
        refs = layout.read_table(m, e, "referrers")
        assert refs is not None
        closed |= set(refs.index)
    assert not set(sizes) & closed


def test_a_wrong_stored_site_is_what_the_movers_show(
    store: tuple[Path, Path], tmp_path: Path, every_mover: None
) -> None:
    """A month's sites rewritten (checksum and "of" right, every site renamed): the movers show
    the renamed sites, so they are read, not made again."""
    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    before = {r["item"] for r in _site_rows(figures(trends([], copy, **more)))}
    layout = Layout(copy)
    st = layout.read_state()
    st.gen += 1
    for month, entry in st.months.items():
        hosts = layout.read_table(month, entry, texthash.HOSTS)
        assert hosts is not None
        hosts["site"] = [f"x-{s}" if s else s for s in hosts["site"]]
        madeof.stamp(layout, month, entry["files"], texthash.HOSTS, hosts, st.gen, "referrers")
    layout.commit(st)
    assert manage.verify(copy) == []
    after = {r["item"] for r in _site_rows(figures(trends([], copy, **more)))}
    assert before and any(s.startswith("x-") for s in after)
    assert {s.removeprefix("x-") for s in after} & before


def test_a_schema_10_store_gets_its_sites_and_a_stale_file_is_not_used(
    store: tuple[Path, Path], tmp_path: Path, every_mover: None
) -> None:
    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    raw = _state(copy)
    for entry in raw["months"].values():
        entry["files"].pop(texthash.HOSTS)
    raw["schema"] = 10
    (copy / STATE_FILE).write_text(json.dumps(raw))
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    one = figures(trends([str(store[1])], **more))
    assert figures(trends([], copy, **more)) == one
    raw = _state(copy)
    assert raw["schema"] == SCHEMA
    assert all(texthash.hosts_ready(e) for e in raw["months"].values())
    assert manage.verify(copy) == []
    # Stale: made from other referrers. Never read (sites() skips it), made again before use.
    for entry in raw["months"].values():
        entry["files"][texthash.HOSTS]["of"] = "0" * 64
    (copy / STATE_FILE).write_text(json.dumps(raw))
    layout = Layout(copy)
    assert not any(texthash.hosts_ready(e) for e in layout.read_state().months.values())
    assert len(texthash.sites(layout, sorted(layout.read_state().months.items()))) == 0
    assert figures(trends([], copy, **more)) == one
    assert all(texthash.hosts_ready(e) for e in _state(copy)["months"].values())


def test_a_damaged_sites_file_is_seen(store: tuple[Path, Path], tmp_path: Path) -> None:
    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    layout = Layout(copy)
    month, entry = sorted(layout.read_state().months.items())[0]
    path = layout.path(month, entry, texthash.HOSTS)
    path.write_bytes(path.read_bytes()[:-20])
    assert any(texthash.HOSTS in line for line in manage.verify(copy))


def test_a_sites_file_without_its_column_is_the_stores_error(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    """A month's sites read as Parquet dictionaries (``Layout.read_arrow``'s ``coded``): a file
    without the ``site`` column (checksum and "of" right) is the store's one-line error (exit
    7), not a KeyError out of the movers."""
    from logaudit.errors import ConfigError, ExitCode

    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    layout = Layout(copy)
    st = layout.read_state()
    st.gen += 1
    month, entry = sorted(st.months.items())[0]
    hosts = layout.read_table(month, entry, texthash.HOSTS)
    assert hosts is not None
    wrong = hosts.rename(columns={"site": "host"})
    madeof.stamp(layout, month, entry["files"], texthash.HOSTS, wrong, st.gen, "referrers")
    layout.commit(st)
    assert manage.verify(copy) == []
    with pytest.raises(ConfigError, match="referrer_hosts is unreadable .*no column site") as e:
        texthash.sites(layout, sorted(layout.read_state().months.items()))
    assert e.value.exit_code == ExitCode.CONFIG == 7
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    with pytest.raises(ConfigError, match="referrer_hosts is unreadable"):
        trends([], copy, **more)


def test_a_text_column_of_no_text_is_coded_as_empty() -> None:
    """Every file of a column empty: Arrow reads its text as the null type, which has no
    dictionary (an internal AttributeError where a month held no referrer site)."""
    import pyarrow as pa

    from logaudit.store.texthash import coded

    for column in (pa.chunked_array([pa.array([], pa.null())]), pa.chunked_array([], pa.null())):
        names, code = coded(column)
        assert len(names) == 0 and len(code) == 0
    names, code = coded(
        pa.chunked_array(
            [pa.array(["a", "b", "a"]).dictionary_encode(), pa.array(["b"]).dictionary_encode()]
        )
    )
    assert list(names[code]) == ["a", "b", "a", "b"]


@pytest.mark.parametrize(("sites", "paths"), [(3, 12), (40, 3_000), (5_000, 3_000)])
def test_own_mask_counts_each_sites_distinct_served_paths(sites: int, paths: int) -> None:
    """The own-hosts rule's distinct (site, served path) pairs, by a flag per possible pair
    (few sites and paths) or by sorting the pairs (many): the rule as written."""
    from logaudit.analyze.referrers import OWN_PATHS, OWN_SHARE, own_mask

    rng = np.random.default_rng(sites)
    rows = 20_000
    code = rng.integers(0, sites, rows)
    code[: sites // 2] = 0  # one site with most rows
    hits = rng.integers(1, 9, rows).astype(np.float64)
    on = rng.random(rows) < 0.8
    path_code = rng.integers(0, paths, int(on.sum()))  # 5,000 x 3,000: past the flags, sorted
    want_paths = np.array(
        [len(set(path_code[code[on] == s].tolist())) for s in range(sites)], dtype=np.int64
    )
    total = np.bincount(code, weights=hits, minlength=sites)
    served = np.bincount(code[on], weights=hits[on], minlength=sites)
    want = (want_paths >= OWN_PATHS) & (served >= OWN_SHARE * total)
    got = own_mask(code, sites, hits, on, path_code)
    assert want.any() and (got == want).all()


def test_a_since_inside_a_rolled_month_takes_own_hosts_from_its_days_sites(
    store: tuple[Path, Path], tmp_path: Path, every_mover: None, monkeypatch: Any
) -> None:
    """``--since`` inside a rolled-up month (branch trends16): the month's days in the period
    get their referring sites, the month's roll-up stands (a day's sites are no part of what it
    is made of: months.DERIVED), and the own hosts come from the sites, not from inferring
    them again over the period's merged referrers; the figures are one pass's."""
    from logaudit.analyze.trends import movers as trend_movers
    from logaudit.store import months, sites

    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    more: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}
    since = {"since": datetime(2026, 1, 10)}
    one = figures(trends([str(store[1])], **more, **since))
    rolled = _state(copy)["months"]
    inferred: list[int] = []
    real = trend_movers.own_hosts

    def spy(*args: Any, **kw: Any) -> Any:
        inferred.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(trend_movers, "own_hosts", spy)
    assert figures(trends([], copy, **more, **since)) == one
    assert not inferred
    raw = _state(copy)
    # No roll-up dropped, made again or restamped (a month may gain its named sources).
    assert set(raw["months"]) == set(rolled)
    for m, entry in rolled.items():
        assert raw["months"][m]["of"] == entry["of"]
        assert {t: raw["months"][m]["files"][t] for t in entry["files"]} == entry["files"]
    january = [d for d in raw["days"] if d.startswith("2026-01") and d >= "2026-01-10"]
    assert january and all(sites.TABLE in raw["days"][d]["files"] for d in january)
    st = Layout(copy).read_state()
    assert all(months.stands(st, m) for m in st.months)
    # The next report reads the same and writes nothing.
    assert figures(trends([], copy, **more, **since)) == one
    assert _state(copy) == raw


def test_a_roll_up_stamped_over_its_days_sites_is_stamped_again_not_dropped(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    """A month rolled up by an older logaudit, whose digest took its days' referring sites in:
    it still stands for its days (restamped by the commit), so no report rolls it again."""
    from logaudit.store import months

    copy = tmp_path / "state"
    shutil.copytree(store[0], copy)
    layout = Layout(copy)
    st = layout.read_state()
    month = "2026-01"
    day = months.days_of(st, month)[3]
    # Stamp as before: a day with sites, the digest over every file of the entries.
    st.days[day]["files"]["referrer_sites"] = {"rows": 1, "sha256": "0" * 64, "of": "x"}
    old = months._sha({d: st.days[d] for d in months.days_of(st, month)})
    st.months[month]["of"] = old
    st.cache.clear()
    assert old != months.digest(st, month)
    assert months.stands(st, month)
    # Reading does not restamp (a read-only report would save nothing): the commit does.
    assert st.months[month]["of"] == old
    assert months.drop_stale(st) == []
    assert st.months[month]["of"] == months.digest(st, month)
    assert months.stands(st, month)
    # A day that really changed is stale under either digest.
    st.months[month]["of"] = old
    st.days[day]["files"]["paths"] = {**st.days[day]["files"]["paths"], "sha256": "1" * 64}
    st.cache.clear()
    assert months.drop_stale(st) == [month]
