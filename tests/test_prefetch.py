"""Reading ahead during start-up (logaudit/prefetch.py): taken only for the same bytes and
options, and a report never changes with it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from logaudit import blockcsv, prefetch, samplegen, sources
from logaudit import cli as cli_module
from logaudit.cli import cli
from logaudit.engine import local
from logaudit.formats import detect

SMALL_BLOCKS = 64 << 10


@pytest.fixture(autouse=True)
def _fresh() -> object:
    prefetch.forget()
    yield
    prefetch.forget()


CADDY = (
    '{"level": "info", "ts": %d.%d, "logger": "http.log.access", "msg": "handled request", '
    '"request": {"remote_ip": "10.0.%d.%d", "proto": "HTTP/2.0", "method": "GET", '
    '"host": "shop.example.com", "uri": "/p/%d?q=%s", "headers": {"User-Agent": ["Mozilla/5.0 '
    '(X11; Linux x86_64) Firefox/%d.0"], "Referer": ["https://example.org/%d"]}}, '
    '"user_id": "", "duration": %s, "size": %d, "status": %d}\n'
)


def _caddy_lines(n: int) -> bytes:
    out = []
    for i in range(n):
        dur = ["0.041", "1e-07", "2", "0.5"][i % 4]
        args = (1769036406 + i, i % 10, i % 7, i % 250, i % 97, 'a\\"b', 100 + i % 30)
        out.append(CADDY % (*args, i % 13, dur, i * 7 % 5000, [200, 404, 304, 500][i % 4]))
        if i % 701 == 0:
            out.append("2026/01/01 00:00:00 [error] not a JSON line\n")
    return "".join(out).encode()


@pytest.fixture(params=["combined", "caddy"])
def log(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log of several small blocks (both the pipeline and the prefetch read with the same
    default block size), with bad lines the exact path has to rescue."""
    monkeypatch.setattr(sources.read_blocks, "__defaults__", (SMALL_BLOCKS, None, 1))
    monkeypatch.setattr(prefetch, "MIN_BYTES", 0)
    monkeypatch.setenv("LOGAUDIT_PREFETCH", "1")  # opt-in
    monkeypatch.setattr(local, "BUNDLE_BLOCK_BYTES", 0)  # blocks this small would be joined
    path = tmp_path / "access.log"
    with path.open("wb") as f:
        if request.param == "caddy":
            f.write(_caddy_lines(3000))
        else:
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
            taken.append(got[0].num_rows)  # (table, ...) for either reader
        return got

    def read_ahead_first(logs: tuple[str, ...], opts: dict[str, object]) -> object:
        # In a test pandas is imported already: wait for the reading ahead the import
        # window gives it in a real start-up.
        start = real_read_ahead(logs, opts)

        def started() -> None:
            start()
            if prefetch._thread is not None:
                prefetch._thread.join()

        return started

    real_read_ahead = cli_module._read_ahead
    monkeypatch.setattr(prefetch, "take", counting_take)
    monkeypatch.setattr(cli_module, "_read_ahead", read_ahead_first)
    with_ahead, said = _summary(log)
    assert len(taken) == prefetch.MAX_BLOCKS  # the first blocks came from the prefetch
    monkeypatch.delenv("LOGAUDIT_PREFETCH")
    taken.clear()
    without, said_without = _summary(log)
    assert taken == []
    assert with_ahead == without
    assert said == said_without  # the bad lines and their examples too
    assert "bad lines" in said


def test_off_unless_asked(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Opt-in: without LOGAUDIT_PREFETCH=1 (or with another value) no thread is started.
    for value in (None, "0", "yes"):
        if value is None:
            monkeypatch.delenv("LOGAUDIT_PREFETCH")
        else:
            monkeypatch.setenv("LOGAUDIT_PREFETCH", value)
        prefetch.start((str(log),), {})
        assert prefetch._thread is None
    monkeypatch.setenv("LOGAUDIT_PREFETCH", "1")
    for other in ({"jobs": 2}, {"engine": "dask"}, {"state": str(log.parent / "state")}):
        prefetch.start((str(log),), other)  # not read by this process alone
        assert prefetch._thread is None
    prefetch.start((str(log),), {})
    assert prefetch._thread is not None
    prefetch._thread.join()
    prefetch.forget()
    assert prefetch._thread is None


def test_other_options_read_the_same(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A named format, and --jobs 2 (nothing read ahead): the same report.
    name = "CADDY" if log.read_bytes()[:1] == b"{" else "combined"
    named, _ = _summary(log, "--log-format", name)
    jobs, _ = _summary(log, "--jobs", "2")
    monkeypatch.delenv("LOGAUDIT_PREFETCH")
    assert named == _summary(log, "--log-format", name)[0]
    assert jobs == _summary(log, "--jobs", "2")[0]


def test_take_wants_the_same_bytes_and_options(tmp_path: Path) -> None:
    data = b'1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n' * 50
    cols = ["client", "ident", "user", "t1", "t2", "request", "status", "bytes", "ref", "agent"]
    used = [c for c in cols if c != "ident"]
    table = blockcsv.read_csv(data, cols, [], " ", used)
    done = prefetch.threading.Thread(target=lambda: None)
    done.start()
    prefetch._thread = done  # as if it had read this block ahead
    key = ("csv", tuple(cols), " ", tuple(used))
    prefetch._ready.append(prefetch._Read(bytearray(data), key, (table, [])))
    changed = data[:-2] + b"y\n"
    assert prefetch.take(changed, key) is None
    assert prefetch.take(data, ("csv", tuple(cols), "\t", tuple(used))) is None
    assert prefetch.take(data, ("csv", tuple(cols), " ", tuple(cols))) is None
    got = prefetch.take(data, key)
    assert got is not None and got[0].equals(table)
    assert prefetch.take(data, key) is None  # taken once


def test_tokens_are_read_ahead_as_plain_text_as_parse_reads_them(log: Path) -> None:
    # parse._fast reads some tokens as plain text (blockcsv.plain_tokens: the size, status,
    # times); a block read ahead must come the same way, or it takes the slower dictionary path.
    det = detect(log.read_bytes()[:65536], log.name)
    size = blockcsv.size_token(det)
    plain = blockcsv.plain_tokens(det)
    prefetch.start((str(log),), {})
    assert prefetch._thread is not None
    prefetch._thread.join()
    assert prefetch._ready
    for read in prefetch._ready:
        table = read.result[0]
        if size is None:  # Caddy: read by the JSON reader
            assert read.key[0] == "json"
        else:
            assert size in plain
            for name in plain:
                assert table.column(name).type == pa.string(), name


def test_nothing_read_ahead_for_small_or_several_logs(tmp_path: Path) -> None:
    small = tmp_path / "a.log"
    small.write_bytes(b"x\n")
    prefetch.start([str(small)], {})
    assert prefetch._thread is None
    prefetch.start([str(small), str(small)], {})
    assert prefetch._thread is None


def test_what_a_run_left_unread_is_dropped_by_the_next(log: Path) -> None:
    prefetch.start([str(log)], {})
    assert prefetch._thread is not None
    prefetch._thread.join()
    assert len(prefetch._ready) == prefetch.MAX_BLOCKS  # as if the run had failed early
    first = prefetch._thread
    prefetch.start([str(log)], {})
    assert prefetch._thread is not None and prefetch._thread is not first
    prefetch._thread.join()
    assert len(prefetch._ready) == prefetch.MAX_BLOCKS  # read again, not kept twice
