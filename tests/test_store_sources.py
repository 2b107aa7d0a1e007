"""Closed months' visit sources classified once (schema 10, store/entrysources.py): the source
movers read a counted month's interior visits per (day, source), named under the rules and own
hosts its entry records, and give the one-pass figures; a stale, foreign or missing file is
made again. And the months' digests, cached per generation (store/months.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from logaudit.config import load
from logaudit.enrich.sources import SourceTables, classify, rules_digest
from logaudit.samplegen import generate_lines
from logaudit.schema import hash_strings
from logaudit.store import entries, entrysources, months
from logaudit.store.layout import SCHEMA, STATE_FILE, Layout
from tests.store_helpers import BASE, figures, grown_store, report, trends
from tests.store_helpers import state_json as _state

# From 20 December over 75 days: December, January and February close and roll up.
DATA = b"".join(generate_lines(15000, start=date(2025, 12, 20), days=75))
MOVERS = ("movers", "periods")
MONTHLY: dict[str, Any] = {"extra": {"every": "month"}, "sections": MOVERS}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("sourcestore")
    state, whole = grown_store(tmp, DATA, (0.3, 0.7, 0.999), report)
    trends([], state, **MONTHLY)  # the first report names the counted months' visits
    return state, whole


def _rules() -> str:
    s = load(BASE, env={})
    return rules_digest(s.sources, s.affiliate_params)


def _sourced(state: Path) -> dict[str, dict[str, Any]]:
    return {
        m: e
        for m, e in Layout(state).read_state().months.items()
        if entrysources.TABLE in e["files"]
    }


def _source_rows(f: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [json.loads(r) for r in f["movers"]["rows"]]
    return [r for r in rows if r["kind"] == "source"]


def _spy(monkeypatch: Any) -> list[tuple[Any, Any]]:
    """(pair counts, named counts) handed to the source movers, per call."""
    from logaudit.analyze.trends import movers as trend_movers

    handed: list[tuple[Any, Any]] = []
    real = trend_movers._counted_sources

    def spy(p: Any, ctx: Any, v: Any, c: Any, *rest: Any) -> Any:
        handed.append((c, rest[-1]))
        return real(p, ctx, v, c, *rest)

    monkeypatch.setattr(trend_movers, "_counted_sources", spy)
    return handed


def test_each_counted_month_keeps_its_visits_named(store: tuple[Path, Path]) -> None:
    """A counted month's sources are its counted pairs classified one by one (not per
    distinct pair), summed per day and source, under the recorded own hosts and rules."""
    state, _ = store
    assert _state(state)["schema"] == SCHEMA == 14
    layout = Layout(state)
    sourced = _sourced(state)
    assert {"2026-01", "2026-02"} <= set(sourced)
    tables = SourceTables.load()
    for month, entry in sourced.items():
        meta = entry["files"][entrysources.TABLE]
        assert meta["of"] == entry["files"][entries.COUNTS]["sha256"]
        assert meta["rules"] == _rules()
        assert entrysources.ready(entry, meta["own"], _rules())
        assert not entrysources.ready(entry, [*meta["own"], "other.example"], _rules())
        counts = layout.read_table(month, entry, entries.COUNTS)
        got = layout.read_table(month, entry, entrysources.TABLE)
        refs = layout.read_table(month, entry, "referrers")
        queries = layout.read_table(month, entry, "queries")
        assert counts is not None and got is not None and refs is not None
        ref_text = pd.Series(np.asarray(refs.index, dtype=object), index=hash_strings(refs.index))
        q_text = (
            pd.Series(np.asarray(queries.index, dtype=object), index=hash_strings(queries.index))
            if queries is not None
            else pd.Series([], dtype=object)
        )
        ref_text = ref_text[~ref_text.index.duplicated()]
        q_text = q_text[~q_text.index.duplicated()]
        r = ref_text.reindex(counts["ref_h"].to_numpy(np.uint64)).fillna("-").tolist()
        q = q_text.reindex(counts["query_h"].to_numpy(np.uint64)).fillna("").tolist()
        named = classify(r, q, meta["own"], tables)["source"].to_numpy(dtype=object)
        want = (
            pd.DataFrame({"day": counts["day"], "source": named, "n": counts["n"]})
            .groupby(["day", "source"])["n"]
            .sum()
        )
        assert got.set_index(["day", "source"])["n"].sort_index().to_dict() == want.to_dict()
        assert int(got["n"].sum()) == int(counts["n"].sum())
        assert len(got) < len(counts)  # fewer rows than pairs: the point of it
        assert (got["source"] == "(internal)").any() == bool(meta["own"])


@pytest.mark.parametrize("every", ["month", "week"])
def test_source_movers_from_named_counts_equal_one_pass(
    store: tuple[Path, Path], every: str, monkeypatch: Any, every_mover: None
) -> None:
    state, whole = store
    more: dict[str, Any] = {"extra": {"every": every}, "sections": MOVERS}
    handed = _spy(monkeypatch)
    stored = figures(trends([], state, **more))
    one = figures(trends([str(whole)], **more))
    assert stored == one
    assert len(_source_rows(stored)) > 3
    # The named counts were handed, the pairs of those months not (nothing classified again).
    assert handed and all(c is None and s is not None and len(s) for c, s in handed[:1])


def test_a_wrong_stored_source_is_what_the_movers_show(
    store: tuple[Path, Path], tmp_path: Path, every_mover: None
) -> None:
    """The stored sources are read, not made again: a month's file renamed to one source
    (its entry still valid) shows that source in the movers, which one pass does not."""
    state, _ = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    layout = Layout(copy)
    st = layout.read_state()
    month = max(m for m, e in st.months.items() if entrysources.TABLE in e["files"])
    entry = st.months[month]
    f = layout.read_table(month, entry, entrysources.TABLE)
    assert f is not None
    wrong = f.assign(source="tampered.example").groupby(["day", "source"])["n"].sum()
    st.gen += 1
    meta = layout.write_file(month, entrysources.TABLE, wrong.reset_index(), st.gen)
    old = entry["files"][entrysources.TABLE]
    entry["files"][entrysources.TABLE] = {**meta, **{k: old[k] for k in ("of", "own", "rules")}}
    layout.commit(st)
    rows = _source_rows(figures(trends([], copy, **MONTHLY)))
    assert "tampered.example" in {r["item"] for r in rows}


def test_other_own_hosts_make_them_again(
    store: tuple[Path, Path], tmp_path: Path, monkeypatch: Any, every_mover: None
) -> None:
    """A report whose own hosts differ from those a month's sources assumed names the
    month's visits again under its own (and keeps them): its figures are one pass's under the
    same own hosts, and differ from those under the inferred ones."""
    from logaudit.analyze.trends import movers as trend_movers
    from logaudit.store import sites

    state, whole = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    default = figures(trends([], copy, **MONTHLY))
    before = {m: e["files"][entrysources.TABLE]["own"] for m, e in _sourced(copy).items()}
    assert any(before.values())
    elsewhere = {"elsewhere.example"}
    with monkeypatch.context() as mp:
        mp.setattr(sites, "own", lambda *a, **k: set(elsewhere))
        mp.setattr(trend_movers, "own_hosts", lambda *a, **k: (set(elsewhere), "inferred"))
        moved = figures(trends([], copy, **MONTHLY))
        assert moved == figures(trends([str(whole)], **MONTHLY))
        assert _source_rows(moved) != _source_rows(default)
        after = _sourced(copy)
        assert set(after) == set(before)
        assert all(
            e["files"][entrysources.TABLE]["own"] == ["elsewhere.example"] for e in after.values()
        )
    assert figures(trends([], copy, **MONTHLY)) == default
    assert {m: e["files"][entrysources.TABLE]["own"] for m, e in _sourced(copy).items()} == before


def test_older_stale_or_foreign_sources_are_made_again(
    store: tuple[Path, Path], tmp_path: Path, every_mover: None
) -> None:
    """A schema-9 store (no sources) is read and given them by its first report (schema 10
    after); sources made from other counts (``"of"``) or under other rules are not used but
    made again; the figures are one pass's throughout."""
    state, whole = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    one = figures(trends([str(whole)], **MONTHLY))
    path = copy / STATE_FILE
    raw = _state(copy)
    for entry in raw["months"].values():
        entry["files"].pop(entrysources.TABLE, None)
    raw["schema"] = 9
    path.write_text(json.dumps(raw))
    assert figures(trends([], copy, **MONTHLY)) == one
    assert _state(copy)["schema"] == SCHEMA
    made = _sourced(copy)
    assert {"2026-01", "2026-02"} <= set(made)
    for key, value in (("of", "0" * 64), ("rules", "other rules")):
        raw = _state(copy)
        for entry in raw["months"].values():
            if entrysources.TABLE in entry["files"]:
                entry["files"][entrysources.TABLE][key] = value
        path.write_text(json.dumps(raw))
        assert figures(trends([], copy, **MONTHLY)) == one
        again = _sourced(copy)
        assert set(again) == set(made)
        for m, e in again.items():
            meta = e["files"][entrysources.TABLE]
            assert meta["of"] == e["files"][entries.COUNTS]["sha256"] and meta["rules"] == _rules()
            assert meta["gen"] > made[m]["files"][entrysources.TABLE].get("gen", made[m]["gen"])


