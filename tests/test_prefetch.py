"""Reading ahead during start-up (logaudit/prefetch.py): taken only for the same bytes and
options, and a report never changes with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit import blockcsv, prefetch, samplegen, sources
from logaudit import cli as cli_module
from logaudit.cli import cli
from logaudit.engine import local

SMALL_BLOCKS = 64 << 10


@pytest.fixture(autouse=True)
def _fresh() -> object:
    prefetch.forget()
    yield
    prefetch.forget()


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log of several small blocks (both the pipeline and the prefetch read with the same
    default block size), with bad lines the exact path has to rescue."""
    monkeypatch.setattr(sources.read_blocks, "__defaults__", (SMALL_BLOCKS, None, 1))
    monkeypatch.setattr(prefetch, "MIN_BYTES", 0)
    monkeypatch.setattr(local, "BUNDLE_BLOCK_BYTES", 0)  # blocks this small would be joined
    path = tmp_path / "access.log"
    with path.open("wb") as f:
        samplegen.write_lines(f, 3000, seed=11, bad_lines=20)
    assert path.stat().st_size > prefetch.MAX_BLOCKS * SMALL_BLOCKS
    return path


def _summary(log: Path, *extra: str) -> tuple[dict[str, object], str]:
    r = CliRunner().invoke(cli, ["summary", str(log), "--format", "json", *extra])
    assert r.exit_code in (0, 5), r.output  # 5: the bad lines
    out = json.loads(r.stdout)
    out.pop("generated", None)
    return out, r.stderr


def test_blocks_follow_the_pipeline_threads() -> None:
    # Read ahead in other blocks than the pipeline's, nothing would ever be taken.
    assert prefetch.SHARE == local.THREADS


def test_report_is_the_same_and_blocks_are_taken(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[int] = []
    real_take = prefetch.take

    def counting_take(*args: object, **kwargs: object) -> object:
        got = real_take(*args, **kwargs)  # type: ignore[arg-type]
        if got is not None:
            taken.append(got[0].num_rows)
        return got

    def read_ahead_first(logs: tuple[str, ...], opts: dict[str, object]) -> None:
        # In a test pandas is imported already: wait for the reading ahead the import
        # window gives it in a real start-up.
        real_read_ahead(logs, opts)
        if prefetch._thread is not None:
            prefetch._thread.join()

    real_read_ahead = cli_module._read_ahead
    monkeypatch.setattr(prefetch, "take", counting_take)
    monkeypatch.setattr(cli_module, "_read_ahead", read_ahead_first)
    with_ahead, said = _summary(log)
    assert len(taken) == prefetch.MAX_BLOCKS  # the first blocks came from the prefetch
    monkeypatch.setenv("LOGAUDIT_NO_PREFETCH", "1")
    taken.clear()
    without, said_without = _summary(log)
    assert taken == []
    assert with_ahead == without
    assert said == said_without  # the bad lines and their examples too
    assert "bad lines" in said


def test_other_options_read_the_same(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # --jobs 2 and a named format: the prefetch reads nothing or reads the same columns.
    plain, _ = _summary(log, "--log-format", "combined")
    monkeypatch.setenv("LOGAUDIT_NO_PREFETCH", "1")
    assert plain == _summary(log, "--log-format", "combined")[0]


def test_take_wants_the_same_bytes_and_options(tmp_path: Path) -> None:
    data = b'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n' * 50
    cols = ["client", "ident", "user", "t1", "t2", "request", "status", "bytes", "ref", "agent"]
    used = [c for c in cols if c != "ident"]
    table = blockcsv.read_csv(data, cols, [], " ", used)
    done = prefetch.threading.Thread(target=lambda: None)
    done.start()
    prefetch._thread = done  # as if it had read this block ahead
    key = (tuple(cols), " ", tuple(used))
    prefetch._ready.append(prefetch._Read(bytearray(data), key, table, []))
    changed = data[:-2] + b"y\n"
    assert prefetch.take(changed, cols, " ", used) is None
    assert prefetch.take(data, cols, "\t", used) is None
    assert prefetch.take(data, cols, " ", cols) is None
    got = prefetch.take(data, cols, " ", used)
    assert got is not None and got[0].equals(table)
    assert prefetch.take(data, cols, " ", used) is None  # taken once


def test_nothing_read_ahead_for_small_or_several_logs(tmp_path: Path) -> None:
    small = tmp_path / "a.log"
    small.write_bytes(b"x\n")
    prefetch.start([str(small)], {})
    assert prefetch._thread is None
    prefetch.start([str(small), str(small)], {})
    assert prefetch._thread is None
