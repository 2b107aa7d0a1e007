"""The user-agent cache across runs (enrich/agentcache.py): a second run classifies nothing and
builds no ua-parser resolver, every figure is the same with, without and with a bad cache file,
the file is owner-only, and a cache that cannot be used never fails a run."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from loglines import isolate

from logaudit.cli import cli
from logaudit.enrich import agentcache, agents, classify, uaparse

LOG = Path(__file__).resolve().parent.parent / "sample_logs" / "access.log"


class Spy:
    """Counts the agents handed to ua-parser's resolver and the resolvers built."""

    built = 0
    calls = 0

    def __init__(self, real_class: Any, matchers: Any) -> None:
        self._real = real_class(matchers)

    def __call__(self, agent: str, domains: Any) -> Any:
        Spy.calls += 1
        return self._real(agent, domains)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A process without a classifier (as a new run is), a spied resolver, and an empty cache
    folder of its own; returns the cache file's expected path."""
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real = uaparse.RESOLVER_CLASS

    def spied(matchers: Any) -> Spy:
        Spy.built += 1
        return Spy(real, matchers)

    monkeypatch.setattr(uaparse, "RESOLVER_CLASS", spied)
    monkeypatch.setattr(Spy, "built", 0)
    monkeypatch.setattr(Spy, "calls", 0)
    for name, value in (
        ("_classifier", None),
        ("_cache_file", None),
        ("_cache_read", None),
        ("_cache_keys", []),
        ("_saved", {}),
    ):
        monkeypatch.setattr(classify, name, value)
    monkeypatch.setattr(agentcache, "_warned", False)
    return tmp_path / "cache" / "logaudit" / agentcache.FILE_NAME


def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the classifier, as the next run's process would."""
    for name, value in (("_classifier", None), ("_cache_read", None), ("_saved", {})):
        monkeypatch.setattr(classify, name, value)
    Spy.built = Spy.calls = 0


def write_arrow(table: pa.Table, path: Path) -> None:
    with pa.ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)


def summary(*args: str) -> Result:
    r = CliRunner().invoke(cli, ["summary", "--format", "json", *args, str(LOG)])
    assert r.exit_code == 0, r.output
    return r


def figures(r: Result) -> dict[str, Any]:
    out = json.loads(r.stdout)
    out.pop("generated", None)
    return out