def test_verify_covers_the_sources(store: tuple[Path, Path], tmp_path: Path) -> None:
    from logaudit.store import manage

    state, _ = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    assert manage.verify(copy) == []
    victim = next(copy.rglob(f"{entrysources.TABLE}.*.parquet"))
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    assert any(entrysources.TABLE in p and "checksum" in p for p in manage.verify(copy))


def test_month_digests_follow_the_days(store: tuple[Path, Path], tmp_path: Path) -> None:
    """A month's digest is cached for one generation, and is a digest of its days as they are
    after a change under a new generation, a commit, or a day removed in place (a prune)."""
    state, _ = store
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    layout = Layout(copy)
    st = layout.read_state()
    month = "2026-01"
    first = months.digest(st, month)
    assert first == st.months[month]["of"]
    day = months.days_of(st, month)[3]
    st.days[day] = {**st.days[day], "closed": False}  # changed under a new generation
    st.gen += 1
    reopened = months.digest(st, month)
    assert reopened != first
    del st.days[day]  # removed in place, same generation
    assert months.days_of(st, month) == sorted(d for d in st.days if d.startswith(month))
    gone = months.digest(st, month)
    assert gone not in (first, reopened)
    st.days[months.days_of(st, month)[0]]["extra"] = 1  # in place, then committed
    layout.commit(st)
    days = {d: st.days[d] for d in months.days_of(st, month)}
    fresh = hashlib.sha256(json.dumps(days, sort_keys=True).encode()).hexdigest()
    assert months.digest(st, month) == fresh != gone
    assert month not in st.months  # stale: dropped by the commit
    assert layout.read_state().months.keys() == st.months.keys()


def test_the_rules_cover_the_classifying_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit of a module that names the pairs changes the rules (without CLASSIFY_VERSION
    bumped), so closed months' stored sources are made again; the same text, the same rules."""
    from importlib import resources

    from logaudit.enrich import sources

    # The real modules are read (not their names standing in).
    assert all(resources.files(p).joinpath(n).is_file() for p, n in sources._CODE_FILES)
    package = tmp_path / "fakeclassify"
    package.mkdir()
    (package / "__init__.py").write_text("")
    code = package / "naming.py"
    code.write_text("SITE = 'm.'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sources, "_CODE_FILES", (("fakeclassify", "naming.py"),))
    first = rules_digest()
    assert rules_digest() == first
    code.write_text("SITE = 'mobile.'\n")
    assert rules_digest() != first