def test_second_run_classifies_nothing(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = summary()
    assert Spy.built == 1 and Spy.calls > 10
    assert fresh.is_file()
    new_process(monkeypatch)
    second = summary()
    assert Spy.calls == 0
    assert Spy.built == 0  # the resolver is built only when a key misses
    assert figures(second) == figures(first)


def test_same_figures_without_cache_and_with_bad_files(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary()  # writes a good cache file
    good = pa.ipc.open_file(fresh).read_all()
    new_process(monkeypatch)
    plain = figures(summary("--no-cache"))
    assert Spy.calls > 10  # --no-cache reads no file

    # Another ua-parser (or robot list, or logaudit) wrote this one: every row is suspect.
    meta = {b"logaudit.agentcache": b"ua-parser 0.1\n"}
    wrong = pa.table(
        {c: pa.array(["X"] * good.num_rows) for c in good.column_names}
    ).replace_schema_metadata(meta)
    # Right key, wrong answers: would change the figures if it were read.
    lying = pa.table(
        {
            c: good.column(c) if c == "key" else pa.array(["tool"] * good.num_rows)
            for c in good.column_names
        }
    ).replace_schema_metadata(good.schema.metadata)
    for label, writer in (
        ("foreign version", lambda: write_arrow(wrong, fresh)),
        ("corrupt", lambda: fresh.write_bytes(b"PAR1 not parquet at all")),
        ("empty", lambda: fresh.write_bytes(b"")),
        ("truncated", lambda: fresh.write_bytes(fresh.read_bytes()[:100])),
    ):
        summary()  # a good file again
        writer()
        new_process(monkeypatch)
        r = summary()
        assert figures(r) == plain, label
        assert "warning" not in r.stderr, label  # only a cold cache: no noise
        assert Spy.calls > 10, label
        # ... and the run replaced it with a good one.
        assert pa.ipc.open_file(fresh).read_all().num_rows == good.num_rows, label

    # The lying file proves the rows are read at all (and that the key is what guards them).
    write_arrow(lying, fresh)
    new_process(monkeypatch)
    assert figures(summary()) != plain


def test_owner_only(fresh: Path) -> None:
    summary()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    assert not [p for p in fresh.parent.iterdir() if p != fresh]  # no temporary left


def test_state_folder_holds_the_cache(fresh: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    summary("--state", str(state))
    assert (state / agentcache.FILE_NAME).is_file()
    assert stat.S_IMODE((state / agentcache.FILE_NAME).stat().st_mode) == 0o600
    assert not fresh.exists()


@pytest.mark.parametrize("how", ["option", "env", "config"])
def test_off(fresh: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str) -> None:
    args: tuple[str, ...] = ()
    if how == "option":
        args = ("--no-cache",)
    elif how == "env":
        monkeypatch.setenv("LOGAUDIT_NO_CACHE", "1")
    else:
        conf = tmp_path / "logaudit.toml"
        conf.write_text("cache = false\n")
        monkeypatch.setenv("LOGAUDIT_CONFIG", str(conf))
    summary(*args)
    assert not fresh.parent.exists()


def test_unusable_cache_folder_warns_once_and_runs(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain = figures(summary("--no-cache"))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")  # the cache "folder" is a file: neither read nor written
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    new_process(monkeypatch)
    r = summary()
    assert figures(r) == plain
    assert r.stderr.count("user-agent cache") == 1

    # A folder where the file should be: unreadable and unwritable.
    monkeypatch.setattr(agentcache, "_warned", False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c2"))
    (tmp_path / "c2" / "logaudit" / agentcache.FILE_NAME).mkdir(parents=True)
    new_process(monkeypatch)
    r = summary()
    assert figures(r) == plain
    assert r.stderr.count("user-agent cache") == 1


def test_bounded_most_recently_used_first(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "c" / agentcache.FILE_NAME
    c = agents.AgentClassifier()
    c.track_use = True
    old = {f"old agent {i}": c._row(f"old agent {i}", None) for i in range(3)}
    c.preload(old)
    c.classify(pd.Index(["curl/8.0", "old agent 2"]))
    rows = list(c.used_rows(list(old)))
    assert [k for k, _ in rows] == ["old agent 2", "curl/8.0", "old agent 0", "old agent 1"]
    monkeypatch.setattr(agentcache, "MAX_KEYS", 3)
    agentcache.save(path, rows, agents.COLUMNS)
    back = agentcache.load(path, agents.COLUMNS)
    assert list(back) == ["old agent 2", "curl/8.0", "old agent 0"]
    assert back["curl/8.0"] == tuple(c.classify(pd.Index(["curl/8.0"])).iloc[0])


@pytest.mark.parametrize("spans", [False, True], ids=["blocks", "byte-ranges"])
def test_jobs_workers_write_back_their_classifications(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, spans: bool
) -> None:
    """With --jobs 2 the workers classify; the rows they met come back with their partials
    (one Arrow table each) and the main process saves them: the file is the one a single job
    writes, and the next run classifies nothing."""
    from logaudit.engine import local

    if spans:
        monkeypatch.setattr(local, "SPAN_MIN_BYTES", 0)  # each worker reads a byte range
    first = summary("--jobs", "2")
    assert fresh.exists()
    from_workers = agentcache.load(fresh, agents.COLUMNS)
    assert len(from_workers) > 10

    new_process(monkeypatch)
    assert figures(summary()) == figures(first)
    assert (Spy.built, Spy.calls) == (0, 0)  # every agent came from the workers' rows

    fresh.unlink()
    new_process(monkeypatch)
    summary()
    assert Spy.calls > 0
    alone = agentcache.load(fresh, agents.COLUMNS)
    assert from_workers == alone
    assert set(from_workers) == set(alone)


def test_jobs_without_cache_send_nothing_back(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGAUDIT_NO_CACHE", "1")
    summary("--jobs", "2")
    assert not fresh.exists()
    assert classify.met_agent_rows() is None


def _prepared() -> None:
    """Start the background build (engine.local.run does when both threads have a block)
    and wait for it."""
    import threading

    classify.prepare_classifier()
    for t in threading.enumerate():
        if t.name == "logaudit-agents":
            t.join(30)


def test_background_build_only_when_nothing_is_cached(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run's classifier builds ua-parser's rules in the background, overlapping the
    tokenizers (every agent of the first block will miss); with a warm cache it does not."""
    _prepared()
    assert Spy.built == 1 and Spy.calls == 0
    first = summary()
    assert Spy.built == 1 and Spy.calls > 10  # the prepared resolver was used, not a second
    new_process(monkeypatch)
    _prepared()
    assert Spy.built == 0
    assert figures(summary()) == figures(first) and Spy.built == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=6),
            st.lists(st.sampled_from(["", "a", "Chrome", "é"]), min_size=2, max_size=2),
        ),
        max_size=20,
    ),
    st.integers(0, 20),
)
def test_rows_read_back_as_to_pylist_reads_them(
    pairs: list[tuple[str, list[str]]], cut: int
) -> None:
    """``rows_of`` takes dictionary columns by their values and indices (``_values``): the
    same rows as ``to_pylist``, whatever the chunks (a table of two files' rows)."""
    columns = ("browser", "os")
    rows = [(k, tuple(v)) for k, v in pairs]
    table = agentcache.table_of(rows, columns)
    two = pa.concat_tables([table.slice(0, cut), agentcache.table_of(rows[:cut], columns)])
    for t in (table, two):
        plain = [t.column(c).to_pylist() for c in t.column_names]
        assert [agentcache._values(t.column(c)) for c in t.column_names] == plain
        want = {key: tuple(row) for key, *row in zip(*plain, strict=True)}
        assert agentcache.rows_of(t, columns) == want
    # A null in a dictionary column (not what table_of writes): read as to_pylist reads it.
    odd = pa.table(
        {"key": ["x", "y"], "browser": pa.array(["a", None]).dictionary_encode(), "os": ["b", "c"]}
    )
    assert agentcache._values(odd.column("browser")) == ["a", None]
    assert agentcache.rows_of(odd, columns) == {"x": ("a", "b")}


def test_the_fingerprint_hashes_every_module_that_decides_a_row() -> None:
    """``_CODE`` is written by hand (no import to find the files): a classifying module
    added or moved without it would let a stale cache be trusted."""
    from logaudit.enrich import agents, crawlers, uaparse

    modules = {Path(m.__file__ or "") for m in (agents, crawlers, uaparse)}
    assert set(agentcache._CODE) == modules | {Path(crawlers.ROBOTS_FILE)}
